"""The runtime library: build its LLVM modules, compile each on first use, publish its symbols.

In: the `emit(em)` functions of the rt_* modules. Out: `load_runtime()` -> the `RuntimeLibrary` (every
public function is published with `jit.add_symbol` once its part is loaded, so a program module that
`declare`s it can call it), `signatures()` (name -> (ret, args) as llvmlite types, the source of
`abi/functions.py`), `function_address(name)`, `runtime_ir()` (the IR text of every module),
`runtime_modules(aot=True)` (the IR text of each module as an ahead-of-time library links it: no Python
callbacks, kernels named directly) and `compile_seconds()` (measured build + compile time).

Why in parts: compiled whole, the runtime cost every process with a cold cache ~2 s of LLVM although
`print("hi")` needs a few text functions. Each rt_* emitter (a *group*: rt_errors, rt_memory, rt_text,
..., rt_weights) has its own -O0 module, and its hot leaf loops (`define(kernel=True)`) are -O2 modules
of one function each (`_HOT_WHOLE` groups: one module) — each a unit of a `units.LazyLibrary`: compiled,
or loaded from the disk cache, when a program's machine code (or another unit, or Python) first needs
one of its symbols; the -O2 functions only when first called (stubs).
Groups call each other by name (`Emitter.shared`); internal functions called from another group get
hidden external linkage. A manifest in the cache (per compiler fingerprint: the IR does not depend on
the target) lists every unit's symbols and signatures, so a warm process builds no IR at all.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import tempfile
import threading
import time
from functools import lru_cache

from llvmlite import ir

from .. import jit
from . import (
    rt_autograd,
    rt_capi,
    rt_cast,
    rt_clock,
    rt_create,
    rt_elem,
    rt_errors,
    rt_format,
    rt_matmul,
    rt_memory,
    rt_objects,
    rt_print,
    rt_quant,
    rt_random,
    rt_reduce,
    rt_shape,
    rt_softmax,
    rt_text,
    rt_weights,
)
from .irgen import F32, F64, HALF, I1, I8, I16, I32, I64, PTR, VOID, Emitter
from .units import LazyLibrary, LoadedUnit, Unit, exported_signatures

# One group per emitter, in this order (a group may call the functions of the groups before it, and of
# later ones it declares). Hot leaf loops (`define(kernel=True)`: reduction cores, Philox, strided
# copies, ...) are compiled at -O2; everything else (memory, errors, text, printing, formatting, the
# drivers that check arguments and dispatch to kernels) at -O0, which keeps the compile paid short.
_EMITTERS = (rt_errors.emit, rt_memory.emit, rt_text.emit, rt_objects.emit, rt_print.emit, rt_format.emit,
             rt_random.emit, rt_elem.emit, rt_reduce.emit, rt_softmax.emit, rt_matmul.emit, rt_shape.emit,
             rt_create.emit, rt_cast.emit,
             rt_clock.emit,  # clock(): the monotonic clock
             rt_autograd.emit,  # autodiff: tape, backward engine, gradients, hooks (after rt_cast: converts)
             rt_quant.emit,  # quantization primitives (after rt_elem: uses trt_parallel)
             rt_weights.emit,  # weight files (save_weights / load_tensor / load_ternary)
             rt_capi.emit)  # the C API of built libraries (contexts, tensor access, ternary tensors)
BASE_OPT, HOT_OPT = 0, 2
# Groups whose hot functions share state (globals) or call each other: one -O2 module. Every other group's
# hot functions get a module each, bound at their first call (a reduction driver references the cores of
# nine dtypes; a program uses one or two).
_HOT_WHOLE = {"rt_random"}
_MANIFEST_VERSION = "runtime-manifest-2"


def _group_name(emit) -> str:
    return emit.__module__.rsplit(".", 1)[-1]


@lru_cache(maxsize=2)
def _build(aot: bool = False) -> tuple[tuple[str, Emitter, Emitter], ...]:
    """(group, base emitter, hot emitter) for every group, built once per process (and flavour)."""
    shared: dict[str, ir.FunctionType] = {}
    groups = []
    for emit in _EMITTERS:
        name = _group_name(emit)
        hot = Emitter(f"triton_dsl_runtime.{name}.hot", shared=shared, aot=aot, split=name not in _HOT_WHOLE)
        base = Emitter(f"triton_dsl_runtime.{name}", kernels=hot, shared=shared, aot=aot)
        emit(base)
        # The -O0 part is -O0 wherever it is compiled: an ahead-of-time build optimizes every module it
        # links, which took ~3 s for code the JIT never optimizes (optnone needs noinline: both set).
        for fn in base.module.functions:
            if not fn.is_declaration:
                fn.attributes.add("noinline")
                fn.attributes.add("optnone")
        groups.append((name, base, hot))
    export_cross_references([module for _, module, _, _ in _layout(tuple(groups))])
    return tuple(groups)


def _layout(groups) -> list[tuple[str, ir.Module, int, bool]]:
    """(unit name, module, opt level, bound at first call) of every unit with code."""
    out = []
    for name, base, hot in groups:
        out.append((name, base.module, BASE_OPT, False))
        for child in hot.children:  # a split hot emitter: one unit per function
            out.append((child.module.name.removeprefix("triton_dsl_runtime."), child.module, HOT_OPT, True))
        if any(not f.is_declaration for f in hot.module.functions):
            out.append((f"{name}.hot", hot.module, HOT_OPT, False))
    return out


def export_cross_references(modules: list[ir.Module]) -> None:
    """Give hidden external linkage to the internal functions another module of the list declares."""
    internal = {f.name: (id(m), f) for m in modules for f in m.functions
                if not f.is_declaration and f.linkage == "internal"}
    for m in modules:
        for f in m.functions:
            owner = internal.get(f.name) if f.is_declaration else None
            if owner is not None and owner[0] != id(m):
                owner[1].linkage = "hidden"


def _modules(aot: bool = False) -> list[tuple[str, ir.Module, int, bool]]:
    return _layout(_build(aot))


def runtime_ir() -> str:
    """The runtime library's LLVM IR text (every module, before optimization; one `; ModuleID` each)."""
    return "\n".join(str(module) for _, module, _, _ in _modules())


