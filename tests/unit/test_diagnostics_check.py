"""Checker diagnostics: code, line:col and message pinned; notes; no compiler-internal names leak."""

import pytest

from triton_dsl.check.checker import check_program
from triton_dsl.diagnostics import DiagnosticSink
from triton_dsl.source import Source
from triton_dsl.syntax.parser import parse_program

LIN = ("fn lin(x: Tensor<float32, [b, n]>, w: Tensor<float32, [n, m]>) -> Tensor<float32, [b, m]> {\n"
       "    return x @ w\n}\n")


def errors_of(src: str):
    sink = DiagnosticSink()
    program = parse_program(Source("t.triton", src), sink)
    assert program is not None and not sink.has_errors, [d.render() for d in sink.diagnostics]
    check_program(program, sink)
    errs = [d for d in sink.diagnostics if d.severity == "error"]
    for d in errs:
        text = d.render()
        assert ".py" not in text and "Type(" not in text and "TensorType" not in text, text
    return errs


CASES = [
    # (program, code, line, col, words in the message)
    ("let a = randn([32, 784])\nlet y = a @ randn([128, 10])\n", "E0402", 2, 9,
     "inner dimensions do not match: [32, 784] @ [128, 10] (784 vs 128)"),
    ("let a = randn([32, 784])\nlet z = a + randn([3, 4])\n", "E0401", 2, 9,
     "shapes [32, 784] and [3, 4] cannot be broadcast together"),
    (LIN + "let r = lin(randn([2, 3]), randn([4, 5]))\n", "E0408", 4, 28,
     "dimension 'n' is 3"),
    (LIN + "let r = lin(randn([2, 3]), \"w\")\n", "E0501", 4, 28,
     "argument `w` of `lin` expects `Tensor<float32, [3, m]>`, found `str`"),
    (LIN + "let r = lin(randn([2, 3]), randn([3, 5]), foo=1)\n", "E0502", 4, 43,
     "`lin` has no parameter named `foo`"),
    (LIN + "let r = lin(randn([2, 3]))\n", "E0504", 4, 9, "missing argument `w` in call to `lin`"),
    (LIN + "let r = lin(randn([2, 3]), randn([3, 5]), randn([1]))\n", "E0503", 4, 43,
     "`lin` takes 2 arguments but 3 were given"),
    ("let weights = randn([4])\nlet q = threshold_quantize(weigths)\n", "E0201", 2, 28,
     "cannot find `weigths` in this scope"),
    ("let a = randn([3, 4])\nlet q: TernaryTensor<trit, [3, 4]> = a\n", "E0701", 2, 38,
     "expects `TernaryTensor<trit, [3, 4]>` but got a float tensor"),
    ("fn f(x: Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]> {\n    return x * 2.0\n}\n",
     "E0701", 2, 12, "float tensor"),
    ("let t = trit(2)\n", "E0701", 1, 9, "trit(2) is out of range"),
    ("let t = trit(-3)\n", "E0701", 1, 9, "trit(-3) is out of range"),
    ("fn f(x: int32) -> int32 {\n    if x > 0 { return 1 }\n}\n", "E0601", 1, 4,
     "function `f` must return a value of type `int32` on every path"),
    ("fn f() {\n    break\n}\n", "E0602", 2, 5, "`break` outside of a loop"),
    ("continue\n", "E0603", 1, 1, "`continue` outside of a loop"),
    ("let a = randn([3])\nlet s = a.shap\n", "E0304", 2, 9, "has no field `shap`"),
    ("let a = randn([3])\nlet u = a.unsqeeze(0)\n", "E0304", 2, 9, "has no method `unsqeeze`"),
    ("struct P {\n    w: float32\n}\nlet p = P(w=1.0)\nlet v = p.ww\n", "E0304", 5, 9,
     "`P` has no field `ww`"),
    ("struct P {\n    w: float32\n}\nlet p = P(w=1.0)\np.scale()\n", "E0304", 5, 1,
     "`P` has no method `scale`"),
    ("fn f(m: Modle) {\n}\n", "E0202", 1, 9, "unknown type `Modle`"),
    ("let x = randn([3])\nif x { print(1) }\n", "E0302", 2, 4, "a condition must be a `bool`"),
    ("fn f(x: float32?) -> float32 {\n    return x\n}\n", "E0303", 2, 12, "may be None"),
    ("let (a, b) = (1, 2, 3)\n", "E0305", 1, 5, "cannot destructure a tuple of 3 into 2 names"),
    ("let y = max(randn([3, 4]), dim=2)\n", "E0403", 1, 32, "dimension 2 is out of range"),
    ("let y = reshape(randn([3, 4]), [5, 2])\n", "E0404", 1, 9, "cannot reshape [3, 4]"),
    ("let y = conv2d(randn([1, 3, 8, 8]), randn([4, 2, 3, 3]))\n", "E0407", 1, 9, "channels do not match"),
    ("let y = randn([3])\nlet z = y[0, 1]\n", "E0406", 2, 9, "too many indices"),
    ("let d = dequantize(ternary_quantize(randn([2])), dtype=\"f\")\n", "E0501", 1, 56,
     "dtype constant"),
    ("return 1\n", "E0604", 1, 1, "`return` outside of a function"),
    ("fn f() {\n    return 1\n}\n", "E0606", 2, 12, "has no return type but returns"),
]


