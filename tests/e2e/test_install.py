"""Packaging: the wheel carries the grammar and the stdlib, and the installed `tritonc` runs.

In: a copy of the repository's packaging inputs in a temporary folder (so the checkout is never written
to). Out: assertions on the wheel's contents (read with zipfile) and on `tritonc --version` run from an
installed copy in a fresh virtual environment that sees this environment's packages through a
`.pth` file (no downloads of the dependencies; the base interpreter need not have them). Skips cleanly
when pip cannot build offline; each step is bounded well under a minute.
"""

from __future__ import annotations

import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import triton_dsl

REPO = Path(__file__).resolve().parents[2]
PACKAGING_INPUTS = ("pyproject.toml", "setup.py", "README.md", "triton_dsl", "grammar", "stdlib")
NETWORK_TROUBLE = ("No matching distribution", "Could not find a version", "NewConnectionError",
                   "Temporary failure in name resolution", "Network is unreachable", "ProxyError")
STEP_TIMEOUT = 50  # seconds


def run_step(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=STEP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.skip(f"'{' '.join(argv[:4])} ...' took over {STEP_TIMEOUT} s (slow or offline package index)")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in PACKAGING_INPUTS:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_data"))
        else:
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("wheel")
    proc = run_step([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-w", str(out)], src)
    if proc.returncode != 0 and any(marker in proc.stdout + proc.stderr for marker in NETWORK_TROUBLE):
        pytest.skip("pip cannot fetch the build backend (setuptools, wheel) offline")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (built,) = out.glob("triton_dsl-*.whl")
    return built


def test_wheel_carries_grammar_stdlib_and_cli(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        grammar = archive.read("triton_dsl/_data/grammar/triton.lark")
        stdlib = {Path(n).name: archive.read(n) for n in names if n.startswith("triton_dsl/_data/stdlib/")}
        (entry_points_file,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = archive.read(entry_points_file).decode()
    assert grammar == (REPO / "grammar" / "triton.lark").read_bytes()
    repo_stdlib = sorted(REPO.glob("stdlib/*.triton"))
    assert repo_stdlib, "the repository has no stdlib sources"
    assert stdlib == {p.name: p.read_bytes() for p in repo_stdlib}
    assert {"triton_dsl/__init__.py", "triton_dsl/cli.py", "triton_dsl/__main__.py",
            "triton_dsl/resources.py", "triton_dsl/commands/check.py"} <= names
    assert "tritonc = triton_dsl.cli:main" in entry_points


def test_installed_tritonc_runs_outside_the_checkout(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    created = run_step([sys.executable, "-m", "venv", str(venv)], tmp_path)
    assert created.returncode == 0, created.stderr
    bin_dir = venv / ("Scripts" if sys.platform == "win32" else "bin")
    python = str(bin_dir / "python")
    install = run_step([python, "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], tmp_path)
    assert install.returncode == 0, install.stdout + install.stderr
    # The dependencies (lark, llvmlite, numpy) come from the environment running the tests, which is
    # where `pip install '.[test]'` put them (the base interpreter may have none of them). Added after
    # the install, so pip does not take this environment's triton_dsl for the wheel's; the venv's own
    # site-packages stays first on sys.path, so the wheel's copy is the one imported.
    purelib = run_step([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path)
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"],
                          *site.getsitepackages()])
    (Path(purelib.stdout.strip()) / "test_dependencies.pth").write_text("\n".join(ours) + "\n")
    version = run_step([str(bin_dir / "tritonc"), "--version"], tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(f"tritonc (triton_dsl) {triton_dsl.__version__}\nllvmlite ")
    probe = "import triton_dsl.resources as r; print(r.grammar_path()); print(len(r.stdlib_paths()))"
    where = run_step([python, "-c", probe], tmp_path)
    grammar_path, stdlib_count = where.stdout.split()
    assert Path(grammar_path).is_relative_to(venv) and Path(grammar_path).is_file()
    assert int(stdlib_count) == len(list(REPO.glob("stdlib/*.triton")))
