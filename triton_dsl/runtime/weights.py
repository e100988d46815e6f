"""Weight files: named numpy arrays and `TernaryTensor`s in safetensors format.

In: `save_weights(path, {name: np.ndarray | TernaryTensor})`. Out: a standard safetensors file where
a ternary tensor is two entries — `name` (its packed uint8 bytes, docs/ternary_format.md) and
`name.scales` (float32) — described by the JSON metadata key `triton_dsl.ternary`
(layout tag, logical shape, scale kind). `load_weights(path)` returns the same dict, bit-exact.
Writes are atomic (temporary file in the same folder, fsync, rename: `atomic_output`, which the
converters use too), with the mode a plain open() gives. A missing, truncated or
corrupt file, an unknown layout tag or a missing scales entry raises `WeightsFileError` naming the
file; nothing is returned half-read.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from .errors import TritonRuntimeError
from .ternary import LAYOUT_TAG, SCALE_KINDS, TernaryTensor, packed_shape

METADATA_KEY = "triton_dsl.ternary"
SCALES_SUFFIX = ".scales"


class WeightsFileError(TritonRuntimeError):
    """A weight file that cannot be read or written as asked (the message names the file)."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = os.fspath(path)
        super().__init__(f"weights file '{self.path}': {problem}", file=self.path, kind="weights error")


def save_weights(path: str | os.PathLike, tensors: Mapping[str, np.ndarray | TernaryTensor]) -> None:
    """Write `tensors` to `path` atomically (an existing file is replaced only once all is written)."""
    from safetensors.numpy import save

    entries: dict[str, np.ndarray] = {}
    ternary: dict[str, dict] = {}
    for name, value in tensors.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"weight names must be non-empty strings, got {name!r}")
        if isinstance(value, TernaryTensor):
            scales_name = name + SCALES_SUFFIX
            if scales_name in tensors:
                raise ValueError(f"cannot save ternary tensor '{name}': its scales go in '{scales_name}', "
                                 f"which is also one of the given names")
            entries[name] = np.ascontiguousarray(value.packed)
            entries[scales_name] = np.ascontiguousarray(value.scales)
            ternary[name] = {"layout": LAYOUT_TAG, "shape": list(value.shape),
                             "scale_kind": value.scale_kind, "scales": scales_name}
        elif isinstance(value, (np.ndarray, np.generic)):
            entries[name] = np.asarray(value, order="C")
        else:
            raise TypeError(f"weight '{name}' must be a numpy array or a TernaryTensor, "
                            f"got {type(value).__name__}")
    try:
        data = save(entries, metadata={METADATA_KEY: json.dumps(ternary, sort_keys=True)})
    except Exception as exc:  # e.g. a dtype safetensors cannot store
        raise WeightsFileError(path, f"cannot encode the tensors: {exc}") from exc
    _write_atomically(Path(path), data)


def _write_atomically(path: Path, data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def _umask() -> int:
    """The process umask, read without changing it where Linux says it (os.umask sets it for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the folder of `path` for a writer to fill; when the block succeeds it is
    made durable, given the mode a plain open() would (mkstemp makes it 0600) and renamed over `path`, so a
    reader never sees half a file; on failure it is removed and `path` is left as it was. Errors name
    `path` (`WeightsFileError`)."""
    dest = Path(path)
    folder = dest.parent if str(dest.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise WeightsFileError(path, f"cannot create a file in '{folder}': {exc.strerror}") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WeightsFileError(path, f"cannot write: {exc.strerror or exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (not possible on every platform: best effort)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_weights(path: str | os.PathLike) -> dict[str, np.ndarray | TernaryTensor]:
    """Read a weight file written by `save_weights` (or any safetensors file of plain arrays)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WeightsFileError(path, f"cannot read: {exc.strerror}") from exc
    try:
        entries = load(data)
        metadata = _read_metadata(data)
    except (SafetensorError, ValueError, UnicodeDecodeError, TypeError, KeyError) as exc:
        raise WeightsFileError(path, f"not a valid safetensors file (truncated or corrupt?): {exc}") from exc
    ternary = _parse_ternary_metadata(path, metadata)
    result: dict[str, np.ndarray | TernaryTensor] = {}
    scale_names = {info["scales"] for info in ternary.values()}
    for name, info in ternary.items():
        result[name] = _load_ternary(path, name, info, entries)
    for name, array in entries.items():
        if name not in ternary and name not in scale_names:
            result[name] = array
    return result


def _read_metadata(data: bytes) -> dict[str, str]:
    """The `__metadata__` of a safetensors header (safetensors.numpy.load drops it)."""
    if len(data) < 8:
        raise ValueError("file shorter than its header length")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        raise ValueError("header runs past the end of the file")
    header = json.loads(data[8:8 + size].decode("utf-8"))
    return header.get("__metadata__") or {}


def _parse_ternary_metadata(path: str | os.PathLike, metadata: dict[str, str]) -> dict[str, dict]:
    raw = metadata.get(METADATA_KEY)
    if raw is None:
        return {}
    try:
        ternary = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise WeightsFileError(path, f"unreadable ternary metadata: {exc}") from exc
    if not isinstance(ternary, dict) or not all(isinstance(v, dict) for v in ternary.values()):
        raise WeightsFileError(path, "ternary metadata is not an object of objects")
    return ternary


def _load_ternary(path: str | os.PathLike, name: str, info: dict,
                  entries: dict[str, np.ndarray]) -> TernaryTensor:
    layout = info.get("layout")
    if layout != LAYOUT_TAG:
        raise WeightsFileError(path, f"ternary tensor '{name}' has layout {layout!r}; "
                                     f"this version reads {LAYOUT_TAG!r}")
    shape, kind, scales_name = info.get("shape"), info.get("scale_kind"), info.get("scales")
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise WeightsFileError(path, f"ternary tensor '{name}' has an invalid shape {shape!r}")
    if kind not in SCALE_KINDS:
        raise WeightsFileError(path, f"ternary tensor '{name}' has an unknown scale kind {kind!r}")
    if name not in entries:
        raise WeightsFileError(path, f"ternary tensor '{name}' has no packed data entry")
    if not isinstance(scales_name, str) or scales_name not in entries:
        raise WeightsFileError(path, f"ternary tensor '{name}' is missing its scales entry '{scales_name}'")
    packed, scales = entries[name], entries[scales_name]
    if packed.dtype != np.uint8 or packed.shape != packed_shape(tuple(shape)):
        raise WeightsFileError(path, f"ternary tensor '{name}' of shape {tuple(shape)} needs packed bytes "
                                     f"of shape {packed_shape(tuple(shape))}, found {packed.dtype} "
                                     f"{packed.shape}")
    if scales.dtype != np.float32 or scales.ndim != 1:
        raise WeightsFileError(path, f"scales of '{name}' must be a 1-D float32 array, found "
                                     f"{scales.dtype} {scales.shape}")
    expected = {"tensor": 1, "asymmetric": 2, "channel": shape[0] if shape else 0}[kind]
    if scales.shape[0] != expected or expected == 0:
        raise WeightsFileError(path, f"ternary tensor '{name}' with scale kind {kind!r} needs {expected} "
                                     f"scale value(s), found {scales.shape[0]}")
    scale: object = scales  # channel
    if kind == "tensor":
        scale = float(scales[0])
    elif kind == "asymmetric":
        scale = (float(scales[0]), float(scales[1]))
    try:
        return TernaryTensor.from_packed(packed, tuple(shape), scale)
    except (ValueError, TypeError) as exc:
        raise WeightsFileError(path, f"ternary tensor '{name}': {exc}") from exc
