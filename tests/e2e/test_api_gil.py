"""Native calls release the GIL: while one thread runs a long compiled call, another thread keeps running
Python code (ctypes `CFUNCTYPE` calls drop the GIL; benchmarks/bench_threads.py measures the scaling)."""

from __future__ import annotations

import threading
import time

import numpy as np

import triton_dsl

SPIN = """
fn spin(n: int32) -> float32 {
    let acc = 0.0
    let i = 0
    while i < n {
        acc = acc * 0.999 + 1.0
        i = i + 1
    }
    return acc
}
"""


def test_python_runs_while_a_native_call_does() -> None:
    module = triton_dsl.compile(SPIN, name="spin.triton")
    expected = np.float32(0.0)
    for _ in range(1000):  # the reference: the same float32 recurrence
        expected = expected * np.float32(0.999) + np.float32(1.0)
    assert module.spin(1000) == expected
    n = 100_000_000
    start = time.perf_counter()
    module.spin(n)
    alone = time.perf_counter() - start
    results = []
    worker = threading.Thread(target=lambda: results.append(module.spin(n)))
    stamps = []
    worker.start()
    while worker.is_alive():
        stamps.append(time.perf_counter())
    worker.join()
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    # With the GIL held for the whole call, this loop would stop for the call's duration (one gap of
    # about `alone`); released, it only waits for the scheduler.
    assert len(stamps) > 1000
    assert max(gaps) < alone / 2, (max(gaps), alone)
    assert results and results[0] == module.spin(n)
