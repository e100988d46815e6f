"""ReplSession in-process: what each entry compiles, what persists (struct, list and trait-object bindings
as the run-time objects themselves, with the language's aliasing), what an error leaves behind, where
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
    result = session.run("let v: int32 | str = 1\nlet m = 3")
    assert result.notes == ["`v` (int32 | str) is not kept after this entry: values of this type cannot "
                            "be passed between entries yet"]
    assert "v" not in session.bindings and session.bindings["m"].value == 3


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


Q = """struct Q {
    t: float32
    xs: [int32, ...]
    fn scale(self, k: float32) {
        self.t = self.t * k
        self.xs.append(length(self.xs))
    }
}"""


def _live() -> int:
    """Run-time objects alive in the process (`trt_obj_live`)."""
    from triton_dsl.runtime import interop

    return interop.func("trt_obj_live")()


def test_struct_bindings_are_the_objects_themselves_across_entries() -> None:
    """A kept struct binding is the run-time object (not a copy): an alias bound in one entry, a field
    assigned in the next and a method mutating `self` in a third are all seen through every binding."""
    from triton_dsl.api_objects import ObjectHandle

    session = ReplSession()
    assert session.run(Q).defined == ["Q"]
    result = session.run("let q = Q(t=0.5, xs=[1, 2])")
    assert result.notes == [] and result.bound == ["q"] and session.bindings["q"].type == "Q"
    session.run("let a = q")
    a, q = session.bindings["a"].value, session.bindings["q"].value
    assert isinstance(q, ObjectHandle) and a.same_object(q)
    session.run("a.t = 1.0")
    assert session.run("q.t").value == 1.0
    session.run("q.scale(3.0)")  # a method changing self: seen through `a`
    assert session.run("a.t").value == 3.0
    assert session.run("a.xs[2]").value == 2
    copy = session.bindings["q"].value.value()  # a Python copy reads the current contents
    assert (copy.t, copy.xs) == (3.0, [1, 2, 2])


def test_lists_grow_and_shrink_across_entries() -> None:
    session = ReplSession()
    session.run("let xs = [1, 2, 3]\nlet ys = xs")
    session.run("xs.append(4)")
    assert session.run("length(ys)").value == 4
    assert session.run("ys.pop()").value == 4
    assert session.run("let last = xs.pop()\nlength(xs)").value == 2
    assert session.bindings["last"].value == 3
    assert session.bindings["xs"].value.value() == [1, 2]


def test_a_list_of_structs_holding_lists_of_tensors() -> None:
    session = ReplSession()
    session.run("struct L {\n    ws: [Tensor<float32, [?]>, ...]\n}")
    session.run("let ls = [L(ws=[tensor([1.0, 2.0])]), L(ws=[])]\nlet first = ls[0]")
    session.run("first.ws.append(tensor([3.0, 4.0, 5.0]))")  # through the element's alias
    assert session.run("length(ls[0].ws)").value == 2
    session.run("let ws = ls[1].ws")
    session.run("ws.append(ls[0].ws[1] * 2.0)")
    np.testing.assert_array_equal(session.run("ls[1].ws[0]").value, [6.0, 8.0, 10.0])
    session.run("ls.append(first)\nls[2].ws.pop()")
    assert session.run("length(first.ws)").value == 1
    assert session.run("sum(ls[0].ws[0])").value == 3.0


QUANTIZERS = """trait Quantizer {
    fn quantize(self, x: float32) -> float32
}
struct Twice {
    fn quantize(self, x: float32) -> float32 { return x * 2.0 }
}
struct Plus {
    k: float32
    fn quantize(self, x: float32) -> float32 { return x + self.k }
}"""


def test_trait_typed_bindings_dispatch_across_entries(capfd: pytest.CaptureFixture[str]) -> None:
    session = ReplSession()
    session.run(QUANTIZERS)
    session.run("let qs: [Quantizer, ...] = [Twice(), Plus(k=1.0)]")
    assert session.bindings["qs"].type == "[Quantizer, ...]"
    session.run("let one: Quantizer = Plus(k=10.0)")  # a trait object on its own
    assert session.bindings["one"].type == "Quantizer"
    assert session.run("one.quantize(1.0)").value == 11.0
    session.run("qs.append(one)")
    session.run("fn apply(qs: [Quantizer, ...], x: float32) -> float32 {\n    let acc = x\n"
                "    for q in qs {\n        acc = q.quantize(acc)\n    }\n    return acc\n}")
    assert session.run("apply(qs, 1.0)").value == 13.0  # ((1 * 2) + 1) + 10
    session.run("let p = Plus(k=0.5)\nqs.append(p)")
    session.run("p.k = 100.0")  # the list holds the same struct the binding names
    assert session.run("apply(qs, 1.0)").value == 113.0
    session.run("fn once(q: Quantizer, x: float32) -> float32 { return q.quantize(x) }")
    once = session.function("once")
    assert once(session.bindings["one"].value, 1.0) == 11.0  # a trait object with its own table
    assert once(session.bindings["p"].value, 1.0) == 101.0  # a struct handle, given the struct's table
    capfd.readouterr()
    assert session.run("qs[1]", echo=True).printed
    assert session.run("one", echo=True).printed
    assert capfd.readouterr().out == "Plus(k=1.0)\nPlus(k=10.0)\n"


def test_kept_objects_print_in_the_language_form(capfd: pytest.CaptureFixture[str]) -> None:
    session = ReplSession()
    session.run(Q)
    session.run('let q = Q(t=0.5, xs=[1, 2])\nlet names = ["a", "b"]\nlet qs = [q, q]')
    capfd.readouterr()
    for entry in ("q", "names", "qs"):
        result = session.run(entry, echo=True)
        assert result.printed and result.notes == []
    assert capfd.readouterr().out == ("Q(t=0.5, xs=[1, 2])\n['a', 'b']\n"
                                      "[Q(t=0.5, xs=[1, 2]), Q(t=0.5, xs=[1, 2])]\n")
    assert repr(session.bindings["q"].value) == "Q(t=0.5, xs=[1, 2])"  # the handle shows a copy


def test_reset_and_rebinding_release_the_objects() -> None:
    import gc

    session = ReplSession()
    session.run(Q)
    before = _live()
    session.run("let q = Q(t=1.0, xs=[1])\nlet a = q\nlet ls = [q, Q(t=2.0, xs=[])]")
    assert _live() - before == 5  # two structs, their two lists, the list of structs
    session.run("let ls = [1]")  # the old list and the struct only it held go; q stays
    assert _live() - before == 3
    session.reset()
    gc.collect()
    assert _live() == before


def test_objects_passed_to_functions_of_earlier_entries() -> None:
    """In the language a function changes the object it is given; from Python, a handle passes the
    object itself, while a Python copy (`StructValue`) passes a new object as the API documents."""
    session = ReplSession()
    session.run(Q)
    session.run("fn bump(q: Q) {\n    q.t = q.t + 1.0\n    q.xs.append(0)\n}")
    session.run("let q = Q(t=1.0, xs=[])")
    session.run("bump(q)")
    assert session.run("q.t").value == 2.0
    bump = session.function("bump")
    bump(session.bindings["q"].value)
    assert session.run("q.t").value == 3.0 and session.run("length(q.xs)").value == 2
    copy = session.bindings["q"].value.value()
    bump(copy)
    assert copy.t == 3.0 and session.run("q.t").value == 3.0
    with pytest.raises(TypeError, match="must be a Q value, not a handle of a"):
        bump(session.run("let xs = [1]\nxs").value)
    session.run("fn bump_all(qs: [Q, ...]) {\n    for q in qs {\n        bump(q)\n    }\n}")
    handle = session.bindings["q"].value
    session.function("bump_all")([handle, copy, handle])  # a Python list of a handle twice and a copy
    assert session.run("q.t").value == 5.0 and copy.t == 3.0


def test_a_runtime_error_keeps_changes_to_objects_but_not_new_bindings() -> None:
    """The entry's bindings are not kept, but the objects earlier bindings name were changed in place
    before the error: those changes stay (no rollback), as they would in a program."""
    session = ReplSession()
    session.run(Q)
    session.run("let q = Q(t=1.0, xs=[1])")
    with pytest.raises(TritonRuntimeError, match="out of range"):
        session.run("q.t = 9.0\nq.xs.append(2)\nlet z = q\nq = Q(t=0.0, xs=[])\nlet bad = z.xs[5]")
    assert "z" not in session.bindings
    assert session.run("q.t").value == 9.0  # the rebinding of q was lost, the field assignment was not
    assert session.run("length(q.xs)").value == 2


def test_redefining_a_struct_drops_bindings_of_the_old_layout() -> None:
    session = ReplSession()
    session.run("struct P {\n    x: float32\n}")
    session.run("let p = P(x=1.5)\nlet ps = [p]\nlet n = 4")
    with pytest.raises(EntryError, match="^`p` holds a value of an earlier definition of its type"):
        session.run("struct P {\n    y: int32\n    x: float32\n}\np.x")
    assert session.run("p.x").value == 1.5  # that entry changed nothing
    result = session.run("struct P {\n    y: int32\n    x: float32\n}")
    assert result.notes == ["`p` (P) is dropped: this entry redefined its type, and its value has the old "
                            "layout", "`ps` ([P, ...]) is dropped: this entry redefined its type, and its "
                            "value has the old layout"]
    assert "p" not in session.bindings and session.bindings["n"].value == 4
    assert session.run("let p = P(y=1, x=2.0)\np.x + 1.0").value == 3.0


def test_a_held_handle_of_a_redefined_struct_is_refused_as_an_input() -> None:
    """A handle Python kept (a notebook variable) is not in the session's bindings, so a redefinition
    cannot drop it: the boundary refuses it, naming the input."""
    session = ReplSession()
    session.run("struct P {\n    x: float32\n}")
    held = session.run("P(x=1.5)").value
    session.run("struct P {\n    y: int32\n    x: float32\n}")
    with pytest.raises(EntryError, match=r"^entry: `held`: this P value was made with an earlier definition"):
        session.run("held.x", inputs={"held": held})
    assert held.value().x == 1.5  # still readable with its own layout


def test_optional_tuple_and_typed_empty_list_bindings() -> None:
    session = ReplSession()
    session.run(Q)
    session.run("let q = Q(t=1.0, xs=[])\nlet o: Q? = None\nlet e: [int32, ...] = []\nlet pair = (q, 3)")
    assert session.run("o == None").value is True
    session.run("o = q\ne.append(7)")
    session.run("pair[0].t = 4.0")  # the tuple holds the same struct
    assert session.run("q.t").value == 4.0 and session.run("e[0]").value == 7
    o = session.bindings["o"].value
    assert o.same_object(session.bindings["q"].value) and session.bindings["o"].type == "Q?"


def test_an_untyped_empty_list_reports_the_entry_line_only() -> None:
    session = ReplSession()
    with pytest.raises(CompileError) as info:
        session.run("let e = []")
    (d,) = info.value.diagnostics  # not also the generated `let __repl_out_e = e`
    assert (d.code, d.file, d.line, d.col) == ("E0306", "<repl-1>", 1, 9)


def test_a_returned_handle_comes_back_as_an_input() -> None:
    """A notebook variable holding an object a cell returned (`h = %triton q`) is that object in a later
    cell: `ipython._inputs` passes it, typed as the session typed it."""
    from triton_dsl.ipython import _inputs

    session = ReplSession(name="cell")
    session.run(Q)
    session.run("let q = Q(t=1.0, xs=[])")
    h = session.run("q").value
    assert h.type_text == "Q"
    namespace = {"h": h, "other": object()}
    inputs = _inputs(session, "h.t = 2.5\nother", namespace)
    assert inputs == {"h": h}
    session.run("h.t = 2.5", inputs=inputs)
    assert session.run("q.t").value == 2.5 and "h" not in session.bindings


def test_handles_copy_as_references_and_refuse_pickling() -> None:
    import copy
    import gc
    import pickle

    session = ReplSession()
    session.run(Q)
    before = _live()
    session.run("let q = Q(t=1.0, xs=[])")
    twin = copy.copy(session.bindings["q"].value)  # its own reference to the same object
    assert twin.same_object(session.bindings["q"].value)
    for refuse in (pickle.dumps, copy.deepcopy):
        with pytest.raises(TypeError, match="refers to a run-time object of this process"):
            refuse(twin)
    session.reset()
    gc.collect()
    assert _live() == before + 2 and twin.value().t == 1.0  # the twin still holds q and its list
    del twin
    gc.collect()
    assert _live() == before
