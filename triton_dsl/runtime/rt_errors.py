"""Runtime error reporting in native code: the context's error state and the standard messages.

In: an `Emitter`. Out: `trt_set_error`, `trt_set_location`, `trt_push_frame`, `trt_clear_error`, `trt_panic`,
`trt_err_shape_mismatch`, `trt_err_index`, `trt_broadcast_shapes` and the internal `trt_fmt_shape`
(writes "[3, 4]" into a char buffer). Python-side helper `emit_error` lets other rt_* modules raise a
formatted error (snprintf into a stack buffer, then `trt_set_error`) in one line.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import I8, I32, I64, PTR, VOID, Emitter, FnBuilder, c32, c64

_MSG = layout.MESSAGE_SIZE


def emit_error(fb: FnBuilder, code: int, fmt: str, *args) -> None:
    """Set `fb`'s context (its first argument) to error `code` with a printf-formatted message."""
    buf = fb.var(ir.ArrayType(I8, _MSG))
    fb.call("snprintf", buf, c64(_MSG), fb.em.cstring(fmt), *args)
    fb.call("trt_set_error", fb.args[0], c32(code), buf)


def shape_text(fb: FnBuilder, t):
    """A stack buffer holding the text of `t`'s shape, e.g. `[3, 4]`."""
    buf = fb.var(ir.ArrayType(I8, 200))
    fb.call("trt_fmt_shape", buf, c64(200), t)
    return buf


def _copy_message(fb: FnBuilder, ctx, data, n) -> None:
    """Copy n bytes at `data` into the context's message, truncated to fit with its closing NUL."""
    n = fb.select(fb.b.icmp_signed(">", n, c64(_MSG - 1)), c64(_MSG - 1), n)
    dst = fb.byte_at(ctx, layout.MESSAGE_OFFSET)
    fb.call("memcpy", dst, data, n)
    fb.b.store(ir.Constant(I8, 0), fb.byte_at(dst, n))


def _emit_set_error(em: Emitter) -> None:
    fb = em.define("trt_set_error", VOID, [PTR, I32, PTR])
    ctx, code, msg = fb.args
    fb.ret_if(fb.b.icmp_signed("!=", fb.get(ctx, "code"), c32(0)))
    fb.put(ctx, "code", code)
    _copy_message(fb, ctx, msg, fb.call("strlen", msg))
    fb.ret()

    fb = em.define("trt_set_location", VOID, [PTR, PTR, I32, I32])
    ctx, file, line, col = fb.args
    has_line = fb.b.icmp_signed("!=", fb.get(ctx, "line"), c32(0))
    has = fb.b.or_(has_line, fb.b.not_(fb.is_null(fb.get(ctx, "file"))))
    fb.ret_if(has)
    fb.put(ctx, "file", file)
    fb.put(ctx, "line", line)
    fb.put(ctx, "col", col)
    fb.ret()
    _emit_push_frame(em)

    fb = em.define("trt_clear_error", VOID, [PTR])
    ctx = fb.args[0]
    for name in ("code", "line", "col", "frame_count"):
        fb.put(ctx, name, 0)
    fb.put(ctx, "file", ir.Constant(PTR, None))
    fb.b.store(ir.Constant(I8, 0), fb.byte_at(ctx, layout.MESSAGE_OFFSET))
    fb.ret()

    fb = em.define("trt_panic", VOID, [PTR, PTR, I64])
    ctx, data, n = fb.args
    fb.ret_if(fb.b.icmp_signed("!=", fb.get(ctx, "code"), c32(0)))
    fb.put(ctx, "code", layout.ERR_PANIC)
    _copy_message(fb, ctx, data, n)
    fb.ret()


def _emit_push_frame(em: Emitter) -> None:
    """trt_push_frame(ctx, file, line, col, width): a failing call unwinds through this call site. An error
    without a location takes the call site as its location; otherwise the site is appended to the call
    trace (innermost first; sites past `MAX_FRAMES` are dropped)."""
    fb = em.define("trt_push_frame", VOID, [PTR, PTR, I32, I32, I32])
    ctx, file, line, col, width = fb.args
    has_line = fb.b.icmp_signed("!=", fb.get(ctx, "line"), c32(0))
    has = fb.b.or_(has_line, fb.b.not_(fb.is_null(fb.get(ctx, "file"))))
    with fb.b.if_then(fb.b.not_(has)):
        fb.call("trt_set_location", ctx, file, line, col)
        fb.ret()
    count = fb.get(ctx, "frame_count")
    fb.ret_if(fb.b.icmp_signed(">=", count, c32(layout.MAX_FRAMES)))
    offset = fb.b.add(c64(layout.FRAMES_OFFSET), fb.b.mul(fb.b.sext(count, I64), c64(layout.FRAME_SIZE)))
    frame = fb.byte_at(ctx, offset)
    fb.b.store(file, frame)
    for at, value in ((8, line), (12, col), (16, width)):
        fb.b.store(value, fb.byte_at(frame, at))
    fb.put(ctx, "frame_count", fb.b.add(count, c32(1)))
    fb.ret()


