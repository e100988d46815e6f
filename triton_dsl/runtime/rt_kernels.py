"""How runtime functions reach the kernel library's `trk_*` kernels, which live in another JIT module.

In: an `Emitter` (from `rt_quant.emit`) and, at load time, the loaded runtime library. Out:

- `trt_quant_set_kernels(ptr table)` (public): copies the addresses of `KERNELS` (in that order);
- `trt_quant_set_resolver(ptr fn)` (public): a `void ()` callback that installs the table on first use;
- `trt_quant_kernel(ctx, i32 index) -> ptr` (internal): the kernel's address, calling the resolver when
  the table is still empty; null with an error set when no kernel library can be had;
- in an ahead-of-time runtime (`em.aot`, linked with the kernel library into one C library) the table
  is initialised with the kernels' symbols, so no resolver is needed;
- `install_kernel_resolver(lib)` (Python): registers a resolver that builds (or loads from the disk cache)
  the kernel library only when a program first needs one of its kernels — programs that never do pay
  nothing.
"""

from __future__ import annotations

import ctypes

from llvmlite import ir

from ..abi import layout
from .irgen import I32, PTR, VOID, Emitter, FnBuilder, c32
from .rt_errors import emit_error

KERNELS = ("trk_relayout_t2_panels", "trk_conv2d_f32_t2_auto")
RELAYOUT_PANELS, CONV2D_AUTO = range(len(KERNELS))
# LLVM types of the kernels' signatures (docs/kernels.md)
SIGNATURES = {
    RELAYOUT_PANELS: (VOID, [PTR] + [ir.IntType(64)] * 5 + [PTR]),
    CONV2D_AUTO: (I32, [PTR] + [ir.IntType(64)] * 10 + [PTR, ir.IntType(64), PTR, PTR, ir.FloatType(),
                                                        ir.FloatType(), PTR]),
}


def emit(em: Emitter) -> None:
    arr = ir.ArrayType(PTR, len(KERNELS))
    if em.aot:  # the linker resolves them: the kernel library is part of the same library
        init = [em.declare(name, *SIGNATURES[i]) for i, name in enumerate(KERNELS)]
    else:  # in-process the kernel library is another JIT module, built on first use (the resolver)
        init = [None] * len(KERNELS)
    table = em.global_var("trt_quant_kernel_table", arr, init)
    resolver = em.global_var("trt_quant_resolver", PTR, None)

    fb = em.define("trt_quant_set_kernels", VOID, [PTR])
    for i in range(len(KERNELS)):
        fb.b.store(fb.load(fb.at(fb.args[0], i, PTR), PTR), fb.at(table, i, PTR))
    fb.ret()

    fb = em.define("trt_quant_set_resolver", VOID, [PTR])
    fb.b.store(fb.args[0], resolver)
    fb.ret()

    fb = em.define("trt_quant_kernel", PTR, [PTR, I32], public=False)
    ctx, index = fb.args
    b = fb.b
    slot = fb.at(table, b.sext(index, ir.IntType(64)), PTR)
    fn = fb.load(resolver, PTR)
    with fb.if_then(b.and_(fb.is_null(fb.load(slot, PTR)), b.not_(fb.is_null(fn)))):
        fb.call_ptr(fn, VOID, [], [])
    with fb.if_then(fb.is_null(fb.load(slot, PTR)), likely=False):
        emit_error(fb, layout.ERR_RUNTIME, "the ternary kernel library is not available in this build")
    fb.ret(fb.load(slot, PTR))


def kernel_ptr(fb: FnBuilder, ctx, index: int):
    """Address of kernel `index` (null, with an error set, when there is no kernel library); call it with
    `fb.call_ptr(ptr, *SIGNATURES[index], args)`."""
    return fb.call("trt_quant_kernel", ctx, c32(index))


_resolver_keepalive: list = []


def install_kernel_resolver(lib) -> None:
    """Called once by `library.load_runtime`: the kernel table is filled on first use."""
    set_kernels = lib.cfunc("trt_quant_set_kernels", None, ctypes.c_void_p)

    def resolve() -> None:
        from .kernel_library import kernel_library

        addresses = kernel_library().addresses
        table = (ctypes.c_void_p * len(KERNELS))(*(addresses[name] for name in KERNELS))
        set_kernels(ctypes.addressof(table))

    callback = ctypes.CFUNCTYPE(None)(resolve)
    _resolver_keepalive.append(callback)
    lib.cfunc("trt_quant_set_resolver", None, ctypes.c_void_p)(ctypes.cast(callback, ctypes.c_void_p))
