"""Training with the stdlib: the seed's gradient blocks (22, 35, 38) as written, the estimators' pseudo-
gradients, losses and layers, `tritonc gradcheck` over the stdlib, and the digits example.

In: the vendored seed blocks with a driver appended, DSL functions compiled with `triton_dsl.compile`, the
command line. Out: gradients equal to numpy formulas (the STE's identity pseudo-gradient, batch norm's
gradient, cross-entropy's softmax − onehot), hooks printing the gradient statistics block 38 asks for, a
clean gradcheck report of the stdlib, and the shortened digits training reaching an accuracy a broken
gradient cannot reach.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import triton_dsl
from triton_dsl import value_and_grad

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "tests" / "conformance" / "seed"
RNG = np.random.default_rng(11)


def _block(number: str) -> str:
    (path,) = SEED.glob(f"{number}_*.triton")
    return path.read_text(encoding="utf-8")


def test_seed_block_22_training_step_has_the_ste_gradient():
    module = triton_dsl.compile(_block("22"), name="block22.triton")
    w = RNG.standard_normal((6, 4)).astype(np.float32)
    x = RNG.standard_normal((5, 6)).astype(np.float32)
    t = RNG.standard_normal((5, 4)).astype(np.float32)
    loss, grad = value_and_grad(module.training_step)(w, x, t)
    q = np.where(np.abs(w) > 0.5, np.sign(w), 0.0)  # ternary_quantize's default: threshold 0.5, scale 1
    out = x.astype(np.float64) @ q
    assert loss == pytest.approx(np.mean((out - t) ** 2), rel=1e-5)
    # straight-through: the gradient of the loss w.r.t. q, passed to w unchanged
    want = x.T.astype(np.float64) @ (2 * (out - t) / out.size)
    np.testing.assert_allclose(grad, want, rtol=1e-4, atol=1e-6)
    custom = module.ste_custom_quantize(w)
    np.testing.assert_array_equal(custom, np.where(w > 0.7, 1.0, np.where(w < -0.7, -1.0, 0.0)))


def test_seed_block_35_quantized_batch_norm_passes_the_batch_norm_gradient():
    source = _block("35") + """
fn through_qbn(x: Tensor<float32, [b, c, h, w]>, g: Tensor<float32, [b, c, h, w]>) -> float32 {
    return sum(quantized_batch_norm(x, ones([c]), zeros([c]), zeros([c]), ones([c])) * g)
}
fn through_bn(x: Tensor<float32, [b, c, h, w]>, g: Tensor<float32, [b, c, h, w]>) -> float32 {
    return sum(batch_norm(x, ones([c]), zeros([c]), zeros([c]), ones([c])) * g)
}
"""
    module = triton_dsl.compile(source, name="block35.triton")
    x = RNG.standard_normal((4, 3, 2, 2)).astype(np.float32)
    g = RNG.standard_normal((4, 3, 2, 2)).astype(np.float32)
    _, gq = value_and_grad(module.through_qbn)(x, g)
    _, gb = value_and_grad(module.through_bn)(x, g)
    np.testing.assert_allclose(gq, gb, rtol=1e-6)
    # batch norm's gradient by hand (training mode, biased variance, eps 1e-5)
    xd = x.astype(np.float64)
    mu = xd.mean(axis=(0, 2, 3), keepdims=True)
    var = xd.var(axis=(0, 2, 3), keepdims=True)
    xhat = (xd - mu) / np.sqrt(var + 1e-5)
    n = xd.size / xd.shape[1]
    gm = g.mean(axis=(0, 2, 3), keepdims=True)
    gxm = (g * xhat).mean(axis=(0, 2, 3), keepdims=True)
    want = (g - gm - xhat * gxm) / np.sqrt(var + 1e-5)
    assert n == 16
    np.testing.assert_allclose(gb, want, rtol=2e-4, atol=2e-5)


def test_batch_norm_updates_the_running_statistics_like_pytorch():
    module = triton_dsl.compile("""
fn step(x: Tensor<float32, [b, c, h, w]>, rm: Tensor<float32, [c]>, rv: Tensor<float32, [c]>)
        -> Tensor<float32, [b, c, h, w]> {
    return batch_norm(x, ones([c]), zeros([c]), rm, rv)
}
fn infer(x: Tensor<float32, [b, c, h, w]>, rm: Tensor<float32, [c]>, rv: Tensor<float32, [c]>)
        -> Tensor<float32, [b, c, h, w]> {
    return batch_norm(x, ones([c]), zeros([c]), rm, rv, training=false)
}
""")
    x = RNG.standard_normal((3, 2, 2, 2)).astype(np.float32)
    rm, rv = np.zeros(2, np.float32), np.ones(2, np.float32)
    module.step(x, rm, rv)
    xd = x.astype(np.float64)
    np.testing.assert_allclose(rm, 0.1 * xd.mean(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(rv, 0.9 + 0.1 * xd.var(axis=(0, 2, 3), ddof=1), rtol=1e-5)
    y = module.infer(x, rm, rv)
    np.testing.assert_allclose(y, (xd - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + 1e-5),
                               rtol=1e-5, atol=1e-6)


def test_seed_block_38_hook_prints_the_gradient_statistics(tritonc, tmp_path):
    program = tmp_path / "block38.triton"
    program.write_text(_block("38") + """
