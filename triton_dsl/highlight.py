"""Syntax highlighting of Triton DSL: a Pygments lexer (used by `tritonc repl` and by the docs).

In: source text. Out: Pygments tokens (keywords, types, builtins, numbers, strings, f-strings, comments,
operators). The keyword list follows `grammar/triton.lark`; `layer` and `main` are soft keywords there
but are highlighted as keywords where they start an item. Also registered as the Pygments entry point
`triton` (see pyproject.toml), so `pygmentize -l triton file.triton` and Sphinx/MkDocs code blocks
marked `triton` use it.
"""

from __future__ import annotations

from pygments.lexer import RegexLexer, bygroups, words
from pygments.token import Comment, Keyword, Name, Number, Operator, Punctuation, String, Text, Whitespace

KEYWORDS = ("fn", "let", "if", "else", "while", "for", "in", "is", "return", "break", "continue",
            "struct", "trait")
CONSTANTS = ("true", "false", "None")
TYPES = ("trit", "bool", "int8", "int16", "int32", "int64", "int", "float16", "float32", "float64",
         "float", "str", "Tensor", "TernaryTensor", "Tuple", "Type")


class TritonLexer(RegexLexer):
    """Pygments lexer for Triton DSL (`.triton`, `.tri`)."""

    name = "Triton DSL"
    aliases = ["triton", "triton-dsl"]
    filenames = ["*.triton", "*.tri"]

    tokens = {
        "root": [
            (r"\s+", Whitespace),
            (r"#[^\n]*", Comment.Single),
            (r"/\*(.|\n)*?\*/", Comment.Multiline),
            (r'f"([^"\\\n]|\\[^\n])*"', String.Interpol),
            (r'"([^"\\\n]|\\[^\n])*"', String.Double),
            (r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+", Number.Integer),
            (r"\d[\d_]*\.\d*([eE][+-]?\d+)?|\d[\d_]*[eE][+-]?\d+|\.\d+([eE][+-]?\d+)?", Number.Float),
            (r"\d[\d_]*", Number.Integer),
            (r"^(layer|main)\b", Keyword),
            (r"(fn|layer)(\s+)([A-Za-z_]\w*)", bygroups(Keyword, Whitespace, Name.Function)),
            (r"(struct|trait)(\s+)([A-Za-z_]\w*)", bygroups(Keyword, Whitespace, Name.Class)),
            (words(KEYWORDS, suffix=r"\b"), Keyword),
            (words(CONSTANTS, suffix=r"\b"), Keyword.Constant),
            (words(TYPES, suffix=r"\b"), Keyword.Type),
            (r"[A-Za-z_]\w*(?=\s*\()", Name.Function),
            (r"[A-Za-z_]\w*", Name),
            (r"->|\.\.|==|!=|<=|>=|&&|\|\||[-+*/%@<>=!&|^~?]", Operator),
            (r"[()\[\]{},:;.]", Punctuation),
            (r".", Text),
        ],
    }


__all__ = ["TritonLexer", "KEYWORDS", "TYPES"]
