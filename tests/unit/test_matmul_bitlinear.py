"""int8-activation (BitNet b1.58) ternary matmul: quantization as specified, integer accumulation, and
the documented error bound against the exact float result.

In: random activations/trits at awkward sizes, tensor and channel scales, the VNNI path and the portable
fallback (built for a host description without AVX512-VNNI), the one-row GEMV kernel against the batched
one at extreme values, and rows longer than the GEMV's exact range. Out: agreement with a numpy
emulation of the integer computation (exact up to the final float scaling), and
|y − y_exact| ≤ γ_m/254 · Σ_k |W[k,n]| (docs/kernels.md).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_matmul_reference import assert_close, dequantize, make_ternary, random_trits

from triton_dsl import jit
from triton_dsl.runtime import matmul_api as mm

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

SIZES = [(1, 1, 1), (1, 3, 37), (1, 4099, 257), (3, 257, 3), (37, 37, 37), (5, 16, 32), (66, 100, 70),
         (2, 4099, 1)]


def _emulate(x: np.ndarray, trits: np.ndarray, w, per_k: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(y of the integer algorithm, γ per row), computed in numpy as the reference."""
    xs = x * per_k if per_k is not None else x
    gamma = np.abs(xs).max(axis=1)
    inv = np.where(gamma > 0, np.float32(127) / np.where(gamma > 0, gamma, 1), 0).astype(np.float32)
    q = np.clip(np.round(xs * inv[:, None]), -127, 127)  # np.round: half to even
    s = w.scales.astype(np.float64)
    col = s[0] if w.scale_kind == "tensor" else 1.0
    return (q.astype(np.float64) @ trits) * (gamma / 127)[:, None] * col, gamma


@pytest.mark.parametrize("M,K,N", SIZES)
@pytest.mark.parametrize("kind", ["tensor", "channel"])
def test_bitlinear_integer_path_and_bound(M, K, N, kind):
    rng = np.random.default_rng(M + 13 * K + 101 * N)
    trits = random_trits(rng, (K, N))
    w = make_ternary(trits, kind, rng=rng)
    x = rng.standard_normal((M, K)).astype(np.float32)
    y = mm.bitlinear(x, w)
    per_k = w.scales if kind == "channel" else None
    expected, gamma = _emulate(x, trits, w, per_k)
    assert_close(y, expected, rtol=1e-6)
    exact = x.astype(np.float64) @ dequantize(w, trits)
    col = float(w.scales[0]) if kind == "tensor" else 1.0
    bound = (gamma[:, None] / 254) * np.abs(trits).sum(axis=0)[None, :] * col
    assert np.all(np.abs(y - exact) <= bound * (1 + 1e-5) + 1e-6 * np.abs(exact).max(initial=1.0))


def test_zero_rows_and_rounding_ties():
    trits = np.array([[1, -1], [1, 1], [1, 0], [0, 1]], np.int8)
    w = make_ternary(trits, "tensor", [1.0])
    # row 0 all zero: γ = 0 → y = 0. Row 1: γ = 127, so x_q = round(x) with ties to even:
    # 62.5 → 62, −3.5 → −4, 0.5 → 0 (rounding half away from zero would give 63, −4, 1)
    x = np.array([[0, 0, 0, 0], [127, 62.5, -3.5, 0.5]], np.float32)
    y = mm.bitlinear(x, w)
    assert y[0].tolist() == [0.0, 0.0]
    q = np.array([127, 62, -4, 0], np.float64)
    assert_close(y[1], q @ trits, rtol=1e-6)


_KEEP_ALIVE = []  # a library whose thread pool started must outlive its threads: never free it


