"""Rules for indexing, slicing and conv2d windows.

In: a shape and per-axis indices (static ints, unknown, slices, `...`), or conv2d operand shapes with
stride and padding. Out: the result shape, or a raised `ShapeError` (static index out of range, kernel
larger than the padded input, channel mismatch).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import EllipsisType

from .core import (
    ANY_RANK,
    E_CONV,
    E_INDEX,
    UNKNOWN,
    Dim,
    Shape,
    ShapeError,
    dims_agree,
    format_dim,
    format_shape,
)

# ---------------------------------------------------------------- indexing and slicing

Index = int | None | slice | EllipsisType  # a static index, an unknown index (None), a slice, or `...`
UNKNOWN_INDEX = object()  # a slice bound computed at run time (None already means "omitted" in a slice)


def index_shape(shape: Shape, indices: Sequence[Index]) -> Shape:
    """Shape of `x[indices]` (numpy basic indexing): an index drops its axis, a slice keeps it.

    An index is a static `int`, `UNKNOWN` (an index computed at run time) or `...`; a slice's start, stop
    and step are static ints, None (omitted) or `UNKNOWN_INDEX` when computed at run time.
    """
    ellipses = sum(1 for ix in indices if ix is Ellipsis)
    if ellipses > 1:
        raise ShapeError("an index can only have a single ellipsis (...)", E_INDEX)
    if not isinstance(shape, tuple):
        return ANY_RANK
    used = len(indices) - ellipses
    if used > len(shape):
        raise ShapeError(f"too many indices for a tensor of shape {format_shape(shape)}: {used} indices "
                         f"for rank {len(shape)}", E_INDEX)
    if ellipses:
        at = list(indices).index(Ellipsis)
        indices = list(indices[:at]) + [slice(None)] * (len(shape) - used) + list(indices[at + 1:])
    out: list[Dim] = []
    for axis, dim in enumerate(shape):
        ix = indices[axis] if axis < len(indices) else slice(None)
        if isinstance(ix, slice):
            out.append(slice_length(dim, ix))
        else:
            _check_index_bounds(shape, axis, dim, ix)
    return tuple(out)


def _check_index_bounds(shape: tuple[Dim, ...], axis: int, dim: Dim, ix: int | None) -> None:
    if isinstance(ix, int) and isinstance(dim, int) and not -dim <= ix < dim:
        raise ShapeError(f"index {ix} is out of range for dimension {axis} of {format_shape(shape)} "
                         f"(size {dim})", E_INDEX)


def slice_length(dim: Dim, sl: slice) -> Dim:
    """Length of `dim[start:stop:step]`; `?` unless it can be known statically."""
    if sl.step == 0:
        raise ShapeError("slice step cannot be zero", E_INDEX)
    bounds = (sl.start, sl.stop, sl.step)
    if any(b is UNKNOWN_INDEX for b in bounds):
        return UNKNOWN
    if isinstance(dim, int):
        return len(range(*sl.indices(dim)))
    if sl.start is None and sl.stop is None and sl.step in (None, 1, -1):
        return dim  # `:` and `::-1` keep a named or unknown dim as it is
    return UNKNOWN


# ---------------------------------------------------------------- conv2d


def _pair(value: int | Sequence[int], what: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2:
        raise ShapeError(f"conv2d {what} must be one integer or a pair, got {list(pair)}", E_CONV)
    return pair  # type: ignore[return-value]


def conv2d_shape(input: Shape, weight: Shape, stride: int | Sequence[int] = 1,
                 padding: int | Sequence[int] = 0) -> Shape:
    """Shape of conv2d(input [N, C, H, W], weight [O, C, KH, KW]) → [N, O, H', W']."""
    strides, pads = _pair(stride, "stride"), _pair(padding, "padding")
    if min(strides) < 1:
        raise ShapeError(f"conv2d stride must be at least 1, got {list(strides)}", E_CONV)
    if min(pads) < 0:
        raise ShapeError(f"conv2d padding cannot be negative, got {list(pads)}", E_CONV)
    x = input if isinstance(input, tuple) else (UNKNOWN,) * 4
    w = weight if isinstance(weight, tuple) else (UNKNOWN,) * 4
    if len(x) != 4:
        raise ShapeError(f"conv2d expects an input of shape [batch, channels, height, width], got "
                         f"{format_shape(x)} (rank {len(x)})", E_CONV)
    if len(w) != 4:
        raise ShapeError(f"conv2d expects a weight of shape [out_channels, in_channels, kernel_height, "
                         f"kernel_width], got {format_shape(w)} (rank {len(w)})", E_CONV)
    if not dims_agree(x[1], w[1]):
        raise ShapeError(f"conv2d channels do not match: input {format_shape(x)} has {format_dim(x[1])} "
                         f"channels, weight {format_shape(w)} expects {format_dim(w[1])}", E_CONV)
    spatial = tuple(_conv_out(x, w, axis, strides[axis - 2], pads[axis - 2]) for axis in (2, 3))
    return (x[0], w[0]) + spatial


def _conv_out(x: tuple[Dim, ...], w: tuple[Dim, ...], axis: int, stride: int, pad: int) -> Dim:
    size, kernel = x[axis], w[axis]
    if isinstance(size, int) and isinstance(kernel, int):
        if size + 2 * pad < kernel:
            raise ShapeError(f"conv2d kernel {w[2]}x{w[3]} is larger than the padded input "
                             f"({format_shape(x[2:])} with padding {pad})", E_CONV)
        return (size + 2 * pad - kernel) // stride + 1
    if stride == 1 and isinstance(kernel, int) and 2 * pad == kernel - 1:
        return size  # "same" convolution keeps a named or unknown size
    return UNKNOWN
