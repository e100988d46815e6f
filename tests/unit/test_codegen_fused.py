"""Fused elementwise loops on hand-built IR: broadcasting, scalars, dtypes, errors — against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from codegen_support import call_entry, jit_module

from triton_dsl import jit
from triton_dsl.codegen.module import emit_module
from triton_dsl.ir.builder import Builder
from triton_dsl.ir.nodes import Block, Function, Module, Value
from triton_dsl.ir.types import F32, ScalarTy, TensorTy
from triton_dsl.ir.verifier import verify_module
from triton_dsl.runtime.errors import TritonRuntimeError
from triton_dsl.source import Source, Span

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

SRC = Source("f.triton", "let y = tanh(x / t) + b\n")
SPAN = Span(SRC, 8, 23)


def build(params, ret, body_fn):
    m = Module()
    block = Block([Value(t, f"p{i}") for i, t in enumerate(params)])
    names = [f"p{i}" for i in range(len(params))]
    fn = m.add(Function("f", block, ret, span=SPAN, public=True, param_names=names))
    b = Builder(block, SPAN)
    b.ret(body_fn(b, *block.args))
    verify_module(m)
    return jit_module(emit_module(m, jit.process_target())), fn


def fused_chain(b, x, t, bias):
    def body(bb, args):
        xs, ts, bs = args
        return bb.binary("add", bb.unary("tanh", bb.binary("div", xs, ts)), bs)
    return b.fused([x, t, bias], body)


@pytest.mark.parametrize("xshape,bshape", [((3, 4), (4,)), ((5, 1), (1, 7)), ((0, 3), (3,)), ((1, 1), (1,)),
                                           ((2, 3), (2, 3))])
def test_fused_chain_with_broadcasting(xshape, bshape):
    jm, fn = build([TensorTy("float32", 2), F32, TensorTy("float32", len(bshape))], TensorTy("float32", 2),
                   fused_chain)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(xshape).astype(np.float32)
    bias = rng.standard_normal(bshape).astype(np.float32)
    got = call_entry(jm, fn, x, np.float32(0.7), bias)
    want = np.tanh(x / np.float32(0.7)) + bias
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_single_ops_mixed_dtypes_and_nan():
    def body(b, a, c):
        d = b.binary("sub", a, c)
        sq = b.binary("pow", d, b.const(2.0, ScalarTy("float64")))
        return b.select(b.binary("gt", sq, b.const(1.0, ScalarTy("float64"))), sq, b.unary("neg", sq))
    jm, fn = build([TensorTy("float64", 1), TensorTy("float64", 1)], TensorTy("float64", 1), body)
    a = np.array([1.0, np.nan, np.inf, -2.0, 0.5])
    c = np.array([0.0, 1.0, 1.0, 0.5, 0.25])
    got = call_entry(jm, fn, a, c)
    sq = (a - c) ** 2
    np.testing.assert_array_equal(got, np.where(sq > 1.0, sq, -sq))


def test_shape_mismatch_is_a_runtime_error_with_location():
    jm, fn = build([TensorTy("float32", 2), F32, TensorTy("float32", 1)], TensorTy("float32", 2), fused_chain)
    with pytest.raises(TritonRuntimeError) as info:
        call_entry(jm, fn, np.ones((3, 4), np.float32), np.float32(1), np.ones(5, np.float32))
    err = info.value
    assert (err.file, err.line, err.col) == ("f.triton", 1, 9)
    assert "tanh(x / t) + b" in err.message and "[3, 4]" in err.message


def test_integer_division_by_zero_in_a_tensor_is_reported():
    def body(b, a, c):
        return b.binary("floordiv", a, c)
    jm, fn = build([TensorTy("int32", 1), TensorTy("int32", 1)], TensorTy("int32", 1), body)
    a = np.array([7, -7, 9], np.int32)
    np.testing.assert_array_equal(call_entry(jm, fn, a, np.array([2, 2, -4], np.int32)), a // [2, 2, -4])
    with pytest.raises(TritonRuntimeError, match="integer division by zero"):
        call_entry(jm, fn, a, np.array([1, 0, 1], np.int32))


def test_bool_and_int_outputs():
    def body(b, a, c):
        return b.binary("and", b.binary("lt", a, c), b.unary("not", b.unary("isnan", a)))
    jm, fn = build([TensorTy("float16", 2), TensorTy("float16", 2)], TensorTy("bool", 2), body)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 5)).astype(np.float16)
    a[0, 0] = np.nan
    c = rng.standard_normal((4, 5)).astype(np.float16)
    np.testing.assert_array_equal(call_entry(jm, fn, a, c), (a < c) & ~np.isnan(a))
