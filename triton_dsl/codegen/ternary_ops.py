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
