"""The packed-ternary `trk_*` kernels through ctypes, against numpy references.

In: random trits / floats of many shapes (row tails, empty dims, sizes that split rows across
thread-pool chunks). Out: bit-exact packed bytes, trits, counts and float32 values, for the vector
code of the process target (AVX-512, AVX2 or SSE2 by TRITON_DSL_CPU; .ci/run runs every level) and the
portable scalar code (built as its own library).
"""

from __future__ import annotations

import numpy as np
import pytest

from triton_dsl.codegen.kernels import count, dequant, pack, threads
from triton_dsl.codegen.kernels import quantize as quantize_kernels
from triton_dsl.jit import process_target
from triton_dsl.runtime.kernel_library import KernelLibrary, kernel_library
from triton_dsl.target import Target, cross

pytestmark = pytest.mark.isa  # repeated by .ci/run at every x86-64 level below the host

# Other targets' code paths are built with only these kernels (the full library compiles slowly).
TERNARY_BUILDERS = [threads.build, pack.build, quantize_kernels.build, dequant.build, count.build]

SHAPES = [(1, 1), (3, 1), (2, 2), (2, 3), (5, 4), (3, 5), (2, 6), (4, 7), (3, 8), (2, 9), (7, 37),
          (2, 64), (3, 65), (1, 257), (2, 4099), (0, 5), (3, 0), (0, 0),
          (37, 4099), (3, 40001), (1, 100003), (64, 4096)]  # the last four span several chunks


class _ScalarTarget(Target):
    """The process target with the portable scalar code (what CPUs without SIMD support get)."""

    def variant(self, family: str) -> str:
        return "scalar" if family == "simd" else super().variant(family)


def _library(kind: str) -> KernelLibrary:
    if kind == "process":
        return kernel_library()
    if kind == "scalar":
        t = process_target()
        return KernelLibrary(host=_ScalarTarget(t.name, t.triple, t.cpu, t.features, t.llvm_features),
                             builders=TERNARY_BUILDERS)
    raise ValueError(kind)


# The process target's library and the portable scalar code. The other SIMD variants are the process
# target's at the lower levels: .ci/run repeats these tests with TRITON_DSL_CPU at each of them.
@pytest.fixture(scope="module", params=["process", "scalar"])
def lib(request: pytest.FixtureRequest) -> KernelLibrary:
    return _library(request.param)


def reference_pack(trits: np.ndarray) -> np.ndarray:
    """The interchange layout computed the slow, obvious way (2-D input)."""
    rows, cols = trits.shape
    nbytes = (cols + 3) // 4
    codes = np.ones((rows, nbytes * 4), dtype=np.uint8)
    codes[:, :cols] = trits + 1
    return (codes[:, 0::4] | codes[:, 1::4] << 2 | codes[:, 2::4] << 4 | codes[:, 3::4] << 6).astype(np.uint8)


