"""The native autograd engine (runtime/rt_autograd.py), driven through ctypes on real tensor headers.

Nodes are ctypes callbacks `void (ctx, env, grad)` that compute their inputs' gradients with numpy and hand
them to `trt_grad_accumulate`, as generated node functions do; hooks are callbacks `ptr (ctx, env, grad)`.
"""

import ctypes

import numpy as np
import pytest

from triton_dsl.abi import layout
from triton_dsl.runtime import interop
from triton_dsl.runtime.errors import Context, TritonRuntimeError, raise_if_error

f = interop.func
NODE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
HOOK = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
DROP = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_CODES = {np.dtype(np.float16): layout.FLOAT16, np.dtype(np.float32): layout.FLOAT32,
          np.dtype(np.float64): layout.FLOAT64, np.dtype(np.int32): layout.INT32}
_keep = []  # callbacks must outlive the native code holding them


def field(t: int, name: str) -> int:
    off, ty = layout.TENSOR_FIELDS[name]
    ctype = {"i32": ctypes.c_int32, "i64": ctypes.c_int64}.get(str(ty), ctypes.c_void_p)
    return ctype.from_address(t + off).value or 0


def cptr(fn) -> int:
    _keep.append(fn)
    return ctypes.cast(fn, ctypes.c_void_p).value


@pytest.fixture
def ctx():
    c = Context()
    yield c
    assert c.code == 0, c.message  # every test consumed the errors it provoked


def call(ctx, name, *args):
    out = f(name)(ctypes.byref(ctx), *args)
    raise_if_error(ctx)
    return out


def expect_error(ctx, kind, text, name, *args):
    f(name)(ctypes.byref(ctx), *args)
    with pytest.raises(TritonRuntimeError) as info:
        raise_if_error(ctx)
    assert info.value.kind == layout.ERROR_KINDS[kind], info.value.message
    assert text in info.value.message, info.value.message
    return info.value.message


def tensor(arr) -> int:
    """A runtime-allocated header (not borrowed) holding a copy of arr."""
    arr = np.array(arr, order="C")  # (ascontiguousarray would make a rank-0 array rank 1)
    c = Context()
    h = f("trt_tensor_new")(ctypes.byref(c), _CODES[arr.dtype], arr.ndim, interop.dims(arr.shape))
    raise_if_error(c)
    if arr.nbytes:
        ctypes.memmove(interop.header(h).data, arr.ctypes.data, arr.nbytes)
    return h


def values(h: int) -> np.ndarray:
    return interop.from_header(h, steal=False).copy()


def decref(*hs):
    for h in hs:
        f("trt_decref")(h)


def leaf(ctx, arr) -> int:
    t = tensor(arr)
    out = call(ctx, "trt_set_requires_grad", t, 1)
    decref(t)
    return out


def grad_of(ctx, t) -> np.ndarray:
    g = call(ctx, "trt_tensor_grad", t)
    try:
        return values(g)
    finally:
        decref(g)


class Tape:
    """Records operations the way generated code does: value computed, then a node attached."""

    def __init__(self):
        self.calls = []  # (name, gradient received) in the order nodes ran

    def op(self, ctx, name, value, parts, env=None):
        """parts: [(input tensor, G -> input gradient)]."""
        def node(cp, envp, g):
            grad = values(g)
            self.calls.append((name, grad))
            for inp, fn in parts:
                gi = tensor(np.asarray(fn(grad), dtype=grad.dtype))
                rc = f("trt_grad_accumulate")(cp, inp, gi)
                decref(gi)
                if rc:
                    return
        out = tensor(value)
        t = call(ctx, "trt_tape_attach", out, cptr(NODE(node)), env)
        decref(out)
        return t


# -- grad mode and flags ---------------------------------------------------------------------------------

def test_grad_mode_and_flags(ctx):
    x = leaf(ctx, np.ones(3, np.float32))
    plain = tensor(np.ones(3, np.float32))
    assert f("trt_requires_grad")(x) == 1 and f("trt_requires_grad")(plain) == 0
    assert f("trt_requires_grad")(None) == 0
    assert f("trt_grad_needed")(x) == 1 and f("trt_grad_needed")(plain) == 0
    assert f("trt_grad_needed")(None) == 0
    assert f("trt_set_grad_enabled")(0) == 1
    assert f("trt_grad_needed")(x) == 0 and f("trt_requires_grad")(x) == 1
    assert f("trt_set_grad_enabled")(1) == 0
    assert f("trt_grad_needed")(x) == 1
    assert field(x, "flags") & 3 == 3 and field(x, "grad_seq") == 0 and field(x, "tape_node") == 0
    decref(x, plain)


