"""The checker's type representation: plain, hashable, printable the way the user writes types.

In: nothing (pure data). Out: type objects the checker puts on every expression's `.ty`, and that the
back end reads when it lowers the typed AST:

- `Scalar(name)`            a dtype used as a scalar value: trit, bool, int8 … float64
- `StrType()`, `NoneType()` (the type of the literal `None`), `UnitType()` (no value: a function
  without a return type), `NeverType()` (`panic`: never returns), `TypeType(dtype)` (a dtype used as a
  value, `dtype=float16`; `dtype` is the constant dtype name when known)
- `TensorType(dtype, shape, ternary)`  `Tensor<dtype, shape>`, or `TernaryTensor<trit, shape>` when
  `ternary` (packed trits + scale(s)). `shape` is a tuple of dims or `ANY_RANK` (`?`). A dim is an `int`
  (static), a `str` (a named dim, e.g. `"batch"`), or `None` (`?`, unknown). A whole-shape generic `<S>`
  is `ShapeVar("S")` before instantiation.
- `TupleType(items)`, `ListType(elem)`, `OptionalType(inner)`, `UnionType(members)`,
  `FnType(params, ret)`, `StructType(name)`, `TraitType(name)`, `RangeType()`
- `ErrorType()`  given to an expression after an error so that later checks stay quiet (no cascades).

A dtype inside a tensor type may also be the name of a `Type`-typed parameter (`Tensor<dtype, [?, ?]>`);
it is replaced per call by the constant argument.
"""

from __future__ import annotations

from dataclasses import dataclass

from .shapes import ANY_RANK as ANY_RANK
from .shapes import format_dim as format_dim

DTYPES = ("bool", "trit", "int8", "int16", "int32", "int64", "float16", "float32", "float64")
INT_DTYPES = ("int8", "int16", "int32", "int64")
FLOAT_DTYPES = ("float16", "float32", "float64")
DTYPE_ALIASES = {"int": "int32", "float": "float32"}
_RANK = {name: i for i, name in enumerate(DTYPES)}

Dim = int | str | None


class Type:
    """Base class of every checker type; `str(t)` is the spelling a user would write."""

    def __str__(self) -> str:  # pragma: no cover - every subclass overrides
        return "?"


@dataclass(frozen=True)
class ShapeVar:
    """A whole-shape generic parameter (`<S>` in `Tensor<float32, S>`) before instantiation."""

    name: str

    def __str__(self) -> str:
        return self.name


Shape = tuple | type(ANY_RANK) | ShapeVar  # tuple of dims, ANY_RANK (`?`), or a generic <S>


def format_shape(shape: Shape) -> str:
    if isinstance(shape, tuple):
        return "[" + ", ".join(format_dim(d) for d in shape) + "]"
    return str(shape)


@dataclass(frozen=True)
class Scalar(Type):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class StrType(Type):
    def __str__(self) -> str:
        return "str"


@dataclass(frozen=True)
class NoneType(Type):
    def __str__(self) -> str:
        return "None"


@dataclass(frozen=True)
class UnitType(Type):
    def __str__(self) -> str:
        return "()"


@dataclass(frozen=True)
class NeverType(Type):
    def __str__(self) -> str:
        return "never"


@dataclass(frozen=True)
class ErrorType(Type):
    def __str__(self) -> str:
        return "<error>"


@dataclass(frozen=True)
class TypeType(Type):
    """A dtype used as a value; `dtype` is the constant dtype name when known."""

    dtype: str | None = None

    def __str__(self) -> str:
        return "Type"


@dataclass(frozen=True)
class RangeType(Type):
    def __str__(self) -> str:
        return "range"


@dataclass(frozen=True)
class TensorType(Type):
    dtype: str
    shape: Shape
    ternary: bool = False

    @property
    def rank(self) -> int | None:
        return len(self.shape) if isinstance(self.shape, tuple) else None

    def __str__(self) -> str:
        head = "TernaryTensor" if self.ternary else "Tensor"
        return f"{head}<{self.dtype}, {format_shape(self.shape)}>"


@dataclass(frozen=True)
class TupleType(Type):
    items: tuple[Type, ...]

    def __str__(self) -> str:
        return "Tuple<" + ", ".join(str(t) for t in self.items) + ">"


