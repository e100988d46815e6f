"""Lowering of the checked program to IR: functions, statements, variables in SSA, control flow.

In: a `check.checker.CheckedProgram` (typed AST, resolved call targets, function instances) and a
`DiagnosticSink`. Out: `lower_program(checked, sink) -> ir.Module` with one IR function per function
instance (named by `instance.mangled()`) and, when the program has top-level statements or `main`,
an entry function `__main__` running them in order. An instance taking function parameters is lowered
per set of named functions passed to it (`specialize`, symbol `specialized_name`), so calls through a
function parameter are direct calls.

Variables become SSA values: `if` yields the variables either branch assigns, loops carry the
variables their body assigns (found by a pre-scan of the body), `break`/`continue` carry the current
values. Constructs this version cannot compile are reported as E0901 "... is/are not available yet"
naming the feature; lowering then continues so that several are reported at once.
"""

from __future__ import annotations

import hashlib

from ..check import types as ct
from ..diagnostics import DiagnosticSink
from ..syntax import ast
from .builder import Builder
from .nodes import ENTRY_NAME, Block, Function, Module, Value
from .types import (
    UNIT,
    FnValTy,
    IRType,
    ListTy,
    NoneTy,
    OptionalTy,
    ScalarTy,
    StrTy,
    StructLayout,
    StructTy,
    TensorTy,
    TraitLayout,
    TraitTy,
    TupleTy,
    UnionTy,
)


class NotAvailable(Exception):
    """A construct the back end cannot compile yet (reported as E0901 at `span`)."""

    def __init__(self, what: str, span):
        super().__init__(what)
        self.what = what
        self.span = span


# Words that end the head noun phrase of a feature's name ("structs as run-time values" -> "structs").
_PHRASE_BREAKS = frozenset({"as", "of", "on", "at", "with", "in", "over", "to", "known", "where", "that",
                            "here", "and"})


def not_available_message(what: str) -> str:
    """`<feature> is/are not available yet`, the verb agreeing with the feature's head noun: plural for
    "structs as run-time values", singular for "the operation 'x'", "indexing ...", "'append'"."""
    words = what.split()
    first = words[0] if words else ""
    singular = (not words or first.lower() in ("a", "an", "the", "this") or first.endswith("ing")
                or not first[:1].isalpha())
    if not singular:
        head = words[1:]
        stop = next((i for i, w in enumerate(head) if w in _PHRASE_BREAKS), len(head))
        # "closures and functions as values": a list of nouns is plural
        noun = first if stop == 0 else head[stop - 1]
        singular = not (noun.endswith("s") and not noun.endswith("ss")) and "and" not in head[:stop + 1]
    return f"{what} {'is' if singular else 'are'} not available yet"


def ir_type(t: ct.Type, span=None, *, stored: bool = False) -> IRType:
    """The IR type of a checker type (a value of this type at run time). `stored`: the value is an element
    of a list or a field of a struct, where a tensor of any rank (`Tensor<float32, ?>`) may live."""
    if isinstance(t, ct.Scalar):
        return ScalarTy(t.name)
    if isinstance(t, ct.TensorType):
        if not isinstance(t.shape, tuple):
            if stored:
                return TensorTy(t.dtype, None, t.ternary or t.dtype == "trit")
            raise NotAvailable("tensors of unknown rank", span)
        # Every trit tensor is packed at run time; without scales its value is the trits themselves.
        return TensorTy(t.dtype, len(t.shape), t.ternary or t.dtype == "trit")
    if isinstance(t, ct.TupleType):
        return TupleTy(tuple(ir_type(x, span, stored=stored) for x in t.items))
    if isinstance(t, ct.StrType):
        return StrTy()
    if isinstance(t, (ct.UnitType, ct.NeverType)):
        return UNIT
    if isinstance(t, ct.OptionalType):
        return OptionalTy(ir_type(t.inner, span, stored=stored))
    if isinstance(t, ct.NoneType):
        return NoneTy()
    if isinstance(t, ct.StructType):
        return StructTy(t.name)
    if isinstance(t, ct.TraitType):
        return TraitTy(t.name)
    if isinstance(t, ct.ListType):
        # `[]` that nothing gives an element type (`length([])`, `print([])`) holds no values at all
        return ListTy(ir_type(t.elem, span, stored=True) if t.elem is not None else NoneTy())
    if isinstance(t, ct.FnType):
        return FnValTy(tuple(ir_type(p, span) for p in t.params), ir_type(t.ret, span))
    if isinstance(t, ct.UnionType):
        return UnionTy(tuple(ir_type(m, span, stored=stored) for m in t.members))
    names = {ct.NoneType: "None as a run-time value"}
    raise NotAvailable(names.get(type(t), f"values of type {t}"), span)


def declared_list_length(decl) -> int | None:
    """The length of a fixed-length list type written in a declaration (`[int32, int32]` -> 2), also as a
    member of a union or an optional; None when the declaration has no (single) fixed length."""
    if isinstance(decl, ast.ListType):
        return decl.length
    if isinstance(decl, ast.OptionalType):
        return declared_list_length(decl.inner)
    if isinstance(decl, ast.UnionType):
        lengths = {declared_list_length(m) for m in decl.members if isinstance(m, ast.ListType)}
        return lengths.pop() if len(lengths) == 1 else None
    return None


