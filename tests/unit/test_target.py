"""The target as data: CPU names, kernel variants, cache keys, and the CPU choice at every interface.

In: CPU names (levels, LLVM names, bad names), the host as LLVM reports it. Out: assertions on the
resolved `Target`s, on `tritonc build --cpu` output (no wide registers at the baseline), and on the
errors for unknown or unusable CPUs from the environment, the CLI and the Python API (child processes,
since a process fixes its target on first use).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import triton_dsl
from triton_dsl import jit
from triton_dsl.target import (
    ENV_VAR,
    LEVELS,
    Target,
    TargetUnavailableError,
    UnknownCPUError,
    cross,
    resolve,
)

HOST = jit.host_target()
X86 = HOST.is_x86


@pytest.mark.skipif(not X86, reason="x86-64 levels")
def test_levels_are_nested_and_pick_their_variants():
    targets = [resolve(level, HOST) for level in LEVELS]
    for lower, higher in zip(targets, targets[1:], strict=False):
        assert lower.features < higher.features
    assert [t.variant("simd") for t in targets] == ["sse2", "sse2", "avx2", "avx512"]
    assert [t.variant("gemv") for t in targets] == ["lut5", "lut5", "avx2-perm", "avx512-lut"]
    assert [t.variant("bitlinear") for t in targets] == ["generic", "ssse3", "avx2", "avx512bw"]  # no VNNI
    assert resolve("znver4", HOST).variant("bitlinear") == "avx512-vnni"
    assert all(t.cpu == t.name and t.llvm_features == "" for t in targets)  # LLVM derives the rest


def test_native_is_the_host_and_keys_differ_per_target():
    assert resolve("native", HOST) is HOST and HOST.llvm_features
    keys = {resolve(name, HOST).key() for name in ("native", *(LEVELS if X86 else ()))}
    assert len(keys) == (1 + len(LEVELS) if X86 else 1)


def test_unknown_and_foreign_cpus_are_errors():
    with pytest.raises(UnknownCPUError, match="unknown CPU 'pentium9'.*x86-64-v3"):
        resolve("pentium9", HOST)
    with pytest.raises(UnknownCPUError, match="not a CPU of aarch64"):
        cross("aarch64-linux-gnu", "znver3")
    with pytest.raises(UnknownCPUError, match="'native' means this machine"):
        resolve("native", HOST, "aarch64-linux-gnu")
    arm = cross("aarch64-linux-gnu", None)
    assert arm.cpu == "generic" and arm.variant("simd") == "neon" and arm.variant("gemv") == "lut5"


def test_a_cpu_above_the_host_cannot_be_jitted():
    beyond = Target("future", HOST.triple, HOST.cpu, HOST.features | {"avx10.9"})
    with pytest.raises(TargetUnavailableError, match="avx10.9"):
        jit.check_runnable(beyond)
    with pytest.raises(TargetUnavailableError, match="avx10.9"):
        jit.JitModule("; ModuleID = 'empty'\n", 0, target=beyond)


def _child(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != ENV_VAR} | env
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=300)


def test_environment_choice_and_conflicts_in_a_fresh_process():
    probe = ("from triton_dsl import jit\n"
             "print(jit.process_target().name)\n"
             "print(jit.use_cpu(None).name)\n"
             "try:\n    jit.use_cpu('native')\nexcept ValueError as e:\n    print('refused:', e)\n")
    level = "x86-64-v2" if X86 else "generic"
    out = _child(probe, **{ENV_VAR: level})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == [level, level]
    assert lines[2].startswith("refused: this process already runs code for CPU") and ENV_VAR in lines[2]


def test_api_rejects_an_unknown_cpu():
    with pytest.raises(UnknownCPUError):
        triton_dsl.compile("fn f(x: float32) -> float32 { return x }", cpu="pentium9")


def test_bad_environment_cpu_is_a_usage_error_for_tritonc(tmp_path):
    prog = tmp_path / "hi.triton"
    prog.write_text('print("hi")\n')
    out = subprocess.run([sys.executable, "-m", "triton_dsl", "run", str(prog)], capture_output=True,
                         text=True, env=dict(os.environ, **{ENV_VAR: "pentium9"}), timeout=300)
    assert out.returncode == 2 and "unknown CPU 'pentium9'" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.skipif(not X86, reason="x86-64 levels")
def test_build_honours_the_cpu_for_the_host_triple(tritonc, tmp_path):
    prog = tmp_path / "vec.triton"
    prog.write_text("fn axpy(a: float32, x: Tensor<float32, [n]>, y: Tensor<float32, [n]>) -> "
                    "Tensor<float32, [n]> {\n    return a * x + y\n}\n")
    asm = {}
    for cpu in ("x86-64", "x86-64-v4"):
        out = tmp_path / f"{cpu}.s"
        code, _, err = tritonc("build", str(prog), "--emit=asm", "--target", HOST.triple, "--cpu", cpu,
                               "-o", str(out))
        assert code == 0, err
        asm[cpu] = out.read_text()
    assert "ymm" not in asm["x86-64"] and "zmm" not in asm["x86-64"]
    assert "zmm" in asm["x86-64-v4"] or "ymm" in asm["x86-64-v4"]
