"""Shape representation, errors and the elementwise / matmul / reduction rules.

In: shapes (tuples of dims, or `ANY_RANK`). Out: result shapes, or a raised `ShapeError`. See the package
docstring of `triton_dsl.check.shapes` for the representation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

UNKNOWN = None
Dim = int | str | None


class _AnyRank:
    """The shape `?`: any rank, any dims (one instance)."""

    _instance: _AnyRank | None = None

    def __new__(cls) -> _AnyRank:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANY_RANK"

    def __str__(self) -> str:
        return "?"


ANY_RANK = _AnyRank()
Shape = tuple[Dim, ...] | _AnyRank

# Diagnostic codes of the shape rules (E04xx, see docs/diagnostics.md).
E_BROADCAST = "E0401"
E_MATMUL = "E0402"
E_AXIS = "E0403"
E_RESHAPE = "E0404"
E_JOIN = "E0405"
E_INDEX = "E0406"
E_CONV = "E0407"
E_BINDING = "E0408"
E_RANK = "E0409"
E_MAX_RANK = "E0410"

# The runtime tensor header holds at most this many dims (docs/runtime.md, `abi.layout.MAX_RANK`).
MAX_RANK = 8


def check_rank(shape: Shape) -> None:
    """The one rank limit: every tensor type the checker builds (an operation's result, a written type)
    goes through here, so no op can produce a rank the runtime cannot hold."""
    if isinstance(shape, tuple) and len(shape) > MAX_RANK:
        raise ShapeError(f"this tensor would have rank {len(shape)}; the maximum rank is {MAX_RANK}",
                         E_MAX_RANK)


@dataclass(frozen=True)
class DimBinding:
    """What a named dim was bound to at a call, and where (`where` is the caller's words for it)."""

    value: Dim
    where: str
    origin: Any = None  # anything the caller wants back with an error (e.g. a Span for a note)


class ShapeError(Exception):
    """A static shape mismatch; `message` is ready to show, `code` is its diagnostic code."""

    def __init__(self, message: str, code: str, related: DimBinding | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.related = related


# ---------------------------------------------------------------- formatting and small helpers


def format_dim(dim: Dim) -> str:
    return "?" if dim is None else str(dim)


def format_shape(shape: Shape) -> str:
    if not isinstance(shape, tuple):
        return "?"
    return "[" + ", ".join(format_dim(d) for d in shape) + "]"


def is_static(shape: Shape) -> bool:
    return isinstance(shape, tuple) and all(isinstance(d, int) for d in shape)


def static_numel(shape: Shape) -> int | None:
    """The element count when every dim is static, else None."""
    return math.prod(shape) if is_static(shape) else None  # type: ignore[arg-type]


def normalize_axis(axis: int, rank: int, what: str = "dimension") -> int:
    """A possibly negative axis as 0..rank-1; raises for one outside -rank..rank-1."""
    if not -rank <= axis < rank:
        if rank == 0:
            raise ShapeError(f"{what} {axis} is out of range for a tensor of rank 0 (it has no dimensions)",
                             E_AXIS)
        raise ShapeError(f"{what} {axis} is out of range for a tensor of rank {rank} "
                         f"(expected {-rank}..{rank - 1})", E_AXIS)
    return axis % rank


def dims_agree(a: Dim, b: Dim) -> bool:
    """Can two dims that must be equal be equal? (A name equals only itself; `?` equals anything.)"""
    return a is None or b is None or a == b


def merge_dims(a: Dim, b: Dim) -> Dim:
    """Two dims that must be equal: the more specific one; raises ShapeError "a vs b" when they differ."""
    if not dims_agree(a, b):
        raise ShapeError(f"{format_dim(a)} vs {format_dim(b)}", E_JOIN)
    return b if a is None else a


# ---------------------------------------------------------------- broadcasting


def broadcast_dims(a: Dim, b: Dim) -> Dim:
    """numpy's rule for one pair of aligned dims; raises ShapeError with a short "a vs b" message."""
    if a == b:
        return a
    if a == 1:
        return b
    if b == 1:
        return a
    if a is None:
        return None if b == 1 else b
    if b is None:
        return a
    raise ShapeError(f"{format_dim(a)} vs {format_dim(b)}", E_BROADCAST)


def broadcast_shapes(*shapes: Shape) -> Shape:
    """The shape of an elementwise operation on operands of these shapes (numpy broadcasting)."""
    if any(not isinstance(s, tuple) for s in shapes):
        return ANY_RANK
    result: tuple[Dim, ...] = ()
    for shape in shapes:
        result = _broadcast_two(result, shape)  # type: ignore[arg-type]
    return result


def _broadcast_two(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> tuple[Dim, ...]:
    rank = max(len(a), len(b))
    pa = (1,) * (rank - len(a)) + a
    pb = (1,) * (rank - len(b)) + b
    out = []
    for i, (da, db) in enumerate(zip(pa, pb, strict=True)):
        try:
            out.append(broadcast_dims(da, db))
        except ShapeError:
            raise ShapeError(f"shapes {format_shape(a)} and {format_shape(b)} cannot be broadcast together "
                             f"(dimension {i - rank}: {format_dim(da)} vs {format_dim(db)})",
                             E_BROADCAST) from None
    return tuple(out)


# ---------------------------------------------------------------- matmul


def matmul_shape(a: Shape, b: Shape) -> Shape:
    """numpy's `a @ b`: vector·vector → [], matrix·vector, vector·matrix, batched with broadcast batches."""
    for name, s in (("left", a), ("right", b)):
        if isinstance(s, tuple) and len(s) == 0:
            raise ShapeError(f"@ needs tensors of rank 1 or more; the {name} operand is a scalar "
                             f"(use * for scalar multiplication)", E_MATMUL)
    if not isinstance(a, tuple) or not isinstance(b, tuple):
        return ANY_RANK
    left = (1,) + a if len(a) == 1 else a
    right = b + (1,) if len(b) == 1 else b
    if not dims_agree(left[-1], right[-2]):
        raise ShapeError(f"inner dimensions do not match: {format_shape(a)} @ {format_shape(b)} "
                         f"({format_dim(left[-1])} vs {format_dim(right[-2])})", E_MATMUL)
    try:
        batch = _broadcast_two(left[:-2], right[:-2])
    except ShapeError:
        raise ShapeError(f"batch dimensions do not broadcast: {format_shape(a)} @ {format_shape(b)} "
                         f"({format_shape(left[:-2])} vs {format_shape(right[:-2])})", E_MATMUL) from None
    out = batch + ((left[-2],) if len(a) > 1 else ()) + ((right[-1],) if len(b) > 1 else ())
    return out


# ---------------------------------------------------------------- reductions


def reduce_shape(shape: Shape, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Shape:
    """Shape after reducing over `dim` (one axis, several, or all when None); rank 0 for a full reduction."""
    if not isinstance(shape, tuple):
        return ANY_RANK if (keepdim or dim is not None) else ()
    rank = len(shape)
    if dim is None:
        return (1,) * rank if keepdim else ()
    if rank == 0 and dim in (0, -1):
        return ()  # reducing a scalar over "its" axis is the scalar (numpy and PyTorch both allow it)
    axes = [dim] if isinstance(dim, int) else list(dim)
    normalized = [normalize_axis(ax, rank) for ax in axes]
    if len(set(normalized)) != len(normalized):
        raise ShapeError(f"dimension listed twice in reduction over {list(axes)}", E_AXIS)
    if keepdim:
        return tuple(1 if i in normalized else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in normalized)
