"""Top-level variables that functions read (`let registry = []` at the top, `registry.append(s)` in a
function): the entry function keeps each such variable's current value in a module global as well, and a
function reads (or assigns) the global.

In: the `FunctionLowerer` of the entry (for `let` / assignment of such a name at the top level) or of a
function (for a read or assignment of a name it does not bind). Out: `global_set` / `global_get` ops
(codegen: a module global holding a reference, and a flag saying it was set) and, when the top-level code
ends, `global_clear` ops releasing them (the program is over: as when a Python interpreter exits). A
function reading a global before the top-level `let` ran (a call from Python without running the
program's top-level code) is a run-time error naming the variable, never a read of nothing.
"""

from __future__ import annotations

from .lowering import NotAvailable, ir_type
from .nodes import Value


def shared_type(lw, name: str, span):
    var = lw.program.shared_globals[name]
    return ir_type(var.ty, span)


def is_top_binding(lw, name: str) -> bool:
    """Whether `name` resolves to the outermost scope of the entry function (a top-level variable)."""
    from .nodes import ENTRY_NAME
    if lw.fn.name != ENTRY_NAME or name not in lw.program.shared_globals:
        return False
    for scope in reversed(lw.scopes.stack):
        if name in scope:
            return scope is lw.scopes.stack[0]
    return False


def store_global(lw, name: str, value: Value, span) -> None:
    value = lw.coerce(value, shared_type(lw, name, span), span)
    lw.b.op("global_set", [value], [], {"name": name}, span)


def read_global(lw, name: str, span) -> Value | None:
    """A function's read of a top-level variable (None when `name` is not one)."""
    from .nodes import ENTRY_NAME
    if name not in lw.program.shared_globals or lw.fn.name == ENTRY_NAME:
        return None
    try:
        ty = shared_type(lw, name, span)
    except NotAvailable:
        return None
    return lw.b.op("global_get", [], [ty], {"name": name}, span).result


def read_top_level(lw, name: str, span) -> Value:
    """The top-level code's own read of such a variable (a function it called may have assigned it)."""
    return lw.b.op("global_get", [], [shared_type(lw, name, span)], {"name": name}, span).result


def clear_globals(lw, span) -> None:
    for name in sorted(lw.program.shared_globals):
        try:
            ty = shared_type(lw, name, span)
        except NotAvailable:
            continue
        lw.b.op("global_clear", [], [], {"name": name, "type": ty}, span)
