"""Generic instantiation at a call: binding named dims, whole-shape variables and `Type` parameters.

In: the declared parameter types of a function and the types of the arguments of one call. Out:
- `Binder.match(...)`: the implicit conversion of one argument (or None), recording bindings of named
  dims (consistent across parameters — a conflict raises `ShapeError` naming where the dim was bound),
  of `<S>` shape variables, and of `Type` parameters given a constant dtype;
- `Binder.substitute(t)`: a declared type (the return type) with the bindings filled in, as the caller
  sees it (unbound named dims such as the seed's `h'` become `?`);
- `body_param_type(...)`: the parameter type the instance's body is checked with (unions resolved to the
  member passed, `<S>` reduced to its rank, named dims kept symbolic);
- `copy_tree(node)`: a fresh copy of an AST subtree (each instance of a generic function gets its own
  body, so its `.ty`/`.target` slots are its own).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..syntax import ast
from . import shapes
from .assign import Conforms, Conversion, convert
from .types import (
    ANY_RANK,
    DTYPES,
    FnType,
    ListType,
    OptionalType,
    ShapeVar,
    TensorType,
    TupleType,
    Type,
    TypeType,
    UnionType,
)


class Binder:
    """Bindings made while matching one call's arguments against a function's parameters."""

    def __init__(self, conforms: Conforms | None = None):
        self.conforms = conforms
        self.dims: dict[str, shapes.DimBinding] = {}
        self.shape_vars: dict[str, Any] = {}
        self.dtypes: dict[str, str] = {}
        self.last_error: shapes.ShapeError | None = None
        self.keep_unbound = False

    def bind_dtype(self, param_name: str, dtype: str) -> None:
        self.dtypes[param_name] = dtype

    def _unify(self, expected, actual, where: str, origin) -> bool:
        """Shape check for `convert`: binds on success, remembers the error on failure."""
        try:
            if isinstance(expected, ShapeVar):
                bound = self.shape_vars.get(expected.name)
                if bound is None:
                    self.shape_vars[expected.name] = actual
                    return True
                if not (isinstance(bound, tuple) and isinstance(actual, tuple)):
                    return True
                if len(bound) != len(actual):
                    raise shapes.ShapeError(f"{where} should have rank {len(bound)} "
                                            f"({shapes.format_shape(bound)}), got "
                                            f"{shapes.format_shape(actual)}", shapes.E_RANK)
                if not all(shapes.dims_agree(a, b) for a, b in zip(bound, actual, strict=True)):
                    raise shapes.ShapeError(f"{where} should have shape {shapes.format_shape(bound)}, "
                                            f"got {shapes.format_shape(actual)}", shapes.E_BINDING)
                return True
            if isinstance(actual, ShapeVar):
                return True
            self.dims = shapes.unify(expected, actual, self.dims, where, origin)
            return True
        except shapes.ShapeError as exc:
            self.last_error = exc
            return False

    def _prepare(self, ptype: Type, atype: Type) -> Type:
        """Fill dtype variables of the parameter type (bound `Type` params; else the argument's dtype)."""
        if isinstance(ptype, TensorType) and ptype.dtype not in DTYPES:
            dtype = self.dtypes.get(ptype.dtype)
            if dtype is None:  # a dtype generic (`<T>`) binds to the first argument's dtype
                dtype = atype.dtype if isinstance(atype, TensorType) and not atype.ternary else "float32"
                self.dtypes[ptype.dtype] = dtype
            return TensorType(dtype, ptype.shape, ptype.ternary)
        if isinstance(ptype, UnionType):
            return UnionType(tuple(self._prepare(m, atype) for m in ptype.members))
        if isinstance(ptype, OptionalType):
            return OptionalType(self._prepare(ptype.inner, atype))
        return ptype

    def match(self, ptype: Type, atype: Type, where: str, origin: Any = None,
              literal: bool = False) -> Conversion | None:
        self.last_error = None
        snapshot = (dict(self.dims), dict(self.shape_vars))

        def shape_ok(actual, expected) -> bool:
            return self._unify(expected, actual, where, origin)

        conv = convert(atype, self._prepare(ptype, atype), self.conforms, literal=literal, shape_ok=shape_ok)
        if conv is None:
            self.dims, self.shape_vars = snapshot
        return conv

    # ------------------------------------------------------------------ substitution

    def substitute(self, t: Type) -> Type:
        if isinstance(t, TensorType):
            dtype = self.dtypes.get(t.dtype, t.dtype) if t.dtype not in DTYPES else t.dtype
            if dtype not in DTYPES:
                dtype = "float32"
            return TensorType(dtype, self.substitute_shape(t.shape), t.ternary)
        if isinstance(t, TupleType):
            return TupleType(tuple(self.substitute(x) for x in t.items))
        if isinstance(t, ListType):
            return ListType(self.substitute(t.elem) if t.elem is not None else None)
        if isinstance(t, OptionalType):
            return OptionalType(self.substitute(t.inner))
        if isinstance(t, UnionType):
            return UnionType(tuple(self.substitute(x) for x in t.members))
        if isinstance(t, FnType):
            return FnType(tuple(self.substitute(x) for x in t.params), self.substitute(t.ret))
        return t

    def substitute_shape(self, shape):
        if isinstance(shape, ShapeVar):
            return self.shape_vars.get(shape.name, shape if self.keep_unbound else ANY_RANK)
        if self.keep_unbound and isinstance(shape, tuple):
            return tuple(self.dims[d].value if isinstance(d, str) and d in self.dims else d for d in shape)
        return shapes.substitute_shape(shape, self.dims)

    def display(self, t: Type) -> Type:
        """A declared type with the bindings so far, unbound named dims kept (for messages)."""
        self.keep_unbound = True
        try:
            return self.substitute(t)
        finally:
            self.keep_unbound = False


def chosen_member(declared: Type, conv: Conversion) -> Type:
    """The union member an argument went to (from its conversion's `member:i` step)."""
    inner = declared.inner if isinstance(declared, OptionalType) else declared
    for step in conv.steps:
        if step.startswith("member:") and isinstance(inner, UnionType):
            member = inner.members[int(step.split(":")[1])]
            return OptionalType(member) if isinstance(declared, OptionalType) and "none" not in conv.steps \
                else member
    return declared


def body_param_type(declared: Type, conv: Conversion | None, binder: Binder, param_name: str) -> Type:
    """The parameter's type inside this instance's body."""
    t = chosen_member(declared, conv) if conv is not None else declared
    return _rank_only(t, binder, param_name)


def _rank_only(t: Type, binder: Binder, param_name: str) -> Type:
    if isinstance(t, TypeType):
        return TypeType(binder.dtypes.get(param_name))
    if isinstance(t, TensorType):
        dtype = binder.dtypes.get(t.dtype, t.dtype) if t.dtype not in DTYPES else t.dtype
        shape = t.shape
        if isinstance(shape, ShapeVar):
            bound = binder.shape_vars.get(shape.name, ANY_RANK)
            shape = (None,) * len(bound) if isinstance(bound, tuple) else ANY_RANK
        return TensorType(dtype if dtype in DTYPES else "float32", shape, t.ternary)
    if isinstance(t, OptionalType):
        return OptionalType(_rank_only(t.inner, binder, param_name))
    if isinstance(t, TupleType):
        return TupleType(tuple(_rank_only(x, binder, param_name) for x in t.items))
    if isinstance(t, ListType) and t.elem is not None:
        return ListType(_rank_only(t.elem, binder, param_name))
    if isinstance(t, FnType):
        return FnType(tuple(_rank_only(x, binder, param_name) for x in t.params),
                      _rank_only(t.ret, binder, param_name))
    return t


def has_generic_parts(t: Type) -> bool:
    """Does a declared parameter type need per-call instantiation (unions, `<S>`, `Type`)?"""
    if isinstance(t, (UnionType, TypeType)):
        return True
    if isinstance(t, TensorType):
        return isinstance(t.shape, ShapeVar) or t.dtype not in DTYPES
    if isinstance(t, OptionalType):
        return has_generic_parts(t.inner)
    if isinstance(t, (TupleType,)):
        return any(has_generic_parts(x) for x in t.items)
    if isinstance(t, ListType):
        return t.elem is not None and has_generic_parts(t.elem)
    return False


def copy_tree(node: Any) -> Any:
    """A deep copy of an AST subtree sharing spans and plain values; `ty`/`target` start empty."""
    if isinstance(node, list):
        return [copy_tree(x) for x in node]
    if not isinstance(node, ast.Node):
        return node
    new = object.__new__(type(node))
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        is_slot = f.name == "ty" and isinstance(node, ast.Expr)
        is_slot |= f.name == "target" and isinstance(node, ast.Call)
        if is_slot:
            value = None  # the checker's slots (a `let`'s or `for`'s `target` is syntax: copied)
        elif f.name not in ("span", "name_span"):
            value = copy_tree(value)
        object.__setattr__(new, f.name, value)
    return new
