"""The type checker: `ast.Program` in, `CheckedProgram` (typed AST + function instances) out.

Public interface (see `checker.py` for the full contract):
- `check_program(program, sink, *, env=None) -> CheckedProgram`
- `GlobalEnv` (pass the same one for each REPL entry), `format_types(checked) -> str` (`--emit=types`).
"""

from .checker import CheckedProgram, check_program
from .env import GlobalEnv
from .printer import format_types

__all__ = ["CheckedProgram", "GlobalEnv", "check_program", "format_types"]
