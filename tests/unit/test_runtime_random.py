"""Philox-4x32-10 random numbers: a pure-Python reference (checked against the Random123 known-answer
vectors) pins the native stream bit for bit; seeding, distributions and dtypes."""

import ctypes
import math

import numpy as np
import pytest

from triton_dsl.abi import layout
from triton_dsl.runtime import interop
from triton_dsl.runtime.errors import Context, TritonRuntimeError, raise_if_error

f = interop.func
MASK = 0xFFFFFFFF


def philox4x32_10(ctr, key):
    c, k = list(ctr), list(key)
    for r in range(10):
        if r:
            k = [(k[0] + 0x9E3779B9) & MASK, (k[1] + 0xBB67AE85) & MASK]
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & MASK, (p0 >> 32) ^ c[3] ^ k[1], p0 & MASK]
    return c


def reference_words(seed, start, n):
    key = (seed & MASK, seed >> 32)
    return [philox4x32_10(((w // 4) & MASK, w // 4 >> 32, 0, 0), key)[w % 4] for w in range(start, start + n)]


def test_reference_matches_random123_known_answers():
    assert philox4x32_10((0, 0, 0, 0), (0, 0)) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox4x32_10((MASK,) * 4, (MASK, MASK)) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    assert philox4x32_10((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0)) == \
        [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


def draw(name, dtype, shape, *extra):
    ctx = Context()
    dims = (ctypes.c_int64 * max(1, len(shape)))(*shape)
    h = f(name)(ctypes.byref(ctx), dtype, len(shape), dims, *extra)
    raise_if_error(ctx)
    return interop.from_header(h)


def uniform_from(words):
    return np.array([(w >> 8) * 2.0**-24 for w in words], dtype=np.float32)


def test_seed0_stream_is_pinned_and_matches_reference():
    f("trt_seed")(0)
    first = draw("trt_rand", layout.FLOAT32, (6,))
    # Pinned: the first uniforms of seed 0 on every machine.
    expected = uniform_from([0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8])
    np.testing.assert_array_equal(first[:4], expected)
    np.testing.assert_array_equal(first, uniform_from(reference_words(0, 0, 6)))
    # The stream continues where it stopped (word 6 onwards), across block boundaries.
    more = draw("trt_rand", layout.FLOAT64, (3, 3))
    np.testing.assert_array_equal(more.ravel(), uniform_from(reference_words(0, 6, 9)).astype(np.float64))


def test_seed_resets_and_large_seeds_use_both_key_words():
    for seed in (12345, 2**40 + 7):
        f("trt_seed")(seed)
        a = draw("trt_rand", layout.FLOAT32, (5,))
        f("trt_seed")(seed)
        b = draw("trt_rand", layout.FLOAT32, (5,))
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, uniform_from(reference_words(seed, 0, 5)))


def test_normal_is_box_muller_of_word_pairs():
    f("trt_seed")(3)
    z = draw("trt_randn", layout.FLOAT64, (5,))
    words = reference_words(3, 0, 6)
    ref = []
    for w0, w1 in zip(words[::2], words[1::2], strict=True):
        u1, u2 = ((w0 >> 8) + 1) * 2.0**-24, (w1 >> 8) * 2.0**-24
        r = math.sqrt(-2.0 * math.log(u1))
        ref += [r * math.cos(2 * math.pi * u2), r * math.sin(2 * math.pi * u2)]
    np.testing.assert_allclose(z, ref[:5], rtol=1e-14)
    # An odd count still consumes a whole pair: the next draw starts at word 6.
    after = draw("trt_rand", layout.FLOAT32, (1,))
    np.testing.assert_array_equal(after, uniform_from(reference_words(3, 6, 1)))


def test_distributions_look_right():
    f("trt_seed")(1)
    u = draw("trt_uniform", layout.FLOAT32, (200_000,), -2.0, 3.0)
    assert u.dtype == np.float32 and u.min() >= -2.0 and u.max() < 3.0
    assert abs(u.mean() - 0.5) < 0.02 and abs(u.var() - 25 / 12) < 0.05
    z = draw("trt_randn", layout.FLOAT16, (100_000,))
    assert z.dtype == np.float16 and abs(z.astype(np.float64).mean()) < 0.02
    assert abs(z.astype(np.float64).std() - 1.0) < 0.02


def test_scalar_draws_follow_the_same_stream():
    f("trt_seed")(9)
    words = reference_words(9, 0, 3)
    assert f("trt_rand_scalar")() == pytest.approx(float(uniform_from(words[:1])[0]), abs=0)
    w0, w1 = words[1], words[2]
    u1, u2 = ((w0 >> 8) + 1) * 2.0**-24, (w1 >> 8) * 2.0**-24
    expected = np.float32(math.sqrt(-2.0 * math.log(u1)) * math.cos(2 * math.pi * u2))
    assert np.float32(f("trt_randn_scalar")()) == expected


def test_integer_dtype_is_an_error():
    with pytest.raises(TritonRuntimeError, match=r"rand\(\) makes float16, float32 or float64 tensors"):
        draw("trt_rand", layout.INT32, (3,))
