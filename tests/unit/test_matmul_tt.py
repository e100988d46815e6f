"""Ternary × ternary matmul (bit-planes + popcount): exact integer dot products, then scales.

In: random trit matrices at awkward sizes (K around the 64-bit word boundary too), scale kinds of both
operands. Out: integer results equal to numpy's int64 matmul; scaled results equal to the dequantized
float matmul.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_matmul_reference import assert_close, dequantize, make_ternary, random_trits

from triton_dsl.runtime import matmul_api as mm

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

SIZES = [(1, 1, 1), (1, 64, 3), (3, 65, 37), (37, 4099, 3), (257, 37, 1), (5, 257, 257), (2, 127, 40)]


@pytest.mark.parametrize("M,K,N", SIZES)
def test_integer_dot_products_are_exact(M, K, N):
    rng = np.random.default_rng(M * 3 + K * 5 + N)
    at, wt = random_trits(rng, (M, K)), random_trits(rng, (K, N))
    dots = mm.ternary_matmul_int(make_ternary(at), make_ternary(wt))
    assert dots.dtype == np.int32
    assert np.array_equal(dots, at.astype(np.int64) @ wt.astype(np.int64))


def test_extreme_dot_products():
    K = 4099
    ones = np.ones((2, K), np.int8)
    ones[1] = -1
    w = np.ones((K, 2), np.int8)
    w[:, 1] = -1
    assert mm.ternary_matmul_int(make_ternary(ones), make_ternary(w)).tolist() == [[K, -K], [-K, K]]


@pytest.mark.parametrize("akind,wkind", [("tensor", "tensor"), ("channel", "tensor"),
                                         ("asymmetric", "asymmetric"), ("tensor", "asymmetric")])
def test_scaled_result_matches_dequantized(akind, wkind):
    rng = np.random.default_rng(7)
    at, wt = random_trits(rng, (9, 130)), random_trits(rng, (130, 21))
    a, w = make_ternary(at, akind, rng=rng), make_ternary(wt, wkind, rng=rng)
    out_scales = (rng.random(21) + 0.5).astype(np.float32)
    expected = dequantize(a, at) @ dequantize(w, wt) * out_scales
    assert_close(mm.ternary_matmul(a, w, out_scales=out_scales), expected)


def test_weight_scales_along_reduced_axis_are_rejected():
    rng = np.random.default_rng(8)
    a = make_ternary(random_trits(rng, (2, 5)))
    w = make_ternary(random_trits(rng, (5, 3)), "channel", rng=rng)
    with pytest.raises(ValueError, match="reduced axis"):
        mm.ternary_matmul(a, w)
