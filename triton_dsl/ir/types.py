"""IR types: what a value is at run time, with everything static the back end needs and nothing else.

In: nothing (pure data). Out: hashable type objects printed the way the IR printer shows them:

- `ScalarTy(dtype)`   a machine scalar: bool, trit, int8 … int64, float16, float32, float64
- `TensorTy(dtype, rank, ternary)`  a reference-counted tensor header; the rank is fixed per function
  instance (generic functions are specialized per rank/dtype), the dims are run-time values
- `TupleTy(items)`    an unboxed tuple (a struct of its items)
- `StrTy()`           a reference-counted string (`trt_str`; literals are immortal constants)
- `StructTy(name)`    a reference to a struct object (its fields: `StructLayout` in `Module.structs`)
- `ListTy(elem)`      a reference to a growable list object of `elem` values
- `FnValTy(params, ret)`  a function value: code pointer + reference to its captured environment
- `TraitTy(name)`     a trait object: reference to a struct + the struct's method table for the trait
- `UnionTy(members)`  a tagged union (`A | B` held at run time)
- `UnitTy()`          no value (a function without a result)

A `TensorTy` whose `rank` is None is a tensor of any rank (`Tensor<float32, ?>`): a header pointer like
any tensor, allowed where a value is only stored and passed along (list elements, fields).
The object model (headers, descriptors, layouts) is docs/runtime.md "Objects".

Named dims are plain `int32` scalars in the IR (`dim` reads one from a tensor).
"""

from __future__ import annotations

from dataclasses import dataclass

DTYPES = ("bool", "trit", "int8", "int16", "int32", "int64", "float16", "float32", "float64")
INT_DTYPES = ("trit", "int8", "int16", "int32", "int64")
FLOAT_DTYPES = ("float16", "float32", "float64")
_SHORT = {"bool": "b1", "trit": "t2", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
          "float16": "f16", "float32": "f32", "float64": "f64"}
_ITEMSIZE = {"bool": 1, "trit": 1, "int8": 1, "int16": 2, "int32": 4, "int64": 8,
             "float16": 2, "float32": 4, "float64": 8}


class IRType:
    """Base of all IR types."""

    def is_refcounted(self) -> bool:
        """Whether values of this type own a reference that must be released."""
        return False


@dataclass(frozen=True)
class ScalarTy(IRType):
    dtype: str

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"not a dtype: {self.dtype}")

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def is_int(self) -> bool:
        return self.dtype in INT_DTYPES

    @property
    def is_bool(self) -> bool:
        return self.dtype == "bool"

    def __str__(self) -> str:
        return _SHORT[self.dtype]


@dataclass(frozen=True)
class TensorTy(IRType):
    dtype: str
    rank: int | None  # None: any rank (only stored and passed along)
    ternary: bool = False

    def __post_init__(self) -> None:
        # Every trit tensor is packed at run time (a TernaryTensor, scale 1 when it has no scales), so the
        # type of `cast(x, trit)`, `sign(x)`, ... must equal the type of a `TernaryTensor` parameter.
        if self.dtype == "trit" and not self.ternary:
            object.__setattr__(self, "ternary", True)

    def is_refcounted(self) -> bool:
        return True

    @property
    def elem(self) -> ScalarTy:
        return ScalarTy(self.dtype)

    def __str__(self) -> str:
        head = "ternary" if self.ternary else "tensor"
        return f"{head}<{_SHORT[self.dtype]}, {'?' if self.rank is None else self.rank}>"


@dataclass(frozen=True)
class TupleTy(IRType):
    items: tuple[IRType, ...]

    def is_refcounted(self) -> bool:
        return any(t.is_refcounted() for t in self.items)

    def __str__(self) -> str:
        return "(" + ", ".join(str(t) for t in self.items) + ")"


@dataclass(frozen=True)
class StrTy(IRType):
    def is_refcounted(self) -> bool:
        return True  # literals are immortal; f-strings build counted strings

    def __str__(self) -> str:
        return "str"