def test_tape_attach_reuses_a_sole_reference_and_views_otherwise(ctx):
    out = tensor(np.arange(4, dtype=np.float32))
    t = call(ctx, "trt_tape_attach", out, cptr(NODE(lambda *a: None)), None)
    assert t == out and field(t, "refcount") == 2
    assert field(t, "flags") & 3 == 1 and field(t, "tape_node") != 0
    seq1 = field(t, "grad_seq")
    shared = tensor(np.arange(4, dtype=np.float32))
    f("trt_incref")(shared)  # someone else holds it: attach must not change its header
    v = call(ctx, "trt_tape_attach", shared, cptr(NODE(lambda *a: None)), None)
    assert v != shared and field(v, "data") == field(shared, "data") and field(v, "base") == shared
    assert field(shared, "flags") & 1 == 0 and field(shared, "tape_node") == 0
    assert field(v, "grad_seq") == seq1 + 1 and seq1 >= 1
    np.testing.assert_array_equal(values(v), np.arange(4))
    decref(t, out, v, shared, shared)


# -- sum_to_shape ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("gshape,like", [((2, 3, 4), (3, 4)), ((2, 3, 4), (2, 1, 4)), ((2, 3, 4), (1, 3, 1)),
                                         ((5, 3), ()), ((4, 1, 3), (1, 3)), ((2, 3), (1,)), ((3,), (1, 3)),
                                         ((0, 3), (3,))])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_sum_to_shape_matches_numpy(ctx, gshape, like, dtype):
    rng = np.random.default_rng(0)
    g = rng.standard_normal(gshape).astype(dtype)
    gh, lh = tensor(g), tensor(np.zeros(like, dtype))
    out = call(ctx, "trt_sum_to_shape", gh, lh)
    got = values(out)
    lead = len(gshape) - len(like)
    want = g.astype(np.float64)
    if lead > 0:
        want = want.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, d in enumerate(like[max(0, -lead):]) if d == 1 and want.shape[i] != 1)
    want = want.sum(axis=axes, keepdims=True).reshape(like)
    assert got.shape == like and got.dtype == dtype
    np.testing.assert_allclose(got.astype(np.float64), want, rtol=2e-3 if dtype == np.float16 else 1e-6,
                               atol=2e-2 if dtype == np.float16 else 1e-9)
    decref(gh, lh, out)


def test_sum_to_shape_equal_shapes_is_the_same_tensor(ctx):
    g = tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    like = tensor(np.zeros((2, 3), np.float32))
    out = call(ctx, "trt_sum_to_shape", g, like)
    assert out == g and field(g, "refcount") == 2
    decref(out, g, like)


def test_sum_to_shape_incompatible_names_both_shapes(ctx):
    g, like = tensor(np.zeros((2, 3), np.float32)), tensor(np.zeros((2,), np.float32))
    msg = expect_error(ctx, layout.ERR_SHAPE, "[2, 3]", "trt_sum_to_shape", g, like)
    assert "[2]" in msg
    decref(g, like)


# -- backward --------------------------------------------------------------------------------------------

def test_leaf_gradient_accumulates_across_backwards(ctx):
    x = leaf(ctx, np.array([1.0, 2.0, 3.0], np.float32))
    for expected in (3.0, 6.0):
        tape = Tape()
        y = tape.op(ctx, "mul3", values(x) * 3, [(x, lambda g: 3 * g)])
        grad = tensor(np.ones(3, np.float32))
        assert call(ctx, "trt_backward", y, grad) == 0
        np.testing.assert_array_equal(grad_of(ctx, x), np.full(3, expected, np.float32))
        assert field(y, "tape_node") == 0  # the graph is freed by backward
        decref(y, grad)
    # .grad has refcount 1 again: the next accumulation is in place (the same tensor)
    before = field(x, "grad")
    tape = Tape()
    y = tape.op(ctx, "mul3", values(x) * 3, [(x, lambda g: 3 * g)])
    grad = tensor(np.ones(3, np.float32))
    call(ctx, "trt_backward", y, grad)
    assert field(x, "grad") == before
    np.testing.assert_array_equal(grad_of(ctx, x), np.full(3, 9.0, np.float32))
    f("trt_zero_grad")(x)
    assert field(x, "grad") == 0
    np.testing.assert_array_equal(grad_of(ctx, x), np.zeros(3, np.float32))  # zeros when none
    decref(y, grad, x)


