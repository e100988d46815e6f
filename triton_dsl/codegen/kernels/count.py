"""Trit-counting kernel over packed data, without unpacking: popcounts on the 2-bit code patterns.

In: an `llvmlite.ir.Module` and the target `Target`. Out: one C-ABI function added to the module:

    void trk_count_trits(const uint8 *packed, int64 rows, int64 cols, int64 counts[4])

counts = [number of -1, number of 0, number of +1, number of defects], where defects are code-3
elements plus padding slots that do not hold code 1 — a well-formed tensor has counts[3] == 0, so
readers of weight files validate with this kernel. For the codes' low bits `lo` and high bits `hi`
(masked with 0x55...): +1 is hi & ~lo, -1 is ~(hi | lo), code 3 is hi & lo; zeros are the rest.
Vector code runs <k x i64> ctpop per step where the host has AVX2/AVX-512.
"""

from __future__ import annotations

from llvmlite import ir

from ...target import Target
from .ternary_ir import (
    I8,
    I64,
    PTR,
    VOID,
    const_splat,
    declare,
    define_kernel,
    for_range,
    gep,
    i64,
    packed_geometry,
    vector_bytes_per_step,
    vector_span,
)

LOW_BITS = 0x5555555555555555


def _classify(b: ir.IRBuilder, word: ir.Value, low_bits: ir.Value, ones: ir.Value) -> tuple:
    """(neg, pos, code3) bit masks, one bit per slot, for a word (scalar or vector) of codes."""
    lo = b.and_(word, low_bits)
    hi = b.and_(b.lshr(word, ones), low_bits)
    pos = b.and_(hi, b.xor(lo, low_bits))
    neg = b.xor(b.or_(hi, lo), low_bits)
    return neg, pos, b.and_(hi, lo)


def build(module: ir.Module, host: Target) -> None:
    step = vector_bytes_per_step(host)
    fn, b = define_kernel(module, "trk_count_trits", VOID,
                          [("packed", PTR), ("rows", I64), ("cols", I64), ("counts", PTR)])
    packed, rows0, cols0, counts = fn.args
    rows, cols, rb = packed_geometry(b, rows0, cols0)
    full = b.lshr(cols, i64(2), name="full_bytes")
    tail_slots = b.and_(cols, i64(3))
    ctpop64 = declare(module, "llvm.ctpop.i64", ir.FunctionType(I64, [I64]))
    # Scalar accumulators: neg, pos, code3, bad padding.
    acc = [b.alloca(I64, name=n) for n in ("neg", "pos", "code3", "badpad")]
    for a in acc:
        b.store(i64(0), a)

    def add(slot: int, value: ir.Value) -> None:
        b.store(b.add(b.load(acc[slot]), value), acc[slot])

    lanes = None
    if step is not None:
        lanes = step // 2  # i64 lanes per vector register (8 on AVX-512, 4 on AVX2)
        vty = ir.VectorType(I64, lanes)
        vpop = declare(module, f"llvm.ctpop.v{lanes}i64", ir.FunctionType(vty, [vty]))
        vsum = declare(module, f"llvm.vector.reduce.add.v{lanes}i64", ir.FunctionType(I64, [vty]))
        vacc = [b.alloca(vty, name=f"v{n}") for n in ("neg", "pos", "code3")]
        for a in vacc:
            b.store(const_splat(I64, lanes, 0), a)

    with for_range(b, i64(0), rows, name="row") as r:
        row = gep(b, packed, b.mul(r, rb), I8)
        j0 = i64(0)
        if lanes is not None:
            nbytes = 8 * lanes
            j0 = vector_span(b, i64(0), full, nbytes)
            with for_range(b, i64(0), j0, nbytes, name="vec") as j:
                word = b.load(gep(b, row, j, I8), typ=vty, align=1)
                masks = _classify(b, word, const_splat(I64, lanes, LOW_BITS), const_splat(I64, lanes, 1))
                for a, m in zip(vacc, masks, strict=True):
                    b.store(b.add(b.load(a), b.call(vpop, [m])), a)
        with for_range(b, j0, full, name="byte") as j:
            word = b.zext(b.load(gep(b, row, j, I8), typ=I8), I64)
            for slot, m in enumerate(_classify(b, word, i64(0x55), i64(1))):
                add(slot, b.call(ctpop64, [m]))
        # Last, partial byte: logical slots counted, padding slots checked for code 1.
        has_tail = b.icmp_signed("!=", tail_slots, i64(0))
        with b.if_then(has_tail):
            word = b.zext(b.load(gep(b, row, full, I8), typ=I8), I64)
            logical = b.sub(b.shl(i64(1), b.shl(tail_slots, i64(1))), i64(1))  # low 2*tail bits
            for slot, m in enumerate(_classify(b, word, b.and_(logical, i64(0x55)), i64(1))):
                add(slot, b.call(ctpop64, [m]))
            wrong = b.and_(b.xor(word, i64(0x55)), b.xor(logical, i64(0xFF)))
            add(3, b.call(ctpop64, [b.and_(b.or_(wrong, b.lshr(wrong, i64(1))), i64(0x55))]))

    if lanes is not None:
        for slot, a in enumerate(vacc):
            add(slot, b.call(vsum, [b.load(a)]))
    neg, pos, code3, badpad = (b.load(a) for a in acc)
    zero = b.sub(b.mul(rows, cols), b.add(b.add(neg, pos), code3))
    for k, v in enumerate((neg, zero, pos, b.add(code3, badpad))):
        b.store(v, gep(b, counts, i64(k), I64))
    b.ret_void()

