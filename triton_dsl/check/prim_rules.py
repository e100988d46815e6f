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
from .operators import OpError, check_binary, check_matmul, combine_dtypes
from .primitives import NOT_CONST, Arg, DTypeConst, RuleCall, RuleError
from .types import (
    ANY_RANK,
    BOOL,
    ERROR,
    INT32,
    NEVER,
    RANGE,
    STR,
    UNIT,
    FnType,
    ListType,
    NoneType,
    Scalar,
    StrType,
    TensorType,
    TupleType,
    Type,
    TypeType,
    is_error,
    is_float_dtype,
)

# ------------------------------------------------------------------------------------------ helpers


def is_literal(node) -> bool:
    if isinstance(node, ast.Unary) and node.op == "-":
        return is_literal(node.operand)
    return isinstance(node, (ast.IntLit, ast.FloatLit))


def _shape_err(exc: shapes.ShapeError, span) -> RuleError:
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
    if isinstance(a.ty, ListType) and (a.ty.elem is None or a.ty.elem == INT32):
        return ANY_RANK if a.length is None else (None,) * a.length
    raise r.fail("E0501", f"argument '{pname}' of `{r.name}` must be a shape (a list of integers), "
                 f"got `{a.ty}`", a.span)


def require(r: RuleCall, pname: str, ok: bool, want: str) -> None:
    if not ok:
        a = r.args[pname]
        raise r.fail("E0501", f"argument '{pname}' of `{r.name}` must be {want}, got `{a.ty}`", a.span)


def _int_scalar(t: Type) -> bool:
    return isinstance(t, Scalar) and t.name.startswith("int") or is_error(t)


# ------------------------------------------------------------------------------------------ creation


def creation(r: RuleCall) -> Type:
    shape = shape_arg(r, "shape")
    dtype = const_dtype(r, "dtype") or "float32"
    const_bool(r, "requires_grad")
    r.info.update(shape=shape, dtype=dtype)
    return TensorType(dtype, shape)


def full(r: RuleCall) -> Type:
    shape = shape_arg(r, "shape")
    value = r.args["value"].ty
    require(r, "value", isinstance(value, Scalar) or is_error(value), "a number")
    dtype = const_dtype(r, "dtype") or (value.name if isinstance(value, Scalar) else "float32")
    r.info.update(shape=shape, dtype=dtype)
    return TensorType(dtype, shape)


def uniform(r: RuleCall) -> Type:
    for p in ("low", "high"):
        require(r, p, isinstance(r.args[p].ty, Scalar) or is_error(r.args[p].ty), "a number")
    shape = shape_arg(r, "shape")
    r.info.update(shape=shape, dtype="float32")
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
    const_bool(r, "requires_grad")
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
    require(r, "n", _int_scalar(r.args["n"].ty), "an integer")
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
        raise _shape_err(exc, r.span) from None
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
        raise _shape_err(exc, r.args["dim"].span or r.span) from None
    if r.name in ("argmax", "argmin"):
        dtype = "int32"
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


# ------------------------------------------------------------------------------------------ linalg / nn


def matmul(r: RuleCall) -> Type:
    try:
        return check_matmul(as_tensor(r, "a", dequantize=False), as_tensor(r, "b", dequantize=False))
    except OpError as exc:
        raise r.fail(exc.code, exc.message) from None


def _pair_const(r: RuleCall, pname: str):
    c = r.args[pname].const
    if isinstance(c, int) and not isinstance(c, bool):
        return c
    if isinstance(c, tuple) and len(c) == 2 and all(isinstance(v, int) for v in c):
        return c
    raise r.fail("E0501", f"argument '{pname}' of `{r.name}` must be an integer or a pair of integers "
                 "(constants)", r.args[pname].span)


