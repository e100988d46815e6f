"""Benchmark: packed-ternary matmul kernels vs numpy float32 (and numpy int8) on this machine.

Run from the repository root: `python -m benchmarks.bench_ternary_matmul [--repeat N] [--rounds R]`.
In: nothing (random data, fixed seed). Out: a table of median times for GEMV 4096×4096 and
4096→11008 (exact float and int8 `bitlinear`), GEMM M = 8/64/128 on 4096×4096, and a ResNet-style
conv2d; GB/s of weight bytes read (at 2 bits per weight); ratios against numpy measured in the same run,
with one thread and with all threads.

numpy runs in persistent subprocesses, one per thread count, with the BLAS thread count set through
the environment (threadpoolctl is not assumed) and OPENBLAS_CORETYPE removed so the BLAS picks its
kernels for this CPU. Our kernel and numpy are measured alternately, case by case, for `--rounds`
rounds; each figure is the median over rounds of the per-round medians of `--repeat` calls, so load
from other processes on a shared machine hits both sides alike. "Cold" weights: every call uses the
next of enough copies of the weights (ours: the packed private layout; numpy: the float32 / int8
matrix) to total ≥ `--cold-mib` MiB, so the weights are not cache-resident (the default exceeds this
machine's 480 MiB L3). Our kernels are called through ctypes with preallocated outputs (the Python-level
API adds ~10 µs per call).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from functools import partial

import numpy as np

from benchmarks.common import (
    REPO,
    add_round_options,
    alternate_rounds,
    cold_copies,
    median_ms,
    numpy_worker_env,
    numpy_workers,
    print_head,
    print_setup,
)
from benchmarks.common import machine_description as machine_description  # bench_bitlinear_gemv's import

K4, N4, N11 = 4096, 4096, 11008
GEMM_ROWS = (8, 64, 128)
CONV = "conv2d 1x64x56x56 64->64 3x3"


def cases() -> list[tuple[str, int, int, int, str]]:
    """(name, M, K, N, kind): kind is "exact" (float activations, the kernel matmul() picks), "fma" (the
    generic mask-expansion GEMM), "int8" (bitlinear) or "conv"."""
    out = [("GEMV 4096x4096", 1, K4, N4, "exact"), ("GEMV 4096->11008", 1, K4, N11, "exact"),
           ("bitlinear GEMV 4096x4096", 1, K4, N4, "int8"),
           ("bitlinear GEMV 4096->11008", 1, K4, N11, "int8")]
    out += [(f"GEMM M={m} 4096x4096", m, K4, N4, "exact") for m in GEMM_ROWS]
    out += [("GEMM M=64 (mask/FMA kernel)", 64, K4, N4, "fma"),
            ("bitlinear GEMM M=64 4096x4096", 64, K4, N4, "int8"), (CONV, 0, 0, 0, "conv")]
    return out


# ---------------------------------------------------------------- numpy side (a persistent subprocess)

class _NumpyCases:
    """Prepares numpy inputs for one case at a time (the cold copies of the previous one are dropped)."""

    def __init__(self, cold_mib: int):
        self.cold_mib = cold_mib
        self.rng = np.random.default_rng(0)
        self.current: tuple[str, list, list] | None = None

    def prepare(self, name: str) -> tuple[list, list]:
        if self.current is None or self.current[0] != name:
            self.current = None
            self.current = (name, *self._build(name))
        return self.current[1], self.current[2]

    def _build(self, name: str) -> tuple[list, list]:
        from benchmarks.bench_conv2d import RESNET_LAYER, numpy_conv2d
        if name == CONV:
            p = RESNET_LAYER
            x = self.rng.standard_normal((p["B"], p["C"], p["H"], p["W"]), dtype=np.float32)
            wf = self.rng.standard_normal((p["O"], p["C"], p["k"], p["k"]), dtype=np.float32)
            return [partial(numpy_conv2d, x, wf, p["stride"], p["pad"])], []
        _, M, K, N, kind = next(c for c in cases() if c[0] == name)
        ws = cold_copies(self.rng.standard_normal((K, N), dtype=np.float32), self.cold_mib)
        x = self.rng.standard_normal((M, K), dtype=np.float32)
        y = np.empty((M, N), np.float32)
        f32 = [partial(np.matmul, x, w, out=y) for w in ws]
        i8 = []
        if kind == "int8" and M == 1:
            # numpy has no int8 BLAS: its integer matmul is a plain loop (int8 result, wraps; timing only)
            wi = cold_copies(self.rng.integers(-1, 2, (K, N), dtype=np.int8), self.cold_mib)
            xq = self.rng.integers(-127, 128, (M, K), dtype=np.int8)
            i8 = [partial(np.matmul, xq, w) for w in wi]
        return f32, i8


def numpy_worker(repeat: int, cold_mib: int) -> None:
    """Answer one JSON line per request line (a case name): {"f32": ms, "i8": ms | null}."""
    prepared = _NumpyCases(cold_mib)
    for line in sys.stdin:
        f32, i8 = prepared.prepare(line.strip())
        res = {"f32": median_ms(f32, repeat), "i8": median_ms(i8, max(3, repeat // 10)) if i8 else None}
        print(json.dumps(res), flush=True)


class NumpyProcess:
    def __init__(self, threads: int, repeat: int, cold_mib: int):
        env = numpy_worker_env(threads)
        argv = [sys.executable, "-m", "benchmarks.bench_ternary_matmul", "--numpy-worker",
                "--repeat", str(repeat), "--cold-mib", str(cold_mib)]
        self.proc = subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)

    def measure(self, name: str) -> dict:
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


# ---------------------------------------------------------------- our side

def our_calls(name: str, M: int, K: int, N: int, kind: str, cold_mib: int, rng) -> tuple[list, list]:
    """Calls of our kernel for one case, each on the next cold copy of the re-laid-out weights, and the
    arrays those calls point into (keep them alive while calling: the calls hold raw addresses)."""
    from benchmarks.bench_conv2d import RESNET_LAYER, _Packed
    from triton_dsl.runtime import matmul_api as mm
    lib = mm.kernels()
    if kind == "conv":
        p = RESNET_LAYER
        x = rng.standard_normal((p["B"], p["C"], p["H"], p["W"]), dtype=np.float32)
        tw = mm.prepare_conv_weights(_Packed(rng.integers(-1, 2, (p["O"], p["C"], p["k"], p["k"]),
                                                          dtype=np.int8)))
        return [partial(mm.conv2d, x, tw, p["stride"], p["pad"], kernel_size=(p["k"], p["k"]))], []
    tw = mm.prepare_weights(_Packed(rng.integers(-1, 2, (K, N), dtype=np.int8)))
    x = rng.standard_normal((M, K), dtype=np.float32)
    y = np.empty((M, N), np.float32)
    ns = tw.nscale.ctypes.data
    if kind == "exact" and M == 1:  # what matmul() uses for one row: the table-lookup GEMV
        bufs = cold_copies(tw.lut3(), cold_mib)
        calls = [partial(lib.trk_gemv_f32_t2_lut, x.ctypes.data, b.ctypes.data, y.ctypes.data, K, N, 0, ns,
                         1.0, 1.0) for b in bufs]
        return calls, [tw, x, y, bufs]
    if kind == "exact":  # what matmul() uses for several rows: the table-lookup GEMM
        bufs = cold_copies(tw.lut3(), cold_mib)
        calls = [partial(lib.trk_gemm_f32_t2_lut, x.ctypes.data, K, b.ctypes.data, y.ctypes.data, N, M, K, N,
                         0, ns, 1.0, 1.0) for b in bufs]
        return calls, [tw, x, y, bufs]
    if kind == "fma":
        bufs = cold_copies(tw.panels(), cold_mib)
        calls = [partial(lib.trk_matmul_f32_t2, x.ctypes.data, K, 1, b.ctypes.data, y.ctypes.data, N, 1, M, K,
                         N, 0, ns, 1.0, 1.0) for b in bufs]
        return calls, [tw, x, y, bufs]
    xq, g, s = np.empty((M, K), np.int8), np.empty(M, np.float32), np.empty(M, np.int32)
    bufs = cold_copies(tw.vnni(), cold_mib)
    calls = [partial(lib.trk_bitlinear_t2, x.ctypes.data, K, M, K, N, 0, b.ctypes.data, ns, y.ctypes.data, N,
                     xq.ctypes.data, g.ctypes.data, s.ctypes.data) for b in bufs]
    return calls, [tw, x, y, xq, g, s, bufs]


def main() -> None:
    ap = argparse.ArgumentParser(description="ternary matmul kernels vs numpy")
    add_round_options(ap, cold_mib=640)
    ap.add_argument("--numpy-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.numpy_worker:
        numpy_worker(args.repeat, args.cold_mib)
        return
    from triton_dsl.runtime import matmul_api as mm
    thread_counts = sorted({1, mm.num_threads()})
    print_setup(args, "", f"; threads: {thread_counts}")
    with numpy_workers(lambda t: NumpyProcess(t, args.repeat, args.cold_mib), thread_counts) as workers:
        print_head(f"{'case':32s} {'thr':>3s} {'ours ms':>9s} {'GB/s':>6s} {'numpy f32':>10s} {'ratio':>7s} "
                   f"{'numpy i8':>9s} {'ratio':>7s}")
        rng = np.random.default_rng(1)
        for name, M, K, N, kind in cases():
            calls, alive = our_calls(name, M, K, N, kind, args.cold_mib, rng)
            rounds = alternate_rounds(args.rounds, thread_counts, lambda t, calls=calls, name=name: (
                median_ms(calls, args.repeat), workers[t].measure(name)))
            del calls, alive
            for t in thread_counts:
                ms = float(np.median([r[0] for r in rounds[t]]))
                f32 = float(np.median([r[1]["f32"] for r in rounds[t]]))
                i8s = [r[1]["i8"] for r in rounds[t] if r[1]["i8"] is not None]
                gbs = f"{K * N / 4 / (ms * 1e-3) / 1e9:6.1f}" if K else f"{'':6s}"
                i8_cols = f"{np.median(i8s):9.3f} {np.median(i8s) / ms:6.1f}x" if i8s else f"{'':9s} {'':7s}"
                print(f"{name:32s} {t:3d} {ms:9.3f} {gbs} {f32:10.3f} {f32 / ms:6.1f}x {i8_cols}", flush=True)


if __name__ == "__main__":
    main()
