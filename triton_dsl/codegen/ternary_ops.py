"""Code for packed ternary tensors in generated functions: dequantize and attaching scales.

In: the `FunctionEmitter` and a `dequantize` / `set_scales` IR op. Out: LLVM IR that
- dequantizes a trit header (value = trit × scale) into a new float32 tensor with the kernel
  library's `trk_dequant_f32`, reading the packed bytes directly (never an unpacked int8 copy);
- stores a scale kind and an (owned) float32 scales tensor into a freshly packed trit header.
Header field offsets and scale kinds: docs/runtime.md; kernel ABI: docs/ternary_format.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from . import rtabi
from .llvm_types import FLOAT, I32, I64, PTR

if TYPE_CHECKING:
    from .function import FunctionEmitter

# header scale_kind → trk_dequant_f32 kind (0 tensor, 1 per row group, 2 per column, 3 asymmetric)
SCALE_NONE, SCALE_TENSOR, SCALE_CHANNEL, SCALE_ASYMMETRIC = 0, 1, 2, 3


def _safe_div(b: ir.IRBuilder, a: ir.Value, d: ir.Value) -> ir.Value:
    zero = ir.Constant(I64, 0)
    is_zero = b.icmp_signed("==", d, zero)
    return b.select(is_zero, zero, b.sdiv(a, b.select(is_zero, ir.Constant(I64, 1), d)))


def emit_dequantize(fe: FunctionEmitter, q: ir.Value, rank: int, span) -> ir.Value:
    b, ctx = fe.b, fe.ctx
    out = rtabi.call(b, "trt_tensor_new", ctx, ir.Constant(I32, rtabi.DTYPE_CODE["float32"]),
                     ir.Constant(I32, rank), rtabi.shape_ptr(b, q))
    fe.check_error(span)
    numel = rtabi.load_numel(b, q)
    cols = rtabi.load_dim(b, q, rank - 1) if rank else ir.Constant(I64, 1)
    rows = _safe_div(b, numel, cols)
    kind = b.load(rtabi.field_ptr(b, q, rtabi.OFF_SCALE_KIND), typ=I32)
    scales = b.load(rtabi.field_ptr(b, q, rtabi.OFF_SCALES), typ=PTR)
    one = fe.entry_alloca(FLOAT, "unit.scale")
    b.store(ir.Constant(FLOAT, 1.0), one)
    has = b.icmp_unsigned("!=", b.ptrtoint(scales, I64), ir.Constant(I64, 0))
    with b.if_else(has) as (then, otherwise):
        with then:
            data = rtabi.load_data(b, scales)
            then_bb = b.block
        with otherwise:
            else_bb = b.block
    sptr = b.phi(PTR)
    sptr.add_incoming(data, then_bb)
    sptr.add_incoming(one, else_bb)
    channel = ir.Constant(I32, 1 if rank >= 2 else 2)
    kkind = b.select(b.icmp_signed("==", kind, ir.Constant(I32, SCALE_CHANNEL)), channel,
                     b.select(b.icmp_signed("==", kind, ir.Constant(I32, SCALE_ASYMMETRIC)),
                              ir.Constant(I32, 3), ir.Constant(I32, 0)))
    kkind = b.select(has, kkind, ir.Constant(I32, 0))
    rows_per_scale = _safe_div(b, rows, rtabi.load_dim(b, q, 0)) if rank >= 2 else ir.Constant(I64, 1)
    rtabi.call(b, "trk_dequant_f32", rtabi.load_data(b, q), rows, cols, sptr, kkind, rows_per_scale,
               rtabi.load_data(b, out))
    return out


def emit_set_scales(fe: FunctionEmitter, packed: ir.Value, scales: ir.Value, kind: int) -> None:
    """Attach `scales` (a float32 vector, retained here) to a freshly packed header, which this code
    still owns alone (docs/runtime.md allows filling a fresh tensor in place)."""
    b = fe.b
    old = b.load(rtabi.field_ptr(b, packed, rtabi.OFF_SCALES), typ=PTR)
    rtabi.call(b, "trt_decref", old)
    rtabi.call(b, "trt_incref", scales)
    b.store(ir.Constant(I32, kind), rtabi.field_ptr(b, packed, rtabi.OFF_SCALE_KIND))
    b.store(scales, rtabi.field_ptr(b, packed, rtabi.OFF_SCALES))


# The kernel-private copy of matmul weights kept in a trit header's `aux`: a 64-byte tag (magic, K, N)
# then the 32-column panels of `trk_relayout_t2_panels` (docs/kernels.md), built on first use.
PANELS_MAGIC = int.from_bytes(b"TDSLPNL1", "little")
PANEL_COLUMNS = 32
TAG_BYTES = 64


def _i64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def _panels(fe: FunctionEmitter, w: ir.Value, K: ir.Value, N: ir.Value, span) -> tuple[ir.Value, ir.Value]:
    """(panels pointer, buffer to free after the call or null): the cached copy in `aux` when it is
    ours for this K×N, else a fresh relayout (cached in `aux` when that is free)."""
    b, ctx = fe.b, fe.ctx
    aux = b.load(rtabi.field_ptr(b, w, 136), typ=PTR)
    has_aux = b.icmp_unsigned("!=", b.ptrtoint(aux, I64), _i64(0))
    reuse = fe.new_block("panels.reuse")
    build = fe.new_block("panels.build")
    join = fe.new_block("panels.join")
    check = fe.new_block("panels.check")
    b.cbranch(has_aux, check, build)
    b.position_at_end(check)
    def tag(offset: int) -> ir.Value:
        return b.load(b.gep(aux, [_i64(offset)], source_etype=ir.IntType(8)), typ=I64)

    ours = b.and_(b.icmp_signed("==", tag(0), _i64(PANELS_MAGIC)),
                  b.and_(b.icmp_signed("==", tag(8), K), b.icmp_signed("==", tag(16), N)))
    b.cbranch(ours, reuse, build)
    b.position_at_end(reuse)
    reused = b.gep(aux, [_i64(TAG_BYTES)], source_etype=ir.IntType(8))
    b.branch(join)
    b.position_at_end(build)
    npanels = b.sdiv(b.add(N, _i64(PANEL_COLUMNS - 1)), _i64(PANEL_COLUMNS))
    nbytes = b.add(b.mul(b.mul(npanels, K), _i64(8)), _i64(TAG_BYTES))
    buf = rtabi.call(b, "trt_alloc", ctx, nbytes)
    fe.check_error(span)
    # The relayout writes only the set bits of each panel's masks: start from zeros.
    memset = b.module.declare_intrinsic("llvm.memset", [PTR, I64])
    b.call(memset, [buf, ir.Constant(ir.IntType(8), 0), nbytes, ir.Constant(ir.IntType(1), 0)])
    b.store(_i64(PANELS_MAGIC), buf)
    b.store(K, b.gep(buf, [_i64(8)], source_etype=ir.IntType(8)))
    b.store(N, b.gep(buf, [_i64(16)], source_etype=ir.IntType(8)))
    built = b.gep(buf, [_i64(TAG_BYTES)], source_etype=ir.IntType(8))
    rtabi.call(b, "trk_relayout_t2_panels", rtabi.load_data(b, w), K, N, _i64(0), _i64(0), _i64(1), built)
    # Keep it for the next product with these weights when `aux` is free; else free it after the call.
    with b.if_else(has_aux) as (occupied, free_slot):
        with occupied:
            pass
        with free_slot:
            rtabi.call(b, "trt_set_aux", w, buf, rtabi.declare(b.module, "trt_free"))
    to_free = b.select(has_aux, buf, ir.Constant(PTR, None))
    build_end = b.block
    b.branch(join)
    b.position_at_end(join)
    panels = b.phi(PTR)
    panels.add_incoming(reused, reuse)
    panels.add_incoming(built, build_end)
    free = b.phi(PTR)
    free.add_incoming(ir.Constant(PTR, None), reuse)
    free.add_incoming(to_free, build_end)
    return panels, free


def emit_ternary_matmul(fe: FunctionEmitter, x: ir.Value, x_rank: int, w: ir.Value, text: str,
                        span) -> ir.Value:
    """`x @ W` for float32 x ([K] or [M, K]) and a packed ternary W [K, N], with the packed kernel
    `trk_matmul_f32_t2` (scales: one value, per k (channel, axis 0) or asymmetric)."""
    b, ctx = fe.b, fe.ctx
    K, N = rtabi.load_dim(b, w, 0), rtabi.load_dim(b, w, 1)
    xk = rtabi.load_dim(b, x, x_rank - 1)
    M = rtabi.load_dim(b, x, 0) if x_rank == 2 else _i64(1)
    fail, ok = fe.new_block("tmm.shape.fail"), fe.new_block("tmm.shape.ok")
    b.cbranch(b.icmp_signed("!=", xk, K), fail, ok)
    b.position_at_end(fail)
    rtabi.call(b, "trt_err_shape_mismatch", ctx, fe.m.cstring(text), x, w)
    fe.set_location(span)
    b.branch(fe.error_exit)
    b.position_at_end(ok)
    shape = fe.stack_array([M, N] if x_rank == 2 else [N], 64)
    out = rtabi.call(b, "trt_tensor_new", ctx, ir.Constant(I32, rtabi.DTYPE_CODE["float32"]),
                     ir.Constant(I32, x_rank), shape)
    fe.check_error(span)
    # scales → (kscale per k or null, nscale per output column, wpos, wneg)
    kind = b.load(rtabi.field_ptr(b, w, rtabi.OFF_SCALE_KIND), typ=I32)
    scales_h = b.load(rtabi.field_ptr(b, w, rtabi.OFF_SCALES), typ=PTR)
    has = b.icmp_unsigned("!=", b.ptrtoint(scales_h, I64), _i64(0))
    nscale = rtabi.call(b, "trt_alloc", ctx, b.add(b.mul(N, _i64(4)), _i64(4)))
    fe.check_error(span)
    one = ir.Constant(FLOAT, 1.0)
    with b.if_else(has) as (then, otherwise):
        with then:
            sdata = rtabi.load_data(b, scales_h)
            s0 = b.load(sdata, typ=FLOAT)
            s1 = b.load(b.gep(sdata, [_i64(1)], source_etype=FLOAT), typ=FLOAT)
            then_bb = b.block
        with otherwise:
            else_bb = b.block
    sd = b.phi(PTR)
    sd.add_incoming(sdata, then_bb)
    sd.add_incoming(ir.Constant(PTR, None), else_bb)
    first = b.phi(FLOAT)
    first.add_incoming(s0, then_bb)
    first.add_incoming(one, else_bb)
    second = b.phi(FLOAT)
    second.add_incoming(s1, then_bb)
    second.add_incoming(one, else_bb)
    is_kind = lambda k: b.and_(has, b.icmp_signed("==", kind, ir.Constant(I32, k)))  # noqa: E731
    per_tensor = b.not_(b.or_(is_kind(SCALE_CHANNEL), is_kind(SCALE_ASYMMETRIC)))
    fill = b.select(per_tensor, first, one)
    _fill_floats(fe, nscale, N, fill)
    kscale = b.select(is_kind(SCALE_CHANNEL), sd, ir.Constant(PTR, None))
    wpos = b.select(is_kind(SCALE_ASYMMETRIC), first, one)
    wneg = b.select(is_kind(SCALE_ASYMMETRIC), second, one)
    panels, free = _panels(fe, w, K, N, span)
    rtabi.call(b, "trk_matmul_f32_t2", rtabi.load_data(b, x), K, _i64(1), panels, rtabi.load_data(b, out), N,
               _i64(1), M, K, N, kscale, nscale, wpos, wneg)
    rtabi.call(b, "trt_free", nscale)
    rtabi.call(b, "trt_free", free)
    return out


def _fill_floats(fe: FunctionEmitter, ptr: ir.Value, n: ir.Value, value: ir.Value) -> None:
    b = fe.b
    pre = b.block
    head, body, done = fe.new_block("fill.head"), fe.new_block("fill.body"), fe.new_block("fill.done")
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    i.add_incoming(_i64(0), pre)
    b.cbranch(b.icmp_signed("<", i, n), body, done)
    b.position_at_end(body)
    b.store(value, b.gep(ptr, [i], source_etype=FLOAT))
    i.add_incoming(b.add(i, _i64(1)), body)
    b.branch(head)
    b.position_at_end(done)


def _bitplanes(fe: FunctionEmitter, t: ir.Value, K: ir.Value, cols: ir.Value, mode: int, rows_per_n: ir.Value,
               row_len: ir.Value, span) -> ir.Value:
    """A fresh, zeroed bit-plane copy (`trk_relayout_t2_bitplanes`) of `cols` vectors of K trits; the
    caller frees it with `trt_free`."""
    b = fe.b
    words = b.sdiv(b.add(K, _i64(63)), _i64(64))
    nbytes = b.add(b.mul(b.mul(cols, words), _i64(16)), _i64(16))
    buf = rtabi.call(b, "trt_alloc", fe.ctx, nbytes)
    fe.check_error(span)
    memset = b.module.declare_intrinsic("llvm.memset", [PTR, I64])
    b.call(memset, [buf, ir.Constant(ir.IntType(8), 0), nbytes, ir.Constant(ir.IntType(1), 0)])
    rtabi.call(b, "trk_relayout_t2_bitplanes", rtabi.load_data(b, t), K, cols, _i64(mode), rows_per_n,
               row_len, buf)
    return buf


def _scale_parts(fe: FunctionEmitter, t: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value, ir.Value]:
    """(scales data or null, kind (0 when there are none), first scale, second scale) of a trit header."""
    b = fe.b
    kind = b.load(rtabi.field_ptr(b, t, rtabi.OFF_SCALE_KIND), typ=I32)
    scales_h = b.load(rtabi.field_ptr(b, t, rtabi.OFF_SCALES), typ=PTR)
    has = b.icmp_unsigned("!=", b.ptrtoint(scales_h, I64), _i64(0))
    one = ir.Constant(FLOAT, 1.0)
    with b.if_else(has) as (then, otherwise):
        with then:
            sdata = rtabi.load_data(b, scales_h)
            s0 = b.load(sdata, typ=FLOAT)
            s1 = b.load(b.gep(sdata, [_i64(1)], source_etype=FLOAT), typ=FLOAT)
            then_bb = b.block
        with otherwise:
            else_bb = b.block
    parts = []
    pairs = ((sdata, ir.Constant(PTR, None)), (kind, ir.Constant(I32, 0)), (s0, one), (s1, one))
    for value, default in pairs:
        phi = b.phi(value.type)
        phi.add_incoming(value, then_bb)
        phi.add_incoming(default, else_bb)
        parts.append(phi)
    return tuple(parts)


def emit_ternary_ternary_matmul(fe: FunctionEmitter, a: ir.Value, w: ir.Value, text: str, span) -> ir.Value:
    """`a @ W` for packed ternary a [M, K] and W [K, N]: exact integer dot products from bit-planes and
    popcounts (`trk_matmul_t2_t2`), then the scales (a: one value, per row or asymmetric; W: one value
    or asymmetric; per-k weight scales go through the float × ternary kernel on a's value)."""
    b, ctx = fe.b, fe.ctx
    M, K = rtabi.load_dim(b, a, 0), rtabi.load_dim(b, a, 1)
    wk, N = rtabi.load_dim(b, w, 0), rtabi.load_dim(b, w, 1)
    fail, ok = fe.new_block("ttmm.shape.fail"), fe.new_block("ttmm.shape.ok")
    b.cbranch(b.icmp_signed("!=", wk, K), fail, ok)
    b.position_at_end(fail)
    rtabi.call(b, "trt_err_shape_mismatch", ctx, fe.m.cstring(text), a, w)
    fe.set_location(span)
    b.branch(fe.error_exit)
    b.position_at_end(ok)
    a_data, a_kind, a0, a1 = _scale_parts(fe, a)
    w_data, w_kind, w0, w1 = _scale_parts(fe, w)
    # Per-k weight scales cannot be applied after the integer sums: use the activations' value instead
    # (still the packed weight kernel).
    per_k = b.icmp_signed("==", w_kind, ir.Constant(I32, SCALE_CHANNEL))
    fallback, popcount, join = (fe.new_block(n) for n in ("ttmm.perk", "ttmm.popcount", "ttmm.join"))
    b.cbranch(per_k, fallback, popcount)
    b.position_at_end(fallback)
    a_value = emit_dequantize(fe, a, 2, span)
    via_float = emit_ternary_matmul(fe, a_value, 2, w, text, span)
    rtabi.call(b, "trt_decref", a_value)
    fallback_end = b.block
    b.branch(join)
    b.position_at_end(popcount)
    exact = _popcount_product(fe, a, w, M, K, N, (a_data, a_kind, a0, a1), (w_kind, w0, w1), span)
    popcount_end = b.block
    b.branch(join)
    b.position_at_end(join)
    out = b.phi(PTR)
    out.add_incoming(via_float, fallback_end)
    out.add_incoming(exact, popcount_end)
    return out


def _popcount_product(fe: FunctionEmitter, a, w, M, K, N, a_scales, w_scales, span) -> ir.Value:
    b, ctx = fe.b, fe.ctx
    a_data, a_kind, a0, a1 = a_scales
    w_kind, w0, w1 = w_scales
    shape = fe.stack_array([M, N], 64)
    f32 = ir.Constant(I32, rtabi.DTYPE_CODE["float32"])
    out = rtabi.call(b, "trt_tensor_new", ctx, f32, ir.Constant(I32, 2), shape)
    fe.check_error(span)
    one = ir.Constant(FLOAT, 1.0)
    a_asym = b.icmp_signed("==", a_kind, ir.Constant(I32, SCALE_ASYMMETRIC))
    w_asym = b.icmp_signed("==", w_kind, ir.Constant(I32, SCALE_ASYMMETRIC))
    a_chan = b.icmp_signed("==", a_kind, ir.Constant(I32, SCALE_CHANNEL))
    rs = rtabi.call(b, "trt_alloc", ctx, b.add(b.mul(M, _i64(4)), _i64(4)))
    ns = rtabi.call(b, "trt_alloc", ctx, b.add(b.mul(N, _i64(4)), _i64(4)))
    coef = rtabi.call(b, "trt_alloc", ctx, _i64(16))
    fe.check_error(span)
    a_none = b.icmp_signed("==", a_kind, ir.Constant(I32, 0))
    w_none = b.icmp_signed("==", w_kind, ir.Constant(I32, 0))
    _fill_floats(fe, rs, M, b.select(b.or_(a_asym, a_none), one, a0))
    with b.if_then(a_chan):
        memcpy = b.module.declare_intrinsic("llvm.memcpy", [PTR, PTR, I64])
        b.call(memcpy, [rs, a_data, b.mul(M, _i64(4)), ir.Constant(ir.IntType(1), 0)])
    _fill_floats(fe, ns, N, b.select(b.or_(w_asym, w_none), one, w0))
    apos, aneg = b.select(a_asym, a0, one), b.select(a_asym, a1, one)
    wpos, wneg = b.select(w_asym, w0, one), b.select(w_asym, w1, one)
    for i, (p, q) in enumerate(((apos, wpos), (apos, wneg), (aneg, wpos), (aneg, wneg))):
        b.store(b.fmul(p, q), b.gep(coef, [_i64(i)], source_etype=FLOAT))
    # a [M, K] is addressed "nk" (element (k, m) is column k of row m); W [K, N] in the matmul layout
    a_planes = _bitplanes(fe, a, K, M, 1, _i64(1), b.select(b.icmp_signed(">", K, _i64(0)), K, _i64(1)), span)
    w_planes = _bitplanes(fe, w, K, N, 0, _i64(0), _i64(1), span)
    rtabi.call(b, "trk_matmul_t2_t2", a_planes, M, K, w_planes, N, rs, ns, coef, rtabi.load_data(b, out),
               ir.Constant(PTR, None))
    for buf in (a_planes, w_planes, rs, ns, coef):
        rtabi.call(b, "trt_free", buf)
    return out