def conv2d(r: RuleCall) -> Type:
    x, w = as_tensor(r, "input"), as_tensor(r, "weight")
    stride, padding = _pair_const(r, "stride"), _pair_const(r, "padding")
    try:
        shape = shapes.conv2d_shape(x.shape, w.shape, stride, padding)
    except shapes.ShapeError as exc:
        raise _shape_err(exc, r.span) from None
    bias = r.args["bias"]
    if not isinstance(bias.ty, NoneType):
        b = as_tensor(r, "bias")
        out_c = shape[1] if isinstance(shape, tuple) else None
        if isinstance(b.shape, tuple) and (len(b.shape) != 1 or not shapes.dims_agree(b.shape[0], out_c)):
            raise r.fail("E0407", f"conv2d bias should have shape [{shapes.format_dim(out_c)}], got "
                         f"{shapes.format_shape(b.shape)}", bias.span)
    r.info.update(stride=stride, padding=padding)
    return TensorType("float32", shape)


def batch_norm(r: RuleCall) -> Type:
    x = as_tensor(r, "x")
    channels = x.shape[1] if isinstance(x.shape, tuple) and len(x.shape) >= 2 else None
    for p in ("gamma", "beta", "running_mean", "running_var"):
        t = as_tensor(r, p)
        if isinstance(t.shape, tuple) and (len(t.shape) != 1 or not shapes.dims_agree(t.shape[0], channels)):
            raise r.fail("E0401", f"batch_norm: '{p}' should have shape [{shapes.format_dim(channels)}] "
                         f"(one value per channel of {shapes.format_shape(x.shape)}), got "
                         f"{shapes.format_shape(t.shape)}", r.args[p].span)
    const_bool(r, "training") if r.args["training"].const is not NOT_CONST else None
    return TensorType(x.dtype if is_float_dtype(x.dtype) else "float32", x.shape)


def softmax(r: RuleCall) -> Type:
    x = as_tensor(r, "x")
    dim = const_int(r, "dim")
    if isinstance(x.shape, tuple):
        try:
            shapes.normalize_axis(dim, len(x.shape))
        except shapes.ShapeError as exc:
            raise _shape_err(exc, r.args["dim"].span or r.span) from None
    r.info.update(dim=dim)
    return TensorType(x.dtype if is_float_dtype(x.dtype) else "float32", x.shape)


def mse_loss(r: RuleCall) -> Type:
    a, b = as_tensor(r, "input"), as_tensor(r, "target")
    try:
        shapes.broadcast_shapes(a.shape, b.shape)
    except shapes.ShapeError as exc:
        raise _shape_err(exc, r.span) from None
    return TensorType("float32", ())


def cross_entropy(r: RuleCall) -> Type:
    as_tensor(r, "input")
    as_tensor(r, "target")
    return TensorType("float32", ())


# ------------------------------------------------------------------------------------------ shape ops


def _with_shape(t: TensorType, shape) -> TensorType:
    return TensorType(t.dtype, shape, t.ternary)


def _shape_op(r: RuleCall, fn, *args) -> TensorType:
    t = as_tensor(r, "x", dequantize=False)
    try:
        return _with_shape(t, fn(t.shape, *args))
    except shapes.ShapeError as exc:
        raise _shape_err(exc, r.span) from None


def reshape(r: RuleCall) -> Type:
    a = r.args["shape"]
    target = shape_arg(r, "shape")
    r.info.update(shape=target)
    if target is ANY_RANK:
        return _with_shape(as_tensor(r, "x", dequantize=False), ANY_RANK)
    del a
    return _shape_op(r, shapes.reshape_shape, target)


def transpose(r: RuleCall) -> Type:
    d0, d1 = const_int(r, "dim0"), const_int(r, "dim1")
    r.info.update(dim0=d0, dim1=d1)
    return _shape_op(r, shapes.transpose_shape, d0, d1)


def permute(r: RuleCall) -> Type:
    dims = r.args["dims"].const
    if not (isinstance(dims, tuple) and all(isinstance(d, int) for d in dims)):
        raise r.fail("E0501", "argument 'dims' of `permute` must be a list of integer constants",
                     r.args["dims"].span)
    r.info.update(dims=dims)
    return _shape_op(r, shapes.permute_shape, dims)


def unsqueeze(r: RuleCall) -> Type:
    dim = const_int(r, "dim")
    r.info.update(dim=dim)
    return _shape_op(r, shapes.unsqueeze_shape, dim)


def squeeze(r: RuleCall) -> Type:
    dim = const_int(r, "dim", optional=True)
    r.info.update(dim=dim)
    return _shape_op(r, shapes.squeeze_shape, dim)


