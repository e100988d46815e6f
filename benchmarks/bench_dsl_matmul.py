"""Benchmark: ternary matmul written in the DSL and called from Python, vs numpy float32 and vs our kernels
called directly.

Run from the repository root: `python -m benchmarks.bench_dsl_matmul [--repeat N] [--rounds R]`.
In: nothing (random data, fixed seed). Out: a table of median times on 4096×4096 weights, GEMV (M = 1)
and M = 64, for three DSL functions compiled with `triton_dsl.compile`:
`x @ w` (w a TernaryTensor), the stdlib's `bitlinear(x, w)` and `quantized_linear(x, w)`; beside them
numpy float32 `x @ W` and the best kernel called through ctypes with preallocated buffers (the
table-lookup kernels on AVX-512 hosts; `trk_bitlinear_t2` for bitlinear), with one thread and all threads.

Cold weights on every side: each call uses the next of enough weight copies (ours: distinct
TernaryTensors, each with its own cached re-laid-out copy; numpy: float32 matrices) to total ≥
`--cold-mib` MiB. numpy runs in persistent subprocesses with the BLAS thread count set through
OPENBLAS_NUM_THREADS (threadpoolctl is not assumed) and OPENBLAS_CORETYPE removed, so the BLAS picks its
kernels for this CPU (`bench_ternary_matmul.NumpyProcess`). Our thread count is the native pool's
(`TRITON_DSL_NUM_THREADS`, else every CPU; lowered to 1 at run time for the one-thread rows). The two
sides alternate case by case for `--rounds` rounds; each figure is the median over rounds of per-round
medians of `--repeat` calls, so load from other processes hits both sides alike.
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np

from benchmarks.bench_ternary_matmul import (
    NumpyProcess,
    copies_for,
    machine_description,
    median_ms,
    our_calls,
)

K, N = 4096, 4096
SOURCE = """
fn matmul(x: Tensor<float32, [m, k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [m, n]> {
    return x @ w
}
fn bitlinear_layer(x: Tensor<float32, [m, k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [m, n]> {
    return bitlinear(x, w)
}
fn linear(x: Tensor<float32, [m, k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [m, n]> {
    return quantized_linear(x, w)
}
"""
# (DSL function, numpy case name in bench_ternary_matmul, its "kind" for the direct kernel call)
FUNCTIONS = [("matmul", "exact"), ("bitlinear_layer", "int8"), ("linear", "exact")]
ROWS = {1: "GEMV 4096x4096", 64: "GEMM M=64 4096x4096"}


def lut3_bytes(k: int, n: int) -> int:
    """Bytes the table-lookup kernels read per weight matrix (docs/kernels.md, lut3 layout)."""
    def ceil(a: int, b: int) -> int:
        return -(-a // b)

    return ceil(n, 128) * ceil(ceil(k, 3), 6) * 512


def dsl_weights(rng, cold_mib: int) -> list:
    """Distinct TernaryTensors (same trits) totalling ≥ cold_mib MiB of re-laid-out weights."""
    from triton_dsl import TernaryTensor
    trits = rng.integers(-1, 2, (K, N), dtype=np.int8)
    return [TernaryTensor.from_numpy(trits, 0.5) for _ in range(copies_for(lut3_bytes(K, N), cold_mib))]


def main() -> None:
    ap = argparse.ArgumentParser(description="DSL ternary matmul vs numpy float32 and the direct kernels")
    ap.add_argument("--repeat", type=int, default=20, help="calls per measurement (median)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating ours/numpy rounds (median)")
    ap.add_argument("--cold-mib", type=int, default=256)
    args = ap.parse_args()

    import triton_dsl
    from triton_dsl.runtime import matmul_api as mm
    total = mm.num_threads()
    thread_counts = sorted({1, total})
    for line in machine_description():
        print(line)
    print(f"median over {args.rounds} alternating rounds of medians of {args.repeat} calls; cold weights "
          f"(rotating copies ≥ {args.cold_mib} MiB on each side); threads: {thread_counts}")
    mod = triton_dsl.compile(SOURCE, name="bench_dsl_matmul.triton", cache=False)
    rng = np.random.default_rng(1)
    weights = dsl_weights(rng, args.cold_mib)
    workers = {t: NumpyProcess(t, args.repeat, args.cold_mib) for t in thread_counts}
    head = (f"{'case':28s} {'thr':>3s} {'DSL ms':>8s} {'kernel ms':>9s} {'DSL/kern':>8s} {'numpy ms':>9s} "
            f"{'numpy/DSL':>9s}")
    print(f"{len(weights)} weight tensors of {K}x{N}; the first call with each builds its layout (not timed)")
    print(head)
    print("-" * len(head))
    try:
        for M, numpy_case in ROWS.items():
            x = rng.standard_normal((M, K), dtype=np.float32)
            for fname, kind in FUNCTIONS:
                fn = getattr(mod, fname)
                dsl = [partial(fn, x, w) for w in weights]
                for call in dsl:  # build every cached layout before timing
                    call()
                kernel, alive = our_calls(numpy_case, M, K, N, kind, args.cold_mib, rng)
                ours: dict[int, list] = {t: [] for t in thread_counts}
                for _ in range(args.rounds):
                    for t in thread_counts:
                        mm.set_num_threads(t)
                        ours[t].append((median_ms(dsl, args.repeat), median_ms(kernel, args.repeat),
                                        workers[t].measure(numpy_case)["f32"]))
                del kernel, alive
                for t in thread_counts:
                    d, k, f = (float(np.median([r[i] for r in ours[t]])) for i in range(3))
                    case = f"{fname} M={M}"
                    print(f"{case:28s} {t:3d} {d:8.3f} {k:9.3f} {d / k:7.2f}x {f:9.3f} {f / d:8.1f}x",
                          flush=True)
    finally:
        mm.set_num_threads(total)
        for w in workers.values():
            w.close()


if __name__ == "__main__":
    main()
