"""Exact float32 GEMV / GEMM for AVX2: bit-plane table lookup with `vpermps` (8-entry tables).

In: x (M × K float32, row stride `lda`), weights relaid by `trk_relayout_t2_perm8` (relayout.py: blocks
of 2 tiles × 8 columns; per 32-k word and tile, 8 u32 lanes of +1 bits then 8 of −1 bits, bit j of lane
n ↔ k = 32·word + j of column n), optional per-k scales, per-output scales `nscale`, and the values of a
+1 / −1 trit (`wpos`, `wneg`); output row stride `ldy`.
Out: `i32 trk_matmul_f32_t2_perm8(x, lda, w, y, ldy, M, K, N, kscale|null, nscale, wpos, wneg)` writing
y[m, n] = nscale[n] · (wpos · Σ_{W=+1} x[m,k]·ks[k] − wneg · Σ_{W=−1} x[m,k]·ks[k]); returns 0, or 1 if
the tables cannot be allocated. Exact: every output is a float32 sum of the same terms as the masked-add
kernel's, in another order.

Why: AVX2 has no mask registers, so masked adds cost a mask expansion each, and no two-table permute for
the 27-entry base-3 tables of the AVX-512 kernels. But `vpermps` indexes an 8-entry table with the low 3
bits of each lane: with the +1 and −1 trits as separate bit-planes, the 3 bits of a k triple of either
plane index the same table of the 8 subset sums of (x[k], x[k+1], x[k+2]). Per 8 columns × 3 k: a shift
of each plane (shared by the rows of a GEMM micro-kernel), two permutes and two adds — 24 weights in 6
uops, vs 3 × 8 masked adds plus their mask expansions. A 32-bit word holds 10 triples and one pair (bits
30–31, whose table has x[k+2] = 0), so the layout is exactly 2 bits per weight. Tables: 11 × 32 bytes
per 32 k per row (45 KiB for K = 4096), in L1/L2.
- GEMV (M = 1): one task per 16-column block (one contiguous stream, prefetched), 2 tiles × 2 planes ×
  2 accumulators (even / odd triples) = 8 independent add chains.
- GEMM: micro-kernels of up to 2 rows × the block's 2 tiles (8 accumulators, 4 shifted index vectors);
  a task is (≤ GROUP_ROWS rows, a strip of STRIP_BLOCKS blocks): each block's weights (16 KiB for
  K = 4096) stay in L1 while the row blocks of the group run over them, and the group's tables in L2.
On targets whose `gemm` variant is not `avx2-perm` (no AVX2, or AVX-512 with its own table kernels) the
kernel is a scalar loop over the bit-planes (correct, slow, small to compile; never picked there).
"""

from __future__ import annotations

import llvmlite.ir as ir

from triton_dsl.codegen.kernels.relayout import PERM8_BLOCK_TILES, PERM8_WORD_K
from triton_dsl.codegen.kernels.trk_ir import (
    F32,
    I1,
    I8,
    I32,
    I64,
    PTR,
    VOID,
    call_by_count,
    call_parallel,
    ceil_div,
    entry_alloca,
    f32,
    for_range,
    free,
    gep,
    i32,
    i64,
    imax,
    imin,
    intrinsic,
    lane_mask,
    load,
    malloc,
    masked_load,
    masked_store,
    new_function,
    pack_ctx,
    prefetch,
    splat,
    store,
    unpack_ctx,
    vec,
)

V8F = vec(F32, 8)
V8I = vec(I32, 8)
GROUPS = 11  # per 32-k word: 10 triples (bits 0..29) and a pair (bits 30, 31)
TABLE_BYTES = GROUPS * 32  # per word per row
BLOCK_BYTES = PERM8_BLOCK_TILES * 64  # per word per block: per tile 32 bytes of +1 bits, 32 of −1 bits
PREFETCH_BYTES = 4096
FMA_ROWS = 6  # rows per GEMM micro-kernel: 12 accumulators + 2 weights + 1 broadcast ≤ 16 ymm
FMA_GROUP_ROWS = 96  # rows per GEMM task (one expansion of the block serves them)
FMA_STRIP = 8  # blocks per GEMM task: the x chunk (rows × FMA_KC floats) is reused by 8 blocks from L1/L2
FMA_KC = 256  # k per expanded chunk: 256 × 16 floats = 16 KiB, in L1 while the row blocks use it
_ARGS = [PTR, I64, PTR, PTR, I64, I64, I64, I64, PTR, PTR, F32, F32]
_NAMES = ["x", "lda", "w", "y", "ldy", "M", "K", "N", "kscale", "nscale", "wpos", "wneg"]
# ctx of the bodies: x, lda, tables, w, y, ldy, M, K, N, words, kscale, nscale, wpos, wneg
_CTX = [PTR, I64, PTR, PTR, PTR, I64, I64, I64, I64, I64, PTR, PTR, F32, F32]