@pytest.mark.parametrize("src,code,line,col,words", CASES,
                         ids=[c[1] + "-" + str(i) for i, c in enumerate(CASES)])
def test_diagnostic_is_pinned(src, code, line, col, words):
    errs = errors_of(src)
    assert errs, "expected an error"
    first = errs[0]
    assert (first.code, first.line, first.col) == (code, line, col), first.render()
    assert words in first.message, first.message


def test_non_constant_trit_is_allowed():
    src = "fn f(k: int32) -> trit {\n    return trit(k)\n}\nlet t = trit(1)\nlet u = trit(-1)\n"
    assert errors_of(src) == []


def test_did_you_mean_note():
    errs = errors_of("let weights = randn([4])\nlet q = threshold_quantize(weigths)\n")
    assert errs[0].notes[0].message.startswith("did you mean `weights`")


def test_named_dim_conflict_notes_where_it_was_bound():
    errs = errors_of(LIN + "let r = lin(randn([2, 3]), randn([4, 5]))\n")
    notes = errs[0].notes
    assert notes[0].message == "'n' was bound here" and (notes[0].span.line, notes[0].span.col) == (4, 13)
    assert "declared as `Tensor<float32, [n, m]>`" in notes[1].message


def test_wrong_argument_notes_the_declared_parameter():
    errs = errors_of(LIN + "let r = lin(randn([2, 3]), true)\n")
    assert errs[0].code == "E0501"
    assert errs[0].notes[0].message == "parameter `w` is declared as `Tensor<float32, [n, m]>`"
    assert errs[0].notes[0].span.line == 1


def test_independent_errors_are_all_reported_without_cascades():
    src = ("let a = undefined_one\nlet b = a @ a\nlet c = a.foo\nlet d = undefined_two + 1\n"
           "fn f() {\n    break\n}\n")
    errs = errors_of(src)
    assert [(d.code, d.line) for d in errs] == [("E0201", 1), ("E0201", 4), ("E0602", 6)]


def test_user_definition_shadowing_stdlib_is_a_warning():
    sink = DiagnosticSink()
    src = "fn ternary_quantize(x: Tensor<float32, [?]>) -> Tensor<float32, [?]> {\n    return x\n}\n"
    check_program(parse_program(Source("t.triton", src), sink), sink)
    assert [(d.severity, d.code) for d in sink.diagnostics] == [("warning", "W0201")]


@pytest.mark.parametrize("spec,ok", [(".2%", True), (">8.3f", True), (",", True), ("d", False), ("q", False)])
def test_fstring_format_specs_are_checked(spec, ok):
    errs = errors_of(f'let x = 1.5\nlet s = f"{{x:{spec}}}"\n')
    assert (errs == []) == ok
    if not ok:
        assert (errs[0].code, errs[0].line, errs[0].col) == ("E0310", 2, 12)


def test_format_spec_on_a_tensor_is_an_error_but_a_reduction_formats_like_a_scalar():
    errs = errors_of('let v = randn([3])\nlet a = f"{max(v):.3f}"\nlet b = f"{v:.2f}"\n')
    assert [(e.code, e.line) for e in errs] == [("E0310", 3)]


