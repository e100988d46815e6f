"""The runtime and kernel libraries compile one part at a time, when first needed, and reuse the disk cache.

In: small programs run in fresh processes with their own cache directory (so nothing another test
compiled counts), and units built here. Out: which kernel families and runtime parts each process
compiled; that a second process loads every object from the cache without building IR; that stubs
bind a function at its first call (arguments of every kind forwarded); that the table of family
symbols matches the kernels' IR on every target; that private libraries share the process's pool.
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from llvmlite import ir

from triton_dsl import jit
from triton_dsl.runtime.kernel_library import (
    FAMILY_SYMBOLS,
    KERNEL_BUILDERS,
    KernelLibrary,
    family_name,
    kernel_library,
)
from triton_dsl.runtime.units import LazyLibrary, Unit, exported_signatures
from triton_dsl.target import cross, resolve

REPO = Path(__file__).resolve().parents[2]

_REPORT = """
import json
from triton_dsl import jit
from triton_dsl.runtime import library
from triton_dsl.runtime.kernel_library import kernel_library

def report(**extra):
    lib, rt = kernel_library(), library.load_runtime()
    units = lib.loaded_units() + rt.loaded_units()
    print(json.dumps(dict(extra, families=lib.compiled_families(), runtime=rt.loaded(),
                          built=[u.unit.name for u in units if not u.from_index],
                          compiled=[r.name for r in jit.compile_log() if not r.from_cache])))
"""


def _run(code: str, cache: Path) -> dict:
    env = dict(os.environ, TRITON_DSL_CACHE_DIR=str(cache))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-c", _REPORT + textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_program_without_kernels_compiles_no_kernel(tmp_path: Path) -> None:
    got = _run("""
        import triton_dsl
        m = triton_dsl.compile('fn twice(a: int32) -> int32 { return a * 2 }\\nmain { print("hi") }')
        m.run_main()
        report(value=m.twice(21))
    """, tmp_path)
    assert got["value"] == 42
    assert got["families"] == []
    assert not any(name.startswith("triton_dsl_kernels") for name in got["compiled"])
    # printing needs the text parts of the runtime, not its reductions or their -O2 cores
    assert {"rt_errors", "rt_memory", "rt_text"} <= set(got["runtime"])
    assert not any(unit.startswith(("rt_reduce", "rt_cast")) or ".hot" in unit for unit in got["runtime"])


_MATMUL = """
    import numpy as np
    import triton_dsl
    m = triton_dsl.compile('''
    fn layer(x: Tensor<float32, [b, k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [b, n]> {
        return x @ w
    }''')
    before = kernel_library().compiled_families()
    rng = np.random.default_rng(0)
    trits = rng.integers(-1, 2, (37, 5)).astype(np.int8)
    x = rng.standard_normal((3, 37)).astype(np.float32)
    y = m.layer(x, triton_dsl.TernaryTensor.from_numpy(trits))
    after_call = kernel_library().compiled_families()
    counts = np.zeros(4, np.int64)  # -1, 0, +1, defects
    packed = triton_dsl.TernaryTensor.from_numpy(trits).packed
    kernel_library().trk_count_trits(packed.ctypes.data, 37, 5, counts.ctypes.data)
    report(before=before, after_call=after_call, error=float(np.abs(y - x @ trits).max()),
           counts=counts.tolist(), expected=[int((trits == v).sum()) for v in (-1, 0, 1)] + [0])
