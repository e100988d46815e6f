"""An interactive session: entries compiled one at a time against everything entered before.

In: entry texts (what a user types at `tritonc repl`, a `%%triton` cell, a file given to `:load`). Out:
for each entry, its effect — declarations kept for later entries, `let` bindings kept as values (objects
as handles on the run-time objects themselves), the
value of a final bare expression (printed by the program's own `print` when `echo`), the functions it
defined — or a `CompileError` (the session is unchanged), a `TritonRuntimeError` (the entry's definitions
are kept, its bindings are not; what it did to objects bound earlier before the error stays done, as the
objects are shared, not copied) or an `EntryError` (a request the session cannot take).

How an entry runs. Its items (`fn`, `layer`, `struct`, `trait`) join the session's declarations; its
statements become the body of a generated public function

    fn __repl_entry_N(__repl_in_0: T0, ...) -> (U0, ..., V) {
        let x = __repl_in_0          # bindings earlier entries left that the entry names, as values
        <the entry's statements>      # their spans point into the entry's own Source
        return (y, ..., __repl_value) # bindings this entry (re)bound, and the final expression
    }

which is checked twice: a probe (without a return type) tells the types of the bindings and of the final
expression, then the real function is checked, lowered and compiled. Values cross between entries through
the Python API boundary (`api_args`): whatever type it can pass and return, a binding can hold (tensors,
ternary tensors, scalars, strings, optionals, tuples; see `api_args.handle_supported`); a binding of
another type is dropped with a note. Structs, lists and trait objects are not converted: the entry
function returns them as `api_objects.ObjectHandle`s (each owning one reference to the run-time object)
and takes them back as the same objects, so the language's reference semantics hold across entries
(`let a = q`, then `a.t = 1.0` in a later entry changes `q.t`). A handle keeps the session's compiled
modules alive (its object's type descriptors and method tables live in them); dropping the binding
(rebinding, `reset`) releases its reference.

Each entry is its own LLVM module. Functions an earlier entry's module defines are only *declared* in
the new one (`codegen.module.emit_module(external=...)`) and bound to the earlier addresses when it loads,
so LLVM optimizes and generates code for the new items and the entry's statements only. The front end
(parse, check) does see every earlier declaration again: that is what checks an entry against them. A
redefined item replaces the earlier one; functions calling it are compiled again with the entry.
Bindings are locals of the entry functions, not globals: functions cannot read them (pass them as
arguments).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .diagnostics import CompileError, Diagnostic, DiagnosticSink, Note
from .source import Source

ENTRY_PREFIX = "__repl_entry_"
_IN, _OUT, _VALUE = "__repl_in_", "__repl_out_", "__repl_value"
_NO_VALUE = object()
# Symbols of session functions are published process-wide just before a module needing them loads;
# the lock keeps two sessions from publishing the same name at once.
_publish_lock = threading.Lock()


class EntryError(ValueError):
    """An entry or request the session cannot take (not a program error: those are CompileError)."""


@dataclass
class Binding:
    name: str
    value: Any  # a Python value, or an `api_objects.ObjectHandle` for a struct, list or trait object
    type: str  # the checker's spelling, e.g. `Tensor<float32, [3]>`


@dataclass
class EntryResult:
    """What running one entry produced."""

    value: Any = _NO_VALUE  # the final bare expression's value (Python form; an object as an
    # `api_objects.ObjectHandle`), if it had one
    value_type: str | None = None
    defined: list[str] = field(default_factory=list)  # functions the entry defined or redefined
    bound: list[str] = field(default_factory=list)  # bindings the entry created or changed
    notes: list[str] = field(default_factory=list)  # e.g. bindings that could not be kept
    compiled: list[str] = field(default_factory=list)  # IR functions this entry's module defines
    printed: bool = False  # the program printed the value itself (`print`, for echo)
    compile_seconds: float = 0.0
    run_seconds: float = 0.0

    @property
    def has_value(self) -> bool:
        return self.value is not _NO_VALUE


@dataclass
class _Decl:
    """A declaration kept from an earlier entry: the item `name` of `source` (parsed again each entry)."""

    source: Source
    name: str


@dataclass
class _Compiled:
    """One entry's module and which IR functions it defines (not merely declares)."""

    module: Any  # api.Module
    defined: dict[str, Source]  # IR function name -> the Source its definition came from


