"""DSL programs multiplying by packed ternary weights: exact results at awkward sizes through every
kernel the generated code picks (table lookup on AVX-512 hosts for N >= 128, the generic panels kernel
otherwise, the int8 kernel for int8 absmax rows such as bitlinear's on AVX512-VNNI hosts), and the
re-laid-out weights built once per weight tensor and layout, kept in the runtime header's `aux` slot
(a tag — magic, K, N, bit set of built layouts — then one region per layout)."""

from __future__ import annotations

import ctypes
import gc
import threading
from functools import partial

import numpy as np
import pytest

import triton_dsl
from triton_dsl import TernaryTensor, jit
from triton_dsl.runtime import interop, ternary_headers

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

SOURCE = """
fn mm(x: Tensor<float32, [m, k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [m, n]> {
    return x @ w
}
fn mv(x: Tensor<float32, [k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [n]> {
    return x @ w
}
fn tt(a: TernaryTensor<trit, [m, k]>, w: TernaryTensor<trit, [k, n]>) -> Tensor<float32, [m, n]> {
    return a @ w
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

MAGIC = b"TDSLLAYS"
PANELS, LUT3, VNNI, BITPLANES, PERM8, LUT5 = 0, 1, 2, 3, 4, 5  # layout bits in the tag
LUT_HOST = jit.process_target().variant("gemm") == "avx512-lut"  # what matmul_api decides with
PERM8_HOST = jit.process_target().variant("gemm") == "avx2-perm"
LUT5_HOST = jit.process_target().variant("gemm") == "lut5"
VNNI_HOST = jit.process_target().variant("bitlinear") in ("avx512-vnni", "avx512bw", "avx2", "ssse3")


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


def _float_layout(N: int, M: int = 1) -> int:
    if LUT5_HOST and N >= 128 or PERM8_HOST and M >= 8 and N >= 1024:
        return LUT5
    if PERM8_HOST and N >= 32:
        return PERM8
    return LUT3 if LUT_HOST and N >= 128 else PANELS


def _aux(w: TernaryTensor) -> int:
    return interop.header(ternary_headers.kept_header(w)).aux


def _built(w: TernaryTensor) -> set[int]:
    aux = _aux(w)
    assert ctypes.string_at(aux, 8) == MAGIC
    bits = ctypes.c_int64.from_address(aux + 24).value
    return {i for i in range(6) if bits >> i & 1}


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _region_bytes(K: int, N: int, layout: int) -> int:
    """Bytes of one layout's region (docs/kernels.md, private layouts; rounded up to 64)."""
    size = [_ceil(N, 32) * K * 8, _ceil(N, 128) * _ceil(_ceil(K, 3), 6) * 512,
            _ceil(N, 32) * _ceil(K, 16) * 128, N * _ceil(K, 64) * 16, _ceil(N, 16) * _ceil(K, 32) * 128,
            _ceil(_ceil(K, 5), 16) * N * 16]
    return _ceil(size[layout], 64) * 64


def _region(w: TernaryTensor, layout: int) -> tuple[int, int]:
    K, N = w.shape
    return _aux(w) + 64 + sum(_region_bytes(K, N, i) for i in range(layout)), _region_bytes(K, N, layout)


# every size 1, 3, 37, 257, 4099 appears in every dimension; N >= 128 and N < 128 both appear
SIZES = [(1, 4099, 257), (3, 257, 4099), (37, 3, 257), (257, 37, 3), (1, 1, 4099), (4099, 37, 1),
         (3, 4099, 37), (37, 257, 128), (1, 37, 127), (9, 300, 1030)]  # the last: lut5 on AVX2 too


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
    assert _built(w) == {_float_layout(N, M)}


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
    # both kept: the float layout for `x @ w`, the int8 one for bitlinear's rows (on VNNI hosts)
    assert _built(w) == {_float_layout(N, M)} | ({VNNI} if VNNI_HOST else set())
    b = rng.standard_normal((K, N)).astype(np.float32)
    _assert_exact(mod.qmatmul(x, b), x, mod.twn(b).dequantize().astype(np.float32))


