"""Runtime functions of the `conv2d_dynamic` primitive: NCHW input, OIHW weights, zero padding.

In: an `Emitter` (from `rt_quant.emit`). Out (public):

    ptr trt_conv2d_t2(ctx, x, w, i64 sh, i64 sw, i64 ph, i64 pw)
        float32 x [B, C, H, W] with packed ternary weights w [O, C, kh, kw] (any scale kind): the kernel
        library's exact im2col + ternary GEMM (`trk_conv2d_f32_t2_auto`) on the weights re-laid out in
        panels (`trk_relayout_t2_panels`, mode 1), never an unpacked copy of the weights
    ptr trt_conv2d_f32(ctx, x, w, i64 sh, i64 sw, i64 ph, i64 pw)
        the same with float32 weights (a direct loop: quantized_conv2d with quantize_weights=false)

Both give y [B, O, (H + 2ph − kh) // sh + 1, (W + 2pw − kw) // sw + 1] and report mismatched channels,
a stride below 1, negative padding and a kernel larger than the padded input as run-time errors.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F32, I32, I64, PTR, Emitter, FnBuilder, c32, c64
from .rt_errors import emit_error
from .rt_kernels import CONV2D_AUTO, RELAYOUT_PANELS, SIGNATURES, kernel_ptr

NULL = ir.Constant(PTR, None)


def _check_and_output(fb: FnBuilder, x, w, sh, sw, ph, pw, wdtype: int):
    """Argument checks; returns (dims dict, output header) — or returns null from `fb` on an error."""
    b = fb.b
    ok = b.and_(b.icmp_signed("==", fb.get(x, "dtype"), c32(layout.FLOAT32)),
                b.icmp_signed("==", fb.get(w, "dtype"), c32(wdtype)))
    ok = b.and_(ok, b.and_(b.icmp_signed("==", fb.get(x, "rank"), c32(4)),
                           b.icmp_signed("==", fb.get(w, "rank"), c32(4))))
    with fb.if_then(b.not_(ok), likely=False):
        emit_error(fb, layout.ERR_TYPE, "conv2d expects a float32 input [batch, channels, height, width] and "
                   "weights [out_channels, in_channels, kernel_height, kernel_width]")
        fb.ret(NULL)
    d = {name: fb.dim(x, i) for i, name in enumerate(("B", "C", "H", "W"))}
    d.update({name: fb.dim(w, i) for i, name in enumerate(("O", "WC", "kh", "kw"))})
    with fb.if_then(b.icmp_signed("!=", d["C"], d["WC"]), likely=False):
        emit_error(fb, layout.ERR_SHAPE, "conv2d channels do not match: the input has %lld channels, "
                   "the weights expect %lld", d["C"], d["WC"])
        fb.ret(NULL)
    bad = b.or_(b.or_(b.icmp_signed("<", sh, c64(1)), b.icmp_signed("<", sw, c64(1))),
                b.or_(b.icmp_signed("<", ph, c64(0)), b.icmp_signed("<", pw, c64(0))))
    with fb.if_then(bad, likely=False):
        emit_error(fb, layout.ERR_VALUE, "conv2d stride must be at least 1 and padding at least 0, got "
                   "stride (%lld, %lld), padding (%lld, %lld)", sh, sw, ph, pw)
        fb.ret(NULL)
    oh = b.add(b.sdiv(b.sub(b.add(d["H"], b.mul(ph, c64(2))), d["kh"]), sh), c64(1))
    ow = b.add(b.sdiv(b.sub(b.add(d["W"], b.mul(pw, c64(2))), d["kw"]), sw), c64(1))
    small = b.or_(b.icmp_signed(">", d["kh"], b.add(d["H"], b.mul(ph, c64(2)))),
                  b.icmp_signed(">", d["kw"], b.add(d["W"], b.mul(pw, c64(2)))))
    with fb.if_then(small, likely=False):
        emit_error(fb, layout.ERR_SHAPE, "conv2d kernel %lld x %lld is larger than the padded input "
                   "%lld x %lld",
                   d["kh"], d["kw"], b.add(d["H"], b.mul(ph, c64(2))), b.add(d["W"], b.mul(pw, c64(2))))
        fb.ret(NULL)
    d.update(OH=oh, OW=ow)
    shape = fb.var(ir.ArrayType(I64, 4))
    for i, v in enumerate((d["B"], d["O"], oh, ow)):
        b.store(v, fb.at(shape, i, I64))
    y = fb.call("trt_tensor_zeros", ctx_of(fb), c32(layout.FLOAT32), c32(4), shape)
    fb.ret_if(fb.is_null(y), NULL)
    return d, y


def ctx_of(fb: FnBuilder):
    return fb.args[0]


def _emit_conv_t2(em: Emitter) -> None:
    fb = em.define("trt_conv2d_t2", PTR, [PTR, PTR, PTR, I64, I64, I64, I64])
    ctx, x, w, sh, sw, ph, pw = fb.args
    b = fb.b
    d, y = _check_and_output(fb, x, w, sh, sw, ph, pw, layout.TRIT)
    fb.ret_if(b.icmp_signed("==", fb.get(y, "numel"), c64(0)), y)
    k = b.mul(b.mul(d["C"], d["kh"]), d["kw"])
    relayout, conv = kernel_ptr(fb, ctx, RELAYOUT_PANELS), kernel_ptr(fb, ctx, CONV2D_AUTO)
    with fb.if_then(b.or_(fb.is_null(relayout), fb.is_null(conv)), likely=False):
        fb.call("trt_decref", y)
        fb.ret(NULL)
    nbytes = b.mul(b.mul(b.sdiv(b.add(d["O"], c64(31)), c64(32)), k), c64(8))
    panels = fb.call("trt_alloc", ctx, b.add(nbytes, c64(1)))
    nscale = fb.call("trt_alloc", ctx, b.add(b.mul(d["O"], c64(4)), c64(4)))
    with fb.if_then(b.or_(fb.is_null(panels), fb.is_null(nscale)), likely=False):
        fb.call("trt_free", panels)
        fb.call("trt_free", nscale)
        fb.call("trt_decref", y)
        fb.ret(NULL)
    fb.call("memset", panels, c32(0), nbytes)
    ret, tys = SIGNATURES[RELAYOUT_PANELS]
    fb.call_ptr(relayout, ret, tys, [fb.get(w, "data"), k, d["O"], c64(1), b.mul(d["C"], d["kh"]), d["kw"],
                                     panels])
    wpos, wneg = _scales(fb, w, d["O"], nscale)
    ret, tys = SIGNATURES[CONV2D_AUTO]
    status = fb.call_ptr(conv, ret, tys, [fb.get(x, "data"), d["B"], d["C"], d["H"], d["W"], d["kh"], d["kw"],
                                          sh, sw, ph, pw, panels, d["O"], NULL, nscale, wpos, wneg,
                                          fb.get(y, "data")])
    fb.call("trt_free", panels)
    fb.call("trt_free", nscale)
    with fb.if_then(b.icmp_signed("!=", status, c32(0)), likely=False):
        emit_error(fb, layout.ERR_MEMORY, "out of memory in conv2d")
        fb.call("trt_decref", y)
        fb.ret(NULL)
    fb.ret(y)


def _scales(fb: FnBuilder, w, o, nscale):
    """Fill nscale[o] from w's scale kind; returns (wpos, wneg) (docs/kernels.md, "Calling the kernels")."""
    b = fb.b
    kind, scales = fb.get(w, "scale_kind"), fb.get(w, "scales")
    has = b.and_(b.not_(fb.is_null(scales)), b.icmp_signed("!=", kind, c32(layout.SCALE_NONE)))
    wpos, wneg = fb.var(F32, ir.Constant(F32, 1.0)), fb.var(F32, ir.Constant(F32, 1.0))
    first = fb.var(F32, ir.Constant(F32, 1.0))
    with fb.if_then(b.and_(has, b.icmp_signed("==", kind, c32(layout.SCALE_TENSOR)))):
        b.store(fb.load(fb.get(scales, "data"), F32), first)
    with fb.if_then(b.and_(has, b.icmp_signed("==", kind, c32(layout.SCALE_ASYMMETRIC)))):
        data = fb.get(scales, "data")
        b.store(fb.load(data, F32), wpos)
        b.store(fb.load(fb.at(data, 1, F32), F32), wneg)
    channel = b.and_(has, b.icmp_signed("==", kind, c32(layout.SCALE_CHANNEL)))
    with fb.loop(0, o) as i:
        b.store(fb.load(first, F32), fb.at(nscale, i, F32))
    with fb.if_then(channel):
        data = fb.get(scales, "data")
        with fb.loop(0, o) as i:
            b.store(fb.load(fb.at(data, i, F32), F32), fb.at(nscale, i, F32))
    return fb.load(wpos, F32), fb.load(wneg, F32)


