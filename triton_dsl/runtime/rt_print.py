"""Tensor printing in native code: numpy's `str(array)` (np.array2string defaults).

In: an `Emitter`. Out: `trt_buf_append_tensor(ctx, buf, t)` and the internal element loaders
`trt_load_f64` / `trt_load_i64` (any dtype, trit decoded from the packed layout).

Rules reproduced from numpy's arrayprint (precision 8, floatmode 'maxprec', line width 75, threshold
1000 with 3 edge items, separator ' '): a recursive walk over the *shown* elements runs three times —
(0) value statistics (exponent format? widths of ints), (1) digit counts of every float, (2) output with
common widths, nested `[`, rows separated by newlines and long rows wrapped at the hanging indent.
Bool tensors are spelled `true` / `false` (language spelling) with numpy's widths.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F32, F64, HALF, I8, I32, I64, PTR, Emitter, FnBuilder, c8, c32, c64, opaque
from .rt_text import STYLE_ARRAY, STYLE_ARRAY_FIXED

LINE_WIDTH, THRESHOLD, EDGE = 75, 1000, 3
KIND_BOOL, KIND_INT, KIND_FLOAT = 0, 1, 2

_STATE = [("ctx", PTR), ("buf", PTR), ("t", PTR), ("kind", I32), ("bits", I32), ("summarize", I32),
          ("mode", I32), ("rank", I32), ("has_finite", I32), ("has_nonfinite", I32), ("has_neginf", I32),
          ("has_nz", I32), ("sci", I32), ("max_nz", F64), ("min_nz", F64), ("max_int", I64),
          ("max_frac", I64), ("max_exp", I64), ("pad_left", I64), ("pad_right", I64), ("precision", I64),
          ("exp_size", I64), ("width", I64), ("strides", ir.ArrayType(I64, layout.MAX_RANK))]
STATE_T = ir.LiteralStructType([ty for _, ty in _STATE])
_INDEX = {name: i for i, (name, _) in enumerate(_STATE)}


class _State:
    """Typed access to the printer's state struct (one alloca shared by the recursion)."""

    def __init__(self, fb: FnBuilder, ptr):
        self.fb, self.ptr = fb, ptr

    def addr(self, name: str):
        return opaque(self.fb.b.gep(self.ptr, [c32(0), c32(_INDEX[name])], source_etype=STATE_T))

    def get(self, name: str):
        return self.fb.load(self.addr(name), _STATE[_INDEX[name]][1])

    def put(self, name: str, value) -> None:
        ty = _STATE[_INDEX[name]][1]
        self.fb.b.store(value if isinstance(value, ir.Value) else ir.Constant(ty, value), self.addr(name))

    def maximize(self, name: str, value) -> None:
        cur = self.get(name)
        self.put(name, self.fb.select(self.fb.b.icmp_signed(">", value, cur), value, cur))


def _emit_loaders(em: Emitter) -> None:
    """double trt_load_f64(t, i64 flat) / i64 trt_load_i64(t, flat): element `flat` of any dtype."""
    for name, ty in (("trt_load_f64", F64), ("trt_load_i64", I64)):
        fb = em.define(name, ty, [PTR, I64], public=False)
        t, i = fb.args
        b = fb.b
        data, dtype = fb.get(t, "data"), fb.get(t, "dtype")
        for code in range(9):
            with fb.if_then(b.icmp_signed("==", dtype, c32(code))):
                if code == layout.TRIT:
                    rank = b.sext(fb.get(t, "rank"), I64)
                    last = fb.select(b.icmp_signed("==", rank, c64(0)), c64(1),
                                     fb.dim(t, b.sub(rank, c64(1))))
                    row, col = b.sdiv(i, last), b.srem(i, last)
                    rowbytes = b.sdiv(b.add(last, c64(3)), c64(4))
                    byte = fb.load(fb.byte_at(data, b.add(b.mul(row, rowbytes), b.sdiv(col, c64(4)))), I8)
                    shift = b.trunc(b.mul(b.srem(col, c64(4)), c64(2)), I8)
                    code_v = b.and_(b.lshr(byte, shift), c8(3))
                    raw = b.sub(b.sext(code_v, I64), c64(1))
                    val = raw if ty is I64 else b.sitofp(raw, F64)
                else:
                    ety = layout.scalar_type(code)
                    raw = fb.load(fb.at(data, i, ety), ety)
                    if code in layout.FLOAT_DTYPES:
                        wide = raw if ety is F64 else b.fpext(raw, F64)
                        val = wide if ty is F64 else b.fptosi(wide, I64)
                    else:
                        signed = code != layout.BOOL
                        wide = raw if ety is I64 else (b.sext(raw, I64) if signed else b.zext(raw, I64))
                        val = wide if ty is I64 else b.sitofp(wide, F64)
                fb.ret(val)
        fb.ret(ir.Constant(ty, 0))


