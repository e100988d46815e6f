"""The whole-program cache of `tritonc run`: an unchanged file skips the compiler, not just LLVM.

In: a `Source`, the opt level and (after a compilation) its `CompileResult`. Out: the program's LLVM IR
text and what running it needs (kernel library or not, an entry point or not, the warnings to show).
The machine code itself is in `jit.ObjectCache`, keyed by the IR; this cache maps the *source* to that
IR, so a second run parses, checks, lowers and optimizes nothing. The key covers the source text and
name, the opt level, the target, and a fingerprint of the compiler (every file of the package, stdlib
and grammar by path, size and modification time), so editing the compiler invalidates it. Entries are written
atomically with a SHA-256 of their contents; an unreadable, inconsistent or corrupted entry (one flipped
bit) is a miss: it is removed and rewritten by the next compilation. `tritonc run` also treats an entry
whose IR does not load as a miss.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .resources import compiler_fingerprint
from .source import Source


@dataclass
class CachedProgram:
    llvm_ir: str
    needs_kernels: bool
    has_entry: bool
    warnings: str


def _key(source: Source, opt_level: int) -> str:
    from .jit import process_target  # the IR depends on the target's kernel variants

    parts = [source.name, source.text, str(opt_level), compiler_fingerprint(), process_target().key()]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _path(source: Source, opt_level: int) -> Path:
    from .jit import cache_dir

    return Path(cache_dir()) / "programs" / f"{_key(source, opt_level)}.json"


def _checksum(data: dict) -> str:
    fields = {k: v for k, v in data.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def load_compiled(source: Source, opt_level: int) -> CachedProgram | None:
    """The cached program, or None on any problem with the entry (a miss, never an error)."""
    path = _path(source, opt_level)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("sha256") != _checksum(data):
            raise ValueError("checksum mismatch")
        return CachedProgram(str(data["llvm_ir"]), bool(data["needs_kernels"]), bool(data["has_entry"]),
                             str(data["warnings"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        discard(source, opt_level)
        return None


def discard(source: Source, opt_level: int) -> None:
    """Remove a bad entry (corrupted, or IR that no longer loads) so that the next run rewrites it."""
    try:
        _path(source, opt_level).unlink()
    except OSError:
        pass


def store_compiled(source: Source, opt_level: int, result, warnings: str) -> None:
    path = _path(source, opt_level)
    data = {"llvm_ir": result.llvm_ir, "needs_kernels": result.needs_kernels,
            "has_entry": result.ir_module.entry is not None, "warnings": warnings}
    data["sha256"] = _checksum(data)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs the next run a compilation
