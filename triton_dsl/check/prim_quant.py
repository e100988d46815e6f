"""Typing rules of the primitives the quantization stdlib is written on (the rows are in `primitives.py`).

In: a `RuleCall` for one of `ternarize`, `quantile`, `cast`, `trits`, `along_axis0`, `conv2d_dynamic`.
Out: the result type, and `call.info` entries the back end reads (`dtype` for `cast`, `rank` for
`along_axis0`).

- `ternarize(x, pos_threshold, neg_threshold, pos_scale=1.0, neg_scale=1.0)`: the fused quantize-and-pack
  step. +1 where x > pos_threshold, −1 where x < neg_threshold, 0 elsewhere (NaN too); each of the four
  parameters is a number or a float tensor of shape `[]` or `[d0]` (one value per index along axis 0).
  The result is a TernaryTensor of x's shape carrying the scales.
- `quantile(x, q)`: numpy's quantile of all entries of x (linear interpolation), a float32 scalar.
- `cast(x, dtype, floats_only=false)`: elementwise conversion to a dtype given as a value
  (`dtype=float16`); `floats_only=true` makes a dtype other than float16/32/64 an error.
- `conv2d_dynamic(input, weight, bias, stride, padding)`: `conv2d` whose stride and padding may be run-time
  values (a parameter of `quantized_conv2d`); with constants it types exactly as `conv2d`.
- `trits(q)`: the trits of a TernaryTensor as an int8 tensor, whatever its scales.
- `along_axis0(v, like)`: a `[c]` vector viewed as `[c, 1, …, 1]` with the rank of `like`, so that it
  broadcasts along axis 0 of `like`; c must equal like's first dim.
"""

from __future__ import annotations

from dataclasses import replace

from . import shapes
from .prim_rules import as_tensor, converted_type
from .primitives import NOT_CONST, Arg, DTypeConst, RuleCall
from .types import ERROR, FLOAT32, INT32, ListType, Scalar, TensorType, Type, is_error

FLOAT_DTYPES = ("float16", "float32", "float64")


def _channel_param(r: RuleCall, pname: str, first_dim) -> None:
    """A number, or a float32 tensor of shape [] or [first_dim]."""
    t = as_tensor(r, pname)
    if t.dtype not in ("float32", "float16", "int32", "int8", "int16", "int64", "bool"):
        raise r.fail("E0501", f"argument '{pname}' of `{r.name}` must be float32, got `{r.args[pname].ty}`",
                     r.args[pname].span)
    shape = t.shape
    if not isinstance(shape, tuple) or len(shape) > 1:
        raise r.fail("E0501", f"argument '{pname}' of `{r.name}` must be a number or a tensor of shape [] or "
                     f"[channels], got `{r.args[pname].ty}`", r.args[pname].span)
    # a static [1] acts as a number (as the seed's `tensor([0.5])` thresholds)
    if len(shape) == 1 and shape[0] != 1 and not shapes.dims_agree(shape[0], first_dim):
        raise r.fail("E0401", f"argument '{pname}' of `{r.name}` has {shapes.format_dim(shape[0])} values "
                     f"but the tensor's first dim is {shapes.format_dim(first_dim)}", r.args[pname].span)


def ternarize(r: RuleCall) -> Type:
    x = as_tensor(r, "x", dequantize=False)
    if is_error(r.args["x"].ty):
        return ERROR
    if x.ternary or x.dtype != "float32":
        raise r.fail("E0501", f"argument 'x' of `ternarize` must be a float32 tensor, got `{r.args['x'].ty}`",
                     r.args["x"].span)
    first = x.shape[0] if isinstance(x.shape, tuple) and x.shape else None
    for p in ("pos_threshold", "neg_threshold", "pos_scale", "neg_scale"):
        _channel_param(r, p, first)
    return TensorType("trit", x.shape, ternary=True)


def quantile(r: RuleCall) -> Type:
    x = as_tensor(r, "x")
    if x.dtype != "float32":
        raise r.fail("E0501", f"argument 'x' of `quantile` must be a float32 tensor, got `{r.args['x'].ty}`",
                     r.args["x"].span)
    q = r.args["q"].ty
    if not (isinstance(q, Scalar) and q.name in ("float32", "float16", "float64", "int32")
            or isinstance(q, TensorType) and q.shape == () or is_error(q)):
        raise r.fail("E0501", f"argument 'q' of `quantile` must be a number, got `{q}`", r.args["q"].span)
    return FLOAT32


