"""conv2d with ternary weights: im2col into a scratch matrix, then the exact ternary GEMM.

In: float32 NCHW input x [B, C, H, W], kernel size kh × kw, stride (sh, sw), zero padding (ph, pw),
OIHW ternary weights relaid by `trk_relayout_t2_panels` in "nk" mode (K = C·kh·kw, N = O), optional
per-k scales, per-output-channel scales `nscale` (O), +1/−1 values `wpos`/`wneg`, and a caller-allocated
float32 scratch of OH·OW·K elements.
Out: `void trk_conv2d_f32_t2(x, B, C, H, W, kh, kw, sh, sw, ph, pw, w, O, kscale|null, nscale, wpos, wneg,
y, scratch)` writing y [B, O, OH, OW] (cross-correlation, as in PyTorch), exact up to float32
summation order.
Why: im2col turns the convolution into [pixels, K] × [K, O] matmuls, so the conv gets the GEMM
micro-kernel. Work is split across the pool by bands of output rows; each task builds its band's im2col
block (≤ 256 KiB, transposed so that building it is vectorized row copies) and multiplies it at once,
while the block is still in L2; the GEMM writes straight into NCHW through its output strides.
"""

from __future__ import annotations

import llvmlite.ir as ir

from triton_dsl.codegen.kernels.trk_ir import (
    F32,
    I32,
    I64,
    PTR,
    VOID,
    call_parallel,
    ceil_div,
    declare,
    f32,
    for_range,
    free,
    gep,
    i32,
    i64,
    imax,
    imin,
    load,
    malloc,
    new_function,
    pack_ctx,
    store,
    unpack_ctx,
)

_ARGS = [PTR, I64, I64, I64, I64, I64, I64, I64, I64, I64, I64, PTR, I64, PTR, PTR, F32, F32, PTR, PTR]
_NAMES = ["x", "B", "C", "H", "W", "kh", "kw", "sh", "sw", "ph", "pw", "w", "O", "kscale", "nscale", "wpos",
          "wneg", "y", "scratch"]
# task ctx: image, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW, rows per task, scratch, weights, O, kscale,
# nscale, wpos, wneg, output image
_TASK = [PTR, *[I64] * 12, PTR, PTR, I64, PTR, PTR, F32, F32, PTR]
BLOCK_FLOATS = 1 << 16  # im2col block per task (256 KiB): stays in L2 between im2col and GEMM


def _emit_task(module: ir.Module, matmul: ir.Function) -> ir.Function:
    """One task = a band of output rows [oh0, oh1): im2col of the band, then its GEMM.

    The band's im2col block is transposed ([K, pixels]): row r = (c, i, j) is a shifted copy of input
    rows, whose in-bounds columns [lo, hi) are a strided copy (contiguous when sw = 1, which LLVM
    vectorizes) between zero-filled padding. The GEMM (run inline: nested in a pool task) reads it
    through its strides and writes the band of every output channel straight into NCHW.
    """
    body, b = new_function(module, "trk_conv2d_f32_t2.task", VOID, [PTR, I64, I64], ["ctx", "begin", "end"],
                           internal=True)
    (img, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW, band, scratch, w, O, kscale, nscale, wpos, wneg,
     out) = unpack_ctx(b, body.args[0], ir.LiteralStructType(_TASK))
    K = b.mul(C, b.mul(kh, kw))
    with for_range(b, body.args[1], body.args[2], name="task") as t:
        oh0 = b.mul(t, band)
        oh1 = imin(b, b.add(oh0, band), OH)
        npix = b.mul(b.sub(oh1, oh0), OW)
        block = gep(b, scratch, b.mul(b.mul(oh0, OW), K), F32)
        with for_range(b, i64(0), K, name="r") as r:
            c = b.sdiv(r, b.mul(kh, kw))
            i = b.srem(b.sdiv(r, kw), kh)
            j = b.srem(r, kw)
            # ow is in bounds when 0 <= ow·sw − pw + j < W
            first = b.sub(pw, j)
            lo = imin(b, imax(b, ceil_div(b, imax(b, first, i64(0)), sw), i64(0)), OW)
            hi = imin(b, imax(b, b.add(b.sdiv(b.add(b.sub(W, i64(1)), first), sw), i64(1)), lo), OW)
            hi = b.select(b.icmp_signed("<", b.add(b.sub(W, i64(1)), first), i64(0)), lo, hi)
            dst_row = gep(b, block, b.mul(r, npix), F32)
            with for_range(b, oh0, oh1, name="oh") as oh:
                ih = b.add(b.sub(b.mul(oh, sh), ph), i)
                row_ok = b.and_(b.icmp_signed(">=", ih, i64(0)), b.icmp_signed("<", ih, H))
                dst = gep(b, dst_row, b.mul(b.sub(oh, oh0), OW), F32)
                src = gep(b, img, b.sub(b.mul(b.add(b.mul(c, H), ih), W), first), F32)
                row_lo = b.select(row_ok, lo, OW)
                row_hi = b.select(row_ok, hi, OW)
                with for_range(b, i64(0), row_lo, name="z0") as ow:
                    store(b, f32(0.0), dst, ow)
                with for_range(b, row_lo, row_hi, name="cp") as ow:
                    store(b, load(b, src, F32, b.mul(ow, sw)), dst, ow)
                with for_range(b, row_hi, OW, name="z1") as ow:
                    store(b, f32(0.0), dst, ow)
        # GEMM row m = pixel of the band (x[m + k·npix]); output (pixel m, channel n) at m + n·OH·OW
        b.call(matmul, [block, i64(1), npix, w, gep(b, out, b.mul(oh0, OW), F32), i64(1), b.mul(OH, OW),
                        npix, K, O, kscale, nscale, wpos, wneg])
    b.ret_void()
    return body


