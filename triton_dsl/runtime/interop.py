"""numpy <-> runtime tensor headers, without copying where the layout allows it.

In: numpy arrays / scalars, or addresses of `trt_tensor` headers. Out:
- `to_header(array) -> int`: an owned header. A C-contiguous, aligned array of a supported dtype is
  *borrowed* (the header's `owner` is a handle in this module's table that keeps the array alive; the
  runtime's release callback drops it when the header dies). Anything else is copied first.
- `from_header(addr, steal=True) -> np.ndarray`: an array over the header's buffer (no copy) whose base
  object decrefs the header when numpy collects it.
- `to_trit_header(packed, shape, scales, scale_kind)` / `trit_parts(addr)`: packed ternary tensors;
  `ternary_to_header(TernaryTensor)` / `header_to_ternary(addr)` for the Python-side TernaryTensor.
- `func(name)`: a ctypes function for any public runtime function, typed from `library.signatures()`.
"""

from __future__ import annotations

import ctypes

import numpy as np

from ..abi import layout
from . import handles
from .errors import Context, raise_if_error

_NUMPY_TO_CODE = {np.dtype(np.bool_): layout.BOOL, np.dtype(np.int8): layout.INT8,
                  np.dtype(np.int16): layout.INT16, np.dtype(np.int32): layout.INT32,
                  np.dtype(np.int64): layout.INT64, np.dtype(np.float16): layout.FLOAT16,
                  np.dtype(np.float32): layout.FLOAT32, np.dtype(np.float64): layout.FLOAT64}
CODE_TO_NUMPY = {code: dt for dt, code in _NUMPY_TO_CODE.items()}


