"""Weight-file conversion between our format and other tools' ternary layouts.

In: an input weight file (its format is detected from its contents) and a target format. Out: the
output file, written atomically, and a `ConversionReport`. Formats, one module each:

- `ours`       our safetensors files (`runtime/weights.py`, docs/ternary_format.md)
- `gguf-tq2_0`, `gguf-tq1_0`  GGUF with ggml's ternary block types (`gguf_file.py`, `gguf_blocks.py`)
- `hf-bitnet`  Hugging Face BitNet b1.58 packed safetensors (`hf_bitnet.py`)

Every conversion is exact or refused: a tensor the target cannot hold bit-exactly raises
`WeightsFileError` naming the input file and the tensor (rules in docs/convert.md). A missing,
truncated or corrupt input raises `WeightsFileError` naming it. numpy does the bit work here: this is
boundary code and no DSL program runs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..runtime.ternary import TernaryTensor
from ..runtime.weights import WeightsFileError

FORMATS = ("ours", "gguf-tq2_0", "gguf-tq1_0", "hf-bitnet")
_GGUF_BLOCKS = {"gguf-tq2_0": "TQ2_0", "gguf-tq1_0": "TQ1_0"}


@dataclass(frozen=True)
class ConversionReport:
    source: str
    source_format: str       # "ours", "gguf" or "hf-bitnet"
    target: str
    target_format: str       # one of FORMATS
    tensors: int
    ternary: int
    bytes_written: int
    rounded: tuple[str, ...] = ()     # tensors whose scales --round-scales changed
    largest_change: float = 0.0      # the largest relative change of a scale it made

    def __str__(self) -> str:
        text = (f"{self.source} ({self.source_format}) -> {self.target} ({self.target_format}): "
                f"{self.tensors} tensor{'' if self.tensors == 1 else 's'} ({self.ternary} ternary), "
                f"{self.bytes_written} bytes")
        if self.rounded:
            text += (f"; scales rounded in {len(self.rounded)} tensor{'s' if len(self.rounded) > 1 else ''} "
                     f"(largest relative change {self.largest_change:.3g})")
        return text


def detect_format(path: str | os.PathLike) -> str:
    """"gguf", "hf-bitnet" or "ours" (any other safetensors file), from the file's contents."""
    from .gguf_file import is_gguf
    from .hf_bitnet import looks_like_hf_bitnet
    from .safetensors_raw import read_safetensors

    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise WeightsFileError(path, f"cannot read: {exc.strerror}") from exc
    if is_gguf(head):
        return "gguf"
    st = read_safetensors(path, header_only=True)
    if "triton_dsl.ternary" not in st.metadata and looks_like_hf_bitnet(st.metadata, st.entries):
        return "hf-bitnet"
    return "ours"


def read_any(path: str | os.PathLike, hf_scale: str | None = None) -> tuple[str, dict]:
    """(detected format, {name: array or TernaryTensor}) of the weight file at `path`."""
    from ..runtime.weights import load_weights

    fmt = detect_format(path)
    if fmt == "gguf":
        from .gguf_file import read_gguf
        return fmt, read_gguf(path)
    if fmt == "hf-bitnet":
        from .hf_bitnet import read_hf_bitnet
        return fmt, read_hf_bitnet(path, hf_scale)
    from .safetensors_raw import read_safetensors
    if "triton_dsl.ternary" not in read_safetensors(path, header_only=True).metadata:
        # plain arrays, possibly BF16 (which load_weights, through numpy, cannot hold): float32, exact
        return fmt, read_safetensors(path).arrays()
    return fmt, load_weights(path)


def _rounded_scale(t: TernaryTensor, to: str, hf_scale: str | None) -> np.ndarray:
    """The scales the target can hold that are nearest to `t`'s (float32)."""
    s = np.asarray(t.scales, dtype=np.float32)
    if to in _GGUF_BLOCKS:
        with np.errstate(over="ignore"):
            return s.astype(np.float16).astype(np.float32)
    if to == "hf-bitnet" and (hf_scale or "divide") == "divide":
        with np.errstate(divide="ignore"):
            return np.float32(1) / (np.float32(1) / s)
    return s


def round_scales(tensors: dict, to: str, hf_scale: str | None, source: str) -> tuple[dict, tuple, float]:
    """`tensors` with every ternary scale replaced by the nearest one `to` holds exactly; and the names
    changed and the largest relative change (this changes the weights: only on request)."""
    out, changed, largest = dict(tensors), [], 0.0
    for name, t in tensors.items():
        if not isinstance(t, TernaryTensor):
            continue
        old = np.asarray(t.scales, dtype=np.float32)
        new = _rounded_scale(t, to, hf_scale)
        if not np.isfinite(new).all():
            raise WeightsFileError(source, f"tensor '{name}': a scale of {float(np.abs(old).max())!r} is "
                                           f"out of the range of the target's scales")
        if new.view(np.uint32).tolist() == old.view(np.uint32).tolist():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(old != 0, np.abs(new.astype(np.float64) - old) / np.abs(old), 0.0)
        largest = max(largest, float(rel.max()))
        scale: object = new if t.scale_kind == "channel" else \
            (float(new[0]), float(new[1])) if t.scale_kind == "asymmetric" else float(new[0])
        out[name] = TernaryTensor.from_packed(t.packed, t.shape, scale)
        changed.append(name)
    return out, tuple(changed), largest


def convert(source: str | os.PathLike, target: str | os.PathLike, to: str, *,
            hf_scale: str | None = None, round_scales_to_fit: bool = False) -> ConversionReport:
    """Convert the weight file `source` to format `to` (one of FORMATS) at `target`.

    `hf_scale` ("divide" or "multiply") is the BitNet `weight_scale` convention, for a hf-bitnet input
    or output (see hf_bitnet.py); it is an error to give it otherwise. `round_scales_to_fit` replaces
    scales the target cannot hold exactly (float16 for GGUF, `1/(1/s)` for BitNet's divide) by the
    nearest it can, and reports it; without it such a tensor is refused."""
    from .hf_bitnet import SCALE_MODES

    if to not in FORMATS:
        raise ValueError(f"unknown target format {to!r}; choose one of {', '.join(FORMATS)}")
    if hf_scale is not None and hf_scale not in SCALE_MODES:
        raise ValueError(f"unknown hf_scale {hf_scale!r}; choose one of {', '.join(SCALE_MODES)}")
    source_format, tensors = read_any(source, hf_scale if to != "hf-bitnet" else None)
    if hf_scale is not None and "hf-bitnet" not in (source_format, to):
        raise ValueError(f"hf_scale (--hf-scale) applies to hf-bitnet files, and neither "
                         f"'{os.fspath(source)}' ({source_format}) nor the target ({to}) is one")
    src = os.fspath(source)
    rounded, largest = (), 0.0
    if round_scales_to_fit:
        tensors, rounded, largest = round_scales(tensors, to, hf_scale, src)
    if to in _GGUF_BLOCKS:
        from .gguf_file import write_gguf
        write_gguf(target, tensors, _GGUF_BLOCKS[to], src)
    elif to == "hf-bitnet":
        from .hf_bitnet import write_hf_bitnet
        write_hf_bitnet(target, tensors, src, hf_scale or "divide")
    else:
        from ..runtime.weights import save_weights
        save_weights(target, tensors)
    ternary = sum(isinstance(v, TernaryTensor) for v in tensors.values())
    return ConversionReport(src, source_format, os.fspath(target), to, len(tensors), ternary,
                            Path(target).stat().st_size, rounded, largest)
