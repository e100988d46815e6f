"""Autodiff end to end: DSL programs' gradients against hand-computed values and finite differences.

In: small DSL functions compiled with `triton_dsl.compile`, differentiated from Python with
`triton_dsl.value_and_grad`, and programs run through `tritonc run`. Out: gradients equal to numpy
formulas (float64 code: to 1e-9; float32: to 1e-5 relative) for every rule of the table in
docs/autodiff.md, broadcasting undone, accumulation across `backward` calls, `zero_grad`, `stop_gradient`,
no_grad, hooks, the errors (no grad, second backward, non-leaf .grad, a rule not built yet), and memory
flat over many training steps.
"""

from __future__ import annotations

import numpy as np
import pytest

import triton_dsl
from triton_dsl import TritonRuntimeError, value_and_grad

RNG = np.random.default_rng(7)


def _fd(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of a float64 scalar function."""
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f(x)
        flat[i] = old - eps
        down = f(x)
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return g


UNARY = ["exp", "log", "sqrt", "tanh", "sigmoid", "sin", "cos", "abs", "relu"]


@pytest.fixture(scope="module")
def unary_module():
    fns = "\n".join(f"fn u_{n}(x: Tensor<float64, [?]>) -> float64 {{ return sum({n}(x) * x) }}"
                    for n in UNARY)
    return triton_dsl.compile(fns)


@pytest.mark.parametrize("name", UNARY)
def test_unary_rules_match_finite_differences(unary_module, name):
    x = RNG.uniform(0.2, 2.0, size=7) * RNG.choice([-1.0, 1.0], size=7)
    if name in ("log", "sqrt"):
        x = np.abs(x)
    fn = getattr(unary_module, f"u_{name}")
    value, grad = value_and_grad(fn)(x)
    assert value == pytest.approx(float(fn(x)))
    np.testing.assert_allclose(grad, _fd(lambda v: float(fn(v)), x.copy()), rtol=1e-6, atol=1e-8)


BINARY_SOURCE = """
fn b_add(a: Tensor<float64, [?]>, b: Tensor<float64, [?]>) -> float64 { return sum((a + b) * a) }
fn b_sub(a: Tensor<float64, [?]>, b: Tensor<float64, [?]>) -> float64 { return sum((a - b) * a) }
fn b_mul(a: Tensor<float64, [?]>, b: Tensor<float64, [?]>) -> float64 { return sum(a * b * b) }
fn b_div(a: Tensor<float64, [?]>, b: Tensor<float64, [?]>) -> float64 { return sum(a / b) }
fn b_pow(a: Tensor<float64, [?]>, b: Tensor<float64, [?]>) -> float64 { return sum(a ** b) }
fn b_max(a: Tensor<float64, [?]>, b: Tensor<float64, [?]>) -> float64 { return sum(maximum(a, b) * a) }
fn b_min(a: Tensor<float64, [?]>, b: Tensor<float64, [?]>) -> float64 { return sum(minimum(a, b) * b) }
fn b_where(a: Tensor<float64, [?]>, b: Tensor<float64, [?]>) -> float64 { return sum(where(a > b, a * a, b)) }
fn b_clip(a: Tensor<float64, [?]>, b: Tensor<float64, [?]>) -> float64 { return sum(clip(a, -0.5, 0.5) * b) }
"""


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "max", "min", "where", "clip"])
def test_binary_rules_match_finite_differences(name):
    m = _module(BINARY_SOURCE)
    a = RNG.uniform(0.3, 2.0, size=6)
    b = RNG.uniform(0.3, 2.0, size=6) * (1 if name == "pow" else RNG.choice([-1.0, 1.0], size=6))
    fn = getattr(m, f"b_{name}")
    _, (ga, gb) = value_and_grad(fn, argnums=(0, 1))(a, b)
    np.testing.assert_allclose(ga, _fd(lambda v: float(fn(v, b)), a.copy()), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, _fd(lambda v: float(fn(a, v)), b.copy()), rtol=1e-6, atol=1e-8)


_MODULES: dict[str, object] = {}


def _module(source: str):
    if source not in _MODULES:
        _MODULES[source] = triton_dsl.compile(source)
    return _MODULES[source]


def test_ties_split_the_gradient_and_kinks_take_the_documented_subgradient():
    m = _module(BINARY_SOURCE)
    a = np.array([1.0, 2.0, 0.0])
    _, (ga, gb) = value_and_grad(m.b_max, argnums=(0, 1))(a, a.copy())  # max(a, b) * a with a == b
    # d/da [max(a, b)·a] at a tie = 0.5·a + max = 1.5·a; d/db = 0.5·a
    np.testing.assert_allclose(ga, 1.5 * a)
    np.testing.assert_allclose(gb, 0.5 * a)
    u = _module("fn k(x: Tensor<float64, [?]>) -> float64 { return sum(abs(x) + relu(x) + round(x)) }")
    _, g = value_and_grad(u.k)(np.array([0.0, -1.0, 1.0]))
    np.testing.assert_allclose(g, [0.0, -1.0, 2.0])  # sign(0) = 0, relu'(0) = 0, round' = 0


def test_matmul_broadcast_and_reductions_against_numpy():
    m = _module("""
fn mlp(x: Tensor<float64, [b, k]>, w: Tensor<float64, [k, n]>, bias: Tensor<float64, [n]>) -> float64 {
    let y = tanh(x @ w + bias)
    return mean(y * y) + sum(mean(y, dim=0)) + max(y) - var(y)
}
""")
    x, w, bias = RNG.standard_normal((4, 3)), RNG.standard_normal((3, 5)), RNG.standard_normal(5)

    def f(x, w, bias):
        y = np.tanh(x @ w + bias)
        return np.mean(y * y) + np.sum(np.mean(y, axis=0)) + np.max(y) - np.var(y)

    value, (gx, gw, gb) = value_and_grad(m.mlp, argnums=(0, 1, 2))(x, w, bias)
    assert value == pytest.approx(f(x, w, bias), rel=1e-12)
    np.testing.assert_allclose(gx, _fd(lambda v: f(v, w, bias), x.copy()), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gw, _fd(lambda v: f(x, v, bias), w.copy()), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gb, _fd(lambda v: f(x, w, v), bias.copy()), rtol=1e-6, atol=1e-8)
    assert gb.shape == (5,)  # broadcasting over the batch undone: summed to the bias's shape


def test_softmax_log_softmax_std_shape_ops():
    m = _module("""
fn f(x: Tensor<float64, [a, b]>, t: Tensor<float64, [b, a]>) -> float64 {
    let s = softmax(x, dim=1) * transpose(t, 0, 1)
    let l = log_softmax(reshape(x, [-1]), dim=0)
    return sum(s) + sum(l * reshape(t, [-1])) + std(x) + sum(std(x, dim=0)) + sum(unsqueeze(x, 0) * 2.0)
}
""")
    x, t = RNG.standard_normal((3, 4)), RNG.standard_normal((4, 3))

    def f(x, t):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        s = e / e.sum(axis=1, keepdims=True) * t.T
        flat = x.reshape(-1)
        lsm = flat - flat.max() - np.log(np.exp(flat - flat.max()).sum())
        return s.sum() + (lsm * t.reshape(-1)).sum() + x.std() + x.std(axis=0).sum() + 2 * x.sum()

    value, (gx, gt) = value_and_grad(m.f, argnums=(0, 1))(x, t)
    assert value == pytest.approx(f(x, t), rel=1e-12)
    np.testing.assert_allclose(gx, _fd(lambda v: f(v, t), x.copy()), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gt, _fd(lambda v: f(x, v), t.copy()), rtol=1e-6, atol=1e-8)


def test_float32_mlp_gradient_by_hand():
    m = _module("""
fn loss(x: Tensor<float32, [b, k]>, w: Tensor<float32, [k, n]>) -> float32 {
    let y = relu(x @ w)
    return mse_loss(y, zeros([b, n]))
}
""")
    x, w = RNG.standard_normal((8, 6)).astype(np.float32), RNG.standard_normal((6, 4)).astype(np.float32)
    value, gw = value_and_grad(m.loss, argnums=1)(x, w)
    z = x.astype(np.float64) @ w
    y = np.maximum(z, 0)
    assert value == pytest.approx(np.mean(y * y), rel=1e-5)
    np.testing.assert_allclose(gw, x.T.astype(np.float64) @ (2 * y / y.size * (z > 0)), rtol=1e-4, atol=1e-6)


def test_cross_entropy_with_label_smoothing_against_numpy():
    m = _module("""
fn ce(x: Tensor<float32, [n, c]>, t: Tensor<int64, [n]>) -> float32 { return cross_entropy(x, t) }
fn ce_smooth(x: Tensor<float32, [n, c]>, t: Tensor<int64, [n]>) -> float32 {
    return cross_entropy(x, t, label_smoothing=0.1)
}
""")
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    t = np.array([0, 3, 1, 1, 2], dtype=np.int64)
    for fn, eps in ((m.ce, 0.0), (m.ce_smooth, 0.1)):
        value, g = value_and_grad(fn)(x, t)
        z = x.astype(np.float64)
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        target = np.eye(4)[t] * (1 - eps) + eps / 4
        assert value == pytest.approx(-(target * np.log(p)).sum(1).mean(), rel=1e-5)
        np.testing.assert_allclose(g, (p - target) / 5, rtol=1e-4, atol=1e-6)
    with pytest.raises(TritonRuntimeError, match="class index out of range"):
        m.ce(x, np.array([0, 4, 1, 1, 2], dtype=np.int64))


def _run(tritonc, tmp_path, source: str) -> tuple[int, str, str]:
    path = tmp_path / "prog.triton"
    path.write_text(source)
    return tritonc("run", str(path))


def test_grad_accumulates_across_backward_calls_until_zero_grad(tritonc, tmp_path):
    code, out, err = _run(tritonc, tmp_path, """
let w = tensor([1.0, 2.0, 3.0], requires_grad=true)
print(w.grad)
backward(sum(w * w))
print(w.grad)
backward(sum(w * w))
print(w.grad)
zero_grad(w)
backward(sum(3.0 * w))
print(w.grad, w.requires_grad, stop_gradient(w).requires_grad)
""")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["[0. 0. 0.]", "[2. 4. 6.]", "[ 4.  8. 12.]", "[3. 3. 3.] true false"]


def test_stop_gradient_ste_no_grad_and_loops(tritonc, tmp_path):
    code, out, err = _run(tritonc, tmp_path, """
let w = tensor([0.2, -0.7, 1.5], requires_grad=true)
# straight-through: forward round(w), backward identity
let q = stop_gradient(round(w)) + (w - stop_gradient(w))
print(q)
let total = 0.0
for i in range(3) {
    let loss = sum(q * q) * float32(i)
    total = total + loss
}
let y = no_grad(fn() { return w * 2.0 })
print(y.requires_grad)
backward(sum(q * tensor([1.0, 2.0, 3.0])))
print(w.grad, total)
""")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["[ 0. -1.  2.]", "false", "[1. 2. 3.] 15.0"]


def test_function_calls_recursion_and_hooks(tritonc, tmp_path):
    code, out, err = _run(tritonc, tmp_path, """
fn power(x: Tensor<float32, [?]>, n: int32) -> Tensor<float32, [?]> {
    if n == 0 {
        return x * 0.0 + 1.0
    }
    return x * power(x, n - 1)
}
let x = tensor([1.0, 2.0], requires_grad=true)
let h = x * 1.0
h.register_hook(fn(grad) {
    print(f"hook sees {grad}")
})
backward(sum(power(h, 3)))
print(x.grad)
""")
    assert (code, err) == (0, "")
    assert out.splitlines() == ["hook sees [ 3. 12.]", "[ 3. 12.]"]


@pytest.mark.parametrize("body, message", [
    ("let x = ones([2])\nbackward(sum(x * 2.0))", "does not require grad"),
    ("let x = ones([2], requires_grad=true)\nlet l = sum(x * x)\nbackward(l)\nbackward(l)", "second time"),
    ("let x = ones([2], requires_grad=true)\nlet y = x * 2.0\nprint(y.grad)", "non-leaf"),
    ("let x = ones([2], requires_grad=true)\nbackward(x * 2.0)", "one element"),
    ("let x = ones([2], requires_grad=true)\nlet p = prod(x)\nbackward(p)", "not available yet"),
])
def test_errors_name_the_line(tritonc, tmp_path, body, message):
    code, out, err = _run(tritonc, tmp_path, body + "\n")
    assert code == 1 and message in err and "prog.triton:" in err


def test_optimizers_match_pytorch_update_rules(tritonc, tmp_path):
    code, out, err = _run(tritonc, tmp_path, """
let w = tensor([1.0, -2.0], requires_grad=true)
let v = tensor([0.5, 0.5], requires_grad=true)
let sgd = SGD([w], lr=0.1, momentum=0.9)
let adam = Adam([v], lr=0.1)
for step in range(2) {
    sgd.zero_grad()
    adam.zero_grad()
    backward(sum(w * w) + sum(v * v * v))
    sgd.step()
    adam.step()
}
print(w, v)
""")
    assert (code, err) == (0, ""), err
    # SGD with momentum: g = 2w; b = g, then b = 0.9 b + g
    w = np.array([1.0, -2.0])
    buf = None
    v = np.array([0.5, 0.5])
    m = s = np.zeros(2)
    for t in (1, 2):
        g = 2 * w
        buf = g if buf is None else 0.9 * buf + g
        w = w - 0.1 * buf
        gv = 3 * v * v
        m = 0.9 * m + 0.1 * gv
        s = 0.999 * s + 0.001 * gv * gv
        v = v - 0.1 * (m / (1 - 0.9 ** t)) / (np.sqrt(s / (1 - 0.999 ** t)) + 1e-8)
    got = [float(t) for t in out.replace("[", " ").replace("]", " ").split()]
    np.testing.assert_allclose(got, [*w, *v], rtol=1e-5)


def test_training_loop_memory_is_flat():
    source = """
fn step(w: Tensor<float32, [16, 4]>, x: Tensor<float32, [32, 16]>) -> float32 {
    let p = w.requires_grad_()
    let loss = mean(relu(x @ p))
    backward(loss)
    no_grad(fn() { p.copy_(p - 0.01 * p.grad) })
    return loss
}
"""
    mod = _module(source)
    w = RNG.standard_normal((16, 4)).astype(np.float32)
    x = RNG.standard_normal((32, 16)).astype(np.float32)
    import resource
    for _ in range(200):
        mod.step(w, x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    first = float(mod.step(w, x))
    for _ in range(1000):
        last = float(mod.step(w, x))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert last < first  # the in-place updates reached the caller's array
    assert after - before < 2048  # KiB: 1,000 steps of graphs and gradients freed


def test_indexing_slicing_stack_concat_and_a_replacing_hook(tritonc, tmp_path):
    code, out, err = _run(tritonc, tmp_path, """
let x = tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=true)
backward(sum(x[1] * 2.0) + sum(x[:, 1:3] * x[:, 1:3]) + x[0, 2] * 10.0 + x[-1, ::2][1])
print(x.grad)
let a = tensor([1.0, 2.0], requires_grad=true)
let b = tensor([3.0, 4.0, 5.0], requires_grad=true)
let c = concat([a * 2.0, b], dim=0)
let s = stack([a, a * a], dim=1)
backward(sum(c * c) + sum(s * tensor([[1.0, 10.0], [1.0, 10.0]])))
print(a.grad, b.grad)
let h = a * 3.0
h.register_hook(fn(grad) -> Tensor<float32, [2]> { return grad * 10.0 })
zero_grad(a)
backward(sum(h * h))
print(a.grad)
""")
    assert (code, err) == (0, ""), err
    assert out.splitlines() == ["[[ 0.  4. 16.]", " [ 2. 12. 15.]]", "[29. 57.] [ 6.  8. 10.]", "[180. 360.]"]


def test_a_list_without_a_rule_is_an_error_not_a_silent_zero(tritonc, tmp_path):
    code, out, err = _run(tritonc, tmp_path, """
