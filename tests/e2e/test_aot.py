"""Ahead-of-time libraries used from C: `tritonc build --emit=static|shared` for aarch64 (linked with the
cross compiler, run under qemu-user) and for baseline x86-64 (run on this machine), each compared with the
same functions called through the Python API here and with numpy.

The C side is tests/e2e/data/aot_harness.c calling tests/e2e/data/aot_model.triton. Needs Debian's
gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and qemu-user; binutils for the instruction check. Each test
says what it skips for when a tool is missing.
"""

from __future__ import annotations

import math
import platform
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import triton_dsl
from triton_dsl.cli import main

DATA = Path(__file__).parent / "data"
MODEL = DATA / "aot_model.triton"
HARNESS = DATA / "aot_harness.c"
SYSROOT = Path("/usr/aarch64-linux-gnu")
CROSS_CC = "aarch64-linux-gnu-gcc"
IS_X86_64 = platform.machine() in ("x86_64", "AMD64")


def _missing(*tools: str) -> str | None:
    for tool in tools:
        if shutil.which(tool) is None:
            return tool
    return None


def _need_aarch64() -> None:
    missing = _missing(CROSS_CC, "qemu-aarch64")
    if missing:
        pytest.skip(f"needs {missing} (Debian: gcc-aarch64-linux-gnu, qemu-user)")
    if not (SYSROOT / "lib").is_dir():
        pytest.skip(f"needs the aarch64 C library in {SYSROOT} (Debian: libc6-dev-arm64-cross)")


def _floats(shape: tuple[int, ...], mul: int, mod: int, div: float) -> np.ndarray:
    """The harness's `floats()`: the same float32 operations, so the same bits."""
    i = np.arange(math.prod(shape), dtype=np.int64)
    return (((i * mul) % mod).astype(np.float32) / np.float32(div) - np.float32(1)).reshape(shape)


# 130 columns: wide enough for the table kernel of targets without AVX2 (lut5: N >= 128)
TRITS = ((np.arange(910) * 7) % 3 - 1).astype(np.int8).reshape(7, 130)


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    """What the harness must print, from the Python API on this machine (JIT, native CPU)."""
    module = triton_dsl.compile_file(MODEL)
    x = _floats((3, 7), 37, 23, 11.0)
    layer = module.layer(x, triton_dsl.TernaryTensor.from_numpy(TRITS, scale=0.75))
    q = module.quantize(_floats((6, 4), 13, 17, 5.0))
    conv = module.conv(_floats((1, 2, 5, 5), 29, 19, 9.0), _floats((3, 2, 3, 3), 11, 7, 3.0))
    r = _floats((3, 4), 5, 11, 4.0)
    # numpy: the layer's float math and the ternary matmul in float64
    h = 1.0 / (1.0 + np.exp(-x.astype(np.float64))) * 2.0 - 0.5
    reference = np.maximum(h @ (TRITS.astype(np.float64) * 0.75), 0.0)
    np.testing.assert_allclose(layer, reference, rtol=1e-5, atol=1e-6)
    return {"layer": layer.ravel(), "layer_numpy": reference.ravel(), "quantize_trits": q.to_numpy().ravel(),
            "quantize_scale": np.array([q.scale]), "conv": conv.ravel(), "conv_shape": np.array(conv.shape),
            "report": np.array([module.report(r, 0.5)]),
            "report_numpy": np.array([r.sum(dtype=np.float64) * 0.5]),
            "report_again": np.array([module.report(r, 2.0)])}


def _build(tmp: Path, emit: str, *options: str) -> Path:
    out = tmp / ("libmodel.a" if emit == "static" else "libmodel.so")
    assert main(["build", str(MODEL), f"--emit={emit}", "-o", str(out), *options]) == 0
    assert (tmp / "libmodel.h").is_file()
    return out


def _compile_harness(cc: str, tmp: Path, library: Path) -> Path:
    exe = tmp / "harness"
    if library.suffix == ".a":
        link = [str(library)]
    else:
        link = [f"-L{tmp}", "-lmodel", f"-Wl,-rpath,{tmp}"]
    command = [cc, "-std=c11", "-Wall", "-Werror", "-O1", "-o", str(exe), str(HARNESS), f"-I{tmp}", *link,
               "-lm", "-lpthread"]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode == 0, f"{' '.join(command)}\n{run.stderr}"
    return exe


def _run(command: list[str]) -> str:
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"exit {run.returncode}\n{run.stdout}\n{run.stderr}"
    return run.stdout


