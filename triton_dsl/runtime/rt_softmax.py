"""Softmax and log-softmax along a dim in native code: `trt_softmax_<dt>` / `trt_log_softmax_<dt>`
for f32 / f64.

In: an `Emitter`. Out: the two functions per dtype. Each lane along the dim is computed in double:
max, sum of exp(x - max), then exp(x - max - log(sum)) or x - max - log(sum), as numerically stable
as the usual definition.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F64, I32, I64, PTR, Emitter, c32, c64
from .rt_errors import emit_error
from .rt_reduce import load_wide

NULL = ir.Constant(PTR, None)


def _emit_softmax(em: Emitter) -> None:
    for dt in (layout.FLOAT32, layout.FLOAT64):
        for log in (False, True):
            name = f"trt_{'log_' if log else ''}softmax_{layout.SUFFIX[dt]}"
            fb = em.define(name, PTR, [PTR, PTR, I32])
            ctx, t, dim = fb.args
            b = fb.b
            with fb.if_then(b.icmp_signed("!=", fb.get(t, "dtype"), c32(dt)), likely=False):
                emit_error(fb, layout.ERR_TYPE, f"{name.removeprefix('trt_')[:-4]} expects a "
                           f"{layout.DTYPE_NAMES[dt]} tensor")
                fb.ret(NULL)
            rank = fb.get(t, "rank")
            d = fb.call("trt_dim_arg", ctx, dim, fb.select(b.icmp_signed("==", rank, c32(0)), c32(1), rank))
            fb.ret_if(b.icmp_signed("<", d, c32(0)), NULL)
            out = fb.call("trt_tensor_new", ctx, c32(dt), rank, fb.byte_at(t, layout.SHAPE_OFFSET))
            fb.ret_if(fb.is_null(out), NULL)
            dv = b.sext(d, I64)
            n = fb.select(b.icmp_signed("==", rank, c32(0)), c64(1), fb.dim(t, dv))
            inner = fb.var(I64, c64(1))
            with fb.loop(b.add(dv, c64(1)), b.sext(rank, I64)) as k:
                b.store(b.mul(fb.load(inner, I64), fb.dim(t, k)), inner)
            inn = fb.load(inner, I64)
            lanes = fb.div_or(fb.get(t, "numel"), n, 0)
            ty = layout.scalar_type(dt)
            src, dst = fb.get(t, "data"), fb.get(out, "data")
            with fb.loop(0, lanes) as lane:
                first = b.add(b.mul(b.mul(b.sdiv(lane, inn), n), inn), b.srem(lane, inn))
                mx = fb.var(F64, ir.Constant(F64, float("-inf")))
                with fb.loop(0, n) as k:
                    x = load_wide(fb, src, b.add(first, b.mul(k, inn)), dt, True)
                    top = em.intrinsic("llvm.maximum.f64", F64, [F64, F64])
                    b.store(b.call(top, [fb.load(mx, F64), x]), mx)
                m = fb.load(mx, F64)
                total = fb.var(F64, ir.Constant(F64, 0.0))
                with fb.loop(0, n) as k:
                    x = load_wide(fb, src, b.add(first, b.mul(k, inn)), dt, True)
                    b.store(b.fadd(fb.load(total, F64), fb.call("exp", b.fsub(x, m))), total)
                log_total = fb.call("log", fb.load(total, F64))
                with fb.loop(0, n) as k:
                    idx = b.add(first, b.mul(k, inn))
                    shifted = b.fsub(load_wide(fb, src, idx, dt, True), m)
                    v = b.fsub(shifted, log_total) if log else fb.call("exp", b.fsub(shifted, log_total))
                    b.store(v if ty is F64 else b.fptrunc(v, ty), fb.at(dst, idx, ty))
            fb.ret(out)


def emit(em: Emitter) -> None:
    _emit_softmax(em)
