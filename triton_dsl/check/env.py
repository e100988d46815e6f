"""What the checker knows about names: global declarations, local scopes, function instances.

In: declarations found in a program (and the stdlib). Out:
- `FunctionInfo`  one `fn`/`layer`/method definition: its AST, resolved declared parameter types (with
  generic parts: named dims, `ShapeVar`s, unions, `Type` params), declared return type, origin.
- `FunctionInstance`  one specialization of a function that the back end compiles: the concrete
  parameter types the body was checked with, its return type, the body (an AST copy per instance when
  the function is generic, so each copy carries its own `.ty`), and where each named dim comes from.
- `StructInfo` (fields in order with types and defaults, methods), `TraitInfo` (method signatures).
- `GlobalEnv`  everything declared so far (the stdlib's env is the parent of a program's); the REPL
  keeps one and checks each entry against it.
- `Scope`  nested local scopes of variables (`VarInfo`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..source import Span
from ..syntax import ast
from .types import Type


@dataclass(eq=False)
class FunctionInfo:
    name: str
    node: ast.FnDef
    param_names: list[str]
    param_types: list[Type]          # declared, resolved (may hold named dims, ShapeVar, unions, Type)
    defaults: list[ast.Expr | None]  # default expressions from the definition (None: required)
    ret: Type                        # declared return type (UNIT when no `->`)
    origin: str = "user"             # "user" | "stdlib"
    owner: str | None = None         # struct name for a method (its first parameter is `self`)
    generic: bool = False            # needs one instance per distinct argument types
    defaults_checked: bool = False
    env: GlobalEnv | None = None     # where it was defined: its body and defaults see that env's names
    instances: dict[Any, FunctionInstance] = field(default_factory=dict)

    @property
    def span(self) -> Span:
        return self.node.name_span or self.node.span

    def signature(self) -> str:
        parts = [f"{n}: {t}" for n, t in zip(self.param_names, self.param_types, strict=True)]
        return f"fn {self.name}({', '.join(parts)}) -> {self.ret}"


@dataclass(eq=False)
class FunctionInstance:
    """One specialization of a function for the back end to compile."""

    fn: FunctionInfo
    key: Any
    param_types: list[Type]    # as the body sees them (named dims symbolic, unions resolved, S → rank)
    ret: Type                  # as the body sees it
    params: list[ast.Param]    # the parameter nodes (of `body`'s copy)
    body: ast.Block | None     # None for a declaration without a body
    dim_sources: dict[str, tuple[int, int]] = field(default_factory=dict)  # named dim -> (param, axis)
    # a method's named dims that only its struct's fields carry: dim -> (field name, axis) of `self`
    field_dim_sources: dict[str, tuple[str, int]] = field(default_factory=dict)
    dtype_consts: dict[str, str] = field(default_factory=dict)  # `Type` param -> its constant dtype
    callees: list[FunctionInstance] = field(default_factory=list)
    checked: bool = False
    # made only to check the body of a generic function nothing calls with these types (unions per member,
    # `<S>` as any rank): the back end may skip it
    declared_only: bool = False
    call_span: Span | None = None     # the call that made this instance (for notes on errors in its body)
    global_reads: list = field(default_factory=list)  # (VarInfo, ast.Name) of top-level `let`s its body reads
    diagnostics: list = field(default_factory=list)  # problems found in a stdlib body, replayed per use
    depth: int = 0  # how many instances of generic functions it was instantiated under

    @property
    def name(self) -> str:
        return self.fn.name

    def mangled(self) -> str:
        """A stable symbol name: the function's name for its first instance, else the name and a hash
        of the instance's parameter types (the same in every run and whatever was compiled before)."""
        base = f"{self.fn.owner}.{self.fn.name}" if self.fn.owner else self.fn.name
        if next(iter(self.fn.instances)) == self.key:
            return base
        digest = hashlib.sha1(", ".join(str(t) for t in self.key).encode()).hexdigest()[:8]
        return f"{base}__{digest}"


@dataclass(eq=False)
class StructInfo:
    name: str
    node: ast.StructDef
    field_names: list[str]
    field_types: list[Type]
    field_defaults: list[ast.Expr | None]
    methods: dict[str, FunctionInfo] = field(default_factory=dict)
    origin: str = "user"

    def field_type(self, name: str) -> Type | None:
        if name in self.field_names:
            return self.field_types[self.field_names.index(name)]
        return None


@dataclass(eq=False)
class TraitInfo:
    name: str
    node: ast.TraitDef
    methods: dict[str, FunctionInfo] = field(default_factory=dict)
    origin: str = "user"


@dataclass(eq=False)
class GlobalEnv:
    """Global declarations; lookups fall back to `parent` (the stdlib)."""

    parent: GlobalEnv | None = None
    functions: dict[str, FunctionInfo] = field(default_factory=dict)
    declarations: dict[str, FunctionInfo] = field(default_factory=dict)  # bodiless signatures
    structs: dict[str, StructInfo] = field(default_factory=dict)
    traits: dict[str, TraitInfo] = field(default_factory=dict)
    globals: dict[str, VarInfo] = field(default_factory=dict)  # top-level `let`s

    def _chain(self):
        env = self
        while env is not None:
            yield env
            env = env.parent

    def function(self, name: str) -> FunctionInfo | None:
        return next((e.functions[name] for e in self._chain() if name in e.functions), None)

    def struct(self, name: str) -> StructInfo | None:
        return next((e.structs[name] for e in self._chain() if name in e.structs), None)

    def trait(self, name: str) -> TraitInfo | None:
        return next((e.traits[name] for e in self._chain() if name in e.traits), None)

    def global_var(self, name: str) -> VarInfo | None:
        return next((e.globals[name] for e in self._chain() if name in e.globals), None)

    def all_names(self) -> set[str]:
        out: set[str] = set()
        for e in self._chain():
            out |= set(e.functions) | set(e.structs) | set(e.traits) | set(e.globals)
        return out


@dataclass(eq=False)
class VarInfo:
    name: str
    ty: Type
    span: Span | None
    kind: str = "var"        # "var" | "param" | "dim" (a named dim, an int32 value) | "global"
    node: Any = None         # for an empty list literal: the ast node whose type is refined later


class Scope:
    """A chain of local scopes; `let` may shadow a name of an outer scope (or of the same scope)."""

    def __init__(self, parent: Scope | None = None):
        self.parent = parent
        self.vars: dict[str, VarInfo] = {}

    def lookup(self, name: str) -> VarInfo | None:
        s: Scope | None = self
        while s is not None:
            if name in s.vars:
                return s.vars[name]
            s = s.parent
        return None

    def define(self, var: VarInfo) -> None:
        self.vars[var.name] = var

    def names(self) -> set[str]:
        out: set[str] = set()
        s: Scope | None = self
        while s is not None:
            out |= set(s.vars)
            s = s.parent
        return out
