"""Format specs: `plan_format` parsing/validation and the native `trt_format_*` against Python's format()."""

import ctypes
import math

import numpy as np
import pytest

from triton_dsl.abi.format_plan import plan_format
from triton_dsl.runtime import interop
from triton_dsl.runtime.errors import Context

f = interop.func
CTX = Context()


class Buf(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("len", ctypes.c_int64), ("cap", ctypes.c_int64)]


def native(kind: str, value, spec: str, bits: int = 64) -> str:
    plan = plan_format(spec, kind)
    buf = Buf()
    ctx, out = ctypes.byref(CTX), ctypes.byref(buf)
    if kind == "str":
        data = value.encode()
        status = f("trt_format_str")(ctx, out, data, len(data), *plan.args())
    elif kind == "float":
        status = f("trt_format_float")(ctx, out, value, bits, *plan.args())
    elif kind == "int":
        status = f("trt_format_int")(ctx, out, value, *plan.args())
    else:
        status = f("trt_format_bool")(ctx, out, int(value), *plan.args())
    assert status == 0
    text = ctypes.string_at(buf.data, buf.len).decode()
    f("trt_buf_free")(out)
    return text


FLOAT_SPECS = (".2% .4f .3e >10 <8 ^9 + , 08.3f 010,.2f .0 .3 .1 g .2g #.0f E F % +.1% _ =+12.3f *^15.4e "
               "012 .10 #g n .0e ,.0f 10 .17 -^11,.1f G .3G").split() + [" .2f", ""]
INT_SPECS = ("d >10 <8 ^9 + , 08d x #x #010X o #o b #_b _ .2f .3e % 010, +,d n #b _x .2% g 07, 0=12,d"
             ).split() + [" d", ""]


def _floats():
    rng = np.random.default_rng(0)
    values = list(rng.standard_normal(25) * 10.0 ** rng.integers(-8, 20, 25))
    edge = [0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 1.0, 100.0, 1e16, 0.5, 2.5, 1234.5, 0.0001,
            9.995, 1e-5, 123456789.0]
    return [float(v) for v in values] + edge


@pytest.mark.parametrize("spec", FLOAT_SPECS)
def test_float_specs_match_python(spec):
    for v in _floats():
        assert native("float", v, spec) == format(v, spec), (spec, v)


@pytest.mark.parametrize("spec", INT_SPECS)
def test_int_specs_match_python(spec):
    rng = np.random.default_rng(1)
    edge = [0, 1, -1, 255, -255, 2**63 - 1, -2**63, 1234]
    values = [int(v) for v in rng.integers(-10**12, 10**12, 20)] + edge
    for v in values:
        assert native("int", v, spec) == format(v, spec), (spec, v)


@pytest.mark.parametrize("spec", ["", ">6", "<8", "^9", "5", ".2", ".1s", "*>7", "05", "s"])
def test_str_specs_match_python(spec):
    for v in ["ab", "héllo", ""]:
        assert native("str", v, spec) == format(v, spec)


def test_bool_spelling_and_numeric_specs():
    assert native("bool", True, "") == "true" and native("bool", False, "") == "false"
    assert native("bool", True, ">6") == "  true" and native("bool", False, "^7") == " false "
    for spec in ["d", "+", "05", "x", ".1f", "#b"]:
        assert native("bool", True, spec) == format(True, spec)


def test_float32_without_type_uses_its_own_shortest_repr():
    assert native("float", float(np.float32(0.1)), "", bits=32) == "0.1"
    assert native("float", float(np.float32(0.1)), ">8", bits=32) == "     0.1"
    assert native("float", float(np.float32(0.1)), ".4f", bits=32) == "0.1000"


@pytest.mark.parametrize("spec,kind,message", [
    ("d", "float", "Unknown format code 'd' for object of type 'float'"),
    (".2", "int", "Precision not allowed in integer format specifier"),
    (",x", "int", "Cannot specify ',' with 'x'."),
    ("+", "str", "Sign not allowed in string format specifier"),
    ("=5", "str", "'=' alignment not allowed in string format specifier"),
    ("d", "str", "Unknown format code 'd' for object of type 'str'"),
    (".2q", "float", "Invalid format specifier"),
    ("c", "int", "the 'c' format type is not supported"),
    ("02000,d", "int", "format width 2000 with zero padding and grouping is too large (at most 1000)"),
])
def test_plan_rejects_what_python_rejects(spec, kind, message):
    with pytest.raises(ValueError, match=f"^{__import__('re').escape(message)}$"):
        plan_format(spec, kind)


def test_huge_widths_and_precisions_stay_exact():
    assert native("int", -1234, "0999,d") == format(-1234, "0999,d")
    assert native("float", 1e300, "5000.150f") == format(1e300, "5000.150f")
    assert native("str", "ab", "*^3001") == format("ab", "*^3001")


def test_plan_fields():
    plan = plan_format("*^+#012,.3f", "float")
    p = plan
    fields = (p.fill, p.align, p.sign, p.alt, p.width, p.grouping, p.precision, p.type)
    assert fields == ("*", "^", "+", True, 12, ",", 3, "f")
    assert plan_format("08.3f", "float").args() == (ord("0"), ord("="), ord("-"), 0, 8, 0, 3, ord("f"))
    assert plan_format("", "int").runtime_function == "trt_format_int"


def test_native_formatter_refuses_a_width_beyond_the_limit():
    """The compiler never passes a width above MAX_WIDTH (E0310); a C caller passing one gets an error,
    not gigabytes of padding (issue 15)."""
    from triton_dsl.abi.format_plan import MAX_WIDTH
    from triton_dsl.runtime.errors import Context

    ctx, buf = Context(), Buf()
    args = list(plan_format(">5", "int").args())
    args[4] = MAX_WIDTH + 1
    assert f("trt_format_int")(ctypes.byref(ctx), ctypes.byref(buf), 7, *args) == 1
    assert ctx.code != 0 and b"format width 1000001 is too large (at most 1000000)" in ctx.message
    args[4] = MAX_WIDTH
    ok = Context()
    assert f("trt_format_int")(ctypes.byref(ok), ctypes.byref(buf), 7, *args) == 0
    assert buf.len == MAX_WIDTH
    f("trt_buf_free")(ctypes.byref(buf))
