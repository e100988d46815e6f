"""The hand-worked byte examples of docs/ternary_format.md, both ways, and the size guarantees.

In: the documented trit arrays. Out: exactly the documented packed bytes from `TernaryTensor.from_numpy`,
and the documented trits back from `TernaryTensor.from_packed(...).to_numpy()`.
"""

from __future__ import annotations

import numpy as np
import pytest

from triton_dsl import TernaryTensor
from triton_dsl.runtime.ternary import packed_shape

DOC_EXAMPLES = [
    ([-1, 0, 1, 1], [0xA4]),
    ([1, -1, 0], [0x52]),
    ([0, 0, 0, 0], [0x55]),
    ([-1, -1, -1, -1], [0x00]),
    ([1, 1, 1, 1], [0xAA]),
    (1, [0x56]),
    (-1, [0x54]),
    (0, [0x55]),
    ([0, 1, -1, 0, 1, -1], [0x49, 0x52]),
    ([[1, 1, 1, 1, -1], [0, 0, 0, 0, 0]], [[0xAA, 0x54], [0x55, 0x55]]),
    ([[1], [-1]], [[0x56], [0x54]]),
]


@pytest.mark.parametrize("trits,packed", DOC_EXAMPLES)
def test_documented_bytes(trits: list, packed: list) -> None:
    t = TernaryTensor.from_numpy(np.array(trits, dtype=np.int8))
    assert t.packed.dtype == np.uint8
    np.testing.assert_array_equal(t.packed, np.array(packed, dtype=np.uint8))


@pytest.mark.parametrize("trits,packed", DOC_EXAMPLES)
def test_documented_bytes_unpack(trits: list, packed: list) -> None:
    shape = np.array(trits).shape
    t = TernaryTensor.from_packed(np.array(packed, dtype=np.uint8), shape)
    np.testing.assert_array_equal(t.to_numpy(), np.array(trits, dtype=np.int8))
    assert t.to_numpy().shape == shape


@pytest.mark.parametrize("shape,expected", [((), (1,)), ((0,), (0,)), ((5,), (2,)), ((3, 4), (3, 1)),
                                            ((2, 3, 9), (2, 3, 3)), ((4, 0), (4, 0)), ((0, 7), (0, 2))])
def test_packed_shape(shape: tuple, expected: tuple) -> None:
    assert packed_shape(shape) == expected
    t = TernaryTensor.from_numpy(np.zeros(shape, dtype=np.int8))
    assert t.packed.shape == expected


def test_4096_square_is_4_mib_plus_scales() -> None:
    t = TernaryTensor.from_numpy(np.zeros((4096, 4096), dtype=np.int8))
    assert t.packed.nbytes == 4 * 2**20
    assert t.nbytes == 4 * 2**20 + 4
    per_channel = TernaryTensor.from_numpy(np.zeros((4096, 4096), dtype=np.int8), scale=np.ones(4096))
    assert per_channel.nbytes == 4 * 2**20 + 4 * 4096 <= 4 * 2**20 + 16 * 2**10
