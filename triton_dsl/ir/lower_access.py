"""Lowering of tensor access and shape: indexing/slicing, attributes, tensor literals, shape arguments
and shape primitives (reshape, transpose, permute, unsqueeze, squeeze, flatten, stack, concat).

In: typed AST nodes and the `FunctionLowerer`. Out: IR values, as `rt` calls into the runtime
library (docs/runtime.md: `trt_index`, `trt_from_data`, `trt_reshape`, ...). Index bounds and shape
mismatches are checked by the runtime and reported at the span of the operation.
"""

from __future__ import annotations

from ..check import types as ct
from ..syntax import ast
from .lowering import NotAvailable, ir_type
from .nodes import Value
from .types import BOOL, I32, I64, ScalarTy, TensorTy, TupleTy

INT64_MIN = -(2**63)


def shape_values(lw, arg, span) -> list[Value]:
    """The dims a shape argument denotes, as int64 values: `[784, n]`, `x.shape`, or constants."""
    expr = arg.expr if arg.expr is not None else arg.default_expr
    if isinstance(expr, ast.ListLit):
        return [lw.to_i64(lw.lower_expr(e), e.span) for e in expr.elems]
    if isinstance(expr, ast.Attribute) and expr.name == "shape" and isinstance(expr.obj.ty, ct.TensorType):
        t = lw.lower_expr(expr.obj)
        return [lw.b.dim(t, axis, span) for axis in range(t.type.rank)]
    if isinstance(expr, (ast.IntLit, ast.Name)) and isinstance(expr.ty, ct.Scalar):
        return [lw.to_i64(lw.lower_expr(expr), expr.span)]
    raise NotAvailable("a shape that is not a list literal or `x.shape`", span)


def lower_index(lw, e: ast.Index) -> Value:
    obj_ty = e.obj.ty
    if isinstance(e.obj, ast.Attribute) and e.obj.name == "shape" and isinstance(e.obj.obj.ty, ct.TensorType):
        return _shape_item(lw, e)
    if isinstance(obj_ty, ct.TupleType):
        v = lw.program_const(e.indices[0])
        return lw.b.get(lw.lower_expr(e.obj), v % len(obj_ty.items), e.span)
    if isinstance(obj_ty, ct.ListType) and len(e.indices) == 1:
        from .lower_objects import as_list, lower_list_index
        v = lw.lower_expr(e.obj)
        if isinstance(v.type, TupleTy) and not isinstance(e.indices[0], ast.Slice):
            return _fixed_list_item(lw, v, e.indices[0], e.span)
        return lower_list_index(lw, e, as_list(lw, v, obj_ty, e.obj.span))
    if isinstance(obj_ty, ct.StrType) and len(e.indices) == 1:
        from .lower_objects import lower_str_index
        return lower_str_index(lw, e, lw.lower_expr(e.obj))
    if not isinstance(obj_ty, ct.TensorType):
        raise NotAvailable(f"indexing values of type {obj_ty}", e.span)
    t = lw.lower_expr(e.obj)
    if t.type.ternary or t.type.dtype == "trit":
        raise NotAvailable("indexing packed ternary tensors", e.span)
    if want_scalar(e, t):
        # x[i, j] with every axis indexed: read the element (bounds-checked) without a tensor in between.
        idx = [lw.to_i64(lw.lower_expr(ix), ix.span) for ix in e.indices]
        layout = [("v", 0), ("array", list(range(1, 1 + len(idx))), 64), ("c", len(idx))]
        lw.require("trt_offset", e.span)
        off = lw.b.rt("trt_offset", [t, *idx], I64, e.span, args=layout).result
        return lw.b.op("load", [t, off], [ScalarTy(t.type.dtype)], span=e.span).result
    specs: list[Value] = []
    for ix in e.indices:
        if isinstance(ix, ast.Slice):
            kind = lw.b.const(1, I64, e.span)
            parts = [lw.to_i64(lw.lower_expr(p), p.span) if p is not None else lw.b.const(
                INT64_MIN if k < 2 else 1, I64, e.span) for k, p in enumerate((ix.start, ix.stop, ix.step))]
            specs += [kind, *parts]
        else:
            index = lw.to_i64(lw.lower_expr(ix), ix.span)
            zero = lw.b.const(0, I64, e.span)
            specs += [lw.b.const(0, I64, e.span), index, zero, zero]
    want = ir_type(e.ty, e.span)
    layout = [("v", 0), ("array", list(range(1, 1 + len(specs))), 64), ("c", len(e.indices))]
    lw.require("trt_index", e.span)
    return lw.b.rt("trt_index", [t, *specs], want, e.span, args=layout).result


