"""Text form of a stage's output for `--emit`.

In: what a stage produced (`ast`: the syntax tree, `types`: the checked program). Out: indented text.
The syntax tree is printed by the parser's own printer (`syntax.printer.format_ast`, the golden-test
form). Otherwise an object that defines its own `__str__` is printed with it, and other dataclass trees
field by field, with spans shown as `line:col` and empty fields left out.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from ..source import Span

# The stage printers, where a stage has one: (module, function) per `--emit` kind.
_STAGE_PRINTERS = {"ast": ("triton_dsl.syntax.printer", "format_ast")}


def format_stage_output(value: Any, kind: str) -> str:
    printer = _stage_printer(kind)
    if printer is not None:
        return printer(value)
    if type(value).__str__ is not object.__str__ and not dataclasses.is_dataclass(value):
        return str(value)
    lines: list[str] = []
    _format_value(value, "", lines, label=None)
    return "\n".join(lines)


def _stage_printer(kind: str) -> Any:
    if kind not in _STAGE_PRINTERS:
        return None
    module_name, function_name = _STAGE_PRINTERS[kind]
    try:
        return getattr(importlib.import_module(module_name), function_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:  # that stage has no printer (yet)
            return None
        raise


def _format_value(value: Any, indent: str, lines: list[str], label: str | None) -> None:
    prefix = f"{indent}{label}: " if label else indent
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        span = getattr(value, "span", None)
        where = f" @{span.line}:{span.col}" if isinstance(span, Span) else ""
        lines.append(f"{prefix}{type(value).__name__}{where}")
        for f in dataclasses.fields(value):
            child = getattr(value, f.name)
            if f.name == "span" or child is None or child == () or child == []:
                continue
            _format_value(child, indent + "  ", lines, f.name)
    elif isinstance(value, (list, tuple)):
        lines.append(f"{prefix}[{len(value)}]")
        for item in value:
            _format_value(item, indent + "  ", lines, None)
    else:
        lines.append(f"{prefix}{value!r}")
