"""AST -> text: the `--emit=ast` form, and written types as the user spells them.

In: AST nodes. Out: `format_ast(node)`, a stable indented tree with one node per line and every span as
`@line:col-line:col` (golden tests compare it); `format_type(type_expr)`, a type in source syntax
(`Tensor<float32, [?, ?]>?`) for messages and for the tree.
"""

from __future__ import annotations

import dataclasses

from . import ast

# Spans are printed in the node's head; checker slots (ty, Call.target: init=False) are not syntax.
_SPAN_FIELDS = ("span", "name_span")


def format_type(t: ast.TypeExpr) -> str:
    """A written type in the language's own syntax."""
    if isinstance(t, ast.TypeName):
        args = f"<{', '.join(format_type(a) for a in t.args)}>" if t.args else ""
        return t.name + args
    if isinstance(t, ast.TensorType):
        return f"{t.kind}<{format_type(t.dtype)}, {format_shape(t.shape)}>"
    if isinstance(t, ast.TupleType):
        return f"Tuple<{', '.join(format_type(e) for e in t.elems)}>"
    if isinstance(t, ast.ListType):
        elem = format_type(t.elem)
        return f"[{elem}, ...]" if t.length is None else f"[{', '.join([elem] * t.length)}]"
    if isinstance(t, ast.OptionalType):
        return _grouped(t.inner) + "?"
    if isinstance(t, ast.UnionType):
        return " | ".join(_grouped(m) for m in t.members)
    if isinstance(t, ast.FnType):
        ret = f" -> {format_type(t.ret)}" if t.ret is not None else ""
        return f"fn({', '.join(format_type(p) for p in t.params)}){ret}"
    raise TypeError(f"not a type node: {t!r}")


def _grouped(t: ast.TypeExpr) -> str:
    """A type as an operand of `|` or `?`: unions and function types need parentheses there."""
    text = format_type(t)
    return f"({text})" if isinstance(t, ast.UnionType | ast.FnType) else text


def format_shape(shape: ast.Shape) -> str:
    if isinstance(shape, ast.ShapeAny):
        return "?"
    if isinstance(shape, ast.ShapeName):
        return shape.name
    return "[" + ", ".join(format_dim(d) for d in shape) + "]"


def format_dim(d: ast.Dim) -> str:
    if isinstance(d, ast.DimInt):
        return str(d.value)
    if isinstance(d, ast.DimName):
        return d.name
    return "?"


def format_span(node: ast.Node) -> str:
    span = node.span
    end_line, end_col = span.end_line_col
    return f"@{span.line}:{span.col}-{end_line}:{end_col}"


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def _lines(node: ast.Node, depth: int, label: str | None, out: list[str]) -> None:
    pad = "  " * depth
    prefix = f"{pad}{label}: " if label else pad
    if isinstance(node, ast.TypeExpr):
        out.append(f"{prefix}{format_type(node)} {format_span(node)}")
        return
    scalars: list[str] = []
    children: list[tuple[str, object]] = []
    for f in dataclasses.fields(node):
        if not f.init or f.name in _SPAN_FIELDS:
            continue
        value = getattr(node, f.name)
        if isinstance(value, ast.Node) or (isinstance(value, list) and value):
            children.append((f.name, value))
        elif isinstance(value, list):
            scalars.append(f"{f.name}=[]")
        else:
            scalars.append(f"{f.name}={_scalar(value)}")
    head = " ".join([type(node).__name__, *scalars, format_span(node)])
    out.append(prefix + head)
    for name, value in children:
        if isinstance(value, list):
            if all(isinstance(v, ast.Dim) for v in value):
                out.append(f"{pad}  {name}: {format_shape(value)}")
                continue
            out.append(f"{pad}  {name}:")
            for elem in value:
                if isinstance(elem, ast.Node):
                    _lines(elem, depth + 2, None, out)
                else:
                    out.append(f"{pad}    {_scalar(elem)}")
        else:
            _lines(value, depth + 1, name, out)


def format_ast(node: ast.Node) -> str:
    """The whole tree under node, one node per line, indented by depth, ending with a newline."""
    out: list[str] = []
    _lines(node, 0, None, out)
    return "\n".join(out) + "\n"


def format_sexpr(node: ast.Node) -> str:
    """A compact one-line S-expression without spans, e.g. `(- (** x 2))` for `-x ** 2` (for tests and
    debugging; types appear in source syntax)."""
    if isinstance(node, ast.TypeExpr):
        return format_type(node)
    if isinstance(node, ast.Name | ast.NamePattern):
        return node.name
    if isinstance(node, ast.IntLit | ast.FloatLit):
        return node.text
    if isinstance(node, ast.BoolLit):
        return _scalar(node.value)
    if isinstance(node, ast.NoneLit):
        return "None"
    if isinstance(node, ast.StrLit):
        return repr(node.value)
    if isinstance(node, ast.Binary):
        return f"({node.op} {format_sexpr(node.left)} {format_sexpr(node.right)})"
    if isinstance(node, ast.Unary):
        return f"({node.op} {format_sexpr(node.operand)})"
    words = [type(node).__name__]
    for f in dataclasses.fields(node):
        if not f.init or f.name in _SPAN_FIELDS:
            continue
        value = getattr(node, f.name)
        if isinstance(value, list):
            words.append("[" + " ".join(_sexpr_item(v) for v in value) + "]")
        else:
            words.append(_sexpr_item(value))
    return "(" + " ".join(words) + ")"


def _sexpr_item(value: object) -> str:
    if isinstance(value, ast.Node):
        return format_sexpr(value)
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "_"
    return _scalar(value)
