"""The stdlib's declarations against the seed's signatures.

In: `stdlib/*.triton` and the seed's signature blocks (tests/conformance/seed). Out: assertions that every
stdlib file parses without diagnostics, that every function the seed declares is in the stdlib with the
seed's parameter names, order and defaults (extra parameters only at the end, each with a default), and
that every bodiless stdlib declaration says it is a declaration whose body comes later, and that every
function of the seed's sections "Quantization Methods", "Dequantization" and "Quantization-Aware
Operations" (seed blocks 01-20) has a DSL body.
"""

from __future__ import annotations

from pathlib import Path

from triton_dsl.diagnostics import DiagnosticSink
from triton_dsl.resources import stdlib_paths
from triton_dsl.source import Source
from triton_dsl.syntax import ast, parser

SEED_DIR = Path(__file__).resolve().parents[1] / "conformance" / "seed"
DECLARATION_NOTE = "declaration — the body lands with the stdlib issue"
# Library functions the seed calls without declaring them, and extras the project adds.
UNDECLARED_IN_SEED = {"ternary_quantize", "percentile_value", "compute_threshold_for_sparsity", "bitlinear"}


def parse_functions(path: Path) -> dict[str, object]:
    sink = DiagnosticSink()
    program = parser.parse_program(Source.from_path(path), sink)
    assert not sink.diagnostics, "\n".join(d.render() for d in sink.diagnostics)
    return {item.name: item for item in program.items if isinstance(item, ast.FnDef)}


def stdlib_functions() -> dict[str, object]:
    functions: dict[str, object] = {}
    for path in stdlib_paths():
        for name, fn in parse_functions(path).items():
            assert name not in functions, f"{name} is declared twice in the stdlib"
            functions[name] = fn
    return functions


def seed_declarations() -> dict[str, object]:
    """The bodiless `fn` blocks of the seed: its library signatures."""
    found: dict[str, object] = {}
    for path in sorted(SEED_DIR.glob("*.triton")):
        sink = DiagnosticSink()
        program = parser.parse_program(Source.from_path(path), sink)
        for item in program.items if program is not None else ():  # blocks the parser rejects are not ours
            if isinstance(item, ast.FnDef) and item.body is None:
                found[item.name] = item
    return found


def signature(fn) -> list[tuple[str, str | None]]:
    return [(p.name, p.default.span.text() if p.default is not None else None) for p in fn.params]


def test_every_seed_signature_is_in_the_stdlib_with_the_same_parameters():
    library = stdlib_functions()
    seed = seed_declarations()
    assert len(seed) == 14
    for name, declared in seed.items():
        assert name in library, f"the stdlib does not declare the seed's {name}"
        ours, theirs = signature(library[name]), signature(declared)
        assert ours[:len(theirs)] == theirs, name
        extra = ours[len(theirs):]
        assert all(default is not None for _, default in extra), f"{name}: extra parameter without default"


def test_stdlib_declares_the_library_functions_the_seed_only_calls():
    library = stdlib_functions()
    assert UNDECLARED_IN_SEED <= set(library)
    expected = [("x", None), ("threshold", "0.5"), ("method", '"threshold"')]
    assert signature(library["ternary_quantize"]) == expected
    assert signature(library["stochastic_quantize"])[-1] == ("threshold", "0.5")


# The seed's library functions of blocks 01-20, plus the helpers they call: all written in the DSL.
IMPLEMENTED = {
    "threshold_quantize", "adaptive_threshold_quantize", "stochastic_quantize", "learned_quantize",
    "xnor_quantize", "ternary_quantize", "dequantize", "affine_dequantize", "quantized_linear",
    "quantized_conv2d", "quantized_matmul", "bitlinear", "percentile_value", "compute_threshold_for_sparsity",
    "ste_quantize", "clipped_ste_quantize", "soft_quantize", "gumbel_softmax_quantize",
    "progressive_quantize", "differentiable_sparse_quantize", "quantized_batch_norm",
}
# Library functions the project adds for the examples and statistics (not in the seed), and the training
# library of the autodiff issue (losses, layers, optimizers' helpers: docs/autodiff.md).
HELPERS = {"count_trits", "packed_bytes", "mse_loss", "l1_loss", "cross_entropy",
           "binary_cross_entropy_with_logits", "batch_norm", "layer_norm", "dropout", "AdamW", "cosine_lr",
           "step_lr"}


def seed_declarations_of_blocks(first: int, last: int) -> set[str]:
    names = set()
    for path in sorted(SEED_DIR.glob("*.triton")):
        if first <= int(path.name[:2]) <= last:
            sink = DiagnosticSink()
            program = parser.parse_program(Source.from_path(path), sink)
            names |= {i.name for i in program.items if isinstance(i, ast.FnDef) and i.body is None}
    return names


def test_the_quantization_sections_have_bodies():
    library = stdlib_functions()
    assert seed_declarations_of_blocks(1, 20) <= IMPLEMENTED
    for name in IMPLEMENTED:
        assert library[name].body is not None, f"{name} is still a declaration"


def test_every_stdlib_declaration_is_marked_as_such():
    for path in stdlib_paths():
        text = path.read_text(encoding="utf-8")
        for name, fn in parse_functions(path).items():
            if fn.body is not None:
                assert name in IMPLEMENTED or name.startswith("_") or name in HELPERS, name
                continue
            before = text[:fn.span.start]
            comment = before[before.rfind("\n\n", 0, len(before) - 1):]
            assert DECLARATION_NOTE in comment, f"{path.name}: {name} lacks the declaration note"


def test_stdlib_files_check_without_diagnostics():
    from triton_dsl.pipeline import check_source

    for path in stdlib_paths():
        result = check_source(Source.from_path(path))
        # checked as a program, a stdlib file's definitions shadow the stdlib's own (W0201): nothing else
        problems = [d for d in result.diagnostics if d.code != "W0201"]
        assert problems == [], "\n".join(d.render() for d in problems)
        assert result.checked is not None
