"""The matmul kernels at every ISA level this host can run: bitlinear's variants (VNNI, AVX512-BW / AVX2 /
SSSE3 `pmaddubsw`, portable IR), the AVX2 bit-plane kernel `trk_matmul_f32_t2_perm8` and the 1.6-bit
table kernel `trk_matmul_f32_t2_lut5`.

In: a kernel library built per level (`target.resolve(level, jit.host_target())`: x86-64, x86-64-v2,
x86-64-v3, x86-64-v4, native, those the host has the features for), random trits and activations at awkward
sizes (K and N tails, size 1, empty dims), all-zero / all-±1 weights, every scale kind.
Out: bitlinear equals a numpy emulation of its integer algorithm exactly (int64 sums of the quantized
rows, then the same float scaling) — the i16 partial sums of the pmaddubsw kernels never saturate, even at
x_q = ±127 with all-+1 weights; perm8 equals the float64 product within float32 summation error (it is a
float32 sum of the same terms), with zeros exactly zero, and so does lut5; the GEMV (M = 1) and GEMM paths
agree.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_matmul_reference import dequantize, make_ternary, random_trits

from triton_dsl import jit
from triton_dsl.codegen.kernels import bitlinear, matmul_lut5, matmul_perm8, relayout, threads
from triton_dsl.runtime import matmul_api as mm
from triton_dsl.runtime.kernel_library import KernelLibrary
from triton_dsl.target import LEVELS, resolve

_LIBS: dict[str, KernelLibrary] = {}  # a library whose pool started must outlive its threads: never freed


def _levels() -> list[str]:
    host = jit.host_target()
    if not host.is_x86:
        return ["native"]
    return [lv for lv in LEVELS if not resolve(lv, host).missing_on(host)] + ["native"]


def _lib(level: str) -> KernelLibrary:
    if level not in _LIBS:
        target = resolve(level, jit.host_target())
        _LIBS[level] = KernelLibrary(host=target, builders=[threads.build, relayout.build, bitlinear.build,
                                                            matmul_perm8.build, matmul_lut5.build],
                                     opt_level=2)
    return _LIBS[level]


LEVEL_IDS = _levels()
SIZES = [(1, 1, 1), (1, 37, 45), (1, 4099, 257), (3, 257, 3), (37, 37, 37), (66, 100, 70), (2, 4099, 1),
         (7, 513, 17), (1, 16, 32), (0, 5, 4), (3, 5, 0), (2, 0, 5)]


def _layout(lib: KernelLibrary, tw: mm.TernaryWeights, kind: str, nbytes: int) -> np.ndarray:
    dst = np.zeros(max(nbytes, 1), np.uint8)
    getattr(lib, f"trk_relayout_t2_{kind}")(tw.packed.ctypes.data, tw.K, tw.N, 0, 0, 1, dst.ctypes.data)
    return dst


def _bitlinear(lib, x: np.ndarray, tw: mm.TernaryWeights) -> np.ndarray:
    M, K, N = x.shape[0], tw.K, tw.N
    codes = _layout(lib, tw, "vnni", -(-N // 32) * 2 * -(-K // 16) * 64)
    Kp = -(-K // 16) * 16
    y = np.full((M, N), np.nan, np.float32)
    xq, gamma, xsum = np.empty((max(M, 1), max(Kp, 1)), np.int8), np.empty(max(M, 1), np.float32), \
        np.empty(max(M, 1), np.int32)
    lib.trk_bitlinear_t2(x.ctypes.data, K, M, K, N, mm._ptr(tw.kscale), codes.ctypes.data,
                         tw.nscale.ctypes.data, y.ctypes.data, N, xq.ctypes.data, gamma.ctypes.data,
                         xsum.ctypes.data)
    return y


def _emulate_bitlinear(x: np.ndarray, trits: np.ndarray, tw: mm.TernaryWeights) -> np.ndarray:
    """The kernel's algorithm in numpy: absmax int8 rows (ties to even), exact integer sums, then
    (Σ) · (γ/127) · nscale in float32 like the kernel."""
    xs = x * tw.kscale if tw.kscale is not None else x
    gamma = np.abs(xs).max(axis=1, initial=0).astype(np.float32)
    inv = np.where(gamma > 0, np.float32(127) / np.where(gamma > 0, gamma, 1), 0).astype(np.float32)
    q = np.clip(np.round(xs * inv[:, None]), -127, 127).astype(np.int64)
    dots = q @ trits.astype(np.int64)
    return (dots.astype(np.float32) * (gamma / np.float32(127))[:, None]) * tw.nscale[None, :]


@pytest.mark.parametrize("level", LEVEL_IDS)
@pytest.mark.parametrize("M,K,N", SIZES)
@pytest.mark.parametrize("kind", ["tensor", "channel", "out"])
def test_bitlinear_every_level_is_the_integer_algorithm(level, M, K, N, kind):
    rng = np.random.default_rng(M + 7 * K + 31 * N)
    trits = random_trits(rng, (K, N))
    w = make_ternary(trits, "tensor" if kind == "out" else kind, rng=rng)
    tw = mm.prepare_weights(w, rng.random(N).astype(np.float32) + 0.5 if kind == "out" else None)
    x = rng.standard_normal((M, K)).astype(np.float32)
    if M > 1:
        x[1] = 0.0  # an all-zero row: γ = 0, y = 0
    y = _bitlinear(_lib(level), x, tw)
    expected = _emulate_bitlinear(x, trits, tw)
    np.testing.assert_allclose(y, expected, rtol=2e-6, atol=0)


@pytest.mark.parametrize("level", LEVEL_IDS)
@pytest.mark.parametrize("sign", [1, -1])
def test_bitlinear_largest_sums_do_not_saturate(level, sign):
    """All weights ±1 and x_q = ±127 everywhere: every i16 partial sum is at its bound (16 blocks × 4
    fields × 2·2·127 = 32512 for codes 2); the result must be exactly ±127·K per row."""
    K, N = 4096 + 48, 40
    tw = mm.prepare_weights(make_ternary(np.full((K, N), sign, np.int8), "tensor", [1.0]))
    x = np.stack([np.full(K, 2.0, np.float32), np.full(K, -2.0, np.float32),
                  np.where(np.arange(K) % 2 == 0, 1.0, -1.0).astype(np.float32)])
    for rows in (x[:1], x):  # the GEMV kernel and the GEMM micro-kernels
        y = _bitlinear(_lib(level), np.ascontiguousarray(rows), tw)
        expected = np.array([2.0 * K, -2.0 * K, 0.0])[: rows.shape[0], None] * sign
        np.testing.assert_allclose(y, np.broadcast_to(expected, y.shape), rtol=1e-6)


def _perm8(lib, x: np.ndarray, tw: mm.TernaryWeights) -> np.ndarray:
    M, K, N = x.shape[0], tw.K, tw.N
    bits = _layout(lib, tw, "perm8", -(-N // 16) * -(-K // 32) * 128)
    y = np.full((M, N), np.nan, np.float32)
    status = lib.trk_matmul_f32_t2_perm8(x.ctypes.data, K, bits.ctypes.data, y.ctypes.data, N, M, K, N,
                                         mm._ptr(tw.kscale), tw.nscale.ctypes.data, tw.wpos, tw.wneg)
    assert status == 0
    return y


def _lut5(lib, x: np.ndarray, tw: mm.TernaryWeights) -> np.ndarray:
    M, K, N = x.shape[0], tw.K, tw.N
    codes = _layout(lib, tw, "lut5", mm.lut5_bytes(K, N))
    y = np.full((M, N), np.nan, np.float32)
    status = lib.trk_matmul_f32_t2_lut5(x.ctypes.data, K, codes.ctypes.data, y.ctypes.data, N, M, K, N,
                                        mm._ptr(tw.kscale), tw.nscale.ctypes.data, tw.wpos, tw.wneg)
    assert status == 0
    return y


EXACT_KERNELS = {"perm8": _perm8, "lut5": _lut5}


@pytest.mark.parametrize("level", LEVEL_IDS)
@pytest.mark.parametrize("M,K,N", SIZES + [(9, 300, 300), (64, 1100, 40), (17, 81, 600), (1, 80, 513)])
@pytest.mark.parametrize("kind", ["tensor", "channel", "asymmetric", "out"])
@pytest.mark.parametrize("kernel", sorted(EXACT_KERNELS))
def test_exact_kernels_every_level(level, M, K, N, kind, kernel):
    rng = np.random.default_rng(3 * M + 5 * K + N)
    trits = random_trits(rng, (K, N))
    w = make_ternary(trits, "tensor" if kind == "out" else kind, rng=rng)
    out = rng.random(N).astype(np.float32) + 0.5 if kind == "out" else None
    tw = mm.prepare_weights(w, out)
    x = rng.standard_normal((M, K)).astype(np.float32)
    y = EXACT_KERNELS[kernel](_lib(level), x, tw)
    W = dequantize(w, trits) * (out.astype(np.float64)[None, :] if out is not None else 1.0)
    exact = x.astype(np.float64) @ W
    # a float32 sum of K terms: error ≤ ~K·2⁻²⁴·Σ|terms|
    bound = (np.abs(x).astype(np.float64) @ np.abs(W)) * (K + 2) * 2.0**-23 + 1e-30
    assert y.shape == exact.shape and np.all(np.abs(y - exact) <= bound)
    if M and N:
        zero_cols = ~trits.any(axis=0)
        assert np.all(y[:, zero_cols] == 0)


@pytest.mark.parametrize("level", LEVEL_IDS)
@pytest.mark.parametrize("kernel", sorted(EXACT_KERNELS))
def test_gemv_matches_gemm_rows(level, kernel):
    """M = 1 and M > 1 (other code: perm8's expanded weights and FMA, lut5's 8-row tables) agree to float32
    rounding on every row."""
    run = EXACT_KERNELS[kernel]
    rng = np.random.default_rng(5)
    K, N = 1000, 70
    trits = random_trits(rng, (K, N))
    tw = mm.prepare_weights(make_ternary(trits, "channel", rng=rng))
    x = rng.standard_normal((5, K)).astype(np.float32)
    batched = run(_lib(level), x, tw)
    for m in range(5):
        single = run(_lib(level), np.ascontiguousarray(x[m:m + 1]), tw)
        np.testing.assert_allclose(single[0], batched[m], rtol=1e-5, atol=1e-5 * np.abs(batched).max())


def test_variants_per_level():
    """What each level compiles to (docs/kernels.md)."""
    host = jit.host_target()
    if not host.is_x86:
        pytest.skip("x86-64 levels")
    want = {"x86-64": ("lut5", "generic"), "x86-64-v2": ("lut5", "ssse3"),
            "x86-64-v3": ("avx2-perm", "avx2"), "x86-64-v4": ("avx512-lut", "avx512bw")}
    for level, (gemm, bl) in want.items():
        t = resolve(level, host)
        assert (t.variant("gemv"), t.variant("gemm"), t.variant("bitlinear")) == (gemm, gemm, bl)