def runtime_modules(aot: bool = False) -> list[tuple[str, str]]:
    """(unit name, IR text) of each runtime module, before optimization.

    aot=True is the runtime an ahead-of-time library (`tritonc build --emit=static|shared`) links: the
    same functions, but the `trk_*` kernels rt_kernels needs are named directly (they are linked into
    the same library) instead of being found by a Python callback. The other callbacks Python installs
    in-process keep their native defaults there: output goes to `write(1, ...)`, borrowed headers have
    no owner to release, weight files fail with a clear I/O error.
    """
    return [(name, str(module)) for name, module, _, _ in _modules(aot)]


# -- signatures ------------------------------------------------------------------------------------------

_TYPES = {str(t): t for t in (PTR, I1, I8, I16, I32, I64, HALF, F32, F64, VOID)}


def _type(text: str) -> ir.Type:
    return _TYPES[text]


_signatures: dict[str, tuple[ir.Type, list[ir.Type]]] | None = None


def signatures() -> dict[str, tuple[ir.Type, list[ir.Type]]]:
    """Every public runtime function: name -> (return type, argument types)."""
    global _signatures
    if _signatures is None:
        manifest = _read_manifest()
        if manifest is not None:
            _signatures = {name: (_type(ret), [_type(a) for a in args])
                           for name, (ret, args) in manifest["signatures"].items()}
        else:
            sigs: dict[str, tuple[ir.Type, list[ir.Type]]] = {}
            for _, base, _ in _build():
                sigs.update(base.signatures)
            _signatures = sigs
    return dict(_signatures)


# -- the manifest: unit -> symbols, public signatures (no IR needed in a warm process) -------------------

def _manifest_path() -> str:
    from ..resources import compiler_fingerprint

    # the runtime's IR does not depend on the target (the units' objects do: their index keys name it)
    parts = [_MANIFEST_VERSION, compiler_fingerprint(), jit.llvm_version(), jit.llvmlite_version()]
    digest = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    return os.path.join(jit.cache_dir(), "runtime", f"manifest-{digest}.json")


_manifest_cache: list = []


def _read_manifest() -> dict | None:
    """{"units": [(name, opt level, bound at first call, {symbol: (ret, args)})], "signatures": {public
    name: (ret, args)}} as written by `_write_manifest`, or None."""
    if _manifest_cache:
        return _manifest_cache[0]
    try:
        with open(_manifest_path(), encoding="utf-8") as f:
            data = json.load(f)
        units = [(str(name), int(opt), bool(lazy), {str(n): (str(r), [str(a) for a in args])
                                                    for n, (r, args) in syms.items()})
                 for name, opt, lazy, syms in data["units"]]
        sigs = {str(n): (str(r), [str(a) for a in args]) for n, (r, args) in data["signatures"].items()}
        if not all(t in _TYPES for r, args in sigs.values() for t in [r, *args]):
            return None
        manifest = {"units": units, "signatures": sigs}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    _manifest_cache.append(manifest)
    return manifest