let x = tensor([1.0, 2.0], requires_grad=true)
let xs = [x, x * 2.0]
let s = stack(xs)
backward(sum(s))
""")
    assert code == 1 and "prog.triton:4:9" in err
    assert "the gradient of 'stack(xs)' is not available yet" in err


def test_quantizers_on_the_tape(tritonc, tmp_path):
    # the STE around a TWN quantizer trains (the quantizer's own scale gradient is cut by stop_gradient);
    # differentiating the quantized value itself reaches the scale, which has no rule yet: an error at
    # backward naming the quantizer, never a gradient that silently leaves the scale out
    code, out, err = _run(tritonc, tmp_path, """
let w = randn([4, 3], requires_grad=true)
let q = ste_quantize(w, quantize_fn=fn(x) { return ternary_quantize(x, method="twn") })
backward(sum(q * 2.0))
print(sum(w.grad))
let p = prod(w * 1.0)
print("forward runs")
backward(sum(dequantize(ternary_quantize(w, method="twn"))) + sum(w))
""")
    assert code == 1 and out.splitlines() == ["24.0", "forward runs"]
    assert "the gradient of 'ternarize(x, delta, -delta, alpha, alpha)' is not available yet" in err


def test_activation_gradient_through_packed_ternary_weights():
    m = _module("""
