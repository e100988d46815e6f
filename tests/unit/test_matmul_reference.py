"""Reference helpers for the matmul kernel tests, and checks of the helpers themselves.

In: numpy trit arrays (int8 in {−1, 0, +1}) and scales. Out: `Ternary` objects with the interchange
`.packed` bytes (docs/ternary_format.md) plus `.shape/.scales/.scale_kind`, and float64 dequantized
references. numpy here only builds test inputs and expected values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Ternary:
    packed: np.ndarray
    shape: tuple[int, ...]
    scales: np.ndarray
    scale_kind: str


def pack_trits(trits: np.ndarray) -> np.ndarray:
    """Interchange bytes of an int8 trit array: 4 codes (trit + 1) per byte, LSB first, rows padded."""
    t = np.asarray(trits, dtype=np.int8)
    lead, cols = t.shape[:-1], t.shape[-1]
    padded = np.ones((*lead, -(-cols // 4) * 4), np.uint8)
    padded[..., :cols] = (t + 1).astype(np.uint8)
    c = padded.reshape(*lead, padded.shape[-1] // 4, 4)
    return (c[..., 0] | c[..., 1] << 2 | c[..., 2] << 4 | c[..., 3] << 6).astype(np.uint8)


def random_trits(rng: np.random.Generator, shape: tuple[int, ...], zeros: float = 0.4) -> np.ndarray:
    t = rng.choice(np.array([-1, 0, 1], np.int8), size=shape, p=[(1 - zeros) / 2, zeros, (1 - zeros) / 2])
    return t.astype(np.int8)


def make_ternary(trits: np.ndarray, kind: str = "tensor", scales=None, rng=None) -> Ternary:
    rng = rng or np.random.default_rng(0)
    if scales is None:
        n = {"tensor": 1, "channel": trits.shape[0], "asymmetric": 2}[kind]
        scales = (rng.random(n) + 0.5).astype(np.float32)
    return Ternary(pack_trits(trits), tuple(trits.shape), np.asarray(scales, np.float32), kind)


def dequantize(t: Ternary, trits: np.ndarray) -> np.ndarray:
    """float64 values of the ternary tensor (axis-0 channel scales, as in the format doc)."""
    v = trits.astype(np.float64)
    s = t.scales.astype(np.float64)
    if t.scale_kind == "tensor":
        return v * s[0]
    if t.scale_kind == "channel":
        return v * s.reshape((-1,) + (1,) * (v.ndim - 1))
    return np.where(v > 0, s[0], np.where(v < 0, -s[1], 0.0))


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = 1e-5) -> None:
    """Relative to the largest |expected| (float32 summation-order differences scale with it)."""
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-30)
    err = float(np.abs(actual.astype(np.float64) - expected).max(initial=0.0))
    assert err <= rtol * scale, f"max error {err} > {rtol} × {scale}"


def test_pack_trits_matches_format_examples():
    assert pack_trits(np.array([-1, 0, 1, 1]))[0] == 0xA4
    assert pack_trits(np.array([1, -1, 0]))[0] == 0x52
    assert pack_trits(np.array([[0, 0, 0, 0], [-1, -1, -1, -1]])).tolist() == [[0x55], [0x00]]


def test_dequantize_kinds():
    t = np.array([[1, -1], [0, 1]], np.int8)
    assert dequantize(make_ternary(t, "channel", [2, 3]), t).tolist() == [[2, -2], [0, 3]]
    assert dequantize(make_ternary(t, "asymmetric", [2, 3]), t).tolist() == [[2, -3], [0, 2]]
