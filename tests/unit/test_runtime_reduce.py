"""Native reductions, softmax and matmul against numpy on random data and edge cases."""

import ctypes

import numpy as np
import pytest

from triton_dsl.runtime import interop
from triton_dsl.runtime.errors import TritonRuntimeError

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

call, H = interop.call, interop.to_header
SFX = {np.bool_: "b", np.int8: "i8", np.int16: "i16", np.int32: "i32", np.int64: "i64", np.float16: "f16",
       np.float32: "f32", np.float64: "f64"}
RNG = np.random.default_rng(0)


def sample(dtype, shape):
    if dtype == np.bool_:
        return RNG.random(shape) < 0.4
    if np.issubdtype(dtype, np.integer):
        return RNG.integers(-50, 50, shape).astype(dtype)
    return RNG.standard_normal(shape).astype(dtype)


def numpy_reduce(op, a, axis=None, keepdims=False, ddof=0):
    wide = a.astype(np.float64)
    if op in ("sum", "prod"):
        src = a.astype(np.int64) if a.dtype.kind in "bi" else wide
        out = getattr(np, op)(src, axis=axis, keepdims=keepdims)
        kind = np.int64 if a.dtype == np.int64 else (np.int32 if a.dtype.kind in "bi" else a.dtype)
        return np.asarray(out).astype(kind)
    if op in ("mean", "var", "std"):
        kw = {"ddof": ddof} if op != "mean" else {}
        out = getattr(np, op)(wide, axis=axis, keepdims=keepdims, **kw)
        return np.asarray(out).astype(a.dtype if a.dtype.kind == "f" else np.float32)
    return np.asarray(getattr(np, op)(a, axis=axis, keepdims=keepdims) if op in ("max", "min")
                      else getattr(np, op)(a, axis=axis))


def check_close(got, want, dtype):
    if np.dtype(dtype) == np.float16:
        got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
        np.testing.assert_allclose(got, want, rtol=2e-3, atol=2e-3)
    elif np.dtype(dtype).kind == "f" or np.asarray(want).dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    else:
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", list(SFX))
@pytest.mark.parametrize("op", ["sum", "prod", "max", "min", "mean", "argmax", "argmin", "var", "std"])
def test_reduce_along_every_dim_and_all(dtype, op):
    if op == "prod" and dtype != np.bool_:
        a = (RNG.integers(1, 3, (3, 4, 5)) * RNG.choice([-1, 1], (3, 4, 5))).astype(dtype)
    else:
        a = sample(dtype, (3, 4, 5))
    h = H(a)
    extra = (1,) if op in ("var", "std") else ()
    for axis in (0, 1, 2, -1):
        for keep in (0, 1):
            if op.startswith("arg") and keep:
                continue
            got = interop.from_header(call(f"trt_{op}_dim_{SFX[dtype]}", h, axis, keep, *extra))
            want = numpy_reduce(op, a, axis, bool(keep), *extra)
            assert got.shape == want.shape and got.dtype == want.dtype, (got.dtype, want.dtype)
            check_close(got, want, dtype)
    if dtype != np.float16:  # half results cannot cross ctypes
        want = numpy_reduce(op, a, None, False, *extra)
        check_close(call(f"trt_{op}_all_{SFX[dtype]}", h, *extra), want, dtype)
    interop.func("trt_decref")(h)


def test_bool_sum_counts_and_large_float_sum():
    mask = RNG.random(100_000) < 0.3
    assert call("trt_sum_all_b", H(mask)) == int(mask.sum())
    big = RNG.standard_normal(1_000_003).astype(np.float32)
    np.testing.assert_allclose(call("trt_sum_all_f32", H(big)), big.astype(np.float64).sum(), rtol=1e-5)
    mean = call("trt_mean_all_f32", H(big))
    np.testing.assert_allclose(mean, big.mean(dtype=np.float64), rtol=1e-4, atol=1e-6)


def test_nan_propagates_like_numpy():
    a = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]], np.float32)
    h = H(a)
    for op in ("sum", "max", "min", "mean", "var"):
        got = interop.from_header(call(f"trt_{op}_dim_f32", h, 1, 0, *((0,) if op == "var" else ())))
        assert np.isnan(got[0]) and not np.isnan(got[1])
    assert call("trt_argmax_all_f32", h) == 1 and call("trt_argmin_all_f32", h) == 1
    assert np.isnan(call("trt_max_all_f32", h))


def test_empty_reductions():
    e = H(np.zeros((0, 3), np.float32))
    assert call("trt_sum_all_f32", e) == 0.0 and call("trt_prod_all_f32", e) == 1.0
    assert np.isnan(call("trt_mean_all_f32", e)) and np.isnan(call("trt_std_all_f32", e, 0))
    np.testing.assert_array_equal(interop.from_header(call("trt_sum_dim_f32", e, 0, 0)), np.zeros(3))
    with pytest.raises(TritonRuntimeError, match="zero-size array to reduction operation maximum"):
        call("trt_max_all_f32", e)
    with pytest.raises(TritonRuntimeError, match="attempt to get argmin of an empty sequence"):
        call("trt_argmin_dim_f32", e, 0, 0)
    with pytest.raises(TritonRuntimeError, match="zero-size array"):  # like numpy, even with no outputs
        call("trt_min_dim_f32", H(np.zeros((0, 0), np.float32)), 1, 0)