class ReplSession:
    """The state of one REPL (or notebook) session; not thread-safe (one entry at a time)."""

    def __init__(self, *, opt_level: int = 2, cache: bool = True, name: str = "repl"):
        self.opt_level = opt_level
        self.cache = cache
        self.name = name
        self.reset()

    def reset(self) -> None:
        """Forget every declaration and binding (compiled modules stay loaded until unreferenced)."""
        self._decls: list[_Decl] = []
        # Dropping the bindings releases the session's references to their objects (`ObjectHandle`);
        # handles held elsewhere (a notebook variable) keep theirs, and the old module list with them.
        self.bindings: dict[str, Binding] = {}
        self._compiled: list[_Compiled] = []  # a new list: handles made before keep the old one
        self._count = 0
        self.sources: dict[str, Source] = {}

    # -- public --------------------------------------------------------------------------------------
    def new_source(self, text: str, name: str | None = None) -> Source:
        self._count += 1
        source = Source(name or f"<{self.name}-{self._count}>", text)
        self.sources[source.name] = source
        return source

    def run(self, text: str, *, name: str | None = None, echo: bool = False,
            inputs: dict[str, Any] | None = None) -> EntryResult:
        """Check, compile and run one entry. Raises CompileError (the session is unchanged) or
        TritonRuntimeError (declarations of the entry are kept, bindings are not; changes it made to
        objects before the error are not undone).

        `inputs` are Python values the entry may read by name (a notebook's variables), typed from their
        values as the API types a generic call (`Tensor<float32, [?, ?]>`); they are bindings of this
        entry only, kept afterwards only if the entry assigns them."""
        source = self.new_source(text, name)
        return self.run_source(source, echo=echo, inputs=inputs)

    def run_source(self, source: Source, *, echo: bool = False,
                   inputs: dict[str, Any] | None = None) -> EntryResult:
        t0 = time.perf_counter()
        items, stmts = self._split(self._parse(source))
        decls = self._decls_after(source, items)
        # Only the bindings the entry's statements name are passed in (functions cannot read them):
        # a large tensor bound long ago does not cross the boundary on every entry.
        used = _used_names(stmts)
        live = {n: b for n, b in self.bindings.items() if n in used}
        if inputs:
            from .api_wrappers import type_of

            for iname, value in inputs.items():
                if iname not in used:
                    continue
                live.pop(iname, None)
                live[iname] = Binding(iname, value, _input_type(value, type_of))
        rebound = _rebound_names(stmts)
        probe = self._check(source, decls, live, None)
        wrapper = _wrapper(probe.checked.program, self._count)
        value_type = _final_type(wrapper, bool(stmts))
        new_types = _out_types(wrapper)
        result = EntryResult(value_type=None if value_type is None else str(value_type))
        kept: dict[str, Any] = {}  # name -> checker type, for the bindings returned by this entry
        from .check import types as ct
        from .ir.lowering import NotAvailable, ir_type

        for bname, bty in new_types.items():
            if bname not in rebound:
                continue
            try:
                ok = _handle_supported(ir_type(bty))
            except NotAvailable:
                ok = False
            if ok:
                kept[bname] = bty
            else:
                result.notes.append(f"`{bname}` ({bty}) is not kept after this entry: values of this type "
                                    "cannot be passed between entries yet")
        returns_value = False
        if value_type is not None:
            try:
                returns_value = _handle_supported(ir_type(value_type))
            except NotAvailable:
                returns_value = False
        outputs = list(kept) + ([_VALUE] if returns_value else [])
        ret_types = [str(kept[n]) for n in kept] + ([str(value_type)] if returns_value else [])
        printed = echo and _printable(value_type)
        # A public function cannot return a bare trait object (`lowering`): one inside a 1-tuple it can.
        tupled = len(outputs) > 1 or any(isinstance(t, ct.TraitType)
                                         for t in [*kept.values(), *([value_type] if returns_value else [])])
        if value_type is not None and not returns_value and not printed:
            result.notes.append(f"the value ({value_type}) cannot be shown yet: it cannot cross the Python "
                                "boundary, and `print` does not take it")
        final = self._check(source, decls, live, (outputs, ret_types, printed, tupled))
        result.printed = printed
        compiled, module, fn_name = self._compile(final, source)
        # The declarations as one program: what compiles instances of generic functions called from
        # Python, and what a pickled function of the session carries (`api.Module.__reduce__`).
        module._source_text = self._decls_text(decls)
        stale = _stale_bindings(self.bindings, module._objects)
        if stale & set(live):  # passing one would read the object with the new layout
            names = sorted(stale & set(live))
            which = ", ".join(f"`{n}`" for n in names) + \
                (" holds a value" if len(names) == 1 else " hold values")
            raise EntryError(f"{which} of an earlier definition of its type, which this entry redefines: "
                             "redefine the type in an entry of its own (that drops the binding), then bind "
                             "it again")
        result.defined = sorted({it.name for it in items if _item_name(it)})
        result.compiled = sorted(compiled.defined)
        result.compile_seconds = time.perf_counter() - t0
        # Declarations are the session's from here: the entry compiled. Its bindings need it to run.
        self._decls = decls
        self._compiled.append(compiled)
        for bname in sorted(stale):
            result.notes.append(f"`{bname}` ({self.bindings[bname].type}) is dropped: this entry redefined "
                                "its type, and its value has the old layout")
            del self.bindings[bname]
        from .api_args import CallPlan

        # objects come back as handles keeping every module of the session alive (`self._compiled`)
        plan = CallPlan(module._ir.functions[fn_name], module._result, module._jit, module._objects,
                        handles=self._compiled)
        args = [live[n].value for n in live]
        try:
            bound = plan.bind(tuple(args), {})
        except (TypeError, ValueError, OverflowError) as exc:  # an input the boundary refuses
            message = str(exc).replace(f"{ENTRY_PREFIX}{self._count}()", "entry")
            for i, n in enumerate(live):  # the generated parameter names mean nothing to the user
                message = message.replace(f"argument '{_IN}{i}'", f"`{n}`")
            raise EntryError(message) from None
        t1 = time.perf_counter()
        out = plan.run(*bound)
        result.run_seconds = time.perf_counter() - t1
        values = list(out) if tupled else [out] if outputs else []
        from .api_objects import ObjectHandle

        for oname, value, tname in zip(outputs, values, ret_types, strict=True):
            if isinstance(value, ObjectHandle):
                value.type_text = tname  # so the handle can come back as an input (a notebook variable)
            if oname == _VALUE:
                result.value = value
            else:
                self.bindings.pop(oname, None)  # a new binding goes last, as in the source
                self.bindings[oname] = Binding(oname, value, str(kept[oname]))
                result.bound.append(oname)
        for bname in rebound:  # rebound to a value that cannot be kept: the old value is gone too
            if bname not in kept and bname in self.bindings:
                del self.bindings[bname]
        return result

    def type_of(self, text: str) -> str:
        """The type of an expression in the session's scope (nothing runs)."""
        source = self.new_source(text)
        items, stmts = self._split(self._parse(source))
        if items or len(stmts) != 1:
            raise EntryError(":type takes one expression")
        from .syntax import ast

        if not isinstance(stmts[0], ast.ExprStmt):
            raise EntryError(":type takes an expression, not a statement")
        used = _used_names(stmts)
        probe = self._check(source, self._decls, {n: b for n, b in self.bindings.items() if n in used}, None)
        ty = _final_type(_wrapper(probe.checked.program, self._count), True)
        return "()" if ty is None else str(ty)

    def names(self) -> list[str]:
        """Names in scope from the session: bindings and declared items (for completion)."""
        return list(self.bindings) + [d.name for d in self._decls]

    def function(self, name: str):
        """A Python callable for a function the session defined (its latest definition)."""
        from .api import BoundFunction

        for compiled in reversed(self._compiled):
            fns = [fn for n, fn in compiled.module._ir.functions.items()
                   if fn.source_name == name and fn.public and n in compiled.defined]
            if fns:
                return BoundFunction(compiled.module, name, fns)
        if self._compiled and self._compiled[-1].module._is_generic(name):
            # instances are compiled per argument types, from the declarations (`api_wrappers`)
            return BoundFunction(self._compiled[-1].module, name, [])
        raise KeyError(f"the session has no function '{name}'")

    def inspect(self, kind: str, name: str) -> str:
        """`ir`, `llvm` or `asm` text of function `name` as compiled by the entry that defined it last."""
        from .ir.printer import print_function

        for compiled in reversed(self._compiled):
            fns = [fn for n, fn in compiled.module._ir.functions.items()
                   if (fn.source_name == name or n == name) and n in compiled.defined]
            if not fns:
                continue
            if kind == "ir":
                return "\n\n".join(print_function(fn) for fn in fns)
            module = compiled.module
            text = module.llvm_ir(name) if kind == "llvm" else module.asm(name)
            return text.strip()
        raise EntryError(f"no function '{name}' was defined in this session")

    # -- the pieces ----------------------------------------------------------------------------------
    @staticmethod
    def _parse(source: Source):
        from .syntax.parser import parse_program

        sink = DiagnosticSink()
        program = parse_program(source, sink)
        if program is None or sink.has_errors:
            raise CompileError([d for d in sink.diagnostics if d.severity == "error"])
        return program

    @staticmethod
    def _split(program) -> tuple[list, list]:
        """Items and statements of an entry; a `main { }` block's body counts as statements."""
        from .syntax import ast

        items, stmts = [], []
        for it in program.items:
            if isinstance(it, ast.MainBlock):
                stmts.extend(it.body.stmts)
            elif isinstance(it, ast.Stmt):
                stmts.append(it)
            else:
                items.append(it)
        return items, stmts

    def _decls_after(self, source: Source, items: list) -> list[_Decl]:
        """The session's declarations once this entry's items join them (a new one replaces an old one
        of the same name)."""
        new = [_Decl(source, _item_name(it)) for it in items]
        names = {d.name for d in new}
        return [d for d in self._decls if d.name not in names] + new

    def _decls_text(self, decls: list[_Decl]) -> str:
        parsed: dict[int, Any] = {}
        texts = []
        for d in decls:
            if id(d.source) not in parsed:
                parsed[id(d.source)] = self._parse(d.source)
            texts.extend(it.span.text() for it in parsed[id(d.source)].items if _item_name(it) == d.name)
        return "\n\n".join(texts) + "\n"

    def _check(self, source: Source, decls: list[_Decl], live: dict[str, Binding], final: tuple | None):
        """Parse the declarations and the entry again (checking fills the syntax tree, so each check gets
        fresh nodes), put the entry's statements into the generated function, check the program."""
        from .check.checker import check_program
        from .pipeline import CheckResult
        from .syntax import ast

        sink = DiagnosticSink()
        parsed: dict[int, Any] = {}
        items = []
        for d in decls:
            if id(d.source) not in parsed:
                parsed[id(d.source)] = self._parse(d.source)
            items.extend(it for it in parsed[id(d.source)].items if _item_name(it) == d.name)
        entry = parsed.get(id(source)) or self._parse(source)
        _, stmts = self._split(entry)
        wrapper = self._wrapper_fn(live, stmts, final)
        program = ast.Program(items + [wrapper], span=wrapper.span)
        checked = check_program(program, sink)
        result = CheckResult(source, sink.diagnostics, program, checked)
        if not result.ok:
            raise CompileError(_errors(sink.diagnostics, {**self.bindings, **live},
                                       f"<{self.name}-generated-"))
        return result

    def _wrapper_fn(self, live: dict[str, Binding], stmts: list, final: tuple | None):
        """The generated entry function around `stmts` (see the module docstring)."""
        from .syntax import ast

        names = list(live)
        params = ", ".join(f"{_IN}{i}: {live[n].type}" for i, n in enumerate(names))
        prologue = "".join(f"    let {n} = {_IN}{i}\n" for i, n in enumerate(names))
        if final is None:
            ret, epilogue = "", ""
        else:
            outputs, ret_types, echo, tupled = final
            ret = "" if not outputs else f" -> {ret_types[0]}" if not tupled else \
                " -> (" + ", ".join(ret_types) + ",)"
            epilogue = f"    print({_VALUE})\n" if echo else ""
            if outputs:
                epilogue += f"    return {outputs[0]}\n" if not tupled else \
                    "    return (" + ", ".join(outputs) + ",)\n"
        body_out = "" if final is not None else "".join(
            f"    let {_OUT}{n} = {n}\n" for n in _all_binding_names(names, stmts))
        text = (f"fn {ENTRY_PREFIX}{self._count}({params}){ret} {{\n{prologue}    let __repl_mark = 0\n"
                f"{body_out}{epilogue}}}\n")
        synthetic = Source(f"<{self.name}-generated-{self._count}>", text)
        fn = self._parse(synthetic).items[0]
        body = fn.body.stmts
        mark = next(i for i, s in enumerate(body) if isinstance(s, ast.Let)
                    and isinstance(s.target, ast.NamePattern) and s.target.name == "__repl_mark")
        user = list(stmts)
        keep_value = final is not None and (final[2] or _VALUE in final[0])
        if keep_value and user and isinstance(user[-1], ast.ExprStmt):
            last = user[-1]
            user[-1] = ast.Let(ast.NamePattern(_VALUE, span=last.span), None, last.expr, span=last.span)
        fn.body.stmts = body[:mark] + user + body[mark + 1:]
        return fn

    def _compile(self, checked, source: Source):
        """Lower and compile the entry's program with earlier definitions declared, then load it."""
        from .api import Module
        from .pipeline import emit_llvm, lower_checked

        earlier: dict[str, tuple[_Compiled, Source]] = {}
        for compiled in self._compiled:
            for n, src in compiled.defined.items():
                earlier[n] = (compiled, src)
        lowered = lower_checked(checked)
        if lowered.ir_module is None:
            raise CompileError([d for d in lowered.diagnostics if d.severity == "error"])
        functions = lowered.ir_module.functions
        calls = {n: {op.attrs["callee"] for op in fn.walk() if op.opcode == "call"}
                 for n, fn in functions.items()}
        fresh = {n for n, fn in functions.items()
                 if n not in earlier or fn.span is None or fn.span.source is not earlier[n][1]}
        changed = True
        while changed:  # a function calling a new definition is compiled again with it
            changed = False
            for n, callees in calls.items():
                if n not in fresh and callees & fresh:
                    fresh.add(n)
                    changed = True
        external = frozenset(n for n in functions if n not in fresh)
        result = emit_llvm(lowered, name=source.name, external=external, export_all=True)
        with _publish_lock:
            from . import jit

            for n in external:
                owner = earlier[n][0]
                jit.add_symbol(f"tdsl.{n}", owner.module._jit.address(f"tdsl.{n}"))
            module = Module(result, self.opt_level, self.cache)
        # The machine code of the modules this one calls into must outlive it (a function of this entry
        # may be held from Python after the session is reset).
        module._calls_into = list({id(earlier[n][0].module): earlier[n][0].module for n in external}.values())
        defined = {n: fn.span.source for n, fn in result.ir_module.functions.items()
                   if n not in external and fn.span is not None}
        fn_name = next(n for n, fn in result.ir_module.functions.items()
                       if fn.source_name == f"{ENTRY_PREFIX}{self._count}")
        return _Compiled(module, defined), module, fn_name


