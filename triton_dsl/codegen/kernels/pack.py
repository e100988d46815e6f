"""Kernels converting int8 trits to and from the packed interchange layout (docs/ternary_format.md).

In: an `llvmlite.ir.Module` and the target `Target`. Out: two C-ABI functions added to the module:

    int64 trk_pack_i8(const int8 *trits, int64 rows, int64 cols, uint8 *packed)
        packs rows x cols trits (row-major) into rows x ceil(cols/4) bytes, padding with code 1;
        returns -1, or the flat index of the first element that is not -1, 0 or +1 (then the
        output is unspecified).
    void trk_unpack_i8(const uint8 *packed, int64 rows, int64 cols, int8 *trits)

Both split the packed bytes across the thread pool; vector code (<4n x i8> per step) where the host
has AVX2/AVX-512, the scalar byte loop elsewhere and for row tails.
"""

from __future__ import annotations

from llvmlite import ir

from ...target import Target
from .ternary_ir import (
    I1,
    I8,
    I64,
    PARALLEL_GRAIN,
    PTR,
    VOID,
    code_at,
    const_splat,
    declare,
    define_kernel,
    emit_byte_loop,
    emit_parallel,
    for_range,
    gep,
    i64,
    imin,
    pack_codes,
    packed_geometry,
    row_segments,
    unpack_codes,
    vector_bytes_per_step,
    vector_span,
)

NO_INVALID = 2**63 - 1  # "no invalid trit seen" for the atomic minimum over chunks


def build(module: ir.Module, host: Target) -> None:
    build_pack_i8(module, host)
    build_unpack_i8(module, host)


def build_pack_i8(module: ir.Module, host: Target) -> None:
    step = vector_bytes_per_step(host)
    fn, b = define_kernel(module, "trk_pack_i8", I64,
                          [("trits", PTR), ("rows", I64), ("cols", I64), ("packed", PTR)])
    trits, rows0, cols0, packed = fn.args
    rows, cols, rb = packed_geometry(b, rows0, cols0)
    first_invalid = b.alloca(I64, name="first_invalid")
    b.store(i64(NO_INVALID), first_invalid)

    def chunk(cb: ir.IRBuilder, args: list, begin: ir.Value, end: ir.Value) -> None:
        trits, cols, rb, packed, first_invalid = args
        found = cb.function.append_basic_block("find_invalid")
        cb.position_at_end(found)
        scan_from = cb.phi(I64, name="scan_from")
        _emit_find_invalid(cb, trits, scan_from, first_invalid)
        cb.position_at_end(cb.function.entry_basic_block)

        def fail_from(flat_start: ir.Value, invalid: ir.Value) -> None:
            ok = cb.function.append_basic_block("ok")
            scan_from.add_incoming(flat_start, cb.block)
            cb.cbranch(invalid, found, ok)
            cb.position_at_end(ok)

        with row_segments(cb, begin, end, rb) as (r, jb, je):
            row_start = cb.mul(r, cols)
            src = gep(cb, trits, row_start, I8)
            dst = gep(cb, packed, cb.mul(r, rb), I8)
            j0 = jb
            if step is not None:
                n_in = 4 * step
                any_fn = declare(module, f"llvm.vector.reduce.or.v{n_in}i1",
                                 ir.FunctionType(I1, [ir.VectorType(I1, n_in)]))
                j0 = vector_span(cb, jb, imin(cb, je, cb.lshr(cols, i64(2))), step)
                with for_range(cb, jb, j0, step, name="vec") as j:
                    c = cb.shl(j, i64(2))
                    vin = cb.load(gep(cb, src, c, I8), typ=ir.VectorType(I8, n_in), align=1)
                    codes = cb.add(vin, const_splat(I8, n_in, 1))
                    fail_from(cb.add(row_start, c),
                              cb.call(any_fn, [cb.icmp_unsigned(">", codes, const_splat(I8, n_in, 2))]))
                    cb.store(pack_codes(cb, codes, step), gep(cb, dst, j, I8), align=1)

            def code_of(i: ir.Value) -> ir.Value:
                return cb.add(cb.load(gep(cb, src, i, I8), typ=I8), ir.Constant(I8, 1))

            emit_byte_loop(cb, j0, je, cols, code_of,
                           lambda j, byte: cb.store(byte, gep(cb, dst, j, I8)),
                           lambda j, invalid: fail_from(cb.add(row_start, cb.shl(j, i64(2))), invalid))

    emit_parallel(module, b, "trk_pack_i8", [trits, cols, rb, packed, first_invalid],
                  b.mul(rows, rb), PARALLEL_GRAIN, chunk)
    result = b.load(first_invalid, typ=I64)
    b.ret(b.select(b.icmp_signed("==", result, i64(NO_INVALID)), i64(-1), result))


def _emit_find_invalid(b: ir.IRBuilder, trits: ir.Value, start: ir.Value, first_invalid: ir.Value) -> None:
    """From `start` (a block known to hold an invalid trit) find its exact index, record the minimum
    over all chunks atomically and leave the chunk: later elements of it can only be larger."""
    with for_range(b, start, i64(NO_INVALID), name="scan") as i:
        code = b.add(b.load(gep(b, trits, i, I8), typ=I8), ir.Constant(I8, 1))
        hit = b.function.append_basic_block("hit")
        more = b.function.append_basic_block("more")
        b.cbranch(b.icmp_unsigned(">", code, ir.Constant(I8, 2)), hit, more)
        b.position_at_end(hit)
        b.atomic_rmw("min", first_invalid, i, "monotonic")
        b.ret_void()
        b.position_at_end(more)
    b.ret_void()


def build_unpack_i8(module: ir.Module, host: Target) -> None:
    step = vector_bytes_per_step(host)
    fn, b = define_kernel(module, "trk_unpack_i8", VOID,
                          [("packed", PTR), ("rows", I64), ("cols", I64), ("trits", PTR)])
    packed, rows0, cols0, trits = fn.args
    rows, cols, rb = packed_geometry(b, rows0, cols0)

    def chunk(cb: ir.IRBuilder, args: list, begin: ir.Value, end: ir.Value) -> None:
        packed, cols, rb, trits = args
        with row_segments(cb, begin, end, rb) as (r, jb, je):
            src = gep(cb, packed, cb.mul(r, rb), I8)
            dst = gep(cb, trits, cb.mul(r, cols), I8)
            c_begin = cb.shl(jb, i64(2))
            c_end = imin(cb, cb.shl(je, i64(2)), cols)
            c0 = c_begin
            if step is not None:
                n_out = 4 * step
                c0 = vector_span(cb, c_begin, c_end, n_out)
                with for_range(cb, c_begin, c0, n_out, name="vec") as c:
                    raw = cb.load(gep(cb, src, cb.lshr(c, i64(2)), I8), typ=ir.VectorType(I8, step), align=1)
                    codes = unpack_codes(cb, raw, step)
                    cb.store(cb.sub(codes, const_splat(I8, n_out, 1)), gep(cb, dst, c, I8), align=1)
            with for_range(cb, c0, c_end, name="tail") as i:
                cb.store(cb.sub(code_at(cb, src, i), ir.Constant(I8, 1)), gep(cb, dst, i, I8))

    emit_parallel(module, b, "trk_unpack_i8", [packed, cols, rb, trits], b.mul(rows, rb),
                  PARALLEL_GRAIN, chunk)
    b.ret_void()
