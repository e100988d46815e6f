"""Relayout kernels: packed ternary interchange weights → the matmul kernels' private layouts.

In: interchange bytes (docs/ternary_format.md: 2-bit codes, code = trit + 1, rows padded with code 1)
seen as a logical K × N matrix (K = reduction axis, N = output columns) in one of two addressings:
- mode 0 ("kn"): element (k, n) is column n of row k — a `[K, N]` weight for `x @ W`;
- mode 1 ("nk"): element (k, n) is column `k % row_len` of row `n * rows_per_n + k / row_len` — an
  `[N, ..., row_len]` tensor whose trailing axes flatten to K (conv OIHW weights, or `[M, K]`
  activations with rows_per_n = 1, row_len = K).
Out (all written into a zero-filled destination the caller allocates; sizes in docs/kernels.md):
- `trk_relayout_t2_panels`: 32-column panels; for each k, four u16 masks [+1 cols 0-15, −1 cols 0-15,
  +1 cols 16-31, −1 cols 16-31]; panel p is one contiguous K × 8-byte stream (float kernels).
- `trk_relayout_t2_vnni`: 16-column panels, per 16-k block 64 bytes whose 2-bit fields, shifted by
  2L and masked, give the unsigned codes of 4 consecutive k for each of the 16 columns (int8 kernels);
  the two panels of each 32-column pair alternate block by block, so a pair is one contiguous stream.
- `trk_relayout_t2_bitplanes`: per column n one row of ceil(K/64) u64 words of +1 bits then the same of
  −1 bits (ternary × ternary popcount kernel).
- `trk_relayout_t2_lut3`: blocks of 8 × 16 columns; per block, per word w (18 consecutive k), 8 × 16
  i32 lanes (tile-major); lane = column, holding 6 five-bit fields j = c₀ + 3c₁ + 9c₂ for the codes of
  k = 18w + 3j + 0..2 (base 3: 1.78 bits per weight; exact float GEMV by table lookup).
- `trk_relayout_t2_perm8`: blocks of 2 tiles × 8 columns; per block, per word w (32 consecutive k),
  per tile 8 u32 lanes of +1 bits then 8 of −1 bits (bit j of lane n ↔ k = 32w + j of column n): 2 bits
  per weight as bit-planes, for the AVX2 `vpermps` table lookup (matmul_perm8.py).
- `trk_relayout_t2_lut5`: per 5-k group g and column n one byte Σ_j code(5g + j, n)·3^j (k ≥ K: code 0,
  never read as a weight), chunk-major: byte (g / 16 · N + n) · 16 + g % 16 — 1.6 bits per weight, the
  index of a 243-entry table of partial sums (matmul_lut5.py).
Each kernel is `void(src, K, N, mode, rows_per_n, row_len, dst)` and runs in parallel over panels.
"""

from __future__ import annotations

from collections.abc import Callable

import llvmlite.ir as ir

from triton_dsl.codegen.kernels.trk_ir import (
    I8,
    I32,
    I64,
    PTR,
    VOID,
    call_parallel,
    ceil_div,
    for_range,
    i64,
    imin,
    load,
    new_function,
    pack_ctx,
    store,
    unpack_ctx,
)

PANEL_F32 = 32  # columns per float panel
PANEL_VNNI = 16  # columns per int8 panel
VNNI_KBLOCK = 16  # k per 64-byte int8 block
LUT_TILES = 8  # 16-column tiles per lut3 block (128 columns)
LUT_GROUPS_PER_WORD = 6  # 5-bit base-3 indices of 3 trits per i32 lane
PERM8_BLOCK_TILES = 2  # 8-column tiles per perm8 block (16 columns, one contiguous stream)
PERM8_WORD_K = 32  # k per u32 bit-plane lane
LUT5_GROUP_K = 5  # k per lut5 byte (3^5 = 243 ≤ 256)
LUT5_CHUNK = 16  # lut5 groups per column per chunk (16 bytes, 80 k)

# When a table kernel is worth its tables (matmul_api and generated code choose the layout alike):
LUT_MIN_COLUMNS = 128  # lut3 (AVX-512): below, building a table per row costs more than the lookups save
PERM8_MIN_COLUMNS = 32  # perm8 (AVX2): the same, masked adds instead below
# lut5 builds a 243-entry table per 5 k and row (363 adds) for every column strip: below ~128 columns that
# costs more than the masked adds it saves; with AVX2 the perm8 kernels win until M ≥ 8 and N ≥ 1024
LUT5_MIN_COLUMNS = 128
LUT5_AVX2_MIN_ROWS, LUT5_AVX2_MIN_COLUMNS = 8, 1024

_ARGS = [PTR, I64, I64, I64, I64, I64, PTR]  # src, K, N, mode, rows_per_n, row_len, dst


