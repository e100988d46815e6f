"""Shared helpers of the conversion tests: random trits, float16-exact scales, hand-made safetensors files.

In: nothing. Out: `trits` (random int8 trits, chosen rows zeroed), `f16_values` (float32 scales a GGUF
block holds exactly), `assert_same` (two weight dicts equal bit for bit), `raw_safetensors` /
`bf16_bytes` (files numpy cannot make: BF16, corrupt bytes), and `transformers_unpack` (transformers'
BitNet `unpack_weights` loop restated in numpy).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from triton_dsl import TernaryTensor

RNG = np.random.default_rng(20261204)


def trits(shape, zero_rows=()):
    t = RNG.integers(-1, 2, size=shape).astype(np.int8)
    for r in zero_rows:
        t[r] = 0
    return t


def f16_values(n):
    """float32 scales that are exact float16 values (what a GGUF block can hold)."""
    return (RNG.uniform(0.01, 4.0, n) * RNG.choice([-1, 1], n)).astype(np.float16).astype(np.float32)


def assert_same(a: dict, b: dict):
    assert list(a) == list(b) or sorted(a) == sorted(b)
    for name, value in a.items():
        other = b[name]
        if isinstance(value, TernaryTensor):
            assert isinstance(other, TernaryTensor) and value.equals(other), name
        else:
            assert isinstance(other, np.ndarray) and other.dtype == value.dtype, name
            assert other.shape == value.shape and other.tobytes() == value.tobytes(), name


def transformers_unpack(packed: np.ndarray) -> np.ndarray:
    """transformers' `unpack_weights` loop restated in numpy (slab i of the output from bits 2i)."""
    rows = packed.shape[0]
    out = np.zeros((rows * 4, *packed.shape[1:]), np.uint8)
    for i in range(4):
        out[i * rows:(i + 1) * rows] = (packed & (3 << (2 * i))) >> (2 * i)
    return out.astype(np.int8) - 1


def raw_safetensors(path: Path, entries: dict[str, tuple[str, tuple, bytes]], metadata=None) -> None:
    """Write a safetensors file by hand (numpy cannot make BF16 entries)."""
    header, offset, blob = {}, 0, b""
    for name, (dtype, shape, data) in entries.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blob += data
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + blob)


def bf16_bytes(values) -> bytes:
    return (np.asarray(values, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()
