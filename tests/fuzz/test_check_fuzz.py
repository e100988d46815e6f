"""Fuzzing the checker: the seed blocks mutated (tokens and lines deleted, duplicated, swapped; names and
numbers replaced; blocks spliced) go through parse + check, which must only ever report diagnostics
— never raise. Every diagnostic has a code, a span inside the text, and renders. Deterministic
(derandomized hypothesis) so a failure reproduces."""

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from triton_dsl.check.checker import check_program
from triton_dsl.diagnostics import DiagnosticSink
from triton_dsl.source import Source
from triton_dsl.syntax.parser import parse_program

SEED_TEXTS = [p.read_text() for p in
              sorted((Path(__file__).resolve().parents[1] / "conformance" / "seed").glob("*.triton"))]
TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_']*|\d+(?:\.\d+)?|\S")
NAMES = ["x", "w", "self", "epoch", "trit", "float16", "Type", "None", "grad", "quantized", "sum", "stack",
         "dequantize", "ternary_quantize", "layer", "main", "print", "panic", "out_channels", "S", "Tensor",
         "TernaryTensor", "length", "enumerate", "range", "append", "shape", "register_hook"]
NUMBERS = ["0", "1", "-1", "2", "7", "0.5", "1e-5", "784", "128", "-3", "100000"]
SETTINGS = settings(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))


def run_pipeline(text: str) -> None:
    sink = DiagnosticSink()
    program = parse_program(Source("fuzz.triton", text), sink)
    if program is not None and not sink.has_errors:
        check_program(program, sink)
    for d in sink.diagnostics:
        assert re.fullmatch(r"[EW]\d{4}", d.code), d.code
        assert d.span is None or 0 <= d.span.start <= d.span.end <= len(d.span.source.text)
        if d.span is not None and d.span.source.name != "fuzz.triton":  # inside a library body:
            assert any(n.span is not None and n.span.source.name == "fuzz.triton" for n in d.notes), \
                d.render()  # ...a note must show the user's call that led there
        assert ".py" not in d.render()


@st.composite
def token_mutants(draw):
    text = draw(st.sampled_from(SEED_TEXTS))
    tokens = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
    for _ in range(draw(st.integers(1, 3))):
        start, end = tokens[draw(st.integers(0, len(tokens) - 1))]
        op = draw(st.sampled_from(["delete", "duplicate", "name", "number", "swap"]))
        word = text[start:end]
        if op == "delete":
            new = ""
        elif op == "duplicate":
            new = word + " " + word
        elif op == "name":
            new = draw(st.sampled_from(NAMES))
        elif op == "number":
            new = draw(st.sampled_from(NUMBERS))
        else:
            s2, e2 = tokens[draw(st.integers(0, len(tokens) - 1))]
            new = text[s2:e2]
        text = text[:start] + new + text[end:]
        tokens = [(m.start(), m.end()) for m in TOKEN.finditer(text)] or [(0, 0)]
    return text


@st.composite
def line_mutants(draw):
    lines = draw(st.sampled_from(SEED_TEXTS)).splitlines()
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "splice"]))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            other = draw(st.sampled_from(SEED_TEXTS)).splitlines()
            lines[i:i] = other[draw(st.integers(0, len(other) - 1)):]
    return "\n".join(lines) + "\n"


@settings(SETTINGS, max_examples=1500)
@given(token_mutants())
def test_token_mutations_only_produce_diagnostics(text):
    run_pipeline(text)


@settings(SETTINGS, max_examples=800)
@given(line_mutants())
def test_line_mutations_only_produce_diagnostics(text):
    run_pipeline(text)


@SETTINGS
@given(st.lists(st.sampled_from(SEED_TEXTS), min_size=2, max_size=4))
def test_concatenated_blocks_only_produce_diagnostics(texts):
    run_pipeline("\n".join(texts))

