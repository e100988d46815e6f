"""Typing rules of the linear-algebra, nn and shape primitives (matmul, conv2d, softmax,
losses, reshape, transpose, permute, (un)squeeze, flatten, stack, concat, numel).

In: a `RuleCall` (see `primitives.py`). Out: the result type; resolved constants in `call.info`
(`dim`, `dims`, `shape`, `stride`, `padding`, …). Shapes go through `shapes.py`; a static mismatch is a
`RuleError` with the shape rule's code (E04xx) and message.
"""

from __future__ import annotations

from ..syntax import ast
from . import shapes
from .operators import OpError, check_matmul, combine_dtypes
from .prim_rules import (
    as_tensor,
    const_int,
    shape_arg,
    shape_error,
)
from .primitives import RuleCall
from .types import (
    ANY_RANK,
    ERROR,
    INT64,
    ListType,
    NoneType,
    Scalar,
    TensorType,
    Type,
    is_error,
    is_float_dtype,
)

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
        raise shape_error(exc, r.span) from None
    bias = r.args["bias"]
    if not isinstance(bias.ty, NoneType):
        b = as_tensor(r, "bias")
        out_c = shape[1] if isinstance(shape, tuple) else None
        if isinstance(b.shape, tuple) and (len(b.shape) != 1 or not shapes.dims_agree(b.shape[0], out_c)):
            raise r.fail("E0407", f"conv2d bias should have shape [{shapes.format_dim(out_c)}], got "
                         f"{shapes.format_shape(b.shape)}", bias.span)
    r.info.update(stride=stride, padding=padding)
    return TensorType("float32", shape)


def softmax(r: RuleCall) -> Type:
    x = as_tensor(r, "x")
    dim = const_int(r, "dim")
    if isinstance(x.shape, tuple):
        try:
            shapes.normalize_axis(dim, len(x.shape))
        except shapes.ShapeError as exc:
            raise shape_error(exc, r.args["dim"].span or r.span) from None
    r.info.update(dim=dim)
    return TensorType(x.dtype if is_float_dtype(x.dtype) else "float32", x.shape)


# ------------------------------------------------------------------------------------------ shape ops


def _with_shape(t: TensorType, shape) -> TensorType:
    return TensorType(t.dtype, shape, t.ternary)


def _shape_op(r: RuleCall, fn, *args) -> TensorType:
    t = as_tensor(r, "x", dequantize=False)
    try:
        return _with_shape(t, fn(t.shape, *args))
    except shapes.ShapeError as exc:
        raise shape_error(exc, r.span) from None


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


def _joined_operands(r: RuleCall) -> tuple[list[TensorType], int | None, int, str, bool] | None:
    """The steps stack and concat open with: the tensors, how many there are, the constant `dim` (recorded
    for the back end) and the joined (dtype, ternary); None when no element has a usable type."""
    items, count = _tensor_items(r)
    dim = const_int(r, "dim")
    r.info.update(dim=dim)
    if not items:
        return None
    dtype, tern = _joined_dtype(items)
    return items, count, dim, dtype, tern


def _with_dim(shape, dim: int, size):
    """`shape` with axis `dim` set to `size`; a shape of unknown rank stays as it is."""
    if not isinstance(shape, tuple):
        return shape
    axis = shapes.normalize_axis(dim, len(shape))
    return shape[:axis] + (size,) + shape[axis + 1:]


def stack(r: RuleCall) -> Type:
    joined = _joined_operands(r)
    if joined is None:
        return ERROR
    items, count, dim, dtype, tern = joined
    try:
        common = shapes.stack_shape([t.shape for t in items], dim)
    except shapes.ShapeError as exc:
        raise shape_error(exc, r.span) from None
    common = _with_dim(common, dim, count)
    # Stacking ternary tensors along axis 0 keeps one scale per slice (per-channel); elsewhere dequantize.
    tern = tern and dim == 0
    return TensorType("trit" if tern else ("float32" if dtype == "trit" else dtype), common, tern)


def concat(r: RuleCall) -> Type:
    joined = _joined_operands(r)
    if joined is None:
        return ERROR
    items, _count, dim, dtype, _tern = joined
    known_count = isinstance(r.args["tensors"].node, ast.ListLit)
    shape_list = [t.shape for t in items]
    if not known_count:
        shape_list = shape_list * 2  # an unknown number of equal tensors: the dim along `dim` is unknown
    try:
        shape = shapes.concat_shape(shape_list, dim)
    except shapes.ShapeError as exc:
        raise shape_error(exc, r.span) from None
    if not known_count:
        shape = _with_dim(shape, dim, None)
    return TensorType("float32" if dtype == "trit" else dtype, shape)


def numel(r: RuleCall) -> Type:
    as_tensor(r, "x", dequantize=False)
    return INT64
