"""`tritonc` end to end: usage errors, versions, help, unreadable files, program errors, internal errors.

In: command lines run in-process through `triton_dsl.cli.main` (and once as a real `python -m triton_dsl`
process). Out: assertions on the exit code (0 ok, 1 program errors, 2 usage, 101 internal error) and on
the exact text users see.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import llvmlite
import pytest

import triton_dsl
from triton_dsl import jit, pipeline
from triton_dsl.commands import check as check_command
from triton_dsl.diagnostics import Diagnostic
from triton_dsl.source import Source, Span

REPO = Path(__file__).resolve().parents[2]
ICE_TAIL = "— this is a bug in triton_dsl, not in your program; run with --debug for the traceback"


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "prog.triton"
    path.write_text("let x = 1\n", encoding="utf-8")
    return path


def fake_check(diagnostics=()):
    """A stand-in for the pipeline that reports the given (code, message, start, end) problems."""

    def check_source(source: Source) -> pipeline.CheckResult:
        diags = [Diagnostic(code, msg, Span(source, start, end)) for code, msg, start, end in diagnostics]
        return pipeline.CheckResult(source, diags)

    return check_source


def test_version_names_triton_dsl_llvmlite_llvm_and_the_cpus(tritonc):
    code, out, err = tritonc("--version")
    assert code == 0 and err == ""
    host, target = jit.host_target(), jit.process_target()
    variants = ", ".join(f"{family}: {variant}" for family, variant in target.variants().items())
    assert out.splitlines() == [f"tritonc (triton_dsl) {triton_dsl.__version__}",
                                f"llvmlite {llvmlite.__version__}", f"LLVM {jit.llvm_version()}",
                                f"host CPU {host.cpu} ({host.triple})",
                                f"target CPU {target.cpu} ({target.name})", f"kernels {variants}"]
    assert jit.llvm_version().split(".")[0].isdigit()
    assert "gemv: " in variants and "bitlinear: " in variants


def test_unknown_cpu_is_a_usage_error(tritonc, tmp_path):
    prog = tmp_path / "hi.triton"
    prog.write_text('print("hi")\n')
    for argv in (("--cpu", "pentium9", "run", str(prog)), ("run", str(prog), "--cpu", "pentium9"),
                 ("--cpu", "pentium9", "--version")):
        code, out, err = tritonc(*argv)
        assert code == 2 and out == "" and "unknown CPU 'pentium9'" in err and "x86-64-v3" in err


def test_help_lists_the_commands_and_exit_codes(tritonc):
    code, out, _ = tritonc("--help")
    assert code == 0
    assert "check" in out and "101 internal compiler error" in out
    code, out, _ = tritonc("check", "--help")
    assert code == 0 and "--emit {ast,types,ir,llvm-ir}" in out


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["check"], ["check", "x.triton", "--bogus"],
                                  ["check", "x.triton", "--emit=llvm"]])
def test_bad_usage_exits_2(tritonc, argv):
    code, out, err = tritonc(*argv)
    assert code == 2
    assert "usage: tritonc" in err


def test_missing_file_exits_2_with_the_reason(tritonc, tmp_path):
    missing = tmp_path / "x.triton"
    code, out, err = tritonc("check", str(missing))
    assert code == 2 and out == ""
    assert err == f"tritonc: error: cannot read '{missing}': No such file or directory\n"


def test_directory_and_foreign_files_exit_2(tritonc, tmp_path):
    folder = tmp_path / "dir.triton"
    folder.mkdir()
    code, _, err = tritonc("check", str(folder))
    assert code == 2 and err == f"tritonc: error: cannot read '{folder}': Is a directory\n"
    other = tmp_path / "model.py"
    other.write_text("x = 1\n")
    code, _, err = tritonc("check", str(other))
    assert code == 2 and "not a Triton DSL file (expected a .triton or .tri file)" in err
    binary = tmp_path / "bin.triton"
    binary.write_bytes(b"\xff\xfe\x00")
    code, _, err = tritonc("check", str(binary))
    assert code == 2 and err == f"tritonc: error: cannot read '{binary}': not UTF-8 text\n"


def test_every_file_is_checked_and_all_problems_reported(tritonc, tmp_path, monkeypatch):
    monkeypatch.setattr(check_command, "check_source", fake_check([("E0401", "shapes differ", 4, 5)]))
    good = tmp_path / "a.tri"
    good.write_text("let x = 1\n")
    missing = tmp_path / "b.triton"
    code, _, err = tritonc("check", str(good), str(missing), str(good))
    assert code == 2  # a usage problem outranks errors in the programs
    assert err.count(f"{good}:1:5: error[E0401]: shapes differ") == 2
    assert f"cannot read '{missing}'" in err


def test_program_errors_exit_1_with_rendered_diagnostics(tritonc, program, monkeypatch):
    monkeypatch.setattr(check_command, "check_source",
                        fake_check([("E0301", "first problem", 0, 3), ("E0402", "second problem", 4, 5)]))
    code, out, err = tritonc("check", str(program))
    assert code == 1 and out == ""
    assert err.startswith(f"{program}:1:1: error[E0301]: first problem\n  |\n1 | let x = 1\n  | ^^^\n")
    assert f"{program}:1:5: error[E0402]: second problem" in err
    assert err.rstrip().endswith("2 errors")


def test_clean_program_exits_0(tritonc, program, monkeypatch):
    monkeypatch.setattr(check_command, "check_source", fake_check())
    assert tritonc("check", str(program)) == (0, "", "")


def test_syntax_error_from_the_real_parser(tritonc, tmp_path):
    bad = tmp_path / "bad.triton"
    bad.write_text("fn f(x: int32) {\n    let = 3\n}\n")
    code, out, err = tritonc("check", str(bad))
    assert code == 1 and out == ""
    assert f"{bad}:2:9: error[E01" in err
    assert "Traceback" not in err and "triton_dsl" not in err


def test_emit_ast_prints_the_syntax_tree(tritonc, program):
    code, out, err = tritonc("check", str(program), "--emit=ast")
    assert code == 0 and err == ""
    assert out.startswith("Program") and "'x'" in out


GENERIC_PROGRAM = """\
fn twice<S>(x: Tensor<float32, S>) -> Tensor<float32, S> {
    let y = x + x
    return y
}