def _permute(b: ir.IRBuilder, fast: bool, table: ir.Value, idx: ir.Value) -> ir.Value:
    """lane l → table[idx[l] & 7]."""
    if fast:
        return b.call(intrinsic(b.module, "llvm.x86.avx2.permps", V8F, [V8F, V8I]), [table, idx])
    out = ir.Constant(V8F, None)
    for lane in range(8):
        j = b.and_(b.extract_element(idx, i32(lane)), i32(7))
        out = b.insert_element(out, b.extract_element(table, j), i32(lane))
    return out


def _emit_tables_body(module: ir.Module) -> ir.Function:
    """Per row m and word w, GROUPS tables of 8 floats: entry e of group g = Σ_{i<3, bit i of e} x'[k_i]
    with x' = x·kscale, k_i = 32w + 3g + i (0 where k_i ≥ K or, for the pair g = 10, i = 2)."""
    body, b = new_function(module, "trk_matmul_f32_t2_perm8.tables", VOID, [PTR, I64, I64],
                           ["ctx", "begin", "end"], internal=True)
    x, lda, tables, _, _, _, _, K, _, words, kscale, _, _, _ = unpack_ctx(b, body.args[0],
                                                                          ir.LiteralStructType(_CTX))
    has_ks = b.icmp_unsigned("!=", b.ptrtoint(kscale, I64), i64(0))
    zero = ir.Constant(V8F, None)
    bits = [ir.Constant(vec(I1, 8), [(e >> i) & 1 == 1 for e in range(8)]) for i in range(3)]
    with for_range(b, body.args[1], body.args[2], name="row") as m:
        xrow = gep(b, x, b.mul(m, lda), F32)
        out = gep(b, tables, b.mul(b.mul(m, words), i64(TABLE_BYTES)), I8)
        with for_range(b, i64(0), words, name="w") as wd:
            for g in range(GROUPS):
                total = None
                for i in range(3 if g < GROUPS - 1 else 2):
                    k = b.add(b.mul(wd, i64(PERM8_WORD_K)), i64(3 * g + i))
                    ok = b.icmp_signed("<", k, K)
                    safe = b.select(ok, k, i64(0))
                    xk = load(b, xrow, F32, safe)
                    ks = load(b, b.select(has_ks, kscale, xrow), F32, safe)
                    xk = b.select(ok, b.select(has_ks, b.fmul(xk, ks), xk), f32(0.0))
                    term = b.select(bits[i], splat(b, xk, 8), zero)
                    total = term if total is None else b.fadd(total, term)
                store(b, total, out, b.add(b.mul(wd, i64(GROUPS)), i64(g)), align=32)
    b.ret_void()
    return body


def _store_tile(b: ir.IRBuilder, pos: ir.Value, neg: ir.Value, wpos: ir.Value, wneg: ir.Value, y: ir.Value,
                col: ir.Value, N: ir.Value, nscale: ir.Value) -> None:
    """y[col + j] = (wpos·pos[j] − wneg·neg[j]) · nscale[col + j] for the lanes with col + j < N."""
    with b.if_then(b.icmp_signed("<", col, N)):
        mask = lane_mask(b, imin(b, b.sub(N, col), i64(8)), 8)
        v = b.fsub(b.fmul(pos, splat(b, wpos, 8)), b.fmul(neg, splat(b, wneg, 8)))
        v = b.fmul(v, masked_load(b, gep(b, nscale, col, F32), V8F, mask))
        masked_store(b, v, gep(b, y, col, F32), mask)


