"""Exact float32 GEMM (several rows of activations) by table lookup over base-3 trit triples.

In: x (M × K float32, row stride `lda`), weights relaid by `trk_relayout_t2_lut3`, optional per-k
scales, per-output scales `nscale`, +1 / −1 values `wpos`, `wneg`; output row stride `ldy`.
Out: `i32 trk_gemm_f32_t2_lut(x, lda, w, y, ldy, M, K, N, kscale|null, nscale, wpos, wneg)`, the same
result as `trk_matmul_f32_t2` (exact up to float32 summation order); returns 0, or 1 if the tables
cannot be allocated.

Why: the GEMV's table trick (matmul_gemv.py) per row of x: each row gets its 27-entry partial-sum
table per k triple (built once per call, in parallel over rows). A task is up to 3 rows × 4 column
tiles (64 columns): per k triple the 4 index vectors are shifted once and shared by the rows, and each
(row, tile) costs one `vpermi2ps` and one add for 48 multiply-adds — 1.7–5× the FMA micro-kernel's
speed (measured M = 2…128, K = N = 4096), which spends a third of its uops expanding weight masks.
(4 rows spill registers: LLVM schedules all permutes of the unrolled block first.) Tables of 3 rows
(3 × K/3 × 128 bytes) stay in L2 while the weight blocks stream by.
"""

from __future__ import annotations

import llvmlite.ir as ir

from triton_dsl.codegen.kernels.matmul_f32 import emit_store_tile
from triton_dsl.codegen.kernels.matmul_gemv import V16F, V16I, WORD_BYTES, _emit_permute, _emit_table
from triton_dsl.codegen.kernels.relayout import LUT_GROUPS_PER_WORD, LUT_TILES
from triton_dsl.codegen.kernels.trk_ir import (
    F32,
    I8,
    I32,
    I64,
    PTR,
    VOID,
    call_by_count,
    call_parallel,
    ceil_div,
    entry_alloca,
    for_range,
    free,
    gep,
    i32,
    i64,
    imax,
    imin,
    load,
    malloc,
    new_function,
    pack_ctx,
    unpack_ctx,
)

ROWS = 3
TILES = LUT_TILES // 2  # a task covers half of a 128-column block
_ARGS = [PTR, I64, PTR, PTR, I64, I64, I64, I64, PTR, PTR, F32, F32]
_NAMES = ["x", "lda", "w", "y", "ldy", "M", "K", "N", "kscale", "nscale", "wpos", "wneg"]
# ctx of both bodies: x, lda, tables, w, y, ldy, M, K, N, words, kscale, nscale, wpos, wneg
_CTX = [PTR, I64, PTR, PTR, PTR, I64, I64, I64, I64, I64, PTR, PTR, F32, F32]


def _emit_tables_body(module: ir.Module) -> ir.Function:
    body, b = new_function(module, "trk_gemm_f32_t2_lut.tables", VOID, [PTR, I64, I64],
                           ["ctx", "begin", "end"], internal=True)
    x, lda, tables, _, _, _, _, K, _, words, kscale, _, wpos, wneg = unpack_ctx(
        b, body.args[0], ir.LiteralStructType(_CTX))
    groups = b.mul(words, i64(LUT_GROUPS_PER_WORD))
    with for_range(b, body.args[1], body.args[2], name="row") as m:
        _emit_table(b, gep(b, x, b.mul(m, lda), F32), K, kscale, wpos, wneg,
                    gep(b, tables, b.mul(b.mul(m, groups), i64(128)), I8), groups)
    b.ret_void()
    return body


def _emit_micro(module: ir.Module, host, rows: int) -> ir.Function:
    """rows × TILES tiles: micro(tables of row 0, groups, stream, words, half, y of row 0, ldy, n0, N,
    nscale)."""
    fn, b = new_function(module, f"trk_gemm_f32_t2_lut.micro{rows}", VOID,
                         [PTR, I64, PTR, I64, I64, PTR, I64, I64, I64, PTR],
                         ["tables", "groups", "stream", "words", "half", "y", "ldy", "n0", "N", "nscale"],
                         internal=True)
    tables, groups, stream, words, half, y, ldy, n0, N, nscale = fn.args
    accs = [[entry_alloca(b, V16F, f"a{r}{t}", ir.Constant(V16F, None)) for t in range(TILES)]
            for r in range(rows)]
    row_tables = [gep(b, tables, b.mul(b.mul(i64(r), groups), i64(128)), I8) for r in range(rows)]
    with for_range(b, i64(0), words, name="word") as wd:
        here = gep(b, stream, b.add(b.mul(wd, i64(WORD_BYTES)), b.mul(half, i64(64 * TILES))), I8)
        lanes = [load(b, gep(b, here, i64(64 * t), I8), V16I, align=4) for t in range(TILES)]
        for j in range(LUT_GROUPS_PER_WORD):
            idx = [lanes[t] if j == 0 else b.lshr(lanes[t], ir.Constant(V16I, [5 * j] * 16))
                   for t in range(TILES)]
            entry = b.mul(b.add(b.mul(wd, i64(LUT_GROUPS_PER_WORD)), i64(j)), i64(2))
            for r in range(rows):
                lo = load(b, row_tables[r], V16F, entry, align=64)
                hi = load(b, row_tables[r], V16F, b.add(entry, i64(1)), align=64)
                for t in range(TILES):
                    acc = accs[r][t]
                    b.store(b.fadd(b.load(acc), _emit_permute(b, host, lo, idx[t], hi)), acc)
    for t in range(TILES):
        col = b.add(n0, i64(16 * t))
        with b.if_then(b.icmp_signed("<", col, N)):
            for r in range(rows):
                emit_store_tile(b, b.load(accs[r][t]), y, b.mul(i64(r), ldy), col, i64(1), N, nscale)
    b.ret_void()
    return fn