def test_reduction_argument_errors():
    h = H(np.zeros((2, 3), np.float32))
    with pytest.raises(TritonRuntimeError, match="dimension 2 is out of range for a tensor of rank 2"):
        call("trt_sum_dim_f32", h, 2, 0)
    with pytest.raises(TritonRuntimeError, match="expects a int32 tensor"):
        call("trt_sum_dim_i32", h, 0, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax(dtype):
    a = (RNG.standard_normal((4, 5, 6)) * 10).astype(dtype)
    h = H(a)
    for dim in (0, 1, -1):
        shifted = a.astype(np.float64) - a.max(axis=dim, keepdims=True)
        log_sm = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        sfx = SFX[dtype]
        np.testing.assert_allclose(interop.from_header(call(f"trt_softmax_{sfx}", h, dim)), np.exp(log_sm),
                                   rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(interop.from_header(call(f"trt_log_softmax_{sfx}", h, dim)), log_sm,
                                   rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sa,sb", [((5,), (5,)), ((5,), (5, 3)), ((4, 5), (5,)), ((4, 5), (5, 3)),
                                   ((2, 4, 5), (5, 3)), ((2, 1, 4, 5), (3, 5, 6)), ((7,), (2, 7, 3)),
                                   ((0, 5), (5, 2)), ((3, 0), (0, 2)), ((33, 300), (300, 70))])
def test_matmul_matches_numpy(dtype, sa, sb):
    a, b = RNG.standard_normal(sa).astype(dtype), RNG.standard_normal(sb).astype(dtype)
    got = interop.from_header(call(f"trt_matmul_{SFX[dtype]}", H(a), H(b)))
    want = np.matmul(a, b)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4 if dtype == np.float32 else 1e-10)


def test_matmul_shape_errors():
    with pytest.raises(TritonRuntimeError, match=r"^shape mismatch in matmul: \[3, 4\] @ \[5, 6\]$"):
        call("trt_matmul_f32", H(np.zeros((3, 4), np.float32)), H(np.zeros((5, 6), np.float32)))
    with pytest.raises(TritonRuntimeError, match=r"\[2, 3, 4\] @ \[5, 4, 2\]"):
        call("trt_matmul_f32", H(np.zeros((2, 3, 4), np.float32)), H(np.zeros((5, 4, 2), np.float32)))
    with pytest.raises(TritonRuntimeError, match="expects two float32 tensors"):
        call("trt_matmul_f32", H(np.zeros((3, 4))), H(np.zeros((4, 2))))


def _fake_pool(ranges):
    """A two-way split standing in for trk_parallel_for (records the ranges it hands out)."""
    body_t = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)

    def run(fn, ctx, n, grain):
        half = n // 2
        for lo, hi in ((0, half), (half, n)):
            ranges.append((lo, hi))
            body_t(fn)(ctx, lo, hi)

    return ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)(run)


def test_large_reductions_split_through_the_pool_with_identical_results():
    from triton_dsl.runtime import library

    big = RNG.standard_normal((3, 200_000)).astype(np.float32)
    flat = big.ravel()
    serial = (call("trt_sum_all_f32", H(flat)), interop.from_header(call("trt_max_dim_f32", H(big), 1, 0)))
    ranges = []
    pool = _fake_pool(ranges)
    try:
        library.use_thread_pool(ctypes.cast(pool, ctypes.c_void_p).value)
        total = call("trt_sum_all_f32", H(flat))
        rows = interop.from_header(call("trt_max_dim_f32", H(big), 1, 0))
    finally:
        library.use_thread_pool(0)
    nchunks = -(-flat.size // 65536)
    assert ranges == [(0, nchunks // 2), (nchunks // 2, nchunks), (0, 1), (1, 3)]
    assert total == serial[0]  # fixed chunking: the thread count never changes a result
    np.testing.assert_array_equal(rows, serial[1])
    np.testing.assert_allclose(total, flat.astype(np.float64).sum(), rtol=1e-6)
    np.testing.assert_array_equal(rows, big.max(1))


def test_matmul_splits_rows_through_the_installed_pool():
    from triton_dsl.runtime import library

    ranges = []
    pool = _fake_pool(ranges)
    a = RNG.standard_normal((64, 300)).astype(np.float32)
    b = RNG.standard_normal((300, 50)).astype(np.float32)
    try:
        assert library.use_thread_pool(ctypes.cast(pool, ctypes.c_void_p).value)
        got = interop.from_header(call("trt_matmul_f32", H(a), H(b)))
    finally:
        library.use_thread_pool(0)
    assert ranges == [(0, 32), (32, 64)]
    np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-4)
