"""Python threads calling compiled functions at once: native calls release the GIL, so 2 threads do
twice the work of 1 in about the same wall time (on 2 free cores).

Run: `python benchmarks/bench_threads.py [--quick]`. Each function is single-threaded native work (a
scalar loop; a small elementwise call the thread pool does not split); the benchmark times `calls` calls
on 1 thread and `calls` calls on each of 2 threads and prints wall times and the speed-up
(2 × work / time). ctypes releases the GIL around every call (`CFUNCTYPE`), and the runtime takes it back
only to write program output. Timing is never a test; this only reports.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

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


def _wall(threads: int, calls: int, call) -> float:
    def work() -> None:
        for _ in range(calls):
            call()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - start


def main() -> None:
    args = quick_parser(__doc__).parse_args()
    module = triton_dsl.compile(SOURCE, name="bench_threads.triton")
    x = np.random.default_rng(0).standard_normal(20_000).astype(np.float32)
    cases = [("spin(2e7): 1 call = a scalar loop", lambda: module.spin(20_000_000), 4 if args.quick else 10),
             ("scaled(20k floats): small calls", lambda: module.scaled(x), 300 if args.quick else 3000)]
    print(f"cores available: {len(os.sched_getaffinity(0))}")
    print(f"{'function':40} {'calls/thread':>12} {'1 thread s':>11} {'2 threads s':>12} {'speed-up':>9}")
    for label, call, calls in cases:
        call()  # compile-time work and first-touch outside the timing
        one = min(_wall(1, calls, call) for _ in range(3))
        two = min(_wall(2, calls, call) for _ in range(3))
        print(f"{label:40} {calls:>12} {one:>11.3f} {two:>12.3f} {2 * one / two:>8.2f}x")


if __name__ == "__main__":
    main()