# -- helpers ---------------------------------------------------------------------------------------------

def _handle_supported(ty) -> bool:
    from .api_args import handle_supported

    return handle_supported(ty)


def _handles(value):
    """The `ObjectHandle`s a binding's value holds (itself, or inside tuples)."""
    from .api_objects import ObjectHandle

    if isinstance(value, ObjectHandle):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _handles(item)


def _stale_bindings(bindings: dict[str, Binding], objects) -> set[str]:
    """Bindings holding an object whose type's layout differs in `objects` (an entry's module) from the
    module that made it: a struct or trait redefined since (fields or methods changed)."""
    from .api_objects import layout_signature

    return {n for n, b in bindings.items() for h in _handles(b.value)
            if h.signature() != layout_signature(h.ty, objects.structs, objects.traits)}


def _input_type(value, type_of) -> str:
    """The type an input binding is declared with: as a generic call types it, except that a Python int
    outside int32 is an int64 (rather than a value the boundary would have to refuse)."""
    if isinstance(value, int) and not isinstance(value, bool) and not -2**31 <= value < 2**31:
        return "int64"
    from .api_objects import ObjectHandle

    if isinstance(value, ObjectHandle):  # an object an entry returned, typed as the session spelled it
        if value.type_text is None:
            raise EntryError("an object handle without a known type cannot be read by an entry")
        return value.type_text
    return type_of(value)


