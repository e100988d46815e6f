"""Lowering of struct and list values: construction, fields, elements, list operations and conversions.

In: typed AST nodes (`StructTarget` calls, attributes of structs, list literals and indexing, the list
builtins) and the `FunctionLowerer`. Out: IR ops on objects (`new_struct`, `field_get`, `field_set`,
`list_new`, `list_len`, `list_get`, `list_set`, `list_append`, `list_pop`) and runtime calls
(`trt_list_slice`, `trt_list_concat`, `trt_list_repeat`, `trt_str_*`). Semantics (Python's where the
language reference is silent) are in docs/language.md "Objects": structs and lists are references;
indices may be negative and are bounds-checked at the source line; slices copy.

A fixed-length list of scalars written as a literal (`[2, 1]`) stays a tuple (it fills `[int32, int32]`
parameters such as conv2d's stride); wherever it meets a growable list (`let xs = [1, 2]`, a `[T, ...]`
parameter, a field) `to_list` makes it one.
"""

from __future__ import annotations

from ..check import types as ct
from ..syntax import ast
from .lowering import NotAvailable, ir_type
from .nodes import Value
from .types import I32, I64, ListTy, StrTy, StructTy, TensorTy, TupleTy

INT64_MIN = -(2**63)


def struct_layout(lw, name: str, span):
    layout = lw.program.module.structs.get(name)
    if layout is None:
        exc = lw.program.struct_errors.get(name)
        raise NotAvailable(exc.what if exc else f"the struct '{name}'", span)
    return layout


def lower_struct_new(lw, e, target) -> Value:
    """`S(field=value, ...)`: every field (given or its default) converted to its type, in field order."""
    name = target.struct.name
    layout = struct_layout(lw, name, e.span)
    values = []
    for arg, (_, fty) in zip(target.args, layout.fields, strict=True):
        values.append(lw.coerce(lw.bound_arg(arg), fty, (arg.expr or arg.default_expr or e).span))
    return lw.b.op("new_struct", values, [StructTy(name)], {"struct": name}, e.span).result


def lower_field(lw, e: ast.Attribute) -> Value:
    obj = lw.lower_expr(e.obj)
    layout = struct_layout(lw, obj.type.name, e.span)
    i = layout.index(e.name)
    return lw.b.op("field_get", [obj], [layout.fields[i][1]], {"index": i}, e.span).result


def lower_field_store(lw, s: ast.Assign) -> None:
    target = s.target
    obj = lw.lower_expr(target.obj)
    layout = struct_layout(lw, obj.type.name, target.span)
    i = layout.index(target.name)
    value = lw.coerce(lw.lower_value(s.value), layout.fields[i][1], s.value.span)
    lw.b.op("field_set", [obj, value], [], {"index": i}, s.span)


# -- lists ------------------------------------------------------------------------------------------------
def new_list(lw, want: ListTy, items: list[Value], span) -> Value:
    items = [lw.coerce(v, want.elem, span) for v in items]
    return lw.b.op("list_new", items, [want], {}, span).result


def lower_list_literal(lw, e: ast.ListLit) -> Value:
    want = ir_type(e.ty, e.span)
    if not isinstance(want, ListTy):
        raise NotAvailable("this list", e.span)
    items = [lw.coerce(lw.lower_value(x), want.elem, x.span) for x in e.elems]
    return lw.b.op("list_new", items, [want], {}, e.span).result


def to_list(lw, v: Value, want: ListTy, span) -> Value:
    """A fixed-length list (a tuple at run time) as a growable list of `want`."""
    items = [lw.b.get(v, i, span) for i in range(len(v.type.items))]
    return new_list(lw, want, items, span)


def list_to_tuple(lw, v: Value, want: TupleTy, span) -> Value:
    """A growable list where a fixed-length list is expected (`stride: [int32, int32]`): its length is
    checked at run time, then its items are read."""
    n = len(want.items)
    length = lw.b.op("list_len", [v], [I64], span=span).result
    lw.b.op("check_eq", [length, lw.b.const(n, I64, span)], [],
            {"message": f"expected a list of {n} elements here", "code": "index"}, span)
    items = [lw.b.op("list_get", [v, lw.b.const(i, I64, span)], [v.type.elem], {"unchecked": True},
                     span).result for i in range(n)]
    return lw.b.tuple([lw.coerce(x, t, span) for x, t in zip(items, want.items, strict=True)], span)


