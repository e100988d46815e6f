"""Fused elementwise chains (one native loop) against numpy evaluating the same chain op by op.

Run: `python benchmarks/bench_elementwise.py [--quick]`. Prints, per chain and size, the median time of
the compiled DSL function and of numpy in the same process, and numpy / DSL (higher is better for the
DSL). Timing is never a test; this only reports.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import triton_dsl  # noqa: E402
from benchmarks.common import DSL_NUMPY_HEAD, dsl_numpy_cells, quick_parser  # noqa: E402

SOURCE = """
fn soft_threshold(x: Tensor<float32, [n]>, t: float32) -> Tensor<float32, [n]> {
    return tanh(x / t)
}
fn squared_error(a: Tensor<float32, [n]>, b: Tensor<float32, [n]>) -> Tensor<float32, [n]> {
    return (a - b) ** 2
}
fn ternarize(x: Tensor<float32, [n]>, t: float32, s: float32) -> Tensor<float32, [n]> {
    return where(x > t, s, where(x < -t, -s, 0.0))
}
fn affine_sigmoid(x: Tensor<float32, [r, c]>, w: Tensor<float32, [c]>, b: Tensor<float32, [c]>)
    -> Tensor<float32, [r, c]> {
    return sigmoid(x * w + b)
}
"""


def numpy_chains():
    return {
        "soft_threshold": lambda x, t: np.tanh(x / t),
        "squared_error": lambda a, b: (a - b) ** 2,
        "ternarize": lambda x, t, s: np.where(x > t, s, np.where(x < -t, -s, np.float32(0))),
        "affine_sigmoid": lambda x, w, b: 1 / (1 + np.exp(-(x * w + b))),
    }


def main() -> None:
    args = quick_parser(__doc__).parse_args()
    module = triton_dsl.compile(SOURCE, name="bench_elementwise.triton")
    rng = np.random.default_rng(0)
    sizes = [10_000, 1_000_000] if args.quick else [10_000, 1_000_000, 8_000_000]
    repeat = 5 if args.quick else 21
    refs = numpy_chains()
    threads = os.environ.get("TRITON_DSL_NUM_THREADS", "default")
    print(f"host: {os.cpu_count()} logical CPUs; threads: {threads}")
    print(f"{'chain':<16}{'elements':>11}{DSL_NUMPY_HEAD}")
    for n in sizes:
        x = rng.standard_normal(n).astype(np.float32)
        y = rng.standard_normal(n).astype(np.float32)
        cols = 1000
        m2 = x.reshape(-1, cols)
        w = rng.standard_normal(cols).astype(np.float32)
        b = rng.standard_normal(cols).astype(np.float32)
        cases = {
            "soft_threshold": (x, np.float32(0.7)),
            "squared_error": (x, y),
            "ternarize": (x, np.float32(0.5), np.float32(1.3)),
            "affine_sigmoid": (m2, w, b),
        }
        for name, inputs in cases.items():
            dsl = getattr(module, name)
            np.testing.assert_allclose(dsl(*inputs), refs[name](*inputs), rtol=1e-5, atol=1e-6)
            cells = dsl_numpy_cells(lambda: dsl(*inputs), lambda: refs[name](*inputs), repeat)  # noqa: B023
            print(f"{name:<16}{n:>11,}{cells}")


if __name__ == "__main__":
    main()
