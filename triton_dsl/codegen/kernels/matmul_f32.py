"""Exact float32-activation × packed-ternary matmul (GEMV and GEMM) over the private panel layout.

In: `x` float32 rows (M × K, row stride `lda`), weights relaid by `trk_relayout_t2_panels` (32-column
panels of +1/−1 bit masks, see relayout.py), optional per-k scales (axis 0 of a [K, N] weight),
per-output-column scales `nscale` (N floats: per-tensor scale repeated, or per-channel), and the
values of a +1 / −1 trit (`wpos`, `wneg`: 1, 1 normally; pos, neg for asymmetric scales).
Out: `void trk_matmul_f32_t2(x, lda, ldx_k, w, y, ldy, ldy_n, M, K, N, kscale|null, nscale, wpos, wneg)`
writing y[m·ldy + n·ldy_n] = nscale[n] · Σ_k x[m·lda + k·ldx_k] · kscale[k] · (wpos if W=+1, −wneg if
W=−1). Strides let conv2d pass its im2col matrix transposed and write NCHW output directly.

Why this shape: M = 1 uses masked adds — `select(mask, acc + x, acc)` on <16 x float> lowers to one
masked vaddps, +1 and −1 lanes into separate accumulators, 4-way split over k so the add latency is
hidden; each panel is one contiguous stream, which the prefetcher follows. M > 1 expands the masks
of a panel row into ±1 float vectors once per k (two masked moves) and shares them across up to 12
rows of x with FMAs (2 × rows accumulators in registers), like a BLAS micro-kernel but reading 2 bits
per weight. Work is split across the pool over (row group, panel) tasks.
"""

from __future__ import annotations

import llvmlite.ir as ir

from triton_dsl.codegen.kernels.relayout import PANEL_F32
from triton_dsl.codegen.kernels.trk_ir import (
    F32,
    I1,
    I16,
    I64,
    PTR,
    VOID,
    call_by_count,
    call_parallel,
    ceil_div,
    entry_alloca,
    f32,
    for_range,
    gep,
    i64,
    imax,
    imin,
    intrinsic,
    lane_mask,
    load,
    masked_load,
    masked_store,
    new_function,
    pack_ctx,
    prefetch,
    splat,
    unpack_ctx,
    vec,
)

LANES = 16
V16 = vec(F32, LANES)
MAX_ROWS = 12  # rows of x per GEMM micro-kernel: 24 accumulators + 2 weights + 2 constants ≤ 32 zmm
GROUP_ROWS = 96  # rows of x per GEMM task (their x stays in L2 while panels stream by)
SPLIT_K = 4  # independent accumulators per output vector in the GEMV
MIN_TASK_WEIGHTS = 1 << 18  # don't hand a thread less work than this
PREFETCH_BYTES = 2048  # ≈ 250 k ahead in a panel stream: covers ~150 ns of memory latency

_ARGS = [PTR, I64, I64, PTR, PTR, I64, I64, I64, I64, I64, PTR, PTR, F32, F32]
_NAMES = ["x", "lda", "ldx_k", "w", "y", "ldy", "ldy_n", "M", "K", "N", "kscale", "nscale", "wpos", "wneg"]


def _masks(b: ir.IRBuilder, row: ir.Value) -> list[ir.Value]:
    """The four <16 x i1> masks (+1 cols 0-15, −1 cols 0-15, +1 cols 16-31, −1 cols 16-31) of a k row."""
    return [b.bitcast(load(b, row, I16, i64(j)), vec(I1, LANES)) for j in range(4)]