def _int8_rows(rng, M: int, K: int) -> np.ndarray:
    """Integer rows whose largest magnitude is 127 (what bitlinear feeds its product), one all zero."""
    x = rng.integers(-127, 128, size=(M, K)).astype(np.float32)
    x[:, 0] = 127.0
    x[M // 2] = 0.0
    return x


@pytest.mark.parametrize("N", [40, 300])
def test_weights_are_relaid_once_per_tensor(mod, N):
    """The regions in `aux` are what every later call reads: overwrite w1's with w2's and 100 calls with
    w1 then give exactly w2's product, through the same buffer (a relayout per call would give w1's)."""
    rng = np.random.default_rng(N)
    K = 100
    w1, w2 = _weights(rng, K, N, "tensor"), _weights(rng, K, N, "tensor")
    a = TernaryTensor.from_numpy(rng.integers(-1, 2, size=(3, K)).astype(np.int8), 0.25)
    calls = [partial(mod.mm, rng.standard_normal((2, K)).astype(np.float32)),
             partial(mod.mm, _int8_rows(rng, 3, K)), partial(mod.tt, a)]
    layouts = [_float_layout(N), BITPLANES] + ([VNNI] if VNNI_HOST else [])
    for call in calls:
        call(w1)
    assert _built(w1) == set(layouts)
    aux = _aux(w1)
    for call in calls:
        assert not np.array_equal(call(w1), call(w2))
    for layout in layouts:
        (dst, size), (src, _) = _region(w1, layout), _region(w2, layout)
        ctypes.memmove(dst, src, size)
    for _ in range(50):
        for call in calls:
            np.testing.assert_array_equal(call(w1), call(w2))
    assert _aux(w1) == aux and _built(w1) == set(layouts)


@pytest.mark.parametrize("N", [40, 300])
def test_ternary_activations_keep_the_bitplanes_beside_the_float_layout(mod, N):
    rng = np.random.default_rng(N + 1)
    K = 257
    w = _weights(rng, K, N, "asymmetric")
    a = TernaryTensor.from_numpy(rng.integers(-1, 2, size=(37, K)).astype(np.int8), 0.25)
    x = rng.standard_normal((3, K)).astype(np.float32)
    W = w.dequantize().astype(np.float64)
    for _ in range(3):
        np.testing.assert_allclose(mod.tt(a, w), a.dequantize().astype(np.float64) @ W, rtol=1e-6, atol=1e-6)
        _assert_exact(mod.mm(x, w), x, W.astype(np.float32))
    assert _built(w) == {_float_layout(N), BITPLANES}


@pytest.mark.parametrize("kind", ["tensor", "channel", "asymmetric"])
def test_int8_rows_are_exact(mod, kind):
    """Integer rows with max |row| = 127 (or zero) go through the int8 kernel when the weights have no
    per-k scale and +1/-1 mean +s/-s; the result is the exact product either way."""
    rng = np.random.default_rng(7)
    K, N = 300, 200
    w = _weights(rng, K, N, kind)
    x = _int8_rows(rng, 5, K)
    W = w.dequantize().astype(np.float64)
    ref = x.astype(np.float64) @ W
    np.testing.assert_allclose(mod.mm(x, w), ref, rtol=1e-6, atol=1e-6 * np.abs(ref).max())
    np.testing.assert_allclose(mod.mv(x[0], w), ref[0], rtol=1e-6, atol=1e-6 * np.abs(ref).max())
    assert (VNNI in _built(w)) == (VNNI_HOST and kind == "tensor")


@pytest.mark.parametrize("top", [3.5, 5.0, 127.5, np.inf, np.nan])
def test_rows_that_are_not_int8_use_the_float_kernels(mod, top):
    rng = np.random.default_rng(8)
    K, N = 64, 200
    w = _weights(rng, K, N, "tensor")
    x = _int8_rows(rng, 3, K)  # row 1 is zero
    x[0, 3] = top  # row 0 also holds 127
    if top == 5.0:
        x = np.clip(x, -5, 5)
    rows = [1, 2] if not np.isfinite(top) else [0, 1, 2]  # inf · 0: the kernels skip zero trits
    _assert_exact(mod.mm(x, w)[rows], x[rows], w.dequantize().astype(np.float32))
    assert _built(w) == {_float_layout(N)}


def test_aux_of_another_shape_is_never_read(mod):
    """A tag for another shape is not used: the product is exact from a copy made for the call, and the
    slot keeps what it held."""
    rng = np.random.default_rng(1)
    w = _weights(rng, 64, 300, "channel")
    x = rng.standard_normal((3, 64)).astype(np.float32)
    W = w.dequantize().astype(np.float32)
    mod.mm(x, w)
    aux = _aux(w)
    ctypes.c_int64.from_address(aux + 8).value = 65
    region, size = _region(w, _float_layout(300))
    ctypes.memset(region, 0, size)
    _assert_exact(mod.mm(x, w), x, W)
    _assert_exact(mod.mv(x[0], w), x[0], W)
    assert _aux(w) == aux and ctypes.c_int64.from_address(aux + 8).value == 65


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