def _emit_micro(module: ir.Module, fast: bool, rows: int, gemv: bool) -> ir.Function:
    """micro(tables of row 0, table bytes per row, block stream, words, y of row 0, ldy, n0, N, nscale,
    wpos, wneg): `rows` rows × the block's tiles. The GEMV kernel (rows = 1) keeps two accumulators per
    (tile, plane) — even / odd triples — so 8 add chains hide the add latency, and prefetches."""
    fn, b = new_function(module, f"trk_matmul_f32_t2_perm8.micro{rows}{'g' if gemv else ''}", VOID,
                         [PTR, I64, PTR, I64, PTR, I64, I64, I64, PTR, F32, F32],
                         ["tables", "tstride", "stream", "words", "y", "ldy", "n0", "N", "nscale", "wpos",
                          "wneg"], internal=True)
    tables, tstride, stream, words, y, ldy, n0, N, nscale, wpos, wneg = fn.args
    tiles = PERM8_BLOCK_TILES
    split = 2 if gemv else 1
    zero = ir.Constant(V8F, None)
    # acc[r][t][plane][parity]
    accs = [[[[entry_alloca(b, V8F, f"a{r}{t}{p}{s}", zero) for s in range(split)] for p in range(2)]
             for t in range(tiles)] for r in range(rows)]
    row_tables = [gep(b, tables, b.mul(i64(r), tstride), I8) for r in range(rows)]
    with for_range(b, i64(0), words, name="word") as wd:
        here = gep(b, stream, b.mul(wd, i64(BLOCK_BYTES)), I8)
        if gemv:
            for line in range(BLOCK_BYTES // 64):
                prefetch(b, gep(b, here, i64(PREFETCH_BYTES + 64 * line), I8))
        planes = [[load(b, gep(b, here, i64(64 * t + 32 * p), I8), V8I, align=4) for p in range(2)]
                  for t in range(tiles)]
        for g in range(GROUPS):
            idx = [[planes[t][p] if g == 0 else b.lshr(planes[t][p], ir.Constant(V8I, [3 * g] * 8))
                    for p in range(2)] for t in range(tiles)]
            entry = b.add(b.mul(wd, i64(GROUPS)), i64(g))
            for r in range(rows):
                table = load(b, row_tables[r], V8F, entry, align=32)
                for t in range(tiles):
                    for p in range(2):
                        slot = accs[r][t][p][g % split]
                        b.store(b.fadd(b.load(slot), _permute(b, fast, table, idx[t][p])), slot)
    for r in range(rows):
        yrow = gep(b, y, b.mul(i64(r), ldy), F32)
        for t in range(tiles):
            sums = []
            for p in range(2):
                total = b.load(accs[r][t][p][0])
                for s in range(1, split):
                    total = b.fadd(total, b.load(accs[r][t][p][s]))
                sums.append(total)
            _store_tile(b, sums[0], sums[1], wpos, wneg, yrow, b.add(n0, i64(8 * t)), N, nscale)
    b.ret_void()
    return fn


def _emit_expand(module: ir.Module) -> ir.Function:
    """expand(stream, words, K, kscale|null, wpos, wneg, buf): buf[k·16 + j] = the value of W[k, n0 + j]
    (wpos·ks[k] for +1, −wneg·ks[k] for −1, 0) for the block's 16 columns, k < 32·words."""
    fn, b = new_function(module, "trk_matmul_f32_t2_perm8.expand", VOID, [PTR, I64, I64, PTR, F32, F32, PTR],
                         ["stream", "words", "K", "kscale", "wpos", "wneg", "buf"], internal=True)
    stream, words, K, kscale, wpos, wneg, buf = fn.args
    has_ks = b.icmp_unsigned("!=", b.ptrtoint(kscale, I64), i64(0))
    neg = b.fsub(f32(0.0), wneg)
    zero = ir.Constant(V8F, None)
    zeros = ir.Constant(V8I, None)
    with for_range(b, i64(0), words, name="word") as wd:
        here = gep(b, stream, b.mul(wd, i64(BLOCK_BYTES)), I8)
        planes = [[load(b, gep(b, here, i64(64 * t + 32 * p), I8), V8I, align=4) for p in range(2)]
                  for t in range(PERM8_BLOCK_TILES)]
        for j in range(PERM8_WORD_K):
            k = b.add(b.mul(wd, i64(PERM8_WORD_K)), i64(j))
            safe = b.select(b.icmp_signed("<", k, K), k, i64(0))
            ks = b.select(has_ks, load(b, b.select(has_ks, kscale, buf), F32, b.select(has_ks, safe, i64(0))),
                          f32(1.0))
            vp, vn = splat(b, b.fmul(wpos, ks), 8), splat(b, b.fmul(neg, ks), 8)
            for t in range(PERM8_BLOCK_TILES):
                # bit j moved to the sign bit: one shift and one blend per plane
                on = [b.icmp_signed("<", b.shl(planes[t][p], ir.Constant(V8I, [31 - j] * 8)), zeros)
                      for p in range(2)]
                v = b.select(on[0], vp, b.select(on[1], vn, zero))
                store(b, v, buf, b.add(b.mul(k, i64(2)), i64(t)), align=32)
    b.ret_void()
    return fn


def _emit_fma_micro(module: ir.Module, rows: int) -> ir.Function:
    """fma(x of row 0 at the chunk's first k, lda, buf, kc, y of row 0, ldy, n0, N, nscale, more, last):
    rows × 16 columns over a K chunk of kc, the expanded weights shared by the rows (2 × rows
    accumulators, the BLAS micro-kernel shape). Starts from the partial sums in y if `more` (not the
    first chunk); multiplies by nscale if `last`."""
    fn, b = new_function(module, f"trk_matmul_f32_t2_perm8.fma{rows}", VOID,
                         [PTR, I64, PTR, I64, PTR, I64, I64, I64, PTR, I1, I1],
                         ["x", "lda", "buf", "K", "y", "ldy", "n0", "N", "nscale", "more", "last"],
                         internal=True)
    x, lda, buf, K, y, ldy, n0, N, nscale, more, last = fn.args
    fmuladd = intrinsic(module, "llvm.fmuladd.v8f32", V8F, [V8F, V8F, V8F])
    zero = ir.Constant(V8F, None)
    accs = [[entry_alloca(b, V8F, f"a{r}{t}") for t in range(2)] for r in range(rows)]
    xrows = [gep(b, x, b.mul(i64(r), lda), F32) for r in range(rows)]
    masks = [lane_mask(b, imin(b, b.sub(N, b.add(n0, i64(8 * t))), i64(8)), 8) for t in range(2)]
    for r in range(rows):
        yrow = gep(b, y, b.mul(i64(r), ldy), F32)
        for t in range(2):
            old = masked_load(b, gep(b, yrow, b.add(n0, i64(8 * t)), F32), V8F, masks[t])
            b.store(b.select(more, old, zero), accs[r][t])
    with for_range(b, i64(0), K, name="k") as k:
        wv = [load(b, buf, V8F, b.add(b.mul(k, i64(2)), i64(t)), align=32) for t in range(2)]
        for r in range(rows):
            xv = splat(b, load(b, xrows[r], F32, k), 8)
            for t in range(2):
                b.store(b.call(fmuladd, [xv, wv[t], b.load(accs[r][t])]), accs[r][t])
    one = ir.Constant(V8F, [1.0] * 8)
    for r in range(rows):
        yrow = gep(b, y, b.mul(i64(r), ldy), F32)
        for t in range(2):
            col = b.add(n0, i64(8 * t))
            scale = b.select(last, masked_load(b, gep(b, nscale, col, F32), V8F, masks[t]), one)
            masked_store(b, b.fmul(b.load(accs[r][t]), scale), gep(b, yrow, col, F32), masks[t])
    b.ret_void()
    return fn


def _emit_body(module: ir.Module, fast: bool) -> ir.Function:
    gemv = _emit_micro(module, fast, 1, True)
    expand = _emit_expand(module)
    micros = [_emit_fma_micro(module, r) for r in range(1, FMA_ROWS + 1)]
    body, b = new_function(module, "trk_matmul_f32_t2_perm8.body", VOID, [PTR, I64, I64],
                           ["ctx", "begin", "end"], internal=True)
    x, lda, tables, w, y, ldy, M, K, N, words, kscale, nscale, wpos, wneg = unpack_ctx(
        b, body.args[0], ir.LiteralStructType(_CTX))
    tstride = b.mul(words, i64(TABLE_BYTES))
    block_cols = 8 * PERM8_BLOCK_TILES
    blocks = ceil_div(b, N, i64(block_cols))
    with b.if_else(b.icmp_signed("==", M, i64(1))) as (one, many):
        with one:  # GEMV: a task is one block
            with for_range(b, body.args[1], body.args[2], name="task") as task:
                b.call(gemv, [tables, tstride, gep(b, w, b.mul(b.mul(task, words), i64(BLOCK_BYTES)), I8),
                              words, y, ldy, b.mul(task, i64(block_cols)), N, nscale, wpos, wneg])
        with many:  # GEMM: a task is (row group, block), K in chunks of FMA_KC expanded on the stack
            buf = entry_alloca(b, V8F, "expanded", count=FMA_KC * 2)
            bufp = b.bitcast(buf, PTR)
            has_ks = b.icmp_unsigned("!=", b.ptrtoint(kscale, I64), i64(0))
            strips = ceil_div(b, blocks, i64(FMA_STRIP))
            with for_range(b, body.args[1], body.args[2], name="task") as task:
                group, strip = b.sdiv(task, strips), b.srem(task, strips)
                r0 = b.mul(group, i64(FMA_GROUP_ROWS))
                r1 = imin(b, b.add(r0, i64(FMA_GROUP_ROWS)), M)
                rows = b.sub(r1, r0)
                nrb = ceil_div(b, rows, i64(FMA_ROWS))
                first = b.mul(strip, i64(FMA_STRIP))
                # at least one chunk: K = 0 still writes its zeros
                with for_range(b, i64(0), imax(b, K, i64(1)), FMA_KC, name="kc") as k0:
                    kc = imin(b, b.sub(K, k0), i64(FMA_KC))
                    ks = b.select(has_ks, gep(b, kscale, k0, F32), kscale)
                    w0 = b.sdiv(k0, i64(PERM8_WORD_K))
                    more = b.icmp_signed(">", k0, i64(0))
                    last = b.icmp_signed(">=", b.add(k0, i64(FMA_KC)), K)
                    strip_end = imin(b, b.add(first, i64(FMA_STRIP)), blocks)
                    with for_range(b, first, strip_end, name="blk") as blk:
                        n0 = b.mul(blk, i64(block_cols))
                        here = gep(b, w, b.mul(b.add(b.mul(blk, words), w0), i64(BLOCK_BYTES)), I8)
                        b.call(expand, [here, ceil_div(b, kc, i64(PERM8_WORD_K)), kc, ks, wpos, wneg, bufp])
                        # balanced blocks of ≤ FMA_ROWS rows (64 → 11 blocks of 5-6, not 10 × 6 + 4)
                        with for_range(b, i64(0), nrb, name="rb") as rb:
                            start = b.add(r0, b.sdiv(b.mul(rows, rb), nrb))
                            stop = b.add(r0, b.sdiv(b.mul(rows, b.add(rb, i64(1))), nrb))
                            xs = gep(b, x, b.add(b.mul(start, lda), k0), F32)
                            ys = gep(b, y, b.mul(start, ldy), F32)
                            call_by_count(b, b.sub(stop, start), micros,
                                          [xs, lda, bufp, kc, ys, ldy, n0, N, nscale, more, last])
    b.ret_void()
    return body


def _emit_scalar(module: ir.Module) -> None:
    """The kernel for targets without AVX2 (never picked by `matmul` there; small IR, correct, slow): one
    scalar sum per output over the bit-planes."""
    fn, b = new_function(module, "trk_matmul_f32_t2_perm8", I32, _ARGS, _NAMES)
    x, lda, w, y, ldy, M, K, N, kscale, nscale, wpos, wneg = fn.args
    words = ceil_div(b, K, i64(PERM8_WORD_K))
    has_ks = b.icmp_unsigned("!=", b.ptrtoint(kscale, I64), i64(0))
    sums = [entry_alloca(b, F32, f"s{p}") for p in range(2)]
    cols = 8 * PERM8_BLOCK_TILES
    with for_range(b, i64(0), M, name="m") as m, for_range(b, i64(0), N, name="n") as n:
        for slot in sums:
            b.store(f32(0.0), slot)
        tile = b.add(b.mul(b.sdiv(n, i64(cols)), b.mul(words, i64(PERM8_BLOCK_TILES))),
                     b.sdiv(b.srem(n, i64(cols)), i64(8)))
        with for_range(b, i64(0), K, name="k") as k:
            xk = load(b, x, F32, b.add(b.mul(m, lda), k))
            ks = load(b, b.select(has_ks, kscale, x), F32, b.select(has_ks, k, i64(0)))
            xk = b.select(has_ks, b.fmul(xk, ks), xk)
            word = b.add(b.mul(b.add(tile, b.mul(b.sdiv(k, i64(PERM8_WORD_K)), i64(PERM8_BLOCK_TILES))),
                               i64(16)), b.srem(n, i64(8)))
            bit = b.trunc(b.srem(k, i64(PERM8_WORD_K)), I32)
            for p in range(2):
                lane = load(b, w, I32, b.add(word, i64(8 * p)))
                on = b.icmp_unsigned("!=", b.and_(b.lshr(lane, bit), i32(1)), i32(0))
                b.store(b.select(on, b.fadd(b.load(sums[p]), xk), b.load(sums[p])), sums[p])
        v = b.fsub(b.fmul(b.load(sums[0]), wpos), b.fmul(b.load(sums[1]), wneg))
        store(b, b.fmul(v, load(b, nscale, F32, n)), y, b.add(b.mul(m, ldy), n))
    b.ret(i32(0))


def build(module: ir.Module, host) -> None:
    """Add `trk_matmul_f32_t2_perm8` (needs threads in the same module; relayout for its input)."""
    if host.variant("gemm") != "avx2-perm":  # never picked there: keep the compile time small
        _emit_scalar(module)
        return
    tables_body = _emit_tables_body(module)
    body = _emit_body(module, True)
    fn, b = new_function(module, "trk_matmul_f32_t2_perm8", I32, _ARGS, _NAMES)
    x, lda, w, y, ldy, M, K, N, kscale, nscale, wpos, wneg = fn.args
    with b.if_then(b.or_(b.icmp_signed("<=", M, i64(0)), b.icmp_signed("<=", N, i64(0)))):
        b.ret(i32(0))
    words = ceil_div(b, K, i64(PERM8_WORD_K))
    tstride = b.mul(words, i64(TABLE_BYTES))
    raw = b.call(malloc(module), [b.add(b.mul(M, tstride), i64(64))])
    with b.if_then(b.icmp_unsigned("==", b.ptrtoint(raw, I64), i64(0))):
        b.ret(i32(1))
    tables = b.inttoptr(b.and_(b.add(b.ptrtoint(raw, I64), i64(63)), i64(~63)), PTR)
    ctx, _ = pack_ctx(b, [x, lda, tables, w, y, ldy, M, K, N, words, kscale, nscale, wpos, wneg])
    call_parallel(b, tables_body, ctx, M, imax(b, ceil_div(b, i64(1 << 13), b.add(words, i64(1))), i64(1)))
    blocks = ceil_div(b, N, i64(8 * PERM8_BLOCK_TILES))
    is_gemv = b.icmp_signed("==", M, i64(1))
    tasks = b.select(is_gemv, blocks,
                     b.mul(ceil_div(b, M, i64(FMA_GROUP_ROWS)), ceil_div(b, blocks, i64(FMA_STRIP))))
    macs = b.mul(b.select(is_gemv, i64(1), b.mul(imin(b, M, i64(FMA_GROUP_ROWS)), i64(FMA_STRIP))),
                 b.mul(b.mul(words, i64(PERM8_WORD_K)), i64(8 * PERM8_BLOCK_TILES)))
    call_parallel(b, body, ctx, tasks, imax(b, ceil_div(b, i64(1 << 18), b.add(macs, i64(1))), i64(1)))
    b.call(free(module), [raw])
    b.ret(i32(0))
