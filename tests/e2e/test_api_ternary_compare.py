"""TernaryTensor semantics end to end: comparing with an integer compares trits whatever the scale (every
comparison operator, both operand orders); float reductions use the value trit × scale; `-q` keeps the
scales (asymmetric ones swap); argmax/argmin follow the values; per-channel scales stay along axis 0
through shape operations (or fail clearly); transpose/permute and reshapes across packed rows move the
trits and keep the scales.
numpy references.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest

from triton_dsl import api

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

COMPARISONS = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
               ">": operator.gt, ">=": operator.ge}
POS, NEG = 2.0, 3.0  # asymmetric scales: neither equals a trit, so comparing values would be visibly wrong


def _trits(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0.5, 1, np.where(x < -0.5, -1, 0))


@pytest.fixture(scope="module")
def compare_module():
    fns = []
    for i, op in enumerate(COMPARISONS):
        quant = f"let q = ternarize(x, 0.5, -0.5, {POS}, {NEG})"
        fns.append(f"fn left{i}(x: Tensor<float32, [n]>, k: int32) -> Tensor<bool, [n]> {{ {quant}\n"
                   f"    return q {op} k }}")
        for c, tag in ((-1, "m"), (0, "z"), (1, "p")):
            fns.append(f"fn lit_l{i}{tag}(x: Tensor<float32, [n]>) -> int32 {{ {quant}\n"
                       f"    return int32(sum(q {op} {c})) }}")
            fns.append(f"fn lit_r{i}{tag}(x: Tensor<float32, [n]>) -> int32 {{ {quant}\n"
                       f"    return int32(sum({c} {op} q)) }}")
    return api.compile("\n".join(fns))


@pytest.mark.parametrize("index,op", list(enumerate(COMPARISONS)))
def test_comparing_a_ternary_tensor_with_an_integer_compares_trits(compare_module, index, op):
    rng = np.random.default_rng(index)
    x = rng.normal(size=41).astype(np.float32)
    x[:3] = [0.0, 5.0, -5.0]
    t = _trits(x)
    ref = COMPARISONS[op]
    for c, tag in ((-1, "m"), (0, "z"), (1, "p")):
        assert getattr(compare_module, f"lit_l{index}{tag}")(x) == int(ref(t, c).sum()), (op, c)
        assert getattr(compare_module, f"lit_r{index}{tag}")(x) == int(ref(c, t).sum()), (c, op)
    np.testing.assert_array_equal(getattr(compare_module, f"left{index}")(x, 1), ref(t, 1))


def test_counting_minus_one_entries_ignores_the_scale():
    m = api.compile("""
fn count(x: Tensor<float32, [r, c]>, s: float32) -> int32 {
    let q = threshold_quantize(x, 0.5, s)
    return int32(sum(q == -1))
}
""")
    x = np.random.default_rng(7).normal(size=(9, 13)).astype(np.float32)
    for s in (1.0, 2.0, 0.25):
        assert m.count(x, s) == int((x < -0.5 * s).sum())


def test_float_reductions_of_a_ternary_tensor_use_its_value():
    m = api.compile(f"""
fn total(x: Tensor<float32, [n]>) -> float32 {{ return sum(ternarize(x, 0.5, -0.5, {POS}, {NEG})) }}
fn biggest(x: Tensor<float32, [n]>) -> float32 {{ return max(ternarize(x, 0.5, -0.5, {POS}, {NEG})) }}
fn rows(x: Tensor<float32, [r, c]>) -> Tensor<float32, [r]> {{
    return mean(ternarize(x, 0.5, -0.5, {POS}, {NEG}), dim=1)
}}
""")
    x = np.random.default_rng(3).normal(size=(6, 10)).astype(np.float32)
    t = _trits(x)
    value = np.where(t > 0, POS, np.where(t < 0, -NEG, 0.0))
    np.testing.assert_allclose(m.total(x.ravel()), value.sum(), rtol=1e-5)
    assert m.biggest(x.ravel()) == value.max()
    np.testing.assert_allclose(m.rows(x), value.mean(axis=1), rtol=1e-5)


@pytest.fixture(scope="module")
def negate_module():
    return api.compile("""
