"""Source text and spans.

In: a file name and its text. Out: `Source` objects that map byte offsets to 1-based line/column, and
`Span`s (source, start offset, end offset) that every AST and IR node carries so that diagnostics and
run-time errors can name the line they come from.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(eq=False)
class Source:
    """A named piece of program text (a file, a REPL entry, a string given to `compile`)."""

    name: str
    text: str
    _line_starts: list[int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        for i, ch in enumerate(self.text):
            if ch == "\n":
                starts.append(i + 1)
        self._line_starts = starts

    @classmethod
    def from_path(cls, path: str | Path) -> Source:
        p = Path(path)
        return cls(str(path), p.read_text(encoding="utf-8"))

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based (line, column) of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def offset(self, line: int, col: int) -> int:
        """Character offset of a 1-based (line, column)."""
        line = max(1, min(line, len(self._line_starts)))
        return min(self._line_starts[line - 1] + col - 1, len(self.text))

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        if line < 1 or line > len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]


@dataclass(frozen=True, eq=False)
class Span:
    """A half-open range [start, end) of character offsets in a Source."""

    source: Source
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.source.line_col(self.start)[0]

    @property
    def col(self) -> int:
        return self.source.line_col(self.start)[1]

    @property
    def end_line_col(self) -> tuple[int, int]:
        return self.source.line_col(self.end)

    def text(self) -> str:
        return self.source.text[self.start:self.end]

    def to(self, other: Span) -> Span:
        """The span covering self through other (same source)."""
        return Span(self.source, min(self.start, other.start), max(self.end, other.end))

    def location(self) -> str:
        """`file:line:col`, the prefix of every diagnostic and run-time error."""
        return f"{self.source.name}:{self.line}:{self.col}"

    def __repr__(self) -> str:
        return f"<Span {self.location()}>"
