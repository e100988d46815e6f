"""Reverse-mode autodiff in native code: the tape, the backward engine, gradients and hooks.

In: an `Emitter`. Out: `trt_grad_needed`, `trt_set_grad_enabled`, `trt_requires_grad`, `trt_tape_attach`,
`trt_grad_accumulate`, `trt_backward`, `trt_tensor_grad`, `trt_zero_grad`, `trt_set_requires_grad`,
`trt_detach`, `trt_sum_to_shape`, `trt_register_hook`, `trt_copy_into` (docs/runtime.md "Autodiff").

What the compiler supplies: for every differentiable operation whose inputs need a gradient, a *node*
function `void (ptr ctx, ptr env, ptr grad)` that computes the inputs' gradients from the output's and
hands each to `trt_grad_accumulate`; `trt_tape_attach` records it on the output. The engine here only
orders the nodes (a max-heap on the tensors' creation order `grad_seq`, so every tensor's gradient is
complete before its node runs), sums gradients, runs hooks and fills the leaves' `.grad`.

State is per process and single-threaded like reference counts: the grad mode, the creation counter and
the engine's worklist (one backward at a time).
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from .irgen import F32, F64, HALF, I8, I32, I64, PTR, VOID, Emitter, FnBuilder, c8, c32, c64
from .rt_errors import emit_error, shape_text

NULL = ir.Constant(PTR, None)
RG, LEAF = layout.FLAG_REQUIRES_GRAD, layout.FLAG_IS_LEAF
# Private layouts (malloc'd): a node { ptr code, ptr env }, a hook { ptr code, ptr env, ptr next }, a
# worklist entry { i64 seq, ptr tensor }.
NODE_SIZE, HOOK_SIZE, ENTRY_SIZE = 16, 24, 16
FLOATS = ((layout.FLOAT16, HALF), (layout.FLOAT32, F32), (layout.FLOAT64, F64))
INTERNAL = layout.ERR_RUNTIME  # errors that mean the compiler emitted a wrong call


def _flag(fb: FnBuilder, t, bit: int):
    return fb.b.icmp_signed("!=", fb.b.and_(fb.get(t, "flags"), c32(bit)), c32(0))


def _is_float(fb: FnBuilder, dtype):
    b = fb.b
    return b.and_(b.icmp_signed(">=", dtype, c32(layout.FLOAT16)),
                  b.icmp_signed("<=", dtype, c32(layout.FLOAT64)))


def _same_shape(fb: FnBuilder, a, c):
    b = fb.b
    ra, rc = fb.get(a, "rank"), fb.get(c, "rank")
    n = b.mul(b.sext(ra, I64), c64(8))
    same = b.icmp_signed("==", fb.call("memcmp", fb.byte_at(a, layout.SHAPE_OFFSET),
                                       fb.byte_at(c, layout.SHAPE_OFFSET), n), c32(0))
    return b.and_(b.icmp_signed("==", ra, rc), same)


def _shape_of(fb: FnBuilder, t):
    return fb.byte_at(t, layout.SHAPE_OFFSET)


def _dtype_name(fb: FnBuilder, dtype):
    name = fb.em.cstring("?")
    for code, text in enumerate(layout.DTYPE_NAMES):
        name = fb.select(fb.b.icmp_signed("==", dtype, c32(code)), fb.em.cstring(text), name)
    return name


class _While:
    """`while (1) { body }`: the body leaves with `brk()` (inside an if_then)."""

    def __init__(self, fb: FnBuilder):
        self.fb = fb
        self.body = fb.fn.append_basic_block("while.body")
        self.end = fb.fn.append_basic_block("while.end")

    def __enter__(self):
        self.fb.b.branch(self.body)
        self.fb.b.position_at_end(self.body)
        return self

    def brk(self):
        self.fb.b.branch(self.end)

    def __exit__(self, *exc):
        if not self.fb.b.block.is_terminated:
            self.fb.b.branch(self.body)
        self.fb.b.position_at_end(self.end)
        return False


# -- kernels (-O2 leaf loops) ----------------------------------------------------------------------------

def _emit_kernels(em: Emitter) -> None:
    for code, ty in FLOATS:
        sfx = layout.SUFFIX[code]
        # void trt_kgrad_add_<dt>(dst, a, b, n): dst[i] = a[i] + b[i] (dst may be a).
        fb = em.define(f"trt_kgrad_add_{sfx}", VOID, [PTR, PTR, PTR, I64], public=False, kernel=True)
        dst, x, y, n = fb.args
        b = fb.b
        with fb.loop(0, n) as i:
            u, v = fb.load(fb.at(x, i, ty), ty), fb.load(fb.at(y, i, ty), ty)
            if ty is HALF:
                s = b.fptrunc(b.fadd(b.fpext(u, F32), b.fpext(v, F32)), HALF)
            else:
                s = b.fadd(u, v)
            b.store(s, fb.at(dst, i, ty))
        fb.ret()

        # void trt_ksum_to_<dt>(dst, src, acc, m, rank, shape, ostrides): acc (double[m]) = 0; for every
        # element of src (contiguous, `shape`), acc[sum(idx * ostrides)] += it; dst[j] = acc[j].
        fb = em.define(f"trt_ksum_to_{sfx}", VOID, [PTR, PTR, PTR, I64, I32, PTR, PTR], public=False,
                       kernel=True)
        dst, src, acc, m, rank, shape, strides = fb.args
        b = fb.b
        fb.call("memset", acc, c32(0), b.mul(m, c64(8)))
        r = b.sext(rank, I64)
        idx = fb.var(ir.ArrayType(I64, layout.MAX_RANK))
        fb.call("memset", idx, c32(0), c64(8 * layout.MAX_RANK))
        total = fb.var(I64, c64(1))
        with fb.loop(0, r) as k:
            b.store(b.mul(fb.load(total, I64), fb.load(fb.at(shape, k, I64), I64)), total)
        n = fb.load(total, I64)
        pos = fb.var(I64, c64(0))
        with fb.loop(0, n) as i:
            v = fb.load(fb.at(src, i, ty), ty)
            v = v if ty is F64 else b.fpext(v, F64)
            slot = fb.at(acc, fb.load(pos, I64), F64)
            b.store(b.fadd(fb.load(slot, F64), v), slot)
            with fb.loop(0, r) as j:  # odometer: advance the last axis, carry into earlier ones
                ax = b.sub(b.sub(r, c64(1)), j)
                islot = fb.at(idx, ax, I64)
                nv = b.add(fb.load(islot, I64), c64(1))
                st = fb.load(fb.at(strides, ax, I64), I64)
                with fb.if_then(b.icmp_signed("<", nv, fb.load(fb.at(shape, ax, I64), I64))):
                    b.store(nv, islot)
                    b.store(b.add(fb.load(pos, I64), st), pos)
                    fb.break_()
                b.store(c64(0), islot)
                b.store(b.sub(fb.load(pos, I64), b.mul(b.sub(nv, c64(1)), st)), pos)
        with fb.loop(0, m) as j:
            v = fb.load(fb.at(acc, j, F64), F64)
            b.store(v if ty is F64 else b.fptrunc(v, ty), fb.at(dst, j, ty))
        fb.ret()


def _dispatch(fb: FnBuilder, dtype, prefix: str, *args) -> None:
    """Call `<prefix><dt>(*args)` for the float dtype `dtype` (callers checked it is one)."""
    for code, _ in FLOATS:
        with fb.if_then(fb.b.icmp_signed("==", dtype, c32(code))):
            fb.call(prefix + layout.SUFFIX[code], *args)


# -- grad mode, flags ------------------------------------------------------------------------------------

def _emit_mode(em: Emitter, mode) -> None:

    fb = em.define("trt_grad_needed", I8, [PTR])
    t = fb.args[0]
    fb.ret_if(fb.b.icmp_signed("==", fb.load(mode, I8), c8(0)), c8(0))
    fb.ret_if(fb.is_null(t), c8(0))
    fb.ret(fb.b.trunc(fb.b.and_(fb.get(t, "flags"), c32(RG)), I8))

    fb = em.define("trt_set_grad_enabled", I8, [I8])
    old = fb.load(mode, I8)
    fb.b.store(fb.b.zext(fb.b.icmp_signed("!=", fb.args[0], c8(0)), I8), mode)
    fb.ret(old)

    fb = em.define("trt_requires_grad", I8, [PTR])
    t = fb.args[0]
    fb.ret_if(fb.is_null(t), c8(0))
    fb.ret(fb.b.trunc(fb.b.and_(fb.get(t, "flags"), c32(RG)), I8))

    # Whether any tensor of a list (`stack(xs)` of a list value) requires grad, in grad mode.
    fb = em.define("trt_list_grad_needed", I8, [PTR])
    lst = fb.args[0]
    b = fb.b
    fb.ret_if(b.icmp_signed("==", fb.load(mode, I8), c8(0)), c8(0))
    data = fb.load(fb.byte_at(lst, layout.LIST_FIELDS["list_data"][0]), PTR)
    with fb.loop(0, fb.load(fb.byte_at(lst, layout.LIST_FIELDS["list_len"][0]), I64)) as i:
        t = fb.load(fb.at(data, i, PTR), PTR)
        with fb.if_then(b.icmp_signed("!=", b.and_(fb.get(t, "flags"), c32(RG)), c32(0))):
            fb.ret(c8(1))
    fb.ret(c8(0))


def _emit_release(em: Emitter) -> None:
    """Internal `void trt_grad_release(t)`: free t's tape node and hooks (the tensor free path calls it
    through rt_memory's slot)."""
    fb = em.define("trt_grad_release", VOID, [PTR], public=False)
    t = fb.args[0]
    b = fb.b
    node = fb.get(t, "tape_node")
    with fb.if_then(b.not_(fb.is_null(node))):
        fb.put(t, "tape_node", NULL)
        env = fb.load(fb.byte_at(node, 8), PTR)
        fb.call("free", node)
        fb.call("trt_obj_decref", env)
    h = fb.var(PTR, fb.get(t, "hooks"))
    fb.put(t, "hooks", NULL)
    with _While(fb) as w:
        cur = fb.load(h, PTR)
        with fb.if_then(fb.is_null(cur)):
            w.brk()
        b.store(fb.load(fb.byte_at(cur, 16), PTR), h)
        env = fb.load(fb.byte_at(cur, 8), PTR)
        fb.call("free", cur)
        fb.call("trt_obj_decref", env)
    fb.ret()


