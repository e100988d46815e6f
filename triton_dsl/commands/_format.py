"""Text form of a stage's output for `--emit`.

In: an object a stage produced (syntax tree, checked program). Out: indented text. A stage object that
defines its own `__str__` is printed with it; otherwise dataclass trees are printed field by field,
with spans shown as `line:col` and empty fields left out.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from ..source import Span


def format_stage_output(value: Any) -> str:
    if type(value).__str__ is not object.__str__ and not dataclasses.is_dataclass(value):
        return str(value)
    lines: list[str] = []
    _format_value(value, "", lines, label=None)
    return "\n".join(lines)


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