def as_list(lw, v: Value, checker_ty, span) -> Value:
    """`v` as a growable list when the checker says it is one and it is a tuple at run time."""
    if isinstance(v.type, TupleTy) and isinstance(checker_ty, ct.ListType) and checker_ty.elem is not None:
        want = ir_type(checker_ty, span)
        if isinstance(want, ListTy):
            return to_list(lw, v, want, span)
    return v


def lower_list_index(lw, e: ast.Index, v: Value) -> Value:
    ix = e.indices[0]
    if isinstance(ix, ast.Slice):
        bounds = slice_bounds(lw, ix, e.span)
        return lw.rt("trt_list_slice", [v, *bounds], v.type, e.span)
    i = lw.to_i64(lw.lower_expr(ix), ix.span)
    return lw.b.op("list_get", [v, i], [v.type.elem], {}, e.span).result


def lower_str_index(lw, e: ast.Index, v: Value) -> Value:
    ix = e.indices[0]
    if isinstance(ix, ast.Slice):
        return lw.rt("trt_str_slice", [v, *slice_bounds(lw, ix, e.span)], StrTy(), e.span)
    return lw.rt("trt_str_index", [v, lw.to_i64(lw.lower_expr(ix), ix.span)], StrTy(), e.span)


def slice_bounds(lw, ix: ast.Slice, span) -> list[Value]:
    """start, stop, step as int64 (INT64_MIN: not written; the step defaults to 1)."""
    out = []
    for k, part in enumerate((ix.start, ix.stop, ix.step)):
        if part is None:
            out.append(lw.b.const(INT64_MIN if k < 2 else 1, I64, span))
        else:
            out.append(lw.to_i64(lw.lower_expr(part), part.span))
    return out


def lower_element_store(lw, s: ast.Assign) -> None:
    target = s.target
    lst = lw.lower_expr(target.obj)
    if not isinstance(lst.type, ListTy) or len(target.indices) != 1 or \
            isinstance(target.indices[0], ast.Slice):
        raise NotAvailable("assignment to elements of this value", s.span)
    ix = target.indices[0]
    i = lw.to_i64(lw.lower_expr(ix), ix.span)
    value = lw.coerce(lw.lower_value(s.value), lst.type.elem, s.value.span)
    lw.b.op("list_set", [lst, i, value], [], {}, s.span)


def list_value(lw, arg) -> Value:
    """A list argument of a builtin, as a growable list."""
    expr = arg.expr if arg.expr is not None else arg.default_expr
    return as_list(lw, lw.lower_expr(expr), expr.ty, expr.span)


def lower_append(lw, target, span) -> Value:
    args = {a.name: a for a in target.args}
    lst = list_value(lw, args["items"])
    value = lw.coerce(lw.lower_value(args["value"].expr), lst.type.elem, args["value"].expr.span)
    lw.b.op("list_append", [lst, value], [], {}, span)
    return lw.b.tuple([], span)


def lower_pop(lw, target, span) -> Value:
    args = {a.name: a for a in target.args}
    lst = list_value(lw, args["items"])
    operands = [lst]
    if args["index"].expr is not None:
        operands.append(lw.to_i64(lw.lower_expr(args["index"].expr), args["index"].expr.span))
    return lw.b.op("list_pop", operands, [lst.type.elem], {}, span).result


def lower_length(lw, v: Value, out_ty, span) -> Value:
    want = ir_type(out_ty, span)
    if isinstance(v.type, TupleTy):  # a fixed-length list: its length is known
        return lw.coerce(lw.b.const(len(v.type.items), I64, span), want, span)
    if isinstance(v.type, ListTy):
        n = lw.b.op("list_len", [v], [I64], span=span).result
    elif isinstance(v.type, StrTy):
        n = lw.rt("trt_str_length", [v], I64, span, no_ctx=True, fallible=False)
    elif isinstance(v.type, TensorTy) and v.type.rank:
        n = lw.b.dim(v, 0, span)  # Python's len() of an array: its first dimension
    else:
        raise NotAvailable("`length` of this value", span)
    return lw.coerce(n, want, span)


