"""Hugging Face BitNet b1.58 weight files (transformers `integrations/bitnet.py`), both directions.

In: `{name: np.ndarray | TernaryTensor}`, or a safetensors file in that layout. Out: the other. The
layout, as transformers' `pack_weights` / `unpack_weights` define it:

- A ternary weight of shape `(N, *rest)` (axis 0 = output features) is a uint8 entry `name` of shape
  `(R, *rest)`, `R = ceil(N / 4)`: **4 trits per byte along axis 0, in four contiguous slabs** — bits
  `2i, 2i+1` of byte `[r, ...]` hold the code (`trit + 1`) of row `i·R + r`. (Not interleaved, and not
  our layout, which packs along the last axis.)
- Its scale is the entry `name + "_scale"` (`…weight` → `…weight_scale`), one value. transformers'
  `BitLinear` (the default `linear_class="bitlinear"`) computes `y = (x · trits) / weight_scale`, so a
  weight is `trit / weight_scale` (`scale="divide"`, our default); `AutoBitLinear` with offline
  quantization multiplies (`scale="multiply"`).
- We write `weight_scale` as float32 and the metadata `format: pt` (transformers requires it) plus
  `triton_dsl.hf_bitnet` (JSON: the scale convention and each tensor's logical `N`). When `N` is not a
  multiple of 4 the missing rows are written as code 1 (trit 0) and dropped on reading. A file
  without our metadata has `N = 4·R`; its ternary entries are the uint8 entries that have a
  `…_scale` sibling. BF16 entries read as float32 (exact).

Exactness: only per-tensor scales fit (`weight_scale` is one value). With `divide`, our scale `s` is
written as `1/s` in float32 and must come back as `s` (`1/(1/s) == s`, true for about 83% of float32
values); otherwise the tensor is refused by name, as are channel and asymmetric scales and rank 0.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..runtime.ternary import TernaryTensor
from ..runtime.weights import WeightsFileError, atomic_output
from .safetensors_raw import read_safetensors

METADATA_KEY = "triton_dsl.hf_bitnet"
SCALE_SUFFIX = "_scale"
SCALE_MODES = ("divide", "multiply")


def pack_axis0(trits: np.ndarray) -> np.ndarray:
    """int8 trits (N, *rest) -> uint8 (ceil(N/4), *rest), slab i in bits 2i (padding rows: code 1)."""
    n = trits.shape[0]
    r = (n + 3) // 4
    codes = np.ones((4 * r, *trits.shape[1:]), dtype=np.uint8)
    codes[:n] = (trits.astype(np.int16) + 1).astype(np.uint8)
    slabs = codes.reshape(4, r, *trits.shape[1:])
    return (slabs[0] | (slabs[1] << 2) | (slabs[2] << 4) | (slabs[3] << 6)).astype(np.uint8)


def unpack_axis0(packed: np.ndarray) -> np.ndarray:
    """uint8 (R, *rest) -> codes (4R, *rest) uint8 (0..3; 3 is not a trit)."""
    shifts = np.array([0, 2, 4, 6], dtype=np.uint8).reshape((4,) + (1,) * packed.ndim)
    return ((packed[None] >> shifts) & 3).reshape(4 * packed.shape[0], *packed.shape[1:])


def _hf_scale(name: str, t: TernaryTensor, mode: str) -> np.ndarray:
    if t.ndim == 0:
        raise ValueError(f"tensor '{name}' is rank 0; the BitNet layout packs along axis 0")
    if t.scale_kind != "tensor":
        raise ValueError(f"tensor '{name}' has {t.scale_kind} scales; the BitNet layout has one "
                         f"weight_scale per tensor")
    s = np.float32(t.scales[0])
    if mode == "multiply":
        return np.array([s], dtype=np.float32)
    with np.errstate(divide="ignore"):
        inv = np.float32(1) / s
        back = np.float32(1) / inv
    if back.view(np.uint32) != s.view(np.uint32):
        raise ValueError(f"tensor '{name}': its scale {float(s)!r} has no float32 weight_scale w with "
                         f"1/w == scale exactly (1/(1/s) = {float(back)!r}), and BitLinear divides by "
                         f"weight_scale; use --hf-scale multiply (AutoBitLinear), --round-scales, or keep "
                         f"our format")
    return np.array([inv], dtype=np.float32)


def write_hf_bitnet(path: str | os.PathLike, tensors: dict, source: str, mode: str = "divide") -> None:
    """Write `tensors` to `path` in the BitNet layout; `source` is the input file, named in errors."""
    from safetensors.numpy import save

    entries: dict[str, np.ndarray] = {}
    shapes: dict[str, list[int]] = {}
    for name, value in tensors.items():
        if isinstance(value, TernaryTensor):
            scale_name = name + SCALE_SUFFIX
            if scale_name in tensors:
                raise WeightsFileError(source, f"cannot convert '{name}': its BitNet scale goes in "
                                               f"'{scale_name}', which is also a tensor of the file")
            try:
                scale = _hf_scale(name, value, mode)
            except ValueError as exc:
                raise WeightsFileError(source, f"cannot convert to hf-bitnet exactly: {exc}") from None
            entries[name] = pack_axis0(value.to_numpy())
            entries[scale_name] = scale
            shapes[name] = list(value.shape)
        else:
            entries[name] = np.asarray(value, order="C")  # keeps rank 0
    info = json.dumps({"weight_scale": mode, "shapes": shapes}, sort_keys=True)
    meta = {"format": "pt", METADATA_KEY: info}
    try:
        data = save(entries, metadata=meta)
    except Exception as exc:  # e.g. a dtype safetensors cannot store
        raise WeightsFileError(path, f"cannot encode the tensors: {exc}") from exc
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def looks_like_hf_bitnet(metadata: dict[str, str], entries: dict) -> bool:
    """Our metadata, or (from another tool) a uint8 entry with a `…_scale` sibling."""
    if METADATA_KEY in metadata:
        return True
    return any(e.dtype == "U8" and name + SCALE_SUFFIX in entries for name, e in entries.items())


def read_hf_bitnet(path: str | os.PathLike, mode: str | None = None) -> dict[str, np.ndarray | TernaryTensor]:
    """Read a BitNet-layout file. `mode` is the scale convention for a file without our metadata
    (default "divide"); for one with it, it must agree with what the file says."""
    st = read_safetensors(path)
    shapes: dict[str, list[int]] | None = None
    if METADATA_KEY in st.metadata:
        try:
            info = json.loads(st.metadata[METADATA_KEY])
            written, shapes = info["weight_scale"], info["shapes"]
        except (json.JSONDecodeError, KeyError, TypeError):
            written = shapes = None
        if written not in SCALE_MODES or not isinstance(shapes, dict):
            raise WeightsFileError(path, f"unreadable {METADATA_KEY} metadata")
        if mode is not None and mode != written:
            raise WeightsFileError(path, f"was written with --hf-scale {written}, not {mode}")
        mode = written
    mode = mode or "divide"
    names = shapes.keys() if shapes is not None else \
        [n for n, e in st.entries.items() if e.dtype == "U8" and n + SCALE_SUFFIX in st.entries]
    result: dict[str, np.ndarray | TernaryTensor] = {}
    for name in names:
        scale_name = name + SCALE_SUFFIX
        if name not in st.entries or scale_name not in st.entries:
            raise WeightsFileError(path, f"ternary tensor '{name}' or its '{scale_name}' entry is missing")
        result[name] = _read_tensor(path, name, st.array(name), st.array(scale_name),
                                    None if shapes is None else shapes[name], mode)
    for name in st.entries:
        if name not in result and not (name.endswith(SCALE_SUFFIX) and name[:-len(SCALE_SUFFIX)] in result):
            result[name] = st.array(name)
    return result


def _read_tensor(path, name: str, packed: np.ndarray, scale: np.ndarray, shape: list | None,
                 mode: str) -> TernaryTensor:
    if packed.dtype != np.uint8 or packed.ndim == 0:
        raise WeightsFileError(path, f"ternary tensor '{name}' must be uint8 of rank 1 or more, found "
                                     f"{packed.dtype} {packed.shape}")
    codes = unpack_axis0(packed)
    n = codes.shape[0]
    if shape is not None:
        if not (isinstance(shape, list) and shape and all(isinstance(d, int) and d >= 0 for d in shape)
                and (shape[0] + 3) // 4 == packed.shape[0] and tuple(shape[1:]) == packed.shape[1:]):
            raise WeightsFileError(path, f"ternary tensor '{name}' of packed shape {packed.shape} does not "
                                         f"match its recorded shape {shape}")
        n = shape[0]
        if (codes[n:] != 1).any():
            raise WeightsFileError(path, f"ternary tensor '{name}' is corrupt: padding rows after row {n} "
                                         f"are not zero trits")
    if (codes[:n] == 3).any():
        raise WeightsFileError(path, f"ternary tensor '{name}' is corrupt: it holds code 3, which is no trit")
    if scale.size != 1 or not np.issubdtype(scale.dtype, np.floating):
        raise WeightsFileError(path, f"'{name}{SCALE_SUFFIX}' must be one floating-point value, found "
                                     f"{scale.dtype} {scale.shape}")
    ws = np.float32(scale.reshape(-1)[0])
    with np.errstate(divide="ignore"):
        s = np.float32(1) / ws if mode == "divide" else ws
    try:
        return TernaryTensor.from_numpy(codes[:n].astype(np.int8) - 1, float(s))
    except ValueError as exc:
        raise WeightsFileError(path, f"ternary tensor '{name}': {exc}") from None
