"""The quantization stdlib (DSL source, compiled) against numpy on the same data in the same run.

Run: `python benchmarks/bench_stdlib.py [--quick] [--threads N]`. Prints, per operation, the median time
of the compiled stdlib call and of the numpy expression, numpy / DSL (higher is better for the DSL), and
the DSL's effective bandwidth (bytes read + written per second). The headline is `threshold_quantize`
of a 4096 × 4096 float32 matrix, which should run at memory speed: one pass that reads 64 MiB of floats
and writes 4 MiB of packed trits, against numpy's `where`-based expression (int8 trits, unpacked).
Timing is never a test; this only reports.
"""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import triton_dsl  # noqa: E402
from benchmarks.common import median_seconds, quick_parser  # noqa: E402

SOURCE = """
fn quantize(x: Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]> {
    return threshold_quantize(x, 0.5, 1.0)
}
fn twn(x: Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]> {
    return ternary_quantize(x, method="twn")
}
fn value(q: TernaryTensor<trit, [?, ?]>) -> Tensor<float32, [?, ?]> {
    return dequantize(q)
}
fn percentile(x: Tensor<float32, [?, ?]>) -> float32 {
    return percentile_value(x, 0.7)
}
"""


def numpy_threshold(x: np.ndarray, t: float = 0.5) -> np.ndarray:
    return np.where(x > t, 1, np.where(x < -t, -1, 0)).astype(np.int8)


def numpy_twn(x: np.ndarray) -> tuple[np.ndarray, float]:
    a = np.abs(x)
    delta = 0.7 * a.mean()
    kept = a > delta
    return np.where(x > delta, 1, np.where(x < -delta, -1, 0)).astype(np.int8), float(a[kept].mean())


def main() -> None:
    parser = quick_parser(__doc__, "a 1024 x 1024 matrix, few repeats")
    parser.add_argument("--threads", type=int, default=None,
                        help="use the native thread pool with this many threads (default: one thread)")
    args = parser.parse_args()
    n = 1024 if args.quick else 4096
    repeat = 3 if args.quick else 9
    if args.threads:
        os.environ["TRITON_DSL_NUM_THREADS"] = str(args.threads)
        from triton_dsl.runtime import library
        library.use_thread_pool()
    module = triton_dsl.compile(SOURCE, name="bench_stdlib.triton")
    x = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    q = module.quantize(x)
    assert np.array_equal(q.to_numpy(), numpy_threshold(x)), "threshold_quantize disagrees with numpy"
    packed = q.packed.nbytes
    rows = [
        ("threshold_quantize", lambda: module.quantize(x), lambda: numpy_threshold(x), x.nbytes + packed),
        ("ternary_quantize twn", lambda: module.twn(x), lambda: numpy_twn(x), 3 * x.nbytes + packed),
        ("dequantize", lambda: module.value(q), lambda: q.to_numpy().astype(np.float32), x.nbytes + packed),
        ("percentile_value 0.7", lambda: module.percentile(x), lambda: np.quantile(x, 0.7), 2 * x.nbytes),
    ]
    threads = args.threads or 1
    print(f"quantization stdlib, {n} x {n} float32 ({x.nbytes / 2**20:.0f} MiB in, {packed / 2**20:.0f} MiB "
          f"packed: {x.nbytes / packed:.0f}x smaller), {threads} thread(s)")
    print(f"{'operation':<24}{'DSL ms':>10}{'numpy ms':>11}{'numpy/DSL':>11}{'DSL GB/s':>10}")
    for name, dsl, ref, traffic in rows:
        t_dsl, t_np = median_seconds(dsl, repeat), median_seconds(ref, repeat)
        print(f"{name:<24}{t_dsl * 1e3:>10.2f}{t_np * 1e3:>11.2f}{t_np / t_dsl:>11.1f}"
              f"{traffic / t_dsl / 1e9:>10.1f}")


if __name__ == "__main__":
    main()
