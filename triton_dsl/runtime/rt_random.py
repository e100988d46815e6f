"""Random numbers in native code: a counter-based Philox-4x32-10 generator with a global seed.

In: an `Emitter`. Out: `trt_seed`, `trt_rand_scalar`, `trt_randn_scalar`, `trt_rand`, `trt_randn`,
`trt_uniform` (docs/runtime.md "Random numbers"). State: key (from the seed) and `pos`, the number of
32-bit words consumed; word w is lane w % 4 of philox(counter = (w / 4, 0), key). Every value depends only
on (seed, position), so results are identical on every run and machine.
"""

from __future__ import annotations

import math

from llvmlite import ir

from ..abi import layout
from .irgen import F32, F64, HALF, I32, I64, PTR, VOID, Emitter, c32, c64
from .rt_errors import emit_error

NULL = ir.Constant(PTR, None)
M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
ROUNDS = 10
U24 = 2.0 ** -24


def _emit_philox(em: Emitter) -> None:
    """void trt_philox(i64 block, i32 k0, i32 k1, i32 *out4): Philox-4x32-10 of counter (block, 0)."""
    fb = em.define("trt_philox", VOID, [I64, I32, I32, PTR], public=False, kernel=True)
    block, k0, k1, out = fb.args
    b = fb.b
    c = [b.trunc(block, I32), b.trunc(b.lshr(block, c64(32)), I32), c32(0), c32(0)]

    def mulhilo(m, x):
        p = b.mul(ir.Constant(I64, m), b.zext(x, I64))
        return b.trunc(b.lshr(p, c64(32)), I32), b.trunc(p, I32)

    for r in range(ROUNDS):
        if r:
            k0 = b.add(k0, ir.Constant(I32, W0))
            k1 = b.add(k1, ir.Constant(I32, W1))
        hi0, lo0 = mulhilo(M0, c[0])
        hi1, lo1 = mulhilo(M1, c[2])
        c = [b.xor(b.xor(hi1, c[1]), k0), lo1, b.xor(b.xor(hi0, c[3]), k1), lo0]
    for i, v in enumerate(c):
        b.store(v, fb.at(out, i, I32))
    fb.ret()


def _emit_state(em: Emitter):
    kem = em.kernels or em  # the state lives with the kernels that use it
    key0 = kem.global_var("trt_rng_key0", I32, 0)
    key1 = kem.global_var("trt_rng_key1", I32, 0)
    pos = kem.global_var("trt_rng_pos", I64, 0)

    fb = em.define("trt_seed", VOID, [I64], kernel=True)
    s = fb.args[0]
    fb.b.store(fb.b.trunc(s, I32), key0)
    fb.b.store(fb.b.trunc(fb.b.lshr(s, c64(32)), I32), key1)
    fb.b.store(c64(0), pos)
    fb.ret()

    # void trt_rand_words(i32 *out, i64 n): the next n words of the stream; advances pos by n.
    fb = em.define("trt_rand_words", VOID, [PTR, I64], public=False, kernel=True)
    out, n = fb.args
    b = fb.b
    start = fb.load(pos, I64)
    k0, k1 = fb.load(key0, I32), fb.load(key1, I32)
    words = fb.var(ir.ArrayType(I32, 4))
    first, last = b.lshr(start, c64(2)), b.lshr(b.add(b.add(start, n), c64(3)), c64(2))
    with fb.loop(first, last) as blk:
        fb.call("trt_philox", blk, k0, k1, words)
        for lane in range(4):
            i = b.sub(b.add(b.shl(blk, c64(2)), c64(lane)), start)  # index into out
            inside = b.and_(b.icmp_signed(">=", i, c64(0)), b.icmp_signed("<", i, n))
            with fb.if_then(inside):
                b.store(fb.load(fb.at(words, lane, I32), I32), fb.at(out, i, I32))
    b.store(b.add(start, n), pos)
    fb.ret()


def _uniform(fb, w):
    """float32 in [0, 1) from a word: (w >> 8) * 2^-24 (exact)."""
    return fb.b.fmul(fb.b.uitofp(fb.b.lshr(w, c32(8)), F64), ir.Constant(F64, U24))


