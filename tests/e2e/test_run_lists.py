"""Fixed-length lists of scalars as run-time values: a list literal `[2, 1]` or a `[int32, int32]`
parameter is a tuple at run time, so conv2d / quantized_conv2d take a (height, width) stride and padding,
constant or known only at run time. Growable lists (`[T, ...]`) are tests/e2e/test_lists.py.
Numerics against a numpy reference convolution (NCHW input, OIHW weight, zero padding).
"""

from __future__ import annotations

import numpy as np
import pytest

from triton_dsl import api

SOURCE = """
fn conv_const(x: Tensor<float32, [b, ci, h, w]>, k: Tensor<float32, [co, ci, kh, kw]>)
        -> Tensor<float32, [?, ?, ?, ?]> {
    return conv2d(x, k, stride=[2, 1], padding=[1, 0])
}
fn qconv_const(x: Tensor<float32, [b, ci, h, w]>, k: Tensor<float32, [co, ci, kh, kw]>)
        -> Tensor<float32, [?, ?, ?, ?]> {
    return quantized_conv2d(x, k, stride=[2, 1], padding=[1, 0], quantize_weights=false)
}
fn qconv_pair(x: Tensor<float32, [b, ci, h, w]>, k: Tensor<float32, [co, ci, kh, kw]>,
              stride: [int32, int32], padding: [int32, int32]) -> Tensor<float32, [?, ?, ?, ?]> {
    return quantized_conv2d(x, k, stride=stride, padding=padding, quantize_weights=false)
}
fn qconv_runtime(x: Tensor<float32, [b, ci, h, w]>, k: Tensor<float32, [co, ci, kh, kw]>,
                 sh: int32, sw: int32, ph: int32, pw: int32) -> Tensor<float32, [?, ?, ?, ?]> {
    return qconv_pair(x, k, [sh, sw], [ph, pw])
}
fn qconv_ternary(x: Tensor<float32, [b, ci, h, w]>, k: Tensor<float32, [co, ci, kh, kw]>, sh: int32)
        -> Tensor<float32, [?, ?, ?, ?]> {
    return quantized_conv2d(x, k, stride=[sh, 1], padding=[0, 1])
}
"""


def conv2d_reference(x: np.ndarray, k: np.ndarray, stride: tuple[int, int],
                     padding: tuple[int, int]) -> np.ndarray:
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    b, _, h, w = xp.shape
    co, _, kh, kw = k.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((b, co, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            out[:, :, i, j] = np.einsum("bchw,ochw->bo", patch, k)
    return out


@pytest.fixture(scope="module")
def module():
    return api.compile(SOURCE)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    return (rng.normal(size=(2, 3, 9, 8)).astype(np.float32),
            rng.normal(size=(4, 3, 3, 2)).astype(np.float32))


def test_list_literal_stride_and_padding_of_conv2d(module, data):
    x, k = data
    want = conv2d_reference(x, k, (2, 1), (1, 0))
    np.testing.assert_allclose(module.conv_const(x, k), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(module.qconv_const(x, k), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("stride,padding", [((1, 1), (0, 0)), ((2, 1), (1, 0)), ((1, 3), (2, 1)),
                                            ((3, 2), (0, 2))])
def test_pairs_known_only_at_run_time(module, data, stride, padding):
    x, k = data
    got = module.qconv_runtime(x, k, *stride, *padding)
    np.testing.assert_allclose(got, conv2d_reference(x, k, stride, padding), rtol=1e-4, atol=1e-4)


def test_run_time_pair_with_ternary_weights(module, data):
    x, k = data
    # TWN quantization of the weights (the documented default of quantized_conv2d)
    delta = 0.7 * np.abs(k).mean()
    kept = np.abs(k) > delta
    alpha = np.abs(k)[kept].mean()
    kq = np.sign(k) * kept * alpha
    got = module.qconv_ternary(x, k, 2)
    np.testing.assert_allclose(got, conv2d_reference(x, kq, (2, 1), (0, 1)), rtol=1e-4, atol=1e-4)


LIST_VALUES = """
fn weigh(s: [int32, int32]) -> int32 { return s[0] * 10 + s[-1] }
fn pick(i: int32) -> float32 {
    let xs = [1.5, 2.5, 4.0]
    return xs[i]
}
fn pair(a: int32) -> [int32, int32] { return [a, a + 1] }
fn roundtrip(a: int32) -> int32 {
    let p: [int32, int32] = pair(a)
    return weigh(p) + length(p)
}
"""


def test_fixed_lists_index_return_and_declare():
    m = api.compile(LIST_VALUES, name="lists.triton")
    assert m.roundtrip(3) == 3 * 10 + 4 + 2
    for i, want in [(0, 1.5), (1, 2.5), (2, 4.0), (-1, 4.0), (-3, 1.5)]:
        assert m.pick(i) == want
    for bad in (3, -4, 100):  # `xs` is bound by `let`: a growable list (tests/e2e/test_lists.py)
        message = f"list index {bad} is out of range for a list of length 3"
        with pytest.raises(Exception, match=message) as info:
            m.pick(bad)
        assert "lists.triton:5:" in str(info.value)


def test_for_loops_over_fixed_lists_with_break_and_continue(tmp_path, capsys, monkeypatch):
    from triton_dsl.cli import main

    monkeypatch.setenv("TRITON_DSL_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "loops.triton"
    path.write_text("""
fn total(s: [int32, int32, int32]) -> int32 {
    let t = 0
    for v in s {
        if v == 5 { continue }
        if v > 100 { break }
        t = t + v
    }
    return t
}
let acc = 0.0
for w in [0.5, 1.5, 2.0] { acc = acc + w * 2.0 }
print(total([1, 5, 7]), total([200, 1, 2]), total([1, 2, 300]), acc)
""")
    assert main(["run", str(path)]) == 0
    assert capsys.readouterr().out == "8 0 3 8.0\n"
