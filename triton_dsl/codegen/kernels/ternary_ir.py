"""IR-building helpers shared by the packed-ternary kernels (pack, quantize, dequant, count).

In: an `llvmlite.ir` module/builder and the target's `HostInfo`. Out: IR fragments — counted loops,
vector constants, the 4-codes-per-byte packing and unpacking of the interchange layout
(docs/ternary_format.md), and the scalar per-byte loop used for row tails and for targets without
wide SIMD. Nothing here imports `llvmlite.binding`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from llvmlite import ir

from ...jit import HostInfo

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F32 = ir.FloatType()
PTR = ir.PointerType()
VOID = ir.VoidType()

CODE_ZERO = 1  # code of trit 0, also the padding code


def vector_bytes_per_step(host: HostInfo) -> int | None:
    """Packed bytes produced/consumed per vector iteration (4 trits each), or None for the scalar path.

    The vector code reinterprets 4 consecutive i8 lanes as one i32 lane, which assumes a
    little-endian x86 target; other targets take the portable scalar path (still correct).
    """
    if not host.triple.startswith(("x86_64", "i686", "i386")):
        return None
    if host.has("avx512f") and host.has("avx512bw"):
        return 16  # 64 trits: one zmm of i8 or four zmm of f32
    if host.has("avx2"):
        return 8  # 32 trits: one ymm of i8 or four ymm of f32
    return None


def i64c(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


def splat(ty: ir.Type, n: int, value) -> ir.Constant:
    return ir.Constant(ir.VectorType(ty, n), [value] * n)


def const_vec(ty: ir.Type, values: list) -> ir.Constant:
    return ir.Constant(ir.VectorType(ty, len(values)), list(values))


def splat_value(builder: ir.IRBuilder, value: ir.Value, n: int) -> ir.Value:
    """Broadcast a run-time scalar to an n-lane vector."""
    vty = ir.VectorType(value.type, n)
    one = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(I32, 0))
    return builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined), splat(I32, n, 0))


def declare(module: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    """The function `name` of the module, declared if absent (intrinsics and cross-kernel calls)."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, fnty, name)


def define_kernel(module: ir.Module, name: str, ret: ir.Type,
                  params: list[tuple[str, ir.Type]]) -> tuple[ir.Function, ir.IRBuilder]:
    """A C-ABI kernel with named parameters and an entry block; returns (function, builder)."""
    fn = ir.Function(module, ir.FunctionType(ret, [ty for _, ty in params]), name)
    fn.attributes.add("nounwind")
    for arg, (pname, _) in zip(fn.args, params, strict=True):
        arg.name = pname
    return fn, ir.IRBuilder(fn.append_basic_block("entry"))


def gep(builder: ir.IRBuilder, ptr: ir.Value, index: ir.Value, elem: ir.Type = I8) -> ir.Value:
    return builder.gep(ptr, [index], inbounds=True, source_etype=elem)


@contextmanager
def counted_loop(builder: ir.IRBuilder, start: ir.Value, stop: ir.Value, step: int = 1,
                 name: str = "i") -> Iterator[ir.Value]:
    """`for (i = start; i < stop; i += step)`; the caller ensures (stop - start) % step == 0 or
    that overshooting is harmless. Leaves the builder after the loop."""
    pre = builder.block
    fn = pre.function
    header = fn.append_basic_block(f"{name}.head")
    body = fn.append_basic_block(f"{name}.body")
    done = fn.append_basic_block(f"{name}.done")
    builder.branch(header)
    builder.position_at_end(header)
    index = builder.phi(I64, name=name)
    index.add_incoming(start, pre)
    builder.cbranch(builder.icmp_signed("<", index, stop), body, done)
    builder.position_at_end(body)
    yield index
    nxt = builder.add(index, i64c(step), name=f"{name}.next")
    index.add_incoming(nxt, builder.block)
    builder.branch(header)
    builder.position_at_end(done)


def row_bytes(builder: ir.IRBuilder, cols: ir.Value) -> ir.Value:
    """Packed bytes per row: ceil(cols / 4)."""
    return builder.lshr(builder.add(cols, i64c(3)), i64c(2), name="row_bytes")


