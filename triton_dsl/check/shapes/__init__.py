"""Shape rules: pure functions from operand shapes to the result shape, or a `ShapeError`.

In: shapes. A dim is an `int` (static size), a `str` (a named dim such as `"batch"`, equal only to the
same name) or `UNKNOWN` (`None`, written `?`: any size, checked at run time). A shape is a tuple of dims
or `ANY_RANK` (the shape `?`); any non-tuple shape is treated as `ANY_RANK`.
Out: the result shape, or a raised `ShapeError` whose message is in the user's words, e.g.
"inner dimensions do not match: [32, 784] @ [128, 10] (784 vs 128)". The checker turns it into a
diagnostic with `error.code` and the span of the operation.

The rules follow numpy (broadcasting, matmul, reductions, reshape, indexing) and PyTorch (conv2d in
NCHW/OIHW, unsqueeze/squeeze). Static mismatches are errors here; a mismatch that depends on an unknown
dim is left to the run-time check. Nothing here knows about the AST or the checker's types.
"""

from .calls import substitute_shape, unify
from .core import (
    ANY_RANK,
    E_AXIS,
    E_BINDING,
    E_BROADCAST,
    E_CONV,
    E_INDEX,
    E_JOIN,
    E_MATMUL,
    E_MAX_RANK,
    E_RANK,
    E_RESHAPE,
    MAX_RANK,
    UNKNOWN,
    Dim,
    DimBinding,
    Shape,
    ShapeError,
    broadcast_dims,
    broadcast_shapes,
    check_rank,
    dims_agree,
    format_dim,
    format_shape,
    is_static,
    matmul_shape,
    merge_dims,
    normalize_axis,
    reduce_shape,
    static_numel,
)
from .indexing import UNKNOWN_INDEX, Index, conv2d_shape, index_shape, slice_length
from .layout import (
    concat_shape,
    flatten_shape,
    permute_shape,
    reshape_shape,
    squeeze_shape,
    stack_shape,
    transpose_shape,
    unsqueeze_shape,
)

__all__ = [
    "ANY_RANK", "E_AXIS", "E_BINDING", "E_BROADCAST", "E_CONV", "E_INDEX", "E_JOIN", "E_MATMUL", "E_MAX_RANK",
    "E_RANK", "MAX_RANK", "check_rank", "E_RESHAPE", "UNKNOWN", "UNKNOWN_INDEX", "Dim", "DimBinding", "Index",
    "Shape", "ShapeError",
    "broadcast_dims", "broadcast_shapes", "concat_shape", "conv2d_shape", "dims_agree", "flatten_shape",
    "format_dim", "format_shape", "index_shape", "is_static", "matmul_shape", "merge_dims", "normalize_axis",
    "permute_shape", "reduce_shape", "reshape_shape", "slice_length", "squeeze_shape", "stack_shape",
    "static_numel", "substitute_shape", "transpose_shape", "unify", "unsqueeze_shape",
]
