"""DSL programs multiplying by packed ternary weights: exact results at awkward sizes through every
kernel the generated code picks (table lookup on AVX-512 hosts for N >= 128, the generic panels kernel
otherwise), and the re-laid-out weights built once per weight tensor and kept, tagged by layout, in the
runtime header's `aux` slot."""

from __future__ import annotations

import ctypes
import gc
import threading

import numpy as np
import pytest

import triton_dsl
from triton_dsl import TernaryTensor, jit
from triton_dsl.runtime import interop, ternary_headers

SOURCE = """
fn mm(x: Tensor<float32, [m, k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [m, n]> {
    return x @ w
}
fn mv(x: Tensor<float32, [k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [n]> {
    return x @ w
}
fn linear(x: Tensor<float32, [m, k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [m, n]> {
    return quantized_linear(x, w)
}
fn bitlin(x: Tensor<float32, [m, k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [m, n]> {
    return bitlinear(x, w)
}
fn qmatmul(a: Tensor<float32, [m, k]>, b: Tensor<float32, [k, n]>) -> Tensor<float32, [m, n]> {
    return quantized_matmul(a, b)
}
fn twn(b: Tensor<float32, [k, n]>) -> TernaryTensor<trit, [k, n]> {
    return ternary_quantize(b, method="twn")
}
"""

PANELS_TAG, LUT3_TAG = b"TDSLPNL1", b"TDSLLUT3"
LUT_HOST = jit.host_info().has("avx512f")  # what matmul_api decides with


@pytest.fixture(scope="module")
def mod():
    return triton_dsl.compile(SOURCE, name="ternary_matmul_dsl.triton", cache=False)


def _weights(rng, K: int, N: int, kind: str) -> TernaryTensor:
    trits = rng.integers(-1, 2, size=(K, N)).astype(np.int8)
    scale = {"tensor": 0.37, "channel": (rng.random(K) + 0.1).astype(np.float32),
             "asymmetric": (0.8, 0.3)}[kind]
    return TernaryTensor.from_numpy(trits, scale)


def _assert_exact(y: np.ndarray, x: np.ndarray, W: np.ndarray) -> None:
    """y equals float32 x @ W up to float32 summation order: 1e-5 of the sum of |terms|."""
    ref = x @ W
    bound = 1e-5 * (np.abs(x) @ np.abs(W)) + 1e-30
    assert y.shape == ref.shape and y.dtype == np.float32
    assert np.all(np.abs(y - ref) <= bound), float(np.max(np.abs(y - ref) / bound))


def _expected_tag(N: int) -> bytes:
    return LUT3_TAG if LUT_HOST and N >= 128 else PANELS_TAG


# every size 1, 3, 37, 257, 4099 appears in every dimension; N >= 128 and N < 128 both appear
SIZES = [(1, 4099, 257), (3, 257, 4099), (37, 3, 257), (257, 37, 3), (1, 1, 4099), (4099, 37, 1),
         (3, 4099, 37), (37, 257, 128), (1, 37, 127)]


@pytest.mark.parametrize("kind", ["tensor", "channel", "asymmetric"])
@pytest.mark.parametrize(("M", "K", "N"), SIZES)
def test_x_at_w_equals_dequantized_numpy_matmul(mod, M, K, N, kind):
    rng = np.random.default_rng(M * 7919 + K * 31 + N)
    w = _weights(rng, K, N, kind)
    x = rng.standard_normal((M, K)).astype(np.float32)
    W = w.dequantize().astype(np.float32)
    _assert_exact(mod.mm(x, w), x, W)
    if M == 1:
        _assert_exact(mod.mv(x[0], w), x[0], W)
    assert ctypes.string_at(interop.header(ternary_headers.kept_header(w)).aux, 8) == _expected_tag(N)


@pytest.mark.parametrize(("M", "N"), [(1, 300), (5, 300), (5, 40)])
def test_stdlib_layers_on_ternary_weights(mod, M, N):
    rng = np.random.default_rng(N + M)
    K = 257
    w = _weights(rng, K, N, "tensor")
    x = rng.standard_normal((M, K)).astype(np.float32)
    W = w.dequantize().astype(np.float32)
    _assert_exact(mod.linear(x, w), x, W)
    # bitlinear: absmax int8 activations per row (stdlib/layers.triton), then an exact product
    gamma = np.abs(x).max(axis=1, keepdims=True)
    xq = np.round(np.clip(x * (np.float32(127.0) / gamma), -127, 127)).astype(np.float32)
    ref = (xq.astype(np.float64) @ W.astype(np.float64)) * (gamma / 127.0)
    np.testing.assert_allclose(mod.bitlin(x, w), ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())
    b = rng.standard_normal((K, N)).astype(np.float32)
    _assert_exact(mod.qmatmul(x, b), x, mod.twn(b).dequantize().astype(np.float32))


