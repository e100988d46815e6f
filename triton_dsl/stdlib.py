"""The standard library as a Python module: `triton_dsl.stdlib.<function>(...)`.

In: attribute access by function name. Out: a callable per stdlib function. The stdlib's functions are
declarations until their bodies land (the stdlib issue): calling one raises `CompileError` with an
E0901 "... is not available yet" diagnostic pointing at its declaration — never a wrong result.
Names the stdlib does not define raise AttributeError.
"""

from __future__ import annotations

from collections.abc import Callable

from .diagnostics import CompileError, Diagnostic


def _stdlib_env():
    from .check.stdlib_env import stdlib_env
    return stdlib_env()


def names() -> list[str]:
    """Every function the stdlib declares or defines."""
    env = _stdlib_env()
    return sorted(set(env.functions) | set(env.declarations))


def _function(name: str) -> Callable:
    env = _stdlib_env()
    info = env.functions.get(name) or env.declarations.get(name)
    if info is None:
        raise AttributeError(f"the standard library has no function '{name}'")

    def call(*args, **kwargs):
        if info.node.body is None:
            raise CompileError([Diagnostic("E0901", f"the library function '{name}' is not available yet",
                                           info.span)])
        return _compiled_call(name, args, kwargs)

    call.__name__ = name
    call.__doc__ = info.signature()
    return call


_compiled: dict[tuple, object] = {}


def _type_of(value) -> str:
    """How a Python argument is spelled as a parameter type of the generated wrapper."""
    import numpy as np

    from .runtime.ternary import TernaryTensor

    if isinstance(value, TernaryTensor):
        return "TernaryTensor<trit, [" + ", ".join("?" for _ in value.shape) + "]>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):  # e.g. ternary_quantize(w, method="twn")
        return "str"
    if isinstance(value, int):
        return "int32"
    if isinstance(value, float):
        return "float32"
    arr = np.asarray(value)
    dtype = "float32" if arr.dtype == np.float64 and not isinstance(value, np.ndarray) else str(arr.dtype)
    if arr.ndim == 0:
        return dtype
    return f"Tensor<{dtype}, [" + ", ".join("?" for _ in arr.shape) + "]>"


def _compiled_call(name: str, args: tuple, kwargs: dict):
    """Call a stdlib function from Python: a small wrapper program with the arguments' types is
    compiled once per signature (its return type is learnt by checking a probe first)."""
    from . import api
    from .pipeline import check_source
    from .source import Source
    from .syntax import ast

    params = [(f"a{i}", _type_of(v)) for i, v in enumerate(args)]
    params += [(k, _type_of(v)) for k, v in kwargs.items()]
    key = (name, tuple(params))
    module = _compiled.get(key)
    if module is None:
        decl = ", ".join(f"{p}: {t}" for p, t in params)
        call_args = ", ".join([f"a{i}" for i in range(len(args))] + [f"{k}={k}" for k in kwargs])
        probe_text = f"fn probe({decl}) {{\n    let r = {name}({call_args})\n}}\n"
        probe = check_source(Source("<stdlib call>", probe_text))
        if not probe.ok:
            raise CompileError([d for d in probe.diagnostics if d.severity == "error"])
        let = next(n for n in ast.walk(probe.program) if isinstance(n, ast.Let))
        ret = str(let.value.ty)
        source = f"fn call({decl}) -> {ret} {{\n    return {name}({call_args})\n}}\n"
        module = api.compile(source, name="<stdlib call>")
        _compiled[key] = module
    return module.call(*args, **kwargs)


def __getattr__(name: str) -> Callable:
    if name.startswith("_"):
        raise AttributeError(name)
    return _function(name)


def __dir__() -> list[str]:
    return names()
