"""Deep and runaway recursion: a run-time error at the call, never a native stack overflow.

In: programs whose functions call themselves (directly, mutually, with tensors in flight), run through
`tritonc run` in a child process and through the Python API (main thread and a worker thread). Out: the
error "recursion too deep" with the call's location, the depth counter balanced afterwards (legal deep
recursion and repeated failing calls keep working), correct results of legal recursion, and no depth
bookkeeping in functions that cannot recurse.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from triton_dsl import TritonRuntimeError, api
from triton_dsl.abi.layout import MAX_CALL_DEPTH

SOURCE = """fn forever(n: int32) -> int32 {
    return forever(n + 1)
}
fn down(n: int32) -> int32 {
    if n == 0 { return 0 }
    return 1 + down(n - 1)
}
fn fib(n: int32) -> int32 {
    if n < 2 { return n }
    return fib(n - 1) + fib(n - 2)
}
fn is_even(n: int32) -> bool {
    if n == 0 { return true }
    return is_odd(n - 1)
}
fn is_odd(n: int32) -> bool {
    if n == 0 { return false }
    return is_even(n - 1)
}
fn grow(x: Tensor<float32, [n]>, k: int32) -> Tensor<float32, [n]> {
    let y = x * 2.0
    if k == 0 { return y }
    return grow(y, k - 1) + x
}
fn twice(x: int32) -> int32 {
    return x * 2
}
fn no_recursion(x: int32) -> int32 {
    return twice(x) + twice(x + 1)
}
"""

MESSAGE = f"recursion too deep (more than {MAX_CALL_DEPTH} nested calls)"


@pytest.fixture(scope="module")
def m():
    return api.compile(SOURCE, name="rec.triton")


def test_runaway_recursion_is_an_error_at_the_call(m):
    for _ in range(3):  # repeated failing calls keep working
        with pytest.raises(TritonRuntimeError) as info:
            m.forever(0)
        err = info.value
        assert err.message == MESSAGE
        assert (err.file, err.line, err.col) == ("rec.triton", 2, 12)
        assert str(err).startswith("rec.triton:2:12: error: recursion too deep")


def test_counter_is_balanced_after_an_error(m):
    with pytest.raises(TritonRuntimeError, match="recursion too deep"):
        m.forever(0)
    assert m.down(500) == 500
    # the limit itself: exactly MAX_CALL_DEPTH nested recursive calls are allowed, one more is not
    assert m.down(MAX_CALL_DEPTH) == MAX_CALL_DEPTH
    with pytest.raises(TritonRuntimeError, match="recursion too deep") as info:
        m.down(MAX_CALL_DEPTH + 1)
    assert (info.value.line, info.value.col) == (6, 16)
    assert m.down(1000) == 1000


def test_legal_recursion_results(m):
    fib = [0, 1]
    while len(fib) < 21:
        fib.append(fib[-1] + fib[-2])
    assert [m.fib(n) for n in (0, 1, 2, 10, 20)] == [fib[0], fib[1], fib[2], fib[10], fib[20]]
    assert m.is_even(1000) is True and m.is_odd(1001) is True and m.is_even(7) is False


def test_mutual_recursion_counts_both_calls(m):
    # is_even -> is_odd -> is_even ...: every call in the cycle counts
    assert m.is_even(MAX_CALL_DEPTH) is True
    with pytest.raises(TritonRuntimeError, match="recursion too deep") as info:
        m.is_even(10**6)
    assert info.value.line in (14, 18)


def test_recursion_with_tensors_in_flight(m):
    x = np.random.default_rng(0).standard_normal(7).astype(np.float32)
    expect = x * 2.0
    for _ in range(3):
        expect = expect * 2.0 + x
    np.testing.assert_allclose(m.grow(x, 3), expect, rtol=1e-6)
    with pytest.raises(TritonRuntimeError, match="recursion too deep"):
        m.grow(x, 10**6)  # every level owns a tensor: all released on the way out
    np.testing.assert_allclose(m.grow(x, 3), expect, rtol=1e-6)


def test_error_from_a_worker_thread(m):
    errors: list[BaseException] = []
    results: list[int] = []

    def work():
        try:
            m.forever(1)
        except TritonRuntimeError as exc:
            errors.append(exc)
        results.append(m.down(1000))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 2 and all(e.message == MESSAGE for e in errors)
    assert results == [1000, 1000]


def test_only_calls_on_a_cycle_are_counted(m):
    assert MESSAGE not in m.llvm_ir("no_recursion") and "recursion too deep" not in m.llvm_ir("twice")
    assert m.no_recursion(3) == 14


def test_tritonc_run_exits_1_with_location(tmp_path):
    # a user function named like a builtin, calling itself: a child process, so a crash would show
    path = tmp_path / "relu.triton"
    path.write_text("fn relu(q: int32) -> int32 {\n    return relu(q)\n}\nmain {\n    print(relu(1))\n}\n")
    env = dict(os.environ, TRITON_DSL_CACHE_DIR=str(tmp_path / "cache"))
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "triton_dsl", "run", str(path)], capture_output=True,
                          text=True, env=env, cwd=repo, timeout=300)
    assert proc.returncode == 1
    assert f"{path}:2:12: runtime error: {MESSAGE}" in proc.stderr
