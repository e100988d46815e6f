"""Typing of the quantization stdlib's primitives (`ternarize`, `quantile`, `cast`, `trits`,
`along_axis0`, `conv2d_dynamic`).

In: one-line programs. Out: assertions on the result type of each call and on the diagnostics of bad
calls (code and the words of the message).
"""

from __future__ import annotations

import pytest

from triton_dsl.check.checker import check_program
from triton_dsl.check.targets import PrimitiveTarget
from triton_dsl.diagnostics import DiagnosticSink
from triton_dsl.source import Source
from triton_dsl.syntax.parser import parse_program

PRELUDE = ("let x = randn([4, 3])\nlet v = randn([4])\nlet img = randn([1, 3, 8, 8])\n"
           "let k = randn([2, 3, 3, 3])\n")


def check(line: str):
    sink = DiagnosticSink()
    program = parse_program(Source("t.triton", PRELUDE + line + "\n"), sink)
    check_program(program, sink)
    return program, sink


def typed(expr: str):
    program, sink = check(f"let r = {expr}")
    assert not sink.has_errors, "\n".join(d.render() for d in sink.diagnostics)
    value = program.items[-1].value
    assert isinstance(value.target, PrimitiveTarget)
    return value


CASES = [
    ("ternarize(x, 0.5, -0.5)", "TernaryTensor<trit, [4, 3]>"),
    ("ternarize(x, 0.5, -0.5, 2.0, 3.0)", "TernaryTensor<trit, [4, 3]>"),
    ("ternarize(x, v, -v, v, v)", "TernaryTensor<trit, [4, 3]>"),
    ("ternarize(x, tensor([0.5]), -0.5)", "TernaryTensor<trit, [4, 3]>"),
    ("quantile(x, 0.7)", "float32"),
    ("quantile(abs(v), 0.5)", "float32"),
    ("cast(x, float16)", "Tensor<float16, [4, 3]>"),
    ("cast(1.5, float64)", "float64"),
    ("trits(threshold_quantize(x))", "Tensor<int8, [4, 3]>"),
    ("along_axis0(v, x)", "Tensor<float32, [4, 1]>"),
    ("along_axis0(v, img[0, 0, 0:4, :])", "Tensor<float32, [4, 1]>"),
    ("conv2d_dynamic(img, k, None, 2, 1)", "Tensor<float32, [1, 2, 4, 4]>"),
]


@pytest.mark.parametrize("expr,expected", CASES, ids=[c[0] for c in CASES])
def test_result_type(expr, expected):
    value = typed(expr)
    assert str(value.ty) == expected
    assert [a.name for a in value.target.args] == value.target.primitive.param_names()


def test_cast_records_the_dtype_for_the_back_end():
    assert typed("cast(x, float16)").target.info["dtype"] == "float16"


def test_conv2d_dynamic_with_run_time_stride_has_unknown_spatial_dims():
    program, sink = check("fn f(s: int32) -> int32 {\n let y = conv2d_dynamic(img, k, None, s, 0)\n"
                          " return 0\n}")
    assert not sink.has_errors, "\n".join(d.render() for d in sink.diagnostics)
    src = ("fn f(s: int32) -> Tensor<float32, [1, 2, ?, ?]> {\n"
           " return conv2d_dynamic(img, k, None, s, [1, 1])\n}")
    program, sink = check(src)
    assert not sink.has_errors, "\n".join(d.render() for d in sink.diagnostics)


BAD = [
    ("ternarize(x, randn([3]), -0.5)", "E0401", "has 3 values but the tensor's first dim is 4"),
    ("ternarize(x, randn([4, 1]), -0.5)", "E0501", "a number or a tensor of shape [] or [channels]"),
    ("ternarize(int32(x), 0.5, -0.5)", "E0501", "must be a float32 tensor"),
    ("quantile(x, [0.5])", "E0501", "must be a number"),
    ("cast(x, 3)", "E0501", "a dtype known at compile time"),
    ("cast(x, int8, floats_only=true)", "E0501", "dtype must be a float dtype (float16, float32 or float64)"),
    ("dequantize(threshold_quantize(x), dtype=int32)", "E0501", "got int32"),
    ("trits(x)", "E0501", "must be a TernaryTensor"),
    ("along_axis0(randn([3]), x)", "E0401", "3 per-channel values for a tensor whose first dim is 4"),
    ("along_axis0(v, 1.0)", "E0501", "rank 1 or more"),
    ("conv2d_dynamic(img, k, None, 1.5, 0)", "E0501", "an integer or a pair of integers"),
]


@pytest.mark.parametrize("expr,code,words", BAD, ids=[b[0] for b in BAD])
def test_bad_calls_are_diagnosed(expr, code, words):
    _, sink = check(f"let r = {expr}")
    errors = [d for d in sink.diagnostics if d.severity == "error"]
    assert errors and errors[0].code == code, "\n".join(d.render() for d in sink.diagnostics)
    assert words in errors[0].message