def _emit_element(em: Emitter) -> None:
    """i32 trt_print_elem(state, i64 flat): statistics (mode 0/1) or output (mode 2) of one element."""
    fb = em.define("trt_print_elem", I32, [PTR, I64], public=False)
    st = _State(fb, fb.args[0])
    flat = fb.args[1]
    b = fb.b
    ctx, buf, t = st.get("ctx"), st.get("buf"), st.get("t")
    kind, mode = st.get("kind"), st.get("mode")
    tmp = fb.var(ir.ArrayType(I8, 400))
    with fb.if_then(b.icmp_signed("==", kind, c32(KIND_BOOL))):
        with fb.if_then(b.icmp_signed("==", mode, c32(2))):
            v = fb.call("trt_load_i64", t, flat)
            s = fb.select(b.icmp_signed("!=", v, c64(0)), em.cstring(" true"), em.cstring("false"))
            fb.ret(fb.call("trt_buf_append", ctx, buf, s, c64(5)))
        fb.ret(c32(0))
    with fb.if_then(b.icmp_signed("==", kind, c32(KIND_INT))):
        v = fb.call("trt_load_i64", t, flat)
        n = b.sext(fb.call("snprintf", tmp, c64(32), em.cstring("%lld"), v), I64)
        with fb.if_then(b.icmp_signed("==", mode, c32(0))):
            st.maximize("width", n)
            fb.ret(c32(0))
        fb.call("trt_buf_fill", ctx, buf, c8(32), b.sub(st.get("width"), n))
        fb.ret(fb.call("trt_buf_append", ctx, buf, tmp, n))
    # floats
    v = fb.call("trt_load_f64", t, flat)
    a = b.call(em.intrinsic("llvm.fabs.f64", F64, [F64]), [v])
    finite = b.fcmp_ordered("<", a, ir.Constant(F64, float("inf")))
    with fb.if_then(b.icmp_signed("==", mode, c32(0))):
        _element_stats(fb, st, v, a, finite)
        fb.ret(c32(0))
    with fb.if_then(b.not_(finite)):
        with fb.if_then(b.icmp_signed("==", mode, c32(1))):
            fb.ret(c32(0))
        n = b.sext(fb.call("trt_fmt_real", tmp, v, c32(64), c32(0), c32(8), c32(STYLE_ARRAY)), I64)
        fb.call("trt_buf_fill", ctx, buf, c8(32), b.sub(st.get("width"), n))
        fb.ret(fb.call("trt_buf_append", ctx, buf, tmp, n))
    sci = st.get("sci")
    n = b.sext(fb.call("trt_fmt_real", tmp, v, st.get("bits"), sci, c32(8), c32(STYLE_ARRAY)), I64)
    d, e = fb.call("trt_find_char", tmp, n, c8(ord("."))), fb.call("trt_find_char", tmp, n, c8(ord("e")))
    frac = b.sub(b.sub(e, d), c64(1))
    with fb.if_then(b.icmp_signed("==", mode, c32(1))):
        st.maximize("max_int", d)
        st.maximize("max_frac", frac)
        st.maximize("max_exp", b.sub(b.sub(n, e), c64(2)))
        fb.ret(c32(0))
    fb.call("trt_buf_fill", ctx, buf, c8(32), b.sub(st.get("pad_left"), d))
    with fb.if_then(b.icmp_signed("==", sci, c32(0))):
        fb.call("trt_buf_append", ctx, buf, tmp, n)
        fb.ret(fb.call("trt_buf_fill", ctx, buf, c8(32), b.sub(st.get("pad_right"), frac)))
    # scientific: the mantissa again with exactly `precision` digits (numpy's min_digits)
    prec = b.trunc(st.get("precision"), I32)
    n = b.sext(fb.call("trt_fmt_real", tmp, v, st.get("bits"), sci, prec, c32(STYLE_ARRAY_FIXED)), I64)
    e = fb.call("trt_find_char", tmp, n, c8(ord("e")))
    fb.call("trt_buf_append", ctx, buf, tmp, e)  # sign and mantissa
    fb.call("trt_buf_append", ctx, buf, fb.byte_at(tmp, e), c64(2))  # "e" and the exponent's sign
    explen = b.sub(b.sub(n, e), c64(2))
    fb.call("trt_buf_fill", ctx, buf, c8(ord("0")), b.sub(st.get("exp_size"), explen))
    fb.ret(fb.call("trt_buf_append", ctx, buf, fb.byte_at(tmp, b.add(e, c64(2))), explen))


