"""Lowering of function values: closures (`fn(x) { ... }`), named functions used as values, calls through
a value, and the cells that let closures capture variables by reference.

In: `ast.Closure` expressions, `Name`s denoting functions, `ClosureTarget` calls that no compile-time
binding resolves, and the `FunctionLowerer`. Out: for each closure, an IR function
`<enclosing>.closure<k>(env, params...)` whose body reads the captured values from `env`, and at the
closure expression a `make_closure` op building `{code, env}` (docs/runtime.md "Objects"); `call_value`
ops for calls through a value.

Capture is by reference, as in Python: a variable that a closure captures and that is assigned anywhere
(in the function or in a closure) lives in a *cell* (a one-field object, `$cell.<T>`), and every read and
write of it goes through the cell, so the closure and the function see the same variable. A captured
variable nobody assigns is copied into the environment (the same thing, without the cell).
"""

from __future__ import annotations

from ..syntax import ast
from .lowering import NotAvailable, assigned_names, ir_type
from .nodes import Block, Function, Value
from .types import FnValTy, IRType, StructLayout, StructTy, UnitTy

CELL_PREFIX = "$cell."


def _pattern_names(p) -> set[str]:
    if isinstance(p, ast.NamePattern):
        return {p.name}
    if isinstance(p, ast.TuplePattern):
        return set().union(*(_pattern_names(x) for x in p.elems)) if p.elems else set()
    return set()


def free_names(closure: ast.Closure) -> list[str]:
    """Names a closure's body uses that it does not bind itself (in order of first use)."""
    bound = {p.name for p in closure.params}
    used: list[str] = []
    for n in ast.walk(closure.body):
        if isinstance(n, (ast.Let, ast.For)):
            bound |= _pattern_names(n.target)
        elif isinstance(n, ast.Closure):
            bound |= {p.name for p in n.params}
        elif isinstance(n, ast.Name) and n.name not in used:
            used.append(n.name)
    return [u for u in used if u not in bound]


def boxed_names(stmts: list) -> set[str]:
    """Variables that need a cell: captured by some closure in `stmts` and assigned somewhere."""
    captured: set[str] = set()
    for node in stmts:
        for n in ast.walk(node):
            if isinstance(n, ast.Closure):
                captured |= set(free_names(n))
    return captured & assigned_names(stmts) if captured else set()


def cell_type(lw, ty: IRType) -> StructTy:
    name = f"{CELL_PREFIX}{ty}"
    lw.program.module.structs.setdefault(name, StructLayout(name, [("value", ty)]))
    return StructTy(name)


def is_cell(v: Value) -> bool:
    return isinstance(v.type, StructTy) and v.type.name.startswith(CELL_PREFIX)


def new_cell(lw, value: Value, span) -> Value:
    ty = cell_type(lw, value.type)
    return lw.b.op("new_struct", [value], [ty], {"struct": ty.name}, span).result


def read_cell(lw, cell: Value, span) -> Value:
    inner = lw.program.module.structs[cell.type.name].fields[0][1]
    return lw.b.op("field_get", [cell], [inner], {"index": 0}, span).result


def write_cell(lw, cell: Value, value: Value, span) -> None:
    inner = lw.program.module.structs[cell.type.name].fields[0][1]
    lw.b.op("field_set", [cell, lw.coerce(value, inner, span)], [], {"index": 0}, span)


def _new_function(lw, name: str, env: StructTy, params: list[tuple[str, IRType]], ret: IRType,
                  span) -> Function:
    body = Block([Value(env, "env")] + [Value(t, n) for n, t in params])
    fn = Function(name, body, ret, span=span, source_name=name, param_names=["env", *(n for n, _ in params)],
                  public=False, generic=True, param_origin=list(range(len(params) + 1)))
    lw.program.module.add(fn)
    return fn


def _closure_name(lw, kind: str) -> str:
    counter = getattr(lw.program, "closure_count", 0) + 1
    lw.program.closure_count = counter
    return f"{lw.fn.name}.{kind}{counter}"


