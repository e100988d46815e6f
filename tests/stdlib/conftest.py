"""Shared helpers of the stdlib tests: compile a DSL module once per test file, numpy references.

Out: `compile_module(source)` (cached per source text), `ref_threshold(x, t, s)` (the packed format's
quantizer: strict comparisons against t·s rounded to float32, NaN -> 0), `trits(q)` and `values(q)` of a
`TernaryTensor` (through the Python-side reference unpacker, independent of the DSL runtime).
"""

from __future__ import annotations

from functools import cache

import numpy as np

import triton_dsl


@cache
def compile_module(source: str) -> triton_dsl.Module:
    return triton_dsl.compile(source, name="stdlib_test.triton")


def ref_threshold(x: np.ndarray, threshold: float, scale: float = 1.0) -> np.ndarray:
    t = np.float32(np.float32(threshold) * np.float32(scale))
    with np.errstate(invalid="ignore"):
        return np.where(x > t, 1, np.where(x < -t, -1, 0)).astype(np.int8)


def trits(q) -> np.ndarray:
    return q.to_numpy()


def values(q) -> np.ndarray:
    return q.dequantize()