def fixed_list_type(t: ct.Type, length: int | None) -> TupleTy | None:
    """A fixed-length list of scalars is a tuple at run time (the language has no growable lists yet)."""
    if isinstance(t, ct.ListType) and isinstance(t.elem, ct.Scalar) and length is not None:
        return TupleTy((ScalarTy(t.elem.name),) * length)
    return None


def declared_ir_type(t: ct.Type, decl, span=None) -> IRType:
    """The IR type of a parameter or result of checker type `t` declared as `decl` (a type expression):
    a fixed-length list of scalars (`[int32, int32]`) is a tuple."""
    fixed = fixed_list_type(t, declared_list_length(decl))
    return fixed if fixed is not None else ir_type(t, span)


def _declared_dims(t: ct.Type) -> tuple | None:
    """The dims of a (possibly optional) tensor parameter of known rank, else None."""
    inner = t.inner if isinstance(t, ct.OptionalType) else t
    shape = inner.shape if isinstance(inner, ct.TensorType) else None
    return shape if isinstance(shape, tuple) else None


def assigned_names(stmts: list) -> set[str]:
    """Names assigned (`x = e`) anywhere in these statements, nested blocks included."""
    out: set[str] = set()
    for node in stmts:
        for n in ast.walk(node):
            if isinstance(n, ast.Assign) and isinstance(n.target, ast.Name):
                out.add(n.target.name)
    return out


class Scopes:
    """Lexical scopes of SSA values; assignment updates the scope that declared the name."""

    def __init__(self) -> None:
        self.stack: list[dict[str, Value]] = [{}]

    def push(self) -> None:
        self.stack.append({})

    def pop(self) -> None:
        self.stack.pop()

    def lookup(self, name: str) -> Value | None:
        for scope in reversed(self.stack):
            if name in scope:
                return scope[name]
        return None

    def define(self, name: str, v: Value) -> None:
        self.stack[-1][name] = v

    def assign(self, name: str, v: Value) -> None:
        for scope in reversed(self.stack):
            if name in scope:
                scope[name] = v
                return
        self.stack[-1][name] = v

    def snapshot(self) -> list[dict[str, Value]]:
        return [dict(s) for s in self.stack]

    def restore(self, snap: list[dict[str, Value]]) -> None:
        self.stack = [dict(s) for s in snap]