class TensorHeader(ctypes.Structure):
    """The ctypes mirror of `trt_tensor` (docs/runtime.md "Tensor header")."""

    _fields_ = [("refcount", ctypes.c_int64), ("dtype", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("data", ctypes.c_void_p), ("nbytes", ctypes.c_int64), ("numel", ctypes.c_int64),
                ("shape", ctypes.c_int64 * layout.MAX_RANK), ("flags", ctypes.c_int32),
                ("scale_kind", ctypes.c_int32), ("scales", ctypes.c_void_p), ("owner", ctypes.c_int64),
                ("base", ctypes.c_void_p), ("aux", ctypes.c_void_p), ("aux_free", ctypes.c_void_p),
                ("grad", ctypes.c_void_p), ("tape_node", ctypes.c_void_p), ("hooks", ctypes.c_void_p),
                ("grad_seq", ctypes.c_int64), ("grad_pending", ctypes.c_void_p)]


assert ctypes.sizeof(TensorHeader) == layout.HEADER_SIZE


def header(addr: int) -> TensorHeader:
    """A live view of the header at `addr` (reads and writes go to native memory)."""
    return TensorHeader.from_address(addr)


# -- ctypes access to runtime functions --------------------------------------------------------------

_CTYPES = {"i8": ctypes.c_int8, "i16": ctypes.c_int16, "i32": ctypes.c_int32, "i64": ctypes.c_int64,
           "float": ctypes.c_float, "double": ctypes.c_double, "ptr": ctypes.c_void_p, "void": None}
_funcs: dict[str, object] = {}


def func(name: str):
    """A ctypes function calling the runtime function `name` (compiles the runtime on first use).

    Functions taking or returning `half` scalars cannot be called this way (ctypes has no half type and
    the C ABI passes them in SSE registers); use tensors for float16.
    """
    f = _funcs.get(name)
    if f is None:
        from . import library

        ret, args = library.signatures()[name]
        proto = ctypes.CFUNCTYPE(_CTYPES[str(ret)], *(_CTYPES[str(a)] for a in args))
        f = proto(library.function_address(name))
        _funcs[name] = f
    return f


# -- borrowed buffers: the handle table (runtime/handles.py) ------------------------------------------

install_release_callback = handles.install_release_callback
borrowed_count = handles.borrowed_count
_release = handles.release


def _borrow(arr: np.ndarray, code: int, shape: tuple[int, ...], ctx: Context | None) -> int:
    if len(shape) > layout.MAX_RANK:
        raise ValueError(f"a tensor has at most {layout.MAX_RANK} dimensions; this array has {len(shape)}")
    handle = handles.keep(arr)
    dims = (ctypes.c_int64 * layout.MAX_RANK)(*shape)
    ctx = ctx or Context()
    addr = func("trt_tensor_borrow")(ctypes.byref(ctx), code, len(shape), dims, arr.ctypes.data, handle)
    if not addr:
        _release(handle)
        raise_if_error(ctx)
    return addr


def to_header(value, ctx: Context | None = None) -> int:
    """An owned header for a numpy array, Python/numpy scalar or TernaryTensor (borrowed without a copy
    when possible)."""
    if hasattr(value, "scale_kind") and hasattr(value, "packed"):
        return ternary_to_header(value, ctx)
    arr = np.asarray(value)
    code = _NUMPY_TO_CODE.get(arr.dtype.newbyteorder("=") if arr.dtype.byteorder not in "=|" else arr.dtype)
    if code is None:
        raise TypeError(f"cannot pass an array of dtype {arr.dtype} to a Triton DSL function "
                        f"(supported: {', '.join(str(d) for d in _NUMPY_TO_CODE)})")
    if not (arr.flags.c_contiguous and arr.flags.aligned and arr.dtype.isnative):
        arr = np.ascontiguousarray(arr, dtype=CODE_TO_NUMPY[code])
    return _borrow(arr, code, arr.shape, ctx)


class _HeaderRef:
    """The base object of an array returned by `from_header`: owns one reference to the header."""

    __slots__ = ("addr", "__array_interface__", "__weakref__")

    def __init__(self, addr: int, shape: tuple[int, ...], dtype: np.dtype, data: int):
        self.addr = addr
        self.__array_interface__ = {"data": (data, False), "shape": shape, "typestr": dtype.str,
                                    "version": 3}

    def __del__(self):
        if _funcs is not None and self.addr:
            func("trt_decref")(self.addr)
            self.addr = 0


def from_header(addr: int, steal: bool = True) -> np.ndarray:
    """A numpy array over the header's data, without a copy.

    steal=True takes over the caller's reference; steal=False adds one. Trit headers: see `trit_parts`.
    """
    h = header(addr)
    if h.dtype == layout.TRIT:
        raise TypeError("a packed ternary tensor converts with trit_parts(), not as a plain array")
    dtype = CODE_TO_NUMPY[h.dtype]
    shape = tuple(h.shape[: h.rank])
    if h.refcount < 0 or h.numel == 0:
        # Immortal (constant) data must not become writable through numpy: copy it.
        raw = (ctypes.c_uint8 * h.nbytes).from_address(h.data) if h.numel else []
        out = np.array(raw, dtype=np.uint8).view(dtype).reshape(shape)
        if steal:
            func("trt_decref")(addr)
        return out
    if not steal:
        func("trt_incref")(addr)
    return np.asarray(_HeaderRef(addr, shape, dtype, h.data))


def scalar_from_header(addr: int, steal: bool = True):
    """A numpy scalar holding the single element of a rank-0 (or one-element) tensor."""
    arr = from_header(addr, steal=steal)
    return arr.reshape(()).copy()[()]


def to_trit_header(packed: np.ndarray, shape: tuple[int, ...], scales, scale_kind: str | None,
                   ctx: Context | None = None) -> int:
    """An owned trit header borrowing the packed bytes (docs/ternary_format.md) and carrying the scales."""
    packed = np.asarray(packed)
    if packed.dtype != np.uint8:
        raise TypeError(f"packed trits must be uint8, got {packed.dtype}")
    if not (packed.flags.c_contiguous and packed.flags.aligned):
        packed = np.ascontiguousarray(packed)
    rows = int(np.prod(shape[:-1])) if len(shape) > 1 else 1
    expected = rows * ((shape[-1] + 3) // 4) if shape else 1
    if packed.size != expected:
        raise ValueError(f"packed trits of shape {tuple(shape)} need {expected} bytes, got {packed.size}")
    addr = _borrow(packed, layout.TRIT, tuple(shape), ctx)
    if scale_kind is not None:
        h = header(addr)
        h.scale_kind = layout.SCALE_KIND_NAMES.index(scale_kind)
        h.scales = to_header(np.asarray(scales, dtype=np.float32).reshape(-1), ctx)
    return addr


def ternary_to_header(tt, ctx: Context | None = None) -> int:
    """An owned trit header over a `TernaryTensor`'s packed bytes (no copy) with a copy of its scales."""
    return to_trit_header(tt.packed, tt.shape, tt.scales, tt.scale_kind, ctx)


def header_to_ternary(addr: int, steal: bool = True):
    """A `TernaryTensor` over a trit header's packed bytes (no copy; it keeps the header alive)."""
    from .ternary import TernaryTensor

    packed, shape, scales, kind = trit_parts(addr, steal)
    if kind is None:
        scale: object = 1.0
    elif kind == "tensor":
        scale = float(scales[0])
    elif kind == "asymmetric":
        scale = (float(scales[0]), float(scales[1]))
    else:
        scale = scales
    return TernaryTensor.from_packed(packed, shape, scale, copy=False)


def trit_parts(addr: int, steal: bool = True):
    """(packed uint8 array (no copy), shape, scales float32 array or None, scale_kind or None)."""
    h = header(addr)
    if h.dtype != layout.TRIT:
        raise TypeError("not a packed ternary tensor")
    shape = tuple(h.shape[: h.rank])
    if not steal:
        func("trt_incref")(addr)
    packed = np.asarray(_HeaderRef(addr, (h.nbytes,), np.dtype(np.uint8), h.data))
    if h.rank:
        packed = packed.reshape(*shape[:-1], (shape[-1] + 3) // 4)
    scales = from_header(h.scales, steal=False).copy() if h.scales else None
    return packed, shape, scales, layout.SCALE_KIND_NAMES[h.scale_kind]


def dims(shape) -> ctypes.Array:
    """An `i64[rank]` argument for runtime functions taking a shape."""
    shape = tuple(int(d) for d in shape)
    return (ctypes.c_int64 * max(1, len(shape)))(*shape)


def call(name: str, *args, ctx: Context | None = None):
    """Call runtime function `name(ctx, *args)` and raise `TritonRuntimeError` if it failed."""
    ctx = ctx or Context()
    result = func(name)(ctypes.byref(ctx), *args)
    raise_if_error(ctx)
    return result