def test_implicit_grad_of_a_scalar_loss(ctx):
    x = leaf(ctx, np.array([1.0, -2.0], np.float64))
    tape = Tape()
    loss = tape.op(ctx, "sumsq", np.array(5.0), [(x, lambda g: 2 * values(x) * g)])
    assert call(ctx, "trt_backward", loss, None) == 0
    assert tape.calls[0][1] == 1.0 and tape.calls[0][1].dtype == np.float64
    np.testing.assert_array_equal(grad_of(ctx, x), [2.0, -4.0])
    decref(loss, x)


def test_diamond_runs_the_shared_node_once_with_the_summed_gradient(ctx):
    x = leaf(ctx, np.array([1.0, 2.0], np.float32))
    tape = Tape()
    a = tape.op(ctx, "a", values(x) * 2, [(x, lambda g: 2 * g)])
    b = tape.op(ctx, "b", values(a) * 3, [(a, lambda g: 3 * g)])
    c = tape.op(ctx, "c", values(a) * 5, [(a, lambda g: 5 * g)])
    d = tape.op(ctx, "d", values(b) + values(c), [(b, lambda g: g), (c, lambda g: g)])
    grad = tensor(np.array([1.0, 10.0], np.float32))
    call(ctx, "trt_backward", d, grad)
    names = [n for n, _ in tape.calls]
    assert names == ["d", "c", "b", "a"]  # highest creation order first; a once
    np.testing.assert_array_equal(dict(tape.calls)["a"], [8.0, 80.0])  # 3*g + 5*g
    np.testing.assert_array_equal(grad_of(ctx, x), [16.0, 160.0])
    decref(a, b, c, d, grad, x)


@pytest.mark.parametrize("dtype", [np.float16, np.float64])
def test_summed_gradients_in_other_float_dtypes(ctx, dtype):
    x = leaf(ctx, np.array([0.5, 1.5], dtype))
    for _ in range(2):
        tape = Tape()
        a = tape.op(ctx, "a", values(x), [(x, lambda g: g * 0.5), (x, lambda g: g * 0.25)])
        grad = tensor(np.array([1.0, 2.0], dtype))
        call(ctx, "trt_backward", a, grad)
        decref(a, grad)
    got = grad_of(ctx, x)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, np.array([1.5, 3.0], dtype))
    decref(x)


def test_inputs_used_twice_and_flattened_gradients(ctx):
    x = leaf(ctx, np.ones((2, 2), np.float32))
    tape = Tape()
    # y = x + x, the node hands flat (4,) gradients: .grad keeps x's shape
    y = tape.op(ctx, "add", values(x) * 2, [(x, lambda g: g.reshape(-1)), (x, lambda g: g.reshape(-1))])
    grad = tensor(np.arange(4, dtype=np.float32).reshape(2, 2))
    call(ctx, "trt_backward", y, grad)
    got = grad_of(ctx, x)
    assert got.shape == (2, 2)
    np.testing.assert_array_equal(got, 2 * np.arange(4).reshape(2, 2))
    decref(y, grad, x)


def test_hooks_replace_the_gradient_in_registration_order(ctx):
    x = leaf(ctx, np.array([1.0, 1.0], np.float32))
    tape = Tape()
    a = tape.op(ctx, "a", values(x), [(x, lambda g: g)])
    seen = []

    def times10(cp, envp, g):
        seen.append(("times10", values(g)))
        return tensor(values(g) * 10)

    def watch(cp, envp, g):
        seen.append(("watch", values(g)))
        return None

    call(ctx, "trt_register_hook", a, cptr(HOOK(times10)), None)
    call(ctx, "trt_register_hook", a, cptr(HOOK(watch)), None)
    call(ctx, "trt_register_hook", x, cptr(HOOK(lambda cp, e, g: tensor(values(g) + 1))), None)
    grad = tensor(np.array([1.0, 2.0], np.float32))
    call(ctx, "trt_backward", a, grad)
    assert [n for n, _ in seen] == ["times10", "watch"]
    np.testing.assert_array_equal(seen[1][1], [10.0, 20.0])
    np.testing.assert_array_equal(tape.calls[0][1], [10.0, 20.0])  # the node got the replaced gradient
    np.testing.assert_array_equal(grad_of(ctx, x), [11.0, 21.0])  # the leaf's hook ran before .grad
    decref(a, grad, x)