def cast(r: RuleCall) -> Type:
    a = r.args["dtype"]
    if not isinstance(a.const, DTypeConst) or a.const is NOT_CONST:
        raise r.fail("E0501", "argument 'dtype' of `cast` must be a dtype known at compile time, such as "
                     "`float16`", a.span)
    dtype = a.const.name
    floats = r.args["floats_only"]
    if floats.const is True and dtype not in FLOAT_DTYPES:
        raise r.fail("E0501", f"dtype must be a float dtype (float16, float32 or float64), got {dtype}",
                     a.span)
    r.info.update(dtype=dtype)
    return converted_type(r, dtype)


def along_axis0(r: RuleCall) -> Type:
    v = as_tensor(r, "v")
    like = as_tensor(r, "like")
    if not isinstance(v.shape, tuple) or len(v.shape) != 1:
        raise r.fail("E0501", f"argument 'v' of `along_axis0` must be a vector, got `{r.args['v'].ty}`",
                     r.args["v"].span)
    if not isinstance(like.shape, tuple):  # an uncalled generic body: any rank
        return TensorType(v.dtype, shapes.ANY_RANK)
    if not like.shape:
        raise r.fail("E0501", "per-channel values need a tensor of rank 1 or more (they apply along axis 0), "
                     f"got `{r.args['like'].ty}`", r.args["like"].span)
    if not shapes.dims_agree(v.shape[0], like.shape[0]):
        raise r.fail("E0401", f"{shapes.format_dim(v.shape[0])} per-channel values for a tensor whose first "
                     f"dim is {shapes.format_dim(like.shape[0])}", r.args["v"].span)
    rank = len(like.shape)
    r.info.update(rank=rank)
    return TensorType(v.dtype, (shapes.merge_dims(v.shape[0], like.shape[0]),) + (1,) * (rank - 1))


def conv2d_dynamic(r: RuleCall) -> Type:
    """conv2d whose stride / padding may be run-time values (an int or a pair): the output's spatial dims
    are then unknown (`?`) to the checker; with constants it is exactly `conv2d`."""
    from .prim_shape_rules import conv2d

    dynamic = False
    for p in ("stride", "padding"):
        a = r.args[p]
        if isinstance(a.const, int) or isinstance(a.const, tuple):
            continue
        ok = (isinstance(a.ty, Scalar) and a.ty.name.startswith("int")
              or isinstance(a.ty, ListType) and a.ty.elem == INT32 and a.length in (None, 2))
        if not ok and not is_error(a.ty):
            raise r.fail("E0501", f"argument '{p}' of `conv2d` must be an integer or a pair of integers, "
                         f"got `{a.ty}`", a.span)
        dynamic = True
    if not dynamic:
        return conv2d(r)
    x = as_tensor(r, "input")
    if isinstance(x.shape, tuple) and len(x.shape) == 4:
        x = TensorType(x.dtype, x.shape[:2] + (None, None))
    args = dict(r.args, input=replace(r.args["input"], ty=x), stride=Arg(INT32, 1), padding=Arg(INT32, 0))
    out = conv2d(RuleCall(r.name, args, span=r.span))
    r.info.update(stride=None, padding=None)
    return out


def trits(r: RuleCall) -> Type:
    """The trits of a TernaryTensor as int8 (-1, 0, 1), whatever its scales."""
    t = r.args["q"].ty
    if is_error(t):
        return ERROR
    if not isinstance(t, TensorType) or not (t.ternary or t.dtype == "trit"):
        raise r.fail("E0501", f"argument 'q' of `trits` must be a TernaryTensor, got `{t}`", r.args["q"].span)
    return TensorType("int8", t.shape)


# name, category, parameter spec, rule — appended to the table by `primitives._table`
ROWS = [
    ("ternarize", "quantize", "x, pos_threshold, neg_threshold, pos_scale=1.0, neg_scale=1.0", ternarize),
    ("quantile", "reduction", "x, q", quantile),
    ("cast", "cast", "x, dtype, floats_only=False", cast),
    ("along_axis0", "shape", "v, like", along_axis0),
    ("trits", "cast", "q", trits),
    ("conv2d_dynamic", "nn", "input, weight, bias=None, stride=1, padding=0", conv2d_dynamic),
]
