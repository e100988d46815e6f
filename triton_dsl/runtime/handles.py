"""The table of Python objects that native tensor headers borrow memory from (no numpy here).

In: objects (numpy arrays) to keep alive while a header borrows their buffer. Out: `keep(obj) -> handle`
(the header's `owner`), `release(handle)`, the ctypes callback the runtime calls when a borrowing header
dies (`install_release_callback`, run when the memory part of the runtime is loaded), `borrowed_count()`.
Separate from `interop` so that loading the runtime does not import numpy (a program run from the cache
never needs it).
"""

from __future__ import annotations

import ctypes
import itertools
import threading

_handles: dict[int, object] = {}
_handle_ids = itertools.count(1)
_handles_lock = threading.Lock()


def keep(obj: object) -> int:
    """A new handle keeping `obj` alive until `release(handle)`."""
    handle = next(_handle_ids)
    with _handles_lock:
        _handles[handle] = obj
    return handle


def release(handle: int) -> None:
    with _handles_lock:
        _handles.pop(handle, None)


_RELEASE_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int64)(release)


def install_release_callback(lib) -> None:
    """Called when the runtime's memory functions are loaded: the runtime calls `release(owner)` when a
    borrow ends."""
    lib.cfunc("trt_set_release", None, ctypes.c_void_p)(ctypes.cast(_RELEASE_CALLBACK, ctypes.c_void_p))


def borrowed_count() -> int:
    """How many objects native headers currently keep alive (for leak tests)."""
    return len(_handles)