def _install_release(fb: FnBuilder) -> None:
    fb.call("trt_set_grad_release", fb.em.get("trt_grad_release"))


# -- the worklist: a binary max-heap of { seq, tensor } ----------------------------------------------------

def _emit_heap(em: Emitter):
    heap = em.global_var("trt_bw_heap", PTR, None)
    size = em.global_var("trt_bw_len", I64, 0)
    cap = em.global_var("trt_bw_cap", I64, 0)

    def entry(fb, base, i):
        return fb.byte_at(base, fb.b.mul(i, c64(ENTRY_SIZE)))

    def seq_at(fb, base, i):
        return fb.load(entry(fb, base, i), I64)

    def move(fb, base, dst, src):
        fb.call("memcpy", entry(fb, base, dst), entry(fb, base, src), c64(ENTRY_SIZE))

    # i32 trt_bw_push(ctx, t): add t (the caller's reference moves to the worklist) keyed on its grad_seq.
    fb = em.define("trt_bw_push", I32, [PTR, PTR], public=False)
    ctx, t = fb.args
    b = fb.b
    n = fb.load(size, I64)
    with fb.if_then(b.icmp_signed(">=", n, fb.load(cap, I64))):
        doubled = b.mul(fb.load(cap, I64), c64(2))
        new_cap = fb.select(b.icmp_signed("<", doubled, c64(64)), c64(64), doubled)
        grown = fb.call("realloc", fb.load(heap, PTR), b.mul(new_cap, c64(ENTRY_SIZE)))
        with fb.if_then(fb.is_null(grown), likely=False):
            emit_error(fb, layout.ERR_MEMORY, "out of memory growing the backward worklist to %lld tensors",
                       new_cap)
            fb.ret(c32(1))
        b.store(grown, heap)
        b.store(new_cap, cap)
    base = fb.load(heap, PTR)
    seq = fb.get(t, "grad_seq")
    i = fb.var(I64, n)
    with fb.loop(0, 64):
        iv = fb.load(i, I64)
        with fb.if_then(b.icmp_signed("==", iv, c64(0))):
            fb.break_()
        parent = b.sdiv(b.sub(iv, c64(1)), c64(2))
        with fb.if_then(b.icmp_signed(">=", seq_at(fb, base, parent), seq)):
            fb.break_()
        move(fb, base, iv, parent)
        b.store(parent, i)
    at = entry(fb, base, fb.load(i, I64))
    b.store(seq, at)
    b.store(t, fb.byte_at(at, 8))
    b.store(b.add(n, c64(1)), size)
    fb.ret(c32(0))

    # ptr trt_bw_pop(): the tensor with the highest seq (the worklist's reference moves to the caller), or
    # null when the worklist is empty.
    fb = em.define("trt_bw_pop", PTR, [], public=False)
    b = fb.b
    n0 = fb.load(size, I64)
    fb.ret_if(b.icmp_signed("<=", n0, c64(0)), NULL)
    base = fb.load(heap, PTR)
    top = fb.load(fb.byte_at(base, 8), PTR)
    n = b.sub(n0, c64(1))
    b.store(n, size)
    fb.ret_if(b.icmp_signed("==", n, c64(0)), top)
    last = entry(fb, base, n)
    xseq, xt = fb.load(last, I64), fb.load(fb.byte_at(last, 8), PTR)
    i = fb.var(I64, c64(0))
    with fb.loop(0, 64):
        iv = fb.load(i, I64)
        left = b.add(b.mul(iv, c64(2)), c64(1))
        with fb.if_then(b.icmp_signed(">=", left, n)):
            fb.break_()
        right = b.add(left, c64(1))
        rr = fb.select(b.icmp_signed("<", right, n), right, left)
        child = fb.select(b.icmp_signed(">", seq_at(fb, base, rr), seq_at(fb, base, left)), rr, left)
        with fb.if_then(b.icmp_signed("<=", seq_at(fb, base, child), xseq)):
            fb.break_()
        move(fb, base, iv, child)
        b.store(child, i)
    at = entry(fb, base, fb.load(i, I64))
    b.store(xseq, at)
    b.store(xt, fb.byte_at(at, 8))
    fb.ret(top)

    # void trt_bw_drain(): release everything still on the worklist (a failed backward).
    fb = em.define("trt_bw_drain", VOID, [], public=False)
    b = fb.b
    base = fb.load(heap, PTR)
    with fb.loop(0, fb.load(size, I64)) as k:
        t = fb.load(fb.byte_at(entry(fb, base, k), 8), PTR)
        pending = fb.get(t, "grad_pending")
        fb.put(t, "grad_pending", NULL)
        fb.call("trt_decref", pending)
        fb.call("trt_decref", t)
    b.store(c64(0), size)
    fb.ret()


