"""conv2d with ternary weights: im2col into a scratch matrix, then the exact ternary GEMM.

In: float32 NCHW input x [B, C, H, W], kernel size kh × kw, stride (sh, sw), zero padding (ph, pw),
OIHW ternary weights relaid by `trk_relayout_t2_panels` in "nk" mode (K = C·kh·kw, N = O), optional
per-k scales, per-output-channel scales `nscale` (O), +1/−1 values `wpos`/`wneg`, and a caller-allocated
float32 scratch of OH·OW·K elements.
Out: `void trk_conv2d_f32_t2(x, B, C, H, W, kh, kw, sh, sw, ph, pw, w, O, kscale|null, nscale, wpos, wneg,
y, scratch)` writing y [B, O, OH, OW] (cross-correlation, as in PyTorch), exact up to float32
summation order.
Why: im2col turns the convolution into one [OH·OW, K] × [K, O] matmul per image, so the conv gets the
GEMM micro-kernel and the thread pool; the GEMM writes straight into NCHW through its column stride.
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
    body, b = new_function(module, "trk_conv2d_f32_t2.im2col", VOID, [PTR, I64, I64], ["ctx", "begin", "end"],
                           internal=True)
    img, C, H, W, kh, kw, sh, sw, ph, pw, OW, col = unpack_ctx(b, body.args[0], ir.LiteralStructType(_COL))
    K = b.mul(C, b.mul(kh, kw))
    with for_range(b, body.args[1], body.args[2], name="p") as p:
        oh, ow = b.sdiv(p, OW), b.srem(p, OW)
        out_row = gep(b, col, b.mul(p, K), F32)
        with for_range(b, i64(0), C, name="c") as c, for_range(b, i64(0), kh, name="ki") as i:
            ih = b.add(b.sub(b.mul(oh, sh), ph), i)
            row_ok = b.and_(b.icmp_signed(">=", ih, i64(0)), b.icmp_signed("<", ih, H))
            base = b.mul(b.add(b.mul(c, H), ih), W)
            dst = b.mul(b.add(b.mul(c, kh), i), kw)
            with for_range(b, i64(0), kw, name="kj") as j:
                iw = b.add(b.sub(b.mul(ow, sw), pw), j)
                ok = b.and_(row_ok, b.and_(b.icmp_signed(">=", iw, i64(0)), b.icmp_signed("<", iw, W)))
                # clamp the address so the (discarded) load of a padding element stays in bounds
                idx = b.select(ok, b.add(base, iw), i64(0))
                store(b, b.select(ok, load(b, img, F32, idx), f32(0.0)), out_row, b.add(dst, j))
    b.ret_void()
    return body


def build(module: ir.Module, host) -> None:
    """Add `trk_conv2d_f32_t2` (needs threads, relayout and matmul_f32 in the same module)."""
    im2col = _emit_im2col(module)
    matmul = declare(module, "trk_matmul_f32_t2", ir.FunctionType(
        VOID, [PTR, I64, PTR, PTR, I64, I64, I64, I64, I64, PTR, PTR, F32, F32]))
    fn, b = new_function(module, "trk_conv2d_f32_t2", VOID, _ARGS, _NAMES)
    x, B, C, H, W, kh, kw, sh, sw, ph, pw, w, O, kscale, nscale, wpos, wneg, y, scratch = fn.args
    OH = b.add(b.sdiv(b.sub(b.add(H, b.mul(ph, i64(2))), kh), sh), i64(1))
    OW = b.add(b.sdiv(b.sub(b.add(W, b.mul(pw, i64(2))), kw), sw), i64(1))
    P = b.mul(OH, OW)
    K = b.mul(C, b.mul(kh, kw))
    with for_range(b, i64(0), B, name="img") as bi:
        img = gep(b, x, b.mul(bi, b.mul(C, b.mul(H, W))), F32)
        ctx, _ = pack_ctx(b, [img, C, H, W, kh, kw, sh, sw, ph, pw, OW, scratch])
        call_parallel(b, im2col, ctx, P, imax(b, ceil_div(b, i64(1 << 14), b.add(K, i64(1))), i64(1)))
        out = gep(b, y, b.mul(bi, b.mul(O, P)), F32)
        # GEMM row m = output pixel (stride 1), column n = output channel (stride OH·OW): NCHW directly
        b.call(matmul, [scratch, K, w, out, i64(1), P, P, K, O, kscale, nscale, wpos, wneg])
    b.ret_void()
