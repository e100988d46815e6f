"""Lowering of trait objects: a struct converted to a trait type, and method calls through a trait.

In: a struct value meeting a trait-typed slot (a `[Quantizer, ...]` element, a `Quantizer` parameter or
field), a `TraitMethodTarget` call. Out: `to_trait` ops (the struct reference with the struct's method table
for the trait, recorded in `Module.vtables`) and `call_trait` ops (one load from the table and one indirect
call). A method called on a struct known statically never comes here: it is a direct call.
"""

from __future__ import annotations

from .lowering import NotAvailable
from .types import TraitTy, UnitTy


def trait_layout(lw, name: str, span):
    layout = lw.program.module.traits.get(name)
    if layout is None:
        raise NotAvailable(f"values of the trait '{name}'", span)
    return layout


def _method_function(lw, struct: str, trait: str, method: str, params, ret, span) -> str:
    """The IR function of `struct.method` whose signature is the trait's (self, params) -> ret; for a
    method the struct leaves to the trait's default body, a small function calling that body with the
    struct as a trait object."""
    info = lw.program.checked.env.struct(struct)
    m = info.methods.get(method) if info is not None else None
    if m is None:
        return _default_method(lw, struct, trait, method, params, ret, span)
    for inst in m.instances.values():
        fn = lw.program.module.functions.get(inst.mangled())
        if fn is None:
            continue
        if [p.type for p in fn.params[1:]] == list(params) and (fn.ret_type == ret or isinstance(ret, UnitTy)
                                                                and isinstance(fn.ret_type, UnitTy)):
            return fn.name
    what = f"calling `{struct}.{method}` through a trait when its signature differs from the trait's"
    raise NotAvailable(what, span)


def _default_method(lw, struct: str, trait: str, method: str, params, ret, span) -> str:
    from .builder import Builder
    from .lower_stmt import FunctionLowerer
    from .nodes import Block, Function, Value
    from .types import StructTy

    info = lw.program.checked.env.trait(trait)
    default = info.methods.get(method) if info is not None else None
    body_fn = None
    for inst in (default.instances.values() if default is not None and default.node.body is not None else ()):
        fn = lw.program.module.functions.get(inst.mangled())
        if fn is not None and [p.type for p in fn.params] == [TraitTy(trait), *params]:
            body_fn = fn
    if body_fn is None:
        raise NotAvailable(f"the trait's default body of '{method}' (for `{struct}`)", span)
    name = f"{struct}.{method}.{trait}.default"
    if name not in lw.program.module.functions:
        args = [Value(StructTy(struct), "self")] + [Value(t, f"a{i}") for i, t in enumerate(params)]
        fn = Function(name, Block(args), ret, span=span, source_name=method,
                      param_names=[a.hint for a in args], public=False, generic=True,
                      param_origin=list(range(len(args))))
        lw.program.module.add(fn)
        inner = FunctionLowerer(lw.program, fn, None)
        inner.b = Builder(fn.body, span)
        this = to_trait(inner, args[0], TraitTy(trait), span)
        call = inner.b.call(body_fn.name, [this, *args[1:]], ret, span)
        inner.b.ret(None if isinstance(ret, UnitTy) else call.results[0], span)
    return name


class _ProgramOnly:
    """What the helpers need of a lowerer when a table is made outside any function (an entry's)."""

    def __init__(self, program):
        self.program = program


def method_table(program, struct: str, trait: str, span) -> None:
    """Record `Module.vtables[(struct, trait)]` (once): the struct's method for each trait method."""
    lw = _ProgramOnly(program)
    layout = trait_layout(lw, trait, span)
    key = (struct, trait)
    if key not in program.module.vtables:
        table = program.module.vtables[key] = []  # before the entries: a default body converts again
        try:
            table += [_method_function(lw, struct, trait, name, params, ret, span)
                      for name, params, ret in layout.methods]
        except NotAvailable:
            del program.module.vtables[key]
            raise


def to_trait(lw, v, want: TraitTy, span):
    struct = v.type.name
    method_table(lw.program, struct, want.name, span)
    return lw.b.op("to_trait", [v], [want], {"struct": struct, "trait": want.name}, span).result


def lower_trait_call(lw, e, target):
    recv = lw.lower_expr(target.receiver)
    if not isinstance(recv.type, TraitTy):
        raise NotAvailable("this call through a trait", e.span)
    layout = trait_layout(lw, recv.type.name, e.span)
    index = layout.index(target.method)
    _, params, ret = layout.methods[index]
    args = [lw.coerce(lw.bound_arg(a), t, e.span) for a, t in zip(target.args, params, strict=True)]
    op = lw.b.op("call_trait", [recv, *args], [] if isinstance(ret, UnitTy) else [ret],
                 {"trait": recv.type.name, "index": index}, e.span)
    return op.results[0] if op.results else lw.b.tuple([], e.span)