# -- gradients -------------------------------------------------------------------------------------------

def _emit_add(em: Emitter) -> None:
    """Internal `ptr trt_grad_add(ctx, acc, g)`: acc + g. Takes over the caller's reference to acc and
    gives one to the sum: acc itself (added in place) when nothing else can see its data (refcount 1, not
    a view, not borrowed), else a new tensor (acc released). On failure: null, acc still the caller's."""
    fb = em.define("trt_grad_add", PTR, [PTR, PTR, PTR], public=False)
    ctx, acc, g = fb.args
    b = fb.b
    dtype = fb.get(acc, "dtype")
    ok = b.and_(b.icmp_signed("==", fb.get(acc, "numel"), fb.get(g, "numel")),
                b.icmp_signed("==", dtype, fb.get(g, "dtype")))
    with fb.if_then(b.not_(b.and_(ok, _is_float(fb, dtype))), likely=False):
        emit_error(fb, INTERNAL, "internal: adding a gradient of shape %s (%s) to one of shape %s (%s)",
                   shape_text(fb, g), _dtype_name(fb, fb.get(g, "dtype")), shape_text(fb, acc),
                   _dtype_name(fb, dtype))
        fb.ret(NULL)
    alone = b.and_(b.icmp_signed("==", fb.get(acc, "refcount"), c64(1)),
                   b.and_(fb.is_null(fb.get(acc, "base")), b.icmp_signed("==", fb.get(acc, "owner"), c64(0))))
    n = fb.get(acc, "numel")
    with fb.if_then(alone):
        _dispatch(fb, dtype, "trt_kgrad_add_", fb.get(acc, "data"), fb.get(acc, "data"), fb.get(g, "data"), n)
        fb.ret(acc)
    out = fb.call("trt_tensor_new", ctx, dtype, fb.get(acc, "rank"), _shape_of(fb, acc))
    fb.ret_if(fb.is_null(out), NULL)
    _dispatch(fb, dtype, "trt_kgrad_add_", fb.get(out, "data"), fb.get(acc, "data"), fb.get(g, "data"), n)
    fb.call("trt_decref", acc)
    fb.ret(out)


