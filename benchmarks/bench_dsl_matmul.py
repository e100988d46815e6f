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

from benchmarks.bench_ternary_matmul import NumpyProcess, our_calls
from benchmarks.common import (
    add_round_options,
    alternate_rounds,
    copies_for,
    median_ms,
    numpy_workers,
    print_head,
    print_setup,
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
    add_round_options(ap, cold_mib=256)
    args = ap.parse_args()

    import triton_dsl
    from triton_dsl.runtime import matmul_api as mm
    thread_counts = sorted({1, mm.num_threads()})
    print_setup(args, " on each side", f"; threads: {thread_counts}")
    mod = triton_dsl.compile(SOURCE, name="bench_dsl_matmul.triton", cache=False)
    rng = np.random.default_rng(1)
    weights = dsl_weights(rng, args.cold_mib)
    with numpy_workers(lambda t: NumpyProcess(t, args.repeat, args.cold_mib), thread_counts) as workers:
        print(f"{len(weights)} weight tensors of {K}x{N}; the first call with each builds its layout "
              "(not timed)")
        print_head(f"{'case':28s} {'thr':>3s} {'DSL ms':>8s} {'kernel ms':>9s} {'DSL/kern':>8s} "
                   f"{'numpy ms':>9s} {'numpy/DSL':>9s}")
        for M, numpy_case in ROWS.items():
            x = rng.standard_normal((M, K), dtype=np.float32)
            for fname, kind in FUNCTIONS:
                fn = getattr(mod, fname)
                dsl = [partial(fn, x, w) for w in weights]
                for call in dsl:  # build every cached layout before timing
                    call()
                kernel, alive = our_calls(numpy_case, M, K, N, kind, args.cold_mib, rng)
                rounds = alternate_rounds(args.rounds, thread_counts,
                                          lambda t, dsl=dsl, kernel=kernel, case=numpy_case: (
                                              median_ms(dsl, args.repeat), median_ms(kernel, args.repeat),
                                              workers[t].measure(case)["f32"]))
                del kernel, alive
                for t in thread_counts:
                    d, k, f = (float(np.median([r[i] for r in rounds[t]])) for i in range(3))
                    case = f"{fname} M={M}"
                    print(f"{case:28s} {t:3d} {d:8.3f} {k:9.3f} {d / k:7.2f}x {f:9.3f} {f / d:8.1f}x",
                          flush=True)


if __name__ == "__main__":
    main()