fn negate(q: TernaryTensor<trit, [r, c]>) -> TernaryTensor<trit, [r, c]> { return -q }
fn twice_negated(q: TernaryTensor<trit, [r, c]>) -> Tensor<float32, [r, c]> { return -(-q) * 1.0 }
fn count_negated(q: TernaryTensor<trit, [r, c]>) -> int32 { return int32(sum(-q == 1)) }
fn negate_quantized(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> {
    return -ternarize(x, 0.5, -0.5, 2.0, 3.0) + 0.0
}
""")


@pytest.mark.parametrize("scale", [2.0, "channel", (2.0, 3.0)], ids=["tensor", "channel", "asymmetric"])
def test_negating_a_ternary_tensor_keeps_its_scales(negate_module, scale):
    from triton_dsl import TernaryTensor

    rng = np.random.default_rng(1)
    trits = rng.integers(-1, 2, size=(4, 7)).astype(np.int8)
    if scale == "channel":
        scale = rng.uniform(0.5, 2.0, size=4).astype(np.float32)
    q = TernaryTensor.from_numpy(trits, scale=scale)
    neg = negate_module.negate(q)
    np.testing.assert_array_equal(neg.to_numpy(), -trits)
    np.testing.assert_allclose(neg.dequantize(), -q.dequantize(), rtol=1e-6)
    np.testing.assert_allclose(q.dequantize(), TernaryTensor.from_numpy(trits, scale=scale).dequantize())
    np.testing.assert_allclose(negate_module.twice_negated(q), q.dequantize(), rtol=1e-6)
    assert negate_module.count_negated(q) == int((trits == -1).sum())


def test_negating_a_quantized_tensor_negates_its_value(negate_module):
    x = np.random.default_rng(2).normal(size=50).astype(np.float32)
    t = _trits(x)
    value = np.where(t > 0, POS, np.where(t < 0, -NEG, 0.0))
    np.testing.assert_allclose(negate_module.negate_quantized(x), -value)


@pytest.fixture(scope="module")
def channel_module():
    return api.compile("""
fn biggest_at(q: TernaryTensor<trit, [r, c]>) -> int64 { return argmax(q) }
fn smallest_at(q: TernaryTensor<trit, [r, c]>) -> int64 { return argmin(q) }
fn keep_axis0(q: TernaryTensor<trit, [r, c]>) -> Tensor<float32, [r, 1, c]> { return unsqueeze(q, 1) * 1.0 }
fn move_axis0(q: TernaryTensor<trit, [r, c]>) -> Tensor<float32, [1, r, c]> { return unsqueeze(q, 0) * 1.0 }
""", name="channels.triton")


def test_argmax_and_argmin_of_a_ternary_tensor_follow_its_values(channel_module):
    from triton_dsl import TernaryTensor

    trits = np.array([[1, 0, -1], [1, 1, 0], [0, -1, 1]], np.int8)
    for scale in ([1.0, 5.0, 2.0], [3.0, 1.0, 4.0]):
        q = TernaryTensor.from_numpy(trits, scale=np.array(scale, np.float32))
        assert channel_module.biggest_at(q) == int(np.argmax(q.dequantize()))
        assert channel_module.smallest_at(q) == int(np.argmin(q.dequantize()))


def test_shape_operations_keep_per_channel_scales_only_along_axis_0(channel_module):
    from triton_dsl import TernaryTensor

    trits = np.random.default_rng(4).integers(-1, 2, size=(3, 5)).astype(np.int8)
    q = TernaryTensor.from_numpy(trits, scale=np.array([1.0, 2.0, 3.0], np.float32))
    np.testing.assert_allclose(channel_module.keep_axis0(q), q.dequantize()[:, None, :])
    with pytest.raises(Exception, match="one scale per channel") as info:
        channel_module.move_axis0(q)  # the scales would land on the wrong rows: an error, not a wrong answer
    assert "channels.triton:5:" in str(info.value)
    tensor_scaled = TernaryTensor.from_numpy(trits, scale=2.0)
    np.testing.assert_allclose(channel_module.move_axis0(tensor_scaled), tensor_scaled.dequantize()[None])


@pytest.fixture(scope="module")
def permute_module():
    return api.compile("""
fn flip(q: TernaryTensor<trit, [r, c]>) -> TernaryTensor<trit, [c, r]> { return transpose(q) }
fn project(x: Tensor<float32, [n, k]>, w: TernaryTensor<trit, [m, k]>) -> Tensor<float32, [n, m]> {
    return x @ transpose(w)
}
fn inner_axes(q: TernaryTensor<trit, [a, b, c]>) -> Tensor<float32, [a, c, b]> {
    return permute(q, [0, 2, 1]) * 1.0
}
fn rotate(q: TernaryTensor<trit, [a, b, c]>) -> Tensor<float32, [c, a, b]> {
    return permute(q, [2, 0, 1]) * 1.0
}
""", name="permute.triton")


@pytest.mark.parametrize("scale", [2.0, (2.0, 3.0)], ids=["tensor", "asymmetric"])
def test_transpose_and_permute_of_a_ternary_tensor_keep_its_scales(permute_module, scale):
    from triton_dsl import TernaryTensor

    rng = np.random.default_rng(6)
    q = TernaryTensor.from_numpy(rng.integers(-1, 2, size=(3, 5)).astype(np.int8), scale=scale)
    flipped = permute_module.flip(q)
    np.testing.assert_array_equal(flipped.to_numpy(), q.to_numpy().T)
    np.testing.assert_allclose(flipped.dequantize(), q.dequantize().T)
    x = rng.normal(size=(2, 5)).astype(np.float32)
    np.testing.assert_allclose(permute_module.project(x, q), x @ q.dequantize().T, rtol=1e-5, atol=1e-5)
    q3 = TernaryTensor.from_numpy(rng.integers(-1, 2, size=(2, 3, 4)).astype(np.int8), scale=scale)
    np.testing.assert_allclose(permute_module.inner_axes(q3), q3.dequantize().transpose(0, 2, 1))
    np.testing.assert_allclose(permute_module.rotate(q3), q3.dequantize().transpose(2, 0, 1))


def test_moving_axis_0_of_a_per_channel_ternary_tensor_is_an_error(permute_module):
    from triton_dsl import TernaryTensor

    rng = np.random.default_rng(8)
    q3 = TernaryTensor.from_numpy(rng.integers(-1, 2, size=(2, 3, 4)).astype(np.int8),
                                  scale=np.array([1.0, 2.0], np.float32))
    np.testing.assert_allclose(permute_module.inner_axes(q3), q3.dequantize().transpose(0, 2, 1))
    square = TernaryTensor.from_numpy(rng.integers(-1, 2, size=(3, 3)).astype(np.int8),
                                      scale=np.array([1.0, 2.0, 3.0], np.float32))
    for call in (lambda: permute_module.rotate(q3), lambda: permute_module.flip(square)):
        with pytest.raises(Exception, match="one scale per channel"):
            call()  # a square matrix too: same length, but the scales would land on columns


def test_reshape_and_flatten_of_a_ternary_tensor_across_rows():
    from triton_dsl import TernaryTensor

    m = api.compile("""
fn flat(q: TernaryTensor<trit, [r, c]>) -> TernaryTensor<trit, [?]> { return flatten(q) }
fn swap_dims(q: TernaryTensor<trit, [r, c]>) -> Tensor<float32, [?, ?]> { return reshape(q, [c, r]) * 1.0 }
fn rows(q: TernaryTensor<trit, [r, c]>) -> Tensor<float32, [r, 1, c]> { return reshape(q, [r, 1, c]) * 1.0 }
fn count_ones(q: TernaryTensor<trit, [r, c]>) -> int32 { return int32(sum(flatten(q) == 1)) }
""")
    trits = np.random.default_rng(9).integers(-1, 2, size=(3, 5)).astype(np.int8)
    for scale in (2.0, (2.0, 3.0)):
        q = TernaryTensor.from_numpy(trits, scale=scale)
        flat = m.flat(q)
        np.testing.assert_array_equal(flat.to_numpy(), trits.ravel())
        np.testing.assert_allclose(flat.dequantize(), q.dequantize().ravel())
        np.testing.assert_allclose(m.swap_dims(q), q.dequantize().reshape(5, 3))
        assert m.count_ones(q) == int((trits == 1).sum())
    per_channel = TernaryTensor.from_numpy(trits, scale=np.array([1.0, 2.0, 3.0], np.float32))
    np.testing.assert_allclose(m.rows(per_channel), per_channel.dequantize()[:, None, :])
    with pytest.raises(Exception, match="one scale per channel"):
        m.flat(per_channel)