def _emit_accumulate(em: Emitter, running) -> None:
    fb = em.define("trt_grad_accumulate", I32, [PTR, PTR, PTR])
    ctx, t, g = fb.args
    b = fb.b
    with fb.if_then(b.icmp_signed("==", fb.load(running, I8), c8(0)), likely=False):
        emit_error(fb, INTERNAL, "internal: gradient accumulated outside backward")
        fb.ret(c32(1))
    fb.ret_if(fb.is_null(t), c32(0))
    fb.ret_if(b.not_(_flag(fb, t, RG)), c32(0))
    with fb.if_then(fb.is_null(g), likely=False):
        emit_error(fb, INTERNAL, "internal: a null gradient for a tensor of shape %s", shape_text(fb, t))
        fb.ret(c32(1))
    # a TernaryTensor's gradient is the float32 gradient of its value (trit × scale)
    ternary = b.and_(b.icmp_signed("==", fb.get(t, "dtype"), c32(layout.TRIT)),
                     b.icmp_signed("==", fb.get(g, "dtype"), c32(layout.FLOAT32)))
    ok = b.and_(b.icmp_signed("==", fb.get(t, "numel"), fb.get(g, "numel")),
                b.or_(b.icmp_signed("==", fb.get(t, "dtype"), fb.get(g, "dtype")), ternary))
    with fb.if_then(b.not_(ok), likely=False):
        emit_error(fb, INTERNAL, "internal: a gradient of shape %s (%s) for a tensor of shape %s (%s)",
                   shape_text(fb, g), _dtype_name(fb, fb.get(g, "dtype")), shape_text(fb, t),
                   _dtype_name(fb, fb.get(t, "dtype")))
        fb.ret(c32(1))
    # Same numel, another shape (a flattened gradient): a view with t's shape, so .grad has t's shape.
    own = fb.var(PTR, g)
    with fb.if_else(_same_shape(fb, t, g)) as (same, other):
        with same:
            fb.call("trt_incref", g)
        with other:
            v = fb.call("trt_view", ctx, g, fb.get(t, "rank"), _shape_of(fb, t))
            fb.ret_if(fb.is_null(v), c32(1))
            b.store(v, own)
    mine = fb.load(own, PTR)
    pending = fb.get(t, "grad_pending")
    with fb.if_then(fb.is_null(pending)):
        fb.put(t, "grad_pending", mine)
        fb.call("trt_incref", t)
        with fb.if_then(b.icmp_signed("!=", fb.call("trt_bw_push", ctx, t), c32(0)), likely=False):
            fb.put(t, "grad_pending", NULL)
            fb.call("trt_decref", mine)
            fb.call("trt_decref", t)
            fb.ret(c32(1))
        fb.ret(c32(0))
    total = fb.call("trt_grad_add", ctx, pending, mine)
    fb.call("trt_decref", mine)
    fb.ret_if(fb.is_null(total), c32(1))
    fb.put(t, "grad_pending", total)
    fb.ret(c32(0))


