"""The one user of `llvmlite.binding`: target machines, optimization, JIT and object emission.

In: LLVM IR text (built elsewhere with `llvmlite.ir`) and options (opt level, target triple, CPU).
Out: a `JitModule` whose functions have native addresses (MCJIT, host CPU), or object-file bytes /
assembly text for the host or another target (AOT, see `emit_object` / `emit_assembly`).

Everything else in the compiler builds IR with `llvmlite.ir` and never imports `llvmlite.binding`.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache

import llvmlite
import llvmlite.binding as llvm

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
            _initialized = True
        if all_targets and not _all_targets:
            llvm.initialize_all_targets()
            llvm.initialize_all_asmprinters()
            _all_targets = True


@dataclass(frozen=True)
class HostInfo:
    """What code generation needs to know about the machine it targets."""

    triple: str
    cpu: str
    features: str  # LLVM feature string, e.g. "+avx2,+avx512f,..."

    def has(self, feature: str) -> bool:
        return f"+{feature}" in self.features.split(",")

    @property
    def vector_bits(self) -> int:
        """Widest SIMD register width worth using for float32 lanes."""
        if self.has("avx512f"):
            return 512
        if self.has("avx2") or self.has("avx"):
            return 256
        return 128


@lru_cache(maxsize=1)
def host_info() -> HostInfo:
    _ensure_initialized()
    features = llvm.get_host_cpu_features().flatten()
    return HostInfo(llvm.get_process_triple(), llvm.get_host_cpu_name(), features)


def llvm_version() -> str:
    return ".".join(str(v) for v in llvm.llvm_version_info)


def llvmlite_version() -> str:
    return llvmlite.__version__


def target_machine(triple: str | None = None, cpu: str | None = None, features: str | None = None,
                   opt_level: int = 2, *, jit: bool = False, reloc: str = "default"):
    """A TargetMachine for the host (default) or for `triple`/`cpu`."""
    host = host_info()
    if triple is None or triple == host.triple:
        triple = host.triple
        cpu = host.cpu if cpu in (None, "native") else cpu
        features = host.features if features is None else features
    else:
        _ensure_initialized(all_targets=True)
        cpu = cpu or ""
        features = features or ""
    target = llvm.Target.from_triple(triple)
    return target.create_target_machine(cpu=cpu, features=features, opt=opt_level, reloc=reloc,
                                        codemodel="jitdefault" if jit else "default", jit=jit)


def optimize(module_ref, tm, opt_level: int) -> None:
    """Run the new pass manager's default pipeline `-O<opt_level>` over a parsed module, in place."""
    pto = llvm.create_pipeline_tuning_options(speed_level=opt_level)
    vectorize = opt_level >= 2
    pto.loop_vectorization = vectorize
    pto.slp_vectorization = vectorize
    pto.loop_unrolling = opt_level >= 2
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


def cache_key(ir_text: str, opt_level: int) -> str:
    """Everything the machine code depends on: the program's IR (itself a function of the source and
    the compiler), the compiler and LLVM versions, target triple, CPU name and features, opt level."""
    from . import __version__

    host = host_info()
    parts = [ir_text, __version__, llvm_version(), llvmlite_version(), host.triple, host.cpu, host.features,
             f"O{opt_level}"]
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


class JitModule:
    """A module compiled for the host and loaded into this process.

    The engine keeps the machine code alive; keep a reference to the JitModule as long as any
    function address from it may be called. With `cache` (an `ObjectCache`), the machine code is
    looked up on disk first (skipping optimization and code generation) and stored after compiling.
    """

    def __init__(self, ir_text: str, opt_level: int = 2, cache: ObjectCache | None = None):
        _ensure_initialized()
        self.opt_level = opt_level
        self.from_cache = False
        tm = target_machine(opt_level=min(opt_level, 3), jit=True)
        mod = parse_ir(ir_text)
        mod.triple = tm.triple
        mod.data_layout = str(tm.target_data)
        key = cache_key(ir_text, opt_level) if cache is not None else None
        cached = cache.load(key) if cache is not None else None
        if cached is None and opt_level > 0:
            optimize(mod, tm, opt_level)
        self.optimized_ir = str(mod) if cached is None else None
        self._ir_text = ir_text
        self._tm = tm
        self._engine = llvm.create_mcjit_compiler(mod, tm)
        if cache is not None:
            def notify(_module, buffer: bytes) -> None:
                if cached is None:
                    cache.store(key, bytes(buffer))

            def getbuffer(_module) -> bytes | None:
                return cached

            self._engine.set_object_cache(notify, getbuffer)
            self.from_cache = cached is not None
        self._engine.finalize_object()
        self._engine.run_static_constructors()

    def address(self, name: str) -> int:
        addr = self._engine.get_function_address(name)
        if not addr:
            raise KeyError(f"no function {name!r} in JIT module")
        return addr

    def cfunc(self, name: str, restype, *argtypes):
        """A ctypes function object calling the native function `name`."""
        return ctypes.CFUNCTYPE(restype, *argtypes)(self.address(name))

    def asm(self) -> str:
        return self._tm.emit_assembly(parse_ir(self.optimized()))

    def optimized(self) -> str:
        """The optimized LLVM IR (recomputed when the machine code came from the cache)."""
        if self.optimized_ir is None:
            mod = parse_ir(self._ir_text)
            mod.triple = self._tm.triple
            mod.data_layout = str(self._tm.target_data)
            if self.opt_level > 0:
                optimize(mod, self._tm, self.opt_level)
            self.optimized_ir = str(mod)
        return self.optimized_ir


def _prepare_for_target(ir_text: str, triple: str | None, cpu: str | None, opt_level: int,
                        reloc: str = "pic"):
    tm = target_machine(triple, cpu, opt_level=min(opt_level, 3), reloc=reloc)
    mod = parse_ir(ir_text)
    mod.triple = tm.triple
    mod.data_layout = str(tm.target_data)
    if opt_level > 0:
        optimize(mod, tm, opt_level)
    return tm, mod


def emit_object(ir_text: str, *, triple: str | None = None, cpu: str | None = None,
                opt_level: int = 2) -> bytes:
    """Object-file bytes for the host or another target (position-independent)."""
    tm, mod = _prepare_for_target(ir_text, triple, cpu, opt_level)
    return tm.emit_object(mod)


def emit_assembly(ir_text: str, *, triple: str | None = None, cpu: str | None = None,
                  opt_level: int = 2) -> str:
    tm, mod = _prepare_for_target(ir_text, triple, cpu, opt_level)
    return tm.emit_assembly(mod)


def optimized_ir(ir_text: str, *, triple: str | None = None, cpu: str | None = None,
                 opt_level: int = 2) -> str:
    _, mod = _prepare_for_target(ir_text, triple, cpu, opt_level)
    return str(mod)
