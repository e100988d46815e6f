"""`triton_dsl.summary`: what a weight file or a program stores, per tensor, with totals against float32.

In: a weight file (ours or any safetensors, GGUF, Hugging Face BitNet: `convert.detect_format`), a
`{name: array | TernaryTensor}` dict, or a `.triton` program. Out: a `Summary` — structured `rows`
(`SummaryRow`) and a `__str__` table: name, shape, dtype, parameters, bytes actually stored (packed
trits plus scales, as the file holds them), bits per parameter, fraction of zeros, scale kind; then the
totals and the compression against float32 (4 bytes per parameter).

For a program nothing runs: rows are the tensor bindings the checker typed (top-level and `main`
lets, each user function's parameters and lets). A size appears only where every dim is static; scale
kinds, zero fractions and the scale bytes of ternary tensors are run-time values and are shown as
unknown (`?`), never guessed. `Summary.unknown` says what could not be known. Errors: a weight file
that cannot be read raises `WeightsFileError`, a program that cannot be read `ProgramFileError`, one
that does not compile `CompileError` (all naming the file).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .runtime.ternary import TernaryTensor, packed_shape


@dataclass(frozen=True)
class SummaryRow:
    name: str
    shape: tuple | str                 # dims: int, or a str (named / `?`) when not static; "?": any rank
    dtype: str                         # "trit" (our 2-bit packing), "TQ2_0", "float32", "BF16", ...
    parameters: int | None             # None: not known without running
    stored_bytes: int | None           # bytes in the file: packed trits + scales; None: not known
    zero_fraction: float | None        # None: not known (a program) or no elements
    scale_kind: str | None             # "tensor" / "channel" / "asymmetric"; "" for plain tensors
    where: str = ""                    # for a program: "main", "top level" or the function
    trit_bytes: int | None = None      # packed trits alone (a program knows these, not the scales)

    @property
    def ternary(self) -> bool:
        return self.scale_kind != ""

    @property
    def bits_per_parameter(self) -> float | None:
        if self.stored_bytes is None or not self.parameters:
            return None
        return 8 * self.stored_bytes / self.parameters


@dataclass
class Summary:
    source: str
    kind: str                                   # "weights" or "program"
    rows: list[SummaryRow] = field(default_factory=list)
    format: str = ""                            # of a weight file: ours, gguf, hf-bitnet
    unknown: list[str] = field(default_factory=list)

    @property
    def parameters(self) -> int | None:
        return _total(r.parameters for r in self.rows)

    @property
    def stored_bytes(self) -> int | None:
        return _total(r.stored_bytes for r in self.rows)

    @property
    def float32_bytes(self) -> int | None:
        p = self.parameters
        return None if p is None else 4 * p

    @property
    def compression(self) -> float | None:
        """float32 bytes / stored bytes (None when either is unknown or nothing is stored)."""
        f, s = self.float32_bytes, self.stored_bytes
        return None if f is None or not s else f / s

    def __str__(self) -> str:
        return format_summary(self)


def _total(values: Iterator[int | None]) -> int | None:
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


# ---- weight files -----------------------------------------------------------------------------------

def _zero_fraction(value: np.ndarray | TernaryTensor) -> float | None:
    size = value.size
    if size == 0:
        return None
    if isinstance(value, TernaryTensor):
        return value.counts()[0] / size
    return float(np.count_nonzero(value == 0)) / size


def _row(name: str, value: np.ndarray | TernaryTensor, dtype: str, stored: int) -> SummaryRow:
    ternary = isinstance(value, TernaryTensor)
    return SummaryRow(name, tuple(value.shape), dtype, int(value.size), int(stored), _zero_fraction(value),
                      value.scale_kind if ternary else "",
                      trit_bytes=int(value.packed.nbytes) if ternary else None)


def summarize_tensors(tensors: Mapping[str, np.ndarray | TernaryTensor], source: str = "<dict>") -> Summary:
    """Rows for tensors as our format would store them (packed trits + float32 scales, arrays as-is)."""
    rows = []
    for name, value in tensors.items():
        if isinstance(value, TernaryTensor):
            rows.append(_row(name, value, "trit", value.nbytes))
        else:
            arr = np.asarray(value)
            rows.append(_row(name, arr, arr.dtype.name, arr.nbytes))
    return Summary(source, "weights", rows, format="ours")


def summarize_weights(path: str | os.PathLike) -> Summary:
    """Rows for a weight file, with the bytes and dtypes as the file stores them."""
    from .convert import read_any

    fmt, tensors = read_any(path)
    stored = _gguf_storage(path) if fmt == "gguf" else _safetensors_storage(path, fmt, tensors)
    rows = [_row(name, tensors[name], *stored[name]) for name in sorted(tensors)]
    return Summary(os.fspath(path), "weights", rows, format=fmt)


def _safetensors_storage(path, fmt: str, tensors: Mapping) -> dict[str, tuple[str, int]]:
    """name -> (stored dtype, bytes), a ternary tensor's scales entry counted with it."""
    from .convert.hf_bitnet import SCALE_SUFFIX
    from .convert.safetensors_raw import read_safetensors
    from .runtime.weights import METADATA_KEY

    st = read_safetensors(path, header_only=True)
    entries = st.entries
    # ours: the scales entry is named in the metadata (load_weights checked it exists)
    ours = json.loads(st.metadata.get(METADATA_KEY, "{}")) if fmt == "ours" else {}
    out = {}
    for name, value in tensors.items():
        e = entries[name]
        if isinstance(value, TernaryTensor):
            scales = entries[ours[name]["scales"] if fmt == "ours" else name + SCALE_SUFFIX]
            out[name] = ("trit", e.end - e.start + scales.end - scales.start)
        else:
            out[name] = (_SAFETENSORS_NAMES.get(e.dtype, e.dtype), e.end - e.start)
    return out


