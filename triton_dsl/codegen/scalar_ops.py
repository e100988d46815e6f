"""Scalar arithmetic in LLVM IR: the element-level meaning of every elementwise IR op.

In: an `ir.IRBuilder`, LLVM values of one dtype and the op name. Out: the LLVM value of the result.
Used for scalar code and for the bodies of fused elementwise loops alike, so scalars and tensors
compute bit-identical results. The numerics follow numpy: `//` and `%` floor (the remainder takes the
divisor's sign), `min`/`max` propagate NaN, `round` is round-half-to-even, `!=` is true for NaN.
Integer division by zero, a negative integer exponent and a failed `trit(...)` cast are reported
through `fail(condition, message)`, which the caller turns into a run-time error.
"""

from __future__ import annotations

from collections.abc import Callable

from llvmlite import ir

from .llvm_types import FLOAT, HALF, I1, I8, is_float, scalar_type

Fail = Callable[[ir.Value, str], None]

_ICMP = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_FCMP = {"eq": "==", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
# libm names per float width, for functions LLVM has no intrinsic for.
_LIBM = {"tanh": ("tanhf", "tanh")}
_FLOAT_INTRINSIC = {"sqrt": "llvm.sqrt", "exp": "llvm.exp", "log": "llvm.log", "floor": "llvm.floor",
                    "ceil": "llvm.ceil", "round": "llvm.roundeven", "sin": "llvm.sin", "cos": "llvm.cos",
                    "abs": "llvm.fabs"}


def intrinsic(module: ir.Module, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
    """Get or declare a function (LLVM intrinsic or C library function) in `module`."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(ret, args), name)


def _suffix(ty: ir.Type) -> str:
    return {HALF: "f16", FLOAT: "f32"}.get(ty, "f64") if is_float(ty) else f"i{ty.width}"


def call_intrinsic(b: ir.IRBuilder, base: str, *args: ir.Value) -> ir.Value:
    ty = args[0].type
    fn = intrinsic(b.module, f"{base}.{_suffix(ty)}", ty, [a.type for a in args])
    return b.call(fn, list(args))


def const(ty: ir.Type, value: float | int) -> ir.Constant:
    return ir.Constant(ty, value)


def _float_math(b: ir.IRBuilder, name: str, x: ir.Value) -> ir.Value:
    """A transcendental function; float16 computes in float32 and rounds once, as numpy does."""
    if x.type == HALF and name not in ("abs", "floor", "ceil", "round"):
        return b.fptrunc(_float_math(b, name, b.fpext(x, FLOAT)), HALF)
    if x.type == FLOAT and name in ("exp", "tanh"):
        from .vmath import exp_f32, tanh_f32
        if name == "tanh":
            return tanh_f32(b, x)
        return exp_f32(b, x, lambda v: call_intrinsic(b, "llvm.floor", v))
    if name in _FLOAT_INTRINSIC:
        return call_intrinsic(b, _FLOAT_INTRINSIC[name], x)
    single, double = _LIBM[name]
    fname = single if x.type == FLOAT else double
    return b.call(intrinsic(b.module, fname, x.type, [x.type]), [x])


def emit_unary(b: ir.IRBuilder, op: str, x: ir.Value, dtype: str) -> ir.Value:
    ty = x.type
    if op == "not":
        return b.xor(x, const(I1, 1)) if ty == I1 else b.not_(x)
    if op == "isnan":
        return b.fcmp_unordered("uno", x, x) if is_float(ty) else const(I1, 0)
    if op == "square":
        return b.fmul(x, x) if is_float(ty) else b.mul(x, x)
    if is_float(ty):
        zero = const(ty, 0.0)
        if op == "neg":
            return b.fneg(x)
        if op == "relu":  # NaN passes through, as numpy.maximum(x, 0) does
            return b.select(b.fcmp_ordered("<", x, zero), zero, x)
        if op == "sign":
            pos = b.select(b.fcmp_ordered(">", x, zero), const(ty, 1.0), x)
            return b.select(b.fcmp_ordered("<", x, zero), const(ty, -1.0), b.fadd(pos, zero))
        if op == "sigmoid":
            one = const(ty, 1.0)
            return b.fdiv(one, b.fadd(one, _float_math(b, "exp", b.fneg(x))))
        return _float_math(b, op, x)
    zero = const(ty, 0)
    if op == "neg":
        return b.sub(zero, x)
    if op == "abs":
        return b.select(b.icmp_signed("<", x, zero), b.sub(zero, x), x)
    if op == "relu":
        return b.select(b.icmp_signed("<", x, zero), zero, x)
    if op == "sign":
        return b.sub(b.zext(b.icmp_signed(">", x, zero), ty), b.zext(b.icmp_signed("<", x, zero), ty))
    if op in ("floor", "ceil", "round"):
        return x
    # sqrt/exp/... of an integer: the checker promotes to float first, so this is a compiler bug.
    raise ValueError(f"unary {op} on integer dtype {dtype}")


def _int_div_parts(b: ir.IRBuilder, x: ir.Value, y: ir.Value, fail: Fail) -> tuple[ir.Value, ir.Value]:
    """Floor quotient and floor remainder of signed ints, without trapping (÷0 and MIN÷-1)."""
    ty = x.type
    zero, one, minus1 = const(ty, 0), const(ty, 1), const(ty, -1)
    fail(b.icmp_signed("==", y, zero), "integer division by zero")
    # A divisor of 0 or -1 is replaced by 1 (x86 traps on both), then the -1 case is patched back in.
    unsafe = b.or_(b.icmp_signed("==", y, zero), b.icmp_signed("==", y, minus1))
    ys = b.select(unsafe, one, y)
    q = b.sdiv(x, ys)
    r = b.srem(x, ys)
    adjust = b.and_(b.icmp_signed("!=", r, zero), b.icmp_signed("<", b.xor(r, ys), zero))
    q = b.select(adjust, b.sub(q, one), q)
    r = b.select(adjust, b.add(r, ys), r)
    is_m1 = b.icmp_signed("==", y, minus1)
    return b.select(is_m1, b.sub(zero, x), q), b.select(is_m1, zero, r)


def _float_divmod(b: ir.IRBuilder, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
    """numpy's floor_divide / remainder for floats (npy_divmod)."""
    ty = x.type
    zero, one = const(ty, 0.0), const(ty, 1.0)
    mod = b.frem(x, y)
    div = b.fdiv(b.fsub(x, mod), y)
    mod_nz = b.fcmp_unordered("!=", mod, zero)
    sign_differs = b.icmp_unsigned("!=", b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", mod, zero))
    fix = b.and_(b.fcmp_ordered("!=", mod, zero), sign_differs)
    mod = b.select(fix, b.fadd(mod, y), mod)
    div = b.select(fix, b.fsub(div, one), div)
    mod = b.select(mod_nz, mod, call_intrinsic(b, "llvm.copysign", zero, y))
    floordiv = call_intrinsic(b, "llvm.floor", div)
    floordiv = b.select(b.fcmp_ordered(">", b.fsub(div, floordiv), const(ty, 0.5)),
                        b.fadd(floordiv, one), floordiv)
    div_zero = b.fcmp_ordered("==", div, zero)
    floordiv = b.select(div_zero, call_intrinsic(b, "llvm.copysign", zero, b.fdiv(x, y)), floordiv)
    y_zero = b.fcmp_ordered("==", y, zero)
    return b.select(y_zero, b.fdiv(x, y), floordiv), mod


def _int_pow(b: ir.IRBuilder, x: ir.Value, y: ir.Value, fail: Fail) -> ir.Value:
    """x ** y for integers by repeated squaring (a small loop); y < 0 is an error."""
    ty = x.type
    fail(b.icmp_signed("<", y, const(ty, 0)), "negative integer exponent")
    if isinstance(y, ir.Constant) and isinstance(y.constant, int) and 0 <= y.constant <= 4:
        acc: ir.Value = const(ty, 1)
        for _ in range(y.constant):
            acc = b.mul(acc, x)
        return acc
    y_start = b.select(b.icmp_signed("<", y, const(ty, 0)), const(ty, 0), y)
    pre = b.block
    head = b.append_basic_block("ipow.head")
    body = b.append_basic_block("ipow.body")
    done = b.append_basic_block("ipow.done")
    b.branch(head)
    b.position_at_end(head)
    acc = b.phi(ty)
    base = b.phi(ty)
    exp = b.phi(ty)
    b.cbranch(b.icmp_signed(">", exp, const(ty, 0)), body, done)
    b.position_at_end(body)
    odd = b.trunc(exp, I1)
    acc2 = b.select(odd, b.mul(acc, base), acc)
    base2 = b.mul(base, base)
    exp2 = b.ashr(exp, const(ty, 1))
    b.branch(head)
    acc.add_incoming(const(ty, 1), pre)
    acc.add_incoming(acc2, body)
    base.add_incoming(x, pre)
    base.add_incoming(base2, body)
    exp.add_incoming(y_start, pre)
    exp.add_incoming(exp2, body)
    b.position_at_end(done)
    return acc


def emit_binary(b: ir.IRBuilder, op: str, x: ir.Value, y: ir.Value, dtype: str, fail: Fail) -> ir.Value:
    ty = x.type
    if is_float(ty):
        if op in _FCMP:
            return b.fcmp_ordered(_FCMP[op], x, y)
        if op == "ne":
            return b.fcmp_unordered("!=", x, y)
        simple = {"add": b.fadd, "sub": b.fsub, "mul": b.fmul, "div": b.fdiv}
        if op in simple:
            return simple[op](x, y)
        if op in ("min", "max"):
            pick = b.fcmp_ordered("<" if op == "min" else ">", x, y)
            # NaN in either operand gives NaN (numpy.minimum/maximum).
            nan = b.fcmp_unordered("uno", x, y)
            return b.select(nan, b.fadd(x, y), b.select(pick, x, y))
        if op == "pow":
            if isinstance(y, ir.Constant) and y.constant == 2.0:
                return b.fmul(x, x)
            if ty == HALF:
                return b.fptrunc(call_intrinsic(b, "llvm.pow", b.fpext(x, FLOAT), b.fpext(y, FLOAT)), HALF)
            return call_intrinsic(b, "llvm.pow", x, y)
        if op in ("floordiv", "mod"):
            q, r = _float_divmod(b, x, y)
            return q if op == "floordiv" else r
        raise ValueError(f"binary {op} on {dtype}")
    if ty == I1:
        logic = {"and": b.and_, "or": b.or_, "eq": lambda p, q: b.icmp_unsigned("==", p, q),
                 "ne": b.xor, "min": b.and_, "max": b.or_}
        if op in logic:
            return logic[op](x, y)
        if op in _ICMP:
            return b.icmp_unsigned(_ICMP[op], x, y)
        # Arithmetic on bools is promoted by the checker; widen defensively.
        return b.trunc(emit_binary(b, op, b.zext(x, I8), b.zext(y, I8), "int8", fail), I1)
    if op in _ICMP:
        return b.icmp_signed(_ICMP[op], x, y)
    simple = {"add": b.add, "sub": b.sub, "mul": b.mul, "and": b.and_, "or": b.or_}
    if op in simple:
        return simple[op](x, y)
    if op in ("min", "max"):
        return b.select(b.icmp_signed("<" if op == "min" else ">", x, y), x, y)
    if op in ("floordiv", "mod", "div"):
        q, r = _int_div_parts(b, x, y, fail)
        return r if op == "mod" else q
    if op == "pow":
        return _int_pow(b, x, y, fail)
    raise ValueError(f"binary {op} on {dtype}")


def fptosi_sat(b: ir.IRBuilder, x: ir.Value, to: ir.Type) -> ir.Value:
    """Float to signed integer, saturating (docs/language.md "Conversions"): NaN gives 0, a value
    beyond the type's range its minimum or maximum. A plain `fptosi` would give LLVM poison there (a
    different garbage value from run to run); the tensor casts in the runtime saturate the same way."""
    fn = intrinsic(b.module, f"llvm.fptosi.sat.{_suffix(to)}.{_suffix(x.type)}", to, [x.type])
    return b.call(fn, [x])


def emit_cast(b: ir.IRBuilder, x: ir.Value, src: str, dst: str, fail: Fail) -> ir.Value:
    """Convert a register value of dtype `src` to `dst` (numpy's astype, plus the checked trit cast)."""
    to = scalar_type(dst)
    if src == dst:
        return x
    if dst == "bool":
        if is_float(x.type):
            return b.fcmp_unordered("!=", x, const(x.type, 0.0))
        return b.icmp_signed("!=", x, const(x.type, 0))
    if src == "bool":
        return b.uitofp(x, to) if is_float(to) else b.zext(x, to)
    if dst == "trit":
        if is_float(x.type):
            t = fptosi_sat(b, x, to)
            wide = fptosi_sat(b, x, ir.IntType(32))
            exact = b.fcmp_ordered("==", b.sitofp(wide, x.type), x)
            in_range = b.icmp_unsigned("<=", b.add(wide, const(ir.IntType(32), 1)), const(ir.IntType(32), 2))
            fail(b.not_(b.and_(exact, in_range)), "value is not a trit (-1, 0 or 1)")
            return t
        in_range = b.icmp_unsigned("<=", b.add(x, const(x.type, 1)), const(x.type, 2))
        fail(b.not_(in_range), "value is not a trit (-1, 0 or 1)")
        return b.trunc(x, to) if x.type.width > 8 else x
    if is_float(x.type) and is_float(to):
        order = [HALF, FLOAT]
        src_rank = order.index(x.type) if x.type in order else 2
        dst_rank = order.index(to) if to in order else 2
        return b.fpext(x, to) if dst_rank > src_rank else b.fptrunc(x, to)
    if is_float(x.type):
        return fptosi_sat(b, x, to)
    if is_float(to):
        return b.sitofp(x, to)
    if to.width > x.type.width:
        return b.sext(x, to)
    return b.trunc(x, to) if to.width < x.type.width else x
