"""Assignability: may a value of type `src` go where `dst` is expected, and by which implicit conversion?

In: two checker types (and, for structs meeting traits, a conformance callback). Out: a `Conversion`
(the list of steps, empty when the value is used as is) or None when the value does not fit.

The back end applies the same steps when it lowers a value into a slot whose type differs from the
value's own `.ty` (call arguments, annotated `let`, `return`, field stores). Steps, in order:

- `"dequantize"`  TernaryTensor → float tensor (value = trit × scale)
- `"widen"`       dtype promotion (`int32 → float32`, `bool → int32`, …; never into `trit`)
- `"squeeze"`     a static `[1]` tensor → `[]`
- `"to_scalar"`   `Tensor<d, []>` → scalar `d`;  `"to_tensor"`  scalar → `Tensor<d, []>`
- `"some"`        `T → T?` (after T's own steps); `"none"` the literal None → `T?`
- `"member:<i>"`  injection into member i of a union (after that member's own steps)

Shape generalization (a static dim where `?` or a named dim is expected) is not a step: the value is
unchanged; named dims that are not known statically are checked at run time by the back end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .types import (
    ANY_RANK,
    FnType,
    ListType,
    NeverType,
    NoneType,
    OptionalType,
    Scalar,
    ShapeVar,
    StrType,
    StructType,
    TensorType,
    TraitType,
    TupleType,
    Type,
    TypeType,
    UnionType,
    dtype_rank,
    is_error,
    is_float_dtype,
)


@dataclass(frozen=True)
class Conversion:
    steps: tuple[str, ...] = ()

    @property
    def identity(self) -> bool:
        return not self.steps

    def then(self, *more: str) -> Conversion:
        return Conversion(self.steps + more)


SAME = Conversion()
Conforms = Callable[[str, str], bool]  # (struct name, trait name) -> does the struct satisfy the trait


def dtype_widens(src: str, dst: str, *, literal: bool = False) -> bool:
    """May a value of dtype src be used as dst without a cast? Literals adapt to any numeric dtype
    of their kind (an int literal may become any int or float; a float literal any float)."""
    if src == dst:
        return True
    if dst == "trit":
        return False  # trit only through trit(v) or a quantizer
    if literal:
        if src in ("int32", "int64") and dst != "bool":
            return True
        return is_float_dtype(src) and is_float_dtype(dst)
    if dtype_rank(src) < 0 or dtype_rank(dst) < 0:
        return False
    return dtype_rank(src) < dtype_rank(dst)


def shape_fits(src, dst) -> bool:
    """Does a shape fit an expected shape (statically; unknown parts are checked at run time)?
    Named dims of `dst` are not bound here (see generics.Binder for binding)."""
    if dst is ANY_RANK or src is ANY_RANK or isinstance(dst, ShapeVar) or isinstance(src, ShapeVar):
        return True
    if len(src) != len(dst):
        return False
    # A named dim of dst is a placeholder here (bound by generics.Binder), so only numbers can clash.
    pairs = zip(src, dst, strict=True)
    return not any(isinstance(s, int) and isinstance(d, int) and s != d for s, d in pairs)


def convert_tensor(src: TensorType, dst: TensorType, shape_ok: Callable | None = None,
                   literal: bool = False) -> Conversion | None:
    """Tensor → tensor: dequantize, widen, squeeze `[1]` to `[]`; shapes by `shape_ok` (or shape_fits)."""
    fits = shape_ok or shape_fits
    steps: list[str] = []
    if dst.ternary and not src.ternary:
        return None
    if src.ternary and not dst.ternary:
        if not is_float_dtype(dst.dtype):
            return None
        steps.append("dequantize")
    elif not dtype_widens(src.dtype, dst.dtype, literal=literal):
        return None
    elif src.dtype != dst.dtype:
        steps.append("widen")
    if steps and steps[0] == "dequantize" and dst.dtype != "float32":
        steps.append("widen")
    if fits(src.shape, dst.shape):
        return Conversion(tuple(steps))
    if dst.shape == () and src.shape == (1,):
        return Conversion(tuple(steps) + ("squeeze",))
    return None


def convert(src: Type, dst: Type, conforms: Conforms | None = None, *, literal: bool = False,
            shape_ok: Callable | None = None) -> Conversion | None:
    """The implicit conversion from src to dst, or None if a src value cannot go where dst is expected.
    `literal` is true when the value is a numeric literal (it adapts to the expected dtype)."""
    if is_error(src) or is_error(dst) or isinstance(src, NeverType):
        return SAME
    if src == dst:
        return SAME
    if isinstance(dst, UnionType):
        # A static [1] tensor is a scalar where the union offers a rank-0 member (the seed's per-tensor
        # `tensor([1.5])` scale against `Tensor<float32, []> | Tensor<float32, [?]>`).
        if isinstance(src, TensorType) and src.shape == (1,):
            for i, member in enumerate(dst.members):
                if isinstance(member, TensorType) and member.shape == ():
                    conv = convert(src, member, conforms, literal=literal, shape_ok=shape_ok)
                    if conv is not None:
                        return conv.then(f"member:{i}")
        # Then an exact member, then the first member reachable through conversions.
        found = None
        for i, member in enumerate(dst.members):
            conv = convert(src, member, conforms, literal=literal, shape_ok=shape_ok)
            if conv is not None and conv.identity:
                return conv.then(f"member:{i}")
            if conv is not None and found is None:
                found = conv.then(f"member:{i}")
        return found
    if isinstance(dst, OptionalType):
        if isinstance(src, NoneType):
            return Conversion(("none",))
        if isinstance(src, OptionalType):
            inner = convert(src.inner, dst.inner, conforms, literal=literal, shape_ok=shape_ok)
            return inner if inner is not None and inner.identity else None
        inner = convert(src, dst.inner, conforms, literal=literal, shape_ok=shape_ok)
        return inner.then("some") if inner is not None else None
    if isinstance(src, UnionType):
        # Every member must fit without a representation change (the value is used as is).
        convs = [convert(m, dst, conforms, shape_ok=shape_ok) for m in src.members]
        return SAME if all(c is not None and c.identity for c in convs) else None
    if isinstance(dst, Scalar):
        if isinstance(src, Scalar):
            if dtype_widens(src.name, dst.name, literal=literal):
                return SAME if src.name == dst.name else Conversion(("widen",))
            return None
        if isinstance(src, TensorType) and src.shape in ((), (1,)) and not src.ternary:
            conv = convert_tensor(src, TensorType(dst.name, ()), shape_ok, literal)
            return conv.then("to_scalar") if conv is not None else None
        return None
    if isinstance(dst, TensorType):
        if isinstance(src, TensorType):
            return convert_tensor(src, dst, shape_ok, literal)
        if isinstance(src, Scalar) and not dst.ternary:
            as_tensor = TensorType(src.name, ())
            conv = convert_tensor(as_tensor, dst, shape_ok, literal)
            return Conversion(("to_tensor",) + conv.steps) if conv is not None else None
        return None
    if isinstance(dst, TupleType):
        if not isinstance(src, TupleType) or len(src.items) != len(dst.items):
            return None
        return SAME if _all_unchanged(zip(src.items, dst.items, strict=True), conforms, shape_ok) else None
    if isinstance(dst, ListType):
        if not isinstance(src, ListType):
            return None
        if src.elem is None or dst.elem is None:
            return SAME
        c = convert(src.elem, dst.elem, conforms, shape_ok=shape_ok)
        return SAME if c is not None and c.identity else None
    if isinstance(dst, FnType):
        if not isinstance(src, FnType) or len(src.params) != len(dst.params):
            return None
        # Parameters are contravariant (a dst argument must go where src expects one), the result covariant.
        pairs = [*zip(dst.params, src.params, strict=True), (src.ret, dst.ret)]
        return SAME if _all_unchanged(pairs, conforms, shape_ok) else None
    if isinstance(dst, TraitType):
        if isinstance(src, StructType) and conforms is not None and conforms(src.name, dst.name):
            return SAME
        return None
    if isinstance(dst, TypeType):
        return SAME if isinstance(src, TypeType) else None
    if isinstance(dst, StrType):
        return SAME if isinstance(src, StrType) else None
    return None


def _all_unchanged(pairs: Iterable[tuple[Type, Type]], conforms: Conforms | None, shape_ok: Callable | None
                   ) -> bool:
    """Every (src, dst) pair converts with no change of representation, checked in order and stopping at
    the first that does not (shape_ok may bind dims as it goes)."""
    for s, d in pairs:
        c = convert(s, d, conforms, shape_ok=shape_ok)
        if c is None or not c.identity:
            return False
    return True
