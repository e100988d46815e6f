"""Parser: items, statements, line structure (newlines, `;`, continuation lines, comments), soft
keywords, and written types of every form."""

import pytest

from triton_dsl.syntax import ast
from triton_dsl.syntax.parser import parse_text
from triton_dsl.syntax.printer import format_sexpr, format_type


def program(text: str) -> ast.Program:
    node, diags = parse_text(text)
    assert diags == [], [d.render() for d in diags]
    return node


def items(text: str) -> list[str]:
    return [format_sexpr(item) for item in program(text).items]


def type_of(text: str) -> ast.TypeExpr:
    node, diags = parse_text(text, "type")
    assert diags == [], [d.render() for d in diags]
    return node


def test_let_forms():
    assert items("let x = 1\nlet y: float32 = 2.0\nlet (a, b) = f()\nlet ((c, d), e) = g") == [
        "(Let x _ 1)", "(Let y float32 2.0)", "(Let (TuplePattern [a b]) _ (Call f []))",
        "(Let (TuplePattern [(TuplePattern [c d]) e]) _ g)"]


def test_assignment_targets_and_compound_assignment():
    assert items("x = 1; obj.field = 2; x[i] = 3") == [
        "(Assign x 1)", "(Assign (Attribute obj 'field') 2)", "(Assign (Index x [i]) 3)"]
    (stmt,) = program("total += x * 2").items
    assert format_sexpr(stmt) == "(Assign total (+ total (* x 2)))"
    assert stmt.target is not stmt.value.left  # desugared target is a separate node
    assert format_sexpr(program("w //= 2").items[0]) == "(Assign w (// w 2))"
    assert format_sexpr(program("w **= 2").items[0]) == "(Assign w (** w 2))"


def test_if_else_if_else_chain():
    (stmt,) = program("if a { x } else if b { y } else { z }").items
    assert isinstance(stmt, ast.If) and isinstance(stmt.orelse, ast.If)
    assert isinstance(stmt.orelse.orelse, ast.Block)
    assert program("if a { x }").items[0].orelse is None


def test_else_on_the_next_line():
    (stmt,) = program("if a {\n  x\n}\nelse {\n  y\n}").items
    assert isinstance(stmt.orelse, ast.Block)


def test_loops_and_jumps():
    assert items("for i in 0..n { continue }") == ["(For i (Range 0 n) (Block [(Continue)]))"]
    assert items("for (i, x) in enumerate(xs) { break }") == [
        "(For (TuplePattern [i x]) (Call enumerate [(Arg _ xs)]) (Block [(Break)]))"]
    assert items("for i in range(0, 10, 2) { }")[0].startswith("(For i (Call range")
    assert items("while i < 3 { i = i + 1 }") == ["(While (< i 3) (Block [(Assign i (+ i 1))]))"]
    assert items("fn f() { return }\nfn g() { return 1 }") == [
        "(FnDef 'f' [] [] _ (Block [(Return _)]) false)", "(FnDef 'g' [] [] _ (Block [(Return 1)]) false)"]


def test_soft_keyword_layer_is_a_name():
    prog = program("for layer in model.layers {\n    layer.weights = q(layer.weights)\n}\nlet layer = 1")
    loop = prog.items[0]
    assert loop.target.name == "layer"
    assert format_sexpr(loop.body.stmts[0].target) == "(Attribute layer 'weights')"
    assert prog.items[1].target.name == "layer"


def test_layer_and_main_items():
    prog = program("layer Dense(x: Tensor<float32, [b, 4]>) -> Tensor<float32, [b, 2]> { return x }\n"
                   "main {\n  print(Dense(x))\n}\nlet main = 2")
    dense, main, let = prog.items
    assert isinstance(dense, ast.FnDef) and dense.is_layer and dense.name == "Dense"
    assert dense.name_span.text() == "Dense"
    assert isinstance(main, ast.MainBlock) and len(main.body.stmts) == 1
    assert let.target.name == "main"


def test_declarations_and_multiline_signatures():
    prog = program("fn f(\n    x: Tensor<float32, [?, ?]>,\n    t: float32 = 0.5,\n)"
                   " -> TernaryTensor<trit, [?, ?]>\nfn g(x: int32)\n    -> int32 {\n    return x\n}")
    decl, defn = prog.items
    assert decl.body is None and [p.name for p in decl.params] == ["x", "t"]
    assert format_sexpr(decl.params[1].default) == "0.5"
    assert defn.body is not None and format_type(defn.ret) == "int32"


def test_generic_parameters():
    (fn,) = program("fn f<S>(x: Tensor<float32, S>) -> Tensor<float32, S> { return x }").items
    assert [g.name for g in fn.generics] == ["S"]
    assert isinstance(fn.params[0].type.shape, ast.ShapeName)


