"""Written types (`ast.TypeExpr`) → checker types (`types.Type`).

In: a type expression, the global env (struct and trait names), the generic names in scope (`<S>`),
the names of `Type`-typed parameters (a tensor dtype may name one: `Tensor<dtype, [?, ?]>`), and a
sink. Out: the checker type; an unknown name is reported (E0202, with "did you mean") and becomes the
error type so that nothing else complains about it.
"""

from __future__ import annotations

import difflib

from ..diagnostics import DiagnosticSink, Note
from ..syntax import ast
from . import shapes
from .env import GlobalEnv
from .types import (
    ANY_RANK,
    DTYPE_ALIASES,
    DTYPES,
    ERROR,
    STR,
    UNIT,
    FnType,
    ListType,
    OptionalType,
    Scalar,
    ShapeVar,
    StructType,
    TensorType,
    TraitType,
    TupleType,
    Type,
    TypeType,
    make_union,
)

BUILTIN_TYPE_NAMES = (*DTYPES, *DTYPE_ALIASES, "str", "Type", "Tensor", "TernaryTensor", "Tuple")


def did_you_mean(name: str, candidates) -> tuple[Note, ...]:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    if not close:
        return ()
    return (Note("did you mean " + " or ".join(f"`{c}`" for c in close) + "?"),)


class TypeResolver:
    def __init__(self, env: GlobalEnv, sink: DiagnosticSink, generics: set[str] | dict | None = None,
                 dtype_params: set[str] | dict[str, str | None] | None = None):
        self.env = env
        self.sink = sink
        # generic names; in a body, a whole-shape generic maps to this instance's shape
        self.generics = generics if isinstance(generics, dict) else dict.fromkeys(generics or ())
        # `Type` parameters a tensor dtype may name, with their constant dtype when known (in a body)
        if not isinstance(dtype_params, dict):
            dtype_params = dict.fromkeys(dtype_params or ())
        self.dtype_params = dtype_params

    def resolve(self, t: ast.TypeExpr | None) -> Type:
        if t is None:
            return UNIT
        if isinstance(t, ast.TensorType):
            return self._tensor(t)
        if isinstance(t, ast.TypeName):
            return self._name(t)
        if isinstance(t, ast.TupleType):
            return TupleType(tuple(self.resolve(e) for e in t.elems))
        if isinstance(t, ast.ListType):
            return ListType(self.resolve(t.elem))
        if isinstance(t, ast.OptionalType):
            return OptionalType(self.resolve(t.inner))
        if isinstance(t, ast.UnionType):
            return make_union([self.resolve(m) for m in t.members])
        if isinstance(t, ast.FnType):
            return FnType(tuple(self.resolve(p) for p in t.params), self.resolve(t.ret))
        return ERROR

    def _name(self, t: ast.TypeName) -> Type:
        name = t.name
        if name == "Tuple" and t.args:
            return TupleType(tuple(self.resolve(a) for a in t.args))
        if t.args:
            self.sink.error("E0203", f"`{name}` takes no type arguments", t.span)
            return ERROR
        if name in DTYPES or name in DTYPE_ALIASES:
            return Scalar(DTYPE_ALIASES.get(name, name))
        if name == "str":
            return STR
        if name == "Type":
            return TypeType()
        if self.env.struct(name) is not None:
            return StructType(name)
        if self.env.trait(name) is not None:
            return TraitType(name)
        if name in self.generics:
            return ShapeVar(name)
        candidates = list(BUILTIN_TYPE_NAMES) + [
            n for n in self.env.all_names() if self.env.struct(n) or self.env.trait(n)]
        self.sink.error("E0202", f"unknown type `{name}`", t.span, *did_you_mean(name, candidates))
        return ERROR

    def _tensor(self, t: ast.TensorType) -> Type:
        ternary = t.kind == "TernaryTensor"
        dtype = "trit"
        if isinstance(t.dtype, ast.TypeName) and not t.dtype.args:
            name = DTYPE_ALIASES.get(t.dtype.name, t.dtype.name)
            if name in DTYPES or name in self.dtype_params or name in self.generics:
                dtype = self.dtype_params.get(name) or name
            else:
                self.sink.error("E0202", f"unknown dtype `{t.dtype.name}` in a tensor type", t.dtype.span,
                                *did_you_mean(t.dtype.name, list(DTYPES) + sorted(self.dtype_params)))
                return ERROR
        else:
            self.sink.error("E0301", "a tensor's element type must be a dtype such as `float32`",
                            t.dtype.span)
            return ERROR
        if ternary and dtype != "trit":
            self.sink.error("E0702", f"a TernaryTensor holds trits: write `TernaryTensor<trit, ...>`, "
                            f"not `{dtype}`", t.dtype.span)
            dtype = "trit"
        shape = self._shape(t.shape)
        try:
            shapes.check_rank(shape)
        except shapes.ShapeError as exc:
            self.sink.error(exc.code, exc.message.replace("this tensor would have", "this tensor type has"),
                            t.span)
            return ERROR
        return TensorType(dtype, shape, ternary)

    def _shape(self, s):
        if isinstance(s, ast.ShapeAny):
            return ANY_RANK
        if isinstance(s, ast.ShapeName):
            if s.name in self.generics:
                bound = self.generics[s.name]
                return bound if bound is not None else ShapeVar(s.name)
            self.sink.error("E0202", f"unknown shape `{s.name}`: declare it as a generic parameter "
                            f"(`fn f<{s.name}>(...)`) or write its dims in brackets", s.span)
            return ANY_RANK
        dims = []
        for d in s:
            if isinstance(d, ast.DimInt):
                dims.append(d.value)
            elif isinstance(d, ast.DimName):
                dims.append(d.name)
            else:
                dims.append(None)
        return tuple(dims)
