"""The kernel library: every `trk_*` kernel built into one LLVM module and compiled once per process.

In: `KERNEL_BUILDERS`, a list of `build(module: llvmlite.ir.Module, host: Target) -> None` functions
(one per kernel file under `triton_dsl/codegen/kernels/`; add yours to the list). Out: a
`KernelLibrary` (compiled once per process, its machine code cached on disk across processes) whose
`trk_*` functions have native addresses, published to JIT-compiled DSL code with `jit.add_symbol`,
and callable from Python through ctypes wrappers typed from the IR signatures
(`lib.trk_pack_i8(ptr, rows, cols, out)`). Pointers are passed as integers (e.g. `arr.ctypes.data`).
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable

from llvmlite import ir

from .. import jit
from ..codegen.kernels import (
    bitlinear,
    conv2d,
    count,
    dequant,
    matmul_f32,
    matmul_gemm_lut,
    matmul_gemv,
    matmul_perm8,
    matmul_tt,
    pack,
    quantize,
    relayout,
    threads,
)
from ..target import Target

KernelBuilder = Callable[[ir.Module, Target], None]

# Every kernel file's builder; the library module is built from this list in this order.
KERNEL_BUILDERS: list[KernelBuilder] = [
    threads.build,  # first: the others call trk_parallel_for
    pack.build,
    quantize.build,
    dequant.build,
    count.build,
    relayout.build, matmul_f32.build, matmul_gemv.build, matmul_gemm_lut.build, bitlinear.build,
    matmul_tt.build, conv2d.build, matmul_perm8.build,
]

_LIVE_LIBRARIES: list[KernelLibrary] = []

_CTYPES = {
    "void": None,
    "i1": ctypes.c_bool,
    "i8": ctypes.c_int8,
    "i32": ctypes.c_int32,
    "i64": ctypes.c_int64,
    "float": ctypes.c_float,
    "double": ctypes.c_double,
    "ptr": ctypes.c_void_p,
}


def _ctype(ty: ir.Type):
    key = "ptr" if isinstance(ty, ir.PointerType) else str(ty)
    if key not in _CTYPES:
        raise TypeError(f"kernel parameter type {ty} has no ctypes equivalent")
    return _CTYPES[key]


def build_library_module(host: Target | None = None,
                         builders: list[KernelBuilder] | None = None) -> ir.Module:
    """The IR module of all kernels for `host` (default: this machine)."""
    host = host or jit.process_target()
    module = ir.Module(name="triton_dsl_kernels")
    module.triple = host.triple
    for build in builders if builders is not None else KERNEL_BUILDERS:
        build(module, host)
    return module


class KernelLibrary:
    """The compiled kernels (never freed: see `_LIVE_LIBRARIES`). Build your own only to test other
    targets' code paths; everyone else uses `kernel_library()`."""

    def __init__(self, host: Target | None = None, builders: list[KernelBuilder] | None = None,
                 *, publish: bool = False, opt_level: int = 3, cache: bool = True):
        self.host = host or jit.process_target()
        module = build_library_module(self.host, builders)
        self.signatures: dict[str, ir.FunctionType] = {
            f.name: f.function_type for f in module.functions
            if f.name.startswith("trk_") and not f.is_declaration and f.linkage not in ("internal", "private")
        }
        # Machine code is cached on disk (keyed by IR, versions and host): later processes skip LLVM.
        disk = jit.ObjectCache() if cache else None
        self._jit = jit.JitModule(str(module), opt_level=opt_level, cache=disk, target=self.host)
        self.addresses = {name: self._jit.address(name) for name in self.signatures}
        self._wrappers: dict[str, Callable] = {}
        # The thread pool's workers run this module's code for the life of the process: freeing the
        # machine code under them would crash, so every library stays alive (a few hundred KiB each).
        _LIVE_LIBRARIES.append(self)
        if publish:
            for name, addr in self.addresses.items():
                jit.add_symbol(name, addr)

    @property
    def names(self) -> list[str]:
        return sorted(self.signatures)

    def function(self, name: str) -> Callable:
        """A ctypes function for kernel `name`, typed from its IR signature."""
        if name not in self._wrappers:
            if name not in self.signatures:
                raise KeyError(f"no kernel {name!r} in the library")
            fnty = self.signatures[name]
            proto = ctypes.CFUNCTYPE(_ctype(fnty.return_type), *(_ctype(a) for a in fnty.args))
            self._wrappers[name] = proto(self.addresses[name])
        return self._wrappers[name]

    def __getattr__(self, name: str) -> Callable:
        if name.startswith("trk_"):
            return self.function(name)
        raise AttributeError(name)

    def asm(self) -> str:
        return self._jit.asm()


_lock = threading.Lock()
_library: KernelLibrary | None = None


def kernel_library() -> KernelLibrary:
    """The process-wide library for this machine, built on first use; its symbols are published."""
    global _library
    with _lock:
        if _library is None:
            _library = KernelLibrary(publish=True)
        return _library
