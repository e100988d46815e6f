"""The runtime's C API (runtime/rt_capi.py), called here through ctypes: contexts, error reports, tensor
access, ternary tensors from packed bytes or trits (every corrupt input rejected with a message), argument
checks; and the C declarations of the generated header against the runtime's real signatures."""

from __future__ import annotations

import ctypes
import re

import numpy as np
import pytest

from triton_dsl.abi import layout
from triton_dsl.abi.c_api import C_DECLARATIONS, c_api_header
from triton_dsl.runtime import interop, library
from triton_dsl.runtime.errors import Context

f = interop.func


def _u8(*values: int):
    return (ctypes.c_uint8 * len(values))(*values)


def _f32(*values: float):
    return (ctypes.c_float * len(values))(*values)


def _ternary_new(ctx, shape, packed, kind, scales):
    return f("trt_ternary_new")(ctypes.byref(ctx), len(shape), interop.dims(shape), packed, kind, scales)


def test_ternary_from_packed_bytes_matches_the_interchange_format():
    ctx = Context()
    # docs/ternary_format.md, example 6: shape (2, 5) -> [[0xAA, 0x54], [0x55, 0x55]]
    t = _ternary_new(ctx, (2, 5), _u8(0xAA, 0x54, 0x55, 0x55), layout.SCALE_TENSOR, _f32(0.5))
    assert t and ctx.code == 0
    tt = interop.header_to_ternary(t)
    np.testing.assert_array_equal(tt.to_numpy(), [[1, 1, 1, 1, -1], [0, 0, 0, 0, 0]])
    assert tt.scale == 0.5 and tt.scale_kind == "tensor"


@pytest.mark.parametrize("packed,where", [((0xAB, 0x54, 0x55, 0x55), "byte 0 (0xab)"),   # a code 3
                                          ((0xAA, 0x58, 0x55, 0x55), "byte 1 (0x58)"),   # bad padding
                                          ((0xAA, 0x54, 0x55, 0x15), "byte 3 (0x15)")])  # padding code 0
def test_corrupt_packed_bytes_are_rejected(packed, where):
    ctx = Context()
    assert not _ternary_new(ctx, (2, 5), _u8(*packed), layout.SCALE_TENSOR, _f32(1.0))
    assert ctx.code == layout.ERR_VALUE
    assert ctx.message.decode() == (f"packed ternary data is corrupt: {where} holds the invalid code 3 or "
                                    "non-zero padding (docs/ternary_format.md)")


@pytest.mark.parametrize("kind,scales,message", [
    (7, (1.0,), "scale kind 7 is not 1 (tensor), 2 (channel) or 3 (asymmetric)"),
    (0, (1.0,), "scale kind 0 is not 1 (tensor), 2 (channel) or 3 (asymmetric)"),
    (layout.SCALE_CHANNEL, (1.0, float("nan")), "scales must be finite numbers, got nan (scale 1)"),
    (layout.SCALE_ASYMMETRIC, (float("inf"), 1.0), "scales must be finite numbers, got inf (scale 0)"),
    (layout.SCALE_TENSOR, None, "the scales of a ternary tensor are NULL (1 needed)"),
])
def test_bad_scales_are_rejected(kind, scales, message):
    ctx = Context()
    assert not _ternary_new(ctx, (2, 5), _u8(0x55, 0x55, 0x55, 0x55), kind, _f32(*scales) if scales else None)
    assert ctx.code == layout.ERR_VALUE and ctx.message.decode() == message


def test_ternary_from_trits_packs_and_keeps_channel_scales():
    ctx = Context()
    trits = np.array([[1, 0, -1], [-1, -1, 1]], dtype=np.int8)
    t = f("trt_ternary_from_trits")(ctypes.byref(ctx), 2, interop.dims((2, 3)), trits.ctypes.data,
                                    layout.SCALE_CHANNEL, _f32(0.25, 2.0))
    assert t, ctx.message
    assert f("trt_ternary_scale_kind")(t) == layout.SCALE_CHANNEL and f("trt_ternary_scale_count")(t) == 2
    scales = ctypes.cast(f("trt_ternary_scales")(t), ctypes.POINTER(ctypes.c_float))
    assert (scales[0], scales[1]) == (0.25, 2.0)
    tt = interop.header_to_ternary(t)
    np.testing.assert_array_equal(tt.to_numpy(), trits)
    np.testing.assert_array_equal(tt.packed, [[0x46], [0x60]])
    bad = np.array([[1, 0, 2]], dtype=np.int8)
    assert not f("trt_ternary_from_trits")(ctypes.byref(ctx), 2, interop.dims((1, 3)), bad.ctypes.data,
                                           layout.SCALE_TENSOR, _f32(1.0))
    assert b"cannot convert 2 to trit" in ctx.message


def test_channel_scales_of_a_scalar_and_a_rank0_tensor():
    ctx = Context()
    assert not _ternary_new(ctx, (), _u8(0x56), layout.SCALE_CHANNEL, _f32(1.0))
    assert ctx.message == b"a scalar ternary tensor has no channels: give one scale"
    ctx = Context()
    t = _ternary_new(ctx, (), _u8(0x56), layout.SCALE_TENSOR, _f32(3.0))  # rank 0: +1
    assert t and interop.header_to_ternary(t).to_numpy() == 1
    assert not _ternary_new(ctx, (), _u8(0x5A), layout.SCALE_TENSOR, _f32(3.0))  # padding slot holds +1


