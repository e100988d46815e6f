"""Item checking: declaring functions, structs and traits, checking signatures against definitions,
top-level statements, `main`, and function bodies (per instance).

In: an `ast.Program`. Out: the env filled with the program's declarations, and the instances made for
each user function (one per union-member combination / with `<S>` as any rank when nothing calls it,
so that every body is checked even if unused). Bodies of instances made by calls are checked by
`Checker.drain`.

A bodiless `fn` in a user program is a *declaration*: it must match the definition in scope (the
stdlib's): same parameter names in the same order with the same defaults (the definition may add
trailing parameters with defaults), each declared parameter type an instance of the definition's, and
the definition's return type (under the same bindings) fitting the declared one — so a declared union
return accepts a definition returning one member. In the stdlib, a bodiless `fn` is the definition
itself (implemented natively or later).
"""

from __future__ import annotations

import dataclasses
import itertools

from ..diagnostics import Note
from ..syntax import ast
from .env import FunctionInfo, FunctionInstance, Scope, StructInfo, TraitInfo, VarInfo
from .generics import Binder, has_generic_parts
from .resolve import TypeResolver
from .types import (
    ANY_RANK,
    ERROR,
    UNIT,
    OptionalType,
    ShapeVar,
    StructType,
    TensorType,
    TraitType,
    Type,
    TypeType,
    UnionType,
    is_error,
    strip_optional,
)

MAX_DECLARED_INSTANCES = 16