def random_trits(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    return rng.integers(-1, 2, size=shape).astype(np.int8)


def pack(lib: KernelLibrary, trits: np.ndarray) -> tuple[int, np.ndarray]:
    rows, cols = trits.shape
    out = np.full((rows, (cols + 3) // 4), 0xEE, dtype=np.uint8)
    bad = lib.trk_pack_i8(trits.ctypes.data, rows, cols, out.ctypes.data)
    return bad, out


@pytest.mark.parametrize("shape", SHAPES)
def test_pack_unpack_round_trip(lib: KernelLibrary, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(hash(shape) % 2**32)
    trits = random_trits(rng, shape)
    bad, packed = pack(lib, trits)
    assert bad == -1
    np.testing.assert_array_equal(packed, reference_pack(trits))
    back = np.full(shape, 7, dtype=np.int8)
    lib.trk_unpack_i8(packed.ctypes.data, shape[0], shape[1], back.ctypes.data)
    np.testing.assert_array_equal(back, trits)


@pytest.mark.parametrize("shape", [(1, 1), (2, 9), (7, 37), (37, 4099), (1, 100003)])
def test_pack_reports_first_invalid_trit(lib: KernelLibrary, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(1)
    trits = random_trits(rng, shape)
    size = trits.size
    positions = sorted({size // 3, size // 2, size - 1})
    for value, pos in zip((2, -2, 127), positions, strict=False):
        trits.flat[pos] = value
    bad, _ = pack(lib, trits)
    assert bad == positions[0]


@pytest.mark.parametrize("shape", SHAPES)
def test_count_trits_matches_numpy(lib: KernelLibrary, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(2)
    trits = rng.choice(np.array([-1, 0, 1], dtype=np.int8), size=shape, p=[0.2, 0.5, 0.3])
    packed = reference_pack(trits)
    counts = np.full(4, -5, dtype=np.int64)
    lib.trk_count_trits(packed.ctypes.data, shape[0], shape[1], counts.ctypes.data)
    assert counts.tolist() == [(trits == -1).sum(), (trits == 0).sum(), (trits == 1).sum(), 0]


def test_count_trits_reports_code_3_and_bad_padding(lib: KernelLibrary) -> None:
    counts = np.zeros(4, dtype=np.int64)
    # 3 elements (+1, -1, 0) and a padding slot holding code 2 instead of 1.
    packed = np.array([[0x92]], dtype=np.uint8)
    lib.trk_count_trits(packed.ctypes.data, 1, 3, counts.ctypes.data)
    assert counts.tolist() == [1, 1, 1, 1]
    # A full byte of code 3, then one zero with canonical padding.
    packed = np.array([[0xFF, 0x55]], dtype=np.uint8)
    lib.trk_count_trits(packed.ctypes.data, 1, 5, counts.ctypes.data)
    assert counts.tolist() == [0, 1, 0, 4]
    # Code 3 inside a long run (vector path), and in a padding slot of a 2-element row.
    trits = np.zeros((1, 1024), dtype=np.int8)
    packed = reference_pack(trits)
    packed[0, 100] = 0x57  # element 400 becomes code 3
    lib.trk_count_trits(packed.ctypes.data, 1, 1024, counts.ctypes.data)
    assert counts.tolist() == [0, 1023, 0, 1]
    packed = np.array([[0xD5]], dtype=np.uint8)
    lib.trk_count_trits(packed.ctypes.data, 1, 2, counts.ctypes.data)
    assert counts.tolist() == [0, 2, 0, 1]


def reference_quantize(x: np.ndarray, t: np.ndarray | np.float32) -> np.ndarray:
    return np.where(x > t, 1, np.where(x < -t, -1, 0)).astype(np.int8)


def quantize(lib: KernelLibrary, x: np.ndarray, threshold: float, scale: float) -> np.ndarray:
    rows, cols = x.shape
    out = np.full((rows, (cols + 3) // 4), 0xEE, dtype=np.uint8)
    lib.trk_quantize_pack_f32(x.ctypes.data, rows, cols, threshold, scale, out.ctypes.data)
    return out


@pytest.mark.parametrize("shape", SHAPES)
def test_quantize_pack_matches_where(lib: KernelLibrary, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape).astype(np.float32)
    t = np.float32(0.7) * np.float32(1.3)
    np.testing.assert_array_equal(quantize(lib, x, 0.7, 1.3), reference_pack(reference_quantize(x, t)))


def test_quantize_pack_ties_zeros_nan_inf(lib: KernelLibrary) -> None:
    t = np.float32(0.5) * np.float32(2.0)
    specials = np.array([t, -t, np.nextafter(t, np.float32(2)), np.nextafter(-t, np.float32(-2)),
                         0.0, -0.0, np.nan, -np.nan, np.inf, -np.inf, np.float32(1e-45), -3.0],
                        dtype=np.float32)
    for cols in (len(specials), 64, 131):  # scalar tail only, one vector step, vector + tail
        x = np.resize(specials, (3, cols)).astype(np.float32)
        expected = reference_quantize(x, t)
        np.testing.assert_array_equal(quantize(lib, x, 0.5, 2.0), reference_pack(expected))
    assert expected[0, :4].tolist() == [0, 0, 1, -1] and expected[0, 6:10].tolist() == [0, 0, 1, -1]


@pytest.mark.parametrize("shape,rows_per_scale", [((4, 9), 1), ((6, 130), 2), ((64, 4100), 8), ((5, 0), 1)])
def test_quantize_pack_per_channel(lib: KernelLibrary, shape: tuple[int, int], rows_per_scale: int) -> None:
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape).astype(np.float32)
    scales = rng.uniform(0.2, 3.0, size=shape[0] // rows_per_scale).astype(np.float32)
    t = (np.float32(0.6) * np.repeat(scales, rows_per_scale))[:, None]
    out = np.full((shape[0], (shape[1] + 3) // 4), 0xEE, dtype=np.uint8)
    lib.trk_quantize_pack_ch_f32(x.ctypes.data, shape[0], shape[1], 0.6, scales.ctypes.data, rows_per_scale,
                                 out.ctypes.data)
    np.testing.assert_array_equal(out, reference_pack(reference_quantize(x, t)))


@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (2, 64), (7, 131), (0, 4), (4, 0), (37, 4099), (64, 4096)])
def test_dequant_each_scale_kind(lib: KernelLibrary, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(5)
    trits = random_trits(rng, shape)
    packed = reference_pack(trits)
    rows, cols = shape
    channel = rng.uniform(0.1, 4.0, size=max(rows, 1)).astype(np.float32)
    cases = [
        (0, np.array([1.75], np.float32), 1, trits * np.float32(1.75)),
        (1, channel, 1, trits * channel[:rows, None]),
        (3, np.array([0.5, 2.25], np.float32), 1, np.where(trits > 0, 0.5, np.where(trits < 0, -2.25, 0.0))),
    ]
    if rows % 2 == 0:
        halves = channel[: max(rows // 2, 1)]
        cases.append((1, halves, 2, trits * np.repeat(halves, 2)[:rows, None]))
    if rows == 1:
        per_col = rng.uniform(0.1, 4.0, size=cols).astype(np.float32)
        cases.append((2, per_col, 1, trits * per_col[None, :]))
    for kind, scales, rows_per_scale, expected in cases:
        out = np.full(shape, np.nan, dtype=np.float32)
        lib.trk_dequant_f32(packed.ctypes.data, rows, cols, scales.ctypes.data, kind, rows_per_scale,
                            out.ctypes.data)
        np.testing.assert_array_equal(out, expected.astype(np.float32), err_msg=f"kind {kind}")


def test_library_exports_every_kernel() -> None:
    names = set(kernel_library().names)
    assert {"trk_pack_i8", "trk_unpack_i8", "trk_quantize_pack_f32", "trk_quantize_pack_ch_f32",
            "trk_dequant_f32", "trk_count_trits", "trk_parallel_for"} <= names


def test_vector_code_is_vector() -> None:
    """The AVX-512 build really uses wide registers (zmm)."""
    if process_target().variant("simd") != "avx512":
        pytest.skip(f"the target ({process_target().name}) has no AVX-512")
    asm = KernelLibrary(builders=[threads.build, quantize_kernels.build]).asm()
    assert "zmm" in asm


@pytest.mark.parametrize("target,vector", [(cross("aarch64-unknown-linux-gnu", None), True),
                                           (Target("riscv", "riscv64-unknown-linux-gnu", "generic-rv64",
                                                   frozenset()), False)])
def test_other_targets_compile(target: Target, vector: bool) -> None:
    from triton_dsl.jit import emit_object
    from triton_dsl.runtime.kernel_library import build_library_module

    ir_text = str(build_library_module(target, TERNARY_BUILDERS))
    assert "<64 x i8>" not in ir_text and ("<16 x i8>" in ir_text) == vector  # NEON: 128-bit vectors
    assert emit_object(ir_text, target=target)[:4] == b"\x7fELF"
