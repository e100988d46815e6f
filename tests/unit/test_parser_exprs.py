"""Parser: expressions — precedence and associativity, literals of every base, indexing and slicing,
calls, closures, collections, f-strings (with spans that point into the file)."""

import pytest

from triton_dsl.syntax import ast
from triton_dsl.syntax.parser import parse_text
from triton_dsl.syntax.printer import format_sexpr


def expr(text: str) -> ast.Expr:
    node, diags = parse_text(text, "expression")
    assert diags == [], [d.render() for d in diags]
    return node


def sexpr(text: str) -> str:
    return format_sexpr(expr(text))


@pytest.mark.parametrize("text, tree", [
    ("-x ** 2", "(- (** x 2))"),
    ("2 ** 3 ** 2", "(** 2 (** 3 2))"),
    ("x ** -y", "(** x (- y))"),
    ("-x ** -2", "(- (** x (- 2)))"),
    ("x @ w + b", "(+ (@ x w) b)"),
    ("a + x @ w", "(+ a (@ x w))"),
    ("a * b @ c", "(@ (* a b) c)"),
    ("a - b - c", "(- (- a b) c)"),
    ("a / b // c % d", "(% (// (/ a b) c) d)"),
    ("-a * b", "(* (- a) b)"),
    ("!a && b", "(&& (! a) b)"),
    ("a || b && c", "(|| a (&& b c))"),
    ("a && b || c", "(|| (&& a b) c)"),
    ("a == b && c != d", "(&& (== a b) (!= c d))"),
    ("a < b == c >= d", "(== (< a b) (>= c d))"),
    ("a + 1 <= b * 2", "(<= (+ a 1) (* b 2))"),
    ("1.0 - alpha * x", "(- 1.0 (* alpha x))"),
    ("(1 - alpha) * x", "(* (- 1 alpha) x)"),
    ("max(0.01, 1.0 * 0.9 ** epoch)", "(Call max [(Arg _ 0.01) (Arg _ (* 1.0 (** 0.9 epoch)))])"),
    ("-probs[:, :, 0] + probs[:, :, 2]",
     "(+ (- (Index probs [(Slice _ _ _) (Slice _ _ _) 0])) (Index probs [(Slice _ _ _) (Slice _ _ _) 2]))"),
])
def test_precedence_and_associativity(text, tree):
    assert sexpr(text) == tree


def test_range_binds_looser_than_arithmetic_and_tighter_than_comparison():
    assert sexpr("0..n + 1") == "(Range 0 (+ n 1))"
    assert sexpr("a..b < c") == "(< (Range a b) c)"
    assert sexpr("0..5") == "(Range 0 5)"  # not the float `0.` followed by `.5`


def test_is_takes_a_type_on_the_right():
    node = expr("w is TernaryTensor<trit, [?, ?]> && x is int | str")
    assert isinstance(node, ast.Binary) and node.op == "&&"
    assert isinstance(node.left, ast.Is) and isinstance(node.left.type, ast.TensorType)
    assert isinstance(node.right.type, ast.UnionType)


@pytest.mark.parametrize("text, value, cls", [
    ("42", 42, ast.IntLit), ("0x2A", 42, ast.IntLit), ("0X2a", 42, ast.IntLit), ("0b1010", 10, ast.IntLit),
    ("0o52", 42, ast.IntLit), ("1_000_000", 1000000, ast.IntLit), ("0", 0, ast.IntLit),
    ("3.14", 3.14, ast.FloatLit), ("1.0e-5", 1.0e-5, ast.FloatLit), (".5", 0.5, ast.FloatLit),
    ("2e3", 2000.0, ast.FloatLit), ("1.5E+2", 150.0, ast.FloatLit),
])
def test_number_literals(text, value, cls):
    node = expr(text)
    assert type(node) is cls
    assert node.value == value and node.text == text


def test_bool_none_and_string_literals():
    assert expr("true").value is True and expr("false").value is False
    assert isinstance(expr("None"), ast.NoneLit)
    assert expr(r'"a\tb\n\"q\" \\ \u{1F600} \x41"').value == 'a\tb\n"q" \\ \U0001F600 A'
    assert expr('""').value == ""


def test_negative_literals_are_unary_minus():
    node = expr("-1")
    assert isinstance(node, ast.Unary) and node.op == "-" and node.operand.value == 1


