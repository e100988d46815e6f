"""String and f-string literal decoding.

In: the raw text of a string token's body (between the quotes) and the file offset where that body
starts. Out: the decoded string (`decode_string`), or for f-strings the list of literal text pieces and
replacement fields with the file offset of each field's expression text (`split_fstring`), so the
parser can parse each expression with spans that point into the file. Problems raise `LexicalError`
(diagnostic code, message, file offsets).

Escapes: \\n \\t \\r \\0 \\\\ \\" \\' \\{ \\} \\xHH \\uHHHH \\u{H...}. In f-strings `{{` and `}}` are
literal braces and a field is `{expr}`, `{expr:spec}`, `{expr!r}` or `{expr!s:spec}`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import LexicalError

_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'",
                   "{": "{", "}": "}"}
_HEX = set("0123456789abcdefABCDEF")


@dataclass
class RawField:
    """One `{...}` of an f-string before its expression is parsed."""

    text: str            # the expression text, exactly as written
    offset: int          # file offset of text[0]
    conversion: str | None
    spec: str | None
    start: int           # file offset of the `{`
    end: int             # file offset just after the `}`


def _scalar_value(code: int, start: int, end: int) -> str:
    """The character of a code point, which must be a Unicode scalar value: a surrogate (U+D800..U+DFFF)
    is no character and cannot be encoded as UTF-8, so it is refused here, once, for every string."""
    if 0xD800 <= code <= 0xDFFF:
        raise LexicalError("E0105", f"U+{code:04X} is a surrogate, not a character: a string holds Unicode "
                           "scalar values (U+0000..U+D7FF, U+E000..U+10FFFF)", start, end)
    return chr(code)


def _plain(raw: str, i: int, base: int) -> str:
    """An unescaped character of a literal (a source given as a Python str may hold a lone surrogate)."""
    return _scalar_value(ord(raw[i]), base + i, base + i + 1)


def _decode_escape(raw: str, i: int, base: int) -> tuple[str, int]:
    """Decode the escape starting at raw[i] == '\\'; return (character, index after the escape)."""
    if i + 1 >= len(raw):
        raise LexicalError("E0105", "a string cannot end with a single '\\'", base + i, base + i + 1)
    kind = raw[i + 1]
    if kind in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[kind], i + 2
    if kind == "x":
        digits = raw[i + 2:i + 4]
        if len(digits) == 2 and set(digits) <= _HEX:
            return _scalar_value(int(digits, 16), base + i, base + i + 4), i + 4
    elif kind == "u":
        if raw[i + 2:i + 3] == "{":
            close = raw.find("}", i + 3)
            digits = raw[i + 3:close] if close > 0 else ""
            if 0 < len(digits) <= 6 and set(digits) <= _HEX and int(digits, 16) <= 0x10FFFF:
                return _scalar_value(int(digits, 16), base + i, base + close + 1), close + 1
        else:
            digits = raw[i + 2:i + 6]
            if len(digits) == 4 and set(digits) <= _HEX:
                return _scalar_value(int(digits, 16), base + i, base + i + 6), i + 6
    escape = raw[i:i + 2]
    raise LexicalError("E0105", f"invalid escape sequence '{escape}'", base + i, base + i + 2)


def decode_string(raw: str, base: int) -> str:
    """Decode the body of a "..." literal whose first character is at file offset base."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] == "\\":
            ch, i = _decode_escape(raw, i, base)
            out.append(ch)
        else:
            out.append(_plain(raw, i, base))
            i += 1
    return "".join(out)


_OPEN = {"(": ")", "[": "]", "{": "}"}


def _scan_field(raw: str, start: int, base: int) -> RawField:
    """Scan the field whose `{` is at raw[start]; brackets inside the expression may nest."""
    depth: list[str] = []
    i = start + 1
    expr_end = conv = None
    while i < len(raw):
        ch = raw[i]
        if ch in _OPEN:
            depth.append(_OPEN[ch])
        elif depth and ch == depth[-1]:
            depth.pop()
        elif not depth and (ch == "}" or ch == ":"):
            break
        elif not depth and ch == "!" and raw[i + 1:i + 2] in ("r", "s", "a") \
                and raw[i + 2:i + 3] in (":", "}"):
            expr_end, conv = i, raw[i + 1]
            i += 2
            break
        i += 1
    if expr_end is None:
        expr_end = i
    text = raw[start + 1:expr_end]
    if not text.strip():
        raise LexicalError("E0106", "empty expression in f-string (write '{{' for a literal brace)",
                           base + start, base + min(i + 1, len(raw)))
    spec = None
    if i < len(raw) and raw[i] == ":":
        close = raw.find("}", i)
        nested = raw.find("{", i)
        if close < 0:
            i = len(raw)
        elif 0 <= nested < close:
            raise LexicalError("E0106", "a format spec cannot contain '{'", base + nested, base + nested + 1)
        else:
            spec, i = raw[i + 1:close], close
    if i >= len(raw) or raw[i] != "}":
        raise LexicalError("E0106", "'{' in f-string is never closed (write '{{' for a literal brace)",
                           base + start, base + start + 1)
    return RawField(text, base + start + 1, conv, spec, base + start, base + i + 1)


def split_fstring(raw: str, base: int) -> list[str | RawField]:
    """Split the body of f"..." (first character at file offset base) into text and fields."""
    parts: list[str | RawField] = []
    text: list[str] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == "\\":
            decoded, i = _decode_escape(raw, i, base)
            text.append(decoded)
        elif ch in "{}" and raw[i + 1:i + 2] == ch:
            text.append(ch)
            i += 2
        elif ch == "}":
            raise LexicalError("E0106", "single '}' in f-string (write '}}' for a literal brace)",
                               base + i, base + i + 1)
        elif ch == "{":
            if text:
                parts.append("".join(text))
                text = []
            field = _scan_field(raw, i, base)
            parts.append(field)
            i = field.end - base
        else:
            text.append(_plain(raw, i, base))
            i += 1
    if text:
        parts.append("".join(text))
    return parts
