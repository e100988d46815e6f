"""The type checker on small programs: inferred types of `let`s, instances, targets, and rejections."""


import re

from triton_dsl.check.checker import check_program
from triton_dsl.check.env import GlobalEnv
from triton_dsl.check.printer import format_types
from triton_dsl.check.stdlib_env import stdlib_env
from triton_dsl.check.targets import (
    ClosureTarget,
    FunctionRef,
    FunctionTarget,
    MethodTarget,
    PrimitiveTarget,
    StructTarget,
    TraitMethodTarget,
)
from triton_dsl.diagnostics import DiagnosticSink
from triton_dsl.source import Source
from triton_dsl.syntax import ast
from triton_dsl.syntax.parser import parse_program


def check(src: str, env=None):
    sink = DiagnosticSink()
    program = parse_program(Source("t.triton", src), sink)
    assert program is not None and not sink.has_errors, [d.render() for d in sink.diagnostics]
    checked = check_program(program, sink, env=env)
    return checked, [d for d in sink.diagnostics if d.severity == "error"]


def ok(src: str, env=None):
    checked, errs = check(src, env)
    assert errs == [], "\n".join(d.render() for d in errs)
    return checked


def lets(checked) -> dict[str, str]:
    out = {}
    for node in ast.walk(checked.program):
        if isinstance(node, ast.Let) and isinstance(node.target, ast.NamePattern):
            out[node.target.name] = str(node.value.ty)
    return out


def let_types(src: str) -> dict[str, str]:
    return lets(ok(src))


def calls(checked, kind):
    return [n for n in ast.walk(checked.program) if isinstance(n, ast.Call) and isinstance(n.target, kind)]


# ------------------------------------------------------------------ numbers and promotion

def test_literals_and_promotion():
    t = let_types("let a = 1\nlet b = 2.5\nlet c = a + b\nlet d = 7 / 2\nlet e = 7 // 2\nlet f = 7 % 2\n"
                  "let g = 2 ** 3\nlet h = 0.9 ** a\nlet i = true && false\nlet j = -a\nlet k = a < 2\n")
    assert t == {"a": "int32", "b": "float32", "c": "float32", "d": "float32", "e": "int32", "f": "int32",
                 "g": "int32", "h": "float32", "i": "bool", "j": "int32", "k": "bool"}


def test_literal_adapts_to_the_tensor_dtype():
    t = let_types("let x = randn([3], dtype=float16)\nlet a = x * 2.0\nlet b = x * randn([3])\n"
                  "let c = zeros([2], dtype=int8) + 1\nlet m = randn([3]) > 0.0\nlet s = sum(m)\n"
                  "let f = randn([3]) * m\n")
    assert t["a"] == "Tensor<float16, [3]>"
    assert t["b"] == "Tensor<float32, [3]>"
    assert t["c"] == "Tensor<int8, [2]>"
    assert t["s"] == "Tensor<int32, []>"
    assert t["f"] == "Tensor<float32, [3]>"


def test_casts_and_type_values():
    t = let_types("let a = int32(2.7)\nlet b = float16(randn([2]))\nlet c = trit(1)\nlet d = float16\n"
                  "let e = str(3)\n")
    assert t == {"a": "int32", "b": "Tensor<float16, [2]>", "c": "trit", "d": "Type", "e": "str"}


def test_trit_is_never_implicit():
    _, errs = check("fn f(t: trit) -> trit {\n    return t\n}\nlet k = 2\nlet r = f(k)\n")
    assert [e.code for e in errs] == ["E0501"]


# ------------------------------------------------------------------ shapes

