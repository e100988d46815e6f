"""The stdlib quantizers (DSL source) against numpy references.

In: DSL functions calling `threshold_quantize`, `stochastic_quantize`, `learned_quantize`,
`xnor_quantize`, `ternary_quantize` (all three methods), `count_trits`, compiled once; fresh random data
and edge cases (values exactly at ±threshold, zeros, NaN/±inf, one element, empty dims, ranks 1-3).
Out: assertions on trits, scale kinds and scales, packed bytes (equal to the reference packer's), and
for the stochastic quantizer on empirical frequencies over many draws and on reproducibility.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import compile_module, ref_threshold

import triton_dsl

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

SOURCE = """
fn tq(x: Tensor<float32, [?, ?]>, t: float32, s: float32) -> TernaryTensor<trit, [?, ?]> {
    return threshold_quantize(x, t, s)
}
fn tq1(x: Tensor<float32, [?]>) -> TernaryTensor<trit, [?]> {
    return threshold_quantize(x)
}
fn tq3(x: Tensor<float32, [?, ?, ?]>, t: float32) -> TernaryTensor<trit, [?, ?, ?]> {
    return threshold_quantize(x, threshold=t)
}
fn adaptive_p(x: Tensor<float32, [?, ?]>, p: float32) -> TernaryTensor<trit, [?, ?]> {
    return adaptive_threshold_quantize(x, percentile=p)
}
fn adaptive_s(x: Tensor<float32, [?, ?]>, s: float32) -> TernaryTensor<trit, [?, ?]> {
    return adaptive_threshold_quantize(x, 0.9, s)
}
fn adaptive_default(x: Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]> {
    return adaptive_threshold_quantize(x)
}
fn stoch(x: Tensor<float32, [?]>, temp: float32, n: int32) -> TernaryTensor<trit, [?]> {
    seed(n)
    return stochastic_quantize(x, temperature=temp)
}
fn stoch_eval(x: Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]> {
    return stochastic_quantize(x, training=false)
}
fn learned(x: Tensor<float32, [?, ?]>, pt: float32, nt: float32, ps: float32, ns: float32)
    -> TernaryTensor<trit, [?, ?]> {
    return learned_quantize(x, pt, nt, ps, ns)
}
fn learned_default(x: Tensor<float32, [?, ?]>, pt: Tensor<float32, []>, nt: Tensor<float32, []>)
    -> TernaryTensor<trit, [?, ?]> {
    return learned_quantize(x, pt, nt)
}
fn learned_channels(x: Tensor<float32, [?, ?]>, pt: Tensor<float32, [?]>, nt: Tensor<float32, [?]>,
    s: Tensor<float32, [?]>) -> TernaryTensor<trit, [?, ?]> {
    return learned_quantize(x, pt, nt, s, s)
}
fn learned_channels_asym(x: Tensor<float32, [?, ?]>, pt: Tensor<float32, [?]>, s: Tensor<float32, [?]>)
    -> TernaryTensor<trit, [?, ?]> {
    return learned_quantize(x, pt, -pt, s, s * 2.0)
}
fn xn(x: Tensor<float32, [?, ?]>) -> Tuple<TernaryTensor<trit, [?, ?]>, float32> {
    return xnor_quantize(x)
}
fn xn_binary(x: Tensor<float32, [?, ?]>) -> Tuple<TernaryTensor<trit, [?, ?]>, float32> {
    return xnor_quantize(x, binary=true)
}
fn twn(x: Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]> {
    return ternary_quantize(x, method="twn")
}
fn general(x: Tensor<float32, [?, ?]>, t: float32) -> TernaryTensor<trit, [?, ?]> {
    return ternary_quantize(x, t)
}
fn general_stochastic(x: Tensor<float32, [?]>, t: float32) -> TernaryTensor<trit, [?]> {
    seed(7)
    return ternary_quantize(x, t, method="stochastic")
}
fn counts(q: TernaryTensor<trit, [?, ?]>) -> Tuple<int32, int32, int32> {
    return count_trits(q)
}
"""


@pytest.fixture(scope="module")
def m():
    return compile_module(SOURCE)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def test_threshold_quantize_random_data_and_packed_bytes(m):
    x = rng().standard_normal((37, 53)).astype(np.float32)
    for t, s in ((0.5, 1.0), (0.3, 2.0), (0.7, 0.5)):
        q = m.tq(x, t, s)
        assert np.array_equal(q.to_numpy(), ref_threshold(x, t, s))
        assert q.scale_kind == "tensor" and q.scales.tolist() == [s]
        reference = triton_dsl.TernaryTensor.quantize(x, t, s)  # the kernel library's fused packer
        assert np.array_equal(q.packed, reference.packed)
        assert np.allclose(q.dequantize(), ref_threshold(x, t, s) * np.float32(s))


def test_threshold_quantize_edges(m):
    x = np.array([[0.5, -0.5, 0.5000001, -0.5000001, 0.0, -0.0],
                  [np.nan, np.inf, -np.inf, 1e30, -1e-30, 0.49999997]], np.float32)
    q = m.tq(x, 0.5, 1.0)
    assert q.to_numpy().tolist() == [[0, 0, 1, -1, 0, 0], [0, 1, -1, 1, 0, 0]]
    # t·s is rounded to float32 before the comparison: 0.1 * 3 > 0.3 in float32
    t = np.float32(0.1) * np.float32(3.0)
    edge = np.array([[t, -t, np.nextafter(t, np.float32(1))]], np.float32)
    assert m.tq(edge, 0.1, 3.0).to_numpy().tolist() == [[0, 0, 1]]
    assert not m.tq(np.zeros((4, 9), np.float32), 0.5, 1.0).to_numpy().any()


def test_threshold_quantize_shapes(m):
    one = m.tq(np.array([[0.9]], np.float32), 0.5, 1.0)
    assert one.shape == (1, 1) and one.to_numpy().tolist() == [[1]]
    for shape in ((0, 5), (3, 0), (0, 0)):
        q = m.tq(np.zeros(shape, np.float32), 0.5, 1.0)
        assert q.shape == shape and q.packed.size == 0
    v = rng(1).standard_normal(13).astype(np.float32)
    assert np.array_equal(m.tq1(v).to_numpy(), ref_threshold(v, 0.5))
    assert m.tq1(np.zeros(0, np.float32)).shape == (0,)
    c = rng(2).standard_normal((2, 3, 5)).astype(np.float32)
    assert np.array_equal(m.tq3(c, 0.2).to_numpy(), ref_threshold(c, 0.2))


def test_adaptive_threshold_quantize(m):
    x = rng(10).standard_normal((40, 25)).astype(np.float32)
    for p in (0.0, 0.3, 0.7, 1.0):
        t = np.float32(np.quantile(np.abs(x), p))
        assert np.array_equal(m.adaptive_p(x, p).to_numpy(), ref_threshold(x, t))
    assert np.array_equal(m.adaptive_default(x).to_numpy(), ref_threshold(x, np.quantile(np.abs(x), 0.7)))
    for s in (0.1, 0.5):  # target_sparsity wins over percentile (0.9 here): about s of the entries are 0
        q = m.adaptive_s(x, s).to_numpy()
        assert np.array_equal(q, ref_threshold(x, np.quantile(np.abs(x), s)))
        assert abs(np.mean(q == 0) - s) <= 1 / x.size
    for bad in (-0.5, 1.5):
        with pytest.raises(triton_dsl.TritonRuntimeError, match="percentile must be a fraction in 0..1"):
            m.adaptive_p(x, bad)
        with pytest.raises(triton_dsl.TritonRuntimeError, match="target_sparsity must be a fraction"):
            m.adaptive_s(x, bad)


def test_stochastic_quantize_frequencies_match_the_stated_probabilities(m):
    n = 4000
    for value, temp in ((0.0, 1.0), (0.6, 1.0), (-1.5, 0.5), (0.5, 0.05)):
        x = np.full(n, value, np.float32)
        q = m.stoch(x, temp, 11).to_numpy()
        p_pos = 1 / (1 + np.exp(-(value - 0.5) / temp))
        p_neg = 1 / (1 + np.exp(-(-value - 0.5) / temp))
        total = max(p_pos + p_neg, 1.0)  # p_zero clamped at 0, then renormalized
        for trit, p in ((1, p_pos / total), (-1, p_neg / total)):
            freq = np.mean(q == trit)
            assert abs(freq - p) < 4 * np.sqrt(p * (1 - p) / n) + 1e-9, (value, temp, trit, freq, p)


def test_stochastic_quantize_is_reproducible_and_seed_dependent(m):
    x = rng(3).standard_normal(2000).astype(np.float32)
    a, b, c = m.stoch(x, 1.0, 5), m.stoch(x, 1.0, 5), m.stoch(x, 1.0, 6)
    assert a == b
    assert not np.array_equal(a.to_numpy(), c.to_numpy())


def test_stochastic_quantize_is_reproducible_across_processes(tmp_path):
    program = tmp_path / "draw.triton"
    program.write_text("seed(123)\nprint(trits(stochastic_quantize(randn([6, 7]))))\n", encoding="utf-8")
    runs = [subprocess.run([sys.executable, "-m", "triton_dsl", "run", str(program)], capture_output=True,
                           text=True, check=True, cwd=Path(__file__).resolve().parents[2]).stdout
            for _ in range(2)]
    assert runs[0] == runs[1] and runs[0].count("[") == 7


def test_stochastic_quantize_edges_and_inference_mode(m):
    x = np.array([np.nan, np.inf, -np.inf, 0.0], np.float32)
    q = m.stoch(x, 1.0, 1).to_numpy()
    assert q[0] == 0 and q[1] == 1 and q[2] == -1
    assert m.stoch(np.zeros(0, np.float32), 1.0, 1).shape == (0,)
    w = rng(4).standard_normal((9, 11)).astype(np.float32)
    assert np.array_equal(m.stoch_eval(w).to_numpy(), ref_threshold(w, 0.5))


def test_learned_quantize_asymmetric(m):
    x = rng(5).standard_normal((16, 24)).astype(np.float32)
    q = m.learned(x, 0.4, -0.8, 1.5, 0.25)
    expect = np.where(x > 0.4, 1, np.where(x < -0.8, -1, 0))
    assert np.array_equal(q.to_numpy(), expect)
    assert q.scale_kind == "asymmetric" and q.scales.tolist() == [1.5, 0.25]
    assert np.allclose(q.dequantize(), np.where(expect > 0, 1.5, np.where(expect < 0, -0.25, 0.0)))
    same = m.learned_default(x, np.float32(0.4), np.float32(-0.8))
    assert same.scale_kind == "tensor" and same.scales.tolist() == [1.0]
    # the +1 test wins where both thresholds hold (neg_threshold above pos_threshold)
    assert m.learned(np.array([[0.5]], np.float32), 0.0, 1.0, 1.0, 1.0).to_numpy().tolist() == [[1]]


def test_learned_quantize_per_channel(m):
    x = rng(12).standard_normal((6, 10)).astype(np.float32)
    pt = np.linspace(0.1, 1.1, 6).astype(np.float32)
    nt = -np.linspace(0.5, 0.0, 6).astype(np.float32)
    s = np.array([1, 2, -1, 0.5, 3, 1], np.float32)
    q = m.learned_channels(x, pt, nt, s)
    expect = np.where(x > pt[:, None], 1, np.where(x < nt[:, None], -1, 0))
    assert np.array_equal(q.to_numpy(), expect)
    assert q.scale_kind == "channel" and np.array_equal(q.scales, s)
    with pytest.raises(triton_dsl.TritonRuntimeError, match="per-channel scales must be the same"):
        m.learned_channels_asym(x, pt, s)


def test_xnor_quantize(m):
    x = rng(6).standard_normal((8, 10)).astype(np.float32)
    x[0, :3] = [0.0, -0.0, np.nan]
    q, alpha = m.xn(x)
    assert np.array_equal(q.to_numpy(), np.nan_to_num(np.sign(x)).astype(np.int8))
    assert q.scales.tolist() == [1.0]
    assert np.isnan(alpha)  # mean(|x|) propagates the NaN, as numpy does
    clean = x.copy()
    clean[0, 2] = 1.0
    q, alpha = m.xn_binary(clean)
    assert np.array_equal(q.to_numpy(), np.where(clean < 0, -1, 1))
    assert alpha == pytest.approx(float(np.mean(np.abs(clean))), rel=1e-6)


def twn_reference(x: np.ndarray) -> tuple[np.ndarray, float]:
    a = np.abs(x)
    delta = np.float32(0.7) * np.float32(np.mean(a, dtype=np.float32))
    kept = a > delta
    alpha = float(a[kept].sum() / kept.sum()) if kept.any() else 0.0
    return np.where(x > delta, 1, np.where(x < -delta, -1, 0)), alpha


def test_ternary_quantize_methods(m):
    x = rng(7).standard_normal((30, 40)).astype(np.float32)
    trits, alpha = twn_reference(x)
    q = m.twn(x)
    assert np.array_equal(q.to_numpy(), trits)
    assert q.scales[0] == pytest.approx(alpha, rel=1e-5)
    zero = m.twn(np.zeros((3, 3), np.float32))
    assert not zero.to_numpy().any() and zero.scales.tolist() == [0.0]
    empty = m.twn(np.zeros((0, 4), np.float32))
    assert empty.shape == (0, 4) and empty.scales.tolist() == [0.0]
    single = m.twn(np.array([[-2.0]], np.float32))
    assert single.to_numpy().tolist() == [[-1]] and single.scales.tolist() == [2.0]
    assert np.array_equal(m.general(x, 0.3).to_numpy(), ref_threshold(x, 0.3))
    v = rng(8).standard_normal(500).astype(np.float32)
    a, b = m.general_stochastic(v, 0.5), m.general_stochastic(v, 0.5)
    assert a == b
    big = np.abs(v) > 4  # far from the threshold the draw is almost surely the sign
    assert np.array_equal(a.to_numpy()[big], np.sign(v[big]))


def test_count_trits(m):
    x = rng(9).standard_normal((19, 23)).astype(np.float32)
    q = m.tq(x, 0.5, 3.0)  # a scale other than 1: counts are of trits, not values
    t = ref_threshold(x, 0.5, 3.0)
    assert m.counts(q) == (int((t == -1).sum()), int((t == 0).sum()), int((t == 1).sum()))
