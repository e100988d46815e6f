"""Every primitive of the table through the checker: the result type of a representative call
(creation, elementwise, reductions, linear algebra and nn, shape ops and tensor methods, casts,
autodiff, io). `x` is a `Tensor<float32, [2, 3]>`."""

import pytest

from triton_dsl.check.checker import check_program
from triton_dsl.check.targets import PrimitiveTarget
from triton_dsl.diagnostics import DiagnosticSink
from triton_dsl.source import Source
from triton_dsl.syntax import ast
from triton_dsl.syntax.parser import parse_program

CASES = [
    ('zeros([2, 3])', 'Tensor<float32, [2, 3]>'),
    ('ones([4], dtype=int8)', 'Tensor<int8, [4]>'),
    ('full([2, 2], 7)', 'Tensor<int32, [2, 2]>'),
    ('rand([3])', 'Tensor<float32, [3]>'),
    ('arange(5)', 'Tensor<int32, [5]>'),
    ('arange(0.0, 1.0, 0.25)', 'Tensor<float32, [?]>'),
    ('tensor([1, 2, 3])', 'Tensor<int32, [3]>'),
    ('tensor(1.5)', 'Tensor<float32, []>'),
    ('exp(x)', 'Tensor<float32, [2, 3]>'),
    ('log(ones([4], dtype=int8))', 'Tensor<float32, [4]>'),
    ('sqrt(2.0)', 'float32'),
    ('tanh(x)', 'Tensor<float32, [2, 3]>'),
    ('sigmoid(x)', 'Tensor<float32, [2, 3]>'),
    ('relu(x)', 'Tensor<float32, [2, 3]>'),
    ('sin(x)', 'Tensor<float32, [2, 3]>'),
    ('cos(1)', 'float32'),
    ('floor(x)', 'Tensor<float32, [2, 3]>'),
    ('ceil(x)', 'Tensor<float32, [2, 3]>'),
    ('round(x)', 'Tensor<float32, [2, 3]>'),
    ('abs(-3)', 'int32'),
    ('clamp(x, 0.0, 1.0)', 'Tensor<float32, [2, 3]>'),
    ('maximum(x, randn([3]))', 'Tensor<float32, [2, 3]>'),
    ('pow(x, 2)', 'Tensor<float32, [2, 3]>'),
    ('sign(-2.0)', 'float32'),
    ('sum(x)', 'Tensor<float32, []>'),
    ('mean(x, dim=-1)', 'Tensor<float32, [2]>'),
    ('std(x, dim=0, keepdim=true)', 'Tensor<float32, [1, 3]>'),
    ('var(x)', 'Tensor<float32, []>'),
    ('prod(ones([4], dtype=int8))', 'Tensor<int32, []>'),
    ('argmin(x)', 'Tensor<int64, []>'),
    ('min(x, dim=1)', 'Tensor<float32, [2]>'),
    ('min(3, 4)', 'int32'),
    ('max(x, randn([2, 3]))', 'Tensor<float32, [2, 3]>'),
    ('matmul(x, randn([3, 5]))', 'Tensor<float32, [2, 5]>'),
    ('log_softmax(x, dim=0)', 'Tensor<float32, [2, 3]>'),
    ('x.reshape([3, 2])', 'Tensor<float32, [3, 2]>'),
    ('x.t()', 'Tensor<float32, [3, 2]>'),
    ('x.transpose(0, 1)', 'Tensor<float32, [3, 2]>'),
    ('x.flatten()', 'Tensor<float32, [6]>'),
    ('x.sum(dim=0)', 'Tensor<float32, [3]>'),
    ('x.mean()', 'Tensor<float32, []>'),
    ('x.abs()', 'Tensor<float32, [2, 3]>'),
    ('x.squeeze()', 'Tensor<float32, [2, 3]>'),
    ('concat([x, randn([5, 3])])', 'Tensor<float32, [7, 3]>'),
    ('unsqueeze(x, -1)', 'Tensor<float32, [2, 3, 1]>'),
    ('int64(x)', 'Tensor<int64, [2, 3]>'),
    ('float64(3)', 'float64'),
    ('bool(1)', 'bool'),
    ('int(2.5)', 'int32'),
    ('float(2)', 'float32'),
    ('stop_gradient(x)', 'Tensor<float32, [2, 3]>'),
    ('x.detach()', 'Tensor<float32, [2, 3]>'),
    ('load_tensor("w.bin", "w", 2)', 'Tensor<float32, [?, ?]>'),
    ('load_tensor("w.bin", "b", 1, dtype=int8)', 'Tensor<int8, [?]>'),
    ('load_ternary("w.bin", "q", 2)', 'TernaryTensor<trit, [?, ?]>'),
    ('uniform(-1.0, 1.0, [3, 3])', 'Tensor<float32, [3, 3]>'),
    ('seed(42)', '()'),
    ('where(x > 0.0, x, 0.0)', 'Tensor<float32, [2, 3]>'),
    ('minimum(x, 0.0)', 'Tensor<float32, [2, 3]>'),
    ('clip(x, -1.0, 1.0)', 'Tensor<float32, [2, 3]>'),
    ('squeeze(randn([3, 1]), 1)', 'Tensor<float32, [3]>'),
    ('int8(x)', 'Tensor<int8, [2, 3]>'),
    ('int16(2.5)', 'int16'),
    ('float32(1)', 'float32'),
    ('save_weights("w.bin", "x", x, "y", x)', '()'),
    ('backward(mean(x))', '()'),
    ('backward(x, ones([2, 3]))', '()'),
    ('zero_grad(x)', '()'),
    ('x.copy_(x * 2.0)', '()'),
    ('x.requires_grad_()', 'Tensor<float32, [2, 3]>'),
    ('no_grad(fn() { return x * 2.0 })', 'Tensor<float32, [2, 3]>'),
    ('clock()', 'float64'),
]