def _fixed_list_item(lw, v: Value, ix, span) -> Value:
    """`xs[i]` of a fixed-length list (a tuple at run time): a constant index picks the item, a run-time
    one (negative counts from the end) is bounds-checked and selects among the items."""
    n = len(v.type.items)
    k = lw.program_const(ix)
    if isinstance(k, int) and not isinstance(k, bool) and -n <= k < n:
        return lw.b.get(v, k % n, span)
    i = lw.to_i64(lw.lower_expr(ix), ix.span)
    zero, size = lw.b.const(0, I64, span), lw.b.const(n, I64, span)
    i = lw.b.select(lw.b.binary("lt", i, zero, span), lw.b.binary("add", i, size, span), i, span)
    inside = lw.b.binary("and", lw.b.binary("ge", i, zero, span), lw.b.binary("lt", i, size, span), span)
    lw.b.op("check_eq", [inside, lw.b.const(True, BOOL, span)], [],
            {"message": f"index out of range for a list of {n} elements", "code": "index"}, span)
    return select_item(lw, v, i, span)


def select_item(lw, v: Value, i: Value, span) -> Value:
    """Item `i` (an int64 in range) of a tuple of same-typed scalars, chosen at run time."""
    n = len(v.type.items)
    item = lw.b.get(v, n - 1, span)
    for j in reversed(range(n - 1)):
        at_j = lw.b.binary("eq", i, lw.b.const(j, I64, span), span)
        item = lw.b.select(at_j, lw.b.get(v, j, span), item, span)
    return item


def want_scalar(e: ast.Index, t: Value) -> bool:
    return (len(e.indices) == t.type.rank and t.type.rank > 0
            and not any(isinstance(ix, ast.Slice) for ix in e.indices))


def _shape_item(lw, e: ast.Index) -> Value:
    t = lw.lower_expr(e.obj.obj)
    ix = e.indices[0]
    axis = lw.program_const(ix)
    if not isinstance(axis, int) or isinstance(ix, ast.Slice):
        raise NotAvailable("`x.shape[...]` with an index that is not a constant", ix.span)
    rank = t.type.rank
    if not -rank <= axis < rank:
        raise NotAvailable(f"`x.shape[{axis}]` of a rank-{rank} tensor", ix.span)
    return lw.b.dim(t, axis % rank, e.span)  # an int64, as the checker types it


def lower_attribute(lw, e: ast.Attribute) -> Value:
    obj_ty = e.obj.ty
    if isinstance(obj_ty, ct.StructType):
        from .lower_objects import lower_field
        return lower_field(lw, e)
    if not isinstance(obj_ty, ct.TensorType):
        raise NotAvailable(f"the attribute `.{e.name}` of a `{obj_ty}`", e.span)
    t = lw.lower_expr(e.obj)
    if e.name == "shape":
        from .lower_objects import shape_list
        return shape_list(lw, t, e.span)
    if e.name == "ndim":
        return lw.b.const(t.type.rank, I32, e.span)
    if e.name == "T":
        if t.type.rank < 2:
            return t
        return lw.rt("trt_transpose", [t], ir_type(e.ty, e.span), e.span, consts=(-2, -1))
    if e.name in ("grad", "requires_grad"):
        from .lower_autodiff import lower_grad_attribute
        # (the .grad of a tensor of any rank, e.g. an optimizer's parameter, is one too)
        want = ir_type(e.ty, e.span, stored=t.type.rank is None)
        return lower_grad_attribute(lw, t, e.name, want, e.span)
    raise NotAvailable(f"the tensor attribute `.{e.name}` as a value", e.span)


def _flatten(nested, dtype: str) -> list:
    if isinstance(nested, ast.ListLit):
        return [x for item in nested.elems for x in _flatten(item, dtype)]
    return [nested]


