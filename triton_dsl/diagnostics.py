"""Diagnostics: the compiler's one way of reporting problems in a program.

In: a code (`E0001`…), a message in the user's words, a `Span`, optional notes (each with an optional
span). Out: rendered text in the form

    file:line:col: error[E0301]: message
       |
     3 |     let y = x @ w
       |             ^^^^^
       = note: ...

and `CompileError`, the exception the public API raises, which carries `.diagnostics`.
The catalogue of codes lives in `docs/diagnostics.md`; codes are grouped by stage:
E01xx lexical/syntax, E02xx names and scopes, E03xx types, E04xx shapes, E05xx calls and arguments,
E06xx control flow, E07xx ternary rules, E09xx unsupported features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .source import Span


@dataclass(frozen=True)
class Note:
    message: str
    span: Span | None = None


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None
    notes: tuple[Note, ...] = ()
    severity: str = "error"  # "error" | "warning" | "note"

    # Plain-data accessors (the API promises code, message, file, line, col, end).
    @property
    def file(self) -> str | None:
        return self.span.source.name if self.span else None

    @property
    def line(self) -> int | None:
        return self.span.line if self.span else None

    @property
    def col(self) -> int | None:
        return self.span.col if self.span else None

    @property
    def end(self) -> tuple[int, int] | None:
        return self.span.end_line_col if self.span else None

    def render(self) -> str:
        return render_diagnostic(self)

    def __str__(self) -> str:
        return self.render()


def _render_snippet(span: Span) -> list[str]:
    line = span.line
    text = span.source.line_text(line)
    end_line, end_col = span.end_line_col
    start_col = span.col
    # Underline to the end of the span on its first line (at least one caret).
    stop = end_col if end_line == line else len(text) + 1
    width = max(1, stop - start_col)
    gutter = str(line)
    pad = " " * len(gutter)
    # Tabs in the prefix keep their width so the caret lines up.
    prefix = "".join(ch if ch == "\t" else " " for ch in text[: start_col - 1])
    return [
        f"{pad} |",
        f"{gutter} | {text}",
        f"{pad} | {prefix}{'^' * width}",
    ]


def render_diagnostic(diag: Diagnostic) -> str:
    head = f"{diag.severity}[{diag.code}]: {diag.message}"
    lines = [f"{diag.span.location()}: {head}" if diag.span else head]
    if diag.span is not None:
        lines.extend(_render_snippet(diag.span))
    for note in diag.notes:
        if note.span is not None:
            lines.append(f"{note.span.location()}: note: {note.message}")
            lines.extend(_render_snippet(note.span))
        else:
            lines.append(f"  = note: {note.message}")
    # A source given as a Python str may hold a lone surrogate (refused by the lexer): show it escaped so
    # that the message itself can be printed and encoded.
    return "\n".join(lines).encode("utf-8", "backslashreplace").decode("utf-8")


def render_all(diagnostics: list[Diagnostic]) -> str:
    errors = sum(1 for d in diagnostics if d.severity == "error")
    body = "\n\n".join(d.render() for d in diagnostics)
    if errors > 1:
        body += f"\n\n{errors} errors"
    return body


class CompileError(Exception):
    """Raised by the public API when a program does not compile; `str()` is the rendered text."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__(render_all(self.diagnostics))


@dataclass
class DiagnosticSink:
    """Collects diagnostics of one compilation; stages report into it and keep going where they can."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span | None, *notes: Note) -> Diagnostic:
        diag = Diagnostic(code, message, span, tuple(notes))
        self.diagnostics.append(diag)
        return diag

    def warning(self, code: str, message: str, span: Span | None, *notes: Note) -> Diagnostic:
        diag = Diagnostic(code, message, span, tuple(notes), severity="warning")
        self.diagnostics.append(diag)
        return diag

    @property
    def has_errors(self) -> bool:
        return any(d.severity == "error" for d in self.diagnostics)


class InternalCompilerError(Exception):
    """A failure inside the compiler after the program was accepted.

    It is a bug in triton_dsl, not in the program being compiled.
    """
