"""Which calls of a module can recurse: the call graph's cycles (strongly connected components).

In: a `ModuleEmitter` (its IR module). Out: `recursive_functions(m)` = for each function on a cycle, the
callees in its own cycle. Codegen counts exactly those calls against the context's recursion limit
(docs/runtime.md "Recursion limit"); every other call nests a bounded number of times by construction.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .module import ModuleEmitter

_RECURSIVE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def recursive_functions(m: ModuleEmitter) -> dict[str, set[str]]:
    """For each function on a call-graph cycle, the callees in its own cycle (strongly connected
    component): exactly the calls that can nest without bound. Computed once per module emission."""
    found = _RECURSIVE.get(m)
    if found is not None:
        return found
    calls = {name: {op.attrs["callee"] for op in fn.walk() if op.opcode == "call"}
             for name, fn in m.ir_module.functions.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    component: dict[str, int] = {}

    def visit(v: str) -> None:  # Tarjan's algorithm; call graphs are shallow enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in calls.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w not in component:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            while True:
                w = stack.pop()
                component[w] = index[v]
                if w == v:
                    break

    for name in calls:
        if name not in index:
            visit(name)
    found = {}
    for name, callees in calls.items():
        same = {c for c in callees if component.get(c) == component[name]}
        if same:
            found[name] = same
    _RECURSIVE[m] = found
    return found


__all__ = ["recursive_functions"]