def test_shape_rules():
    t = let_types(
        "let a = randn([8, 4])\nlet b = a @ randn([4, 2])\nlet c = randn([5, 8, 4]) @ randn([4, 3])\n"
        "let v = randn([4]) @ randn([4])\nlet m = mean(a, dim=0)\nlet k = sum(a, dim=1, keepdim=true)\n"
        "let r = reshape(a, [2, -1])\nlet tr = transpose(a)\nlet tt = a.T\nlet u = a.unsqueeze(0)\n"
        "let s = stack([a, a], dim=1)\nlet cc = concat([a, a], dim=0)\nlet sl = a[1:3, :]\nlet e = a[0, 1]\n"
        "let cv = conv2d(randn([1, 3, 32, 32]), randn([16, 3, 3, 3]), stride=2, padding=1)\n"
        "let f = flatten(randn([2, 3, 4]), start_dim=1)\nlet p = permute(randn([2, 3, 4]), [2, 0, 1])\n"
        "let n = a.numel()\nlet sm = softmax(a)\nlet am = argmax(a, dim=1)\nlet mx = max(a)\n")
    assert t["b"] == "Tensor<float32, [8, 2]>"
    assert t["c"] == "Tensor<float32, [5, 8, 3]>"
    assert t["v"] == "Tensor<float32, []>"
    assert t["m"] == "Tensor<float32, [4]>"
    assert t["k"] == "Tensor<float32, [8, 1]>"
    assert t["r"] == "Tensor<float32, [2, 16]>"
    assert t["tr"] == t["tt"] == "Tensor<float32, [4, 8]>"
    assert t["u"] == "Tensor<float32, [1, 8, 4]>"
    assert t["s"] == "Tensor<float32, [8, 2, 4]>"
    assert t["cc"] == "Tensor<float32, [16, 4]>"
    assert t["sl"] == "Tensor<float32, [2, 4]>"
    assert t["e"] == "Tensor<float32, []>"
    assert t["cv"] == "Tensor<float32, [1, 16, 16, 16]>"
    assert t["f"] == "Tensor<float32, [2, 12]>"
    assert t["p"] == "Tensor<float32, [4, 2, 3]>"
    assert t["n"] == "int64"  # numel, like a named dim, is an int64 (issue 15)
    assert t["sm"] == "Tensor<float32, [8, 4]>"
    assert t["am"] == "Tensor<int64, [8]>"  # as numpy, PyTorch and the runtime
    assert t["mx"] == "Tensor<float32, []>"


def test_named_dims_bind_per_call_and_are_values_in_the_body():
    checked = ok("fn rows<S>(x: Tensor<float32, [n, k]>) -> Tensor<float32, [n]> {\n"
                 "    let total: int64 = n * k\n    let z = zeros([n])\n    return z\n}\n"
                 "let a = rows(randn([6, 2]))\nlet b = rows(randn([3, 2]))\n")
    t = lets(checked)
    assert t["a"] == "Tensor<float32, [6]>" and t["b"] == "Tensor<float32, [3]>"
    assert t["z"] == "Tensor<float32, [n]>"
    inst = [i for i in checked.instances if i.fn.name == "rows"]
    assert len(inst) == 1 and inst[0].dim_sources == {"n": (0, 0), "k": (0, 1)}


def test_whole_shape_generic_takes_the_argument_shape():
    t = let_types("fn twice<S>(x: Tensor<float32, S>) -> Tensor<float32, S> {\n    return x * 2.0\n}\n"
                  "let a = twice(randn([2, 3]))\nlet b = twice(randn([4]))\n")
    assert t["a"] == "Tensor<float32, [2, 3]>" and t["b"] == "Tensor<float32, [4]>"


def test_rank1_static_converts_to_rank0_and_rank0_to_scalar():
    checked = ok("fn f(t: Tensor<float32, []>, s: float32) -> float32 {\n    return t * s\n}\n"
                 "let r = f(tensor([0.5]), tensor([2.0]))\n")
    call = calls(checked, FunctionTarget)[0]
    assert [a.conversion.steps for a in call.target.args] == [("squeeze",), ("squeeze", "to_scalar")]
    _, errs = check("fn f(t: Tensor<float32, []>) -> float32 {\n    return t\n}\nlet r = f(randn([2]))\n")
    assert [e.code for e in errs] == ["E0409"]  # only a static [1] converts to []


# ------------------------------------------------------------------ ternary

