"""Typing rules of the compiler primitives (the table is in `primitives.py`).

In: a `RuleCall` (bound, already-checked arguments with their types and constant values). Out: the
result type; resolved constants go to `call.info` for the back end (`dim`, `keepdim`, `shape`, `dtype`,
`stride`, `padding`, `variant`). A bad argument raises `RuleError(code, message, span)`.

Conventions: a scalar operand acts as a rank-0 tensor; an operation on scalars only gives a scalar;
a TernaryTensor operand of a float operation acts as its float32 value (implicit dequantization).
"""

from __future__ import annotations

from ..syntax import ast
from . import shapes
from .operators import OpError, check_binary, combine_dtypes
from .primitives import NOT_CONST, DTypeConst, RuleCall, RuleError
from .types import (
    ANY_RANK,
    BOOL,
    ERROR,
    INT32,
    INT64,
    STR,
    UNIT,
    ListType,
    NoneType,
    Scalar,
    TensorType,
    Type,
    is_error,
    is_float_dtype,
)

# ------------------------------------------------------------------------------------------ helpers


def is_literal(node) -> bool:
    if isinstance(node, ast.Unary) and node.op == "-":
        return is_literal(node.operand)
    return isinstance(node, (ast.IntLit, ast.FloatLit))


def shape_error(exc: shapes.ShapeError, span) -> RuleError:
    return RuleError(exc.code, exc.message, span)


def as_tensor(r: RuleCall, pname: str, *, dequantize: bool = True) -> TensorType:
    """The argument as a tensor (a scalar is rank 0; a ternary tensor its float32 value)."""
    a = r.args[pname]
    t = a.ty
    if isinstance(t, Scalar) and t.name != "str":
        return TensorType(t.name, ())
    if isinstance(t, TensorType):
        return TensorType("float32", t.shape) if (t.ternary and dequantize) else t
    raise r.fail("E0501", f"argument '{pname}' of `{r.name}` must be a tensor or a number, got `{t}`", a.span)


def scalar_or_tensor(r: RuleCall, dtype: str, shape, *inputs: str) -> Type:
    """A scalar when every input is a scalar, else a tensor."""
    if all(isinstance(r.args[p].ty, Scalar) for p in inputs):
        return Scalar(dtype)
    return TensorType(dtype, shape)


def const_int(r: RuleCall, pname: str, *, optional: bool = False) -> int | None:
    a = r.args[pname]
    if a.const is None and optional:
        return None
    if isinstance(a.const, bool) or not isinstance(a.const, int):
        what = "an integer constant" + (" or None" if optional else "")
        raise r.fail("E0501", f"argument '{pname}' of `{r.name}` must be {what}", a.span)
    return a.const


def const_bool(r: RuleCall, pname: str) -> bool:
    a = r.args[pname]
    if not isinstance(a.const, bool):
        raise r.fail("E0501", f"argument '{pname}' of `{r.name}` must be the constant `true` or `false`",
                     a.span)
    return a.const


def const_dtype(r: RuleCall, pname: str) -> str | None:
    a = r.args[pname]
    if a.const is None:
        return None
    if isinstance(a.const, DTypeConst):
        return a.const.name
    raise r.fail("E0501", f"argument '{pname}' of `{r.name}` must be a dtype such as `float32`", a.span)


def shape_arg(r: RuleCall, pname: str):
    """A shape argument: a list of dims (`[784, n]`), `x.shape`, or one integer."""
    a = r.args[pname]
    if a.shape is not None:
        return a.shape
    if isinstance(a.ty, Scalar) and a.ty.name.startswith("int"):
        return (a.const if isinstance(a.const, int) else None,)
    if isinstance(a.ty, ListType) and (a.ty.elem is None or a.ty.elem in (INT32, INT64)):
        return ANY_RANK if a.length is None else (None,) * a.length
    raise r.fail("E0501", f"argument '{pname}' of `{r.name}` must be a shape (a list of integers), "
                 f"got `{a.ty}`", a.span)


def require(r: RuleCall, pname: str, ok: bool, want: str) -> None:
    if not ok:
        a = r.args[pname]
        raise r.fail("E0501", f"argument '{pname}' of `{r.name}` must be {want}, got `{a.ty}`", a.span)


def is_int_scalar(t: Type) -> bool:
    return isinstance(t, Scalar) and t.name.startswith("int") or is_error(t)


# ------------------------------------------------------------------------------------------ creation


