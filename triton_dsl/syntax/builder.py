"""Lark parse tree -> AST.

In: a Lark tree for grammar/triton.lark (built with propagate_positions and maybe_placeholders), the
`Source`, the file offset of the parsed text, a `DiagnosticSink`, and a callback that parses the
expression text of an f-string field. Out: `ast` nodes with spans. Problems that the grammar lets
through (malformed numbers and escapes, assignment to a non-target, mixed list types, ...) are reported
into the sink with E01xx codes and replaced by a harmless node, so building always finishes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from lark import Token, Transformer, Tree, v_args

from ..diagnostics import DiagnosticSink
from ..source import Source, Span
from . import ast
from .errors import LexicalError
from .printer import format_type
from .strings import RawField, decode_string, split_fstring

# Parses the expression text of an f-string field (text, file offset) into an Expr, or None after
# reporting a syntax error.
FieldParser = Callable[[str, int], "ast.Expr | None"]

_ASSIGNABLE = (ast.Name, ast.Attribute, ast.Index)


def clone_expr(node: ast.Node) -> ast.Node:
    """A copy of an expression tree with fresh nodes (same spans), for desugaring `x op= e`."""
    changes = {}
    for f in dataclasses.fields(node):
        if not f.init or f.name == "span":
            continue
        value = getattr(node, f.name)
        if isinstance(value, ast.Node):
            changes[f.name] = clone_expr(value)
        elif isinstance(value, list):
            changes[f.name] = [clone_expr(v) if isinstance(v, ast.Node) else v for v in value]
    return dataclasses.replace(node, **changes)


def _parse_int(text: str) -> int | None:
    body = text.replace("_", "")
    if text.startswith("_") or text.endswith("_") or "__" in text:
        return None
    prefix = body[:2].lower()
    base = {"0x": 16, "0o": 8, "0b": 2}.get(prefix)
    try:
        return int(body[2:], base) if base else int(body, 10)
    except ValueError:
        return None


@v_args(meta=True)
class AstBuilder(Transformer):
    def __init__(self, source: Source, sink: DiagnosticSink, offset: int, parse_field: FieldParser):
        super().__init__(visit_tokens=False)
        self.source = source
        self.sink = sink
        self.offset = offset
        self.parse_field = parse_field

    # ------------------------------------------------------------------------------------ helpers

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.source, self.offset, self.offset)
        return Span(self.source, self.offset + meta.start_pos, self.offset + meta.end_pos)

    def _tok_span(self, tok: Token) -> Span:
        return Span(self.source, self.offset + tok.start_pos, self.offset + tok.end_pos)

    def _error(self, code: str, message: str, span: Span) -> None:
        self.sink.error(code, message, span)

    @staticmethod
    def _nodes(children: list) -> list:
        """Children without the Nones of absent optional parts and without kept tokens."""
        return [c for c in children if c is not None and not isinstance(c, Token)]

    # -------------------------------------------------------------------------------------- items

    def start(self, meta, children):
        return ast.Program(self._nodes(children), span=Span(self.source, 0, len(self.source.text)))

    def _fn(self, meta, children, is_layer: bool) -> ast.FnDef:
        name, generics, params, ret, body = children
        return ast.FnDef(str(name), generics or [], params or [], ret, body, is_layer,
                         span=self._span(meta), name_span=self._tok_span(name))

    def fn_def(self, meta, children):
        return self._fn(meta, children, False)

    def layer_def(self, meta, children):
        return self._fn(meta, children, True)

    def generics(self, meta, children):
        return list(children)

    def generic_param(self, meta, children):
        return ast.GenericParam(str(children[0]), span=self._span(meta))

    def params(self, meta, children):
        return list(children)

    def param(self, meta, children):
        name, type_, default = children
        return ast.Param(str(name), type_, default, span=self._span(meta))

    def struct_def(self, meta, children):
        name, *members = children
        members = self._nodes(members)
        fields = [m for m in members if isinstance(m, ast.Field)]
        methods = [m for m in members if isinstance(m, ast.FnDef)]
        return ast.StructDef(str(name), fields, methods, span=self._span(meta),
                             name_span=self._tok_span(name))

    def field(self, meta, children):
        name, type_, default = children
        return ast.Field(str(name), type_, default, span=self._span(meta))

    def trait_def(self, meta, children):
        name, *methods = children
        return ast.TraitDef(str(name), self._nodes(methods), span=self._span(meta),
                            name_span=self._tok_span(name))

    def main_block(self, meta, children):
        return ast.MainBlock(children[0], span=self._span(meta))

    # --------------------------------------------------------------------------------- statements

    def block(self, meta, children):
        return ast.Block(self._nodes(children), span=self._span(meta))

    def let(self, meta, children):
        target, type_, value = children
        return ast.Let(target, type_, value, span=self._span(meta))

    def _check_target(self, target: ast.Expr) -> None:
        if not isinstance(target, _ASSIGNABLE):
            self._error("E0107", "cannot assign to this expression (only to a name, a field `obj.f` or an "
                        "element `x[i]`)", target.span)

    def assign(self, meta, children):
        target, value = children
        self._check_target(target)
        return ast.Assign(target, value, span=self._span(meta))

    def aug_assign(self, meta, children):
        target, op, value = children
        self._check_target(target)
        span = self._span(meta)
        combined = ast.Binary(str(op)[:-1], clone_expr(target), value, span=span)
        return ast.Assign(target, combined, span=span)

    def expr_stmt(self, meta, children):
        return ast.ExprStmt(children[0], span=self._span(meta))

    def if_stmt(self, meta, children):
        # `["else" _else]` inlines its rule, so Lark gives no placeholder when the else is absent.
        cond, then, *orelse = self._nodes(children)
        return ast.If(cond, then, orelse[0] if orelse else None, span=self._span(meta))

    def while_stmt(self, meta, children):
        return ast.While(children[0], children[1], span=self._span(meta))

    def for_stmt(self, meta, children):
        target, iterable, body = children
        return ast.For(target, iterable, body, span=self._span(meta))

    def break_stmt(self, meta, children):
        return ast.Break(span=self._span(meta))

    def continue_stmt(self, meta, children):
        return ast.Continue(span=self._span(meta))

    def return_stmt(self, meta, children):
        return ast.Return(children[0], span=self._span(meta))

    def name_pattern(self, meta, children):
        return ast.NamePattern(str(children[0]), span=self._span(meta))

    def tuple_pattern(self, meta, children):
        return ast.TuplePattern(list(children), span=self._span(meta))

    # -------------------------------------------------------------------------------- expressions

    def binary(self, meta, children):
        left, op, right = children
        return ast.Binary(str(op), left, right, span=self._span(meta))

    def is_expr(self, meta, children):
        return ast.Is(children[0], children[1], span=self._span(meta))

    def range(self, meta, children):
        return ast.Range(children[0], children[2], span=self._span(meta))

    def unary(self, meta, children):
        return ast.Unary(str(children[0]), children[1], span=self._span(meta))

    def attribute(self, meta, children):
        return ast.Attribute(children[0], str(children[1]), span=self._span(meta))

    def call(self, meta, children):
        func, args = children
        return ast.Call(func, args or [], span=self._span(meta))

    def index(self, meta, children):
        return ast.Index(children[0], children[1], span=self._span(meta))

    def name(self, meta, children):
        return ast.Name(str(children[0]), span=self._span(meta))

    def number(self, meta, children):
        text = str(children[0])
        span = self._span(meta)
        is_prefixed = text[:2].lower() in ("0x", "0o", "0b")
        if not is_prefixed and ("." in text or "e" in text.lower()):
            try:
                if text.startswith("_") or "__" in text or "_." in text or "._" in text:
                    raise ValueError(text)
                return ast.FloatLit(float(text.replace("_", "")), text, span=span)
            except ValueError:
                self._error("E0104", f"invalid number literal '{text}'", span)
                return ast.FloatLit(0.0, text, span=span)
        value = _parse_int(text)
        if value is None:
            self._error("E0104", f"invalid number literal '{text}'", span)
            value = 0
        return ast.IntLit(value, text, span=span)

    def string(self, meta, children):
        tok = children[0]
        span = self._span(meta)
        try:
            value = decode_string(str(tok)[1:-1], self.offset + tok.start_pos + 1)
        except LexicalError as err:
            self._error(err.code, err.message, Span(self.source, err.start, err.end))
            value = ""
        return ast.StrLit(value, span=span)

    def fstring(self, meta, children):
        tok = children[0]
        span = self._span(meta)
        try:
            raw_parts = split_fstring(str(tok)[2:-1], self.offset + tok.start_pos + 2)
        except LexicalError as err:
            self._error(err.code, err.message, Span(self.source, err.start, err.end))
            return ast.FString([], span=span)
        parts: list[str | ast.FStringExpr] = []
        for part in raw_parts:
            if isinstance(part, RawField):
                expr = self.parse_field(part.text, part.offset)
                if expr is None:
                    return ast.FString([], span=span)
                parts.append(ast.FStringExpr(expr, part.conversion, part.spec,
                                             span=Span(self.source, part.start, part.end)))
            else:
                parts.append(part)
        return ast.FString(parts, span=span)

    def true(self, meta, children):
        return ast.BoolLit(True, span=self._span(meta))

    def false(self, meta, children):
        return ast.BoolLit(False, span=self._span(meta))

    def none(self, meta, children):
        return ast.NoneLit(span=self._span(meta))

    def tuple(self, meta, children):
        return ast.TupleLit(list(children), span=self._span(meta))

    def list(self, meta, children):
        return ast.ListLit(list(children), span=self._span(meta))

    def closure(self, meta, children):
        params, ret, body = children
        return ast.Closure(params or [], ret, body, span=self._span(meta))

    def closure_params(self, meta, children):
        return list(children)

    def closure_param(self, meta, children):
        name, type_ = children
        return ast.Param(str(name), type_, None, span=self._span(meta))

    def args(self, meta, children):
        seen_keyword = False
        for arg in children:
            if arg.name is not None:
                seen_keyword = True
            elif seen_keyword:
                self._error("E0110", "a positional argument cannot follow a keyword argument", arg.span)
        return list(children)

    def pos_arg(self, meta, children):
        return ast.Arg(None, children[0], span=self._span(meta))

    def kw_arg(self, meta, children):
        return ast.Arg(str(children[0]), children[1], span=self._span(meta))

    def subscripts(self, meta, children):
        return list(children)

    def slice(self, meta, children):
        start, _colon, stop, _colon2, step = children
        return ast.Slice(start, stop, step, span=self._span(meta))

    def ident(self, meta, children):
        return children[0]

    # -------------------------------------------------------------------------------------- types

    def type_name(self, meta, children):
        name, *args = children
        args = self._nodes(args)
        span = self._span(meta)
        if str(name) == "Tuple":
            if not args:
                self._error("E0108", "Tuple needs element types: Tuple<A, B>", span)
            return ast.TupleType(args, span=span)
        return ast.TypeName(str(name), args, span=span)

    def tensor_type(self, meta, children):
        kind, dtype, shape = children
        return ast.TensorType(str(kind), dtype, shape, span=self._span(meta))

    def tuple_type(self, meta, children):
        return ast.TupleType(list(children), span=self._span(meta))

    def list_type(self, meta, children):
        span = self._span(meta)
        variadic = any(isinstance(c, Token) and c.type == "ELLIPSIS" for c in children)
        elems = self._nodes(children)
        if variadic:
            if len(elems) != 1:
                self._error("E0108", "a list type is `[T, ...]` (any length) or `[T, T]` (fixed length)",
                            span)
            return ast.ListType(elems[0], None, span=span)
        if len({format_type(e) for e in elems}) > 1:
            self._error("E0108", "the elements of a list type must all have the same type "
                        "(use Tuple<A, B> for mixed types)", span)
        return ast.ListType(elems[0], len(elems), span=span)

    def optional_type(self, meta, children):
        return ast.OptionalType(children[0], span=self._span(meta))

    def none_type(self, meta, children):
        return ast.TypeName("None", span=self._span(meta))

    def union_type(self, meta, children):
        span = self._span(meta)
        members: list[ast.TypeExpr] = []
        for member in children:
            members.extend(member.members if isinstance(member, ast.UnionType) else [member])
        # `A | None` is spelled OptionalType(A) so later stages see one form of optional.
        kept = [m for m in members if not (isinstance(m, ast.TypeName) and m.name == "None")]
        if len(kept) == len(members) or not kept:
            return ast.UnionType(members, span=span)
        inner = kept[0] if len(kept) == 1 else ast.UnionType(kept, span=span)
        return ast.OptionalType(inner, span=span)

    def fn_type(self, meta, children):
        *params, ret = children
        return ast.FnType(self._nodes(params), ret, span=self._span(meta))

    def shape_dims(self, meta, children):
        return list(children)

    def shape_any(self, meta, children):
        return ast.ShapeAny(span=self._span(meta))

    def shape_name(self, meta, children):
        return ast.ShapeName(str(children[0]), span=self._span(meta))

    def dim_int(self, meta, children):
        span = self._span(meta)
        value = _parse_int(str(children[0]))
        if value is None:
            self._error("E0108", f"a dimension must be a whole number, not '{children[0]}'", span)
            value = 0
        return ast.DimInt(value, span=span)

    def dim_name(self, meta, children):
        return ast.DimName(str(children[0]), span=self._span(meta))

    def dim_unknown(self, meta, children):
        return ast.DimUnknown(span=self._span(meta))


def build_ast(tree: Tree, source: Source, sink: DiagnosticSink, offset: int, parse_field: FieldParser):
    """Transform a parse tree of source text starting at file offset `offset` into AST nodes."""
    return AstBuilder(source, sink, offset, parse_field).transform(tree)