def emit_get_code(b: ir.IRBuilder, src: ir.Value, k: ir.Value, n: ir.Value, N: ir.Value, mode: ir.Value,
                  rows_per_n: ir.Value, row_len: ir.Value) -> ir.Value:
    """The 2-bit code (as i64, 0/1/2) of logical element (k, n) of the interchange bytes `src`."""
    kn = b.icmp_signed("==", mode, i64(0))
    row = b.select(kn, k, b.add(b.mul(n, rows_per_n), b.sdiv(k, row_len)))
    col = b.select(kn, n, b.srem(k, row_len))
    width = b.select(kn, N, row_len)
    row_bytes = ceil_div(b, width, i64(4))
    byte = load(b, src, I8, b.add(b.mul(row, row_bytes), b.lshr(col, i64(2))))
    shift = b.shl(b.and_(col, i64(3)), i64(1))
    code = b.and_(b.lshr(b.zext(byte, I64), shift), i64(3))
    # code 3 is invalid (loaders reject it); read it as 0 so every private layout agrees
    return b.select(b.icmp_signed("==", code, i64(3)), i64(1), code)


def _or_bit(b: ir.IRBuilder, dst: ir.Value, byte_index: ir.Value, bit: ir.Value, on: ir.Value) -> None:
    """dst[byte_index] |= (on << bit) for i64 values on ∈ {0, 1}, bit < 8."""
    old = load(b, dst, I8, byte_index)
    store(b, b.or_(old, b.trunc(b.shl(on, bit), I8)), dst, byte_index)


def _put_panels(b, dst, K, N, k, n, code):
    p, j = b.sdiv(n, i64(PANEL_F32)), b.srem(n, i64(PANEL_F32))
    base = b.mul(b.add(b.mul(p, K), k), i64(8))  # 8 bytes per k per panel
    half = b.sdiv(j, i64(16))
    bit = b.srem(j, i64(16))
    word = b.add(base, b.mul(half, i64(4)))
    byte = b.add(word, b.sdiv(bit, i64(8)))
    b8 = b.srem(bit, i64(8))
    _or_bit(b, dst, byte, b8, b.zext(b.icmp_signed("==", code, i64(2)), I64))
    _or_bit(b, dst, b.add(byte, i64(2)), b8, b.zext(b.icmp_signed("==", code, i64(0)), I64))


def _put_vnni(b, dst, K, N, k, n, code):
    # pairs of panels interleave block by block: one contiguous stream per 32 columns (prefetch-friendly)
    pair, half = b.sdiv(n, i64(2 * PANEL_VNNI)), b.srem(b.sdiv(n, i64(PANEL_VNNI)), i64(2))
    nl = b.srem(n, i64(PANEL_VNNI))
    kblocks = ceil_div(b, K, i64(VNNI_KBLOCK))
    kb, kr = b.sdiv(k, i64(VNNI_KBLOCK)), b.srem(k, i64(VNNI_KBLOCK))
    lane_group, kk = b.sdiv(kr, i64(4)), b.srem(kr, i64(4))
    block = b.add(b.mul(b.add(b.mul(pair, kblocks), kb), i64(2)), half)
    byte = b.add(b.mul(block, i64(64)), b.add(b.mul(nl, i64(4)), kk))
    old = load(b, dst, I8, byte)
    store(b, b.or_(old, b.trunc(b.shl(code, b.mul(lane_group, i64(2))), I8)), dst, byte)


def _put_bitplanes(b, dst, K, N, k, n, code):
    words = ceil_div(b, K, i64(64))
    row = b.mul(b.mul(n, words), i64(16))  # 2 planes × words × 8 bytes
    byte = b.add(row, b.sdiv(k, i64(8)))
    bit = b.srem(k, i64(8))
    _or_bit(b, dst, byte, bit, b.zext(b.icmp_signed("==", code, i64(2)), I64))
    _or_bit(b, dst, b.add(byte, b.mul(words, i64(8))), bit, b.zext(b.icmp_signed("==", code, i64(0)), I64))


def _put_lut3(b, dst, K, N, k, n, code):
    """Add code·3^(k%3) into the 5-bit field (k/3)%6 of the dword of column n, word (k/3)/6."""
    group = b.sdiv(k, i64(3))
    words = ceil_div(b, ceil_div(b, K, i64(3)), i64(LUT_GROUPS_PER_WORD))
    w, j = b.sdiv(group, i64(LUT_GROUPS_PER_WORD)), b.srem(group, i64(LUT_GROUPS_PER_WORD))
    tile, lane = b.sdiv(n, i64(16)), b.srem(n, i64(16))
    block, t = b.sdiv(tile, i64(LUT_TILES)), b.srem(tile, i64(LUT_TILES))
    index = b.add(b.mul(b.add(b.mul(b.add(b.mul(block, words), w), i64(LUT_TILES)), t), i64(16)), lane)
    weight = b.select(b.icmp_signed("==", b.srem(k, i64(3)), i64(0)), i64(1),
                      b.select(b.icmp_signed("==", b.srem(k, i64(3)), i64(1)), i64(3), i64(9)))
    add = b.shl(b.mul(code, weight), b.mul(j, i64(5)))
    store(b, b.add(load(b, dst, I32, index), b.trunc(add, I32)), dst, index)


