"""The compiler-support functions LLVM's backend may call on its own: half-precision conversions.

In: nothing. Out: `builtins_module(triple)` -> an `llvmlite.ir.Module` defining `__truncdfhf2`,
`__truncsfhf2`, `__extendhfsf2`, `__extendhfdf2` (and the `__gnu_*` spellings), `BUILTIN_NAMES`.

Why: on CPUs without native FP16 conversion instructions (x86-64 without AVX512-FP16 for double -> half,
without F16C for float <-> half) LLVM lowers `fptrunc`/`fpext` of `half` to calls into compiler-rt or
libgcc. Neither is loaded in a Python process, so those calls must resolve to code we generate ourselves.
The bodies use integer operations only (no floating-point conversion of `half`), so compiling them can
never call themselves. Semantics are IEEE 754 round-to-nearest-even, like compiler-rt's
`fp_trunc_impl.inc`: overflow gives infinity, NaN stays a quiet NaN with the top payload bits kept,
results too small for a half subnormal round to signed zero.
"""

from __future__ import annotations

from llvmlite import ir

from .kernels.trk_ir import F32, F64, HALF, I16, I32, I64

# name -> (return type, argument type); the `__gnu_*` names are older spellings of the same functions.
BUILTIN_SIGNATURES: dict[str, tuple[ir.Type, ir.Type]] = {
    "__truncdfhf2": (HALF, F64),
    "__truncsfhf2": (HALF, F32),
    "__gnu_f2h_ieee": (HALF, F32),
    "__extendhfsf2": (F32, HALF),
    "__gnu_h2f_ieee": (F32, HALF),
    "__extendhfdf2": (F64, HALF),
}
BUILTIN_NAMES = tuple(BUILTIN_SIGNATURES)


def _c64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def _round_nearest_even(b: ir.IRBuilder, value, round_bits, halfway: int):
    """value + 1 when the dropped bits exceed half an ulp, + (value & 1) on an exact tie."""
    above = b.icmp_unsigned(">", round_bits, _c64(halfway))
    tie = b.icmp_unsigned("==", round_bits, _c64(halfway))
    bump = b.select(above, _c64(1), b.select(tie, b.and_(value, _c64(1)), _c64(0)))
    return b.add(value, bump)


def _define_truncdfhf2(module: ir.Module) -> ir.Function:
    """double -> half, correctly rounded (one rounding from the exact double value)."""
    fn = ir.Function(module, ir.FunctionType(HALF, [F64]), "__truncdfhf2")
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    sig_shift = 52 - 10                      # mantissa bits dropped
    round_mask = (1 << sig_shift) - 1
    halfway = 1 << (sig_shift - 1)
    rep = b.bitcast(fn.args[0], I64)
    a_abs = b.and_(rep, _c64((1 << 63) - 1))
    sign = b.lshr(rep, _c64(63))
    underflow = _c64((1023 + 1 - 15) << 52)  # smallest double whose half is normal
    overflow = _c64((1023 + 31 - 15) << 52)  # smallest double whose half is infinite

    # Normal in half: re-bias the exponent, round the mantissa.
    normal = b.sub(b.lshr(a_abs, _c64(sig_shift)), _c64((1023 - 15) << 10))
    normal = _round_nearest_even(b, normal, b.and_(a_abs, _c64(round_mask)), halfway)
    # NaN: quiet, keeping the top payload bits.
    nan = b.or_(_c64(0x7E00), b.and_(b.lshr(b.and_(a_abs, _c64((1 << 52) - 1)), _c64(sig_shift)),
                                    _c64(0x1FF)))
    # Subnormal (or zero) in half: shift the full significand right, keeping a sticky bit.
    a_exp = b.lshr(a_abs, _c64(52))
    shift = b.sub(_c64(1023 - 15 + 1), a_exp)
    significand = b.or_(b.and_(a_abs, _c64((1 << 52) - 1)), _c64(1 << 52))
    safe_shift = b.select(b.icmp_unsigned(">", shift, _c64(52)), _c64(52), shift)
    lost = b.shl(significand, b.sub(_c64(64), safe_shift))
    sticky = b.zext(b.icmp_unsigned("!=", lost, _c64(0)), I64)
    denorm = b.or_(b.lshr(significand, safe_shift), sticky)
    sub = _round_nearest_even(b, b.lshr(denorm, _c64(sig_shift)), b.and_(denorm, _c64(round_mask)), halfway)
    sub = b.select(b.icmp_unsigned(">", shift, _c64(52)), _c64(0), sub)

    in_range = b.icmp_unsigned("<", b.sub(a_abs, underflow), b.sub(a_abs, overflow))
    is_nan = b.icmp_unsigned(">", a_abs, _c64(0x7FF << 52))
    too_big = b.icmp_unsigned(">=", a_abs, overflow)
    result = b.select(in_range, normal, b.select(is_nan, nan, b.select(too_big, _c64(0x7C00), sub)))
    result = b.or_(result, b.shl(sign, _c64(15)))
    b.ret(b.bitcast(b.trunc(result, I16), HALF))
    return fn


def _define_extendhfsf2(module: ir.Module, name: str) -> ir.Function:
    """half -> float, exact."""
    fn = ir.Function(module, ir.FunctionType(F32, [HALF]), name)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    h = b.zext(b.bitcast(fn.args[0], I16), I32)
    sign = b.shl(b.and_(h, ir.Constant(I32, 0x8000)), ir.Constant(I32, 16))
    exp = b.and_(b.lshr(h, ir.Constant(I32, 10)), ir.Constant(I32, 0x1F))
    mant = b.and_(h, ir.Constant(I32, 0x3FF))
    normal = b.or_(b.shl(b.add(exp, ir.Constant(I32, 127 - 15)), ir.Constant(I32, 23)),
                   b.shl(mant, ir.Constant(I32, 13)))
    special = b.or_(ir.Constant(I32, 0xFF << 23), b.shl(mant, ir.Constant(I32, 13)))  # inf / NaN
    # Subnormal half: mant * 2^-24, exact in float (an integer below 2^10 times a power of two).
    tiny = b.bitcast(b.fmul(b.uitofp(mant, F32), ir.Constant(F32, 2.0 ** -24)), I32)
    magnitude = b.select(b.icmp_unsigned("==", exp, ir.Constant(I32, 0x1F)), special,
                         b.select(b.icmp_unsigned("==", exp, ir.Constant(I32, 0)), tiny, normal))
    b.ret(b.bitcast(b.or_(magnitude, sign), F32))
    return fn


def builtins_module(triple: str = "") -> ir.Module:
    """The IR module defining every name in `BUILTIN_NAMES`."""
    module = ir.Module(name="triton_dsl_builtins")
    module.triple = triple
    truncdf = _define_truncdfhf2(module)
    extend = _define_extendhfsf2(module, "__extendhfsf2")
    for name, (ret, arg) in BUILTIN_SIGNATURES.items():
        if name in ("__truncdfhf2", "__extendhfsf2"):
            continue
        fn = ir.Function(module, ir.FunctionType(ret, [arg]), name)
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        x = fn.args[0]
        if ret is HALF:     # float -> double is exact, so one rounding to half
            b.ret(b.call(truncdf, [b.fpext(x, F64)]))
        elif ret is F32:
            b.ret(b.call(extend, [x]))
        else:
            b.ret(b.fpext(b.call(extend, [x]), F64))
    return module
