"""bitlinear without VNNI: u8 codes × s8 activations by `pmaddubsw` (i16 pairs) + `pmaddwd` (i32), any width.

In: the int8 activations `xq` (rows of Kp bytes, Kp a multiple of 16), their γ and Σx_q (what
`trk_quantize_absmax_i8` writes), and the weights in the vnni layout (relayout.py: per 32-column pair one
contiguous stream; per 16-k block and 16-column panel 64 bytes whose 2-bit field L of byte 4n + kk is the
code of column n at k = 16·block + 4L + kk).
Out: `emit_body(module, host, ctx_type) -> body` of `trk_parallel_for` over (row group, pair) tasks with
the ctx of `trk_bitlinear_t2`, computing y[m, n] = (Σ_k code·x_q − Σ x_q) · γ_m/127 · nscale[n] — the same
result as the VNNI kernel (bitlinear.py), bit for bit.

Why: a vector of W bytes (W = 64 with AVX512-BW, 32 with AVX2, 16 with SSSE3 / elsewhere) covers W/4
columns × 4 consecutive k of one field L; `pmaddubsw(code_L, x_L)` multiplies the u8 codes (0..2) by the
s8 activations and adds adjacent pairs into i16 (|·| ≤ 2·2·127 = 508), the four fields of a block add up
to ≤ 2032, so 16 blocks (256 k) accumulate in i16 without saturation (16·2032 = 32512 < 2¹⁵) before one
`pmaddwd` by ones widens the pairs into i32 lanes — one multiply per 64 multiply-adds, where widening
every block would need two (what ggml's TQ2_0 kernel does too). All sums are exact integers.
- GEMV (M = 1, memory-bound): one call per 32-column pair, all 128/W vectors of a block at once (one
  contiguous stream, prefetched PREFETCH_BYTES ahead), 128/W i16 + i32 accumulators.
- GEMM: micro-kernels of up to ROWS rows × COLS[W] vectors (W/4 columns each) over all of K: the
  codes of a block are decoded once (shift + mask) and shared by the rows; a task is (≤ 64 rows, one
  pair), so the pair's 32 KiB (K = 4096) stay in L1/L2 while the row blocks run over them, and the
  group's x_q stays in L2.
Targets without these x86 instructions (x86-64 baseline, aarch64) get the same algorithm in portable IR
(widening multiplies and pair adds; exact, as no sum saturates).
"""

from __future__ import annotations

import llvmlite.ir as ir

from triton_dsl.codegen.kernels.relayout import PANEL_VNNI, VNNI_KBLOCK
from triton_dsl.codegen.kernels.trk_ir import (
    F32,
    I8,
    I16,
    I32,
    I64,
    PTR,
    VOID,
    call_by_count,
    entry_alloca,
    f32,
    for_range,
    gep,
    i32,
    i64,
    imin,
    intrinsic,
    lane_mask,
    load,
    masked_load,
    masked_store,
    new_function,
    splat,
    store,
    unpack_ctx,
    vec,
)

SUPER_BLOCKS = 16  # 16-k blocks summed in i16 before widening: 16 · 4 · 508 = 32512 < 2^15
PREFETCH_BYTES = 8192  # measured 4 KiB: 1.2-1.5x the read floor, 8 KiB: 1.0-1.3x (noisy shared machine)
PREFETCH_LOCALITY = 2  # llvm.prefetch locality: 3 = prefetcht0 (L1), 2 = prefetcht1 (L2)
GROUP_ROWS = 64
WIDTHS = {"avx512bw": 64, "avx2": 32, "ssse3": 16, "generic": 16}
COLS = {64: 2, 32: 1, 16: 1}  # vectors (of W/4 columns) per GEMM micro-kernel


def _prefetch(b: ir.IRBuilder, ptr: ir.Value, locality: int) -> None:
    fn = intrinsic(b.module, "llvm.prefetch.p0", VOID, [PTR, I32, I32, I32])
    b.call(fn, [ptr, i32(0), i32(locality), i32(1)])


