"""argmax / argmin results used by generated code: the checker's dtype is the runtime's (int64).

In: DSL functions that index, compare and compute with an argmax result. Out: the numpy answers. The
checker once typed the result int32 while the runtime wrote int64 indices, so code reading the tensor
(indexing, elementwise ops) saw the halves of each index — p[1] was 0 and an accuracy came out 0.1 —
while printing or returning the tensor through the API (which read the runtime's dtype) looked right.
"""

from __future__ import annotations

import numpy as np

import triton_dsl

SOURCE = """
fn second(h: Tensor<float32, [n, k]>) -> int64 {
    let p = argmax(h, dim=1)
    return p[1]
}
fn shifted(h: Tensor<float32, [n, k]>) -> Tensor<int64, [n]> {
    return argmin(h, dim=1) + 1
}
fn accuracy(h: Tensor<float32, [n, k]>, labels: Tensor<int64, [n]>) -> float32 {
    return mean(float32(argmax(h, dim=1) == labels))
}
fn flat(h: Tensor<float32, [n, k]>) -> int64 {
    return argmax(h) * 2
}
"""


def test_argmax_results_read_by_generated_code_are_the_indices() -> None:
    module = triton_dsl.compile(SOURCE, name="argmax_dtype.triton", cache=False)
    rng = np.random.default_rng(3)
    for n, k in [(3, 10), (360, 128), (5, 1)]:
        h = rng.standard_normal((n, k)).astype(np.float32)
        assert module.second(h) == h.argmax(1)[1]
        np.testing.assert_array_equal(module.shifted(h), h.argmin(1) + 1)
        labels = h.argmax(1).astype(np.int64)
        labels[::2] = (labels[::2] + 1) % k if k > 1 else labels[::2]
        assert module.accuracy(h, labels) == np.float32(np.mean(h.argmax(1) == labels))
        assert module.flat(h) == 2 * h.argmax()
