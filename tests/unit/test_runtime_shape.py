"""Native shape ops, creation and casts against numpy: views without copies, bounds-checked indexing,
slicing with negative steps, concat/stack/broadcast, and every dtype pair of casts (packed trits too)."""

import ctypes

import numpy as np
import pytest

from triton_dsl.abi import layout
from triton_dsl.runtime import interop
from triton_dsl.runtime.errors import TritonRuntimeError

call, H, dims = interop.call, interop.to_header, interop.dims
RNG = np.random.default_rng(3)
OMIT = -(2**63)
NUMPY = {code: dt for code, dt in interop.CODE_TO_NUMPY.items()}


def out(addr):
    return interop.from_header(addr)


def test_reshape_is_a_view_with_inference():
    a = np.arange(24, dtype=np.float32)
    h = H(a)
    r = call("trt_reshape", h, 3, dims((2, -1, 4)))
    assert interop.header(r).data == a.ctypes.data  # no copy
    np.testing.assert_array_equal(out(r), a.reshape(2, 3, 4))
    message = r"^cannot reshape a tensor of shape \[24\] into shape \[5, 5\]$"
    with pytest.raises(TritonRuntimeError, match=message):
        call("trt_reshape", h, 2, dims((5, 5)))
    with pytest.raises(TritonRuntimeError, match="only one dimension can be -1"):
        call("trt_reshape", h, 2, dims((-1, -1)))


def test_squeeze_unsqueeze():
    a = RNG.standard_normal((3, 1, 4))
    h = H(a)
    np.testing.assert_array_equal(out(call("trt_squeeze", h, 1)), a.squeeze(1))
    np.testing.assert_array_equal(out(call("trt_squeeze_all", H(a[None]))), a.squeeze())
    for d in (0, 2, 3, -1, -4):
        np.testing.assert_array_equal(out(call("trt_unsqueeze", h, d)), np.expand_dims(a, d))
    message = r"cannot squeeze dimension 0 of size 3 \(shape \[3, 1, 4\]\)"
    with pytest.raises(TritonRuntimeError, match=message):
        call("trt_squeeze", h, 0)
    with pytest.raises(TritonRuntimeError, match="dimension 5 is out of range for a tensor of rank 4"):
        call("trt_unsqueeze", h, 5)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.float32, np.float64, np.bool_])
def test_permute_and_transpose(dtype):
    a = (RNG.standard_normal((2, 3, 4, 5)) * 10).astype(dtype)
    h = H(a)
    for axes in ((3, 1, 0, 2), (0, 1, 2, 3), (-1, -2, -3, -4)):
        got = out(call("trt_permute", h, (ctypes.c_int32 * 4)(*axes)))
        np.testing.assert_array_equal(got, a.transpose(axes))
    np.testing.assert_array_equal(out(call("trt_transpose", h, 1, -1)), a.swapaxes(1, -1))
    with pytest.raises(TritonRuntimeError, match="permute: axis 1 is repeated"):
        call("trt_permute", h, (ctypes.c_int32 * 4)(1, 1, 0, 2))


def spec(*items):
    flat = []
    for item in items:
        if isinstance(item, slice):
            flat += [1, OMIT if item.start is None else item.start, OMIT if item.stop is None else item.stop,
                     1 if item.step is None else item.step]
        else:
            flat += [0, item, 0, 0]
    return (ctypes.c_int64 * max(1, len(flat)))(*flat), len(items)


