"""Where native `print` output goes when programs run inside this Python process.

In: nothing. Out: `install_python_output()` points the runtime's process-wide output callback
(`trt_set_output`) at a ctypes callback writing to the *current* `sys.stdout` (so pytest's `capsys`, a
REPL or a redirected stdout all see program output). `library.load_runtime` installs it; ahead-of-time
executables have no Python and keep the runtime default (`write(1, ...)`).
"""

from __future__ import annotations

import ctypes
import sys

_write_error: OSError | None = None


def _write(data: int, n: int) -> None:
    # An exception cannot travel back through native code: a failed write (the reader of a pipe went
    # away, `tritonc run prog | head`) is remembered, later output is dropped, and the caller asks for
    # it with `take_write_error()` once the program returns.
    global _write_error
    if _write_error is not None:
        return
    try:
        sys.stdout.write(ctypes.string_at(data, n).decode("utf-8", "replace"))
    except OSError as exc:
        _write_error = exc


def take_write_error() -> OSError | None:
    """The error that stopped program output since the last call, if any (and forget it)."""
    global _write_error
    error, _write_error = _write_error, None
    return error


_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64)(_write)


def install_python_output(lib) -> None:
    lib.cfunc("trt_set_output", None, ctypes.c_void_p)(ctypes.cast(_CALLBACK, ctypes.c_void_p))
