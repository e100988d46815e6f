"""Native printing: scalar reprs against Python/numpy `str`, tensors against numpy's `str(array)`."""

import ctypes
import math

import numpy as np
import pytest

from triton_dsl.abi import layout
from triton_dsl.runtime import interop
from triton_dsl.runtime.errors import Context

f = interop.func


class Buf(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_int64), ("cap", ctypes.c_int64)]


CTX = Context()


def text(fn: str, *args) -> str:
    buf = Buf()
    assert f(fn)(ctypes.byref(CTX), ctypes.byref(buf), *args) == 0
    out = ctypes.string_at(buf.data, buf.len).decode()
    f("trt_buf_free")(ctypes.byref(buf))
    return out


def show(a: np.ndarray) -> str:
    h = interop.to_header(a)
    try:
        return text("trt_buf_append_tensor", h)
    finally:
        f("trt_decref")(h)


def numpy_str(a: np.ndarray) -> str:
    return str(a).replace("True", "true").replace("False", "false")


SCALARS = [0.1, 1.0, 1e16, 1e15, 123456789.0, 1e-4, 9.9e-5, 1e-5, 3.4e38, 16777216.0, 1e8, -0.0, 0.0,
           math.inf, -math.inf, math.nan, 1 / 3, 2.5e-300, 5e-324, 1.7976931348623157e308, 65504.0, 999.0,
           1000.0, 999999.0, 1e6, -2.5, 0.30000000000000004, 1e22, 123.456, 6e-5]


@pytest.mark.parametrize("value", SCALARS)
def test_scalar_float_reprs(value):
    assert text("trt_buf_append_f64", value) == repr(float(value))
    with np.errstate(over="ignore"):
        assert text("trt_buf_append_f32", value) == str(np.float32(value))
        h = np.array(value, dtype=np.float16)
    # `half` cannot cross ctypes; a rank-0 float16 tensor prints through the same native formatter.
    assert show(h) == str(h[()])


def test_scalar_float32_random_roundtrip():
    rng = np.random.default_rng(1)
    values = (rng.standard_normal(300) * 10.0 ** rng.integers(-8, 9, 300)).astype(np.float32)
    for v in values:
        assert text("trt_buf_append_f32", float(v)) == str(v)


def test_ints_bools_strings():
    assert text("trt_buf_append_i64", -(2**63)) == str(-(2**63))
    assert text("trt_buf_append_bool", 1) == "true"
    assert text("trt_buf_append_bool", 0) == "false"
    s = f("trt_str_new")(ctypes.byref(CTX), "héllo".encode(), 6)
    t = f("trt_str_concat")(ctypes.byref(CTX), s, s)
    assert text("trt_buf_append_str", t) == "héllohéllo"
    assert f("trt_str_eq")(s, s) == 1 and f("trt_str_eq")(s, t) == 0
    buf = Buf()
    f("trt_buf_append")(ctypes.byref(CTX), ctypes.byref(buf), b"abc", 3)
    taken = f("trt_buf_take_str")(ctypes.byref(CTX), ctypes.byref(buf))
    assert ctypes.string_at(taken + 16) == b"abc" and buf.data is None
    for obj in (s, t, taken):
        f("trt_str_decref")(obj)


CASES = [
    np.arange(12, dtype=np.float32).reshape(3, 4),
    np.array([1.0, 2.5]),
    np.array([1e-5, 1.0]),
    np.array([np.nan, 1.5, -np.inf]),
    np.array([np.nan, np.inf]),
    np.array([True, False, True]),
    np.array([1e10, 1.0]),
    np.array(3.5, dtype=np.float32),
    np.array(0.1, dtype=np.float64),
    np.array(-7, dtype=np.int8),
    np.array(True),
    np.zeros((2, 0)),
    np.zeros(0, dtype=np.int32),
    np.array([0.0, -0.0]),
    np.array([123456789.0, 1e-300]),
    np.array([1e100, 1e-100]),
    np.array([10808, 12832, 20000], dtype=np.float16),
    np.array([1e-4, 1.0], dtype=np.float32),
    np.arange(2000).reshape(40, 50),
    np.arange(1500, dtype=np.float64) / 7,
    np.arange(3000, dtype=np.float32).reshape(10, 15, 20) / 3,
    np.linspace(-1, 1, 40, dtype=np.float32),
]


@pytest.mark.parametrize("a", CASES, ids=lambda a: f"{a.dtype}{list(a.shape)}")
def test_tensor_str_matches_numpy(a):
    assert show(a) == numpy_str(a)


def test_tensor_str_random_shapes_and_magnitudes():
    rng = np.random.default_rng(7)
    dtypes = [np.float32, np.float64, np.float16, np.int32, np.int64, np.int8, np.bool_]
    for trial in range(140):
        shape = tuple(int(x) for x in rng.integers(1, 14 if trial % 5 else 40, int(rng.integers(1, 4))))
        a = rng.standard_normal(shape) * 10.0 ** rng.integers(-6, 10)
        if trial % 3 == 0:
            a = np.round(a, int(rng.integers(0, 4)))
        if trial % 11 == 0 and a.size > 2:
            a.flat[1], a.flat[0] = np.nan, -np.inf
        dtype = dtypes[trial % len(dtypes)]
        if dtype == np.int8:
            a = np.clip(a, -100, 100)
        with np.errstate(all="ignore"):
            a = a.astype(dtype)
        assert show(a) == numpy_str(a), (a.dtype, a.shape)


def test_trit_tensor_prints_its_trits():
    packed = np.array([[0b01000110], [0b01000101]], dtype=np.uint8)  # rows [+1, 0, -1], [0, 0, -1]
    h = interop.to_trit_header(packed, (2, 3), [1.0], "tensor")
    assert interop.header(h).dtype == layout.TRIT
    assert text("trt_buf_append_tensor", h) == str(np.array([[1, 0, -1], [0, 0, -1]]))
    f("trt_decref")(h)


def test_print_goes_to_python_stdout(capsys):
    buf = Buf()
    a = interop.to_header(np.array([1.5, 2.0], dtype=np.float32))
    f("trt_buf_append_tensor")(ctypes.byref(CTX), ctypes.byref(buf), a)
    f("trt_buf_append")(ctypes.byref(CTX), ctypes.byref(buf), b" ok\n", 4)
    assert f("trt_buf_print")(ctypes.byref(CTX), ctypes.byref(buf)) == 0
    assert capsys.readouterr().out == "[1.5 2. ] ok\n"
    assert buf.len == 0
    f("trt_decref")(a)
