"""Heap objects in native code: structs, growable lists and closure environments (docs/runtime.md "Objects").

In: an `Emitter`. Out: the object header's functions `trt_obj_new`, `trt_obj_incref`, `trt_obj_decref`,
`trt_obj_free`, `trt_obj_live`; the list functions `trt_list_new`, `trt_list_reserve`, `trt_list_push`,
`trt_list_drop` (the `drop` of every list type descriptor), `trt_list_slice`, `trt_list_concat`,
`trt_list_repeat`, `trt_err_list_index`; and the string helpers objects need (`trt_str_length`: code
points; `trt_str_index`, `trt_str_slice`: by code point; `trt_buf_append_repr`: Python's `repr` of a
string, used when a list or struct prints its strings).

An object is `{ i64 refcount, ptr type, payload }`; `type` points at a constant `trt_type` descriptor that
code generation emits per type (its name, the `drop` function releasing what the payload holds, sizes and
the element retain/release functions of a list). The runtime knows nothing else about the payload: every
type-specific action goes through the descriptor, so the same functions serve every list and struct.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import I8, I32, I64, PTR, VOID, Emitter, FnBuilder, c8, c32, c64
from .rt_errors import emit_error

NULL = ir.Constant(PTR, None)
OMITTED = -(2**63)  # a slice bound that was not written (`xs[:3]`)


def _type_of(fb: FnBuilder, obj):
    return fb.get(obj, "obj_type")


def _elem_size(fb: FnBuilder, ty):
    return fb.get(ty, "type_size")


def _emit_header(em: Emitter) -> None:
    live = em.global_var("trt_obj_live_count", I64, 0)

    fb = em.define("trt_obj_new", PTR, [PTR, PTR, I64])
    ctx, ty, size = fb.args
    size = fb.select(fb.b.icmp_signed("<", size, c64(layout.OBJ_HEADER_SIZE)), c64(layout.OBJ_HEADER_SIZE),
                     size)
    p = fb.call("malloc", size)
    with fb.if_then(fb.is_null(p), likely=False):
        emit_error(fb, layout.ERR_MEMORY, "out of memory allocating an object of %lld bytes", size)
        fb.ret(NULL)
    fb.call("memset", p, c32(0), size)
    fb.put(p, "obj_refcount", 1)
    fb.put(p, "obj_type", ty)
    fb.b.store(fb.b.add(fb.load(live, I64), c64(1)), live)
    fb.ret(p)

    fb = em.define("trt_obj_free", VOID, [PTR])
    p = fb.args[0]
    ty = _type_of(fb, p)
    drop = fb.get(ty, "type_drop")
    with fb.if_then(fb.b.not_(fb.is_null(drop))):
        fb.call_ptr(drop, VOID, [PTR], [p])
    fb.call("free", p)
    fb.b.store(fb.b.sub(fb.load(live, I64), c64(1)), live)
    fb.ret()

    fb = em.define("trt_obj_incref", VOID, [PTR])
    fb.add_to_refcount(fb.args[0], "obj_refcount", 1)
    fb.ret()

    fb = em.define("trt_obj_decref", VOID, [PTR])
    p = fb.args[0]
    rc = fb.add_to_refcount(p, "obj_refcount", -1)
    with fb.if_then(fb.b.icmp_signed("==", rc, c64(0))):
        fb.call("trt_obj_free", p)
    fb.ret()

    fb = em.define("trt_obj_live", I64, [])
    fb.ret(fb.load(live, I64))


def _emit_lists(em: Emitter) -> None:
    # i32 trt_list_reserve(ctx, list, n): capacity for at least n elements (0 ok, else error set).
    fb = em.define("trt_list_reserve", I32, [PTR, PTR, I64])
    ctx, lst, n = fb.args
    cap = fb.get(lst, "list_cap")
    fb.ret_if(fb.b.icmp_signed("<=", n, cap), c32(0))
    size = _elem_size(fb, _type_of(fb, lst))
    doubled = fb.b.mul(cap, c64(2))
    new_cap = fb.select(fb.b.icmp_signed(">", n, doubled), n, doubled)
    new_cap = fb.select(fb.b.icmp_signed("<", new_cap, c64(4)), c64(4), new_cap)
    limit = fb.div_or(c64(2**60), size, 2**60)
    with fb.if_then(fb.b.icmp_signed(">", new_cap, limit), likely=False):
        emit_error(fb, layout.ERR_MEMORY, "a list of %lld elements is too large", n)
        fb.ret(c32(1))
    old = fb.get(lst, "list_data")
    data = fb.call("realloc", old, fb.b.mul(new_cap, size))
    with fb.if_then(fb.is_null(data), likely=False):
        emit_error(fb, layout.ERR_MEMORY, "out of memory growing a list to %lld elements", new_cap)
        fb.ret(c32(1))
    # new slots are zero: a dropped list releases only its `len` elements, but zeroed memory keeps
    # every slot a valid (null / zero) value
    used = fb.b.mul(cap, size)
    fb.call("memset", fb.byte_at(data, used), c32(0), fb.b.sub(fb.b.mul(new_cap, size), used))
    fb.put(lst, "list_data", data)
    fb.put(lst, "list_cap", new_cap)
    fb.ret(c32(0))

    # ptr trt_list_new(ctx, type, n): a list of n zeroed elements (codegen stores them).
    fb = em.define("trt_list_new", PTR, [PTR, PTR, I64])
    ctx, ty, n = fb.args
    lst = fb.call("trt_obj_new", ctx, ty, c64(layout.LIST_SIZE))
    fb.ret_if(fb.is_null(lst), NULL)
    with fb.if_then(fb.b.icmp_signed("!=", fb.call("trt_list_reserve", ctx, lst, n), c32(0)), likely=False):
        fb.call("trt_obj_decref", lst)
        fb.ret(NULL)
    fb.put(lst, "list_len", n)
    fb.ret(lst)

    # ptr trt_list_push(ctx, list): one more (zeroed) element at the end; the address of its slot.
    fb = em.define("trt_list_push", PTR, [PTR, PTR])
    ctx, lst = fb.args
    n = fb.get(lst, "list_len")
    fb.ret_if(fb.b.icmp_signed("!=", fb.call("trt_list_reserve", ctx, lst, fb.b.add(n, c64(1))), c32(0)),
              NULL)
    fb.put(lst, "list_len", fb.b.add(n, c64(1)))
    size = _elem_size(fb, _type_of(fb, lst))
    fb.ret(fb.byte_at(fb.get(lst, "list_data"), fb.b.mul(n, size)))

    # void trt_list_drop(obj): release the elements, free the buffer (a list type's `drop`).
    fb = em.define("trt_list_drop", VOID, [PTR])
    lst = fb.args[0]
    ty = _type_of(fb, lst)
    release = fb.get(ty, "type_elem_release")
    data = fb.get(lst, "list_data")
    with fb.if_then(fb.b.not_(fb.is_null(release))):
        size = _elem_size(fb, ty)
        with fb.loop(0, fb.get(lst, "list_len")) as i:
            fb.call_ptr(release, VOID, [PTR], [fb.byte_at(data, fb.b.mul(i, size))])
    fb.call("free", data)
    fb.ret()

    # Internal: copy element `src_i` of `src` to the slot `dst_i` of `dst` (same type), retained.
    fb = em.define("trt_list_copy_elem", VOID, [PTR, I64, PTR, I64], public=False)
    src, si, dst, di = fb.args
    ty = _type_of(fb, src)
    size = _elem_size(fb, ty)
    to = fb.byte_at(fb.get(dst, "list_data"), fb.b.mul(di, size))
    fb.call("memcpy", to, fb.byte_at(fb.get(src, "list_data"), fb.b.mul(si, size)), size)
    retain = fb.get(ty, "type_elem_retain")
    with fb.if_then(fb.b.not_(fb.is_null(retain))):
        fb.call_ptr(retain, VOID, [PTR], [to])
    fb.ret()

    _emit_slice(em)

    fb = em.define("trt_list_concat", PTR, [PTR, PTR, PTR])
    ctx, a, b = fb.args
    na, nb = fb.get(a, "list_len"), fb.get(b, "list_len")
    out = fb.call("trt_list_new", ctx, _type_of(fb, a), fb.b.add(na, nb))
    fb.ret_if(fb.is_null(out), NULL)
    with fb.loop(0, na) as i:
        fb.call("trt_list_copy_elem", a, i, out, i)
    with fb.loop(0, nb) as i:
        fb.call("trt_list_copy_elem", b, i, out, fb.b.add(na, i))
    fb.ret(out)

    fb = em.define("trt_list_repeat", PTR, [PTR, PTR, I64])
    ctx, a, times = fb.args
    times = fb.select(fb.b.icmp_signed("<", times, c64(0)), c64(0), times)
    na = fb.get(a, "list_len")
    limit = fb.div_or(c64(2**60), na, 2**60)
    with fb.if_then(fb.b.icmp_signed(">", times, limit), likely=False):
        emit_error(fb, layout.ERR_MEMORY, "a list repeated %lld times is too large", times)
        fb.ret(NULL)
    out = fb.call("trt_list_new", ctx, _type_of(fb, a), fb.b.mul(na, times))
    fb.ret_if(fb.is_null(out), NULL)
    with fb.loop(0, times) as r:
        with fb.loop(0, na) as i:
            fb.call("trt_list_copy_elem", a, i, out, fb.b.add(fb.b.mul(r, na), i))
    fb.ret(out)

    # void trt_list_remove(list, i): drop slot i (0 <= i < len, its reference already taken by the caller),
    # moving the elements after it down by one.
    fb = em.define("trt_list_remove", VOID, [PTR, I64])
    lst, i = fb.args
    n = fb.get(lst, "list_len")
    size = _elem_size(fb, _type_of(fb, lst))
    data = fb.get(lst, "list_data")
    after = fb.b.mul(fb.b.sub(fb.b.sub(n, i), c64(1)), size)
    at = fb.byte_at(data, fb.b.mul(i, size))
    fb.call("memmove", at, fb.byte_at(at, size), after)
    last = fb.byte_at(data, fb.b.mul(fb.b.sub(n, c64(1)), size))
    fb.call("memset", last, c32(0), size)
    fb.put(lst, "list_len", fb.b.sub(n, c64(1)))
    fb.ret()

    fb = em.define("trt_err_list_index", VOID, [PTR, I64, I64])
    ctx, index, n = fb.args
    emit_error(fb, layout.ERR_INDEX, "list index %lld is out of range for a list of length %lld", index, n)
    fb.ret()


def _slice_bounds(fb: FnBuilder, n, start, stop, step):
    """Python's slice.indices(n): (start, count) of `start:stop:step` over n items (step != 0)."""
    b = fb.b
    neg = b.icmp_signed("<", step, c64(0))
    # defaults: 0..n for a positive step, n-1 down to "before 0" for a negative one
    lo_default = fb.select(neg, b.sub(n, c64(1)), c64(0))
    hi_default = fb.select(neg, c64(-1), n)
    lower = fb.select(neg, c64(-1), c64(0))
    upper = fb.select(neg, b.sub(n, c64(1)), n)

    def clamp(v, default):
        omitted = b.icmp_signed("==", v, c64(OMITTED))
        v2 = fb.select(b.icmp_signed("<", v, c64(0)), b.add(v, n), v)
        v2 = fb.select(b.icmp_signed("<", v2, lower), lower, v2)
        v2 = fb.select(b.icmp_signed(">", v2, upper), upper, v2)
        return fb.select(omitted, default, v2)

    s, e = clamp(start, lo_default), clamp(stop, hi_default)
    # count = max(0, ceil((e - s) / step))
    span = b.sub(e, s)
    pos_count = b.sdiv(b.add(span, b.sub(step, c64(1))), step)
    neg_count = b.sdiv(b.add(span, b.add(step, c64(1))), step)
    count = fb.select(neg, neg_count, pos_count)
    count = fb.select(b.icmp_signed("<", count, c64(0)), c64(0), count)
    return s, count