def _write_manifest(units: list) -> None:
    sigs = {name: (str(ret), [str(a) for a in args]) for name, (ret, args) in signatures().items()}
    path = _manifest_path()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"units": units, "signatures": sigs}, f)
        os.replace(tmp, path)
    except OSError:
        pass


# -- loading ---------------------------------------------------------------------------------------------

class RuntimeLibrary:
    """The runtime of this process: its units compile on first use (see the module docstring)."""

    def __init__(self, cache: bool = True):
        manifest = _read_manifest() if cache else None
        layout = manifest["units"] if manifest is not None else None
        if layout is None:
            layout = [(name, opt, lazy, exported_signatures(module))
                      for name, module, opt, lazy in _modules()]
            if cache:
                _write_manifest(layout)
        units = [Unit(name, _builder(name), opt, symbols=tuple(sigs), lazy_call=lazy, signatures=sigs)
                 for name, opt, lazy, sigs in layout]
        self._lazy = LazyLibrary("runtime", jit.process_target(), units, publish=True, cache=cache,
                                 on_load=self._loaded)
        jit.add_symbol_provider(_kernel_symbols)

    def _loaded(self, unit: LoadedUnit) -> None:
        # Python-side callbacks, installed as soon as the unit holding their setter is loaded (before
        # any code of it runs). Late imports: they need this library's addresses.
        from . import handles, output
        from .rt_kernels import install_kernel_resolver  # kernels reached from rt_quant / rt_conv

        for setter, install in (("trt_set_release", handles.install_release_callback),
                                ("trt_set_output", output.install_python_output),
                                ("trt_quant_set_resolver", install_kernel_resolver),
                                ("trt_set_weights_io", rt_weights.install_python_weights)):
            if setter in unit.signatures:
                install(self)

    def units(self) -> list[str]:
        """Every part of the runtime, in build order."""
        return list(self._lazy.units)

    def compile_unit(self, name: str) -> None:
        """Compile (or load) one part now."""
        self._lazy.ensure(name)

    def loaded(self) -> list[str]:
        """The units compiled or loaded so far in this process, in order."""
        return self._lazy.loaded()

    def loaded_units(self) -> list[LoadedUnit]:
        """The same with their timings (`units.LoadedUnit`)."""
        return self._lazy.loaded_units()

    @property
    def seconds(self) -> float:
        return self._lazy.seconds

    def address(self, name: str) -> int:
        return self._lazy.address(name)

    def cfunc(self, name: str, restype, *argtypes):
        """A ctypes function object calling runtime function `name`."""
        return ctypes.CFUNCTYPE(restype, *argtypes)(self.address(name))


def _kernel_symbols(names: list[str]) -> None:
    """Generated code may call `trk_*` kernels: the kernel library (whose creation compiles nothing)
    supplies them even when no caller created it first."""
    if any(name.startswith("trk_") for name in names):
        from .kernel_library import kernel_library

        kernel_library().provide(names)


def _builder(unit_name: str):
    def build() -> ir.Module:
        for name, module, _, _ in _modules():
            if name == unit_name:
                return module
        raise KeyError(f"no runtime unit {unit_name!r}")
    return build


_lock = threading.Lock()
_runtime: RuntimeLibrary | None = None
_setup_seconds = 0.0


def load_runtime(cache_objects: bool = True) -> RuntimeLibrary:
    """The process's runtime (created once; idempotent). Creating it compiles nothing: a part compiles
    when a JIT module or a Python caller first needs one of its functions."""
    global _runtime, _setup_seconds
    with _lock:
        if _runtime is None:
            start = time.perf_counter()
            _runtime = RuntimeLibrary(cache=cache_objects)
            _setup_seconds = time.perf_counter() - start
    return _runtime


def function_address(name: str) -> int:
    """Native address of public runtime function `name` (compiles its part on first use)."""
    return load_runtime().address(name)


def use_thread_pool(address: int | None = None) -> bool:
    """Let large matmuls split their rows across the kernels' thread pool (`trk_parallel_for`).

    `address` defaults to the kernel library's `trk_parallel_for` (compiling that family if needed);
    0 switches back to serial. Returns whether a pool is installed. Until this is called the runtime
    runs serially, so it never depends on the kernel library being built.
    """
    if address is None:
        from .kernel_library import kernel_library

        address = kernel_library().addresses["trk_parallel_for"]
    set_pool = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(function_address("trt_set_parallel"))
    set_pool(address or None)
    return bool(address)


def compile_seconds() -> float | None:
    """Seconds spent setting up and compiling (or loading) the runtime's parts in this process so far
    (None before `load_runtime`)."""
    if _runtime is None:
        return None
    return _setup_seconds + _runtime.seconds
