"""Locate the data files the compiler ships (the grammar and the stdlib sources) and fingerprint them.

In: nothing. Out: paths. An installed wheel carries them in `triton_dsl/_data/`; a source checkout
(editable install or running from the repository) finds them at the repository's top level.
`compiler_fingerprint()` hashes every file of the package, stdlib and grammar by path, size and
modification time: the caches of every layer key on it, so editing the compiler invalidates them.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
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


@lru_cache(maxsize=1)
def compiler_fingerprint() -> str:
    from . import __version__

    h = hashlib.sha256(__version__.encode())
    roots = [_PACKAGE_DIR]
    for name in ("stdlib", "grammar"):
        try:
            roots.append(data_dir(name))
        except FileNotFoundError:
            pass
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.suffix in (".py", ".triton", ".lark") and "__pycache__" not in path.parts:
                st = path.stat()
                h.update(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()