"""


def test_kernel_families_compile_at_first_call_and_are_reused_across_processes(tmp_path: Path) -> None:
    cold = _run(_MATMUL, tmp_path)
    # loading the program bound its kernels to stubs: nothing was compiled
    assert cold["before"] == []
    # the first call compiled what it ran (N = 5: the generic kernel, not the table or int8 kernels)
    assert {"relayout", "matmul_f32"} <= set(cold["after_call"])
    assert not {"bitlinear", "matmul_gemv", "matmul_gemm_lut", "conv2d"} & set(cold["after_call"])
    assert cold["error"] < 1e-4
    assert "pack" in cold["families"] and "count" in cold["families"]  # Python callers, on first use
    assert cold["counts"] == cold["expected"]
    warm = _run(_MATMUL, tmp_path)  # a second process, same cache: machine code and index reused
    assert warm["families"] == cold["families"] and warm["error"] == cold["error"]
    assert warm["compiled"] == [] and warm["built"] == []


def test_stub_binds_at_first_call_and_forwards_every_argument() -> None:
    """A `lazy_call` unit referenced by another module is compiled when the function is first called."""
    name = "tdsl_test_stubbed_mix"

    def build() -> ir.Module:
        m = ir.Module(name="stub_target")
        f32, f64, i32, i64 = ir.FloatType(), ir.DoubleType(), ir.IntType(32), ir.IntType(64)
        fn = ir.Function(m, ir.FunctionType(f64, [i32, f64, ir.PointerType(), f32, i64]), name)
        b = ir.IRBuilder(fn.append_basic_block())
        a, d, p, f, n = fn.args
        loaded = b.load(p, typ=f64)
        total = b.fadd(b.fadd(b.sitofp(a, f64), b.fmul(d, loaded)), b.fadd(b.fpext(f, f64), b.sitofp(n, f64)))
        b.ret(total)
        return m

    sigs = exported_signatures(build())
    lib = LazyLibrary("test-stubs", jit.process_target(), [Unit("mix", build, 2, symbols=(name,),
                                                              lazy_call=True, signatures=sigs)],
                      publish=True, cache=False)
    caller = ir.Module(name="stub_caller")
    f32, f64, i32, i64 = ir.FloatType(), ir.DoubleType(), ir.IntType(32), ir.IntType(64)
    target = ir.Function(caller, ir.FunctionType(f64, [i32, f64, ir.PointerType(), f32, i64]), name)
    fn = ir.Function(caller, ir.FunctionType(f64, [i32, f64, ir.PointerType(), f32, i64]), "call_mix")
    b = ir.IRBuilder(fn.append_basic_block())
    b.ret(b.call(target, list(fn.args)))
    jm = jit.JitModule(str(caller), 2)
    assert lib.loaded() == []  # referenced, not compiled
    call = jm.cfunc("call_mix", ctypes.c_double, ctypes.c_int32, ctypes.c_double, ctypes.c_void_p,
                    ctypes.c_float, ctypes.c_int64)
    cell = ctypes.c_double(4.0)
    assert call(3, 0.5, ctypes.addressof(cell), 1.25, 10) == 3 + 0.5 * 4.0 + 1.25 + 10
    assert lib.loaded() == ["mix"]
    assert call(-1, 2.0, ctypes.addressof(cell), 0.5, 1) == -1 + 8.0 + 0.5 + 1  # bound: no recompile
    assert lib.loaded() == ["mix"]


def _targets():
    host = jit.host_target()
    out = [jit.process_target(), cross("aarch64-unknown-linux-gnu", None)]
    if host.is_x86:
        out += [resolve(level, host) for level in ("x86-64", "x86-64-v3", "x86-64-v4")]
    return out


@pytest.mark.parametrize("target", _targets(), ids=lambda t: t.name)
def test_family_symbols_table_matches_the_kernels_ir(target) -> None:
    for build in KERNEL_BUILDERS:
        module = ir.Module(name="probe")
        module.triple = target.triple
        build(module, target)
        defined = {n for n in exported_signatures(module) if n.startswith("trk_")}
        assert defined == set(FAMILY_SYMBOLS[family_name(build)]), family_name(build)


def test_private_library_uses_the_process_thread_pool() -> None:
    from triton_dsl.codegen.kernels import pack, threads

    private = KernelLibrary(builders=[threads.build, pack.build])
    assert private.addresses["trk_parallel_for"] == kernel_library().addresses["trk_parallel_for"]
    assert private.trk_num_threads() == kernel_library().trk_num_threads()
    assert "threads" not in private.families()


def test_a_symbol_missing_from_the_table_is_found_in_the_ir() -> None:
    """A stale symbol table (a kernel added to a file but not to `FAMILY_SYMBOLS`) costs an IR build,
    never an unresolvable symbol."""

    def build() -> ir.Module:
        m = ir.Module(name="stale_table")
        for name, value in (("tdsl_test_listed", 1), ("tdsl_test_unlisted", 2)):
            fn = ir.Function(m, ir.FunctionType(ir.IntType(64), []), name)
            ir.IRBuilder(fn.append_basic_block()).ret(ir.Constant(ir.IntType(64), value))
        return m

    unit = Unit("u", build, 0, symbols=("tdsl_test_listed",))
    lib = LazyLibrary("test-stale", jit.process_target(), [unit], publish=False, cache=False,
                      prefix="tdsl_test_")
    assert "tdsl_test_unlisted" not in lib
    assert ctypes.CFUNCTYPE(ctypes.c_int64)(lib.address("tdsl_test_unlisted"))() == 2
    with pytest.raises(KeyError):
        lib.address("tdsl_test_nowhere")
