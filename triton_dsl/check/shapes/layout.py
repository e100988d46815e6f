"""Rules that rearrange axes: reshape, permute/transpose, unsqueeze/squeeze, stack and concat.

In: shapes and the operation's static arguments (target shape, axes). Out: the result shape, or a raised
`ShapeError`. Element counts are compared symbolically (static factor × named dims) where no dim is `?`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .core import (
    ANY_RANK,
    E_AXIS,
    E_JOIN,
    E_RESHAPE,
    UNKNOWN,
    Dim,
    Shape,
    ShapeError,
    dims_agree,
    format_dim,
    format_shape,
    merge_dims,
    normalize_axis,
)

# ---------------------------------------------------------------- reshape


@dataclass(frozen=True)
class _Product:
    """An element count as static factor × named dims (None when a `?` makes it unknowable)."""

    factor: int
    names: tuple[str, ...]

    @classmethod
    def of(cls, dims: Sequence[Dim]) -> _Product | None:
        if any(d is None for d in dims):
            return None
        factor = math.prod(d for d in dims if isinstance(d, int))
        return cls(factor, tuple(sorted(d for d in dims if isinstance(d, str))))


def reshape_shape(shape: Shape, target: Sequence[Dim]) -> Shape:
    """Shape of `reshape(x, target)`: element counts must agree; one -1 is inferred."""
    target = tuple(target)
    wildcard = [i for i, d in enumerate(target) if d == -1]
    if len(wildcard) > 1:
        raise ShapeError(f"reshape to {format_shape(target)}: only one dimension can be -1", E_RESHAPE)
    bad = [d for d in target if isinstance(d, int) and d < -1]
    if bad:
        raise ShapeError(f"reshape to {format_shape(target)}: negative size {bad[0]}", E_RESHAPE)
    others = _Product.of([d for d in target if d != -1])
    total = _Product.of(shape) if isinstance(shape, tuple) else None
    if wildcard:
        if others is not None and others.factor == 0:
            raise ShapeError(f"cannot reshape {format_shape(shape)} to {format_shape(target)}: "
                             f"-1 is ambiguous next to a dimension of size 0", E_RESHAPE)
        inferred = _infer_wildcard(shape, target, total, others)
        return target[:wildcard[0]] + (inferred,) + target[wildcard[0] + 1:]
    if total is not None and others is not None and total != others:
        raise _reshape_count_error(shape, target, total, others)
    return target


def _infer_wildcard(shape: Shape, target: tuple[Dim, ...], total: _Product | None,
                    others: _Product | None) -> Dim:
    if total is None or others is None:
        return UNKNOWN
    rest = list(total.names)
    for name in others.names:
        if name not in rest:  # the target names a dim the source does not have
            raise _reshape_count_error(shape, target, total, others)
        rest.remove(name)
    if total.factor % others.factor:
        raise _reshape_count_error(shape, target, total, others)
    factor = total.factor // others.factor
    if not rest:
        return factor
    return rest[0] if factor == 1 and len(rest) == 1 else UNKNOWN


def _reshape_count_error(shape: Shape, target: tuple[Dim, ...], total: _Product,
                         others: _Product) -> ShapeError:
    def count(p: _Product) -> str:
        return " * ".join([str(p.factor)] * (p.factor != 1 or not p.names) + list(p.names))

    return ShapeError(f"cannot reshape {format_shape(shape)} ({count(total)} elements) to "
                      f"{format_shape(target)} ({count(others)} elements"
                      f"{' times the -1 dimension' if -1 in target else ''})", E_RESHAPE)


def flatten_shape(shape: Shape, start_dim: int = 0, end_dim: int = -1) -> Shape:
    """Shape of `flatten(x, start_dim, end_dim)`: the axes start..end merged into one (a scalar gives [1])."""
    if not isinstance(shape, tuple):
        return ANY_RANK
    if not shape:
        return (1,)  # as PyTorch: flattening a scalar gives a vector of one element
    start, end = normalize_axis(start_dim, len(shape)), normalize_axis(end_dim, len(shape))
    if start > end:
        raise ShapeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}", E_AXIS)
    merged = shape[start:end + 1]
    count = _Product.of(merged)
    if len(merged) == 1:
        size = merged[0]  # nothing to merge: a named dim keeps its name
    elif count is not None and not count.names:
        size = count.factor
    else:
        size = UNKNOWN
    return shape[:start] + (size,) + shape[end + 1:]


# ---------------------------------------------------------------- axis permutations and insertions


def permute_shape(shape: Shape, order: Sequence[int]) -> Shape:
    """Shape of `permute(x, order)` (numpy transpose with axes): `order` is a permutation of the axes."""
    if not isinstance(shape, tuple):
        return ANY_RANK
    rank = len(shape)
    if len(order) != rank:
        raise ShapeError(f"permutation {list(order)} has {len(order)} entries for a tensor of rank {rank}",
                         E_AXIS)
    axes = [normalize_axis(ax, rank) for ax in order]
    if len(set(axes)) != rank:
        raise ShapeError(f"permutation {list(order)} repeats a dimension", E_AXIS)
    return tuple(shape[ax] for ax in axes)


def transpose_shape(shape: Shape, dim0: int = -2, dim1: int = -1) -> Shape:
    """Shape of `transpose(x, dim0, dim1)`: two axes swapped (default: the last two, a matrix transpose)."""
    if not isinstance(shape, tuple):
        return ANY_RANK
    a, b = normalize_axis(dim0, len(shape)), normalize_axis(dim1, len(shape))
    dims = list(shape)
    dims[a], dims[b] = dims[b], dims[a]
    return tuple(dims)


def unsqueeze_shape(shape: Shape, dim: int) -> Shape:
    """Shape of `unsqueeze(x, dim)`: a new axis of size 1 at `dim` (-rank-1..rank)."""
    if not isinstance(shape, tuple):
        return ANY_RANK
    axis = normalize_axis(dim, len(shape) + 1)
    return shape[:axis] + (1,) + shape[axis:]


def squeeze_shape(shape: Shape, dim: int | None = None) -> Shape:
    """Shape of `squeeze(x, dim)`: drop axis `dim` (which must be 1), or every axis of size 1."""
    if not isinstance(shape, tuple):
        return ANY_RANK
    if dim is None:
        # A `?` may turn out to be 1 and vanish, so the result's rank is not known.
        return ANY_RANK if UNKNOWN in shape else tuple(d for d in shape if d != 1)
    if not shape and dim in (0, -1):
        return ()  # as numpy: squeezing a scalar over "its" axis is the scalar
    axis = normalize_axis(dim, len(shape))
    if shape[axis] not in (1, UNKNOWN):
        raise ShapeError(f"cannot squeeze dimension {dim} of {format_shape(shape)}: its size is "
                         f"{format_dim(shape[axis])}, not 1", E_AXIS)
    return shape[:axis] + shape[axis + 1:]


# ---------------------------------------------------------------- stack and concat


def _join_check(shapes: Sequence[Shape], what: str, skip_axis: int | None = None) -> tuple[Dim, ...] | None:
    """The common shape of the known-rank operands (axis `skip_axis` excluded), or None if all are `?`."""
    if not shapes:
        raise ShapeError(f"{what} needs at least one tensor", E_JOIN)
    known = [s for s in shapes if isinstance(s, tuple)]
    if not known:
        return None
    first = known[0]
    merged = list(first)
    for other in known[1:]:
        if len(other) != len(first):
            raise ShapeError(f"{what}: tensors have different ranks: {format_shape(first)} and "
                             f"{format_shape(other)}", E_JOIN)
        for i, (a, b) in enumerate(zip(merged, other, strict=True)):
            if i == skip_axis:
                continue
            if not dims_agree(a, b):
                raise ShapeError(f"{what}: shapes {format_shape(first)} and {format_shape(other)} differ in "
                                 f"dimension {i} ({format_dim(a)} vs {format_dim(b)})", E_JOIN)
            merged[i] = merge_dims(a, b)
    return tuple(merged)


def stack_shape(shapes: Sequence[Shape], dim: int = 0) -> Shape:
    """Shape of `stack(xs, dim)`: equal shapes, a new axis of length len(xs) at `dim`."""
    common = _join_check(shapes, "stack")
    if common is None:
        return ANY_RANK
    axis = normalize_axis(dim, len(common) + 1)
    return common[:axis] + (len(shapes),) + common[axis:]


def concat_shape(shapes: Sequence[Shape], dim: int = 0) -> Shape:
    """Shape of `concat(xs, dim)`: equal shapes except along `dim`, whose sizes add up."""
    known = [s for s in shapes if isinstance(s, tuple)]
    rank = len(known[0]) if known else None
    if rank == 0:
        raise ShapeError("concat needs tensors of rank 1 or more; got a scalar", E_JOIN)
    axis = normalize_axis(dim, rank) if rank is not None else None
    common = _join_check(shapes, "concat", skip_axis=axis)
    if common is None or axis is None:
        return ANY_RANK
    sizes = [s[axis] if isinstance(s, tuple) else None for s in shapes]
    total: Dim = sum(sizes) if all(isinstance(d, int) for d in sizes) else UNKNOWN  # type: ignore[arg-type]
    return common[:axis] + (total,) + common[axis + 1:]
