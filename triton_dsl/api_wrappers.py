"""Calling a function for argument types the program never instantiated it with.

In: a function name, the Python arguments of a call, and the source the function lives in (a user's
program, or nothing for the stdlib, which is always in scope). Out: the call's result. A small wrapper
`fn tdsl_wrapper_call(<params typed from the arguments>) -> <R> { return name(<args>) }` is compiled
once per argument signature; R is learnt by checking a probe first. This is how a generic function
(`fn f<S>(x: Tensor<float32, S>)`) gets its instance for the rank and dtype Python passes.
"""

from __future__ import annotations

import threading

from .diagnostics import CompileError

WRAPPER = "tdsl_wrapper_call"
_lock = threading.Lock()


def type_of(value) -> str:
    """How a Python argument is spelled as a parameter type of the generated wrapper."""
    import numpy as np

    from .runtime.ternary import TernaryTensor

    if value is None:
        raise TypeError("None cannot choose an instance of a generic function; pass a value")
    if isinstance(value, TernaryTensor):
        return "TernaryTensor<trit, [" + ", ".join("?" for _ in value.shape) + "]>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):  # e.g. ternary_quantize(w, method="twn")
        return "str"
    if isinstance(value, int):  # beyond int32: int64 (beyond that the argument check refuses it)
        return "int32" if -2 ** 31 <= value < 2 ** 31 else "int64"
    if isinstance(value, float):
        return "float32"
    arr = np.asarray(value)
    dtype = "float32" if arr.dtype == np.float64 and not isinstance(value, np.ndarray) else str(arr.dtype)
    if arr.ndim == 0:
        return dtype
    return f"Tensor<{dtype}, [" + ", ".join("?" for _ in arr.shape) + "]>"


def _is_scalar_sequence(value) -> bool:
    return isinstance(value, (tuple, list)) and bool(value) and all(
        isinstance(v, (bool, int, float)) for v in value)


def signatures(args: tuple, kwargs: dict) -> list[list[tuple[str, str]]]:
    """The wrapper parameter lists to try, in order: Python tuples/lists of numbers as tensors, then
    (if there are any) as fixed-length lists (`stride=(2, 1)` for `stride: [int32, int32]`)."""
    named = [(f"a{i}", v) for i, v in enumerate(args)] + list(kwargs.items())
    as_tensors = [(p, type_of(v)) for p, v in named]
    if not any(_is_scalar_sequence(v) for _, v in named):
        return [as_tensors]
    as_lists = [(p, "[" + ", ".join(type_of(x) for x in v) + "]" if _is_scalar_sequence(v) else t)
                for (p, v), (_, t) in zip(named, as_tensors, strict=True)]
    return [as_tensors, as_lists]


def wrapped_call(name: str, args: tuple, kwargs: dict, *, prefix: str, source_name: str,
                 compiled: dict, opt_level: int = 2, cache: bool = True):
    from . import api
    from .pipeline import check_source
    from .source import Source
    from .syntax import ast

    candidates = signatures(args, kwargs)
    key = (name, tuple(candidates[0]))
    with _lock:
        module = compiled.get(key)
        if module is None:
            call_args = ", ".join([f"a{i}" for i in range(len(args))] + [f"{k}={k}" for k in kwargs])
            first = None
            for params in candidates:
                decl = ", ".join(f"{p}: {t}" for p, t in params)
                probe_text = f"{prefix}\nfn {WRAPPER}({decl}) {{\n    let r = {name}({call_args})\n}}\n"
                probe = check_source(Source(source_name, probe_text))
                first = first or probe
                if probe.ok:
                    break
            if not probe.ok:
                raise CompileError([d for d in first.diagnostics if d.severity == "error"])
            wrapper = next(it for it in probe.program.items
                           if isinstance(it, ast.FnDef) and it.name == WRAPPER)
            let = next(n for n in ast.walk(wrapper) if isinstance(n, ast.Let))
            body = f"fn {WRAPPER}({decl}) -> {let.value.ty} {{\n    return {name}({call_args})\n}}\n"
            module = api.compile(f"{prefix}\n{body}", opt_level=opt_level, cache=cache, name=source_name)
            compiled[key] = module
    return getattr(module, WRAPPER)(*args, **kwargs)
