"""Reading the program files named on the command line.

In: paths as typed by the user. Out: `Source` objects, or a usage error message in the user's words
("cannot read 'x.triton': No such file or directory").
"""

from __future__ import annotations

from pathlib import Path

from ..pipeline import SOURCE_SUFFIXES, read_source
from ..source import Source


def load_program_file(path: str) -> Source | str:
    """The file's `Source`, or the message explaining why it cannot be used."""
    if Path(path).suffix not in SOURCE_SUFFIXES:
        return f"cannot read '{path}': not a Triton DSL file (expected a .triton or .tri file)"
    try:
        return read_source(path)
    except UnicodeDecodeError:
        return f"cannot read '{path}': not UTF-8 text"
    except OSError as exc:
        return f"cannot read '{path}': {exc.strerror or exc}"
