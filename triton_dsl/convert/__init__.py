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

    def __str__(self) -> str:
        return (f"{self.source} ({self.source_format}) -> {self.target} ({self.target_format}): "
                f"{self.tensors} tensors ({self.ternary} ternary), {self.bytes_written} bytes")


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
    st = read_safetensors(path)
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
    return fmt, load_weights(path)


def convert(source: str | os.PathLike, target: str | os.PathLike, to: str, *,
            hf_scale: str | None = None) -> ConversionReport:
    """Convert the weight file `source` to format `to` (one of FORMATS) at `target`.

    `hf_scale` ("divide" or "multiply") is the BitNet `weight_scale` convention, for a hf-bitnet input
    or output (see hf_bitnet.py); it is an error to give it otherwise."""
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
                            Path(target).stat().st_size)
