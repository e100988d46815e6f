"""triton_dsl: a compiler for Triton DSL, a statically typed language for ternary neural networks.

Public API only; see README.md. Source goes in, native code comes out (through LLVM): `compile` /
`compile_file` give a `Module` whose functions run on numpy arrays; `TernaryTensor` is the packed
ternary tensor; `save_weights` / `load_weights` handle weight files; `stdlib` is the standard library.
"""

from .api import Module, compile, compile_file
from .diagnostics import CompileError, Diagnostic
from .runtime.errors import TritonRuntimeError
from .runtime.ternary import TernaryTensor
from .runtime.weights import WeightsFileError, load_weights, save_weights

__version__ = "0.1.0"

__all__ = [
    "CompileError", "Diagnostic", "Module", "TernaryTensor", "TritonRuntimeError", "WeightsFileError",
    "__version__", "compile", "compile_file", "load_weights", "save_weights", "stdlib",
]


def __getattr__(name: str):
    # `triton_dsl.stdlib` is imported on first use: loading it parses and checks the stdlib sources.
    if name == "stdlib":
        import importlib

        return importlib.import_module(".stdlib", __name__)
    raise AttributeError(f"module 'triton_dsl' has no attribute {name!r}")