_SAFETENSORS_NAMES = {"F16": "float16", "F32": "float32", "F64": "float64", "BF16": "bfloat16", "I8": "int8",
                      "I16": "int16", "I32": "int32", "I64": "int64", "U8": "uint8", "U16": "uint16",
                      "U32": "uint32", "U64": "uint64", "BOOL": "bool"}


def _gguf_storage(path) -> dict[str, tuple[str, int]]:
    import gguf

    out = {}
    for t in gguf.GGUFReader(path).tensors:
        type_name = gguf.GGMLQuantizationType(t.tensor_type).name  # F32 ... or TQ2_0 / TQ1_0
        out[t.name] = (_SAFETENSORS_NAMES.get(type_name, type_name), int(t.n_bytes))
    return out


# ---- programs ---------------------------------------------------------------------------------------

_ITEMSIZE = {"bool": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8, "float16": 2, "float32": 4,
             "float64": 8}


def _program_row(name: str, ty, where: str) -> SummaryRow | None:
    from .check.types import ANY_RANK, TensorType, format_dim

    if not isinstance(ty, TensorType):
        return None
    if not isinstance(ty.shape, tuple):  # any rank, or a whole-shape generic
        shape: tuple | str = "?" if ty.shape is ANY_RANK else str(ty.shape)
        static = None
    else:
        shape = tuple(d if isinstance(d, int) else format_dim(d) for d in ty.shape)
        static = tuple(ty.shape) if all(isinstance(d, int) for d in ty.shape) else None
    params = math.prod(static) if static is not None else None
    if ty.ternary:
        trit_bytes = math.prod(packed_shape(static)) if static is not None else None
        return SummaryRow(name, shape, "trit", params, None, None, None, where, trit_bytes)
    itemsize = _ITEMSIZE.get(ty.dtype)
    stored = params * itemsize if params is not None and itemsize else None
    return SummaryRow(name, shape, ty.dtype, params, stored, None, "", where)


def _bindings(stmts, where: str) -> Iterator[SummaryRow]:
    from .syntax import ast

    for s in stmts:
        if isinstance(s, ast.Let) and isinstance(s.target, ast.NamePattern):
            row = _program_row(s.target.name, s.value.ty, where)
            if row is not None:
                yield row
        for block in (getattr(s, "body", None), getattr(s, "then", None), getattr(s, "orelse", None)):
            inner = getattr(block, "stmts", None)
            if inner is not None:
                yield from _bindings(inner, where)
            elif isinstance(block, ast.If):
                yield from _bindings([block], where)


def summarize_program(path: str | os.PathLike) -> Summary:
    """Rows for the tensors a program declares, as far as the checker knows them statically."""
    from .diagnostics import CompileError
    from .pipeline import check_source, read_source

    try:
        source = read_source(path)
    except UnicodeDecodeError:
        raise ProgramFileError(f"cannot read '{os.fspath(path)}': not UTF-8 text") from None
    except OSError as exc:
        raise ProgramFileError(f"cannot read '{os.fspath(path)}': {exc.strerror or exc}") from exc
    result = check_source(source)
    if not result.ok:
        raise CompileError(result.diagnostics)
    checked = result.checked
    rows = list(_bindings(checked.toplevel, "top level"))
    if checked.main is not None:
        rows += _bindings(checked.main.body.stmts, "main")
    for inst in checked.instances:
        if inst.fn.origin != "user":
            continue
        where = f"fn {inst.mangled()}"
        for pname, ptype in zip(inst.fn.param_names, inst.param_types, strict=True):
            row = _program_row(pname, ptype, where + " (param)")
            if row is not None:
                rows.append(row)
        if inst.body is not None:
            rows += _bindings(inst.body.stmts, where)
    summary = Summary(os.fspath(path), "program", rows)
    if any(r.parameters is None for r in rows):
        summary.unknown.append("sizes with ? or named dims are known only when the program runs")
    if any(r.ternary for r in rows):
        summary.unknown.append("scale kinds, scale bytes and zero fractions of ternary tensors are "
                               "run-time values: save the weights (save_weights) and run `tritonc summary` "
                               "on the file")
    if rows:
        summary.unknown.append("zero fractions of plain tensors are run-time values")
    return summary


