"""Fused threshold quantize-and-pack kernels: float32 in, packed trits out, one pass, no int8 buffer.

In: an `llvmlite.ir.Module` and the target `Target`. Out: two C-ABI functions added to the module:

    void trk_quantize_pack_f32(const float *x, int64 rows, int64 cols,
                               float threshold, float scale, uint8 *packed)
        trit = +1 where x > t, -1 where x < -t, else 0 (NaN -> 0), with t = threshold * scale
        rounded to float32; comparisons are strict, so x == +-t gives 0.
    void trk_quantize_pack_ch_f32(const float *x, int64 rows, int64 cols, float threshold,
                                  const float *scales, int64 rows_per_scale, uint8 *packed)
        the same with t = threshold * scales[r / rows_per_scale] for row r (per-channel scales).

The output is the interchange layout (docs/ternary_format.md): rows x ceil(cols/4) bytes, padded
with code 1. The packed bytes are split across the thread pool; vector code compares
<4n x float> per step where the host has AVX2/AVX-512.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from ...target import Target
from .ternary_ir import (
    F32,
    I8,
    I64,
    PARALLEL_GRAIN,
    PTR,
    VOID,
    define_kernel,
    emit_byte_loop,
    emit_parallel,
    for_range,
    gep,
    i64,
    imax,
    imin,
    pack_codes,
    packed_geometry,
    row_bytes,
    row_segments,
    splat,
    vector_bytes_per_step,
    vector_span,
)


def build(module: ir.Module, host: Target) -> None:
    step = vector_bytes_per_step(host)
    build_quantize_pack(module, step)
    build_quantize_pack_ch(module, step)


def _code_select(b: ir.IRBuilder, x: ir.Value, pos_t: ir.Value, neg_t: ir.Value, ity: ir.Type) -> ir.Value:
    """code 2 where x > t, else 0 where x < -t, else 1 (ordered compares: NaN gives 1)."""
    def const(v: int) -> ir.Constant:
        return ir.Constant(ity, [v] * ity.count) if isinstance(ity, ir.VectorType) else ir.Constant(ity, v)

    above = b.fcmp_ordered(">", x, pos_t)
    below = b.fcmp_ordered("<", x, neg_t)
    return b.select(above, const(2), b.select(below, const(0), const(1)))


def _emit_quantize_bytes(b: ir.IRBuilder, step: int | None, src: ir.Value, dst: ir.Value,
                         cols: ir.Value, jb: ir.Value, je: ir.Value, t: ir.Value) -> None:
    """Quantize-and-pack bytes [jb, je) of one row of `cols` floats at `src` into `dst`."""
    neg_t = b.fneg(t)
    j0 = jb
    if step is not None:
        n_in = 4 * step
        vt, vneg = splat(b, t, n_in), splat(b, neg_t, n_in)
        j0 = vector_span(b, jb, imin(b, je, b.lshr(cols, i64(2))), step)
        with for_range(b, jb, j0, step, name="vec") as j:
            x = b.load(gep(b, src, b.shl(j, i64(2)), F32), typ=ir.VectorType(F32, n_in), align=4)
            codes = _code_select(b, x, vt, vneg, ir.VectorType(I8, n_in))
            b.store(pack_codes(b, codes, step), gep(b, dst, j, I8), align=1)

    def code_of(i: ir.Value) -> ir.Value:
        return _code_select(b, b.load(gep(b, src, i, F32), typ=F32), t, neg_t, I8)

    emit_byte_loop(b, j0, je, cols, code_of, lambda j, byte: b.store(byte, gep(b, dst, j, I8)))


def _rows_chunk(step: int | None, threshold_of_row: Callable[[ir.IRBuilder, list, ir.Value], ir.Value]):
    """The parallel chunk body over packed bytes; args start with (x, cols, rb, packed)."""
    def chunk(cb: ir.IRBuilder, args: list, begin: ir.Value, end: ir.Value) -> None:
        x, cols, rb, packed = args[:4]
        with row_segments(cb, begin, end, rb) as (r, jb, je):
            src = gep(cb, x, cb.mul(r, cols), F32)
            dst = gep(cb, packed, cb.mul(r, rb), I8)
            _emit_quantize_bytes(cb, step, src, dst, cols, jb, je, threshold_of_row(cb, args, r))
    return chunk


def build_quantize_pack(module: ir.Module, step: int | None) -> None:
    fn, b = define_kernel(module, "trk_quantize_pack_f32", VOID,
                          [("x", PTR), ("rows", I64), ("cols", I64), ("threshold", F32),
                           ("scale", F32), ("packed", PTR)])
    x, rows0, cols0, threshold, scale, packed = fn.args
    rows, cols, rb = packed_geometry(b, rows0, cols0)
    t = b.fmul(threshold, scale, name="t")
    emit_parallel(module, b, "trk_quantize_pack_f32", [x, cols, rb, packed, t], b.mul(rows, rb),
                  PARALLEL_GRAIN, _rows_chunk(step, lambda cb, args, r: args[4]))
    b.ret_void()


def build_quantize_pack_ch(module: ir.Module, step: int | None) -> None:
    fn, b = define_kernel(module, "trk_quantize_pack_ch_f32", VOID,
                          [("x", PTR), ("rows", I64), ("cols", I64), ("threshold", F32),
                           ("scales", PTR), ("rows_per_scale", I64), ("packed", PTR)])
    x, rows, cols, threshold, scales, rows_per_scale, packed = fn.args
    per = imax(b, rows_per_scale, i64(1))  # a zero divisor would trap
    rb = row_bytes(b, cols)

    def threshold_of_row(cb: ir.IRBuilder, args: list, r: ir.Value) -> ir.Value:
        threshold, scales, per = args[4:]
        scale = cb.load(gep(cb, scales, cb.sdiv(r, per), F32), typ=F32)
        return cb.fmul(threshold, scale, name="t")

    emit_parallel(module, b, "trk_quantize_pack_ch_f32", [x, cols, rb, packed, threshold, scales, per],
                  b.mul(rows, rb), PARALLEL_GRAIN, _rows_chunk(step, threshold_of_row))
    b.ret_void()