def test_hook_returning_a_wrong_shape_is_an_error(ctx):
    x = leaf(ctx, np.ones(2, np.float32))
    call(ctx, "trt_register_hook", x, cptr(HOOK(lambda cp, e, g: tensor(np.ones(3, np.float32)))), None)
    tape = Tape()
    a = tape.op(ctx, "a", values(x), [(x, lambda g: g)])
    grad = tensor(np.ones(2, np.float32))
    msg = expect_error(ctx, layout.ERR_SHAPE, "register_hook", "trt_backward", a, grad)
    assert "[3]" in msg and "[2]" in msg
    assert field(x, "grad") == 0
    decref(a, grad, x)


# -- errors ----------------------------------------------------------------------------------------------

def test_backward_errors(ctx):
    plain = tensor(np.ones(1, np.float32))
    expect_error(ctx, layout.ERR_VALUE, "does not require grad", "trt_backward", plain, None)
    x = leaf(ctx, np.ones(3, np.float32))
    tape = Tape()
    y = tape.op(ctx, "y", values(x), [(x, lambda g: g)])
    expect_error(ctx, layout.ERR_VALUE, "grad can be implicitly created only for a tensor of one element",
                 "trt_backward", y, None)
    wrong = tensor(np.ones(2, np.float32))
    msg = expect_error(ctx, layout.ERR_SHAPE, "[2]", "trt_backward", y, wrong)
    assert "[3]" in msg
    g64 = tensor(np.full(3, 2.0, np.float64))  # another float dtype is converted
    call(ctx, "trt_backward", y, g64)
    np.testing.assert_array_equal(grad_of(ctx, x), [2.0, 2.0, 2.0])
    expect_error(ctx, layout.ERR_VALUE, "backward through the graph a second time", "trt_backward", y, g64)
    np.testing.assert_array_equal(grad_of(ctx, x), [2.0, 2.0, 2.0])  # unchanged by the failed one
    expect_error(ctx, layout.ERR_VALUE, ".grad of a non-leaf tensor is not kept", "trt_tensor_grad", y)
    expect_error(ctx, layout.ERR_VALUE, "has no .grad", "trt_tensor_grad", plain)
    expect_error(ctx, layout.ERR_VALUE, "register_hook: the tensor does not require grad",
                 "trt_register_hook", plain, cptr(HOOK(lambda *a: None)), None)
    ints = tensor(np.ones(2, np.int32))
    expect_error(ctx, layout.ERR_VALUE, "only floating-point tensors can require gradients",
                 "trt_set_requires_grad", ints, 1)
    expect_error(ctx, layout.ERR_RUNTIME, "outside backward", "trt_grad_accumulate", x, g64)
    decref(plain, x, y, wrong, g64, ints)


def test_a_failing_node_stops_backward_and_releases_the_worklist(ctx):
    x = leaf(ctx, np.ones(2, np.float32))
    tape = Tape()
    a = tape.op(ctx, "a", values(x), [(x, lambda g: g)])
    b = tape.op(ctx, "b", values(x), [(x, lambda g: g)])

    def fail(cp, envp, g):
        f("trt_set_error")(cp, layout.ERR_VALUE, b"node failed")

    out = tensor(np.ones(2, np.float32))
    c = call(ctx, "trt_tape_attach", out, cptr(NODE(fail)), None)
    decref(out)
    # d depends on a, b, c; c fails after d ran: a and b are on the worklist holding gradients
    d = tape.op(ctx, "d", values(x), [(a, lambda g: g), (b, lambda g: g), (c, lambda g: g)])
    grad = tensor(np.ones(2, np.float32))
    rc_a, rc_b = field(a, "refcount"), field(b, "refcount")
    expect_error(ctx, layout.ERR_VALUE, "node failed", "trt_backward", d, grad)
    assert [n for n, _ in tape.calls] == ["d"]
    assert (field(a, "refcount"), field(b, "refcount")) == (rc_a, rc_b)
    assert field(a, "grad_pending") == 0 and field(b, "grad_pending") == 0
    assert field(a, "tape_node") != 0  # not run: still recorded
    # the engine is idle again: a backward from a works
    call(ctx, "trt_backward", a, grad)
    np.testing.assert_array_equal(grad_of(ctx, x), [1.0, 1.0])
    decref(a, b, c, d, grad, x)


