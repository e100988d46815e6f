"""conv2d with packed ternary OIHW weights (im2col + exact GEMM) against a numpy reference.

In: random NCHW inputs and trits, strides, paddings, non-square kernels, per-tensor and per-output-channel
scales. Out: agreement with a float64 direct convolution within float32 summation error.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_matmul_reference import assert_close, dequantize, make_ternary, random_trits

from triton_dsl.runtime import matmul_api as mm

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host


def conv_reference(x: np.ndarray, w: np.ndarray, stride: tuple[int, int], pad: tuple[int, int]) -> np.ndarray:
    B, C, H, W = x.shape
    O, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    OH, OW = (H + 2 * pad[0] - kh) // stride[0] + 1, (W + 2 * pad[1] - kw) // stride[1] + 1
    out = np.zeros((B, O, OH, OW))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride[0] * OH:stride[0], j:j + stride[1] * OW:stride[1]]
            out += np.einsum("bchw,oc->bohw", patch, w[:, :, i, j])
    return out


CASES = [  # (B, C, H, W, O, kh, kw, stride, pad)
    (1, 3, 8, 8, 4, 3, 3, (1, 1), (1, 1)),
    (2, 5, 9, 7, 37, 3, 3, (2, 2), (1, 1)),
    (1, 1, 5, 5, 1, 1, 1, (1, 1), (0, 0)),
    (1, 4, 11, 6, 3, 2, 5, (3, 1), (0, 2)),
    (1, 16, 12, 12, 33, 3, 3, (1, 1), (0, 0)),
    (3, 2, 4, 4, 2, 4, 4, (1, 1), (2, 2)),
]


@pytest.mark.parametrize("B,C,H,W,O,kh,kw,stride,pad", CASES)
@pytest.mark.parametrize("kind", ["tensor", "channel"])
def test_conv2d_matches_reference(B, C, H, W, O, kh, kw, stride, pad, kind):
    rng = np.random.default_rng(B + C * 3 + H * 5 + O * 7 + kw)
    trits = random_trits(rng, (O, C, kh, kw))
    w = make_ternary(trits, kind, rng=rng)
    x = rng.standard_normal((B, C, H, W)).astype(np.float32)
    y = mm.conv2d(x, w, stride=stride, padding=pad)
    assert_close(y, conv_reference(x, dequantize(w, trits), stride, pad))


def test_prepared_conv_weights_and_errors():
    rng = np.random.default_rng(5)
    trits = random_trits(rng, (6, 2, 3, 3))
    w = make_ternary(trits, "tensor", [0.5])
    tw = mm.prepare_conv_weights(w)
    x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    assert np.array_equal(mm.conv2d(x, tw, padding=1, kernel_size=(3, 3)), mm.conv2d(x, w, padding=1))
    with pytest.raises(ValueError, match="does not match"):
        mm.conv2d(np.ones((1, 3, 6, 6), np.float32), w)
    with pytest.raises(ValueError, match="empty"):
        mm.conv2d(np.ones((1, 2, 2, 2), np.float32), w)


def test_auto_scratch_entry_point_matches():
    """`trk_conv2d_f32_t2_auto` (scratch from malloc, for generated code) gives the same result."""
    rng = np.random.default_rng(12)
    w = make_ternary(random_trits(rng, (4, 3, 3, 3)), "channel", rng=rng)
    tw = mm.prepare_conv_weights(w)
    x = rng.standard_normal((2, 3, 7, 9)).astype(np.float32)
    y = np.empty((2, 4, 4, 5), np.float32)
    status = mm.kernels().trk_conv2d_f32_t2_auto(x.ctypes.data, 2, 3, 7, 9, 3, 3, 2, 2, 1, 1,
                                                 tw.panels().ctypes.data, 4, 0, tw.nscale.ctypes.data, 1.0,
                                                 1.0, y.ctypes.data)
    assert status == 0 and np.array_equal(y, mm.conv2d(x, w, stride=2, padding=1))