@pytest.mark.parametrize("key", [
    (1,), (-1,), (slice(None),), (slice(1, 3),), (slice(None, None, -1),), (slice(-2, None),),
    (slice(None), 2), (0, slice(None, None, 2), -1), (slice(5, 1, -2), slice(None), 3), (2, 4, 1),
    (slice(10, 20),), (slice(-100, 100, 3),), (slice(3, 3),), (slice(None, None, -3), 0),
])
def test_indexing_and_slicing_match_numpy(key):
    a = np.arange(5 * 6 * 7, dtype=np.int32).reshape(5, 6, 7)
    got = out(call("trt_index", H(a), *spec(*key)))
    want = a[key]
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_index_errors_and_offsets():
    h = H(np.zeros((3, 4)))
    with pytest.raises(TritonRuntimeError, match="^index 3 is out of bounds for axis 0 with size 3$"):
        call("trt_index", h, *spec(3))
    with pytest.raises(TritonRuntimeError, match="^index -5 is out of bounds for axis 1 with size 4$"):
        call("trt_index", h, *spec(0, -5))
    with pytest.raises(TritonRuntimeError, match="slice step cannot be zero"):
        call("trt_index", h, *spec(slice(None, None, 0)))
    with pytest.raises(TritonRuntimeError, match="too many indices for a tensor of rank 2: 3"):
        call("trt_index", h, *spec(0, 0, 0))
    assert call("trt_offset", h, dims((2, -1)), 2) == 11
    with pytest.raises(TritonRuntimeError, match="index 4 is out of bounds for axis 1 with size 4"):
        call("trt_offset", h, dims((0, 4)), 2)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_and_stack(axis):
    parts = [RNG.standard_normal((2, 3)).astype(np.float32) for _ in range(3)]
    arr = (ctypes.c_void_p * 3)(*[H(p) for p in parts])
    np.testing.assert_array_equal(out(call("trt_stack", arr, 3, axis)), np.stack(parts, axis))
    np.testing.assert_array_equal(out(call("trt_concat", arr, 3, axis)), np.concatenate(parts, axis))
    uneven = [RNG.standard_normal((2, k)) for k in (1, 3, 2)]
    arr = (ctypes.c_void_p * 3)(*[H(p) for p in uneven])
    np.testing.assert_array_equal(out(call("trt_concat", arr, 3, 1)), np.concatenate(uneven, 1))
    with pytest.raises(TritonRuntimeError, match=r"shape mismatch in `stack`: \[2, 1\] vs \[2, 3\]"):
        call("trt_stack", arr, 3, 0)


def test_broadcast_to():
    a = np.arange(3, dtype=np.int64).reshape(3, 1)
    np.testing.assert_array_equal(out(call("trt_broadcast_to", H(a), 3, dims((2, 3, 4)))),
                                  np.broadcast_to(a, (2, 3, 4)))
    message = r"cannot broadcast a tensor of shape \[3, 1\] to shape \[2, 4\]"
    with pytest.raises(TritonRuntimeError, match=message):
        call("trt_broadcast_to", H(a), 2, dims((2, 4)))


def test_creation():
    full = out(call("trt_full_f32", 2, dims((2, 3)), ctypes.c_float(1.5)))
    np.testing.assert_array_equal(full, np.full((2, 3), 1.5, np.float32))
    np.testing.assert_array_equal(out(call("trt_full_i64", 1, dims((4,)), -7)), np.full(4, -7))
    zeros = out(call("trt_tensor_zeros", layout.INT16, 2, dims((3, 2))))
    assert zeros.dtype == np.int16 and not zeros.any()
    for args in ((0, 10, 1), (2.0, 3.0, 0.25), (5, -5, -2), (0, 1, 0.1), (3, 1, 1)):
        for code in (layout.INT32, layout.FLOAT64, layout.FLOAT32):
            got = out(call("trt_arange", code, *[ctypes.c_double(x) for x in args]))
            want = np.arange(*args).astype(NUMPY[code])
            np.testing.assert_allclose(got, want, rtol=1e-6)
    with pytest.raises(TritonRuntimeError, match="arange: step must not be zero"):
        call("trt_arange", layout.INT32, ctypes.c_double(0), ctypes.c_double(1), ctypes.c_double(0))
    data = np.array([[1, 2], [3, 4]], dtype=np.int16)
    copied = out(call("trt_from_data", layout.INT16, 2, dims((2, 2)), data.ctypes.data))
    assert not np.shares_memory(copied, data)
    np.testing.assert_array_equal(copied, data)


CAST_CODES = [code for code in range(9) if code != layout.TRIT]