def lower_tensor_literal(lw, e, target, args) -> Value:
    """`tensor([[1, 2], [3, 4]])`: constant elements become a constant array copied once per call."""
    want = ir_type(e.ty, e.span)
    data = args["data"].expr
    if not isinstance(want, TensorTy) or data is None:
        raise NotAvailable("this tensor literal", e.span)
    items = _flatten(data, want.dtype)
    values = []
    for item in items:
        v = lw.program_const(item)
        if v is None or isinstance(v, str):
            return _tensor_from_values(lw, e, want, items)
        values.append(v)
    dims = _literal_dims(data)
    lw.require("trt_from_data", e.span)
    shape = [lw.b.const(d, I64, e.span) for d in dims]
    layout = [("c", _code(want.dtype)), ("c", len(dims)), ("array", list(range(len(dims))), 64),
              ("data", want.dtype, values)]
    return lw.b.rt("trt_from_data", shape, want, e.span, args=layout).result


def _tensor_from_values(lw, e, want: TensorTy, items) -> Value:
    """A literal with computed elements: stack the scalars into a constant-shaped tensor."""
    if want.rank != 1:
        raise NotAvailable("nested tensor literals with computed elements", e.span)
    scalars = [lw.to_dtype(lw.lower_expr(x), want.dtype, x.span) for x in items]
    scalars = [lw.coerce(s, ScalarTy(want.dtype), e.span) for s in scalars]
    return _tensor_from_values_list(lw, scalars, e.span)


def _tensor_from_values_list(lw, scalars: list[Value], span) -> Value:
    """A rank-1 tensor holding these scalars (all of one dtype)."""
    dtype = scalars[0].type.dtype
    want = TensorTy(dtype, 1)
    lw.require("trt_from_data", span)
    n = lw.b.const(len(scalars), I64, span)
    layout = [("c", _code(dtype)), ("c", 1), ("array", [0], 64),
              ("array", list(range(1, 1 + len(scalars))), dtype)]
    return lw.b.rt("trt_from_data", [n, *scalars], want, span, args=layout).result


def _literal_dims(data) -> list[int]:
    dims = []
    node = data
    while isinstance(node, ast.ListLit):
        dims.append(len(node.elems))
        node = node.elems[0] if node.elems else None
    return dims


def _code(dtype: str) -> int:
    from .lower_prims import _DTYPE_CODE
    return _DTYPE_CODE[dtype]


def lower_shape_primitive(lw, name: str, e, target, args) -> Value:
    if name in ("transpose", "permute") and ir_type(e.ty, e.span).ternary:
        return _permute_trits(lw, name, e, target, args)
    if name in ("reshape", "flatten") and ir_type(e.ty, e.span).ternary and not _keeps_last_dim(e, args):
        return _reshape_trits(lw, name, e, target, args)
    out = _lower_shape_primitive(lw, name, e, target, args)
    if isinstance(out.type, TensorTy) and out.type.ternary and name != "concat" and name != "stack":
        # per-channel scales survive a shape operation only if axis 0 keeps its length (checked at run time)
        lw.b.op("check_scales", [out], [], {}, e.span)
    return out


def _keeps_last_dim(e, args) -> bool:
    """Whether a reshape provably keeps the last dim (a packed tensor's rows stay whole: a view)."""
    src, dst = getattr(args["x"].expr, "ty", None), e.ty
    shapes = [getattr(t, "shape", None) for t in (src, dst)]
    if not all(isinstance(sh, tuple) and sh for sh in shapes):
        return False
    last_src, last_dst = shapes[0][-1], shapes[1][-1]
    return last_src is not None and last_src == last_dst


def _reshape_trits(lw, name: str, e, target, args) -> Value:
    """reshape / flatten of a packed ternary tensor that may change its last dim (rows of a packed tensor
    are padded to whole bytes, so no view exists): reshape the trits (unpacked to int8), pack the result,
    give it the scales; per-channel scales are checked to stay along axis 0."""
    x = lw.bound_arg(args["x"])
    span = e.span
    trits = lw.rt("trt_cast", [x], TensorTy("int8", x.type.rank), span, consts=(_code("int8"),))
    want = ir_type(e.ty, span)
    moved = _lower_shape_primitive(lw, name, e, target, args, x=trits, want=TensorTy("int8", want.rank))
    packed = lw.rt("trt_cast", [moved], want, span, consts=(_code("trit"),))
    lw.b.op("copy_scales", [packed, x], [], {}, span)
    lw.b.op("check_scales", [packed], [], {}, span)
    return packed


