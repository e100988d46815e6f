"""Shape operations in native code: reshape, squeeze/unsqueeze (views), permute/transpose, indexing and
slicing, broadcast_to (copies through `trt_strided_copy`), concat and stack.

In: an `Emitter`. Out: the functions of docs/runtime.md "Shape ops". Every index is bounds-checked and
every shape rule reports both shapes; nothing here touches element values except to move them — and
the gradients of indexing (`trt_index_backward`, `trt_grad_at`: autodiff), which add them into zeros.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import I8, I32, I64, PTR, Emitter, FnBuilder, c32, c64
from .rt_errors import emit_error, shape_text

NULL = ir.Constant(PTR, None)
SHAPE_T = ir.ArrayType(I64, layout.MAX_RANK)
OMITTED = -(2**63)


def _no_trit(fb: FnBuilder, t, what: str) -> None:
    with fb.if_then(fb.b.icmp_signed("==", fb.get(t, "dtype"), c32(layout.TRIT)), likely=False):
        emit_error(fb, layout.ERR_TYPE, f"{what} of a packed ternary tensor is not supported; "
                   "convert it to int8 first")
        fb.ret(NULL)


def _strides(fb: FnBuilder, t):
    """Element strides of the contiguous tensor t, in a stack array."""
    b = fb.b
    st = fb.var(SHAPE_T)
    acc = fb.var(I64, c64(1))
    r = b.sext(fb.get(t, "rank"), I64)
    with fb.loop(0, r) as j:
        ax = b.sub(b.sub(r, c64(1)), j)
        b.store(fb.load(acc, I64), fb.at(st, ax, I64))
        b.store(b.mul(fb.load(acc, I64), fb.dim(t, ax)), acc)
    return st


def _esize(fb: FnBuilder, t):
    return fb.call("trt_elem_bytes", fb.get(t, "dtype"))


def _gather(fb: FnBuilder, ctx, t, rank, shape, strides, offset):
    """A new tensor of `shape` filled by trt_strided_copy from t."""
    out = fb.call("trt_tensor_new", ctx, fb.get(t, "dtype"), rank, shape)
    fb.ret_if(fb.is_null(out), NULL)
    fb.call("trt_strided_copy", fb.get(out, "data"), fb.get(t, "data"), _esize(fb, t), rank, shape, strides,
            offset)
    return out


def _emit_views(em: Emitter) -> None:
    fb = em.define("trt_elem_bytes", I64, [I32], public=False)
    code = fb.args[0]
    for c, size in enumerate(layout.ELEM_SIZE):
        fb.ret_if(fb.b.icmp_signed("==", code, c32(c)), c64(max(size, 1)))
    fb.ret(c64(1))

    fb = em.define("trt_reshape", PTR, [PTR, PTR, I32, PTR])
    ctx, t, rank, shape = fb.args
    b = fb.b
    dims = fb.var(SHAPE_T)
    with fb.if_then(b.icmp_unsigned(">", rank, c32(layout.MAX_RANK)), likely=False):
        emit_error(fb, layout.ERR_VALUE, "rank %d exceeds the maximum rank 8", rank)
        fb.ret(NULL)
    known, unknown = fb.var(I64, c64(1)), fb.var(I64, c64(-1))
    with fb.loop(0, b.sext(rank, I64)) as i:
        d = fb.load(fb.at(shape, i, I64), I64)
        b.store(d, fb.at(dims, i, I64))
        with fb.if_else(b.icmp_signed("==", d, c64(-1))) as (infer, fixed):
            with infer:
                with fb.if_then(b.icmp_signed(">=", fb.load(unknown, I64), c64(0)), likely=False):
                    emit_error(fb, layout.ERR_VALUE, "reshape: only one dimension can be -1")
                    fb.ret(NULL)
                b.store(i, unknown)
            with fixed:
                b.store(b.mul(fb.load(known, I64), d), known)
    numel = fb.get(t, "numel")
    u = fb.load(unknown, I64)
    kn = fb.load(known, I64)
    with fb.if_then(b.icmp_signed(">=", u, c64(0))):
        inferred = fb.div_or(numel, kn, -1)
        b.store(inferred, fb.at(dims, u, I64))
        b.store(b.mul(kn, inferred), known)
    target = fb.var(ir.ArrayType(I8, layout.HEADER_SIZE))  # a stack header, only to print the shape
    fb.put(target, "rank", rank)
    fb.call("memcpy", fb.byte_at(target, layout.SHAPE_OFFSET), dims, b.mul(b.sext(rank, I64), c64(8)))
    bad = b.icmp_signed("!=", fb.load(known, I64), numel)
    with fb.if_then(bad, likely=False):
        emit_error(fb, layout.ERR_SHAPE, "cannot reshape a tensor of shape %s into shape %s",
                   shape_text(fb, t), shape_text(fb, target))
        fb.ret(NULL)
    fb.ret(fb.call("trt_view", ctx, t, rank, dims))

    for name in ("trt_unsqueeze", "trt_squeeze"):
        fb = em.define(name, PTR, [PTR, PTR, I32])
        ctx, t, dim = fb.args
        b = fb.b
        rank = fb.get(t, "rank")
        unsq = name == "trt_unsqueeze"
        if unsq:  # the one more dim must fit the header (and `dims` below)
            with fb.if_then(b.icmp_signed(">=", rank, c32(layout.MAX_RANK)), likely=False):
                emit_error(fb, layout.ERR_VALUE, "unsqueeze: rank %d exceeds the maximum rank 8",
                           b.add(rank, c32(1)))
                fb.ret(NULL)
        d = fb.call("trt_dim_arg", ctx, dim, b.add(rank, c32(1)) if unsq else rank)
        fb.ret_if(b.icmp_signed("<", d, c32(0)), NULL)
        d64 = b.sext(d, I64)
        if not unsq:
            with fb.if_then(b.icmp_signed("!=", fb.dim(t, d64), c64(1)), likely=False):
                emit_error(fb, layout.ERR_SHAPE, "cannot squeeze dimension %d of size %lld (shape %s)", dim,
                           fb.dim(t, d64), shape_text(fb, t))
                fb.ret(NULL)
        dims = fb.var(SHAPE_T)
        r = fb.var(I64, c64(0))
        with fb.loop(0, b.sext(b.add(rank, c32(1)), I64)) as i:
            with fb.if_then(b.and_(b.icmp_signed("==", i, d64), ir.Constant(ir.IntType(1), unsq))):
                b.store(c64(1), fb.at(dims, fb.load(r, I64), I64))
                b.store(b.add(fb.load(r, I64), c64(1)), r)
            keep = b.icmp_signed("<", i, b.sext(rank, I64))
            if not unsq:
                keep = b.and_(keep, b.icmp_signed("!=", i, d64))
            with fb.if_then(keep):
                b.store(fb.dim(t, i), fb.at(dims, fb.load(r, I64), I64))
                b.store(b.add(fb.load(r, I64), c64(1)), r)
        fb.ret(fb.call("trt_view", ctx, t, b.trunc(fb.load(r, I64), I32), dims))

    fb = em.define("trt_squeeze_all", PTR, [PTR, PTR])
    ctx, t = fb.args
    b = fb.b
    dims = fb.var(SHAPE_T)
    r = fb.var(I64, c64(0))
    with fb.loop(0, b.sext(fb.get(t, "rank"), I64)) as i:
        with fb.if_then(b.icmp_signed("!=", fb.dim(t, i), c64(1))):
            b.store(fb.dim(t, i), fb.at(dims, fb.load(r, I64), I64))
            b.store(b.add(fb.load(r, I64), c64(1)), r)
    fb.ret(fb.call("trt_view", ctx, t, b.trunc(fb.load(r, I64), I32), dims))


def _emit_permute(em: Emitter) -> None:
    fb = em.define("trt_permute", PTR, [PTR, PTR, PTR])
    ctx, t, axes = fb.args
    b = fb.b
    _no_trit(fb, t, "permute")
    rank = fb.get(t, "rank")
    r64 = b.sext(rank, I64)
    src = _strides(fb, t)
    dims, strides, seen = fb.var(SHAPE_T), fb.var(SHAPE_T), fb.var(SHAPE_T)
    fb.call("memset", seen, c32(0), c64(8 * layout.MAX_RANK))
    with fb.loop(0, r64) as i:
        d = fb.call("trt_dim_arg", ctx, fb.load(fb.at(axes, i, I32), I32), rank)
        fb.ret_if(b.icmp_signed("<", d, c32(0)), NULL)
        d64 = b.sext(d, I64)
        flag = fb.at(seen, d64, I64)
        with fb.if_then(b.icmp_signed("!=", fb.load(flag, I64), c64(0)), likely=False):
            emit_error(fb, layout.ERR_VALUE, "permute: axis %d is repeated", d)
            fb.ret(NULL)
        b.store(c64(1), flag)
        b.store(fb.dim(t, d64), fb.at(dims, i, I64))
        b.store(fb.load(fb.at(src, d64, I64), I64), fb.at(strides, i, I64))
    fb.ret(_gather(fb, ctx, t, rank, dims, strides, c64(0)))

    fb = em.define("trt_transpose", PTR, [PTR, PTR, I32, I32])
    ctx, t, d0, d1 = fb.args
    b = fb.b
    rank = fb.get(t, "rank")
    a0, a1 = fb.call("trt_dim_arg", ctx, d0, rank), fb.call("trt_dim_arg", ctx, d1, rank)
    fb.ret_if(b.or_(b.icmp_signed("<", a0, c32(0)), b.icmp_signed("<", a1, c32(0))), NULL)
    axes = fb.var(ir.ArrayType(I32, layout.MAX_RANK))
    with fb.loop(0, b.sext(rank, I64)) as i:
        i32v = b.trunc(i, I32)
        v = fb.select(b.icmp_signed("==", i32v, a0), a1, fb.select(b.icmp_signed("==", i32v, a1), a0, i32v))
        b.store(v, fb.at(axes, i, I32))
    fb.ret(fb.call("trt_permute", ctx, t, axes))


def _index_view(fb: FnBuilder, ctx, t, specs, n):
    """The strided view `t[specs]` selects: (rank, dims, strides, offset) in elements of t; returns null
    from the function (error set) on a bad index."""
    b = fb.b
    rank = fb.get(t, "rank")
    with fb.if_then(b.icmp_signed(">", n, rank), likely=False):
        emit_error(fb, layout.ERR_INDEX, "too many indices for a tensor of rank %d: %d", rank, n)
        fb.ret(NULL)
    src = _strides(fb, t)
    dims, strides = fb.var(SHAPE_T), fb.var(SHAPE_T)
    r, off = fb.var(I64, c64(0)), fb.var(I64, c64(0))
    with fb.loop(0, b.sext(rank, I64)) as ax:
        size, stride = fb.dim(t, ax), fb.load(fb.at(src, ax, I64), I64)
        given = b.icmp_signed("<", ax, b.sext(n, I64))
        kind = fb.var(I64, c64(1))
        start, stop, step = fb.var(I64, c64(OMITTED)), fb.var(I64, c64(OMITTED)), fb.var(I64, c64(1))
        with fb.if_then(given):
            for k, slot in enumerate((kind, start, stop, step)):
                b.store(fb.load(fb.at(specs, b.add(b.mul(ax, c64(4)), c64(k)), I64), I64), slot)
        with fb.if_else(b.icmp_signed("==", fb.load(kind, I64), c64(0))) as (integer, sl):
            with integer:
                i0 = fb.load(start, I64)
                i1 = fb.select(b.icmp_signed("<", i0, c64(0)), b.add(i0, size), i0)
                outside = b.or_(b.icmp_signed("<", i1, c64(0)), b.icmp_signed(">=", i1, size))
                with fb.if_then(outside, likely=False):
                    fb.call("trt_err_index", ctx, i0, b.trunc(ax, I32), size)
                    fb.ret(NULL)
                b.store(b.add(fb.load(off, I64), b.mul(i1, stride)), off)
            with sl:
                first, count, st = _slice_bounds(fb, ctx, size, fb.load(start, I64), fb.load(stop, I64),
                                                 fb.load(step, I64))
                rv = fb.load(r, I64)
                b.store(count, fb.at(dims, rv, I64))
                b.store(b.mul(stride, st), fb.at(strides, rv, I64))
                b.store(b.add(rv, c64(1)), r)
                b.store(b.add(fb.load(off, I64), b.mul(first, stride)), off)
    return b.trunc(fb.load(r, I64), I32), dims, strides, fb.load(off, I64)


def _emit_index(em: Emitter) -> None:
    fb = em.define("trt_index", PTR, [PTR, PTR, PTR, I32])
    ctx, t, specs, n = fb.args
    _no_trit(fb, t, "indexing")
    rank, dims, strides, off = _index_view(fb, ctx, t, specs, n)
    fb.ret(_gather(fb, ctx, t, rank, dims, strides, off))

    # The gradient of indexing (autodiff, docs/autodiff.md): zeros of `like`'s shape with g added at the
    # positions `like[specs]` selects (a slice with a step visits each position once: plain adds).
    fb = em.define("trt_index_backward", PTR, [PTR, PTR, PTR, PTR, I32])
    ctx, g, like, specs, n = fb.args
    b = fb.b
    rank, dims, strides, off = _index_view(fb, ctx, like, specs, n)
    out = fb.call("trt_tensor_zeros", ctx, fb.get(g, "dtype"), fb.get(like, "rank"),
                  fb.byte_at(like, layout.SHAPE_OFFSET))
    fb.ret_if(fb.is_null(out), NULL)
    r64 = b.sext(rank, I64)
    with fb.loop(0, fb.get(g, "numel")) as i:
        rest, pos = fb.var(I64, i), fb.var(I64, off)
        with fb.loop(0, r64) as j:  # the multi-index of element i of g, innermost axis first
            ax = b.sub(b.sub(r64, c64(1)), j)
            size = fb.load(fb.at(dims, ax, I64), I64)
            k = b.srem(fb.load(rest, I64), size)
            b.store(b.sdiv(fb.load(rest, I64), size), rest)
            b.store(b.add(fb.load(pos, I64), b.mul(k, fb.load(fb.at(strides, ax, I64), I64))), pos)
        _add_element(fb, out, fb.load(pos, I64), g, i)
    fb.ret(out)

    # The gradient of reading one element `x[i, j]` (flat offset `off`): zeros like x, g's value there.
    fb = em.define("trt_grad_at", PTR, [PTR, PTR, PTR, I64])
    ctx, g, like, off = fb.args
    out = fb.call("trt_tensor_zeros", ctx, fb.get(g, "dtype"), fb.get(like, "rank"),
                  fb.byte_at(like, layout.SHAPE_OFFSET))
    fb.ret_if(fb.is_null(out), NULL)
    _add_element(fb, out, off, g, c64(0))
    fb.ret(out)

    fb = em.define("trt_offset", I64, [PTR, PTR, PTR, I32])
    ctx, t, idx, n = fb.args
    b = fb.b
    rank = fb.get(t, "rank")
    with fb.if_then(b.icmp_signed("!=", n, rank), likely=False):
        emit_error(fb, layout.ERR_INDEX, "a tensor of rank %d needs %d indices to select one element, got %d",
                   rank, rank, n)
        fb.ret(c64(-1))
    src = _strides(fb, t)
    off = fb.var(I64, c64(0))
    with fb.loop(0, b.sext(rank, I64)) as ax:
        size = fb.dim(t, ax)
        i0 = fb.load(fb.at(idx, ax, I64), I64)
        i1 = fb.select(b.icmp_signed("<", i0, c64(0)), b.add(i0, size), i0)
        with fb.if_then(b.or_(b.icmp_signed("<", i1, c64(0)), b.icmp_signed(">=", i1, size)), likely=False):
            fb.call("trt_err_index", ctx, i0, b.trunc(ax, I32), size)
            fb.ret(c64(-1))
        b.store(b.add(fb.load(off, I64), b.mul(i1, fb.load(fb.at(src, ax, I64), I64))), off)
    fb.ret(fb.load(off, I64))


def _add_element(fb: FnBuilder, dst, at, src, i) -> None:
    """dst[at] += src[i] for float tensors of the same dtype (f16/f32/f64)."""
    b = fb.b
    dtype = fb.get(dst, "dtype")
    for code in layout.FLOAT_DTYPES:
        with fb.if_then(b.icmp_signed("==", dtype, c32(code))):
            ty = layout.scalar_type(code)
            slot = fb.at(fb.get(dst, "data"), at, ty)
            value = fb.load(fb.at(fb.get(src, "data"), i, ty), ty)
            b.store(b.fadd(fb.load(slot, ty), value), slot)


def _slice_bounds(fb: FnBuilder, ctx, size, start, stop, step):
    """Python's slice(start, stop, step).indices(size): (first, count, step); returns early on step 0."""
    b = fb.b
    with fb.if_then(b.icmp_signed("==", step, c64(0)), likely=False):
        emit_error(fb, layout.ERR_VALUE, "slice step cannot be zero")
        fb.ret(NULL)
    pos = b.icmp_signed(">", step, c64(0))
    lo = fb.select(pos, c64(0), c64(-1))
    hi = fb.select(pos, size, b.sub(size, c64(1)))

    def clamp(v):
        v = fb.select(b.icmp_signed("<", v, c64(0)), b.add(v, size), v)
        v = fb.select(b.icmp_signed("<", v, lo), lo, v)
        return fb.select(b.icmp_signed(">", v, hi), hi, v)

    s0 = fb.select(b.icmp_signed("==", start, c64(OMITTED)), fb.select(pos, c64(0), b.sub(size, c64(1))),
                   clamp(start))
    e0 = fb.select(b.icmp_signed("==", stop, c64(OMITTED)), fb.select(pos, size, c64(-1)), clamp(stop))
    span = fb.select(pos, b.sub(e0, s0), b.sub(s0, e0))
    mag = fb.select(pos, step, b.sub(c64(0), step))
    count = b.sdiv(b.add(span, b.sub(mag, c64(1))), mag)
    count = fb.select(b.icmp_signed("<", count, c64(0)), c64(0), count)
    return s0, count, step


def emit(em: Emitter) -> None:
    em.declare("trt_permute", PTR, [PTR, PTR, PTR])
    _emit_views(em)
    _emit_permute(em)
    _emit_index(em)
