"""Source text -> AST (the compiler's first stage).

In: a `Source` and a `DiagnosticSink`. Out: `ast.Program` (`parse_program`), or an expression or a type
alone (`parse_expression`, `parse_type`, handy for tests and the REPL); None when the text has a syntax
error, which is then in the sink as an E01xx diagnostic at the right line:col. After a syntax error
the parser resumes at the next top-level item (see `parse_program`); problems found while building the
tree (bad number literal, bad assignment target, ...) are all reported.

The grammar is grammar/triton.lark, compiled by Lark (LALR, basic lexer) once per process and cached
on disk between processes (in $TRITON_DSL_CACHE_DIR, else $XDG_CACHE_HOME/triton_dsl, else
~/.cache/triton_dsl; no cache when none is writable). No Lark exception escapes this module.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

import lark
from lark import Lark, Tree
from lark.exceptions import LarkError, UnexpectedInput

from ..diagnostics import Diagnostic, DiagnosticSink
from ..resources import grammar_path
from ..source import Source, Span
from . import ast
from .builder import build_ast
from .errors import describe_problem
from .lexing import LEXER_CALLBACKS, LexicalError, NewlinePostLexer

_START_RULES = ["start", "expr", "type"]

# Error recovery: after a syntax error, parse again from the next line starting with one of these.
_RESUME_AT = re.compile(r"^(?:fn|layer|struct|trait|main|let)\b", re.MULTILINE)
_RESUMABLE = ("E0101", "E0102", "E0103")
MAX_SYNTAX_ERRORS = 10

# Later stages walk the tree recursively; a tree deeper than this is refused here with a diagnostic
# instead of failing there (it is far beyond anything written by hand).
MAX_TREE_DEPTH = 200


def _cache_dir() -> Path | None:
    """The first writable cache folder for the compiled grammar, or None."""
    explicit = os.environ.get("TRITON_DSL_CACHE_DIR")
    if explicit:
        candidates = [Path(explicit)]
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        candidates = [Path(xdg) / "triton_dsl"] if xdg else []
        candidates.append(Path.home() / ".cache" / "triton_dsl")
    for folder in candidates:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    return None


def _lark_options() -> dict:
    return dict(parser="lalr", lexer="basic", start=_START_RULES, propagate_positions=True,
                maybe_placeholders=True, postlex=NewlinePostLexer(), lexer_callbacks=LEXER_CALLBACKS)


def build_lark_uncached() -> Lark:
    """A fresh parser that keeps the analysed grammar (rules and terminals), for tools such as the
    grammar-driven fuzzer; a parser loaded from the cache only keeps the parse tables."""
    return Lark(grammar_path().read_text(encoding="utf-8"), **_lark_options())


@functools.lru_cache(maxsize=1)
def get_lark() -> Lark:
    """The compiled grammar, built once per process."""
    text = grammar_path().read_text(encoding="utf-8")
    options = _lark_options()
    folder = _cache_dir()
    if folder is not None:
        digest = hashlib.sha256(f"{text}{lark.__version__}".encode()).hexdigest()[:16]
        try:
            return Lark(text, cache=str(folder / f"grammar-{digest}.lark-cache"), **options)
        except (OSError, EOFError, ValueError, LarkError):
            pass  # an unreadable or stale cache file: build without it
    return Lark(text, **options)


@functools.lru_cache(maxsize=1)
def _terminal_patterns() -> dict[str, str]:
    """Terminal name -> literal text, for the terminals that are plain strings (`')'`, `'let'`)."""
    return {t.name: t.pattern.value for t in get_lark().terminals if t.pattern.type == "str"}


def _parse_tree(text: str, start: str, source: Source, offset: int, sink: DiagnosticSink) -> Tree | None:
    """Run Lark on text (which starts at file offset `offset`); report a syntax error and give None."""
    try:
        return get_lark().parse(text, start=start)
    except LexicalError as err:
        sink.error(err.code, err.message, Span(source, offset + err.start, offset + err.end))
    except UnexpectedInput as err:
        end_word = "end of file" if start == "start" else "end of the expression"
        problem = describe_problem(err, _terminal_patterns(), text, offset, end_word)
        sink.error(problem.code, problem.message, Span(source, problem.start, problem.end))
    except LarkError as err:  # anything else Lark may raise about the input
        sink.error("E0101", f"invalid syntax ({type(err).__name__})", Span(source, offset, offset))
    except RecursionError:
        sink.error("E0109", "the program is nested too deeply", Span(source, offset, offset))
    return None


def _build(text: str, start: str, source: Source, offset: int, sink: DiagnosticSink):
    before = len(sink.diagnostics)
    tree = _parse_tree(text, start, source, offset, sink)
    if tree is None:
        return None

    def parse_field(field_text: str, field_offset: int) -> ast.Expr | None:
        return _build(field_text, "expr", source, field_offset, sink)

    try:
        node = build_ast(tree, source, sink, offset, parse_field)
    except RecursionError:
        sink.error("E0109", "the program is nested too deeply", Span(source, offset, offset + len(text)))
        return None
    except lark.exceptions.VisitError as err:
        # Lark wraps exceptions raised inside the builder; a RecursionError is the input's fault,
        # anything else is a bug in the builder and must surface as one.
        if isinstance(err.orig_exc, RecursionError):
            sink.error("E0109", "the program is nested too deeply", Span(source, offset, offset + len(text)))
            return None
        raise err.orig_exc from err
    if len(sink.diagnostics) != before:
        return None
    deepest = _find_too_deep(node)
    if deepest is not None:
        sink.error("E0109", f"the program is nested too deeply (more than {MAX_TREE_DEPTH} levels)",
                   deepest.span)
        return None
    return node


def _find_too_deep(root: ast.Node) -> ast.Node | None:
    """The first node found deeper than MAX_TREE_DEPTH below root, or None (iterative walk)."""
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            return node
        stack.extend((child, depth + 1) for child in ast.iter_children(node))
    return None


def parse_program(source: Source, sink: DiagnosticSink) -> ast.Program | None:
    """Parse a whole file. Returns None (with diagnostics in sink) if it has syntax errors.

    After a syntax error the parser resumes at the next line that starts (in column 1) with `fn`,
    `layer`, `struct`, `trait`, `main` or `let`, so independent errors in different items are all
    reported (at most MAX_SYNTAX_ERRORS)."""
    text = source.text
    start = 0
    for _ in range(MAX_SYNTAX_ERRORS):
        first_new = len(sink.diagnostics)
        program = _build(text[start:], "start", source, start, sink)
        if program is not None:
            return program if start == 0 else None
        resume = _resume_point(text, sink.diagnostics[first_new:])
        if resume is None:
            break
        start = resume
    return None


def _resume_point(text: str, new_diagnostics: list[Diagnostic]) -> int | None:
    """Where to parse again after a syntax error, or None to stop."""
    if not new_diagnostics:
        return None
    last = new_diagnostics[-1]
    if last.code not in _RESUMABLE or "comment" in last.message:
        return None  # tree-building errors are all reported already; an open comment eats the rest
    line_end = text.find("\n", last.span.start)
    match = _RESUME_AT.search(text, line_end + 1) if line_end >= 0 else None
    return match.start() if match else None


def parse_expression(source: Source, sink: DiagnosticSink) -> ast.Expr | None:
    """Parse source.text as one expression (tests, REPL)."""
    return _build(source.text, "expr", source, 0, sink)


def parse_type(source: Source, sink: DiagnosticSink) -> ast.TypeExpr | None:
    """Parse source.text as one type (tests, REPL)."""
    return _build(source.text, "type", source, 0, sink)


_PARSERS = {"program": parse_program, "expression": parse_expression, "type": parse_type}


def parse_text(text: str, start: str = "program",
               name: str = "<input>") -> tuple[ast.Node | None, list[Diagnostic]]:
    """Convenience for tests and tools: parse text as a program, "expression" or "type"; return the
    node (None on error) and the diagnostics."""
    sink = DiagnosticSink()
    node = _PARSERS[start](Source(name, text), sink)
    return node, sink.diagnostics