def _copy_bytes(K: int, N: int, tag: bytes) -> int:
    """Size of the re-laid-out copy after its 64-byte tag (docs/kernels.md, private layouts)."""
    def ceil(a: int, b: int) -> int:
        return -(-a // b)

    if tag == PANELS_TAG:
        return ceil(N, 32) * K * 8
    return ceil(N, 128) * ceil(ceil(K, 3), 6) * 512


@pytest.mark.parametrize("N", [40, 300])
def test_weights_are_relaid_once_per_tensor(mod, N):
    """The copy in `aux` is the one every later call reads: overwrite w1's copy with w2's and 100 calls
    with w1 then give exactly w2's product, through the same cached buffer (a relayout per call would
    give w1's product again)."""
    rng = np.random.default_rng(N)
    K = 100
    w1, w2 = _weights(rng, K, N, "tensor"), _weights(rng, K, N, "tensor")
    x = rng.standard_normal((2, K)).astype(np.float32)
    y1, y2 = mod.mm(x, w1), mod.mm(x, w2)
    assert not np.array_equal(y1, y2)
    h1, h2 = (interop.header(ternary_headers.kept_header(w)) for w in (w1, w2))
    aux = h1.aux
    tag = ctypes.string_at(aux, 8)
    assert tag == _expected_tag(N)
    ctypes.memmove(aux + 64, h2.aux + 64, _copy_bytes(K, N, tag))
    for _ in range(100):
        np.testing.assert_array_equal(mod.mm(x, w1), y2)
    assert h1.aux == aux and ctypes.string_at(aux, 8) == tag


def test_copy_of_another_layout_is_never_read(mod):
    """A copy tagged as the other layout (or for another shape) is not used: the product is exact from
    a fresh relayout, and the slot keeps what it held."""
    rng = np.random.default_rng(1)
    w = _weights(rng, 64, 300, "channel")
    x = rng.standard_normal((3, 64)).astype(np.float32)
    W = w.dequantize().astype(np.float32)
    mod.mm(x, w)
    h = interop.header(ternary_headers.kept_header(w))
    tag = ctypes.string_at(h.aux, 8)
    other = PANELS_TAG if tag == LUT3_TAG else LUT3_TAG
    ctypes.memmove(h.aux, other, 8)
    ctypes.memset(h.aux + 64, 0, _copy_bytes(64, 300, tag))
    _assert_exact(mod.mm(x, w), x, W)
    _assert_exact(mod.mv(x[0], w), x[0], W)
    assert ctypes.string_at(h.aux, 8) == other


def test_kept_header_dies_with_the_tensor(mod):
    rng = np.random.default_rng(2)
    w = _weights(rng, 37, 200, "tensor")
    x = rng.standard_normal((1, 37)).astype(np.float32)
    gc.collect()
    before = interop.borrowed_count()
    mod.mm(x, w)
    assert ternary_headers.kept_header(w) is not None
    assert interop.borrowed_count() > before  # the kept header borrows the packed bytes
    del w
    gc.collect()
    assert interop.borrowed_count() == before


def test_each_thread_gets_its_own_header(mod):
    """Refcounts are not atomic: another thread must not share this thread's header (its results are
    exact too, from its own cached copy)."""
    rng = np.random.default_rng(3)
    w = _weights(rng, 257, 300, "asymmetric")
    x = rng.standard_normal((4, 257)).astype(np.float32)
    W = w.dequantize().astype(np.float32)
    mod.mm(x, w)
    seen = {}

    def run() -> None:
        seen["y"] = mod.mm(x, w)
        seen["header"] = ternary_headers.kept_header(w)

    t = threading.Thread(target=run)
    t.start()
    t.join()
    _assert_exact(seen["y"], x, W)
    assert seen["header"] not in (None, ternary_headers.kept_header(w))
