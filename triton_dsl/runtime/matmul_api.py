"""Python entry points to the native ternary matmul kernels, on numpy arrays (tests, benchmarks, API).

In: float32 numpy activations and ternary weights — any object with `.packed` (uint8, interchange
layout), `.shape`, `.scales`, `.scale_kind` (e.g. `TernaryTensor`), or a `TernaryWeights` made once by
`prepare_weights` (which keeps the kernels' private re-laid-out copies, built on first use).
Out: float32 numpy results from native code:
- `matmul(x, w, out_scales=None)`: exact x @ dequantized(W), W of shape [K, N];
- `bitlinear(x, w, out_scales=None)`: BitNet b1.58 int8-activation matmul (error bound in docs/kernels.md);
- `ternary_matmul(a, w, out_scales=None)` / `ternary_matmul_int(a, w)`: both operands ternary;
- `conv2d(x, w, stride=1, padding=0)`: NCHW float32 input, OIHW ternary weights;
- `set_num_threads(n)` / `num_threads()`: the native pool's thread count.
numpy only allocates inputs/outputs here; every element of a result is computed by a kernel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from triton_dsl.codegen.kernels import bitlinear as _bitlinear
from triton_dsl.codegen.kernels import conv2d as _conv2d
from triton_dsl.codegen.kernels import matmul_f32 as _matmul_f32
from triton_dsl.codegen.kernels import matmul_gemm_lut as _matmul_gemm_lut
from triton_dsl.codegen.kernels import matmul_gemv as _matmul_gemv
from triton_dsl.codegen.kernels import matmul_lut5 as _matmul_lut5
from triton_dsl.codegen.kernels import matmul_perm8 as _matmul_perm8
from triton_dsl.codegen.kernels import matmul_tt as _matmul_tt
from triton_dsl.codegen.kernels import relayout as _relayout
from triton_dsl.codegen.kernels import threads as _threads
from triton_dsl.codegen.kernels.relayout import (
    LUT5_AVX2_MIN_COLUMNS,
    LUT5_AVX2_MIN_ROWS,
    LUT5_CHUNK,
    LUT5_GROUP_K,
    LUT5_MIN_COLUMNS,
    LUT_GROUPS_PER_WORD,
    LUT_MIN_COLUMNS,
    LUT_TILES,
    PANEL_F32,
    PANEL_VNNI,
    PERM8_BLOCK_TILES,
    PERM8_MIN_COLUMNS,
    PERM8_WORD_K,
    VNNI_KBLOCK,
)

BUILDERS = [_threads.build, _relayout.build, _matmul_f32.build, _matmul_gemv.build, _matmul_gemm_lut.build,
            _matmul_perm8.build, _matmul_lut5.build, _bitlinear.build, _matmul_tt.build, _conv2d.build]

_lock = threading.Lock()
_lib = None


def kernels():
    """The kernel library holding these kernels: the process-wide one when it has them, else our own."""
    global _lib
    with _lock:
        if _lib is None:
            from triton_dsl.runtime import kernel_library as kl
            if _matmul_f32.build in kl.KERNEL_BUILDERS:
                _lib = kl.kernel_library()
            else:
                _lib = kl.KernelLibrary(builders=BUILDERS)
        return _lib


def num_threads() -> int:
    return int(kernels().trk_num_threads())


def set_num_threads(n: int) -> int:
    """Use at most `n` native threads from now on; returns the count in effect."""
    return int(kernels().trk_set_num_threads(int(n)))


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _checked_ternary(t: Any, rank: int, requirement: str) -> tuple[tuple[int, ...], np.ndarray]:
    """(shape, packed bytes as contiguous uint8) of a ternary tensor of the given rank, its bytes checked
    against the interchange layout (ceil(last dim / 4) bytes per row); `requirement` words the rank error."""
    shape = tuple(int(d) for d in t.shape)
    if len(shape) != rank:
        raise ValueError(f"{requirement}, got shape {shape}")
    packed = np.ascontiguousarray(t.packed, dtype=np.uint8)
    expected = (*shape[:-1], _ceil(shape[-1], 4))
    if packed.shape != expected:
        raise ValueError(f"packed bytes have shape {packed.shape}, expected {expected}")
    return shape, packed


def _ptr(a: np.ndarray | None) -> int:
    return 0 if a is None else a.ctypes.data


@dataclass
class TernaryWeights:
    """Ternary weights seen as a K × N matrix (K reduced, N output columns) plus their scales.

    `mode`/`rows_per_n`/`row_len` say how (k, n) maps into the interchange bytes (see relayout.py).
    Value of element (k, n) = trit · kscale[k] · nscale[n] with trit +1 → wpos, −1 → −wneg.
    """

    packed: np.ndarray
    K: int
    N: int
    nscale: np.ndarray
    kscale: np.ndarray | None = None
    wpos: float = 1.0
    wneg: float = 1.0
    mode: int = 0
    rows_per_n: int = 0
    row_len: int = 1
    _cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def _relayout(self, kind: str, nbytes: int) -> np.ndarray:
        if kind not in self._cache:
            dst = np.zeros(max(nbytes, 1), dtype=np.uint8)
            getattr(kernels(), f"trk_relayout_t2_{kind}")(self.packed.ctypes.data, self.K, self.N, self.mode,
                                                          self.rows_per_n, self.row_len, dst.ctypes.data)
            self._cache[kind] = dst
        return self._cache[kind]

    def panels(self) -> np.ndarray:
        return self._relayout("panels", -(-self.N // PANEL_F32) * self.K * 8)

    def vnni(self) -> np.ndarray:
        pairs = -(-self.N // (2 * PANEL_VNNI))
        return self._relayout("vnni", pairs * 2 * -(-self.K // VNNI_KBLOCK) * 64)

    def lut3(self) -> np.ndarray:
        words = _ceil(_ceil(self.K, 3), LUT_GROUPS_PER_WORD)
        return self._relayout("lut3", _ceil(self.N, 16 * LUT_TILES) * words * LUT_TILES * 64)

    def perm8(self) -> np.ndarray:
        blocks = _ceil(self.N, 8 * PERM8_BLOCK_TILES)
        return self._relayout("perm8", blocks * _ceil(self.K, PERM8_WORD_K) * PERM8_BLOCK_TILES * 64)

    def lut5(self) -> np.ndarray:
        return self._relayout("lut5", lut5_bytes(self.K, self.N))

    def bitplanes(self) -> np.ndarray:
        return self._relayout("bitplanes", self.N * -(-self.K // 64) * 16)


def _scales_of(t: Any) -> tuple[str, np.ndarray]:
    kind = getattr(t, "scale_kind", "tensor")
    scales = np.ascontiguousarray(getattr(t, "scales", np.ones(1, np.float32)), dtype=np.float32).reshape(-1)
    return kind, scales


def prepare_weights(w: Any, out_scales: np.ndarray | None = None) -> TernaryWeights:
    """TernaryWeights for a ternary [K, N] weight (`x @ W`). `channel` scales are per axis 0 (per k),
    as the interchange format defines them; `out_scales` (N values) adds per-output-column scales."""
    if isinstance(w, TernaryWeights):
        return w if out_scales is None else _with_out_scales(w, out_scales)
    (K, N), packed = _checked_ternary(w, 2, "matmul weights must be 2-D [in_features, out_features]")
    kind, scales = _scales_of(w)
    tw = TernaryWeights(packed, K, N, np.ones(N, np.float32))
    _apply_scales(tw, kind, scales, per_k=True)
    return tw if out_scales is None else _with_out_scales(tw, out_scales)


def _apply_scales(tw: TernaryWeights, kind: str, scales: np.ndarray, per_k: bool) -> None:
    if kind == "tensor":
        tw.nscale = np.full(tw.N, scales[0], np.float32)
    elif kind == "asymmetric":
        tw.wpos, tw.wneg = float(scales[0]), float(scales[1])
    elif kind == "channel" and per_k:
        if scales.size != tw.K:
            raise ValueError(f"channel scales: expected {tw.K} values, got {scales.size}")
        tw.kscale = scales
    elif kind == "channel":
        if scales.size != tw.N:
            raise ValueError(f"channel scales: expected {tw.N} values, got {scales.size}")
        tw.nscale = scales.copy()
    else:
        raise ValueError(f"unknown scale kind {kind!r}")


def _with_out_scales(tw: TernaryWeights, out_scales: np.ndarray) -> TernaryWeights:
    s = np.ascontiguousarray(out_scales, dtype=np.float32).reshape(-1)
    if s.size != tw.N:
        raise ValueError(f"out_scales: expected {tw.N} values, got {s.size}")
    copy = TernaryWeights(**{k: getattr(tw, k) for k in ("packed", "K", "N", "nscale", "kscale", "wpos",
                                                          "wneg", "mode", "rows_per_n", "row_len")})
    copy.nscale = tw.nscale * s
    copy._cache = tw._cache  # same trits: share the re-laid-out copies
    return copy


def _activations(x: np.ndarray, K: int) -> tuple[np.ndarray, bool]:
    x = np.ascontiguousarray(x, dtype=np.float32)
    vector = x.ndim == 1
    x2 = x.reshape(1, -1) if vector else x
    if x2.ndim != 2 or x2.shape[1] != K:
        raise ValueError(f"activations of shape {x.shape} do not match weights with {K} input features")
    return x2, vector


def lut5_bytes(K: int, N: int) -> int:
    """Size of the lut5 layout: ceil(ceil(K / 5) / 16) chunks of N × 16 bytes (relayout.py)."""
    return _ceil(_ceil(K, LUT5_GROUP_K), LUT5_CHUNK) * N * LUT5_CHUNK


def matmul_layout(tw: TernaryWeights, M: int) -> str:
    """The private layout `matmul` multiplies `tw` from for M rows: "lut3" (AVX-512 table lookup), "perm8"
    (AVX2 bit-plane table lookup), "lut5" (1.6-bit table lookup, targets without AVX2) or "panels"
    (masked adds / FMA: narrow outputs)."""
    variant = kernels().host.variant("gemm")
    if variant == "avx512-lut" and tw.N >= LUT_MIN_COLUMNS:
        # the table-lookup kernels: they need the two-table permute to be fast, and enough columns to
        # amortize building a table per row (~12 vector ops per 3 k, vs 2 per 16 columns when used)
        return "lut3"
    if variant == "lut5" and tw.N >= LUT5_MIN_COLUMNS:
        return "lut5"
    if variant == "avx2-perm" and M >= LUT5_AVX2_MIN_ROWS and tw.N >= LUT5_AVX2_MIN_COLUMNS:
        return "lut5"  # on AVX2 too, once enough rows and columns share each table (docs/kernels.md)
    if variant == "avx2-perm" and tw.N >= PERM8_MIN_COLUMNS:
        return "perm8"
    return "panels"


def matmul_call(x2: np.ndarray, tw: TernaryWeights, y: np.ndarray,
                layout: np.ndarray | None = None) -> Callable[[], int]:
    """A call computing y = x2 @ W (x2 float32 [M, K] contiguous, y float32 [M, N]) with the kernel `matmul`
    picks; `layout` is the re-laid-out weight copy to read (default: tw's own). Returns the kernel's
    status when called (0, or 1 if out of memory). The call holds raw addresses: keep the arrays alive."""
    M, lib = x2.shape[0], kernels()
    kind = matmul_layout(tw, M)
    buf = (layout if layout is not None else getattr(tw, kind)()).ctypes.data
    xp, yp, ks, ns = x2.ctypes.data, y.ctypes.data, _ptr(tw.kscale), tw.nscale.ctypes.data
    K, N = tw.K, tw.N
    if kind == "lut3" and M == 1:
        return partial(lib.trk_gemv_f32_t2_lut, xp, buf, yp, K, N, ks, ns, tw.wpos, tw.wneg)
    if kind == "lut3":
        return partial(lib.trk_gemm_f32_t2_lut, xp, K, buf, yp, N, M, K, N, ks, ns, tw.wpos, tw.wneg)
    if kind in ("perm8", "lut5"):  # the same signature
        return partial(getattr(lib, f"trk_matmul_f32_t2_{kind}"), xp, K, buf, yp, N, M, K, N, ks, ns, tw.wpos,
                       tw.wneg)
    call = partial(lib.trk_matmul_f32_t2, xp, K, 1, buf, yp, N, 1, M, K, N, ks, ns, tw.wpos, tw.wneg)
    return lambda: call() or 0


def matmul(x: np.ndarray, w: Any, out_scales: np.ndarray | None = None) -> np.ndarray:
    """Exact float32 x [M, K] (or [K]) @ dequantized ternary W [K, N] → [M, N] (or [N])."""
    tw = prepare_weights(w, out_scales)
    x2, vector = _activations(x, tw.K)
    y = np.empty((x2.shape[0], tw.N), np.float32)
    if matmul_call(x2, tw, y)() != 0:
        raise MemoryError("out of memory for the matmul tables")
    return y[0] if vector else y


def bitlinear(x: np.ndarray, w: Any, out_scales: np.ndarray | None = None) -> np.ndarray:
    """int8 absmax-quantized x (per row) @ ternary W with integer accumulation, rescaled to float32."""
    tw = prepare_weights(w, out_scales)
    x2, vector = _activations(x, tw.K)
    if tw.wpos != 1.0 or tw.wneg != 1.0:
        raise ValueError("bitlinear needs symmetric weights (tensor or channel scales)")
    M, Kp = x2.shape[0], -(-tw.K // VNNI_KBLOCK) * VNNI_KBLOCK
    y = np.empty((M, tw.N), np.float32)
    xq = np.empty((M, max(Kp, 1)), np.int8)
    gamma = np.empty(max(M, 1), np.float32)
    xsum = np.empty(max(M, 1), np.int32)
    kernels().trk_bitlinear_t2(x2.ctypes.data, tw.K, M, tw.K, tw.N, _ptr(tw.kscale), tw.vnni().ctypes.data,
                               tw.nscale.ctypes.data, y.ctypes.data, tw.N, xq.ctypes.data, gamma.ctypes.data,
                               xsum.ctypes.data)
    return y[0] if vector else y


def _activation_bitplanes(a: Any) -> tuple[np.ndarray, int, int, str, np.ndarray]:
    (M, K), packed = _checked_ternary(a, 2, "ternary activations must be 2-D [batch, in_features]")
    planes = np.zeros(max(M * -(-K // 64) * 16, 1), np.uint8)
    # activations [M, K] are "nk" addressed: element (k, m) is column k of row m
    kernels().trk_relayout_t2_bitplanes(packed.ctypes.data, K, M, 1, 1, max(K, 1), planes.ctypes.data)
    kind, scales = _scales_of(a)
    return planes, M, K, kind, scales


def _ternary_product(a: Any, w: Any, out_scales: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    tw = prepare_weights(w, out_scales)
    planes, M, K, akind, ascales = _activation_bitplanes(a)
    if K != tw.K:
        raise ValueError(f"ternary activations have {K} features, weights expect {tw.K}")
    if tw.kscale is not None:
        raise ValueError("ternary × ternary matmul needs weight scales constant along the reduced axis")
    rs = np.ones(max(M, 1), np.float32)
    apos = aneg = 1.0
    if akind == "tensor":
        rs[:] = ascales[0]
    elif akind == "channel":
        rs[:M] = ascales
    else:
        apos, aneg = float(ascales[0]), float(ascales[1])
    coef = np.array([apos * tw.wpos, apos * tw.wneg, aneg * tw.wpos, aneg * tw.wneg], np.float32)
    y = np.empty((M, tw.N), np.float32)
    dots = np.empty((M, tw.N), np.int32)
    kernels().trk_matmul_t2_t2(planes.ctypes.data, M, K, tw.bitplanes().ctypes.data, tw.N, rs.ctypes.data,
                               tw.nscale.ctypes.data, coef.ctypes.data, y.ctypes.data, dots.ctypes.data)
    return y, dots


def ternary_matmul(a: Any, w: Any, out_scales: np.ndarray | None = None) -> np.ndarray:
    """dequantized(a) [M, K] @ dequantized(W) [K, N] for ternary a and W, from exact integer dot products."""
    return _ternary_product(a, w, out_scales)[0]


def ternary_matmul_int(a: Any, w: Any) -> np.ndarray:
    """The integer trit dot products Σ_k a[m,k]·W[k,n] (int32), scales ignored."""
    return _ternary_product(a, w, None)[1]


def prepare_conv_weights(w: Any) -> TernaryWeights:
    """TernaryWeights for OIHW ternary conv weights: K = C·kh·kw, N = O; `channel` scales are per O."""
    (O, C, kh, kw), packed = _checked_ternary(w, 4, "conv2d weights must be 4-D [out, in, kh, kw]")
    tw = TernaryWeights(packed, C * kh * kw, O, np.ones(O, np.float32), mode=1, rows_per_n=C * kh,
                        row_len=kw)
    kind, scales = _scales_of(w)
    _apply_scales(tw, kind, scales, per_k=False)
    return tw


def conv2d(x: np.ndarray, w: Any, stride: int | tuple[int, int] = 1,
           padding: int | tuple[int, int] = 0, *, kernel_size: tuple[int, int] | None = None) -> np.ndarray:
    """Exact conv2d (cross-correlation) of float32 NCHW `x` with ternary OIHW weights → [B, O, OH, OW]."""
    if isinstance(w, TernaryWeights):
        if kernel_size is None:
            raise ValueError("pass kernel_size=(kh, kw) with prepared conv weights")
        tw, (kh, kw) = w, kernel_size
    else:
        tw, (kh, kw) = prepare_conv_weights(w), tuple(int(d) for d in w.shape[2:])
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 4 or x.shape[1] * kh * kw != tw.K:
        raise ValueError(f"input of shape {x.shape} does not match conv weights with K = {tw.K}")
    if sh < 1 or sw < 1 or ph < 0 or pw < 0:
        raise ValueError("stride must be ≥ 1 and padding ≥ 0")
    B, C, H, W = x.shape
    OH, OW = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    if OH <= 0 or OW <= 0:
        raise ValueError("conv2d output would be empty: kernel larger than the padded input")
    y = np.empty((B, tw.N, OH, OW), np.float32)
    scratch = np.empty(max(OH * OW * tw.K, 1), np.float32)
    kernels().trk_conv2d_f32_t2(x.ctypes.data, B, C, H, W, kh, kw, sh, sw, ph, pw, tw.panels().ctypes.data,
                                tw.N, _ptr(tw.kscale), tw.nscale.ctypes.data, tw.wpos, tw.wneg,
                                y.ctypes.data, scratch.ctypes.data)
    return y
