"""The compiler on an emulated older CPU: `qemu-x86_64 -cpu Nehalem` (SSE4.2, no AVX).

In: the quickstart program (print, quantization, a packed ternary matmul) and this environment's Python,
run under Debian's qemu-user with a fresh compile cache, so LLVM sees `nehalem` as the host and every
object (runtime, kernels, program) is compiled for it. Out: the same numbers as a native run; any
instruction above the emulated level would be SIGILL. Marked `qemu` (slow: minutes of emulated
compilation), deselected by default and run by .ci/run (`pytest -m qemu`); skips when qemu is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.qemu

REPO = Path(__file__).resolve().parents[2]
QEMU = shutil.which("qemu-x86_64")
NUMBER = re.compile(r"[-+]?\d+\.\d+(?:e[-+]?\d+)?|[-+]?\d+")


def _run(argv: list[str], cache: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRITON_DSL_CPU"}
    env["TRITON_DSL_CACHE_DIR"] = str(cache)
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1500, cwd=REPO)


@pytest.mark.skipif(QEMU is None, reason="qemu-x86_64 not installed (Debian package qemu-user)")
@pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine != "x86_64",
                    reason="emulates x86-64 on an x86-64 Linux host")
def test_quickstart_on_an_emulated_nehalem_matches_native(tmp_path: Path):
    program = ["-m", "triton_dsl", "run", "examples/quickstart.triton"]
    native = _run([sys.executable, *program], tmp_path / "native-cache")
    assert native.returncode == 0, native.stderr
    version = _run([QEMU, "-cpu", "Nehalem", sys.executable, "-m", "triton_dsl", "--version"],
                   tmp_path / "qemu-cache")
    assert version.returncode == 0, version.stderr
    assert "host CPU nehalem" in version.stdout and "simd: sse2" in version.stdout
    emulated = _run([QEMU, "-cpu", "Nehalem", sys.executable, *program], tmp_path / "qemu-cache")
    assert emulated.returncode == 0, emulated.stderr  # SIGILL would be -4
    assert emulated.stdout.splitlines()[0] == native.stdout.splitlines()[0] == "weights:"
    got = [float(v) for v in NUMBER.findall(emulated.stdout)]
    want = [float(v) for v in NUMBER.findall(native.stdout)]
    assert len(got) == len(want) > 40
    assert got == pytest.approx(want, rel=1e-4, abs=1e-4)  # other vector widths: other sum orders
