"""Call checking: binding arguments to parameters and resolving what a call targets.

In: an `ast.Call` (or a function used as a value). Out: the call's type and `call.target`
(`targets.*Target`), with arguments normalized to parameter order (positional + keyword + defaults).
A call of a user or stdlib function instantiates it for the argument types (`generics.Binder`): named
dims bind per call and must agree across parameters, `<S>` takes the argument's shape, a union
parameter takes the member actually passed, a `Type` parameter its constant dtype; the return type is
the declared one with those bindings (so `Tensor<dtype, S>` is concrete at the call).

Errors: E0501 wrong argument type, E0502 unknown keyword, E0503 too many arguments, E0504 missing
argument, E0505 argument given twice, E0506 positional after keyword, E0408/E0409 named-dim conflicts.
"""

from __future__ import annotations

from ..diagnostics import Note
from ..syntax import ast
from .assign import Conversion, convert
from .env import FunctionInfo, FunctionInstance, StructInfo
from .generics import Binder, body_param_type, copy_tree, has_generic_parts
from .prim_rules import is_literal
from .primitives import (
    DTypeConst,
    lookup,
)
from .resolve import did_you_mean
from .targets import (
    BoundArg,
    ClosureTarget,
    FunctionRef,
    FunctionTarget,
    MethodTarget,
    StructTarget,
)
from .types import (
    ERROR,
    FnType,
    ListType,
    StructType,
    TensorType,
    Type,
    TypeType,
    contains_error,
    is_error,
)

# Nested instances of generic functions (new argument types under a new instance) beyond this are an error
# (E0508), as C++ and Rust limit template / recursion depth: the argument types may grow without end.
MAX_INSTANTIATION_DEPTH = 100