def test_ternary_rules():
    checked = ok("let w = randn([4, 3])\nlet q = ternary_quantize(w)\nlet y = randn([2, 4]) @ q\n"
                 "let v = q + 1.0\nlet c = sum(q == -1)\nlet s = sign(w)\nlet d = ste_quantize(q)\n"
                 "let neg = -q\n")
    t = lets(checked)
    assert t["q"] == "TernaryTensor<trit, [4, 3]>"
    assert t["y"] == "Tensor<float32, [2, 3]>"
    assert t["v"] == "Tensor<float32, [4, 3]>"
    assert t["c"] == "Tensor<int32, []>"
    assert t["s"] == "TernaryTensor<trit, [4, 3]>"
    assert t["d"] == "Tensor<float32, [4, 3]>"
    assert t["neg"] == "TernaryTensor<trit, [4, 3]>"
    ste = [c for c in calls(checked, FunctionTarget) if c.target.instance.fn.name == "ste_quantize"][0]
    assert ste.target.args[0].conversion.steps == ("dequantize",)
    assert ste.target.args[1].default_expr is not None and ste.target.args[1].expr is None


def test_float_tensor_is_not_ternary():
    _, errs = check("fn f(q: TernaryTensor<trit, [?]>) -> TernaryTensor<trit, [?]> {\n    return q\n}\n"
                    "let r = f(randn([3]))\n")
    assert [e.code for e in errs] == ["E0701"]


# ------------------------------------------------------------------ calls and targets

def test_primitive_targets_are_normalized():
    checked = ok("let x = randn([2, 3])\nlet s = sum(x, keepdim=true)\nlet m = max(1, 2)\n")
    prims = {c.target.name: c.target for c in calls(checked, PrimitiveTarget)}
    s = prims["sum"]
    assert [a.name for a in s.args] == ["x", "dim", "keepdim"]
    assert s.args[1].expr is None and s.args[1].default_value is None and s.args[2].expr is not None
    assert s.info["keepdim"] is True and s.info["variant"] == "reduce"
    assert prims["max"].info["variant"] == "binary"


def test_union_parameter_and_is_narrowing():
    checked = ok(
        "fn h(w: Tensor<float32, [?, ?]> | TernaryTensor<trit, [?, ?]>) -> Tensor<float32, [?, ?]> {\n"
        "    if w is TernaryTensor<trit, [?, ?]> {\n        return dequantize(w)\n    }\n    return w\n}\n"
        "let a = h(randn([2, 2]))\nlet b = h(ternary_quantize(randn([2, 2])))\n")
    insts = [i for i in checked.instances if i.fn.name == "h"]
    members = {"Tensor<float32, [?, ?]>", "TernaryTensor<trit, [?, ?]>"}
    assert {str(i.param_types[0]) for i in insts} == members
    statics = {str(i.param_types[0]): i.body.stmts[0].static for i in insts}
    assert statics == {"Tensor<float32, [?, ?]>": False, "TernaryTensor<trit, [?, ?]>": True}
    assert insts[0].body is not insts[1].body  # each instance has its own typed body


def test_optional_narrowing():
    ok("fn f(x: float32?) -> float32 {\n    if x == None { return 0.0 }\n    return x * 2.0\n}\n"
       "fn g(b: Tensor<float32, [n]>?, x: Tensor<float32, [n]>) -> Tensor<float32, [n]> {\n"
       "    if b != None {\n        return x + b\n    }\n    return x\n}\n"
       "let r = f(None)\nlet s = f(2.0)\n")
    _, errs = check("fn f(x: float32?) -> float32 {\n    return x\n}\n")
    assert [e.code for e in errs] == ["E0303"]
    # after `if x != None { return ... }` the rest of the block knows x is None
    _, errs = check("fn f(x: float32?) -> float32 {\n    if x != None { return x }\n    return x\n}\n")
    assert [e.message for e in errs] == ["the return value expects `float32`, found `None`"]


def test_dtype_argument_sets_the_return_dtype():
    t = let_types("let q = ternary_quantize(randn([2, 2]))\nlet a = dequantize(q)\n"
                  "let b = dequantize(q, dtype=float16)\nlet c = dequantize(q, 2.0, float64)\n")
    assert (t["a"], t["b"], t["c"]) == ("Tensor<float32, [2, 2]>", "Tensor<float16, [2, 2]>",
                                        "Tensor<float64, [2, 2]>")


