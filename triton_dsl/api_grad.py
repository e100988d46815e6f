"""`triton_dsl.value_and_grad`: the value of a DSL function and its gradients, from Python.

In: a function of a compiled module (`module.loss`) or of the stdlib (`triton_dsl.stdlib.mse_loss`),
and which arguments to differentiate (`argnums`). Out: a Python callable giving `(value, grads)` as numpy
arrays. It compiles, once per argument signature, a DSL wrapper next to the function's source:

    fn tdsl_value_and_grad(a0: T0, a1: T1) -> Tuple<R, T0> {
        let d0 = a0.requires_grad_()      # a leaf sharing a0's memory
        let v = f(d0, a1)
        backward(v)
        return (v, d0.grad)
    }

so the forward, the backward and the gradients all run as native code (docs/autodiff.md).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from .api_wrappers import type_of
from .diagnostics import CompileError

WRAPPER = "tdsl_value_and_grad"
_lock = threading.Lock()
_compiled: dict[tuple, object] = {}


def _owner(fn) -> tuple[str, str | None, str]:
    """(function name, source text to compile next to, source name) of a module or stdlib function."""
    module = getattr(fn, "_module", None)
    if module is not None:
        text = module.__dict__.get("_source_text")
        if text is None:
            raise TypeError("value_and_grad needs a module compiled from source text (triton_dsl.compile)")
        return fn.name, text, module._name
    name = getattr(fn, "__name__", None)
    from . import stdlib
    if name is None or name not in stdlib.names():
        raise TypeError(f"value_and_grad takes a DSL function (module.fn or triton_dsl.stdlib.fn), "
                        f"got {fn!r}")
    return name, "", "<stdlib>"


def value_and_grad(fn, argnums: int | Sequence[int] = 0) -> Callable:
    """`value_and_grad(module.f, argnums=(0, 1))(x, y)` -> `(f(x, y), (df/dx, df/dy))`; with an int
    `argnums` the gradient is one array. `f` must give a one-element float result."""
    name, prefix, source_name = _owner(fn)
    many = not isinstance(argnums, int)
    nums = tuple(argnums) if many else (argnums,)

    def call(*args):
        for i in nums:
            if not -len(args) <= i < len(args):
                raise IndexError(f"argnums {i} is out of range for {len(args)} arguments")
        wanted = sorted({i % len(args) for i in nums})
        params = [type_of(a) for a in args]
        for i in wanted:
            if not params[i].startswith("Tensor<float") and params[i] not in ("float32", "float64"):
                raise TypeError(f"argument {i} of {name} is `{params[i]}`: only floating-point values have "
                                "gradients")
        key = (name, prefix, tuple(params), tuple(wanted))
        with _lock:
            module = _compiled.get(key)
            if module is None:
                module = _compiled[key] = _compile(name, prefix, source_name, params, wanted)
        value, *grads = getattr(module, WRAPPER)(*args)
        by_index = dict(zip(wanted, grads, strict=True))
        out = tuple(by_index[i % len(args)] for i in nums)
        return value, (out if many else out[0])

    call.__name__ = f"value_and_grad({name})"
    return call


def _compile(name: str, prefix: str, source_name: str, params: list[str], wanted: list[int]):
    from . import api
    from .pipeline import check_source
    from .source import Source
    from .syntax import ast

    decl = ", ".join(f"a{i}: {t}" for i, t in enumerate(params))
    lines = []
    for i in wanted:
        if params[i].startswith("Tensor"):
            lines.append(f"    let d{i} = a{i}.requires_grad_()")
        else:  # a float scalar: differentiate through a rank-0 leaf
            lines.append(f"    let d{i} = tensor(a{i}).requires_grad_()")
    args = ", ".join(f"d{i}" if i in wanted else f"a{i}" for i in range(len(params)))
    head = f"{prefix}\nfn {WRAPPER}({decl}) {{\n" + "\n".join(lines)
    probe_text = f"{head}\n    let v = {name}({args})\n}}\n"
    probe = check_source(Source(source_name, probe_text))
    if not probe.ok:
        raise CompileError([d for d in probe.diagnostics if d.severity == "error"])
    wrapper = next(it for it in probe.program.items if isinstance(it, ast.FnDef) and it.name == WRAPPER)
    value_ty = [n for n in ast.walk(wrapper) if isinstance(n, ast.Let)][-1].value.ty
    grad_tys = [params[i] if params[i].startswith("Tensor") else f"Tensor<{params[i]}, []>" for i in wanted]
    ret = ", ".join([str(value_ty), *grad_tys])
    grads = ", ".join(f"d{i}.grad" for i in wanted)
    body = (f"fn {WRAPPER}({decl}) -> Tuple<{ret}> {{\n" + "\n".join(lines)
            + f"\n    let v = {name}({args})\n    backward(v)\n    return (v, {grads})\n}}\n")
    return api.compile(f"{prefix}\n{body}", name=source_name)


__all__ = ["value_and_grad"]
