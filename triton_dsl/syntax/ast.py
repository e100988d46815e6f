"""The abstract syntax tree of Triton DSL.

In: nothing (these are plain data classes). Out: the node classes the parser builds and every later
stage reads. Every node carries `span` (keyword-only, a `source.Span`). Expression nodes additionally
carry `ty`, a mutable slot the checker fills with the expression's type; `Call` also carries `target`,
filled by the checker with what the call resolved to. Both start as None and are not constructor
arguments.

Nodes compare and hash by identity (`eq=False`), so later stages can key dictionaries by node.

Layout of a program:
    Program(items) where an item is FnDef | StructDef | TraitDef | MainBlock | Stmt (top-level statement)
Desugarings done by the parser (so later stages never see them):
    `x op= e`           -> Assign(x, Binary(op, x, e))
    `else if c { }`     -> If.orelse is an If node
    `(e)`               -> e itself (no grouping node)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..source import Span

# ---------------------------------------------------------------------------------------------- bases


@dataclass(eq=False)
class Node:
    span: Span = field(kw_only=True, repr=False)


@dataclass(eq=False)
class Expr(Node):
    # Filled by the checker: the type of this expression.
    ty: Any = field(default=None, init=False, repr=False)


class Stmt(Node):
    """Marker base of statements (a statement may also be a top-level item)."""


class Item(Node):
    """Marker base of top-level declarations (fn, layer, struct, trait, main)."""


class TypeExpr(Node):
    """Marker base of written types (the syntax of a type, not the checker's resolved type)."""


class Dim(Node):
    """Marker base of one dimension inside a tensor shape `[d0, d1, ...]`."""


class Pattern(Node):
    """Marker base of binding targets of `let` and `for`."""


# ---------------------------------------------------------------------------------------------- types


@dataclass(eq=False)
class TypeName(TypeExpr):
    """A named type: a dtype (`float32`, `int`, `trit`), `str`, `Type`, a struct or trait name, a generic
    variable, or a user generic applied to arguments (`Name<A, B>`; args is empty when none given)."""

    name: str
    args: list[TypeExpr] = field(default_factory=list)


@dataclass(eq=False)
class DimInt(Dim):
    value: int


@dataclass(eq=False)
class DimName(Dim):
    """A named dim (`batch`, `h'`): a shape variable bound at the call."""

    name: str


@dataclass(eq=False)
class DimUnknown(Dim):
    """`?` as one dim."""


@dataclass(eq=False)
class ShapeAny(Node):
    """`?` as the whole shape: any rank (`Tensor<float32, ?>`)."""


@dataclass(eq=False)
class ShapeName(Node):
    """A generic variable as the whole shape (`fn f<S>(x: Tensor<float32, S>)`)."""

    name: str


Shape = list[Dim] | ShapeAny | ShapeName


@dataclass(eq=False)
class TensorType(TypeExpr):
    """`Tensor<dtype, shape>` (kind "Tensor") or `TernaryTensor<trit, shape>` (kind "TernaryTensor").
    dtype is a TypeExpr because it may name a parameter of type `Type` (the seed's `Tensor<dtype, ...>`)."""

    kind: str
    dtype: TypeExpr
    shape: Shape


@dataclass(eq=False)
class TupleType(TypeExpr):
    """`Tuple<A, B>` or `(A, B)`."""

    elems: list[TypeExpr]


@dataclass(eq=False)
class ListType(TypeExpr):
    """`[T, ...]` (length None: any length) or `[T, T]` (a list of exactly `length` elements of type T)."""

    elem: TypeExpr
    length: int | None = None


@dataclass(eq=False)
class OptionalType(TypeExpr):
    """`T?`."""

    inner: TypeExpr


@dataclass(eq=False)
class UnionType(TypeExpr):
    """`A | B | ...` (flattened, at least two members, in source order)."""

    members: list[TypeExpr]


@dataclass(eq=False)
class FnType(TypeExpr):
    """`fn(A, B) -> C`; ret is None when the arrow is omitted (returns nothing)."""

    params: list[TypeExpr]
    ret: TypeExpr | None


# ------------------------------------------------------------------------------------------- patterns


@dataclass(eq=False)
class NamePattern(Pattern):
    name: str


@dataclass(eq=False)
class TuplePattern(Pattern):
    """`(a, b)` and nested `(a, (b, c))`."""

    elems: list[Pattern]


# ---------------------------------------------------------------------------------------- expressions


@dataclass(eq=False)
class Name(Expr):
    name: str


@dataclass(eq=False)
class IntLit(Expr):
    """An integer literal; text is the source spelling (`0x2A`), value its integer value."""

    value: int
    text: str


@dataclass(eq=False)
class FloatLit(Expr):
    value: float
    text: str


@dataclass(eq=False)
class BoolLit(Expr):
    value: bool


@dataclass(eq=False)
class NoneLit(Expr):
    pass


@dataclass(eq=False)
class StrLit(Expr):
    """A string literal; value has its escapes already processed."""

    value: str


@dataclass(eq=False)
class FStringExpr(Node):
    """One `{expr!conv:spec}` replacement field of an f-string. conversion is None, "r", "s" or "a";
    spec is the format spec text after `:` (None when absent). expr's spans point into the file."""

    expr: Expr
    conversion: str | None
    spec: str | None


@dataclass(eq=False)
class FString(Expr):
    """`f"..."`: literal text (escapes and `{{`/`}}` processed) interleaved with replacement fields."""

    parts: list[str | FStringExpr]


@dataclass(eq=False)
class ListLit(Expr):
    elems: list[Expr]


@dataclass(eq=False)
class TupleLit(Expr):
    elems: list[Expr]


@dataclass(eq=False)
class Unary(Expr):
    """op is "-" or "!"."""

    op: str
    operand: Expr


@dataclass(eq=False)
class Binary(Expr):
    """op is the source operator: ** * / // % @ + - < <= > >= == != && ||."""

    op: str
    left: Expr
    right: Expr


@dataclass(eq=False)
class Is(Expr):
    """`value is T`: a static test of a union member (narrows `value` in the taken branch)."""

    value: Expr
    type: TypeExpr


@dataclass(eq=False)
class Range(Expr):
    """`start..end`, half-open."""

    start: Expr
    end: Expr


@dataclass(eq=False)
class Arg(Node):
    """One call argument; name is None for a positional argument."""

    name: str | None
    value: Expr


@dataclass(eq=False)
class Call(Expr):
    """`func(args)`. A method call is Call(func=Attribute(obj, method), ...). Casts (`int32(x)`) and
    struct construction (`S(field=v)`) are calls too; the checker decides."""

    func: Expr
    args: list[Arg]
    # Filled by the checker: what this call resolved to (function instance, struct, builtin, ...).
    target: Any = field(default=None, init=False, repr=False)


@dataclass(eq=False)
class Attribute(Expr):
    """`obj.name` (field access; as `func` of a Call, a method)."""

    obj: Expr
    name: str


@dataclass(eq=False)
class Slice(Node):
    """`start:stop:step` inside `[...]`; any part may be None (`:` is Slice(None, None, None))."""

    start: Expr | None
    stop: Expr | None
    step: Expr | None


@dataclass(eq=False)
class Index(Expr):
    """`obj[i, j:k, :]`: one entry per comma-separated subscript."""

    obj: Expr
    indices: list[Expr | Slice]


@dataclass(eq=False)
class Closure(Expr):
    """`fn(x, y: T) -> R { ... }`; parameter types and ret may be None (inferred from context)."""

    params: list[Param]
    ret: TypeExpr | None
    body: Block


# ----------------------------------------------------------------------------------------- statements


@dataclass(eq=False)
class Block(Node):
    stmts: list[Stmt]


@dataclass(eq=False)
class Let(Stmt):
    """`let target (: type)? = value`."""

    target: Pattern
    type: TypeExpr | None
    value: Expr


@dataclass(eq=False)
class Assign(Stmt):
    """`target = value`; target is a Name, Attribute or Index (the parser rejects anything else)."""

    target: Expr
    value: Expr


@dataclass(eq=False)
class ExprStmt(Stmt):
    expr: Expr


@dataclass(eq=False)
class If(Stmt):
    """`if cond { then } else ...`; orelse is None, a Block, or an If (for `else if`)."""

    cond: Expr
    then: Block
    orelse: Block | If | None


@dataclass(eq=False)
class While(Stmt):
    cond: Expr
    body: Block


@dataclass(eq=False)
class For(Stmt):
    """`for target in iter { body }`; iter is a Range, a call such as range()/enumerate(), or a list."""

    target: Pattern
    iter: Expr
    body: Block


@dataclass(eq=False)
class Break(Stmt):
    pass


@dataclass(eq=False)
class Continue(Stmt):
    pass


@dataclass(eq=False)
class Return(Stmt):
    value: Expr | None


# ---------------------------------------------------------------------------------------------- items


@dataclass(eq=False)
class GenericParam(Node):
    """One name of `fn f<S, T>`: a shape or type variable."""

    name: str


@dataclass(eq=False)
class Param(Node):
    """A parameter; type is None for `self` and for untyped closure parameters."""

    name: str
    type: TypeExpr | None
    default: Expr | None


@dataclass(eq=False)
class FnDef(Item):
    """`fn` or `layer` (is_layer) definition; body None means a bodiless declaration (a signature).
    ret None means no `->` was written (returns nothing). name_span covers just the name."""

    name: str
    generics: list[GenericParam]
    params: list[Param]
    ret: TypeExpr | None
    body: Block | None
    is_layer: bool = False
    name_span: Span | None = field(default=None, kw_only=True, repr=False)


@dataclass(eq=False)
class Field(Node):
    """A struct field `name: type (= default)?`."""

    name: str
    type: TypeExpr
    default: Expr | None = None


@dataclass(eq=False)
class StructDef(Item):
    name: str
    fields: list[Field]
    methods: list[FnDef]
    name_span: Span | None = field(default=None, kw_only=True, repr=False)


@dataclass(eq=False)
class TraitDef(Item):
    """A trait; its methods are usually declarations (body None) but may have default bodies."""

    name: str
    methods: list[FnDef]
    name_span: Span | None = field(default=None, kw_only=True, repr=False)


@dataclass(eq=False)
class MainBlock(Item):
    body: Block


@dataclass(eq=False)
class Program(Node):
    """A whole file: items and top-level statements in source order."""

    items: list[Item | Stmt]


# -------------------------------------------------------------------------------------------- helpers


def iter_children(node: Node) -> Iterator[Node]:
    """Yield the direct child nodes of node, in field order (lists flattened, non-node values skipped)."""
    for f in dataclasses.fields(node):
        if not f.init or f.name in ("span", "name_span"):
            continue  # checker slots (ty, Call.target) and spans are not children
        value = getattr(node, f.name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, list):
            for elem in value:
                if isinstance(elem, Node):
                    yield elem


def walk(node: Node) -> Iterator[Node]:
    """Yield node and all its descendants, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(iter_children(current))))