def _emit_backward(em: Emitter, running, mode) -> None:
    # The grad mode while a backward runs is off (nodes and hooks compute gradients without recording
    # them); the caller's mode is kept here and restored when the backward ends.
    saved = em.global_var("trt_bw_saved_mode", I8, 1)

    # Internal: a backward failed with t popped and its gradient G held: release them and the worklist.
    fb = em.define("trt_bw_abort", VOID, [PTR, PTR], public=False)
    g, t = fb.args
    fb.call("trt_decref", g)
    fb.call("trt_decref", t)
    fb.call("trt_bw_drain")
    fb.b.store(c8(0), running)
    fb.b.store(fb.load(saved, I8), mode)
    fb.ret()

    fb = em.define("trt_backward", I32, [PTR, PTR, PTR])
    ctx, loss, grad = fb.args
    b = fb.b
    with fb.if_then(b.icmp_signed("!=", fb.load(running, I8), c8(0)), likely=False):
        emit_error(fb, layout.ERR_RUNTIME, "backward called during backward is not supported")
        fb.ret(c32(1))
    with fb.if_then(b.or_(fb.is_null(loss), b.not_(_flag(fb, loss, RG))), likely=False):
        emit_error(fb, layout.ERR_VALUE, "backward: the tensor does not require grad (nothing it was "
                   "computed from has requires_grad=true)")
        fb.ret(c32(1))
    own = fb.var(PTR, NULL)
    with fb.if_else(fb.is_null(grad)) as (implicit, given):
        with implicit:
            n = fb.get(loss, "numel")
            with fb.if_then(b.icmp_signed("!=", n, c64(1)), likely=False):
                emit_error(fb, layout.ERR_VALUE, "backward: grad can be implicitly created only for a tensor "
                           "of one element; pass backward(y, grad)")
                fb.ret(c32(1))
            ones = fb.call("trt_tensor_new", ctx, fb.get(loss, "dtype"), fb.get(loss, "rank"),
                           _shape_of(fb, loss))
            fb.ret_if(fb.is_null(ones), c32(1))
            fb.call("trt_store_f64", ctx, ones, c64(0), ir.Constant(F64, 1.0))
            b.store(ones, own)
        with given:
            with fb.if_then(b.not_(_same_shape(fb, grad, loss)), likely=False):
                emit_error(fb, layout.ERR_SHAPE, "backward: grad of shape %s does not match the tensor's "
                           "shape %s", shape_text(fb, grad), shape_text(fb, loss))
                fb.ret(c32(1))
            gd, ld = fb.get(grad, "dtype"), fb.get(loss, "dtype")
            with fb.if_then(b.and_(b.icmp_signed("!=", gd, ld), b.icmp_signed("==", gd, c32(layout.TRIT))),
                            likely=False):
                emit_error(fb, layout.ERR_TYPE, "backward: grad is a trit tensor; the tensor is %s",
                           _dtype_name(fb, ld))
                fb.ret(c32(1))
            conv = fb.call("trt_cast", ctx, grad, ld)  # same dtype: a new reference to grad
            fb.ret_if(fb.is_null(conv), c32(1))
            b.store(conv, own)
    b.store(c8(1), running)
    b.store(fb.load(mode, I8), saved)
    b.store(c8(0), mode)
    fb.call("trt_decref", fb.get(loss, "grad_pending"))  # none outside a backward; be safe
    fb.put(loss, "grad_pending", fb.load(own, PTR))
    fb.call("trt_incref", loss)
    with fb.if_then(b.icmp_signed("!=", fb.call("trt_bw_push", ctx, loss), c32(0)), likely=False):
        pend = fb.get(loss, "grad_pending")
        fb.put(loss, "grad_pending", NULL)
        fb.call("trt_bw_abort", pend, loss)
        fb.ret(c32(1))

    def failed():
        return b.icmp_signed("!=", fb.get(ctx, "code"), c32(0))

    gslot = fb.var(PTR, NULL)
    with _While(fb) as w:
        t = fb.call("trt_bw_pop")
        with fb.if_then(fb.is_null(t)):
            w.brk()
        b.store(fb.get(t, "grad_pending"), gslot)
        fb.put(t, "grad_pending", NULL)
        # hooks, in registration order; each may replace the gradient
        h = fb.var(PTR, fb.get(t, "hooks"))
        with _While(fb) as hw:
            cur = fb.load(h, PTR)
            with fb.if_then(fb.is_null(cur)):
                hw.brk()
            code, env = fb.load(cur, PTR), fb.load(fb.byte_at(cur, 8), PTR)
            gv = fb.load(gslot, PTR)
            r = fb.call_ptr(code, PTR, [PTR, PTR, PTR], [ctx, env, gv])
            with fb.if_then(failed(), likely=False):
                fb.call("trt_decref", r)
                fb.call("trt_bw_abort", gv, t)
                fb.ret(c32(1))
            with fb.if_then(b.not_(fb.is_null(r))):
                same_dtype = b.icmp_signed("==", fb.get(r, "dtype"), fb.get(gv, "dtype"))
                ok = b.and_(_same_shape(fb, r, gv), same_dtype)
                with fb.if_then(b.not_(ok), likely=False):
                    emit_error(fb, layout.ERR_SHAPE, "register_hook: a hook returned a gradient of shape %s "
                               "(%s) for a gradient of shape %s (%s)", shape_text(fb, r),
                               _dtype_name(fb, fb.get(r, "dtype")), shape_text(fb, gv),
                               _dtype_name(fb, fb.get(gv, "dtype")))
                    fb.call("trt_decref", r)
                    fb.call("trt_bw_abort", gv, t)
                    fb.ret(c32(1))
                fb.call("trt_decref", gv)
                b.store(r, gslot)
            b.store(fb.load(fb.byte_at(cur, 16), PTR), h)
        gv = fb.load(gslot, PTR)
        node = fb.get(t, "tape_node")
        with fb.if_else(fb.is_null(node)) as (no_node, has_node):
            with has_node:
                code, env = fb.load(node, PTR), fb.load(fb.byte_at(node, 8), PTR)
                with fb.if_then(b.not_(fb.is_null(code))):
                    fb.call_ptr(code, VOID, [PTR, PTR, PTR], [ctx, env, gv])
                with fb.if_then(failed(), likely=False):
                    fb.call("trt_bw_abort", gv, t)
                    fb.ret(c32(1))
                # the graph is freed as the backward goes (a second backward through it is an error)
                fb.put(t, "tape_node", NULL)
                fb.call("free", node)
                fb.call("trt_obj_decref", env)
            with no_node:
                with fb.if_then(b.not_(_flag(fb, t, LEAF)), likely=False):
                    emit_error(fb, layout.ERR_VALUE, "backward: trying to backward through the graph a "
                               "second time (the first backward freed it)")
                    fb.call("trt_bw_abort", gv, t)
                    fb.ret(c32(1))
                old = fb.get(t, "grad")
                with fb.if_else(fb.is_null(old)) as (first, again):
                    with first:
                        fb.call("trt_incref", gv)
                        fb.put(t, "grad", gv)
                    with again:
                        total = fb.call("trt_grad_add", ctx, old, gv)
                        with fb.if_then(fb.is_null(total), likely=False):
                            fb.call("trt_bw_abort", gv, t)
                            fb.ret(c32(1))
                        fb.put(t, "grad", total)
        fb.call("trt_decref", gv)
        fb.call("trt_decref", t)
    b.store(c8(0), running)
    b.store(fb.load(saved, I8), mode)
    fb.ret(c32(0))