def creation(r: RuleCall) -> Type:
    shape = shape_arg(r, "shape")
    dtype = const_dtype(r, "dtype") or "float32"
    r.info["requires_grad"] = const_bool(r, "requires_grad")
    r.info.update(shape=shape, dtype=dtype)
    return TensorType(dtype, shape)


def full(r: RuleCall) -> Type:
    shape = shape_arg(r, "shape")
    value = r.args["value"].ty
    require(r, "value", isinstance(value, Scalar) or is_error(value), "a number")
    dtype = const_dtype(r, "dtype") or (value.name if isinstance(value, Scalar) else "float32")
    r.info.update(shape=shape, dtype=dtype, requires_grad=const_bool(r, "requires_grad"))
    return TensorType(dtype, shape)


def uniform(r: RuleCall) -> Type:
    for p in ("low", "high"):
        require(r, p, isinstance(r.args[p].ty, Scalar) or is_error(r.args[p].ty), "a number")
    shape = shape_arg(r, "shape")
    r.info.update(shape=shape, dtype="float32", requires_grad=const_bool(r, "requires_grad"))
    return TensorType("float32", shape)


def arange(r: RuleCall) -> Type:
    names = ("start", "end", "step")
    vals = [r.args[n] for n in names]
    for n, a in zip(names, vals, strict=True):
        require(r, n, isinstance(a.ty, (Scalar, NoneType)) or is_error(a.ty), "a number")
    floats = any(isinstance(a.ty, Scalar) and is_float_dtype(a.ty.name) for a in vals)
    dtype = "float32" if floats else "int32"
    consts = [a.const for a in vals]
    length = None
    if all(isinstance(c, int) or c is None for c in consts) and consts[0] is not None:
        start, end = (0, consts[0]) if consts[1] is None else (consts[0], consts[1])
        if consts[2]:
            length = len(range(start, end, consts[2]))
    return TensorType(dtype, (length,))


def tensor_literal(r: RuleCall) -> Type:
    a = r.args["data"]
    r.info["requires_grad"] = const_bool(r, "requires_grad")
    t = a.ty
    dims: list = []
    node_dims = a.nest or ()
    while isinstance(t, ListType):
        dims.append(node_dims[len(dims)] if len(dims) < len(node_dims) else None)
        t = t.elem
    if isinstance(t, TensorType) and not t.ternary and isinstance(t.shape, tuple):
        elem_dtype, tail = t.dtype, t.shape
    elif isinstance(t, Scalar) and t.name != "str":
        elem_dtype, tail = t.name, ()
    elif t is None:
        elem_dtype, tail = "float32", ()
    elif is_error(t):
        return ERROR
    else:
        raise r.fail("E0501", f"`tensor` needs a (nested) list of numbers, got `{a.ty}`", a.span)
    if not dims and isinstance(a.ty, Scalar):
        dims = []
    dtype = const_dtype(r, "dtype") or elem_dtype
    r.info.update(dtype=dtype)
    return TensorType(dtype, tuple(dims) + tuple(tail))


def seed(r: RuleCall) -> Type:
    require(r, "n", is_int_scalar(r.args["n"].ty), "an integer")
    return UNIT


# ------------------------------------------------------------------------------------------ elementwise


def float_unary(r: RuleCall) -> Type:
    t = as_tensor(r, "x")
    dtype = t.dtype if is_float_dtype(t.dtype) else "float32"
    return scalar_or_tensor(r, dtype, t.shape, "x")


def same_unary(r: RuleCall) -> Type:
    t = as_tensor(r, "x")
    dtype = "int32" if t.dtype in ("bool", "trit") else t.dtype
    return scalar_or_tensor(r, dtype, t.shape, "x")


def sign(r: RuleCall) -> Type:
    t = r.args["x"].ty
    if isinstance(t, TensorType):
        # sign of a tensor is a TernaryTensor (scale 1, sign(0) = 0).
        return TensorType("trit", t.shape, ternary=True)
    as_tensor(r, "x")
    return t


def _binary(r: RuleCall, op: str, p: str, q: str) -> Type:
    a, b = r.args[p], r.args[q]
    try:
        return check_binary(op, a.ty, b.ty, is_literal(a.node), is_literal(b.node))
    except OpError as exc:
        raise r.fail(exc.code, f"`{r.name}`: {exc.message}") from None


def binary_elementwise(r: RuleCall) -> Type:
    as_tensor(r, "a")
    as_tensor(r, "b")
    return _binary(r, "+", "a", "b")


