"""Python format-spec formatting in native code (`trt_format_int/float/bool/str`).

In: an `Emitter`. Out: the four runtime functions of docs/runtime.md "Format specs", whose trailing
arguments come from `format_plan.plan_format(spec, kind).args()`. Numbers are rendered with snprintf
(`%.*f`, `%.*e`, `%.*g`) or the shortest-repr formatter of rt_text, then `trt_fmt_pad` applies Python's
sign / alternate prefix / grouping (including zero padding that grows through separators) / fill and
alignment rules.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from ..abi.format_plan import MAX_WIDTH
from .irgen import F64, I8, I32, I64, PTR, Emitter, FnBuilder, c8, c32, c64
from .rt_errors import emit_error

NULL = ir.Constant(PTR, None)
_ARGS = [I32] * 8  # fill, align, sign, alt, width, grouping, precision, type
BODY = 720


def _ch(c: str):
    return c32(ord(c))


def _is(fb: FnBuilder, v, chars: str):
    """v (i32) equals one of `chars`."""
    cond = None
    for c in chars:
        eq = fb.b.icmp_signed("==", v, _ch(c))
        cond = eq if cond is None else fb.b.or_(cond, eq)
    return cond


def _emit_utf8_len(em: Emitter) -> None:
    fb = em.define("trt_utf8_len", I64, [PTR, I64], public=False)
    s, n = fb.args
    count = fb.var(I64, c64(0))
    with fb.loop(0, n) as i:
        byte = fb.load(fb.byte_at(s, i), I8)
        start = fb.b.icmp_signed("!=", fb.b.and_(byte, c8(0xC0)), c8(0x80))
        fb.b.store(fb.b.add(fb.load(count, I64), fb.b.zext(start, I64)), count)
    fb.ret(fb.load(count, I64))


def _emit_pad(em: Emitter) -> None:
    """trt_fmt_pad(ctx, buf, prefix, plen, body, int_len, blen, fill, align, width, grouping, gsize, dflt)."""
    fb = em.define("trt_fmt_pad", I32, [PTR, PTR, PTR, I64, PTR, I64, I64, I32, I32, I32, I32, I64, I32],
                   public=False)
    ctx, buf, prefix, plen, body, int_len, blen, fill, align, width, grouping, gsize, dflt = fb.args
    b = fb.b
    align = fb.select(b.icmp_signed("==", align, c32(0)), dflt, align)
    # the compiler never passes a wider field (format_plan.MAX_WIDTH); a C caller is refused the same way
    with fb.if_then(b.icmp_signed(">", width, c32(MAX_WIDTH)), likely=False):
        emit_error(fb, layout.ERR_VALUE, f"format width %d is too large (at most {MAX_WIDTH})", width)
        fb.ret(c32(1))
    width = b.sext(width, I64)
    rest_len = b.sub(blen, int_len)
    grouped = fb.var(ir.ArrayType(I8, 2 * BODY))
    glen = fb.var(I64, int_len)
    fb.call("memcpy", grouped, body, int_len)
    with fb.if_then(b.and_(b.icmp_signed("!=", grouping, c32(0)), b.icmp_signed(">", int_len, c64(0)))):
        zero_pad = b.and_(_is(fb, align, "="), b.icmp_signed("==", fill, _ch("0")))
        minw = fb.select(zero_pad, b.sub(b.sub(width, plen), rest_len), c64(0))
        rev = fb.var(ir.ArrayType(I8, 2 * BODY))
        n = fb.var(I64, c64(0))
        count = fb.var(I64, c64(0))
        sep = b.trunc(grouping, I8)

        def push(ch):
            k = fb.load(n, I64)
            b.store(ch, fb.byte_at(rev, k))
            b.store(b.add(k, c64(1)), n)

        def push_digit(ch):
            cnt = fb.load(count, I64)
            at_group = b.icmp_signed("==", b.srem(cnt, gsize), c64(0))
            boundary = b.and_(b.icmp_signed(">", cnt, c64(0)), at_group)
            with fb.if_then(boundary):
                push(sep)
            push(ch)
            b.store(b.add(cnt, c64(1)), count)

        with fb.loop(0, int_len) as i:
            push_digit(fb.load(fb.byte_at(body, b.sub(b.sub(int_len, c64(1)), i)), I8))
        with fb.loop(0, minw) as _:
            with fb.if_then(b.icmp_signed(">=", fb.load(n, I64), minw)):
                fb.break_()
            push_digit(c8(ord("0")))
        total = fb.load(n, I64)
        with fb.loop(0, total) as i:
            b.store(fb.load(fb.byte_at(rev, b.sub(b.sub(total, c64(1)), i)), I8), fb.byte_at(grouped, i))
        b.store(total, glen)
    g = fb.load(glen, I64)
    rest = fb.byte_at(body, int_len)
    shown = b.add(b.add(plen, g), fb.call("trt_utf8_len", rest, rest_len))
    pad = b.sub(width, shown)
    pad = fb.select(b.icmp_signed("<", pad, c64(0)), c64(0), pad)
    f8 = b.trunc(fill, I8)
    left = fb.select(_is(fb, align, ">"), pad, fb.select(_is(fb, align, "^"), b.sdiv(pad, c64(2)), c64(0)))
    inner = fb.select(_is(fb, align, "="), pad, c64(0))
    right = b.sub(b.sub(pad, left), inner)
    for piece in (("fill", left), ("data", prefix, plen), ("fill", inner), ("data", grouped, g),
                  ("data", rest, rest_len), ("fill", right)):
        if piece[0] == "fill":
            r = fb.call("trt_buf_fill", ctx, buf, f8, piece[1])
        else:
            r = fb.call("trt_buf_append", ctx, buf, piece[1], piece[2])
        fb.ret_if(b.icmp_signed("!=", r, c32(0)), c32(1))
    fb.ret(c32(0))


def _leading_digits(fb: FnBuilder, s, n):
    b = fb.b
    k = fb.var(I64, n)
    with fb.loop(0, n) as i:
        ch = fb.load(fb.byte_at(s, i), I8)
        digit = b.and_(b.icmp_signed(">=", ch, c8(ord("0"))), b.icmp_signed("<=", ch, c8(ord("9"))))
        with fb.if_then(b.not_(digit)):
            b.store(i, k)
            fb.break_()
    return fb.load(k, I64)


def _sign_prefix(fb: FnBuilder, prefix, neg, sign):
    """Write the sign character (if any) into prefix; returns its length (i64)."""
    b = fb.b
    ch = fb.select(neg, c8(ord("-")), fb.select(_is(fb, sign, "+"), c8(ord("+")), c8(ord(" "))))
    has = b.or_(neg, _is(fb, sign, "+ "))
    b.store(ch, prefix)
    return b.zext(has, I64)


def _emit_format_int(em: Emitter) -> None:
    fb = em.define("trt_format_int", I32, [PTR, PTR, I64] + _ARGS)
    ctx, buf, v, fill, align, sign, alt, width, grouping, precision, ftype = fb.args
    b = fb.b
    with fb.if_then(_is(fb, ftype, "eEfFgG%")):
        fb.ret(fb.call("trt_format_float", ctx, buf, b.sitofp(v, F64), c32(64), *fb.args[3:]))
    prefix = fb.var(ir.ArrayType(I8, 8))
    neg = b.icmp_signed("<", v, c64(0))
    mag = fb.select(neg, b.sub(c64(0), v), v)
    plen = fb.var(I64, _sign_prefix(fb, prefix, neg, sign))
    with fb.if_then(b.and_(b.icmp_signed("!=", alt, c32(0)), _is(fb, ftype, "xXob"))):
        p = fb.load(plen, I64)
        b.store(c8(ord("0")), fb.byte_at(prefix, p))
        letter = b.trunc(fb.select(_is(fb, ftype, "X"), _ch("X"), ftype), I8)
        b.store(letter, fb.byte_at(prefix, b.add(p, c64(1))))
        b.store(b.add(p, c64(2)), plen)
    digits = fb.var(ir.ArrayType(I8, 80))
    n = fb.var(I64, c64(0))
    with fb.if_else(_is(fb, ftype, "b")) as (binary, other):
        with binary:
            rev = fb.var(ir.ArrayType(I8, 80))
            with fb.loop(0, 64) as i:
                bit = b.trunc(b.and_(b.lshr(mag, i), c64(1)), I8)
                b.store(b.add(bit, c8(ord("0"))), fb.byte_at(rev, i))
                b.store(b.add(i, c64(1)), n)
                with fb.if_then(b.icmp_unsigned("==", b.lshr(mag, b.add(i, c64(1))), c64(0))):
                    fb.break_()
            total = fb.load(n, I64)
            with fb.loop(0, total) as i:
                b.store(fb.load(fb.byte_at(rev, b.sub(b.sub(total, c64(1)), i)), I8), fb.byte_at(digits, i))
        with other:
            fmt = fb.select(_is(fb, ftype, "x"), em.cstring("%llx"),
                            fb.select(_is(fb, ftype, "X"), em.cstring("%llX"),
                                      fb.select(_is(fb, ftype, "o"), em.cstring("%llo"), em.cstring("%llu"))))
            b.store(b.sext(fb.call("snprintf", digits, c64(80), fmt, mag), I64), n)
    gsize = fb.select(_is(fb, ftype, "xXob"), c64(4), c64(3))
    dn = fb.load(n, I64)
    fb.ret(fb.call("trt_fmt_pad", ctx, buf, prefix, fb.load(plen, I64), digits, dn, dn, fill, align, width,
                   grouping, gsize, _ch(">")))


def _emit_format_float(em: Emitter) -> None:
    fb = em.define("trt_format_float", I32, [PTR, PTR, F64, I32] + _ARGS)
    ctx, buf, v, bits, fill, align, sign, alt, width, grouping, precision, ftype = fb.args
    b = fb.b
    isnan = b.fcmp_unordered("uno", v, v)
    neg = b.and_(b.icmp_signed("<", b.bitcast(v, I64), c64(0)), b.not_(isnan))
    a = b.call(em.intrinsic("llvm.fabs.f64", F64, [F64]), [v])
    prefix = fb.var(ir.ArrayType(I8, 8))
    plen = _sign_prefix(fb, prefix, neg, sign)
    body = fb.var(ir.ArrayType(I8, BODY))
    blen = fb.var(I64, c64(0))
    upper = _is(fb, ftype, "EFG")
    isinf = b.fcmp_ordered("==", a, ir.Constant(F64, float("inf")))
    with fb.if_else(b.or_(isnan, isinf)) as (special, finite):
        with special:
            word = fb.select(isnan, fb.select(upper, em.cstring("NAN"), em.cstring("nan")),
                             fb.select(upper, em.cstring("INF"), em.cstring("inf")))
            fb.call("memcpy", body, word, c64(3))
            b.store(c64(3), blen)
        with finite:
            b.store(_format_finite(fb, em, body, a, bits, alt, precision, ftype), blen)
    n = fb.load(blen, I64)
    with fb.if_then(_is(fb, ftype, "%")):
        b.store(c8(ord("%")), fb.byte_at(body, n))
        b.store(b.add(n, c64(1)), blen)
    n = fb.load(blen, I64)
    int_len = _leading_digits(fb, body, n)
    fb.ret(fb.call("trt_fmt_pad", ctx, buf, prefix, plen, body, int_len, n, fill, align, width, grouping,
                   c64(3), _ch(">")))


def _format_finite(fb: FnBuilder, em: Emitter, body, a, bits, alt, precision, ftype):
    """Digits of the finite magnitude `a` for the spec's type; returns the length (i64)."""
    b = fb.b
    out = fb.var(I64, c64(0))
    none = b.icmp_signed("==", ftype, c32(0))
    with fb.if_then(b.and_(none, b.icmp_signed("<", precision, c32(0)))):
        b.store(b.sext(fb.call("trt_fmt_repr", body, a, bits), I64), out)
    with fb.if_then(b.and_(none, b.icmp_signed(">=", precision, c32(0)))):
        b.store(_format_none_precision(fb, em, body, a, precision), out)
    with fb.if_then(b.not_(none)):
        prec = fb.select(b.icmp_signed("<", precision, c32(0)), c32(6), precision)
        value = fb.select(_is(fb, ftype, "%"), b.fmul(a, ir.Constant(F64, 100.0)), a)
        conv = fb.select(_is(fb, ftype, "%n"), fb.select(_is(fb, ftype, "n"), _ch("g"), _ch("f")), ftype)
        conv = fb.select(_is(fb, conv, "F"), _ch("f"), conv)
        fmt = fb.var(ir.ArrayType(I8, 8))
        pos = fb.var(I64, c64(1))
        b.store(c8(ord("%")), fmt)
        with fb.if_then(b.icmp_signed("!=", alt, c32(0))):
            b.store(c8(ord("#")), fb.byte_at(fmt, 1))
            b.store(c64(2), pos)
        p = fb.load(pos, I64)
        for k, ch in enumerate((c8(ord(".")), c8(ord("*")), b.trunc(conv, I8), c8(0))):
            b.store(ch, fb.byte_at(fmt, b.add(p, c64(k))))
        b.store(b.sext(fb.call("snprintf", body, c64(BODY), fmt, prec, value), I64), out)
    return fb.load(out, I64)