# -- recording -------------------------------------------------------------------------------------------

def _emit_tape(em: Emitter) -> None:
    counter = em.global_var("trt_grad_counter", I64, 0)

    fb = em.define("trt_tape_attach", PTR, [PTR, PTR, PTR, PTR])
    ctx, out, code, env = fb.args
    b = fb.b
    tslot = fb.var(PTR, out)
    reuse = b.and_(b.icmp_signed("==", fb.get(out, "refcount"), c64(1)),
                   b.and_(fb.is_null(fb.get(out, "tape_node")), b.not_(_flag(fb, out, RG))))
    with fb.if_else(reuse) as (same, view):
        with same:
            fb.call("trt_incref", out)
        with view:
            v = fb.call("trt_view", ctx, out, fb.get(out, "rank"), _shape_of(fb, out))
            fb.ret_if(fb.is_null(v), NULL)
            b.store(v, tslot)
    t = fb.load(tslot, PTR)
    node = fb.call("malloc", c64(NODE_SIZE))
    with fb.if_then(fb.is_null(node), likely=False):
        emit_error(fb, layout.ERR_MEMORY, "out of memory recording an operation for backward")
        fb.call("trt_decref", t)
        fb.ret(NULL)
    b.store(code, node)
    b.store(env, fb.byte_at(node, 8))
    fb.call("trt_obj_incref", env)
    fb.put(t, "flags", b.and_(b.or_(fb.get(t, "flags"), c32(RG)), c32(~LEAF)))
    fb.put(t, "tape_node", node)
    seq = b.add(fb.load(counter, I64), c64(1))
    b.store(seq, counter)
    fb.put(t, "grad_seq", seq)
    _install_release(fb)
    fb.ret(t)

    fb = em.define("trt_register_hook", I32, [PTR, PTR, PTR, PTR])
    ctx, t, code, env = fb.args
    b = fb.b
    with fb.if_then(b.or_(fb.is_null(t), b.not_(_flag(fb, t, RG))), likely=False):
        emit_error(fb, layout.ERR_VALUE, "register_hook: the tensor does not require grad")
        fb.ret(c32(1))
    e = fb.call("malloc", c64(HOOK_SIZE))
    with fb.if_then(fb.is_null(e), likely=False):
        emit_error(fb, layout.ERR_MEMORY, "out of memory registering a hook")
        fb.ret(c32(1))
    b.store(code, e)
    b.store(env, fb.byte_at(e, 8))
    b.store(NULL, fb.byte_at(e, 16))
    fb.call("trt_obj_incref", env)
    at = fb.var(PTR, fb.field_ptr(t, "hooks"))  # the slot the new entry goes to: the list's end
    with _While(fb) as w:
        nxt = fb.load(fb.load(at, PTR), PTR)
        with fb.if_then(fb.is_null(nxt)):
            w.brk()
        b.store(fb.byte_at(nxt, 16), at)
    b.store(e, fb.load(at, PTR))
    _install_release(fb)
    fb.ret(c32(0))


