"""Fixed-length list parameters (`[int32, int32]`) called from Python with a tuple or a list.

In: user functions taking fixed-length lists (also mixed item types and an optional list), and a user
function forwarding them as `stride` / `padding` to the stdlib's `quantized_conv2d`. Out: results equal
to Python / a numpy reference convolution; wrong lengths, non-sequences and wrong item types are a
TypeError / ValueError naming the parameter (and the item) in the language's terms.
"""

from __future__ import annotations

import numpy as np
import pytest

from triton_dsl import api

SOURCE = """fn pair(p: [int32, int32]) -> int32 {
    return p[0] * 10 + p[1]
}
fn mixed(p: Tuple<float32, int32, bool>) -> float32 {
    if p[2] { return p[0] * float32(p[1]) }
    return p[0]
}
fn maybe(p: Tuple<int32, int32>? = None) -> int32 {
    if p == None { return -1 }
    return p[0] + p[1]
}
fn conv(x: Tensor<float32, [n, c, h, w]>, k: Tensor<float32, [o, c, kh, kw]>, stride: [int32, int32],
        padding: [int32, int32]) -> Tensor<float32, [n, o, ?, ?]> {
    return quantized_conv2d(x, k, stride=stride, padding=padding, quantize_weights=false)
}
"""


@pytest.fixture(scope="module")
def m():
    return api.compile(SOURCE, name="tuples.triton")


def conv_reference(x: np.ndarray, w: np.ndarray, stride: tuple[int, int], pad: tuple[int, int]) -> np.ndarray:
    """Plain cross-correlation (PyTorch conv2d) with per-axis stride and zero padding, in float64."""
    (sh, sw), (ph, pw) = stride, pad
    b, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = (h + 2 * ph - kh) // sh + 1, (wd + 2 * pw - kw) // sw + 1
    y = np.zeros((b, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            y[:, :, i, j] = np.einsum("bchw,ochw->bo", patch, w)
    return y.astype(np.float32)


def test_tuple_and_list_arguments(m):
    assert m.pair((3, 4)) == 34 and m.pair([5, -6]) == 44
    assert m.pair(p=(np.int32(7), 1)) == 71
    assert m.mixed((1.5, 4, True)) == 6.0 and m.mixed([2.5, 4, False]) == 2.5
    assert m.maybe() == -1 and m.maybe(None) == -1 and m.maybe((2, 3)) == 5


def test_wrong_sequences_name_the_parameter(m):
    message = r"pair\(\): argument 'p' must have 2 items \(\[int32, int32\]\), not 3"
    with pytest.raises(ValueError, match=message):
        m.pair((1, 2, 3))
    with pytest.raises(ValueError, match="must have 2 items"):
        m.pair([1])
    with pytest.raises(TypeError, match=r"argument 'p' must be a tuple or list of 2 values .* not int"):
        m.pair(3)
    with pytest.raises(TypeError, match=r"argument 'p\[1\]' must be an integer \(int32\), not 2.5"):
        m.pair((1, 2.5))
    with pytest.raises(TypeError, match="not str"):
        m.pair("ab")


def test_conv2d_stride_and_padding_as_tuples(m):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 9, 8)).astype(np.float32)
    k = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    for stride, padding in (((2, 1), [1, 0]), ([1, 3], (0, 2)), ((1, 1), (0, 0))):
        y = m.conv(x, k, stride, padding)
        expect = conv_reference(x, k, tuple(stride), tuple(padding))
        assert y.shape == expect.shape
        np.testing.assert_allclose(y, expect, rtol=1e-4, atol=1e-4)


def test_stdlib_conv2d_called_from_python_with_tuples():
    import triton_dsl

    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 2, 7, 6)).astype(np.float32)
    k = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    y = triton_dsl.stdlib.quantized_conv2d(x, k, stride=(2, 1), padding=[1, 0], quantize_weights=False)
    np.testing.assert_allclose(y, conv_reference(x, k, (2, 1), (1, 0)), rtol=1e-4, atol=1e-4)
    # An int still means the same stride on both axes.
    y = triton_dsl.stdlib.quantized_conv2d(x, k, stride=2, quantize_weights=False)
    np.testing.assert_allclose(y, conv_reference(x, k, (2, 2), (0, 0)), rtol=1e-4, atol=1e-4)
