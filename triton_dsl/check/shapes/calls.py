"""Named dims at a call: bind them from the arguments' shapes, then substitute them in the result.

In: a parameter's declared shape, the argument's shape and the bindings so far. Out: updated bindings,
or a raised `ShapeError` naming the dim, where it was bound and the conflicting value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .core import (
    ANY_RANK,
    E_BINDING,
    E_RANK,
    UNKNOWN,
    Dim,
    DimBinding,
    Shape,
    ShapeError,
    dims_agree,
    format_dim,
    format_shape,
)

# ---------------------------------------------------------------- named dims at a call


def unify(expected: Shape, actual: Shape, bindings: Mapping[str, DimBinding], where: str,
          origin: Any = None) -> dict[str, DimBinding]:
    """Match an argument's shape against a parameter's declared shape, binding the named dims.

    `where` names the argument in the user's words ("argument 'input'"); it and `origin` are recorded
    with each new binding so that a later conflict can say where the dim was bound. Returns the updated
    bindings (a new dict); raises ShapeError on a rank mismatch or a conflict.
    """
    result = dict(bindings)
    if not isinstance(expected, tuple) or not isinstance(actual, tuple):
        return result  # `?` on either side: the rank is checked at run time
    if len(expected) != len(actual):
        raise ShapeError(f"{where} should have rank {len(expected)} ({format_shape(expected)}), "
                         f"got rank {len(actual)} ({format_shape(actual)})", E_RANK)
    for axis, (want, got) in enumerate(zip(expected, actual, strict=True)):
        here = f"{where}, dimension {axis}"
        if isinstance(want, str):
            bound = result.get(want)
            if bound is None or bound.value is None:
                if bound is None or got is not None:
                    result[want] = DimBinding(got, here, origin)
            elif not dims_agree(bound.value, got):
                raise ShapeError(f"dimension '{want}' is {format_dim(bound.value)} (from {bound.where}) "
                                 f"but {format_dim(got)} in {here}", E_BINDING, related=bound)
        elif not dims_agree(want, got):
            raise ShapeError(f"{where} should have shape {format_shape(expected)}, got "
                             f"{format_shape(actual)} (dimension {axis}: {format_dim(want)} vs "
                             f"{format_dim(got)})", E_BINDING)
    return result


def substitute_shape(shape: Shape, bindings: Mapping[str, DimBinding]) -> Shape:
    """A declared shape with its named dims replaced by their bindings (unbound names become `?`)."""
    if not isinstance(shape, tuple):
        return ANY_RANK
    return tuple(_substitute_dim(d, bindings) for d in shape)


def _substitute_dim(dim: Dim, bindings: Mapping[str, DimBinding]) -> Dim:
    if not isinstance(dim, str):
        return dim
    bound = bindings.get(dim)
    return bound.value if bound is not None else UNKNOWN
