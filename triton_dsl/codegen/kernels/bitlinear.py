"""int8-activation × packed-ternary matmul (BitNet b1.58 style `bitlinear`), with its quantizer.

In: float32 activations x (M × K, row stride `lda`), optional per-k scales, weights relaid by
`trk_relayout_t2_vnni` (16-column panels; per 16-k block 64 bytes of 2-bit codes, the two panels of a
32-column pair alternating block by block — see relayout.py),
per-output-column scales `nscale`, and caller-allocated scratch `xq` (M × Kp int8, Kp = K rounded up to
16), `gamma` (M float32), `xsum` (M int32).
Out:
- `void trk_quantize_absmax_i8(x, lda, M, K, kscale|null, xq, Kp, gamma, xsum)`: per row
  γ = max|x·ks|, x_q = clip(roundeven(x·ks · (127/γ)), −127, 127) (0 where γ = 0), zero padding to Kp,
  Σ x_q.
- `void trk_bitlinear_t2(x, lda, M, K, N, kscale|null, w, nscale, y, ldy, xq, gamma, xsum)`: quantizes,
  then y[m,n] = (Σ_k code[k,n]·x_q[m,k] − Σ_k x_q[m,k]) · γ_m/127 · nscale[n], code = trit + 1 ∈ {0,1,2}.
  The scratch holds the quantized rows afterwards, except that the pmaddubsw GEMM (M > 1, no VNNI)
  leaves x_q + 128 in `xq` (use trk_quantize_absmax_i8 to get x_q itself).

Why: codes are unsigned, so one `vpdpbusd` (u8 × s8 → 4 products summed into each i32 lane) does 64
multiply-adds; the +1 offset of the codes costs one subtraction of Σx_q per output. The 64 packed bytes
of a block expand to four <64 x i8> code vectors with one shift and one mask each. The GEMV (M = 1,
memory-bound) skips the shifts: field g masked in place is code·4^g, accumulated in its own chain and
shifted right by 2g once at the end (exact while K ≤ GEMV_MAX_K); it reads each 32-column pair as one
contiguous stream with a software prefetch PREFETCH_BYTES ahead. Without AVX-512 VNNI (every other
`bitlinear` variant) the body comes from bitlinear_madd.py (`pmaddubsw` + `pmaddwd`, or the same in
portable IR); the quantizer, layout and results are the same.
"""

from __future__ import annotations

import llvmlite.ir as ir

from triton_dsl.codegen.kernels import bitlinear_madd
from triton_dsl.codegen.kernels.relayout import PANEL_VNNI, VNNI_KBLOCK
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

V16F = vec(F32, 16)
V16I = vec(I32, 16)
V64B = vec(I8, 64)
MAX_ROWS = 4  # rows per micro-kernel: 4 rows × 2 panels = 8 accumulator chains
GROUP_ROWS = 64
MIN_TASK_MACS = 1 << 20
PREFETCH_BYTES = 4096
# The GEMV accumulates code·4^g·x_q (g < 4): each i32 lane sums K/4 products ≤ 128·127, exact below 2^31
# for K ≤ 2^19; longer rows take the shift-and-mask micro-kernel.
GEMV_MAX_K = 1 << 19

_Q_ARGS = [PTR, I64, I64, I64, PTR, PTR, I64, PTR, PTR]
_Q_NAMES = ["x", "lda", "M", "K", "kscale", "xq", "Kp", "gamma", "xsum"]
_MM_ARGS = [PTR, I64, I64, I64, I64, PTR, PTR, PTR, PTR, I64, PTR, PTR, PTR]
_MM_NAMES = ["x", "lda", "M", "K", "N", "kscale", "w", "nscale", "y", "ldy", "xq", "gamma", "xsum"]