def test_grad_mode_is_off_while_backward_runs(ctx):
    x = leaf(ctx, np.ones(1, np.float32))
    seen = []
    y = Tape().op(ctx, "y", values(x), [(x, lambda g: seen.append(f("trt_grad_needed")(x)) or g)])
    call(ctx, "trt_backward", y, None)
    assert seen == [0] and f("trt_grad_needed")(x) == 1
    # also restored after a failed backward, and a disabled mode stays disabled
    assert f("trt_set_grad_enabled")(0) == 1
    expect_error(ctx, layout.ERR_VALUE, "second time", "trt_backward", y, None)
    assert f("trt_set_grad_enabled")(1) == 0
    decref(y, x)


def test_backward_inside_backward_is_refused(ctx):
    x = leaf(ctx, np.ones(1, np.float32))
    inner = []

    def node(cp, envp, g):
        c2 = Context()
        inner.append(f("trt_backward")(ctypes.byref(c2), x, None))
        inner.append(c2.message.decode())

    out = tensor(np.ones(1, np.float32))
    y = call(ctx, "trt_tape_attach", out, cptr(NODE(node)), None)
    decref(out)
    call(ctx, "trt_backward", y, None)
    assert inner == [1, "backward called during backward is not supported"]
    decref(y, x)


# -- detach, requires_grad, copy_ --------------------------------------------------------------------------

def test_detach_and_set_requires_grad(ctx):
    plain = tensor(np.arange(3, dtype=np.float32))
    same = call(ctx, "trt_detach", plain)
    assert same == plain and field(plain, "refcount") == 2
    decref(same)
    x = call(ctx, "trt_set_requires_grad", plain, 1)  # sole reference: the same header
    assert x == plain and field(x, "flags") & 3 == 3
    decref(plain)  # x holds it now
    d = call(ctx, "trt_detach", x)
    assert d != x and field(d, "data") == field(x, "data") and field(d, "flags") & 3 == 0
    assert field(d, "grad") == 0 and field(d, "tape_node") == 0 and field(d, "hooks") == 0
    np.testing.assert_array_equal(values(d), [0, 1, 2])
    f("trt_incref")(d)  # shared: a new leaf view, d itself unchanged
    x2 = call(ctx, "trt_set_requires_grad", d, 1)
    assert x2 != d and field(x2, "flags") & 3 == 3 and field(d, "flags") & 3 == 0
    off = call(ctx, "trt_set_requires_grad", x2, 0)
    assert off != x2 and field(off, "flags") & 3 == 0 and field(off, "data") == field(x, "data")
    decref(d, d, x2, off, x)


