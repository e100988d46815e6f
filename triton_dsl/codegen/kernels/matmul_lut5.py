"""Exact float32 GEMV / GEMM from the 1.6-bit `lut5` layout: one table lookup per 5 weights, any CPU.

In: x (M × K float32, row stride `lda`), weights relaid by `trk_relayout_t2_lut5` (relayout.py: per
5-k group one byte Σ_j code_j·3^j, code = trit + 1; chunks of LUT5_CHUNK groups, chunk-major, so a
chunk of all N columns is one contiguous N × 16-byte region), optional per-k scales, per-output scales
`nscale`, and the values of a +1 / −1 trit (`wpos`, `wneg`); output row stride `ldy`.
Out: `i32 trk_matmul_f32_t2_lut5(x, lda, w, y, ldy, M, K, N, kscale|null, nscale, wpos, wneg)` writing
y[m, n] = nscale[n] · Σ_k term(k), term = wpos·x[m,k]·ks[k] for a +1 trit, −wneg·x[m,k]·ks[k] for a −1;
returns 0, or 1 if a task's tables cannot be allocated. Exact: every output is a float32 sum of those
terms (a table entry is the left-to-right sum of its group's terms), in another order than the
masked-add kernel's.

Why: a base-3 byte of 5 trits is 3^5 = 243 ≤ 256 states, so it *is* the index of a 243-entry table of
the 5 partial sums of its group — no decoding at all. One load and one add do 5 multiply-adds per row
(8 rows at once in the GEMM, as one <8 x float> table entry per index), where the masked-add kernel
needs a mask expansion and an add per weight: no vector permutes, so it runs at every ISA level (SSE2,
NEON, scalar). And the weights take 1.6 bits instead of 2. Building a table costs 363 adds per group and
row (levels of 3, 9, 27, 81, 243 entries, each level one add per new entry), paid once per chunk per
task and spread over the task's columns.
- A task is (block of ROWS rows — 1 for a GEMV —, strip of columns). Per chunk it builds the chunk's
  16 tables (16 × 243 × ROWS floats: 15.5 KiB for the GEMV, 124 KiB for 8 rows) and runs its columns
  over them, accumulating into its own column × row buffer; the results are scaled and stored once.
- Strips split the columns only as far as the pool needs tasks (each strip rebuilds the tables).
This is the `gemv`/`gemm` variant `lut5` (targets without AVX2); AVX2 and AVX-512 have faster kernels.
"""

from __future__ import annotations

import llvmlite.ir as ir

from triton_dsl.codegen.kernels.relayout import LUT5_CHUNK, LUT5_GROUP_K
from triton_dsl.codegen.kernels.trk_ir import (
    F32,
    I8,
    I32,
    I64,
    PTR,
    VOID,
    call_parallel,
    ceil_div,
    declare,
    entry_alloca,
    f32,
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
    splat,
    store,
    unpack_ctx,
    vec,
)

ROWS = 8  # rows per GEMM task: one <8 x float> table entry per index
ENTRIES = 3 ** LUT5_GROUP_K  # 243
MIN_STRIP = 256  # columns: below, rebuilding the tables per strip costs more than a second thread saves

_ARGS = [PTR, I64, PTR, PTR, I64, I64, I64, I64, PTR, PTR, F32, F32]
_NAMES = ["x", "lda", "w", "y", "ldy", "M", "K", "N", "kscale", "nscale", "wpos", "wneg"]
# ctx: the arguments, then rows per task, strips, strip width, chunks, status
_CTX = [*_ARGS, I64, I64, I64, I64, PTR]