class CallMixin:
    # ------------------------------------------------------------------ argument binding

    def bind_args(self, call: ast.Call, names: list[str], required: list[bool], desc: str,
                  decl_span=None, variadic: bool = False):
        """Map parameter name -> ast.Arg; returns (bound, extra positional args) or None after an error."""
        bound: dict[str, ast.Arg] = {}
        extra: list[ast.Arg] = []
        ok = True
        seen_kw = False
        pos = 0
        for a in call.args:
            if a.name is None:
                if seen_kw:
                    self.error("E0506", "a positional argument cannot follow keyword arguments", a.span)
                    ok = False
                    continue
                if variadic:
                    extra.append(a)
                    continue
                if pos >= len(names):
                    self.error("E0503", f"{desc} takes {len(names)} argument{'s' * (len(names) != 1)} "
                               f"but {sum(1 for x in call.args if x.name is None)} were given", a.span,
                               *self._decl_note(decl_span))
                    ok = False
                    break
                bound[names[pos]] = a
                pos += 1
            else:
                seen_kw = True
                if a.name not in names:
                    self.error("E0502", f"{desc} has no parameter named `{a.name}`", a.span,
                               *did_you_mean(a.name, names), *self._decl_note(decl_span))
                    ok = False
                elif a.name in bound:
                    self.error("E0505", f"argument `{a.name}` is given twice", a.span)
                    ok = False
                else:
                    bound[a.name] = a
        for a in call.args:  # check the values even when binding failed (errors inside them count)
            if not any(a is b for b in bound.values()) and not any(a is b for b in extra):
                self.check_expr(a.value)
        if ok:
            for n, req in zip(names, required, strict=True):
                if req and n not in bound:
                    self.error("E0504", f"missing argument `{n}` in call to {desc}", call.span,
                               *self._decl_note(decl_span))
                    ok = False
        return (bound, extra) if ok else None

    def _decl_note(self, span) -> tuple:
        return (Note("defined here", span),) if span is not None else ()

    # ------------------------------------------------------------------ dispatch

    def _expr_Call(self, e: ast.Call, expected):
        f = e.func
        if isinstance(f, ast.Attribute):
            return self.check_method_call(e, f, expected)
        if isinstance(f, ast.Name):
            var = self.scope.lookup(f.name) or self.env.global_var(f.name)
            if var is None:
                info = self.env.function(f.name)
                if info is not None:
                    f.ty = None
                    return self.call_function(e, info, expected)
                struct = self.env.struct(f.name)
                if struct is not None:
                    return self.call_struct(e, struct)
                prim = lookup(f.name)
                if prim is not None:
                    return self.call_primitive(e, prim, [], expected)
                self.unknown_name(f.name, f.span)
                self._check_args_only(e)
                return ERROR
        ft = self.check_expr(f)
        return self.call_value(e, f, ft)

    def _check_args_only(self, e: ast.Call) -> None:
        for a in e.args:
            self.check_expr(a.value)

    def call_value(self, e: ast.Call, callee: ast.Expr, ft: Type) -> Type:
        if is_error(ft):
            self._check_args_only(e)
            return ERROR
        if not isinstance(ft, FnType):
            self.error("E0301", f"`{ft}` is not a function", callee.span)
            self._check_args_only(e)
            return ERROR
        names = [f"arg{i}" for i in range(len(ft.params))]
        got = self.bind_args(e, names, [True] * len(names), "this function")
        if got is None:
            return ERROR
        args = []
        for n, pt in zip(names, ft.params, strict=True):
            conv = self.check_against(got[0][n].value, pt, "this argument", code="E0501")
            args.append(BoundArg(n, pt, got[0][n].value, conversion=conv))
        e.target = ClosureTarget(callee, ft, args)
        return ft.ret

    # ------------------------------------------------------------------ primitives

    def call_struct(self, e: ast.Call, s: StructInfo) -> Type:
        required = [d is None for d in s.field_defaults]
        got = self.bind_args(e, s.field_names, required, f"`{s.name}`", s.node.span)
        if got is None:
            return ERROR
        binder = Binder(self.conforms)
        args = []
        for n, ft, d in zip(s.field_names, s.field_types, s.field_defaults, strict=True):
            a = got[0].get(n)
            node = a.value if a is not None else d
            t = self.check_expr(node, None if has_generic_parts(ft) else ft) if a is not None else d.ty
            conv = self._match_arg(binder, ft, t, node, f"field `{n}` of `{s.name}`", a is not None)
            args.append(BoundArg(n, ft, a.value if a else None, None if a else d, conversion=conv))
        e.target = StructTarget(s, args)
        return StructType(s.name)

    def _match_arg(self, binder: Binder, declared: Type, t: Type, node: ast.Expr, what: str,
                   given: bool, decl_notes: tuple = ()) -> Conversion | None:
        want = binder.substitute(declared)
        if given and isinstance(t, ListType) and t.elem is None and isinstance(want, ListType):
            self.refine_list(node, want)  # an empty list learns its element type from the parameter
        conv = binder.match(declared, t, what, node.span, literal=is_literal(node))
        if conv is not None and given and not self.literal_fits(node, binder.substitute(declared)):
            return None
        if conv is not None:
            if not conv.identity and given:
                node.conversion, node.converted_ty = conv, binder.substitute(declared)
            return conv
        if not given:
            return None
        err = binder.last_error
        if err is not None and err.code in ("E0408", "E0409") and isinstance(t, TensorType):
            notes = []
            if err.related is not None and err.related.origin is not None:
                notes.append(Note(f"'{err.message.split(chr(39))[1]}' was bound here", err.related.origin))
            self.error(err.code, err.message, node.span, *notes, *decl_notes)
        else:
            self.report_mismatch(node.span, t, binder.display(declared), what, *decl_notes, code="E0501")
        return None

    def call_function(self, e: ast.Call, info: FunctionInfo, expected,
                      receiver: ast.Expr | None = None) -> Type:
        names, types, defaults = info.param_names, info.param_types, info.defaults
        if receiver is not None:
            names, types, defaults = names[1:], types[1:], defaults[1:]
        desc = f"`{info.name}`"
        got = self.bind_args(e, names, [d is None for d in defaults], desc, info.span)
        if got is None:
            return ERROR
        binder = Binder(self.conforms)
        convs: list[Conversion | None] = []
        args: list[BoundArg] = []
        failed = False
        for n, declared, d, p in zip(names, types, defaults, info.node.params[-len(names):] if names else [],
                                     strict=True):
            a = got[0].get(n)
            node = a.value if a is not None else d
            if a is not None:
                hint = binder.substitute(declared) if isinstance(declared, FnType) else \
                    (None if has_generic_parts(declared) else declared)
                t = self.check_expr(node, hint)
            else:
                t = d.ty if d.ty is not None else ERROR
            if isinstance(declared, TypeType):
                v = self.const_value(node)
                if isinstance(v, DTypeConst):
                    binder.bind_dtype(n, v.name)
                elif not is_error(t):
                    self.error("E0501", f"argument `{n}` of {desc} must be a dtype constant (`float16`)",
                               node.span)
                    failed = True
            note = Note(f"parameter `{n}` is declared as `{declared}`", p.span)
            conv = self._match_arg(binder, declared, t, node, f"argument `{n}` of {desc}", a is not None,
                                   (note,))
            failed |= conv is None
            convs.append(conv)
            args.append(BoundArg(n, declared, a.value if a else None, None if a else d, conversion=conv))
            failed |= contains_error(t)  # no instance for an argument already in error (no cascades)
        if failed:
            return ERROR
        body_types = [body_param_type(t, c, binder, n) for n, t, c in zip(names, types, convs, strict=True)]
        for b, bt in zip(args, body_types, strict=True):
            b.param_type = bt
            if b.expr is None and isinstance(bt, FnType) and isinstance(b.default_expr, ast.Name):
                # A function default (`quantize_fn = ternary_quantize`) was typed in the generic
                # definition: instantiate it again at this call's function type, on a copy.
                b.default_expr = copy_tree(b.default_expr)
                self.check_expr(b.default_expr, bt)
        if receiver is not None:
            body_types = [receiver.ty] + body_types
        body_ret = body_param_type(info.ret, None, binder, "")
        inst = self.instantiate(info, body_types, dict(binder.dtypes), body_ret, e.span)
        if inst.call_span is None:
            inst.call_span = e.span
        self.note_callee(inst, e.span.start)
        if receiver is not None:
            e.target = MethodTarget(inst, receiver, args)
        else:
            e.target = FunctionTarget(inst, args)
        return binder.substitute(info.ret)

    def function_value(self, e: ast.Name, info: FunctionInfo, expected) -> Type:
        """A function used as a value: instantiated for the expected function type, if generic."""
        if info.generic or any(has_generic_parts(t) for t in info.param_types):
            if not isinstance(expected, FnType) or len(expected.params) > len(info.param_types):
                self.error("E0308", f"the generic function `{info.name}` can only be used as a value where "
                           "its type is known (for example as an argument of a typed parameter)", e.span)
                return ERROR
            self.check_defaults(info)
            binder = Binder(self.conforms)
            convs = []
            for i, declared in enumerate(info.param_types):
                d = info.defaults[i]
                if i >= len(expected.params) and d is None:
                    self.error("E0301", f"`{info.name}` does not fit `{expected}`: its parameter "
                               f"`{info.param_names[i]}` has no default", e.span)
                    return ERROR
                at = expected.params[i] if i < len(expected.params) else (d.ty or ERROR)
                if isinstance(declared, TypeType) and d is not None:
                    v = self.const_value(d)
                    if isinstance(v, DTypeConst):
                        binder.bind_dtype(info.param_names[i], v.name)
                conv = binder.match(declared, at, f"parameter `{info.param_names[i]}`",
                                    literal=i >= len(expected.params) and is_literal(d))
                if conv is None:
                    self.error("E0301", f"`{info.name}` does not fit `{expected}`", e.span,
                               Note(info.signature(), info.span))
                    return ERROR
                convs.append(conv)
            body = [body_param_type(t, c, binder, n)
                    for n, t, c in zip(info.param_names, info.param_types, convs, strict=True)]
            body_ret = body_param_type(info.ret, None, binder, "")
            inst = self.instantiate(info, body, dict(binder.dtypes), body_ret, e.span)
            ret = binder.substitute(info.ret)
            params = tuple(expected.params)
        else:
            inst = self.instantiate(info, list(info.param_types), {}, info.ret)
            ret, params = info.ret, tuple(info.param_types)
        self.note_callee(inst)
        e.target = FunctionRef(inst)
        return FnType(params, ret)

    def instantiate(self, info: FunctionInfo, body_types: list[Type], dtypes: dict[str, str],
                    body_ret: Type, span=None) -> FunctionInstance:
        key = tuple(body_types)
        inst = info.instances.get(key)
        if inst is not None:
            return inst
        first = not info.instances
        parent = self.ctx.instance
        depth = parent.depth + 1 if parent is not None and len(info.instances) > 0 else 0
        node = info.node if first else copy_tree(info.node)
        inst = FunctionInstance(info, key, list(body_types), body_ret, node.params, node.body,
                                dtype_consts={k: v for k, v in dtypes.items() if k in info.param_names},
                                depth=depth)
        if depth > MAX_INSTANTIATION_DEPTH:
            # Each recursive call of a generic function with new argument types makes a new instance;
            # past the limit the body is not checked again, so checking always ends.
            inst.checked = True
            if not self.instantiation_limit_reported:
                self.instantiation_limit_reported = True
                shown = ", ".join(str(t) for t in body_types)
                self.error("E0508", f"instantiating `{info.name}` for ({shown}) nests more than "
                           f"{MAX_INSTANTIATION_DEPTH} instances deep: a recursive call that changes its "
                           "arguments' types never ends", span or info.node.span)
        for i, t in enumerate(body_types):
            if isinstance(t, TensorType) and isinstance(t.shape, tuple):
                for axis, d in enumerate(t.shape):
                    if isinstance(d, str) and d not in inst.dim_sources:
                        inst.dim_sources[d] = (i, axis)
        owner = self.env.struct(info.owner) if info.owner else None
        for fname, ft in zip(owner.field_names, owner.field_types, strict=True) if owner else ():
            if isinstance(ft, TensorType) and isinstance(ft.shape, tuple):
                for axis, d in enumerate(ft.shape):
                    if isinstance(d, str) and d not in inst.dim_sources and d not in inst.field_dim_sources:
                        inst.field_dim_sources[d] = (fname, axis)
        info.instances[key] = inst
        if node.body is None:
            inst.checked = True
        return inst

    def conforms(self, struct_name: str, trait_name: str) -> bool:
        s, tr = self.env.struct(struct_name), self.env.trait(trait_name)
        if s is None or tr is None:
            return False
        for name, m in tr.methods.items():
            sm = s.methods.get(name)
            if sm is None and m.node.body is not None:
                continue  # the trait's default body serves
            if sm is None or len(sm.param_types) != len(m.param_types):
                return False
            for a, b in zip(sm.param_types[1:], m.param_types[1:], strict=True):
                if convert(b, a) is None:
                    return False
            if convert(sm.ret, m.ret) is None:
                return False
        return True