def test_rank_mismatch_has_a_note():
    errs = errors_of("fn f(x: Tensor<float32, [?, ?]>) -> Tensor<float32, [?]> {\n    return x\n}\n")
    assert errs[0].notes[0].message == "the value has rank 2, the expected type rank 1"


def test_struct_missing_trait_method_is_named():
    src = ("trait Q {\n    fn quantize(self, x: Tensor<float32, [?]>) -> TernaryTensor<trit, [?]>\n}\n"
           "struct S {\n    v: int32\n}\nfn use(q: Q) {\n}\nuse(S(1))\n")
    errs = errors_of(src)
    assert errs[0].code == "E0501" and "`S` has no method `quantize`" in errs[0].notes[-1].message


def test_integer_literal_must_fit_the_narrower_dtype():
    errs = errors_of("let a: int8 = 300\nlet b: int8 = -128\nfn f(x: int16) -> int16 {\n    return x\n}\n"
                     "let c = f(70000)\n")
    assert [(e.code, e.line, e.col) for e in errs] == [("E0311", 1, 15), ("E0311", 6, 11)]
    assert errs[0].message == "the literal 300 does not fit in `int8` (-128..127)"


def test_empty_list_needs_an_element_type_from_somewhere():
    errs = errors_of("let xs = []\nlet ys = []\nys.append(1)\nlet zs = []\n"
                     "fn g(l: [float32, ...]) {\n}\ng(zs)\nzs.append(1.5)\n")
    assert [(e.code, e.line, e.col) for e in errs] == [("E0306", 1, 10)]
    assert "empty list `xs`" in errs[0].message


def test_wrong_argument_to_a_stdlib_function_points_into_the_stdlib_by_a_stable_name():
    errs = errors_of('let q = threshold_quantize("w")\n')
    assert errs[0].message == "argument `x` of `threshold_quantize` expects `Tensor<float32, S>`, found `str`"
    assert errs[0].notes[0].span.location().startswith("stdlib/quantize.triton:")


def test_function_reading_a_global_before_its_let_ran():
    src = ("fn f() -> float32 {\n    return scale\n}\nfn g() -> float32 {\n    return f()\n}\n"
           "let a = g()\nlet scale = 2.0\nlet b = f()\nmain {\n    let c = f()\n}\n")
    errs = errors_of(src)
    assert [(e.code, e.line, e.col) for e in errs] == [("E0207", 2, 12)]
    assert "from the call at line 7" in errs[0].message
    # called only after the `let` (or from main): fine
    assert errors_of("fn f() -> float32 {\n    return scale\n}\nlet scale = 2.0\nlet b = f()\n"
                     "main {\n    print(f())\n}\n") == []


def test_error_inside_a_library_body_notes_the_users_call():
    from triton_dsl.check.checker import Checker
    from triton_dsl.check.env import GlobalEnv
    from triton_dsl.check.stdlib_env import stdlib_env

    lib_sink = DiagnosticSink()
    lib = GlobalEnv(parent=stdlib_env())
    checker = Checker(lib_sink, lib)
    checker.origin = "stdlib"
    lib_src = "fn square<S>(x: Tensor<float32, S>) -> Tensor<float32, S> {\n    return x @ x\n}\n"
    checker.check_items(parse_program(Source("stdlib/extra.triton", lib_src), lib_sink))
    assert not lib_sink.has_errors
    sink = DiagnosticSink()
    user = "let y = square(randn([3]))\n"
    check_program(parse_program(Source("t.triton", user), sink), sink, env=GlobalEnv(parent=lib))
    errs = [d for d in sink.diagnostics if d.severity == "error"]
    assert [(e.code, e.span.source.name, e.line) for e in errs] == [("E0301", "stdlib/extra.triton", 2)]
    assert "rank 0" in errs[0].notes[0].message  # [3] @ [3] is a scalar, not the declared shape S
    note = errs[0].notes[-1]
    assert note.span.source.name == "t.triton" and (note.span.line, note.span.col) == (1, 9)
    assert note.message.startswith("in `square` as called here, with x: Tensor<float32, [?]>")