def test_tensor_access():
    ctx = Context()
    t = f("trt_tensor_zeros")(ctypes.byref(ctx), layout.FLOAT32, 3, interop.dims((2, 3, 4)))
    assert [f("trt_tensor_dim")(t, a) for a in (0, 1, 2, -1, -3, 3, -4)] == [2, 3, 4, 4, 2, -1, -1]
    assert (f("trt_tensor_rank")(t), f("trt_tensor_dtype")(t)) == (3, layout.FLOAT32)
    assert (f("trt_tensor_numel")(t), f("trt_tensor_nbytes")(t)) == (24, 96)
    shape = ctypes.cast(f("trt_tensor_shape")(t), ctypes.POINTER(ctypes.c_int64))
    assert [shape[i] for i in range(3)] == [2, 3, 4]
    assert f("trt_tensor_data")(t) == interop.header(t).data
    f("trt_decref")(t)
    for code in (9, -1):
        assert not f("trt_tensor_new")(ctypes.byref(ctx), code, 1, interop.dims((2,)))
        assert ctx.message.decode() == f"{code} is not a dtype code (0 bool ... 8 float64)"
        ctx = Context()
    s = f("trt_str_new")(ctypes.byref(ctx), b"hello", 5)
    assert ctypes.string_at(f("trt_str_data")(s)) == b"hello" and f("trt_str_len")(s) == 5
    f("trt_str_decref")(s)


def test_context_and_error_report():
    ctx = f("trt_ctx_new")()
    assert ctx and f("trt_error_code")(ctx) == 0
    buf = ctypes.create_string_buffer(300)
    assert f("trt_error_format")(ctx, buf, 300) == 0 and buf.value == b""
    c = Context.from_address(ctx)
    f("trt_set_error")(ctx, layout.ERR_SHAPE, b"shape mismatch in `a + b`: [3] vs [4]")
    f("trt_set_location")(ctx, b"m.triton", 4, 9)
    f("trt_push_frame")(ctx, b"m.triton", 12, 5, 6)
    assert (f("trt_error_code")(ctx), f("trt_error_line")(ctx), f("trt_error_col")(ctx)) == (2, 4, 9)
    assert ctypes.string_at(f("trt_error_file")(ctx)) == b"m.triton"
    assert ctypes.string_at(f("trt_error_message")(ctx)) == c.message
    text = (b"m.triton:4:9: error: shape mismatch in `a + b`: [3] vs [4]\n"
            b"m.triton:12:5: note: called from here\n")
    assert f("trt_error_format")(ctx, buf, 300) == len(text) and buf.value == text
    small = ctypes.create_string_buffer(10)  # truncated, still NUL-terminated
    assert f("trt_error_format")(ctx, small, 10) == 9 and small.value == text[:9]
    f("trt_clear_error")(ctx)
    assert f("trt_error_code")(ctx) == 0 and f("trt_error_file")(ctx) is None
    f("trt_ctx_free")(ctx)
    f("trt_ctx_free")(None)


def test_argument_check():
    ctx = Context()
    t = f("trt_tensor_zeros")(ctypes.byref(ctx), layout.FLOAT32, 2, interop.dims((2, 3)))
    check = f("trt_check_argument")
    any_dims, static = (ctypes.c_int64 * 2)(-1, -1), (ctypes.c_int64 * 2)(-1, 4)
    assert check(ctypes.byref(ctx), t, layout.FLOAT32, 2, any_dims, b"f(): argument 'x'", b"T") == 0
    cases = [(t, layout.FLOAT64, 2, any_dims, layout.ERR_TYPE, "got a float32 tensor of shape [2, 3]"),
             (t, layout.FLOAT32, 1, any_dims, layout.ERR_SHAPE, "got a float32 tensor of shape [2, 3]"),
             (t, layout.FLOAT32, 2, static, layout.ERR_SHAPE, "got a float32 tensor of shape [2, 3]"),
             (None, layout.FLOAT32, 2, static, layout.ERR_VALUE, "is NULL, expected T")]
    for arg, dtype, rank, dims, code, text in cases:
        ctx = Context()
        assert check(ctypes.byref(ctx), arg, dtype, rank, dims, b"f(): argument 'x'", b"T") == 1
        assert ctx.code == code and ctx.message.decode().startswith("f(): argument 'x' ")
        assert text in ctx.message.decode()
    f("trt_decref")(t)


_C_TO_IR = {"void": "void", "int32_t": "i32", "int64_t": "i64", "float": "float", "double": "double"}


def _kind(c_type: str) -> str:
    c_type = c_type.replace("const ", "").strip()
    return "ptr" if "*" in c_type else _C_TO_IR[c_type]


def test_every_c_declaration_matches_the_runtime_signature():
    signatures = library.signatures()
    for proto, _ in C_DECLARATIONS:
        m = re.fullmatch(r"(.+?)\b(trt_\w+)\((.*)\)", proto)
        assert m, proto
        ret, name, params = m.groups()
        assert name in signatures, name
        ir_ret, ir_args = signatures[name]
        c_args = [] if params == "void" else [p.rsplit(" ", 1)[0] + ("*" if "*" in p else "")
                                              for p in params.split(", ")]
        assert _kind(ret) == str(ir_ret), name
        assert [_kind(a) for a in c_args] == [str(a) for a in ir_args], name
    header = "\n".join(c_api_header())
    assert "#ifndef TRITON_DSL_RUNTIME_API" in header and f"frames[{layout.MAX_FRAMES}]" in header
    assert all(len(line) <= 110 for line in header.splitlines())