def _emit_find_char(em: Emitter) -> None:
    """i64 trt_find_char(char *s, i64 n, i8 ch): index of the first `ch` in s[:n], or n."""
    fb = em.define("trt_find_char", I64, [PTR, I64, I8], public=False)
    s, n, ch = fb.args
    with fb.loop(0, n) as i:
        fb.ret_if(fb.b.icmp_signed("==", fb.load(fb.byte_at(s, i), I8), ch), i)
    fb.ret(n)


def _element_stats(fb: FnBuilder, st: _State, v, a, finite) -> None:
    """Mode 0 for floats: finite / non-finite flags and the range of the non-zero magnitudes."""
    b = fb.b
    with fb.if_else(finite) as (yes, no):
        with yes:
            st.put("has_finite", 1)
            with fb.if_then(b.fcmp_ordered("!=", a, ir.Constant(F64, 0.0))):
                first = b.icmp_signed("==", st.get("has_nz"), c32(0))
                mx, mn = st.get("max_nz"), st.get("min_nz")
                st.put("max_nz", fb.select(b.or_(first, b.fcmp_ordered(">", a, mx)), a, mx))
                st.put("min_nz", fb.select(b.or_(first, b.fcmp_ordered("<", a, mn)), a, mn))
                st.put("has_nz", 1)
        with no:
            st.put("has_nonfinite", 1)
            with fb.if_then(b.fcmp_ordered("==", v, ir.Constant(F64, float("-inf")))):
                st.put("has_neginf", 1)


