"""The Python API end to end: compile source, call functions on numpy arrays, errors, threads, cache."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import triton_dsl
from triton_dsl import api

SOURCE = """
fn scale(x: Tensor<float32, [n]>, s: float32 = 2.0) -> Tensor<float32, [n]> {
    return tanh(x / s) + 1.0
}
fn sqdiff(a: Tensor<float32, [r, c]>, b: Tensor<float32, [c]>) -> Tensor<float32, [r, c]> {
    return (a - b) ** 2
}
fn fib(k: int32) -> int32 {
    let a = 0
    let b = 1
    for i in 0..k {
        let t = a + b
        a = b
        b = t
    }
    return a
}
fn collatz(n: int64) -> int32 {
    let steps = 0
    let x = n
    while x != 1 {
        if x % 2 == 0 { x = x // 2 } else { x = 3 * x + 1 }
        steps = steps + 1
    }
    return steps
}
"""


@pytest.fixture(scope="module")
def module():
    return api.compile(SOURCE, name="api_test.triton")


def test_fused_function_matches_numpy_with_defaults_and_keywords(module):
    x = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    np.testing.assert_allclose(module.scale(x), np.tanh(x / np.float32(2)) + 1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(module.scale(x, s=0.5), np.tanh(x / np.float32(0.5)) + 1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(module.scale([1.0, 2.0], 4.0), np.tanh(np.float32([1, 2]) / 4) + 1, rtol=1e-6)
    assert "fused" in module.ir("scale")


def test_broadcasting_pow(module):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    np.testing.assert_allclose(module.sqdiff(a, b), (a - b) ** 2, rtol=1e-6)


def test_scalar_loops(module):
    assert [module.fib(k) for k in range(10)] == [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]
    assert module.collatz(27) == 111


def test_argument_errors_name_the_parameter(module):
    with pytest.raises(TypeError, match="'x'"):
        module.scale(np.zeros(3, np.float64))
    with pytest.raises(ValueError, match="'x'"):
        module.scale(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="dimension 'c'"):
        module.sqdiff(np.zeros((2, 3), np.float32), np.zeros(4, np.float32))
    with pytest.raises(TypeError, match="no parameter named 'q'"):
        module.scale(np.zeros(3, np.float32), q=1.0)


def test_threads_call_at_once(module):
    x = np.linspace(-3, 3, 4097, dtype=np.float32)
    want = np.tanh(x / 2) + 1
    failures = []

    def work():
        for _ in range(20):
            if not np.allclose(module.scale(x), want, rtol=1e-5, atol=1e-6):
                failures.append(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures


def test_compile_error_and_cache_reuse(module):
    with pytest.raises(triton_dsl.CompileError):
        api.compile("fn f(x: int32) -> int32 { return y }")
    again = api.compile(SOURCE, name="api_test.triton")
    assert again.from_cache
    assert again.fib(12) == 144


def test_unavailable_operations_are_a_clean_not_available_error():
    src = ("fn f(q: TernaryTensor<trit, [n]>) -> int32 {\n"
           "    let c = 0\n    for t in q {\n        c = c + 1\n    }\n    return c\n}\n")
    with pytest.raises(triton_dsl.CompileError) as info:
        api.compile(src, name="loop.triton")  # iterating over packed trits is not compiled yet
    assert info.value.diagnostics[0].code == "E0901"
    assert "not available yet" in str(info.value)
    with pytest.raises(AttributeError):
        triton_dsl.stdlib.no_such_function  # noqa: B018


def test_runtime_error_from_api_call():
    m = api.compile("fn div(a: int32, b: int32) -> int32 {\n    return a // b\n}\n", name="div.triton")
    with pytest.raises(triton_dsl.TritonRuntimeError) as info:
        m.div(1, 0)
    assert (info.value.file, info.value.line, info.value.col) == ("div.triton", 2, 12)
    assert m.div(-7, 2) == -4


def test_inspection_of_ir_llvm_and_asm(module):
    assert "define" in module.llvm_ir("fib") and "tdsl.fib" in module.llvm_ir("fib")
    assert "ret" in module.asm("fib")


def test_generic_functions_get_instances_for_the_types_python_passes():
    src = ("fn double<S>(x: Tensor<float32, S>) -> Tensor<float32, S> { return x * 2.0 }\n"
           "fn used(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> { return double(x) }\n")
    m = api.compile(src, name="generic.triton", cache=False)
    np.testing.assert_array_equal(m.used(np.ones(2, np.float32)), [2, 2])
    np.testing.assert_array_equal(m.double(np.ones(3, np.float32)), [2, 2, 2])  # the instance `used` made
    np.testing.assert_array_equal(m.double(np.ones((2, 2), np.float32)), np.full((2, 2), 2))  # a new rank
    assert m.double(np.float32(3.0)) == 6.0
    np.testing.assert_array_equal(m.double(np.ones(3, np.int8)), [2, 2, 2])  # int8 widens to float32
    with pytest.raises(triton_dsl.CompileError):
        m.double("not a tensor")


def test_defaults_the_language_computes_are_applied():
    src = ("fn scale(x: Tensor<float32, [n]>, s: float32 = 1.0 / 4.0, t: float32 = 2.0)\n"
           "    -> Tensor<float32, [n]> {\n    return x * s + t\n}\n")
    m = api.compile(src, name="defaults.triton", cache=False)
    one = np.ones(2, np.float32)
    np.testing.assert_array_equal(m.scale(one), [2.25, 2.25])
    np.testing.assert_array_equal(m.scale(one, 2.0), [4, 4])
    np.testing.assert_array_equal(m.scale(one, t=0.0), [0.25, 0.25])