@dataclass(frozen=True)
class OptionalTy(IRType):
    """`T?`: a value of `inner` or None. Tensors and strings are a nullable pointer; scalars and tuples
    carry a presence flag beside the value."""

    inner: IRType

    def is_refcounted(self) -> bool:
        return self.inner.is_refcounted()

    @property
    def nullable_pointer(self) -> bool:
        return isinstance(self.inner, (TensorTy, StrTy, StructTy, ListTy))

    def __str__(self) -> str:
        return f"{self.inner}?"


@dataclass(frozen=True)
class StructTy(IRType):
    """A reference to an object of the struct `name` (fields in `Module.structs[name]`)."""

    name: str

    def is_refcounted(self) -> bool:
        return True

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ListTy(IRType):
    """A reference to a growable list object holding `elem` values."""

    elem: IRType

    def is_refcounted(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"[{self.elem}, ...]"


@dataclass(frozen=True)
class FnValTy(IRType):
    """A function value `{ptr code, ptr env}`: `code` is `ret (ptr ctx, ptr env, params...)`, `env` an
    object holding the captured values (null when nothing is captured)."""

    params: tuple[IRType, ...]
    ret: IRType

    def is_refcounted(self) -> bool:
        return True

    def __str__(self) -> str:
        return "fn(" + ", ".join(str(p) for p in self.params) + f") -> {self.ret}"


@dataclass(frozen=True)
class TraitTy(IRType):
    """A trait object `{ptr obj, ptr vtable}`: a struct reference and that struct's methods for the trait."""

    name: str

    def is_refcounted(self) -> bool:
        return True

    def __str__(self) -> str:
        return f"dyn {self.name}"


@dataclass(frozen=True)
class UnionTy(IRType):
    """A value of one of `members`, chosen at run time: `{i32 tag, member0, member1, ...}` (only the
    member `tag` names is set; the others are zero, which every refcount function accepts)."""

    members: tuple[IRType, ...]

    def is_refcounted(self) -> bool:
        return any(m.is_refcounted() for m in self.members)

    def index(self, ty: IRType) -> int | None:
        return self.members.index(ty) if ty in self.members else None

    def __str__(self) -> str:
        return " | ".join(str(m) for m in self.members)


@dataclass
class StructLayout:
    """The fields of a struct in declaration order (name, IR type); `display` is how a user spells it."""

    name: str
    fields: list[tuple[str, IRType]]

    def index(self, field: str) -> int:
        return [n for n, _ in self.fields].index(field)


@dataclass
class TraitLayout:
    """A trait's methods in declaration order: (name, IR parameter types after `self`, IR result)."""

    name: str
    methods: list[tuple[str, tuple[IRType, ...], IRType]]

    def index(self, method: str) -> int:
        return [n for n, _, _ in self.methods].index(method)


@dataclass(frozen=True)
class NoneTy(IRType):
    """The literal `None` before it is converted to a particular optional type (no run-time value)."""

    def __str__(self) -> str:
        return "none"


@dataclass(frozen=True)
class BufTy(IRType):
    """A growable text buffer on the stack (`trt_buf`), used while printing and formatting."""

    def __str__(self) -> str:
        return "buf"


@dataclass(frozen=True)
class UnitTy(IRType):
    def __str__(self) -> str:
        return "()"


BOOL = ScalarTy("bool")
I32 = ScalarTy("int32")
I64 = ScalarTy("int64")
F32 = ScalarTy("float32")
F64 = ScalarTy("float64")
STR = StrTy()
BUF = BufTy()
UNIT = UnitTy()


def itemsize(dtype: str) -> int:
    return _ITEMSIZE[dtype]


def scalar_of(ty: IRType) -> ScalarTy | None:
    """The element type of a scalar or tensor type."""
    if isinstance(ty, ScalarTy):
        return ty
    if isinstance(ty, TensorTy):
        return ty.elem
    return None