def _emit_leaves(em: Emitter) -> None:
    fb = em.define("trt_detach", PTR, [PTR, PTR])
    ctx, t = fb.args
    with fb.if_then(fb.b.not_(_flag(fb, t, RG))):
        fb.call("trt_incref", t)
        fb.ret(t)
    # a fresh header sharing the data: flags 0, no node, grad or hooks
    fb.ret(fb.call("trt_view", ctx, t, fb.get(t, "rank"), _shape_of(fb, t)))

    fb = em.define("trt_set_requires_grad", PTR, [PTR, PTR, I8])
    ctx, t, on = fb.args
    b = fb.b
    with fb.if_then(b.icmp_signed("==", on, c8(0))):
        fb.ret(fb.call("trt_detach", ctx, t))
    with fb.if_then(b.not_(_is_float(fb, fb.get(t, "dtype"))), likely=False):
        emit_error(fb, layout.ERR_VALUE, "only floating-point tensors can require gradients")
        fb.ret(NULL)
    tslot = fb.var(PTR, t)
    reuse = b.and_(b.icmp_signed("==", fb.get(t, "refcount"), c64(1)), fb.is_null(fb.get(t, "tape_node")))
    with fb.if_else(reuse) as (same, view):
        with same:
            fb.call("trt_incref", t)
        with view:
            v = fb.call("trt_view", ctx, t, fb.get(t, "rank"), _shape_of(fb, t))
            fb.ret_if(fb.is_null(v), NULL)
            b.store(v, tslot)
    out = fb.load(tslot, PTR)
    fb.put(out, "flags", b.or_(fb.get(out, "flags"), c32(RG | LEAF)))
    fb.put(out, "grad_seq", 0)
    fb.ret(out)

    fb = em.define("trt_tensor_grad", PTR, [PTR, PTR])
    ctx, t = fb.args
    b = fb.b
    with fb.if_then(b.not_(_flag(fb, t, RG)), likely=False):
        emit_error(fb, layout.ERR_VALUE, "this tensor does not require grad, so it has no .grad (create it "
                   "with requires_grad=true)")
        fb.ret(NULL)
    with fb.if_then(b.not_(_flag(fb, t, LEAF)), likely=False):
        emit_error(fb, layout.ERR_VALUE,
                   ".grad of a non-leaf tensor is not kept (use register_hook to see it)")
        fb.ret(NULL)
    g = fb.get(t, "grad")
    with fb.if_then(fb.is_null(g)):
        fb.ret(fb.call("trt_tensor_zeros", ctx, fb.get(t, "dtype"), fb.get(t, "rank"), _shape_of(fb, t)))
    fb.call("trt_incref", g)
    fb.ret(g)

    fb = em.define("trt_zero_grad", VOID, [PTR])
    t = fb.args[0]
    fb.ret_if(fb.is_null(t))
    g = fb.get(t, "grad")
    fb.ret_if(fb.is_null(g))  # nothing to write (an immortal header's memory may be read-only)
    fb.put(t, "grad", NULL)
    fb.call("trt_decref", g)
    fb.ret()


def _emit_sum_to_shape(em: Emitter) -> None:
    fb = em.define("trt_sum_to_shape", PTR, [PTR, PTR, PTR])
    ctx, g, like = fb.args
    b = fb.b
    with fb.if_then(_same_shape(fb, g, like)):
        fb.call("trt_incref", g)
        fb.ret(g)
    dtype = fb.get(g, "dtype")
    with fb.if_then(b.not_(_is_float(fb, dtype)), likely=False):
        emit_error(fb, INTERNAL, "internal: sum_to_shape of a %s gradient", _dtype_name(fb, dtype))
        fb.ret(NULL)
    rg, rl = b.sext(fb.get(g, "rank"), I64), b.sext(fb.get(like, "rank"), I64)
    # like's contiguous strides
    lst = fb.var(ir.ArrayType(I64, layout.MAX_RANK))
    acc = fb.var(I64, c64(1))
    with fb.loop(0, rl) as j:
        ax = b.sub(b.sub(rl, c64(1)), j)
        b.store(fb.load(acc, I64), fb.at(lst, ax, I64))
        b.store(b.mul(fb.load(acc, I64), fb.dim(like, ax)), acc)
    # aligned from the last axis: like's dim must equal g's or be 1 (missing dims count as 1)
    r = fb.select(b.icmp_signed(">", rg, rl), rg, rl)
    ost = fb.var(ir.ArrayType(I64, layout.MAX_RANK))
    with fb.loop(0, r) as k:
        gi, li = b.sub(b.sub(rg, c64(1)), k), b.sub(b.sub(rl, c64(1)), k)
        gslot, lslot, sslot = fb.var(I64, c64(1)), fb.var(I64, c64(1)), fb.var(I64, c64(0))
        with fb.if_then(b.icmp_signed(">=", gi, c64(0))):
            b.store(fb.dim(g, gi), gslot)
        with fb.if_then(b.icmp_signed(">=", li, c64(0))):
            b.store(fb.dim(like, li), lslot)
            b.store(fb.load(fb.at(lst, li, I64), I64), sslot)
        gd, ld = fb.load(gslot, I64), fb.load(lslot, I64)
        with fb.if_then(b.not_(b.or_(b.icmp_signed("==", gd, ld), b.icmp_signed("==", ld, c64(1)))),
                        likely=False):
            emit_error(fb, layout.ERR_SHAPE, "cannot sum a gradient of shape %s to the shape %s",
                       shape_text(fb, g), shape_text(fb, like))
            fb.ret(NULL)
        with fb.if_then(b.icmp_signed(">=", gi, c64(0))):
            # summed axes (like has 1, or no such axis) do not move the output position
            stride = fb.select(b.icmp_signed("==", gd, ld), fb.load(sslot, I64), c64(0))
            b.store(stride, fb.at(ost, gi, I64))
    out = fb.call("trt_tensor_new", ctx, dtype, fb.get(like, "rank"), _shape_of(fb, like))
    fb.ret_if(fb.is_null(out), NULL)
    m = fb.get(out, "numel")
    buf = fb.call("malloc", b.mul(fb.select(b.icmp_signed("<", m, c64(1)), c64(1), m), c64(8)))
    with fb.if_then(fb.is_null(buf), likely=False):
        emit_error(fb, layout.ERR_MEMORY, "out of memory summing a gradient to shape %s",
                   shape_text(fb, like))
        fb.call("trt_decref", out)
        fb.ret(NULL)
    _dispatch(fb, dtype, "trt_ksum_to_", fb.get(out, "data"), fb.get(g, "data"), buf, m, fb.get(g, "rank"),
              _shape_of(fb, g), ost)
    fb.call("free", buf)
    fb.ret(out)


