"""Benchmark: our ternary matmul kernels vs numpy float32 and ggml's TQ2_0 / TQ1_0 (llama.cpp's CPU kernels).

Run from the repository root: `python -m benchmarks.bench_vs_ggml [--rounds R] [--repeat N] [--cases ...]`,
at the level the process compiles for (`TRITON_DSL_CPU=x86-64-v3 python -m benchmarks.bench_vs_ggml` for
the AVX2 kernels on any x86-64-v3 machine).
In: nothing (random data, fixed seeds); optionally the ggml harness (`../shared/bench/ggml_bench.c`,
built against a ggml build; its header says how): `$TRITON_DSL_GGML_BENCH` is the binary for the native
level, `$TRITON_DSL_GGML_BENCH_AVX2` (if set) the one built with GGML_NATIVE=OFF and AVX2 flags, used when
our process target has no AVX-512; without a binary the ggml columns are left empty.
Out: per case (GEMV 4096², GEMV 4096→11008, GEMM M = 8 and 64 on 4096²) and thread count (1 and 2), the
median µs of: the memory floor (one plain pass of 64-byte loads over K·N/4 bytes — 2 bits per weight — on
the same number of threads), numpy float32 `x @ W`, ours `x @ W` (the exact kernel `matmul` picks),
ours `bitlinear` (int8 activations), ggml TQ2_0 and TQ1_0 (activations quantized to Q8_K inside, as our
bitlinear quantizes inside); then bitlinear / floor, ggml TQ2_0 / bitlinear and numpy / x@W.

Every figure uses cold weights (each call reads the next of enough copies to total ≥ `--cold-mib` MiB).
The columns are measured interleaved, case by case and round by round, so load from other processes
hits them alike; each figure is the median over rounds of per-round medians (ggml: of its own median
over 3 passes over its copies). numpy runs in a persistent subprocess per thread count (BLAS threads set
through the environment, OPENBLAS_CORETYPE removed); ggml is a subprocess per measurement.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import subprocess
import sys
from functools import partial

import numpy as np

from benchmarks.common import REPO, cold_copies, copies_for, machine_description, median_ms, numpy_worker_env

CASES = {"gemv": (1, 4096, 4096), "gemv11008": (1, 4096, 11008), "gemm8": (8, 4096, 4096),
         "gemm64": (64, 4096, 4096)}
COLUMNS = ("floor", "numpy", "x@w", "bitlinear", "tq2_0", "tq1_0")

# The memory floor on the pool's threads: chunks of CHUNK bytes read with 64-byte loads (xor-reduced so
# none is dropped) and the GEMV kernels' software prefetch distance.
_FLOOR_IR = """
declare void @trk_parallel_for(ptr, ptr, i64, i64)
declare void @llvm.prefetch.p0(ptr, i32, i32, i32)
define internal void @floor_body(ptr %ctx, i64 %begin, i64 %end) {
entry:
  %w = load ptr, ptr %ctx
  %outp = getelementptr ptr, ptr %ctx, i64 1
  %out = load ptr, ptr %outp
  %lo = mul i64 %begin, CHUNK
  %hi = mul i64 %end, CHUNK
  br label %loop
loop:
  %off = phi i64 [%lo, %entry], [%next, %loop]
  %acc = phi <64 x i8> [zeroinitializer, %entry], [%acc2, %loop]
  %p = getelementptr i8, ptr %w, i64 %off
  %pf = getelementptr i8, ptr %p, i64 PREFETCH
  call void @llvm.prefetch.p0(ptr %pf, i32 0, i32 2, i32 1)
  %v = load <64 x i8>, ptr %p, align 1
  %acc2 = xor <64 x i8> %acc, %v
  %next = add i64 %off, 64
  %more = icmp ult i64 %next, %hi
  br i1 %more, label %loop, label %done
done:
  %slot = getelementptr <64 x i8>, ptr %out, i64 %begin
  store <64 x i8> %acc2, ptr %slot, align 1
  ret void
}
define void @read_floor(ptr %w, i64 %chunks, ptr %out) {
entry:
  %ctx = alloca [2 x ptr]
  store ptr %w, ptr %ctx
  %outp = getelementptr ptr, ptr %ctx, i64 1
  store ptr %out, ptr %outp
  call void @trk_parallel_for(ptr @floor_body, ptr %ctx, i64 %chunks, i64 1)
  ret void
}
"""
CHUNK = 1 << 16


def floor_calls(bufs: list[np.ndarray], nbytes: int) -> tuple[list, list]:
    """Calls reading the first `nbytes` (rounded down to CHUNK) of each buffer once on the pool's threads."""
    from triton_dsl import jit
    from triton_dsl.codegen.kernels.bitlinear import PREFETCH_BYTES
    module = jit.JitModule(_FLOOR_IR.replace("PREFETCH", str(PREFETCH_BYTES)).replace("CHUNK", str(CHUNK)),
                           opt_level=3)
    fn = module.cfunc("read_floor", None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p)
    chunks = max(1, nbytes // CHUNK)
    out = np.zeros((chunks, 64), np.uint8)
    return [partial(fn, b.ctypes.data, chunks, out.ctypes.data) for b in bufs], [module, out]


# ---------------------------------------------------------------- numpy (persistent subprocess)

def numpy_worker(repeat: int, cold_mib: int) -> None:
    """Answer {"ms": median} per request line "M K N" (float32 x @ W, cold copies of W)."""
    rng = np.random.default_rng(0)
    key, calls = None, []
    for line in sys.stdin:
        if line.split() != key:
            key, calls = line.split(), []
            M, K, N = map(int, key)
            x, y = rng.standard_normal((M, K), dtype=np.float32), np.empty((M, N), np.float32)
            ws = cold_copies(rng.standard_normal((K, N), dtype=np.float32), cold_mib)
            calls = [partial(np.matmul, x, w, out=y) for w in ws]
        print(json.dumps({"ms": median_ms(calls, repeat)}), flush=True)


class NumpyProcess:
    def __init__(self, threads: int, repeat: int, cold_mib: int):
        argv = [sys.executable, "-m", "benchmarks.bench_vs_ggml", "--numpy-worker", "--repeat", str(repeat),
                "--cold-mib", str(cold_mib)]
        self.proc = subprocess.Popen(argv, cwd=REPO, env=numpy_worker_env(threads), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def us(self, M: int, K: int, N: int) -> float:
        self.proc.stdin.write(f"{M} {K} {N}\n")
        self.proc.stdin.flush()
        return 1e3 * float(json.loads(self.proc.stdout.readline())["ms"])

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


# ---------------------------------------------------------------- ggml (the shared harness)

def ggml_binary() -> str | None:
    """The harness binary for our process's level (see the module docstring), or None."""
    from triton_dsl import jit
    native = os.environ.get("TRITON_DSL_GGML_BENCH")
    avx2 = os.environ.get("TRITON_DSL_GGML_BENCH_AVX2")
    path = avx2 if (avx2 and not jit.process_target().has("avx512f")) else native
    return path if path and os.access(path, os.X_OK) else None


def ggml_us(binary: str, kind: str, M: int, K: int, N: int, threads: int, cold_mib: int) -> float | None:
    bytes_per_row = {"tq2_0": 66, "tq1_0": 54}[kind] * K // 256  # block bytes per 256 weights
    copies = copies_for(bytes_per_row * N, cold_mib)
    out = subprocess.run([binary, kind, str(K), str(N), str(M), str(threads), str(copies), "3"],
                         capture_output=True, text=True, check=False)
    match = re.search(r": ([0-9.]+) us", out.stdout)
    if not match:
        print(f"ggml {kind} M={M} K={K} N={N} failed (exit {out.returncode}): {out.stderr.strip()[-300:]}",
              file=sys.stderr)
    return float(match.group(1)) if match else None


# ---------------------------------------------------------------- ours

def _old_matmul_calls(mm, lib, tw, x, y, cold_mib: int) -> tuple[str, list, list]:
    M, K, N = x.shape[0], tw.K, tw.N
    xp, yp, ns = x.ctypes.data, y.ctypes.data, tw.nscale.ctypes.data
    if lib.host.variant("gemm") == "avx512-lut" and N >= 128:
        bufs = cold_copies(tw.lut3(), cold_mib)
        if M == 1:
            fn = lib.trk_gemv_f32_t2_lut
            return "lut3", bufs, [partial(fn, xp, b.ctypes.data, yp, K, N, 0, ns, 1.0, 1.0) for b in bufs]
        fn = lib.trk_gemm_f32_t2_lut
        return "lut3", bufs, [partial(fn, xp, K, b.ctypes.data, yp, N, M, K, N, 0, ns, 1.0, 1.0)
                              for b in bufs]
    bufs = cold_copies(tw.panels(), cold_mib)
    fn = lib.trk_matmul_f32_t2
    return "panels", bufs, [partial(fn, xp, K, 1, b.ctypes.data, yp, N, 1, M, K, N, 0, ns, 1.0, 1.0)
                            for b in bufs]


def our_calls(M: int, K: int, N: int, cold_mib: int) -> tuple[dict, list]:
    """{"x@w": calls, "bitlinear": calls, "floor": calls} (each on the next cold copy of its layout), and
    what they point into."""
    from benchmarks.bench_conv2d import _Packed
    from triton_dsl.runtime import matmul_api as mm
    rng = np.random.default_rng(1)
    lib = mm.kernels()
    tw = mm.prepare_weights(_Packed(rng.integers(-1, 2, (K, N), dtype=np.int8)))
    x = rng.standard_normal((M, K), dtype=np.float32)
    y = np.empty((M, N), np.float32)
    if hasattr(mm, "matmul_call"):
        layout = mm.matmul_layout(tw, M)
        exact_bufs = cold_copies(getattr(tw, layout)(), cold_mib)
        exact = [mm.matmul_call(x, tw, y, b) for b in exact_bufs]
    else:  # a checkout from before matmul_call (to measure "before" figures): its own kernel choice
        layout, exact_bufs, exact = _old_matmul_calls(mm, lib, tw, x, y, cold_mib)
    Kp = -(-K // 16) * 16
    xq, g, s = np.empty((M, Kp), np.int8), np.empty(M, np.float32), np.empty(M, np.int32)
    bufs = cold_copies(tw.vnni(), cold_mib)
    scratch = (xq.ctypes.data, g.ctypes.data, s.ctypes.data)
    bitlinear = [partial(lib.trk_bitlinear_t2, x.ctypes.data, K, M, K, N, 0, b.ctypes.data,
                         tw.nscale.ctypes.data, y.ctypes.data, N, *scratch) for b in bufs]
    floor, floor_alive = floor_calls(bufs, K * N // 4)
    return ({"x@w": exact, "bitlinear": bitlinear, "floor": floor},
            [tw, x, y, exact_bufs, xq, g, s, bufs, floor_alive, layout])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20, help="our / numpy calls per measurement (median)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median)")
    ap.add_argument("--cold-mib", type=int, default=256)
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    ap.add_argument("--threads", nargs="*", type=int, default=[1, 2])
    ap.add_argument("--no-numpy", action="store_true")
    ap.add_argument("--ggml-types", nargs="*", default=["tq2_0", "tq1_0"], choices=["tq2_0", "tq1_0"])
    ap.add_argument("--numpy-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.numpy_worker:
        numpy_worker(args.repeat, args.cold_mib)
        return
    from triton_dsl import jit
    from triton_dsl.runtime import matmul_api as mm
    target = jit.process_target()
    binary = ggml_binary()
    for line in machine_description():
        print(line)
    print(f"our target: {target.name} ({target.cpu}); kernels: {target.variants()}")
    print(f"ggml harness: {binary or 'not found (set TRITON_DSL_GGML_BENCH)'}; median over {args.rounds} "
          f"interleaved rounds; cold weights (rotating copies ≥ {args.cold_mib} MiB); µs")
    total = mm.num_threads()
    counts = [t for t in args.threads if t <= total]
    workers = {} if args.no_numpy else {t: NumpyProcess(t, args.repeat, args.cold_mib) for t in counts}
    head = (f"{'case':18s} {'thr':>3s} {'floor':>8s} {'numpy':>8s} {'x@w':>8s} {'bitlin':>8s} "
            f"{'ggml TQ2':>8s} {'ggml TQ1':>8s} {'bl/floor':>8s} {'tq2/bl':>7s} {'np/x@w':>7s}  x@w layout")
    print(head)
    print("-" * len(head))
    try:
        for name in args.cases:
            M, K, N = CASES[name]
            calls, alive = our_calls(M, K, N, args.cold_mib)
            res: dict[int, dict[str, list[float]]] = {t: {c: [] for c in COLUMNS} for t in counts}
            for _ in range(args.rounds):
                for t in counts:
                    mm.set_num_threads(t)
                    r = res[t]
                    r["floor"].append(1e3 * median_ms(calls["floor"], args.repeat))
                    r["x@w"].append(1e3 * median_ms(calls["x@w"], args.repeat))
                    r["bitlinear"].append(1e3 * median_ms(calls["bitlinear"], args.repeat))
                    r["numpy"].append(workers[t].us(M, K, N) if workers else np.nan)
                    for kind in ("tq2_0", "tq1_0"):
                        v = ggml_us(binary, kind, M, K, N, t, args.cold_mib) if (
                            binary and kind in args.ggml_types) else None
                        r[kind].append(np.nan if v is None else v)
            label = f"{'GEMV' if M == 1 else f'GEMM M={M}'} {K}->{N}"
            for t in counts:
                med = {c: float(np.median(v)) if v and not np.all(np.isnan(v)) else np.nan
                       for c, v in res[t].items()}

                def cell(v: float, width: int = 8, fmt: str = ".0f") -> str:
                    return f"{'':>{width}s}" if np.isnan(v) else f"{v:{width}{fmt}}"
                print(f"{label:18s} {t:3d} {cell(med['floor'])} {cell(med['numpy'])} {cell(med['x@w'])} "
                      f"{cell(med['bitlinear'])} {cell(med['tq2_0'])} {cell(med['tq1_0'])} "
                      f"{cell(med['bitlinear'] / med['floor'], 8, '.2f')} "
                      f"{cell(med['tq2_0'] / med['bitlinear'], 7, '.2f')} "
                      f"{cell(med['numpy'] / med['x@w'], 7, '.2f')}  {alive[-1]}", flush=True)
            del calls, alive
    finally:
        mm.set_num_threads(total)
        for w in workers.values():
            w.close()


if __name__ == "__main__":
    main()
