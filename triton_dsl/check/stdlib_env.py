"""The standard library's declarations, parsed and checked once per process.

In: the files `resources.stdlib_paths()` names. Out: `stdlib_env(sink) -> GlobalEnv`, the env every
program's env has as its parent (functions, structs and traits of the stdlib). The stdlib goes through
the same parser and checker as user code; in the stdlib a bodiless `fn` is the definition itself (a
function the back end provides natively, or whose body lands later). A problem found in the stdlib is
a bug of the installation; it is reported into the caller's sink (every time) so it is never silent.
"""

from __future__ import annotations

from ..diagnostics import Diagnostic, DiagnosticSink
from ..resources import stdlib_paths
from ..source import Source
from ..syntax import ast
from .env import GlobalEnv

_CACHE: tuple[GlobalEnv, list[Diagnostic]] | None = None


def load_stdlib() -> tuple[GlobalEnv, list[Diagnostic]]:
    from ..syntax.parser import parse_program
    from .checker import Checker

    sink = DiagnosticSink()
    env = GlobalEnv()
    checker = Checker(sink, env)
    checker.origin = "stdlib"
    # All files form one program: a default in one file may name a function of another.
    items = []
    span = None
    for path in stdlib_paths():
        # Named `stdlib/<file>` (not the install path): notes pointing into it read the same everywhere.
        program = parse_program(Source(f"stdlib/{path.name}", path.read_text(encoding="utf-8")), sink)
        if program is not None:
            items.extend(program.items)
            span = span or program.span
    if span is not None:
        checker.check_items(ast.Program(items, span=span))
    checker.drain()
    return env, list(sink.diagnostics)


def stdlib_env(sink: DiagnosticSink | None = None) -> GlobalEnv:
    """The checked stdlib env (cached per process); its diagnostics, if any, go to `sink`."""
    global _CACHE
    if _CACHE is None:
        _CACHE = load_stdlib()
    env, diagnostics = _CACHE
    if sink is not None:
        sink.diagnostics.extend(diagnostics)
    return env
