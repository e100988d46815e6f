"""Text in native code: strings, growable text buffers, the output callback, scalar -> text.

In: an `Emitter`. Out: `trt_str_*`, `trt_buf_*` (append bytes / str / i64 / bool / f16 / f32 / f64, take as
str, print, free), `trt_set_output`, `trt_write`, and the internal number formatter `trt_fmt_real`
(shortest round-trip digits found with a snprintf("%.*e") loop checked through strtod, rendered in
Python `repr` style or numpy array style). Layouts: docs/runtime.md "Strings".
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F32, F64, HALF, I8, I32, I64, PTR, VOID, Emitter, FnBuilder, c8, c32, c64

NULL = ir.Constant(PTR, None)
# trt_fmt_real styles: Python repr ("1.0", "1e+16"), numpy array ("1.", "1.e+16"), and numpy array with
# exactly `maxfrac` mantissa digits (numpy's min_digits: further *exact* digits, not zero padding).
STYLE_REPR, STYLE_ARRAY, STYLE_ARRAY_FIXED = 0, 1, 2
NO_CAP = 99  # maxfrac meaning "no cap on fractional digits"


def _emit_strings(em: Emitter) -> None:
    fb = em.define("trt_str_new", PTR, [PTR, PTR, I64])
    ctx, data, n = fb.args
    s = fb.call("trt_alloc", ctx, fb.b.add(n, c64(layout.STR_DATA_OFFSET + 1)))
    fb.ret_if(fb.is_null(s), NULL)
    fb.put(s, "str_refcount", 1)
    fb.put(s, "str_len", n)
    body = fb.byte_at(s, layout.STR_DATA_OFFSET)
    fb.call("memcpy", body, data, n)
    fb.b.store(c8(0), fb.byte_at(body, n))
    fb.ret(s)

    for name, delta in (("trt_str_incref", 1), ("trt_str_decref", -1)):
        fb = em.define(name, VOID, [PTR])
        s = fb.args[0]
        rc = fb.add_to_refcount(s, "str_refcount", delta)
        if delta < 0:
            with fb.if_then(fb.b.icmp_signed("==", rc, c64(0))):
                fb.call("free", s)
        fb.ret()

    fb = em.define("trt_str_concat", PTR, [PTR, PTR, PTR])
    ctx, a, b = fb.args
    na, nb = fb.get(a, "str_len"), fb.get(b, "str_len")
    s = fb.call("trt_str_new", ctx, fb.byte_at(a, layout.STR_DATA_OFFSET), fb.b.add(na, nb))
    fb.ret_if(fb.is_null(s), NULL)
    dst = fb.byte_at(fb.byte_at(s, layout.STR_DATA_OFFSET), na)
    fb.call("memcpy", dst, fb.byte_at(b, layout.STR_DATA_OFFSET), nb)
    fb.ret(s)

    fb = em.define("trt_str_eq", I32, [PTR, PTR])
    a, b = fb.args
    na = fb.get(a, "str_len")
    fb.ret_if(fb.b.icmp_signed("!=", na, fb.get(b, "str_len")), c32(0))
    r = fb.call("memcmp", fb.byte_at(a, layout.STR_DATA_OFFSET), fb.byte_at(b, layout.STR_DATA_OFFSET), na)
    fb.ret(fb.b.zext(fb.b.icmp_signed("==", r, c32(0)), I32))


def _emit_buffers(em: Emitter) -> None:
    # ptr trt_buf_reserve(ctx, buf, n): room for n more bytes; returns the write position (len unchanged).
    fb = em.define("trt_buf_reserve", PTR, [PTR, PTR, I64], public=False)
    ctx, buf, n = fb.args
    length, cap = fb.get(buf, "buf_len"), fb.get(buf, "buf_cap")
    need = fb.b.add(length, n)
    grow = fb.b.or_(fb.b.icmp_signed(">", need, cap), fb.is_null(fb.get(buf, "buf_data")))
    with fb.if_then(grow, likely=False):
        doubled = fb.b.mul(cap, c64(2))
        new_cap = fb.select(fb.b.icmp_signed(">", need, doubled), need, doubled)
        new_cap = fb.select(fb.b.icmp_signed("<", new_cap, c64(64)), c64(64), new_cap)
        p = fb.call("realloc", fb.get(buf, "buf_data"), new_cap)
        with fb.if_then(fb.is_null(p), likely=False):
            fb.call("trt_set_error", ctx, c32(layout.ERR_MEMORY), em.cstring("out of memory building text"))
            fb.ret(NULL)
        fb.put(buf, "buf_data", p)
        fb.put(buf, "buf_cap", new_cap)
    fb.ret(fb.byte_at(fb.get(buf, "buf_data"), length))

    fb = em.define("trt_buf_append", I32, [PTR, PTR, PTR, I64])
    ctx, buf, data, n = fb.args
    fb.ret_if(fb.b.icmp_signed("<=", n, c64(0)), c32(0))
    p = fb.call("trt_buf_reserve", ctx, buf, n)
    fb.ret_if(fb.is_null(p), c32(1))
    fb.call("memcpy", p, data, n)
    fb.put(buf, "buf_len", fb.b.add(fb.get(buf, "buf_len"), n))
    fb.ret(c32(0))

    # i32 trt_buf_fill(ctx, buf, i8 ch, i64 n): n copies of ch (n <= 0: nothing).
    fb = em.define("trt_buf_fill", I32, [PTR, PTR, I8, I64], public=False)
    ctx, buf, ch, n = fb.args
    fb.ret_if(fb.b.icmp_signed("<=", n, c64(0)), c32(0))
    p = fb.call("trt_buf_reserve", ctx, buf, n)
    fb.ret_if(fb.is_null(p), c32(1))
    fb.call("memset", p, fb.b.sext(ch, I32), n)
    fb.put(buf, "buf_len", fb.b.add(fb.get(buf, "buf_len"), n))
    fb.ret(c32(0))

    fb = em.define("trt_buf_append_cstr", I32, [PTR, PTR, PTR], public=False)
    ctx, buf, s = fb.args
    fb.ret(fb.call("trt_buf_append", ctx, buf, s, fb.call("strlen", s)))

    fb = em.define("trt_buf_append_str", I32, [PTR, PTR, PTR])
    ctx, buf, s = fb.args
    fb.ret(fb.call("trt_buf_append", ctx, buf, fb.byte_at(s, layout.STR_DATA_OFFSET), fb.get(s, "str_len")))

    fb = em.define("trt_buf_free", VOID, [PTR])
    buf = fb.args[0]
    fb.call("free", fb.get(buf, "buf_data"))
    fb.put(buf, "buf_data", NULL)
    fb.put(buf, "buf_len", 0)
    fb.put(buf, "buf_cap", 0)
    fb.ret()

    fb = em.define("trt_buf_take_str", PTR, [PTR, PTR])
    ctx, buf = fb.args
    s = fb.call("trt_str_new", ctx, fb.get(buf, "buf_data"), fb.get(buf, "buf_len"))
    fb.call("trt_buf_free", buf)
    fb.ret(s)

    fb = em.define("trt_buf_print", I32, [PTR, PTR])
    ctx, buf = fb.args
    r = fb.call("trt_write", ctx, fb.get(buf, "buf_data"), fb.get(buf, "buf_len"))
    fb.call("trt_buf_free", buf)
    fb.ret(r)


def _emit_output(em: Emitter) -> None:
    out = em.callback_slot("trt_output_fn", "trt_set_output")

    fb = em.define("trt_write", I32, [PTR, PTR, I64])
    ctx, data, n = fb.args
    own = fb.get(ctx, "output")
    fn = fb.select(fb.is_null(own), fb.load(out, PTR), own)
    with fb.if_then(fb.b.not_(fb.is_null(fn))):
        fb.call_ptr(fn, VOID, [PTR, I64], [data, n])
        fb.ret(c32(0))
    done = fb.var(I64, c64(0))
    with fb.loop(0, 1 << 62) as _:  # write(1) until everything is out (or it fails)
        d = fb.load(done, I64)
        fb.ret_if(fb.b.icmp_signed(">=", d, n), c32(0))
        w = fb.call("write", c32(1), fb.byte_at(data, d), fb.b.sub(n, d))
        fb.ret_if(fb.b.icmp_signed("<=", w, c64(0)), c32(0))
        fb.b.store(fb.b.add(d, w), done)
    fb.ret(c32(0))


def _emit_shortest(em: Emitter) -> None:
    """i32 trt_shortest(double a, i32 bits, char *tmp): fewest significant digits p such that
    snprintf(tmp, "%.{p-1}e", a) reads back (strtod, then rounded to `bits`) as a. a is finite, >= 0."""
    fb = em.define("trt_shortest", I32, [F64, I32, PTR], public=False)
    a, bits, tmp = fb.args
    maxp = fb.select(fb.b.icmp_signed("==", bits, c32(16)), c32(5),
                     fb.select(fb.b.icmp_signed("==", bits, c32(32)), c32(9), c32(17)))
    with fb.loop(1, fb.b.sext(maxp, I64)) as p:
        p32 = fb.b.trunc(p, I32)
        fb.call("snprintf", tmp, c64(40), em.cstring("%.*e"), fb.b.sub(p32, c32(1)), a)
        back = fb.call("strtod", tmp, NULL)
        same64 = fb.b.fcmp_ordered("==", back, a)
        same32 = fb.b.fcmp_ordered("==", fb.b.fptrunc(back, F32), fb.b.fptrunc(a, F32))
        same16 = fb.b.fcmp_ordered("==", fb.b.fptrunc(back, HALF), fb.b.fptrunc(a, HALF))
        same = fb.select(fb.b.icmp_signed("==", bits, c32(16)), same16,
                         fb.select(fb.b.icmp_signed("==", bits, c32(32)), same32, same64))
        fb.ret_if(same, p32)
    fb.call("snprintf", tmp, c64(40), em.cstring("%.*e"), fb.b.sub(maxp, c32(1)), a)
    fb.ret(maxp)


def _strip_zeros(fb: FnBuilder, text, start, end):
    """Index just past the last non-'0' character of text[start:end] (at least `start`)."""
    k = fb.var(I64, end)
    with fb.loop(0, fb.b.sub(end, start)) as _:
        kv = fb.load(k, I64)
        last = fb.load(fb.byte_at(text, fb.b.sub(kv, c64(1))), I8)
        stop = fb.b.or_(fb.b.icmp_signed("<=", kv, start), fb.b.icmp_signed("!=", last, c8(ord("0"))))
        with fb.if_then(stop):
            fb.break_()
        fb.b.store(fb.b.sub(kv, c64(1)), k)
    return fb.load(k, I64)


def _emit_fmt_real(em: Emitter) -> None:
    """i32 trt_fmt_real(char *out, double v, i32 bits, i32 sci, i32 maxfrac, i32 style): text of v.

    Shortest round-trip digits (for `bits` precision), at most `maxfrac` digits after the point
    (correctly rounded when cut). sci=0 positional, 1 scientific (exponent sign and >= 2 digits).
    style 0 = Python repr ("1.0", "1e+16"), 1 = numpy array ("1.", "1.e+16"). nan/inf -> "nan"/"inf".
    Returns the length; out needs 400 bytes."""
    fb = em.define("trt_fmt_real", I32, [PTR, F64, I32, I32, I32, I32], public=False)
    out, v, bits, sci, maxfrac, style = fb.args
    b = fb.b
    pos = fb.var(I64, c64(0))

    def put(ch):
        p = fb.load(pos, I64)
        b.store(c8(ord(ch)) if isinstance(ch, str) else ch, fb.byte_at(out, p))
        b.store(b.add(p, c64(1)), pos)

    def finish():
        p = fb.load(pos, I64)
        b.store(c8(0), fb.byte_at(out, p))
        fb.ret(b.trunc(p, I32))

    with fb.if_then(b.fcmp_unordered("uno", v, v)):
        for ch in "nan":
            put(ch)
        finish()
    bits64 = b.bitcast(v, I64)
    with fb.if_then(b.icmp_signed("<", bits64, c64(0))):
        put("-")
    a = b.call(em.intrinsic("llvm.fabs.f64", F64, [F64]), [v])
    with fb.if_then(b.fcmp_ordered("==", a, ir.Constant(F64, float("inf")))):
        for ch in "inf":
            put(ch)
        finish()
    tmp = fb.var(ir.ArrayType(I8, 400))
    p = fb.call("trt_shortest", a, bits, tmp)
    # exponent of the shortest digits: text is "d[.ddd]e±XX"
    epos = b.sext(fb.select(b.icmp_signed("==", p, c32(1)), c32(1), b.add(p, c32(1))), I64)
    e = b.trunc(fb.call("strtol", fb.byte_at(tmp, b.add(epos, c64(1))), NULL, c32(10)), I32)
    base = fb.byte_at(out, fb.load(pos, I64))
    with fb.if_else(b.icmp_signed("!=", sci, c32(0))) as (then_sci, else_pos):
        with then_sci:
            frac = b.sub(p, c32(1))
            fixed = b.icmp_signed("==", style, c32(STYLE_ARRAY_FIXED))
            frac = fb.select(b.or_(fixed, b.icmp_signed(">", frac, maxfrac)), maxfrac, frac)
            n = fb.call("snprintf", base, c64(390), em.cstring("%.*e"), frac, a)
            n64 = b.sext(n, I64)
            # find 'e'
            ep = fb.var(I64, c64(0))
            with fb.loop(0, n64) as i:
                with fb.if_then(b.icmp_signed("==", fb.load(fb.byte_at(base, i), I8), c8(ord("e")))):
                    b.store(i, ep)
            epv = fb.load(ep, I64)
            mant_end = fb.var(I64, epv)
            with fb.if_then(b.and_(b.icmp_signed(">", epv, c64(1)), b.not_(fixed))):  # strip zeros
                b.store(_strip_zeros(fb, base, c64(2), epv), mant_end)
            me = fb.load(mant_end, I64)
            # rebuild: mantissa[:me] + ('.' if array style and no frac) + exponent part
            expo = fb.var(ir.ArrayType(I8, 16))
            elen = b.sub(n64, epv)
            fb.call("memcpy", expo, fb.byte_at(base, epv), elen)
            w = fb.var(I64, me)
            no_frac = b.icmp_signed("<=", me, c64(2))
            with fb.if_then(no_frac):
                b.store(c64(1), w)  # drop a bare "." (repr style) ...
                with fb.if_then(b.icmp_signed("!=", style, c32(STYLE_REPR))):
                    b.store(c8(ord(".")), fb.byte_at(base, c64(1)))
                    b.store(c64(2), w)  # ... or keep it (array style)
            wv = fb.load(w, I64)
            fb.call("memcpy", fb.byte_at(base, wv), expo, elen)
            b.store(b.add(fb.load(pos, I64), b.add(wv, elen)), pos)
        with else_pos:
            frac = b.sub(b.sub(p, c32(1)), e)
            frac = fb.select(b.icmp_signed("<", frac, c32(0)), c32(0), frac)
            frac = fb.select(b.icmp_signed(">", frac, maxfrac), maxfrac, frac)
            n = b.sext(fb.call("snprintf", base, c64(390), em.cstring("%#.*f"), frac, a), I64)
            dot = fb.var(I64, n)
            with fb.loop(0, n) as i:
                with fb.if_then(b.icmp_signed("==", fb.load(fb.byte_at(base, i), I8), c8(ord(".")))):
                    b.store(i, dot)
            dv = fb.load(dot, I64)
            end = _strip_zeros(fb, base, b.add(dv, c64(1)), n)
            endv = fb.var(I64, end)
            with fb.if_then(b.icmp_signed("==", style, c32(STYLE_REPR))):
                with fb.if_then(b.icmp_signed("==", end, b.add(dv, c64(1)))):
                    b.store(c8(ord("0")), fb.byte_at(base, end))
                    b.store(b.add(end, c64(1)), endv)
            b.store(b.add(fb.load(pos, I64), fb.load(endv, I64)), pos)
    finish()


def _emit_repr(em: Emitter) -> None:
    """i32 trt_fmt_repr(out, double v, i32 bits): the text `print` gives a float of that precision:
    positional when 1e-4 <= |v| < hi (hi: 1e16 float64, 1e6 float32, 1e3 float16), like Python's
    repr(float) and numpy's str(np.float32 / np.float16)."""
    fb = em.define("trt_fmt_repr", I32, [PTR, F64, I32], public=False)
    out, v, bits = fb.args
    b = fb.b
    a = b.call(em.intrinsic("llvm.fabs.f64", F64, [F64]), [v])
    hi32 = fb.select(b.icmp_signed("==", bits, c32(32)), ir.Constant(F64, 1e6), ir.Constant(F64, 1e16))
    hi = fb.select(b.icmp_signed("==", bits, c32(16)), ir.Constant(F64, 1e3), hi32)
    positional = b.or_(b.fcmp_ordered("==", a, ir.Constant(F64, 0.0)),
                       b.and_(b.fcmp_ordered(">=", a, ir.Constant(F64, 1e-4)), b.fcmp_ordered("<", a, hi)))
    sci = b.zext(b.not_(positional), I32)
    fb.ret(fb.call("trt_fmt_real", out, v, bits, sci, c32(NO_CAP), c32(STYLE_REPR)))