def _normal_pair(fb, em, w0, w1):
    """Box-Muller in double: (r cos(2 pi u2), r sin(2 pi u2)), r = sqrt(-2 ln u1), u1 in (0, 1]."""
    b = fb.b
    u1 = b.fmul(b.uitofp(b.add(b.lshr(w0, c32(8)), c32(1)), F64), ir.Constant(F64, U24))
    u2 = _uniform(fb, w1)
    r = fb.call("sqrt", b.fmul(ir.Constant(F64, -2.0), fb.call("log", u1)))
    theta = b.fmul(ir.Constant(F64, 2.0 * math.pi), u2)
    return b.fmul(r, fb.call("cos", theta)), b.fmul(r, fb.call("sin", theta))


def _emit_scalars(em: Emitter) -> None:
    fb = em.define("trt_rand_scalar", F32, [])
    w = fb.var(ir.ArrayType(I32, 2))
    fb.call("trt_rand_words", w, c64(1))
    fb.ret(fb.b.fptrunc(_uniform(fb, fb.load(w, I32)), F32))

    fb = em.define("trt_randn_scalar", F32, [])
    w = fb.var(ir.ArrayType(I32, 2))
    fb.call("trt_rand_words", w, c64(2))
    z0, _ = _normal_pair(fb, em, fb.load(w, I32), fb.load(fb.at(w, 1, I32), I32))
    fb.ret(fb.b.fptrunc(z0, F32))


def _store_as(fb, data, i, value, dtype) -> None:
    """Store the double `value` as element i of a float tensor of runtime dtype `dtype`."""
    b = fb.b
    for code, ty in ((layout.FLOAT16, HALF), (layout.FLOAT32, F32), (layout.FLOAT64, F64)):
        with fb.if_then(b.icmp_signed("==", dtype, c32(code))):
            b.store(value if ty is F64 else b.fptrunc(value, ty), fb.at(data, i, ty))


def _emit_tensors(em: Emitter) -> None:
    for name, extra in (("trt_rand", []), ("trt_randn", []), ("trt_uniform", [F64, F64])):
        fb = em.define(name, PTR, [PTR, I32, I32, PTR] + extra)
        ctx, dtype, rank, shape = fb.args[:4]
        b = fb.b
        is_float = b.and_(b.icmp_signed(">=", dtype, c32(layout.FLOAT16)), b.icmp_signed("<=", dtype, c32(8)))
        with fb.if_then(b.not_(is_float), likely=False):
            what = name.removeprefix("trt_")
            emit_error(fb, layout.ERR_TYPE, f"{what}() makes float16, float32 or float64 tensors")
            fb.ret(NULL)
        t = fb.call("trt_tensor_new", ctx, dtype, rank, shape)
        fb.ret_if(fb.is_null(t), NULL)
        n = fb.get(t, "numel")
        nwords = b.and_(b.add(n, c64(1)), c64(-2)) if name == "trt_randn" else n
        scratch = fb.call("trt_alloc", ctx, b.mul(nwords, c64(4)))
        with fb.if_then(fb.is_null(scratch), likely=False):
            fb.call("trt_decref", t)
            fb.ret(NULL)
        fb.call("trt_rand_words", scratch, nwords)
        data = fb.get(t, "data")
        if name == "trt_randn":
            with fb.loop(0, n, 2) as i:
                w0 = fb.load(fb.at(scratch, i, I32), I32)
                w1 = fb.load(fb.at(scratch, b.add(i, c64(1)), I32), I32)
                z0, z1 = _normal_pair(fb, em, w0, w1)
                _store_as(fb, data, i, z0, dtype)
                with fb.if_then(b.icmp_signed("<", b.add(i, c64(1)), n)):
                    _store_as(fb, data, b.add(i, c64(1)), z1, dtype)
        else:
            with fb.loop(0, n) as i:
                u = _uniform(fb, fb.load(fb.at(scratch, i, I32), I32))
                if name == "trt_uniform":
                    low, high = fb.args[4], fb.args[5]
                    u = b.fadd(low, b.fmul(b.fsub(high, low), u))
                _store_as(fb, data, i, u, dtype)
        fb.call("free", scratch)
        fb.ret(t)


def emit(em: Emitter) -> None:
    _emit_philox(em)
    _emit_state(em)
    _emit_scalars(em)
    _emit_tensors(em)