def _emit_fmt_shape(em: Emitter) -> None:
    # i64 trt_fmt_shape(char *buf, i64 cap, tensor *t): writes "[d0, d1]" (truncated to cap), returns length.
    fb = em.define("trt_fmt_shape", I64, [PTR, I64, PTR], public=False)
    buf, cap, t = fb.args
    pos = fb.var(I64, c64(0))
    rank = fb.b.sext(fb.get(t, "rank"), I64)

    def emit_piece(fmt: str, *args):
        p = fb.load(pos, I64)
        room = fb.b.sub(cap, p)
        with fb.if_then(fb.b.icmp_signed(">", room, c64(1))):
            n = fb.call("snprintf", fb.byte_at(buf, p), room, em.cstring(fmt), *args)
            n = fb.b.sext(n, I64)
            n = fb.select(fb.b.icmp_signed(">=", n, room), fb.b.sub(room, c64(1)), n)
            fb.b.store(fb.b.add(p, n), pos)

    emit_piece("[")
    with fb.loop(0, rank) as i:
        with fb.if_then(fb.b.icmp_signed(">", i, c64(0))):
            emit_piece(", ")
        emit_piece("%lld", fb.dim(t, i))
    emit_piece("]")
    fb.ret(fb.load(pos, I64))


def _emit_helpers(em: Emitter) -> None:
    fb = em.define("trt_err_shape_mismatch", VOID, [PTR, PTR, PTR, PTR])
    ctx, op, a, b = fb.args
    emit_error(fb, layout.ERR_SHAPE, "shape mismatch in `%s`: %s vs %s", op, shape_text(fb, a),
               shape_text(fb, b))
    fb.ret()

    fb = em.define("trt_err_index", VOID, [PTR, I64, I32, I64])
    ctx, index, axis, size = fb.args
    emit_error(fb, layout.ERR_INDEX, "index %lld is out of bounds for axis %d with size %lld",
               index, axis, size)
    fb.ret()

    # i32 trt_broadcast_shapes(ctx, op, a, b, i64 *out_shape, i32 *out_rank): numpy broadcasting.
    fb = em.define("trt_broadcast_shapes", I32, [PTR, PTR, PTR, PTR, PTR, PTR])
    ctx, op, a, b, out, out_rank = fb.args
    ra, rb = fb.get(a, "rank"), fb.get(b, "rank")
    r = fb.select(fb.b.icmp_signed(">", ra, rb), ra, rb)
    fb.b.store(r, out_rank)
    r64, ra64, rb64 = (fb.b.sext(v, I64) for v in (r, ra, rb))
    with fb.loop(0, r64) as k:  # k counts from the last axis
        def dim_or_one(t, rt):
            idx = fb.b.sub(fb.b.sub(rt, c64(1)), k)
            slot = fb.var(I64, c64(1))
            with fb.if_then(fb.b.icmp_signed(">=", idx, c64(0))):
                fb.b.store(fb.dim(t, idx), slot)
            return fb.load(slot, I64)
        da, db = dim_or_one(a, ra64), dim_or_one(b, rb64)
        ok = fb.b.or_(fb.b.or_(fb.b.icmp_signed("==", da, db), fb.b.icmp_signed("==", da, c64(1))),
                      fb.b.icmp_signed("==", db, c64(1)))
        with fb.if_then(fb.b.not_(ok), likely=False):
            fb.call("trt_err_shape_mismatch", ctx, op, a, b)
            fb.ret(c32(1))
        d = fb.select(fb.b.icmp_signed("==", da, c64(1)), db, da)
        fb.b.store(d, fb.at(out, fb.b.sub(fb.b.sub(r64, c64(1)), k), I64))
    fb.ret(c32(0))


def emit(em: Emitter) -> None:
    _emit_set_error(em)
    _emit_fmt_shape(em)
    _emit_helpers(em)