def _flatten_shape(shape, start: int, end: int):
    if not isinstance(shape, tuple):
        return ANY_RANK
    if not shape:
        return (1,)
    a, b = shapes.normalize_axis(start, len(shape)), shapes.normalize_axis(end, len(shape))
    if a > b:
        raise shapes.ShapeError(f"flatten: start_dim {start} comes after end_dim {end}", shapes.E_AXIS)
    return shape[:a] + (shapes.static_numel(shape[a:b + 1]),) + shape[b + 1:]


def flatten(r: RuleCall) -> Type:
    start, end = const_int(r, "start_dim"), const_int(r, "end_dim")
    r.info.update(start_dim=start, end_dim=end)
    return _shape_op(r, _flatten_shape, start, end)


def _tensor_items(r: RuleCall) -> tuple[list[TensorType], int | None]:
    a = r.args["tensors"]
    if isinstance(a.node, ast.ListLit) and a.node.elems:
        items = [e.ty for e in a.node.elems]
    elif isinstance(a.ty, ListType) and a.ty.elem is not None:
        items = [a.ty.elem]
    else:
        raise r.fail("E0501", f"argument 'tensors' of `{r.name}` must be a list of tensors, got `{a.ty}`",
                     a.span)
    out = []
    for t in items:
        if isinstance(t, Scalar) and t.name != "str":
            t = TensorType(t.name, ())
        if not isinstance(t, TensorType):
            if is_error(t):
                continue
            raise r.fail("E0501", f"`{r.name}` needs a list of tensors, got an element of type `{t}`", a.span)
        out.append(t)
    return out, (len(items) if isinstance(a.node, ast.ListLit) else a.length)


def _joined_dtype(items: list[TensorType]) -> tuple[str, bool]:
    if items and all(t.ternary for t in items):
        return "trit", True
    dtype = "bool"
    for t in items:
        dtype = combine_dtypes(dtype, "float32" if t.ternary else t.dtype, False, False)
    return dtype, False


def stack(r: RuleCall) -> Type:
    items, count = _tensor_items(r)
    dim = const_int(r, "dim")
    r.info.update(dim=dim)
    if not items:
        return ERROR
    dtype, tern = _joined_dtype(items)
    try:
        common = shapes.stack_shape([t.shape for t in items], dim)
    except shapes.ShapeError as exc:
        raise _shape_err(exc, r.span) from None
    if isinstance(common, tuple):
        axis = shapes.normalize_axis(dim, len(common))
        common = common[:axis] + (count,) + common[axis + 1:]
    # Stacking ternary tensors along axis 0 keeps one scale per slice (per-channel); elsewhere dequantize.
    tern = tern and dim == 0
    return TensorType("trit" if tern else ("float32" if dtype == "trit" else dtype), common, tern)


def concat(r: RuleCall) -> Type:
    items, count = _tensor_items(r)
    dim = const_int(r, "dim")
    r.info.update(dim=dim)
    if not items:
        return ERROR
    dtype, tern = _joined_dtype(items)
    a = r.args["tensors"]
    shape_list = [t.shape for t in items]
    if not isinstance(a.node, ast.ListLit):
        shape_list = shape_list * 2  # an unknown number of equal tensors: the dim along `dim` is unknown
    try:
        shape = shapes.concat_shape(shape_list, dim)
    except shapes.ShapeError as exc:
        raise _shape_err(exc, r.span) from None
    if not isinstance(a.node, ast.ListLit) and isinstance(shape, tuple):
        axis = shapes.normalize_axis(dim, len(shape))
        shape = shape[:axis] + (None,) + shape[axis + 1:]
    return TensorType("float32" if dtype == "trit" else dtype, shape)


def numel(r: RuleCall) -> Type:
    as_tensor(r, "x", dequantize=False)
    return INT32


# ------------------------------------------------------------------------------------------ casts


def cast(r: RuleCall) -> Type:
    target = {"int": "int32", "float": "float32"}.get(r.name, r.name)
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


# ------------------------------------------------------------------------------------------ io, autodiff


def print_rule(r: RuleCall) -> Type:
    for p in ("sep", "end"):
        require(r, p, isinstance(r.args[p].ty, StrType) or is_error(r.args[p].ty), "a string")
    return UNIT


