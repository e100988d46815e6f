"""Typing rules of the weight-file primitives (docs/language.md "Weight files").

In: a `RuleCall` (see `primitives.py`). Out: the result type, and in `info` what the back end needs:
- `save_weights(path, "name1", t1, "name2", t2, ...)` -> `()`: variadic; the path is a string, then
  pairs of a constant string name and a tensor of any dtype or a TernaryTensor. At least one pair, names
  unique and not empty. `info["names"]` = the names in order.
- `load_tensor(path, name, rank, dtype=float32)` -> `Tensor<dtype, [?, ...rank]>`;
  `load_ternary(path, name, rank)` -> `TernaryTensor<trit, [?, ...rank]>`. The rank (an integer
  constant, 0..8) is part of the type; what the file holds is checked against it at run time.
  `info["dtype"]`, `info["rank"]`.
"""

from __future__ import annotations

from .prim_rules import const_dtype, const_int, require
from .primitives import RuleCall
from .shapes import UNKNOWN
from .types import UNIT, StrType, TensorType, Type, is_error

MAX_RANK = 8  # the runtime tensor header's limit (docs/runtime.md)
E_ARG = "E0501"


def save_weights(r: RuleCall) -> Type:
    if not r.varargs:
        raise r.fail("E0504", "missing argument `path` in call to `save_weights`")
    path, *rest = r.varargs
    if not (isinstance(path.ty, StrType) or is_error(path.ty)):
        raise r.fail(E_ARG, f"the first argument of `save_weights` must be a string (a file path), "
                            f"got `{path.ty}`", path.span)
    if not rest or len(rest) % 2:
        raise r.fail("E0504", "`save_weights` needs a path, then pairs of a name and a tensor: "
                              "save_weights(path, \"w\", w, \"b\", b)")
    names: list[str] = []
    for name, value in zip(rest[::2], rest[1::2], strict=True):
        if not isinstance(name.const, str) or isinstance(name.const, bool):
            raise r.fail(E_ARG, f"a weight name must be a constant string such as \"w1\", got `{name.ty}`",
                         name.span)
        if not name.const:
            raise r.fail(E_ARG, "a weight name must not be empty", name.span)
        if name.const in names:
            raise r.fail("E0505", f"the weight name \"{name.const}\" is given twice", name.span)
        if not (isinstance(value.ty, TensorType) or is_error(value.ty)):
            raise r.fail(E_ARG, f"weight \"{name.const}\" must be a tensor or a TernaryTensor, got "
                                f"`{value.ty}`", value.span)
        names.append(name.const)
    r.info["names"] = tuple(names)
    return UNIT


def _load_common(r: RuleCall) -> int:
    require(r, "path", isinstance(r.args["path"].ty, StrType), "a string (a file path)")
    require(r, "name", isinstance(r.args["name"].ty, StrType), "a string (the entry's name)")
    rank = const_int(r, "rank")
    if not 0 <= rank <= MAX_RANK:
        raise r.fail(E_ARG, f"argument 'rank' of `{r.name}` must be between 0 and {MAX_RANK}, got {rank}",
                     r.args["rank"].span)
    r.info["rank"] = rank
    return rank


def load_tensor(r: RuleCall) -> Type:
    rank = _load_common(r)
    dtype = const_dtype(r, "dtype") or "float32"
    if dtype == "trit":
        raise r.fail(E_ARG, "`load_tensor` reads plain tensors; use `load_ternary` for a TernaryTensor",
                     r.args["dtype"].span)
    r.info["dtype"] = dtype
    return TensorType(dtype, (UNKNOWN,) * rank)


def load_ternary(r: RuleCall) -> Type:
    rank = _load_common(r)
    r.info["dtype"] = "trit"
    return TensorType("trit", (UNKNOWN,) * rank, True)


ROWS = [
    ("save_weights", "io", "", save_weights),  # variadic: path, then name/tensor pairs
    ("load_tensor", "io", "path, name, rank, dtype=@float32", load_tensor),
    ("load_ternary", "io", "path, name, rank", load_ternary),
]
VARIADIC = frozenset({"save_weights"})
