"""Exact float32 GEMV (x · W, one row of activations) by table lookup over base-3 trit triples.

In: x (K float32), weights relaid by `trk_relayout_t2_lut3` (per column, 5-bit indices
j = c₀ + 3c₁ + 9c₂ of three consecutive trits' codes, 6 per i32 lane), optional per-k scales, per-output
scales `nscale`, and the values of a +1 / −1 trit (`wpos`, `wneg`).
Out: `i32 trk_gemv_f32_t2_lut(x, w, y, K, N, kscale|null, nscale, wpos, wneg)` writing
y[n] = nscale[n] · Σ_k x[k]·kscale[k]·(wpos | 0 | −wneg); returns 0, or 1 if the table cannot be allocated.

Why: for every triple of k the 27 possible partial sums Σ_{i<3} v(t_i)·x[k+i] are computed once per call
(a 32-entry table = two <16 x float>), shared by all N columns. Then 16 columns × 3 weights cost one
shift (p0), one two-table permute `vpermi2ps` (p5) and one add — 3 uops per 48 weights, where masked
adds need 4 uops per 32 — and the weights take 1.78 bits each instead of 2. The table of K/3 × 128 bytes
stays in L2; blocks of 8 tiles (128 columns) share each table load. Exact: every output is a float32 sum
of the same products, in another order.
"""

from __future__ import annotations

import llvmlite.ir as ir

from triton_dsl.codegen.kernels.matmul_f32 import emit_store_tile
from triton_dsl.codegen.kernels.relayout import LUT_GROUPS_PER_WORD, LUT_TILES
from triton_dsl.codegen.kernels.trk_ir import (
    F32,
    I1,
    I8,
    I32,
    I64,
    PTR,
    VOID,
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
    intrinsic,
    load,
    malloc,
    new_function,
    pack_ctx,
    prefetch,
    splat,
    store,
    unpack_ctx,
    vec,
)

V16F = vec(F32, 16)
V16I = vec(I32, 16)
WORD_BYTES = LUT_TILES * 64  # one word (18 k) of one 128-column block
PREFETCH_WORDS = 8
_ARGS = [PTR, PTR, PTR, I64, I64, PTR, PTR, F32, F32]
_NAMES = ["x", "w", "y", "K", "N", "kscale", "nscale", "wpos", "wneg"]
# body ctx: table, w, y, words, N, nscale
_CTX = [PTR, PTR, PTR, I64, I64, PTR]


def _emit_permute(b: ir.IRBuilder, host, lo: ir.Value, idx: ir.Value, hi: ir.Value) -> ir.Value:
    """lane l → (lo ++ hi)[idx[l] & 31]."""
    if host.variant("gemv") == "avx512-lut":
        fn = intrinsic(b.module, "llvm.x86.avx512.vpermi2var.ps.512", V16F, [V16F, V16I, V16F])
        return b.call(fn, [lo, idx, hi])
    out = ir.Constant(V16F, None)
    for lane in range(16):
        j = b.and_(b.extract_element(idx, i32(lane)), i32(31))
        from_lo = b.extract_element(lo, b.and_(j, i32(15)))
        from_hi = b.extract_element(hi, b.and_(j, i32(15)))
        out = b.insert_element(out, b.select(b.icmp_unsigned("<", j, i32(16)), from_lo, from_hi), i32(lane))
    return out