def _emit_quantize(module: ir.Module) -> ir.Function:
    body, b = new_function(module, "trk_quantize_absmax_i8.body", VOID, [PTR, I64, I64],
                           ["ctx", "begin", "end"], internal=True)
    x, lda, _, K, kscale, xq, Kp, gamma, xsum = unpack_ctx(b, body.args[0], ir.LiteralStructType(_Q_ARGS))
    fabs = intrinsic(module, "llvm.fabs.v16f32", V16F, [V16F])
    fmax = intrinsic(module, "llvm.maxnum.v16f32", V16F, [V16F, V16F])
    roundeven = intrinsic(module, "llvm.roundeven.v16f32", V16F, [V16F])
    has_ks = b.icmp_unsigned("!=", b.ptrtoint(kscale, I64), i64(0))
    amax = entry_alloca(b, V16F, "amax")
    qsum = entry_alloca(b, V16I, "qsum")

    def scaled_chunk(row: ir.Value, k: ir.Value) -> tuple[ir.Value, ir.Value]:
        mask = lane_mask(b, b.sub(K, k), 16)
        v = masked_load(b, gep(b, row, k, F32), V16F, mask)
        ks = masked_load(b, gep(b, b.select(has_ks, kscale, row), k, F32), V16F, mask)
        return b.select(has_ks, b.fmul(v, ks), v), mask

    with for_range(b, body.args[1], body.args[2], name="row") as m:
        row = gep(b, x, b.mul(m, lda), F32)
        out = gep(b, xq, b.mul(m, Kp), I8)
        b.store(ir.Constant(V16F, None), amax)
        with for_range(b, i64(0), K, 16, name="k") as k:
            v, _ = scaled_chunk(row, k)
            b.store(b.call(fmax, [b.load(amax), b.call(fabs, [v])]), amax)
        red = b.load(amax)
        g = b.extract_element(red, i32(0))
        fmax1 = intrinsic(module, "llvm.maxnum.f32", F32, [F32, F32])
        for j in range(1, 16):
            g = b.call(fmax1, [g, b.extract_element(red, i32(j))])
        store(b, g, gamma, m)
        inv = b.select(b.fcmp_ordered(">", g, f32(0.0)), b.fdiv(f32(127.0), g), f32(0.0))
        vinv = splat(b, inv, 16)
        b.store(ir.Constant(V16I, None), qsum)
        with for_range(b, i64(0), K, 16, name="q") as k:
            v, mask = scaled_chunk(row, k)
            q = b.call(roundeven, [b.fmul(v, vinv)])
            q = b.call(fmax, [q, ir.Constant(V16F, [-127.0] * 16)])
            q = b.call(intrinsic(module, "llvm.minnum.v16f32", V16F, [V16F, V16F]),
                       [q, ir.Constant(V16F, [127.0] * 16)])
            qi = b.fptosi(q, V16I)
            b.store(b.add(b.load(qsum), b.select(mask, qi, ir.Constant(V16I, None))), qsum)
            masked_store_i8(b, b.trunc(qi, vec(I8, 16)), gep(b, out, k, I8), mask)
        with for_range(b, K, Kp, name="pad") as k:
            store(b, ir.Constant(I8, 0), out, k)
        total = b.load(qsum)
        s = b.extract_element(total, i32(0))
        for j in range(1, 16):
            s = b.add(s, b.extract_element(total, i32(j)))
        store(b, s, xsum, m)
    b.ret_void()

    fn, b = new_function(module, "trk_quantize_absmax_i8", VOID, _Q_ARGS, _Q_NAMES)
    ctx, _ = pack_ctx(b, list(fn.args))
    call_parallel(b, body, ctx, fn.args[2], imax(b, ceil_div(b, i64(1 << 16), b.add(fn.args[3], i64(1))),
                                                 i64(1)))
    b.ret_void()
    return fn


def masked_store_i8(b: ir.IRBuilder, value: ir.Value, ptr: ir.Value, mask: ir.Value) -> None:
    fn = intrinsic(b.module, "llvm.masked.store.v16i8.p0", VOID, [value.type, PTR, I32, mask.type])
    b.call(fn, [value, ptr, i32(1), mask])


def _emit_dot(b: ir.IRBuilder, host, acc: ir.Value, codes: ir.Value, xs: ir.Value) -> ir.Value:
    """acc[i] + Σ_{j<4} u8(codes[4i+j]) · s8(xs[4i+j]) for 16 lanes i (`vpdpbusd`; only the avx512-vnni
    variant builds these micro-kernels)."""
    fn = intrinsic(b.module, "llvm.x86.avx512.vpdpbusd.512", V16I, [V16I, V64B, V64B])
    return b.call(fn, [acc, codes, xs])


