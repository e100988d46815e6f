"""Reductions in native code: sum, prod, max, min, mean, argmax, argmin, var, std (full and along a dim).

In: an `Emitter`. Out: `trt_<op>_all_<dt>(ctx, t[, ddof]) -> scalar` and `trt_<op>_dim_<dt>(ctx, t, dim,
keepdim[, ddof]) -> tensor` for dt in b i8 i16 i32 i64 f16 f32 f64 (output dtypes: docs/runtime.md
"Output dtypes of reductions"). Softmax lives in rt_softmax.

Every reduction views its input as [outer, n, inner] (n = the reduced extent) and runs a per-(op, dtype)
core that accumulates in a wide type (double for floats and for mean/var/std, i64 for integers) into a
scratch row of outer*inner values; one generic driver checks arguments, dispatches, and stores the wide
results in the output dtype. Sums are vectorised (reassociation allowed); NaN propagates like numpy.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F64, I32, I64, PTR, Emitter, FnBuilder, c32, c64
from .rt_errors import emit_error
from .rt_reduce_extreme import emit_float_extreme_core

NULL = ir.Constant(PTR, None)
SUM, PROD, MAX, MIN, MEAN, ARGMAX, ARGMIN, VAR, STD = range(9)
OP_NAMES = ("sum", "prod", "max", "min", "mean", "argmax", "argmin", "var", "std")
ALL = 0x7FFFFFFF  # dim argument meaning "every axis"
DTYPES = (layout.BOOL, layout.INT8, layout.INT16, layout.INT32, layout.INT64, layout.FLOAT16, layout.FLOAT32,
          layout.FLOAT64)
REASSOC = ("reassoc", "nsz")


def out_dtype(op: int, dt: int) -> int:
    if op in (ARGMAX, ARGMIN):
        return layout.INT64
    if op in (MEAN, VAR, STD):
        return dt if dt in layout.FLOAT_DTYPES else layout.FLOAT32
    if op in (SUM, PROD):
        return dt if dt in layout.FLOAT_DTYPES or dt == layout.INT64 else layout.INT32
    return dt


def wide_is_float(op: int, dt: int) -> bool:
    return op not in (ARGMAX, ARGMIN) and (dt in layout.FLOAT_DTYPES or op in (MEAN, VAR, STD))


def load_wide(fb: FnBuilder, src, idx, dt: int, as_float: bool):
    b = fb.b
    ty = layout.scalar_type(dt)
    x = fb.load(fb.at(src, idx, ty), ty)
    if dt in layout.FLOAT_DTYPES:
        return x if ty is F64 else b.fpext(x, F64)
    wide = x if ty is I64 else (b.zext(x, I64) if dt == layout.BOOL else b.sext(x, I64))
    return b.sitofp(wide, F64) if as_float else wide


def _combine(fb: FnBuilder, em: Emitter, op: int, acc, x, is_f: bool):
    b = fb.b
    if op == SUM:
        return b.fadd(acc, x, flags=REASSOC) if is_f else b.add(acc, x)
    if op == PROD:
        return b.fmul(acc, x, flags=REASSOC) if is_f else b.mul(acc, x)
    if is_f:
        name = "llvm.maximum.f64" if op == MAX else "llvm.minimum.f64"
        return b.call(em.intrinsic(name, F64, [F64, F64]), [acc, x])
    return fb.select(b.icmp_signed(">" if op == MAX else "<", x, acc), x, acc)


def _init(op: int, is_f: bool):
    if op == SUM:
        return ir.Constant(F64, 0.0) if is_f else c64(0)
    if op == PROD:
        return ir.Constant(F64, 1.0) if is_f else c64(1)
    if is_f:
        return ir.Constant(F64, float("-inf") if op == MAX else float("inf"))
    return c64(-(2**63) if op == MAX else 2**63 - 1)


def _core_name(op: int, dt: int, as_float: bool) -> str:
    return f"trt_rcore_{OP_NAMES[op]}{'_f' if as_float else ''}_{layout.SUFFIX[dt]}"


def _is_hot(op: int, dt: int, as_float: bool) -> bool:
    """Cores worth optimizing (compile time is paid at every start): float sums, counting sums and
    integer max/min (float max/min: rt_reduce_extreme); the rest run unoptimized (correct, slower)."""
    if as_float:
        return False
    if op == SUM:
        return dt in (layout.FLOAT32, layout.FLOAT64, layout.BOOL, layout.INT32)
    return op in (MAX, MIN)


def _emit_fold_core(em: Emitter, op: int, dt: int, as_float: bool) -> None:
    """dst[o*inner + j] = fold(op, src[(o*n + k)*inner + j] for k < n), accumulated in a wide type."""
    if op in (MAX, MIN) and dt in (layout.FLOAT32, layout.FLOAT64) and not as_float:
        emit_float_extreme_core(em, op == MAX, dt, _core_name(op, dt, as_float))
        return
    fb = em.define(_core_name(op, dt, as_float), ir.VoidType(), [PTR, I64, I64, I64, PTR, I32], public=False,
                   kernel=_is_hot(op, dt, as_float))
    src, outer, n, inner, dst, _ = fb.args
    b = fb.b
    is_f = as_float or dt in layout.FLOAT_DTYPES
    wty = F64 if is_f else I64
    with fb.loop(0, outer) as o:
        base = b.mul(b.mul(o, n), inner)
        with fb.if_else(b.icmp_signed("==", inner, c64(1))) as (contiguous, strided):
            with contiguous:
                acc = fb.var(wty, _init(op, is_f))
                with fb.loop(0, n) as k:
                    x = load_wide(fb, src, b.add(base, k), dt, as_float)
                    b.store(_combine(fb, em, op, fb.load(acc, wty), x, is_f), acc)
                b.store(fb.load(acc, wty), fb.at(dst, o, wty))
            with strided:
                row = fb.at(dst, b.mul(o, inner), wty)
                with fb.loop(0, inner) as j:
                    b.store(_init(op, is_f), fb.at(row, j, wty))
                with fb.loop(0, n) as k:
                    line = b.add(base, b.mul(k, inner))
                    with fb.loop(0, inner) as j:
                        x = load_wide(fb, src, b.add(line, j), dt, as_float)
                        slot = fb.at(row, j, wty)
                        b.store(_combine(fb, em, op, fb.load(slot, wty), x, is_f), slot)
    fb.ret()


def _emit_lane_core(em: Emitter, op: int, dt: int) -> None:
    """argmax / argmin (first occurrence, NaN wins) and var (two-pass, ddof) per (o, j) lane."""
    fb = em.define(_core_name(op, dt, False), ir.VoidType(), [PTR, I64, I64, I64, PTR, I32], public=False)
    src, outer, n, inner, dst, ddof = fb.args
    b = fb.b
    with fb.loop(0, outer) as o:
        with fb.loop(0, inner) as j:
            first = b.add(b.mul(b.mul(o, n), inner), j)
            out = b.add(b.mul(o, inner), j)
            if op == VAR:
                _var_lane(fb, src, first, n, inner, dt, ddof, fb.at(dst, out, F64))
            else:
                _arg_lane(fb, src, first, n, inner, dt, op, fb.at(dst, out, I64))
    fb.ret()


def _var_lane(fb: FnBuilder, src, first, n, inner, dt: int, ddof, out) -> None:
    b = fb.b
    total = fb.var(F64, ir.Constant(F64, 0.0))
    with fb.loop(0, n) as k:
        x = load_wide(fb, src, b.add(first, b.mul(k, inner)), dt, True)
        b.store(b.fadd(fb.load(total, F64), x), total)
    mean = b.fdiv(fb.load(total, F64), b.sitofp(n, F64))
    ss = fb.var(F64, ir.Constant(F64, 0.0))
    with fb.loop(0, n) as k:
        d = b.fsub(load_wide(fb, src, b.add(first, b.mul(k, inner)), dt, True), mean)
        b.store(b.fadd(fb.load(ss, F64), b.fmul(d, d)), ss)
    dof = b.sub(n, b.sext(ddof, I64))
    dof = fb.select(b.icmp_signed("<", dof, c64(0)), c64(0), dof)
    b.store(b.fdiv(fb.load(ss, F64), b.sitofp(dof, F64)), out)


def _arg_lane(fb: FnBuilder, src, first, n, inner, dt: int, op: int, out) -> None:
    b = fb.b
    is_f = dt in layout.FLOAT_DTYPES
    wty = F64 if is_f else I64
    best = fb.var(wty, load_wide(fb, src, first, dt, False))
    where = fb.var(I64, c64(0))
    with fb.loop(1, n) as k:
        x = load_wide(fb, src, b.add(first, b.mul(k, inner)), dt, False)
        cur = fb.load(best, wty)
        if is_f:
            better = b.fcmp_ordered(">" if op == ARGMAX else "<", x, cur)
            better = b.or_(better, b.fcmp_unordered("uno", x, x))
            better = b.and_(better, b.fcmp_ordered("ord", cur, cur))
        else:
            better = b.icmp_signed(">" if op == ARGMAX else "<", x, cur)
        with fb.if_then(better):
            b.store(x, best)
            b.store(k, where)
    b.store(fb.load(where, I64), out)


CHUNK = 1 << 16  # elements per partial result of a large full reduction (fixed: results never depend
PARALLEL_WORK = 1 << 18  # on the thread count); below PARALLEL_WORK elements everything runs serially
_JOB = ("core", "src", "esize", "n", "inner", "dst", "ddof")


def _emit_run_core(em: Emitter) -> None:
    """i32 trt_run_core(ctx, core, combine, esize, src, outer, n, inner, dst, ddof): run a core, splitting
    large work through `trt_parallel`: by output rows when outer > 1, else (foldable ops, inner == 1) into
    fixed CHUNK-element partials combined by `combine` (the same op's core on the wide partials)."""
    core_t = [PTR, I64, I64, I64, PTR, I32]
    for mode in ("rows", "chunks"):
        fb = em.define(f"trt_reduce_{mode}", ir.VoidType(), [PTR, I64, I64], public=False)
        job, begin, end = fb.args
        b = fb.b
        core, src, esize, n, inner, dst = (fb.load(fb.at(job, i, I64), I64) for i in range(6))
        ddof = b.trunc(fb.load(fb.at(job, 6, I64), I64), I32)
        core, src, dst = (b.inttoptr(v, PTR) for v in (core, src, dst))
        if mode == "rows":
            s0 = fb.byte_at(src, b.mul(b.mul(b.mul(begin, n), inner), esize))
            fb.call_ptr(core, ir.VoidType(), core_t, [s0, b.sub(end, begin), n, inner,
                                                      fb.at(dst, b.mul(begin, inner), I64), ddof])
        else:
            with fb.loop(begin, end) as c:
                lo = b.mul(c, c64(CHUNK))
                size = b.sub(n, lo)
                size = fb.select(b.icmp_signed(">", size, c64(CHUNK)), c64(CHUNK), size)
                part = [fb.byte_at(src, b.mul(lo, esize)), c64(1), size, c64(1), fb.at(dst, c, I64), ddof]
                fb.call_ptr(core, ir.VoidType(), core_t, part)
        fb.ret()

    fb = em.define("trt_run_core", I32, [PTR, PTR, PTR, I64, PTR, I64, I64, I64, PTR, I32], public=False)
    ctx, core, combine, esize, src, outer, n, inner, dst, ddof = fb.args
    b = fb.b
    job = fb.var(ir.ArrayType(I64, len(_JOB)))
    for i, v in enumerate((b.ptrtoint(core, I64), b.ptrtoint(src, I64), esize, n, inner, b.ptrtoint(dst, I64),
                           b.sext(ddof, I64))):
        b.store(v, fb.at(job, i, I64))
    big = b.icmp_signed(">=", b.mul(b.mul(outer, n), inner), c64(PARALLEL_WORK))
    with fb.if_then(b.and_(big, b.icmp_signed(">", outer, c64(1)))):
        row_work = b.mul(n, inner)
        grain = b.sdiv(c64(CHUNK), fb.select(b.icmp_signed("<", row_work, c64(1)), c64(1), row_work))
        grain = fb.select(b.icmp_signed("<", grain, c64(1)), c64(1), grain)
        fb.call("trt_parallel", em.get("trt_reduce_rows"), job, outer, grain)
        fb.ret(c32(0))
    chunked = b.and_(b.and_(big, b.not_(fb.is_null(combine))), b.icmp_signed("==", inner, c64(1)))
    with fb.if_then(chunked):
        nchunks = b.sdiv(b.add(n, c64(CHUNK - 1)), c64(CHUNK))
        partial = fb.call("trt_alloc", ctx, b.mul(nchunks, c64(8)))
        fb.ret_if(fb.is_null(partial), c32(1))
        b.store(b.ptrtoint(partial, I64), fb.at(job, 5, I64))
        fb.call("trt_parallel", em.get("trt_reduce_chunks"), job, nchunks, c64(1))
        fb.call_ptr(combine, ir.VoidType(), core_t, [partial, c64(1), nchunks, c64(1), dst, ddof])
        fb.call("free", partial)
        fb.ret(c32(0))
    fb.call_ptr(core, ir.VoidType(), core_t, [src, outer, n, inner, dst, ddof])
    fb.ret(c32(0))


def _emit_driver(em: Emitter) -> None:
    """ptr trt_reduce(ctx, t, op, dim, keepdim, ddof, dt, out_dt, scalar_out): see the module docstring."""
    fb = em.define("trt_reduce", PTR, [PTR, PTR, I32, I32, I32, I32, I32, I32, PTR], public=False)
    ctx, t, op, dim, keepdim, ddof, dt, odt, scalar_out = fb.args
    b = fb.b
    with fb.if_then(b.icmp_signed("!=", fb.get(t, "dtype"), dt), likely=False):
        emit_error(fb, layout.ERR_TYPE, "this reduction expects a %s tensor", fb.call("trt_dtype_name", dt))
        fb.ret(NULL)
    rank = fb.get(t, "rank")
    numel = fb.get(t, "numel")
    whole = b.icmp_signed("==", dim, c32(ALL))
    d = fb.var(I32, c32(0))
    with fb.if_then(b.not_(whole)):
        nd = fb.call("trt_dim_arg", ctx, dim, rank)
        fb.ret_if(b.icmp_signed("<", nd, c32(0)), NULL)
        b.store(nd, d)
    dv = b.sext(fb.load(d, I32), I64)
    outer, inner = fb.var(I64, c64(1)), fb.var(I64, c64(1))
    with fb.loop(0, b.sext(rank, I64)) as k:
        size = fb.dim(t, k)
        with fb.if_then(b.and_(b.not_(whole), b.icmp_signed("<", k, dv))):
            b.store(b.mul(fb.load(outer, I64), size), outer)
        with fb.if_then(b.and_(b.not_(whole), b.icmp_signed(">", k, dv))):
            b.store(b.mul(fb.load(inner, I64), size), inner)
    n = fb.select(whole, numel, fb.select(b.icmp_signed("==", rank, c32(0)), c64(1), fb.dim(t, dv)))
    lanes = b.mul(fb.load(outer, I64), fb.load(inner, I64))
    needs_items = b.icmp_unsigned("<=", b.sub(op, c32(MAX)), c32(1))
    empty = b.icmp_signed("==", n, c64(0))  # numpy: an empty reduced axis is an error even if lanes == 0
    with fb.if_then(b.and_(needs_items, empty)):
        emit_error(fb, layout.ERR_VALUE, "zero-size array to reduction operation %s which has no identity",
                   fb.select(b.icmp_signed("==", op, c32(MAX)), em.cstring("maximum"), em.cstring("minimum")))
        fb.ret(NULL)
    is_arg = b.icmp_unsigned("<=", b.sub(op, c32(ARGMAX)), c32(1))
    with fb.if_then(b.and_(is_arg, empty)):
        emit_error(fb, layout.ERR_VALUE, "attempt to get %s of an empty sequence",
                   fb.select(b.icmp_signed("==", op, c32(ARGMAX)), em.cstring("argmax"),
                             em.cstring("argmin")))
        fb.ret(NULL)
    scratch = fb.call("trt_alloc", ctx, b.mul(b.add(lanes, c64(1)), c64(8)))
    fb.ret_if(fb.is_null(scratch), NULL)
    args = (fb.get(t, "data"), fb.load(outer, I64), n, fb.load(inner, I64), scratch, ddof)
    for code in DTYPES:
        with fb.if_then(b.icmp_signed("==", dt, c32(code))):
            for o in range(9):
                core_op = {MEAN: SUM, STD: VAR}.get(o, o)
                as_float = o in (MEAN, VAR, STD) and code not in layout.FLOAT_DTYPES and core_op == SUM
                core = em.get(_core_name(core_op, code, as_float))
                foldable = core_op in (SUM, PROD, MAX, MIN)
                wide = layout.FLOAT64 if (as_float or code in layout.FLOAT_DTYPES) else layout.INT64
                combine = em.get(_core_name(core_op, wide, False)) if foldable else NULL
                with fb.if_then(b.icmp_signed("==", op, c32(o))):
                    status = fb.call("trt_run_core", ctx, core, combine, c64(layout.ELEM_SIZE[code]), *args)
                    with fb.if_then(b.icmp_signed("!=", status, c32(0)), likely=False):
                        fb.call("free", scratch)
                        fb.ret(NULL)
    with fb.loop(0, lanes) as i:
        slot = fb.at(scratch, i, F64)
        with fb.if_then(b.icmp_signed("==", op, c32(MEAN))):
            b.store(b.fdiv(fb.load(slot, F64), b.sitofp(n, F64)), slot)
        with fb.if_then(b.icmp_signed("==", op, c32(STD))):
            b.store(fb.call("sqrt", fb.load(slot, F64)), slot)
    with fb.if_then(b.not_(fb.is_null(scalar_out))):
        fb.call("memcpy", scalar_out, scratch, c64(8))
        fb.call("free", scratch)
        fb.ret(NULL)
    out = _new_output(fb, ctx, t, odt, dv, whole, keepdim)
    with fb.if_then(fb.is_null(out), likely=False):
        fb.call("free", scratch)
        fb.ret(NULL)
    wide_f = b.and_(b.not_(is_arg), b.or_(b.icmp_signed(">=", dt, c32(layout.FLOAT16)),
                                          b.or_(b.icmp_signed("==", op, c32(MEAN)),
                                                b.icmp_unsigned("<=", b.sub(op, c32(VAR)), c32(1)))))
    with fb.loop(0, lanes) as i:
        with fb.if_else(wide_f) as (yes, no):
            with yes:
                fb.call("trt_store_f64", ctx, out, i, fb.load(fb.at(scratch, i, F64), F64))
            with no:
                fb.call("trt_store_i64", ctx, out, i, fb.load(fb.at(scratch, i, I64), I64))
    fb.call("free", scratch)
    fb.ret(out)


def _new_output(fb: FnBuilder, ctx, t, odt, dv, whole, keepdim):
    """The result tensor: shape without axis `dv` (or with it as 1 when keepdim); rank 0 for `whole`."""
    b = fb.b
    shape = fb.var(ir.ArrayType(I64, layout.MAX_RANK))
    r = fb.var(I32, c32(0))
    with fb.if_then(b.not_(whole)):
        with fb.loop(0, b.sext(fb.get(t, "rank"), I64)) as k:
            is_dim = b.icmp_signed("==", k, dv)
            keep = b.or_(b.not_(is_dim), b.icmp_signed("!=", keepdim, c32(0)))
            with fb.if_then(keep):
                rv = fb.load(r, I32)
                b.store(fb.select(is_dim, c64(1), fb.dim(t, k)), fb.at(shape, b.sext(rv, I64), I64))
                b.store(b.add(rv, c32(1)), r)
    return fb.call("trt_tensor_new", ctx, odt, fb.load(r, I32), shape)


def _emit_public(em: Emitter) -> None:
    for dt in DTYPES:
        sfx = layout.SUFFIX[dt]
        for op in range(9):
            odt = out_dtype(op, dt)
            extra = [I32] if op in (VAR, STD) else []
            rty = layout.scalar_type(odt)
            fb = em.define(f"trt_{OP_NAMES[op]}_all_{sfx}", rty, [PTR, PTR] + extra)
            b = fb.b
            ddof = fb.args[2] if extra else c32(0)
            slot = fb.var(I64, c64(0))
            fb.call("trt_reduce", fb.args[0], fb.args[1], c32(op), c32(ALL), c32(0), ddof, c32(dt), c32(odt),
                    slot)
            if wide_is_float(op, dt):
                v = fb.load(slot, F64)
                fb.ret(v if rty is F64 else b.fptrunc(v, rty))
            else:
                v = fb.load(slot, I64)
                fb.ret(v if rty is I64 else b.trunc(v, rty))

            fb = em.define(f"trt_{OP_NAMES[op]}_dim_{sfx}", PTR, [PTR, PTR, I32, I32] + extra)
            ctx, t, dim, keepdim = fb.args[:4]
            ddof = fb.args[4] if extra else c32(0)
            fb.ret(fb.call("trt_reduce", ctx, t, c32(op), dim, keepdim, ddof, c32(dt), c32(odt), NULL))


def _emit_dtype_name(em: Emitter) -> None:
    fb = em.define("trt_dtype_name", PTR, [I32], public=False)
    code = fb.args[0]
    for c, name in enumerate(layout.DTYPE_NAMES):
        fb.ret_if(fb.b.icmp_signed("==", code, c32(c)), em.cstring(name))
    fb.ret(em.cstring("unknown"))


def emit(em: Emitter) -> None:
    _emit_dtype_name(em)
    for dt in DTYPES:
        for op in (SUM, PROD, MAX, MIN):
            _emit_fold_core(em, op, dt, False)
        if dt not in layout.FLOAT_DTYPES:
            _emit_fold_core(em, SUM, dt, True)
        for op in (ARGMAX, ARGMIN, VAR):
            _emit_lane_core(em, op, dt)
    _emit_run_core(em)
    _emit_driver(em)
    _emit_public(em)