def lower_closure(lw, e: ast.Closure) -> Value:
    from .lower_stmt import FunctionLowerer

    fnty = ir_type(e.ty, e.span)
    if not isinstance(fnty, FnValTy):
        raise NotAvailable("this closure", e.span)
    names = [n for n in free_names(e) if lw.scopes.lookup(n) is not None]
    captured = [lw.scopes.lookup(n) for n in names]
    name = _closure_name(lw, "closure")
    env_name = f"$env.{name}"
    lw.program.module.structs[env_name] = StructLayout(env_name, [(n, v.type) for n, v in zip(names, captured,
                                                                                             strict=True)])
    env = StructTy(env_name)
    params = [(p.name, t) for p, t in zip(e.params, fnty.params, strict=True)]
    fn = _new_function(lw, name, env, params, fnty.ret, e.span)
    inner = FunctionLowerer(lw.program, fn, None)
    inner.closure_of = lw  # (a closure reads top-level variables it does not capture through globals)
    inner.fn_values = dict(getattr(lw, "fn_values", {}))
    inner.boxed = boxed_names(e.body.stmts) | {n for n, v in zip(names, captured, strict=True) if is_cell(v)}
    for i, (n, v) in enumerate(zip(names, captured, strict=True)):
        inner.scopes.define(n, inner.b.op("field_get", [fn.params[0]], [v.type], {"index": i}, e.span).result)
    for (pname, _), v in zip(params, fn.params[1:], strict=True):
        inner.define_var(pname, v, e.span)
    inner.lower_body(e.body.stmts)
    return lw.b.op("make_closure", captured, [fnty], {"fn": name, "env": env_name}, e.span).result


def function_as_value(lw, inst, span) -> Value:
    """A named function (an instance) as a value: a closure with no environment around a small function
    taking the environment argument and calling it."""
    fnty = ir_type(inst_fn_type(inst), span)
    target = lw.program.module.functions.get(inst.mangled())
    if target is None or inst.body is None:
        raise NotAvailable(f"the function '{inst.fn.name}' as a value", span)
    key = ("value", inst.mangled())
    cache = lw.program.__dict__.setdefault("function_values", {})
    name = cache.get(key)
    if name is None:
        name = cache[key] = f"{inst.mangled()}.value"
        env_name = "$env.none"
        lw.program.module.structs.setdefault(env_name, StructLayout(env_name, []))
        fn = _new_function(lw, name, StructTy(env_name), [(f"a{i}", t) for i, t in enumerate(fnty.params)],
                           fnty.ret, span)
        from .builder import Builder
        b = Builder(fn.body, span)
        args = fn.params[1:]
        if [a.type for a in args] != [p.type for p in target.params]:
            raise NotAvailable(f"the function '{inst.fn.name}' as a value of this type", span)
        call = b.call(target.name, args, target.ret_type, span)
        b.ret(None if isinstance(fnty.ret, UnitTy) else call.results[0], span)
    return lw.b.op("make_closure", [], [fnty], {"fn": name, "env": "$env.none"}, span).result


def inst_fn_type(inst):
    from ..check import types as ct
    return ct.FnType(tuple(inst.param_types), inst.ret)


def call_value(lw, fv: Value, args: list[Value], span) -> Value:
    """A call through a function value: one indirect call, the environment as its first argument."""
    ty: FnValTy = fv.type
    if len(args) != len(ty.params):
        raise NotAvailable("this call of a function value", span)
    args = [lw.coerce(a, t, span) for a, t in zip(args, ty.params, strict=True)]
    op = lw.b.op("call_value", [fv, *args], [] if isinstance(ty.ret, UnitTy) else [ty.ret], {}, span)
    return op.results[0] if op.results else lw.b.tuple([], span)


__all__ = ["lower_closure", "function_as_value", "call_value", "boxed_names", "free_names", "new_cell",
           "read_cell", "write_cell", "is_cell"]
