"""`tritonc build`: LLVM IR, assembly, objects for the host and aarch64, a shared library with a C header."""

from __future__ import annotations

import ctypes
import shutil
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
fn safe_div(a: int64, b: int64) -> int64 {
    return a // b
}
fn scale(x: Tensor<float32, [n]>, s: float32) -> Tensor<float32, [n]> {
    return x * s + 1.0
}
fn maybe(x: float32, k: float32? = None) -> float32 {
    if k == None { return x }
    return x * k
}
fn pair(a: int32) -> (int32, float64) {
    return (a * 2, 0.5)
}
"""

C_PROGRAM = r"""
#include <stdio.h>
#include <string.h>
#include "libprog.h"
int main(void) {
    trt_ctx ctx; memset(&ctx, 0, sizeof ctx);
    int32_t f; float m1, m2; float k = 2.5f; pair_result p;
    if (fib(&ctx, 10, &f) || maybe(&ctx, 3.0f, NULL, &m1) || maybe(&ctx, 3.0f, &k, &m2) || pair(&ctx, 21, &p))
        return 2;
    int64_t q;
    int32_t code = safe_div(&ctx, 1, 0, &q);
    printf("%d %.2f %.2f %d %.2f %d %s %d\n", f, m1, m2, p.f0, p.f1, code, ctx.message, ctx.line);
    return 0;
}
"""


@pytest.fixture()
def prog(tmp_path) -> Path:
    path = tmp_path / "prog.triton"
    path.write_text(PROGRAM)
    return path


@pytest.mark.parametrize("emit,check", [("llvm-ir", lambda b: b"define" in b and b"@fib" in b),
                                        ("asm", lambda b: b"fib:" in b),
                                        ("obj", lambda b: b[:4] == b"\x7fELF")])
def test_emit_kinds(prog, tmp_path, emit, check):
    out = tmp_path / f"out.{emit}"
    assert main(["build", str(prog), f"--emit={emit}", "-o", str(out)]) == 0
    assert check(out.read_bytes())


def test_aarch64_object_from_this_machine(prog, tmp_path):
    out = tmp_path / "arm.o"
    assert main(["build", str(prog), "--emit=obj", "--target", "aarch64-linux-gnu", "-o", str(out)]) == 0
    header = out.read_bytes()[:20]
    assert header[:4] == b"\x7fELF" and int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a system C compiler to link")
def test_shared_library_exports_c_abi(prog, tmp_path):
    from triton_dsl.runtime.errors import Context

    out = tmp_path / "libprog.so"
    assert main(["build", str(prog), "--emit=shared", "-o", str(out)]) == 0
    header = (tmp_path / "libprog.h").read_text()
    assert "int32_t fib(trt_ctx *ctx, int32_t k, int32_t *out);" in header
    assert "int32_t scale(trt_ctx *ctx, trt_tensor *x, float s, trt_tensor **out);" in header
    lib = ctypes.CDLL(str(out))
    ctx = Context()
    result = ctypes.c_int32()
    assert lib.fib(ctypes.byref(ctx), 20, ctypes.byref(result)) == 0 and result.value == 6765
    div = ctypes.c_int64()
    lib.safe_div.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    assert lib.safe_div(ctypes.byref(ctx), 7, 0, ctypes.byref(div)) != 0
    assert b"division by zero" in ctx.message and ctx.line == 13


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a system C compiler")
def test_c_program_links_against_the_shared_library_through_its_header(prog, tmp_path):
    import subprocess

    out = tmp_path / "libprog.so"
    assert main(["build", str(prog), "--emit=shared", "-o", str(out)]) == 0
    (tmp_path / "main.c").write_text(C_PROGRAM)
    exe = tmp_path / "main"
    command = ["cc", "-o", str(exe), str(tmp_path / "main.c"), f"-I{tmp_path}", f"-L{tmp_path}", "-lprog",
               f"-Wl,-rpath,{tmp_path}"]
    subprocess.run(command, check=True, capture_output=True)
    run = subprocess.run([str(exe)], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "55 3.00 7.50 42 0.50 6 integer division by zero 13"
