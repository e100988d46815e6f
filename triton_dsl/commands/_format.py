"""Text form of a stage's output for `--emit`.

In: what a stage produced (`ast`: the syntax tree, `types`: the checked program). Out: text for stdout.

- `ast` is printed by the parser's own printer (`syntax.printer.format_ast`, the golden-test form).
- `types` lists every typed expression of the program, in source order and nested as in the source:
  `line:col  source text  : type`, with types spelled as the user writes them; then each function
  instance the program uses (one per set of argument types) with its signature and typed body.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator
from typing import Any

_SNIPPET_WIDTH = 48
_NOT_CHILDREN = ("span", "name_span", "ty", "target")


def format_stage_output(value: Any, kind: str) -> str:
    if kind == "ast":
        printer = _optional_function("triton_dsl.syntax.printer", "format_ast")
        return printer(value).rstrip("\n") if printer else str(value)
    return format_types(value)


def format_types(checked: Any) -> str:
    """The typed-expression listing of a checked program (see the module docstring)."""
    lines = list(_typed_lines(getattr(checked, "program", checked), 0))
    for instance in getattr(checked, "instances", []):
        typed_params = zip(instance.params, instance.param_types, strict=False)
        params = ", ".join(f"{p.name}: {t}" for p, t in typed_params)
        lines.append("")
        lines.append(f"fn {instance.name}({params}) -> {instance.ret}")
        if instance.body is not None:
            lines.extend(_typed_lines(instance.body, 1))
    return "\n".join(lines)


def _typed_lines(node: Any, depth: int) -> Iterator[str]:
    ty = getattr(node, "ty", None)
    span = getattr(node, "span", None)
    if ty is not None and span is not None:
        yield f"{'  ' * depth}{span.line}:{span.col}  {_snippet(span.text())}  : {ty}"
        depth += 1
    for child in _children(node):
        yield from _typed_lines(child, depth)


def _children(node: Any) -> Iterator[Any]:
    if not dataclasses.is_dataclass(node) or isinstance(node, type):
        return
    for f in dataclasses.fields(node):
        if f.name in _NOT_CHILDREN:
            continue
        value = getattr(node, f.name)
        items = value if isinstance(value, (list, tuple)) else [value]
        yield from (item for item in items if dataclasses.is_dataclass(item) and hasattr(item, "span"))


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SNIPPET_WIDTH else flat[:_SNIPPET_WIDTH - 1] + "…"


def _optional_function(module_name: str, function_name: str) -> Any:
    """A function of a stage module, or None when that module does not exist (yet)."""
    try:
        return getattr(importlib.import_module(module_name), function_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