def _emit_copy_into(em: Emitter) -> None:
    fb = em.define("trt_copy_into", PTR, [PTR, PTR, PTR])
    ctx, dst, src = fb.args
    b = fb.b
    with fb.if_then(b.icmp_signed("!=", fb.get(dst, "numel"), fb.get(src, "numel")), likely=False):
        emit_error(fb, layout.ERR_SHAPE, "copy_: cannot copy a tensor of shape %s into a tensor of shape %s",
                   shape_text(fb, src), shape_text(fb, dst))
        fb.ret(NULL)
    with fb.if_then(b.icmp_signed("<", fb.get(dst, "refcount"), c64(0)), likely=False):
        emit_error(fb, layout.ERR_VALUE, "copy_: cannot write into a constant tensor")
        fb.ret(NULL)
    sd, dd = fb.get(src, "dtype"), fb.get(dst, "dtype")
    with fb.if_else(b.icmp_signed("==", sd, dd)) as (same, other):
        with same:
            with fb.if_then(b.icmp_signed("!=", fb.get(dst, "nbytes"), fb.get(src, "nbytes")), likely=False):
                emit_error(fb, layout.ERR_SHAPE, "copy_: cannot copy a packed tensor of shape %s into one of "
                           "shape %s", shape_text(fb, src), shape_text(fb, dst))
                fb.ret(NULL)
            fb.call("memmove", fb.get(dst, "data"), fb.get(src, "data"), fb.get(dst, "nbytes"))
        with other:
            trit = b.or_(b.icmp_signed("==", sd, c32(layout.TRIT)), b.icmp_signed("==", dd, c32(layout.TRIT)))
            with fb.if_then(trit, likely=False):
                emit_error(fb, layout.ERR_TYPE, "copy_: cannot copy a %s tensor into a %s tensor",
                           _dtype_name(fb, sd), _dtype_name(fb, dd))
                fb.ret(NULL)
            conv = fb.call("trt_cast", ctx, src, dd)
            fb.ret_if(fb.is_null(conv), NULL)
            fb.call("memcpy", fb.get(dst, "data"), fb.get(conv, "data"), fb.get(dst, "nbytes"))
            fb.call("trt_decref", conv)
    fb.call("trt_incref", dst)
    fb.ret(dst)


def emit(em: Emitter) -> None:
    running = em.global_var("trt_bw_running", I8, 0)
    _emit_kernels(em)
    mode = em.global_var("trt_grad_mode", I8, 1)
    _emit_mode(em, mode)
    _emit_release(em)
    _emit_heap(em)
    _emit_add(em)
    _emit_accumulate(em, running)
    _emit_backward(em, running, mode)
    _emit_tape(em)
    _emit_leaves(em)
    _emit_sum_to_shape(em)
    _emit_copy_into(em)
    _emit_ternary_scales(em)


def _emit_ternary_scales(em: Emitter) -> None:
    """`ptr trt_ternary_scale_tensor(ctx, w)`: the scales of a TernaryTensor as a float32 tensor that
    multiplies `g @ trits(w)ᵀ` (the gradient of `x @ w` w.r.t. x): [1] for one scale (1 without scales),
    [rows] per channel (axis 0). Asymmetric scales (+1 and -1 scaled apart) are not one product: an error."""
    fb = em.define("trt_ternary_scale_tensor", PTR, [PTR, PTR])
    ctx, w = fb.args
    b = fb.b
    kind, scales = fb.get(w, "scale_kind"), fb.get(w, "scales")
    with fb.if_then(b.icmp_signed("==", kind, c32(layout.SCALE_ASYMMETRIC)), likely=False):
        emit_error(fb, layout.ERR_VALUE, "the gradient of a matmul with asymmetric ternary scales is not "
                   "available yet (E0901)")
        fb.ret(NULL)
    with fb.if_then(b.not_(fb.is_null(scales))):
        fb.call("trt_incref", scales)
        fb.ret(scales)
    shape = fb.var(I64, c64(1))
    one = fb.call("trt_tensor_new", ctx, c32(layout.FLOAT32), c32(1), shape)
    fb.ret_if(fb.is_null(one), NULL)
    b.store(ir.Constant(F32, 1.0), fb.at(fb.get(one, "data"), c64(0), F32))
    fb.ret(one)
