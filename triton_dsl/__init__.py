"""triton_dsl: a compiler for Triton DSL, a statically typed language for ternary neural networks.

Public API only; see README.md. Source goes in, native code comes out (through LLVM).
"""

from .diagnostics import CompileError, Diagnostic

__version__ = "0.1.0"

__all__ = ["CompileError", "Diagnostic", "__version__"]
