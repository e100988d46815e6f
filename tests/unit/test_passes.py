"""IR passes: constant folding/DCE, fusion of elementwise chains, explicit reference counting."""

from __future__ import annotations

from collections import Counter

from test_ir import lower

from triton_dsl.ir.nodes import Module
from triton_dsl.passes import run_passes
from triton_dsl.passes.fusion import run_fusion
from triton_dsl.passes.simplify import run_simplify


def opcodes(module: Module, fn: str) -> Counter:
    return Counter(op.opcode for op in module.functions[fn].walk())


def top_opcodes(module: Module, fn: str) -> list[str]:
    return [op.opcode for op in module.functions[fn].body.ops]


def test_chains_fuse_into_one_loop():
    src = """
fn soft(x: Tensor<float32, [n]>, t: float32) -> Tensor<float32, [n]> { return tanh(x / t) }
fn sq(a: Tensor<float32, [n]>, b: Tensor<float32, [n]>) -> Tensor<float32, [n]> { return (a - b) ** 2 }
fn pick(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> {
    return where(x > 0.5, x * 2.0, where(x < -0.5, -x, 0.0))
}
"""
    module = lower(src)
    run_simplify(module)
    run_fusion(module)
    for fn in ("soft", "sq", "pick"):
        counts = opcodes(module, fn)
        assert counts["fused"] == 1, (fn, counts)
        # No elementwise op on tensors is left outside the fused loop.
        outside = [op for op in module.functions[fn].body.ops
                   if op.opcode in ("binary", "unary", "select") and op.result.type.is_refcounted()]
        assert not outside, fn


def test_a_value_used_twice_is_not_recomputed():
    module = lower("fn f(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> {\n"
                   "    let e = exp(x)\n    return e * e + e\n}\n")
    run_fusion(module)
    assert opcodes(module, "f")["fused"] == 2  # exp(x) once, then the consumer reads it three times


def test_integer_constants_fold_with_wraparound_and_failing_ops_stay():
    module = lower("fn f() -> int8 {\n    let a: int8 = 100\n    let b: int8 = 100\n"
                   "    let unused = 7 // 0\n    return a + b\n}\n")
    run_simplify(module)
    ret = module.functions["f"].body.ops[-1]
    folded = next(op for op in module.functions["f"].body.ops if op.results and op.result is ret.operands[0])
    assert folded.opcode == "const" and folded.attrs["value"] == -56
    assert any(op.opcode == "binary" and op.attrs["op"] == "floordiv" for op in module.functions["f"].walk())


def test_refcounts_balance_in_straight_line_code():
    module = lower("fn f(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> {\n"
                   "    let a = exp(x)\n    let b = exp(a)\n    let unused = exp(b)\n    return b\n}\n")
    run_passes(module, fuse=False)
    # `unused` is dead code (removed); a is released after its last use; b is handed over by return.
    assert top_opcodes(module, "f") == ["unary", "unary", "release", "return"]


def test_refcounts_for_returned_parameters_and_loops():
    module = lower("fn f(x: Tensor<float32, [n]>, k: int32) -> Tensor<float32, [n]> {\n"
                   "    let y = x\n    for i in 0..k { y = y + 1.0 }\n    return y\n}\n"
                   "fn g(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> { return x }\n")
    run_passes(module, fuse=False)
    assert top_opcodes(module, "g") == ["retain", "return"]
    loop = next(op for op in module.functions["f"].body.ops if op.opcode == "for")
    body = [op.opcode for op in loop.regions[0].ops]
    assert body.count("release") == 1 and body[-1] == "yield"  # the old y goes each iteration
    assert top_opcodes(module, "f")[top_opcodes(module, "f").index("for") - 1] == "retain"  # x borrowed


def test_return_inside_a_loop_does_not_release_the_handed_over_initial_value():
    module = lower("fn f(n: int32, x: Tensor<float32, [k]>) -> int32 {\n"
                   "    let t = x * 2.0\n    for i in 0..n {\n        if i == 2 { return 7 }\n"
                   "        t = t + 1.0\n    }\n    return int32(sum(t))\n}\n")
    run_passes(module, fuse=False)
    fn = module.functions["f"]
    loop = next(op for op in fn.body.ops if op.opcode == "for")
    initial = loop.operands[3]  # t = x * 2.0, handed over to the loop (its last use)
    carried = loop.regions[0].args[1]
    branch = next(op for op in loop.regions[0].ops if op.opcode == "if")
    released = [op.operands[0] for op in branch.regions[0].ops if op.opcode == "release"]
    # the loop body owns the carried value (the initial one on the first pass): release that, once
    assert released == [carried] and initial not in released
    assert not any(op.opcode == "retain" and op.operands[0] is initial for op in fn.body.ops)
