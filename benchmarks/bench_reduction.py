"""Reductions compiled from Triton DSL (runtime library, called from generated code) against numpy.

Run: `python benchmarks/bench_reduction.py [--quick]`. Prints the median time per call of each DSL
function and of the same numpy expression in the same process, and numpy / DSL (higher is better for the
DSL). Results are checked against numpy first. Timing is never a test; this only reports.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import triton_dsl  # noqa: E402
from benchmarks.common import DSL_NUMPY_HEAD, dsl_numpy_cells, quick_parser  # noqa: E402

SOURCE = """
fn total(x: Tensor<float32, [r, c]>) -> float32 { return sum(x) }
fn average(x: Tensor<float32, [r, c]>) -> float32 { return mean(x) }
fn largest(x: Tensor<float32, [r, c]>) -> float32 { return max(x) }
fn row_sums(x: Tensor<float32, [r, c]>) -> Tensor<float32, [r]> { return sum(x, dim=1) }
fn col_means(x: Tensor<float32, [r, c]>) -> Tensor<float32, [c]> { return mean(x, dim=0) }
fn mse(a: Tensor<float32, [r, c]>, b: Tensor<float32, [r, c]>) -> float32 { return mean((a - b) ** 2) }
fn zero_fraction(x: Tensor<float32, [r, c]>, t: float32) -> float32 {
    return sum(abs(x) <= t) / numel(x)
}
"""

CASES = {
    "total": (lambda x, y: (x,), lambda x, y: x.sum(dtype=np.float32), 1e-4),
    "average": (lambda x, y: (x,), lambda x, y: x.mean(dtype=np.float32), 1e-4),
    "largest": (lambda x, y: (x,), lambda x, y: x.max(), 0),
    "row_sums": (lambda x, y: (x,), lambda x, y: x.sum(axis=1), 1e-4),
    "col_means": (lambda x, y: (x,), lambda x, y: x.mean(axis=0), 1e-4),
    "mse": (lambda x, y: (x, y), lambda x, y: ((x - y) ** 2).mean(), 1e-4),
    "zero_fraction": (lambda x, y: (x, np.float32(0.5)),
                      lambda x, y: (np.abs(x) <= 0.5).sum() / x.size, 1e-6),
}


def main() -> None:
    args = quick_parser(__doc__).parse_args()
    module = triton_dsl.compile(SOURCE, name="bench_reduction.triton")
    rng = np.random.default_rng(0)
    shapes = [(100, 100), (1000, 1000)] if args.quick else [(100, 100), (1000, 1000), (4000, 2000)]
    repeat = 5 if args.quick else 21
    print(f"{'function':<15}{'shape':>13}{DSL_NUMPY_HEAD}")
    for shape in shapes:
        x = rng.standard_normal(shape).astype(np.float32)
        y = rng.standard_normal(shape).astype(np.float32)
        for name, (inputs, reference, rtol) in CASES.items():
            dsl = getattr(module, name)
            ins = inputs(x, y)
            # float32 sums in a different order than numpy's pairwise summation: absolute slack
            np.testing.assert_allclose(dsl(*ins), reference(x, y), rtol=max(rtol, 1e-6), atol=1e-4)
            cells = dsl_numpy_cells(lambda: dsl(*ins), lambda: reference(x, y), repeat)  # noqa: B023
            label = "x".join(str(d) for d in shape)
            print(f"{name:<15}{label:>13}{cells}")


if __name__ == "__main__":
    main()