def _check_output(stdout: str, expected: dict[str, np.ndarray]) -> None:
    values, errors, printed = {}, {}, []
    for line in stdout.splitlines():
        if line.startswith("error "):
            errors[line.split()[1]] = line
        elif line.startswith("printed: "):
            printed.append(line)
        else:
            key, _, rest = line.partition(": ")
            values[key] = rest
    got = {k: np.array([float(v) for v in values[k].split()]) for k in
           ("layer", "layer_packed", "conv", "conv_shape", "quantize_trits", "report", "report_again")}
    # Another CPU may add float32 terms in another order: equal to float32 rounding, not bit for bit.
    close = {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(got["layer"], expected["layer"], **close)
    np.testing.assert_allclose(got["layer"], expected["layer_numpy"], **close)
    np.testing.assert_array_equal(got["layer_packed"], got["layer"])
    assert values["layer_shape"] == "3 130" and values["roundtrip"] == "1 231"
    np.testing.assert_array_equal(got["quantize_trits"], expected["quantize_trits"])
    kind, count, scale = values["quantize_scale"].split()
    assert (kind, count) == ("1", "1")
    np.testing.assert_allclose(float(scale), expected["quantize_scale"][0], rtol=1e-6)
    np.testing.assert_array_equal(got["conv_shape"], expected["conv_shape"])
    np.testing.assert_allclose(got["conv"], expected["conv"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got["report"], expected["report"], **close)
    np.testing.assert_allclose(got["report"], expected["report_numpy"], **close)
    np.testing.assert_allclose(got["report_again"], expected["report_again"], **close)
    # the program's own print, in order with the harness's output
    assert printed == ["printed: 12 values, scale 0.5", "printed: 12 values, scale 2.0"]
    assert stdout.index(printed[0]) < stdout.index("report: ") < stdout.index(printed[1])
    # Every misuse is an error code and a message in the context: no crash, no wrong answer.
    assert re.search(r"error named_dim 2 2: .*aot_model.triton:4:\d+: error: shape mismatch in "
                     r"`layer\(\): dimension 'k' of 'x' and 'w'`: \[3, 6\] vs \[7, 130\]",
                     errors["named_dim"])
    assert ("error dtype 8 8: error: layer(): argument 'w' must be TernaryTensor<trit, [k, n]>, got a "
            "float32 tensor of shape [3, 7]") in errors["dtype"]
    assert ("error static_dim 2 2: error: report(): argument 'x' must be Tensor<float32, [n, 4]>, got a "
            "float32 tensor of shape [3, 7]") in errors["static_dim"]
    assert "error null 6 6: error: report(): argument 'x' is NULL" in errors["null"]
    assert "error corrupt 1 6: error: packed ternary data is corrupt: byte 3 (0xff)" in errors["corrupt"]
    assert "cannot convert 2 to trit" in errors["trit_value"]
    assert re.search(r"error weights 7 7: .*aot_model.triton:27:\d+: error: weight files .* are not "
                     r"available in an ahead-of-time build", errors["weights"])


def test_aarch64_static_library_links_and_runs_under_qemu(tmp_path, expected):
    _need_aarch64()
    archive = _build(tmp_path, "static", "--target", "aarch64-linux-gnu")
    assert archive.read_bytes()[:8] == b"!<arch>\n"
    exe = _compile_harness(CROSS_CC, tmp_path, archive)
    _check_output(_run(["qemu-aarch64", "-L", str(SYSROOT), str(exe)]), expected)


def test_aarch64_shared_library_is_linked_by_the_cross_compiler(tmp_path, expected, monkeypatch):
    _need_aarch64()
    monkeypatch.delenv("CC", raising=False)  # found by name: aarch64-linux-gnu-gcc
    library = _build(tmp_path, "shared", "--target", "aarch64-linux-gnu")
    header = library.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64
    exe = _compile_harness(CROSS_CC, tmp_path, library)
    _check_output(_run(["qemu-aarch64", "-L", str(SYSROOT), str(exe)]), expected)


@pytest.mark.skipif(not IS_X86_64, reason="the baseline x86-64 library runs on an x86-64 host only")
def test_baseline_x86_64_shared_library_runs_from_c(tmp_path, expected, monkeypatch):
    if shutil.which("cc") is None:
        pytest.skip("needs a system C compiler (cc)")
    monkeypatch.delenv("CC", raising=False)
    library = _build(tmp_path, "shared", "--cpu", "x86-64")
    exe = _compile_harness("cc", tmp_path, library)
    _check_output(_run([str(exe)]), expected)
    if shutil.which("qemu-x86_64"):
        # An x86-64 CPU without SSSE3, SSE4 or AVX: an instruction above the baseline would be SIGILL.
        _check_output(_run(["qemu-x86_64", "-cpu", "qemu64", str(exe)]), expected)


# Mnemonics above the x86-64 baseline (SSE2) that LLVM could emit: SSE3/SSSE3/SSE4, POPCNT/LZCNT, BMI.
# (Every VEX/EVEX instruction starts with "v".) `tzcnt` is absent on purpose: LLVM emits `rep bsf` for a
# count of trailing zeros of a non-zero value, which objdump shows as tzcnt and old CPUs run as bsf.
_ABOVE_BASELINE = re.compile(
    r"^(v\w+|pshufb|palignr|pabs[bwd]|phadd\w+|phsub\w+|pmaddubsw|pmulhrsw|psign[bwd]|pmulld|pmuldq|"
    r"pmin[su][bdw]|pmax[su][bdw]|pblend\w*|blendv?p[sd]|round[sp][sd]|dpp[sd]|insertps|extractps|"
    r"pextr[bdq]|pinsr[bdq]|pmov[sz]x\w+|ptest|pcmpeqq|pcmpgtq|packusdw|mpsadbw|phminposuw|movntdqa|"
    r"pcmp[ei]str[im]|crc32\w*|popcnt|lzcnt|andn|bextr|blsi|blsmsk|blsr|bzhi|pdep|pext|mulx|rorx|sarx|"
    r"shlx|shrx|movbe|haddp[sd]|hsubp[sd]|addsubp[sd]|movddup|movs[hl]dup|lddqu)$")


@pytest.mark.skipif(not IS_X86_64, reason="checks x86-64 machine code")
def test_baseline_x86_64_archive_has_no_instruction_above_the_baseline(tmp_path):
    if shutil.which("objdump") is None:
        pytest.skip("needs objdump (Debian: binutils)")
    archive = _build(tmp_path, "static", "--cpu", "x86-64")
    listing = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(archive)], capture_output=True,
                             text=True, check=True).stdout
    assert "trk_matmul_f32_t2" in listing and "trt_ternary_new" in listing  # kernels and runtime are in
    mnemonics = {line.split("\t")[1].split()[0] for line in listing.splitlines()
                 if line.startswith(" ") and line.count("\t") >= 1 and line.split("\t")[1].strip()}
    above = sorted(m for m in mnemonics if _ABOVE_BASELINE.match(m))
    assert not above, f"instructions above x86-64 baseline: {above}"
    assert not re.search(r"%[yz]mm\d", listing)


