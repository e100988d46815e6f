"""A call that fails at run time releases the temporaries of every function it unwinds through: a Python
loop of 100k failing calls (caught) keeps resident memory flat — a panic in a callee, an index error inside
a loop with carried tensors, a shape error in a runtime call, a failing trit cast — and the error itself is
still reported with its message and location."""

from __future__ import annotations

import numpy as np
import pytest

from triton_dsl import TernaryTensor, api

SOURCE = """
fn inner(a: Tensor<float32, [n]>, k: int32) -> Tensor<float32, [n]> {
    let t = a + 1.0
    if k > 0 { panic(f"boom {k}") }
    return t
}
fn nested_panic(x: Tensor<float32, [n]>, k: int32) -> Tensor<float32, [n]> {
    let a = x * 2.0
    let b = exp(a)
    let c = inner(b, k)
    return a + b + c
}
fn index_in_loop(x: Tensor<float32, [n]>, i: int32) -> float32 {
    let a = x * 2.0
    let acc = x * 0.0
    let s = 0.0
    for j in 0..3 {
        let t = a * float32(j)
        acc = acc + t
        s = s + t[i]
    }
    return s + sum(acc)
}
fn in_while_condition(x: Tensor<float32, [n]>, i: int32) -> float32 {
    let a = x + 1.0
    while a[i] < 10.0 {
        a = a * 2.0
    }
    return a[0]
}
fn shape_error(x: Tensor<float32, [?]>, y: Tensor<float32, [?]>) -> Tensor<float32, [?]> {
    let a = x * 3.0
    return a + y
}
fn trits_mismatch(q: TernaryTensor<trit, [?]>, k: Tensor<int32, [?]>) -> Tensor<bool, [?]> {
    return q == k
}
fn bad_trits(x: Tensor<float32, [n]>, v: int32) -> Tensor<float32, [n]> {
    let a = x * 2.0
    let q = trit(a * 0.0 + float32(v))
    return q * 1.0 + a
}
"""


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.fixture(scope="module")
def module():
    return api.compile(SOURCE, name="errors.triton", cache=False)


def _fail_many(fn, args, calls: int) -> str:
    message = ""
    for _ in range(calls):
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - the API's run-time error, whatever its class
            message = str(exc)
        else:
            raise AssertionError("the call was expected to fail")
    return message


X = np.ones(4096, np.float32)  # 16 KiB per temporary: 100k leaked calls would need gigabytes
CASES = {
    "nested_panic": ((X, 3), 100_000, "boom 3"),
    "index_in_loop": ((X, 99_999), 30_000, "index"),
    "in_while_condition": ((X, 99_999), 30_000, "index"),
    "shape_error": ((X, np.ones(7, np.float32)), 30_000, "shape"),
    "bad_trits": ((X, 2), 30_000, "trit"),
    "trits_mismatch": ((TernaryTensor.from_numpy(np.ones(8192, np.int8)), np.ones(3, np.int32)), 30_000,
                       "shape"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_failing_calls_in_a_loop_keep_memory_flat(module, name):
    args, calls, words = CASES[name]
    fn = getattr(module, name)
    _fail_many(fn, args, 200)  # warm up allocator pools
    before = rss_bytes()
    message = _fail_many(fn, args, calls)
    grown = rss_bytes() - before
    assert words in message.lower(), message
    assert "errors.triton:" in message
    assert grown < 40 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MiB over {calls} failing calls"


def test_the_same_functions_still_compute_when_they_do_not_fail(module):
    np.testing.assert_allclose(module.nested_panic(X[:5], 0), np.full(5, 2 + 2 * np.exp(2.0) + 1, np.float32),
                               rtol=1e-5)
    assert module.index_in_loop(X[:5], 1) == pytest.approx(6.0 + 30.0)
    assert module.in_while_condition(X[:5], 1) == 16.0
    np.testing.assert_allclose(module.shape_error(X[:3], X[:3]), np.full(3, 4.0))
    np.testing.assert_allclose(module.bad_trits(X[:3], -1), np.full(3, 1.0))
