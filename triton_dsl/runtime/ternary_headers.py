"""Trit headers kept alive per Python `TernaryTensor`, so that weights are re-laid out once, not per call.

In: a `TernaryTensor` passed to a compiled function. Out: `argument_header(tt) -> int`, a new reference
to the trit header this thread keeps for `tt` (made on first use with `interop.ternary_to_header`).
Generated matmul code caches the kernels' re-laid-out copy of the weights in the header's `aux` slot
(codegen/ternary_matmul.py); a header made afresh for every call would lose it and pay a relayout
(tens of ms for 4096×4096) each time. The kept header dies with the `TernaryTensor` (weak reference) or
with the thread.

Why per thread: header refcounts are not atomic (docs/runtime.md), so two threads must never share one.
A `TernaryTensor` is immutable (its packed bytes are read-only), so the kept header never goes stale.

`kept_header(tt)` (tests): the address of the header kept for `tt` in this thread, or None.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from . import interop

_local = threading.local()


class _Headers(dict):
    """id(TernaryTensor) → (weak reference to it, header address); drops its references when the
    thread's storage goes away."""

    def drop(self, key: int, ref: weakref.ref) -> None:
        entry = self.get(key)
        if entry is not None and entry[0] is ref:
            del self[key]
            _decref(entry[1])

    def __del__(self) -> None:
        for _, addr in self.values():
            _decref(addr)
        self.clear()


def _decref(addr: int) -> None:
    if interop.func is not None:  # module globals may already be gone at interpreter exit
        interop.func("trt_decref")(addr)


def _headers() -> _Headers:
    headers = getattr(_local, "headers", None)
    if headers is None:
        headers = _local.headers = _Headers()
    return headers


def argument_header(tt: Any) -> int:
    """A new reference to the header kept for `tt` (the caller decrefs it after the call)."""
    headers = _headers()
    key = id(tt)
    entry = headers.get(key)
    if entry is not None and entry[0]() is tt:
        interop.func("trt_incref")(entry[1])
        return entry[1]
    addr = interop.ternary_to_header(tt)
    table = weakref.ref(headers)  # not `headers` itself: no cycle through the callback

    def forget(ref: weakref.ref) -> None:
        alive = table()
        if alive is not None:
            alive.drop(key, ref)

    ref = weakref.ref(tt, forget)
    headers[key] = (ref, addr)
    interop.func("trt_incref")(addr)  # one reference for the table, one for the caller
    return addr


def kept_header(tt: Any) -> int | None:
    entry = _headers().get(id(tt))
    return entry[1] if entry is not None and entry[0]() is tt else None
