"""Element access by runtime dtype, shared by casts, creation, reductions and shape ops.

In: an `Emitter`. Out (internal functions): `trt_store_f64(t, i, double)` / `trt_store_i64(t, i, i64)`
(store element i of any dtype, with numpy's conversion rules: float -> int saturating with NaN -> 0,
!= 0 -> bool, trit packed in place and checked to be -1/0/1), `trt_dim_arg` (normalise a dim argument),
`trt_strided_copy` (gather elements of any byte size through an index map) and the parallel-for hook
`trt_parallel` (serial until Python installs `trk_parallel_for` with `trt_set_parallel`).
The loaders `trt_load_f64` / `trt_load_i64` live in rt_print.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F64, I8, I16, I32, I64, PTR, VOID, Emitter, c8, c32, c64
from .rt_errors import emit_error


def _emit_stores(em: Emitter) -> None:
    for name, src in (("trt_store_f64", F64), ("trt_store_i64", I64)):
        fb = em.define(name, I32, [PTR, PTR, I64, src], public=False)
        ctx, t, i, v = fb.args
        b = fb.b
        data, dtype = fb.get(t, "data"), fb.get(t, "dtype")
        is_f = src is F64
        for code in range(9):
            with fb.if_then(b.icmp_signed("==", dtype, c32(code))):
                ty = layout.scalar_type(code)
                if code == layout.BOOL:
                    zero = ir.Constant(src, 0)
                    nz = b.fcmp_unordered("!=", v, zero) if is_f else b.icmp_signed("!=", v, zero)
                    b.store(b.zext(nz, I8), fb.at(data, i, I8))
                elif code == layout.TRIT:
                    _store_trit(fb, t, i, v, is_f)
                elif code in layout.FLOAT_DTYPES:
                    fv = v if is_f else b.sitofp(v, F64)
                    b.store(fv if ty is F64 else b.fptrunc(fv, ty), fb.at(data, i, ty))
                elif is_f:
                    sat = em.intrinsic(f"llvm.fptosi.sat.{ty}.f64", ty, [F64])
                    b.store(b.call(sat, [v]), fb.at(data, i, ty))
                else:
                    b.store(v if ty is I64 else b.trunc(v, ty), fb.at(data, i, ty))
                fb.ret(c32(0))
        fb.ret(c32(0))


def _store_trit(fb, t, i, v, is_f: bool) -> None:
    """Check v is -1, 0 or 1 and write its 2-bit code into the packed row (docs/ternary_format.md)."""
    b = fb.b
    # saturating: a plain fptosi of 1e30 or NaN is poison, and the check below would branch on it
    iv = b.call(fb.em.intrinsic("llvm.fptosi.sat.i64.f64", I64, [F64]), [v]) if is_f else v
    exact = b.fcmp_ordered("==", b.sitofp(iv, F64), v) if is_f else ir.Constant(ir.IntType(1), 1)
    in_range = b.and_(b.icmp_signed(">=", iv, c64(-1)), b.icmp_signed("<=", iv, c64(1)))
    with fb.if_then(b.not_(b.and_(exact, in_range)), likely=False):
        fmt = "cannot convert %g to trit (only -1, 0 and 1)" if is_f else \
            "cannot convert %lld to trit (only -1, 0 and 1)"
        emit_error(fb, layout.ERR_VALUE, fmt, v)
        fb.ret(c32(1))
    rank = b.sext(fb.get(t, "rank"), I64)
    last = fb.select(b.icmp_signed("==", rank, c64(0)), c64(1), fb.dim(t, b.sub(rank, c64(1))))
    row, col = b.sdiv(i, last), b.srem(i, last)
    rowbytes = b.sdiv(b.add(last, c64(3)), c64(4))
    addr = fb.byte_at(fb.get(t, "data"), b.add(b.mul(row, rowbytes), b.sdiv(col, c64(4))))
    shift = b.trunc(b.mul(b.srem(col, c64(4)), c64(2)), I8)
    cleared = b.and_(fb.load(addr, I8), b.not_(b.shl(c8(3), shift)))
    b.store(b.or_(cleared, b.shl(b.trunc(b.add(iv, c64(1)), I8), shift)), addr)


def _emit_dim_arg(em: Emitter) -> None:
    """i32 trt_dim_arg(ctx, i32 dim, i32 rank): dim normalised to [0, rank), or -1 with an error set."""
    fb = em.define("trt_dim_arg", I32, [PTR, I32, I32], public=False)
    ctx, dim, rank = fb.args
    b = fb.b
    d = fb.select(b.icmp_signed("<", dim, c32(0)), b.add(dim, rank), dim)
    bad = b.or_(b.icmp_signed("<", d, c32(0)), b.icmp_signed(">=", d, rank))
    with fb.if_then(bad, likely=False):
        emit_error(fb, layout.ERR_INDEX, "dimension %d is out of range for a tensor of rank %d", dim, rank)
        fb.ret(c32(-1))
    fb.ret(d)


def _emit_strided_copy(em: Emitter) -> None:
    """void trt_strided_copy(dst, src, i64 esize, i32 rank, i64 *shape, i64 *src_strides, i64 src_off):
    dst (contiguous, `shape`) [idx] = src[src_off + sum(idx * src_strides)], strides in elements."""
    fb = em.define("trt_strided_copy", VOID, [PTR, PTR, I64, I32, PTR, PTR, I64], public=False, kernel=True)
    dst, src, esize, rank, shape, strides, off = fb.args
    b = fb.b
    r = b.sext(rank, I64)
    idx = fb.var(ir.ArrayType(I64, layout.MAX_RANK))
    fb.call("memset", idx, c32(0), c64(8 * layout.MAX_RANK))
    total = fb.var(I64, c64(1))
    with fb.loop(0, r) as k:
        b.store(b.mul(fb.load(total, I64), fb.load(fb.at(shape, k, I64), I64)), total)
    n = fb.load(total, I64)
    fb.ret_if(b.icmp_signed("==", n, c64(0)))
    pos = fb.var(I64, off)
    with fb.loop(0, n) as i:
        p = fb.load(pos, I64)
        for size, ty in ((1, I8), (2, I16), (4, I32), (8, I64)):
            with fb.if_then(b.icmp_signed("==", esize, c64(size))):
                b.store(fb.load(fb.at(src, p, ty), ty), fb.at(dst, i, ty))
        # odometer: advance the last axis, carry into earlier ones
        with fb.loop(0, r) as j:
            ax = b.sub(b.sub(r, c64(1)), j)
            slot = fb.at(idx, ax, I64)
            v = b.add(fb.load(slot, I64), c64(1))
            st = fb.load(fb.at(strides, ax, I64), I64)
            with fb.if_then(b.icmp_signed("<", v, fb.load(fb.at(shape, ax, I64), I64))):
                b.store(v, slot)
                b.store(b.add(fb.load(pos, I64), st), pos)
                fb.break_()
            b.store(c64(0), slot)
            b.store(b.sub(fb.load(pos, I64), b.mul(b.sub(v, c64(1)), st)), pos)
    fb.ret()


def _emit_parallel(em: Emitter) -> None:
    hook = em.callback_slot("trt_parallel_fn", "trt_set_parallel")

    # void trt_parallel(fn, ctx, n, grain): trk_parallel_for when installed, else fn(ctx, 0, n).
    fb = em.define("trt_parallel", VOID, [PTR, PTR, I64, I64], public=False)
    fn, ctx, n, grain = fb.args
    b = fb.b
    pool = fb.load(hook, PTR)
    with fb.if_then(b.or_(fb.is_null(pool), b.icmp_signed("<=", n, grain))):
        fb.call_ptr(fn, VOID, [PTR, I64, I64], [ctx, c64(0), n])
        fb.ret()
    fb.call_ptr(pool, VOID, [PTR, PTR, I64, I64], [fn, ctx, n, grain])
    fb.ret()


def emit(em: Emitter) -> None:
    _emit_stores(em)
    _emit_dim_arg(em)
    _emit_strided_copy(em)
    _emit_parallel(em)

