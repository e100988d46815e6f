"""Mapping of IR types to LLVM types (llvmlite.ir), in registers and in memory.

In: IR types. Out: llvmlite types. `bool` is `i1` in registers and `i8` in memory (tensor data and
the C ABI); `trit` is an `i8` holding -1/0/1; `float16` is LLVM `half`; tensors, strings, structs, lists and
the call context are opaque pointers; tuples are literal structs of their items; a trait object or a function
value is a pair of pointers (docs/runtime.md "Objects").
"""

from __future__ import annotations

from llvmlite import ir

from ..ir.types import (
    BufTy,
    FnValTy,
    IRType,
    ListTy,
    NoneTy,
    OptionalTy,
    ScalarTy,
    StrTy,
    StructTy,
    TensorTy,
    TraitTy,
    TupleTy,
    UnionTy,
    UnitTy,
)
from .kernels.trk_ir import F32 as FLOAT
from .kernels.trk_ir import F64 as DOUBLE
from .kernels.trk_ir import HALF, I1, I8, I32, I64, VOID

# Generated program code uses opaque pointers (the kernels' `trk_ir.PTR` is a typed i8*).
PTR = ir.PointerType()

_SCALAR = {"bool": I1, "trit": I8, "int8": I8, "int16": ir.IntType(16), "int32": I32, "int64": I64,
           "float16": HALF, "float32": FLOAT, "float64": DOUBLE}
_MEMORY = dict(_SCALAR, bool=I8)


def scalar_type(dtype: str) -> ir.Type:
    """Register type of a dtype."""
    return _SCALAR[dtype]


def memory_type(dtype: str) -> ir.Type:
    """Type of one element of a tensor's data buffer."""
    return _MEMORY[dtype]


def llvm_type(ty: IRType) -> ir.Type:
    if isinstance(ty, ScalarTy):
        return _SCALAR[ty.dtype]
    if isinstance(ty, (TensorTy, StrTy, BufTy, StructTy, ListTy)):
        return PTR
    if isinstance(ty, (TraitTy, FnValTy)):  # {ptr obj, ptr vtable} / {ptr code, ptr env}
        return ir.LiteralStructType([PTR, PTR])
    if isinstance(ty, UnionTy):  # {i32 tag, members...}
        return ir.LiteralStructType([I32, *(llvm_type(m) for m in ty.members)])
    if isinstance(ty, TupleTy):
        return ir.LiteralStructType([llvm_type(t) for t in ty.items])
    if isinstance(ty, OptionalTy):
        if ty.nullable_pointer:
            return PTR
        return ir.LiteralStructType([I1, llvm_type(ty.inner)])
    if isinstance(ty, NoneTy):
        return I1
    if isinstance(ty, UnitTy):
        return VOID
    raise TypeError(f"no LLVM type for {ty}")


def abi_type(ty: IRType) -> ir.Type:
    """Type at the C ABI boundary (bool widened to a byte; optionals as {i8 present, value})."""
    if isinstance(ty, ScalarTy):
        return _MEMORY[ty.dtype]
    if isinstance(ty, OptionalTy) and not ty.nullable_pointer:
        return ir.LiteralStructType([I8, abi_type(ty.inner)])
    return llvm_type(ty)


def zero_value(ty: ir.Type) -> ir.Constant:
    """A placeholder value of `ty` (returned on the error path, where the caller ignores it)."""
    if isinstance(ty, ir.VoidType):
        raise TypeError("void has no value")
    if isinstance(ty, ir.PointerType):
        return ir.Constant(ty, None)
    return ir.Constant(ty, None)  # zeroinitializer for ints, floats and structs


def is_float(ty: ir.Type) -> bool:
    return isinstance(ty, (ir.HalfType, ir.FloatType, ir.DoubleType))


def to_register(builder: ir.IRBuilder, value: ir.Value, dtype: str) -> ir.Value:
    """A loaded memory value in register form (byte bool → i1)."""
    if dtype == "bool":
        return builder.icmp_unsigned("!=", value, ir.Constant(I8, 0))
    return value


def to_memory(builder: ir.IRBuilder, value: ir.Value, dtype: str) -> ir.Value:
    if dtype == "bool":
        return builder.zext(value, I8)
    return value
