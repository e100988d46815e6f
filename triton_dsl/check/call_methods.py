"""Calls of primitives and methods: tensor methods (`x.unsqueeze(0)`), list `.append` (which also
learns the element type of an empty list literal), trait methods, and the compiler primitives.

In: an `ast.Call` whose callee is a primitive or an `obj.method`. Out: the call's type and `.target`
(`PrimitiveTarget`, `MethodTarget`, `TraitMethodTarget`, `ClosureTarget` for a function-typed field).
"""

from __future__ import annotations

from ..syntax import ast
from .assign import Conversion
from .prim_builtin_rules import ALSO_ACCEPTED, EXPECTED_ARGS
from .primitives import (
    LIST_METHODS,
    TENSOR_METHODS,
    Arg,
    Primitive,
    RuleCall,
    RuleError,
    lookup,
    type_of_const,
)
from .resolve import did_you_mean
from .targets import (
    BoundArg,
    PrimitiveTarget,
    TraitMethodTarget,
)
from .types import (
    ERROR,
    UNIT,
    FnType,
    ListType,
    NeverType,
    OptionalType,
    StructType,
    TensorType,
    TraitType,
    Type,
    is_error,
)


class MethodCallMixin:
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
            also = ALSO_ACCEPTED.get((prim.name, p.name))
            if hint is not None and not (also is not None and also(t, hint(rargs))):
                self.coerce(a.value, t, hint(rargs), f"argument `{p.name}` of `{prim.name}`", code="E0501")
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
        if isinstance(t, ListType) and f.name == "append":
            return self.call_append(e, f)
        if isinstance(t, ListType) and f.name in LIST_METHODS:
            return self.call_primitive(e, lookup(LIST_METHODS[f.name]), [f.obj], expected)
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
            conv = self.check_against(value, lt.elem, "this list's `append`", code="E0501")
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
            conv = self.check_against(a.value, pt, f"argument `{n}` of `{t}.{f.name}`", code="E0501")
            args.append(BoundArg(n, pt, a.value, conversion=conv))
        e.target = TraitMethodTarget(trait, f.name, f.obj, args)
        return m.ret

    # ------------------------------------------------------------------ functions and structs
