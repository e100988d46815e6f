"""The standard library as a Python module: `triton_dsl.stdlib.<function>(...)`.

In: attribute access by function name. Out: a callable per stdlib function, compiled on first call for
the argument types given (numpy arrays, scalars, TernaryTensors). A function the stdlib only declares
(no body; none today) would raise `CompileError` with an E0901 "... is not available yet" diagnostic
pointing at its declaration — never a wrong result. Names the stdlib does not
define raise AttributeError.
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


def _compiled_call(name: str, args: tuple, kwargs: dict):
    """Call a stdlib function from Python through a wrapper compiled once per argument signature."""
    from .api_wrappers import wrapped_call
    return wrapped_call(name, args, kwargs, prefix="", source_name="<stdlib call>", compiled=_compiled)


def __getattr__(name: str) -> Callable:
    if name.startswith("_"):
        raise AttributeError(name)
    return _function(name)


def __dir__() -> list[str]:
    return names()
