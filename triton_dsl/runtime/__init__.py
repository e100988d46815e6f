"""The native runtime: tensor headers, memory, errors, printing/formatting, random numbers, reductions,
matmul, shape ops and casts, written in LLVM IR (see docs/runtime.md), plus numpy interop.

Importing this package compiles nothing; `library.load_runtime()` builds the native library on first use.
"""

from .errors import TritonRuntimeError

__all__ = ["TritonRuntimeError"]
