"""triton_dsl: a compiler for Triton DSL, a statically typed language for ternary neural networks.

Public API only; see README.md. Source goes in, native code comes out (through LLVM): `compile` /
`compile_file` give a `Module` whose functions run on numpy arrays; `TernaryTensor` is the packed
ternary tensor; `save_weights` / `load_weights` handle weight files, `summary` tabulates what a weight
file or program stores (and `triton_dsl.convert` converts weight files); `stdlib` is the standard library;
`load_ipython_extension` is what `%load_ext triton_dsl` calls (the `%triton` / `%%triton` magics).
"""

from typing import TYPE_CHECKING

from .diagnostics import CompileError, Diagnostic
from .runtime.errors import TritonRuntimeError

if TYPE_CHECKING:
    from .api import Module, compile, compile_file
    from .api_grad import value_and_grad
    from .gradcheck import gradcheck
    from .ipython import load_ipython_extension
    from .runtime.ternary import TernaryTensor
    from .runtime.weights import WeightsFileError, load_weights, save_weights
    from .summarize import Summary, summary

__version__ = "0.1.0"

# Imported on first use (PEP 562): `tritonc run` of a cached program never needs numpy or the API.
_LAZY = {"Module": ".api", "compile": ".api", "compile_file": ".api", "TernaryTensor": ".runtime.ternary",
         "WeightsFileError": ".runtime.weights", "load_weights": ".runtime.weights",
         "save_weights": ".runtime.weights", "summary": ".summarize", "Summary": ".summarize",
         "load_ipython_extension": ".ipython", "value_and_grad": ".api_grad",
         "gradcheck": ".gradcheck"}

__all__ = [
    "CompileError", "Diagnostic", "Module", "TernaryTensor", "TritonRuntimeError", "WeightsFileError",
    "Summary", "__version__", "compile", "compile_file", "load_ipython_extension", "load_weights",
    "save_weights", "stdlib", "summary", "value_and_grad", "gradcheck",
]


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    # `triton_dsl.stdlib` is imported on first use: loading it parses and checks the stdlib sources.
    if name == "stdlib":
        return importlib.import_module(".stdlib", __name__)
    raise AttributeError(f"module 'triton_dsl' has no attribute {name!r}")