def _emit_tables(b: ir.IRBuilder, rows: int, tab: ir.Value, x: ir.Value, lda: ir.Value, m0: ir.Value,
                 nrows: ir.Value, K: ir.Value, g0: ir.Value, kscale: ir.Value, wpos: ir.Value,
                 wneg: ir.Value) -> None:
    """The LUT5_CHUNK tables of groups g0.. for rows m0..m0+nrows (lanes past nrows and k past K: 0)."""
    vty = vec(F32, rows)
    has_ks = b.icmp_unsigned("!=", b.ptrtoint(kscale, I64), i64(0))
    with for_range(b, i64(0), i64(LUT5_CHUNK), name="tg") as gi:
        table = gep(b, tab, b.mul(gi, i64(ENTRIES * rows * 4)), I8)
        k0 = b.mul(b.add(g0, gi), i64(LUT5_GROUP_K))
        for j in range(LUT5_GROUP_K):
            k = b.add(k0, i64(j))
            in_k = b.icmp_signed("<", k, K)
            # the per-k scale, read only when given and k is in range (else from the table buffer: any
            # readable address, the value is not used)
            ks_index = b.select(b.and_(has_ks, in_k), k, i64(0))
            ks = b.select(has_ks, load(b, b.select(has_ks, kscale, tab), F32, ks_index), f32(1.0))
            xv = ir.Constant(vty, None)
            for r in range(rows):
                ok = b.and_(in_k, b.icmp_signed("<", i64(r), nrows))
                row = b.select(ok, b.add(m0, i64(r)), i64(0))
                v = load(b, x, F32, b.select(ok, b.add(b.mul(row, lda), k), i64(0)))
                xv = b.insert_element(xv, b.select(ok, b.fmul(v, ks), f32(0.0)), i32(r))
            pos = b.fmul(xv, splat(b, wpos, rows))
            neg = b.fneg(b.fmul(xv, splat(b, wneg, rows)))
            if j == 0:  # level 0: the three one-term sums (digit 1, a 0 trit, has no term: +0)
                store(b, neg, table, i64(0), align=4)
                store(b, ir.Constant(vty, [0.0] * rows), table, i64(1), align=4)
                store(b, pos, table, i64(2), align=4)
                continue
            step = 3 ** j
            # level j: entry d·3^j + r = entry r + term of digit d; r in place last (d = 0)
            with for_range(b, i64(0), i64(step), name=f"lv{j}") as r:
                base = load(b, table, vty, r, align=4)  # malloc aligns to 16 bytes, not 32
                store(b, base, table, b.add(r, i64(step)), align=4)
                store(b, b.fadd(base, pos), table, b.add(r, i64(2 * step)), align=4)
                store(b, b.fadd(base, neg), table, r, align=4)


def _emit_columns(b: ir.IRBuilder, rows: int, tab: ir.Value, acc: ir.Value, w: ir.Value, N: ir.Value,
                  c: ir.Value, n0: ir.Value, n1: ir.Value) -> None:
    """acc[n − n0] += Σ over chunk c's groups of table[group][byte(n, group)] for columns n0..n1."""
    vty = vec(F32, rows)
    with for_range(b, n0, n1, name="col") as n:
        src = gep(b, w, b.mul(b.add(b.mul(c, N), n), i64(LUT5_CHUNK)), I8)
        parts = [ir.Constant(vty, [0.0] * rows), ir.Constant(vty, [0.0] * rows)]
        for gi in range(LUT5_CHUNK):  # two independent add chains per column
            idx = b.zext(load(b, src, I8, i64(gi)), I64)
            entry = b.add(i64(gi * ENTRIES), idx)
            parts[gi % 2] = b.fadd(parts[gi % 2], load(b, tab, vty, entry, align=4))
        slot = b.sub(n, n0)
        store(b, b.fadd(load(b, acc, vty, slot, align=4), b.fadd(parts[0], parts[1])), acc, slot, align=4)


