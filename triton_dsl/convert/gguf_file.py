"""GGUF weight files with ternary tensors as TQ2_0 or TQ1_0 blocks (read and written with `gguf`).

In: `{name: np.ndarray | TernaryTensor}` (what `load_weights` returns) and a block type; or a GGUF
file. Out: a GGUF file that gguf-py reads back, whose `gguf.quants.dequantize` gives exactly
`trit × scale` of every ternary tensor; and back, bit-exact. The rules (docs/convert.md):

- A ternary tensor of shape `(d0, …, dk)` is `rows × cols` (docs/ternary_format.md); each row is padded
  with zero trits to a multiple of 256 (one block never spans two rows) and stored as GGUF shape
  `(*shape[:-1], padded cols)` (rank 0: `(256,)`). The logical shapes and scale kinds go in the JSON
  key `triton_dsl.tensors`, so that the padding and a rank-0 shape come back.
- Each block's float16 `d` is the scale of its trits. This is exact only when every scale is a float16
  value, and possible only when one block has one scale: `tensor` and `channel` (rank ≥ 2) scales
  always, rank-1 `channel` scales when they are equal within each block, `asymmetric` when pos == neg.
  Anything else is refused, naming the tensor; so is a tensor with no elements (no block to hold its
  scales).
- Plain arrays are stored as F16/F32/F64/I8/I16/I32/I64 tensors; other dtypes are refused, and so are
  tensors of more than 4 dimensions or names of 64 bytes or more (ggml's limits).
- Reading a GGUF file without `triton_dsl.tensors` (from another tool): the shape is the GGUF shape, the
  scale is the one `d` shared by all blocks that hold a non-zero trit, else one per row group of axis 0
  (`channel`); blocks whose `d` differ within a channel, non-zero padding and TQ2_0 code 3 are refused.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from ..runtime.ternary import TernaryTensor, rows_cols
from ..runtime.weights import WeightsFileError, atomic_output
from .gguf_blocks import BLOCK, BLOCK_BYTES, DECODERS, ENCODERS

METADATA_KEY = "triton_dsl.tensors"
ARCHITECTURE = "triton_dsl"
MAX_DIMS, MAX_NAME = 4, 64  # GGML_MAX_DIMS, GGML_MAX_NAME (the name includes its terminating NUL)
_PLAIN_DTYPES = ("float16", "float32", "float64", "int8", "int16", "int32", "int64")


def _gguf():
    try:
        import gguf
    except ImportError as exc:  # an optional dependency: say how to get it
        raise ImportError("GGUF conversion needs the 'gguf' package: pip install 'triton_dsl[convert]'") \
            from exc
    return gguf


# ---- writing --------------------------------------------------------------------------------------

def _same_bits(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return a.astype(np.float32).view(np.uint32) == b.astype(np.float32).view(np.uint32)


def block_scales(name: str, t: TernaryTensor, block_type: str) -> np.ndarray:
    """float16 `d` of every block, shape (rows, blocks), or ValueError saying why it cannot be exact."""
    rows, cols = rows_cols(t.shape)
    blocks = math.ceil(cols / BLOCK)
    s = np.asarray(t.scales, dtype=np.float32)
    if t.size == 0:
        raise ValueError(f"tensor '{name}' of shape {t.shape} has no elements: GGUF keeps scales only in "
                         f"blocks of trits, so its scales would be lost")
    if t.scale_kind == "asymmetric":
        if not _same_bits(s[:1], s[1:])[0]:
            raise ValueError(f"tensor '{name}' has asymmetric scales (pos {float(s[0])!r}, "
                             f"neg {float(s[1])!r}); {block_type} has one scale per block for both signs")
        per_block = np.full((rows, blocks), s[0], dtype=np.float32)
    elif t.scale_kind == "tensor":
        per_block = np.full((rows, blocks), s[0], dtype=np.float32)
    elif t.ndim >= 2:  # channel: row r of the rows x cols view belongs to channel r // (rows / shape[0])
        per_row = np.repeat(s, rows // t.shape[0])
        per_block = np.broadcast_to(per_row[:, None], (rows, blocks))
    else:  # channel, rank 1: every column has its own scale; a block needs them all equal
        padded = np.pad(s, (0, blocks * BLOCK - cols), mode="edge").reshape(blocks, BLOCK)
        uniform = _same_bits(padded, padded[:, :1]).all(axis=1)
        if not uniform.all():
            first = int(np.flatnonzero(~uniform)[0])
            raise ValueError(f"tensor '{name}' is rank 1 with one scale per element, and elements "
                             f"{first * BLOCK}..{min(cols, (first + 1) * BLOCK) - 1} "
                             f"(one {block_type} block) have different scales; a block has one scale")
        per_block = padded[None, :, 0]
    d = per_block.astype(np.float16)
    exact = _same_bits(d, per_block)
    if not exact.all():
        value = float(per_block[~exact][0])
        raise ValueError(f"tensor '{name}': its scale {value!r} has no exact float16 value (nearest "
                         f"{float(np.float16(value))!r}); {block_type} keeps one float16 scale per "
                         f"{BLOCK}-trit block, so the conversion would change the weights. --round-scales "
                         f"(round_scales_to_fit=True) rounds them to float16; or keep this tensor in our "
                         f"format")
    return np.ascontiguousarray(d)


def _gguf_byte_shape(shape: tuple[int, ...], row_bytes: int) -> tuple[int, ...]:
    return (*shape[:-1], row_bytes) if shape else (row_bytes,)


def _check_gguf_limits(source: str, name: str, ndim: int) -> None:
    """ggml's limits, which gguf-py does not check but llama.cpp's loader does."""
    if len(name.encode("utf-8")) >= MAX_NAME:
        raise WeightsFileError(source, f"cannot convert tensor '{name}' to GGUF: ggml tensor names are at "
                                       f"most {MAX_NAME - 1} bytes")
    if ndim > MAX_DIMS:
        raise WeightsFileError(source, f"cannot convert tensor '{name}' to GGUF: it has {ndim} dimensions, "
                                       f"ggml tensors at most {MAX_DIMS}")


def write_gguf(path: str | os.PathLike, tensors: dict, block_type: str, source: str) -> None:
    """Write `tensors` to `path` as GGUF with ternary tensors in `block_type` blocks ("TQ2_0"/"TQ1_0").

    `source` is the input file, named in errors about a tensor that cannot be converted exactly."""
    gguf = _gguf()
    qtype = getattr(gguf.GGMLQuantizationType, block_type)
    staged: list[tuple[str, np.ndarray, dict]] = []
    meta: dict[str, dict] = {}
    for name, value in tensors.items():
        _check_gguf_limits(source, name, value.ndim if isinstance(value, TernaryTensor) else np.ndim(value))
        if isinstance(value, TernaryTensor):
            try:
                d = block_scales(name, value, block_type)
            except ValueError as exc:
                raise WeightsFileError(source, f"cannot convert to {block_type} exactly: {exc}") from None
            rows, cols = rows_cols(value.shape)
            padded = d.shape[1] * BLOCK
            trits = np.zeros((rows, padded), dtype=np.int8)  # padding: zero trits
            trits[:, :cols] = value.to_numpy().reshape(rows, cols)
            data = ENCODERS[block_type](trits, d)
            data = data.reshape(_gguf_byte_shape(value.shape, data.shape[1]))
            staged.append((name, data, {"raw_dtype": qtype}))
            meta[name] = {"shape": list(value.shape), "scale_kind": value.scale_kind}
        else:
            arr = np.asarray(value)
            if arr.dtype.name not in _PLAIN_DTYPES:
                raise WeightsFileError(source, f"cannot convert tensor '{name}' to GGUF: dtype {arr.dtype} "
                                               f"has no GGUF type (GGUF stores {', '.join(_PLAIN_DTYPES)})")
            staged.append((name, np.ascontiguousarray(arr.reshape(arr.shape or (1,))), {}))
            meta[name] = {"shape": list(arr.shape)}
    with atomic_output(path) as tmp:
        writer = gguf.GGUFWriter(tmp, ARCHITECTURE)
        writer.add_string(METADATA_KEY, json.dumps(meta, sort_keys=True))
        for name, data, extra in staged:
            writer.add_tensor(name, data, **extra)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()


# ---- reading --------------------------------------------------------------------------------------

def is_gguf(head: bytes) -> bool:
    return head[:4] == b"GGUF"


def read_gguf(path: str | os.PathLike) -> dict[str, np.ndarray | TernaryTensor]:
    """Read a GGUF file of TQ2_0/TQ1_0 and plain tensors (see the module docstring for the rules)."""
    gguf = _gguf()
    try:
        reader = gguf.GGUFReader(path)
        field = reader.get_field(METADATA_KEY)
        meta = json.loads(field.contents()) if field is not None else None
        tensors = list(reader.tensors)
    except OSError as exc:
        raise WeightsFileError(path, f"cannot read: {exc.strerror or exc}") from exc
    except Exception as exc:  # gguf-py's parser fails on bad input with many kinds of errors
        raise WeightsFileError(path, f"not a valid GGUF file (truncated or corrupt?): {exc}") from exc
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, dict) for v in meta.values())):
        raise WeightsFileError(path, f"the {METADATA_KEY} metadata is not an object of objects")
    result: dict[str, np.ndarray | TernaryTensor] = {}
    for t in tensors:
        info = (meta or {}).get(t.name)
        gguf_shape = tuple(int(n) for n in reversed(t.shape.tolist()))
        shape = _declared_shape(path, t.name, info, gguf_shape)
        type_name = gguf.GGMLQuantizationType(t.tensor_type).name
        if type_name in BLOCK_BYTES:
            result[t.name] = _read_ternary(path, t.name, type_name, np.asarray(t.data), shape, info)
        elif type_name.lower() in {"f16", "f32", "f64", "i8", "i16", "i32", "i64"}:
            arr = np.array(t.data)  # a copy: the reader's arrays are views of a memory map
            if arr.size != math.prod(shape):
                raise WeightsFileError(path, f"tensor '{t.name}' has {arr.size} elements, its metadata "
                                             f"shape {shape} needs {math.prod(shape)}")
            result[t.name] = arr.reshape(shape)
        else:
            raise WeightsFileError(path, f"tensor '{t.name}' is of GGUF type {type_name}; this converter "
                                         f"reads TQ2_0, TQ1_0 and the plain types F16/F32/F64/I8-I64")
    return result


def _declared_shape(path, name: str, info: dict | None, gguf_shape: tuple[int, ...]) -> tuple[int, ...]:
    if info is None:
        return gguf_shape
    shape = info.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
        raise WeightsFileError(path, f"tensor '{name}' has an invalid shape {shape!r} in {METADATA_KEY}")
    return tuple(shape)


def _read_ternary(path, name: str, block_type: str, data: np.ndarray, shape: tuple[int, ...],
                  info: dict | None) -> TernaryTensor:
    rows, cols = rows_cols(shape)
    blocks = math.ceil(cols / BLOCK)
    row_bytes = blocks * BLOCK_BYTES[block_type]
    if data.dtype != np.uint8 or data.size != rows * row_bytes:
        raise WeightsFileError(path, f"tensor '{name}' of shape {shape} needs {rows * row_bytes} bytes of "
                                     f"{block_type} blocks, the file has {data.size}")
    trits, d, bad = DECODERS[block_type](data.reshape(rows, row_bytes))
    if bad >= 0:
        raise WeightsFileError(path, f"tensor '{name}' is corrupt: {block_type} code 3 (not a trit) in row "
                                     f"{bad // (blocks * BLOCK)}")
    if trits[:, cols:].any():
        raise WeightsFileError(path, f"tensor '{name}' is corrupt: the padding after element {cols} of a "
                                     f"row holds non-zero trits")
    trits = trits[:, :cols]
    d_bits = d.view(np.uint16)
    kind = info.get("scale_kind") if info is not None else None
    try:
        scale = _scale_from_blocks(name, shape, d_bits, trits, blocks, kind)
        return TernaryTensor.from_numpy(np.ascontiguousarray(trits).reshape(shape), scale)
    except ValueError as exc:
        raise WeightsFileError(path, str(exc)) from None


def _f32(bits: np.ndarray) -> np.ndarray:
    return bits.view(np.float16).astype(np.float32)


def _uniform(groups: np.ndarray, live: np.ndarray | None) -> tuple[bool, np.ndarray]:
    """Whether each row of `groups` (d bits) holds one value (only where `live`, if given), and it."""
    if live is None:
        return bool((groups == groups[:, :1]).all()), groups[:, 0]
    first = np.where(live.any(axis=1), live.argmax(axis=1), 0)
    ref = groups[np.arange(groups.shape[0]), first]
    return bool(((groups == ref[:, None]) | ~live).all()), ref


def _scale_from_blocks(name: str, shape: tuple[int, ...], d_bits: np.ndarray, trits: np.ndarray,
                       blocks: int, kind: str | None) -> object:
    """The scale argument for TernaryTensor from the blocks' `d`.

    With `kind` (our metadata) every block must agree, so the file comes back bit-exact. Without it,
    only blocks holding a non-zero trit count: elsewhere `d` does not change a value."""
    if kind not in (None, "tensor", "channel", "asymmetric"):
        raise ValueError(f"tensor '{name}' has an unknown scale kind {kind!r} in {METADATA_KEY}")
    if d_bits.size == 0:
        raise ValueError(f"tensor '{name}' of shape {shape} has no blocks, so no scale")
    rows = d_bits.shape[0]
    live = None
    if kind is None:
        padded = np.zeros((rows, blocks * BLOCK), dtype=bool)
        padded[:, :trits.shape[1]] = trits != 0
        live = padded.reshape(rows, blocks, BLOCK).any(axis=2)
    if kind in (None, "tensor", "asymmetric"):
        ok, ref = _uniform(d_bits.reshape(1, -1), None if live is None else live.reshape(1, -1))
        if ok:
            s = float(_f32(ref)[0])
            return (s, s) if kind == "asymmetric" else s
        if kind is not None:
            raise ValueError(f"tensor '{name}' is marked with one {kind} scale, but its blocks' "
                             f"scales differ")
    if kind == "channel" and len(shape) == 1:
        return np.repeat(_f32(d_bits[0]), BLOCK)[:shape[0]]
    if len(shape) >= 2 and (kind is None or kind == "channel"):
        per = rows // shape[0]
        ok, ref = _uniform(d_bits.reshape(shape[0], per * blocks),
                           None if live is None else live.reshape(shape[0], per * blocks))
        if ok:
            return _f32(ref)
    raise ValueError(f"tensor '{name}' has block scales that differ within an output channel (row group of "
                     f"axis 0); our format keeps one scale per tensor or per channel")