def test_slicing_forms():
    assert sexpr("x[i, :]") == "(Index x [i (Slice _ _ _)])"
    assert sexpr("x[-1]") == "(Index x [(- 1)])"
    assert sexpr("x[1:-1:2]") == "(Index x [(Slice 1 (- 1) 2)])"
    assert sexpr("x[::2]") == "(Index x [(Slice _ _ 2)])"
    assert sexpr("x[a:]") == "(Index x [(Slice a _ _)])"
    assert sexpr("x[:b]") == "(Index x [(Slice _ b _)])"
    assert sexpr("x[a:b:]") == "(Index x [(Slice a b _)])"
    assert sexpr("x[0][1]") == "(Index (Index x [0]) [1])"


def test_calls_methods_fields_and_keyword_arguments():
    assert sexpr("grad.numel()") == "(Call (Attribute grad 'numel') [])"
    assert sexpr("self.scales[layer_idx]") == "(Index (Attribute self 'scales') [layer_idx])"
    assert sexpr("f(x, dim=-1,)") == "(Call f [(Arg _ x) (Arg 'dim' (- 1))])"
    assert sexpr("a.b.c(d)(e)") == "(Call (Call (Attribute (Attribute a 'b') 'c') [(Arg _ d)]) [(Arg _ e)])"


def test_lists_tuples_and_repetition():
    assert sexpr("[0.5] * out_channels") == "(* (ListLit [0.5]) out_channels)"
    assert sexpr("[]") == "(ListLit [])"
    assert sexpr("[1, 2,]") == "(ListLit [1 2])"
    assert sexpr("(a, b)") == "(TupleLit [a b])"
    assert sexpr("(a,)") == "(TupleLit [a])"
    assert sexpr("(a)") == "a"


def test_closures_with_and_without_types():
    node = expr("fn(grad) { print(grad) }")
    assert isinstance(node, ast.Closure)
    assert [(p.name, p.type) for p in node.params] == [("grad", None)] and node.ret is None
    typed = expr("fn(x: float32, y) -> float32 { return x }")
    assert isinstance(typed.params[0].type, ast.TypeName) and typed.params[1].type is None
    assert isinstance(typed.ret, ast.TypeName) and typed.ret.name == "float32"
    assert expr("fn() { }").params == []


def test_register_hook_with_multiline_closure_argument():
    node = expr("x.register_hook(fn(grad) {\n    let m = mean(grad)\n    print(m)\n})")
    closure = node.args[0].value
    assert isinstance(closure, ast.Closure) and len(closure.body.stmts) == 2


def test_multiline_call_arguments():
    node = expr("f(\n    a,\n    b=1,\n)")
    assert [a.name for a in node.args] == [None, "b"]


def test_primed_names():
    assert sexpr("h' + w'") == "(+ h' w')"


def test_spans_are_half_open_and_point_at_the_text():
    text = "foo(a, b=x[1:2]) + 3"
    node = expr(text)
    assert (node.span.start, node.span.end) == (0, len(text))
    call = node.left
    assert call.span.text() == "foo(a, b=x[1:2])"
    assert call.args[1].span.text() == "b=x[1:2]"
    assert call.args[1].value.indices[0].span.text() == "1:2"
    assert node.right.span.text() == "3"


def test_fstring_parts_specs_and_conversions():
    node = expr('f"Distribution: {a/total:.2%} / {b!r} {{lit}} {c!s:>8}\\n"')
    assert isinstance(node, ast.FString)
    texts = [p if isinstance(p, str) else (format_sexpr(p.expr), p.conversion, p.spec) for p in node.parts]
    assert texts == ["Distribution: ", ("(/ a total)", None, ".2%"), " / ", ("b", "r", None), " {lit} ",
                     ("c", "s", ">8"), "\n"]


def test_fstring_expression_spans_point_into_the_file():
    text = 'let s = f"mean {mean(grad)} and {x[:, 0] != 1:.3f}"'
    program, diags = parse_text(text)
    assert diags == []
    fstring = program.items[0].value
    call = fstring.parts[1].expr
    assert call.span.text() == "mean(grad)"
    assert call.span.col == text.index("mean(grad)") + 1
    compare = fstring.parts[3].expr
    assert compare.op == "!=" and compare.span.text() == "x[:, 0] != 1"
    assert fstring.parts[3].span.text() == "{x[:, 0] != 1:.3f}"
    assert fstring.parts[3].spec == ".3f"


def test_fstring_without_fields_is_plain_text():
    node = expr('f"no fields {{here}}"')
    assert node.parts == ["no fields {here}"]
