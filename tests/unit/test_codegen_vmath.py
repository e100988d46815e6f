"""Vectorizable float32 exp/tanh/sigmoid against numpy: wide random ranges and special values."""

from __future__ import annotations

import numpy as np
import pytest

from triton_dsl import api

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

SOURCE = """
fn ex(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> { return exp(x) }
fn th(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> { return tanh(x) }
fn sg(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> { return sigmoid(x) }
fn th16(x: Tensor<float16, [n]>) -> Tensor<float16, [n]> { return tanh(x) }
"""

REFS = {"ex": np.exp, "th": np.tanh, "sg": lambda x: 1 / (1 + np.exp(-x))}


@pytest.fixture(scope="module")
def module():
    return api.compile(SOURCE, name="vmath.triton", cache=False)


@pytest.mark.parametrize("name", sorted(REFS))
@pytest.mark.parametrize("scale", [1e-6, 1e-2, 1.0, 30.0, 120.0])
def test_close_to_numpy(module, name, scale):
    x = (np.random.default_rng(7).standard_normal(20000) * scale).astype(np.float32)
    with np.errstate(all="ignore"):
        got, want = getattr(module, name)(x), REFS[name](x).astype(np.float32)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-37)


def test_special_values(module):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 88.7, 89.0, -87.5, -103.0, -110.0], np.float32)
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(module.ex(x), np.exp(x), rtol=2e-6, atol=0)
        np.testing.assert_array_equal(module.th(x), np.tanh(x))
    assert np.signbit(module.th(np.float32([-0.0])))[0]


def test_float16_goes_through_float32(module):
    x = np.linspace(-5, 5, 1001).astype(np.float16)
    np.testing.assert_array_equal(module.th16(x), np.tanh(x.astype(np.float32)).astype(np.float16))