let x = tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=true)
check_gradients(x)
backward(sum(x * tensor([[0.0, 0.0], [0.0, 2.0]])))
print(x.grad)
""", encoding="utf-8")
    code, out, err = tritonc("run", str(program))
    assert (code, err) == (0, ""), err
    assert out.splitlines() == ["Gradient mean: 0.5", f"Gradient std: {np.std([0, 0, 0, 2.0]):.7g}",
                                "Fraction zero: 0.75", "WARNING: >50% of gradients are zero",
                                "[[0. 0.]", " [0. 2.]]"]


def test_gradcheck_passes_on_the_stdlib(tritonc):
    code, out, err = tritonc("gradcheck", "--stdlib")
    assert (code, err) == (0, ""), out
    lines = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    for name in ("mse_loss", "l1_loss", "cross_entropy", "binary_cross_entropy_with_logits", "batch_norm",
                 "soft_quantize", "ste_quantize", "clipped_ste_quantize", "dropout"):
        assert " ok " in lines[name], lines[name]
    assert "pseudo-gradient" in lines["clipped_ste_quantize"]
    assert re.search(r"\d+ passed, 0 failed, \d+ skipped", out.splitlines()[-1])


def test_gradcheck_finds_a_wrong_pseudo_gradient_and_a_program_function(tritonc, tmp_path):
    program = tmp_path / "grads.triton"
    program.write_text("""
fn smooth(x: Tensor<float32, [n]>, y: Tensor<float32, [n]>) -> float32 {
    return sum(tanh(x) * y * y)
}
# pseudo-gradient: g * 2.0
fn wrong_ste(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> {
    return stop_gradient(round(x)) + (x - stop_gradient(x))
}
""", encoding="utf-8")
    code, out, err = tritonc("gradcheck", str(program))
    assert code == 1, out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:-1]}
    assert rows == {"smooth": "ok", "wrong_ste": "FAIL"}
    code, out, err = tritonc("gradcheck", str(program), "--fn", "smooth")
    assert code == 0 and "1 passed, 0 failed" in out
    code, out, err = tritonc("gradcheck", str(program), "--fn", "nope")
    assert code == 2 and "no function 'nope'" in err


def test_value_and_grad_errors_are_clear():
    module = triton_dsl.compile("fn f(x: Tensor<float32, [n]>, k: int32) -> float32 { return sum(x) * 2.0 }")
    value, grad = value_and_grad(module.f)(np.ones(3, np.float32), 2)
    assert value == 6.0 and grad.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(TypeError, match="only floating-point values have gradients"):
        value_and_grad(module.f, argnums=1)(np.ones(3, np.float32), 2)
    with pytest.raises(IndexError):
        value_and_grad(module.f, argnums=5)(np.ones(3, np.float32), 2)
    _, g = value_and_grad(triton_dsl.stdlib.mse_loss, argnums=(0, 1))(np.ones(2, np.float32),
                                                                      np.zeros(2, np.float32))
    assert [a.tolist() for a in g] == [[1.0, 1.0], [-1.0, -1.0]]


def test_train_digits_shortened_then_infer_digits_reproduces_it(tritonc, tmp_path, monkeypatch):
    text = (ROOT / "examples" / "train_digits.triton").read_text(encoding="utf-8")
    short = text.replace("let EPOCHS = 8", "let EPOCHS = 3")
    assert short != text
    program = tmp_path / "train_short.triton"
    program.write_text(short, encoding="utf-8")
    (tmp_path / "examples").symlink_to(ROOT / "examples")  # the data path is relative to the folder
    monkeypatch.chdir(tmp_path)  # ... and the trained weights are written here
    code, out, err = tritonc("run", str(program))
    assert (code, err) == (0, ""), err
    lines = out.splitlines()
    assert len(lines) == 6 and lines[0].startswith("epoch 1: loss ")
    losses = [float(re.search(r"loss ([\d.]+)", line).group(1)) for line in lines[:3]]
    assert losses[2] < losses[1] < losses[0]
    assert lines[3] == "saved digits_ternary.safetensors (2432 bytes of packed weights)"
    assert lines[4].startswith("float32 baseline (same MLP, same training): test accuracy 0.9")
    accuracy = float(lines[-1].split(":")[1])
    assert accuracy >= 0.88  # chance is 0.1; a wrong gradient does not train
    saved = triton_dsl.load_weights("digits_ternary.safetensors")
    assert saved["fc1.weight"].shape == (64, 128) and saved["fc1.weight"].packed.dtype == np.uint8

    code, out, err = tritonc("run", str(ROOT / "examples" / "infer_digits.triton"))
    assert (code, err) == (0, ""), err
    assert out.splitlines()[-1] == lines[-1]  # bit for bit the same packed weights and function

    data = bytearray((tmp_path / "digits_ternary.safetensors").read_bytes())
    (tmp_path / "digits_ternary.safetensors").write_bytes(bytes(data[: len(data) // 2]))  # truncated
    code, out, err = tritonc("run", str(ROOT / "examples" / "infer_digits.triton"))
    assert code == 1 and "digits_ternary.safetensors" in err and "Traceback" not in err
