"""Dequantizers, statistics helpers and the per-channel form of `ternarize`, against numpy.

In: DSL functions calling `dequantize` (scale, float16/float64), `affine_dequantize` (per tensor, per
channel along axis 0 with scales of both signs, zero points), `percentile_value`,
`compute_threshold_for_sparsity`, and `ternarize` with per-channel thresholds and scales. Out: values
equal to numpy's (quantiles with numpy's linear interpolation), clean run-time errors for bad fractions,
empty inputs and mismatched per-channel lengths.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import compile_module, ref_threshold

import triton_dsl

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

SOURCE = """
fn tq(x: Tensor<float32, [?, ?]>, s: float32) -> TernaryTensor<trit, [?, ?]> {
    return threshold_quantize(x, 0.5, s)
}
fn deq(q: TernaryTensor<trit, [?, ?]>, s: float32) -> Tensor<float32, [?, ?]> {
    return dequantize(q, scale=s)
}
fn deq16(q: TernaryTensor<trit, [?, ?]>) -> Tensor<float16, [?, ?]> {
    return dequantize(q, dtype=float16)
}
fn deq64(q: TernaryTensor<trit, [?, ?]>) -> Tensor<float64, [?, ?]> {
    return dequantize(q, 2.0, float64)
}
fn aff_tensor(q: TernaryTensor<trit, [?, ?]>, s: float32, z: float32) -> Tensor<float32, [?, ?]> {
    return affine_dequantize(q, s, z)
}
fn aff_channel(q: TernaryTensor<trit, [?, ?]>, s: Tensor<float32, [?]>, z: Tensor<float32, [?]>)
    -> Tensor<float32, [?, ?]> {
    return affine_dequantize(q, s, z)
}
fn aff_channel3(q: TernaryTensor<trit, [?, ?, ?]>, s: Tensor<float32, [?]>) -> Tensor<float32, [?, ?, ?]> {
    return affine_dequantize(q, s)
}
fn tq3(x: Tensor<float32, [?, ?, ?]>) -> TernaryTensor<trit, [?, ?, ?]> {
    return threshold_quantize(x)
}
fn pv(x: Tensor<float32, [?]>, q: float32) -> float32 {
    return percentile_value(x, q)
}
fn pv2(x: Tensor<float32, [?, ?]>, q: float32) -> float32 {
    return percentile_value(x, q)
}
fn sparsity(x: Tensor<float32, [?, ?]>, s: float32) -> float32 {
    return compute_threshold_for_sparsity(x, s)
}
fn per_channel(x: Tensor<float32, [?, ?]>, t: Tensor<float32, [?]>, s: Tensor<float32, [?]>)
    -> TernaryTensor<trit, [?, ?]> {
    return ternarize(x, t, -t, s, s)
}
fn per_channel1(x: Tensor<float32, [?]>, t: Tensor<float32, [?]>) -> TernaryTensor<trit, [?]> {
    return ternarize(x, t, -t)
}
"""


@pytest.fixture(scope="module")
def m():
    return compile_module(SOURCE)


def data(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_dequantize_scale_and_dtypes(m):
    x = data((12, 17))
    q = m.tq(x, 1.5)
    value = ref_threshold(x, 0.5, 1.5) * np.float32(1.5)
    out = m.deq(q, 2.0)
    assert out.dtype == np.float32 and np.array_equal(out, value * np.float32(2.0))
    half = m.deq16(q)
    assert half.dtype == np.float16 and np.array_equal(half, value.astype(np.float16))
    wide = m.deq64(q)
    assert wide.dtype == np.float64 and np.array_equal(wide, (value * np.float32(2.0)).astype(np.float64))
    assert m.deq(m.tq(np.zeros((0, 3), np.float32), 1.0), 2.0).shape == (0, 3)


def test_affine_dequantize_per_tensor_and_per_channel(m):
    x = data((6, 9), 1)
    q = m.tq(x, 1.0)
    t = ref_threshold(x, 0.5).astype(np.float32)
    assert np.allclose(m.aff_tensor(q, 1.5, 0.5), 1.5 * t + 0.5)
    scales = np.array([2.0, -1.0, 0.5, -3.0, 0.0, 1.0], np.float32)  # both signs, and a zero
    zeros = np.linspace(-1, 1, 6).astype(np.float32)
    out = m.aff_channel(q, scales, zeros)
    assert np.allclose(out, t * scales[:, None] + zeros[:, None])
    c = data((4, 3, 5), 2)
    q3 = m.tq3(c)
    s3 = np.array([1.0, -2.0, 3.0, -4.0], np.float32)
    assert np.allclose(m.aff_channel3(q3, s3), ref_threshold(c, 0.5) * s3[:, None, None])


def test_affine_dequantize_channel_count_mismatch_is_a_runtime_error(m):
    q = m.tq(data((6, 9), 1), 1.0)
    with pytest.raises(triton_dsl.TritonRuntimeError, match="per-channel"):
        m.aff_channel(q, np.ones(5, np.float32), np.zeros(5, np.float32))


@pytest.mark.parametrize("q", [0.0, 0.05, 0.3, 0.5, 0.7, 0.999, 1.0])
def test_percentile_value_matches_numpy(m, q):
    for n in (1, 2, 10, 1001):
        x = data(n, n)
        assert m.pv(x, q) == pytest.approx(float(np.quantile(x, q)), rel=1e-6, abs=1e-7)
    ties = np.array([3, 1, 2, 2, 2, 2, 0, 2], np.float32)
    assert m.pv(ties, q) == pytest.approx(float(np.quantile(ties, q)), rel=1e-6)
    x2 = data((33, 7), 3)
    assert m.pv2(x2, q) == pytest.approx(float(np.quantile(x2, q)), rel=1e-6, abs=1e-7)


def test_percentile_value_edges(m):
    assert np.isnan(m.pv(np.array([1.0, np.nan, 2.0], np.float32), 0.5))
    infinite = np.array([np.inf, 1.0, -np.inf, 2.0], np.float32)
    with np.errstate(invalid="ignore"):  # numpy's own interpolation gives NaN between -inf and a number
        for q in (0.0, 0.2, 0.5, 0.9, 1.0):
            np.testing.assert_equal(m.pv(infinite, q), np.float32(np.quantile(infinite, q)))
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(triton_dsl.TritonRuntimeError, match="q must be a fraction in 0..1"):
            m.pv(data(5), bad)
    with pytest.raises(triton_dsl.TritonRuntimeError, match="empty"):
        m.pv(np.zeros(0, np.float32), 0.5)


def test_compute_threshold_for_sparsity(m):
    x = data((40, 50), 4)
    for s in (0.1, 0.3, 0.9):
        t = m.sparsity(x, s)
        assert t == pytest.approx(float(np.quantile(np.abs(x), s)), rel=1e-6)
        assert abs(np.mean(np.abs(x) <= t) - s) < 1e-3


def test_ternarize_per_channel_thresholds_and_scales(m):
    x = data((5, 8), 5)
    t = np.array([0.1, 0.5, 1.0, 0.0, 2.0], np.float32)
    s = np.array([1.0, -2.0, 0.5, 3.0, 1.0], np.float32)
    q = m.per_channel(x, t, s)
    expect = np.where(x > t[:, None], 1, np.where(x < -t[:, None], -1, 0))
    assert np.array_equal(q.to_numpy(), expect)
    assert q.scale_kind == "channel" and np.array_equal(q.scales, s)
    assert np.allclose(q.dequantize(), expect * s[:, None])
    v = data(7, 6)
    tv = np.linspace(0, 1.2, 7).astype(np.float32)  # rank 1: one threshold per element
    assert np.array_equal(m.per_channel1(v, tv).to_numpy(), np.where(v > tv, 1, np.where(v < -tv, -1, 0)))
    with pytest.raises(triton_dsl.TritonRuntimeError, match="first dim"):
        m.per_channel(x, np.ones(4, np.float32), np.ones(5, np.float32))