fn f(x: Tensor<float32, [b, k]>, w: Tensor<float32, [k, n]>, s: Tensor<float32, [k]>,
     g: Tensor<float32, [b, n]>) -> float32 {
    let q = learned_quantize(w, 0.3, -0.3, s, s)   # per-channel scales (axis 0)
    return sum((x @ q) * g)
}
fn f1(x: Tensor<float32, [k]>, w: Tensor<float32, [k, n]>) -> float32 {
    return sum(x @ ternary_quantize(w, method="twn"))   # one scale, 1-D activations
}
""")
    x = RNG.standard_normal((3, 6)).astype(np.float32)
    w = RNG.standard_normal((6, 4)).astype(np.float32)
    s = RNG.uniform(0.5, 2.0, 6).astype(np.float32)
    g = RNG.standard_normal((3, 4)).astype(np.float32)
    _, gx = value_and_grad(m.f)(x, w, s, g)
    value = np.where(w > 0.3, 1.0, np.where(w < -0.3, -1.0, 0.0)) * s[:, None]
    np.testing.assert_allclose(gx, g.astype(np.float64) @ value.T, rtol=1e-5, atol=1e-6)
    _, gx1 = value_and_grad(m.f1)(x[0], w)
    a = np.abs(w)
    kept = a > 0.7 * a.mean()
    twn = np.sign(w) * kept * a[kept].mean()
    np.testing.assert_allclose(gx1, twn.sum(axis=1), rtol=1e-5, atol=1e-6)


def test_use_ste_layers_and_differentiable_sparsity():
    m = _module("""