def typed(expr: str, statement: bool = False):
    """The typed call node of `let r = expr` (or of `expr` as a statement, for calls with no value)."""
    sink = DiagnosticSink()
    line = expr if statement else f"let r = {expr}"
    program = parse_program(Source("t.triton", f"let x = randn([2, 3])\n{line}\n"), sink)
    check_program(program, sink)
    assert not sink.has_errors, "\n".join(d.render() for d in sink.diagnostics)
    item = program.items[1]
    return item.expr if statement else item.value


@pytest.mark.parametrize("expr,expected", CASES, ids=[c[0] for c in CASES])
def test_primitive_result_type(expr, expected):
    value = typed(expr, statement=expected == "()")
    assert str(value.ty) == expected
    assert isinstance(value.target, PrimitiveTarget)
    # arguments are bound in parameter order, defaults filled
    assert [a.name for a in value.target.args] == value.target.primitive.param_names()


def test_every_table_entry_has_a_case_or_is_tested_elsewhere():
    from triton_dsl.check.primitives import primitives

    called = set()
    for expr, expected in CASES:
        node = typed(expr, statement=expected == "()")
        called |= {n.target.name for n in ast.walk(node) if isinstance(n, ast.Call)
                   and isinstance(n.target, PrimitiveTarget)}
    elsewhere = {  # covered by test_checker.py, test_diagnostics_check.py and the seed conformance test
        "randn", "softmax", "conv2d", "permute", "stack", "numel", "int32", "float16", "trit", "str",
        "print", "panic", "register_hook", "length", "enumerate", "range", "append", "argmax",
        "pop", "zip",  # tests/e2e/test_lists.py (values and diagnostics)
        # the quantization primitives are covered by tests/stdlib/test_prim_quant.py
        "ternarize", "quantile", "cast", "trits", "along_axis0", "conv2d_dynamic"}
    assert set(primitives()) - called - elsewhere == set()