def emit_store_tile(b: ir.IRBuilder, v: ir.Value, y: ir.Value, row_off: ir.Value, n0: ir.Value,
                    ldy_n: ir.Value, N: ir.Value, nscale: ir.Value) -> None:
    """y[row_off + (n0+j)·ldy_n] = v[j] · nscale[n0+j] for the lanes j with n0 + j < N.

    A call to one shared function per module (noinline): a tile is stored once per micro-kernel call,
    after its whole K loop, and inlined the 2 × (1 + ... + 12) stores of the GEMM micro-kernels were
    most of the family's IR and of LLVM's time (masked stores are scalarized without AVX-512: the
    family took 5.1 s of LLVM on SSE2, 0.5 s with the call)."""
    module = b.module
    fn = module.globals.get(_STORE_TILE)
    if fn is None:
        fn, fb = new_function(module, _STORE_TILE, VOID, [V16, PTR, I64, I64, I64, I64, PTR],
                              ["v", "y", "row_off", "n0", "ldy_n", "N", "nscale"], internal=True)
        fn.attributes.add("noinline")
        _emit_store_tile_body(fb, *fn.args)
        fb.ret_void()
    b.call(fn, [v, y, row_off, n0, ldy_n, N, nscale])


_STORE_TILE = "trk_f32_t2.store_tile"


def _emit_store_tile_body(b: ir.IRBuilder, v: ir.Value, y: ir.Value, row_off: ir.Value, n0: ir.Value,
                          ldy_n: ir.Value, N: ir.Value, nscale: ir.Value) -> None:
    valid = imin(b, b.sub(N, n0), i64(LANES))
    mask = lane_mask(b, valid, LANES)
    v = b.fmul(v, masked_load(b, gep(b, nscale, n0, F32), V16, mask))
    contiguous = b.icmp_signed("==", ldy_n, i64(1))
    with b.if_else(contiguous) as (then, other):
        with then:
            masked_store(b, v, gep(b, y, b.add(row_off, n0), F32), mask)
        with other:
            with for_range(b, i64(0), valid, name="lane") as j:
                off = b.add(row_off, b.mul(b.add(n0, j), ldy_n))
                b.store(b.extract_element(v, j), b.bitcast(gep(b, y, off, F32), F32.as_pointer()))


def _emit_gemv_body(module: ir.Module, with_kscale: bool) -> ir.Function:
    suffix = "ks" if with_kscale else "plain"
    body, b = new_function(module, f"trk_gemv_f32_t2.{suffix}", VOID, [PTR, I64, I64],
                           ["ctx", "begin", "end"], internal=True)
    x, _, ldx_k, w, y, _, ldy_n, _, K, N, kscale, nscale, wpos, wneg = unpack_ctx(
        b, body.args[0], ir.LiteralStructType(_ARGS))
    zero = ir.Constant(V16, None)
    # acc[t][s][u]: output half t, sign s (+1, −1), k residue u
    accs = [[[entry_alloca(b, V16, f"acc{t}{s}{u}") for u in range(SPLIT_K)] for s in range(2)]
            for t in range(2)]

    def step(k: ir.Value, panel: ir.Value, u: int) -> None:
        xk = load(b, x, F32, b.mul(k, ldx_k))
        if with_kscale:
            xk = b.fmul(xk, load(b, kscale, F32, k))
        xv = splat(b, xk, LANES)
        masks = _masks(b, gep(b, panel, b.mul(k, i64(8)), ir.IntType(8)))
        for t in range(2):
            for s in range(2):
                slot = accs[t][s][u]
                acc = b.load(slot)
                b.store(b.select(masks[2 * t + s], b.fadd(acc, xv), acc), slot)

    with for_range(b, body.args[1], body.args[2], name="panel") as p:
        for row in accs:
            for sign in row:
                for slot in sign:
                    b.store(zero, slot)
        panel = gep(b, w, b.mul(p, b.mul(K, i64(8))), ir.IntType(8))
        k_main = b.mul(b.sdiv(K, i64(SPLIT_K)), i64(SPLIT_K))
        with for_range(b, i64(0), k_main, SPLIT_K, name="k") as k:
            # software prefetch PREFETCH_BYTES ahead: one stream at ~4 bytes/cycle leaves too few
            # misses in flight for the hardware prefetcher alone once the weights are cold
            prefetch(b, gep(b, panel, b.add(b.mul(k, i64(8)), i64(PREFETCH_BYTES)), ir.IntType(8)))
            for u in range(SPLIT_K):
                step(b.add(k, i64(u)), panel, u)
        with for_range(b, k_main, K, name="ktail") as k:
            step(k, panel, 0)
        vpos, vneg = splat(b, wpos, LANES), splat(b, wneg, LANES)
        for t in range(2):
            sums = []
            for s in range(2):
                total = b.load(accs[t][s][0])
                for u in range(1, SPLIT_K):
                    total = b.fadd(total, b.load(accs[t][s][u]))
                sums.append(total)
            v = b.fsub(b.fmul(sums[0], vpos), b.fmul(sums[1], vneg))
            n0 = b.add(b.mul(p, i64(PANEL_F32)), i64(LANES * t))
            emit_store_tile(b, v, y, i64(0), n0, ldy_n, N, nscale)
    b.ret_void()
    return body


