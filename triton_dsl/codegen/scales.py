"""Code generation for the scales of packed ternary tensors computed elementwise (`-q`).

In: the `FunctionEmitter`, a freshly packed trit header (owned by the generated code alone) and the
header it was computed from. Out: LLVM IR giving the fresh header the source's scales (docs/runtime.md:
scale_kind, scales pointer), shared by reference, or swapped when the trits were negated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..source import Span
from . import rtabi
from .llvm_types import FLOAT, I1, I32, I64, PTR

if TYPE_CHECKING:
    from .function import FunctionEmitter

SCALE_KIND_ASYMMETRIC = 3  # header scale_kind of (pos, neg) scales (docs/runtime.md)


def emit_copy_scales(fe: FunctionEmitter, dst: ir.Value, src: ir.Value, negate: bool,
                     span: Span | None) -> None:
    """Give `dst` the scales of `src`. With `negate`, dst holds src's trits negated, so asymmetric
    (pos, neg) scales swap into a fresh vector: -(+1 × pos) = -1 × pos. Other kinds share the vector."""
    b = fe.b
    kind = b.load(rtabi.field_ptr(b, src, rtabi.OFF_SCALE_KIND), typ=I32)
    scales = b.load(rtabi.field_ptr(b, src, rtabi.OFF_SCALES), typ=PTR)
    asymmetric = b.icmp_signed("==", kind, ir.Constant(I32, SCALE_KIND_ASYMMETRIC))
    swap = asymmetric if negate else ir.Constant(I1, 0)
    with b.if_else(swap) as (then, otherwise):
        with then:  # a fresh 2-vector (neg, pos)
            f32 = ir.Constant(I32, rtabi.DTYPE_CODE["float32"])
            rank1 = ir.Constant(I32, 1)
            swapped = rtabi.call(b, "trt_tensor_new", fe.ctx, f32, rank1, rtabi.shape_ptr(b, scales))
            swapped_block = b.block
        with otherwise:
            rtabi.call(b, "trt_incref", scales)
            shared_block = b.block
    fresh = b.phi(PTR)
    fresh.add_incoming(swapped, swapped_block)
    fresh.add_incoming(scales, shared_block)
    fe.check_error(span)
    with b.if_then(swap):
        old_data, new_data = rtabi.load_data(b, scales), rtabi.load_data(b, fresh)
        for i in range(2):
            value = b.load(b.gep(old_data, [ir.Constant(I64, 1 - i)], source_etype=FLOAT), typ=FLOAT)
            b.store(value, b.gep(new_data, [ir.Constant(I64, i)], source_etype=FLOAT))
    rtabi.call(b, "trt_decref", b.load(rtabi.field_ptr(b, dst, rtabi.OFF_SCALES), typ=PTR))
    b.store(kind, rtabi.field_ptr(b, dst, rtabi.OFF_SCALE_KIND))
    b.store(fresh, rtabi.field_ptr(b, dst, rtabi.OFF_SCALES))


SCALE_KIND_CHANNEL = 2  # header scale_kind of one scale per index along axis 0


def emit_check_channel_scales(fe: FunctionEmitter, t: ir.Value, rank: int, span: Span | None,
                              axis0_moved: bool = False) -> None:
    """After a shape operation on a packed ternary tensor: per-channel scales still mean one scale per
    index along axis 0 only when axis 0 kept its length (then each channel is the same block of rows) and
    was not moved elsewhere (`axis0_moved`, a transpose); otherwise the scales would silently apply to the
    wrong elements, so it is a run-time error."""
    b = fe.b
    kind = b.load(rtabi.field_ptr(b, t, rtabi.OFF_SCALE_KIND), typ=I32)
    channel = b.icmp_signed("==", kind, ir.Constant(I32, SCALE_KIND_CHANNEL))
    with b.if_then(channel):
        scales = b.load(rtabi.field_ptr(b, t, rtabi.OFF_SCALES), typ=PTR)
        count = rtabi.load_numel(b, scales)
        axis0 = rtabi.load_dim(b, t, 0) if rank > 0 else ir.Constant(I64, 1)
        text = span.text() if span is not None else "this shape operation"
        wrong = ir.Constant(I1, 1) if axis0_moved else b.icmp_signed("!=", count, axis0)
        fe.fail_if(wrong, rtabi.ERR_SHAPE,
                   f"{text}: a ternary tensor with one scale per channel (axis 0) must keep axis 0 in place "
                   "(same position and length)", span)
