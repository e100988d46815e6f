"""Benchmark: int8-activation ternary GEMV (`trk_bitlinear_t2`, M = 1) vs numpy float32 GEMV.

Run from the repository root: `python -m benchmarks.bench_bitlinear_gemv [--repeat N] [--rounds R]`.
In: nothing (random data, fixed seed). Out: for 4096×4096 and 4096→11008, with one thread and with all
threads, the median time of our kernel (cold weights), the GB/s of packed weight bytes it reads (2 bits
per weight), the numpy float32 GEMV time in the same run (cold float32 weights) and the ratio; and
the read floor: one plain single-thread pass of 64-byte loads over the same cold copies.

Cold weights: every call uses the next of enough copies of the weights (ours: the private int8 layout;
numpy: the float32 matrix) to total ≥ `--cold-mib` MiB. numpy runs in a persistent subprocess per thread
count with the BLAS thread count set through the environment and OPENBLAS_CORETYPE unset, so the BLAS
picks its kernels for this CPU. Ours and numpy alternate for `--rounds` rounds; each figure is the median
over rounds of per-round medians of `--repeat` calls. Ours is called through ctypes with preallocated
scratch and output (the Python API adds ~10 µs per call).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
from functools import partial

import numpy as np

from benchmarks.bench_ternary_matmul import REPO, cold_copies, machine_description, median_ms

SHAPES = [(4096, 4096), (4096, 11008)]  # (K, N): y[N] = x[K] @ W[K, N]


# The memory floor: one pass of 64-byte loads over the same bytes (xor-reduced so none is dropped), with
# the GEMV's software prefetch distance; what "within 1.5x of reading the packed weights once" refers to.
_READ_IR = """
define void @read_floor(ptr %w, i64 %nbytes, ptr %out) {
entry:
  br label %loop
loop:
  %off = phi i64 [0, %entry], [%next, %loop]
  %acc = phi <64 x i8> [zeroinitializer, %entry], [%acc2, %loop]
  %p = getelementptr i8, ptr %w, i64 %off
  %pf = getelementptr i8, ptr %p, i64 PREFETCH
  call void @llvm.prefetch.p0(ptr %pf, i32 0, i32 2, i32 1)
  %v = load <64 x i8>, ptr %p, align 1
  %acc2 = xor <64 x i8> %acc, %v
  %next = add i64 %off, 64
  %more = icmp ult i64 %next, %nbytes
  br i1 %more, label %loop, label %done
done:
  store <64 x i8> %acc2, ptr %out, align 1
  ret void
}
declare void @llvm.prefetch.p0(ptr, i32, i32, i32)
"""


def read_floor_calls(bufs: list[np.ndarray]) -> tuple[list, list]:
    """Calls reading each buffer once (its size a multiple of 64 bytes) on one thread, and what they use."""
    from triton_dsl import jit
    from triton_dsl.codegen.kernels.bitlinear import PREFETCH_BYTES
    module = jit.JitModule(_READ_IR.replace("PREFETCH", str(PREFETCH_BYTES)), opt_level=3)
    fn = module.cfunc("read_floor", None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p)
    out = np.zeros(64, np.uint8)
    return [partial(fn, b.ctypes.data, b.nbytes, out.ctypes.data) for b in bufs], [module, out]


def numpy_worker(repeat: int, cold_mib: int) -> None:
    """Answer one JSON line {"ms": median} per request line "K N" (float32 x @ W, cold copies of W)."""
    rng = np.random.default_rng(0)
    shape, calls = None, []
    for line in sys.stdin:
        if line.split() != shape:  # keep only the current shape's copies
            shape, calls = line.split(), []
            K, N = map(int, shape)
            x, y = rng.standard_normal(K, dtype=np.float32), np.empty(N, np.float32)
            ws = cold_copies(rng.standard_normal((K, N), dtype=np.float32), cold_mib)
            calls = [partial(np.matmul, x, w, out=y) for w in ws]
        print(json.dumps({"ms": median_ms(calls, repeat)}), flush=True)


def start_numpy(threads: int, repeat: int, cold_mib: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    argv = [sys.executable, "-m", "benchmarks.bench_bitlinear_gemv", "--numpy-worker",
            "--repeat", str(repeat), "--cold-mib", str(cold_mib)]
    return subprocess.Popen(argv, cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def numpy_ms(proc: subprocess.Popen, K: int, N: int) -> float:
    proc.stdin.write(f"{K} {N}\n")
    proc.stdin.flush()
    return float(json.loads(proc.stdout.readline())["ms"])


def our_calls(K: int, N: int, cold_mib: int, rng) -> tuple[list, list, list]:
    """Calls of trk_bitlinear_t2 (M = 1), each on the next cold copy of the relaid weights; calls of the
    read floor on the same copies; what the calls point into (keep it alive while calling)."""
    from benchmarks.bench_conv2d import _Packed
    from triton_dsl.runtime import matmul_api as mm
    lib = mm.kernels()
    tw = mm.prepare_weights(_Packed(rng.integers(-1, 2, (K, N), dtype=np.int8)))
    x = rng.standard_normal((1, K), dtype=np.float32)
    y = np.empty((1, N), np.float32)
    xq, g, s = np.empty((1, K + 64), np.int8), np.empty(1, np.float32), np.empty(1, np.int32)
    bufs = cold_copies(tw.vnni(), cold_mib)
    floor, floor_alive = read_floor_calls(bufs)
    calls = [partial(lib.trk_bitlinear_t2, x.ctypes.data, K, 1, K, N, 0, b.ctypes.data, tw.nscale.ctypes.data,
                     y.ctypes.data, N, xq.ctypes.data, g.ctypes.data, s.ctypes.data) for b in bufs]
    return calls, floor, [tw, x, y, xq, g, s, bufs, floor_alive]


def main() -> None:
    ap = argparse.ArgumentParser(description="bitlinear GEMV vs numpy float32 GEMV (cold weights)")
    ap.add_argument("--repeat", type=int, default=50, help="calls per measurement (median)")
    ap.add_argument("--rounds", type=int, default=5, help="alternating ours/numpy rounds (median)")
    ap.add_argument("--cold-mib", type=int, default=256)
    ap.add_argument("--no-numpy", action="store_true", help="time only our kernel")
    ap.add_argument("--numpy-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.numpy_worker:
        numpy_worker(args.repeat, args.cold_mib)
        return
    from triton_dsl.runtime import matmul_api as mm
    total = mm.num_threads()
    counts = sorted({1, total})
    for line in machine_description():
        print(line)
    print(f"median over {args.rounds} alternating rounds of medians of {args.repeat} calls; cold weights "
          f"(rotating copies ≥ {args.cold_mib} MiB); numpy with OPENBLAS_CORETYPE unset")
    workers = {} if args.no_numpy else {t: start_numpy(t, args.repeat, args.cold_mib) for t in counts}
    print(f"{'K x N':12s} {'thr':>3s} {'ours ms':>8s} {'GB/s':>6s} {'numpy ms':>9s} {'ratio':>6s}")
    rng = np.random.default_rng(1)
    try:
        for K, N in SHAPES:
            calls, floor, alive = our_calls(K, N, args.cold_mib, rng)
            ours: dict[int, list[float]] = {t: [] for t in counts}
            theirs: dict[int, list[float]] = {t: [] for t in counts}
            floors: list[float] = []
            for _ in range(args.rounds):
                floors.append(median_ms(floor, args.repeat))
                for t in counts:
                    mm.set_num_threads(t)
                    ours[t].append(median_ms(calls, args.repeat))
                    if workers:
                        theirs[t].append(numpy_ms(workers[t], K, N))
            del calls, floor, alive
            read = float(np.median(floors))
            print(f"{K}x{N:<7d} {'read':>3s} {read:8.3f} {K * N / 4 / (read * 1e-3) / 1e9:6.1f}   "
                  f"(one plain pass over the packed bytes, 1 thread)", flush=True)
            for t in counts:
                ms = float(np.median(ours[t]))
                gbs = K * N / 4 / (ms * 1e-3) / 1e9
                np_cols = f"{np.median(theirs[t]):9.3f} {np.median(theirs[t]) / ms:5.1f}x" if workers else ""
                print(f"{K}x{N:<7d} {t:3d} {ms:8.3f} {gbs:6.1f} {np_cols}", flush=True)
    finally:
        mm.set_num_threads(total)
        for w in workers.values():
            w.stdin.close()
            w.wait()


if __name__ == "__main__":
    main()
