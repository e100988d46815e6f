"""Kernels converting int8 trits to and from the packed interchange layout (docs/ternary_format.md).

In: an `llvmlite.ir.Module` and the target `HostInfo`. Out: two C-ABI functions added to the module:

    int64 trk_pack_i8(const int8 *trits, int64 rows, int64 cols, uint8 *packed)
        packs rows x cols trits (row-major) into rows x ceil(cols/4) bytes, padding with code 1;
        returns -1, or the flat index of the first element that is not -1, 0 or +1 (then the
        output is unspecified).
    void trk_unpack_i8(const uint8 *packed, int64 rows, int64 cols, int8 *trits)

Vector code (<4n x i8> per step) where the host has AVX2/AVX-512, the scalar byte loop elsewhere.
"""

from __future__ import annotations

from llvmlite import ir

from ...jit import HostInfo
from .ternary_ir import (
    I1,
    I8,
    I64,
    PTR,
    VOID,
    code_at,
    counted_loop,
    declare,
    define_kernel,
    emit_byte_loop,
    flatten_if_aligned,
    gep,
    i64c,
    pack_codes,
    row_bytes,
    splat,
    unpack_codes,
    vector_bytes_per_step,
    vector_end,
)


def build(module: ir.Module, host: HostInfo) -> None:
    build_pack_i8(module, host)
    build_unpack_i8(module, host)


def build_pack_i8(module: ir.Module, host: HostInfo) -> None:
    step = vector_bytes_per_step(host)
    fn, b = define_kernel(module, "trk_pack_i8", I64,
                          [("trits", PTR), ("rows", I64), ("cols", I64), ("packed", PTR)])
    trits, rows0, cols0, packed = fn.args
    rows, cols = flatten_if_aligned(b, rows0, cols0)
    rb = row_bytes(b, cols)
    bad_start = b.alloca(I64, name="bad_start")
    find_bad = fn.append_basic_block("find_bad")

    def fail_from(flat_start: ir.Value, invalid: ir.Value) -> None:
        # An invalid trit somewhere from flat_start on: scan for its exact index.
        ok = fn.append_basic_block("ok")
        failing = fn.append_basic_block("failing")
        b.cbranch(invalid, failing, ok)
        b.position_at_end(failing)
        b.store(flat_start, bad_start)
        b.branch(find_bad)
        b.position_at_end(ok)

    with counted_loop(b, i64c(0), rows, name="row") as r:
        row_start = b.mul(r, cols)
        src = gep(b, trits, row_start)
        dst = gep(b, packed, b.mul(r, rb))
        j0 = i64c(0)
        if step is not None:
            n_in = 4 * step
            vin = ir.VectorType(I8, n_in)
            any_fn = declare(module, f"llvm.vector.reduce.or.v{n_in}i1",
                             ir.FunctionType(I1, [ir.VectorType(I1, n_in)]))
            c_end = vector_end(b, cols, n_in)
            with counted_loop(b, i64c(0), c_end, n_in, name="vec") as c:
                codes = b.add(b.load(gep(b, src, c), typ=vin, align=1), splat(I8, n_in, 1))
                invalid = b.call(any_fn, [b.icmp_unsigned(">", codes, splat(I8, n_in, 2))])
                fail_from(b.add(row_start, c), invalid)
                b.store(pack_codes(b, codes, step), gep(b, dst, b.lshr(c, i64c(2))), align=1)
            j0 = b.lshr(c_end, i64c(2))

        def code_of(i: ir.Value) -> ir.Value:
            return b.add(b.load(gep(b, src, i), typ=I8), ir.Constant(I8, 1))

        emit_byte_loop(b, j0, rb, cols, code_of,
                       lambda j, byte: b.store(byte, gep(b, dst, j)),
                       lambda j, invalid: fail_from(b.add(row_start, b.shl(j, i64c(2))), invalid))
    b.ret(i64c(-1))

    b.position_at_end(find_bad)
    total = b.mul(rows, cols)
    with counted_loop(b, b.load(bad_start), total, name="scan") as i:
        code = b.add(b.load(gep(b, trits, i), typ=I8), ir.Constant(I8, 1))
        found = fn.append_basic_block("found")
        more = fn.append_basic_block("more")
        b.cbranch(b.icmp_unsigned(">", code, ir.Constant(I8, 2)), found, more)
        b.position_at_end(found)
        b.ret(i)
        b.position_at_end(more)
    b.ret(i64c(-1))


def build_unpack_i8(module: ir.Module, host: HostInfo) -> None:
    step = vector_bytes_per_step(host)
    fn, b = define_kernel(module, "trk_unpack_i8", VOID,
                          [("packed", PTR), ("rows", I64), ("cols", I64), ("trits", PTR)])
    packed, rows0, cols0, trits = fn.args
    rows, cols = flatten_if_aligned(b, rows0, cols0)
    rb = row_bytes(b, cols)
    with counted_loop(b, i64c(0), rows, name="row") as r:
        src = gep(b, packed, b.mul(r, rb))
        dst = gep(b, trits, b.mul(r, cols))
        c0 = i64c(0)
        if step is not None:
            n_out = 4 * step
            c0 = vector_end(b, cols, n_out)
            with counted_loop(b, i64c(0), c0, n_out, name="vec") as c:
                raw = b.load(gep(b, src, b.lshr(c, i64c(2))), typ=ir.VectorType(I8, step), align=1)
                codes = unpack_codes(b, raw, step)
                b.store(b.sub(codes, splat(I8, n_out, 1)), gep(b, dst, c), align=1)
        with counted_loop(b, c0, cols, name="tail") as i:
            b.store(b.sub(code_at(b, src, i), ir.Constant(I8, 1)), gep(b, dst, i))
    b.ret_void()