def _emit_micro(module: ir.Module, host, rows: int, split: bool) -> ir.Function:
    """rows of x_q × 2 panels (32 columns); `split` keeps a separate chain per 4-k group (GEMV)."""
    fn, b = new_function(module, f"trk_bitlinear_t2.micro{rows}{'s' if split else ''}", VOID,
                         [PTR, I64, PTR, I64, I64, PTR, PTR, PTR, PTR, I64, I64],
                         ["xq", "Kp", "w", "n0", "N", "nscale", "y", "gamma", "xsum", "ldy", "m0"],
                         internal=True)
    xq, Kp, w, n0, N, nscale, y, gamma, xsum, ldy, m0 = fn.args
    kblocks = b.sdiv(Kp, i64(VNNI_KBLOCK))
    chains = 4 if split else 1
    accs = [[[entry_alloca(b, V16I, f"a{m}{p}{c}", ir.Constant(V16I, None)) for c in range(chains)]
             for p in range(2)] for m in range(rows)]
    pair = b.sdiv(n0, i64(2 * PANEL_VNNI))  # the pair's blocks alternate panel 0 / panel 1: one stream
    stream = gep(b, w, b.mul(b.mul(pair, kblocks), i64(128)), I8)
    three = ir.Constant(V64B, [3] * 64)
    with for_range(b, i64(0), kblocks, name="kb") as kb:
        codes = []
        for p in range(2):
            block = gep(b, stream, b.add(b.mul(kb, i64(128)), i64(64 * p)), I8)
            if split:  # GEMV: memory-bound, keep more misses in flight (see matmul_f32.PREFETCH_BYTES)
                prefetch(b, gep(b, block, i64(PREFETCH_BYTES), I8))
            raw = load(b, block, V64B, align=1)
            if split:  # field g left in place: code·4^g, one vpand; chain g is shifted back at the end
                codes.append([b.and_(raw, ir.Constant(V64B, [3 << (2 * g)] * 64)) for g in range(4)])
            else:
                codes.append([b.and_(raw if g == 0 else b.lshr(raw, ir.Constant(V64B, [2 * g] * 64)), three)
                              for g in range(4)])
        for m in range(rows):
            xrow = gep(b, xq, b.add(b.mul(b.add(m0, i64(m)), Kp), b.mul(kb, i64(VNNI_KBLOCK))), I8)
            for g in range(4):
                xb = b.bitcast(splat(b, load(b, xrow, I32, i64(g), align=1), 16), V64B)
                for p in range(2):
                    slot = accs[m][p][g % chains]
                    b.store(_emit_dot(b, host, b.load(slot), codes[p][g], xb), slot)
    for m in range(rows):
        row = b.add(m0, i64(m))
        scale = b.fdiv(load(b, gamma, F32, row), f32(127.0))
        offset = splat(b, load(b, xsum, I32, row), 16)
        for p in range(2):
            total = b.load(accs[m][p][0])
            for c in range(1, chains):
                total = b.add(total, b.ashr(b.load(accs[m][p][c]), splat(b, i32(2 * c), 16)))
            v = b.fmul(b.sitofp(b.sub(total, offset), V16F), splat(b, scale, 16))
            col = b.add(n0, i64(16 * p))
            mask = lane_mask(b, imin(b, b.sub(N, col), i64(16)), 16)
            v = b.fmul(v, masked_load(b, gep(b, nscale, col, F32), V16F, mask))
            masked_store(b, v, gep(b, y, b.add(b.mul(row, ldy), col), F32), mask)
    b.ret_void()
    return fn


def _emit_body(module: ir.Module, host) -> ir.Function:
    variant = host.variant("bitlinear")
    if variant in bitlinear_madd.WIDTHS:
        return bitlinear_madd.emit_body(module, variant, ir.LiteralStructType([*_MM_ARGS, PTR]))
    micros = [_emit_micro(module, host, r, False) for r in range(1, MAX_ROWS + 1)]
    gemv = _emit_micro(module, host, 1, True)
    body, b = new_function(module, "trk_bitlinear_t2.body", VOID, [PTR, I64, I64], ["ctx", "begin", "end"],
                           internal=True)
    _, _, M, K, N, _, w, nscale, y, ldy, xq, gamma, xsum = unpack_ctx(
        b, body.args[0], ir.LiteralStructType(_MM_ARGS))
    Kp = b.mul(ceil_div(b, K, i64(VNNI_KBLOCK)), i64(VNNI_KBLOCK))
    pairs = ceil_div(b, N, i64(2 * PANEL_VNNI))
    with for_range(b, body.args[1], body.args[2], name="task") as task:
        group, pair = b.sdiv(task, pairs), b.srem(task, pairs)
        n0 = b.mul(pair, i64(2 * PANEL_VNNI))
        r0 = b.mul(group, i64(GROUP_ROWS))
        r1 = imin(b, b.add(r0, i64(GROUP_ROWS)), M)
        args = [xq, Kp, w, n0, N, nscale, y, gamma, xsum, ldy]
        gemv_ok = b.and_(b.icmp_signed("==", M, i64(1)), b.icmp_signed("<=", Kp, i64(GEMV_MAX_K)))
        with b.if_else(gemv_ok) as (one, many):
            with one:
                b.call(gemv, [*args, i64(0)])
            with many:
                with for_range(b, r0, r1, MAX_ROWS, name="blk") as start:
                    count = imin(b, b.sub(r1, start), i64(MAX_ROWS))
                    call_by_count(b, count, micros, [*args, start])
    b.ret_void()
    return body


