"""A safetensors reader that keeps the header and reads bfloat16 (numpy has no bfloat16 type).

In: a path. Out: `SafetensorsFile` — the header's metadata, each entry's dtype name and shape (without
reading the data; `summary` uses this), and `arrays()`: every entry as a numpy array, where BF16 becomes
float32 (exact: a bfloat16 is the top half of a float32). Hugging Face checkpoints keep scales and
embeddings in BF16, so the converters read them with this. Any malformed header or data range raises
`WeightsFileError` naming the file.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from ..runtime.weights import WeightsFileError

# safetensors dtype name -> numpy dtype (little-endian); BF16 is widened on read.
_DTYPES = {"BOOL": "?", "U8": "u1", "I8": "i1", "U16": "<u2", "I16": "<i2", "U32": "<u4", "I32": "<i4",
           "U64": "<u8", "I64": "<i8", "F16": "<f2", "F32": "<f4", "F64": "<f8", "BF16": "<u2"}
_MAX_HEADER = 100 * 1024 * 1024  # the safetensors format's own limit


@dataclass
class Entry:
    dtype: str                  # safetensors spelling: F32, U8, BF16, ...
    shape: tuple[int, ...]
    start: int                  # byte range in the data section
    end: int


@dataclass
class SafetensorsFile:
    path: str
    metadata: dict[str, str] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    data: bytes = b""

    def array(self, name: str) -> np.ndarray:
        e = self.entries[name]
        if len(self.data) < e.end:
            raise ValueError("read with header_only=True: the data was not read")
        raw = np.frombuffer(self.data, dtype=_DTYPES[e.dtype], count=math.prod(e.shape), offset=e.start)
        if e.dtype == "BF16":
            raw = (raw.astype(np.uint32) << 16).view(np.float32)
        return np.array(raw.reshape(e.shape), dtype=raw.dtype.newbyteorder("="))

    def arrays(self) -> dict[str, np.ndarray]:
        return {name: self.array(name) for name in self.entries}


def read_safetensors(path: str | os.PathLike, header_only: bool = False) -> SafetensorsFile:
    """Parse the file at `path`, checking the header and that every entry's bytes are inside the file.

    With `header_only`, the data section is not read (`array()` is then unavailable): enough to detect
    a format or count bytes without reading gigabytes twice."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            size = int.from_bytes(head, "little") if len(head) == 8 else -1
            file_size = os.fstat(f.fileno()).st_size
            header_bytes = f.read(size) if 0 <= size <= min(_MAX_HEADER, file_size - 8) else b""
            data = b"" if header_only else f.read()
    except OSError as exc:
        raise WeightsFileError(path, f"cannot read: {exc.strerror}") from exc
    data_size = file_size - 8 - max(size, 0)

    def bad(problem: str) -> WeightsFileError:
        return WeightsFileError(path, f"not a valid safetensors file (truncated or corrupt?): {problem}")

    if size < 0:
        raise bad("shorter than its header length")
    if size > min(_MAX_HEADER, file_size - 8):
        raise bad("the header runs past the end of the file")
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"unreadable header: {exc}") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    result = SafetensorsFile(os.fspath(path), data=data)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("__metadata__ is not an object of strings")
    result.metadata = metadata
    for name, info in header.items():
        try:
            dtype, shape, (start, end) = info["dtype"], tuple(info["shape"]), info["data_offsets"]
        except (TypeError, KeyError, ValueError) as exc:
            raise bad(f"entry '{name}' is malformed ({exc})") from None
        if dtype not in _DTYPES:
            raise bad(f"entry '{name}' has an unknown dtype {dtype!r}")
        if not all(isinstance(n, int) and n >= 0 for n in shape) or not (
                isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= data_size):
            raise bad(f"entry '{name}' has an invalid shape or data range")
        if end - start != math.prod(shape) * np.dtype(_DTYPES[dtype]).itemsize:
            raise bad(f"entry '{name}' of {dtype} {list(shape)} does not match its {end - start} bytes")
        result.entries[name] = Entry(dtype, shape, start, end)
    return result
