"""Float matmul in native code with numpy `matmul` semantics (vectors, matrices, broadcast batches).

In: an `Emitter`. Out: `trt_matmul_f32(ctx, a, b)` / `trt_matmul_f64(ctx, a, b)`. The driver checks and
broadcasts shapes, then for each batch runs the row kernel `trt_gemm_rows_<dt>` (optimized module;
i-k-j loop order so the innermost loop streams rows of B and C and vectorizes) split over rows with
`trt_parallel` (the kernels' `trk_parallel_for` thread pool when available).
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import I32, I64, PTR, VOID, Emitter, c32, c64
from .rt_errors import emit_error, shape_text

NULL = ir.Constant(PTR, None)
FMA_FLAGS = ("contract", "reassoc")
# gemm job: { ptr A, ptr B, ptr C, i64 M, i64 N, i64 K } as 6 eight-byte slots
JOB_SLOTS = 6
K_BLOCK = 256  # keeps a block of B rows in cache while a C row is updated


def _emit_rows_kernel(em: Emitter, dt: int) -> None:
    ty = layout.scalar_type(dt)
    fb = em.define(f"trt_gemm_rows_{layout.SUFFIX[dt]}", VOID, [PTR, I64, I64], public=False, kernel=True)
    job, begin, end = fb.args
    b = fb.b
    a_ptr, b_ptr, c_ptr = (fb.load(fb.at(job, i, PTR), PTR) for i in range(3))
    n, k = fb.load(fb.at(job, 4, I64), I64), fb.load(fb.at(job, 5, I64), I64)
    with fb.loop(begin, end) as i:
        crow = fb.at(c_ptr, b.mul(i, n), ty)
        with fb.loop(0, n) as j:
            b.store(ir.Constant(ty, 0.0), fb.at(crow, j, ty))
        arow = fb.at(a_ptr, b.mul(i, k), ty)
        with fb.loop(0, k, K_BLOCK) as k0:
            k1 = b.add(k0, c64(K_BLOCK))
            k1 = fb.select(b.icmp_signed("<", k1, k), k1, k)
            with fb.loop(k0, k1) as kk:
                av = fb.load(fb.at(arow, kk, ty), ty)
                brow = fb.at(b_ptr, b.mul(kk, n), ty)
                with fb.loop(0, n) as j:
                    slot = fb.at(crow, j, ty)
                    prod = b.fmul(av, fb.load(fb.at(brow, j, ty), ty), flags=FMA_FLAGS)
                    b.store(b.fadd(fb.load(slot, ty), prod, flags=FMA_FLAGS), slot)
    fb.ret()


def _emit_driver(em: Emitter, dt: int) -> None:
    sfx = layout.SUFFIX[dt]
    esize = layout.ELEM_SIZE[dt]
    fb = em.define(f"trt_matmul_{sfx}", PTR, [PTR, PTR, PTR])
    ctx, a, bt = fb.args
    b = fb.b
    ok = b.and_(b.icmp_signed("==", fb.get(a, "dtype"), c32(dt)),
                b.icmp_signed("==", fb.get(bt, "dtype"), c32(dt)))
    with fb.if_then(b.not_(ok), likely=False):
        emit_error(fb, layout.ERR_TYPE, f"matmul_{sfx} expects two {layout.DTYPE_NAMES[dt]} tensors")
        fb.ret(NULL)
    ra, rb = b.sext(fb.get(a, "rank"), I64), b.sext(fb.get(bt, "rank"), I64)

    def mismatch():
        emit_error(fb, layout.ERR_SHAPE, "shape mismatch in matmul: %s @ %s", shape_text(fb, a),
                   shape_text(fb, bt))
        fb.ret(NULL)

    with fb.if_then(b.or_(b.icmp_signed("==", ra, c64(0)), b.icmp_signed("==", rb, c64(0))), likely=False):
        emit_error(fb, layout.ERR_SHAPE, "matmul needs operands with at least one dimension, got %s @ %s",
                   shape_text(fb, a), shape_text(fb, bt))
        fb.ret(NULL)
    a_vec, b_vec = b.icmp_signed("==", ra, c64(1)), b.icmp_signed("==", rb, c64(1))
    m = fb.select(a_vec, c64(1), fb.dim(a, b.sub(ra, c64(2))))
    k = fb.dim(a, b.sub(ra, c64(1)))
    k2 = fb.select(b_vec, fb.dim(bt, c64(0)), fb.dim(bt, b.sub(rb, c64(2))))
    n = fb.select(b_vec, c64(1), fb.dim(bt, b.sub(rb, c64(1))))
    with fb.if_then(b.icmp_signed("!=", k, k2), likely=False):
        mismatch()
    # batch dims: a[:-2], b[:-2], broadcast right-aligned
    abat = fb.select(a_vec, c64(0), b.sub(ra, c64(2)))
    bbat = fb.select(b_vec, c64(0), b.sub(rb, c64(2)))
    nbat = fb.select(b.icmp_signed(">", abat, bbat), abat, bbat)
    shape = fb.var(ir.ArrayType(I64, layout.MAX_RANK))
    adims, bdims = fb.var(ir.ArrayType(I64, layout.MAX_RANK)), fb.var(ir.ArrayType(I64, layout.MAX_RANK))
    with fb.loop(0, nbat) as d:
        def dim_of(t, tb):
            idx = b.sub(d, b.sub(nbat, tb))
            slot = fb.var(I64, c64(1))
            with fb.if_then(b.icmp_signed(">=", idx, c64(0))):
                b.store(fb.dim(t, idx), slot)
            return fb.load(slot, I64)
        da, db = dim_of(a, abat), dim_of(bt, bbat)
        good = b.or_(b.or_(b.icmp_signed("==", da, db), b.icmp_signed("==", da, c64(1))),
                     b.icmp_signed("==", db, c64(1)))
        with fb.if_then(b.not_(good), likely=False):
            mismatch()
        b.store(fb.select(b.icmp_signed("==", da, c64(1)), db, da), fb.at(shape, d, I64))
        b.store(da, fb.at(adims, d, I64))
        b.store(db, fb.at(bdims, d, I64))
    rank = fb.var(I64, nbat)
    for keep, size in ((b.not_(a_vec), m), (b.not_(b_vec), n)):
        with fb.if_then(keep):
            r = fb.load(rank, I64)
            b.store(size, fb.at(shape, r, I64))
            b.store(b.add(r, c64(1)), rank)
    out = fb.call("trt_tensor_new", ctx, c32(dt), b.trunc(fb.load(rank, I64), I32), shape)
    fb.ret_if(fb.is_null(out), NULL)
    batches = fb.var(I64, c64(1))
    with fb.loop(0, nbat) as d:
        b.store(b.mul(fb.load(batches, I64), fb.load(fb.at(shape, d, I64), I64)), batches)
    job = fb.var(ir.ArrayType(I64, JOB_SLOTS))
    b.store(m, fb.at(job, 3, I64))
    b.store(n, fb.at(job, 4, I64))
    b.store(k, fb.at(job, 5, I64))
    work = b.mul(n, k)
    grain = b.sdiv(c64(1 << 16), fb.select(b.icmp_signed("<", work, c64(1)), c64(1), work))
    grain = fb.select(b.icmp_signed("<", grain, c64(1)), c64(1), grain)
    rows = em.get(f"trt_gemm_rows_{sfx}")
    with fb.loop(0, fb.load(batches, I64)) as bi:
        rem, aoff, boff = fb.var(I64, bi), fb.var(I64, c64(0)), fb.var(I64, c64(0))
        astr, bstr = fb.var(I64, c64(1)), fb.var(I64, c64(1))
        with fb.loop(0, nbat) as j:
            d = b.sub(b.sub(nbat, c64(1)), j)
            od = fb.load(fb.at(shape, d, I64), I64)
            idx = b.srem(fb.load(rem, I64), od)
            b.store(b.sdiv(fb.load(rem, I64), od), rem)
            for dims, off, stride in ((adims, aoff, astr), (bdims, boff, bstr)):
                dd = fb.load(fb.at(dims, d, I64), I64)
                step = fb.select(b.icmp_signed("==", dd, c64(1)), c64(0), idx)
                b.store(b.add(fb.load(off, I64), b.mul(step, fb.load(stride, I64))), off)
                b.store(b.mul(fb.load(stride, I64), dd), stride)
        abase = fb.byte_at(fb.get(a, "data"), b.mul(b.mul(fb.load(aoff, I64), b.mul(m, k)), c64(esize)))
        bbase = fb.byte_at(fb.get(bt, "data"), b.mul(b.mul(fb.load(boff, I64), b.mul(k, n)), c64(esize)))
        cbase = fb.byte_at(fb.get(out, "data"), b.mul(b.mul(bi, b.mul(m, n)), c64(esize)))
        for slot, value in ((0, abase), (1, bbase), (2, cbase)):
            b.store(value, fb.at(job, slot, PTR))
        fb.call("trt_parallel", rows, job, m, grain)
    fb.ret(out)


def emit(em: Emitter) -> None:
    for dt in (layout.FLOAT32, layout.FLOAT64):
        _emit_rows_kernel(em, dt)
        _emit_driver(em, dt)
