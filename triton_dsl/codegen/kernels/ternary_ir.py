"""IR-building helpers shared by the packed-ternary kernels (pack, quantize, dequant, count).

In: an `llvmlite.ir` module/builder and the target's `Target`. Out: IR fragments — the vector
width to use, the 4-codes-per-byte packing and unpacking of the interchange layout
(docs/ternary_format.md), the scalar per-byte loop used for row tails and for targets without wide
SIMD, and the split of a tensor's packed bytes into thread-pool chunks that may start mid-row.
Generic helpers (loops, declarations, splats) come from `trk_ir` and are re-exported here.
Nothing here imports `llvmlite.binding`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from llvmlite import ir

from ...target import Target
from .trk_ir import (
    BODY_FN,
    F32,
    I1,
    I8,
    I32,
    I64,
    VOID,
    call_parallel,
    const_splat,
    declare,
    for_range,
    i64,
    imax,
    imin,
    new_function,
    pack_ctx,
    splat,
    unpack_ctx,
)

# Opaque pointers (what LLVM 22 has anyway): loads/stores of any element or vector type need no
# bitcasts, and the kernels' signatures print as `ptr` like everyone else's.
PTR = ir.PointerType()

__all__ = [
    "F32", "I1", "I8", "I32", "I64", "PTR", "VOID", "declare", "for_range", "gep", "i64", "splat",
    "CODE_ZERO", "vector_bytes_per_step", "const_splat", "row_bytes", "flatten_if_aligned", "packed_geometry",
    "pack_codes", "unpack_codes", "code_at", "emit_byte_loop", "vector_span", "row_segments", "emit_parallel",
    "imin", "imax", "define_kernel", "PARALLEL_GRAIN",
]

CODE_ZERO = 1  # code of trit 0, also the padding code
# Packed bytes per parallel chunk at least (32K trits): below this a thread handoff costs more than it saves.
PARALLEL_GRAIN = 8192


def vector_bytes_per_step(host: Target) -> int | None:
    """Packed bytes produced/consumed per vector iteration (4 trits each), or None for the scalar path.

    The vector code reinterprets 4 consecutive i8 lanes as one i32 lane, which assumes a
    little-endian target (x86, aarch64); other targets take the portable scalar path (still correct).
    """
    # avx512: 64 trits, one zmm of i8 or four zmm of f32; avx2: one ymm; sse2 / neon: one xmm / q register
    return {"avx512": 16, "avx2": 8, "sse2": 4, "neon": 4}.get(host.variant("simd"))


def define_kernel(module: ir.Module, name: str, ret: ir.Type,
                  params: list[tuple[str, ir.Type]]) -> tuple[ir.Function, ir.IRBuilder]:
    """A C-ABI kernel with named parameters and an entry block; returns (function, builder)."""
    return new_function(module, name, ret, [ty for _, ty in params], [n for n, _ in params])


def gep(builder: ir.IRBuilder, ptr: ir.Value, index: ir.Value, elem: ir.Type) -> ir.Value:
    """&((elem*)ptr)[index] as an opaque pointer (load/store it with any type)."""
    return builder.gep(ptr, [index], inbounds=True, source_etype=elem)


def row_bytes(builder: ir.IRBuilder, cols: ir.Value) -> ir.Value:
    """Packed bytes per row: ceil(cols / 4)."""
    return builder.lshr(builder.add(cols, i64(3)), i64(2), name="row_bytes")


def flatten_if_aligned(builder: ir.IRBuilder, rows: ir.Value, cols: ir.Value) -> tuple[ir.Value, ir.Value]:
    """When cols % 4 == 0 rows have no padding, so the tensor is one long row (longer vector runs)."""
    aligned = builder.icmp_signed("==", builder.and_(cols, i64(3)), i64(0))
    total = builder.mul(rows, cols)
    return (builder.select(aligned, i64(1), rows, name="rows.f"),
            builder.select(aligned, total, cols, name="cols.f"))


def packed_geometry(builder: ir.IRBuilder, rows: ir.Value,
                    cols: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value]:
    """(rows, cols, packed bytes per row) of a rows x cols tensor, flattened to one row when unpadded."""
    rows, cols = flatten_if_aligned(builder, rows, cols)
    return rows, cols, row_bytes(builder, cols)


def pack_codes(builder: ir.IRBuilder, codes: ir.Value, nbytes: int) -> ir.Value:
    """<4n x i8> codes (0..3) -> <n x i8> packed bytes, element 4j+k at bits 2k of byte j.

    Four consecutive i8 lanes read as one little-endian i32 lane are c0 | c1<<8 | c2<<16 | c3<<24;
    shifting each code down next to the previous one gives c0 | c1<<2 | c2<<4 | c3<<6.
    """
    v32 = ir.VectorType(I32, nbytes)
    word = builder.bitcast(codes, v32)
    out = builder.and_(word, const_splat(I32, nbytes, 0x3))
    for k in (1, 2, 3):
        shifted = builder.lshr(word, const_splat(I32, nbytes, 6 * k))
        out = builder.or_(out, builder.and_(shifted, const_splat(I32, nbytes, 0x3 << (2 * k))))
    return builder.trunc(out, ir.VectorType(I8, nbytes))


def unpack_codes(builder: ir.IRBuilder, packed: ir.Value, nbytes: int) -> ir.Value:
    """<n x i8> packed bytes -> <4n x i8> codes (0..3): the inverse of `pack_codes`."""
    v32 = ir.VectorType(I32, nbytes)
    word = builder.zext(packed, v32)
    out = builder.and_(word, const_splat(I32, nbytes, 0x3))
    for k in (1, 2, 3):
        shifted = builder.shl(word, const_splat(I32, nbytes, 6 * k))
        out = builder.or_(out, builder.and_(shifted, const_splat(I32, nbytes, 0x3 << (8 * k))))
    return builder.bitcast(out, ir.VectorType(I8, 4 * nbytes))


def code_at(builder: ir.IRBuilder, row: ir.Value, i: ir.Value) -> ir.Value:
    """The i8 code of element i of a packed row (scalar)."""
    byte = builder.load(gep(builder, row, builder.lshr(i, i64(2)), I8), typ=I8)
    shift = builder.trunc(builder.shl(builder.and_(i, i64(3)), i64(1)), I8)
    return builder.and_(builder.lshr(byte, shift), ir.Constant(I8, 3))


def emit_byte_loop(builder: ir.IRBuilder, j_start: ir.Value, j_end: ir.Value, cols: ir.Value,
                   code_of: Callable[[ir.Value], ir.Value],
                   store_byte: Callable[[ir.Value, ir.Value], None],
                   check_byte: Callable[[ir.Value, ir.Value], None] | None = None) -> None:
    """Scalar packing of bytes j_start..j_end of a row: 4 slots per byte, padding code 1 past `cols`.

    `code_of(i)` gets an in-bounds index (clamped to cols-1, never read when i >= cols matters)
    and returns its i8 code; `check_byte(j, any_invalid)` may branch out before the store.
    """
    last = builder.sub(cols, i64(1))
    with for_range(builder, j_start, j_end, name="byte") as j:
        packed = ir.Constant(I8, 0)
        invalid = ir.Constant(I1, 0)
        for k in range(4):
            i = builder.add(builder.shl(j, i64(2)), i64(k))
            inside = builder.icmp_signed("<", i, cols)
            code = builder.select(inside, code_of(builder.select(inside, i, last)),
                                  ir.Constant(I8, CODE_ZERO))
            invalid = builder.or_(invalid, builder.icmp_unsigned(">", code, ir.Constant(I8, 2)))
            packed = builder.or_(packed, builder.shl(builder.and_(code, ir.Constant(I8, 3)),
                                                     ir.Constant(I8, 2 * k)))
        if check_byte is not None:
            check_byte(j, invalid)
        store_byte(j, packed)


def vector_span(builder: ir.IRBuilder, start: ir.Value, stop: ir.Value, step: int) -> ir.Value:
    """The end of the whole vector steps in [start, stop): start + floor((stop - start) / step) * step."""
    return builder.add(start, builder.and_(imax(builder, builder.sub(stop, start), i64(0)), i64(-step)))


@contextmanager
def row_segments(builder: ir.IRBuilder, begin: ir.Value, end: ir.Value,
                 rb: ir.Value) -> Iterator[tuple[ir.Value, ir.Value, ir.Value]]:
    """Split the packed-byte range [begin, end) of a tensor with `rb` bytes per row by rows.

    Yields (row, first byte, end byte) within that row, so that a chunk of a parallel loop can
    start and stop in the middle of rows."""
    rb1 = imax(builder, rb, i64(1))
    first = builder.sdiv(begin, rb1)
    last = builder.sdiv(builder.add(end, builder.sub(rb1, i64(1))), rb1)
    with for_range(builder, first, last, name="row") as r:
        base = builder.mul(r, rb1)
        yield (r, imax(builder, builder.sub(begin, base), i64(0)),
               imin(builder, builder.sub(end, base), rb1))


def emit_parallel(module: ir.Module, builder: ir.IRBuilder, name: str, values: list[ir.Value],
                  n: ir.Value, grain: int,
                  body: Callable[[ir.IRBuilder, list[ir.Value], ir.Value, ir.Value], None]) -> None:
    """Run `body` over [0, n) split across the thread pool (`trk_parallel_for`).

    `values` are packed into a context struct on the caller's stack; `body(b, values, begin, end)`
    emits the work for one chunk inside an internal function `<name>.chunk` and may `ret` early.
    """
    chunk, cb = new_function(module, f"{name}.chunk", VOID, list(BODY_FN.args), ["ctx", "begin", "end"],
                             internal=True)
    ctx, begin, end = chunk.args
    body(cb, unpack_ctx(cb, ctx, ir.LiteralStructType([v.type for v in values])), begin, end)
    cb.ret_void()
    packed, _ = pack_ctx(builder, values)
    call_parallel(builder, chunk, packed, n, i64(grain))
