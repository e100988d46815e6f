"""Typing rules of the operators (`+ - * / // % ** @`, comparisons, `&& || !`, unary `-`).

In: operand types, whether each operand is a numeric literal (literals adapt: `x * 2.0` keeps `x`'s
dtype), the operator. Out: the result type, or `OpError(code, message)` for the caller to report at the
operator's span.

Rules (LANGUAGE.md): promotion `bool < trit < int8 < … < float64`; `/` is true division (ints give
float32); `//` and `%` keep the promoted dtype; `int ** int` is an int, a float operand makes a float;
comparisons give bool (bool tensors for tensors); a TernaryTensor in arithmetic acts as its float32 value,
except `ternary == int` which compares trits; `-ternary` stays ternary. Scalars with scalars give scalars;
anything with a tensor broadcasts to a tensor.
"""

from __future__ import annotations

from . import shapes
from .types import (
    BOOL,
    ERROR,
    NoneType,
    OptionalType,
    Scalar,
    StrType,
    TensorType,
    Type,
    TypeType,
    is_error,
    is_float_dtype,
    is_int_dtype,
    promote_dtypes,
)

ARITH = ("+", "-", "*", "/", "//", "%", "**")
COMPARE = ("<", "<=", ">", ">=", "==", "!=")
LOGIC = ("&&", "||")


class OpError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def dequantized(t: Type) -> Type:
    """A TernaryTensor acts as its float32 value in arithmetic."""
    if isinstance(t, TensorType) and t.ternary:
        return TensorType("float32", t.shape)
    return t


def literal_dtype(lit: str, other: str) -> str:
    """The dtype a numeric literal of dtype `lit` takes next to a value of dtype `other`."""
    if is_float_dtype(lit):
        return other if is_float_dtype(other) else lit
    if other in ("bool", "trit"):
        return "int32"
    return other


def combine_dtypes(a: str, b: str, lit_a: bool, lit_b: bool) -> str:
    if lit_a and not lit_b:
        return literal_dtype(a, b)
    if lit_b and not lit_a:
        return literal_dtype(b, a)
    return promote_dtypes(a, b)


def result_of(dtype: str, a: Type, b: Type, shape) -> Type:
    """A scalar when both operands are scalars, else a tensor of the broadcast shape."""
    if isinstance(a, Scalar) and isinstance(b, Scalar):
        return Scalar(dtype)
    return TensorType(dtype, shape)


def _shape(t: Type):
    return t.shape if isinstance(t, TensorType) else ()


def broadcast_types(a: Type, b: Type):
    try:
        return shapes.broadcast_shapes(_shape(a), _shape(b))
    except shapes.ShapeError as exc:
        raise OpError(exc.code, exc.message) from None


def _numeric(t: Type) -> bool:
    return isinstance(t, (Scalar, TensorType)) and t != Scalar("str")


def check_arith(op: str, a: Type, b: Type, lit_a: bool = False, lit_b: bool = False) -> Type:
    if is_error(a) or is_error(b):
        return ERROR
    if op == "+" and isinstance(a, StrType) and isinstance(b, StrType):
        return a
    if not (_numeric(a) and _numeric(b)):
        raise OpError("E0301", f"operator `{op}` cannot be applied to `{a}` and `{b}`")
    a, b = dequantized(a), dequantized(b)
    shape = broadcast_types(a, b)
    da, db = a.name if isinstance(a, Scalar) else a.dtype, b.name if isinstance(b, Scalar) else b.dtype
    dtype = combine_dtypes(da, db, lit_a, lit_b)
    if dtype in ("bool", "trit") and op != "**":
        dtype = "int32"
    if op == "/" and not is_float_dtype(dtype):
        dtype = "float32"
    if op == "**":
        if is_float_dtype(da) or is_float_dtype(db):
            dtype = combine_dtypes(da, db, lit_a, lit_b) if is_float_dtype(dtype) else "float32"
        elif not is_int_dtype(dtype):
            dtype = "int32"
    return result_of(dtype, a, b, shape)


def check_matmul(a: Type, b: Type) -> Type:
    if is_error(a) or is_error(b):
        return ERROR
    if not (isinstance(a, TensorType) and isinstance(b, TensorType)):
        raise OpError("E0301", f"operator `@` needs two tensors, got `{a}` and `{b}`")
    try:
        shape = shapes.matmul_shape(a.shape, b.shape)
    except shapes.ShapeError as exc:
        raise OpError(exc.code, exc.message) from None
    da = "float32" if a.ternary else a.dtype
    db = "float32" if b.ternary else b.dtype
    dtype = promote_dtypes(da, db)
    if dtype in ("bool", "trit"):
        dtype = "int32"
    return TensorType(dtype, shape)


def check_compare(op: str, a: Type, b: Type, lit_a: bool = False, lit_b: bool = False) -> Type:
    if is_error(a) or is_error(b):
        return ERROR
    if op in ("==", "!="):
        if isinstance(a, (NoneType, OptionalType)) or isinstance(b, (NoneType, OptionalType)):
            return BOOL
        if isinstance(a, StrType) and isinstance(b, StrType):
            return BOOL
        if isinstance(a, TypeType) and isinstance(b, TypeType):
            return BOOL
    if not (_numeric(a) and _numeric(b)):
        raise OpError("E0301", f"operator `{op}` cannot compare `{a}` with `{b}`")
    # `ternary == -1` compares the trits themselves (whatever the scale).
    def ternary(t: Type) -> bool:
        return isinstance(t, TensorType) and t.ternary

    trit_compare = op in ("==", "!=") and ((ternary(a) and lit_b) or (ternary(b) and lit_a))
    if not trit_compare:
        a, b = dequantized(a), dequantized(b)
    shape = broadcast_types(a, b)
    return result_of("bool", a, b, shape)


def check_logic(op: str, a: Type, b: Type) -> Type:
    if is_error(a) or is_error(b):
        return ERROR
    for t in (a, b):
        if not (t == BOOL or (isinstance(t, TensorType) and t.dtype == "bool")):
            raise OpError("E0301", f"operator `{op}` needs bool operands, got `{t}`")
    return result_of("bool", a, b, broadcast_types(a, b))


def check_unary(op: str, a: Type) -> Type:
    if is_error(a):
        return ERROR
    if op == "!":
        if a == BOOL or (isinstance(a, TensorType) and a.dtype == "bool"):
            return a
        raise OpError("E0301", f"operator `!` needs a bool, got `{a}`")
    if isinstance(a, TensorType):
        return a if a.ternary or a.dtype != "bool" else TensorType("int32", a.shape)
    if isinstance(a, Scalar) and a.name != "bool":
        return a
    raise OpError("E0301", f"operator `{op}` cannot be applied to `{a}`")


def check_binary(op: str, a: Type, b: Type, lit_a: bool = False, lit_b: bool = False) -> Type:
    """Dispatch on the operator."""
    if op in ARITH:
        return check_arith(op, a, b, lit_a, lit_b)
    if op == "@":
        return check_matmul(a, b)
    if op in COMPARE:
        return check_compare(op, a, b, lit_a, lit_b)
    if op in LOGIC:
        return check_logic(op, a, b)
    raise OpError("E0301", f"unknown operator `{op}`")
