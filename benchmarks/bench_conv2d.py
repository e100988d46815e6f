"""Benchmark: conv2d with packed ternary weights vs numpy float32 (im2col + BLAS) on a ResNet-style layer.

Run from the repository root: `python -m benchmarks.bench_conv2d [--repeat N]`.
In: nothing (random data, fixed seed). Out: a table with median times of our kernel (1 thread and all
threads) and of numpy float32 (sliding windows + tensordot, i.e. im2col + sgemm) in this process,
and the ratio. The ternary result is checked against the float result before timing.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import median_seconds
from triton_dsl.runtime import matmul_api as mm

RESNET_LAYER = dict(B=1, C=64, H=56, W=56, O=64, k=3, stride=1, pad=1)


class _Packed:
    """Minimal ternary-weight object for the API: interchange bytes plus a per-tensor scale."""

    def __init__(self, trits: np.ndarray):
        lead, cols = trits.shape[:-1], trits.shape[-1]
        codes = np.ones((*lead, -(-cols // 4) * 4), np.uint8)
        codes[..., :cols] = (trits + 1).astype(np.uint8)
        c = codes.reshape(*lead, codes.shape[-1] // 4, 4)
        self.packed = (c[..., 0] | c[..., 1] << 2 | c[..., 2] << 4 | c[..., 3] << 6).astype(np.uint8)
        self.shape = tuple(trits.shape)
        self.scales = np.array([0.05], np.float32)
        self.scale_kind = "tensor"


def numpy_conv2d(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k = w.shape[2]
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))[:, :, ::stride, ::stride]
    return np.tensordot(w, win, axes=([1, 2, 3], [1, 4, 5])).transpose(1, 0, 2, 3)


def numpy_conv_ms(repeat: int) -> float:
    """numpy float32 conv2d time for the ResNet layer (called in a subprocess with BLAS threads set)."""
    p = RESNET_LAYER
    rng = np.random.default_rng(0)
    x = rng.standard_normal((p["B"], p["C"], p["H"], p["W"])).astype(np.float32)
    wf = rng.standard_normal((p["O"], p["C"], p["k"], p["k"])).astype(np.float32)
    return median_seconds(lambda: numpy_conv2d(x, wf, p["stride"], p["pad"]), repeat) * 1e3


def ours_conv_ms(repeat: int, threads: int) -> tuple[float, float]:
    """(our median ms, max relative error vs numpy) for the ResNet layer with `threads` native threads."""
    p = RESNET_LAYER
    rng = np.random.default_rng(0)
    x = rng.standard_normal((p["B"], p["C"], p["H"], p["W"])).astype(np.float32)
    trits = rng.integers(-1, 2, (p["O"], p["C"], p["k"], p["k"])).astype(np.int8)
    w = _Packed(trits)
    tw = mm.prepare_conv_weights(w)
    y = mm.conv2d(x, tw, p["stride"], p["pad"], kernel_size=(p["k"], p["k"]))
    ref = numpy_conv2d(x, trits.astype(np.float32) * w.scales[0], p["stride"], p["pad"])
    err = float(np.abs(y - ref).max() / np.abs(ref).max())
    total = mm.num_threads()
    mm.set_num_threads(threads)
    try:
        ms = median_seconds(lambda: mm.conv2d(x, tw, p["stride"], p["pad"], kernel_size=(p["k"], p["k"])),
                            repeat) * 1e3
    finally:
        mm.set_num_threads(total)
    return ms, err


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    p = RESNET_LAYER
    print(f"conv2d {p['B']}x{p['C']}x{p['H']}x{p['W']}, {p['C']}->{p['O']}, {p['k']}x{p['k']}, "
          f"stride {p['stride']}, pad {p['pad']} (numpy: BLAS threads as configured in this process)")
    np_ms = numpy_conv_ms(args.repeat)
    for threads in sorted({1, mm.num_threads()}):
        ms, err = ours_conv_ms(args.repeat, threads)
        print(f"  ours {threads} thread(s): {ms:8.3f} ms   numpy float32: {np_ms:8.3f} ms   "
              f"ratio {np_ms / ms:5.2f}x   max rel err {err:.1e}")


if __name__ == "__main__":
    main()
