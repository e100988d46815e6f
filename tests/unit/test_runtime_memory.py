"""Runtime memory, refcounting, errors and numpy interop, called through ctypes on real headers."""

import ctypes

import numpy as np
import pytest

from triton_dsl.abi import layout
from triton_dsl.runtime import interop
from triton_dsl.runtime.errors import Context, TritonRuntimeError, raise_if_error

f = interop.func


@pytest.fixture
def ctx():
    return Context()


def _rss_kb() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * 4


@pytest.mark.parametrize("dtype", [np.bool_, np.int8, np.int16, np.int32, np.int64, np.float16,
                                   np.float32, np.float64])
def test_roundtrip_shares_memory(dtype):
    a = (np.arange(24).reshape(2, 3, 4) % 3).astype(dtype)
    h = interop.to_header(a)
    hd = interop.header(h)
    assert (hd.rank, tuple(hd.shape[:3]), hd.numel, hd.nbytes) == (3, (2, 3, 4), 24, a.nbytes)
    assert hd.refcount == 1 and hd.owner != 0
    b = interop.from_header(h)
    assert np.shares_memory(a, b) and b.dtype == a.dtype
    np.testing.assert_array_equal(a, b)


def test_noncontiguous_input_is_copied():
    a = np.arange(20, dtype=np.float32).reshape(4, 5)[:, ::2]
    b = interop.from_header(interop.to_header(a))
    assert not np.shares_memory(a, b)
    np.testing.assert_array_equal(a, b)


def test_borrow_released_when_header_dies():
    before = interop.borrowed_count()
    h = interop.to_header(np.ones(5))
    assert interop.borrowed_count() == before + 1
    f("trt_incref")(h)
    f("trt_decref")(h)
    assert interop.borrowed_count() == before + 1
    f("trt_decref")(h)
    assert interop.borrowed_count() == before


