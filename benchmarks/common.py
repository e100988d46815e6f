"""Shared pieces of the benchmarks: timing, cold weight copies, the machine description, run set-up.

In: callables to time, arrays to copy, argparse results. Out:
- `median_seconds(fn, repeat)` / `median_ms(fns, repeat)`: median wall time after one warm-up call
  (`median_ms` rotates through `fns`, one cold copy of the data each);
- `copies_for(nbytes, cold_mib)`, `cold_copies(array, cold_mib)`: enough copies that the data is not
  cache-resident;
- `dsl_numpy_cells(dsl, ref, repeat)` and `DSL_NUMPY_HEAD`: the "dsl ms, numpy ms, numpy/dsl" columns;
- `quick_parser(doc)`: the command line of the benchmarks with a `--quick` mode;
- for the benchmarks that alternate ours and numpy (in subprocesses) at 1 and all threads:
  `numpy_worker_env(threads)`, `machine_description()`, `add_round_options`, `print_setup`,
  `print_head`, `alternate_rounds`, `numpy_workers`.
Timing is never a test; this only measures and reports.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Median seconds of `repeat` calls of fn, after one warm-up call (first touch of output pages,
    thread start)."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_ms(fns: Sequence[Callable[[], object]], repeat: int) -> float:
    """Median milliseconds of calling fns[i % len(fns)] (rotating through cold copies), after one
    warm-up."""
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


DSL_NUMPY_HEAD = f"{'dsl ms':>10}{'numpy ms':>10}{'numpy/dsl':>11}"


def dsl_numpy_cells(dsl: Callable[[], object], ref: Callable[[], object], repeat: int) -> str:
    """Times the DSL call and the numpy reference; the three columns under `DSL_NUMPY_HEAD`."""
    t_dsl, t_np = median_seconds(dsl, repeat), median_seconds(ref, repeat)
    return f"{t_dsl * 1e3:>10.3f}{t_np * 1e3:>10.3f}{t_np / t_dsl:>10.2f}x"


def quick_parser(doc: str, quick_help: str = "small sizes, few repeats") -> argparse.ArgumentParser:
    """A command line described by the first line of `doc`, with `--quick`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    return parser


def numpy_worker_env(threads: int) -> dict[str, str]:
    """Environment of a numpy subprocess with `threads` BLAS threads (threadpoolctl is not assumed), and
    OPENBLAS_CORETYPE removed so the BLAS picks its kernels for this CPU."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    return env


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
    load = ""
    try:
        avg = Path("/proc/loadavg").read_text().split()[0]
        load = f"; load average {avg} at start (other processes share the CPUs)"
    except OSError:
        pass
    return [f"CPU: {model}, {os.cpu_count()} logical CPUs; flags: {present}",
            f"numpy {np.__version__} with BLAS {blas}{note}{load}"]


def add_round_options(ap: argparse.ArgumentParser, cold_mib: int) -> None:
    """--repeat, --rounds and --cold-mib (default `cold_mib`) of the alternating benchmarks."""
    ap.add_argument("--repeat", type=int, default=20, help="calls per measurement (median)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating ours/numpy rounds (median)")
    ap.add_argument("--cold-mib", type=int, default=cold_mib)


def print_setup(args: argparse.Namespace, cold_note: str, tail: str) -> None:
    """The machine, then how each figure is measured (`cold_note` inside the parentheses after the
    copies' size, `tail` at the end of the line)."""
    for line in machine_description():
        print(line)
    print(f"median over {args.rounds} alternating rounds of medians of {args.repeat} calls; cold weights "
          f"(rotating copies ≥ {args.cold_mib} MiB{cold_note}){tail}")


def print_head(head: str) -> None:
    print(head)
    print("-" * len(head))


def alternate_rounds(rounds: int, counts: Sequence[int], measure: Callable[[int], T]) -> dict[int, list[T]]:
    """measure(t) with the native pool at t threads, for each of `counts` in turn, `rounds` times (so load
    from other processes hits every side alike)."""
    from triton_dsl.runtime import matmul_api as mm
    results: dict[int, list[T]] = {t: [] for t in counts}
    for _ in range(rounds):
        for t in counts:
            mm.set_num_threads(t)
            results[t].append(measure(t))
    return results


@contextmanager
def numpy_workers(start: Callable[[int], Any], counts: Sequence[int]) -> Iterator[dict[int, Any]]:
    """One worker per thread count (`start(t)`, an object with `close()`); on leaving, the workers are
    closed and the native pool gets back the thread count it had."""
    from triton_dsl.runtime import matmul_api as mm
    total = mm.num_threads()
    workers = {t: start(t) for t in counts}
    try:
        yield workers
    finally:
        mm.set_num_threads(total)
        for w in workers.values():
            w.close()