def build(module: ir.Module, host) -> None:
    """Add `trk_conv2d_f32_t2` (needs threads, relayout and matmul_f32 in the same module)."""
    matmul = declare(module, "trk_matmul_f32_t2", ir.FunctionType(
        VOID, [PTR, I64, I64, PTR, PTR, I64, I64, I64, I64, I64, PTR, PTR, F32, F32]))
    task = _emit_task(module, matmul)
    fn, b = new_function(module, "trk_conv2d_f32_t2", VOID, _ARGS, _NAMES)
    x, B, C, H, W, kh, kw, sh, sw, ph, pw, w, O, kscale, nscale, wpos, wneg, y, scratch = fn.args
    OH = b.add(b.sdiv(b.sub(b.add(H, b.mul(ph, i64(2))), kh), sh), i64(1))
    OW = b.add(b.sdiv(b.sub(b.add(W, b.mul(pw, i64(2))), kw), sw), i64(1))
    P = b.mul(OH, OW)
    K = b.mul(C, b.mul(kh, kw))
    # output rows per task: a block of ≤ BLOCK_FLOATS, and at least 8 tasks when the image allows
    band = imax(b, imin(b, b.sdiv(i64(BLOCK_FLOATS), imax(b, b.mul(K, OW), i64(1))), ceil_div(b, OH, i64(8))),
                i64(1))
    with for_range(b, i64(0), B, name="img") as bi:
        img = gep(b, x, b.mul(bi, b.mul(C, b.mul(H, W))), F32)
        out = gep(b, y, b.mul(bi, b.mul(O, P)), F32)
        ctx, _ = pack_ctx(b, [img, C, H, W, kh, kw, sh, sw, ph, pw, OH, OW, band, scratch, w, O, kscale,
                              nscale, wpos, wneg, out])
        call_parallel(b, task, ctx, ceil_div(b, OH, band), i64(1))
    b.ret_void()

    # i32 trk_conv2d_f32_t2_auto(same arguments but scratch): scratch from malloc, for generated code;
    # returns 0, or 1 when it cannot be allocated
    auto, b = new_function(module, "trk_conv2d_f32_t2_auto", I32, _ARGS[:-1], _NAMES[:-1])
    _, _, C, H, W, kh, kw, sh, sw, ph, pw = auto.args[:11]
    OH = b.add(b.sdiv(b.sub(b.add(H, b.mul(ph, i64(2))), kh), sh), i64(1))
    OW = b.add(b.sdiv(b.sub(b.add(W, b.mul(pw, i64(2))), kw), sw), i64(1))
    floats = imax(b, b.mul(b.mul(OH, OW), b.mul(C, b.mul(kh, kw))), i64(1))
    scratch = b.call(malloc(module), [b.mul(floats, i64(4))])
    with b.if_then(b.icmp_unsigned("==", b.ptrtoint(scratch, I64), i64(0))):
        b.ret(i32(1))
    b.call(fn, [*auto.args, scratch])
    b.call(free(module), [scratch])
    b.ret(i32(0))