def _printable(ty) -> bool:
    """Types the REPL has the language's `print` show (it leaves others to the front end's Python repr):
    a struct, list or trait object prints in the language's form, read from the object itself."""
    from .check import types as ct

    return isinstance(ty, (ct.Scalar, ct.StrType, ct.TensorType, ct.ListType, ct.StructType, ct.TraitType))


def _item_name(item) -> str:
    return getattr(item, "name", "") or ""


def _pattern_names(pattern) -> list[str]:
    from .syntax import ast

    if isinstance(pattern, ast.NamePattern):
        return [pattern.name] if pattern.name != "_" else []
    if isinstance(pattern, ast.TuplePattern):
        return [n for p in pattern.elems for n in _pattern_names(p)]
    return []


def _used_names(stmts: list) -> set[str]:
    """Every name the statements mention (a superset of the bindings they read)."""
    from .syntax import ast

    return {node.name for stmt in stmts for node in ast.walk(stmt) if isinstance(node, ast.Name)}


def _rebound_names(stmts: list) -> set[str]:
    """Names an entry binds with a top-level `let` or assigns anywhere (so their values change)."""
    from .syntax import ast

    names: set[str] = set()
    for stmt in stmts:
        if isinstance(stmt, ast.Let):
            names.update(_pattern_names(stmt.target))
        for node in ast.walk(stmt):
            if isinstance(node, ast.Assign) and isinstance(node.target, ast.Name):
                names.add(node.target.name)
    return names


