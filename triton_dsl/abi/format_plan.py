"""Compile-time parsing of Python format specs (f-string `{x:spec}`) into a runtime call plan.

In: the spec text and the kind of value (`"int" | "float" | "bool" | "str"`). Out: a `FormatPlan` whose
`args()` are the constant trailing arguments of `trt_format_<kind>(ctx, buf, value, ...)`
(docs/runtime.md "Format specs"), or `ValueError` with Python's message for a spec Python rejects
(codegen reports it as a compile-time diagnostic at the f-string).

Grammar: [[fill]align][sign][z][#][0][width][grouping][.precision][type] (Python 3.11).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(
    r"(?:(?P<fill>.)?(?P<align>[<>=^]))?(?P<sign>[-+ ])?(?P<z>z)?(?P<alt>\#)?(?P<zero>0)?(?P<width>\d+)?"
    r"(?P<grouping>[,_])?(?:\.(?P<precision>\d+))?(?P<type>[bcdeEfFgGnosxX%])?", re.DOTALL)

INT_TYPES = "bdnoxX"
MAX_PRECISION = 150  # keeps the native formatter's fixed-size buffers sufficient
# Python bounds a width by sys.maxsize ("Too many decimal digits in format string"); the runtime takes it
# as an i32 and a wider field is no useful output, so a width is at most a million characters.
MAX_WIDTH = 1_000_000
MAX_GROUPED_ZERO_WIDTH = 1000  # zero padding through separators is built in a fixed-size buffer
_PY_TYPE_NAME = {"int": "int", "float": "float", "bool": "bool", "str": "str"}


@dataclass(frozen=True)
class FormatPlan:
    """A parsed spec with the `0` flag already resolved into fill/align."""

    kind: str
    fill: str = " "
    align: str = ""  # "" = the kind's default
    sign: str = "-"
    alt: bool = False
    width: int = 0
    grouping: str = ""
    precision: int = -1
    type: str = ""

    def args(self) -> tuple[int, ...]:
        """(fill, align, sign, alt, width, grouping, precision, type) as i32 constants."""
        return (ord(self.fill), ord(self.align) if self.align else 0, ord(self.sign), int(self.alt),
                self.width, ord(self.grouping) if self.grouping else 0, self.precision,
                ord(self.type) if self.type else 0)

    @property
    def runtime_function(self) -> str:
        return f"trt_format_{self.kind}"


def plan_format(spec: str, kind: str) -> FormatPlan:
    """Parse `spec` for a value of `kind`; raise ValueError where Python's format() would."""
    if kind not in _PY_TYPE_NAME:
        raise ValueError(f"no format plan for values of kind {kind!r}")
    m = _SPEC.fullmatch(spec)
    if m is None:
        raise ValueError("Invalid format specifier")
    g = m.groupdict()
    fill, align = g["fill"], g["align"] or ""
    if fill is not None and ord(fill) > 127:
        raise ValueError("only ASCII fill characters are supported in format specifiers")
    if g["z"]:
        raise ValueError("the 'z' format option is not supported")
    ftype = g["type"] or ""
    problem = width_problem(spec)
    if problem:
        raise ValueError(problem)
    precision = int(g["precision"]) if g["precision"] is not None else -1
    if precision > MAX_PRECISION:
        raise ValueError(f"format precision {precision} is too large (at most {MAX_PRECISION})")
    sign, alt, grouping = g["sign"] or "-", bool(g["alt"]), g["grouping"] or ""
    numeric = _numeric_kind(kind, ftype, sign, alt, grouping, align, precision, g["zero"])
    if g["zero"]:
        fill = fill if fill is not None else "0"
        align = align or ("=" if numeric else "<")
    plan = FormatPlan(kind, fill if fill is not None else " ", align, sign, alt,
                      int(g["width"]) if g["width"] else 0, grouping, precision, ftype)
    _validate(plan, numeric)
    return plan


def width_problem(spec: str) -> str | None:
    """Why the width or precision of a spec is too large (None if neither is): checked before either
    becomes a number, so that `{x:099999999999999999999d}` never reaches the runtime wrapped."""
    m = _SPEC.fullmatch(spec)
    if m is None:
        return None
    for what, text, limit in (("width", m.group("width"), MAX_WIDTH),
                              ("precision", m.group("precision"), MAX_PRECISION)):
        if text is not None and (len(text.lstrip("0")) > 12 or int(text) > limit):
            return f"format {what} {text} is too large (at most {limit})"
    return None


def _numeric_kind(kind, ftype, sign, alt, grouping, align, precision, zero) -> bool:
    """Does this value format as a number? (A bool with only fill/align/width formats as text.)"""
    if kind == "str":
        return False
    if kind == "bool":
        return bool(ftype or sign != "-" or alt or grouping or align == "=" or precision >= 0 or zero)
    return True


def _validate(p: FormatPlan, numeric: bool) -> None:
    who = "int" if p.kind == "bool" else p.kind
    if p.type == "c":
        raise ValueError("the 'c' format type is not supported")
    if not numeric:
        if p.type not in ("", "s"):
            raise ValueError(f"Unknown format code '{p.type}' for object of type '{who}'")
        if p.sign != "-":
            raise ValueError("Sign not allowed in string format specifier")
        if p.alt:
            raise ValueError("Alternate form (#) not allowed in string format specifier")
        if p.align == "=":
            raise ValueError("'=' alignment not allowed in string format specifier")
        if p.grouping:
            raise ValueError(f"Cannot specify '{p.grouping}' with 's'.")
        return
    if p.type == "s" or (p.kind == "float" and p.type and p.type in "bdoxX"):
        raise ValueError(f"Unknown format code '{p.type}' for object of type '{who}'")
    int_format = p.kind in ("int", "bool") and (p.type == "" or p.type in INT_TYPES)
    if int_format and p.precision >= 0:
        raise ValueError("Precision not allowed in integer format specifier")
    if p.grouping == "," and p.type and p.type in "bnoxX":
        raise ValueError(f"Cannot specify ',' with '{p.type}'.")
    if p.grouping == "_" and p.type == "n":
        raise ValueError("Cannot specify '_' with 'n'.")
    if p.grouping and p.fill == "0" and p.align == "=" and p.width > MAX_GROUPED_ZERO_WIDTH:
        raise ValueError(f"format width {p.width} with zero padding and grouping is too large "
                         f"(at most {MAX_GROUPED_ZERO_WIDTH})")
