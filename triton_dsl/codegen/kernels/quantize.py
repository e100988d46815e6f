"""Fused threshold quantize-and-pack kernels: float32 in, packed trits out, one pass, no int8 buffer.

In: an `llvmlite.ir.Module` and the target `HostInfo`. Out: two C-ABI functions added to the module:

    void trk_quantize_pack_f32(const float *x, int64 rows, int64 cols,
                               float threshold, float scale, uint8 *packed)
        trit = +1 where x > t, -1 where x < -t, else 0 (NaN -> 0), with t = threshold * scale
        rounded to float32; comparisons are strict, so x == +-t gives 0.
    void trk_quantize_pack_ch_f32(const float *x, int64 rows, int64 cols, float threshold,
                                  const float *scales, int64 rows_per_scale, uint8 *packed)
        the same with t = threshold * scales[r / rows_per_scale] for row r (per-channel scales).

The output is the interchange layout (docs/ternary_format.md): rows x ceil(cols/4) bytes, padded
with code 1. Vector code compares <4n x float> per step where the host has AVX2/AVX-512.
"""

from __future__ import annotations

from llvmlite import ir

from ...jit import HostInfo
from .ternary_ir import (
    F32,
    I8,
    I64,
    PTR,
    VOID,
    counted_loop,
    define_kernel,
    emit_byte_loop,
    flatten_if_aligned,
    gep,
    i64c,
    pack_codes,
    row_bytes,
    splat_value,
    vector_bytes_per_step,
    vector_end,
)


def build(module: ir.Module, host: HostInfo) -> None:
    build_quantize_pack(module, host)
    build_quantize_pack_ch(module, host)


def _code_select(b: ir.IRBuilder, x: ir.Value, pos_t: ir.Value, neg_t: ir.Value, ity: ir.Type) -> ir.Value:
    """code 2 where x > t, else 0 where x < -t, else 1 (ordered compares: NaN gives 1)."""
    def const(v: int) -> ir.Constant:
        return ir.Constant(ity, [v] * ity.count) if isinstance(ity, ir.VectorType) else ir.Constant(ity, v)

    above = b.fcmp_ordered(">", x, pos_t)
    below = b.fcmp_ordered("<", x, neg_t)
    return b.select(above, const(2), b.select(below, const(0), const(1)))


def _emit_quantize_row(b: ir.IRBuilder, step: int | None, src: ir.Value, dst: ir.Value,
                       cols: ir.Value, t: ir.Value) -> None:
    """Quantize-and-pack one row of `cols` floats at `src` into `dst` with threshold t (float)."""
    neg_t = b.fneg(t)
    j0 = i64c(0)
    if step is not None:
        n_in = 4 * step
        vf = ir.VectorType(F32, n_in)
        vt, vneg = splat_value(b, t, n_in), splat_value(b, neg_t, n_in)
        c_end = vector_end(b, cols, n_in)
        with counted_loop(b, i64c(0), c_end, n_in, name="vec") as c:
            x = b.load(gep(b, src, c, F32), typ=vf, align=4)
            codes = _code_select(b, x, vt, vneg, ir.VectorType(I8, n_in))
            b.store(pack_codes(b, codes, step), gep(b, dst, b.lshr(c, i64c(2))), align=1)
        j0 = b.lshr(c_end, i64c(2))

    def code_of(i: ir.Value) -> ir.Value:
        return _code_select(b, b.load(gep(b, src, i, F32), typ=F32), t, neg_t, I8)

    emit_byte_loop(b, j0, row_bytes(b, cols), cols, code_of,
                   lambda j, byte: b.store(byte, gep(b, dst, j)))


def build_quantize_pack(module: ir.Module, host: HostInfo) -> None:
    step = vector_bytes_per_step(host)
    fn, b = define_kernel(module, "trk_quantize_pack_f32", VOID,
                          [("x", PTR), ("rows", I64), ("cols", I64), ("threshold", F32),
                           ("scale", F32), ("packed", PTR)])
    x, rows0, cols0, threshold, scale, packed = fn.args
    rows, cols = flatten_if_aligned(b, rows0, cols0)
    t = b.fmul(threshold, scale, name="t")
    rb = row_bytes(b, cols)
    with counted_loop(b, i64c(0), rows, name="row") as r:
        _emit_quantize_row(b, step, gep(b, x, b.mul(r, cols), F32), gep(b, packed, b.mul(r, rb)), cols, t)
    b.ret_void()


def build_quantize_pack_ch(module: ir.Module, host: HostInfo) -> None:
    step = vector_bytes_per_step(host)
    fn, b = define_kernel(module, "trk_quantize_pack_ch_f32", VOID,
                          [("x", PTR), ("rows", I64), ("cols", I64), ("threshold", F32),
                           ("scales", PTR), ("rows_per_scale", I64), ("packed", PTR)])
    x, rows, cols, threshold, scales, rows_per_scale, packed = fn.args
    # A zero divisor would trap; treat it as one row per scale.
    per = b.select(b.icmp_signed(">", rows_per_scale, i64c(0)), rows_per_scale, i64c(1))
    rb = row_bytes(b, cols)
    with counted_loop(b, i64c(0), rows, name="row") as r:
        scale = b.load(gep(b, scales, b.sdiv(r, per), F32), typ=F32)
        t = b.fmul(threshold, scale, name="t")
        _emit_quantize_row(b, step, gep(b, x, b.mul(r, cols), F32), gep(b, packed, b.mul(r, rb)), cols, t)
    b.ret_void()