class ItemMixin:
    origin = "user"

    def body_resolver(self) -> TypeResolver:
        """Resolves types written inside a body: the function's generics and its `Type` parameters
        (replaced by their constant dtype in this instance) are in scope."""
        inst = self.ctx.instance
        if inst is None:
            return TypeResolver(self.env, self.sink)
        pairs = zip(inst.fn.param_names, inst.param_types, strict=True)
        dtypes = {n: inst.dtype_consts.get(n) for n, t in pairs if isinstance(t, TypeType)}
        generics = {g.name: None for g in inst.fn.node.generics}
        for declared, body in zip(inst.fn.param_types, inst.param_types, strict=True):
            declared, body = strip_optional(declared), strip_optional(body)
            if isinstance(declared, TensorType) and isinstance(declared.shape, ShapeVar) \
                    and isinstance(body, TensorType):
                generics[declared.shape.name] = body.shape  # `<S>` is this instance's rank
        return TypeResolver(self.env, self.sink, generics, dtypes)

    # ------------------------------------------------------------------ declarations

    def make_function(self, node: ast.FnDef, owner: str | None = None,
                      owner_kind: str = "struct") -> FunctionInfo:
        generics = {g.name for g in node.generics}
        dtype_params = {p.name for p in node.params
                        if isinstance(p.type, ast.TypeName) and p.type.name == "Type" and not p.type.args}
        resolver = TypeResolver(self.env, self.sink, generics, dtype_params)
        names, types, defaults = [], [], []
        for i, p in enumerate(node.params):
            if p.name in names:
                self.error("E0204", f"parameter `{p.name}` is declared twice", p.span)
            names.append(p.name)
            if p.type is None:
                if i == 0 and p.name == "self" and owner is not None:
                    types.append(StructType(owner) if owner_kind == "struct" else TraitType(owner))
                else:
                    self.error("E0306", f"parameter `{p.name}` needs a type: `{p.name}: T`", p.span)
                    types.append(ERROR)
            else:
                types.append(resolver.resolve(p.type))
            defaults.append(p.default)
        ret = resolver.resolve(node.ret) if node.ret is not None else UNIT
        info = FunctionInfo(node.name, node, names, types, defaults, ret, origin=self.origin, owner=owner,
                            env=self.env)
        info.generic = any(has_generic_parts(t) for t in types)
        return info

    def _defined_here(self, info, ids: set[int]) -> bool:
        return info is not None and id(info.node) in ids

    def declare(self, program: ast.Program) -> list[FunctionInfo]:
        """Enter the program's declarations into the env. A name defined twice in one program is an
        error; a name from an earlier REPL entry (same env, another program) is replaced."""
        items = program.items
        ids = {id(it) for it in items}
        mains = [it for it in items if isinstance(it, ast.MainBlock)]
        for extra in mains[1:]:
            self.error("E0204", "`main` is defined twice", extra.span,
                       Note("first defined here", mains[0].span))
        for it in items:  # struct and trait names first: types may refer to them in any order
            if isinstance(it, (ast.StructDef, ast.TraitDef)):
                here = [self.env.structs.get(it.name), self.env.traits.get(it.name)]
                if any(self._defined_here(x, ids) for x in here):
                    self.error("E0204", f"`{it.name}` is defined twice", it.name_span or it.span)
                    continue
                self.env.structs.pop(it.name, None)
                self.env.traits.pop(it.name, None)
                if isinstance(it, ast.StructDef):
                    self.env.structs[it.name] = StructInfo(it.name, it, [], [], [], origin=self.origin)
                else:
                    self.env.traits[it.name] = TraitInfo(it.name, it, origin=self.origin)
        defined: list[FunctionInfo] = []
        for it in items:
            if isinstance(it, ast.StructDef) and getattr(self.env.structs.get(it.name), "node", None) is it:
                self.declare_struct(self.env.structs[it.name])
            elif isinstance(it, ast.TraitDef) and getattr(self.env.traits.get(it.name), "node", None) is it:
                tr = self.env.traits[it.name]
                for m in it.methods:
                    tr.methods[m.name] = self.make_function(m, it.name, "trait")
            elif isinstance(it, ast.FnDef):
                info = self.make_function(it)
                defined.append(info)
                if it.body is None and self.origin == "user":
                    self.env.declarations[it.name] = info
                    continue
                if self._defined_here(self.env.functions.get(it.name), ids):
                    self.error("E0204", f"function `{it.name}` is defined twice", it.name_span or it.span,
                               Note("first defined here", self.env.functions[it.name].span))
                    continue
                shadowed = self.env.parent.function(it.name) if self.env.parent else None
                if shadowed is not None and shadowed.origin == "stdlib":
                    self.sink.warning("W0201", f"`{it.name}` shadows the standard library function of the "
                                      "same name", it.name_span or it.span)
                self.env.functions[it.name] = info
        return defined

    def declare_struct(self, s: StructInfo) -> None:
        resolver = TypeResolver(self.env, self.sink)
        for f in s.node.fields:
            if f.name in s.field_names:
                self.error("E0204", f"field `{f.name}` is declared twice", f.span)
                continue
            s.field_names.append(f.name)
            s.field_types.append(resolver.resolve(f.type))
            s.field_defaults.append(f.default)
        for m in s.node.methods:
            if m.name in s.methods or m.name in s.field_names:
                self.error("E0204", f"`{m.name}` is defined twice in `{s.name}`", m.name_span or m.span)
                continue
            if not m.params or m.params[0].name != "self":
                self.error("E0306", f"method `{m.name}` must take `self` as its first parameter",
                           m.name_span or m.span)
            s.methods[m.name] = self.make_function(m, s.name)

    def check_defaults(self, info: FunctionInfo) -> None:
        """Type each default expression once, for the declared parameter type."""
        if info.defaults_checked:
            return
        info.defaults_checked = True
        saved = (self.scope, self.ctx, self.env)
        self.scope, self.env = Scope(), info.env or self.env
        for d, t, n in zip(info.defaults, info.param_types, info.param_names, strict=True):
            if d is None:
                continue
            hint = None if has_generic_parts(t) and not isinstance(t, TypeType) else t
            dt = self.check_expr(d, hint)
            if hint is not None and not is_error(dt):
                self.coerce(d, dt, t, f"the default of `{n}`")
            elif isinstance(t, UnionType) and not is_error(dt):
                if Binder(self.conforms).match(t, dt, n, literal=True) is None:
                    self.report_mismatch(d.span, dt, t, f"the default of `{n}`")
        self.scope, self.ctx, self.env = saved

    # ------------------------------------------------------------------ driver

    def check_items(self, program: ast.Program) -> list[FunctionInstance]:
        defined = self.declare(program)
        structs = [s for s in self.env.structs.values() if any(s.node is it for it in program.items)]
        for info in defined:
            self.check_defaults(info)
        for s in structs:
            for m in s.methods.values():
                self.check_defaults(m)
            saved = self.scope
            self.scope = Scope()
            for d, t in zip(s.field_defaults, s.field_types, strict=True):
                if d is not None:
                    self.check_against(d, t, "this field default")
            self.scope = saved
        for info in defined:
            if info.node.body is None and self.origin == "user":
                self.check_declaration(info)
        # Top-level statements in order, then main.
        for it in program.items:
            if isinstance(it, ast.Stmt):
                self.check_stmt(it)
            elif isinstance(it, ast.MainBlock):
                self.in_main = True
                self.check_block(it.body)
                self.in_main = False
        roots: list[FunctionInstance] = []
        for info in defined:
            if info.node.body is not None or self.origin == "stdlib":
                roots += self.declared_instances(info)
        for s in structs:
            for m in s.methods.values():
                roots += self.declared_instances(m)
        for tr in self.env.traits.values():
            if any(tr.node is it for it in program.items):
                for m in tr.methods.values():
                    if m.node.body is not None:  # a default body: `self` is the trait
                        roots += self.declared_instances(m)
        return roots

    def declared_instances(self, info: FunctionInfo) -> list[FunctionInstance]:
        """Instances that check a body even when nothing calls it: each union member combination,
        `<S>` as any rank, a `Type` parameter as its default dtype (or float32)."""
        choices = []
        for t in info.param_types:
            if isinstance(t, UnionType):
                choices.append(list(t.members))
            elif isinstance(t, OptionalType) and isinstance(t.inner, UnionType):
                choices.append([OptionalType(m) for m in t.inner.members])
            else:
                choices.append([t])
        out = []
        for combo in itertools.islice(itertools.product(*choices), MAX_DECLARED_INSTANCES):
            dtypes = {}
            body = []
            for n, t, d in zip(info.param_names, combo, info.defaults, strict=True):
                if isinstance(t, TypeType):
                    v = self.const_value(d) if d is not None else None
                    dtypes[n] = getattr(v, "name", "float32")
                    t = TypeType(dtypes[n])
                body.append(_any_rank(t, dtypes))
            fresh = tuple(body) not in info.instances
            inst = self.instantiate(info, body, dtypes, _any_rank(info.ret, dtypes))
            if fresh and info.generic:
                inst.declared_only = True
            out.append(inst)
            if not inst.checked:
                self.check_instance_body(inst)
        return out

    # ------------------------------------------------------------------ bodies

    def check_instance_body(self, inst: FunctionInstance) -> None:
        from .checker import FnContext

        inst.checked = True
        if inst.body is None:
            return
        saved = (self.scope, self.ctx, self.env)
        before = len(self.sink.diagnostics)
        self.scope, self.env = Scope(), inst.fn.env or self.env
        self.ctx = FnContext(ret=inst.ret, instance=inst)
        dims = set()
        owner = self.env.struct(inst.fn.owner) if inst.fn.owner else None
        field_types = owner.field_types if owner is not None else []
        for t in list(inst.param_types) + list(field_types):
            if isinstance(t, TensorType) and isinstance(t.shape, tuple):
                dims |= {d for d in t.shape if isinstance(d, str)}
        for d in sorted(dims):
            self.scope.define(VarInfo(d, _dim_type(), None, kind="dim"))
        for p, t in zip(inst.params, inst.param_types, strict=True):
            self.scope.define(VarInfo(p.name, t, p.span, kind="param"))
        self.ctx.dims = dims
        leaves = self.check_block(inst.body)
        if not leaves and inst.ret != UNIT and not is_error(inst.ret):
            node = inst.fn.node
            self.error("E0601", f"function `{inst.fn.name}` must return a value of type `{inst.fn.ret}` on "
                       "every path, but its end can be reached without a `return`",
                       node.name_span or node.span)
        self.scope, self.ctx, self.env = saved
        if inst.fn.origin == "stdlib" and inst.call_span is not None:
            # A problem inside a library body found for this call: say which call it is.
            note = Note(f"in `{inst.fn.name}` as called here, with {_param_list(inst)}", inst.call_span)
            for i in range(before, len(self.sink.diagnostics)):
                d = self.sink.diagnostics[i]
                self.sink.diagnostics[i] = dataclasses.replace(d, notes=d.notes + (note,))
        if inst.fn.origin == "stdlib":
            inst.diagnostics = list(self.sink.diagnostics[before:])

    # ------------------------------------------------------------------ declarations vs definitions

    def check_declaration(self, decl: FunctionInfo) -> None:
        name = decl.name
        span = decl.span
        definition = self.env.function(name)
        if definition is None:
            self.error("E0205", f"`{name}` is declared without a body, and no definition is in scope", span)
            return
        dn, fn = decl.param_names, definition.param_names
        def_note = Note(f"the definition: {definition.signature()}", definition.span)
        if dn != fn[:len(dn)] or any(d is None for d in definition.defaults[len(dn):]):
            self.error("E0507", f"the parameters of `{name}` ({', '.join(dn)}) do not match its definition "
                       f"({', '.join(fn)})", span, def_note)
            return
        binder = Binder(self.conforms)
        for i, n in enumerate(dn):
            dt, ft = decl.param_types[i], definition.param_types[i]
            p = decl.node.params[i]
            if isinstance(dt, TypeType) and isinstance(ft, TypeType):
                v = self.const_value(decl.defaults[i]) if decl.defaults[i] is not None else None
                binder.bind_dtype(n, getattr(v, "name", "float32"))
                continue
            if is_error(dt) or is_error(ft):
                continue
            if not _exact(binder.match(ft, dt, f"parameter `{n}`")):
                self.error("E0507", f"parameter `{n}` of `{name}` is declared as `{dt}`, which does not fit "
                           f"its definition's `{ft}`", p.type.span if p.type else p.span, def_note)
            dd, fd = decl.defaults[i], definition.defaults[i]
            same_name = isinstance(dd, ast.Name) and isinstance(fd, ast.Name) and dd.name == fd.name
            if (dd is None) != (fd is None) or (
                    dd is not None and self.const_value(dd) != self.const_value(fd) and not same_name):
                self.error("E0507", f"the default of `{n}` differs from the definition of `{name}`",
                           dd.span if dd is not None else p.span, def_note)
        want = binder.substitute(decl.ret)
        got = binder.substitute(definition.ret)
        from .assign import convert

        if not is_error(want) and not is_error(got) and not _exact(convert(got, want, self.conforms)):
            self.error("E0507", f"`{name}` is declared to return `{decl.ret}`, but its definition returns "
                       f"`{definition.ret}`", decl.node.ret.span if decl.node.ret else span, def_note)


def _param_list(inst: FunctionInstance) -> str:
    return ", ".join(f"{n}: {t}" for n, t in zip(inst.fn.param_names, inst.param_types, strict=True))


def _exact(conv) -> bool:
    """A declaration's type must be an instance of the definition's: no value conversion allowed
    (injection into a union member is fine: a declared union return accepts one member)."""
    return conv is not None and all(step.startswith("member:") for step in conv.steps)


def _dim_type() -> Type:
    """A named dim's value is an int64 (numpy's shapes are): a dim of 2**31 must not wrap."""
    from .types import INT64

    return INT64


def _any_rank(t: Type, dtypes: dict[str, str]) -> Type:
    if isinstance(t, TensorType):
        shape = ANY_RANK if isinstance(t.shape, ShapeVar) else t.shape
        dtype = dtypes.get(t.dtype, t.dtype)
        return TensorType(dtype if dtype in _dtypes() else "float32", shape, t.ternary)
    if isinstance(t, OptionalType):
        return OptionalType(_any_rank(t.inner, dtypes))
    return t


def _dtypes():
    from .types import DTYPES

    return DTYPES
