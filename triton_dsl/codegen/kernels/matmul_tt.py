"""Ternary × ternary matmul from bit-planes and popcounts: exact in integers, then scaled.

In: activations a [M, K] and weights W [K, N] both relaid by `trk_relayout_t2_bitplanes` (per row of a /
per column of W: ceil(K/64) u64 words of +1 bits, then the same of −1 bits), per-row scales `rs` (M),
per-column scales `ns` (N), and `coef` = 4 floats (a₊w₊, a₊w₋, a₋w₊, a₋w₋: the magnitudes of the four
sign combinations; all 1 for symmetric scales).
Out: `void trk_matmul_t2_t2(a, M, K, w, N, rs, ns, coef, y, dots|null)`:
  pp = popcount(a₊ & w₊), pn = popcount(a₊ & w₋), np = popcount(a₋ & w₊), nn = popcount(a₋ & w₋)
  summed over words; dots[m,n] = pp − pn − np + nn (the integer dot product of the trits) and
  y[m,n] = rs[m] · ns[n] · (c₀·pp − c₁·pn − c₂·np + c₃·nn).
Why: 64 trit products per four AND+popcount pairs and no multiplies; `llvm.ctpop` lowers to
`vpopcntq` where AVX512-VPOPCNTDQ exists and to a portable bit-count elsewhere.
"""

from __future__ import annotations

import llvmlite.ir as ir

from triton_dsl.codegen.kernels.trk_ir import (
    F32,
    I32,
    I64,
    PTR,
    VOID,
    call_parallel,
    ceil_div,
    entry_alloca,
    for_range,
    gep,
    i64,
    imax,
    imin,
    intrinsic,
    load,
    new_function,
    pack_ctx,
    store,
    unpack_ctx,
)

BLOCK_N = 16  # columns per task
_ARGS = [PTR, I64, I64, PTR, I64, PTR, PTR, PTR, PTR, PTR]
_NAMES = ["a", "M", "K", "w", "N", "rs", "ns", "coef", "y", "dots"]


def build(module: ir.Module, host) -> None:
    """Add `trk_matmul_t2_t2` (needs threads in the same module)."""
    ctpop = intrinsic(module, "llvm.ctpop.i64", I64, [I64])
    body, b = new_function(module, "trk_matmul_t2_t2.body", VOID, [PTR, I64, I64], ["ctx", "begin", "end"],
                           internal=True)
    a, _, K, w, N, rs, ns, coef, y, dots = unpack_ctx(b, body.args[0], ir.LiteralStructType(_ARGS))
    words = ceil_div(b, K, i64(64))
    nblocks = ceil_div(b, N, i64(BLOCK_N))
    c = [load(b, coef, F32, i64(j)) for j in range(4)]
    has_dots = b.icmp_unsigned("!=", b.ptrtoint(dots, I64), i64(0))
    sums = [entry_alloca(b, I64, f"s{j}") for j in range(4)]
    with for_range(b, body.args[1], body.args[2], name="task") as task:
        m, blk = b.sdiv(task, nblocks), b.srem(task, nblocks)
        arow = gep(b, a, b.mul(m, b.mul(words, i64(2))), I64)
        n0 = b.mul(blk, i64(BLOCK_N))
        with for_range(b, n0, imin(b, b.add(n0, i64(BLOCK_N)), N), name="n") as n:
            wrow = gep(b, w, b.mul(n, b.mul(words, i64(2))), I64)
            for s in sums:
                b.store(i64(0), s)
            with for_range(b, i64(0), words, name="word") as j:
                ap, an = load(b, arow, I64, j), load(b, arow, I64, b.add(j, words))
                wp, wn = load(b, wrow, I64, j), load(b, wrow, I64, b.add(j, words))
                for s, (x, v) in zip(sums, ((ap, wp), (ap, wn), (an, wp), (an, wn)), strict=True):
                    b.store(b.add(b.load(s), b.call(ctpop, [b.and_(x, v)])), s)
            pp, pn, np_, nn = (b.load(s) for s in sums)
            out = b.add(b.mul(m, N), n)
            with b.if_then(has_dots):
                store(b, b.trunc(b.add(b.sub(b.sub(pp, pn), np_), nn), I32), dots, out)
            terms = [b.fmul(cj, b.sitofp(v, F32)) for cj, v in zip(c, (pp, pn, np_, nn), strict=True)]
            val = b.fadd(b.fsub(b.fsub(terms[0], terms[1]), terms[2]), terms[3])
            val = b.fmul(val, b.fmul(load(b, rs, F32, m), load(b, ns, F32, n)))
            store(b, val, y, out)
    b.ret_void()

    fn, b = new_function(module, "trk_matmul_t2_t2", VOID, _ARGS, _NAMES)
    M, K, N = fn.args[1], fn.args[2], fn.args[4]
    ctx, _ = pack_ctx(b, list(fn.args))
    tasks = b.mul(M, ceil_div(b, N, i64(BLOCK_N)))
    per_task = b.add(b.mul(ceil_div(b, K, i64(64)), i64(BLOCK_N)), i64(1))
    call_parallel(b, body, ctx, tasks, imax(b, ceil_div(b, i64(1 << 14), per_task), i64(1)))
    b.ret_void()
