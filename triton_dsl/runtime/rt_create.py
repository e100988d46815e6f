"""Tensor creation in native code, plus concat / stack / broadcast_to.

In: an `Emitter`. Out: `trt_full_<dt>`, `trt_arange`, `trt_from_data`, `trt_concat`, `trt_stack`,
`trt_broadcast_to` (docs/runtime.md "Creation and casts", "Shape ops"). Casts live in rt_cast.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F64, I32, I64, PTR, Emitter, FnBuilder, c32, c64
from .rt_errors import emit_error, shape_text
from .rt_memory import SCALAR_DTYPES

NULL = ir.Constant(PTR, None)
SHAPE_T = ir.ArrayType(I64, layout.MAX_RANK)


def _new_like_dtype(fb: FnBuilder, ctx, dtype, rank, shape):
    """trt_tensor_new, with trit rows pre-filled with code 1 (zero), so padding stays valid."""
    out = fb.call("trt_tensor_new", ctx, dtype, rank, shape)
    fb.ret_if(fb.is_null(out), NULL)
    with fb.if_then(fb.b.icmp_signed("==", dtype, c32(layout.TRIT))):
        fb.call("memset", fb.get(out, "data"), c32(0x55), fb.get(out, "nbytes"))
    return out


def _emit_creation(em: Emitter) -> None:
    for code in SCALAR_DTYPES:
        ty = layout.scalar_type(code)
        fb = em.define(f"trt_full_{layout.SUFFIX[code]}", PTR, [PTR, I32, PTR, ty])
        ctx, rank, shape, v = fb.args
        out = fb.call("trt_tensor_new", ctx, c32(code), rank, shape)
        fb.ret_if(fb.is_null(out), NULL)
        data = fb.get(out, "data")
        with fb.loop(0, fb.get(out, "numel")) as i:
            fb.b.store(v, fb.at(data, i, ty))
        fb.ret(out)

    fb = em.define("trt_arange", PTR, [PTR, I32, F64, F64, F64])
    ctx, dtype, start, stop, step = fb.args
    b = fb.b
    with fb.if_then(b.fcmp_unordered("==", step, ir.Constant(F64, 0.0)), likely=False):
        emit_error(fb, layout.ERR_VALUE, "arange: step must not be zero")
        fb.ret(NULL)
    count = fb.call("ceil", b.fdiv(b.fsub(stop, start), step))
    whole = b.call(em.intrinsic("llvm.fptosi.sat.i64.f64", I64, [F64]), [count])  # no poison at 1e30
    n = fb.select(b.fcmp_ordered(">", count, ir.Constant(F64, 0.0)), whole, c64(0))
    shape = fb.var(SHAPE_T)
    b.store(n, fb.at(shape, 0, I64))
    out = _new_like_dtype(fb, ctx, dtype, c32(1), shape)
    with fb.loop(0, n) as i:
        v = b.fadd(start, b.fmul(b.sitofp(i, F64), step))
        with fb.if_then(b.icmp_signed("!=", fb.call("trt_store_f64", ctx, out, i, v), c32(0))):
            fb.call("trt_decref", out)
            fb.ret(NULL)
    fb.ret(out)

    fb = em.define("trt_from_data", PTR, [PTR, I32, I32, PTR, PTR])
    ctx, dtype, rank, shape, data = fb.args
    out = fb.call("trt_tensor_new", ctx, dtype, rank, shape)
    fb.ret_if(fb.is_null(out), NULL)
    fb.call("memcpy", fb.get(out, "data"), data, fb.get(out, "nbytes"))
    fb.ret(out)


def _emit_join(em: Emitter) -> None:
    for name in ("trt_concat", "trt_stack"):
        stack = name == "trt_stack"
        fb = em.define(name, PTR, [PTR, PTR, I64, I32])
        ctx, ts, n, dim = fb.args
        b = fb.b
        with fb.if_then(b.icmp_signed("<", n, c64(1)), likely=False):
            emit_error(fb, layout.ERR_VALUE, f"{name[4:]} needs at least one tensor")
            fb.ret(NULL)
        t0 = fb.load(ts, PTR)
        rank = fb.get(t0, "rank")
        d = fb.call("trt_dim_arg", ctx, dim, b.add(rank, c32(1)) if stack else rank)
        fb.ret_if(b.icmp_signed("<", d, c32(0)), NULL)
        d64 = b.sext(d, I64)
        total = fb.var(I64, c64(0))
        with fb.loop(0, n) as i:
            ti = fb.load(fb.at(ts, i, PTR), PTR)
            with fb.if_then(b.icmp_signed("!=", fb.get(ti, "dtype"), fb.get(t0, "dtype")), likely=False):
                emit_error(fb, layout.ERR_TYPE, f"{name[4:]}: all tensors must have the same dtype")
                fb.ret(NULL)
            with fb.if_then(b.icmp_signed("==", fb.get(ti, "dtype"), c32(layout.TRIT)), likely=False):
                emit_error(fb, layout.ERR_TYPE, f"{name[4:]} of packed ternary tensors is not supported")
                fb.ret(NULL)
            same = fb.var(I32, b.zext(b.icmp_signed("==", fb.get(ti, "rank"), rank), I32))
            with fb.loop(0, b.sext(rank, I64)) as k:
                eq = b.icmp_signed("==", fb.dim(ti, k), fb.dim(t0, k))
                if not stack:
                    eq = b.or_(eq, b.icmp_signed("==", k, d64))
                with fb.if_then(b.not_(eq)):
                    b.store(c32(0), same)
            with fb.if_then(b.icmp_signed("==", fb.load(same, I32), c32(0)), likely=False):
                fb.call("trt_err_shape_mismatch", ctx, em.cstring(name[4:]), t0, ti)
                fb.ret(NULL)
            extent = c64(1) if stack else fb.dim(ti, d64)
            b.store(b.add(fb.load(total, I64), extent), total)
        shape, outer = fb.var(SHAPE_T), fb.var(I64, c64(1))
        r = fb.var(I64, c64(0))
        with fb.loop(0, b.add(b.sext(rank, I64), c64(1 if stack else 0))) as k:
            src_k = b.sub(k, c64(1)) if stack else k
            at_d = b.icmp_signed("==", k, d64)
            after = b.icmp_signed(">", k, d64) if stack else ir.Constant(ir.IntType(1), 0)
            size = fb.select(at_d, fb.load(total, I64), fb.dim(t0, fb.select(after, src_k, k)))
            b.store(size, fb.at(shape, k, I64))
            with fb.if_then(b.icmp_signed("<", k, d64)):
                b.store(b.mul(fb.load(outer, I64), size), outer)
            b.store(b.add(k, c64(1)), r)
        out = fb.call("trt_tensor_new", ctx, fb.get(t0, "dtype"), b.trunc(fb.load(r, I64), I32), shape)
        fb.ret_if(fb.is_null(out), NULL)
        row_bytes = fb.var(I64, c64(0))  # bytes of one outer row of the output
        with fb.if_then(b.icmp_signed(">", fb.load(outer, I64), c64(0))):
            b.store(b.sdiv(fb.get(out, "nbytes"), fb.load(outer, I64)), row_bytes)
        placed = fb.var(I64, c64(0))
        with fb.loop(0, n) as i:
            ti = fb.load(fb.at(ts, i, PTR), PTR)
            ob = fb.load(outer, I64)
            chunk = fb.div_or(fb.get(ti, "nbytes"), ob, 0)
            with fb.loop(0, ob) as o:
                at = b.add(b.mul(o, fb.load(row_bytes, I64)), fb.load(placed, I64))
                dst = fb.byte_at(fb.get(out, "data"), at)
                fb.call("memcpy", dst, fb.byte_at(fb.get(ti, "data"), b.mul(o, chunk)), chunk)
            b.store(b.add(fb.load(placed, I64), chunk), placed)
        fb.ret(out)

    fb = em.define("trt_broadcast_to", PTR, [PTR, PTR, I32, PTR])
    ctx, t, rank, shape = fb.args
    b = fb.b
    r0 = b.sext(fb.get(t, "rank"), I64)
    r = b.sext(rank, I64)
    target = fb.var(ir.ArrayType(ir.IntType(8), layout.HEADER_SIZE))
    fb.put(target, "rank", rank)
    with fb.if_then(b.icmp_unsigned("<=", rank, c32(layout.MAX_RANK))):
        fb.call("memcpy", fb.byte_at(target, layout.SHAPE_OFFSET), shape, b.mul(r, c64(8)))
    strides = fb.var(SHAPE_T)
    acc = fb.var(I64, c64(1))
    bad = b.or_(b.icmp_signed("<", r, r0), b.icmp_unsigned(">", rank, c32(layout.MAX_RANK)))
    with fb.if_then(bad, likely=False):
        emit_error(fb, layout.ERR_SHAPE, "cannot broadcast a tensor of shape %s to a shape of rank %d",
                   shape_text(fb, t), rank)
        fb.ret(NULL)
    with fb.loop(0, r) as j:
        ax = b.sub(b.sub(r, c64(1)), j)
        src_ax = b.sub(ax, b.sub(r, r0))
        want = fb.load(fb.at(shape, ax, I64), I64)
        stride = fb.var(I64, c64(0))
        with fb.if_then(b.icmp_signed(">=", src_ax, c64(0))):
            have = fb.dim(t, src_ax)
            clash = b.and_(b.icmp_signed("!=", have, want), b.icmp_signed("!=", have, c64(1)))
            with fb.if_then(clash, likely=False):
                emit_error(fb, layout.ERR_SHAPE, "cannot broadcast a tensor of shape %s to shape %s",
                           shape_text(fb, t), shape_text(fb, target))
                fb.ret(NULL)
            with fb.if_then(b.icmp_signed("==", have, want)):
                b.store(fb.load(acc, I64), stride)
            b.store(b.mul(fb.load(acc, I64), have), acc)
        b.store(fb.load(stride, I64), fb.at(strides, ax, I64))
    with fb.if_then(b.icmp_signed("==", fb.get(t, "dtype"), c32(layout.TRIT)), likely=False):
        emit_error(fb, layout.ERR_TYPE, "broadcast_to of a packed ternary tensor is not supported")
        fb.ret(NULL)
    out = fb.call("trt_tensor_new", ctx, fb.get(t, "dtype"), rank, shape)
    fb.ret_if(fb.is_null(out), NULL)
    esize = fb.call("trt_elem_bytes", fb.get(t, "dtype"))
    fb.call("trt_strided_copy", fb.get(out, "data"), fb.get(t, "data"), esize, rank, shape, strides, c64(0))
    fb.ret(out)


def emit(em: Emitter) -> None:
    _emit_creation(em)
    _emit_join(em)