@pytest.mark.parametrize("src", CAST_CODES)
def test_casts_between_all_dtypes(src):
    values = np.array([0, 1, -1, 2.75, -3.5, 100, -128, 127], dtype=np.float64)
    a = values.astype(NUMPY[src])
    h = H(a)
    for dst in CAST_CODES:
        got = out(call("trt_cast", h, dst))
        want = a.astype(NUMPY[dst])
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want, err_msg=f"{a.dtype} -> {want.dtype}")


def test_cast_edge_rules():
    special = np.array([np.nan, np.inf, -np.inf, 1e20], np.float64)
    np.testing.assert_array_equal(out(call("trt_cast", H(special), layout.BOOL)), special.astype(bool))
    assert out(call("trt_cast", H(special), layout.INT32)).tolist() == [0, 2**31 - 1, -(2**31), 2**31 - 1]
    same = H(np.ones(3, np.float32))
    assert call("trt_cast", same, layout.FLOAT32) == same


def test_cast_to_and_from_packed_trits():
    vals = np.array([[1, 0, -1, -1, 1], [0, 0, 1, -1, 0]], dtype=np.int8)
    t = call("trt_cast", H(vals), layout.TRIT)
    packed, shape, _, _ = interop.trit_parts(t, steal=False)
    codes = np.pad(vals + 1, ((0, 0), (0, 3)), constant_values=1).reshape(2, 2, 4).astype(np.uint8)
    expected = (codes[..., 0] | codes[..., 1] << 2 | codes[..., 2] << 4 | codes[..., 3] << 6).astype(np.uint8)
    assert shape == (2, 5)
    np.testing.assert_array_equal(packed, expected)
    np.testing.assert_array_equal(out(call("trt_cast", t, layout.FLOAT32)), vals.astype(np.float32))
    with pytest.raises(TritonRuntimeError, match=r"cannot convert 2 to trit \(only -1, 0 and 1\)"):
        call("trt_cast", H(np.array([1, 2], np.int32)), layout.TRIT)
    with pytest.raises(TritonRuntimeError, match=r"cannot convert 0.5 to trit"):
        call("trt_cast", H(np.array([0.5])), layout.TRIT)


def test_views_of_packed_trits_keep_the_last_dimension():
    t = call("trt_cast", H(np.array([[1, 0, -1], [0, 1, 1]], np.int8)), layout.TRIT)
    flat = call("trt_reshape", t, 3, dims((1, 2, 3)))
    np.testing.assert_array_equal(out(call("trt_cast", flat, layout.INT8)), [[[1, 0, -1], [0, 1, 1]]])
    message = (r"a packed ternary tensor of shape \[2, 3\] can only be reshaped keeping its last "
               r"dimension \(3\)")
    with pytest.raises(TritonRuntimeError, match=message):
        call("trt_reshape", t, 1, dims((6,)))
    with pytest.raises(TritonRuntimeError, match=message):
        call("trt_unsqueeze", t, -1)
    with pytest.raises(TritonRuntimeError, match="permute of a packed ternary tensor is not supported"):
        call("trt_transpose", t, 0, 1)


def test_zero_sized_dims_never_divide_by_zero():
    # Each of these once evaluated a division by a zero extent (a crash, not an error).
    parts = [np.zeros((0, 2), np.float32), np.zeros((0, 3), np.float32)]
    arr = (ctypes.c_void_p * 2)(*[H(p) for p in parts])
    assert out(call("trt_concat", arr, 2, 1)).shape == (0, 5)
    assert out(call("trt_softmax_f32", H(np.zeros((3, 0), np.float32)), 1)).shape == (3, 0)
    assert out(call("trt_reshape", H(np.zeros((0, 4))), 2, dims((-1, 2)))).shape == (0, 2)
    with pytest.raises(TritonRuntimeError, match="negative dimension"):
        call("trt_reshape", H(np.zeros((0, 4))), 2, dims((-1, 0)))
    t = call("trt_cast", H(np.zeros((2, 0), np.int8)), layout.TRIT)
    assert interop.header(t).nbytes == 0