def test_no_c_compiler_for_the_target_or_no_output_directory_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no compiler of any name
    out = tmp_path / "libmodel.so"
    assert main(["build", str(MODEL), "--emit=shared", "--target", "aarch64-linux-gnu", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no C compiler found to link a shared library for 'aarch64-linux-gnu'" in err
    assert "aarch64-linux-gnu-gcc" in err and "set CC" in err and "--emit=static" in err
    monkeypatch.setenv("CC", str(tmp_path / "missing-cc") + " -O2")
    assert main(["build", str(MODEL), "--emit=shared", "-o", str(out)]) == 2
    assert "missing-cc" in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.delenv("CC")
    assert main(["build", str(MODEL), "--emit=static", "-o", str(tmp_path / "no" / "libmodel.a")]) == 2
    assert f"cannot write {tmp_path / 'no' / 'libmodel.a'}: no directory" in capsys.readouterr().err


def test_c_header_compiles_and_declares_the_c_api(tmp_path):
    from triton_dsl.codegen.entry import c_header
    from triton_dsl.pipeline import compile_source
    from triton_dsl.source import Source

    cc = "cc" if shutil.which("cc") else None
    if cc is None:
        pytest.skip("needs a C compiler (cc)")
    result = compile_source(Source(str(MODEL), MODEL.read_text()), c_abi=True, parallel=False)
    exported = [fn for fn in result.ir_module.functions.values() if fn.public and not fn.generic]
    header = c_header(exported, "TRITON_LIBMODEL_H")
    for needle in ("trt_ctx *trt_ctx_new(void);", "trt_tensor *trt_ternary_new(", "int64_t trt_error_format(",
                   "int32_t layer(trt_ctx *ctx, trt_tensor *x, trt_tensor *w, trt_tensor **out);",
                   "int32_t report(trt_ctx *ctx, trt_tensor *x, float s, float *out);", "TRT_FLOAT32 = 7"):
        assert needle in header
    (tmp_path / "libmodel.h").write_text(header)
    # twice: the runtime API part is guarded, so headers of two libraries can be included together
    use = tmp_path / "use.c"
    use.write_text('#include "libmodel.h"\n#include "libmodel.h"\nint main(void) { return 0; }\n')
    for std in ("-std=c11", "-std=c99"):
        subprocess.run([cc, std, "-Wall", "-Werror", "-fsyntax-only", f"-I{tmp_path}", str(use)], check=True,
                       capture_output=True)


def test_the_c_example_of_docs_runtime_md_builds_and_runs(tmp_path):
    if shutil.which("cc") is None:
        pytest.skip("needs a system C compiler (cc)")
    doc = (Path(__file__).resolve().parents[2] / "docs" / "runtime.md").read_text()
    section = doc[doc.index("## Using a built library from C"):]
    program = re.search(r"```triton\n(.*?)```", section, re.S).group(1)
    c_code = re.search(r"```c\n(.*?)```", section, re.S).group(1)
    (tmp_path / "model.triton").write_text(program)
    (tmp_path / "main.c").write_text(c_code)
    cpu = ["--cpu", "x86-64"] if IS_X86_64 else []  # the baseline objects are shared with the tests above
    archive = tmp_path / "libmodel.a"
    assert main(["build", str(tmp_path / "model.triton"), "--emit=static", "-o", str(archive), *cpu]) == 0
    exe = tmp_path / "main"
    subprocess.run(["cc", "-std=c11", "-Wall", "-Werror", "-o", str(exe), str(tmp_path / "main.c"),
                    f"-I{tmp_path}", str(archive), "-lm", "-lpthread"], check=True, capture_output=True)
    assert _run([str(exe)]) == "y = [0.5, 2]\n"
