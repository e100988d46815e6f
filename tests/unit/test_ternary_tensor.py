"""`TernaryTensor`: construction, round trips, scales, quantize, counts, errors and display.

In: random trits and floats of many shapes (tails, empty dims, rank 0/1/3). Out: bit-exact trits,
float32 values equal to numpy references for every scale kind, and clear errors for bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triton_dsl import TernaryTensor

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

SHAPES = [(), (1,), (5,), (0,), (4099,), (2, 3), (3, 4), (3, 0), (0, 5), (6, 37), (2, 3, 9), (4, 2, 257),
          (1, 1, 1), (2, 0, 3)]


def rand_trits(shape: tuple, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-1, 2, size=shape).astype(np.int8)


@pytest.mark.parametrize("shape", SHAPES)
def test_from_numpy_to_numpy_round_trip(shape: tuple) -> None:
    trits = rand_trits(shape)
    t = TernaryTensor.from_numpy(trits)
    assert t.shape == shape and t.ndim == len(shape) and t.size == trits.size
    back = t.to_numpy()
    assert back.dtype == np.int8 and back.shape == shape
    np.testing.assert_array_equal(back, trits)
    np.testing.assert_array_equal(TernaryTensor.from_packed(t.packed, shape).to_numpy(), trits)


@pytest.mark.parametrize("cols", [1, 2, 3, 4, 5, 6, 7, 8, 9, 37, 257, 4099])
def test_tails(cols: int) -> None:
    trits = rand_trits((3, cols), seed=cols)
    t = TernaryTensor.from_numpy(trits)
    assert t.packed.shape == (3, (cols + 3) // 4)
    np.testing.assert_array_equal(t.to_numpy(), trits)


def test_other_integer_dtypes_are_accepted_when_in_range() -> None:
    trits = rand_trits((4, 5))
    for dtype in (np.int16, np.int32, np.int64, np.uint8):
        values = trits.astype(dtype) if dtype != np.uint8 else np.abs(trits).astype(dtype)
        expected = values.astype(np.int8)
        np.testing.assert_array_equal(TernaryTensor.from_numpy(values).to_numpy(), expected)
    np.testing.assert_array_equal(TernaryTensor.from_numpy([[1, 0, -1]]).to_numpy(), [[1, 0, -1]])


@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5), (2, 3, 9), (4, 0), (64, 130)])
def test_dequantize_each_scale_kind(shape: tuple) -> None:
    rng = np.random.default_rng(7)
    trits = rand_trits(shape, seed=3)
    t = TernaryTensor.from_numpy(trits, scale=0.375)
    np.testing.assert_array_equal(t.dequantize(), trits * np.float32(0.375))
    assert t.dequantize().dtype == np.float32 and t.dequantize().shape == shape
    a = TernaryTensor.from_numpy(trits, scale=(1.25, 0.5))
    np.testing.assert_array_equal(a.dequantize(), np.where(trits > 0, 1.25, np.where(trits < 0, -0.5, 0.0))
                                  .astype(np.float32))
    if shape:
        per = rng.uniform(0.1, 3.0, size=shape[0]).astype(np.float32)
        c = TernaryTensor.from_numpy(trits, scale=per)
        assert c.scale_kind == "channel"
        expected = trits * per.reshape((-1,) + (1,) * (len(shape) - 1))
        np.testing.assert_array_equal(c.dequantize(), expected.astype(np.float32))


def test_scale_views() -> None:
    trits = rand_trits((3, 4))
    t = TernaryTensor.from_numpy(trits, scale=2)
    assert (t.scale_kind, t.scale, t.scales.tolist()) == ("tensor", 2.0, [2.0])
    a = TernaryTensor.from_numpy(trits, scale=(1.5, 0.25))
    assert (a.scale_kind, a.scale, a.scales.tolist()) == ("asymmetric", (1.5, 0.25), [1.5, 0.25])
    c = TernaryTensor.from_numpy(trits, scale=[1, 2, 3])
    assert c.scale_kind == "channel" and c.scales.dtype == np.float32 and c.scale.tolist() == [1, 2, 3]
    assert t.nbytes == 3 + 4 and c.nbytes == 3 + 12 and a.nbytes == 3 + 8
    with pytest.raises(ValueError):
        t.packed[0, 0] = 0  # read-only: the bytes stay a valid packing


def reference_quantize(x: np.ndarray, t) -> np.ndarray:
    return np.where(x > t, 1, np.where(x < -t, -1, 0)).astype(np.int8)


@pytest.mark.parametrize("shape", [(), (5,), (3, 7), (2, 3, 64), (8, 4099), (0, 3)])
def test_quantize_matches_where(shape: tuple) -> None:
    x = np.random.default_rng(11).standard_normal(shape).astype(np.float32)
    q = TernaryTensor.quantize(x, threshold=0.4, scale=1.5)
    assert q.scale_kind == "tensor" and q.scale == 1.5
    np.testing.assert_array_equal(q.to_numpy(), reference_quantize(x, np.float32(0.4) * np.float32(1.5)))


def test_quantize_edge_values() -> None:
    t = np.float32(0.5)
    x = np.array([0.5, -0.5, 0.50000006, -0.50000006, 0.0, -0.0, np.nan, np.inf, -np.inf, 1e30, -1e-30],
                 dtype=np.float32)
    q = TernaryTensor.quantize(x, threshold=0.5)
    np.testing.assert_array_equal(q.to_numpy(), reference_quantize(x, t))
    assert q.to_numpy().tolist() == [0, 0, 1, -1, 0, 0, 0, 1, -1, 1, 0]
    # float64 input is quantized as float32, like the kernels compute
    np.testing.assert_array_equal(TernaryTensor.quantize(x.astype(np.float64)).to_numpy(), q.to_numpy())


def test_quantize_per_channel() -> None:
    x = np.random.default_rng(12).standard_normal((4, 3, 33)).astype(np.float32)
    scales = np.array([0.5, 1.0, 2.0, 4.0], dtype=np.float32)
    q = TernaryTensor.quantize(x, threshold=0.3, scale=scales)
    thresholds = (np.float32(0.3) * scales)[:, None, None]
    np.testing.assert_array_equal(q.to_numpy(), reference_quantize(x, thresholds))
    np.testing.assert_array_equal(q.dequantize(), q.to_numpy() * scales[:, None, None])


def test_counts() -> None:
    trits = np.random.default_rng(13).choice(np.array([-1, 0, 1], np.int8), size=(9, 131), p=[0.1, 0.6, 0.3])
    counts = TernaryTensor.from_numpy(trits).counts()
    assert counts == {-1: int((trits == -1).sum()), 0: int((trits == 0).sum()), 1: int((trits == 1).sum())}
    assert TernaryTensor.from_numpy(np.zeros((0, 4), np.int8)).counts() == {-1: 0, 0: 0, 1: 0}


def test_equality_and_repr() -> None:
    trits = rand_trits((3, 5))
    a = TernaryTensor.from_numpy(trits, scale=0.5)
    assert a == TernaryTensor.from_numpy(trits.copy(), scale=0.5)
    assert a != TernaryTensor.from_numpy(trits, scale=0.25)
    assert a.same_trits(TernaryTensor.from_numpy(trits, scale=0.25))
    flipped = trits.copy()
    flipped[2, 4] = -flipped[2, 4] if flipped[2, 4] else 1
    assert a != TernaryTensor.from_numpy(flipped, scale=0.5)
    assert a != TernaryTensor.from_numpy(trits.reshape(5, 3), scale=0.5)
    assert (a == "x") is False
    assert repr(a) == "TernaryTensor(shape=(3, 5), scale_kind='tensor', scale=0.5, packed_bytes=6, zeros=" \
        f"{np.mean(trits == 0):.1%})"
    assert "3 per-channel values" in repr(TernaryTensor.from_numpy(trits, scale=np.ones(3)))


@pytest.mark.parametrize("bad,where", [([[0, 1], [2, 0]], "(1, 0)"), ([3], "(0,)"), ([0, 0, -2], "(2,)"),
                                       ([1, 300], "(1,)"), ([[-129]], "(0, 0)")])
def test_invalid_trits_name_value_and_index(bad: list, where: str) -> None:
    with pytest.raises(ValueError, match=r"invalid trit -?\d+ at index " + where.replace("(", r"\(")
                       .replace(")", r"\)")):
        TernaryTensor.from_numpy(np.array(bad))


def test_bad_inputs_give_clear_errors() -> None:
    with pytest.raises(TypeError, match="integer array.*float32"):
        TernaryTensor.from_numpy(np.zeros(3, np.float32))
    with pytest.raises(TypeError, match="bool"):
        TernaryTensor.from_numpy(np.zeros(3, bool))
    with pytest.raises(ValueError, match="finite.*nan"):
        TernaryTensor.from_numpy(np.zeros(3, np.int8), scale=float("nan"))
    with pytest.raises(ValueError, match="finite.*inf"):
        TernaryTensor.from_numpy(np.zeros((2, 3), np.int8), scale=np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match="need 2 value.*got 3"):
        TernaryTensor.from_numpy(np.zeros((2, 3), np.int8), scale=np.ones(3))
    with pytest.raises(ValueError, match="no channels"):
        TernaryTensor.from_numpy(np.int8(1), scale=np.ones(1))
    with pytest.raises(ValueError, match=r"\(pos, neg\) pair"):
        TernaryTensor.from_numpy(np.zeros(3, np.int8), scale=(1.0, 2.0, 3.0))
    with pytest.raises(TypeError, match="scale must be"):
        TernaryTensor.from_numpy(np.zeros(3, np.int8), scale="big")
    with pytest.raises(TypeError, match="floating-point"):
        TernaryTensor.quantize(np.zeros(3, np.int8))
    with pytest.raises(ValueError, match="threshold"):
        TernaryTensor.quantize(np.zeros(3, np.float32), threshold=float("nan"))
    with pytest.raises(ValueError, match="rank 2 or more"):
        TernaryTensor.quantize(np.zeros(3, np.float32), scale=np.ones(3))


def test_from_packed_rejects_bad_bytes() -> None:
    with pytest.raises(ValueError, match="takes 2 packed bytes, got 3"):
        TernaryTensor.from_packed(np.zeros(3, np.uint8), (7,))
    with pytest.raises(TypeError, match="uint8"):
        TernaryTensor.from_packed(np.zeros(2, np.int8), (7,))
    with pytest.raises(ValueError, match="corrupt"):
        TernaryTensor.from_packed(np.array([0xFF], np.uint8), (4,))  # code 3
    with pytest.raises(ValueError, match="corrupt"):
        TernaryTensor.from_packed(np.array([0x95], np.uint8), (3,))  # padding slot holds code 2
    with pytest.raises(ValueError, match="corrupt"):
        TernaryTensor.from_packed(np.array([0x15], np.uint8), (3,))  # padding slot holds code 0
    # The same byte is valid with 4 elements (no padding): 0, 0, 0, -1.
    assert TernaryTensor.from_packed(np.array([0x15], np.uint8), (4,)).to_numpy().tolist() == [0, 0, 0, -1]


def test_from_packed_copy_or_borrow() -> None:
    packed = TernaryTensor.from_numpy(rand_trits((3, 6))).packed.copy()
    copied = TernaryTensor.from_packed(packed, (3, 6))
    borrowed = TernaryTensor.from_packed(packed, (3, 6), copy=False)
    assert not np.shares_memory(copied.packed, packed) and np.shares_memory(borrowed.packed, packed)
    assert packed.flags.writeable and not borrowed.packed.flags.writeable
    assert copied == borrowed


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(0, 13), min_size=0, max_size=3).map(tuple), seed=st.integers(0, 2**16),
       scale=st.floats(-1e3, 1e3, allow_nan=False, width=32))
def test_round_trip_property(shape: tuple, seed: int, scale: float) -> None:
    trits = rand_trits(shape, seed)
    t = TernaryTensor.from_numpy(trits, scale=scale)
    np.testing.assert_array_equal(t.to_numpy(), trits)
    np.testing.assert_array_equal(t.dequantize(), trits * np.float32(scale))
    assert TernaryTensor.from_packed(t.packed, shape, scale) == t
