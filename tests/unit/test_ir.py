"""IR: lowering of checked programs (golden text per sample, spans included), printer and verifier."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from triton_dsl.diagnostics import DiagnosticSink
from triton_dsl.ir.builder import Builder
from triton_dsl.ir.lowering import lower_program
from triton_dsl.ir.nodes import Block, Function, Module, Op, Value
from triton_dsl.ir.printer import print_module
from triton_dsl.ir.types import F32, I32, TensorTy
from triton_dsl.ir.verifier import IRVerificationError, verify_module
from triton_dsl.passes import run_passes
from triton_dsl.pipeline import check_source
from triton_dsl.source import Source, Span

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "ir"
UPDATE = os.environ.get("TRITON_DSL_UPDATE_GOLDEN") == "1"


def lower(text: str, name: str = "t.triton") -> Module:
    result = check_source(Source(name, text))
    assert result.ok, [str(d) for d in result.diagnostics]
    sink = DiagnosticSink()
    module = lower_program(result.checked, sink)
    assert not sink.diagnostics, [str(d) for d in sink.diagnostics]
    verify_module(module)
    return module


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.triton")), ids=lambda p: p.stem)
def test_golden_ir_after_passes(path):
    module = lower(path.read_text(), path.name)
    run_passes(module)
    text = print_module(module)
    expected = path.with_suffix(".ir")
    if UPDATE:
        expected.write_text(text)
    # a missing golden fails: writing it here would compare the output with itself
    assert expected.exists(), f"missing {expected.name}: run with TRITON_DSL_UPDATE_GOLDEN=1"
    assert text == expected.read_text()


def test_every_op_has_a_span_on_its_source_line():
    src = "fn f(x: Tensor<float32, [n]>, s: float32) -> Tensor<float32, [n]> {\n    return exp(x) * s\n}\n"
    module = lower(src)
    ops = [op for op in module.functions["f"].walk() if op.opcode in ("unary", "binary")]
    assert {(op.span.line, op.span.text()) for op in ops} == {(2, "exp(x)"), (2, "exp(x) * s")}


def test_loop_carried_variables_are_ssa_values():
    module = lower("fn f(k: int32) -> int32 {\n  let a = 1\n  for i in 0..k { a = a * 2 }\n  return a\n}\n")
    loop = next(op for op in module.functions["f"].walk() if op.opcode == "for")
    assert len(loop.results) == 1 and loop.regions[0].ops[-1].opcode == "yield"


def test_unsupported_constructs_report_e0901():
    result = check_source(Source("t.triton", "fn f(q: TernaryTensor<trit, [?]>) -> int32 {\n"
                                              "    return int32(q[0])\n}\nlet q = sign(tensor([1.0]))\n"
                                              "print(f(q))\nprint(q[0])\n"))
    sink = DiagnosticSink()
    lower_program(result.checked, sink)
    message = "indexing packed ternary tensors is not available yet"
    assert sink.diagnostics and all(d.code == "E0901" and message in d.message for d in sink.diagnostics)
    assert [d.line for d in sink.diagnostics] == [2, 6]


def test_fixed_length_lists_of_scalars_are_tuples_until_they_are_bound():
    result = check_source(Source("t.triton", "print(length([1, 2, 3]))\nlet xs = [1, 2, 3]\n"
                                              "print(length(xs))\n"))
    sink = DiagnosticSink()
    module = lower_program(result.checked, sink)
    assert sink.diagnostics == []
    text = print_module(module)
    assert "tuple" in text and "(i32, i32, i32)" in text  # the literal passed to length
    assert "list_new" in text and "[i32, ...]" in text  # `xs`: a growable list


SPAN = Span(Source("v.triton", "x"), 0, 1)


def fn_with(build) -> Module:
    m = Module()
    body = Block([Value(F32, "x"), Value(TensorTy("float32", 1), "t")])
    m.add(Function("f", body, F32, span=SPAN))
    build(Builder(body, SPAN), *body.args)
    return m


def test_verifier_rejects_use_before_definition():
    def build(b, x, t):
        ghost = Value(F32)
        b.ret(b.binary("add", x, ghost))
    with pytest.raises(IRVerificationError, match="not defined before"):
        verify_module(fn_with(build))


def test_verifier_rejects_mixed_dtypes_and_bad_yields():
    def mixed(b, x, t):
        b.ret(b.op("binary", [x, b.const(1, I32)], [F32], {"op": "add"}).result)
    with pytest.raises(IRVerificationError, match="dtypes differ"):
        verify_module(fn_with(mixed))

    def bad_yield(b, x, t):
        op = b.if_(b.binary("lt", x, x), [F32])
        with b.at(op.regions[0]):
            b.yield_([b.const(1, I32)])
        with b.at(op.regions[1]):
            b.yield_([x])
        b.ret(op.result)
    with pytest.raises(IRVerificationError, match="yielded types"):
        verify_module(fn_with(bad_yield))


def test_verifier_requires_spans_on_fallible_ops_and_a_return():
    def no_span(b, x, t):
        b.block.ops.append(Op("rt", [t], [F32], {"fn": "trt_sum_all_f32"}, None))
        b.ret(x)
    with pytest.raises(IRVerificationError, match="no source span"):
        verify_module(fn_with(no_span))
    with pytest.raises(IRVerificationError, match="does not end in return"):
        verify_module(fn_with(lambda b, x, t: b.const(1.0, F32)))