def test_struct_with_fields_defaults_and_methods():
    (struct,) = program("struct P {\n  a: int32\n  b: float32 = 1.0\n\n  fn get(self) -> int32 {\n"
                        "    return self.a\n  }\n}").items
    assert [(f.name, format_type(f.type)) for f in struct.fields] == [("a", "int32"), ("b", "float32")]
    assert format_sexpr(struct.fields[1].default) == "1.0"
    (method,) = struct.methods
    assert method.params[0].name == "self" and method.params[0].type is None


def test_trait_with_signatures():
    (trait,) = program("trait Q {\n  fn q(self, x: int32) -> int32\n  fn p(self) -> [int32, ...]\n}").items
    assert isinstance(trait, ast.TraitDef)
    assert [m.name for m in trait.methods] == ["q", "p"]
    assert all(m.body is None for m in trait.methods)


def test_separators_comments_and_blank_lines():
    text = ("# header\n\nlet a = 1; let b = 2  # trailing\n"
            "/* block\n   comment */ let c = /* inline */ 3\n\n\n")
    assert items(text) == ["(Let a _ 1)", "(Let b _ 2)", "(Let c _ 3)"]
    assert program("").items == [] and program("\n\n# only a comment\n").items == []


def test_expressions_continue_inside_brackets_and_before_a_dot():
    assert items("let x = [1,\n  2]\nlet y = f(a,\n  b)\nlet z = x\n  .sum()") == [
        "(Let x _ (ListLit [1 2]))", "(Let y _ (Call f [(Arg _ a) (Arg _ b)]))",
        "(Let z _ (Call (Attribute x 'sum') []))"]


def test_one_line_blocks():
    assert items("fn f(x: int32) -> int32 { let y = x; return y }") == [
        "(FnDef 'f' [] [(Param 'x' int32 _)] int32 (Block [(Let y _ x) (Return y)]) false)"]


@pytest.mark.parametrize("text", [
    "trit", "bool", "int8", "int16", "int32", "int64", "float16", "float32", "float64", "str", "int", "float",
    "Type", "Quantizer",
])
def test_named_types(text):
    node = type_of(text)
    assert isinstance(node, ast.TypeName) and node.name == text and node.args == []


@pytest.mark.parametrize("text, expected", [
    ("Tensor<float32, [?, ?]>", "Tensor<float32, [?, ?]>"),
    ("Tensor<float32, []>", "Tensor<float32, []>"),
    ("Tensor<float32, ?>", "Tensor<float32, ?>"),
    ("Tensor<float32, S>", "Tensor<float32, S>"),
    ("TernaryTensor<trit, [out_ch, 3, h', w']>", "TernaryTensor<trit, [out_ch, 3, h', w']>"),
    ("Tensor<dtype, [?, ?]>", "Tensor<dtype, [?, ?]>"),
    ("Tuple<TernaryTensor<trit, [?, ?]>, float32>", "Tuple<TernaryTensor<trit, [?, ?]>, float32>"),
    ("(int32, str)", "Tuple<int32, str>"),
    ("[Tensor<float32, ?>, ...]", "[Tensor<float32, ?>, ...]"),
    ("[int32, int32]", "[int32, int32]"),
    ("float32?", "float32?"),
    ("Tensor<float32, [out_features]>?", "Tensor<float32, [out_features]>?"),
    ("int32 | [int32, int32]", "int32 | [int32, int32]"),
    ("int32 | None", "int32?"),
    ("fn(Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]>",
     "fn(Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]>"),
    ("fn(A, B) -> C | D", "fn(A, B) -> C | D"),
    ("(fn(A) -> B) | C", "(fn(A) -> B) | C"),
    ("fn()", "fn()"),
    ("(A | B)?", "(A | B)?"),
    ("Box<int32>", "Box<int32>"),
])
def test_type_forms_round_trip(text, expected):
    assert format_type(type_of(text)) == expected


def test_type_structure():
    t = type_of("Tensor<float32, [batch, 4, ?]>")
    assert t.kind == "Tensor" and t.dtype.name == "float32"
    assert [type(d).__name__ for d in t.shape] == ["DimName", "DimInt", "DimUnknown"]
    assert t.shape[1].value == 4
    assert isinstance(type_of("Tensor<float32, ?>").shape, ast.ShapeAny)
    lst = type_of("[int32, int32]")
    assert isinstance(lst, ast.ListType) and lst.length == 2
    assert type_of("[str, ...]").length is None
    union = type_of("A | (B | C)")
    assert [m.name for m in union.members] == ["A", "B", "C"]
    fn_type = type_of("fn(A) -> B | C")
    assert isinstance(fn_type, ast.FnType) and isinstance(fn_type.ret, ast.UnionType)