def _format_none_precision(fb: FnBuilder, em: Emitter, body, a, precision):
    """Python's spec with a precision and no type: 'g'-like, exponent when decpt > p-1, at least '.0'."""
    b = fb.b
    p = fb.select(b.icmp_signed("<", precision, c32(1)), c32(1), precision)
    tmp = fb.var(ir.ArrayType(I8, 400))
    n = b.sext(fb.call("snprintf", tmp, c64(400), em.cstring("%.*e"), b.sub(p, c32(1)), a), I64)
    e = fb.call("trt_find_char", tmp, n, c8(ord("e")))
    decpt = b.add(b.trunc(fb.call("strtol", fb.byte_at(tmp, b.add(e, c64(1))), NULL, c32(10)), I32), c32(1))
    # significant digits without trailing zeros
    nd = fb.var(I32, b.trunc(fb.select(b.icmp_signed(">", e, c64(1)), b.sub(e, c64(1)), c64(1)), I32))
    with fb.loop(0, 400) as _:
        k = fb.load(nd, I32)
        last = fb.load(fb.byte_at(tmp, b.sext(k, I64)), I8)  # digit k-1 sits at index k (after "d.")
        with fb.if_then(b.or_(b.icmp_signed("<=", k, c32(1)), b.icmp_signed("!=", last, c8(ord("0"))))):
            fb.break_()
        b.store(b.sub(k, c32(1)), nd)
    ndv = fb.load(nd, I32)
    use_exp = b.or_(b.icmp_signed("<=", decpt, c32(-4)), b.icmp_signed(">", decpt, b.sub(p, c32(1))))
    out = fb.var(I64, c64(0))
    with fb.if_else(use_exp) as (sci, pos):
        with sci:
            m = fb.call("snprintf", body, c64(BODY), em.cstring("%.*e"), b.sub(ndv, c32(1)), a)
            b.store(b.sext(m, I64), out)
        with pos:
            k = b.sub(ndv, decpt)
            k = fb.select(b.icmp_signed("<", k, c32(0)), c32(0), k)
            m = b.sext(fb.call("snprintf", body, c64(BODY), em.cstring("%.*f"), k, a), I64)
            with fb.if_then(b.icmp_signed("==", k, c32(0))):
                fb.call("memcpy", fb.byte_at(body, m), em.cstring(".0"), c64(2))
            b.store(fb.select(b.icmp_signed("==", k, c32(0)), b.add(m, c64(2)), m), out)
    return fb.load(out, I64)


