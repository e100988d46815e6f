"""AST golden files: `--emit=ast` text of a few seed blocks and a feature-rich sample, compared with the
files in tests/golden/data/ast/. Set TRITON_DSL_UPDATE_GOLDEN=1 to rewrite them after an intended change
(then review the diff)."""

import os
from pathlib import Path

import pytest

from triton_dsl.diagnostics import DiagnosticSink
from triton_dsl.source import Source
from triton_dsl.syntax.parser import parse_program
from triton_dsl.syntax.printer import format_ast

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "ast"
SEED = ROOT / "conformance" / "seed"
CASES = {
    "features": DATA / "features.triton",
    "seed_08_learned_quantization": SEED / "08_learned_quantization.triton",
    "seed_17_quantized_convolution": SEED / "17_quantized_convolution.triton",
    "seed_30_percentile_quantizer": SEED / "30_example_percentile_quantizer.triton",
    "seed_38_monitor_gradient_flow": SEED / "38_3_monitor_gradient_flow.triton",
    "seed_41_validate_quantization": SEED / "41_6_validate_quantization_quality.triton",
}
UPDATE = os.environ.get("TRITON_DSL_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("name", sorted(CASES))
def test_ast_matches_golden(name):
    sink = DiagnosticSink()
    program = parse_program(Source.from_path(CASES[name]), sink)
    assert sink.diagnostics == [], [d.render() for d in sink.diagnostics]
    actual = format_ast(program)
    golden = DATA / f"{name}.ast"
    if UPDATE:
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"missing {golden.name}: run with TRITON_DSL_UPDATE_GOLDEN=1"
    assert actual == golden.read_text(encoding="utf-8")