def flatten_if_aligned(builder: ir.IRBuilder, rows: ir.Value, cols: ir.Value) -> tuple[ir.Value, ir.Value]:
    """When cols % 4 == 0 rows have no padding, so the tensor is one long row (longer vector runs)."""
    aligned = builder.icmp_signed("==", builder.and_(cols, i64c(3)), i64c(0))
    total = builder.mul(rows, cols)
    return (builder.select(aligned, i64c(1), rows, name="rows.f"),
            builder.select(aligned, total, cols, name="cols.f"))


def pack_codes(builder: ir.IRBuilder, codes: ir.Value, nbytes: int) -> ir.Value:
    """<4n x i8> codes (0..3) -> <n x i8> packed bytes, element 4j+k at bits 2k of byte j.

    Four consecutive i8 lanes read as one little-endian i32 lane are c0 | c1<<8 | c2<<16 | c3<<24;
    shifting each code down next to the previous one gives c0 | c1<<2 | c2<<4 | c3<<6.
    """
    v32 = ir.VectorType(I32, nbytes)
    word = builder.bitcast(codes, v32)
    out = builder.and_(word, splat(I32, nbytes, 0x3))
    for k in (1, 2, 3):
        shifted = builder.lshr(word, splat(I32, nbytes, 6 * k))
        out = builder.or_(out, builder.and_(shifted, splat(I32, nbytes, 0x3 << (2 * k))))
    return builder.trunc(out, ir.VectorType(I8, nbytes))


def unpack_codes(builder: ir.IRBuilder, packed: ir.Value, nbytes: int) -> ir.Value:
    """<n x i8> packed bytes -> <4n x i8> codes (0..3): the inverse of `pack_codes`."""
    v32 = ir.VectorType(I32, nbytes)
    word = builder.zext(packed, v32)
    out = builder.and_(word, splat(I32, nbytes, 0x3))
    for k in (1, 2, 3):
        shifted = builder.shl(word, splat(I32, nbytes, 6 * k))
        out = builder.or_(out, builder.and_(shifted, splat(I32, nbytes, 0x3 << (8 * k))))
    return builder.bitcast(out, ir.VectorType(I8, 4 * nbytes))


def code_at(builder: ir.IRBuilder, row: ir.Value, i: ir.Value) -> ir.Value:
    """The i8 code of element i of a packed row (scalar)."""
    byte = builder.load(gep(builder, row, builder.lshr(i, i64c(2))), typ=I8)
    shift = builder.trunc(builder.shl(builder.and_(i, i64c(3)), i64c(1)), I8)
    return builder.and_(builder.lshr(byte, shift), ir.Constant(I8, 3))


def emit_byte_loop(builder: ir.IRBuilder, j_start: ir.Value, j_end: ir.Value, cols: ir.Value,
                   code_of: Callable[[ir.Value], ir.Value],
                   store_byte: Callable[[ir.Value, ir.Value], None],
                   check_byte: Callable[[ir.Value, ir.Value], None] | None = None) -> None:
    """Scalar packing of bytes j_start..j_end of a row: 4 slots per byte, padding code 1 past `cols`.

    `code_of(i)` gets an in-bounds index (clamped to cols-1, never read when i >= cols matters)
    and returns its i8 code; `check_byte(j, any_invalid)` may branch out before the store.
    """
    last = builder.sub(cols, i64c(1))
    with counted_loop(builder, j_start, j_end, name="byte") as j:
        packed = ir.Constant(I8, 0)
        invalid = ir.Constant(I1, 0)
        for k in range(4):
            i = builder.add(builder.shl(j, i64c(2)), i64c(k))
            inside = builder.icmp_signed("<", i, cols)
            code = builder.select(inside, code_of(builder.select(inside, i, last)),
                                  ir.Constant(I8, CODE_ZERO))
            invalid = builder.or_(invalid, builder.icmp_unsigned(">", code, ir.Constant(I8, 2)))
            packed = builder.or_(packed, builder.shl(builder.and_(code, ir.Constant(I8, 3)),
                                                     ir.Constant(I8, 2 * k)))
        if check_byte is not None:
            check_byte(j, invalid)
        store_byte(j, packed)


def vector_end(builder: ir.IRBuilder, n: ir.Value, step: int) -> ir.Value:
    """The largest multiple of `step` not above n (step a power of two)."""
    return builder.and_(n, i64c(-step))