def _emit_recursion(em: Emitter) -> None:
    """i32 trt_print_rec(state, i32 axis, i64 offset): visit (and in mode 2 print) the shown elements."""
    fb = em.define("trt_print_rec", I32, [PTR, I32, I64], public=False)
    stp, axis, offset = fb.args
    st = _State(fb, stp)
    b = fb.b
    ctx, buf, t = st.get("ctx"), st.get("buf"), st.get("t")
    printing = b.icmp_signed("==", st.get("mode"), c32(2))
    rank = st.get("rank")
    axis64 = b.sext(axis, I64)
    n = fb.dim(t, axis64)
    stride = fb.load(fb.at(st.addr("strides"), axis64, I64), I64)
    show = b.and_(b.icmp_signed("!=", st.get("summarize"), c32(0)), b.icmp_signed(">", n, c64(2 * EDGE)))
    count = fb.select(show, c64(2 * EDGE + 1), n)
    last_axis = b.icmp_signed("==", axis, b.sub(rank, c32(1)))
    hang = b.add(axis64, c64(1))
    elem_width = b.sub(b.sub(c64(LINE_WIDTH), axis64), c64(1))
    line = fb.var(I64, hang)
    dots = em.cstring("...")

    def check(status):
        fb.ret_if(b.icmp_signed("!=", status, c32(0)), c32(1))

    with fb.if_then(printing):
        check(fb.call("trt_buf_append", ctx, buf, em.cstring("["), c64(1)))
    with fb.loop(0, count) as k:
        is_dots = b.and_(show, b.icmp_signed("==", k, c64(EDGE)))
        tail_idx = b.add(b.sub(n, c64(2 * EDGE + 1)), k)
        idx = fb.select(b.and_(show, b.icmp_signed(">", k, c64(EDGE))), tail_idx, k)
        elem_off = b.add(offset, b.mul(idx, stride))
        not_last = b.icmp_signed("!=", k, b.sub(count, c64(1)))
        with fb.if_else(last_axis) as (row, nested):
            with row:
                with fb.if_else(printing) as (out, visit):
                    with out:
                        wlen = fb.select(is_dots, c64(3), st.get("width"))
                        lv = fb.load(line, I64)
                        wrap = b.and_(b.icmp_signed(">", b.add(lv, wlen), elem_width),
                                      b.icmp_signed(">", lv, hang))
                        with fb.if_then(wrap):
                            _strip_trailing_spaces(fb, buf)
                            check(fb.call("trt_buf_append", ctx, buf, em.cstring("\n"), c64(1)))
                            check(fb.call("trt_buf_fill", ctx, buf, c8(32), hang))
                            b.store(hang, line)
                        with fb.if_else(is_dots) as (d, e):
                            with d:
                                check(fb.call("trt_buf_append", ctx, buf, dots, c64(3)))
                            with e:
                                check(fb.call("trt_print_elem", stp, elem_off))
                        b.store(b.add(fb.load(line, I64), wlen), line)
                        with fb.if_then(not_last):
                            check(fb.call("trt_buf_append", ctx, buf, em.cstring(" "), c64(1)))
                            b.store(b.add(fb.load(line, I64), c64(1)), line)
                    with visit:
                        with fb.if_then(b.not_(is_dots)):
                            fb.call("trt_print_elem", stp, elem_off)
            with nested:
                with fb.if_then(b.and_(printing, b.icmp_signed(">", k, c64(0)))):
                    check(fb.call("trt_buf_fill", ctx, buf, c8(32), hang))
                with fb.if_else(is_dots) as (d, e):
                    with d:
                        with fb.if_then(printing):
                            check(fb.call("trt_buf_append", ctx, buf, dots, c64(3)))
                    with e:
                        check(fb.call("trt_print_rec", stp, b.add(axis, c32(1)), elem_off))
                with fb.if_then(b.and_(printing, not_last)):
                    newlines = b.sext(b.sub(b.sub(rank, axis), c32(1)), I64)
                    check(fb.call("trt_buf_fill", ctx, buf, c8(10), newlines))
    with fb.if_then(printing):
        check(fb.call("trt_buf_append", ctx, buf, em.cstring("]"), c64(1)))
    fb.ret(c32(0))


def _strip_trailing_spaces(fb: FnBuilder, buf) -> None:
    """Python's `line.rstrip()` before a wrap: drop the spaces at the end of the buffer."""
    b = fb.b
    data = fb.get(buf, "buf_data")
    with fb.loop(0, fb.get(buf, "buf_len")) as _:
        n = fb.get(buf, "buf_len")
        last = fb.load(fb.byte_at(data, b.sub(n, c64(1))), I8)
        with fb.if_then(b.icmp_signed("!=", last, c8(32))):
            fb.break_()
        fb.put(buf, "buf_len", b.sub(n, c64(1)))


def _bits_of(fb: FnBuilder, dtype):
    b = fb.b
    return fb.select(b.icmp_signed("==", dtype, c32(layout.FLOAT16)), c32(16),
                     fb.select(b.icmp_signed("==", dtype, c32(layout.FLOAT32)), c32(32), c32(64)))