def pow_rule(r: RuleCall) -> Type:
    return _binary(r, "**", "a", "b")


def clip(r: RuleCall) -> Type:
    t = as_tensor(r, "x")
    for p in ("min", "max"):
        if not isinstance(r.args[p].ty, NoneType):
            as_tensor(r, p)
            _binary(r, "+", "x", p)
    return scalar_or_tensor(r, t.dtype, t.shape, "x")


def where(r: RuleCall) -> Type:
    c = as_tensor(r, "cond", dequantize=False)
    require(r, "cond", c.dtype == "bool", "a bool tensor")
    val = _binary(r, "+", "a", "b")
    try:
        shape = shapes.broadcast_shapes(c.shape, val.shape if isinstance(val, TensorType) else ())
    except shapes.ShapeError as exc:
        raise shape_error(exc, r.span) from None
    a, b = r.args["a"].ty, r.args["b"].ty
    dtype = combine_dtypes(_dtype(a), _dtype(b), is_literal(r.args["a"].node), is_literal(r.args["b"].node))
    return scalar_or_tensor(r, dtype, shape, "cond", "a", "b")


def _dtype(t: Type) -> str:
    if isinstance(t, TensorType):
        return "float32" if t.ternary else t.dtype
    return t.name if isinstance(t, Scalar) else "float32"


# ------------------------------------------------------------------------------------------ reductions


def reduction(r: RuleCall) -> Type:
    t = as_tensor(r, "x")
    dim, keepdim = const_int(r, "dim", optional=True), const_bool(r, "keepdim")
    try:
        shape = shapes.reduce_shape(t.shape, dim, keepdim)
    except shapes.ShapeError as exc:
        raise shape_error(exc, r.args["dim"].span or r.span) from None
    if r.name in ("argmax", "argmin"):
        dtype = "int64"  # as the runtime (docs/runtime.md), numpy and PyTorch: an index of any axis
    elif r.name in ("mean", "std", "var"):
        dtype = t.dtype if is_float_dtype(t.dtype) else "float32"
    else:  # sum/prod: a bool (or trit) tensor counts
        dtype = "int32" if t.dtype in ("bool", "trit", "int8", "int16") else t.dtype
    r.info.update(dim=dim, keepdim=keepdim, variant="reduce")
    return scalar_or_tensor(r, dtype, shape, "x")


def min_max(r: RuleCall) -> Type:
    y = r.args["y"]
    if y.given:
        if r.args["dim"].given:
            raise r.fail("E0501", f"`{r.name}` of two values takes no `dim`", r.args["dim"].span)
        as_tensor(r, "x")
        as_tensor(r, "y")
        r.info.update(variant="binary")
        return _binary(r, "+", "x", "y") if not _all_bool(r) else BOOL
    return reduction(r)


def _all_bool(r: RuleCall) -> bool:
    return r.args["x"].ty == BOOL and r.args["y"].ty == BOOL


# ------------------------------------------------------------------------------------------ casts


def cast(r: RuleCall) -> Type:
    return converted_type(r, {"int": "int32", "float": "float32"}.get(r.name, r.name))


def converted_type(r: RuleCall, target: str) -> Type:
    """The type of argument 'x' converted elementwise to dtype `target`: a scalar stays a scalar, a
    tensor keeps its shape; a string or non-numeric value cannot be converted."""
    t = r.args["x"].ty
    if isinstance(t, Scalar) and t.name != "str":
        return Scalar(target)
    if isinstance(t, TensorType):
        return TensorType(target, t.shape)
    if is_error(t):
        return ERROR
    raise r.fail("E0501", f"cannot convert `{t}` to {target}", r.args["x"].span)


def trit_cast(r: RuleCall) -> Type:
    a = r.args["x"]
    if a.const is not NOT_CONST and isinstance(a.const, (int, float)) and a.const not in (-1, 0, 1):
        raise r.fail("E0701", f"trit({a.const}) is out of range: a trit is -1, 0 or 1", r.span)
    if isinstance(a.ty, TensorType):
        return TensorType("trit", a.ty.shape, ternary=True)
    if isinstance(a.ty, Scalar) and a.ty.name != "str":
        return Scalar("trit")
    if is_error(a.ty):
        return ERROR
    raise r.fail("E0501", f"cannot convert `{a.ty}` to trit", a.span)


def to_str(r: RuleCall) -> Type:
    return STR