let a = twice(randn([2, 3]))
let b = twice(randn([4]))
print(a, b)
"""

# The checker's view: top-level bindings with the instance each call resolved to, then every function
# instance once: the generic body as checked on its own (`S` as any rank), then one per shape it is called
# with. Instance names carry a hash of their argument types (`twice__0123abcd`), normalized away here.
GENERIC_TYPES = """\
let a: Tensor<float32, [2, 3]>    # twice(x: Tensor<float32, [?, ?]>)
let b: Tensor<float32, [4]>    # twice(x: Tensor<float32, [?]>)
call ()    # primitive print
fn twice(x: Tensor<float32, ?>) -> Tensor<float32, ?>
  let y: Tensor<float32, ?>
  return Tensor<float32, ?>
fn twice(x: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]>
  let y: Tensor<float32, [?, ?]>
  return Tensor<float32, [?, ?]>
fn twice(x: Tensor<float32, [?]>) -> Tensor<float32, [?]>
  let y: Tensor<float32, [?]>
  return Tensor<float32, [?]>
"""


def test_emit_types_prints_each_function_instance_once(tritonc, tmp_path):
    path = tmp_path / "generic.triton"
    path.write_text(GENERIC_PROGRAM)
    code, out, err = tritonc("check", str(path), "--emit=types")
    assert (code, err) == (0, "")
    assert re.sub(r"__[0-9a-f]{8}\b", "", out) == GENERIC_TYPES
    # the body is not repeated from the source walk: one `let y` per instance, three instances
    assert out.count("let y:") == 3 and len(set(re.findall(r"^fn (\S+)\(", out, re.M))) == 3


def test_emit_types_heads_each_file_when_several_are_checked(tritonc, tmp_path):
    first, second = tmp_path / "a.triton", tmp_path / "b.tri"
    first.write_text("let x = 1\n")
    second.write_text("let s = \"hi\"\n")
    code, out, err = tritonc("check", str(first), str(second), "--emit=types")
    assert (code, err) == (0, "")
    assert out == f"# {first}\nlet x: int32\n# {second}\nlet s: str\n"


BACK_END_PROGRAM = """\
fn axpy(a: float32, x: Tensor<float32, [n]>, y: Tensor<float32, [n]>) -> Tensor<float32, [n]> {
    return a * x + y
}
"""


def test_emit_ir_prints_the_ir_after_the_passes(tritonc, tmp_path):
    path = tmp_path / "axpy.triton"
    path.write_text(BACK_END_PROGRAM)
    code, out, err = tritonc("check", str(path), "--emit=ir")
    assert (code, err) == (0, "")
    assert out.startswith("func @axpy(") and "public" in out.splitlines()[0]
    assert "fused" in out and "binary mul" in out and "binary add" in out  # one fused loop
    assert out.rstrip().endswith("}")


def test_emit_llvm_ir_prints_optimized_llvm_ir(tritonc, tmp_path):
    path = tmp_path / "axpy.triton"
    path.write_text(BACK_END_PROGRAM)
    code, out, err = tritonc("check", str(path), "--emit=llvm-ir")
    assert (code, err) == (0, "")
    assert re.search(r"^define .*@tdsl\.axpy\(ptr %ctx, float %a", out, re.M)
    assert "fmul" in out and "fadd" in out


@pytest.mark.parametrize("kind", ["ir", "llvm-ir"])
def test_emit_back_end_stage_reports_what_cannot_be_compiled_yet(tritonc, tmp_path, kind):
    path = tmp_path / "ternary.triton"
    path.write_text("fn f(q: TernaryTensor<trit, [?]>) -> int32 {\n    return int32(q[0])\n}\n")
    code, out, err = tritonc("check", str(path), f"--emit={kind}")
    assert (code, out) == (1, "")
    assert f"{path}:2:18: error[E0901]" in err and "not available yet" in err


def test_emit_ir_of_a_program_with_type_errors_prints_only_the_errors(tritonc, tmp_path):
    path = tmp_path / "bad.triton"
    path.write_text("let x: int32 = \"no\"\n")
    code, out, err = tritonc("check", str(path), "--emit=ir")
    assert (code, out) == (1, "")
    assert "error[E03" in err


def exploding_check(source: Source):
    raise RuntimeError("lowering lost its way\nsecond line")


def test_internal_error_exits_101_without_traceback(tritonc, program, monkeypatch):
    monkeypatch.setattr(check_command, "check_source", exploding_check)
    code, out, err = tritonc("check", str(program))
    assert code == 101 and out == ""
    assert err == f"tritonc: internal compiler error: lowering lost its way {ICE_TAIL}\n"


@pytest.mark.parametrize("argv", [["--debug", "check", "{p}"], ["check", "{p}", "--debug"]])
def test_internal_error_traceback_with_debug(tritonc, program, monkeypatch, argv):
    monkeypatch.setattr(check_command, "check_source", exploding_check)
    code, _, err = tritonc(*[a.format(p=program) for a in argv])
    assert code == 101
    assert err.startswith("Traceback (most recent call last):")
    assert "RuntimeError: lowering lost its way" in err
    assert err.rstrip().endswith(ICE_TAIL)


def test_python_dash_m_runs_the_same_cli(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "triton_dsl", "check", str(tmp_path / "nope.triton")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr and "No such file or directory" in proc.stderr


def test_closed_output_pipe_is_not_an_internal_error(tritonc, program, monkeypatch):
    def reader_went_away(source: Source):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(check_command, "check_source", reader_went_away)
    code, _, err = tritonc("check", str(program))
    assert code == 141 and err == ""
