"""How generated code talks to the runtime library (docs/runtime.md is the contract).

In: an `ir.IRBuilder` positioned in a generated function, the context pointer, tensor header pointers.
Out: LLVM IR that reads header fields, declares and calls runtime functions by name, and implements
the error protocol (test `ctx.code`, attach the source location, return the failure value).

Signatures come from `abi.functions`, the plain-data table generated from the runtime and kernel
builders (so code generation never builds the runtime to learn them).
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from ..abi.functions import FUNCTIONS
from ..ir.types import DTYPES
from .llvm_types import DOUBLE, FLOAT, HALF, I8, I32, I64, PTR, VOID

# dtype codes of the tensor header (docs/runtime.md)
DTYPE_CODE = {name: i for i, name in enumerate(DTYPES)}
RT_SUFFIX = {"bool": "b", "trit": "t", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
             "float16": "f16", "float32": "f32", "float64": "f64"}

# Tensor header field offsets (bytes)
OFF_REFCOUNT, OFF_DTYPE, OFF_RANK, OFF_DATA, OFF_NBYTES, OFF_NUMEL, OFF_SHAPE = 0, 8, 12, 16, 24, 32, 40
OFF_SCALE_KIND, OFF_SCALES = 108, 112
CTX_SIZE = layout.CTX_SIZE

ERR_RUNTIME, ERR_SHAPE, ERR_INDEX, ERR_PANIC, ERR_OOM, ERR_VALUE = 1, 2, 3, 4, 5, 6



_LLVM_TYPES = {"ptr": PTR, "void": VOID, "i1": ir.IntType(1), "i8": I8, "i16": ir.IntType(16), "i32": I32,
               "i64": I64, "half": HALF, "float": FLOAT, "double": DOUBLE}


def runtime_signature(name: str) -> tuple[ir.Type, list[ir.Type]]:
    """(return type, argument types) of runtime or kernel function `name`, from `abi.functions`."""
    if name not in FUNCTIONS:
        raise KeyError(f"the runtime library has no function {name}")
    ret, args = FUNCTIONS[name]
    return _LLVM_TYPES[ret], [_LLVM_TYPES[a] for a in args]


def declare(module: ir.Module, name: str) -> ir.Function:
    """Declare (once) the runtime function `name` in `module` with its published signature."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    ret, args = runtime_signature(name)
    return ir.Function(module, ir.FunctionType(ret, args), name)


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


