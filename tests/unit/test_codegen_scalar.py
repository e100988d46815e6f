"""Codegen of scalar functions and structured control flow, on hand-built IR, called through ctypes."""

from __future__ import annotations

import ctypes
import math

import numpy as np
import pytest
from codegen_support import CTX_SIZE, jit_module, runtime_error

from triton_dsl import jit
from triton_dsl.codegen.module import emit_module
from triton_dsl.ir.builder import Builder
from triton_dsl.ir.nodes import Block, Function, Module, Value
from triton_dsl.ir.printer import print_module
from triton_dsl.ir.types import BOOL, F32, F64, I32, I64, ScalarTy
from triton_dsl.ir.verifier import verify_module
from triton_dsl.source import Source, Span

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

SRC = Source("t.triton", "let x = 1\nlet y = 2\n")
SPAN = Span(SRC, 4, 5)


def make_fn(module: Module, name: str, params: list, ret) -> tuple[Function, Builder]:
    body = Block([Value(t, f"p{i}") for i, t in enumerate(params)])
    names = [f"p{i}" for i in range(len(params))]
    fn = module.add(Function(name, body, ret, span=SPAN, public=True, param_names=names))
    return fn, Builder(body, SPAN)


def compile_call(module: Module, name: str, restype, *argtypes):
    verify_module(module)
    jm = jit_module(emit_module(module, jit.process_target()))
    fn = jm.cfunc(f"tdsl.{name}", restype, ctypes.c_void_p, *argtypes)
    ctx = ctypes.create_string_buffer(CTX_SIZE)
    return jm, (lambda *a: fn(ctx, *a)), ctx


def test_arithmetic_and_printer():
    m = Module()
    fn, b = make_fn(m, "poly", [F32, F32], F32)
    x, y = fn.params
    t = b.binary("mul", x, y)
    t = b.binary("add", t, b.const(1.5, F32))
    b.ret(b.unary("sqrt", b.unary("abs", t)))
    text = print_module(m)
    assert "binary mul %p0.0, %p1.1 : f32" in text and "@1:5" in text
    jm, call, _ = compile_call(m, "poly", ctypes.c_float, ctypes.c_float, ctypes.c_float)
    for a, c in [(2.0, 3.0), (-4.0, 0.5), (0.0, 0.0)]:
        assert call(a, c) == pytest.approx(math.sqrt(abs(a * c + 1.5)), rel=1e-6)


@pytest.mark.parametrize("op", ["floordiv", "mod"])
def test_int_floor_division_matches_python(op):
    m = Module()
    fn, b = make_fn(m, "f", [I32, I32], I32)
    b.ret(b.binary(op, *fn.params))
    jm, call, ctx = compile_call(m, "f", ctypes.c_int32, ctypes.c_int32, ctypes.c_int32)
    for a in (-7, -1, 0, 5, 7, -(2**31)):
        for d in (-3, -1, 1, 2, 3):
            want = a // d if op == "floordiv" else a % d
            want = (want + 2**31) % 2**32 - 2**31  # wraps like int32
            assert call(a, d) == want, (a, d)
    call(5, 0)
    assert runtime_error(ctx) == ("integer division by zero", "t.triton", 1, 5)


@pytest.mark.parametrize("op", ["floordiv", "mod"])
def test_float_floor_division_matches_numpy(op):
    m = Module()
    fn, b = make_fn(m, "f", [F64, F64], F64)
    b.ret(b.binary(op, *fn.params))
    jm, call, _ = compile_call(m, "f", ctypes.c_double, ctypes.c_double, ctypes.c_double)
    ref = np.floor_divide if op == "floordiv" else np.remainder
    vals = [-7.5, -1.0, -0.0, 0.0, 0.3, 5.25, math.inf, -math.inf, math.nan]
    with np.errstate(all="ignore"):
        for a in vals:
            for d in vals:
                got, want = call(a, d), float(ref(a, d))
                same = got == want and math.copysign(1, got) == math.copysign(1, want)
                assert (math.isnan(got) and math.isnan(want)) or same, (a, d, got, want)


