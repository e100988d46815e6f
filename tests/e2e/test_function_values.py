"""Named functions passed as values: higher-order user functions, `ste_quantize(x, quantize_fn=...)`,
the seed blocks that use them, and closures capturing variables (tests/e2e/test_closures.py has more)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import triton_dsl
from triton_dsl import api
from triton_dsl.cli import main

SEED = Path(__file__).resolve().parents[1] / "conformance" / "seed"

SOURCE = """
fn dbl(x: float32) -> float32 { return x * 2.0 }
fn inc(x: float32) -> float32 { return x + 1.0 }
fn apply_twice(f: fn(float32) -> float32, x: float32) -> float32 { return f(f(x)) }
fn repeat(f: fn(float32) -> float32, x: float32, k: int32) -> float32 {
    if k == 0 { return x }
    return repeat(f, f(x), k - 1)
}
fn twice_each(x: float32) -> float32 { return apply_twice(dbl, x) + apply_twice(inc, x) }
fn repeat_each(x: float32, k: int32) -> float32 { return repeat(dbl, x, k) - repeat(inc, x, k) }

fn my_quantize(x: Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]> {
    return ternary_quantize(x, threshold=0.7)
}
fn ste_default(w: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]> { return ste_quantize(w) }
fn ste_custom(w: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]> {
    return ste_quantize(w, quantize_fn=my_quantize)
}
fn ste_named(w: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]> {
    return ste_quantize(w, quantize_fn=ternary_quantize)
}
"""


@pytest.fixture(scope="module")
def module():
    return api.compile(SOURCE, name="function_values.triton")


def dequantized_ternary(w: np.ndarray, threshold: float) -> np.ndarray:
    """numpy reference of dequantize(ternary_quantize(w, threshold)) (method "threshold", scale 1):
    +1 above the threshold, -1 below its negative, 0 in between (the boundary included) and for NaN."""
    t = np.float32(threshold)
    return np.where(w > t, 1.0, np.where(w < -t, -1.0, 0.0)).astype(np.float32)


def test_user_function_passed_to_user_higher_order_function(module):
    for x in (0.0, 1.5, -3.25):
        assert module.twice_each(x) == pytest.approx(4 * x + x + 2)
        for k in (0, 1, 4):
            assert module.repeat_each(x, k) == pytest.approx(x * 2 ** k - (x + k))


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (16, 33)])
def test_ste_quantize_default_is_dequantized_ternary_quantize(module, shape):
    rng = np.random.default_rng(sum(shape))
    w = rng.standard_normal(shape).astype(np.float32)
    got = np.asarray(module.ste_default(w))
    want = dequantized_ternary(w, 0.5)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.asarray(module.ste_named(w)), want)
    # Values are trit x scale: the trits follow the sign of w outside the threshold band.
    nonzero = got != 0
    assert np.all(np.sign(got[nonzero]) == np.sign(w[nonzero]))


def test_ste_quantize_with_a_user_quantize_fn(module):
    rng = np.random.default_rng(7)
    w = rng.standard_normal((8, 9)).astype(np.float32)
    w[0, :5] = [0.0, 0.69, -0.71, 0.7, np.nan]
    got = np.asarray(module.ste_custom(w))
    np.testing.assert_array_equal(got, dequantized_ternary(w, 0.7))
    assert not np.array_equal(got, np.asarray(module.ste_default(w)))


def test_ste_quantize_through_the_stdlib_api():
    w = np.array([[0.1, -0.9, 0.5], [2.0, -0.5, np.inf]], np.float32)
    np.testing.assert_array_equal(np.asarray(triton_dsl.stdlib.ste_quantize(w)), dequantized_ternary(w, 0.5))


@pytest.mark.parametrize("block", ["37", "39"])
def test_seed_blocks_run(block, capfd):
    # the blocks only define functions: running them prints nothing (their values are pinned below)
    (path,) = SEED.glob(f"{block}_*.triton")
    assert main(["run", str(path)]) == 0
    assert capfd.readouterr() == ("", "")


def test_seed_block_37_quantize_layer_values():
    (path,) = SEED.glob("37_*.triton")
    m = triton_dsl.compile(path.read_text(encoding="utf-8"))
    w = np.array([[0.1, -0.9, 0.5, 0.51], [2.0, -0.5, -0.51, np.inf], [np.nan, 0.0, -np.inf, 0.49]],
                 np.float32)
    np.testing.assert_array_equal(np.asarray(m.quantize_layer(w)), dequantized_ternary(w, 0.5))


def test_seed_block_39_train_with_warmup_values():
    (path,) = SEED.glob("39_*.triton")
    m = triton_dsl.compile(path.read_text(encoding="utf-8"))
    w = (np.random.default_rng(39).standard_normal((5, 4)) * 1.5).astype(np.float32)
    # during warmup (epoch < 5): soft_quantize at temperature 1, tanh(w); after it: the STE forward
    np.testing.assert_allclose(np.asarray(m.train_with_warmup(w, 2)), np.tanh(w), rtol=2e-6, atol=2e-7)
    np.testing.assert_array_equal(np.asarray(m.train_with_warmup(w, 5)), dequantized_ternary(w, 0.5))
    np.testing.assert_allclose(np.asarray(m.train_with_warmup(w, 9, warmup=10)), np.tanh(w), rtol=2e-6,
                               atol=2e-7)


def test_seed_block_22_runs_with_ste_quantize(tmp_path, capfd):
    # Block 22's training_step also calls mse_loss, a primitive of the nn section that is not compiled yet:
    # the same program with its mean-squared formula written out runs (ste_quantize included).
    (path,) = SEED.glob("22_*.triton")
    text = path.read_text(encoding="utf-8")
    assert "mse_loss(output, target)" in text
    program = tmp_path / "block22.triton"
    program.write_text(text.replace("mse_loss(output, target)", "mean((output - target) ** 2)"),
                       encoding="utf-8")
    assert main(["run", str(program)]) == 0
    assert "error" not in capfd.readouterr().err


@pytest.mark.parametrize("body", [
    "return ap(fn(y: float32) -> float32 { return y * k }, 1.0)",
    "let g = fn(y: float32) -> float32 { return y * k }\n    return g(1.0)",
])
def test_capturing_closures_run(body):
    src = f"fn ap(f: fn(float32) -> float32, x: float32) -> float32 {{ return f(x) }}\n" \
          f"fn h(k: float32) -> float32 {{\n    {body}\n}}\n"
    assert api.compile(src, name="closure.triton").h(2.5) == 2.5  # more in tests/e2e/test_closures.py