def _permute_trits(lw, name: str, e, target, args) -> Value:
    """transpose / permute of a packed ternary tensor: move its trits (unpacked to int8), pack the result
    and give it the scales. Per-tensor and asymmetric scales hold for any order of the axes; per-channel
    scales only while axis 0 stays first (else a run-time error, never scales on the wrong rows)."""
    x = lw.bound_arg(args["x"])
    rank, span = x.type.rank, e.span
    trits = lw.rt("trt_cast", [x], TensorTy("int8", rank), span, consts=(_code("int8"),))
    info = target.info
    if name == "transpose":
        d0, d1 = info.get("dim0", -2) % rank, info.get("dim1", -1) % rank
        moved = lw.rt("trt_transpose", [trits], TensorTy("int8", rank), span, consts=(d0, d1))
        axis0_moves = 0 in (d0, d1) and d0 != d1
    else:
        axes = [int(a) % rank for a in info["dims"]]
        consts = [lw.b.const(a, I32, span) for a in axes]
        layout = [("v", 0), ("array", list(range(1, 1 + len(axes))), 32)]
        lw.require("trt_permute", span)
        moved = lw.b.rt("trt_permute", [trits, *consts], TensorTy("int8", rank), span, args=layout).result
        axis0_moves = axes[0] != 0
    packed = lw.rt("trt_cast", [moved], ir_type(e.ty, span), span, consts=(_code("trit"),))
    lw.b.op("copy_scales", [packed, x], [], {}, span)
    lw.b.op("check_scales", [packed], [], {"axis0_moved": axis0_moves}, span)
    return packed


def _lower_shape_primitive(lw, name: str, e, target, args, x: Value | None = None,
                           want: TensorTy | None = None) -> Value:
    """The shape primitive on `x` (default: its argument) giving a `want` tensor (default: its type)."""
    info = target.info
    want = want if want is not None else ir_type(e.ty, e.span)
    if x is None and "x" in args:
        x = lw.bound_arg(args["x"])
    span = e.span
    if name == "reshape":
        dims = info.get("shape")
        if isinstance(dims, tuple) and all(isinstance(d, int) for d in dims):
            vals = [lw.b.const(d, I64, span) for d in dims]
        else:
            vals = shape_values(lw, args["shape"], span)
        layout = [("v", 0), ("c", len(vals)), ("array", list(range(1, 1 + len(vals))), 64)]
        lw.require("trt_reshape", span)
        return lw.b.rt("trt_reshape", [x, *vals], want, span, args=layout).result
    if name == "flatten":
        rank = x.type.rank
        start, end = info.get("start_dim", 0) % max(rank, 1), info.get("end_dim", -1) % max(rank, 1)
        dims = [lw.b.dim(x, a, span) for a in range(rank)]
        merged = dims[start]
        for d in dims[start + 1:end + 1]:
            merged = lw.b.binary("mul", merged, d, span)
        vals = dims[:start] + [merged] + dims[end + 1:]
        layout = [("v", 0), ("c", len(vals)), ("array", list(range(1, 1 + len(vals))), 64)]
        return lw.b.rt("trt_reshape", [x, *vals], want, span, args=layout).result
    if name == "transpose":
        return lw.rt("trt_transpose", [x], want, span, consts=(info.get("dim0", -2), info.get("dim1", -1)))
    if name == "permute":
        axes = [lw.b.const(int(a), I32, span) for a in info["dims"]]
        layout = [("v", 0), ("array", list(range(1, 1 + len(axes))), 32)]
        lw.require("trt_permute", span)
        return lw.b.rt("trt_permute", [x, *axes], want, span, args=layout).result
    if name == "unsqueeze":
        return lw.rt("trt_unsqueeze", [x], want, span, consts=(info["dim"],))
    if name == "squeeze":
        if info.get("dim") is None:
            return lw.rt("trt_squeeze_all", [x], want, span)
        return lw.rt("trt_squeeze", [x], want, span, consts=(info["dim"],))
    if name in ("stack", "concat"):
        items = args["tensors"].expr
        if not isinstance(items, ast.ListLit):
            from .lower_objects import stack_list
            lst = lw.lower_expr(items)
            return stack_list(lw, name, lst, want, info.get("dim", 0), span)
        vals = [lw.to_dtype(lw.lower_expr(t), want.dtype, t.span) for t in items.elems]
        layout = [("array", list(range(len(vals))), "ptr"), ("c", len(vals)), ("c", info.get("dim", 0))]
        lw.require(f"trt_{name}", span)
        return lw.b.rt(f"trt_{name}", vals, want, span, args=layout).result
    raise NotAvailable(f"'{name}'", span)


__all__ = ["lower_index", "lower_attribute", "lower_tensor_literal", "lower_shape_primitive", "shape_values",
           "select_item", "I32"]