def test_if_for_while_and_break():
    # sum_{i in 0..n} (i odd ? i : -i), stopping early when the sum exceeds `limit`; then a while loop
    m = Module()
    fn, b = make_fn(m, "loop", [I32, I32], I32)
    n, limit = fn.params
    zero, one, two = (b.const(v, I32) for v in (0, 1, 2))
    loop = b.for_(zero, n, one, [zero])
    body = loop.regions[0]
    i, acc = body.args
    with b.at(body):
        odd = b.binary("eq", b.binary("mod", i, two), one)
        pick = b.if_(odd, [I32])
        with b.at(pick.regions[0]):
            b.yield_([i])
        with b.at(pick.regions[1]):
            b.yield_([b.unary("neg", i)])
        acc2 = b.binary("add", acc, pick.result)
        stop = b.if_(b.binary("gt", acc2, limit), [])
        with b.at(stop.regions[0]):
            b.op("break", [acc2])
        with b.at(stop.regions[1]):
            b.yield_([])
        b.yield_([acc2])
    total = loop.result
    # while total < 100: total = total * 2 + 1   (only when total > 0)
    w = b.while_([total])
    with b.at(w.regions[0]):
        t = w.regions[0].args[0]
        b.condition(b.binary("and", b.binary("lt", t, b.const(100, I32)), b.binary("gt", t, zero)))
    with b.at(w.regions[1]):
        t = w.regions[1].args[0]
        b.yield_([b.binary("add", b.binary("mul", t, two), one)])
    b.ret(w.result)
    jm, call, _ = compile_call(m, "loop", ctypes.c_int32, ctypes.c_int32, ctypes.c_int32)

    def ref(n, limit):
        acc = 0
        for i in range(n):
            acc += i if i % 2 == 1 else -i
            if acc > limit:
                break
        while 0 < acc < 100:
            acc = acc * 2 + 1
        return acc

    for n, limit in [(0, 5), (10, 100), (10, 0), (7, -100), (50, 3)]:
        assert call(n, limit) == ref(n, limit), (n, limit)


def test_casts_calls_tuples_and_float16():
    m = Module()
    helper, hb = make_fn(m, "pair", [F32], None or ScalarTy("float16"))
    hb.ret(hb.cast(hb.binary("mul", helper.params[0], hb.const(3.0, F32)), "float16"))
    helper.public = False
    fn, b = make_fn(m, "main", [F32, I64], F64)
    h = b.call("pair", [fn.params[0]], ScalarTy("float16"), SPAN).result
    tup = b.tuple([h, fn.params[1]])
    as64 = b.binary("add", b.cast(b.get(tup, 0), "float64"), b.cast(b.get(tup, 1), "float64"))
    b.ret(as64)
    jm, call, _ = compile_call(m, "main", ctypes.c_double, ctypes.c_float, ctypes.c_int64)
    for x, k in [(0.1, 3), (1000.7, -2), (-2.5, 0)]:
        assert call(x, k) == float(np.float16(np.float32(x) * np.float32(3.0))) + k


def test_trit_cast_fails_cleanly_and_bool_logic():
    m = Module()
    fn, b = make_fn(m, "t", [F32, BOOL], I32)
    t = b.cast(fn.params[0], "trit", SPAN)
    r = b.cast(t, "int32")
    flag = b.cast(b.unary("not", fn.params[1]), "int32")
    b.ret(b.binary("add", r, flag))
    jm, call, ctx = compile_call(m, "t", ctypes.c_int32, ctypes.c_float, ctypes.c_bool)
    assert call(-1.0, True) == -1 and call(1.0, False) == 2 and call(0.0, True) == 0
    call(0.5, True)
    assert runtime_error(ctx)[0] == "value is not a trit (-1, 0 or 1)"
