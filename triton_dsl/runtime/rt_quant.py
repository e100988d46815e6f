"""Runtime functions of the quantization primitives `ternarize` and `quantile` (rt_quantile.py).

In: an `Emitter`. Out (public, see docs/language.md "Quantization primitives"):

    ptr   trt_ternarize_f32(ctx, x, pos_t, neg_t, pos_s, neg_s)
        x float32 (any rank) -> packed trit tensor of x's shape: +1 where x > pos_t, -1 where x < neg_t,
        0 elsewhere (NaN too; +1 wins where both hold). Each of the four parameters is a float32 tensor
        holding 1 value or shape[0] values (per index along axis 0). Scales: equal pos/neg scalars give
        kind `tensor`, different ones `asymmetric` (pos, neg), per-channel ones `channel` (they must then
        be equal for +1 and -1: the packed format has no per-channel asymmetric kind).
    float trt_quantile_f32(ctx, x, double q)
        numpy's quantile (linear interpolation) of all entries; NaN if any entry is NaN; q outside 0..1
        or an empty x is an error.

The element loops are kernels (`define(kernel=True)`: compiled at -O2) split over rows with
`trt_parallel`; the thresholds-as-numbers case, the one that matters for speed, has its own loop whose
loads and compares LLVM vectorizes.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F32, F64, I8, I32, I64, PTR, VOID, Emitter, FnBuilder, c8, c32, c64
from .rt_errors import emit_error

NULL = ir.Constant(PTR, None)
# job slots of the row kernels (i64 / ptr, 8 bytes each)
J_X, J_OUT, J_COLS, J_RB, J_PT, J_NT, J_PSTEP, J_NSTEP, J_RPC, J_ESTEP = range(10)
JOB_SLOTS = 10
PARAMS = ("pos_threshold", "neg_threshold", "pos_scale", "neg_scale")


def _slot(fb: FnBuilder, job, i: int, ty):
    return fb.load(fb.at(job, i, I64 if ty is I64 else PTR), ty)


def _code(b: ir.IRBuilder, v, pt, nt):
    """2-bit code of one element: 2 (+1) where v > pt, else 0 (-1) where v < nt, else 1 (NaN -> 1)."""
    return b.select(b.fcmp_ordered(">", v, pt), c8(2), b.select(b.fcmp_ordered("<", v, nt), c8(0), c8(1)))


def _emit_rows_scalar(em: Emitter) -> None:
    """Rows [begin, end) with one pos / neg threshold (job slots J_PT / J_NT hold the float bits)."""
    fb = em.define("trt_ternarize_rows_scalar", VOID, [PTR, I64, I64], public=False, kernel=True)
    job, begin, end = fb.args
    b = fb.b
    x, out = _slot(fb, job, J_X, PTR), _slot(fb, job, J_OUT, PTR)
    cols, rb = _slot(fb, job, J_COLS, I64), _slot(fb, job, J_RB, I64)
    pt = fb.load(fb.byte_at(job, 8 * J_PT), F32)  # 8-byte slots: the float in the slot's first 4 bytes
    nt = fb.load(fb.byte_at(job, 8 * J_NT), F32)
    full = b.sdiv(cols, c64(4))
    with fb.loop(begin, end) as r:
        xrow = fb.at(x, b.mul(r, cols), F32)
        orow = fb.byte_at(out, b.mul(r, rb))
        with fb.loop(0, full) as j:
            byte = c8(0)
            for k in range(4):
                v = fb.load(fb.at(xrow, b.add(b.mul(j, c64(4)), c64(k)), F32), F32)
                byte = b.or_(byte, b.shl(_code(b, v, pt, nt), c8(2 * k)))
            b.store(byte, fb.byte_at(orow, j))
        _tail_byte(fb, xrow, orow, cols, full, lambda col: (pt, nt))
    fb.ret()


def _tail_byte(fb: FnBuilder, xrow, orow, cols, full, thresholds) -> None:
    """The last, partial byte of a row (padding slots hold code 1)."""
    b = fb.b
    with fb.if_then(b.icmp_signed("<", b.mul(full, c64(4)), cols)):
        byte = c8(0)
        for k in range(4):
            col = b.add(b.mul(full, c64(4)), c64(k))
            valid = b.icmp_signed("<", col, cols)
            safe = fb.select(valid, col, b.mul(full, c64(4)))
            pt, nt = thresholds(safe)
            code = fb.select(valid, _code(b, fb.load(fb.at(xrow, safe, F32), F32), pt, nt), c8(1))
            byte = b.or_(byte, b.shl(code, c8(2 * k)))
        b.store(byte, fb.byte_at(orow, full))


def _emit_rows_general(em: Emitter) -> None:
    """Rows [begin, end) with per-channel thresholds: channel = row / rows_per_channel (+ col for rank 1)."""
    fb = em.define("trt_ternarize_rows_general", VOID, [PTR, I64, I64], public=False, kernel=True)
    job, begin, end = fb.args
    b = fb.b
    x, out = _slot(fb, job, J_X, PTR), _slot(fb, job, J_OUT, PTR)
    cols, rb = _slot(fb, job, J_COLS, I64), _slot(fb, job, J_RB, I64)
    ptp, ntp = _slot(fb, job, J_PT, PTR), _slot(fb, job, J_NT, PTR)
    pstep, nstep = _slot(fb, job, J_PSTEP, I64), _slot(fb, job, J_NSTEP, I64)
    rpc, estep = _slot(fb, job, J_RPC, I64), _slot(fb, job, J_ESTEP, I64)
    full = b.sdiv(cols, c64(4))
    with fb.loop(begin, end) as r:
        crow = b.sdiv(r, rpc)
        xrow = fb.at(x, b.mul(r, cols), F32)
        orow = fb.byte_at(out, b.mul(r, rb))

        def thresholds(col, crow=crow):
            c = b.add(crow, b.mul(col, estep))
            return (fb.load(fb.at(ptp, b.mul(c, pstep), F32), F32),
                    fb.load(fb.at(ntp, b.mul(c, nstep), F32), F32))

        with fb.loop(0, full) as j:
            byte = c8(0)
            for k in range(4):
                col = b.add(b.mul(j, c64(4)), c64(k))
                pt, nt = thresholds(col)
                byte = b.or_(byte, b.shl(_code(b, fb.load(fb.at(xrow, col, F32), F32), pt, nt), c8(2 * k)))
            b.store(byte, fb.byte_at(orow, j))
        _tail_byte(fb, xrow, orow, cols, full, thresholds)
    fb.ret()


def _rows_cols(fb: FnBuilder, t):
    """(rank, numel, cols, rows, rowbytes, d0) of a tensor header, as i64 (rank 0: one row of one)."""
    b = fb.b
    rank = b.sext(fb.get(t, "rank"), I64)
    numel = fb.get(t, "numel")
    has_axes = b.icmp_signed(">", rank, c64(0))
    cols = fb.select(has_axes, fb.dim(t, fb.select(has_axes, b.sub(rank, c64(1)), c64(0))), c64(1))
    rows = fb.var(I64, c64(1))
    with fb.loop(0, b.sub(rank, c64(1))) as k:
        b.store(b.mul(fb.load(rows, I64), fb.dim(t, k)), rows)
    d0 = fb.select(has_axes, fb.dim(t, c64(0)), c64(1))
    return rank, numel, cols, fb.load(rows, I64), b.sdiv(b.add(cols, c64(3)), c64(4)), d0


def _param_step(fb: FnBuilder, p, d0, rank, what: str):
    """0 for a single value, 1 for d0 values along axis 0; sets an error and returns -1 otherwise."""
    b = fb.b
    n = fb.get(p, "numel")
    per_channel = b.and_(b.and_(b.icmp_signed("==", b.sext(fb.get(p, "rank"), I64), c64(1)),
                                b.icmp_signed("==", n, d0)), b.icmp_signed(">", rank, c64(0)))
    step = fb.var(I64, c64(-1))
    with fb.if_else(b.icmp_signed("==", n, c64(1))) as (single, other):
        with single:
            b.store(c64(0), step)
        with other:
            with fb.if_then(per_channel):
                b.store(c64(1), step)
    bad = b.icmp_signed("<", fb.load(step, I64), c64(0))
    with fb.if_then(bad, likely=False):
        emit_error(fb, layout.ERR_SHAPE, f"ternarize: {what} has %lld values but the tensor's first dim "
                   "is %lld (expected 1 value or one per index along axis 0)", n, d0)
    return fb.load(step, I64)


def _emit_ternarize(em: Emitter) -> None:
    fb = em.define("trt_ternarize_f32", PTR, [PTR, PTR, PTR, PTR, PTR, PTR])
    ctx, x, *params = fb.args
    b = fb.b
    for t in (x, *params):
        with fb.if_then(b.icmp_signed("!=", fb.get(t, "dtype"), c32(layout.FLOAT32)), likely=False):
            emit_error(fb, layout.ERR_TYPE, "ternarize expects float32 tensors")
            fb.ret(NULL)
    rank, numel, cols, rows, rb, d0 = _rows_cols(fb, x)
    steps = [_param_step(fb, p, d0, rank, what) for p, what in zip(params, PARAMS, strict=True)]
    fb.ret_if(b.icmp_signed("!=", fb.get(ctx, "code"), c32(0)), NULL)
    shape = fb.byte_at(x, layout.SHAPE_OFFSET)
    out = fb.call("trt_tensor_new", ctx, c32(layout.TRIT), fb.get(x, "rank"), shape)
    fb.ret_if(fb.is_null(out), NULL)
    job = fb.var(ir.ArrayType(I64, JOB_SLOTS))
    for slot, value in ((J_X, fb.get(x, "data")), (J_OUT, fb.get(out, "data"))):
        b.store(value, fb.at(job, slot, PTR))
    rank1 = b.icmp_signed("==", rank, c64(1))
    safe_d0 = fb.select(b.icmp_signed(">", d0, c64(0)), d0, c64(1))
    rpc = fb.select(b.icmp_signed(">", rank, c64(1)), b.sdiv(rows, safe_d0), c64(1))
    rpc = fb.select(b.icmp_signed("<", rpc, c64(1)), c64(1), rpc)
    for slot, value in ((J_COLS, cols), (J_RB, rb), (J_PSTEP, steps[0]), (J_NSTEP, steps[1]), (J_RPC, rpc),
                        (J_ESTEP, fb.select(rank1, c64(1), c64(0)))):
        b.store(value, fb.at(job, slot, I64))
    grain = b.sdiv(c64(1 << 16), fb.select(b.icmp_signed("<", cols, c64(1)), c64(1), cols))
    grain = fb.select(b.icmp_signed("<", grain, c64(1)), c64(1), grain)
    scalar = b.and_(b.icmp_signed("==", steps[0], c64(0)), b.icmp_signed("==", steps[1], c64(0)))
    nonempty = b.icmp_signed(">", b.mul(rows, rb), c64(0))
    with fb.if_else(scalar) as (fast, general):
        with fast:
            for slot, p in ((J_PT, params[0]), (J_NT, params[1])):
                b.store(fb.load(fb.get(p, "data"), F32), fb.byte_at(job, 8 * slot))
            with fb.if_then(nonempty):
                fb.call("trt_parallel", em.get("trt_ternarize_rows_scalar"), job, rows, grain)
        with general:
            for slot, p in ((J_PT, params[0]), (J_NT, params[1])):
                b.store(fb.get(p, "data"), fb.at(job, slot, PTR))
            with fb.if_then(nonempty):
                fb.call("trt_parallel", em.get("trt_ternarize_rows_general"), job, rows, grain)
    ok = fb.call("trt_quant_attach_scales", ctx, out, params[2], params[3], steps[2], steps[3], d0)
    with fb.if_then(b.icmp_signed("!=", ok, c32(0)), likely=False):
        fb.call("trt_decref", out)
        fb.ret(NULL)
    fb.ret(out)


def _emit_attach_scales(em: Emitter) -> None:
    """i32 trt_quant_attach_scales(ctx, out, pos_s, neg_s, pos_step, neg_step, d0): 0, or 1 on error."""
    fb = em.define("trt_quant_attach_scales", I32, [PTR, PTR, PTR, PTR, I64, I64, I64], public=False)
    ctx, out, ps, ns, pstep, nstep, d0 = fb.args
    b = fb.b
    pdata, ndata = fb.get(ps, "data"), fb.get(ns, "data")
    per_channel = b.or_(b.icmp_signed("==", pstep, c64(1)), b.icmp_signed("==", nstep, c64(1)))
    count = fb.var(I64, c64(1))
    kind = fb.var(I32, c32(layout.SCALE_TENSOR))
    with fb.if_else(per_channel) as (channel, single):
        with channel:
            b.store(d0, count)
            b.store(c32(layout.SCALE_CHANNEL), kind)
            with fb.loop(0, d0) as c:
                pv = fb.load(fb.at(pdata, b.mul(c, pstep), F32), F32)
                nv = fb.load(fb.at(ndata, b.mul(c, nstep), F32), F32)
                with fb.if_then(b.fcmp_unordered("!=", pv, nv), likely=False):
                    emit_error(fb, layout.ERR_VALUE, "ternarize: per-channel scales must be the same for +1 "
                               "and -1 (channel %lld: %g vs %g)", c, b.fpext(pv, F64), b.fpext(nv, F64))
                    fb.ret(c32(1))
        with single:
            pv, nv = fb.load(pdata, F32), fb.load(ndata, F32)
            with fb.if_then(b.fcmp_unordered("!=", pv, nv)):
                b.store(c64(2), count)
                b.store(c32(layout.SCALE_ASYMMETRIC), kind)
    n = fb.var(I64, fb.load(count, I64))
    s = fb.call("trt_tensor_new", ctx, c32(layout.FLOAT32), c32(1), n)
    fb.ret_if(fb.is_null(s), c32(1))
    sdata = fb.get(s, "data")
    with fb.if_else(b.icmp_signed("==", fb.load(kind, I32), c32(layout.SCALE_ASYMMETRIC))) as (asym, other):
        with asym:
            b.store(fb.load(pdata, F32), sdata)
            b.store(fb.load(ndata, F32), fb.at(sdata, 1, F32))
        with other:
            with fb.loop(0, fb.load(count, I64)) as c:
                b.store(fb.load(fb.at(pdata, b.mul(c, pstep), F32), F32), fb.at(sdata, c, F32))
    fb.put(out, "scales", s)
    fb.put(out, "scale_kind", fb.load(kind, I32))
    fb.ret(c32(0))


def emit(em: Emitter) -> None:
    _emit_rows_scalar(em)
    _emit_rows_general(em)
    em.declare("trt_quant_attach_scales", I32, [PTR, PTR, PTR, PTR, I64, I64, I64])
    _emit_ternarize(em)
    _emit_attach_scales(em)
    from . import rt_conv, rt_kernels, rt_quantile

    rt_quantile.emit(em)
    rt_kernels.emit(em)
    rt_conv.emit(em)


__all__ = ["emit", "I8"]
