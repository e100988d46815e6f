"""The type checker's driver: `check_program(program, sink, env=None) -> CheckedProgram`.

In: an `ast.Program` (from `syntax.parser.parse_program`), a `DiagnosticSink`, and optionally a
`GlobalEnv` holding earlier declarations (the REPL passes the same env for every entry). The stdlib
(`stdlib/*.triton`, checked once per process, see `stdlib_env.py`) is the parent of every env.

Out: a `CheckedProgram`:
- `program`     the same AST, typed: every expression's `.ty` is a `types.Type` (except the `func` of a
  call that names a function, primitive, struct or method directly: its `.ty` stays None); every `ast.Call`'s
  `.target` is a `targets.*Target`; a `Name` denoting a function value has `.target = FunctionRef`;
  an `ast.Is` node has `.static` (True/False, or None when decided at run time: unions are resolved per
  instance, so `x is T` is usually known) and `.tested_ty`; every `ast.If` has `.static` (True/False when
  its condition is known statically — only the taken branch is checked and must be lowered — else None);
  an expression converted implicitly to a slot's type (annotated `let`, `return`, assignment, list /
  tuple element, argument) has `.conversion` (`assign.Conversion`) and `.converted_ty`; a closure has
  `.param_types`;
- `instances`   every `env.FunctionInstance` reachable from the program's top-level code, `main` and its
  functions (user and stdlib), each with its own typed body — the back end compiles these (an instance
  with `.declared_only` was made only to check an uncalled generic body: skipping it is fine);
- `structs`     the program's `env.StructInfo`s (field names/types in order, methods);
- `toplevel`    the top-level statements in order, `main` the main block (or None);
- `env`         the `GlobalEnv` after this program (reuse it for the next REPL entry);
- `globals`     types of the top-level `let` names.
Errors are reported into the sink (several per run; an erroneous expression gets the error type, which
silences follow-on errors); this function never raises for a wrong program.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..diagnostics import DiagnosticSink, Note
from ..syntax import ast
from .call_methods import MethodCallMixin
from .calls import CallMixin
from .check_access import AccessMixin
from .check_expr import ExprMixin
from .check_items import ItemMixin
from .check_stmt import StmtMixin
from .env import FunctionInstance, GlobalEnv, Scope, StructInfo, VarInfo
from .types import ListType, Type


@dataclass
class FnContext:
    """The function (or closure, or top level) whose body is being checked."""

    ret: Type | None                 # the declared return type; None: infer (closures without `->`)
    instance: FunctionInstance | None = None
    loop_depth: int = 0
    returns: list[Type] = field(default_factory=list)
    dims: set[str] = field(default_factory=set)
    kind: str = "function"           # "function" | "closure" | "toplevel" (top-level code and `main`)


@dataclass
class CheckedProgram:
    program: ast.Program
    env: GlobalEnv
    instances: list[FunctionInstance]
    structs: list[StructInfo]
    toplevel: list[ast.Stmt]
    main: ast.MainBlock | None
    globals: dict[str, VarInfo]


class Checker(ItemMixin, StmtMixin, CallMixin, MethodCallMixin, ExprMixin, AccessMixin):
    def __init__(self, sink: DiagnosticSink, env: GlobalEnv):
        self.sink = sink
        self.env = env
        self.scope = Scope()
        self.ctx = FnContext(ret=None, kind="toplevel")
        self.pending: list[FunctionInstance] = []
        self.toplevel_callees: list[FunctionInstance] = []
        self.empty_lists: list[VarInfo] = []  # `let xs = []` whose element type is learned later
        self.toplevel_calls: dict[FunctionInstance, float] = {}  # earliest top-level call offset
        self.in_main = False
        self.instantiation_limit_reported = False  # E0508 once per program

    def error(self, code: str, message: str, span, *notes) -> None:
        self.sink.error(code, message, span, *notes)

    def push_scope(self) -> Scope:
        self.scope = Scope(self.scope)
        return self.scope

    def pop_scope(self) -> None:
        assert self.scope.parent is not None
        self.scope = self.scope.parent

    def note_callee(self, inst: FunctionInstance, at: int | None = None) -> None:
        """Record a call (or a use as a value) of `inst` from the code being checked; `at` is the
        source offset of a top-level call (for check_global_order)."""
        inst.declared_only = False
        owner = self.ctx.instance
        callees = owner.callees if owner is not None else self.toplevel_callees
        if owner is None and at is not None and self.ctx.kind == "toplevel":
            when = float("inf") if self.in_main else at  # `main` runs after every top-level statement
            self.toplevel_calls[inst] = min(self.toplevel_calls.get(inst, when), when)
        if inst not in callees:
            callees.append(inst)
        if not inst.checked and inst not in self.pending:
            self.pending.append(inst)
        # A stdlib instance checked for an earlier program: its problems concern this one too.
        for d in inst.diagnostics:
            if d not in self.sink.diagnostics:
                self.sink.diagnostics.append(d)

    def drain(self) -> None:
        """Check the bodies of instances created by calls (each once); then every empty list literal
        must have learned its element type."""
        while self.pending:
            inst = self.pending.pop(0)
            if not inst.checked:
                self.check_instance_body(inst)
        for var in self.empty_lists:
            if isinstance(var.ty, ListType) and var.ty.elem is None:
                self.error("E0306", f"cannot infer the element type of the empty list `{var.name}`: append "
                           f"to it, or write its type (`let {var.name}: [T, ...] = []`)", var.node.span)
        self.empty_lists.clear()


    def check_global_order(self) -> None:
        """A function that runs (called from a top-level statement, directly or through other
        functions) before a top-level `let` it reads has been executed would read nothing: an error."""
        earliest = dict(self.toplevel_calls)
        changed = True
        while changed:
            changed = False
            for inst, when in list(earliest.items()):
                for callee in inst.callees:
                    if when < earliest.get(callee, float("inf")):
                        earliest[callee] = when
                        changed = True
        for inst, when in earliest.items():
            for var, name in inst.global_reads:
                if var.span is not None and var.span.source is name.span.source and var.span.start > when:
                    call_line = name.span.source.line_col(int(when))[0]
                    self.error("E0207", f"`{name.name}` is read by `{inst.fn.name}`, which runs (from the "
                               f"call at line {call_line}) before `let {name.name}` is executed", name.span,
                               Note(f"`{name.name}` is defined here", var.span))


def reachable_instances(roots: list[FunctionInstance]) -> list[FunctionInstance]:
    seen: list[FunctionInstance] = []
    stack = list(roots)
    while stack:
        inst = stack.pop(0)
        if inst in seen:
            continue
        seen.append(inst)
        stack.extend(inst.callees)
    return seen


def check_program(program: ast.Program, sink: DiagnosticSink, *,
                  env: GlobalEnv | None = None) -> CheckedProgram:
    """Type-check a parsed program against the stdlib (and `env`, the earlier REPL entries)."""
    from .stdlib_env import stdlib_env

    if env is None:
        env = GlobalEnv(parent=stdlib_env(sink))
    checker = Checker(sink, env)
    user_instances = checker.check_items(program)
    checker.drain()
    checker.check_global_order()
    roots = list(user_instances) + checker.toplevel_callees
    toplevel = [it for it in program.items if isinstance(it, ast.Stmt)]
    main = next((it for it in program.items if isinstance(it, ast.MainBlock)), None)
    structs = [s for s in env.structs.values()]
    instances = reachable_instances(roots)
    return CheckedProgram(program, env, instances, structs, toplevel, main, dict(env.globals))
