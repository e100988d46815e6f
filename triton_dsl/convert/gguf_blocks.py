"""GGUF's ternary block codecs, TQ2_0 and TQ1_0, on int8 trits (numpy only: no DSL program runs here).

In: trits as an int8 array of shape (rows, cols) with `cols` a multiple of 256 (callers pad rows) and one
float16 scale `d` per 256-trit block, shape (rows, cols // 256). Out: the GGUF block bytes, shape
(rows, blocks * block_bytes) uint8, and back. The layouts are ggml's (ggml-common.h `block_tq2_0`,
`block_tq1_0`; gguf-py `gguf.quants`), restated here:

- **TQ2_0** (66 bytes per block): `qs[64]` then `d`. Trit `e` of a block (0..255) has code `trit + 1` at
  bits `2k` of byte `32·(e // 128) + (e % 32)`, with `k = (e % 128) // 32`.
- **TQ1_0** (54 bytes per block): `qs[48]`, `qh[4]`, then `d`. Five (four in `qh`) trits share a byte as
  the base-3 digits of a fraction: codes `c0..c4` give `v = 81·c0 + 27·c1 + 9·c2 + 3·c3 + c4` and the byte
  is `ceil(v · 256 / 243)`; digit `k` comes back as `((byte · 3^k) mod 256) · 3 >> 8`. Trits 0..159 are
  in `qs[0:32]` (byte `j` holds trits `j + 32·k`), 160..239 in `qs[32:48]` (`160 + j + 16·k`), 240..255
  in `qh` (`240 + j + 4·k`, four digits, the fifth digit 0).

Decoding rejects TQ2_0 code 3 (it is no trit; ggml would read it as +2) by returning its position.
"""

from __future__ import annotations

import numpy as np

BLOCK = 256  # trits per block (ggml QK_K)
BLOCK_BYTES = {"TQ2_0": 66, "TQ1_0": 54}
_POW3 = np.array([81, 27, 9, 3, 1], dtype=np.uint16)


def _with_scales(qs: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Append each block's float16 scale (2 little-endian bytes) to its trit bytes."""
    rows, blocks, _ = qs.shape
    d_bytes = np.ascontiguousarray(d.astype("<f2")).view(np.uint8).reshape(rows, blocks, 2)
    return np.concatenate([qs, d_bytes], axis=-1).reshape(rows, blocks * (qs.shape[2] + 2))


def _split(data: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(trit bytes (rows, blocks, n), d as float16 (rows, blocks)) of GGUF block bytes."""
    rows, count = data.shape[0], data.shape[1] // BLOCK_BYTES[kind]  # explicit: rows may be 0
    blocks = data.reshape(rows, count, BLOCK_BYTES[kind])
    d = np.ascontiguousarray(blocks[..., -2:]).view("<f2").reshape(rows, count)
    return blocks[..., :-2], d


def encode_tq2(trits: np.ndarray, d: np.ndarray) -> np.ndarray:
    rows, cols = trits.shape
    codes = (trits.astype(np.int16) + 1).astype(np.uint8).reshape(rows, cols // BLOCK, 2, 4, 32)
    qs = codes[..., 0, :] | (codes[..., 1, :] << 2) | (codes[..., 2, :] << 4) | (codes[..., 3, :] << 6)
    return _with_scales(qs.reshape(rows, cols // BLOCK, 64), d)


def decode_tq2(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(trits (rows, cols) int8, d float16 (rows, blocks), flat index of the first code 3 or -1)."""
    qs, d = _split(data, "TQ2_0")
    rows, blocks = d.shape
    qs = qs.reshape(rows, blocks, 2, 1, 32)
    codes = (qs >> np.array([0, 2, 4, 6], dtype=np.uint8).reshape(4, 1)) & 3  # (rows, blocks, 2, 4, 32)
    codes = codes.reshape(rows, blocks * BLOCK)
    bad = np.flatnonzero(codes == 3)
    return codes.astype(np.int8) - 1, d, int(bad[0]) if bad.size else -1


def _pack_base3(codes: np.ndarray, group: int, digits: int) -> np.ndarray:
    """Bytes holding `digits` codes each: codes (rows, blocks, digits·group) -> (rows, blocks, group)."""
    rows, blocks, _ = codes.shape
    parts = codes.reshape(rows, blocks, digits, group).astype(np.uint16)
    v = np.einsum("rbkg,k->rbg", parts, _POW3[:digits])
    return ((v * 256 + 242) // 243).astype(np.uint8)


def _unpack_base3(q: np.ndarray, digits: int) -> np.ndarray:
    """Inverse of `_pack_base3`: bytes (rows, blocks, group) -> codes (rows, blocks, digits·group)."""
    rows, blocks, group = q.shape
    mult = (3 ** np.arange(digits, dtype=np.uint16)).reshape(digits, 1)
    shifted = (q.astype(np.uint16).reshape(rows, blocks, 1, group) * mult) & 0xFF
    return ((shifted * 3) >> 8).astype(np.uint8).reshape(rows, blocks, digits * group)


def encode_tq1(trits: np.ndarray, d: np.ndarray) -> np.ndarray:
    rows, cols = trits.shape
    codes = (trits.astype(np.int16) + 1).astype(np.uint8).reshape(rows, cols // BLOCK, BLOCK)
    qs0 = _pack_base3(codes[..., :160], 32, 5)
    qs1 = _pack_base3(codes[..., 160:240], 16, 5)
    qh = _pack_base3(codes[..., 240:], 4, 4)  # the fifth digit is 0: the weights stop at 3
    return _with_scales(np.concatenate([qs0, qs1, qh], axis=-1), d)


def decode_tq1(data: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(trits (rows, cols) int8, d float16 (rows, blocks), -1): every TQ1_0 byte decodes to valid codes."""
    qs, d = _split(data, "TQ1_0")
    rows, blocks = d.shape
    codes = np.concatenate([_unpack_base3(qs[..., :32], 5), _unpack_base3(qs[..., 32:48], 5),
                            _unpack_base3(qs[..., 48:52], 4)], axis=-1)
    return codes.reshape(rows, blocks * BLOCK).astype(np.int8) - 1, d, -1


ENCODERS = {"TQ2_0": encode_tq2, "TQ1_0": encode_tq1}
DECODERS = {"TQ2_0": decode_tq2, "TQ1_0": decode_tq1}
