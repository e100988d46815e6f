"""Vectorizable float32 `exp` and `tanh`: polynomial code instead of C library calls.

In: an `ir.IRBuilder` and a float32 LLVM value. Out: the function's value, built only from
arithmetic, `floor`, compares/selects and integer bit tricks, so the loop vectorizer turns a fused loop
that uses them into SIMD code (a libm call per element would stay scalar and cost ~25 ns).

- `exp`: Cephes' `expf` (range reduction by ln 2 in two parts, degree-5 polynomial, error ~1 ulp),
  with 2^n applied in two halves so that results in the subnormal range and overflow to inf come out
  right without special cases; NaN propagates.
- `tanh`: the rational approximation used by Eigen for float (odd degree-13 over even degree-6
  polynomial on x clamped to ±7.9053, where tanh is 1 to float precision); |x| < 4e-4 returns x.
Both are checked against numpy (rel 1e-6 over wide random ranges) in the codegen tests.
"""

from __future__ import annotations

from llvmlite import ir

from .llvm_types import FLOAT, I32

_EXP_POLY = (1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1,
             5.0000001201e-1)
_TANH_ALPHA = (-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-08,
               1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03)
_TANH_BETA = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)


def _c(v: float) -> ir.Constant:
    return ir.Constant(FLOAT, v)


def _clamp(b: ir.IRBuilder, x: ir.Value, lo: float, hi: float) -> ir.Value:
    x = b.select(b.fcmp_ordered("<", x, _c(lo)), _c(lo), x)
    return b.select(b.fcmp_ordered(">", x, _c(hi)), _c(hi), x)


def _horner(b: ir.IRBuilder, x: ir.Value, coeffs: tuple[float, ...]) -> ir.Value:
    acc: ir.Value = _c(coeffs[0])
    for c in coeffs[1:]:
        acc = b.fadd(b.fmul(acc, x), _c(c))
    return acc


def _pow2(b: ir.IRBuilder, n: ir.Value) -> ir.Value:
    """2**n as a float for an i32 n in [-126, 127] (built from the exponent bits)."""
    bits = b.shl(b.add(n, ir.Constant(I32, 127)), ir.Constant(I32, 23))
    return b.bitcast(bits, FLOAT)


def exp_f32(b: ir.IRBuilder, x: ir.Value, floor_fn) -> ir.Value:
    xc = _clamp(b, x, -104.0, 88.8)
    fx = floor_fn(b.fadd(b.fmul(xc, _c(1.44269504088896341)), _c(0.5)))
    r = b.fsub(b.fsub(xc, b.fmul(fx, _c(0.693359375))), b.fmul(fx, _c(-2.12194440e-4)))
    z = b.fmul(r, r)
    y = b.fadd(b.fadd(b.fmul(_horner(b, r, _EXP_POLY), z), r), _c(1.0))
    n = b.fptosi(fx, I32)
    half = b.ashr(n, ir.Constant(I32, 1))
    y = b.fmul(b.fmul(y, _pow2(b, half)), _pow2(b, b.sub(n, half)))
    return b.select(b.fcmp_unordered("uno", x, x), x, y)


def tanh_f32(b: ir.IRBuilder, x: ir.Value) -> ir.Value:
    xc = _clamp(b, x, -7.90531110763549805, 7.90531110763549805)
    x2 = b.fmul(xc, xc)
    p = b.fmul(_horner(b, x2, _TANH_ALPHA), xc)
    q = _horner(b, x2, _TANH_BETA)
    y = b.fdiv(p, q)
    absx = b.select(b.fcmp_ordered("<", x, _c(0.0)), b.fneg(x), x)
    tiny = b.fcmp_ordered("<", absx, _c(0.0004))
    y = b.select(tiny, x, y)
    return b.select(b.fcmp_unordered("uno", x, x), x, y)
