"""Code for packed ternary tensors in generated functions: dequantize, scales, ternary products.

In: the `FunctionEmitter` and a `dequantize` / `set_scales` / `ternary_matmul` IR op. Out: LLVM IR that
- dequantizes a trit header (value = trit × scale) into a new float32 tensor with the kernel
  library's `trk_dequant_f32`, reading the packed bytes directly (never an unpacked int8 copy);
- stores a scale kind and an (owned) float32 scales tensor into a freshly packed trit header;
- multiplies: float32 x @ ternary W with `emit_ternary_matmul` (kernel choice and the cached weight
  layouts: ternary_matmul.py), ternary a @ ternary W from bit-planes and popcounts.
Header field offsets and scale kinds: docs/runtime.md; kernel ABI: docs/ternary_format.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from . import rtabi
from .llvm_types import FLOAT, I32, I64, PTR
from .ternary_layouts import BITPLANES, alloc_floats, emit_layout, fill_floats, i64, phi_of, zero_fill
from .ternary_matmul import (
    SCALE_ASYMMETRIC,
    SCALE_CHANNEL,
    HeaderScales,
    emit_inner_dim_check,
    emit_ternary_matmul,
    read_scales,
)

if TYPE_CHECKING:
    from .function import FunctionEmitter


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
    one = fe.entry_alloca(FLOAT, "unit.scale")
    b.store(ir.Constant(FLOAT, 1.0), one)
    scales = read_scales(fe, q, values=False)
    sptr = b.select(scales.has, scales.data, one)
    # the kernel's kinds (docs/ternary_format.md): 0 tensor (also no scales: SCALE_NONE, scale 1), 1 per
    # row group, 2 per column, 3 asymmetric
    channel = ir.Constant(I32, 1 if rank >= 2 else 2)
    kkind = b.select(b.icmp_signed("==", scales.kind, ir.Constant(I32, SCALE_CHANNEL)), channel,
                     b.select(b.icmp_signed("==", scales.kind, ir.Constant(I32, SCALE_ASYMMETRIC)),
                              ir.Constant(I32, 3), ir.Constant(I32, 0)))
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


def _bitplanes(fe: FunctionEmitter, t: ir.Value, K: ir.Value, cols: ir.Value, mode: int, rows_per_n: ir.Value,
               row_len: ir.Value, span) -> ir.Value:
    """A fresh, zeroed bit-plane copy (`trk_relayout_t2_bitplanes`) of `cols` vectors of K trits; the
    caller frees it with `trt_free`."""
    b = fe.b
    words = b.sdiv(b.add(K, i64(63)), i64(64))
    nbytes = b.add(b.mul(b.mul(cols, words), i64(16)), i64(16))
    buf = rtabi.call(b, "trt_alloc", fe.ctx, nbytes)
    fe.check_error(span)
    zero_fill(b, buf, nbytes)
    rtabi.call(b, "trk_relayout_t2_bitplanes", rtabi.load_data(b, t), K, cols, i64(mode), rows_per_n,
               row_len, buf)
    return buf


def emit_ternary_ternary_matmul(fe: FunctionEmitter, a: ir.Value, w: ir.Value, text: str, span) -> ir.Value:
    """`a @ W` for packed ternary a [M, K] and W [K, N]: exact integer dot products from bit-planes and
    popcounts (`trk_matmul_t2_t2`), then the scales (a: one value, per row or asymmetric; W: one value
    or asymmetric; per-k weight scales go through the float × ternary kernel on a's value)."""
    b = fe.b
    M, K = rtabi.load_dim(b, a, 0), rtabi.load_dim(b, a, 1)
    wk, N = rtabi.load_dim(b, w, 0), rtabi.load_dim(b, w, 1)
    emit_inner_dim_check(fe, wk, K, a, w, text, span, "ttmm")
    a_scales, w_scales = read_scales(fe, a), read_scales(fe, w)
    # Per-k weight scales cannot be applied after the integer sums: use the activations' value instead
    # (still the packed weight kernel).
    per_k = b.icmp_signed("==", w_scales.kind, ir.Constant(I32, SCALE_CHANNEL))
    fallback, popcount, join = (fe.new_block(n) for n in ("ttmm.perk", "ttmm.popcount", "ttmm.join"))
    b.cbranch(per_k, fallback, popcount)
    b.position_at_end(fallback)
    a_value = emit_dequantize(fe, a, 2, span)
    via_float = emit_ternary_matmul(fe, a_value, 2, w, text, span)
    rtabi.call(b, "trt_decref", a_value)
    fallback_end = b.block
    b.branch(join)
    b.position_at_end(popcount)
    exact = _popcount_product(fe, a, w, M, K, N, a_scales, w_scales, span)
    popcount_end = b.block
    b.branch(join)
    b.position_at_end(join)
    return phi_of(b, (via_float, fallback_end), (exact, popcount_end))


def _popcount_product(fe: FunctionEmitter, a, w, M, K, N, a_scales: HeaderScales, w_scales: HeaderScales,
                      span) -> ir.Value:
    b, ctx = fe.b, fe.ctx
    a_data, a_kind, a0, a1 = a_scales.data, a_scales.kind, a_scales.first, a_scales.second
    w_kind, w0, w1 = w_scales.kind, w_scales.first, w_scales.second
    shape = fe.stack_array([M, N], 64)
    f32 = ir.Constant(I32, rtabi.DTYPE_CODE["float32"])
    out = rtabi.call(b, "trt_tensor_new", ctx, f32, ir.Constant(I32, 2), shape)
    fe.check_error(span)
    one = ir.Constant(FLOAT, 1.0)
    a_asym = b.icmp_signed("==", a_kind, ir.Constant(I32, SCALE_ASYMMETRIC))
    w_asym = b.icmp_signed("==", w_kind, ir.Constant(I32, SCALE_ASYMMETRIC))
    a_chan = b.icmp_signed("==", a_kind, ir.Constant(I32, SCALE_CHANNEL))
    rs, ns = alloc_floats(fe, M), alloc_floats(fe, N)
    coef = rtabi.call(b, "trt_alloc", ctx, i64(16))
    fe.check_error(span)
    a_none = b.icmp_signed("==", a_kind, ir.Constant(I32, 0))
    w_none = b.icmp_signed("==", w_kind, ir.Constant(I32, 0))
    fill_floats(fe, rs, M, b.select(b.or_(a_asym, a_none), one, a0))
    with b.if_then(a_chan):
        memcpy = b.module.declare_intrinsic("llvm.memcpy", [PTR, PTR, I64])
        b.call(memcpy, [rs, a_data, b.mul(M, i64(4)), ir.Constant(ir.IntType(1), 0)])
    fill_floats(fe, ns, N, b.select(b.or_(w_asym, w_none), one, w0))
    apos, aneg = b.select(a_asym, a0, one), b.select(a_asym, a1, one)
    wpos, wneg = b.select(w_asym, w0, one), b.select(w_asym, w1, one)
    for i, (p, q) in enumerate(((apos, wpos), (apos, wneg), (aneg, wpos), (aneg, wneg))):
        b.store(b.fmul(p, q), b.gep(coef, [i64(i)], source_etype=FLOAT))
    # a [M, K] is addressed "nk" (element (k, m) is column k of row m); W [K, N] in the matmul layout
    a_planes = _bitplanes(fe, a, K, M, 1, i64(1), b.select(b.icmp_signed(">", K, i64(0)), K, i64(1)), span)
    w_planes, w_free = emit_layout(fe, w, K, N, BITPLANES, span)  # kept in W's aux
    rtabi.call(b, "trk_matmul_t2_t2", a_planes, M, K, w_planes, N, rs, ns, coef, rtabi.load_data(b, out),
               ir.Constant(PTR, None))
    for buf in (a_planes, w_free, rs, ns, coef):
        rtabi.call(b, "trt_free", buf)
    return out