def panic(r: RuleCall) -> Type:
    msg = r.args["message"].ty
    require(r, "message", isinstance(msg, StrType) or is_error(msg), "a string")
    return NEVER


def save_weights(r: RuleCall) -> Type:
    require(r, "path", isinstance(r.args["path"].ty, StrType), "a string (a file path)")
    return UNIT


def load_weights(r: RuleCall) -> Type:
    require(r, "path", isinstance(r.args["path"].ty, StrType), "a string (a file path)")
    return ListType(TensorType("float32", ANY_RANK))


def stop_gradient(r: RuleCall) -> Type:
    as_tensor(r, "x", dequantize=False)
    return r.args["x"].ty


def backward(r: RuleCall) -> Type:
    as_tensor(r, "loss")
    return UNIT


def register_hook(r: RuleCall) -> Type:
    as_tensor(r, "x", dequantize=False)
    require(r, "hook", isinstance(r.args["hook"].ty, FnType) or is_error(r.args["hook"].ty),
            "a function taking the gradient")
    return UNIT


def hook_type(args: dict[str, Arg]) -> Type:
    """The expected type of `register_hook`'s function: it receives a tensor of the hooked tensor's type."""
    t = args["x"].ty
    grad = TensorType("float32", t.shape) if isinstance(t, TensorType) and t.ternary else t
    return FnType((grad,), UNIT)


# Expected types of function-valued primitive parameters, computed from the arguments before them
# (so that a closure's parameter types can be inferred).
EXPECTED_ARGS = {("register_hook", "hook"): hook_type}


# ------------------------------------------------------------------------------------------ builtins


def length(r: RuleCall) -> Type:
    t = r.args["x"].ty
    require(r, "x", isinstance(t, (ListType, StrType, TensorType)) or is_error(t), "a list, string or tensor")
    return INT32


def element_type(t: Type) -> Type | None:
    """What a `for` loop over a value of type t yields (None: not iterable)."""
    if isinstance(t, ListType):
        return t.elem if t.elem is not None else ERROR
    if t == RANGE:
        return INT32
    if isinstance(t, TensorType) and isinstance(t.shape, tuple) and t.shape:
        if len(t.shape) > 1 or t.ternary:
            return TensorType(t.dtype, t.shape[1:], t.ternary)
        return Scalar(t.dtype)
    if isinstance(t, TensorType):
        return TensorType(t.dtype, ANY_RANK, t.ternary)
    if is_error(t):
        return ERROR
    return None


def enumerate_rule(r: RuleCall) -> Type:
    elem = element_type(r.args["items"].ty)
    if elem is None or r.args["items"].ty == RANGE:
        raise r.fail("E0501", f"`enumerate` needs a list or a tensor, got `{r.args['items'].ty}`",
                     r.args["items"].span)
    return ListType(TupleType((INT32, elem)))


def range_rule(r: RuleCall) -> Type:
    for p in ("start", "end", "step"):
        t = r.args[p].ty
        require(r, p, _int_scalar(t) or isinstance(t, NoneType) or t == TensorType("int32", ()), "an integer")
    return RANGE


def append(r: RuleCall) -> Type:
    return UNIT  # the checker refines/validates the list's element type itself


def attribute(t: Type, name: str) -> Type | None:
    """The type of a tensor attribute (`x.shape`, `x.T`, `x.grad`, …), or None if there is no such one."""
    if not isinstance(t, TensorType):
        return None
    if name == "shape":
        return ListType(INT32)
    if name == "T":
        return TensorType(t.dtype, shapes.transpose_shape(t.shape) if t.rank != 1 else t.shape, t.ternary)
    if name == "grad":
        return TensorType("float32" if t.ternary else t.dtype, t.shape)
    if name == "requires_grad":
        return BOOL
    if name == "dtype":
        return TypeType(t.dtype)
    if name == "ndim":
        return INT32
    if name == "scale" and t.ternary:
        return TensorType("float32", ANY_RANK)
    return None


TENSOR_ATTRIBUTES = ("shape", "T", "grad", "requires_grad", "dtype", "ndim")
