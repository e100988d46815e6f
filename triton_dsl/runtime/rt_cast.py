"""dtype casts in native code: `trt_cast(ctx, t, dtype)` for all 9x9 pairs, packed trits included.

In: an `Emitter`. Out: `trt_cast` and its optimized leaf kernels. Values move in blocks through a wide
buffer: floats (and anything cast from a float) through double, integers through i64, so one load and
one store kernel per dtype cover every pair (numpy's rules: float -> int saturating with NaN -> 0,
x != 0 -> bool). Trit sources are unpacked to int8 first; trit destinations are packed row by row,
and a value other than -1, 0, 1 is an error naming it.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F64, I8, I32, I64, PTR, VOID, Emitter, FnBuilder, c8, c32, c64
from .rt_errors import emit_error

NULL = ir.Constant(PTR, None)
PLAIN = [c for c in range(9) if c != layout.TRIT]
INTS = [layout.BOOL, layout.INT8, layout.INT16, layout.INT32, layout.INT64]
BLOCK = 1024
# Conversions compiled with optimization (each costs start-up compile time when the object cache is
# cold); the others run the same block loops unoptimized.
_F, _H, _D, _B, _I8, _I32 = (layout.FLOAT32, layout.FLOAT16, layout.FLOAT64, layout.BOOL, layout.INT8,
                             layout.INT32)
HOT = {("load", "f"): {_F, _H, _D}, ("load", "i"): {_B, _I8, _I32},
       ("store", "f"): {_F, _H, _D, _I8, _I32}, ("store", "i"): {_F, _I8, _I32}}


def _emit_block_kernels(em: Emitter) -> None:
    """trt_kload_<w>_<dt>(src, n, wide *out) and trt_kstore_<w>_<dt>(wide *in, n, dst), w in f (double)
    and i (i64): loads through i64 exist for the integer dtypes only (floats always travel as double)."""
    for code in PLAIN:
        ty, sfx = layout.scalar_type(code), layout.SUFFIX[code]
        is_f = code in layout.FLOAT_DTYPES
        for wide, wty in (("f", F64), ("i", I64)):
            if not (wide == "i" and is_f):
                fb = em.define(f"trt_kload_{wide}_{sfx}", VOID, [PTR, I64, PTR], public=False,
                               kernel=code in HOT["load", wide])
                src, n, out = fb.args
                b = fb.b
                with fb.loop(0, n) as i:
                    x = fb.load(fb.at(src, i, ty), ty)
                    if is_f:
                        v = x if ty is F64 else b.fpext(x, F64)
                    else:
                        v = x if ty is I64 else (b.zext(x, I64) if code == layout.BOOL else b.sext(x, I64))
                        v = b.sitofp(v, F64) if wide == "f" else v
                    b.store(v, fb.at(out, i, wty))
                fb.ret()
            fb = em.define(f"trt_kstore_{wide}_{sfx}", VOID, [PTR, I64, PTR], public=False,
                           kernel=code in HOT["store", wide])
            src, n, out = fb.args
            with fb.loop(0, n) as i:
                v = fb.load(fb.at(src, i, wty), wty)
                fb.b.store(_convert(fb, em, v, wide == "f", code), fb.at(out, i, ty))
            fb.ret()


def _convert(fb: FnBuilder, em: Emitter, v, from_float: bool, code: int):
    b = fb.b
    ty = layout.scalar_type(code)
    if code == layout.BOOL:
        if from_float:
            nz = b.fcmp_unordered("!=", v, ir.Constant(F64, 0.0))
        else:
            nz = b.icmp_signed("!=", v, c64(0))
        return b.zext(nz, I8)
    if code in layout.FLOAT_DTYPES:
        if from_float:
            return v if ty is F64 else b.fptrunc(v, ty)
        return b.sitofp(v, ty)
    if from_float:
        return b.call(em.intrinsic(f"llvm.fptosi.sat.{ty}.f64", ty, [F64]), [v])
    return v if ty is I64 else b.trunc(v, ty)


def _emit_trit_kernels(em: Emitter) -> None:
    # void trt_kunpack_trit(u8 *packed, i64 rows, i64 cols, i8 *out)
    fb = em.define("trt_kunpack_trit", VOID, [PTR, I64, I64, PTR], public=False, kernel=True)
    src, rows, cols, out = fb.args
    b = fb.b
    rowbytes = b.sdiv(b.add(cols, c64(3)), c64(4))
    with fb.loop(0, rows) as r:
        prow = fb.byte_at(src, b.mul(r, rowbytes))
        orow = fb.byte_at(out, b.mul(r, cols))
        with fb.loop(0, cols) as c:
            byte = fb.load(fb.byte_at(prow, b.lshr(c, c64(2))), I8)
            shift = b.trunc(b.shl(b.and_(c, c64(3)), c64(1)), I8)
            b.store(b.sub(b.and_(b.lshr(byte, shift), c8(3)), c8(1)), fb.byte_at(orow, c))
    fb.ret()

    # i64 trt_kpack_row_<f|i>(wide *vals, i64 cols, u8 *out): index of the first value that is not
    # -1, 0 or 1 (nothing written then), else -1 with the row packed (padding code 1).
    for wide, wty in (("f", F64), ("i", I64)):
        fb = em.define(f"trt_kpack_row_{wide}", I64, [PTR, I64, PTR], public=False, kernel=True)
        vals, cols, out = fb.args
        b = fb.b
        with fb.loop(0, cols) as c:
            v = fb.load(fb.at(vals, c, wty), wty)
            if wide == "f":
                ok = b.or_(b.or_(b.fcmp_ordered("==", v, ir.Constant(F64, 0.0)),
                                 b.fcmp_ordered("==", v, ir.Constant(F64, 1.0))),
                           b.fcmp_ordered("==", v, ir.Constant(F64, -1.0)))
            else:
                ok = b.icmp_unsigned("<=", b.add(v, c64(1)), c64(2))
            fb.ret_if(b.not_(ok), c)
        nbytes = b.sdiv(b.add(cols, c64(3)), c64(4))
        with fb.loop(0, nbytes) as k:
            byte = fb.var(I8, c8(0))
            for lane in range(4):
                c = b.add(b.shl(k, c64(2)), c64(lane))
                code = fb.var(I8, c8(1))
                with fb.if_then(b.icmp_signed("<", c, cols)):
                    v = fb.load(fb.at(vals, c, wty), wty)
                    iv = b.fptosi(v, I8) if wide == "f" else b.trunc(v, I8)
                    b.store(b.add(iv, c8(1)), code)
                b.store(b.or_(fb.load(byte, I8), b.shl(fb.load(code, I8), c8(2 * lane))), byte)
            b.store(fb.load(byte, I8), fb.byte_at(out, k))
        fb.ret(c64(-1))


def _pick(fb: FnBuilder, em: Emitter, dtype, prefix: str, codes):
    """The kernel `prefix + suffix(dtype)` for a runtime dtype (a select chain over `codes`)."""
    chosen = ir.Constant(PTR, None)
    for code in codes:
        match = fb.b.icmp_signed("==", dtype, c32(code))
        chosen = fb.select(match, em.get(prefix + layout.SUFFIX[code]), chosen)
    return chosen


def _emit_cast(em: Emitter) -> None:
    fb = em.define("trt_cast", PTR, [PTR, PTR, I32])
    ctx, t, dtype = fb.args
    b = fb.b
    kfn = [PTR, I64, PTR]
    src_dt = fb.get(t, "dtype")
    with fb.if_then(b.icmp_signed("==", src_dt, dtype)):
        fb.call("trt_incref", t)
        fb.ret(t)
    rank = fb.get(t, "rank")
    out = fb.call("trt_tensor_new", ctx, dtype, rank, fb.byte_at(t, layout.SHAPE_OFFSET))
    fb.ret_if(fb.is_null(out), NULL)
    numel = fb.get(t, "numel")
    r64 = b.sext(rank, I64)
    cols = fb.select(b.icmp_signed("==", r64, c64(0)), c64(1), fb.dim(t, b.sub(r64, c64(1))))
    rows = fb.div_or(numel, cols, 0)
    # A trit source is unpacked to int8 first.
    data, kind = fb.var(PTR, fb.get(t, "data")), fb.var(I32, src_dt)
    unpacked = fb.var(PTR, NULL)
    with fb.if_then(b.icmp_signed("==", src_dt, c32(layout.TRIT))):
        buf = fb.call("trt_alloc", ctx, numel)
        with fb.if_then(fb.is_null(buf), likely=False):
            fb.call("trt_decref", out)
            fb.ret(NULL)
        fb.call("trt_kunpack_trit", fb.get(t, "data"), rows, cols, buf)
        b.store(buf, unpacked)
        b.store(buf, data)
        b.store(c32(layout.INT8), kind)
    src, sdt = fb.load(data, PTR), fb.load(kind, I32)
    via_float = b.icmp_signed(">=", sdt, c32(layout.FLOAT16))
    load = fb.select(via_float, _pick(fb, em, sdt, "trt_kload_f_", PLAIN),
                     _pick(fb, em, sdt, "trt_kload_i_", INTS))
    esize = fb.call("trt_elem_bytes", sdt)
    to_trit = b.icmp_signed("==", dtype, c32(layout.TRIT))
    chunk = fb.select(to_trit, cols, c64(BLOCK))
    wide = fb.call("trt_alloc", ctx, b.mul(b.add(chunk, c64(1)), c64(8)))
    failed = fb.var(I32, c32(0))
    with fb.if_then(fb.is_null(wide), likely=False):
        b.store(c32(1), failed)
    with fb.if_then(b.icmp_signed("==", fb.load(failed, I32), c32(0))):
        with fb.if_else(to_trit) as (pack, plain):
            with pack:
                _pack_rows(fb, em, ctx, out, src, esize, rows, cols, load, wide, via_float, failed)
            with plain:
                store = fb.select(via_float, _pick(fb, em, dtype, "trt_kstore_f_", PLAIN),
                                  _pick(fb, em, dtype, "trt_kstore_i_", PLAIN))
                desize = fb.call("trt_elem_bytes", dtype)
                with fb.loop(0, numel, BLOCK) as lo:
                    n = b.sub(numel, lo)
                    n = fb.select(b.icmp_signed(">", n, c64(BLOCK)), c64(BLOCK), n)
                    fb.call_ptr(load, VOID, kfn, [fb.byte_at(src, b.mul(lo, esize)), n, wide])
                    dst = fb.byte_at(fb.get(out, "data"), b.mul(lo, desize))
                    fb.call_ptr(store, VOID, kfn, [wide, n, dst])
    fb.call("free", wide)
    fb.call("free", fb.load(unpacked, PTR))
    with fb.if_then(b.icmp_signed("!=", fb.load(failed, I32), c32(0)), likely=False):
        fb.call("trt_decref", out)
        fb.ret(NULL)
    fb.ret(out)


def _pack_rows(fb: FnBuilder, em: Emitter, ctx, out, src, esize, rows, cols, load, wide, via_float, failed):
    b = fb.b
    rowbytes = b.sdiv(b.add(cols, c64(3)), c64(4))
    with fb.loop(0, rows) as r:
        fb.call_ptr(load, VOID, [PTR, I64, PTR], [fb.byte_at(src, b.mul(b.mul(r, cols), esize)), cols, wide])
        dst = fb.byte_at(fb.get(out, "data"), b.mul(r, rowbytes))
        bad = fb.var(I64, c64(-1))
        with fb.if_else(via_float) as (yes, no):
            with yes:
                b.store(fb.call("trt_kpack_row_f", wide, cols, dst), bad)
            with no:
                b.store(fb.call("trt_kpack_row_i", wide, cols, dst), bad)
        k = fb.load(bad, I64)
        with fb.if_then(b.icmp_signed(">=", k, c64(0)), likely=False):
            with fb.if_else(via_float) as (yes, no):
                with yes:
                    emit_error(fb, layout.ERR_VALUE, "cannot convert %g to trit (only -1, 0 and 1)",
                               fb.load(fb.at(wide, k, F64), F64))
                with no:
                    emit_error(fb, layout.ERR_VALUE, "cannot convert %lld to trit (only -1, 0 and 1)",
                               fb.load(fb.at(wide, k, I64), I64))
            b.store(c32(1), failed)
            fb.break_()


def emit(em: Emitter) -> None:
    em.declare("trt_elem_bytes", I64, [I32])
    _emit_block_kernels(em)
    _emit_trit_kernels(em)
    _emit_cast(em)
