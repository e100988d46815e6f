"""`TernaryTensor`: a ternary tensor packed 2 bits per trit, with its scale(s), on the Python side.

In: int8 trits (`from_numpy`), float data to threshold (`quantize`), or already packed bytes
(`from_packed`, used by weight files and the runtime). Out: the packed interchange layout
(`.packed`, docs/ternary_format.md), scales (`.scales`, `.scale_kind`), and int8 / float32 numpy
arrays (`to_numpy`, `dequantize`). numpy only holds buffers here: packing, unpacking,
dequantization, counting and validation all run in the native `trk_*` kernels.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .kernel_library import KernelLibrary

LAYOUT_TAG = "triton_dsl.ternary2"
SCALE_KINDS = ("tensor", "channel", "asymmetric")


def kernel_library() -> KernelLibrary:
    """The process's kernel library, imported on first use so `import triton_dsl` loads no LLVM."""
    from .kernel_library import kernel_library as library
    return library()


def packed_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """Shape of the packed uint8 array of a tensor of logical `shape`: last axis in 4-trit bytes."""
    if len(shape) == 0:
        return (1,)
    return (*shape[:-1], (shape[-1] + 3) // 4)


def rows_cols(shape: tuple[int, ...]) -> tuple[int, int]:
    """The (rows, cols) view the kernels take: rows of the last axis; rank 0 and 1 are one row."""
    if len(shape) == 0:
        return 1, 1
    return math.prod(shape[:-1]), shape[-1]


def _invalid_trit(arr: np.ndarray, flat: int) -> ValueError:
    where = str(tuple(int(i) for i in np.unravel_index(flat, arr.shape))) if arr.shape else "()"
    return ValueError(f"invalid trit {arr.ravel()[flat]} at index {where}: trits must be -1, 0 or +1")


def parse_scale(scale: object, shape: tuple[int, ...]) -> tuple[np.ndarray, str]:
    """(float32 scales, kind) from the `scale=` argument: a number is one scale for the tensor, a
    tuple (pos, neg) is asymmetric, a 1-D array or list has one scale per index of axis 0."""
    if isinstance(scale, tuple):
        if len(scale) != 2:
            raise ValueError(f"asymmetric scales are a (pos, neg) pair, got {len(scale)} values")
        values, kind = np.array(scale, dtype=np.float32), "asymmetric"
    elif isinstance(scale, (np.ndarray, list)):
        values = np.array(scale, dtype=np.float32)
        if values.ndim == 0:
            values, kind = values.reshape(1), "tensor"
        elif values.ndim != 1:
            raise ValueError(f"per-channel scales must be 1-D, got shape {values.shape}")
        elif len(shape) == 0:
            raise ValueError("a scalar ternary tensor has no channels: give one scale")
        elif values.shape[0] != shape[0]:
            raise ValueError(f"per-channel scales need {shape[0]} value(s) (one per index of axis 0 "
                             f"of shape {shape}), got {values.shape[0]}")
        else:
            kind = "channel"
    elif isinstance(scale, (Real, np.number)) and not isinstance(scale, (bool, np.bool_)):
        values, kind = np.array([scale], dtype=np.float32), "tensor"
    else:
        raise TypeError(f"scale must be a number, a (pos, neg) tuple or a 1-D array, "
                        f"got {type(scale).__name__}")
    bad = [float(v) for v in values if not math.isfinite(float(v))]
    if bad:
        raise ValueError(f"scales must be finite numbers, got {bad[0]}")
    values.flags.writeable = False
    return values, kind


class TernaryTensor:
    """A tensor of trits (-1, 0, +1) stored packed, 4 per byte, with float32 scales beside them."""

    # __weakref__: compiled functions keep one runtime header per tensor (runtime/ternary_headers.py)
    __slots__ = ("_packed", "_shape", "_scales", "_scale_kind", "__weakref__")
    __hash__ = None  # mutable-free but compared by value; not meant as a dict key

    def __init__(self, packed: np.ndarray, shape: tuple[int, ...], scales: np.ndarray, scale_kind: str):
        # Internal: callers go through from_numpy / quantize / from_packed, which validate.
        packed.flags.writeable = False
        self._packed = packed
        self._shape = tuple(int(d) for d in shape)
        self._scales = scales
        self._scale_kind = scale_kind

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_numpy(cls, trits: np.ndarray, scale: object = 1.0) -> TernaryTensor:
        """Pack an integer array of -1/0/+1 (int8 preferred) with `scale` (see `parse_scale`)."""
        arr = np.asarray(trits)
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"trits must be an integer array of -1, 0 and +1 (int8), got dtype "
                            f"{arr.dtype}; use TernaryTensor.quantize for floating-point data")
        if arr.dtype != np.int8:
            narrow = arr.astype(np.int8)
            # Values outside int8 would wrap around (257 -> 1): find the first one to report it.
            if not np.array_equal(narrow, arr):
                flat = int(np.flatnonzero(narrow.ravel() != arr.ravel())[0])
                raise _invalid_trit(arr, flat)
            arr = narrow
        arr = np.asarray(arr, order="C")  # keeps rank 0 (ascontiguousarray would not)
        shape = arr.shape
        scales, kind = parse_scale(scale, shape)
        packed = np.empty(packed_shape(shape), dtype=np.uint8)
        rows, cols = rows_cols(shape)
        bad = kernel_library().trk_pack_i8(arr.ctypes.data, rows, cols, packed.ctypes.data)
        if bad != -1:
            raise _invalid_trit(arr, bad)
        return cls(packed, shape, scales, kind)

    @classmethod
    def quantize(cls, x: np.ndarray, threshold: float = 0.5, scale: object = 1.0) -> TernaryTensor:
        """Threshold-quantize float data and pack it in one pass (fused kernel, no int8 buffer).

        +1 where x > t, -1 where x < -t, 0 elsewhere (also NaN), with t = threshold * scale in
        float32 (per channel: threshold * scale[c] for index c of axis 0). The result carries `scale`.
        """
        arr = np.asarray(x)
        if not np.issubdtype(arr.dtype, np.floating):
            raise TypeError(f"quantize takes floating-point data, got dtype {arr.dtype}")
        arr = np.asarray(arr, dtype=np.float32, order="C")
        if not isinstance(threshold, (Real, np.number)) or not math.isfinite(float(threshold)):
            raise ValueError(f"threshold must be a finite number, got {threshold!r}")
        shape = arr.shape
        scales, kind = parse_scale(scale, shape)
        packed = np.empty(packed_shape(shape), dtype=np.uint8)
        rows, cols = rows_cols(shape)
        lib = kernel_library()
        if kind == "tensor":
            lib.trk_quantize_pack_f32(arr.ctypes.data, rows, cols, float(threshold), float(scales[0]),
                                      packed.ctypes.data)
        elif kind == "channel" and len(shape) >= 2:
            lib.trk_quantize_pack_ch_f32(arr.ctypes.data, rows, cols, float(threshold), scales.ctypes.data,
                                         max(1, rows // max(1, shape[0])), packed.ctypes.data)
        else:
            raise ValueError("quantize takes one scale, or one per channel for tensors of rank 2 or more; "
                             f"got {kind} scales for shape {shape}")
        return cls(packed, shape, scales, kind)

    @classmethod
    def from_packed(cls, packed: np.ndarray, shape: tuple[int, ...], scale: object = 1.0, *,
                    copy: bool = True) -> TernaryTensor:
        """Wrap bytes already in the interchange layout, checking size, codes and padding.

        With `copy=False` a C-contiguous uint8 array is borrowed (through a read-only view): the
        caller must not change it afterwards."""
        shape = tuple(int(d) for d in shape)
        if any(d < 0 for d in shape):
            raise ValueError(f"negative dimension in shape {shape}")
        arr = np.asarray(packed)
        if arr.dtype != np.uint8:
            raise TypeError(f"packed trits must be uint8, got dtype {arr.dtype}")
        expected = packed_shape(shape)
        if arr.size != math.prod(expected):
            raise ValueError(f"a ternary tensor of shape {shape} takes {math.prod(expected)} packed bytes, "
                             f"got {arr.size}")
        arr = np.ascontiguousarray(arr).reshape(expected)
        arr = arr.copy() if copy else arr.view()
        scales, kind = parse_scale(scale, shape)
        tensor = cls(arr, shape, scales, kind)
        neg, zero, pos, defects = tensor._count()
        if defects:
            raise ValueError(f"packed ternary data is corrupt: {defects} slot(s) hold the invalid code 3 "
                             f"or non-zero padding")
        return tensor

    # ---- views ----------------------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self._shape

    @property
    def ndim(self) -> int:
        return len(self._shape)

    @property
    def size(self) -> int:
        return math.prod(self._shape)

    @property
    def packed(self) -> np.ndarray:
        """The packed bytes (read-only uint8 array of shape `packed_shape(self.shape)`)."""
        return self._packed

    @property
    def scales(self) -> np.ndarray:
        """float32 scales: 1 (tensor), shape[0] (channel) or 2 (asymmetric: pos, neg); read-only."""
        return self._scales

    @property
    def scale(self) -> float | tuple[float, float] | np.ndarray:
        """The scale as given: a float, a (pos, neg) tuple, or the per-channel array."""
        if self._scale_kind == "tensor":
            return float(self._scales[0])
        if self._scale_kind == "asymmetric":
            return (float(self._scales[0]), float(self._scales[1]))
        return self._scales

    @property
    def scale_kind(self) -> str:
        return self._scale_kind

    @property
    def nbytes(self) -> int:
        """Bytes of packed trits plus bytes of scales."""
        return int(self._packed.nbytes + self._scales.nbytes)

    # ---- conversions ----------------------------------------------------------------------------

    def to_numpy(self) -> np.ndarray:
        """The trits as an int8 array of `self.shape`."""
        out = np.empty(self._shape, dtype=np.int8)
        rows, cols = rows_cols(self._shape)
        kernel_library().trk_unpack_i8(self._packed.ctypes.data, rows, cols, out.ctypes.data)
        return out

    def dequantize(self) -> np.ndarray:
        """float32 values: trit x scale (asymmetric: +1 -> pos, -1 -> -neg)."""
        from ..codegen.kernels.dequant import SCALE_ASYMMETRIC, SCALE_COLUMNS, SCALE_ROWS, SCALE_TENSOR

        out = np.empty(self._shape, dtype=np.float32)
        rows, cols = rows_cols(self._shape)
        kind, rows_per_scale = SCALE_TENSOR, 1
        if self._scale_kind == "asymmetric":
            kind = SCALE_ASYMMETRIC
        elif self._scale_kind == "channel":
            if self.ndim == 1:
                kind = SCALE_COLUMNS
            else:
                kind, rows_per_scale = SCALE_ROWS, max(1, rows // max(1, self._shape[0]))
        kernel_library().trk_dequant_f32(self._packed.ctypes.data, rows, cols, self._scales.ctypes.data,
                                         kind, rows_per_scale, out.ctypes.data)
        return out

    def _count(self) -> tuple[int, int, int, int]:
        counts = np.zeros(4, dtype=np.int64)
        rows, cols = rows_cols(self._shape)
        kernel_library().trk_count_trits(self._packed.ctypes.data, rows, cols, counts.ctypes.data)
        return tuple(int(c) for c in counts)

    def counts(self) -> dict[int, int]:
        """How many trits are -1, 0 and +1, counted on the packed bytes: {-1: n, 0: n, 1: n}."""
        neg, zero, pos, _ = self._count()
        return {-1: neg, 0: zero, 1: pos}

    # ---- comparison and display -----------------------------------------------------------------

    def equals(self, other: object) -> bool:
        """Same shape, same trits and bit-identical scales of the same kind."""
        return (isinstance(other, TernaryTensor) and self._shape == other._shape
                and self._scale_kind == other._scale_kind
                and self._scales.tobytes() == other._scales.tobytes()
                and self._packed.tobytes() == other._packed.tobytes())

    def same_trits(self, other: TernaryTensor) -> bool:
        """Same shape and trits, whatever the scales."""
        return self._shape == other._shape and self._packed.tobytes() == other._packed.tobytes()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TernaryTensor):
            return NotImplemented
        return self.equals(other)

    def _zero_fraction(self) -> float:
        neg, zero, pos, _ = self._count()
        return zero / max(1, neg + zero + pos)

    def __repr__(self) -> str:
        scale = self.scale
        if self._scale_kind == "channel":
            scale = f"<{len(self._scales)} per-channel values>"
        return (f"TernaryTensor(shape={self._shape}, scale_kind={self._scale_kind!r}, scale={scale}, "
                f"packed_bytes={self._packed.nbytes}, zeros={self._zero_fraction():.1%})")

    def _repr_html_(self) -> str:
        """The notebook view (IPython / Jupyter): shape, scales, packed size against float32, and how
        many trits are -1, 0 and +1."""
        import html

        neg, zero, pos, _ = self._count()
        total = max(1, neg + zero + pos)
        scale = self.scale
        if self._scale_kind == "channel":
            shown = ", ".join(f"{v:.4g}" for v in self._scales[:4])
            more = ", ..." if len(self._scales) > 4 else ""
            scale = f"{len(self._scales)} per-channel values [{shown}{more}]"
        rows = [("shape", str(list(self._shape))), ("scale", f"{scale} ({self._scale_kind})"),
                ("packed", f"{self._packed.nbytes} bytes (float32: {4 * self.size} bytes)"),
                ("trits", f"-1: {neg} ({neg / total:.1%}) &middot; 0: {zero} ({zero / total:.1%}) &middot; "
                          f"+1: {pos} ({pos / total:.1%})")]
        body = "".join(f"<tr><th style='text-align:left'>{k}</th><td style='text-align:left'>"
                       f"{v if k == 'trits' else html.escape(v)}</td></tr>" for k, v in rows)
        return f"<table><caption style='text-align:left'><b>TernaryTensor</b></caption>{body}</table>"

    # ---- pickling: the packed bytes and scales travel, never a float copy -----------------------

    def __reduce__(self):
        return (_unpickle, (self._packed, self._shape, self._scales, self._scale_kind))


def _unpickle(packed: np.ndarray, shape: tuple[int, ...], scales: np.ndarray, kind: str) -> TernaryTensor:
    """A pickled TernaryTensor (see `__reduce__`); sizes are checked, the bytes are taken as they come
    (they were valid when pickled)."""
    packed = np.ascontiguousarray(packed, dtype=np.uint8)
    expected = packed_shape(tuple(shape))
    if packed.size != math.prod(expected):
        raise ValueError(f"a pickled ternary tensor of shape {tuple(shape)} holds {packed.size} packed "
                         f"bytes, not {math.prod(expected)}")
    scales = np.array(scales, dtype=np.float32)
    scales.flags.writeable = False
    return TernaryTensor(packed.reshape(expected), tuple(shape), scales, kind)
