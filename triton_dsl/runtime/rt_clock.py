"""The monotonic clock in native code: `clock()` of the language.

In: an `Emitter`. Out: `double trt_clock()`, seconds on the monotonic clock (`clock_gettime` with
CLOCK_MONOTONIC), for timing parts of a program (`let t0 = clock()` ... `clock() - t0`); the origin is
arbitrary, differences are what it is for.
"""

from __future__ import annotations

from llvmlite import ir

from .irgen import F64, I64, Emitter, c32

_CLOCK_MONOTONIC = 1  # Linux (x86-64 and aarch64)


def emit(em: Emitter) -> None:
    fb = em.define("trt_clock", F64, [])
    b = fb.b
    ts = fb.var(ir.ArrayType(I64, 2))  # struct timespec { time_t tv_sec; long tv_nsec; }
    fb.call("clock_gettime", c32(_CLOCK_MONOTONIC), ts)
    sec = b.sitofp(fb.load(fb.at(ts, 0, I64), I64), F64)
    nsec = b.sitofp(fb.load(fb.at(ts, 1, I64), I64), F64)
    fb.ret(b.fadd(sec, b.fmul(nsec, ir.Constant(F64, 1e-9))))
