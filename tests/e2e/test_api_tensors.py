"""Tensor operations through the API against numpy: indexing and slicing (negative indices, bounds
errors), reductions, creation, shape ops, matmul, ternary values (sign, dequantize), string compares."""

from __future__ import annotations

import numpy as np
import pytest

import triton_dsl
from triton_dsl import api

SOURCE = """
fn pick(x: Tensor<float32, [r, c]>, i: int32, j: int32) -> float32 { return x[i, j] }
fn row(x: Tensor<float32, [r, c]>, i: int32) -> Tensor<float32, [c]> { return x[i] }
fn window(x: Tensor<float32, [n]>, a: int32, b: int32) -> Tensor<float32, [?]> { return x[a:b] }
fn every_other(x: Tensor<float32, [r, c]>) -> Tensor<float32, [?, ?]> { return x[::2, 1:] }
fn stats(x: Tensor<float32, [r, c]>) -> (float32, float32, float32, int64) {
    return (sum(x), mean(x), max(x), argmax(x))
}
fn col_sums(x: Tensor<float32, [r, c]>) -> Tensor<float32, [c]> { return sum(x, dim=0) }
fn count_pos(x: Tensor<float32, [r, c]>) -> int32 { return sum(x > 0.0) }
fn made(n: int32) -> Tensor<float32, [?, ?]> { return zeros([n, 3]) + ones([n, 3]) * 2.0 }
fn shaped(x: Tensor<float32, [r, c]>) -> Tensor<float32, [?]> { return flatten(transpose(x)) }
fn mm(a: Tensor<float32, [m, k]>, b: Tensor<float32, [k, n]>) -> Tensor<float32, [m, n]> { return a @ b }
fn mm_any(a: Tensor<float32, [?, ?]>, b: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]> { return a @ b }
fn greet(name: str) -> str { return "hello " + name }
fn add_same(x: Tensor<float32, [n]>, y: Tensor<float32, [n]>) -> Tensor<float32, [n]> { return x + y }
fn add_any(a: Tensor<float32, [?]>, b: Tensor<float32, [?]>) -> Tensor<float32, [?]> { return add_same(a, b) }
fn scaled(x: Tensor<float32, [n]>, bias: Tensor<float32, [n]>? = None, k: float32? = None)
    -> Tensor<float32, [n]> {
    let y = x * 2.0
    if bias != None { y = y + bias }
    if k == None { return y }
    return y * k
}
fn first_above(x: Tensor<float32, [n]>, t: float32) -> int32? {
    for i in 0..numel(x) {
        if x[i] > t { return i }
    }
    return None
}
fn lin(x: Tensor<float32, [m, k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [m, n]> { return x @ w }
fn lin_twice(x: Tensor<float32, [k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [n]> {
    let y = x @ w
    return y + matmul(x, w)
}
fn tt(a: TernaryTensor<trit, [m, k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [m, n]> {
    return a @ w
}
fn signs(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> { return sign(x) * 2.0 }
fn zeros_in(x: Tensor<float32, [n]>) -> int32 { return sum(sign(x) == 0) }
fn same(a: str, b: str) -> bool { return a == b }
fn labelled(flag: bool) -> bool {
    let mode = "symmetric"
    if flag { mode = "asymmetric" }
    return mode == "symmetric"
}
"""


@pytest.fixture(scope="module")
def module():
    return api.compile(SOURCE, name="tensors.triton", cache=False)


X = np.arange(12, dtype=np.float32).reshape(3, 4) - 5.5


def test_indexing_with_negative_indices_and_slices(module):
    assert module.pick(X, -1, -2) == X[-1, -2] and module.pick(X, 0, 3) == X[0, 3]
    np.testing.assert_array_equal(module.row(X, -2), X[-2])
    v = np.arange(10, dtype=np.float32)
    for a, b in [(2, 5), (-3, 10), (5, 2), (0, 0)]:
        np.testing.assert_array_equal(module.window(v, a, b), v[a:b])
    np.testing.assert_array_equal(module.every_other(X), X[::2, 1:])


def test_index_out_of_range_is_a_runtime_error_with_location(module):
    with pytest.raises(triton_dsl.TritonRuntimeError) as info:
        module.pick(X, 3, 0)
    col = SOURCE.splitlines()[1].index("x[i, j]") + 1
    assert "out of bounds" in info.value.message and (info.value.line, info.value.col) == (2, col)