def _emit_bool_str(em: Emitter) -> None:
    fb = em.define("trt_format_str", I32, [PTR, PTR, PTR, I64] + _ARGS)
    ctx, buf, s, n, fill, align, sign, alt, width, grouping, precision, ftype = fb.args
    b = fb.b
    cut = fb.var(I64, n)
    with fb.if_then(b.icmp_signed(">=", precision, c32(0))):
        seen = fb.var(I64, c64(0))
        with fb.loop(0, n) as i:
            byte = fb.load(fb.byte_at(s, i), I8)
            with fb.if_then(b.icmp_signed("!=", b.and_(byte, c8(0xC0)), c8(0x80))):
                with fb.if_then(b.icmp_signed("==", fb.load(seen, I64), b.sext(precision, I64))):
                    b.store(i, cut)
                    fb.break_()
                b.store(b.add(fb.load(seen, I64), c64(1)), seen)
    m = fb.load(cut, I64)
    fb.ret(fb.call("trt_fmt_pad", ctx, buf, s, c64(0), s, c64(0), m, fill, align, width, c32(0), c64(3),
                   _ch("<")))

    fb = em.define("trt_format_bool", I32, [PTR, PTR, I8] + _ARGS)
    ctx, buf, v, fill, align, sign, alt, width, grouping, precision, ftype = fb.args
    b = fb.b
    numeric = b.or_(b.or_(b.icmp_signed("!=", ftype, c32(0)), b.icmp_signed("!=", sign, _ch("-"))),
                    b.or_(b.or_(b.icmp_signed("!=", alt, c32(0)), b.icmp_signed("!=", grouping, c32(0))),
                          b.or_(_is(fb, align, "="), b.icmp_signed(">=", precision, c32(0)))))
    with fb.if_then(numeric):
        fb.ret(fb.call("trt_format_int", ctx, buf, b.zext(v, I64), *fb.args[3:]))
    truth = b.icmp_signed("!=", v, c8(0))
    word = fb.select(truth, em.cstring("true"), em.cstring("false"))
    fb.ret(fb.call("trt_format_str", ctx, buf, word, fb.select(truth, c64(4), c64(5)), *fb.args[3:]))


def emit(em: Emitter) -> None:
    em.declare("trt_format_float", I32, [PTR, PTR, F64, I32] + _ARGS)
    em.declare("trt_format_int", I32, [PTR, PTR, I64] + _ARGS)
    em.declare("trt_format_str", I32, [PTR, PTR, PTR, I64] + _ARGS)
    _emit_utf8_len(em)
    _emit_pad(em)
    _emit_format_int(em)
    _emit_format_float(em)
    _emit_bool_str(em)
