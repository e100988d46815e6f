"""How generated code talks to the runtime library (docs/runtime.md is the contract).

In: an `ir.IRBuilder` positioned in a generated function, the context pointer, tensor header pointers.
Out: LLVM IR that reads header fields, declares and calls runtime functions by name, and implements
the error protocol (test `ctx.code`, attach the source location, return the failure value).

The runtime's own signature table (`runtime.library.SIGNATURES`) is used when it is importable; the
few signatures below cover what codegen needs before the library has landed.
"""

from __future__ import annotations

import importlib

from llvmlite import ir

from ..ir.types import DTYPES
from ..runtime import layout
from .llvm_types import DOUBLE, FLOAT, HALF, I8, I32, I64, PTR, VOID

# dtype codes of the tensor header (docs/runtime.md)
DTYPE_CODE = {name: i for i, name in enumerate(DTYPES)}
RT_SUFFIX = {"bool": "b", "trit": "t", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
             "float16": "f16", "float32": "f32", "float64": "f64"}

# Tensor header field offsets (bytes)
OFF_REFCOUNT, OFF_DTYPE, OFF_RANK, OFF_DATA, OFF_NBYTES, OFF_NUMEL, OFF_SHAPE = 0, 8, 12, 16, 24, 32, 40
OFF_SCALE_KIND, OFF_SCALES = 108, 112
CTX_SIZE = layout.CTX_SIZE

_FALLBACK_SIGNATURES: dict[str, tuple[ir.Type, list[ir.Type]]] = {
    "trt_tensor_new": (PTR, [PTR, I32, I32, PTR]),
    "trt_incref": (VOID, [PTR]),
    "trt_decref": (VOID, [PTR]),
    "trt_str_incref": (VOID, [PTR]),
    "trt_str_decref": (VOID, [PTR]),
    "trt_set_error": (VOID, [PTR, I32, PTR]),
    "trt_set_location": (VOID, [PTR, PTR, I32, I32]),
    "trt_push_frame": (VOID, [PTR, PTR, I32, I32, I32]),
    "trt_panic": (VOID, [PTR, PTR, I64]),
    "trt_err_shape_mismatch": (VOID, [PTR, PTR, PTR, PTR]),
    "trt_cast": (PTR, [PTR, PTR, I32]),
    "trk_parallel_for": (VOID, [PTR, PTR, I64, I64]),
    # kernel library (docs/ternary_format.md, kernel ABI table)
    "trk_dequant_f32": (VOID, [PTR, I64, I64, PTR, I32, I64, PTR]),
    "trk_relayout_t2_panels": (VOID, [PTR, I64, I64, I64, I64, I64, PTR]),
    "trk_relayout_t2_bitplanes": (VOID, [PTR, I64, I64, I64, I64, I64, PTR]),
    "trk_matmul_t2_t2": (VOID, [PTR, I64, I64, PTR, I64, PTR, PTR, PTR, PTR, PTR]),
    "trk_matmul_f32_t2": (VOID, [PTR, I64, I64, PTR, PTR, I64, I64, I64, I64, I64, PTR, PTR, FLOAT, FLOAT]),
}

ERR_RUNTIME, ERR_SHAPE, ERR_INDEX, ERR_PANIC, ERR_OOM, ERR_VALUE = 1, 2, 3, 4, 5, 6

_SCALAR_ABI = {"b": I8, "t": I8, "i8": I8, "i16": ir.IntType(16), "i32": I32, "i64": I64,
               "f16": HALF, "f32": FLOAT, "f64": DOUBLE}


def _library():
    try:
        return importlib.import_module("triton_dsl.runtime.library")
    except ModuleNotFoundError as exc:
        if exc.name != "triton_dsl.runtime.library":
            raise
        return None


_cached_signatures: dict | None = None


def _runtime_signatures() -> dict:
    """The runtime library's published signatures (built once; empty before the library exists)."""
    global _cached_signatures
    if _cached_signatures is None:
        lib = _library()
        _cached_signatures = dict(lib.signatures()) if lib is not None and hasattr(lib, "signatures") else {}
    return _cached_signatures


def runtime_signature(name: str) -> tuple[ir.Type, list[ir.Type]]:
    table = _runtime_signatures()
    if name in table:
        ret, args = table[name]
        return ret, list(args)
    if name in _FALLBACK_SIGNATURES:
        return _FALLBACK_SIGNATURES[name]
    raise KeyError(f"the runtime library has no function {name}")


def declare(module: ir.Module, name: str) -> ir.Function:
    """Declare (once) the runtime function `name` in `module` with its published signature."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    ret, args = runtime_signature(name)
    return ir.Function(module, ir.FunctionType(ret, args), name)


def has_runtime_function(name: str) -> bool:
    try:
        runtime_signature(name)
    except KeyError:
        return False
    return True


def call(b: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    return b.call(declare(b.module, name), list(args))


def field_ptr(b: ir.IRBuilder, header: ir.Value, offset: int) -> ir.Value:
    return b.gep(header, [ir.Constant(I64, offset)], source_etype=I8)


def load_data(b: ir.IRBuilder, header: ir.Value) -> ir.Value:
    return b.load(field_ptr(b, header, OFF_DATA), typ=PTR)


def load_numel(b: ir.IRBuilder, header: ir.Value) -> ir.Value:
    return b.load(field_ptr(b, header, OFF_NUMEL), typ=I64)


def shape_ptr(b: ir.IRBuilder, header: ir.Value) -> ir.Value:
    return field_ptr(b, header, OFF_SHAPE)


def load_dim(b: ir.IRBuilder, header: ir.Value, axis: int | ir.Value) -> ir.Value:
    idx = ir.Constant(I64, axis) if isinstance(axis, int) else axis
    return b.load(b.gep(shape_ptr(b, header), [idx], source_etype=I64), typ=I64)


def error_pending(b: ir.IRBuilder, ctx: ir.Value) -> ir.Value:
    """i1: the context holds an error."""
    code = b.load(ctx, typ=I32)
    return b.icmp_signed("!=", code, ir.Constant(I32, 0))


def scalar_abi_type(suffix: str) -> ir.Type:
    return _SCALAR_ABI[suffix]