def _emit_micro(module: ir.Module, rows: int) -> ir.Function:
    """micro(x, lda, ldx_k, panel, y, ldy, ldy_n, n0, K, N, kscale|null, nscale, wpos, wneg): rows × panel."""
    fn, b = new_function(module, f"trk_gemm_f32_t2.micro{rows}", VOID,
                         [PTR, I64, I64, PTR, PTR, I64, I64, I64, I64, I64, PTR, PTR, F32, F32],
                         ["x", "lda", "ldx_k", "panel", "y", "ldy", "ldy_n", "n0", "K", "N", "kscale",
                          "nscale", "wpos", "wneg"], internal=True)
    # Not inlined into the task body (one call per row block x panel, each a whole K loop): inlined, the
    # twelve micro-kernels made one huge function that took LLVM 5x longer to compile, for no speed
    # (measured per row count on AVX-512, AVX2 and SSE2 builds; docs/kernels.md, "Compile time").
    fn.attributes.add("noinline")
    x, lda, ldx_k, panel, y, ldy, ldy_n, n0, K, N, kscale, nscale, wpos, wneg = fn.args
    fmuladd = intrinsic(module, "llvm.fmuladd.v16f32", V16, [V16, V16, V16])
    zero = ir.Constant(V16, None)
    accs = [[entry_alloca(b, V16, f"acc{m}_{t}", zero) for t in range(2)] for m in range(rows)]
    rows_x = [gep(b, x, b.mul(i64(m), lda), F32) for m in range(rows)]
    neg_wneg = b.fsub(f32(0.0), wneg)
    has_ks = b.icmp_unsigned("!=", b.ptrtoint(kscale, I64), i64(0))
    with for_range(b, i64(0), K, name="k") as k:
        masks = _masks(b, gep(b, panel, b.mul(k, i64(8)), ir.IntType(8)))
        # the weight values ±1 (times kscale[k] when given): 2 scalar ops per k, shared by all rows
        ks = b.select(has_ks, load(b, b.select(has_ks, kscale, b.bitcast(panel, PTR)), F32, b.select(
            has_ks, k, i64(0))), f32(1.0))
        vp, vn = splat(b, b.fmul(wpos, ks), LANES), splat(b, b.fmul(neg_wneg, ks), LANES)
        wt = [b.select(masks[2 * t], vp, b.select(masks[2 * t + 1], vn, zero)) for t in range(2)]
        for m in range(rows):
            xv = splat(b, load(b, rows_x[m], F32, b.mul(k, ldx_k)), LANES)
            for t in range(2):
                b.store(b.call(fmuladd, [xv, wt[t], b.load(accs[m][t])]), accs[m][t])
    for m in range(rows):
        for t in range(2):
            emit_store_tile(b, b.load(accs[m][t]), y, b.mul(i64(m), ldy), b.add(n0, i64(LANES * t)),
                            ldy_n, N, nscale)
    b.ret_void()
    return fn


