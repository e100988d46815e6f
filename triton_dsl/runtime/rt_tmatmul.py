"""Runtime function of `x @ W` with a packed ternary W: the kernel library's exact panel GEMM/GEMV.

In: an `Emitter` (from `rt_quant.emit`). Out (public):

    ptr trt_matmul_t2(ctx, x, w)
        float32 x [M, K] or [K] times packed ternary w [K, N] (any scale kind; `channel` scales are per k,
        axis 0 of w, as the packed format defines them) -> float32 [M, N] or [N]; exact up to float32
        summation order. W is never unpacked: its trits are re-laid out once into the kernels' 32-column
        panels (2 bits per weight) and the copy is kept in the header's `aux` slot for later products.

The kernel is reached through `rt_kernels` (`trk_relayout_t2_panels`, `trk_matmul_f32_t2`).
"""

from __future__ import annotations

from llvmlite import ir

from . import layout
from .irgen import F32, I32, I64, PTR, VOID, Emitter, FnBuilder, c32, c64
from .rt_errors import emit_error
from .rt_kernels import MATMUL_F32, RELAYOUT_PANELS, SIGNATURES, kernel_ptr

NULL = ir.Constant(PTR, None)
MATMUL_SIGNATURE = (VOID, [PTR, I64, I64, PTR, PTR, I64, I64, I64, I64, I64, PTR, PTR, F32, F32])


def _panels(fb: FnBuilder, ctx, w, k, n):
    """The panels copy of w (cached in `aux` under our own free function), or null with an error set."""
    b = fb.b
    mine = fb.em.get("trt_quant_panels_free")
    cached = b.icmp_unsigned("==", b.ptrtoint(fb.get(w, "aux_free"), I64), b.ptrtoint(mine, I64))
    slot = fb.var(PTR, NULL)
    with fb.if_else(b.and_(cached, b.not_(fb.is_null(fb.get(w, "aux"))))) as (hit, miss):
        with hit:
            b.store(fb.get(w, "aux"), slot)
        with miss:
            relayout = kernel_ptr(fb, ctx, RELAYOUT_PANELS)
            nbytes = b.mul(b.mul(b.sdiv(b.add(n, c64(31)), c64(32)), k), c64(8))
            with fb.if_then(b.not_(fb.is_null(relayout))):
                panels = fb.call("trt_alloc", ctx, b.add(nbytes, c64(1)))
                with fb.if_then(b.not_(fb.is_null(panels))):
                    fb.call("memset", panels, c32(0), nbytes)
                    ret, tys = SIGNATURES[RELAYOUT_PANELS]
                    fb.call_ptr(relayout, ret, tys, [fb.get(w, "data"), k, n, c64(0), c64(0), c64(1), panels])
                    b.store(panels, slot)
                    # keep it unless another kernel owns the slot already
                    with fb.if_then(fb.is_null(fb.get(w, "aux"))):
                        fb.call("trt_set_aux", w, panels, mine)
    return fb.load(slot, PTR)


def _emit_matmul(em: Emitter) -> None:
    fb = em.define("trt_quant_panels_free", VOID, [PTR], public=False)
    fb.call("trt_free", fb.args[0])
    fb.ret()

    fb = em.define("trt_matmul_t2", PTR, [PTR, PTR, PTR])
    ctx, x, w = fb.args
    b = fb.b
    xr = fb.get(x, "rank")
    ok = b.and_(b.icmp_signed("==", fb.get(x, "dtype"), c32(layout.FLOAT32)),
                b.icmp_signed("==", fb.get(w, "dtype"), c32(layout.TRIT)))
    ok = b.and_(ok, b.and_(b.icmp_signed("==", fb.get(w, "rank"), c32(2)),
                           b.or_(b.icmp_signed("==", xr, c32(1)), b.icmp_signed("==", xr, c32(2)))))
    with fb.if_then(b.not_(ok), likely=False):
        emit_error(fb, layout.ERR_TYPE, "matmul with a ternary weight expects float32 [m, k] or [k] times "
                   "ternary [k, n]")
        fb.ret(NULL)
    k, n = fb.dim(w, 0), fb.dim(w, 1)
    vector = b.icmp_signed("==", xr, c32(1))
    m = fb.select(vector, c64(1), fb.dim(x, 0))
    kx = fb.dim(x, b.sext(b.sub(xr, c32(1)), I64))
    with fb.if_then(b.icmp_signed("!=", kx, k), likely=False):
        emit_error(fb, layout.ERR_SHAPE, "shape mismatch in matmul: the input has %lld features, the ternary "
                   "weight %lld rows", kx, k)
        fb.ret(NULL)
    shape = fb.var(ir.ArrayType(I64, 2))
    with fb.if_else(vector) as (one, two):
        with one:
            b.store(n, fb.at(shape, 0, I64))
        with two:
            b.store(m, fb.at(shape, 0, I64))
            b.store(n, fb.at(shape, 1, I64))
    y = fb.call("trt_tensor_zeros", ctx, c32(layout.FLOAT32), fb.select(vector, c32(1), c32(2)), shape)
    fb.ret_if(fb.is_null(y), NULL)
    fb.ret_if(b.or_(b.icmp_signed("==", b.mul(m, n), c64(0)), b.icmp_signed("==", k, c64(0))), y)
    gemm = kernel_ptr(fb, ctx, MATMUL_F32)
    panels = fb.select(fb.is_null(gemm), NULL, _panels(fb, ctx, w, k, n))
    with fb.if_then(fb.is_null(panels), likely=False):
        fb.call("trt_decref", y)
        fb.ret(NULL)
    nscale = fb.call("trt_alloc", ctx, b.mul(b.add(n, c64(1)), c64(4)))
    with fb.if_then(fb.is_null(nscale), likely=False):
        fb.call("trt_decref", y)
        fb.ret(NULL)
    kind, scales = fb.get(w, "scale_kind"), fb.get(w, "scales")
    has = b.and_(b.not_(fb.is_null(scales)), b.icmp_signed("!=", kind, c32(layout.SCALE_NONE)))
    first = fb.var(F32, ir.Constant(F32, 1.0))
    wpos, wneg = fb.var(F32, ir.Constant(F32, 1.0)), fb.var(F32, ir.Constant(F32, 1.0))
    kscale = fb.var(PTR, NULL)
    with fb.if_then(has):
        data = fb.get(scales, "data")
        with fb.if_then(b.icmp_signed("==", kind, c32(layout.SCALE_TENSOR))):
            b.store(fb.load(data, F32), first)
        with fb.if_then(b.icmp_signed("==", kind, c32(layout.SCALE_ASYMMETRIC))):
            b.store(fb.load(data, F32), wpos)
            b.store(fb.load(fb.at(data, 1, F32), F32), wneg)
        with fb.if_then(b.icmp_signed("==", kind, c32(layout.SCALE_CHANNEL))):
            b.store(data, kscale)
    with fb.loop(0, n) as j:
        b.store(fb.load(first, F32), fb.at(nscale, j, F32))
    fb.call_ptr(gemm, *MATMUL_SIGNATURE, [fb.get(x, "data"), k, c64(1), panels, fb.get(y, "data"), n, c64(1),
                                          m, k, n, fb.load(kscale, PTR), nscale, fb.load(wpos, F32),
                                          fb.load(wneg, F32)])
    fb.call("trt_free", nscale)
    fb.ret(y)


def emit(em: Emitter) -> None:
    _emit_matmul(em)


__all__ = ["emit", "I32"]