def _madd_ub(b: ir.IRBuilder, variant: str, codes: ir.Value, xs: ir.Value) -> ir.Value:
    """i16 lane j = u8(codes[2j])·s8(xs[2j]) + u8(codes[2j+1])·s8(xs[2j+1]) (never saturating here)."""
    w = codes.type.count
    out = vec(I16, w // 2)
    names = {64: "llvm.x86.avx512.pmaddubs.w.512", 32: "llvm.x86.avx2.pmadd.ub.sw",
             16: "llvm.x86.ssse3.pmadd.ub.sw.128"}
    if variant != "generic":
        return b.call(intrinsic(b.module, names[w], out, [codes.type, xs.type]), [codes, xs])
    prod = b.mul(b.zext(codes, vec(I16, w)), b.sext(xs, vec(I16, w)))
    even = b.shuffle_vector(prod, prod, ir.Constant(vec(I32, w // 2), list(range(0, w, 2))))
    odd = b.shuffle_vector(prod, prod, ir.Constant(vec(I32, w // 2), list(range(1, w, 2))))
    return b.add(even, odd)


def _widen_pairs(b: ir.IRBuilder, variant: str, v: ir.Value) -> ir.Value:
    """i32 lane j = v[2j] + v[2j+1] (`pmaddwd` by ones)."""
    n = v.type.count
    out = vec(I32, n // 2)
    names = {32: "llvm.x86.avx512.pmaddw.d.512", 16: "llvm.x86.avx2.pmadd.wd", 8: "llvm.x86.sse2.pmadd.wd"}
    if variant != "generic":
        ones = ir.Constant(v.type, [1] * n)
        return b.call(intrinsic(b.module, names[n], out, [v.type, v.type]), [v, ones])
    wide = b.sext(v, vec(I32, n))
    even = b.shuffle_vector(wide, wide, ir.Constant(vec(I32, n // 2), list(range(0, n, 2))))
    odd = b.shuffle_vector(wide, wide, ir.Constant(vec(I32, n // 2), list(range(1, n, 2))))
    return b.add(even, odd)


def _emit_micro(module: ir.Module, variant: str, rows: int, cols: int, gemv: bool) -> ir.Function:
    """micro(xq, Kp, stream, v0, n0, N, nscale, y, gamma, xsum, ldy, m0, xb): rows m0.. × `cols` vectors
    v0..v0+cols−1 of the pair whose stream starts at `stream` (columns n0 + v·W/4 + lane). The GEMV
    kernel reads the activations from `xb` (`emit_expand`: every 4 bytes of x_q repeated to W bytes) as
    memory operands of the multiplies, the others broadcast them from `xq` (xb unused)."""
    w = WIDTHS[variant]
    lanes = w // 4
    vb = vec(I8, w)
    v16, v32, vf = vec(I16, w // 2), vec(I32, lanes), vec(F32, lanes)
    fn, b = new_function(module, f"trk_bitlinear_t2.madd{rows}x{cols}{'g' if gemv else ''}", VOID,
                         [PTR, I64, PTR, I64, I64, I64, PTR, PTR, PTR, PTR, I64, I64, PTR],
                         ["xq", "Kp", "stream", "v0", "n0", "N", "nscale", "y", "gamma", "xsum", "ldy", "m0",
                          "xb"], internal=True)
    xq, Kp, stream, v0, n0, N, nscale, y, gamma, xsum, ldy, m0, xb = fn.args
    kblocks = b.sdiv(Kp, i64(VNNI_KBLOCK))
    acc32 = [[entry_alloca(b, v32, f"w{m}{c}", ir.Constant(v32, None)) for c in range(cols)]
             for m in range(rows)]
    acc16 = [[entry_alloca(b, v16, f"h{m}{c}") for c in range(cols)] for m in range(rows)]
    three = ir.Constant(vb, [3] * w)
    xrows = [gep(b, xq, b.mul(b.add(m0, i64(m)), Kp), I8) for m in range(rows)]
    base = gep(b, stream, b.mul(v0, i64(w)), I8)
    with for_range(b, i64(0), kblocks, SUPER_BLOCKS, name="sb") as sb:
        for row in acc16:
            for slot in row:
                b.store(ir.Constant(v16, None), slot)
        with for_range(b, sb, imin(b, b.add(sb, i64(SUPER_BLOCKS)), kblocks), name="kb") as kb:
            block = gep(b, base, b.mul(kb, i64(2 * 64)), I8)
            if gemv:  # memory-bound: keep enough misses in flight (bitlinear.PREFETCH_BYTES)
                for line in range(2):
                    _prefetch(b, gep(b, block, i64(PREFETCH_BYTES + 64 * line), I8), PREFETCH_LOCALITY)
            codes = []
            for c in range(cols):
                raw = load(b, gep(b, block, i64(c * w), I8), vb, align=1)
                codes.append([b.and_(raw if g == 0 else b.lshr(raw, ir.Constant(vb, [2 * g] * w)), three)
                              for g in range(4)])
            for m in range(rows):
                xk = gep(b, xrows[m], b.mul(kb, i64(VNNI_KBLOCK)), I8)
                if gemv:
                    xs = [load(b, xb, vb, b.add(b.mul(kb, i64(4)), i64(g)), align=1) for g in range(4)]
                else:
                    xs = [b.bitcast(splat(b, load(b, xk, I32, i64(g), align=1), lanes), vb) for g in range(4)]
                for c in range(cols):
                    parts = [_madd_ub(b, variant, codes[c][g], xs[g]) for g in range(4)]
                    total = b.add(b.add(parts[0], parts[1]), b.add(parts[2], parts[3]))
                    b.store(b.add(b.load(acc16[m][c]), total), acc16[m][c])
        for m in range(rows):
            for c in range(cols):
                wide = _widen_pairs(b, variant, b.load(acc16[m][c]))
                b.store(b.add(b.load(acc32[m][c]), wide), acc32[m][c])
    for m in range(rows):
        row = b.add(m0, i64(m))
        scale = splat(b, b.fdiv(load(b, gamma, F32, row), f32(127.0)), lanes)
        offset = splat(b, load(b, xsum, I32, row), lanes)
        for c in range(cols):
            v = b.add(v0, i64(c))  # vector v of the pair: panel v·W/64, columns (v·W/4) % 16 of it
            col = b.add(n0, b.mul(v, i64(lanes)))
            mask = lane_mask(b, imin(b, b.sub(N, col), i64(lanes)), lanes)
            out = b.fmul(b.sitofp(b.sub(b.load(acc32[m][c]), offset), vf), scale)
            out = b.fmul(out, masked_load(b, gep(b, nscale, col, F32), vf, mask))
            masked_store(b, out, gep(b, y, b.add(b.mul(row, ldy), col), F32), mask)
    b.ret_void()
    return fn


def _gemm_rows(w: int) -> int:
    """Rows per GEMM micro-kernel: rows × (128/W vectors) i16 accumulators fill ~12 registers."""
    return max(1, 12 * w // 128) if w < 64 else 6


def _emit_gemm_micro(module: ir.Module, variant: str, rows: int) -> ir.Function:
    """gmicro(tbuf, nkb, x of row 0 at the chunk, Kp, acc32 of row 0): rows × the pair's 128/W vectors over
    nkb ≤ SUPER_BLOCKS blocks of decoded trits; acc32 (rows × 32 i32, row-major) += the chunk's sums."""
    w = WIDTHS[variant]
    lanes, nvec = w // 4, 128 // w
    vb, v16, v32 = vec(I8, w), vec(I16, w // 2), vec(I32, w // 4)
    fn, b = new_function(module, f"trk_bitlinear_t2.gmicro{rows}", VOID, [PTR, I64, PTR, I64, PTR],
                         ["tbuf", "nkb", "x", "Kp", "acc32"], internal=True)
    tbuf, nkb, x, Kp, acc32 = fn.args
    acc16 = [[entry_alloca(b, v16, f"h{r}{v}", ir.Constant(v16, None)) for v in range(nvec)]
             for r in range(rows)]
    with for_range(b, i64(0), nkb, name="kb") as kb:
        for r in range(rows):
            xk = gep(b, x, b.add(b.mul(i64(r), Kp), b.mul(kb, i64(VNNI_KBLOCK))), I8)
            for g in range(4):
                xs = b.bitcast(splat(b, load(b, xk, I32, i64(g), align=1), lanes), vb)
                for v in range(nvec):
                    t = load(b, tbuf, vb, b.add(b.mul(b.add(b.mul(kb, i64(4)), i64(g)), i64(nvec)), i64(v)),
                             align=w)
                    # x biased to unsigned (x_q + 128) × signed trits: |pair| ≤ 2·255 = 510
                    b.store(b.add(b.load(acc16[r][v]), _madd_ub(b, variant, xs, t)), acc16[r][v])
    for r in range(rows):
        for v in range(nvec):
            slot = gep(b, acc32, i64((32 * r + lanes * v) * 4), I8)
            old = load(b, slot, v32, align=4)
            store(b, b.add(old, _widen_pairs(b, variant, b.load(acc16[r][v]))), slot, align=4)
    b.ret_void()
    return fn


def _emit_gemm_task(module: ir.Module, variant: str) -> ir.Function:
    """gemm(xq biased, Kp, stream, n0, N, nscale, y, gamma, ldy, r0, r1): rows r0..r1 (≤ GROUP_ROWS) × one
    32-column pair. Per chunk of SUPER_BLOCKS blocks the pair's codes are decoded once into signed trits
    (8 KiB on the stack, in L1; their column sums kept) and shared by every row block, whose activations
    x_q + 128 (unsigned: `pmaddubsw` wants one unsigned operand) are broadcast from xq and multiply the
    trits from memory; Σ t·(x_q + 128) − 128·Σ t = Σ t·x_q = Σ c·x_q − Σ x_q, the VNNI kernel's integer."""
    w = WIDTHS[variant]
    lanes, nvec = w // 4, 128 // w
    vb, v32, vf = vec(I8, w), vec(I32, lanes), vec(F32, lanes)
    rows_per = _gemm_rows(w)
    micros = [_emit_gemm_micro(module, variant, r) for r in range(1, rows_per + 1)]
    fn, b = new_function(module, "trk_bitlinear_t2.gemm", VOID,
                         [PTR, I64, PTR, I64, I64, PTR, PTR, PTR, I64, I64, I64],
                         ["xq", "Kp", "stream", "n0", "N", "nscale", "y", "gamma", "ldy", "r0", "r1"],
                         internal=True)
    xq, Kp, stream, n0, N, nscale, y, gamma, ldy, r0, r1 = fn.args
    kblocks = b.sdiv(Kp, i64(VNNI_KBLOCK))
    acc32 = b.bitcast(entry_alloca(b, v32, "acc32", count=GROUP_ROWS * nvec), PTR)
    tbuf = b.bitcast(entry_alloca(b, vb, "tbuf", count=SUPER_BLOCKS * 4 * nvec), PTR)
    colsum = [entry_alloca(b, v32, f"cs{v}", ir.Constant(v32, None)) for v in range(nvec)]
    nrows = b.sub(r1, r0)
    with for_range(b, i64(0), b.mul(nrows, i64(nvec)), name="z") as i:
        store(b, ir.Constant(v32, None), acc32, i, align=4)
    three, one = ir.Constant(vb, [3] * w), ir.Constant(vb, [1] * w)
    nrb = b.sdiv(b.add(nrows, i64(rows_per - 1)), i64(rows_per))
    with for_range(b, i64(0), kblocks, SUPER_BLOCKS, name="sb") as sb:
        nkb = imin(b, b.sub(kblocks, sb), i64(SUPER_BLOCKS))
        with for_range(b, i64(0), nkb, name="dk") as kb:
            block = gep(b, stream, b.mul(b.add(sb, kb), i64(2 * 64)), I8)
            for v in range(nvec):
                raw = load(b, gep(b, block, i64(v * w), I8), vb, align=1)
                for g in range(4):
                    code = b.and_(raw if g == 0 else b.lshr(raw, ir.Constant(vb, [2 * g] * w)), three)
                    t = b.sub(code, one)
                    slot = b.add(b.mul(b.add(b.mul(kb, i64(4)), i64(g)), i64(nvec)), i64(v))
                    store(b, t, tbuf, slot, align=w)
                    pairs = _madd_ub(b, variant, one, t)
                    b.store(b.add(b.load(colsum[v]), _widen_pairs(b, variant, pairs)), colsum[v])
        # balanced row blocks of ≤ rows_per rows
        with for_range(b, i64(0), nrb, name="rb") as rb:
            start = b.sdiv(b.mul(nrows, rb), nrb)
            stop = b.sdiv(b.mul(nrows, b.add(rb, i64(1))), nrb)
            x0 = gep(b, xq, b.add(b.mul(b.add(r0, start), Kp), b.mul(sb, i64(VNNI_KBLOCK))), I8)
            call_by_count(b, b.sub(stop, start), micros,
                          [tbuf, nkb, x0, Kp, gep(b, acc32, b.mul(start, i64(128)), I8)])
    bias = [b.mul(b.load(colsum[v]), ir.Constant(v32, [128] * lanes)) for v in range(nvec)]
    with for_range(b, i64(0), nrows, name="out") as r:
        row = b.add(r0, r)
        scale = splat(b, b.fdiv(load(b, gamma, F32, row), f32(127.0)), lanes)
        for v in range(nvec):
            col = b.add(n0, i64(lanes * v))
            with b.if_then(b.icmp_signed("<", col, N)):
                mask = lane_mask(b, imin(b, b.sub(N, col), i64(lanes)), lanes)
                here = gep(b, acc32, b.add(b.mul(r, i64(128)), i64(4 * lanes * v)), I8)
                total = load(b, here, v32, align=4)
                out = b.fmul(b.sitofp(b.sub(total, bias[v]), vf), scale)
                out = b.fmul(out, masked_load(b, gep(b, nscale, col, F32), vf, mask))
                masked_store(b, out, gep(b, y, b.add(b.mul(row, ldy), col), F32), mask)
    b.ret_void()
    return fn


def emit_bias(b: ir.IRBuilder, xq: ir.Value, M: ir.Value, Kp: ir.Value) -> None:
    """x_q += 128 (as u8: flip the sign bit) over the M × Kp scratch rows: the GEMM's unsigned operand."""
    v16 = vec(I8, 16)
    with for_range(b, i64(0), b.sdiv(b.mul(M, Kp), i64(16)), name="bias") as i:
        v = load(b, xq, v16, i, align=1)
        store(b, b.xor(v, ir.Constant(v16, [-128] * 16)), xq, i, align=1)


def expanded_bytes(b: ir.IRBuilder, variant: str, Kp: ir.Value) -> ir.Value:
    """Bytes of the GEMV's expanded activations for Kp (a multiple of 16) k."""
    return b.mul(b.sdiv(Kp, i64(4)), i64(WIDTHS[variant]))


def emit_expand(b: ir.IRBuilder, variant: str, xq: ir.Value, Kp: ir.Value, xb: ir.Value) -> None:
    """xb[j·W .. (j+1)·W) = x_q[4j .. 4j+4) repeated W/4 times, for 4j < Kp (the GEMV's activations:
    without them each 4-byte broadcast costs a vector uop per 16-k block and field, a quarter of the
    loop's work on AVX2)."""
    w = WIDTHS[variant]
    with for_range(b, i64(0), b.sdiv(Kp, i64(4)), name="xb") as j:
        v = splat(b, load(b, xq, I32, j, align=1), w // 4)
        b.store(v, b.bitcast(gep(b, xb, b.mul(j, i64(w)), I8), v.type.as_pointer()), align=1)


def emit_body(module: ir.Module, variant: str, ctx_type: ir.LiteralStructType) -> ir.Function:
    """The `trk_parallel_for` body of trk_bitlinear_t2 for a madd variant (ctx: trk_bitlinear_t2's args,
    then the expanded activations `xb` or null; the one-row kernel needs them, else rows go through the
    GEMM micro-kernels).

    Vector v of a pair's 128-byte block is bytes [v·W, (v+1)·W): panel v·W // 64, and within the panel the
    columns ((v·W) % 64)/4 .. + W/4 — so column n0 + v·W/4 + lane, with n0 the pair's first column."""
    w = WIDTHS[variant]
    per_block = 128 // w  # vectors per pair block
    cols = COLS[w]
    gemv = _emit_micro(module, variant, 1, per_block, True)
    micros = [_emit_micro(module, variant, 1, cols, False)]
    gemm = _emit_gemm_task(module, variant)
    body, b = new_function(module, f"trk_bitlinear_t2.{variant}", VOID, [PTR, I64, I64],
                           ["ctx", "begin", "end"], internal=True)
    _, _, M, K, N, _, wts, nscale, y, ldy, xq, gamma, xsum, xb = unpack_ctx(b, body.args[0], ctx_type)
    Kp = b.mul(b.sdiv(b.add(K, i64(VNNI_KBLOCK - 1)), i64(VNNI_KBLOCK)), i64(VNNI_KBLOCK))
    kblocks = b.sdiv(Kp, i64(VNNI_KBLOCK))
    pairs = b.sdiv(b.add(N, i64(2 * PANEL_VNNI - 1)), i64(2 * PANEL_VNNI))
    with for_range(b, body.args[1], body.args[2], name="task") as task:
        group, pair = b.sdiv(task, pairs), b.srem(task, pairs)
        n0 = b.mul(pair, i64(2 * PANEL_VNNI))
        stream = gep(b, wts, b.mul(b.mul(pair, kblocks), i64(128)), I8)
        r0 = b.mul(group, i64(GROUP_ROWS))
        r1 = imin(b, b.add(r0, i64(GROUP_ROWS)), M)
        expanded = b.icmp_unsigned("!=", b.ptrtoint(xb, I64), i64(0))
        with b.if_else(b.and_(b.icmp_signed("==", M, i64(1)), expanded)) as (one, many):
            with one:
                b.call(gemv, [xq, Kp, stream, i64(0), n0, N, nscale, y, gamma, xsum, ldy, i64(0), xb])
            with many:
                with b.if_else(b.icmp_signed("==", M, i64(1))) as (fallback, rows):
                    with fallback:  # one row, no expanded activations (malloc failed)
                        with for_range(b, i64(0), i64(per_block), cols, name="vec") as v:
                            b.call(micros[0], [xq, Kp, stream, v, n0, N, nscale, y, gamma, xsum, ldy, r0, xb])
                    with rows:
                        b.call(gemm, [xq, Kp, stream, n0, N, nscale, y, gamma, ldy, r0, r1])
    b.ret_void()
    return body
