"""Dequantization kernel: packed trits + scales in, float32 values out.

In: an `llvmlite.ir.Module` and the target `Target`. Out: one C-ABI function added to the module:

    void trk_dequant_f32(const uint8 *packed, int64 rows, int64 cols, const float *scales,
                         int32 kind, int64 rows_per_scale, float *out)

`kind` selects how scales apply (docs/ternary_format.md), for element (r, c) with trit t:
    0 SCALE_TENSOR      t * scales[0]
    1 SCALE_ROWS        t * scales[r / rows_per_scale]   (per output channel, rank >= 2)
    2 SCALE_COLUMNS     t * scales[c]                    (per channel of a rank-1 tensor)
    3 SCALE_ASYMMETRIC  +1 -> scales[0], -1 -> -scales[1], 0 -> 0
Code 3 (invalid) gives 0. The packed bytes are split across the thread pool; vector code expands
<n x i8> bytes to <4n x float> per step where the host has AVX2/AVX-512.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from ...target import Target
from .ternary_ir import (
    F32,
    I8,
    I32,
    I64,
    PARALLEL_GRAIN,
    PTR,
    VOID,
    code_at,
    const_splat,
    define_kernel,
    emit_parallel,
    flatten_if_aligned,
    for_range,
    gep,
    i64,
    imax,
    imin,
    row_bytes,
    row_segments,
    splat,
    unpack_codes,
    vector_bytes_per_step,
    vector_span,
)

SCALE_TENSOR, SCALE_ROWS, SCALE_COLUMNS, SCALE_ASYMMETRIC = 0, 1, 2, 3

# values(first column, lanes or None) -> (value of +1, value of -1) for a vector step / one element.
Values = Callable[[ir.Value, "int | None"], tuple[ir.Value, ir.Value]]


def build(module: ir.Module, host: Target) -> None:
    step = vector_bytes_per_step(host)
    fn, b = define_kernel(module, "trk_dequant_f32", VOID,
                          [("packed", PTR), ("rows", I64), ("cols", I64), ("scales", PTR),
                           ("kind", I32), ("rows_per_scale", I64), ("out", PTR)])
    packed, rows, cols, scales, kind, rows_per_scale, out = fn.args
    is_rows = b.icmp_signed("==", kind, ir.Constant(I32, SCALE_ROWS))
    is_cols = b.icmp_signed("==", kind, ir.Constant(I32, SCALE_COLUMNS))
    is_asym = b.icmp_signed("==", kind, ir.Constant(I32, SCALE_ASYMMETRIC))
    # Only per-row scales depend on the row: otherwise flatten unpadded tensors to one row.
    frows, fcols = flatten_if_aligned(b, rows, cols)
    rows = b.select(is_rows, rows, frows)
    cols = b.select(is_rows, cols, fcols)
    rb = row_bytes(b, cols)
    per = imax(b, rows_per_scale, i64(1))  # a zero divisor would trap

    def chunk(cb: ir.IRBuilder, args: list, begin: ir.Value, end: ir.Value) -> None:
        packed, cols, rb, scales, is_rows, is_cols, is_asym, per, out = args
        with row_segments(cb, begin, end, rb) as (r, jb, je):
            src = gep(cb, packed, cb.mul(r, rb), I8)
            dst = gep(cb, out, cb.mul(r, cols), F32)
            c_begin = cb.shl(jb, i64(2))
            c_end = imin(cb, cb.shl(je, i64(2)), cols)
            with cb.if_else(is_cols) as (by_column, by_row):
                with by_column:
                    _emit_elements(cb, step, src, dst, c_begin, c_end, _column_values(cb, scales))
                with by_row:
                    values = _row_values(cb, step, scales, r, per, is_rows, is_asym)
                    _emit_elements(cb, step, src, dst, c_begin, c_end, values)

    emit_parallel(module, b, "trk_dequant_f32",
                  [packed, cols, rb, scales, is_rows, is_cols, is_asym, per, out],
                  b.mul(rows, rb), PARALLEL_GRAIN, chunk)
    b.ret_void()


def _column_values(b: ir.IRBuilder, scales: ir.Value) -> Values:
    """Per-column scales (rank 1): lane values come from scales[c...]."""
    def values(c: ir.Value, lanes: int | None) -> tuple[ir.Value, ir.Value]:
        ty = ir.VectorType(F32, lanes) if lanes else F32
        pos = b.load(gep(b, scales, c, F32), typ=ty, align=4)
        return pos, b.fneg(pos)
    return values


def _row_values(b: ir.IRBuilder, step: int | None, scales: ir.Value, r: ir.Value, per: ir.Value,
                is_rows: ir.Value, is_asym: ir.Value) -> Values:
    """One (pos, neg) pair for the whole row: tensor, per-row-group or asymmetric scales."""
    pos_index = b.select(is_rows, b.sdiv(r, per), i64(0))
    pos = b.load(gep(b, scales, pos_index, F32), typ=F32)
    neg = b.fneg(b.load(gep(b, scales, b.select(is_asym, i64(1), pos_index), F32), typ=F32))
    wide = (splat(b, pos, 4 * step), splat(b, neg, 4 * step)) if step is not None else None

    def values(_c: ir.Value, lanes: int | None) -> tuple[ir.Value, ir.Value]:
        return wide if lanes else (pos, neg)
    return values


def _emit_elements(b: ir.IRBuilder, step: int | None, src: ir.Value, dst: ir.Value, c_begin: ir.Value,
                   c_end: ir.Value, values: Values) -> None:
    """Dequantize elements [c_begin, c_end) of one packed row (c_begin a multiple of 4)."""
    c0 = c_begin
    if step is not None:
        n = 4 * step
        c0 = vector_span(b, c_begin, c_end, n)
        with for_range(b, c_begin, c0, n, name="vec") as c:
            raw = b.load(gep(b, src, b.lshr(c, i64(2)), I8), typ=ir.VectorType(I8, step), align=1)
            pos, neg = values(c, n)
            b.store(_select_values(b, unpack_codes(b, raw, step), pos, neg, n), gep(b, dst, c, F32), align=4)
    with for_range(b, c0, c_end, name="tail") as i:
        pos, neg = values(i, None)
        b.store(_select_values(b, code_at(b, src, i), pos, neg, None), gep(b, dst, i, F32))


def _select_values(b: ir.IRBuilder, codes: ir.Value, pos: ir.Value, neg: ir.Value, lanes: int | None):
    """code 2 -> pos, code 0 -> neg, else 0.0 (scalar or <lanes x float>)."""
    if lanes:
        two, zero, fzero = const_splat(I8, lanes, 2), const_splat(I8, lanes, 0), const_splat(F32, lanes, 0.0)
    else:
        two, zero, fzero = ir.Constant(I8, 2), ir.Constant(I8, 0), ir.Constant(F32, 0.0)
    return b.select(b.icmp_unsigned("==", codes, two), pos,
                    b.select(b.icmp_unsigned("==", codes, zero), neg, fzero))