class ProgramLowerer:
    def __init__(self, checked, sink: DiagnosticSink):
        self.checked = checked
        self.sink = sink
        self.module = Module()
        self.reported: set[tuple] = set()
        self.struct_errors: dict[str, NotAvailable] = {}
        self.layout_structs()
        # Top-level `let`s that functions read: they also live in a module global (see lower_globals.py)
        self.shared_globals = {var.name: var for inst in checked.instances for var, _ in inst.global_reads}

    def trait_entry_tables(self, pending) -> None:
        """A public function taking a trait object: the tables of every struct that may be passed."""
        traits = {p.type.name for fn, _ in pending if fn.public for p in fn.params
                  if isinstance(p.type, TraitTy)}
        for trait in sorted(traits):
            _conforming_tables(self, trait)
            self.module.exported_traits.add(trait)

    def layout_structs(self) -> None:
        """The IR layout of every struct in scope (fields in declaration order). A struct with a field
        this version cannot hold at run time is reported where a value of it is built or used."""
        env = self.checked.env
        while env is not None:
            for name, info in env.structs.items():
                if name in self.module.structs or name in self.struct_errors:
                    continue
                try:
                    fields = [(n, ir_type(t, info.node.span, stored=True))
                              for n, t in zip(info.field_names, info.field_types, strict=True)]
                except NotAvailable as exc:
                    self.struct_errors[name] = exc
                    continue
                self.module.structs[name] = StructLayout(name, fields)
            for name, trait in env.traits.items():
                if name in self.module.traits:
                    continue
                try:
                    methods = [(m, tuple(ir_type(t, info.span) for t in info.param_types[1:]),
                                ir_type(info.ret, info.span)) for m, info in trait.methods.items()]
                except NotAvailable:
                    continue  # reported where a value of the trait is made (`lower_traits.trait_layout`)
                self.module.traits[name] = TraitLayout(name, methods)
            env = env.parent

    def not_available(self, exc: NotAvailable) -> None:
        key = (exc.what, exc.span.start if exc.span else None)
        if key not in self.reported:
            self.reported.add(key)
            self.sink.error("E0901", not_available_message(exc.what), exc.span)

    def declare_instance(self, inst, name: str, fn_values: dict[int, object]) -> Function | None:
        """Add the IR signature of `inst` as `name` (None if a parameter type cannot be compiled: reported).
        Parameters in `fn_values` are functions fixed at compile time: they have no IR parameter."""
        kept = [i for i, t in enumerate(inst.param_types)
                if not isinstance(t, ct.TypeType) and i not in fn_values]
        try:
            for t, p in zip(inst.param_types, inst.params, strict=True):
                if isinstance(t, ct.StructType) and t.name in self.struct_errors:
                    raise NotAvailable(self.struct_errors[t.name].what, p.span)
            params = [declared_ir_type(inst.param_types[i], inst.params[i].type, inst.params[i].span)
                      for i in kept]
            ret = declared_ir_type(inst.ret, getattr(getattr(inst.fn, "node", None), "ret", None),
                                   inst.fn.span)
        except NotAvailable as exc:
            self.not_available(exc)
            return None
        body = Block([Value(t, inst.params[i].name) for t, i in zip(params, kept, strict=True)])
        fn = Function(name, body, ret, span=inst.fn.span, source_name=inst.fn.name,
                      param_names=[inst.params[i].name for i in kept],
                      public=inst.fn.origin == "user" and inst.fn.owner is None and not fn_values
                      and not any(_pair_valued(t) for t in inst.param_types)
                      and not _pair_valued(inst.ret) and not isinstance(inst.ret, ct.TraitType),
                      generic=bool(inst.fn.generic) or bool(fn_values), param_origin=kept,
                      param_declared=[str(inst.param_types[i]) for i in kept],
                      param_dims=[_declared_dims(inst.param_types[i]) for i in kept])
        self.module.add(fn)
        return fn

    def specialize(self, inst, fn_values: dict[int, object]) -> Function | None:
        """`inst` lowered with each function parameter (index -> the function instance passed) bound at
        compile time, so calls through the parameter are direct calls. Functions passed as values are
        non-capturing named functions, so this covers every call without function pointers; each distinct
        set of function arguments gets its own copy (lowered once, recursion included)."""
        from .lower_stmt import FunctionLowerer

        name = specialized_name(inst, fn_values)
        existing = self.module.functions.get(name)
        if existing is not None:
            return existing
        fn = self.declare_instance(inst, name, fn_values)
        if fn is not None:
            lowerer = FunctionLowerer(self, fn, inst)
            lowerer.fn_values = {inst.params[i].name: v for i, v in fn_values.items()}
            lowerer.lower_instance()
        return fn

    def lower(self) -> Module:
        from .lower_stmt import FunctionLowerer

        pending = []
        for inst in self.checked.instances:
            if inst.body is None or getattr(inst, "declared_only", False):
                continue  # a declaration (calling it is reported at the call), or a generic body checked only
            if any(isinstance(t, ct.FnType) for t in inst.param_types):
                continue  # takes a function: lowered per function value at its calls (`specialize`)
            fn = self.declare_instance(inst, inst.mangled(), {})
            if fn is not None:
                pending.append((fn, inst))
        # Bodies after every signature exists, so calls see their callee's parameter types.
        for fn, inst in pending:
            FunctionLowerer(self, fn, inst).lower_instance()
        self.trait_entry_tables(pending)
        toplevel = list(self.checked.toplevel)
        main = self.checked.main
        if toplevel or main is not None:
            span = (toplevel[0].span if toplevel else main.span)
            fn = Function(ENTRY_NAME, Block(), UNIT, span=span, source_name="main", public=False)
            self.module.add(fn)
            self.module.entry = ENTRY_NAME
            stmts = toplevel + (list(main.body.stmts) if main is not None else [])
            FunctionLowerer(self, fn, None).lower_entry(stmts)
        return self.module


def _conforming_tables(program, trait: str) -> None:
    """Method tables of every struct that has the trait's methods (a Python caller may pass any)."""
    from .lower_traits import method_table

    for name in list(program.module.structs):
        if not name.startswith("$"):
            try:
                method_table(program, name, trait, None)
            except NotAvailable:
                program.module.vtables.pop((name, trait), None)


def _pair_valued(t: ct.Type) -> bool:
    """A function value or a union at the top of a type: such functions are not entry points (their
    8-byte argument slots hold no such value; a trait object parameter takes two slots, codegen.entry)."""
    if isinstance(t, (ct.FnType, ct.UnionType)):
        return True
    if isinstance(t, ct.TupleType):
        return any(_pair_valued(x) for x in t.items)
    return isinstance(t, ct.OptionalType) and _pair_valued(t.inner)


def specialized_name(inst, fn_values: dict[int, object]) -> str:
    """The symbol of `inst` lowered with its function parameters fixed to `fn_values` (index -> instance)."""
    fixed = ",".join(f"{i}={v.mangled()}" for i, v in sorted(fn_values.items()))
    return f"{inst.mangled()}__fn{hashlib.sha1(fixed.encode()).hexdigest()[:8]}"


def lower_program(checked, sink: DiagnosticSink) -> Module:
    """IR of every function instance of a checked program (plus its entry function)."""
    return ProgramLowerer(checked, sink).lower()


__all__ = ["lower_program", "ir_type", "not_available_message", "NotAvailable", "Scopes", "assigned_names",
           "Builder", "ENTRY_NAME"]
