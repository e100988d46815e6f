"""JIT modules release their native memory: RSS stays flat over 2,000 distinct compiles (issue 15).

In: a subprocess compiling distinct modules at -O2 (`jit.JitModule` directly, and a shorter run through
`triton_dsl.compile`), sampling its RSS from /proc. Out: the growth per module after a warm-up, against
the ~60 KB per module that llvmlite's optimizer leaked in this process before (see `jit._OptimizerWorker`).
Also: the worker's object code is the in-process object code, byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

SAMPLER = textwrap.dedent("""
    import ctypes, gc, json, os, sys
    def rss_kb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    mode, n = sys.argv[1], int(sys.argv[2])
    samples = []
    if mode == "jit":
        from triton_dsl import jit
        for i in range(n):
            ir = ("define i64 @f(i64 %x) {\\n  %y = mul i64 %x, " + str(i + 3) + "\\n"
                  "  %z = add i64 %y, " + str(i) + "\\n  ret i64 %z\\n}\\n")
            m = jit.JitModule(ir, 2, None, needs_support=False)
            assert m.cfunc("f", ctypes.c_int64, ctypes.c_int64)(2) == 2 * (i + 3) + i
            del m
            if i % 100 == 99:
                gc.collect()
                samples.append(rss_kb())
    else:
        import triton_dsl
        for i in range(n):
            m = triton_dsl.compile(f"fn f(x: int32) -> int32 {{ return x * 3 + {i} }}\\n", cache=False)
            assert m.f(2) == 6 + i
            del m
            if i % 50 == 49:
                gc.collect()
                samples.append(rss_kb())
    print(json.dumps(samples))
""")


def _growth_per_module(mode: str, n: int, step: int, tmp_path) -> tuple[float, list[int]]:
    env = dict(os.environ, TRITON_DSL_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-c", SAMPLER, mode, str(n)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    samples = json.loads(done.stdout.strip().splitlines()[-1])
    warm = len(samples) // 4  # the first modules fill caches and start the worker
    return (samples[-1] - samples[warm]) / (step * (len(samples) - 1 - warm)), samples


def test_rss_is_flat_over_2000_distinct_jit_modules(tmp_path):
    per_module, samples = _growth_per_module("jit", 2000, 100, tmp_path)
    assert per_module < 4.0, f"RSS grows {per_module:.1f} KB per module: {samples}"


def test_rss_is_flat_over_distinct_compiles(tmp_path):
    per_module, samples = _growth_per_module("compile", 400, 50, tmp_path)
    assert per_module < 8.0, f"RSS grows {per_module:.1f} KB per compile: {samples}"


def test_worker_object_code_is_the_in_process_object_code():
    from triton_dsl import jit

    ir = "define i32 @g(i32 %x) {\n  %y = shl i32 %x, 3\n  ret i32 %y\n}\n"
    target = jit.process_target()
    tm = jit.target_machine(target, opt_level=2, jit=True)
    _, here, _ = jit._emit_jit_object(ir, tm, 2, None)
    worker = jit._OptimizerWorker()
    try:
        built = worker.emit(ir, target, 2, None)
    finally:
        worker._stop()
    assert built is not None and built[0] == here


def test_worker_reports_llvm_failure_as_internal_error():
    from triton_dsl import jit
    from triton_dsl.diagnostics import InternalCompilerError

    worker = jit._OptimizerWorker()
    try:
        with pytest.raises(InternalCompilerError, match="LLVM failed while optimizing"):
            worker.emit("this is not IR", jit.process_target(), 2, None)
        # the worker survives a bad module
        ok = worker.emit("define i32 @h() {\n  ret i32 7\n}\n", jit.process_target(), 2, None)
        assert ok is not None and ok[0]
    finally:
        worker._stop()
