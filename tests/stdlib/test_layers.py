"""Quantization-aware ops of the stdlib against numpy references.

In: DSL functions calling `quantized_linear`, `quantized_matmul`, `bitlinear`, `quantized_conv2d` with
fresh random data. Out: outputs equal (to float32 rounding) to numpy computing the same quantization
(TWN / absmean) and the float product; pre-quantized weights used as they are; the products with a
ternary operand run the packed kernels (the IR holds the ternary matmul / conv op, never a dequantize
of the weights).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import compile_module

import triton_dsl

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

SOURCE = """
fn lin(x: Tensor<float32, [b, i]>, w: Tensor<float32, [i, o]>, bias: Tensor<float32, [o]>)
    -> Tensor<float32, [b, o]> {
    return quantized_linear(x, w, bias)
}
fn lin_float(x: Tensor<float32, [b, i]>, w: Tensor<float32, [i, o]>) -> Tensor<float32, [b, o]> {
    return quantized_linear(x, w, quantize_weights=false)
}
fn lin_pre(x: Tensor<float32, [b, i]>, q: TernaryTensor<trit, [i, o]>) -> Tensor<float32, [b, o]> {
    return quantized_linear(x, q)
}
fn qmm(a: Tensor<float32, [m, k]>, b: Tensor<float32, [k, n]>) -> Tensor<float32, [m, n]> {
    return quantized_matmul(a, b)
}
fn qmm_none(a: Tensor<float32, [m, k]>, b: Tensor<float32, [k, n]>) -> Tensor<float32, [m, n]> {
    return quantized_matmul(a, b, quantize_b=false, use_ste=false)
}
fn bl(x: Tensor<float32, [b, i]>, w: Tensor<float32, [i, o]>) -> Tensor<float32, [b, o]> {
    return bitlinear(x, w)
}
fn bl_pre(x: Tensor<float32, [b, i]>, q: TernaryTensor<trit, [i, o]>) -> Tensor<float32, [b, o]> {
    return bitlinear(x, q)
}
fn conv(x: Tensor<float32, [n, c, h, w]>, k: Tensor<float32, [o, c, kh, kw]>, bias: Tensor<float32, [o]>)
    -> Tensor<float32, [n, o, ?, ?]> {
    return quantized_conv2d(x, k, bias, stride=2, padding=1)
}
fn conv_float(x: Tensor<float32, [n, c, h, w]>, k: Tensor<float32, [o, c, kh, kw]>)
    -> Tensor<float32, [n, o, ?, ?]> {
    return quantized_conv2d(x, k, quantize_weights=false)
}
fn conv_act(x: Tensor<float32, [n, c, h, w]>, k: Tensor<float32, [o, c, kh, kw]>)
    -> Tensor<float32, [n, o, ?, ?]> {
    return quantized_conv2d(x, k, stride=1, padding=2, quantize_activations=true)
}
"""


@pytest.fixture(scope="module")
def m():
    return compile_module(SOURCE)


def data(*shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed + sum(shape)).standard_normal(shape).astype(np.float32)


def twn(w: np.ndarray) -> np.ndarray:
    a = np.abs(w)
    delta = np.float32(0.7) * np.float32(np.mean(a, dtype=np.float32))
    kept = a > delta
    alpha = np.float32(a[kept].sum() / kept.sum()) if kept.any() else np.float32(0)
    return np.where(w > delta, alpha, np.where(w < -delta, -alpha, np.float32(0))).astype(np.float32)


def close(a, b, scale=1.0):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * scale)


def test_quantized_linear(m):
    x, w, bias = data(8, 33), data(33, 20, seed=1), data(20, seed=2)
    close(m.lin(x, w, bias), x @ twn(w) + bias)
    close(m.lin_float(x, w), x @ w)
    q = triton_dsl.TernaryTensor.quantize(w, 0.5, 0.25)  # used as it is, with its own scale
    close(m.lin_pre(x, q), x @ q.dequantize())


def test_quantized_matmul(m):
    a, b = data(6, 40), data(40, 9, seed=3)
    close(m.qmm(a, b), a @ twn(b))
    close(m.qmm_none(a, b), a @ b)


def bitlinear_reference(x: np.ndarray, w_value: np.ndarray, trits: np.ndarray) -> np.ndarray:
    gamma = np.abs(x).max(axis=1, keepdims=True)
    safe = np.where(gamma > 0, gamma, np.float32(1))
    xq = np.round(np.clip(x * (np.float32(127) / safe), -127, 127))
    return (xq @ w_value) * (safe / np.float32(127))


def test_bitlinear(m):
    x, w = data(5, 48), data(48, 16, seed=4)
    x[2] = 0.0  # a zero row stays zero
    g = np.float32(np.mean(np.abs(w)))
    trits = np.round(np.clip(w / (g + np.float32(1e-5)), -1, 1))
    close(m.bl(x, w), bitlinear_reference(x, trits * g, trits))
    assert not m.bl(x, w)[2].any()
    q = triton_dsl.TernaryTensor.quantize(w, 0.4, 1.0)
    close(m.bl_pre(x, q), bitlinear_reference(x, q.dequantize(), q.to_numpy()))
    # int8 activations: within the documented bound of the float product
    exact = x @ q.dequantize()
    bound = np.abs(x).max(axis=1, keepdims=True) / 254 * np.abs(q.to_numpy()).sum(axis=0) + 1e-5
    assert np.all(np.abs(m.bl_pre(x, q) - exact) <= bound)


def conv_reference(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    b, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((b, o, oh, ow), np.float64)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            y[:, :, i, j] = np.einsum("bchw,ochw->bo", patch, w)
    return y.astype(np.float32)


def test_quantized_conv2d(m):
    x, k, bias = data(2, 3, 11, 9), data(5, 3, 3, 3, seed=5), data(5, seed=6)
    y = m.conv(x, k, bias)
    assert y.shape == (2, 5, 6, 5)
    close(y, conv_reference(x, twn(k), 2, 1) + bias[None, :, None, None])
    close(m.conv_float(x, k), conv_reference(x, k, 1, 0))
    close(m.conv_act(x, k), conv_reference(twn(x), twn(k), 1, 2))


def test_conv2d_errors_are_clean(m):
    with pytest.raises(triton_dsl.TritonRuntimeError, match="larger than the padded input"):
        m.conv_float(data(1, 3, 2, 2), data(4, 3, 3, 3))


def test_products_with_ternary_weights_run_the_packed_kernels(m):
    # the stdlib bodies' IR: every product with a ternary weight is the packed-kernel op, and no
    # ternary weight is ever dequantized (the float weights are never materialized)
    for name, op in (("_ternary_product", "ternary_matmul"), ("quantized_matmul", "ternary_matmul"),
                     ("_bitlinear_product", "ternary_matmul"), ("quantized_conv2d", "rt @trt_conv2d_t2")):
        ir = m.ir(name)
        assert op in ir, name
        assert "dequantize %w" not in ir and "dequantize %weight" not in ir, name
    # and in the emitted LLVM IR the product is a call of the packed GEMM kernel
    llvm = m.llvm_ir("_ternary_product")
    assert "trk_matmul_f32_t2" in llvm and "trk_relayout_t2_panels" in llvm
