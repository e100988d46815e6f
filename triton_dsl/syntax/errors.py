"""Syntax errors in the user's words.

In: a Lark exception raised while parsing some text, the terminal definitions of the grammar, and the
file offset where that text starts. Out: a `SyntaxProblem` (diagnostic code, message, file offsets),
e.g. "unexpected ')'; expected an expression" — never Lark's terminal names (RPAR, __ANON_3).
Also `LexicalError`, the exception the lexer and the string-literal decoder raise for malformed text.
"""

from __future__ import annotations

from dataclasses import dataclass

from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

# Words for terminals whose pattern is not worth quoting.
_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "FSTRING": "a string",
    "_NL": "end of line",
    "$END": "end of file",
    "AUG_ASSIGN": "'+='",
}

# Terminals that can start an expression.
_EXPR_START = frozenset({"NAME", "LAYER", "MAIN", "NUMBER", "STRING", "FSTRING", "LPAR", "LSQB", "MINUS",
                         "BANG", "TRUE", "FALSE", "NONE", "FN"})
_STMT_START = _EXPR_START | {"LET", "IF", "WHILE", "FOR", "RETURN", "BREAK", "CONTINUE"}
_ITEM_START = frozenset({"STRUCT", "TRAIT", "FN", "LAYER", "MAIN"})
_TYPE_START = frozenset({"NAME", "LAYER", "MAIN", "TENSOR", "TERNARY_TENSOR", "LPAR", "LSQB", "FN", "NONE"})
# `layer` and `main` are names to the user (soft keywords): never list them beside "a name".
_SOFT_KEYWORDS = frozenset({"LAYER", "MAIN"})
_COMPARISONS = frozenset({"LT", "LE", "GT", "GE", "EQEQ", "NOTEQ"})
_OPERATORS = frozenset({"OROR", "ANDAND", "EQEQ", "NOTEQ", "IS", "LT", "LE", "GT", "GE", "DOTDOT", "PLUS",
                        "MINUS", "STAR", "SLASH", "DSLASH", "PERCENT", "AT", "POW", "DOT", "LPAR", "LSQB"})

# (word, terminals that must all be expected for the word to apply, terminals the word stands for).
# Checked in order; a terminal covered by an earlier word is not listed again.
_CATEGORIES = [
    ("a statement", frozenset({"LET", "IF", "RETURN"}), _STMT_START),
    ("an item", frozenset({"STRUCT", "TRAIT"}), _ITEM_START),
    ("an expression", frozenset({"NAME", "NUMBER", "LSQB", "MINUS"}), _EXPR_START),
    ("a type", frozenset({"NAME", "TENSOR", "TERNARY_TENSOR"}), _TYPE_START),
    ("an operator", frozenset({"PLUS", "STAR", "EQEQ"}), _OPERATORS),
]


class LexicalError(Exception):
    """Malformed text found while tokenizing or decoding a literal: a diagnostic code, message and the
    [start, end) offsets of the problem (into the lexed text for the lexer, into the file for strings)."""

    def __init__(self, code: str, message: str, start: int, end: int):
        super().__init__(message)
        self.code = code
        self.message = message
        self.start = start
        self.end = end


@dataclass
class SyntaxProblem:
    code: str
    message: str
    start: int
    end: int


def describe_expected(expected: set[str], patterns: dict[str, str]) -> str:
    """'expected X' or 'expected one of: X, Y' for a set of terminal names."""
    remaining = set(expected)
    if "NAME" in remaining:
        remaining -= _SOFT_KEYWORDS
    words: list[str] = []
    for word, required, covered in _CATEGORIES:
        if required <= remaining:
            words.append(word)
            remaining -= covered
    singles = sorted(_word_for(name, patterns) for name in remaining)
    # Lark's order is arbitrary: sort the single tokens, keep categories first (most helpful).
    words.extend(w for w in dict.fromkeys(singles))
    if not words:
        return ""
    if len(words) == 1:
        return f"expected {words[0]}"
    return "expected one of: " + ", ".join(words)


def _word_for(name: str, patterns: dict[str, str]) -> str:
    if name in _WORDS:
        return _WORDS[name]
    if name in patterns:
        return f"'{patterns[name]}'"
    return name.lower()  # not reached for this grammar; never an internal name like __ANON_3


def _describe_token(kind: str, value: str) -> str:
    if kind == "$END":
        return "end of file"
    if kind == "_NL":
        return "end of line"
    if kind == "NAME":
        return f"name '{value}'"
    if kind == "NUMBER":
        return f"number {value}"
    if kind in ("STRING", "FSTRING"):
        return "string"
    return f"'{value}'"


def _after_separator(text: str, pos: int) -> bool:
    before = text[:pos].rstrip(" \t\r\f")
    return before.endswith(("\n", ";"))


def describe_problem(exc: UnexpectedInput, patterns: dict[str, str], text: str, base: int,
                     end_word: str = "end of file") -> SyntaxProblem:
    """Turn a Lark parse exception for `text` (which starts at file offset base) into a SyntaxProblem.
    end_word names the end of the text (an f-string field ends at its '}', not at the end of a file)."""
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            # Point just after the last non-blank character, where something is missing.
            stripped = len(text.rstrip())
            start = end = stripped
        else:
            start = tok.start_pos if tok.start_pos is not None else len(text)
            end = tok.end_pos if tok.end_pos is not None else start
        found = end_word if tok.type == "$END" else _describe_token(tok.type, str(tok))
        # `accepts` re-runs the parser for each terminal, so it is exact; `expected` (the LALR state's
        # table) may list tokens that only fit after a reduction that cannot happen here.
        try:
            accepts = set(exc.accepts) if exc.accepts else set(exc.expected)
        except Exception:  # accepts simulates parsing; never let it turn a syntax error into a crash
            accepts = set(exc.expected)
        separated = ("\n" in text[start:] or ";" in text[start:]) if tok.type == "$END" \
            else _after_separator(text, start)
        if separated:
            accepts -= {"SEMI", "_NL"}  # a separator may repeat, but suggesting one more is noise
        expected = describe_expected(accepts, patterns)
        message = f"unexpected {found}" + (f"; {expected}" if expected else "")
        # A comparison right after a complete comparison (where `&&` would fit) is a chain.
        if tok.type in _COMPARISONS and tok.type not in accepts and "ANDAND" in accepts:
            message = f"unexpected {found}: comparisons do not chain (write `a < b && b < c`)"
        return SyntaxProblem("E0101", message, base + start, base + max(end, start + 1))
    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = text[pos] if 0 <= pos < len(text) else ""
        hint = " (strings use double quotes)" if ch == "'" else ""
        shown = repr(ch) if ch in ("'", "\\") or not ch.isprintable() else f"'{ch}'"
        return SyntaxProblem("E0102", f"unexpected character {shown}{hint}", base + pos, base + pos + 1)
    pos = getattr(exc, "pos_in_stream", None) or 0
    return SyntaxProblem("E0101", "invalid syntax", base + pos, base + pos + 1)
