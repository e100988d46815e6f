"""triton_dsl: a compiler for Triton DSL, a statically typed language for ternary neural networks.

Public API only; see README.md. Source goes in, native code comes out (through LLVM).
"""

from .diagnostics import CompileError, Diagnostic

__version__ = "0.1.0"

__all__ = ["CompileError", "Diagnostic", "__version__"]

# Python API (compiling pulls in LLVM only when first used).
from .api import Module, compile, compile_file  # noqa: E402
from .runtime.errors import TritonRuntimeError  # noqa: E402

__all__ += ["Module", "TritonRuntimeError", "compile", "compile_file", "stdlib"]


def __getattr__(name: str):
    if name == "stdlib":  # imported on first use: loading it parses and checks the stdlib sources
        import importlib
        return importlib.import_module(".stdlib", __name__)
    raise AttributeError(f"module 'triton_dsl' has no attribute {name!r}")

from .runtime.ternary import TernaryTensor  # noqa: E402
from .runtime.weights import WeightsFileError, load_weights, save_weights  # noqa: E402

__all__ += ["TernaryTensor", "WeightsFileError", "load_weights", "save_weights"]
