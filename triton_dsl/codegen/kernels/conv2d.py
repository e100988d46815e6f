"""conv2d with ternary weights: im2col into a scratch matrix, then the exact ternary GEMM.

In: float32 NCHW input x [B, C, H, W], kernel size kh × kw, stride (sh, sw), zero padding (ph, pw),
OIHW ternary weights relaid by `trk_relayout_t2_panels` in "nk" mode (K = C·kh·kw, N = O), optional
per-k scales, per-output-channel scales `nscale` (O), +1/−1 values `wpos`/`wneg`, and a caller-allocated
float32 scratch of OH·OW·K elements.
Out: `void trk_conv2d_f32_t2(x, B, C, H, W, kh, kw, sh, sw, ph, pw, w, O, kscale|null, nscale, wpos, wneg,
y, scratch)` writing y [B, O, OH, OW] (cross-correlation, as in PyTorch), exact up to float32
summation order.
Why: im2col turns the convolution into one [OH·OW, K] × [K, O] matmul per image, so the conv gets the
GEMM micro-kernel and the thread pool. The im2col matrix is built transposed ([K, OH·OW]: each row a
shifted copy of input rows, vectorizable) and read by the GEMM through its strides; the GEMM writes
straight into NCHW through its column stride.
"""

from __future__ import annotations

import llvmlite.ir as ir

from triton_dsl.codegen.kernels.trk_ir import (
    F32,
    I64,
    PTR,
    VOID,
    call_parallel,
    ceil_div,
    declare,
    f32,
    for_range,
    gep,
    i64,
    imax,
    imin,
    load,
    new_function,
    pack_ctx,
    store,
    unpack_ctx,
)

_ARGS = [PTR, I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, PTR, I64, PTR, PTR, F32, F32, PTR, PTR]
_NAMES = ["x", "B", "C", "H", "W", "kh", "kw", "sh", "sw", "ph", "pw", "w", "O", "kscale", "nscale", "wpos",
          "wneg", "y", "scratch"]
# im2col ctx: image, C, H, W, kh, kw, sh, sw, ph, pw, OW, scratch
_COL = [PTR, I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, PTR]


def _emit_im2col(module: ir.Module) -> ir.Function:
    """Rows r = (c, i, j) of the transposed im2col matrix [K, OH·OW]: shifted copies of input rows.

    For each output row the in-bounds columns [lo, hi) are a strided copy (contiguous when sw = 1, which
    LLVM vectorizes); the padding columns on either side are zero-filled.
    """
    body, b = new_function(module, "trk_conv2d_f32_t2.im2col", VOID, [PTR, I64, I64], ["ctx", "begin", "end"],
                           internal=True)
    img, C, H, W, kh, kw, sh, sw, ph, pw, OW, col = unpack_ctx(b, body.args[0], ir.LiteralStructType(_COL))
    OH = b.add(b.sdiv(b.sub(b.add(H, b.mul(ph, i64(2))), kh), sh), i64(1))
    P = b.mul(OH, OW)
    with for_range(b, body.args[1], body.args[2], name="r") as r:
        c = b.sdiv(r, b.mul(kh, kw))
        i = b.srem(b.sdiv(r, kw), kh)
        j = b.srem(r, kw)
        # ow is in bounds when 0 <= ow·sw − pw + j < W
        first = b.sub(pw, j)
        lo = imin(b, imax(b, ceil_div(b, imax(b, first, i64(0)), sw), i64(0)), OW)
        hi = imin(b, imax(b, b.add(b.sdiv(b.add(b.sub(W, i64(1)), first), sw), i64(1)), lo), OW)
        hi = b.select(b.icmp_signed("<", b.add(b.sub(W, i64(1)), first), i64(0)), lo, hi)
        dst_row = gep(b, col, b.mul(r, P), F32)
        with for_range(b, i64(0), OH, name="oh") as oh:
            ih = b.add(b.sub(b.mul(oh, sh), ph), i)
            row_ok = b.and_(b.icmp_signed(">=", ih, i64(0)), b.icmp_signed("<", ih, H))
            dst = gep(b, dst_row, b.mul(oh, OW), F32)
            src = gep(b, img, b.sub(b.mul(b.add(b.mul(c, H), ih), W), first), F32)
            row_lo = b.select(row_ok, lo, OW)
            row_hi = b.select(row_ok, hi, OW)
            with for_range(b, i64(0), row_lo, name="z0") as ow:
                store(b, f32(0.0), dst, ow)
            with for_range(b, row_lo, row_hi, name="cp") as ow:
                store(b, load(b, src, F32, b.mul(ow, sw)), dst, ow)
            with for_range(b, row_hi, OW, name="z1") as ow:
                store(b, f32(0.0), dst, ow)
    b.ret_void()
    return body


def build(module: ir.Module, host) -> None:
    """Add `trk_conv2d_f32_t2` (needs threads, relayout and matmul_f32 in the same module)."""
    im2col = _emit_im2col(module)
    matmul = declare(module, "trk_matmul_f32_t2", ir.FunctionType(
        VOID, [PTR, I64, I64, PTR, PTR, I64, I64, I64, I64, I64, PTR, PTR, F32, F32]))
    fn, b = new_function(module, "trk_conv2d_f32_t2", VOID, _ARGS, _NAMES)
    x, B, C, H, W, kh, kw, sh, sw, ph, pw, w, O, kscale, nscale, wpos, wneg, y, scratch = fn.args
    OH = b.add(b.sdiv(b.sub(b.add(H, b.mul(ph, i64(2))), kh), sh), i64(1))
    OW = b.add(b.sdiv(b.sub(b.add(W, b.mul(pw, i64(2))), kw), sw), i64(1))
    P = b.mul(OH, OW)
    K = b.mul(C, b.mul(kh, kw))
    with for_range(b, i64(0), B, name="img") as bi:
        img = gep(b, x, b.mul(bi, b.mul(C, b.mul(H, W))), F32)
        ctx, _ = pack_ctx(b, [img, C, H, W, kh, kw, sh, sw, ph, pw, OW, scratch])
        call_parallel(b, im2col, ctx, K, imax(b, ceil_div(b, i64(1 << 14), b.add(P, i64(1))), i64(1)))
        out = gep(b, y, b.mul(bi, b.mul(O, P)), F32)
        # GEMM row m = output pixel, column k = im2col row (x[m + k·P]); output column n = channel
        # (stride OH·OW), row m = pixel (stride 1): NCHW directly
        b.call(matmul, [scratch, i64(1), P, w, out, i64(1), P, P, K, O, kscale, nscale, wpos, wneg])
    b.ret_void()
