"""IPython / Jupyter integration: `%load_ext triton_dsl`.

In: an IPython shell (`load_ipython_extension(ip)`), then cells. Out: the magics

- `%%triton` — the cell is an entry of the shell's `ReplSession` (declarations and `let` bindings persist
  across cells); the functions it defines are bound in the user namespace as Python callables; a final
  bare expression is the cell's value (`Out[n]`);
- `%triton EXPR` — one line, its value returned (`y = %triton relu(x) * 2.0`).

Both read the notebook's variables by name when the entry uses a name the session does not define and
the variable holds a value the API can pass (numpy arrays, TernaryTensor, numbers, strings). Diagnostics
and run-time errors are printed as text with the caret (on stderr), not raised as tracebacks.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from .diagnostics import CompileError, render_all
from .repl_session import EntryError, ReplSession

_SESSIONS: dict[int, ReplSession] = {}
_NAME = re.compile(r"\b[A-Za-z_]\w*\b")


def session_for(shell) -> ReplSession:
    """The session of one IPython shell (created on first use)."""
    session = _SESSIONS.get(id(shell))
    if session is None:
        session = _SESSIONS[id(shell)] = ReplSession(name="cell")
    return session


def _inputs(session: ReplSession, text: str, namespace: dict) -> dict[str, Any]:
    """Notebook variables the entry names and the session does not define."""
    import numbers

    import numpy as np

    from .api_objects import ObjectHandle
    from .runtime.ternary import TernaryTensor

    known = set(session.names())
    found = {}
    for name in dict.fromkeys(_NAME.findall(text)):
        if name in known or name not in namespace or name.startswith("_"):
            continue
        value = namespace[name]
        if isinstance(value, (np.ndarray, TernaryTensor, str, np.generic)) or (
                isinstance(value, ObjectHandle) and value.type_text is not None) or (
                isinstance(value, numbers.Number) and not isinstance(value, complex)):
            found[name] = value
    return found


def run_cell(shell, text: str):
    """Run `text` as an entry of the shell's session; bind the functions it defines; return its value
    (None when it has none or failed — the error is printed)."""
    from .runtime.errors import TritonRuntimeError

    session = session_for(shell)
    try:
        result = session.run(text, inputs=_inputs(session, text, shell.user_ns))
    except CompileError as exc:
        print(render_all(exc.diagnostics), file=sys.stderr)
        return None
    except TritonRuntimeError as exc:
        from .commands.run import render_runtime_error

        sys.stdout.flush()
        print(render_runtime_error(exc, session.sources), file=sys.stderr)
        return None
    except EntryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for name in result.defined:
        try:
            shell.user_ns[name] = session.function(name)
        except KeyError:
            pass  # a struct, trait or a function not callable from Python (generic ones are)
    return result.value if result.has_value else None


def load_ipython_extension(ip) -> None:
    """Register `%triton` and `%%triton` (called by `%load_ext triton_dsl`)."""

    def triton(line: str, cell: str | None = None):
        return run_cell(ip, cell if cell is not None else line)

    ip.register_magic_function(triton, magic_kind="line_cell", magic_name="triton")


__all__ = ["load_ipython_extension", "run_cell", "session_for"]
