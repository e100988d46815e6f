"""The runtime library: build its LLVM module, compile it once per process, publish its symbols.

In: the `emit(em)` functions of the rt_* modules. Out: `load_runtime()` -> the `JitModule` holding the
compiled library (every public function is also published with `jit.add_symbol`, so a program module
that `declare`s it can call it), `SIGNATURES` (name -> (ret, args) as llvmlite types), `declare(module,
name)` for code generators, `runtime_ir()` (the IR text) and `compile_seconds()` (measured build time).
"""

from __future__ import annotations

import threading
import time
from functools import lru_cache

from llvmlite import ir

from .. import jit
from . import rt_errors, rt_format, rt_memory, rt_print, rt_random, rt_text
from .irgen import Emitter

# Order matters only for readability: functions used before their definition are declared first.
_EMITTERS = (rt_errors.emit, rt_memory.emit, rt_text.emit, rt_print.emit, rt_format.emit, rt_random.emit)

_lock = threading.Lock()
_loaded: jit.JitModule | None = None
_compile_seconds: float | None = None


@lru_cache(maxsize=1)
def _build() -> Emitter:
    em = Emitter()
    for emit in _EMITTERS:
        emit(em)
    return em


def runtime_ir() -> str:
    """The runtime library's LLVM IR text (before optimization)."""
    return str(_build().module)


def signatures() -> dict[str, tuple[ir.Type, list[ir.Type]]]:
    """Every public runtime function: name -> (return type, argument types)."""
    return dict(_build().signatures)


def declare(module: ir.Module, name: str) -> ir.Function:
    """Declare runtime function `name` in a program module (idempotent) with its exact signature."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    ret, args = _build().signatures[name]
    return ir.Function(module, ir.FunctionType(ret, args), name)


def load_runtime() -> jit.JitModule:
    """Compile the runtime (once per process) and publish every public function's address."""
    global _loaded, _compile_seconds
    with _lock:
        if _loaded is None:
            start = time.perf_counter()
            em = _build()
            lib = jit.JitModule(str(em.module), opt_level=2)
            for name in em.signatures:
                jit.add_symbol(name, lib.address(name))
            _compile_seconds = time.perf_counter() - start
            _loaded = lib
            _install_python_callbacks(lib)
    return _loaded


def compile_seconds() -> float | None:
    """Seconds spent building + compiling the runtime in this process (None before `load_runtime`)."""
    return _compile_seconds


def _install_python_callbacks(lib: jit.JitModule) -> None:
    # Late import: interop needs the loaded library's function addresses.
    from . import interop, output

    interop.install_release_callback(lib)
    output.install_python_output(lib)
