"""`tritonc run`: output of top-level statements and main, runtime errors with locations, the cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from triton_dsl.cli import main

PROGRAM = """
fn fib(k: int32) -> int32 {
    let a = 0
    let b = 1
    for i in 0..k {
        let t = a + b
        a = b
        b = t
    }
    return a
}
let x = 10
print("fib", x, "=", fib(x))
main {
    let total = 0
    for i in 0..5 {
        if i == 3 { continue }
        total = total + i
    }
    print(f"total {total}", total > 6)
}
"""


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TRITON_DSL_CACHE_DIR", str(tmp_path / "cache"))


def write(tmp_path: Path, text: str, name: str = "prog.triton") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_run_prints_toplevel_then_main(tmp_path, capsys):
    assert main(["run", write(tmp_path, PROGRAM)]) == 0
    assert capsys.readouterr().out == "fib 10 = 55\ntotal 7 true\n"


def test_runtime_error_exits_1_with_location(tmp_path, capsys):
    path = write(tmp_path, "let a = 5\nlet b = a - 5\nprint(a // b)\n")
    assert main(["run", path]) == 1
    err = capsys.readouterr().err
    assert f"{path}:3:7: runtime error: integer division by zero" in err
    assert "print(a // b)" in err and "^" in err


def test_panic_is_a_runtime_error(tmp_path, capsys):
    path = write(tmp_path, 'fn check(v: int32) {\n    if v > 2 { panic("too big") }\n}\ncheck(1)\ncheck(3)\n')
    assert main(["run", path]) == 1
    err = capsys.readouterr().err
    assert "too big" in err and ":2:16:" in err


def test_compile_error_exits_1(tmp_path, capsys):
    assert main(["run", write(tmp_path, "let y = undefined_name + 1\n")]) == 1
    assert "undefined_name" in capsys.readouterr().err


def test_second_run_is_served_from_the_cache(tmp_path):
    path = write(tmp_path, PROGRAM)
    env = dict(os.environ, TRITON_DSL_CACHE_DIR=str(tmp_path / "c2"))
    command = [sys.executable, "-m", "triton_dsl", "run", path]
    repo = Path(__file__).resolve().parents[2]
    for _ in range(2):
        proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=repo)
        assert proc.returncode == 0 and proc.stdout.startswith("fib 10 = 55")
    objects = list((tmp_path / "c2").glob("*.o"))
    assert len(objects) == 1
    # A corrupt entry is ignored and rebuilt.
    objects[0].write_bytes(b"garbage")
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=repo)
    assert proc.returncode == 0 and "total 7 true" in proc.stdout
    assert objects[0].read_bytes()[:8] == b"TDSLOBJ1"


def test_quickstart_example_runs(capsys):
    path = Path(__file__).resolve().parents[2] / "examples" / "quickstart.triton"
    assert main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "trits:" in out and "mean squared error" in out
    assert "storage: 96 bytes as float32, 10 bytes packed ternary" in out


def test_program_cache_skips_the_compiler_and_notices_changes(tmp_path, capsys, monkeypatch):
    import triton_dsl.pipeline as pipeline

    path = write(tmp_path, 'print("first")\n')
    assert main(["run", path]) == 0
    entries = list((tmp_path / "cache" / "programs").glob("*.json"))
    assert len(entries) == 1

    def no_compiler(*args, **kwargs):
        raise AssertionError("the compiler ran for an unchanged file")

    monkeypatch.setattr(pipeline, "compile_source", no_compiler)
    assert main(["run", path]) == 0
    monkeypatch.undo()
    Path(path).write_text('print("second")\n')
    assert main(["run", path]) == 0
    entries[0].write_text("{not json")  # a corrupt entry is ignored
    Path(path).write_text('print("first")\n')
    assert main(["run", path]) == 0
    assert capsys.readouterr().out == "first\nfirst\nsecond\nfirst\n"
