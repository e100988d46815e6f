"""Every symbol generated code needs is ours or bound explicitly, and an unresolvable one is an error.

The half-precision support functions (`codegen/builtins.py`) are checked bit for bit against numpy's
conversions: every one of the 65,536 half values for the widening, and rounding edges (ties, the
subnormal and overflow boundaries, signed zeros, infinities, NaN) plus random doubles for the narrowing.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest
from llvmlite import ir

from triton_dsl import jit
from triton_dsl.codegen.builtins import HALF, I16
from triton_dsl.diagnostics import InternalCompilerError
from triton_dsl.elf_symbols import undefined_symbols

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

F32, F64 = ir.FloatType(), ir.DoubleType()


def _wrappers() -> jit.JitModule:
    """i16 trunc_d(double), i16 trunc_f(float), float ext_f(i16), double ext_d(i16), each calling the
    support function by name (so the test exercises ours even where the CPU converts natively)."""
    module = ir.Module(name="f16_wrappers")
    for name, builtin, arg, ret in (("trunc_d", "__truncdfhf2", F64, HALF),
                                    ("trunc_f", "__truncsfhf2", F32, HALF),
                                    ("ext_f", "__extendhfsf2", HALF, F32),
                                    ("ext_d", "__extendhfdf2", HALF, F64)):
        target = ir.Function(module, ir.FunctionType(ret, [arg]), builtin)
        outer_arg, outer_ret = (I16, ret) if arg is HALF else (arg, I16)
        fn = ir.Function(module, ir.FunctionType(outer_ret, [outer_arg]), name)
        b = ir.IRBuilder(fn.append_basic_block())
        x = b.bitcast(fn.args[0], HALF) if arg is HALF else fn.args[0]
        y = b.call(target, [x])
        b.ret(b.bitcast(y, I16) if ret is HALF else y)
    return jit.JitModule(str(module), 0)


@pytest.fixture(scope="module")
def conv():
    jm = _wrappers()
    return {
        "trunc_d": jm.cfunc("trunc_d", ctypes.c_uint16, ctypes.c_double),
        "trunc_f": jm.cfunc("trunc_f", ctypes.c_uint16, ctypes.c_float),
        "ext_f": jm.cfunc("ext_f", ctypes.c_float, ctypes.c_uint16),
        "ext_d": jm.cfunc("ext_d", ctypes.c_double, ctypes.c_uint16),
        "jm": jm,
    }


@pytest.fixture(autouse=True)
def _quiet_overflow():
    with np.errstate(over="ignore"):  # numpy's own float16 casts of out-of-range edges
        yield


def _same_half(got: int, want: np.float16) -> bool:
    w = int(np.array(want).view(np.uint16))
    if np.isnan(want):  # any quiet NaN of the same sign
        return (got & 0x7C00) == 0x7C00 and (got & 0x3FF) != 0 and (got >> 15) == (w >> 15)
    return got == w


def test_extend_every_half_value_exactly(conv):
    bits = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    want32 = bits.view(np.float16).astype(np.float32)
    got32 = np.array([conv["ext_f"](int(h)) for h in bits], dtype=np.float32)
    got64 = np.array([conv["ext_d"](int(h)) for h in bits], dtype=np.float64)
    nan = np.isnan(want32)
    assert np.array_equal(np.isnan(got32), nan) and np.array_equal(np.isnan(got64), nan)
    assert np.array_equal(got32[~nan].view(np.uint32), want32[~nan].view(np.uint32))  # signed zeros too
    assert np.array_equal(got64[~nan].view(np.uint64), want32[~nan].astype(np.float64).view(np.uint64))


def _edge_doubles() -> np.ndarray:
    halves = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).view(np.float16)
    finite = halves[np.isfinite(halves)].astype(np.float64)
    up = np.nextafter(finite[:-1], np.inf)
    # midpoints between neighbouring halves (exact ties) and one ulp either side of them
    ordered = np.unique(finite)
    mids = (ordered[:-1] + ordered[1:]) / 2
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 65504.0, 65519.999, 65520.0, 1e300, -1e300,
             2.0 ** -24, 2.0 ** -25, np.nextafter(2.0 ** -25, 1), 2.0 ** -26, 5e-324, -5e-324, 6.1e-5]
    return np.concatenate([finite, up, mids, np.nextafter(mids, np.inf), np.nextafter(mids, -np.inf),
                           np.array(edges)])


def test_truncate_double_rounds_to_nearest_even(conv):
    rng = np.random.default_rng(7)
    xs = np.concatenate([_edge_doubles(), rng.standard_normal(20000) * 10.0 ** rng.integers(-9, 6, 20000)])
    bad = [x for x in xs if not _same_half(conv["trunc_d"](float(x)), np.float16(x))]
    assert not bad, f"{len(bad)} wrong, e.g. {bad[:5]}"


def test_truncate_float_rounds_once(conv):
    rng = np.random.default_rng(8)
    xs = np.concatenate([_edge_doubles().astype(np.float32),
                         rng.standard_normal(20000).astype(np.float32) * np.float32(300.0)])
    bad = [x for x in xs if not _same_half(conv["trunc_f"](float(x)), np.float16(x))]
    assert not bad, f"{len(bad)} wrong, e.g. {bad[:5]}"


def test_generated_fptrunc_resolves_on_this_cpu():
    """A module converting with plain `fptrunc`/`fpext` (libcalls on CPUs without FP16 instructions)."""
    module = ir.Module(name="plain_fptrunc")
    fn = ir.Function(module, ir.FunctionType(F64, [F64]), "roundtrip")
    b = ir.IRBuilder(fn.append_basic_block())
    b.ret(b.fpext(b.fptrunc(fn.args[0], HALF), F64))
    jm = jit.JitModule(str(module), 2)
    f = jm.cfunc("roundtrip", ctypes.c_double, ctypes.c_double)
    assert f(1.0 + 2.0 ** -11) == 1.0 and f(1.0 + 3 * 2.0 ** -11) == 1.0 + 2.0 ** -9 and f(7e4) == np.inf


def test_unresolvable_external_is_an_internal_error_naming_it():
    module = ir.Module(name="dangling")
    missing = ir.Function(module, ir.FunctionType(ir.VoidType(), []), "tdsl_no_such_symbol_anywhere")
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), []), "caller")
    b = ir.IRBuilder(fn.append_basic_block())
    b.call(missing, [])
    b.ret_void()
    with pytest.raises(InternalCompilerError) as err:
        jit.JitModule(str(module), 0)
    text = str(err.value)
    assert "tdsl_no_such_symbol_anywhere" in text and "'dangling'" in text and "target CPU" in text


def test_undefined_symbols_reads_the_object():
    module = ir.Module(name="refs")
    ext = ir.Function(module, ir.FunctionType(ir.VoidType(), []), "some_external")
    fn = ir.Function(module, ir.FunctionType(ir.VoidType(), []), "defined_here")
    b = ir.IRBuilder(fn.append_basic_block())
    b.call(ext, [])
    b.ret_void()
    names = undefined_symbols(jit.emit_object(str(module), opt_level=0))
    assert "some_external" in names and "defined_here" not in names
    with pytest.raises(ValueError):
        undefined_symbols(b"\xcf\xfa\xed\xfe not elf")
