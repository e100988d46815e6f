"""Differential tests: every elementwise primitive the back end generates equals numpy on fresh random
inputs of random (broadcasting) shapes, including empty and size-1 dims, NaN and inf.

Floats compare with rel 1e-5 (transcendentals are approximations; arithmetic is exact), ints exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from triton_dsl import api

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

BINARY = {"add": ("+", np.add), "sub": ("-", np.subtract), "mul": ("*", np.multiply),
          "div": ("/", np.true_divide), "floordiv": ("//", np.floor_divide), "mod": ("%", np.remainder),
          "pow": ("**", np.power), "lt": ("<", np.less), "le": ("<=", np.less_equal), "gt": (">", np.greater),
          "ge": (">=", np.greater_equal), "eq": ("==", np.equal), "ne": ("!=", np.not_equal)}
FUNCS = {"minimum": np.minimum, "maximum": np.maximum}
UNARY = {"exp": np.exp, "log": np.log, "sqrt": np.sqrt, "tanh": np.tanh,
         "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "abs": np.abs, "floor": np.floor, "ceil": np.ceil,
         "round": np.round,
         "relu": lambda x: np.maximum(x, 0), "sin": np.sin, "cos": np.cos}
INT_UNARY = {"abs": np.abs, "relu": lambda x: np.maximum(x, 0)}
DTYPES = ("float32", "float64", "int32", "int8")


def _source() -> str:
    lines = []
    for dt in DTYPES:
        for name, (sym, _) in BINARY.items():
            if dt.startswith("int") and name in ("div", "pow"):
                continue
            lines.append(f"fn b_{name}_{dt}(a: Tensor<{dt}, [?, ?]>, b: Tensor<{dt}, [?, ?]>) -> "
                         f"Tensor<{'bool' if name in ('lt', 'le', 'gt', 'ge', 'eq', 'ne') else dt}, [?, ?]> "
                         f"{{ return a {sym} b }}")
        for name in FUNCS:
            lines.append(f"fn f_{name}_{dt}(a: Tensor<{dt}, [?, ?]>, b: Tensor<{dt}, [?]>) -> "
                         f"Tensor<{dt}, [?, ?]> {{ return {name}(a, b) }}")
    for name in UNARY:
        lines.append(f"fn u_{name}(x: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]> "
                     f"{{ return {name}(x) }}")
    for name in INT_UNARY:
        lines.append(f"fn i_{name}(x: Tensor<int32, [?, ?]>) -> Tensor<int32, [?, ?]> {{ return {name}(x) }}")
    lines += [
        "fn neg(x: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]> { return -x }",
        "fn ipow(a: Tensor<int32, [?]>, b: Tensor<int32, [?]>) -> Tensor<int32, [?]> { return a ** b }",
        "fn sel(c: Tensor<float32, [?, ?]>, a: Tensor<float32, [?, ?]>, b: Tensor<float32, [?]>) -> "
        "Tensor<float32, [?, ?]> { return where(c > 0.0, a, b) }",
        "fn clipped(x: Tensor<float32, [?, ?]>, lo: float32, hi: float32) -> Tensor<float32, [?, ?]> "
        "{ return clip(x, lo, hi) }",
        "fn to_i(x: Tensor<float32, [?]>) -> Tensor<int32, [?]> { return int32(x) }",
        "fn to_f(x: Tensor<int32, [?]>) -> Tensor<float32, [?]> { return float32(x) }",
        "fn to_h(x: Tensor<float64, [?]>) -> Tensor<float16, [?]> { return float16(x) }",
        "fn to_b(x: Tensor<float32, [?]>) -> Tensor<bool, [?]> { return bool(x) }",
        "fn chain(a: Tensor<float32, [?, ?]>, b: Tensor<float32, [?]>, t: float32) -> "
        "Tensor<float32, [?, ?]> { return where(a > b, tanh(a / t), (a - b) ** 2) }",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def module():
    return api.compile(_source(), name="differential.triton", cache=False)


FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def broadcast_pair(draw, dtype: str, b_rank: int = 2, nonzero_b: bool = False, specials: bool = True):
    rows, cols = draw(st.integers(0, 5)), draw(st.integers(0, 6))
    a_shape = tuple(draw(st.sampled_from([d, 1])) for d in (rows, cols))
    b_full = tuple(draw(st.sampled_from([d, 1])) for d in (rows, cols))
    b_shape = b_full[-b_rank:]
    if dtype.startswith("float"):
        elems = st.floats(width=int(dtype[5:]), allow_nan=specials, allow_infinity=specials, min_value=None
                          if specials else -1e3, max_value=None if specials else 1e3)
    else:
        info = np.iinfo(dtype)
        elems = st.integers(int(info.min), int(info.max))
    a = draw(hnp.arrays(dtype, a_shape, elements=elems))
    b = draw(hnp.arrays(dtype, b_shape, elements=elems))
    if nonzero_b and not dtype.startswith("float"):
        b[b == 0] = 1
    return a, b


def check(got, want, dtype):
    assert got.shape == want.shape
    if np.dtype(want.dtype).kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=0, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


BINARY_CASES = [(dt, name) for dt in DTYPES for name in sorted(BINARY)
                if not (dt.startswith("int") and name in ("div", "pow"))]  # int ** has its own test


@pytest.mark.parametrize("dtype,name", BINARY_CASES)
def test_binary(module, dtype, name):
    @FAST
    @given(broadcast_pair(dtype, nonzero_b=name in ("floordiv", "mod"), specials=name != "pow"))
    def run(pair):
        a, b = pair
        with np.errstate(all="ignore"):
            want = BINARY[name][1](a, b)
        check(getattr(module, f"b_{name}_{dtype}")(a, b), want, dtype)
    run()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(FUNCS))
def test_minimum_maximum_with_rank_broadcast(module, dtype, name):
    @FAST
    @given(broadcast_pair(dtype, b_rank=1))
    def run(pair):
        a, b = pair
        check(getattr(module, f"f_{name}_{dtype}")(a, b), FUNCS[name](a, b), dtype)
    run()


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float(module, name):
    @FAST
    @given(hnp.arrays("float32", hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=6),
                      elements=st.floats(width=32, min_value=-80, max_value=80) | st.sampled_from(
                          [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -2.5])))
    def run(x):
        with np.errstate(all="ignore"):
            want = UNARY[name](x).astype(np.float32)
            got = getattr(module, f"u_{name}")(x)
        if name in ("sin", "cos"):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, equal_nan=True)
        else:
            check(got, want, "float32")
    run()


@pytest.mark.parametrize("name", sorted(INT_UNARY))
def test_unary_int(module, name):
    @FAST
    @given(hnp.arrays("int32", hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=6)))
    def run(x):
        check(getattr(module, f"i_{name}")(x), INT_UNARY[name](x), "int32")
    run()
    check(module.neg(np.float32([[1.5, -0.0, np.inf]])), -np.float32([[1.5, -0.0, np.inf]]), "float32")


def test_int_pow_and_negative_exponent(module):
    a = np.array([-3, 0, 2, 7, 1, -1], np.int32)
    b = np.array([3, 0, 10, 2, 31, 5], np.int32)
    check(module.ipow(a, b), a ** b, "int32")
    with pytest.raises(api_error()):
        module.ipow(a, np.array([1, 1, -1, 1, 1, 1], np.int32))


def api_error():
    from triton_dsl import TritonRuntimeError
    return TritonRuntimeError


def test_where_clip_casts_and_a_fused_chain(module):
    rng = np.random.default_rng(3)
    for shape in [(0, 3), (1, 1), (4, 5), (3, 1)]:
        c = rng.standard_normal(shape).astype(np.float32)
        a = rng.standard_normal(shape).astype(np.float32)
        b = rng.standard_normal(shape[-1:]).astype(np.float32)
        check(module.sel(c, a, b), np.where(c > 0, a, b), "float32")
        check(module.clipped(a, -0.5, 0.25), np.clip(a, np.float32(-0.5), np.float32(0.25)), "float32")
        want = np.where(a > b, np.tanh(a / np.float32(0.7)), (a - b) ** 2)
        check(module.chain(a, b, 0.7), want, "float32")
    x = np.float32([1.9, -1.9, 0.0, -0.0, 1e6, np.nan, 3.5])
    check(module.to_i(x[:5]), x[:5].astype(np.int32), "int32")
    check(module.to_f(np.int32([-2**31, 0, 2**24 + 1])), np.int32([-2**31, 0, 2**24 + 1]).astype(np.float32),
          "float32")
    wide = np.float64([1e-8, 65504.0, 70000.0, np.nan])
    with np.errstate(over="ignore"):
        check(module.to_h(wide), wide.astype(np.float16), "float16")
    check(module.to_b(x), x.astype(bool), "bool")


def test_broadcast_mismatch_is_a_runtime_error(module):
    with pytest.raises(api_error(), match="shape mismatch"):
        module.b_add_float32(np.zeros((2, 3), np.float32), np.zeros((4, 3), np.float32))


INDEX_SOURCE = """
fn at(x: Tensor<float32, [?, ?]>, i: int32, j: int32) -> float32 { return x[i, j] }
fn row(x: Tensor<float32, [?, ?]>, i: int32) -> Tensor<float32, [?]> { return x[i] }
fn window(x: Tensor<float32, [?, ?]>, a: int32, b: int32, s: int32) -> Tensor<float32, [?, ?]> {
    return x[a:b:s, ::s]
}
fn tail(x: Tensor<float32, [?, ?]>, a: int32) -> Tensor<float32, [?, ?]> { return x[:, a:] }
"""


@pytest.fixture(scope="module")
def index_module():
    return api.compile(INDEX_SOURCE, name="indexing.triton", cache=False)


@st.composite
def matrix_and_bounds(draw):
    shape = (draw(st.integers(0, 5)), draw(st.integers(0, 5)))
    x = np.arange(shape[0] * shape[1], dtype=np.float32).reshape(shape)
    ints = st.integers(-7, 7)
    return x, draw(ints), draw(ints), draw(st.sampled_from([1, 2, 3, -1, -2]))


@FAST
@given(matrix_and_bounds())
def test_indexing_and_slicing_match_numpy(index_module, case):
    from triton_dsl import TritonRuntimeError

    x, a, b, s = case
    np.testing.assert_array_equal(index_module.window(x, a, b, s), x[a:b:s, ::s])
    np.testing.assert_array_equal(index_module.tail(x, a), x[:, a:])
    for fn, args, ref in [(index_module.at, (a, b), lambda: x[a, b]), (index_module.row, (a,), lambda: x[a])]:
        try:
            want = ref()
        except IndexError:
            with pytest.raises(TritonRuntimeError, match="out of bounds"):
                fn(x, *args)
        else:
            np.testing.assert_array_equal(fn(x, *args), want)


# Random elementwise expression trees: fusion must give numpy's result for any chain.
_LEAVES = ("a", "b", "c", "0.5", "2.0")
_BIN = {"+": np.add, "-": np.subtract, "*": np.multiply}
_FUN = {"tanh": np.tanh, "abs": np.abs, "relu": lambda x: np.maximum(x, np.float32(0))}


@st.composite
def expr_tree(draw, depth=0):
    kind = draw(st.sampled_from(["leaf", "bin", "fun", "where", "minmax"] if depth < 4 else ["leaf"]))
    if kind == "leaf":
        name = draw(st.sampled_from(_LEAVES))
        return name, (lambda env, n=name: env[n] if n in env else np.float32(float(n)))
    if kind == "bin":
        op = draw(st.sampled_from(sorted(_BIN)))
        (ls, lf), (rs, rf) = draw(expr_tree(depth + 1)), draw(expr_tree(depth + 1))
        return f"({ls} {op} {rs})", (lambda env: _BIN[op](lf(env), rf(env)))
    if kind == "fun":
        name = draw(st.sampled_from(sorted(_FUN)))
        s, f = draw(expr_tree(depth + 1))
        return f"{name}({s})", (lambda env: _FUN[name](f(env)))
    if kind == "minmax":
        name = draw(st.sampled_from(["minimum", "maximum"]))
        (ls, lf), (rs, rf) = draw(expr_tree(depth + 1)), draw(expr_tree(depth + 1))
        ref = np.minimum if name == "minimum" else np.maximum
        return f"{name}({ls}, {rs})", (lambda env: ref(lf(env), rf(env)))
    (cs, cf), (ts, tf), (es, ef) = (draw(expr_tree(depth + 1)) for _ in range(3))
    return f"where({cs} > 0.0, {ts}, {es})", (lambda env: np.where(cf(env) > 0, tf(env), ef(env)))


@settings(max_examples=12, deadline=None)
@given(expr_tree(), st.integers(0, 4), st.integers(1, 5))
def test_random_fused_chains_match_numpy(tree, rows, cols):
    text, ref = tree
    src = ("fn f(a: Tensor<float32, [?, ?]>, b: Tensor<float32, [?]>, c: float32) -> Tensor<float32, [?, ?]> "
           f"{{\n    return a * 0.0 + {text}\n}}\n")
    module = api.compile(src, name="chain.triton", cache=False)
    rng = np.random.default_rng(rows * 7 + cols)
    env = {"a": rng.standard_normal((rows, cols)).astype(np.float32),
           "b": rng.standard_normal(cols).astype(np.float32), "c": np.float32(0.75)}
    want = env["a"] * np.float32(0) + ref(env)
    got = module.f(env["a"], env["b"], env["c"])
    np.testing.assert_allclose(got, np.broadcast_to(want, got.shape), rtol=1e-5, atol=1e-6)
    assert sum(op.opcode == "fused" for op in module._ir.functions["f"].body.ops) == 1
