"""Vectorised max / min cores for float32 and float64 tensors (used by rt_reduce).

In: an `Emitter`, the op (max or min), the dtype and the core's symbol name. Out: a kernel-module
function `void core(src, outer, n, inner, dst, ddof)` with the same contract as rt_reduce's fold cores:
dst[o*inner + j] (double) = max/min over k < n of src[(o*n + k)*inner + j].

Why explicit vectors: LLVM's loop vectoriser does not turn a scalar `llvm.maximum` recurrence into a
vector reduction, so the contiguous case (inner == 1) is written with ACCS independent <W x T>
accumulators folded by `llvm.maximum.vW*` (several, so the loop is not bound by one dependency chain),
then a scalar tail. `llvm.maximum`/`llvm.minimum` propagate NaN (any NaN in the set gives NaN, as numpy)
and order -0.0 < +0.0, so a tie between zeros of both signs gives +0.0 for max and -0.0 for min
(numpy's sign there depends on element order; the value compares equal either way). Elements stay in
their own type: max/min of floats is exact, only the final result is widened to double.
The strided case (inner > 1) updates a row of running results in the element type, an elementwise loop
that the -O2 vectoriser handles, then widens the row.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F32, F64, I32, I64, PTR, Emitter, c64

ACCS = 4  # independent vector accumulators in the contiguous loop


def _name(op_is_max: bool, ty: ir.Type, lanes: int | None = None) -> str:
    base = "llvm.maximum" if op_is_max else "llvm.minimum"
    t = "f32" if ty is F32 else "f64"
    return f"{base}.v{lanes}{t}" if lanes else f"{base}.{t}"


def emit_float_extreme_core(em: Emitter, op_is_max: bool, dt: int, core_name: str) -> None:
    ty = F32 if dt == layout.FLOAT32 else F64
    lanes = 16 if ty is F32 else 8  # 64-byte vectors: one AVX-512 register, two AVX2 ones
    vty = ir.VectorType(ty, lanes)
    esize = layout.ELEM_SIZE[dt]
    fb = em.define(core_name, ir.VoidType(), [PTR, I64, I64, I64, PTR, I32], public=False, kernel=True)
    kem = fb.em  # the kernels module's emitter: intrinsics must be declared where they are called
    src, outer, n, inner, dst, _ = fb.args
    b = fb.b
    vfold = kem.intrinsic(_name(op_is_max, ty, lanes), vty, [vty, vty])
    sfold = kem.intrinsic(_name(op_is_max, ty), ty, [ty, ty])
    init = ir.Constant(ty, float("-inf") if op_is_max else float("inf"))
    vinit = ir.Constant(vty, [init.constant] * lanes)
    step = lanes * ACCS
    with fb.loop(0, outer) as o:
        base = b.mul(b.mul(o, n), inner)
        with fb.if_else(b.icmp_signed("==", inner, c64(1))) as (contiguous, strided):
            with contiguous:
                row = fb.at(src, base, ty)
                accs = [fb.var(vty, vinit) for _ in range(ACCS)]
                body = b.sub(n, b.srem(n, c64(step)))
                with fb.loop(0, body, step) as k:
                    for a, acc in enumerate(accs):
                        v = b.load(fb.at(row, b.add(k, c64(a * lanes)), ty), typ=vty, align=esize)
                        b.store(b.call(vfold, [fb.load(acc, vty), v]), acc)
                vec = fb.load(accs[0], vty)
                for acc in accs[1:]:
                    vec = b.call(vfold, [vec, fb.load(acc, vty)])
                total = fb.var(ty, init)
                for i in range(lanes):
                    b.store(b.call(sfold, [fb.load(total, ty), b.extract_element(vec, ir.Constant(I32, i))]),
                            total)
                with fb.loop(body, n) as k:
                    x = fb.load(fb.at(row, k, ty), ty)
                    b.store(b.call(sfold, [fb.load(total, ty), x]), total)
                _store_wide(fb, fb.load(total, ty), fb.at(dst, o, F64))
            with strided:
                # running results in the element type, kept in dst's row (double-sized slots, so the
                # narrow row fits in its first half) and widened in place back to front at the end
                out = fb.at(dst, b.mul(o, inner), F64)
                with fb.loop(0, inner) as j:
                    b.store(fb.load(fb.at(src, b.add(base, j), ty), ty), fb.at(out, j, ty))
                with fb.loop(1, n) as k:
                    line = fb.at(src, b.add(base, b.mul(k, inner)), ty)
                    with fb.loop(0, inner) as j:
                        slot = fb.at(out, j, ty)
                        b.store(b.call(sfold, [fb.load(slot, ty), fb.load(fb.at(line, j, ty), ty)]), slot)
                if ty is F32:
                    with fb.loop(0, inner) as j:
                        back = b.sub(b.sub(inner, c64(1)), j)
                        _store_wide(fb, fb.load(fb.at(out, back, ty), ty), fb.at(out, back, F64))
    fb.ret()


def _store_wide(fb, value, ptr) -> None:
    fb.b.store(value if value.type is F64 else fb.b.fpext(value, F64), ptr)
