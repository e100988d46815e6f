"""Attribute and index access, and reading constants out of expressions.

In: `ast.Attribute` / `ast.Index` nodes and expressions that may be constants. Out: their types
(struct fields, tensor attributes, numpy-style indexing and slicing through `shapes.index_shape`, list /
tuple / string indexing) and, for constant folding the rules need: `const_value(e)` (Python value or
NOT_CONST), `read_shape(e)` (a list of dims such as `[784, n]`, or `x.shape`), `list_length(e)`
(`[0.5] * n` has length `n`) and `list_nest(e)` (nested list literal lengths).
"""

from __future__ import annotations

from typing import Any

from ..syntax import ast
from . import shapes
from .prim_builtin_rules import attribute
from .primitives import NOT_CONST, DTypeConst
from .resolve import did_you_mean
from .types import (
    ERROR,
    STR,
    ListType,
    OptionalType,
    StrType,
    StructType,
    TensorType,
    TraitType,
    TupleType,
    Type,
    TypeType,
    is_error,
    is_int_like,
)


class AccessMixin:
    def const_value(self, e: ast.Expr | None) -> Any:
        """The Python value of a constant expression (NOT_CONST otherwise)."""
        if isinstance(e, (ast.IntLit, ast.FloatLit, ast.BoolLit, ast.StrLit)):
            return e.value
        if isinstance(e, ast.NoneLit):
            return None
        if isinstance(e, ast.Unary) and e.op == "-":
            v = self.const_value(e.operand)
            return -v if isinstance(v, (int, float)) and not isinstance(v, bool) else NOT_CONST
        if isinstance(e, (ast.ListLit, ast.TupleLit)):
            vals = [self.const_value(x) for x in e.elems]
            return NOT_CONST if any(v is NOT_CONST for v in vals) else tuple(vals)
        if isinstance(e, ast.Name) and isinstance(e.ty, TypeType) and e.ty.dtype is not None:
            return DTypeConst(e.ty.dtype)
        return NOT_CONST

    def read_shape(self, e: ast.Expr) -> tuple | None:
        """An expression read as a shape: a list of dims (`[784, n, -1]`) or `x.shape`."""
        if isinstance(e, (ast.ListLit, ast.TupleLit)):
            dims = []
            for x in e.elems:
                v = self.const_value(x)
                if isinstance(v, int) and not isinstance(v, bool):
                    dims.append(v)
                elif isinstance(x, ast.Name) and self.is_dim_name(x.name):
                    dims.append(x.name)
                else:
                    dims.append(None)
            return tuple(dims)
        if isinstance(e, ast.Attribute) and e.name == "shape" and isinstance(e.obj.ty, TensorType):
            shape = e.obj.ty.shape
            return shape if isinstance(shape, tuple) else None
        return None

    def is_dim_name(self, name: str) -> bool:
        var = self.scope.lookup(name)
        return var is not None and var.kind == "dim"

    def list_length(self, e: ast.Expr) -> Any:
        """A list expression's static length: an int, a named dim (`[0.5] * n`), or None."""
        if isinstance(e, ast.ListLit):
            return len(e.elems)
        if isinstance(e, ast.Binary) and e.op == "*":
            lst, n = (e.left, e.right) if isinstance(e.left, ast.ListLit) else (e.right, e.left)
            if isinstance(lst, ast.ListLit):
                v = self.const_value(n)
                if isinstance(v, int) and not isinstance(v, bool):
                    return len(lst.elems) * v
                if isinstance(n, ast.Name) and self.is_dim_name(n.name) and len(lst.elems) == 1:
                    return n.name
        return None

    def list_nest(self, e: ast.Expr) -> tuple:
        out = []
        while True:
            n = self.list_length(e)
            if n is None and not isinstance(e, ast.ListLit):
                break
            out.append(n)
            if isinstance(e, ast.ListLit):
                inner = e
            else:
                inner = e.left if isinstance(e.left, ast.ListLit) else e.right
            if not isinstance(inner, ast.ListLit) or not inner.elems:
                break
            e = inner.elems[0]
        return tuple(out)

    # ------------------------------------------------------------------ leaves

    def _expr_Attribute(self, e: ast.Attribute, expected):
        t = self.check_expr(e.obj)
        return self.attribute_type(t, e.name, e.span)

    def attribute_type(self, t: Type, name: str, span) -> Type:
        if is_error(t):
            return ERROR
        if isinstance(t, StructType):
            info = self.env.struct(t.name)
            ft = info.field_type(name) if info else None
            if ft is not None:
                return ft
            if info is not None and name in info.methods:
                self.error("E0307", f"`{name}` is a method of `{t}`: call it (`.{name}(...)`)", span)
                return ERROR
            cands = (info.field_names + list(info.methods)) if info else []
            self.error("E0304", f"`{t}` has no field `{name}`", span, *did_you_mean(name, cands))
            return ERROR
        if isinstance(t, TensorType):
            at = attribute(t, name)
            if at is not None:
                return at
            from .prim_builtin_rules import TENSOR_ATTRIBUTES

            self.error("E0304", f"`{t}` has no field `{name}`", span, *did_you_mean(name, TENSOR_ATTRIBUTES))
            return ERROR
        if isinstance(t, OptionalType):
            self.error("E0303", f"`{t}` may be None: check `!= None` before using `.{name}`", span)
            return ERROR
        what = "a trait value" if isinstance(t, TraitType) else f"`{t}`"
        self.error("E0304", f"{what} has no field `{name}`", span)
        return ERROR

    def _expr_Index(self, e: ast.Index, expected):
        t = self.check_expr(e.obj)
        if is_error(t):
            for ix in e.indices:
                self._check_index_part(ix)
            return ERROR
        if isinstance(t, TensorType):
            return self._index_tensor(e, t)
        if len(e.indices) != 1 or isinstance(e.indices[0], ast.Slice):
            parts = [self._check_index_part(ix) for ix in e.indices]
            if isinstance(t, (ListType, StrType)) and len(parts) == 1:
                return t  # a slice of a list/string
            self.error("E0406", f"`{t}` takes one integer index", e.span)
            return ERROR
        ix = e.indices[0]
        it = self.check_expr(ix)
        if not is_int_like(it) and not is_error(it):
            self.error("E0301", f"an index must be an integer, found `{it}`", ix.span)
            return ERROR
        if isinstance(t, ListType):
            return t.elem if t.elem is not None else ERROR
        if isinstance(t, StrType):
            return STR
        if isinstance(t, TupleType):
            v = self.const_value(ix)
            if isinstance(v, int) and -len(t.items) <= v < len(t.items):
                return t.items[v]
            self.error("E0406", f"a tuple index must be a constant in range for `{t}`", ix.span)
            return ERROR
        self.error("E0301", f"`{t}` cannot be indexed", e.span)
        return ERROR

    def _check_index_part(self, ix) -> Any:
        """Check one subscript; returns its static value for the shape rules."""
        if isinstance(ix, ast.Slice):
            bounds = []
            for b in (ix.start, ix.stop, ix.step):
                if b is None:
                    bounds.append(None)
                    continue
                bt = self.check_expr(b)
                if not is_int_like(bt) and not is_error(bt):
                    self.error("E0301", f"a slice bound must be an integer, found `{bt}`", b.span)
                v = self.const_value(b)
                bounds.append(v if isinstance(v, int) else shapes.UNKNOWN_INDEX)
            return slice(*bounds)
        it = self.check_expr(ix)
        if not is_int_like(it) and not is_error(it):
            self.error("E0301", f"an index must be an integer, found `{it}`", ix.span)
        v = self.const_value(ix)
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    def _index_tensor(self, e: ast.Index, t: TensorType) -> Type:
        parts = [self._check_index_part(ix) for ix in e.indices]
        try:
            shape = shapes.index_shape(t.shape, parts)
        except shapes.ShapeError as exc:
            self.error(exc.code, exc.message, e.span)
            return ERROR
        return TensorType(t.dtype, shape, t.ternary)

    # ------------------------------------------------------------------ closures
