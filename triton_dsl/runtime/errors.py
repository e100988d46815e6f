"""Errors raised by native code, seen from Python.

In: a context (`Context`, the ctypes mirror of `trt_ctx`) after a call into native code. Out:
`TritonRuntimeError` (message, file, line, col, kind) raised by `raise_if_error(ctx)`.
"""

from __future__ import annotations

import ctypes

from . import layout


class Context(ctypes.Structure):
    """The ctypes mirror of `trt_ctx` (docs/runtime.md "Context")."""

    _fields_ = [
        ("code", ctypes.c_int32),
        ("line", ctypes.c_int32),
        ("col", ctypes.c_int32),
        ("flags", ctypes.c_int32),
        ("file", ctypes.c_char_p),
        ("output", ctypes.c_void_p),
        ("user", ctypes.c_void_p),
        ("message", ctypes.c_char * layout.MESSAGE_SIZE),
    ]


assert ctypes.sizeof(Context) == layout.CTX_SIZE


class TritonRuntimeError(RuntimeError):
    """A run-time error of a Triton DSL program (shape mismatch, index out of range, panic, ...)."""

    def __init__(self, message: str, file: str | None = None, line: int = 0, col: int = 0,
                 kind: str = "runtime error"):
        self.message = message
        self.file = file
        self.line = line
        self.col = col
        self.kind = kind
        super().__init__(self._render())

    def _render(self) -> str:
        if self.file and self.line:
            return f"{self.file}:{self.line}:{self.col}: error: {self.message}"
        return self.message


def raise_if_error(ctx: Context) -> None:
    """Raise the pending error of `ctx` (and clear it) if there is one."""
    if ctx.code == 0:
        return
    message = ctx.message.decode("utf-8", "replace")
    file = ctx.file.decode("utf-8", "replace") if ctx.file else None
    kind = layout.ERROR_KINDS.get(ctx.code, "runtime error")
    err = TritonRuntimeError(message, file, ctx.line, ctx.col, kind)
    ctx.code = ctx.line = ctx.col = 0
    ctx.file = None
    ctx.message = b""
    raise err