def _emit_gemm_body(module: ir.Module) -> ir.Function:
    micros = [_emit_micro(module, r) for r in range(1, MAX_ROWS + 1)]
    body, b = new_function(module, "trk_gemm_f32_t2.body", VOID, [PTR, I64, I64],
                           ["ctx", "begin", "end"], internal=True)
    x, lda, ldx_k, w, y, ldy, ldy_n, M, K, N, kscale, nscale, wpos, wneg = unpack_ctx(
        b, body.args[0], ir.LiteralStructType(_ARGS))
    npanels = ceil_div(b, N, i64(PANEL_F32))
    with for_range(b, body.args[1], body.args[2], name="task") as task:
        group, p = b.sdiv(task, npanels), b.srem(task, npanels)
        r0 = b.mul(group, i64(GROUP_ROWS))
        r1 = imin(b, b.add(r0, i64(GROUP_ROWS)), M)
        # balanced blocks of ≤ MAX_ROWS rows (64 rows → 6 blocks of 11/10, not 5 × 12 + 4)
        nblocks = ceil_div(b, b.sub(r1, r0), i64(MAX_ROWS))
        panel = gep(b, w, b.mul(p, b.mul(K, i64(8))), ir.IntType(8))
        n0 = b.mul(p, i64(PANEL_F32))
        with for_range(b, i64(0), nblocks, name="blk") as blk:
            rows = b.sub(r1, r0)
            start = b.add(r0, b.sdiv(b.mul(rows, blk), nblocks))
            stop = b.add(r0, b.sdiv(b.mul(rows, b.add(blk, i64(1))), nblocks))
            count = b.sub(stop, start)
            args = [gep(b, x, b.mul(start, lda), F32), lda, ldx_k, panel, gep(b, y, b.mul(start, ldy), F32),
                    ldy, ldy_n, n0, K, N, kscale, nscale, wpos, wneg]
            call_by_count(b, count, micros, args)
    b.ret_void()
    return body


def build(module: ir.Module, host) -> None:
    """Add `trk_matmul_f32_t2` (kernel-library builder signature; needs threads and relayout built)."""
    gemv = {ks: _emit_gemv_body(module, ks) for ks in (False, True)}
    gemm = _emit_gemm_body(module)
    fn, b = new_function(module, "trk_matmul_f32_t2", VOID, _ARGS, _NAMES)
    x, lda, ldx_k, w, y, ldy, ldy_n, M, K, N, kscale, *_ = fn.args
    ret = b.append_basic_block("ret")
    work = b.append_basic_block("work")
    b.cbranch(b.or_(b.icmp_signed("<=", M, i64(0)), b.icmp_signed("<=", N, i64(0))), ret, work)
    b.position_at_end(work)
    ctx, _ = pack_ctx(b, list(fn.args))
    npanels = ceil_div(b, N, i64(PANEL_F32))
    has_ks = b.icmp_unsigned("!=", b.ptrtoint(kscale, I64), i64(0))
    gemv_case = b.and_(b.icmp_signed("==", M, i64(1)), b.icmp_signed("==", ldy_n, i64(1)))
    with b.if_else(gemv_case) as (then, other):
        with then:
            grain = imax(b, ceil_div(b, i64(MIN_TASK_WEIGHTS), b.add(b.mul(K, i64(PANEL_F32)), i64(1))),
                         i64(1))
            with b.if_else(has_ks) as (a, c):
                with a:
                    call_parallel(b, gemv[True], ctx, npanels, grain)
                with c:
                    call_parallel(b, gemv[False], ctx, npanels, grain)
        with other:
            groups = ceil_div(b, M, i64(GROUP_ROWS))
            per_task = b.add(b.mul(b.mul(imin(b, M, i64(GROUP_ROWS)), K), i64(PANEL_F32)), i64(1))
            grain = imax(b, ceil_div(b, i64(MIN_TASK_WEIGHTS), per_task), i64(1))
            call_parallel(b, gemm, ctx, b.mul(groups, npanels), grain)
    b.branch(ret)
    b.position_at_end(ret)
    b.ret_void()
