"""Stages import only earlier stages (docs/internals.md, "Layers"), function-level imports included.

In: every module of the `triton_dsl` package, parsed with `ast` (no import is executed). Out: the list of
imports that point at a later layer, which must be empty, and the runtime/kernel function table
(`abi/functions.py`) equal to what the builders define now.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "triton_dsl"

# Bottom to top. A module may import its own layer and the layers below it.
LAYERS: list[tuple[str, ...]] = [
    ("source", "diagnostics", "target", "abi", "elf_symbols", "resources",
     "highlight"),  # plain data, shared; highlight: the Pygments lexer
    ("syntax",),
    ("check",),
    ("ir",),
    ("passes",),
    ("codegen",),
    ("jit",),
    ("runtime",),   # the native runtime and kernel library, built and loaded through jit
    ("pipeline", "program_cache", "aot"),  # aot: the objects of ahead-of-time libraries
    ("api", "api_args", "api_objects", "api_wrappers", "stdlib"),  # stdlib.py: the stdlib as Python functions
    ("api_grad",),  # value_and_grad: wrappers compiled next to a function's source
    ("convert", "summarize", "gradcheck"),  # weight files of other tools, and what a file or program stores
    ("repl_session",),  # sessions of entries compiled one at a time
    ("commands", "cli", "repl", "ipython", "__main__", "__init__"),  # faces: repl, the notebook magics
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def _top(module: str) -> str:
    return module.split(".")[0]


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, top-level triton_dsl module) of every import in `path`."""
    rel = path.relative_to(PACKAGE).with_suffix("")
    package = list(rel.parts[:-1])  # the package a relative import starts from
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                target = [*base, *(node.module.split(".") if node.module else [])]
                names = [target[0]] if target else [alias.name for alias in node.names]
            elif node.module and node.module.startswith("triton_dsl"):
                parts = node.module.split(".")[1:]
                names = [parts[0]] if parts else [alias.name for alias in node.names]
            else:
                continue
            found += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name.split(".")[1]) for a in node.names
                      if a.name.startswith("triton_dsl.")]
    return found


def test_no_module_imports_a_later_stage():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _top(".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        if own not in RANK:
            wrong.append(f"{path.relative_to(PACKAGE)}: not in any layer of this test")
            continue
        for line, name in _imports(path):
            if name in RANK and RANK[name] > RANK[own]:
                wrong.append(f"{path.relative_to(PACKAGE)}:{line}: {own} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_function_table_matches_the_builders():
    from triton_dsl.abi.functions import FUNCTIONS
    from triton_dsl.runtime.abi_table import current_table

    now = current_table()
    changed = sorted(set(now) ^ set(FUNCTIONS) | {n for n in now if now[n] != FUNCTIONS.get(n)})
    if changed:
        pytest.fail(f"abi/functions.py is stale for {changed[:10]}: "
                    "run python -m triton_dsl.runtime.abi_table")


def test_every_kernel_belongs_to_a_family_of_the_lazy_library():
    """A kernel missing from FAMILY_SYMBOLS is unresolvable when generated code calls it first."""
    from triton_dsl.abi.functions import FUNCTIONS
    from triton_dsl.runtime.kernel_library import FAMILY_SYMBOLS

    known = {name for names in FAMILY_SYMBOLS.values() for name in names}
    assert sorted(n for n in FUNCTIONS if n.startswith("trk_") and n not in known) == []
