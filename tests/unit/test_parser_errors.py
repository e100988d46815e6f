"""Parser: syntax diagnostics — code, line:col, message in the user's words (never Lark's terminal
names), and that parsing never raises."""

import re

import pytest

from triton_dsl.diagnostics import DiagnosticSink
from triton_dsl.source import Source
from triton_dsl.syntax.parser import parse_program, parse_text

INTERNAL = re.compile(r"__ANON|\b(RPAR|LPAR|LSQB|RSQB|LBRACE|RBRACE|NAME|NUMBER|_NL|\$END|COMMA|DOTDOT|"
                      r"Token|Tree|lark|Lark|Unexpected\w+)\b|\.py\b")


def one_error(text: str):
    node, diags = parse_text(text, name="prog.triton")
    assert node is None
    assert len(diags) == 1, [d.render() for d in diags]
    diag = diags[0]
    assert not INTERNAL.search(diag.message), diag.message
    return diag


@pytest.mark.parametrize("text, code, line, col, message", [
    ("let x = ", "E0101", 1, 8, "unexpected end of file; expected an expression"),
    ("let = 3", "E0101", 1, 5, "unexpected '='; expected one of: '(', a name"),
    ("fn f(x: ) {}", "E0101", 1, 9, "unexpected ')'; expected a type"),
    ("let x = f(a b)", "E0101", 1, 13, "unexpected name 'b'; expected one of: an operator, ')', ',', '='"),
    ("fn f() { return 1 } fn g() {}", "E0101", 1, 21,
     "unexpected 'fn'; expected one of: ';', end of file, end of line"),
    ("if x {\n  let y = 1\n", "E0101", 2, 12, "unexpected end of file; expected one of: a statement, '}'"),
    ("a < b < c", "E0101", 1, 7, "unexpected '<': comparisons do not chain (write `a < b && b < c`)"),
    ("let x == 1", "E0101", 1, 7, "unexpected '=='; expected one of: ':', '='"),
    ("fn f(x: Tensor<float32>) {}", "E0101", 1, 23, "unexpected '>'; expected ','"),
    ("if x { } elif y { }", "E0101", 1, 10, "unexpected name 'elif'; expected one of: ';', 'else'"),
    ("for i in range(10):\n  print(i)", "E0101", 1, 19, "unexpected ':'; expected '{'"),
    ("let x = $", "E0102", 1, 9, "unexpected character '$'"),
    ("let x = 'a'", "E0102", 1, 9, "unexpected character \"'\" (strings use double quotes)"),
    ('let x = "abc\nlet y = 2', "E0103", 1, 9, "unterminated string"),
    ("let x = 1 /* never closed\n", "E0103", 1, 11, "unterminated comment"),
    ("let x = 0x", "E0104", 1, 9, "invalid number literal '0x'"),
    ("let x = 0b102", "E0104", 1, 9, "invalid number literal '0b102'"),
    ("let x = 12abc", "E0104", 1, 9, "invalid number literal '12abc'"),
    ("let x = 1.5e", "E0104", 1, 9, "invalid number literal '1.5e'"),
    ('let s = "a\\q"', "E0105", 1, 11, "invalid escape sequence '\\q'"),
    ('let s = f"{}"', "E0106", 1, 11, "empty expression in f-string"),
    ('let s = f"a}b"', "E0106", 1, 12, "single '}' in f-string"),
    ('let s = f"{x"', "E0106", 1, 11, "'{' in f-string is never closed"),
    ('let s = f"{x + }"', "E0101", 1, 15, "unexpected end of the expression; expected an expression"),
    ('let s = f"v={a $ b}"', "E0102", 1, 16, "unexpected character '$'"),
    ("1 = 2", "E0107", 1, 1, "cannot assign to this expression"),
    ("f(x) += 1", "E0107", 1, 1, "cannot assign to this expression"),
    ("let t: [int32, str] = x", "E0108", 1, 8, "the elements of a list type must all have the same type"),
    ("let t: Tensor<float32, [2.5]> = x", "E0108", 1, 25, "a dimension must be a whole number"),
    ("f(a=1, 2)", "E0110", 1, 8, "a positional argument cannot follow a keyword argument"),
    ("let x = " + "(" * 300 + "1" + ")" * 300, "E0109", 1, 209, "nested more than 200 deep"),
])
def test_syntax_error_is_pinned(text, code, line, col, message):
    diag = one_error(text)
    assert (diag.code, diag.line, diag.col) == (code, line, col), diag.render()
    assert message in diag.message, diag.message


def test_error_in_multiline_program_points_at_the_right_line():
    text = "fn f(x: int32) -> int32 {\n    let y = x +\n    return y\n}\n"
    diag = one_error(text)
    # `x +` continues onto the next line? No: newlines end statements, so `+` meets end of line.
    assert (diag.line, diag.col) == (2, 16)
    assert diag.message == "unexpected end of line; expected an expression"


def test_rendered_diagnostic_has_file_location_and_caret():
    diag = one_error("let x = )")
    rendered = diag.render()
    assert rendered.startswith("prog.triton:1:9: error[E0101]: unexpected ')'")
    assert "let x = )" in rendered and "^" in rendered


def test_deep_expression_is_refused_with_a_diagnostic():
    diag = one_error("let x = " + "+".join(["1"] * 3000))
    assert diag.code == "E0109"
    diag = one_error("let x = " + "-" * 3000 + "1")
    assert diag.code == "E0109"


def test_several_build_errors_are_all_reported():
    sink = DiagnosticSink()
    assert parse_program(Source("p", "let a = 0x\nlet b = 1 = 2\nlet c = 09z"), sink) is None
    # `let b = 1 = 2` is a grammar error found first; the lexer-level problems come from building.
    codes = [d.code for d in sink.diagnostics]
    assert codes and all(c.startswith("E01") for c in codes)


def test_number_errors_in_two_statements_are_both_reported():
    node, diags = parse_text("let a = 0x\nlet b = 0b2")
    assert node is None
    assert [(d.code, d.line) for d in diags] == [("E0104", 1), ("E0104", 2)]


def test_parser_resumes_at_the_next_item_after_a_syntax_error():
    text = "fn f() {\n    let x = (1 +\n}\n\nfn g() {\n    let y = 1 2\n}\nstruct S { a int }\nlet ok = 1\n"
    node, diags = parse_text(text)
    assert node is None
    assert [(d.code, d.line, d.col) for d in diags] == [("E0101", 3, 1), ("E0101", 6, 15), ("E0101", 8, 14)]


def test_unterminated_comment_stops_the_parser():
    node, diags = parse_text("let a = 1 /* open\nfn f( {\nlet b = )\n")
    assert node is None and [d.code for d in diags] == ["E0103"]


def test_recovery_is_capped():
    node, diags = parse_text("let x = )\n" * 50)
    assert node is None and len(diags) == 10
