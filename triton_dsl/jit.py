"""The one user of `llvmlite.binding`: target machines, optimization, JIT and object emission.

In: LLVM IR text (built elsewhere with `llvmlite.ir`), an opt level and a `target.Target`. Out: a
`JitModule` whose functions have native addresses (MCJIT, for the process target: `process_target()`,
chosen by `$TRITON_DSL_CPU` / `use_cpu`), or object-file bytes / assembly text for any target (AOT,
`emit_object` / `emit_assembly`); `host_target()`, this machine as LLVM reports it.

Every symbol a JIT module needs is bound on purpose: the half-precision conversions LLVM may call are
our own (`codegen/builtins.py`, loaded before the first object that needs one), libc and libm are
loaded by name, and every undefined symbol of every object is checked to resolve before its code runs
(an InternalCompilerError otherwise).

A module is compiled in two steps: optimize and emit its object file (or take it from the `ObjectCache`),
then load that object into MCJIT. Between the two, the object's undefined symbols that nothing defines
yet are handed to the *symbol providers* (`add_symbol_provider`): the runtime and kernel libraries
register one each and compile the part of themselves defining those symbols on first use (see
`runtime/units.py`). `JitModule.from_object` loads an object without its IR (the warm path of the
libraries). Every compilation is recorded in `compile_log()` (stage CPU seconds, for
`benchmarks/bench_compile.py`).

Everything else in the compiler builds IR with `llvmlite.ir` and never imports `llvmlite.binding`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import llvmlite
import llvmlite.binding as llvm

from .codegen.builtins import BUILTIN_NAMES as _BUILTIN_NAMES
from .codegen.builtins import builtins_module
from .diagnostics import InternalCompilerError
from .elf_symbols import undefined_symbols
from .target import ENV_VAR, Target, TargetUnavailableError, UnknownCPUError, requested_cpu, resolve

_init_lock = threading.Lock()
_initialized = False
_all_targets = False


def _ensure_initialized(all_targets: bool = False) -> None:
    global _initialized, _all_targets
    with _init_lock:
        if not _initialized:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            llvm.initialize_native_asmparser()
            _bind_system_libraries()
            _initialized = True
        if all_targets and not _all_targets:
            llvm.initialize_all_targets()
            llvm.initialize_all_asmprinters()
            _all_targets = True


# The C libraries generated code may call (allocation, threads, libm's expf/logf/...), loaded by name
# so that they are bound explicitly rather than found by chance among what the process has mapped.
_SYSTEM_LIBRARIES = ("c", "m")


def _bind_system_libraries() -> None:
    for short in _SYSTEM_LIBRARIES:
        name = ctypes.util.find_library(short) or f"lib{short}.so.6"
        try:
            llvm.load_library_permanently(name)
        except RuntimeError as exc:  # the symbol check below then names what is missing
            raise InternalCompilerError(f"cannot load the C library {name!r}: {exc}") from None


@lru_cache(maxsize=1)
def host_target() -> Target:
    """This machine as LLVM sees it: triple, CPU name and every feature it reports."""
    _ensure_initialized()
    flat = llvm.get_host_cpu_features().flatten()
    enabled = frozenset(f[1:] for f in flat.split(",") if f.startswith("+"))
    return Target("native", llvm.get_process_triple(), llvm.get_host_cpu_name(), enabled, flat)


_process_lock = threading.Lock()
_process_target: Target | None = None


def process_target() -> Target:
    """The target of everything JIT-compiled in this process (runtime, kernels, programs): chosen by
    `use_cpu` or `$TRITON_DSL_CPU` (default `native`) on first use, then fixed, because the runtime and
    kernel libraries are compiled once per process and shared by every program."""
    global _process_target
    with _process_lock:
        if _process_target is None:
            _process_target = _jit_target(requested_cpu())
        return _process_target


def use_cpu(name: str | None) -> Target:
    """Fix the process target to CPU `name` (None: `$TRITON_DSL_CPU` or native). Raises
    `UnknownCPUError` for a name no table knows, `TargetUnavailableError` when the host cannot run it or
    when the process already runs code for another target."""
    global _process_target
    if name is None and _process_target is not None:
        return _process_target
    wanted = _jit_target(requested_cpu(name))
    with _process_lock:
        if _process_target is None:
            _process_target = wanted
        elif _process_target != wanted:
            raise TargetUnavailableError(
                f"this process already runs code for CPU {_process_target.name!r} ({_process_target.cpu}); "
                f"set {ENV_VAR}={wanted.name} before the first compilation to use {wanted.name!r}")
        return _process_target


def _jit_target(name: str) -> Target:
    target = resolve(name, host_target())
    check_runnable(target)
    return target


def check_runnable(target: Target) -> None:
    """Raise TargetUnavailableError when code for `target` may use what this machine lacks (SIGILL)."""
    host = host_target()
    missing = target.missing_on(host)
    if missing:
        raise TargetUnavailableError(f"CPU {target.name!r} needs {', '.join(missing)}, which this machine "
                                     f"({host.cpu}) lacks: its code cannot run here")


def llvm_version() -> str:
    return ".".join(str(v) for v in llvm.llvm_version_info)


def llvmlite_version() -> str:
    return llvmlite.__version__


def target_machine(target: Target | None = None, opt_level: int = 2, *, jit: bool = False,
                   reloc: str = "default"):
    """A TargetMachine for `target` (default: the process target) with exactly its CPU and features."""
    target = target or process_target()
    _ensure_initialized(all_targets=target.triple != host_target().triple)
    try:
        llvm_target = llvm.Target.from_triple(target.triple)
    except RuntimeError as exc:
        raise UnknownCPUError(f"unknown target triple {target.triple!r}: {exc}") from None
    return llvm_target.create_target_machine(cpu=target.cpu, features=target.llvm_features, opt=opt_level,
                                             reloc=reloc, codemodel="jitdefault" if jit else "default",
                                             jit=jit)


def optimize(module_ref, tm, opt_level: int, unroll: bool | None = None) -> None:
    """Run the new pass manager's default pipeline `-O<opt_level>` over a parsed module, in place.
    `unroll=False` turns the loop unroller off (vectorization and interleaving stay): code whose loops are
    unrolled by hand compiles several times faster without it."""
    pto = llvm.create_pipeline_tuning_options(speed_level=opt_level)
    vectorize = opt_level >= 2
    pto.loop_vectorization = vectorize
    pto.slp_vectorization = vectorize
    pto.loop_unrolling = opt_level >= 2 if unroll is None else unroll and opt_level >= 2
    pb = llvm.create_pass_builder(tm, pto)
    mpm = pb.getModulePassManager()
    mpm.run(module_ref, pb)


def parse_ir(ir_text: str):
    _ensure_initialized()
    mod = llvm.parse_assembly(ir_text)
    mod.verify()
    return mod


def add_symbol(name: str, address: int) -> None:
    """Make a native symbol (e.g. a ctypes callback) visible to JIT-compiled code."""
    _ensure_initialized()
    llvm.add_symbol(name, address)


_CACHE_MAGIC = b"TDSLOBJ1"


def cache_dir() -> str:
    """Where compiled objects are kept: `$TRITON_DSL_CACHE_DIR`, else `$XDG_CACHE_HOME/triton_dsl`."""
    explicit = os.environ.get("TRITON_DSL_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "triton_dsl")


def cache_key(ir_text: str, opt_level: int, target: Target | None = None, unroll: bool | None = None) -> str:
    """Everything the machine code depends on: the program's IR (itself a function of the source and
    the compiler), the compiler and LLVM versions, the process target (triple, CPU, features), opt level
    (and the unroll option when it is not the default)."""
    from . import __version__

    parts = [ir_text, __version__, llvm_version(), llvmlite_version(), (target or process_target()).key(),
             f"O{opt_level}" + ("" if unroll is None else f"u{int(unroll)}")]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class ObjectCache:
    """MCJIT object files on disk, one per key; written atomically, verified by checksum when read."""

    def __init__(self, directory: str | None = None):
        self.directory = directory or cache_dir()
        self.hits = 0

    def path(self, key: str) -> str:
        return os.path.join(self.directory, f"{key}.o")

    def load(self, key: str) -> bytes | None:
        """The cached object, or None when absent or corrupt (a corrupt file is removed)."""
        try:
            with open(self.path(key), "rb") as f:
                blob = f.read()
        except OSError:
            return None
        head, digest, payload = blob[:8], blob[8:40], blob[40:]
        if head != _CACHE_MAGIC or hashlib.sha256(payload).digest() != digest or not payload:
            try:
                os.unlink(self.path(key))
            except OSError:
                pass
            return None
        self.hits += 1
        return payload

    def store(self, key: str, payload: bytes) -> None:
        try:
            os.makedirs(self.directory, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".o")
            with os.fdopen(fd, "wb") as f:
                f.write(_CACHE_MAGIC + hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, self.path(key))  # atomic: readers see the old file or the whole new one
        except OSError:
            pass  # a read-only or full disk only costs the next run a recompilation


SymbolProvider = Callable[[list[str]], None]
_providers: list[SymbolProvider] = []


def add_symbol_provider(provider: SymbolProvider) -> None:
    """Register `provider(names)`, called before an object is loaded with the names it needs that no
    symbol defines yet; it publishes (`add_symbol`) those it can, ignores the others. Providers may
    compile other modules (and so be called again, for those modules' needs)."""
    if provider not in _providers:
        _providers.append(provider)


def _provide(names: list[str]) -> None:
    missing = [name for name in names if not llvm.address_of_symbol(name)]
    for provider in list(_providers):
        if not missing:
            return
        provider(missing)
        missing = [name for name in missing if not llvm.address_of_symbol(name)]


@dataclass
class CompileRecord:
    """One module made native in this process: CPU seconds of each stage (0 for stages skipped)."""

    name: str
    opt_level: int
    from_cache: bool
    ir_bytes: int
    object_bytes: int
    parse: float = 0.0
    optimize: float = 0.0
    codegen: float = 0.0
    load: float = 0.0  # reading the object into MCJIT, symbol checks (providers' work excluded)


_log: list[CompileRecord] = []
_log_lock = threading.Lock()


def compile_log() -> list[CompileRecord]:
    """Every JIT module compiled or loaded in this process so far, in order."""
    with _log_lock:
        return list(_log)


def _record(rec: CompileRecord) -> None:
    with _log_lock:
        _log.append(rec)


class JitModule:
    """A module compiled for `target` (default: the process target; it must run here) and loaded.

    The engine keeps the machine code alive; keep a reference to the JitModule as long as any
    function address from it may be called. With `cache` (an `ObjectCache`), the machine code is
    looked up on disk first (skipping optimization and code generation) and stored after compiling;
    `key` overrides the cache key (default `cache_key(ir_text, ...)`). `unroll=False` compiles without
    the loop unroller (see `optimize`).
    """

    def __init__(self, ir_text: str, opt_level: int = 2, cache: ObjectCache | None = None, *,
                 target: Target | None = None, needs_support: bool = True, unroll: bool | None = None,
                 key: str | None = None):
        _ensure_initialized()
        if needs_support:
            add_symbol_provider(_support_provider)
        self.opt_level = opt_level
        self.unroll = unroll
        self.target = target or process_target()
        check_runnable(self.target)
        self._ir_text = ir_text
        self.optimized_ir: str | None = None
        self._tm = tm = target_machine(self.target, opt_level=min(opt_level, 3), jit=True)
        name = _module_id(ir_text)
        if cache is not None and key is None:
            key = cache_key(ir_text, opt_level, self.target, unroll)
        obj = cache.load(key) if cache is not None else None
        rec = CompileRecord(name, opt_level, obj is not None, len(ir_text), 0)
        mod = None
        if obj is None:
            built = _optimizer_worker.emit(ir_text, self.target, opt_level, unroll) \
                if opt_level > 0 and _optimizer_worker.wanted() else None
            if built is not None:  # optimized in the worker process: see `_OptimizerWorker`
                obj, (rec.parse, rec.optimize, rec.codegen) = built
            else:
                mod, obj, (rec.parse, rec.optimize, rec.codegen) = _emit_jit_object(ir_text, tm, opt_level,
                                                                                    unroll)
            if not obj:
                raise InternalCompilerError(f"LLVM produced no object code for module {name!r}")
            if cache is not None:
                cache.store(key, obj)
        if mod is None and "@llvm.global_ctors" in ir_text:  # the IR's constructors are what MCJIT runs
            mod = parse_ir(ir_text)
            mod.triple = tm.triple
            mod.data_layout = str(tm.target_data)
        self.from_cache = rec.from_cache
        rec.object_bytes = len(obj)
        self._load(obj, name, mod, rec)

    @classmethod
    def from_object(cls, obj: bytes, name: str, *, target: Target | None = None,
                    opt_level: int = 2) -> JitModule:
        """Load machine code compiled earlier (by a JitModule for the same target: its IR needs no
        static constructors) without its IR. `optimized()` and `asm()` are then unavailable."""
        _ensure_initialized()
        add_symbol_provider(_support_provider)
        self = cls.__new__(cls)
        self.opt_level, self.unroll, self.from_cache = opt_level, None, True
        self.target = target or process_target()
        check_runnable(self.target)
        self._ir_text = None
        self.optimized_ir = None
        self._tm = target_machine(self.target, opt_level=min(opt_level, 3), jit=True)
        self._load(obj, name, None, CompileRecord(name, opt_level, True, 0, len(obj)))
        return self

    def _load(self, obj: bytes, name: str, mod, rec: CompileRecord) -> None:
        """Resolve what the object needs (symbol providers), load it into MCJIT, check every symbol."""
        needed = undefined_symbols(obj)
        _provide(needed)
        t0 = time.thread_time()
        if mod is None:  # an empty module: MCJIT takes the machine code from the object cache hook
            mod = parse_ir("")
            mod.name = name
            mod.triple = self._tm.triple
            mod.data_layout = str(self._tm.target_data)
        self._engine = llvm.create_mcjit_compiler(mod, self._tm)
        self._engine.set_object_cache(lambda _module, _buffer: None, lambda _module: obj)
        self._engine.finalize_object()
        _check_resolved(obj, name, self.target.cpu, needed)
        self._engine.run_static_constructors()
        rec.load = time.thread_time() - t0
        self.record = rec
        _record(rec)

    def address(self, name: str) -> int:
        addr = self._engine.get_function_address(name)
        if not addr:
            raise KeyError(f"no function {name!r} in JIT module")
        return addr

    def global_address(self, name: str) -> int:
        """The address of global variable `name` of the module."""
        addr = self._engine.get_global_value_address(name)
        if not addr:
            raise KeyError(f"no global {name!r} in JIT module")
        return addr

    def cfunc(self, name: str, restype, *argtypes):
        """A ctypes function object calling the native function `name`."""
        return ctypes.CFUNCTYPE(restype, *argtypes)(self.address(name))

    def asm(self) -> str:
        return self._tm.emit_assembly(parse_ir(self.optimized()))

    def optimized(self) -> str:
        """The optimized LLVM IR (recomputed on first request: compiling does not keep it)."""
        if self.optimized_ir is None:
            if self._ir_text is None:
                raise ValueError("this module was loaded from machine code alone: it has no IR")
            mod = parse_ir(self._ir_text)
            mod.triple = self._tm.triple
            mod.data_layout = str(self._tm.target_data)
            if self.opt_level > 0:
                optimize(mod, self._tm, self.opt_level, self.unroll)
            self.optimized_ir = str(mod)
        return self.optimized_ir


def _emit_jit_object(ir_text: str, tm, opt_level: int, unroll: bool | None):
    """Parse, optimize and emit one module in this process: (module, object bytes, stage seconds)."""
    global _in_process_optimizations
    t0 = time.thread_time()
    mod = parse_ir(ir_text)
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    t1 = time.thread_time()
    if opt_level > 0:
        optimize(mod, tm, opt_level, unroll)
        _in_process_optimizations += 1
    t2 = time.thread_time()
    obj = tm.emit_object(mod)
    return mod, obj, (t1 - t0, t2 - t1, time.thread_time() - t2)


# llvmlite (0.50) leaks ~60 KB of native memory per optimized module: `LLVMPY_CreatePassBuilder`
# allocates a PassInstrumentationCallbacks that nothing frees, and every run registers more callbacks in
# it. A PassBuilder cannot be reused either (each run leaves callbacks pointing at its destroyed
# instrumentation). So a process that compiles many modules (2,000 `triton_dsl.compile` calls) optimizes
# them in a worker process, restarted every `WORKER_TASKS` modules: the leak goes with the worker. The
# first `IN_PROCESS_OPTIMIZATIONS` modules are optimized here, so that a short `tritonc run` never pays
# for starting a worker. The object code is the same either way (same LLVM, same target machine).
IN_PROCESS_OPTIMIZATIONS = 48
WORKER_TASKS = 400
_in_process_optimizations = 0


class _OptimizerWorker:
    """A `python -c` child optimizing and emitting modules; length-prefixed pickles over its pipes."""

    def __init__(self):
        self._lock = threading.Lock()
        self._proc = None
        self._pid = os.getpid()
        self._tasks = 0
        self.broken = False  # the worker cannot start here: optimize in this process

    def wanted(self) -> bool:
        return not self.broken and _in_process_optimizations >= IN_PROCESS_OPTIMIZATIONS \
            and os.environ.get("TRITON_DSL_OPTIMIZER_WORKER", "1") != "0"

    def emit(self, ir_text: str, target: Target, opt_level: int, unroll: bool | None):
        """(object bytes, stage seconds), or None when no worker can run (the caller compiles here)."""
        import pickle
        import struct

        with self._lock:
            try:
                if self._pid != os.getpid():  # a forked child must not share its parent's pipes
                    self._proc, self._pid = None, os.getpid()
                if self._proc is None or self._proc.poll() is not None or self._tasks >= WORKER_TASKS:
                    self._restart()
                request = pickle.dumps((ir_text, target, opt_level, unroll))
                self._proc.stdin.write(struct.pack("<Q", len(request)) + request)
                self._proc.stdin.flush()
                head = self._proc.stdout.read(8)
                if len(head) != 8:
                    raise EOFError("the optimizer worker exited")
                status, payload = pickle.loads(self._proc.stdout.read(struct.unpack("<Q", head)[0]))
                self._tasks += 1
            except (OSError, EOFError, pickle.PickleError, struct.error):
                self._stop()
                self.broken = True
                return None
        if status != "ok":
            raise InternalCompilerError(f"LLVM failed while optimizing a module: {payload}")
        return payload

    def _restart(self) -> None:
        import subprocess
        import sys

        self._stop()
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from triton_dsl.jit import worker_main; worker_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._tasks = 0

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            try:
                proc.stdin.close()
                proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - a worker that will not stop is killed
                proc.kill()
                proc.wait()


_optimizer_worker = _OptimizerWorker()


def worker_main() -> None:
    """The optimizer worker's loop: requests on stdin, results on stdout, until stdin closes."""
    import pickle
    import struct
    import sys

    _ensure_initialized()
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = inp.read(8)
        if len(head) != 8:
            return
        ir_text, target, opt_level, unroll = pickle.loads(inp.read(struct.unpack("<Q", head)[0]))
        try:
            _ensure_initialized(all_targets=target.triple != host_target().triple)
            tm = target_machine(target, opt_level=min(opt_level, 3), jit=True)
            _, obj, times = _emit_jit_object(ir_text, tm, opt_level, unroll)
            reply = ("ok", (obj, times))
        except Exception as exc:  # noqa: BLE001 - reported to the parent as an internal error
            reply = ("error", f"{type(exc).__name__}: {exc}")
        data = pickle.dumps(reply)
        out.write(struct.pack("<Q", len(data)) + data)
        out.flush()


def _check_resolved(obj: bytes, module_name: str, cpu: str, needed: list[str] | None = None) -> None:
    """Every symbol the object needs must have a non-zero address, or the code would call address 0.

    MCJIT leaves an unresolvable external unrelocated without a word (the first call then jumps to 0),
    so this is checked here, before any of the module's code (its static constructors included) runs.
    """
    names = undefined_symbols(obj) if needed is None else needed
    missing = [name for name in names if not llvm.address_of_symbol(name)]
    if missing:
        raise InternalCompilerError(
            f"JIT module {module_name!r} (target CPU {cpu}) references "
            f"{'symbols' if len(missing) > 1 else 'a symbol'} that no library defines: {', '.join(missing)}")


def _module_id(ir_text: str) -> str:
    """The name in the IR text's `; ModuleID = '...'` line (the parser does not keep it)."""
    head = ir_text[:200]
    if head.startswith("; ModuleID = "):
        return head.split("\n", 1)[0][len("; ModuleID = "):].strip("'\"")
    return "<unnamed>"


_support_lock = threading.Lock()
_BUILTIN_SET = frozenset(_BUILTIN_NAMES)
_support: JitModule | None = None


def load_support() -> None:
    """Compile and publish the compiler-support functions (`codegen/builtins.py`) once per process.
    LLVM's backend may call them from any module; they are loaded the first time an object needs one
    (`_support_provider`), before that object is."""
    global _support
    with _support_lock:
        if _support is None:
            module = builtins_module(process_target().triple)
            cache = ObjectCache(os.path.join(cache_dir(), "runtime"))
            support = JitModule(str(module), 2, cache, needs_support=False)
            for fn in module.functions:
                add_symbol(fn.name, support.address(fn.name))
            _support = support


def _support_provider(names: list[str]) -> None:
    if _support is None and not _BUILTIN_SET.isdisjoint(names):
        load_support()


def _prepare_for_target(ir_text: str, target: Target | None, opt_level: int, reloc: str = "pic",
                        unroll: bool | None = None):
    tm = target_machine(target, opt_level=min(opt_level, 3), reloc=reloc)
    mod = parse_ir(ir_text)
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    if opt_level > 0:
        optimize(mod, tm, opt_level, unroll)
    return tm, mod


def emit_object(ir_text: str, *, target: Target | None = None, opt_level: int = 2,
                unroll: bool | None = None) -> bytes:
    """Object-file bytes for `target` (default: the process target), position-independent."""
    tm, mod = _prepare_for_target(ir_text, target, opt_level, unroll=unroll)
    return tm.emit_object(mod)


def emit_assembly(ir_text: str, *, target: Target | None = None, opt_level: int = 2,
                  unroll: bool | None = None) -> str:
    tm, mod = _prepare_for_target(ir_text, target, opt_level, unroll=unroll)
    return tm.emit_assembly(mod)


def optimized_ir(ir_text: str, *, target: Target | None = None, opt_level: int = 2,
                 unroll: bool | None = None) -> str:
    _, mod = _prepare_for_target(ir_text, target, opt_level, unroll=unroll)
    return str(mod)