def _emit_scalar_appends(em: Emitter) -> None:
    fb = em.define("trt_buf_append_i64", I32, [PTR, PTR, I64])
    ctx, buf, v = fb.args
    tmp = fb.var(ir.ArrayType(I8, 32))
    n = fb.call("snprintf", tmp, c64(32), em.cstring("%lld"), v)
    fb.ret(fb.call("trt_buf_append", ctx, buf, tmp, fb.b.sext(n, I64)))

    fb = em.define("trt_buf_append_bool", I32, [PTR, PTR, I8])
    ctx, buf, v = fb.args
    s = fb.select(fb.b.icmp_signed("!=", v, c8(0)), em.cstring("true"), em.cstring("false"))
    fb.ret(fb.call("trt_buf_append_cstr", ctx, buf, s))

    fb = em.define("trt_buf_append_real", I32, [PTR, PTR, F64, I32], public=False)
    ctx, buf, v, bits = fb.args
    tmp = fb.var(ir.ArrayType(I8, 400))
    n = fb.call("trt_fmt_repr", tmp, v, bits)
    fb.ret(fb.call("trt_buf_append", ctx, buf, tmp, fb.b.sext(n, I64)))

    for suffix, ty, bits in (("f64", F64, 64), ("f32", F32, 32), ("f16", HALF, 16)):
        fb = em.define(f"trt_buf_append_{suffix}", I32, [PTR, PTR, ty])
        ctx, buf, v = fb.args
        wide = v if ty is F64 else fb.b.fpext(v, F64)
        fb.ret(fb.call("trt_buf_append_real", ctx, buf, wide, c32(bits)))


def emit(em: Emitter) -> None:
    em.declare("trt_write", I32, [PTR, PTR, I64])
    _emit_strings(em)
    _emit_buffers(em)
    _emit_output(em)
    _emit_shortest(em)
    _emit_fmt_real(em)
    _emit_repr(em)
    _emit_scalar_appends(em)
