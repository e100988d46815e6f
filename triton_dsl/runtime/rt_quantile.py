"""Runtime function of the `quantile` primitive (percentiles of the quantization stdlib).

In: an `Emitter` (called from `rt_quant.emit`). Out:

    float trt_quantile_f32(ctx, x, double q)   numpy's quantile (linear interpolation) of all entries;
                                           NaN when an entry is NaN; q outside 0..1 / empty x: error
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F32, F64, I32, I64, PTR, Emitter, FnBuilder, c32, c64
from .rt_errors import emit_error


def _emit_select(em: Emitter) -> None:
    """float trt_select_kth(a, n, k): the k-th smallest of a[0..n) (reorders a; three-way quickselect,
    so runs of equal values cost nothing); afterwards every a[i > k] >= a[k]."""
    fb = em.define("trt_select_kth", F32, [PTR, I64, I64], public=False, kernel=True)
    a, n, k = fb.args
    b = fb.b
    lo, hi = fb.var(I64, c64(0)), fb.var(I64, b.sub(n, c64(1)))

    def at(i):
        return fb.at(a, i, F32)

    def swap(i, j):
        vi, vj = fb.load(at(i), F32), fb.load(at(j), F32)
        b.store(vj, at(i))
        b.store(vi, at(j))

    outer = _While(fb, lambda: b.icmp_signed("<", fb.load(lo, I64), fb.load(hi, I64)))
    with outer:
        l_, h_ = fb.load(lo, I64), fb.load(hi, I64)
        m_ = b.add(l_, b.sdiv(b.sub(h_, l_), c64(2)))
        x, y, z = (fb.load(at(i), F32) for i in (l_, m_, h_))
        mn = b.select(b.fcmp_ordered("<", x, y), x, y)
        mx = b.select(b.fcmp_ordered("<", x, y), y, x)
        pivot = b.select(b.fcmp_ordered("<", mx, z), mx, b.select(b.fcmp_ordered("<", z, mn), mn, z))
        lt, i, gt = fb.var(I64, l_), fb.var(I64, l_), fb.var(I64, h_)
        inner = _While(fb, lambda: b.icmp_signed("<=", fb.load(i, I64), fb.load(gt, I64)))
        with inner:
            iv = fb.load(i, I64)
            v = fb.load(at(iv), F32)
            with fb.if_else(b.fcmp_ordered("<", v, pivot)) as (less, rest):
                with less:
                    swap(fb.load(lt, I64), iv)
                    b.store(b.add(fb.load(lt, I64), c64(1)), lt)
                    b.store(b.add(iv, c64(1)), i)
                with rest:
                    with fb.if_else(b.fcmp_ordered(">", v, pivot)) as (greater, equal):
                        with greater:
                            swap(iv, fb.load(gt, I64))
                            b.store(b.sub(fb.load(gt, I64), c64(1)), gt)
                        with equal:
                            b.store(b.add(iv, c64(1)), i)
        with fb.if_else(b.icmp_signed("<", k, fb.load(lt, I64))) as (left, notleft):
            with left:
                b.store(b.sub(fb.load(lt, I64), c64(1)), hi)
            with notleft:
                with fb.if_else(b.icmp_signed(">", k, fb.load(gt, I64))) as (right, found):
                    with right:
                        b.store(b.add(fb.load(gt, I64), c64(1)), lo)
                    with found:
                        b.store(k, lo)
                        b.store(k, hi)
    fb.ret(fb.load(at(k), F32))


class _While:
    """`with _While(fb, cond): body` — a while loop whose condition is rebuilt at the loop head."""

    def __init__(self, fb: FnBuilder, cond):
        self.fb, self.cond = fb, cond

    def __enter__(self):
        b = self.fb.b
        self.head = self.fb.fn.append_basic_block("while.cond")
        body = self.fb.fn.append_basic_block("while.body")
        self.end = self.fb.fn.append_basic_block("while.end")
        b.branch(self.head)
        b.position_at_end(self.head)
        b.cbranch(self.cond(), body, self.end)
        b.position_at_end(body)

    def __exit__(self, *exc):
        b = self.fb.b
        if not b.block.is_terminated:
            b.branch(self.head)
        b.position_at_end(self.end)
        return False


def _emit_quantile(em: Emitter) -> None:
    fb = em.define("trt_quantile_f32", F32, [PTR, PTR, F64])
    ctx, x, q = fb.args
    b = fb.b
    nan = ir.Constant(F32, float("nan"))
    with fb.if_then(b.icmp_signed("!=", fb.get(x, "dtype"), c32(layout.FLOAT32)), likely=False):
        emit_error(fb, layout.ERR_TYPE, "quantile expects a float32 tensor")
        fb.ret(nan)
    n = fb.get(x, "numel")
    with fb.if_then(b.icmp_signed("==", n, c64(0)), likely=False):
        emit_error(fb, layout.ERR_VALUE, "quantile of an empty tensor")
        fb.ret(nan)
    inside = b.and_(b.fcmp_ordered(">=", q, ir.Constant(F64, 0.0)),
                    b.fcmp_ordered("<=", q, ir.Constant(F64, 1.0)))
    with fb.if_then(b.not_(inside), likely=False):
        emit_error(fb, layout.ERR_VALUE, "quantile: q must be in 0..1, got %g", q)
        fb.ret(nan)
    buf = fb.call("trt_alloc", ctx, b.mul(n, c64(4)))
    fb.ret_if(fb.is_null(buf), nan)
    with fb.if_then(b.icmp_signed("!=", fb.call("trt_copy_count_nan", buf, fb.get(x, "data"), n), c64(0))):
        fb.call("trt_free", buf)
        fb.ret(nan)
    # numpy's "linear" method: position q·(n-1), interpolate between its two neighbours
    pos = b.fmul(q, b.sitofp(b.sub(n, c64(1)), F64))
    k = b.fptosi(pos, I64)
    frac = b.fsub(pos, b.sitofp(k, F64))
    lo_v = b.fpext(fb.call("trt_select_kth", buf, n, k), F64)
    hi_slot = fb.var(F64, lo_v)
    # after the selection every later entry is >= a[k]: the next order statistic is their minimum
    # (also when frac is 0: numpy's interpolation then still gives NaN next to an infinity)
    with fb.if_then(b.icmp_signed("<", b.add(k, c64(1)), n)):
        rest = fb.at(buf, b.add(k, c64(1)), F32)
        b.store(b.fpext(fb.call("trt_min_f32", rest, b.sub(n, b.add(k, c64(1)))), F64), hi_slot)
    fb.call("trt_free", buf)
    hi_v = fb.load(hi_slot, F64)
    # numpy's _lerp: a + (b - a)·t, or b - (b - a)·(1 - t) for t >= 0.5 (exact at both ends)
    diff = b.fsub(hi_v, lo_v)
    low_form = b.fadd(lo_v, b.fmul(diff, frac))
    high_form = b.fsub(hi_v, b.fmul(diff, b.fsub(ir.Constant(F64, 1.0), frac)))
    result = fb.select(b.fcmp_ordered(">=", frac, ir.Constant(F64, 0.5)), high_form, low_form)
    fb.ret(b.fptrunc(result, F32))


def _emit_scans(em: Emitter) -> None:
    """Two optimized leaf loops: copy counting NaNs, and the minimum of a non-empty array."""
    fb = em.define("trt_copy_count_nan", I64, [PTR, PTR, I64], public=False, kernel=True)
    dst, src, n = fb.args
    b = fb.b
    count = fb.var(I64, c64(0))
    with fb.loop(0, n) as i:
        v = fb.load(fb.at(src, i, F32), F32)
        b.store(v, fb.at(dst, i, F32))
        b.store(b.add(fb.load(count, I64), b.zext(b.fcmp_unordered("uno", v, v), I64)), count)
    fb.ret(fb.load(count, I64))

    fb = em.define("trt_min_f32", F32, [PTR, I64], public=False, kernel=True)
    a, n = fb.args
    b = fb.b
    best = fb.var(F32, fb.load(a, F32))
    with fb.loop(1, n) as i:
        v = fb.load(fb.at(a, i, F32), F32)
        cur = fb.load(best, F32)
        b.store(fb.select(b.fcmp_ordered("<", v, cur), v, cur), best)
    fb.ret(fb.load(best, F32))


def emit(em: Emitter) -> None:
    _emit_scans(em)
    _emit_select(em)
    _emit_quantile(em)


__all__ = ["emit", "I32"]