def _entry_masks(trit: int) -> list[list[tuple[bool, bool]]]:
    """For table halves 0/1 and lanes: (is +1, is −1) of trit `trit` of entry e = 16h + lane."""
    out = []
    for h in range(2):
        lanes = []
        for lane in range(16):
            e = 16 * h + lane
            code = (e // 3**trit) % 3 if e < 27 else 1
            lanes.append((code == 2, code == 0))
        out.append(lanes)
    return out


def _emit_table(b: ir.IRBuilder, x, K, kscale, wpos, wneg, table, groups) -> None:
    """table[g] = the 32 partial sums of trits (k = 3g, 3g+1, 3g+2); zero beyond K."""
    has_ks = b.icmp_unsigned("!=", b.ptrtoint(kscale, I64), i64(0))
    neg = b.fsub(f32(0.0), wneg)
    masks = [_entry_masks(i) for i in range(3)]
    zero = ir.Constant(V16F, None)
    with for_range(b, i64(0), groups, name="g") as g:
        terms = []
        for i in range(3):
            k = b.add(b.mul(g, i64(3)), i64(i))
            ok = b.icmp_signed("<", k, K)
            safe = b.select(ok, k, i64(0))
            xk = load(b, x, F32, safe)
            ks = load(b, b.select(has_ks, kscale, x), F32, safe)
            xk = b.select(ok, b.select(has_ks, b.fmul(xk, ks), xk), f32(0.0))
            terms.append((splat(b, b.fmul(wpos, xk), 16), splat(b, b.fmul(neg, xk), 16)))
        for h in range(2):
            total = None
            for i, (pos, negv) in enumerate(terms):
                is_pos = ir.Constant(vec(I1, 16), [m[0] for m in masks[i][h]])
                is_neg = ir.Constant(vec(I1, 16), [m[1] for m in masks[i][h]])
                term = b.select(is_pos, pos, b.select(is_neg, negv, zero))
                total = term if total is None else b.fadd(total, term)
            store(b, total, table, b.add(b.mul(g, i64(2)), i64(h)), align=64)


def _emit_body(module: ir.Module, host) -> ir.Function:
    body, b = new_function(module, "trk_gemv_f32_t2_lut.body", VOID, [PTR, I64, I64], ["ctx", "begin", "end"],
                           internal=True)
    table, w, y, words, N, nscale = unpack_ctx(b, body.args[0], ir.LiteralStructType(_CTX))
    accs = [entry_alloca(b, V16F, f"acc{t}") for t in range(LUT_TILES)]
    with for_range(b, body.args[1], body.args[2], name="block") as blk:
        for slot in accs:
            b.store(ir.Constant(V16F, None), slot)
        stream = gep(b, w, b.mul(b.mul(blk, words), i64(WORD_BYTES)), I8)
        with for_range(b, i64(0), words, name="word") as wd:
            here = gep(b, stream, b.mul(wd, i64(WORD_BYTES)), I8)
            for line in range(LUT_TILES):  # the hardware prefetcher alone falls behind on cold weights
                prefetch(b, gep(b, here, i64(PREFETCH_WORDS * WORD_BYTES + 64 * line), I8))
            lanes = [load(b, gep(b, here, i64(64 * t), I8), V16I, align=4) for t in range(LUT_TILES)]
            for j in range(LUT_GROUPS_PER_WORD):
                row = b.add(b.mul(wd, i64(LUT_GROUPS_PER_WORD)), i64(j))
                lo = load(b, table, V16F, b.mul(row, i64(2)), align=64)
                hi = load(b, table, V16F, b.add(b.mul(row, i64(2)), i64(1)), align=64)
                for t in range(LUT_TILES):
                    idx = lanes[t] if j == 0 else b.lshr(lanes[t], ir.Constant(V16I, [5 * j] * 16))
                    val = _emit_permute(b, host, lo, idx, hi)
                    b.store(b.fadd(b.load(accs[t]), val), accs[t])
        for t in range(LUT_TILES):
            n0 = b.mul(b.add(b.mul(blk, i64(LUT_TILES)), i64(t)), i64(16))
            with b.if_then(b.icmp_signed("<", n0, N)):
                emit_store_tile(b, b.load(accs[t]), y, i64(0), n0, i64(1), N, nscale)
    b.ret_void()
    return body


def build(module: ir.Module, host) -> None:
    """Add `trk_gemv_f32_t2_lut` (needs threads and matmul_f32's helpers; relayout for its input)."""
    body = _emit_body(module, host)
    fn, b = new_function(module, "trk_gemv_f32_t2_lut", I32, _ARGS, _NAMES)
    x, w, y, K, N, kscale, nscale, wpos, wneg = fn.args
    with b.if_then(b.icmp_signed("<=", N, i64(0))):
        b.ret(i32(0))
    words = ceil_div(b, ceil_div(b, K, i64(3)), i64(LUT_GROUPS_PER_WORD))
    groups = b.mul(words, i64(LUT_GROUPS_PER_WORD))
    raw = b.call(malloc(module), [b.add(b.mul(groups, i64(128)), i64(64))])
    with b.if_then(b.icmp_unsigned("==", b.ptrtoint(raw, I64), i64(0))):
        b.ret(i32(1))
    addr = b.ptrtoint(raw, I64)
    table = b.inttoptr(b.and_(b.add(addr, i64(63)), i64(~63)), PTR)  # 64-byte aligned for the loads
    _emit_table(b, x, K, kscale, wpos, wneg, table, groups)
    ctx, _ = pack_ctx(b, [table, w, y, words, N, nscale])
    blocks = ceil_div(b, N, i64(16 * LUT_TILES))
    per_block = b.add(b.mul(groups, i64(3 * 16 * LUT_TILES)), i64(1))
    call_parallel(b, body, ctx, blocks, imax(b, ceil_div(b, i64(1 << 18), per_block), i64(1)))
    b.call(free(module), [raw])
    b.ret(i32(0))

