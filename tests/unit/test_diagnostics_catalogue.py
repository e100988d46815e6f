"""The diagnostics catalogue (docs/diagnostics.md) against the compiler: neither may drift from the other.

In: the catalogue's tables (`| code | meaning | example message |`) and the compiler's source. Out:
assertions that every code the compiler can report is catalogued and every catalogued code is still
reported somewhere, and — for at least one code of every section — that a small program really produces
the catalogue's example message at the expected line and column.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from triton_dsl.check.checker import check_program
from triton_dsl.diagnostics import Diagnostic, DiagnosticSink
from triton_dsl.pipeline import check_source, compile_source
from triton_dsl.source import Source
from triton_dsl.syntax import ast
from triton_dsl.syntax.parser import parse_program

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "docs" / "diagnostics.md"
PACKAGE = REPO / "triton_dsl"

# A code as the compiler's source writes it: a quoted string literal "E0301" / 'W0201'.
_SOURCE_CODE = re.compile(r"""["']([EW]0\d{3})["']""")
# A catalogue row: | E0301 | meaning | `example` |  (the example may use ``double`` backticks).
_ROW = re.compile(r"^\| ([EW]0\d{3}) \| (.+) \| (``? ?)(.+?)( ?``?) \|$")


def catalogue() -> dict[str, str]:
    """Code -> example message, from every table row of the catalogue."""
    rows: dict[str, str] = {}
    for line in CATALOGUE.read_text(encoding="utf-8").splitlines():
        m = _ROW.match(line)
        if m:
            assert m.group(1) not in rows, f"{m.group(1)} is catalogued twice"
            rows[m.group(1)] = m.group(4)
    return rows


def source_codes() -> dict[str, list[str]]:
    """Code -> the compiler's files that report it."""
    found: dict[str, list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for code in set(_SOURCE_CODE.findall(path.read_text(encoding="utf-8"))):
            found.setdefault(code, []).append(str(path.relative_to(REPO)))
    return found


def test_the_catalogue_parses_into_many_codes():
    rows = catalogue()
    # one per range at least (E01..E07, E09 and the warnings); guards against a broken row pattern
    assert {code[:3] for code in rows} >= {"E01", "E02", "E03", "E04", "E05", "E06", "E07", "E09", "W02"}
    assert all(example.strip() for example in rows.values())


def test_every_code_the_compiler_reports_is_catalogued():
    missing = {code: files for code, files in source_codes().items() if code not in catalogue()}
    assert missing == {}


def test_every_catalogued_code_is_still_reported_by_the_compiler():
    stale = sorted(set(catalogue()) - set(source_codes()))
    assert stale == []


# (code, program, line, col): the program's first diagnostic with that code is at line:col and its
# message starts with the catalogue's example.
CHECKED = [
    ("E0104", "let x = 0b102\n", 1, 9),
    ("E0201", "let x = y + 1\n", 1, 9),
    ("E0202", "let x: Foo = 1\n", 1, 8),
    ("E0203", "fn f(x: int32<float32>) {\n}\n", 1, 9),
    ("E0204", "fn f(a: int32, a: int32) {\n}\n", 1, 16),
    ("E0205", "fn scale_by(x: float32) -> float32\n", 1, 4),
    ("E0207", "fn f() -> int32 {\n    return g\n}\nlet a = f()\nlet g = 3\n", 2, 12),
    ("W0201", "fn threshold_quantize(x: Tensor<float32, [?]>) -> Tensor<float32, [?]> {\n"
              "    return x\n}\n", 1, 4),
    ("E0301", 'let x: int32 = "a"\n', 1, 16),
    ("E0302", "if 1 {\n    print(1)\n}\n", 1, 4),
    ("E0303", "struct P {\n    a: int32\n}\nfn f(p: P?) -> int32 {\n    return p.a\n}\n", 5, 12),
    ("E0304", "let x = 1\nlet y = x.foo\n", 2, 9),
    ("E0305", "let (a, b) = 1\n", 1, 5),
    ("E0306", "let x = None\n", 1, 9),
    ("E0307", "struct P {\n    a: int32\n    fn m(self) -> int32 {\n        return self.a\n    }\n}\n"
              "let p = P(1)\nlet k = p.m\n", 8, 9),
    ("E0308", "fn g<S>(x: Tensor<float32, S>) -> Tensor<float32, S> {\n    return x\n}\nlet h = g\n", 4, 9),
    ("E0309", "fn f(x: Tensor<float32, [n]>) {\n    n = 3\n}\n", 2, 5),
    ("E0310", 'let t = "a"\nlet s = f"{t:.2f}"\n', 2, 12),
    ("E0311", "let x: int8 = 300\n", 1, 15),
    ("E0402", "let x = randn([32, 784])\nlet w = randn([128, 10])\nlet y = x @ w\n", 3, 9),
    ("E0501", 'fn f(x: int32) -> int32 {\n    return x\n}\nlet y = f("a")\n', 4, 11),
    ("E0502", "fn f(x: int32) -> int32 {\n    return x\n}\nlet y = f(z=1)\n", 4, 11),
    ("E0503", "fn f(x: int32) -> int32 {\n    return x\n}\nlet y = f(1, 2)\n", 4, 14),
    ("E0504", "fn f(x: int32) -> int32 {\n    return x\n}\nlet y = f()\n", 4, 9),
    ("E0505", "fn f(x: int32) -> int32 {\n    return x\n}\nlet y = f(x=1, x=2)\n", 4, 16),
    ("E0507", "fn threshold_quantize(y: Tensor<float32, [?]>) -> TernaryTensor<trit, [?]>\n", 1, 4),
    ("E0601", "fn f(x: int32) -> int32 {\n    if x > 0 {\n        return 1\n    }\n}\n", 1, 4),
    ("E0602", "break\n", 1, 1),
    ("E0603", "continue\n", 1, 1),
    ("E0604", "return 1\n", 1, 1),
    ("E0605", "fn f() -> int32 {\n    return\n}\n", 2, 5),
    ("E0606", "fn f() {\n    return 1\n}\n", 2, 12),
    ("E0701", "let t = trit(2)\n", 1, 9),
    ("E0702", "fn f(x: TernaryTensor<float32, [2]>) {\n}\n", 1, 23),
]


def first_with_code(diagnostics: list[Diagnostic], code: str) -> Diagnostic:
    found = [d for d in diagnostics if d.code == code]
    assert found, [d.render() for d in diagnostics]
    return found[0]


def assert_catalogued_message(d: Diagnostic, line: int, col: int) -> None:
    severity = "warning" if d.code.startswith("W") else "error"
    head = d.render().splitlines()[0]
    assert head.startswith(f"prog.triton:{line}:{col}: {severity}[{d.code}]: {catalogue()[d.code]}"), head


@pytest.mark.parametrize(("code", "program", "line", "col"), CHECKED, ids=[c[0] for c in CHECKED])
def test_a_program_produces_the_catalogued_message(code, program, line, col):
    result = check_source(Source("prog.triton", program))
    assert_catalogued_message(first_with_code(result.diagnostics, code), line, col)
    assert result.ok == code.startswith("W")  # a warning alone lets the program compile


def test_a_construct_the_back_end_cannot_compile_is_e0901():
    program = "fn g(q: TernaryTensor<trit, [?]>) -> int32 {\n    return int32(q[0])\n}\n" \
              "print(g(sign(tensor([1.0]))))\n"
    result = compile_source(Source("prog.triton", program))
    assert not result.ok and result.llvm_ir is None
    assert_catalogued_message(first_with_code(result.diagnostics, "E0901"), 2, 18)
    # `check` stops before the back end, so it does not report E0901
    assert check_source(Source("prog.triton", program)).diagnostics == []


def test_a_positional_argument_after_keywords_in_a_built_tree_is_e0506():
    """The parser rejects `f(x=1, 2)` first (E0110); only a tree built by other means reaches the checker."""
    sink = DiagnosticSink()
    program = parse_program(Source("prog.triton", "fn f(x: int32, y: int32) {\n}\nf(x=1, y=2)\n"), sink)
    call = program.items[-1].expr
    assert isinstance(call, ast.Call) and not sink.diagnostics
    call.args[1].name = None  # now `f(x=1, 2)`
    check_program(program, sink)
    assert_catalogued_message(first_with_code(sink.diagnostics, "E0506"), 3, 8)


def test_the_parser_reports_e0110_for_a_positional_argument_after_keywords():
    result = check_source(Source("prog.triton", "fn f(x: int32, y: int32) {\n}\nf(x=1, 2)\n"))
    assert [d.code for d in result.diagnostics] == ["E0110"]
    assert_catalogued_message(result.diagnostics[0], 3, 8)