def _emit_entry(em: Emitter) -> None:
    fb = em.define("trt_buf_append_tensor", I32, [PTR, PTR, PTR])
    ctx, buf, t = fb.args
    b = fb.b
    dtype, rank = fb.get(t, "dtype"), fb.get(t, "rank")
    is_float = b.icmp_signed(">=", dtype, c32(layout.FLOAT16))
    with fb.if_then(b.icmp_signed("==", rank, c32(0))):
        with fb.if_then(b.icmp_signed("==", dtype, c32(layout.BOOL))):
            v = b.trunc(fb.call("trt_load_i64", t, c64(0)), I8)
            fb.ret(fb.call("trt_buf_append_bool", ctx, buf, v))
        with fb.if_then(is_float):
            value = fb.call("trt_load_f64", t, c64(0))
            fb.ret(fb.call("trt_buf_append_real", ctx, buf, value, _bits_of(fb, dtype)))
        fb.ret(fb.call("trt_buf_append_i64", ctx, buf, fb.call("trt_load_i64", t, c64(0))))
    with fb.if_then(b.icmp_signed("==", fb.get(t, "numel"), c64(0))):
        fb.ret(fb.call("trt_buf_append", ctx, buf, em.cstring("[]"), c64(2)))
    stp = fb.var(STATE_T)
    b.store(ir.Constant(STATE_T, None), stp)
    st = _State(fb, stp)
    st.put("ctx", ctx)
    st.put("buf", buf)
    st.put("t", t)
    st.put("rank", rank)
    kind = fb.select(b.icmp_signed("==", dtype, c32(layout.BOOL)), c32(KIND_BOOL),
                     fb.select(is_float, c32(KIND_FLOAT), c32(KIND_INT)))
    st.put("kind", kind)
    st.put("bits", _bits_of(fb, dtype))
    st.put("summarize", b.zext(b.icmp_signed(">", fb.get(t, "numel"), c64(THRESHOLD)), I32))
    stride = fb.var(I64, c64(1))
    rank64 = b.sext(rank, I64)
    with fb.loop(0, rank64) as j:
        ax = b.sub(b.sub(rank64, c64(1)), j)
        s = fb.load(stride, I64)
        b.store(s, fb.at(st.addr("strides"), ax, I64))
        b.store(b.mul(s, fb.dim(t, ax)), stride)
    st.put("mode", 0)
    fb.call("trt_print_rec", stp, c32(0), c64(0))
    with fb.if_then(b.icmp_signed("==", kind, c32(KIND_BOOL))):
        st.put("width", 5)
    with fb.if_then(b.icmp_signed("==", kind, c32(KIND_FLOAT))):
        _plan_float_widths(fb, st)
    st.put("mode", 2)
    fb.ret(fb.call("trt_print_rec", stp, c32(0), c64(0)))


def _plan_float_widths(fb: FnBuilder, st: _State) -> None:
    """numpy FloatingFormat.fillFormat: exponent mode, pad_left / pad_right / precision / exp_size."""
    b = fb.b
    mx, mn = st.get("max_nz"), st.get("min_nz")
    # numpy compares in the array's dtype, with max cutoff 10**min(8, finfo(dtype).precision).
    bits = st.get("bits")
    is16, is32 = b.icmp_signed("==", bits, c32(16)), b.icmp_signed("==", bits, c32(32))

    def in_dtype(x):
        x16 = b.fpext(b.fptrunc(x, HALF), F64)
        x32 = b.fpext(b.fptrunc(x, F32), F64)
        return fb.select(is16, x16, fb.select(is32, x32, x))

    cutoff32 = fb.select(is32, ir.Constant(F64, 1e6), ir.Constant(F64, 1e8))
    cutoff = fb.select(is16, ir.Constant(F64, 1e3), cutoff32)
    big = b.or_(b.fcmp_ordered(">=", mx, cutoff),
                b.or_(b.fcmp_ordered("<", mn, in_dtype(ir.Constant(F64, 1e-4))),
                      b.fcmp_ordered(">", in_dtype(b.fdiv(mx, mn)), ir.Constant(F64, 1000.0))))
    sci = b.and_(b.icmp_signed("!=", st.get("has_nz"), c32(0)), big)
    st.put("sci", b.zext(sci, I32))
    with fb.if_then(b.icmp_signed("!=", st.get("has_finite"), c32(0))):
        st.put("mode", 1)
        fb.call("trt_print_rec", st.ptr, c32(0), c64(0))
        st.put("pad_left", st.get("max_int"))
        with fb.if_else(sci) as (yes, no):
            with yes:
                st.put("precision", st.get("max_frac"))
                st.put("exp_size", st.get("max_exp"))
                st.put("pad_right", b.add(b.add(st.get("max_exp"), c64(2)), st.get("max_frac")))
            with no:
                st.put("pad_right", st.get("max_frac"))
    with fb.if_then(b.icmp_signed("!=", st.get("has_nonfinite"), c32(0))):
        offset = b.add(st.get("pad_right"), c64(1))
        neg = b.sext(st.get("has_neginf"), I64)
        st.maximize("pad_left", b.sub(c64(3), offset))
        st.maximize("pad_left", b.sub(b.add(c64(3), neg), offset))
    st.put("width", b.add(b.add(st.get("pad_left"), st.get("pad_right")), c64(1)))


def emit(em: Emitter) -> None:
    em.declare("trt_print_rec", I32, [PTR, I32, I64])
    _emit_loaders(em)
    _emit_find_char(em)
    _emit_element(em)
    _emit_recursion(em)
    _emit_entry(em)
