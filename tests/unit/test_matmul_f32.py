"""Exact float32 × packed-ternary matmul (GEMV and GEMM) against the dequantized float matmul.

In: random activations and trits at awkward sizes, every scale kind. Out: agreement within float32
summation-order error (relative 1e-5), exact zeros for empty reductions, shape/argument errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_matmul_reference import assert_close, dequantize, make_ternary, random_trits

from triton_dsl.runtime import matmul_api as mm

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

SIZES = [  # (M, K, N): 1, 3, 37, 257, 4099 in each dimension, not all combinations
    (1, 1, 1), (1, 3, 37), (1, 4099, 3), (1, 257, 257), (1, 37, 4099),
    (3, 37, 1), (3, 4099, 37), (37, 257, 3), (37, 3, 257), (257, 37, 37), (4, 4, 32), (12, 16, 64),
    (13, 17, 33), (97, 5, 31),
]


@pytest.mark.parametrize("M,K,N", SIZES)
@pytest.mark.parametrize("kind", ["tensor", "channel", "asymmetric"])
def test_matmul_matches_dequantized(M, K, N, kind):
    rng = np.random.default_rng(M * 7919 + K * 31 + N)
    trits = random_trits(rng, (K, N))
    w = make_ternary(trits, kind, rng=rng)
    x = rng.standard_normal((M, K)).astype(np.float32)
    assert_close(mm.matmul(x, w), x.astype(np.float64) @ dequantize(w, trits))


@pytest.mark.parametrize("M,K,N", [(1, 257, 37), (37, 37, 257), (5, 3, 1)])
def test_out_scales_per_output_channel(M, K, N):
    rng = np.random.default_rng(K)
    trits = random_trits(rng, (K, N))
    w = make_ternary(trits, "tensor", rng=rng)
    out_scales = (rng.random(N) + 0.5).astype(np.float32)
    x = rng.standard_normal((M, K)).astype(np.float32)
    expected = (x.astype(np.float64) @ dequantize(w, trits)) * out_scales
    assert_close(mm.matmul(x, w, out_scales=out_scales), expected)


def test_vector_input_and_prepared_weights_reuse():
    rng = np.random.default_rng(1)
    trits = random_trits(rng, (100, 70))
    tw = mm.prepare_weights(make_ternary(trits, "tensor", [1.0]))
    for _ in range(3):
        x = rng.standard_normal(100).astype(np.float32)
        y = mm.matmul(x, tw)
        assert y.shape == (70,)
        assert_close(y, x.astype(np.float64) @ trits)


def test_all_zero_and_all_one_weights_and_dense_inputs():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 65)).astype(np.float32)
    zero = np.zeros((65, 40), np.int8)
    assert np.array_equal(mm.matmul(x, make_ternary(zero, "tensor", [1.0])), np.zeros((3, 40), np.float32))
    ones = -np.ones((65, 40), np.int8)
    assert_close(mm.matmul(x, make_ternary(ones, "tensor", [2.0])), -2.0 * x.astype(np.float64).sum(1,
                 keepdims=True).repeat(40, 1))


def test_empty_dimensions():
    rng = np.random.default_rng(3)
    w0 = make_ternary(np.zeros((0, 5), np.int8), "tensor", [1.0])
    assert np.array_equal(mm.matmul(np.zeros((4, 0), np.float32), w0), np.zeros((4, 5), np.float32))
    w = make_ternary(random_trits(rng, (6, 5)), "tensor", [1.0])
    assert mm.matmul(np.zeros((0, 6), np.float32), w).shape == (0, 5)
    wn = make_ternary(np.zeros((6, 0), np.int8), "tensor", [1.0])
    assert mm.matmul(np.ones((2, 6), np.float32), wn).shape == (2, 0)


def test_shape_mismatch_is_reported():
    w = make_ternary(np.zeros((6, 5), np.int8), "tensor", [1.0])
    with pytest.raises(ValueError, match="input features"):
        mm.matmul(np.ones((2, 7), np.float32), w)


def test_one_thread_gives_same_result():
    rng = np.random.default_rng(4)
    trits = random_trits(rng, (300, 200))
    w = mm.prepare_weights(make_ternary(trits, "tensor", [1.0]))
    x = rng.standard_normal((40, 300)).astype(np.float32)
    total = mm.num_threads()
    try:
        mm.set_num_threads(1)
        one = mm.matmul(x, w)
    finally:
        mm.set_num_threads(total)
    assert np.array_equal(one, mm.matmul(x, w))  # same per-output order whatever the split


def test_kernels_compile_for_another_target():
    """The same builders give an object file for aarch64 (portable paths: no x86 intrinsics)."""
    from triton_dsl import jit
    from triton_dsl.runtime.kernel_library import build_library_module
    from triton_dsl.target import cross
    target = cross("aarch64-unknown-linux-gnu", None)
    obj = jit.emit_object(str(build_library_module(target, mm.BUILDERS)), target=target, opt_level=0)
    for name in (b"trk_parallel_for", b"trk_matmul_f32_t2", b"trk_bitlinear_t2", b"trk_matmul_t2_t2",
                 b"trk_conv2d_f32_t2"):
        assert name in obj


@pytest.mark.parametrize("M,K,N,kind", [(1, 1, 1, "tensor"), (1, 37, 257, "channel"),
                                         (1, 4099, 37, "asymmetric"), (5, 257, 37, "channel"),
                                         (37, 37, 3, "asymmetric"), (13, 4099, 65, "tensor")])
def test_mask_kernel_path(M, K, N, kind):
    """The generic kernel (masked-add GEMV, FMA GEMM) that `matmul` bypasses for the table kernels on
    AVX-512 hosts, and that conv2d and other hosts use."""
    rng = np.random.default_rng(M + K + N)
    trits = random_trits(rng, (K, N))
    w = make_ternary(trits, kind, rng=rng)
    tw = mm.prepare_weights(w)
    x = rng.standard_normal((M, K)).astype(np.float32)
    y = np.empty((M, N), np.float32)
    mm.kernels().trk_matmul_f32_t2(x.ctypes.data, K, 1, tw.panels().ctypes.data, y.ctypes.data, N, 1, M, K, N,
                                   mm._ptr(tw.kscale), tw.nscale.ctypes.data, tw.wpos, tw.wneg)
    assert_close(y, x.astype(np.float64) @ dequantize(w, trits))


_KEEP_ALIVE = []  # a library whose thread pool started must outlive its threads: never free it


def test_table_kernels_portable_permute():
    """The table GEMV/GEMM built for a host without AVX-512 (lane-by-lane permute) give the same result."""
    from triton_dsl import jit
    from triton_dsl.codegen.kernels import matmul_f32, matmul_gemm_lut, matmul_gemv, relayout, threads
    from triton_dsl.runtime.kernel_library import KernelLibrary
    from triton_dsl.target import resolve
    if not jit.host_target().is_x86:
        pytest.skip("the x86-64 baseline runs on x86-64 machines only")
    plain = resolve("x86-64", jit.host_target())  # no AVX-512: the lane-by-lane permute
    builders = [threads.build, relayout.build, matmul_f32.build, matmul_gemv.build, matmul_gemm_lut.build]
    lib = KernelLibrary(host=plain, builders=builders, opt_level=1)
    _KEEP_ALIVE.append(lib)
    rng = np.random.default_rng(10)
    K, N = 100, 150
    trits = random_trits(rng, (K, N))
    w = make_ternary(trits, "asymmetric", rng=rng)
    tw = mm.prepare_weights(w)
    x = rng.standard_normal(K).astype(np.float32)
    y = np.empty(N, np.float32)
    assert lib.trk_gemv_f32_t2_lut(x.ctypes.data, tw.lut3().ctypes.data, y.ctypes.data, K, N, 0,
                                   tw.nscale.ctypes.data, tw.wpos, tw.wneg) == 0
    assert_close(y, x.astype(np.float64) @ dequantize(w, trits))
    xs = rng.standard_normal((4, K)).astype(np.float32)
    ys = np.empty((4, N), np.float32)
    assert lib.trk_gemm_f32_t2_lut(xs.ctypes.data, K, tw.lut3().ctypes.data, ys.ctypes.data, N, 4, K, N, 0,
                                   tw.nscale.ctypes.data, tw.wpos, tw.wneg) == 0
    assert_close(ys, xs.astype(np.float64) @ dequantize(w, trits))


def test_invalid_code_3_reads_as_zero_in_every_path():
    """Loaders reject code 3; if one slips through, every private layout reads it as trit 0."""
    rng = np.random.default_rng(13)
    trits = random_trits(rng, (10, 9))
    w = make_ternary(trits, "tensor", [1.0])
    w.packed[3, 1] |= 0b11 << 2  # element (3, 5) becomes code 3
    trits[3, 5] = 0
    x = rng.standard_normal((2, 10)).astype(np.float32)
    expected = x.astype(np.float64) @ trits
    assert_close(mm.matmul(x, w), expected)
    assert_close(mm.matmul(x[0], w), expected[0])
    a = make_ternary(np.ones((1, 10), np.int8), "tensor", [1.0])
    assert mm.ternary_matmul_int(a, w).tolist() == [trits.sum(axis=0).tolist()]
    q = mm.bitlinear(np.ones((1, 10), np.float32), w)
    assert_close(q[0], trits.sum(axis=0).astype(np.float64), rtol=1e-6)
