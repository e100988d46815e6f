"""Errors raised by native code, seen from Python.

In: a context (`Context`, the ctypes mirror of `trt_ctx`) after a call into native code. Out:
`TritonRuntimeError` (message, file, line, col, kind, and `frames`: the call sites the error unwound
through, innermost first, each (file, line, col)) raised by `raise_if_error(ctx)`.
"""

from __future__ import annotations

import ctypes

from ..abi import layout


class Frame(ctypes.Structure):
    """One call site of a context's call trace (docs/runtime.md "Context")."""

    _fields_ = [("file", ctypes.c_char_p), ("line", ctypes.c_int32), ("col", ctypes.c_int32),
                ("width", ctypes.c_int32), ("pad", ctypes.c_int32)]


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
        ("frame_count", ctypes.c_int32),
        ("frame_pad", ctypes.c_int32),
        ("frames", Frame * layout.MAX_FRAMES),
    ]


assert ctypes.sizeof(Context) == layout.CTX_SIZE


class TritonRuntimeError(RuntimeError):
    """A run-time error of a Triton DSL program (shape mismatch, index out of range, panic, ...)."""

    def __init__(self, message: str, file: str | None = None, line: int = 0, col: int = 0,
                 kind: str = "runtime error", frames: list[tuple[str, int, int]] | None = None,
                 widths: list[int] | None = None):
        self.message = message
        self.frames = list(frames or [])  # call sites, innermost first: (file, line, col)
        self.widths = list(widths or [1] * len(self.frames))  # each call's length in columns
        self.file = file
        self.line = line
        self.col = col
        self.kind = kind
        super().__init__(self._render())

    def _render(self) -> str:
        head = f"{self.file}:{self.line}:{self.col}: error: {self.message}" if self.file and self.line \
            else self.message
        notes = [f"{file}:{line}:{col}: note: called from here" for file, line, col in self.frames]
        return "\n".join([head, *notes])


def raise_if_error(ctx: Context) -> None:
    """Raise the pending error of `ctx` (and clear it) if there is one."""
    if ctx.code == 0:
        return
    message = ctx.message.decode("utf-8", "replace")
    file = ctx.file.decode("utf-8", "replace") if ctx.file else None
    kind = layout.ERROR_KINDS.get(ctx.code, "runtime error")
    frames = [ctx.frames[i] for i in range(min(ctx.frame_count, layout.MAX_FRAMES))]
    sites = [(f.file.decode("utf-8", "replace") if f.file else "", f.line, f.col) for f in frames]
    err = TritonRuntimeError(message, file, ctx.line, ctx.col, kind, sites, [f.width for f in frames])
    ctx.code = ctx.line = ctx.col = ctx.frame_count = 0
    ctx.file = None
    ctx.message = b""
    raise err
