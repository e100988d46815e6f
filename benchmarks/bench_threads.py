"""Python threads calling compiled functions at once: native calls release the GIL, so 2 threads do
twice the work of 1 in about the same wall time (on 2 free cores).

Run: `python benchmarks/bench_threads.py [--quick]`. Each call is single-threaded native work: a scalar
loop; an elementwise loop (with `TRITON_DSL_NUM_THREADS=1` the kernel pool does not split it); the same
on 2k floats, where converting arguments and results in Python costs as much as the loop. It times
`calls` calls on 1 thread and `calls` calls on each of 2 threads, and prints the wall times, the speed-up
(2 x work / time), how many cores the 2-thread run kept busy (process CPU time / wall time: at most 1
if the GIL were held during calls), and for comparison the speed-up of the same calls in 2 processes
(what the machine gives at that moment: other work on the cores lowers both). ctypes releases the GIL
around every call (`CFUNCTYPE`); native code takes it back only in its Python callbacks (program
output, the first call of a lazily compiled function, releasing memory Python owns).
Timing is never a test; this only reports.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# One native thread per call: the scaling measured is the Python threads', not the kernel pool's.
os.environ.setdefault("TRITON_DSL_NUM_THREADS", "1")

import triton_dsl  # noqa: E402
from benchmarks.common import quick_parser  # noqa: E402

SOURCE = """
fn spin(n: int32) -> float32 {
    let acc = 0.0
    let i = 0
    while i < n {
        acc = acc * 0.999 + 1.0
        i = i + 1
    }
    return acc
}
fn scaled(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> {
    return tanh(x * 0.5) + 1.0
}
"""


def _timed(threads: int, calls: int, call) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of `threads` threads making `calls` calls each."""
    def work() -> None:
        for _ in range(calls):
            call()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    start, cpu = time.perf_counter(), time.process_time()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - start, time.process_time() - cpu


def _loop(fn, arg, calls: int) -> float:
    """In a worker process: `calls` calls of fn(arg); the wall seconds they took."""
    start = time.perf_counter()
    for _ in range(calls):
        fn(arg)
    return time.perf_counter() - start


def _two_processes(pool, fn, arg, calls: int) -> float:
    """Wall seconds of 2 worker processes making `calls` calls each at once (the scaling the machine
    gives right now, without any shared interpreter): the slower worker's time."""
    return max(pool.starmap(_loop, [(fn, arg, calls)] * 2))


def main() -> None:
    args = quick_parser(__doc__).parse_args()
    module = triton_dsl.compile(SOURCE, name="bench_threads.triton")
    rng = np.random.default_rng(0)
    big = rng.standard_normal(1_000_000).astype(np.float32)
    small = rng.standard_normal(2_000).astype(np.float32)
    k = 1 if args.quick else 10
    cases = [("spin(2e7): a scalar loop", module.spin, 20_000_000, 1 * k),
             ("scaled(1M floats)", module.scaled, big, 10 * k),
             ("scaled(2k floats): boundary-bound", module.scaled, small, 1000 * k)]
    print(f"cores available: {len(os.sched_getaffinity(0))}")
    print(f"load average before: {os.getloadavg()[0]:.2f} (other processes on the cores lower the speed-up)")
    print(f"{'function':34} {'calls':>6} {'1 thread s':>11} {'2 threads s':>12} {'speed-up':>9} "
          f"{'CPU/wall':>9} {'2 processes':>12}")
    # the same calls in 2 processes (the module travels by pickle): the machine's own 2-core scaling now
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        for label, fn, arg, calls in cases:
            call = functools.partial(fn, arg)
            call()  # compile-time work and first-touch outside the timing
            pool.starmap(_loop, [(fn, arg, 1)] * 2)  # the workers compile (or load) the module first
            one = min(_timed(1, calls, call)[0] for _ in range(3))
            two, cpu = min(_timed(2, calls, call) for _ in range(3))
            procs = min(_two_processes(pool, fn, arg, calls) for _ in range(3))
            # CPU/wall of the 2-thread run: how many cores the process kept busy (at most 1 with a held GIL)
            print(f"{label:34} {calls:>6} {one:>11.3f} {two:>12.3f} {2 * one / two:>8.2f}x {cpu / two:>9.2f} "
                  f"{2 * one / procs:>11.2f}x")


if __name__ == "__main__":
    main()
