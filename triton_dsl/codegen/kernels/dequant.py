"""Dequantization kernel: packed trits + scales in, float32 values out.

In: an `llvmlite.ir.Module` and the target `HostInfo`. Out: one C-ABI function added to the module:

    void trk_dequant_f32(const uint8 *packed, int64 rows, int64 cols, const float *scales,
                         int32 kind, int64 rows_per_scale, float *out)

`kind` selects how scales apply (docs/ternary_format.md), for element (r, c) with trit t:
    0 SCALE_TENSOR      t * scales[0]
    1 SCALE_ROWS        t * scales[r / rows_per_scale]   (per output channel, rank >= 2)
    2 SCALE_COLUMNS     t * scales[c]                    (per channel of a rank-1 tensor)
    3 SCALE_ASYMMETRIC  +1 -> scales[0], -1 -> -scales[1], 0 -> 0
Code 3 (invalid) gives 0. Vector code expands <n x i8> bytes to <4n x float> per step where the
host has AVX2/AVX-512.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from ...jit import HostInfo
from .ternary_ir import (
    F32,
    I8,
    I32,
    I64,
    PTR,
    VOID,
    code_at,
    counted_loop,
    define_kernel,
    flatten_if_aligned,
    gep,
    i64c,
    row_bytes,
    splat,
    splat_value,
    unpack_codes,
    vector_bytes_per_step,
    vector_end,
)

SCALE_TENSOR, SCALE_ROWS, SCALE_COLUMNS, SCALE_ASYMMETRIC = 0, 1, 2, 3


def build(module: ir.Module, host: HostInfo) -> None:
    step = vector_bytes_per_step(host)
    fn, b = define_kernel(module, "trk_dequant_f32", VOID,
                          [("packed", PTR), ("rows", I64), ("cols", I64), ("scales", PTR),
                           ("kind", I32), ("rows_per_scale", I64), ("out", PTR)])
    packed, rows, cols, scales, kind, rows_per_scale, out = fn.args
    by_column = fn.append_basic_block("by_column")
    by_row = fn.append_basic_block("by_row")
    b.cbranch(b.icmp_signed("==", kind, ir.Constant(I32, SCALE_COLUMNS)), by_column, by_row)

    # Per-column scales (rank 1): one row; lane values come from scales[c...].
    b.position_at_end(by_column)

    def column_values(c: ir.Value, lanes: int | None) -> tuple[ir.Value, ir.Value]:
        ptr = gep(b, scales, c, F32)
        pos = b.load(ptr, typ=ir.VectorType(F32, lanes), align=4) if lanes else b.load(ptr, typ=F32)
        return pos, b.fneg(pos)

    _emit_rows(b, step, packed, rows, cols, out, lambda r: column_values)
    b.ret_void()

    # One (pos, neg) pair per row: tensor, per-row-group or asymmetric scales.
    b.position_at_end(by_row)
    per = b.select(b.icmp_signed(">", rows_per_scale, i64c(0)), rows_per_scale, i64c(1))
    is_rows = b.icmp_signed("==", kind, ir.Constant(I32, SCALE_ROWS))
    is_asym = b.icmp_signed("==", kind, ir.Constant(I32, SCALE_ASYMMETRIC))
    # Tensor and asymmetric scales do not depend on the row: flatten unpadded tensors to one row.
    frows, fcols = flatten_if_aligned(b, rows, cols)
    rows_eff = b.select(is_rows, rows, frows)
    cols_eff = b.select(is_rows, cols, fcols)

    def row_values(r: ir.Value) -> Callable:
        pos_index = b.select(is_rows, b.sdiv(r, per), i64c(0))
        pos = b.load(gep(b, scales, pos_index, F32), typ=F32)
        neg = b.fneg(b.load(gep(b, scales, b.select(is_asym, i64c(1), pos_index), F32), typ=F32))
        vec_cache: dict[int, tuple[ir.Value, ir.Value]] = {}
        if step is not None:
            vec_cache[4 * step] = (splat_value(b, pos, 4 * step), splat_value(b, neg, 4 * step))

        def values(_c: ir.Value, lanes: int | None) -> tuple[ir.Value, ir.Value]:
            return vec_cache[lanes] if lanes else (pos, neg)
        return values

    _emit_rows(b, step, packed, rows_eff, cols_eff, out, row_values)
    b.ret_void()


def _emit_rows(b: ir.IRBuilder, step: int | None, packed: ir.Value, rows: ir.Value, cols: ir.Value,
               out: ir.Value, values_for_row: Callable[[ir.Value], Callable]) -> None:
    rb = row_bytes(b, cols)
    zero_f = ir.Constant(F32, 0.0)
    with counted_loop(b, i64c(0), rows, name="row") as r:
        src = gep(b, packed, b.mul(r, rb))
        dst = gep(b, out, b.mul(r, cols), F32)
        values = values_for_row(r)
        c0 = i64c(0)
        if step is not None:
            n = 4 * step
            c0 = vector_end(b, cols, n)
            with counted_loop(b, i64c(0), c0, n, name="vec") as c:
                raw = b.load(gep(b, src, b.lshr(c, i64c(2))), typ=ir.VectorType(I8, step), align=1)
                codes = unpack_codes(b, raw, step)
                pos, neg = values(c, n)
                val = b.select(b.icmp_unsigned("==", codes, splat(I8, n, 2)), pos,
                               b.select(b.icmp_unsigned("==", codes, splat(I8, n, 0)), neg,
                                        splat(F32, n, 0.0)))
                b.store(val, gep(b, dst, c, F32), align=4)
        with counted_loop(b, c0, cols, name="tail") as i:
            code = code_at(b, src, i)
            pos, neg = values(i, None)
            val = b.select(b.icmp_unsigned("==", code, ir.Constant(I8, 2)), pos,
                           b.select(b.icmp_unsigned("==", code, ir.Constant(I8, 0)), neg, zero_f))
            b.store(val, gep(b, dst, i, F32))
