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
from .prim_builtin_rules import EXPECTED_ARGS
from .prim_rules import is_literal
from .primitives import (
    LIST_METHODS,
    TENSOR_METHODS,
    Arg,
    DTypeConst,
    Primitive,
    RuleCall,
    RuleError,
    lookup,
)
from .resolve import did_you_mean
from .targets import (
    BoundArg,
    ClosureTarget,
    FunctionRef,
    FunctionTarget,
    MethodTarget,
    PrimitiveTarget,
    StructTarget,
    TraitMethodTarget,
)
from .types import (
    BOOL,
    ERROR,
    FLOAT32,
    INT32,
    NONE,
    STR,
    UNIT,
    FnType,
    ListType,
    NeverType,
    OptionalType,
    StructType,
    TensorType,
    TraitType,
    Type,
    TypeType,
    is_error,
)


def type_of_const(v) -> Type:
    if v is None:
        return NONE
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int):
        return INT32
    if isinstance(v, float):
        return FLOAT32
    if isinstance(v, str):
        return STR
    if isinstance(v, DTypeConst):
        return TypeType(v.name)
    return ERROR


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
            conv = self.check_against(got[0][n].value, pt, "this argument")
            args.append(BoundArg(n, pt, got[0][n].value, conversion=conv))
        e.target = ClosureTarget(callee, ft, args)
        return ft.ret

    # ------------------------------------------------------------------ primitives

    def call_primitive(self, e: ast.Call, prim: Primitive, receiver: list[ast.Expr], expected) -> Type:
        names = prim.param_names()
        required = [p.required for p in prim.params]
        if receiver:  # a method: the receiver fills the first parameter
            names, required = names[1:], required[1:]
        desc = f"`{prim.name}`"
        got = self.bind_args(e, names, required, desc, variadic=prim.variadic)
        if got is None:
            return ERROR
        bound, extra = got
        rargs: dict[str, Arg] = {}
        out: list[BoundArg] = []
        for i, p in enumerate(prim.params):
            if receiver and i == 0:
                node = receiver[0]
                rargs[p.name] = self._prim_arg(node, node.ty, True)
                out.append(BoundArg(p.name, node.ty, node))
                continue
            a = bound.get(p.name)
            if a is None:
                rargs[p.name] = Arg(type_of_const(p.default), p.default)
                out.append(BoundArg(p.name, type_of_const(p.default), default_value=p.default))
                continue
            hint = EXPECTED_ARGS.get((prim.name, p.name))
            t = self.check_expr(a.value, hint(rargs) if hint else None)
            if hint is not None:
                self.coerce(a.value, t, hint(rargs), f"argument `{p.name}` of `{prim.name}`")
            rargs[p.name] = self._prim_arg(a.value, t, True)
            out.append(BoundArg(p.name, t, a.value))
        varargs = []
        for a in extra:
            t = self.check_expr(a.value)
            if t == UNIT or isinstance(t, NeverType):
                self.error("E0301", "this expression has no value to print", a.value.span)
            varargs.append(a.value)
        if any(is_error(a.ty) for a in rargs.values()):
            return ERROR
        rc = RuleCall(prim.name, rargs, [self._prim_arg(v, v.ty, True) for v in varargs], e.span)
        try:
            result = prim.rule(rc)
        except RuleError as exc:
            self.error(exc.code, exc.message, exc.span or e.span)
            result = ERROR
        e.target = PrimitiveTarget(prim, out, varargs, rc.info)
        return result

    def _prim_arg(self, node: ast.Expr, t: Type, given: bool) -> Arg:
        const = self.const_value(node)
        length = self.list_length(node)
        return Arg(t, const, node.span, given, shape=self.read_shape(node),
                   length=length if isinstance(length, int) else None,
                   nest=self.list_nest(node) if isinstance(t, ListType) else None, node=node)

    # ------------------------------------------------------------------ methods

    def check_method_call(self, e: ast.Call, f: ast.Attribute, expected) -> Type:
        t = self.check_expr(f.obj)
        if is_error(t):
            self._check_args_only(e)
            return ERROR
        if isinstance(t, StructType):
            info = self.env.struct(t.name)
            if info is not None and f.name in info.methods:
                return self.call_function(e, info.methods[f.name], expected, receiver=f.obj)
            ft = info.field_type(f.name) if info else None
            if isinstance(ft, FnType):
                f.ty = ft
                return self.call_value(e, f, ft)
            cands = list(info.methods) + info.field_names if info else []
            self.error("E0304", f"`{t}` has no method `{f.name}`", f.span, *did_you_mean(f.name, cands))
            self._check_args_only(e)
            return ERROR
        if isinstance(t, TraitType):
            return self.call_trait_method(e, f, t)
        if isinstance(t, TensorType) and f.name in TENSOR_METHODS:
            return self.call_primitive(e, lookup(TENSOR_METHODS[f.name]), [f.obj], expected)
        if isinstance(t, ListType) and f.name in LIST_METHODS:
            return self.call_append(e, f)
        cands = list(TENSOR_METHODS) if isinstance(t, TensorType) else list(LIST_METHODS) \
            if isinstance(t, ListType) else []
        if isinstance(t, OptionalType):
            self.error("E0303", f"`{t}` may be None: check `!= None` before calling `.{f.name}`", f.span)
        else:
            self.error("E0304", f"`{t}` has no method `{f.name}`", f.span, *did_you_mean(f.name, cands))
        self._check_args_only(e)
        return ERROR

    def call_append(self, e: ast.Call, f: ast.Attribute) -> Type:
        got = self.bind_args(e, ["value"], [True], "`append`")
        if got is None:
            return ERROR
        value = got[0]["value"].value
        lt = f.obj.ty
        if lt.elem is None:
            vt = self.check_expr(value)
            if not is_error(vt):
                self.refine_list(f.obj, ListType(vt))
            conv = Conversion()
        else:
            conv = self.check_against(value, lt.elem, "this list's `append`")
        e.target = PrimitiveTarget(lookup("append"), [BoundArg("items", f.obj.ty, f.obj),
                                                      BoundArg("value", value.ty, value, conversion=conv)])
        return UNIT

    def refine_list(self, e: ast.Expr, lt: ListType) -> None:
        """An empty list literal's element type, learned from a later `.append` or use."""
        e.ty = lt
        if isinstance(e, ast.Name):
            var = self.scope.lookup(e.name) or self.env.global_var(e.name)
            if var is not None and isinstance(var.ty, ListType) and var.ty.elem is None:
                var.ty = lt
                if var.node is not None:
                    var.node.ty = lt

    def call_trait_method(self, e: ast.Call, f: ast.Attribute, t: TraitType) -> Type:
        trait = self.env.trait(t.name)
        m = trait.methods.get(f.name) if trait else None
        if m is None:
            cands = list(trait.methods) if trait else []
            self.error("E0304", f"trait `{t}` has no method `{f.name}`", f.span, *did_you_mean(f.name, cands))
            self._check_args_only(e)
            return ERROR
        names, types = m.param_names[1:], m.param_types[1:]
        got = self.bind_args(e, names, [d is None for d in m.defaults[1:]], f"`{t}.{f.name}`", m.span)
        if got is None:
            return ERROR
        args = []
        for n, pt, d in zip(names, types, m.defaults[1:], strict=True):
            a = got[0].get(n)
            if a is None:
                args.append(BoundArg(n, pt, default_expr=d))
                continue
            conv = self.check_against(a.value, pt, f"argument `{n}` of `{t}.{f.name}`")
            args.append(BoundArg(n, pt, a.value, conversion=conv))
        e.target = TraitMethodTarget(trait, f.name, f.obj, args)
        return m.ret

    # ------------------------------------------------------------------ functions and structs

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
        conv = binder.match(declared, t, what, node.span, literal=is_literal(node))
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
            self.report_mismatch(node.span, t, binder.display(declared), what, *decl_notes)
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
        if failed:
            return ERROR
        body_types = [body_param_type(t, c, binder, n) for n, t, c in zip(names, types, convs, strict=True)]
        for b, bt in zip(args, body_types, strict=True):
            b.param_type = bt
        if receiver is not None:
            body_types = [receiver.ty] + body_types
        body_ret = body_param_type(info.ret, None, binder, "")
        inst = self.instantiate(info, body_types, dict(binder.dtypes), body_ret)
        self.note_callee(inst)
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
            inst = self.instantiate(info, body, dict(binder.dtypes), body_ret)
            ret = binder.substitute(info.ret)
            params = tuple(expected.params)
        else:
            inst = self.instantiate(info, list(info.param_types), {}, info.ret)
            ret, params = info.ret, tuple(info.param_types)
        self.note_callee(inst)
        e.target = FunctionRef(inst)
        return FnType(params, ret)

    def instantiate(self, info: FunctionInfo, body_types: list[Type], dtypes: dict[str, str],
                    body_ret: Type) -> FunctionInstance:
        key = tuple(body_types)
        inst = info.instances.get(key)
        if inst is not None:
            return inst
        first = not info.instances
        node = info.node if first else copy_tree(info.node)
        inst = FunctionInstance(info, key, list(body_types), body_ret, node.params, node.body,
                                dtype_consts={k: v for k, v in dtypes.items() if k in info.param_names})
        for i, t in enumerate(body_types):
            if isinstance(t, TensorType) and isinstance(t.shape, tuple):
                for axis, d in enumerate(t.shape):
                    if isinstance(d, str) and d not in inst.dim_sources:
                        inst.dim_sources[d] = (i, axis)
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
            if sm is None or len(sm.param_types) != len(m.param_types):
                return False
            for a, b in zip(sm.param_types[1:], m.param_types[1:], strict=True):
                if convert(b, a) is None:
                    return False
            if convert(sm.ret, m.ret) is None:
                return False
        return True