def test_function_value_instantiated_for_the_expected_type():
    checked = ok("fn apply(f: fn(Tensor<float32, [?]>) -> TernaryTensor<trit, [?]>, x: Tensor<float32, [?]>)"
                 " -> TernaryTensor<trit, [?]> {\n    return f(x)\n}\n"
                 "let r = apply(ternary_quantize, randn([3]))\n")
    refs = [n for n in ast.walk(checked.program) if isinstance(n, ast.Name)
            and isinstance(getattr(n, "target", None), FunctionRef)]
    assert refs and refs[0].target.instance.fn.name == "ternary_quantize"
    assert calls(checked, ClosureTarget)


def test_closures_infer_parameters_from_context():
    checked = ok("fn watch(x: Tensor<float32, [?, ?]>) {\n    x.register_hook(fn(grad) {\n"
                 "        print(f\"{mean(grad)}\")\n    })\n}\n"
                 "let sq = fn(v: float32) -> float32 { return v * v }\n"
                 "let nine = sq(3.0)\n")
    closure = next(n for n in ast.walk(checked.program) if isinstance(n, ast.Closure))
    assert str(closure.ty) == "fn(Tensor<float32, [?, ?]>)"
    assert lets(checked)["nine"] == "float32"
    _, errs = check("let f = fn(v) { return v }\n")
    assert [e.code for e in errs] == ["E0306"]


# ------------------------------------------------------------------ lists, tuples, loops

def test_lists_tuples_and_loops():
    checked = ok("let xs = [1, 2, 3]\nlet n = length(xs)\nlet first = xs[0]\nlet rep = [0.5] * 4\n"
                 "let rep2 = 4 * [0.5]\n"
                 "let rt = tensor([0.5, 1.0] * 4)\n"
                 "let acc = []\nfor (i, v) in enumerate(xs) {\n    acc.append(v * 2)\n}\n"
                 "for i in 0..n { print(i) }\nfor i in range(1, 5, 2) { continue }\n"
                 "let (a, b) = (1, \"s\")\nlet t = tensor([[1.0, 2.0], [3.0, 4.0]])\n"
                 "let rows = []\nfor r in t { rows.append(r) }\nlet again = stack(rows)\n"
                 "while n > 0 { break }\n")
    t = lets(checked)
    assert t["xs"] == "[int32, ...]" and t["n"] == "int32" and t["first"] == "int32"
    assert t["rep"] == t["rep2"] == "[float32, ...]"
    assert t["rt"] == "Tensor<float32, [8]>"  # the repeated literal's length is known
    assert t["acc"] == "[int32, ...]"  # learned from the later append
    assert t["t"] == "Tensor<float32, [2, 2]>"
    assert t["again"] == "Tensor<float32, [?, 2]>"


def test_list_element_type_mismatch():
    _, errs = check("let xs = [1, 2]\nxs.append(\"s\")\n")
    assert [e.code for e in errs] == ["E0501"]


# ------------------------------------------------------------------ structs and traits

STRUCTS = """
struct Layer {
    weights: Tensor<float32, [n_in, n_out]>
    name: str = "dense"
    fn forward(self, x: Tensor<float32, [?, n_in]>) -> Tensor<float32, [?, n_out]> {
        return x @ self.weights
    }
    fn width(self) -> int64 {
        return n_out
    }
}
trait Forward {
    fn forward(self, x: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]>
}
fn run(m: Forward, x: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]> {
    return m.forward(x)
}
"""


