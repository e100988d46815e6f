"""The runtime library: build its LLVM module, compile it once per process, publish its symbols.

In: the `emit(em)` functions of the rt_* modules. Out: `load_runtime()` -> the `JitModule` holding the
compiled library (every public function is also published with `jit.add_symbol`, so a program module
that `declare`s it can call it), `signatures()` (name -> (ret, args) as llvmlite types, the source of
`abi/functions.py`), `runtime_ir()` (the IR text) and `compile_seconds()` (measured build time).
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from functools import lru_cache

from llvmlite import ir

from .. import jit
from . import (
    rt_cast,
    rt_create,
    rt_elem,
    rt_errors,
    rt_format,
    rt_matmul,
    rt_memory,
    rt_print,
    rt_quant,
    rt_random,
    rt_reduce,
    rt_shape,
    rt_softmax,
    rt_text,
    rt_weights,
)
from .irgen import Emitter

# Two modules: the hot leaf loops (`define(kernel=True)`: reduction cores, Philox, strided copies, ...)
# are compiled at -O2; everything else (memory, errors, text, printing, formatting, the drivers that
# check arguments and dispatch to kernels) at -O0, which keeps the compile paid at start-up short.
_EMITTERS = (rt_errors.emit, rt_memory.emit, rt_text.emit, rt_print.emit, rt_format.emit, rt_random.emit,
             rt_elem.emit, rt_reduce.emit, rt_softmax.emit, rt_matmul.emit, rt_shape.emit, rt_create.emit,
             rt_cast.emit,
             rt_quant.emit,  # quantization primitives (after rt_elem: uses trt_parallel)
             rt_weights.emit)  # weight files (save_weights / load_tensor / load_ternary)

_lock = threading.Lock()
_loaded: tuple[jit.JitModule, jit.JitModule] | None = None
_compile_seconds: float | None = None


@lru_cache(maxsize=1)
def _build() -> tuple[Emitter, Emitter]:
    kernels = Emitter("triton_dsl_runtime_kernels")
    base = Emitter("triton_dsl_runtime", kernels=kernels)
    for emit in _EMITTERS:
        emit(base)
    return base, kernels


def runtime_ir() -> str:
    """The runtime library's LLVM IR text (both modules, before optimization)."""
    return "\n".join(str(em.module) for em in _build())


def signatures() -> dict[str, tuple[ir.Type, list[ir.Type]]]:
    """Every public runtime function: name -> (return type, argument types)."""
    return dict(_build()[0].signatures)


def load_runtime(cache_objects: bool = True) -> jit.JitModule:
    """Compile the runtime (once per process) and publish every public function's address.

    Returns the base module; `function_address(name)` finds a function in either module.
    """
    global _loaded, _compile_seconds
    with _lock:
        if _loaded is None:
            start = time.perf_counter()
            base_em, kernels_em = _build()
            # The on-disk object cache (keyed by IR, versions and host CPU) makes later starts skip LLVM.
            # (in a subfolder, apart from the objects of programs)
            cache = jit.ObjectCache(os.path.join(jit.cache_dir(), "runtime")) if cache_objects else None
            kernels = jit.JitModule(str(kernels_em.module), 2, cache)
            _publish(kernels, kernels_em.signatures)
            base = jit.JitModule(str(base_em.module), 0, cache)
            _publish(base, [n for n in base_em.signatures if n not in kernels_em.signatures])
            _compile_seconds = time.perf_counter() - start
            _loaded = (base, kernels)
            _install_python_callbacks(base)
    return _loaded[0]


def _publish(lib: jit.JitModule, names) -> None:
    for name in names:
        addr = lib.address(name)
        _addresses[name] = addr
        jit.add_symbol(name, addr)


_addresses: dict[str, int] = {}


def function_address(name: str) -> int:
    """Native address of public runtime function `name` (compiles the runtime on first use)."""
    load_runtime()
    return _addresses[name]


def use_thread_pool(address: int | None = None) -> bool:
    """Let large matmuls split their rows across the kernels' thread pool (`trk_parallel_for`).

    `address` defaults to the kernel library's `trk_parallel_for` (compiling that library if needed);
    0 switches back to serial. Returns whether a pool is installed. Until this is called the runtime
    runs serially, so it never depends on the kernel library being built.
    """
    if address is None:
        from .kernel_library import kernel_library

        address = kernel_library().addresses["trk_parallel_for"]
    load_runtime()
    set_pool = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(function_address("trt_set_parallel"))
    set_pool(address or None)
    return bool(address)


def compile_seconds() -> float | None:
    """Seconds spent building + compiling the runtime in this process (None before `load_runtime`)."""
    return _compile_seconds


def _install_python_callbacks(lib: jit.JitModule) -> None:
    # Late import: interop needs the loaded library's function addresses.
    from . import interop, output

    interop.install_release_callback(lib)
    output.install_python_output(lib)
    from .rt_kernels import install_kernel_resolver  # kernels reached from rt_quant / rt_conv
    install_kernel_resolver(lib)
    rt_weights.install_python_weights(lib)  # weight files go through runtime/weights.py
