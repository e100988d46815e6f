"""ReplSession in-process: what each entry compiles, what persists, what an error leaves behind, where
diagnostics point; the REPL's bracket balance and the Pygments lexer."""

from __future__ import annotations

import numpy as np
import pytest

from triton_dsl import CompileError, TernaryTensor, TritonRuntimeError
from triton_dsl.repl import balanced
from triton_dsl.repl_session import EntryError, ReplSession

F = "fn f(a: Tensor<float32, [3]>) -> float32 {\n    return sum(a * a)\n}"
G = "fn g(a: Tensor<float32, [3]>) -> float32 { return f(a) * 2.0 }"


@pytest.fixture
def session() -> ReplSession:
    s = ReplSession()
    s.run("let x = tensor([1.0, 2.0, 3.0])")
    return s


def test_an_entry_compiles_only_its_new_functions(session: ReplSession) -> None:
    first = session.run(F)
    assert "f" in first.compiled and first.defined == ["f"]
    second = session.run(G)
    assert "g" in second.compiled and "f" not in second.compiled  # f is declared and linked
    call = session.run("g(x)")
    assert call.value == 28.0 and call.value_type == "float32"
    assert not {"f", "g"} & set(call.compiled)


def test_a_redefinition_recompiles_its_callers(session: ReplSession) -> None:
    session.run(F)
    session.run(G)
    again = session.run("fn f(a: Tensor<float32, [3]>) -> float32 {\n    return sum(a)\n}")
    assert {"f", "g"} <= set(again.compiled)
    assert session.run("g(x)").value == 12.0  # 2 * (1 + 2 + 3): g calls the new f
    assert session.function("f")(np.ones(3, np.float32)) == 3.0


def test_bindings_persist_and_change(session: ReplSession) -> None:
    session.run('let n = 3\nlet s = "hi"\nlet (p, q) = (1, 2.5)')
    session.run("let i = 0\nwhile i < 4 {\n    n = n + i\n    i = i + 1\n}")
    assert session.bindings["n"].value == 9 and session.bindings["n"].type == "int32"
    assert session.run("s").value == "hi"
    assert session.run("p + q").value == 3.5
    session.run("let x = x * 2.0")  # a new binding of the same name replaces the old one
    np.testing.assert_array_equal(session.bindings["x"].value, np.array([2.0, 4.0, 6.0], np.float32))
    w = session.run("let w = sign(x - 3.0)\nw").value
    assert isinstance(w, TernaryTensor) and session.bindings["w"].type == "TernaryTensor<trit, [3]>"
    np.testing.assert_array_equal(w.to_numpy(), [-1, 1, 1])
    np.testing.assert_array_equal(session.run("w * 2.0").value, [-2.0, 2.0, 2.0])


def test_a_value_the_boundary_cannot_carry_is_dropped_with_a_note(session: ReplSession) -> None:
    result = session.run("let xs = [1, 2, 3]\nlet m = length(xs)")
    assert result.notes == ["`xs` ([int32, ...]) is not kept after this entry: values of this type cannot "
                            "be passed between entries yet"]
    assert "xs" not in session.bindings and session.bindings["m"].value == 3


def test_a_compile_error_changes_nothing(session: ReplSession) -> None:
    with pytest.raises(CompileError) as info:
        session.run("fn h(a: int32) -> int32 {\n    return a + nope\n}\nlet y = 1")
    (d,) = info.value.diagnostics
    assert (d.code, d.file, d.line, d.col) == ("E0201", "<repl-2>", 2, 16)
    assert "2 |     return a + nope\n  |                ^^^^" in str(info.value)
    assert "y" not in session.bindings and "h" not in session.names()
    assert session.run("sum(x)").value == 6.0


def test_a_runtime_error_keeps_definitions_not_bindings(session: ReplSession) -> None:
    with pytest.raises(TritonRuntimeError) as info:
        session.run("fn k(a: int32) -> int32 { return a * 3 }\nlet z = 1\nlet i = 7\nx[i]")
    assert (info.value.file, info.value.line, info.value.col) == ("<repl-2>", 4, 1)
    assert "index 7 is out of bounds" in info.value.message
    assert "z" not in session.bindings
    assert session.run("k(5)").value == 15


def test_functions_cannot_read_bindings_and_are_told_why(session: ReplSession) -> None:
    with pytest.raises(CompileError) as info:
        session.run("fn h() -> float32 { return x[0] }")
    assert "`x` is a REPL binding: functions cannot read bindings, pass it as an argument" in str(info.value)


