"""Lexical layer between Lark's lexer and its LALR parser: newline handling and lexical errors.

In: the token stream of Lark's basic lexer for grammar/triton.lark. Out: the same stream with the
newlines the grammar must not see removed (inside ( ) and [ ], before `->`, `{`, `else`, `.`, and all
but one of a run), plus `LexicalError` raised for unterminated strings and comments and for nesting
deeper than the compiler supports.
"""

from __future__ import annotations

from collections.abc import Iterator

from lark import Token
from lark.lark import PostLex

from .errors import LexicalError

# Newlines before these tokens continue the previous line: `fn f(x) \n -> R {`, `}\nelse {`,
# `x\n    .method()`.
_CONTINUATION_TOKENS = frozenset({"ARROW", "LBRACE", "ELSE", "DOT"})
_OPENERS = {"LPAR": "RPAR", "LSQB": "RSQB", "LBRACE": "RBRACE"}
_CLOSERS = frozenset(_OPENERS.values())

# Brackets nested deeper than this are refused with a diagnostic: later stages recurse over the tree.
MAX_NESTING = 200


def raise_unterminated_string(token: Token) -> Token:
    """Lexer callback for BAD_STRING: a string with no closing quote on its line."""
    raise LexicalError("E0103", "unterminated string (a string must end with '\"' on the same line)",
                       token.start_pos, token.start_pos + 1)


def raise_unterminated_comment(token: Token) -> Token:
    """Lexer callback for BAD_COMMENT: `/*` with no `*/` after it."""
    raise LexicalError("E0103", "unterminated comment ('/*' without a closing '*/')",
                       token.start_pos, token.start_pos + 2)


LEXER_CALLBACKS = {"BAD_STRING": raise_unterminated_string, "BAD_COMMENT": raise_unterminated_comment}


class NewlinePostLexer(PostLex):
    """Drops insignificant newlines; see the module docstring."""

    always_accept = ()

    def process(self, stream: Iterator[Token]) -> Iterator[Token]:
        stack: list[str] = []
        pending_newline: Token | None = None
        for tok in stream:
            kind = tok.type
            if kind == "_NL":
                if stack and stack[-1] != "LBRACE":
                    continue  # inside ( ) or [ ]: a line break is only white space
                if pending_newline is None:
                    pending_newline = tok
                continue
            if pending_newline is not None:
                if kind not in _CONTINUATION_TOKENS:
                    yield pending_newline
                pending_newline = None
            if kind in _OPENERS:
                stack.append(kind)
                if len(stack) > MAX_NESTING:
                    raise LexicalError("E0109", f"brackets nested more than {MAX_NESTING} deep",
                                       tok.start_pos, tok.end_pos)
            elif kind in _CLOSERS and stack:
                stack.pop()
            yield tok
        if pending_newline is not None:
            yield pending_newline
