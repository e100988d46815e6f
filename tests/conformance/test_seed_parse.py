"""Every seed block parses; the one fragment with invalid syntax (block 36) gives exactly one E01xx
diagnostic at the `...` it uses."""

from pathlib import Path

import pytest

from triton_dsl.diagnostics import DiagnosticSink
from triton_dsl.source import Source
from triton_dsl.syntax import ast
from triton_dsl.syntax.parser import parse_program

SEED_DIR = Path(__file__).parent / "seed"
SEED_FILES = sorted(SEED_DIR.glob("*.triton"))
INVALID = "36_1_start_with_simple_methods.triton"


def _parse(path: Path):
    sink = DiagnosticSink()
    program = parse_program(Source.from_path(path), sink)
    return program, sink


def test_all_41_seed_blocks_are_present():
    assert len(SEED_FILES) == 41


@pytest.mark.parametrize("path", [p for p in SEED_FILES if p.name != INVALID], ids=lambda p: p.stem)
def test_seed_block_parses(path):
    program, sink = _parse(path)
    assert sink.diagnostics == []
    assert isinstance(program, ast.Program)
    assert program.items, "every seed block has at least one item or statement"
    # Spans cover real text: every node starts inside the file.
    for node in ast.walk(program):
        assert 0 <= node.span.start <= node.span.end <= len(program.span.source.text)


def test_seed_block_36_reports_the_ellipsis():
    program, sink = _parse(SEED_DIR / INVALID)
    assert program is None
    assert len(sink.diagnostics) == 1
    diag = sink.diagnostics[0]
    assert diag.code.startswith("E01")
    assert diag.code == "E0101"
    # `let quantized = learned_quantize(weights, learned_params...)`: the `...` is at line 9, col 57.
    assert (diag.line, diag.col) == (9, 57)
    assert diag.span.text() == "..."
    assert "unexpected '...'" in diag.message
    assert "')'" in diag.message and "','" in diag.message


def test_seed_items_have_the_expected_kinds():
    program, _ = _parse(SEED_DIR / "30_example_percentile_quantizer.triton")
    kinds = [type(item).__name__ for item in program.items]
    assert kinds == ["StructDef", "Let", "Let", "Let"]
    struct = program.items[0]
    assert [f.name for f in struct.fields] == ["percentile"]
    assert [m.name for m in struct.methods] == ["quantize", "dequantize", "parameters"]


def test_seed_declarations_have_no_body():
    program, _ = _parse(SEED_DIR / "01_threshold_quantization.triton")
    (fn,) = program.items
    assert isinstance(fn, ast.FnDef) and fn.body is None
    assert [p.name for p in fn.params] == ["x", "threshold", "scale"]