def _emit_matmul(module: ir.Module, host, quantize: ir.Function) -> None:
    body = _emit_body(module, host)

    fn, b = new_function(module, "trk_bitlinear_t2", VOID, _MM_ARGS, _MM_NAMES)
    x, lda, M, K, N, kscale, w, nscale, y, ldy, xq, gamma, xsum = fn.args
    ret = b.append_basic_block("ret")
    work = b.append_basic_block("work")
    b.cbranch(b.or_(b.icmp_signed("<=", M, i64(0)), b.icmp_signed("<=", N, i64(0))), ret, work)
    b.position_at_end(work)
    Kp = b.mul(ceil_div(b, K, i64(VNNI_KBLOCK)), i64(VNNI_KBLOCK))
    b.call(quantize, [x, lda, M, K, kscale, xq, Kp, gamma, xsum])
    variant = host.variant("bitlinear")
    madd = variant in bitlinear_madd.WIDTHS
    xb = ir.Constant(PTR, None)
    if madd:  # the one-row kernel's expanded activations (if malloc fails, the GEMM micro-kernel runs)
        xb = b.select(b.icmp_signed("==", M, i64(1)),
                      b.call(malloc(module), [bitlinear_madd.expanded_bytes(b, variant, Kp)]), xb)
        with b.if_then(b.icmp_unsigned("!=", b.ptrtoint(xb, I64), i64(0))):
            bitlinear_madd.emit_expand(b, variant, xq, Kp, xb)
        with b.if_then(b.icmp_signed(">", M, i64(1))):
            bitlinear_madd.emit_bias(b, xq, M, Kp)
    ctx, _ = pack_ctx(b, [*fn.args, xb] if madd else list(fn.args))
    groups = ceil_div(b, M, i64(GROUP_ROWS))
    tasks = b.mul(groups, ceil_div(b, N, i64(2 * PANEL_VNNI)))
    per_task = b.add(b.mul(b.mul(imin(b, M, i64(GROUP_ROWS)), Kp), i64(2 * PANEL_VNNI)), i64(1))
    call_parallel(b, body, ctx, tasks, imax(b, ceil_div(b, i64(MIN_TASK_MACS), per_task), i64(1)))
    if madd:
        b.call(free(module), [xb])
    b.branch(ret)
    b.position_at_end(ret)
    b.ret_void()


def _emit_auto(module: ir.Module) -> None:
    """`i32 trk_bitlinear_t2_auto(x, lda, M, K, N, kscale|null, w, nscale, y, ldy)`: the same with scratch
    from malloc (for generated code); returns 0, or 1 when the scratch cannot be allocated."""
    fn, b = new_function(module, "trk_bitlinear_t2_auto", I32, _MM_ARGS[:10], _MM_NAMES[:10])
    M, K = fn.args[2], fn.args[3]
    Kp = b.mul(ceil_div(b, K, i64(VNNI_KBLOCK)), i64(VNNI_KBLOCK))
    xq_bytes = b.mul(ceil_div(b, b.mul(M, Kp), i64(16)), i64(16))  # keeps gamma/xsum 16-byte aligned
    buf = b.call(malloc(module), [b.add(xq_bytes, b.add(b.mul(M, i64(8)), i64(16)))])
    failed = b.icmp_unsigned("==", b.ptrtoint(buf, I64), i64(0))
    with b.if_then(failed):
        b.ret(i32(1))
    gamma = gep(b, buf, xq_bytes, I8)
    xsum = gep(b, gamma, b.mul(M, i64(4)), I8)
    b.call(module.globals["trk_bitlinear_t2"], [*fn.args, buf, gamma, xsum])
    b.call(free(module), [buf])
    b.ret(i32(0))


def build(module: ir.Module, host) -> None:
    """Add the quantizer and `trk_bitlinear_t2` (needs threads and relayout in the same module)."""
    quantize = _emit_quantize(module)
    _emit_matmul(module, host, quantize)
    _emit_auto(module)