def lower_list_binary(lw, e: ast.Binary) -> Value:
    """`a + b` (a new list of both) and `[x] * n` / `n * [x]` (n copies of the items)."""
    want = ir_type(e.ty, e.span)
    if e.op == "+":
        a = lw.coerce(as_list(lw, lw.lower_expr(e.left), e.left.ty, e.left.span), want, e.span)
        b = lw.coerce(as_list(lw, lw.lower_expr(e.right), e.right.ty, e.right.span), want, e.span)
        return lw.rt("trt_list_concat", [a, b], want, e.span)
    if e.op == "*":
        lst_e, n_e = (e.left, e.right) if isinstance(e.left.ty, ct.ListType) else (e.right, e.left)
        lst = lw.coerce(as_list(lw, lw.lower_expr(lst_e), lst_e.ty, lst_e.span), want, e.span)
        return lw.rt("trt_list_repeat", [lst, lw.to_i64(lw.lower_expr(n_e), n_e.span)], want, e.span)
    raise NotAvailable(f"the operator '{e.op}' on lists", e.span)


def lower_pairs(lw, name: str, target, out_ty, span) -> Value:
    """`enumerate(xs)` / `zip(a, b)` as a value: a new list of tuples (in a `for` loop no list is made)."""
    want = ir_type(out_ty, span)
    lists = [list_value(lw, a) for a in target.args]
    if not all(isinstance(v.type, ListTy) for v in lists) or not isinstance(want, ListTy):
        raise NotAvailable(f"'{name}' of this value", span)
    out = lw.b.op("list_new", [], [want], {}, span).result
    n = lw.b.op("list_len", [lists[0]], [I64], span=span).result
    for other in lists[1:]:
        n = lw.b.binary("min", n, lw.b.op("list_len", [other], [I64], span=span).result, span)
    loop = lw.b.for_(lw.b.const(0, I64, span), n, lw.b.const(1, I64, span), [], span)
    body = loop.regions[0]
    with lw.b.at(body):
        i = body.args[0]
        items = [lw.b.op("list_get", [lst, i], [lst.type.elem], {"unchecked": True}, span).result
                 for lst in lists]
        if name == "enumerate":
            items = [lw.b.cast(i, "int32", span), items[0]]
        pair = lw.coerce(lw.b.tuple(items, span), want.elem, span)
        lw.b.op("list_append", [out, pair], [], {}, span)
        lw.b.yield_([], span)
    return out


def shape_list(lw, t: Value, span) -> Value:
    """`x.shape` as a value: a new list of the dims (int32)."""
    dims = [lw.b.cast(lw.b.dim(t, axis, span), "int32", span) for axis in range(t.type.rank)]
    return lw.b.op("list_new", dims, [ListTy(I32)], {}, span).result


def stack_list(lw, name: str, lst: Value, want: TensorTy, dim: int, span) -> Value:
    """`stack(xs)` / `concat(xs)` of a list value: the runtime reads the list's element array."""
    elem = lst.type.elem
    if not isinstance(elem, TensorTy) or elem.dtype != want.dtype or elem.ternary != want.ternary:
        raise NotAvailable(f"'{name}' of a list of {elem}", span)
    layout = [("list_data", 0), ("list_len", 0), ("c", dim)]
    lw.require(f"trt_{name}", span)
    return lw.b.rt(f"trt_{name}", [lst], want, span, args=layout).result


__all__ = ["lower_struct_new", "lower_field", "lower_field_store", "lower_list_literal", "to_list",
           "list_to_tuple", "as_list", "lower_list_index", "lower_element_store", "lower_append", "lower_pop",
           "lower_length", "lower_list_binary", "lower_pairs", "shape_list", "stack_list", "lower_str_index"]