@dataclass(frozen=True)
class ListType(Type):
    """A list; `elem` is None for an empty list literal whose element type is not known yet."""

    elem: Type | None

    def __str__(self) -> str:
        return f"[{'?' if self.elem is None else self.elem}, ...]"


@dataclass(frozen=True)
class OptionalType(Type):
    inner: Type

    def __str__(self) -> str:
        inner = str(self.inner)
        return f"({inner})?" if isinstance(self.inner, (UnionType, FnType)) else f"{inner}?"


@dataclass(frozen=True)
class UnionType(Type):
    members: tuple[Type, ...]

    def __str__(self) -> str:
        return " | ".join(str(m) for m in self.members)


@dataclass(frozen=True)
class FnType(Type):
    params: tuple[Type, ...]
    ret: Type

    def __str__(self) -> str:
        head = "fn(" + ", ".join(str(p) for p in self.params) + ")"
        return head if isinstance(self.ret, UnitType) else f"{head} -> {self.ret}"


@dataclass(frozen=True)
class StructType(Type):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class TraitType(Type):
    name: str

    def __str__(self) -> str:
        return self.name


# Shared singletons: the checker compares with ==, these just save allocations.
BOOL = Scalar("bool")
TRIT = Scalar("trit")
INT32 = Scalar("int32")
INT64 = Scalar("int64")
FLOAT32 = Scalar("float32")
STR = StrType()
NONE = NoneType()
UNIT = UnitType()
NEVER = NeverType()
ERROR = ErrorType()
RANGE = RangeType()


def scalar(name: str) -> Scalar:
    return Scalar(DTYPE_ALIASES.get(name, name))


def is_error(t: Type) -> bool:
    return isinstance(t, ErrorType)


def is_float_dtype(name: str) -> bool:
    return name in FLOAT_DTYPES


def is_int_dtype(name: str) -> bool:
    return name in INT_DTYPES


def promote_dtypes(a: str, b: str) -> str:
    """The wider of two dtypes along `bool < trit < int8 < … < float64`."""
    if a not in _RANK or b not in _RANK:
        return a if b not in _RANK else b
    return a if _RANK[a] >= _RANK[b] else b


def dtype_rank(name: str) -> int:
    return _RANK.get(name, -1)


def dtype_of(t: Type) -> str | None:
    """The element dtype of a scalar or tensor type (None for anything else)."""
    if isinstance(t, Scalar):
        return t.name
    if isinstance(t, TensorType):
        return t.dtype
    return None


def tensor(dtype: str, *dims: Dim) -> TensorType:
    return TensorType(dtype, tuple(dims))


def ternary(shape: Shape) -> TensorType:
    return TensorType("trit", shape, ternary=True)


def make_union(members: list[Type]) -> Type:
    """A union of distinct members, flattened; a single member is itself."""
    flat: list[Type] = []
    for m in members:
        for x in (m.members if isinstance(m, UnionType) else (m,)):
            if x not in flat:
                flat.append(x)
    return flat[0] if len(flat) == 1 else UnionType(tuple(flat))


def strip_optional(t: Type) -> Type:
    return t.inner if isinstance(t, OptionalType) else t


def contains_error(t: Type) -> bool:
    if isinstance(t, ErrorType):
        return True
    if isinstance(t, TupleType):
        return any(contains_error(x) for x in t.items)
    if isinstance(t, (ListType,)):
        return t.elem is not None and contains_error(t.elem)
    if isinstance(t, OptionalType):
        return contains_error(t.inner)
    if isinstance(t, UnionType):
        return any(contains_error(x) for x in t.members)
    if isinstance(t, FnType):
        return contains_error(t.ret) or any(contains_error(x) for x in t.params)
    return False


def is_int_like(t: Type) -> bool:
    if isinstance(t, Scalar):
        return t.name.startswith("int")
    return isinstance(t, TensorType) and t.shape == () and t.dtype.startswith("int")


def is_bool_like(t: Type) -> bool:
    return t == BOOL or (isinstance(t, TensorType) and t.shape in ((), (1,)) and t.dtype == "bool")
