"""Helpers for the codegen tests: JIT a module with the runtime library loaded, read the error context.

In: LLVM IR text. Out: a `JitModule` (with the runtime library loaded, whose functions generated code
calls); `runtime_error(ctx)` gives (message, file, line, col) of the error a call left in its context,
or None; `call_entry` calls a hand-built IR function's entry point with numpy/scalar arguments.
"""

from __future__ import annotations

import ctypes
import importlib

from triton_dsl import jit
from triton_dsl.codegen.rtabi import CTX_SIZE

__all__ = ["CTX_SIZE", "jit_module", "runtime_error"]

def _load_runtime() -> None:
    importlib.import_module("triton_dsl.runtime.library").load_runtime()


def jit_module(ir_text: str, opt_level: int = 2) -> jit.JitModule:
    _load_runtime()
    return jit.JitModule(ir_text, opt_level)


def runtime_error(ctx) -> tuple[str, str, int, int] | None:
    raw = bytes(ctx)
    code = int.from_bytes(raw[0:4], "little", signed=True)
    if code == 0:
        return None
    line = int.from_bytes(raw[4:8], "little")
    col = int.from_bytes(raw[8:12], "little")
    file_ptr = int.from_bytes(raw[16:24], "little")
    file = ctypes.string_at(file_ptr).decode() if file_ptr else ""
    message = raw[40:].split(b"\0", 1)[0].decode()
    return message, file, line, col


def call_entry(jm: jit.JitModule, fn, *args):
    """Call the slot entry point of public IR function `fn`; numpy/scalars in, numpy/scalars out."""
    import numpy as np

    from triton_dsl.codegen.entry import flatten_type
    from triton_dsl.ir.types import ScalarTy, TensorTy
    from triton_dsl.runtime import interop
    from triton_dsl.runtime.errors import Context, raise_if_error

    _load_runtime()
    entry = jm.cfunc(f"tdsl_call.{fn.name}", None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
    slots = (ctypes.c_uint64 * max(1, len(args)))()
    owned = []
    for i, (p, a) in enumerate(zip(fn.params, args, strict=True)):
        if isinstance(p.type, TensorTy):
            h = interop.to_header(np.asarray(a, dtype=p.type.dtype))
            owned.append(h)
            slots[i] = h
        else:
            raw = np.asarray(a, dtype=p.type.dtype).tobytes()
            slots[i] = int.from_bytes(raw.ljust(8, b"\0"), "little")
    leaves = flatten_type(fn.ret_type)
    results = (ctypes.c_uint64 * max(1, len(leaves)))()
    ctx = Context()
    entry(ctypes.addressof(ctx), ctypes.addressof(slots), ctypes.addressof(results))
    for h in owned:
        interop.func("trt_decref")(h)
    raise_if_error(ctx)
    out = []
    for i, ty in enumerate(leaves):
        if isinstance(ty, TensorTy):
            out.append(interop.from_header(results[i]))
        elif isinstance(ty, ScalarTy):
            size = np.dtype(ty.dtype).itemsize
            out.append(np.frombuffer(int(results[i]).to_bytes(8, "little")[:size], dtype=ty.dtype)[0])
    return out[0] if len(out) == 1 else tuple(out)
