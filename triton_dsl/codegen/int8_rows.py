"""Whether float32 activations are already int8 absmax-quantized rows, so the int8 kernel is exact on them.

In: an IR builder, the data pointer of x [M, K] (row-major), M and K. Out:
`emit_int8_rows_check(b, x, M, K) -> i1`, calling `i1 tdsl.int8_rows(x, M, K)` (emitted once per module):
true when every element is an integer (no NaN, no infinity) and every row's largest magnitude is
exactly 127 or the row is all zeros.

Why: `trk_bitlinear_t2` quantizes each row to x_q = roundeven(x · 127/γ) with γ = max|row| and scales the
integer dot products back by γ/127. For such rows 127/γ and γ/127 are exactly 1 (or the row is 0), so
x_q = x and the result is the exact dot product times the weight scale — what the float kernels compute
(their integer partial sums are exact in float32 below 2^24), at int8 speed. The stdlib's `bitlinear`
builds exactly such rows before its product. Integer compares on the bits of |x| keep the scan
vectorizable (no fast-math needed); it stops at the first row that does not qualify.
"""

from __future__ import annotations

from llvmlite import ir

from .llvm_types import FLOAT, I32, I64, PTR

NAME = "tdsl.int8_rows"
BITS_127 = 0x42FE0000  # 127.0f
I1 = ir.IntType(1)


def _intrinsic(module: ir.Module, name: str, ty: ir.Type, nargs: int) -> ir.Function:
    fn = module.globals.get(name)
    return fn if fn is not None else ir.Function(module, ir.FunctionType(ty, [ty] * nargs), name)


def _emit_check(module: ir.Module) -> ir.Function:
    fn = ir.Function(module, ir.FunctionType(I1, [PTR, I64, I64]), NAME)
    fn.linkage = "internal"
    x, M, K = fn.args
    roundeven = _intrinsic(module, "llvm.roundeven.f32", FLOAT, 1)
    fabs = _intrinsic(module, "llvm.fabs.f32", FLOAT, 1)
    umax = _intrinsic(module, "llvm.umax.i32", I32, 2)
    names = ("entry", "rows", "row", "cols", "col", "row.end", "next", "yes", "no")
    entry, rows, row, cols, col, row_end, next_row, yes, no = (fn.append_basic_block(n) for n in names)
    b = ir.IRBuilder(entry)
    b.branch(rows)
    b.position_at_end(rows)
    m = b.phi(I64)
    m.add_incoming(ir.Constant(I64, 0), entry)
    b.cbranch(b.icmp_signed("<", m, M), row, yes)
    b.position_at_end(row)
    base = b.gep(x, [b.mul(m, K)], source_etype=FLOAT)
    b.branch(cols)
    b.position_at_end(cols)
    k, top, bad = b.phi(I64), b.phi(I32), b.phi(I1)
    k.add_incoming(ir.Constant(I64, 0), row)
    top.add_incoming(ir.Constant(I32, 0), row)
    bad.add_incoming(ir.Constant(I1, 0), row)
    b.cbranch(b.icmp_signed("<", k, K), col, row_end)
    b.position_at_end(col)
    v = b.load(b.gep(base, [k], source_etype=FLOAT), typ=FLOAT)
    not_integer = b.fcmp_unordered("!=", v, b.call(roundeven, [v]))  # NaN too
    top2 = b.call(umax, [top, b.bitcast(b.call(fabs, [v]), I32)])
    k.add_incoming(b.add(k, ir.Constant(I64, 1)), col)
    top.add_incoming(top2, col)
    bad.add_incoming(b.or_(bad, not_integer), col)
    b.branch(cols)
    b.position_at_end(row_end)
    scale_one = b.or_(b.icmp_unsigned("==", top, ir.Constant(I32, BITS_127)),
                      b.icmp_unsigned("==", top, ir.Constant(I32, 0)))
    b.cbranch(b.and_(b.not_(bad), scale_one), next_row, no)
    b.position_at_end(next_row)
    m.add_incoming(b.add(m, ir.Constant(I64, 1)), next_row)
    b.branch(rows)
    b.position_at_end(yes)
    b.ret(ir.Constant(I1, 1))
    b.position_at_end(no)
    b.ret(ir.Constant(I1, 0))
    return fn


def emit_int8_rows_check(b: ir.IRBuilder, x: ir.Value, M: ir.Value, K: ir.Value) -> ir.Value:
    fn = b.module.globals.get(NAME)
    if fn is None:
        fn = _emit_check(b.module)
    return b.call(fn, [x, M, K])
