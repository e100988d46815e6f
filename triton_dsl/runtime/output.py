"""Where native `print` output goes when programs run inside this Python process.

In: nothing. Out: `install_python_output()` points the runtime's process-wide output callback
(`trt_set_output`) at a ctypes callback writing to the *current* `sys.stdout` (so pytest's `capsys`, a
REPL or a redirected stdout all see program output). `library.load_runtime` installs it; ahead-of-time
executables have no Python and keep the runtime default (`write(1, ...)`).
"""

from __future__ import annotations

import ctypes
import sys


def _write(data: int, n: int) -> None:
    sys.stdout.write(ctypes.string_at(data, n).decode("utf-8", "replace"))


_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int64)(_write)


def install_python_output(lib) -> None:
    lib.cfunc("trt_set_output", None, ctypes.c_void_p)(ctypes.cast(_CALLBACK, ctypes.c_void_p))
