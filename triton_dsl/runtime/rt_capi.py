"""The runtime's C API: what a C program linked with a `tritonc build` library calls to make, fill and
read tensors and contexts, and the C declarations of it that go into the generated header.

In: an `Emitter` (for `emit`). Out: public runtime functions with a plain C ABI (no Python anywhere):

- contexts: `trt_ctx_new() -> trt_ctx*` (zeroed; null when out of memory), `trt_ctx_free(ctx)`;
- errors: `trt_error_code/line/col(ctx) -> i32`, `trt_error_message/file(ctx) -> const char*`,
  `trt_error_format(ctx, char *buf, i64 cap) -> i64` (the `file:line:col: error: message` report with
  one `note: called from here` line per frame, as `tritonc run` prints it; NUL-terminated, truncated
  to `cap`; returns the bytes written);
- tensors: `trt_tensor_data(t) -> void*`, `trt_tensor_dtype/rank(t) -> i32`, `trt_tensor_dim(t, axis)
  -> i64` (negative axes count from the end; -1 when out of range), `trt_tensor_shape(t) -> const
  i64*`, `trt_tensor_numel/nbytes(t) -> i64`;
- ternary tensors: `trt_ternary_new(ctx, rank, shape, packed, scale_kind, scales)` copies bytes in the
  interchange layout (docs/ternary_format.md) and checks every code and padding slot;
  `trt_ternary_from_trits(ctx, rank, shape, const int8_t *trits, scale_kind, scales)` packs -1/0/+1
  values; `trt_ternary_scale_kind(t) -> i32`, `trt_ternary_scales(t) -> const float*` (null when none),
  `trt_ternary_scale_count(t) -> i64`;
- strings: `trt_str_data(s) -> const char*`, `trt_str_len(s) -> i64`.

The C declarations of these (and of the other runtime functions a C program needs) are in
`abi/c_api.py`, which the generated header includes; tests/unit/test_capi.py checks them against the IR.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F32, I8, I32, I64, PTR, VOID, Emitter, FnBuilder, c32, c64, opaque
from .rt_errors import emit_error, shape_text

NULL = ir.Constant(PTR, None)


def _emit_context(em: Emitter) -> None:
    fb = em.define("trt_ctx_new", PTR, [])
    ctx = fb.call("malloc", c64(layout.CTX_SIZE))
    with fb.if_then(fb.b.not_(fb.is_null(ctx))):
        fb.call("memset", ctx, c32(0), c64(layout.CTX_SIZE))
    fb.ret(ctx)

    fb = em.define("trt_ctx_free", VOID, [PTR])
    fb.call("free", fb.args[0])  # free(NULL) is a no-op
    fb.ret()

    for name, field in (("trt_error_code", "code"), ("trt_error_line", "line"), ("trt_error_col", "col")):
        fb = em.define(name, I32, [PTR])
        fb.ret(fb.get(fb.args[0], field))
    fb = em.define("trt_error_file", PTR, [PTR])
    fb.ret(fb.get(fb.args[0], "file"))
    fb = em.define("trt_error_message", PTR, [PTR])
    fb.ret(fb.byte_at(fb.args[0], layout.MESSAGE_OFFSET))
    _emit_error_format(em)


def _emit_error_format(em: Emitter) -> None:
    fb = em.define("trt_error_format", I64, [PTR, PTR, I64])
    ctx, buf, cap = fb.args
    b = fb.b
    fb.ret_if(b.icmp_signed("<", cap, c64(1)), c64(0))
    b.store(ir.Constant(I8, 0), buf)
    fb.ret_if(b.icmp_signed("==", fb.get(ctx, "code"), c32(0)), c64(0))
    pos = fb.var(I64, c64(0))

    def piece(fmt: str, *args) -> None:
        # snprintf returns the length it wanted; clamp to what fits, so later pieces append nothing.
        p = fb.load(pos, I64)
        room = b.sub(cap, p)
        with fb.if_then(b.icmp_signed(">", room, c64(1))):
            n = b.sext(fb.call("snprintf", fb.byte_at(buf, p), room, em.cstring(fmt), *args), I64)
            n = fb.select(b.icmp_signed(">=", n, room), b.sub(room, c64(1)), n)
            n = fb.select(b.icmp_signed("<", n, c64(0)), c64(0), n)
            b.store(b.add(p, n), pos)

    file = fb.get(ctx, "file")
    with fb.if_else(fb.is_null(file)) as (unknown, known):
        with unknown:
            piece("error: %s\n", fb.byte_at(ctx, layout.MESSAGE_OFFSET))
        with known:
            piece("%s:%d:%d: error: %s\n", file, fb.get(ctx, "line"), fb.get(ctx, "col"),
                  fb.byte_at(ctx, layout.MESSAGE_OFFSET))
    count = b.sext(fb.get(ctx, "frame_count"), I64)
    count = fb.select(b.icmp_signed(">", count, c64(layout.MAX_FRAMES)), c64(layout.MAX_FRAMES), count)
    with fb.loop(0, count) as i:
        frame = fb.byte_at(ctx, b.add(c64(layout.FRAMES_OFFSET), b.mul(i, c64(layout.FRAME_SIZE))))
        site = fb.load(frame, PTR)
        site = fb.select(fb.is_null(site), em.cstring("<unknown>"), site)
        piece("%s:%d:%d: note: called from here\n", site, fb.load(fb.byte_at(frame, 8), I32),
              fb.load(fb.byte_at(frame, 12), I32))
    fb.ret(fb.load(pos, I64))


def _emit_tensor_access(em: Emitter) -> None:
    for name, field in (("trt_tensor_dtype", "dtype"), ("trt_tensor_rank", "rank")):
        fb = em.define(name, I32, [PTR])
        fb.ret(fb.get(fb.args[0], field))
    for name, field in (("trt_tensor_numel", "numel"), ("trt_tensor_nbytes", "nbytes")):
        fb = em.define(name, I64, [PTR])
        fb.ret(fb.get(fb.args[0], field))
    fb = em.define("trt_tensor_data", PTR, [PTR])
    fb.ret(fb.get(fb.args[0], "data"))
    fb = em.define("trt_tensor_shape", PTR, [PTR])
    fb.ret(fb.byte_at(fb.args[0], layout.SHAPE_OFFSET))

    fb = em.define("trt_tensor_dim", I64, [PTR, I32])
    t, axis = fb.args
    b = fb.b
    rank = fb.get(t, "rank")
    axis = fb.select(b.icmp_signed("<", axis, c32(0)), b.add(axis, rank), axis)
    outside = b.or_(b.icmp_signed("<", axis, c32(0)), b.icmp_signed(">=", axis, rank))
    fb.ret_if(outside, c64(-1))
    fb.ret(fb.dim(t, b.sext(axis, I64)))

    fb = em.define("trt_str_data", PTR, [PTR])
    fb.ret(fb.byte_at(fb.args[0], layout.STR_DATA_OFFSET))
    fb = em.define("trt_str_len", I64, [PTR])
    fb.ret(fb.get(fb.args[0], "str_len"))


def _emit_attach_scales(em: Emitter) -> None:
    """Internal `i32 trt_ternary_attach_scales(ctx, t, kind, const float *scales)`: give the fresh trit
    header `t` a float32 copy of its scales; 0, or 1 with an error set (the caller frees `t`)."""
    fb = em.define("trt_ternary_attach_scales", I32, [PTR, PTR, I32, PTR], public=False)
    ctx, t, kind, scales = fb.args
    b = fb.b
    known = b.and_(b.icmp_signed(">=", kind, c32(layout.SCALE_TENSOR)),
                   b.icmp_signed("<=", kind, c32(layout.SCALE_ASYMMETRIC)))
    with fb.if_then(b.not_(known), likely=False):
        emit_error(fb, layout.ERR_VALUE, "scale kind %d is not 1 (tensor), 2 (channel) or 3 (asymmetric)",
                   kind)
        fb.ret(c32(1))
    rank = fb.get(t, "rank")
    channel = b.icmp_signed("==", kind, c32(layout.SCALE_CHANNEL))
    with fb.if_then(b.and_(channel, b.icmp_signed("==", rank, c32(0))), likely=False):
        emit_error(fb, layout.ERR_VALUE, "a scalar ternary tensor has no channels: give one scale")
        fb.ret(c32(1))
    count = fb.var(I64, c64(1))
    with fb.if_then(b.icmp_signed("==", kind, c32(layout.SCALE_ASYMMETRIC))):
        b.store(c64(2), count)
    with fb.if_then(channel):
        b.store(fb.dim(t, 0), count)
    n = fb.load(count, I64)
    with fb.if_then(b.and_(fb.is_null(scales), b.icmp_signed(">", n, c64(0))), likely=False):
        emit_error(fb, layout.ERR_VALUE, "the scales of a ternary tensor are NULL (%lld needed)", n)
        fb.ret(c32(1))
    with fb.loop(0, n) as i:
        v = fb.load(fb.at(scales, i, F32), F32)
        # finite <=> |v| < inf (NaN compares false)
        finite = b.fcmp_ordered("<", b.call(em.intrinsic("llvm.fabs.f32", F32, [F32]), [v]),
                                ir.Constant(F32, float("inf")))
        with fb.if_then(b.not_(finite), likely=False):
            emit_error(fb, layout.ERR_VALUE, "scales must be finite numbers, got %g (scale %lld)",
                       b.fpext(v, ir.DoubleType()), i)
            fb.ret(c32(1))
    dims = fb.var(I64, n)
    out = fb.call("trt_tensor_new", ctx, c32(layout.FLOAT32), c32(1), dims)
    fb.ret_if(fb.is_null(out), c32(1))
    fb.call("memcpy", fb.get(out, "data"), scales, b.mul(n, c64(4)))
    fb.put(t, "scale_kind", kind)
    fb.put(t, "scales", out)
    fb.ret(c32(0))


def _check_packed(fb: FnBuilder, t) -> None:
    """Fail (return null after freeing `t`) unless every code of `t` is 0-2 and every padding slot 1."""
    b = fb.b
    rank = fb.get(t, "rank")
    cols = fb.var(I64, c64(1))  # rank 0: one row of one element
    with fb.if_then(b.icmp_signed(">", rank, c32(0))):
        b.store(fb.dim(t, b.sext(b.sub(rank, c32(1)), I64)), cols)
    cols = fb.load(cols, I64)
    row_bytes = b.sdiv(b.add(cols, c64(3)), c64(4))
    row_bytes = fb.select(b.icmp_signed("<", row_bytes, c64(1)), c64(1), row_bytes)  # no srem by 0
    used = b.srem(cols, c64(4))  # slots of a row's last byte that hold elements (0: all four)
    # padding bits of a row's last byte must read code 1 in every unused slot
    pad_mask = b.and_(b.shl(c64(0xFF), b.mul(used, c64(2))), c64(0xFF))
    pad_mask = fb.select(b.icmp_signed("==", used, c64(0)), c64(0), pad_mask)
    data = fb.get(t, "data")
    with fb.loop(0, fb.get(t, "nbytes")) as i:
        byte = b.zext(fb.load(fb.at(data, i, I8), I8), I64)
        code3 = b.and_(b.and_(byte, b.lshr(byte, c64(1))), c64(0x55))  # a slot holding binary 11
        last = b.icmp_signed("==", b.srem(i, row_bytes), b.sub(row_bytes, c64(1)))
        bad_pad = b.and_(last, b.icmp_signed("!=", b.and_(byte, pad_mask), b.and_(c64(0x55), pad_mask)))
        bad = b.or_(b.icmp_signed("!=", code3, c64(0)), bad_pad)
        with fb.if_then(bad, likely=False):
            emit_error(fb, layout.ERR_VALUE, "packed ternary data is corrupt: byte %lld (0x%02llx) holds the "
                       "invalid code 3 or non-zero padding (docs/ternary_format.md)", i, byte)
            fb.call("trt_decref", t)
            fb.ret(NULL)


def _emit_ternary(em: Emitter) -> None:
    _emit_attach_scales(em)

    fb = em.define("trt_ternary_new", PTR, [PTR, I32, PTR, PTR, I32, PTR])
    ctx, rank, shape, packed, kind, scales = fb.args
    b = fb.b
    t = fb.call("trt_tensor_new", ctx, c32(layout.TRIT), rank, shape)
    fb.ret_if(fb.is_null(t), NULL)
    nbytes = fb.get(t, "nbytes")
    with fb.if_then(b.and_(fb.is_null(packed), b.icmp_signed(">", nbytes, c64(0))), likely=False):
        emit_error(fb, layout.ERR_VALUE, "the packed bytes of a ternary tensor are NULL (%lld needed)",
                   nbytes)
        fb.call("trt_decref", t)
        fb.ret(NULL)
    fb.call("memcpy", fb.get(t, "data"), packed, nbytes)
    _check_packed(fb, t)
    with fb.if_then(b.icmp_signed("!=", fb.call("trt_ternary_attach_scales", ctx, t, kind, scales), c32(0))):
        fb.call("trt_decref", t)
        fb.ret(NULL)
    fb.ret(t)

    fb = em.define("trt_ternary_from_trits", PTR, [PTR, I32, PTR, PTR, I32, PTR])
    ctx, rank, shape, trits, kind, scales = fb.args
    b = fb.b
    values = fb.call("trt_tensor_new", ctx, c32(layout.INT8), rank, shape)
    fb.ret_if(fb.is_null(values), NULL)
    n = fb.get(values, "nbytes")
    with fb.if_then(b.and_(fb.is_null(trits), b.icmp_signed(">", n, c64(0))), likely=False):
        emit_error(fb, layout.ERR_VALUE, "the trits of a ternary tensor are NULL (%lld needed)", n)
        fb.call("trt_decref", values)
        fb.ret(NULL)
    fb.call("memcpy", fb.get(values, "data"), trits, n)
    t = fb.call("trt_cast", ctx, values, c32(layout.TRIT))  # packs; fails on a value outside -1..1
    fb.call("trt_decref", values)
    fb.ret_if(fb.is_null(t), NULL)
    with fb.if_then(b.icmp_signed("!=", fb.call("trt_ternary_attach_scales", ctx, t, kind, scales), c32(0))):
        fb.call("trt_decref", t)
        fb.ret(NULL)
    fb.ret(t)

    fb = em.define("trt_ternary_scale_kind", I32, [PTR])
    fb.ret(fb.get(fb.args[0], "scale_kind"))
    fb = em.define("trt_ternary_scales", PTR, [PTR])
    s = fb.get(fb.args[0], "scales")
    fb.ret_if(fb.is_null(s), NULL)
    fb.ret(fb.get(s, "data"))
    fb = em.define("trt_ternary_scale_count", I64, [PTR])
    s = fb.get(fb.args[0], "scales")
    fb.ret_if(fb.is_null(s), c64(0))
    fb.ret(fb.get(s, "numel"))


def _emit_check_argument(em: Emitter) -> None:
    """`i32 trt_check_argument(ctx, t, i32 dtype, i32 rank, const i64 *dims, what, declared)`: the C ABI
    entry of a DSL function checks each tensor argument with it (the Python API checks in Python): not
    NULL, of `dtype`, `rank` dims, and `dims[i]` where that is not -1 (a static dim of the declaration).
    0, or 1 with an error naming the argument (`what`), the declared type and what was passed (a type error
    for the dtype, a shape mismatch for the rank or a dim, an invalid value for NULL)."""
    names = ir.ArrayType(PTR, len(layout.DTYPE_NAMES))
    spelled = ["ternary (trit)" if n == "trit" else n for n in layout.DTYPE_NAMES]
    table = em.global_var("trt_dtype_names", names, [em.cstring(n) for n in spelled])
    table.global_constant = True
    fb = em.define("trt_check_argument", I32, [PTR, PTR, I32, I32, PTR, PTR, PTR])
    ctx, t, dtype, rank, dims, what, declared = fb.args
    b = fb.b
    with fb.if_then(fb.is_null(t), likely=False):
        emit_error(fb, layout.ERR_VALUE, "%s is NULL, expected %s", what, declared)
        fb.ret(c32(1))
    ok = b.and_(b.icmp_signed("==", fb.get(t, "dtype"), dtype), b.icmp_signed("==", fb.get(t, "rank"), rank))
    good = fb.var(ir.IntType(1), ok)
    with fb.if_then(ok):
        with fb.loop(0, b.sext(rank, I64)) as i:
            want = fb.load(fb.at(dims, i, I64), I64)
            differs = b.and_(b.icmp_signed(">=", want, c64(0)), b.icmp_signed("!=", fb.dim(t, i), want))
            with fb.if_then(differs):
                b.store(ir.Constant(ir.IntType(1), 0), good)
    fb.ret_if(fb.load(good, ir.IntType(1)), c32(0))
    code = fb.get(t, "dtype")
    known = b.icmp_unsigned("<", code, c32(len(layout.DTYPE_NAMES)))
    index = b.sext(fb.select(known, code, c32(0)), I64)
    name = fb.load(opaque(b.gep(table, [c64(0), index], source_etype=names)), PTR)
    name = fb.select(known, name, em.cstring("unknown-dtype"))
    shape = shape_text(fb, t)
    message = "%s must be %s, got a %s tensor of shape %s"
    with fb.if_else(b.icmp_signed("!=", code, dtype)) as (wrong_dtype, wrong_shape):
        with wrong_dtype:
            emit_error(fb, layout.ERR_TYPE, message, what, declared, name, shape)
        with wrong_shape:
            emit_error(fb, layout.ERR_SHAPE, message, what, declared, name, shape)
    fb.ret(c32(1))


def emit(em: Emitter) -> None:
    em.declare("trt_cast", PTR, [PTR, PTR, I32])
    _emit_context(em)
    _emit_tensor_access(em)
    _emit_ternary(em)
    _emit_check_argument(em)


__all__ = ["emit"]
