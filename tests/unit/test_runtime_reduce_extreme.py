"""Native max / min (vectorised float cores, optimized integer cores) against numpy: NaN anywhere, signed
zeros, infinities, empty and size-1 inputs, every dim with and without keepdim, vector-tail lengths."""

import numpy as np
import pytest

from triton_dsl.runtime import interop
from triton_dsl.runtime.errors import TritonRuntimeError

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

call, H = interop.call, interop.to_header
RNG = np.random.default_rng(7)
FLOATS = {np.float32: "f32", np.float64: "f64"}
INTS = {np.int8: "i8", np.int16: "i16", np.int32: "i32", np.int64: "i64"}
# lengths around the contiguous core's vector body (4 accumulators x 16 f32 / 8 f64 lanes) and tail
LENGTHS = (1, 2, 7, 15, 16, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000)


def full(op, sfx, a):
    return call(f"trt_{op}_all_{sfx}", H(a))


def along(op, sfx, a, dim, keep):
    return interop.from_header(call(f"trt_{op}_dim_{sfx}", H(a), dim, keep))


@pytest.mark.parametrize("dtype", list(FLOATS))
@pytest.mark.parametrize("op", ["max", "min"])
def test_nan_in_any_position_gives_nan(dtype, op):
    sfx = FLOATS[dtype]
    for n in LENGTHS:
        for where in sorted({0, n // 2, n - 1}):
            a = RNG.standard_normal(n).astype(dtype)
            a[where] = np.nan
            assert np.isnan(full(op, sfx, a)), (n, where)
            assert np.isnan(getattr(np, op)(a))
        clean = RNG.standard_normal(n).astype(dtype)
        assert full(op, sfx, clean) == getattr(np, op)(clean), n
    only = np.full(5, np.nan, dtype)
    assert np.isnan(full(op, sfx, only)) and np.isnan(full(op, sfx, only[:1]))


@pytest.mark.parametrize("dtype", list(FLOATS))
@pytest.mark.parametrize("op", ["max", "min"])
@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 67, 3), (1, 1, 1), (5, 1, 130), (70, 2, 1)])
def test_every_dim_with_keepdim_and_nans_matches_numpy(dtype, op, shape):
    sfx = FLOATS[dtype]
    a = RNG.standard_normal(shape).astype(dtype)
    flat = a.reshape(-1)
    flat[RNG.choice(flat.size, max(1, flat.size // 17), replace=False)] = np.nan
    flat[0] = np.nan  # the first element of the first lane of every axis
    for dim in (0, 1, 2, -1):
        for keep in (0, 1):
            got = along(op, sfx, a, dim, keep)
            want = getattr(np, op)(a, axis=dim, keepdims=bool(keep))
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)  # NaN positions and values exactly equal
    np.testing.assert_array_equal(full(op, sfx, a), getattr(np, op)(a))


@pytest.mark.parametrize("dtype", list(FLOATS))
def test_infinities(dtype):
    for n in (1, 3, 70):
        neg = np.full(n, -np.inf, dtype)
        pos = np.full(n, np.inf, dtype)
        assert full("max", FLOATS[dtype], neg) == -np.inf and full("min", FLOATS[dtype], pos) == np.inf
        assert full("min", FLOATS[dtype], neg) == -np.inf and full("max", FLOATS[dtype], pos) == np.inf
        mixed = RNG.standard_normal(n).astype(dtype)
        mixed[n // 2] = np.inf
        mixed[-1] = -np.inf if n > 1 else np.inf
        assert full("max", FLOATS[dtype], mixed) == np.inf
        assert full("min", FLOATS[dtype], mixed) == mixed.min()
        mixed[0] = np.nan
        assert np.isnan(full("max", FLOATS[dtype], mixed)) and np.isnan(full("min", FLOATS[dtype], mixed))
    cols = np.array([[-np.inf, np.inf], [-np.inf, -np.inf]], dtype)
    np.testing.assert_array_equal(along("max", FLOATS[dtype], cols, 0, 0), [-np.inf, np.inf])
    np.testing.assert_array_equal(along("min", FLOATS[dtype], cols, 1, 1), [[-np.inf], [-np.inf]])


@pytest.mark.parametrize("dtype", list(FLOATS))
def test_signed_zero_ties_equal_numpy_and_follow_ieee_maximum(dtype):
    """Documented difference: numpy's sign on a -0.0/+0.0 tie depends on element order; ours is IEEE
    754-2019 maximum/minimum (+0.0 for max, -0.0 for min). The values compare equal either way."""
    sfx = FLOATS[dtype]
    for n in (2, 3, 64, 65, 200):
        for a in (np.where(np.arange(n) % 2 == 0, -0.0, 0.0).astype(dtype),
                  np.where(np.arange(n) % 2 == 1, -0.0, 0.0).astype(dtype)):
            hi, lo = full("max", sfx, a), full("min", sfx, a)
            assert hi == a.max() == 0.0 and lo == a.min() == 0.0
            assert not np.signbit(hi) and np.signbit(lo)
            rows = np.stack([a, -a])  # every column holds one -0.0 and one +0.0
            assert not np.signbit(along("max", sfx, rows, 0, 0)).any()
            assert np.signbit(along("min", sfx, rows, 0, 1)).all()
            assert not np.signbit(along("max", sfx, rows, 1, 0)).any()
    same = np.full(9, -0.0, dtype)
    assert np.signbit(full("max", sfx, same)) and np.signbit(full("min", sfx, same))


@pytest.mark.parametrize("sfx", ["f32", "f64", "i8", "i32", "i64"])
def test_empty_is_an_error_like_numpy(sfx):
    dtype = {"f32": np.float32, "f64": np.float64, "i8": np.int8, "i32": np.int32, "i64": np.int64}[sfx]
    e = np.zeros((0, 4), dtype)
    for op, word in (("max", "maximum"), ("min", "minimum")):
        with pytest.raises(ValueError, match="zero-size array"):
            getattr(np, op)(e)
        with pytest.raises(TritonRuntimeError, match=f"zero-size array to reduction operation {word}"):
            full(op, sfx, e)
        with pytest.raises(TritonRuntimeError, match="zero-size array"):
            along(op, sfx, e, 0, 1)
    np.testing.assert_array_equal(along("max", sfx, e, 1, 0), np.zeros(0, dtype))  # no lanes, n = 4


@pytest.mark.parametrize("dtype", list(INTS))
@pytest.mark.parametrize("op", ["max", "min"])
def test_integer_extremes_every_dim_and_lengths(dtype, op):
    info = np.iinfo(dtype)
    sfx = INTS[dtype]
    for n in LENGTHS:
        a = RNG.integers(info.min, info.max, n, endpoint=True, dtype=dtype)
        assert full(op, sfx, a) == getattr(np, op)(a), n
    edge = np.array([info.max, info.min, 0, info.min, info.max], dtype)
    assert full("max", sfx, edge) == info.max and full("min", sfx, edge) == info.min
    assert full(op, sfx, np.array([info.min], dtype)) == info.min
    a = RNG.integers(info.min, info.max, (4, 33, 3), endpoint=True, dtype=dtype)
    for dim in (0, 1, 2):
        for keep in (0, 1):
            want = getattr(np, op)(a, axis=dim, keepdims=bool(keep))
            got = along(op, sfx, a, dim, keep)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", list(FLOATS))
def test_large_chunked_full_reduction_finds_nan_and_extreme_in_late_chunk(dtype):
    sfx = FLOATS[dtype]
    big = RNG.standard_normal(300_001).astype(dtype)  # > one 65536-element chunk, odd tail
    big[-5] = 40.0
    big[200_000] = -40.0
    assert full("max", sfx, big) == 40.0 and full("min", sfx, big) == -40.0
    big[299_999] = np.nan
    assert np.isnan(full("max", sfx, big)) and np.isnan(full("min", sfx, big))