def test_inputs_types_and_inspection(session: ReplSession) -> None:
    session.run(F)
    y = session.run("f(v) + 1.0", inputs={"v": np.array([2.0, 0.0, 1.0], np.float32)}).value
    assert y == 6.0 and "v" not in session.bindings
    assert session.type_of("x > 1.5") == "Tensor<bool, [3]>"
    assert session.type_of("f(x)") == "float32"
    assert "func @f(" in session.inspect("ir", "f")
    assert 'define' in session.inspect("llvm", "f") and "tdsl.f" in session.inspect("llvm", "f")
    assert "tdsl.f:" in session.inspect("asm", "f")
    with pytest.raises(EntryError, match="no function 'nothing'"):
        session.inspect("asm", "nothing")
    with pytest.raises(EntryError, match="an expression, not a statement"):
        session.type_of("let a = 1")


def test_echo_prints_with_the_language(session: ReplSession, capfd: pytest.CaptureFixture[str]) -> None:
    result = session.run("x * 2.0", echo=True)
    assert result.printed and capfd.readouterr().out == "[2. 4. 6.]\n"
    result = session.run("(1, x)", echo=True)  # print does not take tuples: left to the front end
    assert not result.printed and result.value[0] == 1


@pytest.mark.parametrize("text,complete", [
    ("fn f() {", False), ("fn f() {\n}", True), ('print("{")', True), ("let a = (1 +", False),
    ("# {\nlet a = 1", True), ("/* {", False), ("/* { */ let a = [1,\n 2]", True), ("}", True),
])
def test_balanced(text: str, complete: bool) -> None:
    assert balanced(text) is complete


def test_lexer_tokens() -> None:
    from pygments.token import Comment, Keyword, Name, Number, String

    from triton_dsl.highlight import TritonLexer

    tokens = [(t, v) for t, v in TritonLexer().get_tokens('fn f(x: Tensor<float32, [3]>) { let s = "a" # c\n'
                                                          "return 0x1F + 2.5 }")]
    assert (Keyword, "fn") in tokens and (Name.Function, "f") in tokens
    assert (Keyword.Type, "Tensor") in tokens and (Keyword.Type, "float32") in tokens
    assert (String.Double, '"a"') in tokens and (Comment.Single, "# c") in tokens
    assert (Number.Integer, "0x1F") in tokens and (Number.Float, "2.5") in tokens


def test_a_generic_function_is_callable_from_python() -> None:
    session = ReplSession()
    session.run("fn ident<S>(a: Tensor<float32, S>) -> Tensor<float32, S> { return a + 1.0 }")
    ident = session.function("ident")
    np.testing.assert_array_equal(ident(np.zeros((2, 2), np.float32)), np.ones((2, 2), np.float32))
    np.testing.assert_array_equal(ident(np.zeros(3, np.float32)), np.ones(3, np.float32))


def test_only_the_bindings_an_entry_names_are_passed(session: ReplSession) -> None:
    session.run("let big = zeros([512, 512])\nlet y = 2")
    session.bindings["big"].value = None  # would fail to convert if it were passed
    assert session.run('y * 21').value == 42
    assert session.run('print(f"{y}")').value_type is None


def test_a_function_outlives_a_reset_with_the_code_it_calls() -> None:
    import gc

    session = ReplSession()
    session.run("fn base(a: int32) -> int32 { return a * 2 }")
    session.run("fn top(a: int32) -> int32 { return base(a) + 1 }")
    top = session.function("top")
    session.reset()
    gc.collect()
    assert top(20) == 41  # base's module is kept alive by top's


def test_inputs_are_typed_from_their_values() -> None:
    session = ReplSession()
    assert session.run("v + 1", inputs={"v": 2**40}).value == 2**40 + 1  # an int64, not a wrapped int32
    assert session.run("v + 1", inputs={"v": 5}).value_type == "int32"
    result = session.run("sum(m)", inputs={"m": np.ones((2, 3), np.float64)})
    assert (result.value, result.value_type) == (6.0, "Tensor<float64, []>")  # `?` dims: rank 0 at run time
    w = TernaryTensor.from_numpy(np.array([1, -1, 0, 1], np.int8), scale=0.5)
    np.testing.assert_array_equal(session.run("w * 2.0", inputs={"w": w}).value, [1.0, -1.0, 0.0, 1.0])


def test_struct_definitions_persist_and_values_live_within_an_entry() -> None:
    """A struct defined in one entry is usable in the next; its values run inside an entry, but a binding
    of a struct (or list) type is not kept between entries yet — said in a note, never silently stale."""
    session = ReplSession()
    assert session.run("struct P {\n    x: float32\n}").defined == ["P"]
    result = session.run("let p = P(x=1.5)\np.x = p.x * 2.0\np.x")
    assert result.value == 3.0
    assert result.notes == ["`p` (P) is not kept after this entry: values of this type cannot be passed "
                            "between entries yet"]
    with pytest.raises(CompileError) as info:
        session.run("p.x")
    (d,) = info.value.diagnostics
    assert (d.code, d.file, d.line, d.col) == ("E0201", "<repl-3>", 1, 1)
