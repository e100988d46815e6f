"""Thread pool (`trk_parallel_for`): every index runs exactly once, over many calls, nested and concurrent.

In: a JIT module with the pool plus small native test bodies built here in IR.
Out: assertions on counters the bodies write (sum of indices, number of ranges, per-index counts).
"""

from __future__ import annotations

import ctypes
import threading

import llvmlite.ir as ir
import numpy as np
import pytest

from triton_dsl import jit
from triton_dsl.codegen.kernels import threads
from triton_dsl.codegen.kernels.trk_ir import I64, PTR, VOID, for_range, gep, i64, load, new_function, store


class Ctx(ctypes.Structure):
    _fields_ = [("sum", ctypes.c_int64), ("calls", ctypes.c_int64), ("counts", ctypes.c_void_p),
                ("inner_n", ctypes.c_int64)]


def _emit_count_body(module: ir.Module) -> None:
    """body(ctx, begin, end): atomically add Σ i and 1 call; counts[i] += 1 for i in range."""
    fn, b = new_function(module, "test_body", VOID, [PTR, I64, I64], ["ctx", "begin", "end"])
    ctx, begin, end = fn.args
    acc = b.alloca(I64)
    b.store(i64(0), acc)
    counts = b.inttoptr(load(b, ctx, I64, i64(2)), PTR)
    with for_range(b, begin, end) as i:
        b.store(b.add(b.load(acc), i), acc)
        store(b, b.add(load(b, counts, I64, i), i64(1)), counts, i)
    b.atomic_rmw("add", b.bitcast(gep(b, ctx, i64(0), I64), I64.as_pointer()), b.load(acc), "seq_cst")
    b.atomic_rmw("add", b.bitcast(gep(b, ctx, i64(1), I64), I64.as_pointer()), i64(1), "seq_cst")
    b.ret_void()


def _emit_nested_body(module: ir.Module) -> None:
    """body(ctx, begin, end): for each i in range, a nested parallel_for over ctx.inner_n indices."""
    pf = threads.declare_parallel_for(module)
    fn, b = new_function(module, "test_nested", VOID, [PTR, I64, I64], ["ctx", "begin", "end"])
    ctx, begin, end = fn.args
    with for_range(b, begin, end):
        b.call(pf, [b.bitcast(module.globals["test_body"], PTR), ctx, load(b, ctx, I64, i64(3)), i64(1)])
    b.ret_void()


_KEEP_ALIVE = []  # the pool's threads run code of this module: it must never be freed


@pytest.fixture(scope="module")
def pool():
    module = ir.Module(name="test_threads")
    threads.build(module, jit.process_target())
    _emit_count_body(module)
    _emit_nested_body(module)
    jm = jit.JitModule(str(module))
    _KEEP_ALIVE.append(jm)
    pf = jm.cfunc("trk_parallel_for", None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
    return jm, pf


def _run(pool, n: int, grain: int, body: str = "test_body", inner_n: int = 0):
    jm, pf = pool
    counts = np.zeros(max(n, inner_n, 1), dtype=np.int64)
    ctx = Ctx(0, 0, counts.ctypes.data, inner_n)
    pf(jm.address(body), ctypes.addressof(ctx), n, grain)
    return ctx, counts


@pytest.mark.parametrize("n,grain", [(0, 1), (1, 1), (7, 100), (1000, 1), (1000, 7), (100003, 64)])
def test_every_index_runs_once(pool, n, grain):
    ctx, counts = _run(pool, n, grain)
    assert ctx.sum == n * (n - 1) // 2
    assert np.all(counts[:n] == 1)
    assert 1 <= ctx.calls <= max(n, 1) or n == 0
    if n <= grain:
        assert ctx.calls == (1 if n > 0 else 0)  # inline: one range


def test_many_calls(pool):
    for k in range(2000):
        n = 1 + (k * 37) % 500
        ctx, counts = _run(pool, n, 1)
        assert ctx.sum == n * (n - 1) // 2 and np.all(counts[:n] == 1)


def test_nested_calls_run_inline(pool):
    ctx, counts = _run(pool, 64, 1, body="test_nested", inner_n=100)
    assert ctx.sum == 64 * (100 * 99 // 2)
    assert np.all(counts[:100] == 64)


def test_concurrent_callers(pool):
    errors = []

    def worker():
        for _ in range(200):
            ctx, counts = _run(pool, 300, 2)
            if ctx.sum != 300 * 299 // 2 or not np.all(counts[:300] == 1):
                errors.append(ctx.sum)

    ts = [threading.Thread(target=worker) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []


def test_thread_count_controls(pool):
    jm, _ = pool
    num = jm.cfunc("trk_num_threads", ctypes.c_int64)
    set_num = jm.cfunc("trk_set_num_threads", ctypes.c_int64, ctypes.c_int64)
    total = num()
    assert total >= 1
    assert set_num(1) == 1 and num() == 1
    ctx, counts = _run(pool, 1000, 1)
    assert ctx.calls == 1 and np.all(counts[:1000] == 1)  # one thread: runs inline as one range
    assert set_num(10**6) == total and num() == total


def test_thread_count_from_environment():
    import subprocess
    import sys
    code = ("import ctypes, llvmlite.ir as ir\n"
            "from triton_dsl import jit\n"
            "from triton_dsl.codegen.kernels import threads\n"
            "m = ir.Module(); threads.build(m, jit.process_target()); jm = jit.JitModule(str(m))\n"
            "print(jm.cfunc('trk_num_threads', ctypes.c_int64)())\n")
    env = dict(__import__("os").environ, TRITON_DSL_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"
