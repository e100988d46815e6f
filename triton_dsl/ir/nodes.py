"""IR nodes: a typed, tensor-level SSA with structured control flow.

In: nothing (data structures, built by `ir.lowering` or by hand in tests). Out: `Module` → `Function`s
→ `Block`s of `Op`s. Every `Op` keeps the `Span` of the source it came from, so that run-time errors
name the line of the failing operation.

Control flow is structured (regions, no gotos), in the style of MLIR's `scf`:

    if %c { ...; yield %a } else { ...; yield %b }        -> results
    for %lo, %hi, %step, %init... { ^(%i, %carried...): ...; yield %next... }  -> final carried values
    while %init... { ^(%args...): ...; condition %c } do { ^(%args...): ...; yield %next... }

`break`/`continue` inside a loop body carry the current loop-carried values; `return` and `panic`
leave the function from anywhere. Ownership (reference counts) is made explicit by the
`passes.refcount` pass with `retain`/`release` ops; until then every tensor-producing op returns a
fresh reference and operands are borrowed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..source import Span
from .types import IRType, UnitTy

# The name of the function holding a program's top-level statements and `main` (`Module.entry`).
ENTRY_NAME = "__main__"

_ids = itertools.count()

# Opcodes that end a block, and the number of regions each structured op owns.
TERMINATORS = frozenset({"yield", "condition", "return", "break", "continue", "panic"})
REGION_COUNTS = {"if": 2, "for": 1, "while": 2, "fused": 1}
ELEMENTWISE = frozenset({"binary", "unary", "cast", "select"})

BINARY_OPS = frozenset({"add", "sub", "mul", "div", "floordiv", "mod", "pow", "min", "max",
                        "eq", "ne", "lt", "le", "gt", "ge", "and", "or"})
COMPARISONS = frozenset({"eq", "ne", "lt", "le", "gt", "ge"})
UNARY_OPS = frozenset({"neg", "not", "abs", "sqrt", "exp", "log", "tanh", "sigmoid", "floor", "ceil",
                       "round", "sin", "cos", "relu", "sign", "square", "isnan"})


class Value:
    """An SSA value: the result of an op or an argument of a block."""

    __slots__ = ("type", "hint", "id")

    def __init__(self, type: IRType, hint: str = ""):
        self.type = type
        self.hint = hint
        self.id = next(_ids)

    def __repr__(self) -> str:
        return f"<Value {self.hint or self.id}: {self.type}>"


@dataclass(eq=False)
class Block:
    """A straight-line list of ops with arguments (region entry values)."""

    args: list[Value] = field(default_factory=list)
    ops: list[Op] = field(default_factory=list)

    @property
    def terminator(self) -> Op | None:
        return self.ops[-1] if self.ops and self.ops[-1].opcode in TERMINATORS else None

    def walk(self) -> Iterator[Op]:
        """Every op in this block and its nested regions, parents before children."""
        for op in self.ops:
            yield op
            for region in op.regions:
                yield from region.walk()


@dataclass(eq=False)
class Op:
    opcode: str
    operands: list[Value]
    results: list[Value]
    attrs: dict[str, Any] = field(default_factory=dict)
    span: Span | None = None
    regions: list[Block] = field(default_factory=list)

    @property
    def result(self) -> Value:
        if len(self.results) != 1:
            raise ValueError(f"{self.opcode} has {len(self.results)} results")
        return self.results[0]


@dataclass(eq=False)
class Function:
    """A function instance: concrete types, dims passed at run time through its tensor arguments."""

    name: str  # unique symbol name of this instance
    body: Block  # body.args are the parameters
    ret_type: IRType
    span: Span | None = None
    source_name: str = ""  # the name the user wrote (instances of a generic share it)
    param_names: list[str] = field(default_factory=list)
    public: bool = False  # callable from the Python API / exported from a shared library
    generic: bool = False  # an instance of a generic function (not exported with a C ABI)
    # Position of each IR parameter among the source parameters (`Type` parameters are compile-time
    # constants and have no IR parameter).
    param_origin: list[int] = field(default_factory=list)
    # Per IR parameter, as declared: the type's spelling (`Tensor<float32, [b, 4]>`) and, for a tensor of
    # known rank, its dims (int static, str named, None `?`). The C ABI entry checks arguments with them.
    param_declared: list[str] = field(default_factory=list)
    param_dims: list[tuple | None] = field(default_factory=list)

    @property
    def params(self) -> list[Value]:
        return self.body.args

    def walk(self) -> Iterator[Op]:
        return self.body.walk()

    @property
    def returns_value(self) -> bool:
        return not isinstance(self.ret_type, UnitTy)


@dataclass(eq=False)
class Module:
    functions: dict[str, Function] = field(default_factory=dict)
    name: str = "module"
    entry: str | None = None  # the function running top-level statements then `main`, if any
    structs: dict[str, Any] = field(default_factory=dict)  # name -> types.StructLayout
    traits: dict[str, Any] = field(default_factory=dict)   # name -> types.TraitLayout
    # (struct, trait) -> IR function names of the struct's methods in the trait's order (its vtable)
    vtables: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    exported_traits: set[str] = field(default_factory=set)  # their tables are exported (Python callers)
    autodiff: bool = False  # the program asks for gradients: the tape-recording passes run (docs/autodiff.md)

    def add(self, fn: Function) -> Function:
        self.functions[fn.name] = fn
        return fn