def test_reductions_creation_shape_ops_and_matmul(module):
    s, m, mx, am = module.stats(X)
    assert s == pytest.approx(X.sum()) and m == pytest.approx(X.mean()) and mx == X.max() and am == X.argmax()
    np.testing.assert_allclose(module.col_sums(X), X.sum(axis=0))
    assert module.count_pos(X) == int((X > 0).sum())
    np.testing.assert_array_equal(module.made(4), np.full((4, 3), 2.0, np.float32))
    np.testing.assert_array_equal(module.shaped(X), X.T.reshape(-1))
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal((7, 3)).astype(np.float32)
    np.testing.assert_allclose(module.mm(a, b), a @ b, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="dimension 'k'"):
        module.mm(a, a)
    with pytest.raises(triton_dsl.TritonRuntimeError, match="shape mismatch"):
        module.mm_any(a, a)


def test_ternary_values_dequantize_through_the_packed_kernel(module):
    x = np.float32([1.5, -0.2, 0.0, -3.0, 0.0, 7.0])
    np.testing.assert_array_equal(module.signs(x), np.sign(x) * 2)
    assert module.zeros_in(x) == 2


def test_strings(module):
    assert module.same("abc", "abc") and not module.same("abc", "abd")
    assert module.labelled(False) and not module.labelled(True)
    assert module.greet("world") == "hello world"


def test_named_dims_are_checked_at_run_time_when_unknown(module):
    one = np.ones(3, np.float32)
    np.testing.assert_array_equal(module.add_any(one, one), one * 2)
    with pytest.raises(triton_dsl.TritonRuntimeError) as info:
        module.add_any(one, np.ones(4, np.float32))
    assert "dimension 'n'" in info.value.message and "[3] vs [4]" in info.value.message


def test_optional_parameters_and_results(module):
    a = np.float32([1, 2, 3])
    np.testing.assert_array_equal(module.scaled(a), a * 2)
    np.testing.assert_array_equal(module.scaled(a, np.float32([1, 1, 1])), a * 2 + 1)
    np.testing.assert_array_equal(module.scaled(a, k=3.0), a * 6)
    np.testing.assert_array_equal(module.scaled(a, None, None), a * 2)
    assert module.first_above(a, 1.5) == 1 and module.first_above(a, 9.0) is None


@pytest.mark.parametrize("scale", [1.0, 0.25, "channel", (0.7, 0.3)])
def test_matmul_with_packed_ternary_weights(module, scale):
    from triton_dsl import TernaryTensor

    rng = np.random.default_rng(5)
    K, N = 37, 45
    trits = rng.integers(-1, 2, size=(K, N)).astype(np.int8)
    if scale == "channel":
        scale = np.linspace(0.5, 1.5, K).astype(np.float32)
    w = TernaryTensor.from_numpy(trits, scale)
    x = rng.standard_normal((5, K)).astype(np.float32)
    deq = w.dequantize()
    np.testing.assert_allclose(module.lin(x, w), x @ deq, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(module.lin_twice(x[1], w), 2 * (x[1] @ deq), rtol=1e-5, atol=1e-5)
    assert "ternary_matmul" in module.ir("lin")


@pytest.mark.parametrize("a_scale", [1.0, "rows", (0.3, 0.6)])
@pytest.mark.parametrize("w_scale", [0.25, (0.7, 0.2), "k"])
def test_ternary_times_ternary_matmul(module, a_scale, w_scale):
    from triton_dsl import TernaryTensor

    rng = np.random.default_rng(6)
    M, K, N = 6, 70, 33
    at = rng.integers(-1, 2, size=(M, K)).astype(np.int8)
    wt = rng.integers(-1, 2, size=(K, N)).astype(np.int8)
    a_scale = np.linspace(0.5, 2, M).astype(np.float32) if a_scale == "rows" else a_scale
    w_scale = np.linspace(1, 2, K).astype(np.float32) if w_scale == "k" else w_scale
    a, w = TernaryTensor.from_numpy(at, a_scale), TernaryTensor.from_numpy(wt, w_scale)
    np.testing.assert_allclose(module.tt(a, w), a.dequantize() @ w.dequantize(), rtol=1e-5, atol=1e-5)
