"""Tensor memory in native code: allocation, reference counting, views, copies, scalars.

In: an `Emitter`. Out: `trt_alloc`, `trt_free`, `trt_tensor_new`, `trt_tensor_zeros`, `trt_tensor_borrow`,
`trt_view`, `trt_incref`, `trt_decref`, `trt_copy`, `trt_scalar_<dt>`, `trt_item_<dt>`, `trt_set_aux`,
`trt_set_release` (see docs/runtime.md "Tensor header" for the freeing rules; a header's tape node and
hooks are released through the slot rt_autograd installs, `trt_set_grad_release`).
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import I8, I32, I64, PTR, VOID, Emitter, c32, c64
from .rt_errors import emit_error, shape_text

NULL = ir.Constant(PTR, None)
SCALAR_DTYPES = (layout.BOOL, layout.INT8, layout.INT16, layout.INT32, layout.INT64,
                 layout.FLOAT16, layout.FLOAT32, layout.FLOAT64)


def _emit_alloc(em: Emitter) -> None:
    fb = em.define("trt_alloc", PTR, [PTR, I64])
    ctx, n = fb.args
    slot = fb.var(PTR, NULL)
    size = fb.select(fb.b.icmp_signed("<", n, c64(1)), c64(1), n)
    rc = fb.call("posix_memalign", slot, c64(64), size)
    with fb.if_then(fb.b.icmp_signed("!=", rc, c32(0)), likely=False):
        emit_error(fb, layout.ERR_MEMORY, "out of memory allocating %lld bytes", n)
        fb.ret(NULL)
    fb.ret(fb.load(slot, PTR))

    fb = em.define("trt_free", VOID, [PTR])
    fb.call("free", fb.args[0])
    fb.ret()


def _emit_header(em: Emitter) -> None:
    """Internal: a zeroed header (refcount 1) followed by `extra` bytes, or null with an error set."""
    fb = em.define("trt_header_alloc", PTR, [PTR, I64], public=False)
    ctx, extra = fb.args
    h = fb.call("trt_alloc", ctx, fb.b.add(extra, c64(layout.HEADER_SIZE)))
    fb.ret_if(fb.is_null(h), NULL)
    fb.call("memset", h, c32(0), c64(layout.HEADER_SIZE))
    fb.put(h, "refcount", 1)
    fb.ret(h)

    # Internal: validate rank/shape and copy it into h; returns numel or -1 with an error set.
    fb = em.define("trt_shape_numel", I64, [PTR, I32, PTR], public=False)
    ctx, rank, shape = fb.args
    with fb.if_then(fb.b.icmp_unsigned(">", rank, c32(layout.MAX_RANK)), likely=False):
        emit_error(fb, layout.ERR_VALUE, "rank %d exceeds the maximum rank 8", rank)
        fb.ret(c64(-1))
    n = fb.var(I64, c64(1))
    with fb.loop(0, fb.b.sext(rank, I64)) as i:
        d = fb.load(fb.at(shape, i, I64), I64)
        with fb.if_then(fb.b.icmp_signed("<", d, c64(0)), likely=False):
            emit_error(fb, layout.ERR_VALUE, "negative dimension %lld in a tensor shape", d)
            fb.ret(c64(-1))
        # numel * 8 must fit in an i64 (the largest element is 8 bytes)
        limit = fb.div_or(c64(2**60), d, 2**60)
        with fb.if_then(fb.b.icmp_signed(">", fb.load(n, I64), limit), likely=False):
            emit_error(fb, layout.ERR_MEMORY, "a tensor with dimension %lld is too large", d)
            fb.ret(c64(-1))
        fb.b.store(fb.b.mul(fb.load(n, I64), d), n)
    fb.ret(fb.load(n, I64))

    # Internal: data bytes for (dtype, rank, shape, numel).
    sizes = ir.ArrayType(I64, 9)
    size_table = em.global_var("trt_elem_size", sizes, list(layout.ELEM_SIZE))
    size_table.global_constant = True
    fb = em.define("trt_data_nbytes", I64, [I32, I32, PTR, I64], public=False)
    dtype, rank, shape, numel = fb.args
    with fb.if_then(fb.b.icmp_signed("==", dtype, c32(layout.TRIT))):
        fb.ret_if(fb.b.icmp_signed("==", rank, c32(0)), c64(1))
        last = fb.load(fb.at(shape, fb.b.sext(fb.b.sub(rank, c32(1)), I64), I64), I64)
        rows = fb.div_or(numel, last, 0)
        fb.ret(fb.b.mul(rows, fb.b.sdiv(fb.b.add(last, c64(3)), c64(4))))
    esz = fb.load(fb.b.gep(size_table, [c64(0), fb.b.sext(dtype, I64)], source_etype=sizes), I64)
    fb.ret(fb.b.mul(numel, esz))

    # Internal: fill dtype/rank/numel/shape of header h.
    fb = em.define("trt_header_init", VOID, [PTR, I32, I32, PTR, I64, I64], public=False)
    h, dtype, rank, shape, numel, nbytes = fb.args
    fb.put(h, "dtype", dtype)
    fb.put(h, "rank", rank)
    fb.put(h, "numel", numel)
    fb.put(h, "nbytes", nbytes)
    fb.call("memcpy", fb.byte_at(h, layout.SHAPE_OFFSET), shape, fb.b.mul(fb.b.sext(rank, I64), c64(8)))
    fb.ret()


def _emit_constructors(em: Emitter) -> None:
    for name, zero in (("trt_tensor_new", False), ("trt_tensor_zeros", True)):
        fb = em.define(name, PTR, [PTR, I32, I32, PTR])
        ctx, dtype, rank, shape = fb.args
        # Generated code passes valid codes; a C caller might not (the size table would be read past).
        with fb.if_then(fb.b.icmp_unsigned(">", dtype, c32(layout.FLOAT64)), likely=False):
            emit_error(fb, layout.ERR_VALUE, "%d is not a dtype code (0 bool ... 8 float64)", dtype)
            fb.ret(NULL)
        numel = fb.call("trt_shape_numel", ctx, rank, shape)
        fb.ret_if(fb.b.icmp_signed("<", numel, c64(0)), NULL)
        nbytes = fb.call("trt_data_nbytes", dtype, rank, shape, numel)
        h = fb.call("trt_header_alloc", ctx, nbytes)
        fb.ret_if(fb.is_null(h), NULL)
        fb.call("trt_header_init", h, dtype, rank, shape, numel, nbytes)
        data = fb.byte_at(h, layout.HEADER_SIZE)
        fb.put(h, "data", data)
        fb.put(h, "flags", layout.FLAG_DATA_INLINE)
        if zero:
            fb.call("memset", data, c32(0), nbytes)
        fb.ret(h)

    # trt_tensor_borrow(ctx, dtype, rank, shape, data, owner): header over an external buffer.
    fb = em.define("trt_tensor_borrow", PTR, [PTR, I32, I32, PTR, PTR, I64])
    ctx, dtype, rank, shape, data, owner = fb.args
    numel = fb.call("trt_shape_numel", ctx, rank, shape)
    fb.ret_if(fb.b.icmp_signed("<", numel, c64(0)), NULL)
    h = fb.call("trt_header_alloc", ctx, c64(0))
    fb.ret_if(fb.is_null(h), NULL)
    nbytes = fb.call("trt_data_nbytes", dtype, rank, shape, numel)
    fb.call("trt_header_init", h, dtype, rank, shape, numel, nbytes)
    fb.put(h, "data", data)
    fb.put(h, "owner", owner)
    fb.ret(h)

    # trt_view(ctx, t, rank, shape): same data, new shape (caller checked numel); holds a ref to the base.
    fb = em.define("trt_view", PTR, [PTR, PTR, I32, PTR])
    ctx, t, rank, shape = fb.args
    numel = fb.call("trt_shape_numel", ctx, rank, shape)
    fb.ret_if(fb.b.icmp_signed("<", numel, c64(0)), NULL)
    b = fb.b
    with fb.if_then(b.icmp_signed("==", fb.get(t, "dtype"), c32(layout.TRIT))):
        # Packed rows are padded per last-axis row: a view must keep the last dimension.
        r0 = b.sext(fb.get(t, "rank"), I64)
        last_in = fb.select(b.icmp_signed(">", r0, c64(0)), fb.dim(t, b.sub(r0, c64(1))), c64(-1))
        r1 = b.sext(rank, I64)
        last_out = fb.select(b.icmp_signed(">", r1, c64(0)),
                             fb.load(fb.at(shape, b.sub(r1, c64(1)), I64), I64), c64(-1))
        with fb.if_then(b.icmp_signed("!=", last_in, last_out), likely=False):
            emit_error(fb, layout.ERR_VALUE, "a packed ternary tensor of shape %s can only be reshaped "
                       "keeping its last dimension (%lld)", shape_text(fb, t), last_in)
            fb.ret(NULL)
    h = fb.call("trt_header_alloc", ctx, c64(0))
    fb.ret_if(fb.is_null(h), NULL)
    fb.call("trt_header_init", h, fb.get(t, "dtype"), rank, shape, numel, fb.get(t, "nbytes"))
    fb.put(h, "data", fb.get(t, "data"))
    tb = fb.get(t, "base")
    base = fb.select(fb.is_null(tb), t, tb)
    fb.call("trt_incref", base)
    fb.put(h, "base", base)
    fb.call("trt_copy_scales", h, t)
    fb.ret(h)

    fb = em.define("trt_copy_scales", VOID, [PTR, PTR], public=False)
    dst, src = fb.args
    fb.put(dst, "scale_kind", fb.get(src, "scale_kind"))
    s = fb.get(src, "scales")
    fb.call("trt_incref", s)
    fb.put(dst, "scales", s)
    fb.ret()

    fb = em.define("trt_copy", PTR, [PTR, PTR])
    ctx, t = fb.args
    h = fb.call("trt_tensor_new", ctx, fb.get(t, "dtype"), fb.get(t, "rank"),
                fb.byte_at(t, layout.SHAPE_OFFSET))
    fb.ret_if(fb.is_null(h), NULL)
    fb.call("memcpy", fb.get(h, "data"), fb.get(t, "data"), fb.get(t, "nbytes"))
    fb.call("trt_copy_scales", h, t)
    fb.ret(h)


def _emit_refcount(em: Emitter) -> None:
    release = em.callback_slot("trt_release_fn", "trt_set_release")
    # The autodiff state a header may hold (tape node, hooks) is released by rt_autograd's
    # `trt_grad_release`, reached through this slot: rt_autograd installs it when it first stores a node or
    # a hook (`trt_set_grad_release`), so this group links nothing of autodiff (or of objects).
    grad_release = em.global_var("trt_grad_release_fn", PTR, None)
    fb = em.define("trt_set_grad_release", VOID, [PTR], public=False)
    fb.b.store(fb.args[0], grad_release)
    fb.ret()

    fb = em.define("trt_incref", VOID, [PTR])
    fb.add_to_refcount(fb.args[0], "refcount", 1)
    fb.ret()

    fb = em.define("trt_decref", VOID, [PTR])
    t = fb.args[0]
    rc = fb.add_to_refcount(t, "refcount", -1)
    fb.ret_if(fb.b.icmp_signed(">", rc, c64(0)))
    flags = fb.get(t, "flags")
    with fb.if_then(fb.b.icmp_signed("!=", fb.b.and_(flags, c32(layout.FLAG_DATA_MALLOC)), c32(0))):
        fb.call("free", fb.get(t, "data"))
    owner = fb.get(t, "owner")
    with fb.if_then(fb.b.icmp_signed("!=", owner, c64(0))):
        fn = fb.load(release, PTR)
        with fb.if_then(fb.b.not_(fb.is_null(fn))):
            fb.call_ptr(fn, VOID, [I64], [owner])
    fb.call("trt_decref", fb.get(t, "base"))
    aux, aux_free = fb.get(t, "aux"), fb.get(t, "aux_free")
    with fb.if_then(fb.b.and_(fb.b.not_(fb.is_null(aux)), fb.b.not_(fb.is_null(aux_free)))):
        fb.call_ptr(aux_free, VOID, [PTR], [aux])
    fb.call("trt_decref", fb.get(t, "scales"))
    fb.call("trt_decref", fb.get(t, "grad"))
    fb.call("trt_decref", fb.get(t, "grad_pending"))
    no_graph = fb.b.and_(fb.is_null(fb.get(t, "tape_node")), fb.is_null(fb.get(t, "hooks")))
    has_graph = fb.b.not_(no_graph)
    with fb.if_then(has_graph):
        fn = fb.load(grad_release, PTR)
        with fb.if_then(fb.b.not_(fb.is_null(fn))):
            fb.call_ptr(fn, VOID, [PTR], [t])
    fb.call("free", t)
    fb.ret()

    fb = em.define("trt_set_aux", VOID, [PTR, PTR, PTR])
    t, aux, aux_free = fb.args
    old, old_free = fb.get(t, "aux"), fb.get(t, "aux_free")
    with fb.if_then(fb.b.and_(fb.b.not_(fb.is_null(old)), fb.b.not_(fb.is_null(old_free)))):
        fb.call_ptr(old_free, VOID, [PTR], [old])
    fb.put(t, "aux", aux)
    fb.put(t, "aux_free", aux_free)
    fb.ret()


def _emit_scalars(em: Emitter) -> None:
    for code in SCALAR_DTYPES:
        suffix, ty = layout.SUFFIX[code], layout.scalar_type(code)
        fb = em.define(f"trt_scalar_{suffix}", PTR, [PTR, ty])
        ctx, v = fb.args
        h = fb.call("trt_tensor_new", ctx, c32(code), c32(0), ir.Constant(PTR, None))
        fb.ret_if(fb.is_null(h), NULL)
        fb.b.store(v, fb.get(h, "data"))
        fb.ret(h)

        fb = em.define(f"trt_item_{suffix}", ty, [PTR, PTR])
        ctx, t = fb.args
        zero = ir.Constant(ty, 0)
        with fb.if_then(fb.b.icmp_signed("!=", fb.get(t, "dtype"), c32(code)), likely=False):
            emit_error(fb, layout.ERR_TYPE, "expected a %s tensor", em.cstring(layout.DTYPE_NAMES[code]))
            fb.ret(zero)
        n = fb.get(t, "numel")
        with fb.if_then(fb.b.icmp_signed("!=", n, c64(1)), likely=False):
            emit_error(fb, layout.ERR_VALUE,
                       "only a tensor with one element converts to a scalar (it has %lld)", n)
            fb.ret(zero)
        fb.ret(fb.load(fb.get(t, "data"), ty))


def emit(em: Emitter) -> None:
    _emit_alloc(em)
    em.declare("trt_incref", VOID, [PTR])
    em.declare("trt_decref", VOID, [PTR])
    em.declare("trt_copy_scales", VOID, [PTR, PTR])
    _emit_header(em)
    _emit_constructors(em)
    _emit_refcount(em)
    _emit_scalars(em)


__all__ = ["emit", "SCALAR_DTYPES", "I8"]
