"""Forward values of the gradient-section stdlib functions (DSL source) against numpy references.

In: DSL functions calling `clipped_ste_quantize`, `soft_quantize` (soft and hard) and
`gumbel_softmax_quantize` (soft and hard), compiled once; random data and edge cases (±inf, NaN, zeros,
values at the clipping threshold). Out: clipped STE forward = dequantized `ternary_quantize`; soft =
tanh(x / t), hard = its nearest ternary value; gumbel output in [-1, 1], hard output in {-1, 0, 1}, both
reproducible under a fixed `seed`, and a statistical check that large |x| at a small temperature gives
sign(x). `ste_quantize` (default quantize_fn) = dequantized `ternary_quantize`. The seed's blocks of
"Gradient Handling" that use only these functions (24, 26, 28) run under `tritonc run` (block 22, which
trains, is tests/stdlib/test_training.py's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import seed_digest
from conftest import compile_module, ref_threshold

import triton_dsl

SOURCE = """
fn clipped(x: Tensor<float32, [?, ?]>, t: float32) -> Tensor<float32, [?, ?]> {
    return clipped_ste_quantize(x, threshold=t)
}
fn clipped_default(x: Tensor<float32, [?]>) -> Tensor<float32, [?]> {
    return clipped_ste_quantize(x)
}
fn soft(x: Tensor<float32, [?, ?]>, t: float32, hard: bool) -> Tensor<float32, [?, ?]> {
    return soft_quantize(x, temperature=t, hard=hard)
}
fn soft_default(x: Tensor<float32, [?]>) -> Tensor<float32, [?]> {
    return soft_quantize(x)
}
fn gumbel(x: Tensor<float32, [?, ?]>, t: float32, hard: bool, n: int32) -> Tensor<float32, [?, ?]> {
    seed(n)
    return gumbel_softmax_quantize(x, temperature=t, hard=hard)
}
fn gumbel_default(x: Tensor<float32, [?]>, n: int32) -> Tensor<float32, [?]> {
    seed(n)
    return gumbel_softmax_quantize(x)
}
"""


@pytest.fixture(scope="module")
def m() -> triton_dsl.Module:
    return compile_module(SOURCE)


def _ternary_value(x: np.ndarray) -> np.ndarray:
    """ternary_quantize's defaults (method "threshold", threshold 0.5, scale 1) as floats."""
    return ref_threshold(x, 0.5).astype(np.float32)


@pytest.mark.parametrize("t", [1.0, 0.3, 2.0])
def test_clipped_ste_forward_is_the_quantized_value(m, t):
    x = np.random.default_rng(1).standard_normal((17, 9)).astype(np.float32) * 2
    x[0, :4] = [0.5, -0.5, t, -t]  # at the quantizer's threshold and at the clipping threshold
    np.testing.assert_array_equal(m.clipped(x, t), _ternary_value(x))


def test_clipped_ste_forward_on_non_finite_and_default_threshold(m):
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 0.51, -0.51, 3.0e38], np.float32)
    np.testing.assert_array_equal(m.clipped_default(x), [1, -1, 0, 0, 0, 1, -1, 1])


@pytest.mark.parametrize("t", [1.0, 0.1, 3.5])
def test_soft_quantize_is_tanh(m, t):
    x = np.random.default_rng(2).standard_normal((13, 7)).astype(np.float32) * 3
    ref = np.tanh(x / np.float32(t))
    np.testing.assert_allclose(m.soft(x, t, False), ref, rtol=2e-6, atol=2e-7)


def test_soft_quantize_default_and_edges(m):
    x = np.array([np.inf, -np.inf, 0.0, 1.0, -2.0, 40.0], np.float32)
    np.testing.assert_allclose(m.soft_default(x), np.tanh(x), rtol=2e-6, atol=2e-7)
    assert np.isnan(m.soft_default(np.array([np.nan], np.float32))[0])