def test_copy_into_writes_through_every_view(ctx):
    dst = leaf(ctx, np.zeros((2, 3), np.float32))
    view = call(ctx, "trt_reshape", dst, 1, interop.dims((6,)))
    src = tensor(np.arange(6, dtype=np.float64).reshape(3, 2))  # same numel, other dtype: converted
    flags = field(dst, "flags")
    out = call(ctx, "trt_copy_into", dst, src)
    assert out == dst and field(dst, "refcount") == 3  # dst, the view's base ref, out
    np.testing.assert_array_equal(values(dst), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(values(view), np.arange(6))
    assert field(dst, "flags") == flags and field(dst, "grad") == 0
    same = tensor(np.full(6, 7.0, np.float32))
    decref(call(ctx, "trt_copy_into", view, same))
    np.testing.assert_array_equal(values(dst), np.full((2, 3), 7.0))
    bad = tensor(np.zeros(5, np.float32))
    msg = expect_error(ctx, layout.ERR_SHAPE, "[5]", "trt_copy_into", dst, bad)
    assert "[2, 3]" in msg
    decref(out, view, src, same, bad, dst)


# -- freeing ---------------------------------------------------------------------------------------------

class TypeDesc(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("drop", ctypes.c_void_p), ("size", ctypes.c_int64),
                ("elem_retain", ctypes.c_void_p), ("elem_release", ctypes.c_void_p), ("kind", ctypes.c_int32),
                ("count", ctypes.c_int32), ("print", ctypes.c_void_p)]


assert ctypes.sizeof(TypeDesc) == layout.TYPE_SIZE
DROPPED = []


def _drop(obj):
    DROPPED.append(obj)
    decref(ctypes.c_void_p.from_address(obj + layout.OBJ_HEADER_SIZE).value)  # the captured tensor


ENV_TYPE = TypeDesc(b"env", cptr(DROP(_drop)), layout.OBJ_HEADER_SIZE + 8, None, None, layout.KIND_ENV, 1,
                    None)


def env_holding(ctx, t) -> int:
    """A closure environment object capturing tensor t (a new reference)."""
    env = call(ctx, "trt_obj_new", ctypes.addressof(ENV_TYPE), layout.OBJ_HEADER_SIZE + 8)
    f("trt_incref")(t)
    ctypes.c_void_p.from_address(env + layout.OBJ_HEADER_SIZE).value = t
    return env


def test_freeing_a_recorded_tensor_frees_its_node_env_and_hooks(ctx):
    live = f("trt_obj_live")()
    x = leaf(ctx, np.ones(2, np.float32))
    # a chain x -> a -> b -> c, each node's env capturing its input; hooks with envs on b
    tape, prev = Tape(), x
    chain = []
    for name in "abc":
        env = env_holding(ctx, prev)
        t = tape.op(ctx, name, values(prev), [(prev, lambda g: g)], env=env)
        f("trt_obj_decref")(env)  # the node holds it now
        if prev is not x:
            decref(prev)  # only the env keeps it
        chain.append(t)
        prev = t
    hook_env = env_holding(ctx, x)
    call(ctx, "trt_register_hook", chain[-1], cptr(HOOK(lambda *a: None)), hook_env)
    f("trt_obj_decref")(hook_env)
    assert f("trt_obj_live")() == live + 4
    DROPPED.clear()
    rc_x = field(x, "refcount")
    decref(chain[-1])  # c dies: its node and hook release b, which releases a, ...
    assert len(DROPPED) == 4 and f("trt_obj_live")() == live
    assert field(x, "refcount") == rc_x - 2  # a's env and the hook env held it
    decref(x)


def test_backward_frees_nodes_as_it_goes(ctx):
    live = f("trt_obj_live")()
    x = leaf(ctx, np.ones(2, np.float32))
    env = env_holding(ctx, x)
    tape = Tape()
    y = tape.op(ctx, "y", values(x), [(x, lambda g: 2 * g)], env=env)
    f("trt_obj_decref")(env)
    assert f("trt_obj_live")() == live + 1
    grad = tensor(np.ones(2, np.float32))
    call(ctx, "trt_backward", y, grad)
    assert f("trt_obj_live")() == live and field(y, "tape_node") == 0
    np.testing.assert_array_equal(grad_of(ctx, x), [2.0, 2.0])
    decref(y, grad, x)


def test_many_nodes_keep_their_order(ctx):
    # a long chain with side branches exercises the worklist's heap (growth past 64 entries)
    x = leaf(ctx, np.ones(1, np.float64))
    tape = Tape()
    tensors, prev = [], x
    for i in range(200):
        t = tape.op(ctx, i, values(prev) * 1, [(prev, lambda g: g), (x, lambda g: g)])
        tensors.append(t)
        prev = t
    order = np.random.default_rng(1).permutation(len(tensors))  # pushed in random seq order
    total = tape.op(ctx, "sum", np.zeros(1), [(tensors[i], lambda g: g) for i in order])
    call(ctx, "trt_backward", total, None)
    assert [n for n, _ in tape.calls] == ["sum", *range(199, -1, -1)]
    # node i receives 200 - i (its own term plus every later chain node's)
    assert all(g[0] == 200 - n for n, g in tape.calls[1:])
    np.testing.assert_array_equal(grad_of(ctx, x), [200.0 + sum(200 - i for i in range(200))])
    decref(total, *tensors, x)
