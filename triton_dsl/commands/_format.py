"""Text form of a stage's output for `--emit`.

In: what a stage produced (`ast`: the syntax tree, `types`: the checked program). Out: text for stdout.
Each stage owns its printer, so the CLI prints exactly what the golden tests pin:

- `ast`: the parser's `syntax.printer.format_ast`.
- `types`: the checker's `check.printer.format_types`: every binding with its type and every call with
  the function instance it resolved to; then each function instance once (one per set of argument types),
  with its signature and the bindings of its body.
"""

from __future__ import annotations

import importlib
from typing import Any

# --emit kind -> (module, function) of the stage's own printer
_PRINTERS = {
    "ast": ("triton_dsl.syntax.printer", "format_ast"),
    "types": ("triton_dsl.check.printer", "format_types"),
}


def format_stage_output(value: Any, kind: str) -> str:
    """The text of `value` as the stage behind `kind` prints it (without a trailing newline)."""
    printer = _optional_function(*_PRINTERS[kind])
    return printer(value).rstrip("\n") if printer else str(value)


def _optional_function(module_name: str, function_name: str) -> Any:
    """A function of a stage module, or None when that module does not exist (yet)."""
    try:
        return getattr(importlib.import_module(module_name), function_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
