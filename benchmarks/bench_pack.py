"""Benchmark: packed-ternary kernels (fused quantize-and-pack, pack, unpack, dequantize, count) vs numpy.

Run from the repository root: `python -m benchmarks.bench_pack [--size N] [--repeat R]`.
In: nothing (random float32 N x N, fixed seed; default 4096). Out: a table with the median time of
each of our kernels (all threads, and 1 thread) and of the equivalent numpy expression in this
process, the memory throughput (bytes read + written per second) and numpy time / our time. Every
result is checked against numpy's before timing.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import median_seconds
from triton_dsl import TernaryTensor
from triton_dsl.runtime.kernel_library import kernel_library

THRESHOLD, SCALE = 0.5, 1.0


def numpy_pack(trits: np.ndarray) -> np.ndarray:
    codes = (trits + 1).astype(np.uint8)
    return codes[:, 0::4] | codes[:, 1::4] << 2 | codes[:, 2::4] << 4 | codes[:, 3::4] << 6


def numpy_quantize_pack(x: np.ndarray) -> np.ndarray:
    t = np.float32(THRESHOLD) * np.float32(SCALE)
    return numpy_pack(np.where(x > t, 1, np.where(x < -t, -1, 0)).astype(np.int8))


def numpy_unpack(packed: np.ndarray) -> np.ndarray:
    shifts = np.array([0, 2, 4, 6], np.uint8)
    return (((packed[:, :, None] >> shifts) & 3).astype(np.int8) - 1).reshape(packed.shape[0], -1)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=9)
    args = ap.parse_args(argv)
    n, repeat = args.size, args.repeat
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n)).astype(np.float32)
    lib = kernel_library()

    packed = np.empty((n, (n + 3) // 4), np.uint8)
    trits = np.empty((n, n), np.int8)
    values = np.empty((n, n), np.float32)
    counts = np.zeros(4, np.int64)
    scale = np.array([SCALE], np.float32)

    # Check every kernel against numpy once before timing.
    expected_packed = numpy_quantize_pack(x)
    lib.trk_quantize_pack_f32(x.ctypes.data, n, n, THRESHOLD, SCALE, packed.ctypes.data)
    assert np.array_equal(packed, expected_packed), "quantize-and-pack differs from numpy"
    expected_trits = numpy_unpack(packed)
    lib.trk_unpack_i8(packed.ctypes.data, n, n, trits.ctypes.data)
    assert np.array_equal(trits, expected_trits), "unpack differs from numpy"
    assert TernaryTensor.quantize(x, THRESHOLD, SCALE).packed.tobytes() == expected_packed.tobytes()

    f32, i8, u8 = 4 * n * n, n * n, n * n // 4
    cases = [
        ("quantize+pack f32->2b", f32 + u8,
         lambda: lib.trk_quantize_pack_f32(x.ctypes.data, n, n, THRESHOLD, SCALE, packed.ctypes.data),
         lambda: numpy_quantize_pack(x)),
        ("pack i8->2b", i8 + u8,
         lambda: lib.trk_pack_i8(trits.ctypes.data, n, n, packed.ctypes.data),
         lambda: numpy_pack(trits)),
        ("unpack 2b->i8", u8 + i8,
         lambda: lib.trk_unpack_i8(packed.ctypes.data, n, n, trits.ctypes.data),
         lambda: numpy_unpack(packed)),
        ("dequantize 2b->f32", u8 + f32,
         lambda: lib.trk_dequant_f32(packed.ctypes.data, n, n, scale.ctypes.data, 0, 1, values.ctypes.data),
         lambda: numpy_unpack(packed).astype(np.float32) * scale[0]),
        ("count trits", u8,
         lambda: lib.trk_count_trits(packed.ctypes.data, n, n, counts.ctypes.data),
         lambda: np.bincount((numpy_unpack(packed) + 1).ravel(), minlength=3)),
    ]
    threads = lib.trk_num_threads()
    print(f"{n}x{n}, {threads} thread(s) available, median of {repeat}")
    print(f"{'kernel':24} {'ours ms':>9} {'GB/s':>7} {'1-thr ms':>9} {'numpy ms':>9} {'numpy/ours':>11}")
    for name, nbytes, ours, theirs in cases:
        t_ours = median_seconds(ours, repeat)
        lib.trk_set_num_threads(1)
        t_one = median_seconds(ours, repeat)
        lib.trk_set_num_threads(threads)
        t_np = median_seconds(theirs, max(3, repeat // 3))
        print(f"{name:24} {t_ours * 1e3:9.2f} {nbytes / t_ours / 1e9:7.1f} {t_one * 1e3:9.2f} "
              f"{t_np * 1e3:9.1f} {t_np / t_ours:10.1f}x")


if __name__ == "__main__":
    main()