def test_portable_fallback_matches_vnni():
    from triton_dsl.codegen.kernels import bitlinear, relayout, threads
    from triton_dsl.runtime.kernel_library import KernelLibrary
    from triton_dsl.target import resolve
    if not jit.host_target().is_x86:
        pytest.skip("the x86-64 baseline runs on x86-64 machines only")
    plain = resolve("x86-64", jit.host_target())  # no AVX512-VNNI: the portable dot product
    lib = KernelLibrary(host=plain, builders=[threads.build, relayout.build, bitlinear.build], opt_level=1)
    _KEEP_ALIVE.append(lib)
    rng = np.random.default_rng(9)
    M, K, N = 3, 77, 45
    trits = random_trits(rng, (K, N))
    tw = mm.prepare_weights(make_ternary(trits, "tensor", [1.0]))
    x = rng.standard_normal((M, K)).astype(np.float32)
    y = np.empty((M, N), np.float32)
    xq, gamma, xsum = np.empty((M, 80), np.int8), np.empty(M, np.float32), np.empty(M, np.int32)
    lib.trk_bitlinear_t2(x.ctypes.data, K, M, K, N, 0, tw.vnni().ctypes.data, tw.nscale.ctypes.data,
                         y.ctypes.data, N, xq.ctypes.data, gamma.ctypes.data, xsum.ctypes.data)
    assert np.array_equal(y, mm.bitlinear(x, tw))


def test_asymmetric_weights_are_rejected():
    w = make_ternary(np.zeros((4, 4), np.int8), "asymmetric", [1.0, 2.0])
    with pytest.raises(ValueError, match="symmetric"):
        mm.bitlinear(np.ones((1, 4), np.float32), w)


def test_auto_scratch_entry_point_matches():
    """`trk_bitlinear_t2_auto` (scratch from malloc, for generated code) gives the same result."""
    rng = np.random.default_rng(11)
    M, K, N = 5, 70, 33
    tw = mm.prepare_weights(make_ternary(random_trits(rng, (K, N)), "tensor", [0.5]))
    x = rng.standard_normal((M, K)).astype(np.float32)
    y = np.empty((M, N), np.float32)
    status = mm.kernels().trk_bitlinear_t2_auto(x.ctypes.data, K, M, K, N, 0, tw.vnni().ctypes.data,
                                                tw.nscale.ctypes.data, y.ctypes.data, N)
    assert status == 0 and np.array_equal(y, mm.bitlinear(x, tw))


@pytest.mark.parametrize("K,N", [(4099, 45), (64, 32), (17, 1)])
def test_gemv_path_matches_batched_path_at_extremes(K, N):
    """M = 1 takes the GEMV micro-kernel (codes left in place, chains shifted back at the end); the same
    row inside a batch takes the row-block micro-kernel: the integer sums, hence the floats, must agree
    exactly — including all-+1 weights with x_q = ±127 (the largest products, 128·127 per byte lane)."""
    rng = np.random.default_rng(K + N)
    for trits in (random_trits(rng, (K, N)), np.ones((K, N), np.int8), -np.ones((K, N), np.int8)):
        tw = mm.prepare_weights(make_ternary(trits, "channel", rng=rng))
        for x in (rng.standard_normal(K).astype(np.float32), np.full(K, -3.0, np.float32),
                  np.where(rng.random(K) < 0.5, 1.0, -1.0).astype(np.float32)):
            single = mm.bitlinear(x[None, :], tw)[0]
            batched = mm.bitlinear(np.stack([x, x[::-1].copy(), x]), tw)
            assert np.array_equal(single, batched[0]) and np.array_equal(single, batched[2])


def test_gemv_beyond_the_shifted_accumulator_range_stays_exact():
    """K > 2^19: the GEMV's 4^g-scaled chains could overflow i32 (all-+1 weights, x_q = 127), so such rows
    take the shift-and-mask kernel; the integer result is 127·K (y = K here)."""
    K = (1 << 19) + (1 << 14)  # 128·127·K/4 > 2^31: the scaled chain would wrap
    tw = mm.prepare_weights(make_ternary(np.ones((K, 2), np.int8), "tensor", [1.0]))
    y = mm.bitlinear(np.ones(K, np.float32), tw)
    assert_close(y, np.full(2, float(K)), rtol=1e-6)