class ProgramFileError(OSError):
    """A program file that cannot be read (the message names it)."""


def summary(source: str | os.PathLike | Mapping[str, np.ndarray | TernaryTensor]) -> Summary:
    """`triton_dsl.summary(...)`: a weight file, a `.triton` / `.tri` program, or a dict of tensors."""
    from .pipeline import SOURCE_SUFFIXES

    if isinstance(source, Mapping):
        return summarize_tensors(source)
    if Path(source).suffix in SOURCE_SUFFIXES:
        return summarize_program(source)
    return summarize_weights(source)


# ---- the table --------------------------------------------------------------------------------------

def _fmt_shape(shape: tuple | str) -> str:
    if isinstance(shape, str):
        return shape
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _fmt_int(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _fmt_bytes(row: SummaryRow) -> str:
    if row.stored_bytes is None and row.trit_bytes is not None:
        return f"{row.trit_bytes:,} + scales"
    return _fmt_int(row.stored_bytes)


def _tensors(n: int) -> str:
    return f"{n} tensor{'' if n == 1 else 's'}"


def _fmt_bits(row: SummaryRow) -> str:
    bits = row.bits_per_parameter
    if bits is not None:
        return f"{bits:.2f}"
    return "-" if row.parameters == 0 else "?"


def format_summary(s: Summary) -> str:
    program = s.kind == "program"
    head = ["name", "shape", "dtype", "params", "bytes", "bits/param", "zeros", "scale"]
    if program:
        head.append("declared in")
    table = [head]
    for r in s.rows:
        line = [r.name, _fmt_shape(r.shape), r.dtype, _fmt_int(r.parameters), _fmt_bytes(r), _fmt_bits(r),
                ("?" if program else "-") if r.zero_fraction is None else f"{r.zero_fraction:.1%}",
                "?" if r.scale_kind is None else (r.scale_kind or "-")]
        if program:
            line.append(r.where)
        table.append(line)
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    numeric = {3, 4, 5, 6}
    out = [f"{'program' if program else 'weights'} {s.source}" + (f" ({s.format})" if s.format else "")]
    for i, row in enumerate(table):
        cells = [c.rjust(widths[j]) if j in numeric else c.ljust(widths[j]) for j, c in enumerate(row)]
        out.append("  ".join(cells).rstrip())
        if i == 0:
            out.append("  ".join("-" * w for w in widths))
    ternary = sum(r.ternary for r in s.rows)
    if program:
        out.append(_program_totals(s))
    else:
        out.append(f"{_tensors(len(s.rows))} ({ternary} ternary), {_fmt_int(s.parameters)} parameters, "
                   f"{_fmt_int(s.stored_bytes)} bytes stored")
    if s.compression is not None:
        bits = 8 * s.stored_bytes / s.parameters
        ratio = f"{s.compression:.2f}x smaller" if s.compression >= 1 else f"{1 / s.compression:.2f}x larger"
        out.append(f"float32 would take {s.float32_bytes:,} bytes: {ratio} ({bits:.2f} bits per parameter)")
    elif s.parameters == 0 and not program:
        out.append("no parameters")
    out += [f"not known statically: {u}" for u in s.unknown]
    return "\n".join(out)


def _program_totals(s: Summary) -> str:
    """What the static sizes add up to, and how many tensors are sized only at run time."""
    sized = [r for r in s.rows if r.parameters is not None]
    ternary = sum(r.ternary for r in s.rows)
    text = f"{_tensors(len(s.rows))} ({ternary} ternary); {len(sized)} with static sizes: " \
           f"{sum(r.parameters for r in sized):,} parameters, " \
           f"{sum(r.stored_bytes or r.trit_bytes or 0 for r in sized):,} bytes"
    scaled = sum(r.stored_bytes is None for r in sized)
    if scaled:
        text += f" + the scales of {scaled} ternary tensor{'s' if scaled > 1 else ''}"
    if len(sized) < len(s.rows):
        text += f"; {len(s.rows) - len(sized)} sized only at run time"
    return text
