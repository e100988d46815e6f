"""Locate the data files the compiler ships: the grammar and the stdlib sources.

In: nothing. Out: paths. An installed wheel carries them in `triton_dsl/_data/`; a source checkout
(editable install or running from the repository) finds them at the repository's top level.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder `grammar` or `stdlib`, wherever this installation keeps it."""
    for candidate in (_PACKAGE_DIR / "_data" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"triton_dsl installation is incomplete: no '{name}' folder found")


def grammar_path() -> Path:
    return data_dir("grammar") / "triton.lark"


def stdlib_paths() -> list[Path]:
    """The stdlib sources in a stable order (file name order)."""
    return sorted(data_dir("stdlib").glob("*.triton"))