def test_structs_methods_and_traits():
    checked = ok(STRUCTS + "let l = Layer(randn([4, 3]))\nlet l2 = Layer(weights=randn([4, 3]), name=\"x\")\n"
                 "l.weights = randn([4, 3])\nlet y = l.forward(randn([2, 4]))\n"
                 "let out = run(l, randn([2, 4]))\n"
                 "let nm = l2.name\n")
    t = lets(checked)
    assert t["l"] == "Layer" and t["nm"] == "str" and t["y"] == "Tensor<float32, [?, ?]>"
    assert calls(checked, StructTarget) and calls(checked, MethodTarget) and calls(checked, TraitMethodTarget)
    layer = next(s for s in checked.structs if s.name == "Layer")
    assert layer.field_names == ["weights", "name"]
    assert str(layer.field_types[0]) == "Tensor<float32, [n_in, n_out]>"


def test_struct_errors():
    _, errs = check(STRUCTS + "let l = Layer(randn([4, 3]), \"a\", 3)\n")
    assert [e.code for e in errs] == ["E0503"]
    _, errs = check(STRUCTS + "struct Bad {\n    v: int32\n}\nlet o = run(Bad(1), randn([2, 2]))\n")
    assert [e.code for e in errs] == ["E0501"]


# ------------------------------------------------------------------ control flow

def test_panic_is_no_return_and_every_path_returns():
    ok("fn f(m: str) -> int32 {\n    if m == \"a\" {\n        return 1\n    } else {\n"
       "        panic(f\"bad {m}\")\n    }\n}\n")
    ok("fn g() -> int32 {\n    while true {\n        return 1\n    }\n}\n")
    _, errs = check("fn h(x: int32) -> int32 {\n    while x > 0 {\n        return 1\n    }\n}\n")
    assert [e.code for e in errs] == ["E0601"]


def test_main_block_and_top_level_globals_visible_in_functions():
    checked = ok("let scale = 2.0\nfn f(x: float32) -> float32 {\n    return x * scale\n}\n"
                 "main {\n    let y = f(1.0)\n    print(y)\n}\n")
    assert checked.main is not None and "scale" in checked.globals


def test_repl_env_carries_declarations():
    env = GlobalEnv(parent=stdlib_env())
    ok("fn double(x: float32) -> float32 {\n    return x * 2.0\n}\nlet a = 1.5\n", env)
    t = lets(ok("let b = double(a)\n", env))
    assert t["b"] == "float32"


def test_format_types_is_stable_text():
    src = "let w = randn([4, 3])\nlet q = threshold_quantize(w)\n"
    first, second = format_types(ok(src)), format_types(ok(src))
    assert first == second
    assert "let q: TernaryTensor<trit, [4, 3]>" in first
    assert re.search(r"fn threshold_quantize__[0-9a-f]{8}\(x: Tensor<float32, \[\?, \?\]>", first)


def test_let_shadows_and_assignment_keeps_the_type():
    t = let_types("let a = 1\nlet a = 2.0\nlet b: float32 = a\n")
    assert t["b"] == "float32"
    _, errs = check("let a = 1\na = \"s\"\n")
    assert [e.code for e in errs] == ["E0301"]


def test_stdlib_bodies_do_not_see_user_definitions():
    # A user function named like one the stdlib's default refers to must not capture the stdlib's use.
    checked = ok("fn ternary_quantize(x: Tensor<float32, [?]>) -> Tensor<float32, [?]> {\n    return x\n}\n"
                 "let y = ste_quantize(randn([2, 2]))\n")
    assert lets(checked)["y"] == "Tensor<float32, [2, 2]>"
    ste = next(i for i in checked.instances if i.fn.name == "ste_quantize")
    default = ste.fn.defaults[1]
    assert default.target.instance.fn.origin == "stdlib"


def test_instance_names_are_stable_hashes():
    a = {i.mangled() for i in ok("let q = threshold_quantize(randn([2, 3]))\n").instances}
    b = {i.mangled() for i in ok("let w = threshold_quantize(randn([5]))\n"
                                 "let q = threshold_quantize(randn([2, 3]))\n").instances}
    assert a <= b


def test_repl_entry_may_redefine_an_earlier_function_but_not_twice_in_one_entry():
    env = GlobalEnv(parent=stdlib_env())
    ok("fn f(x: float32) -> float32 {\n    return x\n}\n", env)
    ok("fn f(x: int32) -> int32 {\n    return x + 1\n}\nlet a = f(2)\n", env)
    assert lets(ok("let b = f(3)\n", env))["b"] == "int32"
    _, errs = check("fn g() {\n}\nfn g() {\n}\nmain {\n}\nmain {\n}\n")
    assert [(e.code, e.line) for e in errs] == [("E0204", 7), ("E0204", 3)]