fn qm(a: Tensor<float32, [m, k]>, b: Tensor<float32, [k, n]>, g: Tensor<float32, [m, n]>) -> float32 {
    return sum(quantized_matmul(a, b) * g)
}
fn ql(x: Tensor<float32, [m, k]>, w: Tensor<float32, [k, n]>, g: Tensor<float32, [m, n]>) -> float32 {
    return sum(quantized_linear(x, w) * g)
}
fn dsq(x: Tensor<float32, [m, k]>, g: Tensor<float32, [m, k]>) -> float32 {
    return sum(differentiable_sparse_quantize(x, 0.5, temperature=0.7) * g)
}
""")
    a = RNG.standard_normal((3, 5)).astype(np.float32)
    b = RNG.standard_normal((5, 4)).astype(np.float32)
    g = RNG.standard_normal((3, 4)).astype(np.float32)
    absb = np.abs(b)
    kept = absb > 0.7 * absb.mean()
    qb = np.sign(b) * kept * absb[kept].mean()  # TWN
    _, (ga, gb) = value_and_grad(m.qm, argnums=(0, 1))(a, b, g)
    np.testing.assert_allclose(ga, g @ qb.T, rtol=1e-5, atol=1e-6)  # through the quantized value
    np.testing.assert_allclose(gb, a.T @ g, rtol=1e-5, atol=1e-6)  # straight through
    _, gw = value_and_grad(m.ql, argnums=1)(a, b, g)
    np.testing.assert_allclose(gw, a.T @ g, rtol=1e-5, atol=1e-6)
    # the sparse quantizer with its threshold held fixed: the soft formula's exact derivative
    x = RNG.standard_normal((3, 5)).astype(np.float32)
    gx_out = RNG.standard_normal((3, 5)).astype(np.float32)
    _, gx = value_and_grad(m.dsq)(x, gx_out)
    t = np.quantile(np.abs(x.astype(np.float64)), 0.5)

    def soft(v):
        logits = np.stack([(-v - t), -np.abs(v - t), (v - t)], axis=-1) / 0.7
        p = np.exp(logits - logits.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        return float(((p[..., 2] - p[..., 0]) * gx_out).sum())

    np.testing.assert_allclose(gx, _fd(soft, x.astype(np.float64)), rtol=2e-3, atol=2e-4)