def _emit_conv_f32(em: Emitter) -> None:
    fb = em.define("trt_conv2d_f32", PTR, [PTR, PTR, PTR, I64, I64, I64, I64])
    ctx, x, w, sh, sw, ph, pw = fb.args
    b = fb.b
    d, y = _check_and_output(fb, x, w, sh, sw, ph, pw, layout.FLOAT32)
    job = fb.var(ir.ArrayType(I64, 16))
    values = [fb.get(x, "data"), fb.get(w, "data"), fb.get(y, "data")]
    for i, v in enumerate(values):
        b.store(v, fb.at(job, i, PTR))
    dims = [d[k] for k in ("C", "H", "W", "O", "kh", "kw", "OH", "OW")]
    for i, v in enumerate((*dims, sh, sw, ph, pw)):
        b.store(v, fb.at(job, 3 + i, I64))
    rows = b.mul(b.mul(d["B"], d["O"]), d["OH"])
    with fb.if_then(b.icmp_signed(">", b.mul(rows, d["OW"]), c64(0))):
        fb.call("trt_parallel", em.get("trt_conv2d_f32_rows"), job, rows, c64(4))
    fb.ret(y)


def _emit_conv_f32_rows(em: Emitter) -> None:
    """Output rows [begin, end) of (b, o, i) — a direct loop, in the optimized kernels module."""
    fb = em.define("trt_conv2d_f32_rows", ir.VoidType(), [PTR, I64, I64], public=False, kernel=True)
    job, begin, end = fb.args
    b = fb.b
    xp, wp, yp = (fb.load(fb.at(job, i, PTR), PTR) for i in range(3))
    c, h, wd, o, kh, kw, oh, ow, sh, sw, ph, pw = (fb.load(fb.at(job, 3 + i, I64), I64) for i in range(12))
    with fb.loop(begin, end) as r:
        i = b.srem(r, oh)
        oc = b.srem(b.sdiv(r, oh), o)
        n = b.sdiv(b.sdiv(r, oh), o)
        yrow = fb.at(yp, b.mul(r, ow), F32)
        with fb.loop(0, ow) as j:
            acc = fb.var(F32, ir.Constant(F32, 0.0))
            with fb.loop(0, c) as ci:
                xplane = fb.at(xp, b.mul(b.add(b.mul(n, c), ci), b.mul(h, wd)), F32)
                wplane = fb.at(wp, b.mul(b.add(b.mul(oc, c), ci), b.mul(kh, kw)), F32)
                with fb.loop(0, kh) as u:
                    yy = b.sub(b.add(b.mul(i, sh), u), ph)
                    with fb.if_then(b.and_(b.icmp_signed(">=", yy, c64(0)), b.icmp_signed("<", yy, h))):
                        with fb.loop(0, kw) as v:
                            xx = b.sub(b.add(b.mul(j, sw), v), pw)
                            inside = b.and_(b.icmp_signed(">=", xx, c64(0)), b.icmp_signed("<", xx, wd))
                            safe = fb.select(inside, xx, c64(0))
                            xv = fb.load(fb.at(xplane, b.add(b.mul(yy, wd), safe), F32), F32)
                            wv = fb.load(fb.at(wplane, b.add(b.mul(u, kw), v), F32), F32)
                            term = fb.select(inside, b.fmul(xv, wv), ir.Constant(F32, 0.0))
                            b.store(b.fadd(fb.load(acc, F32), term), acc)
            b.store(fb.load(acc, F32), fb.at(yrow, j, F32))
    fb.ret()


def emit(em: Emitter) -> None:
    _emit_conv_t2(em)
    _emit_conv_f32_rows(em)
    _emit_conv_f32(em)


__all__ = ["emit", "I32"]
