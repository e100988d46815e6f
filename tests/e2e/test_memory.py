"""Memory is released when the last reference goes: long DSL loops and many API calls run in constant
memory (resident set size measured before and after; the loops would need gigabytes otherwise)."""

from __future__ import annotations

import numpy as np
import pytest

from triton_dsl import api

SOURCE = """
fn step(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> {
    return x * 0.5 + 1.0
}
fn churn(x: Tensor<float32, [n]>, iters: int32) -> Tensor<float32, [n]> {
    let y = x
    let keep = x
    for i in 0..iters {
        let t = step(y)
        if i % 3 == 0 {
            keep = t
        }
        y = t
    }
    return y - keep * 0.0
}
fn early(x: Tensor<float32, [n]>, iters: int32) -> float32 {
    let y = x
    let i = 0
    while i < iters {
        y = step(y)
        if i == iters - 1 {
            return 1.0
        }
        i = i + 1
    }
    return 0.0
}
"""


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.fixture(scope="module")
def module():
    return api.compile(SOURCE, name="memory.triton", cache=False)


def test_million_iteration_loop_runs_in_constant_memory(module):
    x = np.ones(256, np.float32)
    module.churn(x, 1000)  # warm up allocator pools
    before = rss_bytes()
    y = module.churn(x, 1_000_000)  # 1e6 tensors of 1 KiB: ~1 GB if none were freed
    grown = rss_bytes() - before
    np.testing.assert_allclose(y, np.full(256, 2.0, np.float32), rtol=1e-6)
    assert grown < 50 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MiB"


def test_many_calls_and_early_returns_run_in_constant_memory(module):
    from triton_dsl.runtime import interop

    x = np.ones(4096, np.float32)
    for _ in range(100):
        module.step(x)
    before = rss_bytes()
    borrowed = interop.borrowed_count()
    for _ in range(100_000):
        module.step(x)  # 16 KiB result each: ~1.6 GB if leaked
    assert module.early(x, 1000) == 1.0
    for _ in range(2000):
        module.early(x, 50)
    grown = rss_bytes() - before
    assert grown < 50 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MiB"
    assert interop.borrowed_count() == borrowed


TERNARY_SOURCE = """
fn churn(x: Tensor<float32, [k]>, w: TernaryTensor<trit, [k, n]>, a: TernaryTensor<trit, [m, k]>,
         iters: int32) -> float32 {
    let acc = 0.0
    for i in 0..iters {
        let y = x @ w
        let z = a @ w
        let s: float32? = None
        if i % 2 == 0 { s = sum(y) }
        if s != None { acc = acc + s * 0.0 }
        acc = acc + sum(z) * 0.0 + sum(sign(y) * 1.0) * 0.0
    }
    return acc
}
"""


def test_packed_matmul_optionals_and_signs_run_in_constant_memory():
    from triton_dsl import TernaryTensor

    module = api.compile(TERNARY_SOURCE, name="memory_ternary.triton", cache=False)
    rng = np.random.default_rng(0)
    w = TernaryTensor.from_numpy(rng.integers(-1, 2, size=(256, 128)).astype(np.int8), 0.5)
    a = TernaryTensor.from_numpy(rng.integers(-1, 2, size=(8, 256)).astype(np.int8), (0.5, 0.25))
    x = rng.standard_normal(256).astype(np.float32)
    module.churn(x, w, a, 100)
    before = rss_bytes()
    assert module.churn(x, w, a, 20_000) == 0.0  # ~1.5 GB of results if none were freed
    for _ in range(3000):
        module.churn(x, w, a, 1)
    grown = rss_bytes() - before
    assert grown < 50 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MiB"


LOOPS_SOURCE = """
fn walk(x: Tensor<float32, [n]>, k: int32) -> Tensor<float32, [n]> {
    let y = x
    let z = x * 0.0
    let i = 0
    while true {
        i = i + 1
        let t = y + 1.0
        if i % 3 == 0 {
            z = z + t
            continue
        }
        if i > k {
            y = t * 0.5
            break
        }
        y = t
    }
    for j in 0..k {
        let u = y * 1.0
        if j == 2 { y = u; continue }
        if j > 5 { break }
        z = z + u * 0.0
    }
    return y + z
}
"""


def _walk_reference(x, k):
    y, z, i = x.copy(), x * 0, 0
    while True:
        i += 1
        t = y + 1
        if i % 3 == 0:
            z = z + t
            continue
        if i > k:
            y = t * 0.5
            break
        y = t
    for j in range(k):
        u = y * 1
        if j == 2:
            y = u
            continue
        if j > 5:
            break
        z = z + u * 0
    return y + z


def test_break_and_continue_with_tensors_are_correct_and_free_everything():
    module = api.compile(LOOPS_SOURCE, name="memory_loops.triton", cache=False)
    x = np.arange(4096, dtype=np.float32)
    for k in (0, 1, 5, 10):
        np.testing.assert_allclose(module.walk(x, k), _walk_reference(x, k))
    module.walk(x, 50)
    before = rss_bytes()
    for _ in range(2000):
        module.walk(x, 50)  # ~100 tensors of 16 KiB per call: ~3 GB if leaked
    grown = rss_bytes() - before
    assert grown < 50 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MiB"
