"""Benchmark: packed-ternary matmul kernels vs numpy float32 (and numpy int8) on this machine.

Run from the repository root: `python -m benchmarks.bench_ternary_matmul [--repeat N] [--cold-mib M]`.
In: nothing (random data, fixed seed). Out: a table of median times for GEMV 4096×4096 and
4096→11008 (exact float and int8 `bitlinear`), GEMM M = 8/64/128 on 4096×4096, and a ResNet-style
conv2d; GB/s of weight bytes read; ratios against numpy measured in the same run, with one thread and
with all threads. numpy runs in subprocesses with its BLAS thread count set through the environment
(threadpoolctl is used instead when installed) and with OPENBLAS_CORETYPE removed, so the BLAS picks
its kernels for this CPU. "Cold" weights: every call uses the next of enough copies of the weights
(ours: the packed private layout; numpy: the float32 / int8 matrix) to total ≥ `--cold-mib` MiB, so the
weights are not cache-resident (the default exceeds this machine's 480 MiB L3).
Our kernels are called through ctypes with preallocated outputs (the Python-level API adds ~10 µs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
K4, N4, N11 = 4096, 4096, 11008
GEMM_ROWS = (8, 64, 128)


def median_ms(fns: list, repeat: int) -> float:
    """Median time of calling fns[i % len(fns)] (rotating through cold copies), after one warm-up."""
    fns[0]()
    times = []
    for i in range(repeat):
        fn = fns[(i + 1) % len(fns)]
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1e3)


def copies_for(nbytes: int, cold_mib: int) -> int:
    return max(1, -(-cold_mib * 2**20 // max(nbytes, 1)))


def cold_copies(base: np.ndarray, cold_mib: int) -> list[np.ndarray]:
    return [base] + [base.copy() for _ in range(copies_for(base.nbytes, cold_mib) - 1)]


def cases() -> list[tuple[str, int, int, int, str]]:
    """(name, M, K, N, kind): kind is "exact" (float activations) or "int8" (bitlinear)."""
    out = [("GEMV 4096x4096", 1, K4, N4, "exact"), ("GEMV 4096->11008", 1, K4, N11, "exact"),
           ("bitlinear GEMV 4096x4096", 1, K4, N4, "int8"),
           ("bitlinear GEMV 4096->11008", 1, K4, N11, "int8")]
    out += [(f"GEMM M={m} 4096x4096", m, K4, N4, "exact") for m in GEMM_ROWS]
    out += [("bitlinear GEMM M=64 4096x4096", 64, K4, N4, "int8")]
    return out


# ---------------------------------------------------------------- numpy side (runs in a subprocess)

def numpy_worker(repeat: int, cold_mib: int) -> dict[str, float]:
    from benchmarks.bench_conv2d import numpy_conv_ms
    rng = np.random.default_rng(0)
    res: dict[str, float] = {}
    seen: dict[tuple, float] = {}
    for name, M, K, N, kind in cases():
        key = (M, K, N)
        if key not in seen:
            ws = [rng.standard_normal((K, N), dtype=np.float32)
                  for _ in range(copies_for(K * N * 4, cold_mib))]
            x = rng.standard_normal((M, K), dtype=np.float32)
            y = np.empty((M, N), np.float32)
            seen[key] = median_ms([partial(np.matmul, x, w, out=y) for w in ws], repeat)
            del ws
        res[f"{name}|f32"] = seen[key]
        if kind == "int8" and M == 1:
            # numpy has no int8 BLAS: its integer matmul is a plain loop (int8 result, wraps; timing only)
            ws = [rng.integers(-1, 2, (K, N), dtype=np.int8) for _ in range(copies_for(K * N, cold_mib))]
            xq = rng.integers(-127, 128, (M, K), dtype=np.int8)
            res[f"{name}|i8"] = median_ms([partial(np.matmul, xq, w) for w in ws], max(3, repeat // 10))
            del ws
    res["conv2d|f32"] = numpy_conv_ms(repeat)
    return res


def run_numpy(threads: int, repeat: int, cold_mib: int) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    out = subprocess.run([sys.executable, "-m", "benchmarks.bench_ternary_matmul", "--numpy-worker",
                          "--repeat", str(repeat), "--cold-mib", str(cold_mib)],
                         cwd=REPO, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- our side

def ours(repeat: int, cold_mib: int, threads: int) -> dict[str, float]:
    from benchmarks.bench_conv2d import _Packed, ours_conv_ms
    from triton_dsl.runtime import matmul_api as mm
    lib = mm.kernels()
    rng = np.random.default_rng(1)
    total = mm.num_threads()
    mm.set_num_threads(threads)
    res: dict[str, float] = {}
    try:
        for name, M, K, N, kind in cases():
            trits = rng.integers(-1, 2, (K, N), dtype=np.int8)
            tw = mm.prepare_weights(_Packed(trits))
            x = rng.standard_normal((M, K), dtype=np.float32)
            y = np.empty((M, N), np.float32)
            ns = tw.nscale.ctypes.data
            if kind == "exact" and M == 1:  # what matmul() uses for one row: the table-lookup GEMV
                bufs = cold_copies(tw.lut3(), cold_mib)
                fns = [partial(lib.trk_gemv_f32_t2_lut, x.ctypes.data, b.ctypes.data, y.ctypes.data, K, N, 0,
                               ns, 1.0, 1.0) for b in bufs]
            elif kind == "exact":
                bufs = cold_copies(tw.panels(), cold_mib)
                fns = [partial(lib.trk_matmul_f32_t2, x.ctypes.data, K, 1, b.ctypes.data, y.ctypes.data, N, 1,
                               M, K, N, 0, ns, 1.0, 1.0) for b in bufs]
            else:
                bufs = cold_copies(tw.vnni(), cold_mib)
                xq, g, s = np.empty((M, K), np.int8), np.empty(M, np.float32), np.empty(M, np.int32)
                fns = [partial(lib.trk_bitlinear_t2, x.ctypes.data, K, M, K, N, 0, b.ctypes.data, ns,
                               y.ctypes.data, N, xq.ctypes.data, g.ctypes.data, s.ctypes.data) for b in bufs]
            res[name] = median_ms(fns, repeat)
            del bufs, fns
    finally:
        mm.set_num_threads(total)
    res["conv2d"] = ours_conv_ms(repeat, threads)[0]
    return res


def machine_description() -> list[str]:
    model = "unknown CPU"
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown CPU":
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    wanted = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_vpopcntdq", "avx_vnni", "amx_int8"]
    blas = "unknown"
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{deps.get('name')} {deps.get('version')}"
    except Exception:  # noqa: BLE001 - show_config's format differs across numpy versions
        pass
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    note = f"; OPENBLAS_CORETYPE={coretype} is set here and removed for the numpy runs" if coretype else ""
    present = " ".join(f for f in wanted if f in flags)
    return [f"CPU: {model}, {os.cpu_count()} logical CPUs; flags: {present}",
            f"numpy {np.__version__} with BLAS {blas}{note}"]


def main() -> None:
    ap = argparse.ArgumentParser(description="ternary matmul kernels vs numpy")
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--cold-mib", type=int, default=640)
    ap.add_argument("--numpy-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.numpy_worker:
        print(json.dumps(numpy_worker(args.repeat, args.cold_mib)))
        return
    from triton_dsl.runtime import matmul_api as mm
    all_threads = mm.num_threads()
    thread_counts = sorted({1, all_threads})
    for line in machine_description():
        print(line)
    print(f"median of {args.repeat} calls; cold weights (rotating copies ≥ {args.cold_mib} MiB); "
          f"threads: {thread_counts}")
    np_res = {t: run_numpy(t, args.repeat, args.cold_mib) for t in thread_counts}
    our_res = {t: ours(args.repeat, args.cold_mib, t) for t in thread_counts}
    head = f"{'case':32s} {'thr':>3s} {'ours ms':>9s} {'GB/s':>6s} {'numpy f32':>10s} {'ratio':>7s} " \
           f"{'numpy i8':>9s} {'ratio':>7s}"
    print(head)
    print("-" * len(head))
    for name, _, K, N, _ in cases():
        for t in thread_counts:
            ms = our_res[t][name]
            f32 = np_res[t][f"{name}|f32"]
            i8 = np_res[t].get(f"{name}|i8")
            gbs = K * N / 4 / (ms * 1e-3) / 1e9  # at 2 bits per weight (the interchange size)
            i8_cols = f"{i8:9.3f} {i8 / ms:6.1f}x" if i8 else f"{'':9s} {'':7s}"
            print(f"{name:32s} {t:3d} {ms:9.3f} {gbs:6.1f} {f32:10.3f} {f32 / ms:6.1f}x {i8_cols}")
    for t in thread_counts:
        ms, f32 = our_res[t]["conv2d"], np_res[t]["conv2d|f32"]
        print(f"{'conv2d 1x64x56x56 64->64 3x3':32s} {t:3d} {ms:9.3f} {'':6s} {f32:10.3f} {f32 / ms:6.1f}x")


if __name__ == "__main__":
    main()