def _emit_slice(em: Emitter) -> None:
    fb = em.define("trt_list_slice", PTR, [PTR, PTR, I64, I64, I64])
    ctx, lst, start, stop, step = fb.args
    with fb.if_then(fb.b.icmp_signed("==", step, c64(0)), likely=False):
        fb.call("trt_set_error", ctx, c32(layout.ERR_VALUE), em.cstring("slice step cannot be zero"))
        fb.ret(NULL)
    s, count = _slice_bounds(fb, fb.get(lst, "list_len"), start, stop, step)
    out = fb.call("trt_list_new", ctx, _type_of(fb, lst), count)
    fb.ret_if(fb.is_null(out), NULL)
    with fb.loop(0, count) as i:
        fb.call("trt_list_copy_elem", lst, fb.b.add(s, fb.b.mul(i, step)), out, i)
    fb.ret(out)


def _emit_strings(em: Emitter) -> None:
    """Strings by code point (UTF-8: a byte that is not a continuation byte 10xxxxxx starts one)."""
    def is_start(fb, byte):
        return fb.b.icmp_unsigned("!=", fb.b.and_(byte, c8(0xC0)), c8(0x80))

    fb = em.define("trt_str_length", I64, [PTR])
    s = fb.args[0]
    count = fb.var(I64, c64(0))
    body = fb.byte_at(s, layout.STR_DATA_OFFSET)
    with fb.loop(0, fb.get(s, "str_len")) as i:
        start = fb.b.zext(is_start(fb, fb.load(fb.byte_at(body, i), I8)), I64)
        fb.b.store(fb.b.add(fb.load(count, I64), start), count)
    fb.ret(fb.load(count, I64))

    # Internal: byte offset of code point k (0 <= k <= length) of s.
    fb = em.define("trt_str_offset", I64, [PTR, I64], public=False)
    s, k = fb.args
    body = fb.byte_at(s, layout.STR_DATA_OFFSET)
    n = fb.get(s, "str_len")
    seen = fb.var(I64, c64(-1))
    with fb.loop(0, n) as i:
        with fb.if_then(is_start(fb, fb.load(fb.byte_at(body, i), I8))):
            now = fb.b.add(fb.load(seen, I64), c64(1))
            fb.b.store(now, seen)
            fb.ret_if(fb.b.icmp_signed("==", now, k), i)
    fb.ret(n)

    # ptr trt_str_slice(ctx, s, start, stop, step): `s[a:b:c]` by code point (Python's rules).
    fb = em.define("trt_str_slice", PTR, [PTR, PTR, I64, I64, I64])
    ctx, s, start, stop, step = fb.args
    with fb.if_then(fb.b.icmp_signed("==", step, c64(0)), likely=False):
        fb.call("trt_set_error", ctx, c32(layout.ERR_VALUE), em.cstring("slice step cannot be zero"))
        fb.ret(NULL)
    first, count = _slice_bounds(fb, fb.call("trt_str_length", s), start, stop, step)
    buf = fb.var(ir.ArrayType(I64, 3))
    fb.call("memset", buf, c32(0), c64(layout.BUF_SIZE))
    body = fb.byte_at(s, layout.STR_DATA_OFFSET)
    with fb.loop(0, count) as i:
        k = fb.b.add(first, fb.b.mul(i, step))
        a = fb.call("trt_str_offset", s, k)
        e = fb.call("trt_str_offset", s, fb.b.add(k, c64(1)))
        with fb.if_then(fb.b.icmp_signed("!=", fb.call("trt_buf_append", ctx, buf, fb.byte_at(body, a),
                                                       fb.b.sub(e, a)), c32(0)), likely=False):
            fb.call("trt_buf_free", buf)
            fb.ret(NULL)
    fb.ret(fb.call("trt_buf_take_str", ctx, buf))

    # ptr trt_str_index(ctx, s, i): the code point `s[i]` as a string (negative counts from the end).
    fb = em.define("trt_str_index", PTR, [PTR, PTR, I64])
    ctx, s, i = fb.args
    n = fb.call("trt_str_length", s)
    k = fb.select(fb.b.icmp_signed("<", i, c64(0)), fb.b.add(i, n), i)
    outside = fb.b.or_(fb.b.icmp_signed("<", k, c64(0)), fb.b.icmp_signed(">=", k, n))
    with fb.if_then(outside, likely=False):
        emit_error(fb, layout.ERR_INDEX, "string index %lld is out of range for a string of length %lld",
                   i, n)
        fb.ret(NULL)
    a = fb.call("trt_str_offset", s, k)
    e = fb.call("trt_str_offset", s, fb.b.add(k, c64(1)))
    fb.ret(fb.call("trt_str_new", ctx, fb.byte_at(fb.byte_at(s, layout.STR_DATA_OFFSET), a), fb.b.sub(e, a)))

    # i32 trt_buf_append_repr(ctx, buf, s): Python's repr(s): single quotes unless the text has a single
    # quote and no double quote; backslash, the quote and control characters escaped.
    fb = em.define("trt_buf_append_repr", I32, [PTR, PTR, PTR])
    ctx, buf, s = fb.args
    b = fb.b
    body = fb.byte_at(s, layout.STR_DATA_OFFSET)
    n = fb.get(s, "str_len")
    has_single, has_double = fb.var(I8, c8(0)), fb.var(I8, c8(0))
    with fb.loop(0, n) as i:
        ch = fb.load(fb.byte_at(body, i), I8)
        with fb.if_then(b.icmp_unsigned("==", ch, c8(ord("'")))):
            b.store(c8(1), has_single)
        with fb.if_then(b.icmp_unsigned("==", ch, c8(ord('"')))):
            b.store(c8(1), has_double)
    use_double = b.and_(b.icmp_unsigned("!=", fb.load(has_single, I8), c8(0)),
                        b.icmp_unsigned("==", fb.load(has_double, I8), c8(0)))
    quote = fb.select(use_double, c8(ord('"')), c8(ord("'")))
    one = fb.var(I8, quote)

    def put_byte(v):
        b.store(v, one)
        return fb.call("trt_buf_append", ctx, buf, one, c64(1))

    fb.ret_if(b.icmp_signed("!=", put_byte(quote), c32(0)), c32(1))
    tmp = fb.var(ir.ArrayType(I8, 8))
    with fb.loop(0, n) as i:
        ch = fb.load(fb.byte_at(body, i), I8)
        special = {ord("\n"): "\\n", ord("\t"): "\\t", ord("\r"): "\\r", ord("\\"): "\\\\"}
        handled = fb.var(I8, c8(0))
        for code, text in special.items():
            with fb.if_then(b.icmp_unsigned("==", ch, c8(code))):
                fb.call("trt_buf_append_cstr", ctx, buf, em.cstring(text))
                b.store(c8(1), handled)
        with fb.if_then(b.icmp_unsigned("==", ch, quote)):
            fb.call("trt_buf_append_cstr", ctx, buf, em.cstring("\\"))
        control = b.or_(b.icmp_unsigned("<", ch, c8(0x20)), b.icmp_unsigned("==", ch, c8(0x7F)))
        with fb.if_then(b.and_(control, b.icmp_unsigned("==", fb.load(handled, I8), c8(0)))):
            fb.call("snprintf", tmp, c64(8), em.cstring("\\x%02x"), b.zext(ch, I32))
            fb.call("trt_buf_append_cstr", ctx, buf, tmp)
            b.store(c8(1), handled)
        with fb.if_then(b.icmp_unsigned("==", fb.load(handled, I8), c8(0))):
            put_byte(ch)
    fb.ret(put_byte(quote))


def emit(em: Emitter) -> None:
    _emit_header(em)
    _emit_lists(em)
    _emit_strings(em)


__all__ = ["emit", "VOID"]