def _emit_body(module: ir.Module, host) -> ir.Function:
    micros = [_emit_micro(module, host, r) for r in range(1, ROWS + 1)]
    body, b = new_function(module, "trk_gemm_f32_t2_lut.body", VOID, [PTR, I64, I64], ["ctx", "begin", "end"],
                           internal=True)
    _, _, tables, w, y, ldy, M, _, N, words, _, nscale, _, _ = unpack_ctx(
        b, body.args[0], ir.LiteralStructType(_CTX))
    groups = b.mul(words, i64(LUT_GROUPS_PER_WORD))
    halves = b.mul(ceil_div(b, N, i64(16 * LUT_TILES)), i64(2))
    with for_range(b, body.args[1], body.args[2], name="task") as task:
        rb, rest = b.sdiv(task, halves), b.srem(task, halves)
        blk, half = b.sdiv(rest, i64(2)), b.srem(rest, i64(2))
        m0 = b.mul(rb, i64(ROWS))
        count = imin(b, b.sub(M, m0), i64(ROWS))
        n0 = b.add(b.mul(blk, i64(16 * LUT_TILES)), b.mul(half, i64(16 * TILES)))
        args = [gep(b, tables, b.mul(b.mul(m0, groups), i64(128)), I8), groups,
                gep(b, w, b.mul(b.mul(blk, words), i64(WORD_BYTES)), I8), words, half,
                gep(b, y, b.mul(m0, ldy), F32), ldy, n0, N, nscale]
        call_by_count(b, count, micros, args)
    b.ret_void()
    return body


def build(module: ir.Module, host) -> None:
    """Add `trk_gemm_f32_t2_lut` (needs threads, matmul_f32 and matmul_gemv in the same module)."""
    tables_body = _emit_tables_body(module)
    body = _emit_body(module, host)
    fn, b = new_function(module, "trk_gemm_f32_t2_lut", I32, _ARGS, _NAMES)
    x, lda, w, y, ldy, M, K, N, kscale, nscale, wpos, wneg = fn.args
    with b.if_then(b.or_(b.icmp_signed("<=", M, i64(0)), b.icmp_signed("<=", N, i64(0)))):
        b.ret(i32(0))
    words = ceil_div(b, ceil_div(b, K, i64(3)), i64(LUT_GROUPS_PER_WORD))
    groups = b.mul(words, i64(LUT_GROUPS_PER_WORD))
    raw = b.call(malloc(module), [b.add(b.mul(b.mul(M, groups), i64(128)), i64(64))])
    with b.if_then(b.icmp_unsigned("==", b.ptrtoint(raw, I64), i64(0))):
        b.ret(i32(1))
    tables = b.inttoptr(b.and_(b.add(b.ptrtoint(raw, I64), i64(63)), i64(~63)), PTR)
    ctx, _ = pack_ctx(b, [x, lda, tables, w, y, ldy, M, K, N, words, kscale, nscale, wpos, wneg])
    call_parallel(b, tables_body, ctx, M, imax(b, ceil_div(b, i64(1 << 14), b.add(groups, i64(1))), i64(1)))
    tasks = b.mul(ceil_div(b, M, i64(ROWS)), b.mul(ceil_div(b, N, i64(16 * LUT_TILES)), i64(2)))
    per_task = b.add(b.mul(groups, i64(3 * 16 * TILES * ROWS)), i64(1))
    call_parallel(b, body, ctx, tasks, imax(b, ceil_div(b, i64(1 << 18), per_task), i64(1)))
    b.call(free(module), [raw])
    b.ret(i32(0))