def test_method_dims_come_from_struct_fields():
    checked = ok(STRUCTS + "let l = Layer(randn([4, 3]))\nlet w = l.width()\n")
    width = next(i for i in checked.instances if i.fn.name == "width")
    assert width.field_dim_sources == {"n_in": ("weights", 0), "n_out": ("weights", 1)}
    assert lets(checked)["w"] == "int64"  # a named dim is an int64 (issue 15)


def test_each_instance_of_a_generic_function_has_a_full_typed_copy_of_its_body():
    checked = ok("fn to<S>(x: Tensor<float32, S>, dtype: Type = float32) -> Tensor<dtype, S> {\n"
                 "    let y: Tensor<dtype, S> = float16(x)\n    let (a, b) = (1, 2)\n"
                 "    for i in 0..a { y = y }\n    return y\n}\n"
                 "let p = to(randn([3]), float16)\nlet q = to(randn([3, 2]), float16)\n")
    assert (lets(checked)["p"], lets(checked)["q"]) == ("Tensor<float16, [3]>", "Tensor<float16, [3, 2]>")
    insts = [i for i in checked.instances if i.fn.name == "to"]
    rets = set()
    for inst in insts:
        let_y, let_ab, loop, ret = inst.body.stmts
        assert isinstance(let_ab.target, ast.TuplePattern) and isinstance(loop.target, ast.NamePattern)
        assert ret.value.ty == let_y.value.ty or str(inst.ret).startswith("Tensor<float32")
        rets.add(str(ret.value.ty))
    assert {"Tensor<float16, [?]>", "Tensor<float16, [?, ?]>"} <= rets


def test_uncalled_generic_bodies_are_checked_and_marked_declared_only():
    checked, errs = check("fn g<S>(x: Tensor<float32, S>) -> Tensor<float32, S> {\n    return x @ 2.0\n}\n"
                          "fn f(x: float32) -> float32 {\n    return x\n}\n")
    assert [e.code for e in errs] == ["E0301"]  # the body is checked even though nothing calls g
    flags = {i.fn.name: i.declared_only for i in checked.instances}
    assert flags == {"g": True, "f": False}
    checked = ok("fn g<S>(x: Tensor<float32, S>) -> Tensor<float32, S> {\n    return x\n}\n"
                 "let y = g(randn([2]))\n")
    assert sorted(i.declared_only for i in checked.instances if i.fn.name == "g") == [False, True]


def test_dtype_generic_binds_to_the_argument_dtype():
    src = ("fn add<T, S>(a: Tensor<T, S>, b: Tensor<T, S>) -> Tensor<T, S> {\n    return a + b\n}\n"
           "let x = add(zeros([3], dtype=int8), zeros([3], dtype=int8))\n")
    assert lets(ok(src))["x"] == "Tensor<int8, [3]>"
    _, errs = check(src + "let z = add(zeros([3], dtype=int8), randn([3]))\n")
    assert [e.code for e in errs] == ["E0501"] and "expects `Tensor<int8, [3]>`" in errs[0].message


def test_trait_default_method_bodies_are_checked_and_count_for_conformance():
    checked = ok("trait Named {\n    fn name(self) -> str\n    fn greet(self) -> str {\n"
                 "        return f\"hello {self.name()}\"\n    }\n}\n"
                 "struct P {\n    n: str\n    fn name(self) -> str {\n        return self.n\n    }\n}\n"
                 "fn hi(x: Named) -> str {\n    return x.greet()\n}\nlet s = hi(P(\"a\"))\n")
    assert "greet" in {i.fn.name for i in checked.instances}
    _, errs = check("trait Named {\n    fn greet(self) -> int32 {\n        return \"no\"\n    }\n}\n")
    assert [e.code for e in errs] == ["E0301"]
