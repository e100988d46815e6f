"""Lowering of the autodiff primitives: `backward`, `stop_gradient`/`detach`, `register_hook`, `zero_grad`,
`no_grad`, `copy_`, the attributes `x.grad` / `x.requires_grad`, and `requires_grad=true` on creation.

In: a primitive call (or attribute) and the `FunctionLowerer`. Out: calls into the runtime's autograd
engine (docs/runtime.md "Autodiff"; docs/autodiff.md for the semantics). Lowering any of them marks the
module (`Module.autodiff`), which turns on the passes that record the tape (`passes.lift_scalars`,
`passes.autodiff`): a program that never asks for gradients pays nothing for them.
"""

from __future__ import annotations

from .builder import Builder
from .nodes import Block, Function, Value
from .types import FnValTy, ScalarTy, StructLayout, StructTy, TensorTy, UnitTy

_I8 = ScalarTy("int8")


def mark(lw) -> None:
    lw.program.module.autodiff = True


def as_tensor(lw, v: Value, span) -> Value:
    """A float scalar as a rank-0 tensor (the scalar-lifting pass makes a tracked scalar this tensor)."""
    if isinstance(v.type, ScalarTy):
        return lw.rt(f"trt_scalar_{_suffix(v.type.dtype)}", [v], TensorTy(v.type.dtype, 0), span)
    return v


def _suffix(dtype: str) -> str:
    return {"float16": "f16", "float32": "f32", "float64": "f64"}.get(dtype, dtype)


def flag(lw, fn: str, v: Value, span) -> Value:
    """A runtime predicate (`trt_grad_needed`, `trt_requires_grad`) as a bool."""
    byte = lw.b.rt(fn, [v], _I8, span, no_ctx=True, fallible=False).result
    return lw.b.binary("ne", byte, lw.b.const(0, _I8, span), span)


def requires_grad(lw, t: Value, span) -> Value:
    """`requires_grad=true` on a freshly created tensor: it becomes a leaf of the graph."""
    mark(lw)
    return lw.rt("trt_set_requires_grad", [t], t.type, span, consts=(1,))


def lower_autodiff(lw, name: str, target, args: dict, span) -> Value:
    mark(lw)
    val = lambda p: lw.bound_arg(args[p])  # noqa: E731
    unit = lambda: lw.b.tuple([], span)  # noqa: E731
    if name == "stop_gradient":
        x = val("x")
        if isinstance(x.type, ScalarTy):  # a tracked scalar is a rank-0 tensor after scalar lifting
            if not x.type.is_float:
                return x
            t = lw.rt("trt_detach", [as_tensor(lw, x, span)], TensorTy(x.type.dtype, 0), span)
            return lw.item(t, x.type.dtype, span)
        return lw.rt("trt_detach", [x], x.type, span)
    if name == "requires_grad_":
        return requires_grad(lw, val("x"), span)
    if name == "backward":
        loss = as_tensor(lw, val("loss"), span)
        if args["grad"].given:
            grad = as_tensor(lw, val("grad"), span)
            lw.rt("trt_backward", [loss, grad], ScalarTy("int32"), span)
        else:
            lw.b.rt("trt_backward", [loss], ScalarTy("int32"), span, args=[("v", 0), ("c", None)])
        return unit()
    if name == "zero_grad":
        lw.b.rt("trt_zero_grad", [val("x")], None, span, no_ctx=True, fallible=False)
        return unit()
    if name == "copy_":
        dst = val("x")
        src = lw.to_dtype(val("src"), dst.type.dtype, span)
        lw.rt("trt_copy_into", [dst, src], dst.type, span)
        return unit()
    if name == "register_hook":
        x, hook = val("x"), val("hook")
        wrapped = _returning_grad(lw, hook, span)
        lw.b.rt("trt_register_hook", [x, wrapped], ScalarTy("int32"), span,
                args=[("v", 0), ("code", 1), ("env", 1)])
        return unit()
    if name == "no_grad":
        body = val("body")
        old = lw.b.rt("trt_set_grad_enabled", [lw.b.const(0, _I8, span)], _I8, span, no_ctx=True,
                      fallible=False).result
        ret = body.type.ret
        op = lw.b.op("call_value", [body], [] if isinstance(ret, UnitTy) else [ret], {}, span)
        lw.b.rt("trt_set_grad_enabled", [old], _I8, span, no_ctx=True, fallible=False)
        return op.results[0] if op.results else unit()
    raise AssertionError(name)


def lower_grad_attribute(lw, t: Value, attr: str, want, span) -> Value:
    mark(lw)
    if attr == "grad":
        return lw.rt("trt_tensor_grad", [t], want, span)
    return flag(lw, "trt_requires_grad", t, span)


def _returning_grad(lw, hook: Value, span) -> Value:
    """The runtime calls a hook as `ptr (ctx, env, grad)` and takes a non-null result as the new gradient;
    a DSL hook that returns nothing is wrapped in a closure that calls it and gives `grad` back."""
    ty: FnValTy = hook.type
    if not isinstance(ty.ret, UnitTy):
        return hook
    module = lw.program.module
    count = getattr(lw.program, "closure_count", 0) + 1
    lw.program.closure_count = count
    name = f"{lw.fn.name}.hook{count}"
    env_name = f"$env.{name}"
    module.structs[env_name] = StructLayout(env_name, [("hook", ty)])
    grad_ty = ty.params[0]
    body = Block([Value(StructTy(env_name), "env"), Value(grad_ty, "grad")])
    fn = Function(name, body, grad_ty, span=span, source_name=name, param_names=["env", "grad"], public=False,
                  generic=True, param_origin=[0, 1])
    module.add(fn)
    b = Builder(body, span)
    inner = b.op("field_get", [body.args[0]], [ty], {"index": 0}, span).result
    b.op("call_value", [inner, body.args[1]], [], {}, span)
    b.ret(body.args[1], span)
    return lw.b.op("make_closure", [hook], [FnValTy((grad_ty,), grad_ty)], {"fn": name, "env": env_name},
                   span).result


__all__ = ["lower_autodiff", "lower_grad_attribute", "requires_grad", "as_tensor", "flag"]