def _emit_task(module: ir.Module, rows: int) -> ir.Function:
    """One task: rows `rows` (1: GEMV) × one strip of columns, over every chunk."""
    vty = vec(F32, rows)
    fn, b = new_function(module, f"trk_matmul_f32_t2_lut5.task{rows}", VOID, [PTR, I64],
                         ["ctx", "task"], internal=True)
    ctx, task = fn.args
    (x, lda, w, y, ldy, M, K, N, kscale, nscale, wpos, wneg, _, strips, width, chunks,
     status) = unpack_ctx(b, ctx, ir.LiteralStructType(_CTX))
    block, strip = b.sdiv(task, strips), b.srem(task, strips)
    m0 = b.mul(block, i64(rows))
    nrows = imin(b, b.sub(M, m0), i64(rows))
    n0 = b.mul(strip, width)
    n1 = imin(b, b.add(n0, width), N)
    cols = b.sub(n1, n0)
    table_bytes = LUT5_CHUNK * ENTRIES * rows * 4
    buf = b.call(malloc(module), [b.add(i64(table_bytes), b.mul(imax(b, cols, i64(1)), i64(rows * 4)))])
    with b.if_else(b.icmp_unsigned("==", b.ptrtoint(buf, I64), i64(0))) as (failed, ok):
        with failed:
            store(b, i32(1), status)
        with ok:
            acc = gep(b, buf, i64(table_bytes), I8)
            with for_range(b, i64(0), cols, name="zero") as i:
                store(b, ir.Constant(vty, [0.0] * rows), acc, i, align=4)
            with for_range(b, i64(0), chunks, name="chunk") as c:
                _emit_tables(b, rows, buf, x, lda, m0, nrows, K, b.mul(c, i64(LUT5_CHUNK)), kscale, wpos,
                             wneg)
                _emit_columns(b, rows, buf, acc, w, N, c, n0, n1)
            with for_range(b, n0, n1, name="out") as n:
                v = b.fmul(load(b, acc, vty, b.sub(n, n0), align=4), splat(b, load(b, nscale, F32, n), rows))
                for r in range(rows):
                    with b.if_then(b.icmp_signed("<", i64(r), nrows)):
                        store(b, b.extract_element(v, i32(r)), y, b.add(b.mul(b.add(m0, i64(r)), ldy), n))
            b.call(free(module), [buf])
    b.ret_void()
    return fn


def _emit_body(module: ir.Module) -> ir.Function:
    tasks = {rows: _emit_task(module, rows) for rows in (1, ROWS)}
    body, b = new_function(module, "trk_matmul_f32_t2_lut5.body", VOID, [PTR, I64, I64],
                           ["ctx", "begin", "end"], internal=True)
    ctx, begin, end = body.args
    rows = unpack_ctx(b, ctx, ir.LiteralStructType(_CTX))[len(_ARGS)]
    with for_range(b, begin, end, name="task") as task:
        with b.if_else(b.icmp_signed("==", rows, i64(1))) as (one, many):
            with one:
                b.call(tasks[1], [ctx, task])
            with many:
                b.call(tasks[ROWS], [ctx, task])
    b.ret_void()
    return body


def build(module: ir.Module, host) -> None:
    """Add `trk_matmul_f32_t2_lut5` (needs the thread pool in the same module)."""
    body = _emit_body(module)
    fn, b = new_function(module, "trk_matmul_f32_t2_lut5", I32, _ARGS, _NAMES)
    x, lda, w, y, ldy, M, K, N, kscale, nscale, wpos, wneg = fn.args
    ret = b.append_basic_block("ret")
    work = b.append_basic_block("work")
    b.cbranch(b.or_(b.icmp_signed("<=", M, i64(0)), b.icmp_signed("<=", N, i64(0))), ret, work)
    b.position_at_end(work)
    rows = b.select(b.icmp_signed("==", M, i64(1)), i64(1), i64(ROWS))
    blocks = ceil_div(b, M, rows)
    threads = b.call(declare(module, "trk_num_threads", ir.FunctionType(I64, [])), [])
    # split the columns only while there are fewer row blocks than threads (each strip rebuilds tables)
    wanted = imax(b, ceil_div(b, threads, blocks), i64(1))
    strips = imax(b, imin(b, wanted, b.sdiv(N, i64(MIN_STRIP))), i64(1))
    width = ceil_div(b, N, strips)
    chunks = ceil_div(b, ceil_div(b, K, i64(LUT5_GROUP_K)), i64(LUT5_CHUNK))  # K = 0: none, zeros out
    status = entry_alloca(b, I32, "status", i32(0))
    ctx, _ = pack_ctx(b, [*fn.args, rows, strips, width, chunks, b.bitcast(status, PTR)])
    call_parallel(b, body, ctx, b.mul(blocks, strips), i64(1))
    b.ret(b.load(status))
    b.position_at_end(ret)
    b.ret(i32(0))
