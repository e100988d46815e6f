"""Every seed block, parsed and type-checked with the stdlib in scope.

The blocks that are wrong as written fail with a pinned diagnostic (code, line:col, words of the
message); every other block checks without errors, and every function in it gets a typed body.
Line numbers are those of the vendored files (line 1 is our added comment).
"""

from pathlib import Path

import pytest

from triton_dsl.check import types as T
from triton_dsl.check.checker import check_program
from triton_dsl.diagnostics import DiagnosticSink
from triton_dsl.source import Source
from triton_dsl.syntax import ast
from triton_dsl.syntax.parser import parse_program

SEED_DIR = Path(__file__).parent / "seed"
SEED_FILES = sorted(SEED_DIR.glob("*.triton"))

# block -> (code, line, col, words in the message, reason)
EXPECTED_FAILURES = {
    "08": ("E0301", 36, 12, "TernaryTensor<trit, [?, 1, in_channels]>",
           "per_channel_learned_quantize stacks a list of [1, in_channels] ternary tensors (learned_quantize "
           "of channel.unsqueeze(0)) into a rank-3 [?, 1, in_channels] result but declares the rank-2 "
           "return type [out_channels, in_channels]"),
    "33": ("E0202", 19, 23, "unknown type `Model`", "`Model` is never defined"),
    "36": ("E0101", 9, 57, "unexpected '...'", "`learned_params...` is not valid syntax"),
    "40": ("E0202", 3, 42, "unknown type `Model`",
           "`Model` is never defined (and `progressive_quantize` comes from block 33, not in scope here)"),
}


def check_file(path: Path):
    sink = DiagnosticSink()
    program = parse_program(Source.from_path(path), sink)
    checked = check_program(program, sink) if program is not None and not sink.has_errors else None
    return checked, [d for d in sink.diagnostics if d.severity == "error"]


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem)
def test_seed_block_checks(path):
    checked, errors = check_file(path)
    block = path.name[:2]
    rendered = "\n".join(d.render() for d in errors)
    assert ".py" not in rendered
    if block in EXPECTED_FAILURES:
        code, line, col, words, _reason = EXPECTED_FAILURES[block]
        assert errors, f"block {block} should fail"
        first = errors[0]
        assert (first.code, first.line, first.col) == (code, line, col), rendered
        assert words in first.message
        return
    assert errors == [], rendered
    # Every expression of user code is typed (except a callee naming a function or method directly),
    # and no type is the error type.
    callees = {id(n.func) for n in ast.walk(checked.program) if isinstance(n, ast.Call)}
    for node in ast.walk(checked.program):
        if isinstance(node, ast.Expr) and id(node) not in callees:
            assert node.ty is not None, f"untyped {type(node).__name__} at {node.span.location()}"
            assert not T.contains_error(node.ty), node.span.location()


def test_block_40_reports_its_undefined_model():
    # progressive_quantize is the stdlib's now (block 33's definition); `Model` stays the seed's gap
    _, errors = check_file(SEED_DIR / "40_5_quantize_layers_progressively.triton")
    assert [(d.code, d.line) for d in errors] == [("E0202", 3)]
    assert "Model" in errors[0].message


def _let_types(checked) -> dict[str, str]:
    out = {}
    for node in ast.walk(checked.program):
        if isinstance(node, ast.Let) and isinstance(node.target, ast.NamePattern):
            out[node.target.name] = str(node.value.ty)
    return out


def test_seed_types_are_precise():
    checked, _ = check_file(SEED_DIR / "12_basic_dequantization.triton")
    lets = _let_types(checked)
    assert lets["ternary"] == "TernaryTensor<trit, [10, 10]>"
    assert lets["float_tensor"] == "Tensor<float32, [10, 10]>"
    assert lets["fp16"] == "Tensor<float16, [10, 10]>"  # dtype=float16 evaluated per call
    checked, _ = check_file(SEED_DIR / "16_quantized_linear_layer.triton")
    lets = _let_types(checked)
    assert lets["output1"] == lets["output3"] == "Tensor<float32, [32, 128]>"
    checked, _ = check_file(SEED_DIR / "18_quantized_convolution.triton")
    assert _let_types(checked)["output"] == "Tensor<float32, [1, 64, ?, ?]>"  # h', w' are not bound
    checked, _ = check_file(SEED_DIR / "41_6_validate_quantization_quality.triton")
    lets = _let_types(checked)
    assert lets["num_neg"] == "Tensor<int32, []>"  # sum of a bool tensor counts
    assert lets["mse"] == "Tensor<float32, []>"


def test_union_parameter_instantiates_per_member():
    checked, _ = check_file(SEED_DIR / "16_quantized_linear_layer.triton")
    linear = [i for i in checked.instances if i.fn.name == "quantized_linear"]
    weights = {str(i.param_types[1]) for i in linear}
    assert "Tensor<float32, [in_features, out_features]>" in weights
    assert "TernaryTensor<trit, [in_features, out_features]>" in weights


def test_signature_blocks_are_checked_against_the_stdlib(tmp_path):
    text = (SEED_DIR / "01_threshold_quantization.triton").read_text()
    for bad, code in [(text.replace("threshold: float32 = 0.5", "thresh: float32 = 0.5"), "E0507"),
                      (text.replace("= 0.5", "= 0.6"), "E0507"),
                      (text.replace("-> TernaryTensor<trit, [?, ?]>", "-> Tensor<float32, [?, ?]>"), "E0507"),
                      (text.replace("x: Tensor<float32, [?, ?]>", "x: Tensor<int8, [?, ?]>"), "E0507")]:
        path = tmp_path / "sig.triton"
        path.write_text(bad)
        _, errors = check_file(path)
        assert [d.code for d in errors] == [code], bad