def _put_perm8(b, dst, K, N, k, n, code):
    """Set bit k % 32 of lane n % 8 of the +1 (code 2) or −1 (code 0) plane of tile (n / 8) % 2, word k / 32,
    block n / 16: bytes ((block · words + word) · 2 + tile) · 64 + 32 · plane + 4 · lane."""
    words = ceil_div(b, K, i64(PERM8_WORD_K))
    cols = 8 * PERM8_BLOCK_TILES
    block, tile, lane = b.sdiv(n, i64(cols)), b.sdiv(b.srem(n, i64(cols)), i64(8)), b.srem(n, i64(8))
    word, j = b.sdiv(k, i64(PERM8_WORD_K)), b.srem(k, i64(PERM8_WORD_K))
    base = b.mul(b.add(b.mul(b.add(b.mul(block, words), word), i64(PERM8_BLOCK_TILES)), tile), i64(64))
    byte = b.add(b.add(base, b.mul(lane, i64(4))), b.sdiv(j, i64(8)))
    bit = b.srem(j, i64(8))
    _or_bit(b, dst, byte, bit, b.zext(b.icmp_signed("==", code, i64(2)), I64))
    _or_bit(b, dst, b.add(byte, i64(32)), bit, b.zext(b.icmp_signed("==", code, i64(0)), I64))


def _put_lut5(b, dst, K, N, k, n, code):
    """Add code·3^(k%5) into byte (chunk · N + n) · LUT5_CHUNK + group % LUT5_CHUNK, group = k / 5."""
    group, j = b.sdiv(k, i64(LUT5_GROUP_K)), b.srem(k, i64(LUT5_GROUP_K))
    chunk, gi = b.sdiv(group, i64(LUT5_CHUNK)), b.srem(group, i64(LUT5_CHUNK))
    byte = b.add(b.mul(b.add(b.mul(chunk, N), n), i64(LUT5_CHUNK)), gi)
    weight = b.select(b.icmp_signed("==", j, i64(0)), i64(1),
                      b.select(b.icmp_signed("==", j, i64(1)), i64(3),
                               b.select(b.icmp_signed("==", j, i64(2)), i64(9),
                                        b.select(b.icmp_signed("==", j, i64(3)), i64(27), i64(81)))))
    store(b, b.add(load(b, dst, I8, byte), b.trunc(b.mul(code, weight), I8)), dst, byte)


Put = Callable[[ir.IRBuilder, ir.Value, ir.Value, ir.Value, ir.Value, ir.Value, ir.Value], None]


def _emit_relayout(module: ir.Module, name: str, panel: int, put: Put) -> None:
    body, b = new_function(module, f"{name}.body", VOID, [PTR, I64, I64], ["ctx", "begin", "end"],
                           internal=True)
    src, K, N, mode, rpn, rl, dst = unpack_ctx(b, body.args[0], ir.LiteralStructType(_ARGS))
    with for_range(b, body.args[1], body.args[2], name="panel") as p:
        n0 = b.mul(p, i64(panel))
        n1 = imin(b, b.add(n0, i64(panel)), N)
        with for_range(b, i64(0), K, name="k") as k, for_range(b, n0, n1, name="n") as n:
            put(b, dst, K, N, k, n, emit_get_code(b, src, k, n, N, mode, rpn, rl))
    b.ret_void()

    fn, b = new_function(module, name, VOID, _ARGS, ["src", "K", "N", "mode", "rows_per_n", "row_len", "dst"])
    ctx, _ = pack_ctx(b, list(fn.args))
    npanels = ceil_div(b, fn.args[2], i64(panel))
    # ~64k elements per chunk: enough work to be worth a hand-off
    grain = b.add(b.sdiv(i64(1 << 16), b.add(b.mul(fn.args[1], i64(panel)), i64(1))), i64(1))
    call_parallel(b, body, ctx, npanels, grain)
    b.ret_void()


def build(module: ir.Module, host) -> None:
    """Add the relayout kernels to `module` (kernel-library builder signature)."""
    _emit_relayout(module, "trk_relayout_t2_panels", PANEL_F32, _put_panels)
    _emit_relayout(module, "trk_relayout_t2_vnni", PANEL_VNNI, _put_vnni)
    _emit_relayout(module, "trk_relayout_t2_bitplanes", 1, _put_bitplanes)
    _emit_relayout(module, "trk_relayout_t2_lut3", 16 * LUT_TILES, _put_lut3)
    _emit_relayout(module, "trk_relayout_t2_perm8", 8 * PERM8_BLOCK_TILES, _put_perm8)
    _emit_relayout(module, "trk_relayout_t2_lut5", 16, _put_lut5)