@pytest.mark.parametrize("t", [1.0, 0.1, 2.0])
def test_soft_quantize_hard_is_the_nearest_ternary_value(m, t):
    x = np.random.default_rng(3).standard_normal((21, 5)).astype(np.float32) * 2
    x[0, :3] = [np.inf, -np.inf, 0.0]
    got = m.soft(x, t, True)
    soft = np.tanh(x / np.float32(t))
    keep = np.abs(np.abs(soft) - 0.5) > 1e-5  # leave entries within rounding of the 0.5 boundary
    np.testing.assert_array_equal(got[keep], np.round(soft[keep]))
    assert set(np.unique(got)) <= {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("t", [1.0, 0.5, 0.05])
def test_gumbel_soft_output_is_in_range_and_reproducible(m, t):
    x = np.random.default_rng(4).standard_normal((30, 20)).astype(np.float32) * 2
    a = m.gumbel(x, t, False, 7)
    assert np.all(np.isfinite(a)) and np.all(np.abs(a) <= 1.0)
    np.testing.assert_array_equal(m.gumbel(x, t, False, 7), a)
    assert not np.array_equal(m.gumbel(x, t, False, 8), a)  # the noise depends on the seed


def test_gumbel_hard_is_the_argmax_of_the_same_draw(m):
    x = np.random.default_rng(5).standard_normal((40, 25)).astype(np.float32) * 2
    hard = m.gumbel(x, 0.7, True, 11)
    soft = m.gumbel(x, 0.7, False, 11)  # same seed: same noise, so hard is the soft output's argmax
    assert set(np.unique(hard)) == {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(m.gumbel(x, 0.7, True, 11), hard)
    # p(+1) >= p(+1) - p(-1) = soft: soft > 1/2 means p(+1) is the majority, so the argmax (same for -1)
    assert np.all(hard[soft > 0.5] == 1.0) and np.all(hard[soft < -0.5] == -1.0)
    assert np.sum(soft > 0.5) > 100 and np.sum(soft < -0.5) > 100


def test_gumbel_matches_a_numpy_reference_given_the_same_noise(m):
    """Reconstruct the three uniform draws from the DSL's own rand stream and recompute in numpy."""
    rand = compile_module("""
fn draws(n: int32, k: int32) -> Tensor<float32, [?, ?]> {
    seed(n)
    let a = rand([k])
    let b = rand([k])
    let c = rand([k])
    return stack([a, b, c])
}
""").draws
    x = np.random.default_rng(6).standard_normal(50).astype(np.float32) * 2
    u = np.maximum(rand(3, 50).astype(np.float64), 2.0 ** -25)
    noise = -np.log(-np.log(u))
    v = np.array([-1.0, 0.0, 1.0])[:, None]
    logits = (-(x[None, :].astype(np.float64) - v) ** 2 + noise) / 0.8
    p = np.exp(logits - logits.max(axis=0))
    p /= p.sum(axis=0)
    np.testing.assert_allclose(m.gumbel(x[None, :], 0.8, False, 3)[0], p[2] - p[0], atol=2e-5)
    np.testing.assert_array_equal(m.gumbel(x[None, :], 0.8, True, 3)[0], v[np.argmax(logits, axis=0), 0])


def test_gumbel_low_temperature_follows_the_sign_of_large_inputs(m):
    x = np.full(2000, 10.0, np.float32)
    x[1000:] = -10.0
    # temperature 1: the logits −(x − v)² favour v = sign(x) by 19 over v = 0 (a flip has odds ~e^-19)
    soft = m.gumbel_default(x, 1)
    assert soft[:1000].mean() > 0.999 and soft[1000:].mean() < -0.999
    cold = m.gumbel(x[None, :], 0.01, False, 2)[0]
    np.testing.assert_allclose(cold, np.sign(x), atol=1e-6)
    np.testing.assert_array_equal(m.gumbel(x[None, :], 0.01, True, 2)[0], np.sign(x))
    near_zero = m.gumbel(np.zeros((1, 2000), np.float32), 1.0, True, 4)[0]
    frac = [np.mean(near_zero == v) for v in (-1.0, 0.0, 1.0)]
    # at x = 0 the logits are (-1, 0, -1): p(0) = 1 / (1 + 2/e) ≈ 0.576, p(±1) ≈ 0.212 each
    assert abs(frac[1] - 0.576) < 0.05 and abs(frac[0] - 0.212) < 0.04 and abs(frac[2] - 0.212) < 0.04


def test_ste_quantize_forward_is_the_dequantized_ternary_quantize():
    m = compile_module("fn f(x: Tensor<float32, [?]>) -> Tensor<float32, [?]> {\n"
                       "    return ste_quantize(x)\n}\n")
    x = np.array([0.0, 0.5, -0.5, 0.51, -0.51, 3.0, -np.inf, np.nan], np.float32)
    x = np.concatenate([x, np.random.default_rng(3).standard_normal(100).astype(np.float32)])
    np.testing.assert_array_equal(np.asarray(m.f(x)), ref_threshold(x, 0.5).astype(np.float32))


SEED = Path(__file__).resolve().parents[1] / "conformance" / "seed"


@pytest.mark.parametrize("block", ["24", "26", "28"])
def test_seed_gradient_blocks_run(block, tritonc, tmp_path):
    (path,) = SEED.glob(f"{block}_*.triton")
    probed = tmp_path / path.name  # a digest of every top-level value, pinned (seed_digest.py)
    probed.write_text(seed_digest.probed(path), encoding="utf-8")
    code, out, err = tritonc("run", str(probed))
    assert (code, err) == (0, ""), err
    assert out == seed_digest.expected_output(path, out)


def test_python_api_calls_the_gradient_functions():
    x = np.random.default_rng(9).standard_normal((6, 4)).astype(np.float32)
    ref = np.tanh(x / np.float32(0.5))
    np.testing.assert_allclose(triton_dsl.stdlib.soft_quantize(x, temperature=0.5), ref, rtol=2e-6, atol=2e-7)
    np.testing.assert_array_equal(triton_dsl.stdlib.clipped_ste_quantize(x), _ternary_value(x))
