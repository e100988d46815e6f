"""The kernel library: every `trk_*` kernel, compiled one family (kernel file) at a time on first use.

In: `KERNEL_BUILDERS`, a list of `build(module: llvmlite.ir.Module, host: Target) -> None` functions
(one per kernel file under `triton_dsl/codegen/kernels/`; add yours to the list, and its symbols to
`FAMILY_SYMBOLS`). Out: a `KernelLibrary` whose `trk_*` functions have native addresses, published to
JIT-compiled DSL code with `jit.add_symbol`, and callable from Python through ctypes wrappers typed from
the IR signatures (`lib.trk_pack_i8(ptr, rows, cols, out)`). Pointers are passed as integers (e.g.
`arr.ctypes.data`). `build_library_module` gives the whole library as one module (ahead-of-time builds).

Why per family: compiled as one module the library took 15-40 s of LLVM (more on older CPUs), paid by
every process with a cold cache although a program uses a few kernels. Now each family is its own JIT
module (`runtime/units.py`), compiled — or loaded from the disk cache — the first time one of its
symbols is needed: by a program's machine code (the undefined symbols of its object, resolved through
`jit`'s symbol provider before it is loaded), by a family that calls another (conv2d calls the matmul),
or by a Python caller (`lib.trk_x`, `lib.addresses[...]`). The thread pool (`threads`) is one family of
the process-wide library and exists once per process: every other library uses it.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Iterator, Mapping

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
    matmul_lut5,
    matmul_perm8,
    matmul_tt,
    pack,
    quantize,
    relayout,
    threads,
)
from ..target import Target
from .units import LazyLibrary, LoadedUnit, Unit

KernelBuilder = Callable[[ir.Module, Target], None]

# Every kernel file's builder; the library module is built from this list in this order.
KERNEL_BUILDERS: list[KernelBuilder] = [
    threads.build,  # first: the others call trk_parallel_for
    pack.build,
    quantize.build,
    dequant.build,
    count.build,
    relayout.build, matmul_f32.build, matmul_gemv.build, matmul_gemm_lut.build, bitlinear.build,
    matmul_tt.build, conv2d.build, matmul_perm8.build, matmul_lut5.build,
]

# Family (kernel file) -> the public symbols its builder defines, on every target (tests check this
# table against the IR). It lets a process find the family of a symbol without building any IR; a family
# missing here is built once up front to learn its symbols.
FAMILY_SYMBOLS: dict[str, tuple[str, ...]] = {
    "threads": ("trk_parallel_for", "trk_num_threads", "trk_set_num_threads"),
    "pack": ("trk_pack_i8", "trk_unpack_i8"),
    "quantize": ("trk_quantize_pack_f32", "trk_quantize_pack_ch_f32"),
    "dequant": ("trk_dequant_f32",),
    "count": ("trk_count_trits",),
    "relayout": ("trk_relayout_t2_panels", "trk_relayout_t2_lut3", "trk_relayout_t2_vnni",
                 "trk_relayout_t2_bitplanes", "trk_relayout_t2_perm8", "trk_relayout_t2_lut5"),
    "matmul_f32": ("trk_matmul_f32_t2",),
    "matmul_gemv": ("trk_gemv_f32_t2_lut",),
    "matmul_gemm_lut": ("trk_gemm_f32_t2_lut",),
    "matmul_lut5": ("trk_matmul_f32_t2_lut5",),
    "bitlinear": ("trk_quantize_absmax_i8", "trk_bitlinear_t2", "trk_bitlinear_t2_auto"),
    "matmul_tt": ("trk_matmul_t2_t2",),
    "conv2d": ("trk_conv2d_f32_t2", "trk_conv2d_f32_t2_auto"),
    "matmul_perm8": ("trk_matmul_f32_t2_perm8",),
}

# Compile options per family, where measured to cost no kernel speed (docs/kernels.md, "Compile time"):
# the matmul micro-kernels are unrolled by hand (2 x rows FMAs per k); LLVM unrolling them again doubled
# the family's compile time and object size.
FAMILY_OPTIONS: dict[str, dict] = {"matmul_f32": {"unroll": False}}

THREADS_FAMILY = "threads"

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


def _ctype(ty: ir.Type | str):
    key = str(ty)
    key = "ptr" if isinstance(ty, ir.PointerType) or key.endswith("*") else key
    if key not in _CTYPES:
        raise TypeError(f"kernel parameter type {ty} has no ctypes equivalent")
    return _CTYPES[key]


def family_name(build: KernelBuilder) -> str:
    """`matmul_f32` for `codegen.kernels.matmul_f32.build`; `module.function` for other builders."""
    module = build.__module__.rsplit(".", 1)[-1]
    return module if build.__name__ == "build" else f"{module}.{build.__qualname__}"


def build_library_module(host: Target | None = None,
                         builders: list[KernelBuilder] | None = None) -> ir.Module:
    """The IR module of all kernels for `host` (default: this machine)."""
    host = host or jit.process_target()
    module = ir.Module(name="triton_dsl_kernels")
    module.triple = host.triple
    for build in builders if builders is not None else KERNEL_BUILDERS:
        build(module, host)
    return module


def _in_package(build: KernelBuilder) -> bool:
    return build.__module__.startswith("triton_dsl.")


class _Addresses(Mapping):
    """`lib.addresses[name]`: the kernel's native address, compiling its family on first use."""

    def __init__(self, lib: KernelLibrary):
        self._lib = lib

    def __getitem__(self, name: str) -> int:
        return self._lib.address(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._lib.defines(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._lib.names)

    def __len__(self) -> int:
        return len(self._lib.names)


class KernelLibrary:
    """The kernels for one target (never freed: see `_LIVE_LIBRARIES`). Everyone uses `kernel_library()`,
    the process-wide library (one unit per family, published); build your own only to test other targets'
    code paths: such a private library compiles all its builders as one module on first use, and its
    thread-pool functions are the process-wide pool's."""

    def __init__(self, host: Target | None = None, builders: list[KernelBuilder] | None = None,
                 *, publish: bool = False, opt_level: int = 3, cache: bool = True):
        self.host = host or jit.process_target()
        self.opt_level = opt_level
        builders = list(builders if builders is not None else KERNEL_BUILDERS)
        self._shared_pool = not publish
        if publish:
            # every family but the pool is bound at its first call (units.py, "call-time binding")
            units = [self._unit([b], family_name(b), lazy_call=b is not threads.build) for b in builders]
        else:
            own = [b for b in builders if b is not threads.build]
            units = [self._unit(own, "+".join(family_name(b) for b in own))] if own else []
        self._lazy = LazyLibrary("kernels", self.host, units, publish=publish, cache=cache, prefix="trk_")
        self.addresses: Mapping[str, int] = _Addresses(self)
        self._wrappers: dict[str, Callable] = {}
        # The thread pool's workers run this library's code for the life of the process: freeing the
        # machine code under them would crash, so every library stays alive.
        _LIVE_LIBRARIES.append(self)

    def _unit(self, builders: list[KernelBuilder], name: str, lazy_call: bool = False) -> Unit:
        host = self.host

        def build() -> ir.Module:
            module = ir.Module(name=f"triton_dsl_kernels.{name}")
            module.triple = host.triple
            for b in builders:
                b(module, host)
            return module

        families = [family_name(b) for b in builders]
        known = all(f in FAMILY_SYMBOLS for f in families) and all(_in_package(b) for b in builders)
        symbols = tuple(s for f in families for s in FAMILY_SYMBOLS[f]) if known else None
        options = FAMILY_OPTIONS.get(name, {})
        return Unit(name, build, self.opt_level, options.get("unroll"), symbols,
                    indexed=all(_in_package(b) for b in builders), lazy_call=lazy_call)

    # -- lookups (no compilation) -----------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        own = set(self._lazy.owner)
        if self._shared_pool:
            own.update(FAMILY_SYMBOLS[THREADS_FAMILY])
        return sorted(own)

    def defines(self, name: str) -> bool:
        return name in self._lazy or (self._shared_pool and name in FAMILY_SYMBOLS[THREADS_FAMILY])

    def families(self) -> list[str]:
        """The library's units (kernel families) in build order."""
        return list(self._lazy.units)

    def compiled_families(self) -> list[str]:
        """The families compiled or loaded so far in this process."""
        return self._lazy.loaded()

    def loaded_units(self) -> list[LoadedUnit]:
        """The families compiled or loaded so far, with their timings (`units.LoadedUnit`)."""
        return self._lazy.loaded_units()

    # -- compiling on first use -------------------------------------------------------------------------
    def _owner(self, name: str) -> KernelLibrary | LazyLibrary:
        if self._shared_pool and name in FAMILY_SYMBOLS[THREADS_FAMILY]:
            return kernel_library()._lazy
        if name not in self._lazy and self._lazy._learn(name) is None:
            raise KeyError(f"no kernel {name!r} in the library")
        if self._shared_pool:
            kernel_library()  # its symbol provider supplies the pool to this library's code
        return self._lazy

    def address(self, name: str) -> int:
        """The native address of kernel `name` (its family is compiled on first use)."""
        return self._owner(name).address(name)

    def family(self, name: str) -> str:
        """The family (unit) defining kernel `name`."""
        lazy = self._owner(name)
        return lazy.owner[name]  # known once _owner returned

    def provide(self, names: list[str]) -> None:
        """Supply (compile, or bind to stubs) the kernels among `names` that JIT code needs."""
        self._lazy.provide(names)

    def compile_family(self, family: str) -> None:
        """Compile (or load) one family now."""
        self._lazy.ensure(family)

    def function(self, name: str) -> Callable:
        """A ctypes function for kernel `name`, typed from its IR signature."""
        if name not in self._wrappers:
            owner = self._owner(name)
            ret, args = owner.signature(name)
            proto = ctypes.CFUNCTYPE(_ctype(ret), *(_ctype(a) for a in args))
            self._wrappers[name] = proto(owner.address(name))
        return self._wrappers[name]

    def __getattr__(self, name: str) -> Callable:
        if name.startswith("trk_"):
            return self.function(name)
        raise AttributeError(name)

    def asm(self) -> str:
        """Assembly of every family of the library (compiled for the inspection, not loaded)."""
        return "\n".join(jit.emit_assembly(str(self._lazy.ir_module(u.name)), target=self.host,
                                           opt_level=u.opt_level, unroll=u.unroll)
                         for u in self._lazy.units.values())


_lock = threading.Lock()
_library: KernelLibrary | None = None


def kernel_library() -> KernelLibrary:
    """The process-wide library for the process target; creating it compiles nothing (families compile
    when first needed) and makes its symbols available to every JIT module."""
    global _library
    with _lock:
        if _library is None:
            _library = KernelLibrary(publish=True)
        return _library
