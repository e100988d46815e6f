"""Weight files from DSL programs: the runtime entry points and the in-process implementation.

In: an `Emitter` (for `emit`), or a loaded runtime library (for `install_python_weights`). Out:
- `trt_weights_save(ctx, path: trt_str*, n: i64, names: trt_str**, tensors: trt_tensor**)` -> void and
  `trt_weights_load(ctx, path, name, dtype_code: i32, rank: i32)` -> owned `trt_tensor*` (dtype code
  `trit` asks for a TernaryTensor), which call through process-wide function pointers set with
  `trt_set_weights_io(save, load)`. With no pointers set (an ahead-of-time library: no Python inside)
  they fail with an I/O error saying weight files are not available there.
- `install_python_weights(lib)`: points them at ctypes callbacks over `runtime/weights.py`
  (safetensors; atomic writes). Tensor bytes are only wrapped by numpy arrays (packed trits stay packed).

Errors name the file; a missing entry lists the available ones; a wrong dtype, kind or rank names the
entry and both types. The error location (the call's `file:line:col`) is set by the generated code.
"""

from __future__ import annotations

import ctypes

from llvmlite import ir

from ..abi import layout
from .irgen import I32, I64, PTR, VOID, Emitter
from .rt_errors import emit_error

_UNAVAILABLE = ("weight files (save_weights / load_tensor / load_ternary) are not available in an "
                "ahead-of-time build; run the program with the Python package (tritonc run)")


def emit(em: Emitter) -> None:
    save_fn = em.global_var("trt_weights_save_fn", PTR, None)
    load_fn = em.global_var("trt_weights_load_fn", PTR, None)
    fb = em.define("trt_set_weights_io", VOID, [PTR, PTR])
    fb.b.store(fb.args[0], save_fn)
    fb.b.store(fb.args[1], load_fn)
    fb.ret()

    args = [PTR, PTR, I64, PTR, PTR]
    fb = em.define("trt_weights_save", VOID, args)
    fn = fb.load(save_fn, PTR)
    with fb.if_then(fb.is_null(fn)):
        emit_error(fb, layout.ERR_IO, _UNAVAILABLE)
        fb.ret()
    fb.call_ptr(fn, VOID, args, list(fb.args))
    fb.ret()

    args = [PTR, PTR, PTR, I32, I32]
    fb = em.define("trt_weights_load", PTR, args)
    fn = fb.load(load_fn, PTR)
    with fb.if_then(fb.is_null(fn)):
        emit_error(fb, layout.ERR_IO, _UNAVAILABLE)
        fb.ret(ir.Constant(PTR, None))
    result = fb.call_ptr(fn, PTR, args, list(fb.args))
    with fb.if_then(fb.is_null(result)):  # no tensor must mean an error (trt_set_error keeps a first one)
        emit_error(fb, layout.ERR_IO, "weights file: the entry could not be loaded")
    fb.ret(result)


# ---------------------------------------------------------------------------------- Python side

_DTYPE_NAMES = ("bool", "trit", "int8", "int16", "int32", "int64", "float16", "float32", "float64")


def _text(addr: int) -> str:
    """The text of a `trt_str` (`{i64 refcount, i64 len, bytes}`)."""
    n = ctypes.c_int64.from_address(addr + 8).value
    return ctypes.string_at(addr + layout.STR_DATA_OFFSET, n).decode("utf-8", "replace")


def _fail(ctx: int, code: int, message: str) -> None:
    from .interop import func

    data = message.encode("utf-8")[: layout.MESSAGE_SIZE - 1]
    func("trt_set_error")(ctx, code, ctypes.c_char_p(data))


def _save(ctx: int, path: int, n: int, names: int, tensors: int) -> None:
    from . import interop
    from .errors import TritonRuntimeError
    from .weights import save_weights

    try:
        entries: dict[str, object] = {}
        for i in range(n):
            name = _text(ctypes.c_void_p.from_address(names + 8 * i).value)
            addr = ctypes.c_void_p.from_address(tensors + 8 * i).value
            if interop.header(addr).dtype == layout.TRIT:
                entries[name] = interop.header_to_ternary(addr, steal=False)
            else:
                entries[name] = interop.from_header(addr, steal=False)
        save_weights(_text(path), entries)
    except TritonRuntimeError as exc:
        _fail(ctx, layout.ERR_IO, exc.message)
    except (ValueError, TypeError) as exc:
        _fail(ctx, layout.ERR_VALUE, f"weights file '{_text(path)}': {exc}")


def _describe(value) -> str:
    if hasattr(value, "packed"):
        return f"TernaryTensor<trit, {list(value.shape)}>"
    return f"Tensor<{value.dtype}, {list(value.shape)}>"


def _load(ctx: int, path: int, name: int, code: int, rank: int) -> int:
    from . import interop
    from .errors import TritonRuntimeError
    from .weights import load_weights

    file, entry = _text(path), _text(name)
    try:
        weights = load_weights(file)
    except TritonRuntimeError as exc:
        _fail(ctx, layout.ERR_IO, exc.message)
        return 0
    if entry not in weights:
        names = ", ".join(f"'{k}'" for k in sorted(weights)) or "none"
        _fail(ctx, layout.ERR_VALUE, f"weights file '{file}' has no entry '{entry}' (entries: {names})")
        return 0
    value = weights[entry]
    ternary = code == layout.TRIT
    dims = "[" + ", ".join("?" * rank) + "]"
    wanted = f"TernaryTensor<trit, {dims}>" if ternary else f"Tensor<{_DTYPE_NAMES[code]}, {dims}>"
    is_ternary = hasattr(value, "packed")
    ok = is_ternary == ternary and len(value.shape) == rank
    if ok and not ternary:
        ok = interop.CODE_TO_NUMPY.get(code) == value.dtype
    if not ok:
        _fail(ctx, layout.ERR_TYPE, f"weights file '{file}': entry '{entry}' is {_describe(value)}, "
                                    f"but {wanted} was requested")
        return 0
    try:
        return interop.ternary_to_header(value) if ternary else interop.to_header(value)
    except (ValueError, TypeError) as exc:
        _fail(ctx, layout.ERR_VALUE, f"weights file '{file}': entry '{entry}': {exc}")
        return 0


def _guarded(impl, failed):
    """A callback that never lets a Python exception cross into native code (ctypes would only print
    it, and the caller would go on without an error set)."""
    def callback(ctx, *args):
        try:
            return impl(ctx, *args)
        except Exception as exc:  # noqa: BLE001 - reported to the program as a run-time error
            _fail(ctx, layout.ERR_RUNTIME, f"weights file access failed: {exc}")
            return failed
    return callback


_SAVE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p,
                         ctypes.c_void_p)(_guarded(_save, None))
_LOAD = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32,
                         ctypes.c_int32)(_guarded(_load, 0))


def install_python_weights(lib) -> None:
    """Called once by `library.load_runtime`: weight files go through `runtime/weights.py`."""
    lib.cfunc("trt_set_weights_io", None, ctypes.c_void_p, ctypes.c_void_p)(
        ctypes.cast(_SAVE, ctypes.c_void_p), ctypes.cast(_LOAD, ctypes.c_void_p))