def _all_binding_names(earlier: list[str], stmts: list) -> list[str]:
    """Every binding alive after the entry's statements: earlier ones, then the entry's top-level lets."""
    from .syntax import ast

    names = list(earlier)
    for stmt in stmts:
        if isinstance(stmt, ast.Let):
            for n in _pattern_names(stmt.target):
                if n not in names:
                    names.append(n)
    return [n for n in names if not n.startswith("__repl")]


def _wrapper(program, count: int):
    return next(it for it in program.items if getattr(it, "name", None) == f"{ENTRY_PREFIX}{count}")


def _out_types(wrapper) -> dict[str, Any]:
    """The probe's `let __repl_out_x = x` lines: each binding's type after the entry."""
    from .syntax import ast

    found = {}
    for stmt in wrapper.body.stmts:
        if isinstance(stmt, ast.Let) and isinstance(stmt.target, ast.NamePattern) \
                and stmt.target.name.startswith(_OUT):
            found[stmt.target.name[len(_OUT):]] = stmt.value.ty
    return found


def _final_type(wrapper, has_stmts: bool):
    """The type of the entry's final statement when it is a bare expression with a value, else None."""
    from .check import types as ct
    from .syntax import ast

    if not has_stmts:
        return None
    last = None
    for stmt in wrapper.body.stmts:
        if isinstance(stmt, ast.Let) and isinstance(stmt.target, ast.NamePattern) \
                and stmt.target.name.startswith(_OUT):
            break
        last = stmt
    if not isinstance(last, ast.ExprStmt) or last.expr.ty is None:
        return None
    if isinstance(last.expr.ty, (ct.UnitType, ct.NeverType, ct.NoneType, ct.ErrorType)):
        return None
    return last.expr.ty


def _errors(diagnostics: list[Diagnostic], live: dict[str, Binding], generated: str = "") -> list[Diagnostic]:
    """The errors to show; an unknown name that is a session binding, read inside a function, gets a note
    (bindings are locals of the entries)."""
    out = []
    errors = [d for d in diagnostics if d.severity == "error"]
    # An error in the entry's own text may echo in the generated lines that read its bindings back
    # (`let __repl_out_e = e`): those names mean nothing to the user, the entry's error says it all.
    if generated and any(not (d.file or "").startswith(generated) for d in errors):
        errors = [d for d in errors if not (d.file or "").startswith(generated)]
    for d in errors:
        name = next((n for n in live if f"`{n}`" in d.message), None)
        if name is not None and d.code.startswith("E02"):
            d = Diagnostic(d.code, d.message, d.span, d.notes + (Note(
                f"`{name}` is a REPL binding: functions cannot read bindings, pass it as an argument"),),
                d.severity)
        out.append(d)
    return out


__all__ = ["Binding", "EntryError", "EntryResult", "ReplSession", "ENTRY_PREFIX"]