def test_copy_and_view_keep_data_alive(ctx):
    a = np.arange(6, dtype=np.int32)
    h = interop.to_header(a)
    c = f("trt_copy")(ctypes.byref(ctx), h)
    shape = (ctypes.c_int64 * 2)(2, 3)
    v = f("trt_view")(ctypes.byref(ctx), h, 2, shape)
    f("trt_decref")(h)
    assert interop.header(v).base == h  # the view holds the base alive
    vc = interop.from_header(v)
    del a
    np.testing.assert_array_equal(vc, np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(interop.from_header(c), np.arange(6))


def test_runtime_allocations_are_64_byte_aligned(ctx):
    dims = (ctypes.c_int64 * 1)(5)
    for code in (layout.INT8, layout.FLOAT32, layout.FLOAT64):
        h = f("trt_tensor_zeros")(ctypes.byref(ctx), code, 1, dims)
        assert interop.header(h).data % 64 == 0
        np.testing.assert_array_equal(interop.from_header(h), np.zeros(5))


def test_scalar_and_item(ctx):
    h = f("trt_scalar_f64")(ctypes.byref(ctx), 2.5)
    assert interop.header(h).rank == 0
    assert f("trt_item_f64")(ctypes.byref(ctx), h) == 2.5
    assert interop.scalar_from_header(h) == 2.5
    h = interop.to_header(np.arange(3, dtype=np.int32))
    assert f("trt_item_i32")(ctypes.byref(ctx), h) == 0
    with pytest.raises(TritonRuntimeError, match="one element"):
        raise_if_error(ctx)
    f("trt_decref")(h)


def test_errors_and_location(ctx):
    a = interop.to_header(np.zeros((3, 4)))
    b = interop.to_header(np.zeros((5, 4)))
    f("trt_err_shape_mismatch")(ctypes.byref(ctx), b"a + b", a, b)
    f("trt_set_location")(ctypes.byref(ctx), b"prog.triton", 7, 9)
    f("trt_set_location")(ctypes.byref(ctx), b"outer.triton", 1, 1)  # innermost location wins
    f("trt_err_index")(ctypes.byref(ctx), 5, 0, 3)  # first error wins
    with pytest.raises(TritonRuntimeError) as info:
        raise_if_error(ctx)
    err = info.value
    assert err.message == "shape mismatch in `a + b`: [3, 4] vs [5, 4]"
    assert (err.file, err.line, err.col, err.kind) == ("prog.triton", 7, 9, "shape mismatch")
    assert str(err) == "prog.triton:7:9: error: shape mismatch in `a + b`: [3, 4] vs [5, 4]"
    f("trt_err_index")(ctypes.byref(ctx), -4, 1, 3)
    with pytest.raises(TritonRuntimeError, match="^index -4 is out of bounds for axis 1 with size 3$"):
        raise_if_error(ctx)
    f("trt_panic")(ctypes.byref(ctx), b"boom!!", 4)
    with pytest.raises(TritonRuntimeError, match="^boom$"):
        raise_if_error(ctx)
    for h in (a, b):
        f("trt_decref")(h)


def test_broadcast_shapes(ctx):
    out, rank = (ctypes.c_int64 * 8)(), ctypes.c_int32()
    a = interop.to_header(np.zeros((3, 1, 4)))
    b = interop.to_header(np.zeros((5, 1)))
    assert f("trt_broadcast_shapes")(ctypes.byref(ctx), b"x * y", a, b, out, ctypes.byref(rank)) == 0
    assert tuple(out[: rank.value]) == np.broadcast_shapes((3, 1, 4), (5, 1))
    c = interop.to_header(np.zeros((2, 3)))
    assert f("trt_broadcast_shapes")(ctypes.byref(ctx), b"x * y", a, c, out, ctypes.byref(rank)) == 1
    with pytest.raises(TritonRuntimeError, match=r"shape mismatch in `x \* y`: \[3, 1, 4\] vs \[2, 3\]"):
        raise_if_error(ctx)


def test_bad_shapes_are_errors_not_crashes(ctx):
    dims = (ctypes.c_int64 * 9)(*([1] * 9))
    assert not f("trt_tensor_new")(ctypes.byref(ctx), layout.FLOAT32, 9, dims)
    with pytest.raises(TritonRuntimeError, match="rank 9 exceeds the maximum rank 8"):
        raise_if_error(ctx)
    dims = (ctypes.c_int64 * 2)(3, -1)
    assert not f("trt_tensor_new")(ctypes.byref(ctx), layout.FLOAT32, 2, dims)
    with pytest.raises(TritonRuntimeError, match="negative dimension -1"):
        raise_if_error(ctx)
    dims = (ctypes.c_int64 * 3)(2**31, 2**31, 4)
    assert not f("trt_tensor_new")(ctypes.byref(ctx), layout.FLOAT32, 3, dims)
    with pytest.raises(TritonRuntimeError, match="too large"):
        raise_if_error(ctx)
    dims = (ctypes.c_int64 * 1)(2**50)
    assert not f("trt_tensor_new")(ctypes.byref(ctx), layout.FLOAT64, 1, dims)
    with pytest.raises(TritonRuntimeError, match="out of memory allocating"):
        raise_if_error(ctx)


def test_interop_error_messages():
    with pytest.raises(TypeError, match="dtype complex128"):
        interop.to_header(np.zeros(3, dtype=np.complex128))
    with pytest.raises(ValueError, match="at most 8 dimensions"):
        interop.to_header(np.zeros((1,) * 9))
    h = interop.to_trit_header(np.zeros((2, 1), np.uint8), (2, 3), [1.0], "tensor")
    with pytest.raises(TypeError, match="trit_parts"):
        interop.from_header(h, steal=False)
    with pytest.raises(ValueError, match="need 2 bytes"):
        interop.to_trit_header(np.zeros(3, np.uint8), (2, 3), [1.0], "tensor")
    f("trt_decref")(h)


def test_trit_header_roundtrip_without_copy():
    packed = np.array([[0b10011000], [0b01010110]], dtype=np.uint8)
    h = interop.to_trit_header(packed, (2, 3), np.array([0.5, 2.0], np.float32), "channel")
    hd = interop.header(h)
    assert (hd.dtype, hd.nbytes, hd.scale_kind) == (layout.TRIT, 2, layout.SCALE_CHANNEL)
    p, shape, scales, kind = interop.trit_parts(h)
    assert np.shares_memory(p, packed) and shape == (2, 3) and kind == "channel"
    np.testing.assert_array_equal(p, packed)
    np.testing.assert_array_equal(scales, [0.5, 2.0])


def test_conversions_do_not_leak():
    a = np.ones((4, 4), dtype=np.float32)
    for _ in range(2000):  # warm up allocator pools
        interop.from_header(interop.to_header(a))
    before, borrowed = _rss_kb(), interop.borrowed_count()
    for _ in range(100_000):
        b = interop.from_header(interop.to_header(a))
        del b
    assert interop.borrowed_count() == borrowed
    assert _rss_kb() - before < 8_000  # a leak of one 192-byte header per round would be ~19 MB


@pytest.mark.parametrize("scale", [0.5, (0.25, 2.0), "channel"])
def test_ternary_tensor_roundtrip_shares_packed_bytes(scale):
    from triton_dsl import TernaryTensor

    trits = np.array([[1, 0, -1, 1, 0], [-1, -1, 0, 1, 1]], dtype=np.int8)
    if scale == "channel":
        scale = np.array([0.5, 3.0], np.float32)
    tt = TernaryTensor.from_numpy(trits, scale)
    h = interop.to_header(tt)
    assert interop.header(h).data == tt.packed.ctypes.data
    back = interop.header_to_ternary(h)
    assert back.equals(tt) and np.shares_memory(back.packed, tt.packed)
    np.testing.assert_array_equal(back.to_numpy(), trits)
