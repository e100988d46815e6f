"""Code for `x @ W` with float32 activations and a packed ternary weight tensor, in generated functions.

In: the `FunctionEmitter`, x ([K] or [M, K] float32) and a trit header W [K, N]. Out: LLVM IR that picks
the kernel the way `runtime/matmul_api.py` does (docs/kernels.md, "Calling the kernels from generated
code"), from the target's kernel variants (`target.Target.variant`, the decision the kernel library was
compiled with; machine code is cached per target):
- x made of int8 absmax rows (what the stdlib's `bitlinear` multiplies; int8_rows.py), W without per-k
  scales, on x86 hosts with SSSE3 or better: the int8 kernel `trk_bitlinear_t2_auto` (vnni layout),
  exact there;
- else on AVX-512 hosts with N ≥ 128: the table-lookup kernels on the `lut3` layout,
  `trk_gemv_f32_t2_lut` for one row, `trk_gemm_f32_t2_lut` for several;
- else on targets without AVX2 (x86-64, x86-64-v2, aarch64) with N ≥ 128, and on AVX2 hosts with M ≥ 8
  and N ≥ 1024: `trk_matmul_f32_t2_lut5` on the 1.6-bit `lut5` layout;
- else on AVX2 hosts with N ≥ 32: `trk_matmul_f32_t2_perm8` on the `perm8` bit-plane layout;
- otherwise (narrow outputs) the generic `trk_matmul_f32_t2` on the `panels` layout.
Each layout is built once per header and kept in its `aux` slot (ternary_layouts.py). Headers made
from a Python `TernaryTensor` live as long as it does (`runtime/ternary_headers.py`), so the copy is
built once per weight tensor, not once per call.
Also shared with ternary_ops.py: `read_scales` (a trit header's scale kind, scales and first two values)
and `emit_inner_dim_check` (the shape-mismatch error of a product).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from llvmlite import ir

from . import rtabi
from .int8_rows import emit_int8_rows_check
from .kernels.relayout import (
    LUT5_AVX2_MIN_COLUMNS,
    LUT5_AVX2_MIN_ROWS,
    LUT5_MIN_COLUMNS,
    LUT_MIN_COLUMNS,
    PERM8_MIN_COLUMNS,
)
from .llvm_types import FLOAT, I32, I64, PTR
from .ternary_layouts import (
    LUT3,
    LUT5,
    PANELS,
    PERM8,
    VNNI,
    alloc_floats,
    call_kernel,
    emit_layout,
    fill_floats,
    i64,
    phi_of,
)

if TYPE_CHECKING:
    from .function import FunctionEmitter

# header scale_kind values (docs/runtime.md)
SCALE_NONE, SCALE_TENSOR, SCALE_CHANNEL, SCALE_ASYMMETRIC = 0, 1, 2, 3


INT8_VARIANTS = ("avx512-vnni", "avx512bw", "avx2", "ssse3")  # bitlinear variants faster than the float path


def emit_kernel_choice(fe: FunctionEmitter) -> tuple[ir.Value, ir.Value, ir.Value, ir.Value]:
    """(i1 AVX-512 table-lookup kernels, i1 AVX2 bit-plane kernel, i1 lut5 kernel, i1 int8 kernel for int8
    rows) for the module's target, as `target.variant` decides (the same decision the kernel library was
    compiled with, and matmul_api makes)."""
    target = fe.m.target

    def flag(on: bool) -> ir.Constant:
        return ir.Constant(ir.IntType(1), int(on))

    gemm = target.variant("gemm")
    return (flag(gemm == "avx512-lut"), flag(gemm == "avx2-perm"), flag(gemm == "lut5"),
            flag(target.variant("bitlinear") in INT8_VARIANTS))


@dataclass
class HeaderScales:
    """The scales of a trit header as generated code reads them (docs/runtime.md)."""

    has: ir.Value  # i1: the header holds a scales tensor
    kind: ir.Value  # i32 scale_kind, SCALE_NONE when there are no scales
    data: ir.Value  # the scales' float32 data, null when there are none
    first: ir.Value | None  # scales[0], 1.0 when there are none (None when not read)
    second: ir.Value | None  # scales[1], 1.0 when there are none (None when not read)


def read_scales(fe: FunctionEmitter, t: ir.Value, values: bool = True) -> HeaderScales:
    """Scale kind, scales data, and (with `values`) the first two scales of the trit header t, with the
    defaults above when it has no scales."""
    b = fe.b
    kind = b.load(rtabi.field_ptr(b, t, rtabi.OFF_SCALE_KIND), typ=I32)
    scales_h = b.load(rtabi.field_ptr(b, t, rtabi.OFF_SCALES), typ=PTR)
    has = b.icmp_unsigned("!=", b.ptrtoint(scales_h, I64), i64(0))
    one = ir.Constant(FLOAT, 1.0)
    with b.if_else(has) as (then, otherwise):
        with then:
            sdata = rtabi.load_data(b, scales_h)
            if values:
                s0 = b.load(sdata, typ=FLOAT)
                s1 = b.load(b.gep(sdata, [i64(1)], source_etype=FLOAT), typ=FLOAT)
            then_bb = b.block
        with otherwise:
            else_bb = b.block

    def merge(value: ir.Value, default: ir.Value) -> ir.Value:
        return phi_of(b, (value, then_bb), (default, else_bb))

    return HeaderScales(has, merge(kind, ir.Constant(I32, SCALE_NONE)), merge(sdata, ir.Constant(PTR, None)),
                        merge(s0, one) if values else None, merge(s1, one) if values else None)


def emit_inner_dim_check(fe: FunctionEmitter, k_left: ir.Value, k_right: ir.Value, left: ir.Value,
                         right: ir.Value, text: str, span, prefix: str) -> None:
    """A shape-mismatch run-time error for `text` (left @ right) at `span` unless k_left == k_right."""
    b = fe.b
    fail, ok = fe.new_block(f"{prefix}.shape.fail"), fe.new_block(f"{prefix}.shape.ok")
    b.cbranch(b.icmp_signed("!=", k_left, k_right), fail, ok)
    b.position_at_end(fail)
    rtabi.call(b, "trt_err_shape_mismatch", fe.ctx, fe.m.cstring(text), left, right)
    fe.set_location(span)
    b.branch(fe.error_exit)
    b.position_at_end(ok)


@dataclass
class WeightScales:
    """Scales of W as the kernels take them: per k (or null), per output column (malloc'd), wpos, wneg."""

    kscale: ir.Value
    nscale: ir.Value
    wpos: ir.Value
    wneg: ir.Value


def _weight_scales(fe: FunctionEmitter, w: ir.Value, N: ir.Value, span) -> WeightScales:
    """One value → nscale filled with it; `channel` (axis 0, per k) → kscale; asymmetric → wpos, wneg."""
    b = fe.b
    scales = read_scales(fe, w)
    nscale = alloc_floats(fe, N)
    fe.check_error(span)
    one = ir.Constant(FLOAT, 1.0)
    channel = b.icmp_signed("==", scales.kind, ir.Constant(I32, SCALE_CHANNEL))
    asymmetric = b.icmp_signed("==", scales.kind, ir.Constant(I32, SCALE_ASYMMETRIC))
    fill_floats(fe, nscale, N, b.select(b.or_(channel, asymmetric), one, scales.first))
    return WeightScales(b.select(channel, scales.data, ir.Constant(PTR, None)), nscale,
                        b.select(asymmetric, scales.first, one), b.select(asymmetric, scales.second, one))


def emit_ternary_matmul(fe: FunctionEmitter, x: ir.Value, x_rank: int, w: ir.Value, text: str,
                        span) -> ir.Value:
    """`x @ W` for float32 x ([K] or [M, K]) and a packed ternary W [K, N] → a new float32 [M, N] (or
    [N]), exact: every output is a float32 sum of x[k]·value(W[k, n])."""
    b, ctx = fe.b, fe.ctx
    K, N = rtabi.load_dim(b, w, 0), rtabi.load_dim(b, w, 1)
    xk = rtabi.load_dim(b, x, x_rank - 1)
    M = rtabi.load_dim(b, x, 0) if x_rank == 2 else i64(1)
    emit_inner_dim_check(fe, xk, K, x, w, text, span, "tmm")
    shape = fe.stack_array([M, N] if x_rank == 2 else [N], 64)
    out = rtabi.call(b, "trt_tensor_new", ctx, ir.Constant(I32, rtabi.DTYPE_CODE["float32"]),
                     ir.Constant(I32, x_rank), shape)
    fe.check_error(span)
    s = _weight_scales(fe, w, N, span)
    xd, yd = rtabi.load_data(b, x), rtabi.load_data(b, out)
    avx512, avx2, lut5, vnni = emit_kernel_choice(fe)
    use_lut = b.and_(avx512, b.icmp_signed(">=", N, i64(LUT_MIN_COLUMNS)))
    use_perm = b.and_(avx2, b.icmp_signed(">=", N, i64(PERM8_MIN_COLUMNS)))
    wide_avx2 = b.and_(avx2, b.and_(b.icmp_signed(">=", M, i64(LUT5_AVX2_MIN_ROWS)),
                                    b.icmp_signed(">=", N, i64(LUT5_AVX2_MIN_COLUMNS))))
    use_lut5 = b.or_(b.and_(lut5, b.icmp_signed(">=", N, i64(LUT5_MIN_COLUMNS))), wide_avx2)
    # int8 activations (bitlinear's quantized rows) through the int8 kernel: exact, as it would only
    # rescale each row by 127 / max|row| = 1 (int8_rows.py)
    plain = b.and_(b.icmp_unsigned("==", b.ptrtoint(s.kscale, I64), i64(0)),
                   b.and_(b.fcmp_ordered("==", s.wpos, ir.Constant(FLOAT, 1.0)),
                          b.fcmp_ordered("==", s.wneg, ir.Constant(FLOAT, 1.0))))
    nonempty = b.and_(b.icmp_signed(">", M, i64(0)), b.icmp_signed(">", K, i64(0)))
    try_int8 = b.and_(b.and_(vnni, plain), nonempty)
    ask, int8, floats = fe.new_block("tmm.int8.ask"), fe.new_block("tmm.int8"), fe.new_block("tmm.float")
    b.cbranch(try_int8, ask, floats)
    b.position_at_end(ask)
    b.cbranch(emit_int8_rows_check(b, xd, M, K), int8, floats)

    b.position_at_end(int8)
    codes, int8_free = emit_layout(fe, w, K, N, VNNI, span)
    int8_status = call_kernel(b, "trk_bitlinear_t2_auto", xd, K, M, K, N, ir.Constant(PTR, None), codes,
                              s.nscale, yd, N)
    int8_end = b.block
    lut, generic, join = fe.new_block("tmm.lut"), fe.new_block("tmm.panels"), fe.new_block("tmm.done")
    perm, not_lut = fe.new_block("tmm.perm8"), fe.new_block("tmm.not_lut")
    table5, not_lut5 = fe.new_block("tmm.lut5"), fe.new_block("tmm.not_lut5")
    b.branch(join)

    b.position_at_end(floats)
    b.cbranch(use_lut, lut, not_lut)
    b.position_at_end(not_lut)
    b.cbranch(use_lut5, table5, not_lut5)
    b.position_at_end(not_lut5)
    b.cbranch(use_perm, perm, generic)

    b.position_at_end(table5)
    codes5, lut5_free = emit_layout(fe, w, K, N, LUT5, span)
    lut5_status = call_kernel(b, "trk_matmul_f32_t2_lut5", xd, K, codes5, yd, N, M, K, N, s.kscale,
                              s.nscale, s.wpos, s.wneg)
    lut5_end = b.block
    b.branch(join)

    b.position_at_end(perm)
    bits, perm_free = emit_layout(fe, w, K, N, PERM8, span)
    perm_status = call_kernel(b, "trk_matmul_f32_t2_perm8", xd, K, bits, yd, N, M, K, N, s.kscale, s.nscale,
                              s.wpos, s.wneg)
    perm_end = b.block
    b.branch(join)

    b.position_at_end(lut)
    table, lut_free = emit_layout(fe, w, K, N, LUT3, span)
    with b.if_else(b.icmp_signed("==", M, i64(1))) as (one_row, rows):
        with one_row:
            gemv = call_kernel(b, "trk_gemv_f32_t2_lut", xd, table, yd, K, N, s.kscale, s.nscale, s.wpos,
                               s.wneg)
            gemv_bb = b.block
        with rows:
            gemm = call_kernel(b, "trk_gemm_f32_t2_lut", xd, K, table, yd, N, M, K, N, s.kscale, s.nscale,
                               s.wpos, s.wneg)
            gemm_bb = b.block
    lut_status = phi_of(b, (gemv, gemv_bb), (gemm, gemm_bb))
    lut_end = b.block
    b.branch(join)

    b.position_at_end(generic)
    panels, panels_free = emit_layout(fe, w, K, N, PANELS, span)
    call_kernel(b, "trk_matmul_f32_t2", xd, K, i64(1), panels, yd, N, i64(1), M, K, N, s.kscale, s.nscale,
                s.wpos, s.wneg)
    generic_end = b.block
    b.branch(join)

    b.position_at_end(join)
    free, status = b.phi(PTR), b.phi(I32)
    for block, buf, code in ((int8_end, int8_free, int8_status), (lut_end, lut_free, lut_status),
                             (perm_end, perm_free, perm_status), (lut5_end, lut5_free, lut5_status),
                             (generic_end, panels_free, ir.Constant(I32, 0))):
        free.add_incoming(buf, block)
        status.add_incoming(code, block)
    rtabi.call(b, "trt_free", s.nscale)
    rtabi.call(b, "trt_free", free)
    oom, done = fe.new_block("tmm.oom"), fe.new_block("tmm.ok")
    b.cbranch(b.icmp_signed("!=", status, ir.Constant(I32, 0)), oom, done)
    b.position_at_end(oom)
    rtabi.call(b, "trt_decref", out)
    rtabi.call(b, "trt_set_error", ctx, ir.Constant(I32, rtabi.ERR_OOM),
               fe.m.cstring("out of memory for the matmul scratch buffers"))
    fe.set_location(span)
    b.branch(fe.error_exit)
    b.position_at_end(done)
    return out
