"""The kernels' re-laid-out copies of a ternary weight [K, N], cached in its tensor header's `aux` slot.

In: the `FunctionEmitter`, a trit header W and the layout a kernel needs (`PANELS`, `LUT3`, `VNNI`,
`BITPLANES`, `PERM8`, `LUT5`).
Out: `emit_layout(fe, w, K, N, layout, span) -> (pointer to W in that layout, buffer to free after the
call or null)`, and the helpers the matmul code shares (`i64`, `call_kernel`, `fill_floats`, `alloc_floats`,
`zero_fill`, `phi_of`).

The `aux` buffer: a 64-byte tag — magic "TDSLLAYS", K, N, a bit set of the layouts built so far — then
one 64-byte aligned region per layout (panels, lut3, vnni, bitplanes, perm8, lut5, in that order; sizes in
docs/kernels.md, "Private layouts"). A region is zero-filled and re-laid out the first time a kernel
needs it, so each layout is built at most once per header, and a program using W several ways (float
or int8 activations, ternary activations) keeps every layout it used. Pages of regions never built are
never touched. A header whose `aux` holds anything else (another tag, another shape) gets a temporary
copy, freed after the call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from llvmlite import ir

from . import rtabi
from .kernels.relayout import (
    LUT5_CHUNK,
    LUT5_GROUP_K,
    LUT_GROUPS_PER_WORD,
    LUT_TILES,
    PANEL_F32,
    PANEL_VNNI,
    PERM8_BLOCK_TILES,
    PERM8_WORD_K,
    VNNI_KBLOCK,
)
from .llvm_types import FLOAT, I8, I32, I64, PTR

if TYPE_CHECKING:
    from .function import FunctionEmitter

OFF_AUX = 136  # tensor header field `aux` (docs/runtime.md)
TAG_BYTES = 64
MAGIC = int.from_bytes(b"TDSLLAYS", "little")
OFF_K, OFF_N, OFF_BUILT = 8, 16, 24

_RELAYOUT = (ir.VoidType(), [PTR, I64, I64, I64, I64, I64, PTR])
# C ABI of the kernels called by generated matmul code (docs/kernels.md); declared here so that codegen
# does not depend on which kernels the runtime's signature table lists.
KERNEL_SIGNATURES = {
    "trk_relayout_t2_panels": _RELAYOUT,
    "trk_relayout_t2_lut3": _RELAYOUT,
    "trk_relayout_t2_vnni": _RELAYOUT,
    "trk_relayout_t2_bitplanes": _RELAYOUT,
    "trk_relayout_t2_perm8": _RELAYOUT,
    "trk_relayout_t2_lut5": _RELAYOUT,
    "trk_matmul_f32_t2": (ir.VoidType(), [PTR, I64, I64, PTR, PTR, I64, I64, I64, I64, I64, PTR, PTR, FLOAT,
                                          FLOAT]),
    "trk_gemv_f32_t2_lut": (I32, [PTR, PTR, PTR, I64, I64, PTR, PTR, FLOAT, FLOAT]),
    "trk_gemm_f32_t2_lut": (I32, [PTR, I64, PTR, PTR, I64, I64, I64, I64, PTR, PTR, FLOAT, FLOAT]),
    "trk_matmul_f32_t2_perm8": (I32, [PTR, I64, PTR, PTR, I64, I64, I64, I64, PTR, PTR, FLOAT, FLOAT]),
    "trk_matmul_f32_t2_lut5": (I32, [PTR, I64, PTR, PTR, I64, I64, I64, I64, PTR, PTR, FLOAT, FLOAT]),
    "trk_bitlinear_t2_auto": (I32, [PTR, I64, I64, I64, I64, PTR, PTR, PTR, PTR, I64]),
}


def i64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def ceil_div(b: ir.IRBuilder, a: ir.Value, d: int) -> ir.Value:
    return b.sdiv(b.add(a, i64(d - 1)), i64(d))


def call_kernel(b: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    fn = b.module.globals.get(name)
    if fn is None:
        ret, params = KERNEL_SIGNATURES[name]
        fn = ir.Function(b.module, ir.FunctionType(ret, params), name)
    return b.call(fn, list(args))


def phi_of(b: ir.IRBuilder, *incoming: tuple[ir.Value, ir.Block]) -> ir.PhiInstr:
    """A phi (at the builder's position) taking each (value, predecessor block) of `incoming`."""
    phi = b.phi(incoming[0][0].type)
    for value, block in incoming:
        phi.add_incoming(value, block)
    return phi


def zero_fill(b: ir.IRBuilder, ptr: ir.Value, nbytes: ir.Value) -> None:
    """ptr[0:nbytes] = 0 (llvm.memset)."""
    memset = b.module.declare_intrinsic("llvm.memset", [PTR, I64])
    b.call(memset, [ptr, ir.Constant(I8, 0), nbytes, ir.Constant(ir.IntType(1), 0)])


def alloc_floats(fe: FunctionEmitter, n: ir.Value) -> ir.Value:
    """`trt_alloc` of room for n float32 (plus one, so that n = 0 still allocates); the caller checks
    the error and frees it with `trt_free`."""
    b = fe.b
    return rtabi.call(b, "trt_alloc", fe.ctx, b.add(b.mul(n, i64(4)), i64(4)))


def fill_floats(fe: FunctionEmitter, ptr: ir.Value, n: ir.Value, value: ir.Value) -> None:
    """ptr[0:n] = value (a counted loop in the generated code)."""
    b = fe.b
    pre = b.block
    head, body, done = fe.new_block("fill.head"), fe.new_block("fill.body"), fe.new_block("fill.done")
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    i.add_incoming(i64(0), pre)
    b.cbranch(b.icmp_signed("<", i, n), body, done)
    b.position_at_end(body)
    b.store(value, b.gep(ptr, [i], source_etype=FLOAT))
    i.add_incoming(b.add(i, i64(1)), body)
    b.branch(head)
    b.position_at_end(done)


@dataclass(frozen=True)
class Layout:
    """A kernel-private weight layout: its bit in the tag and its relayout kernel."""

    bit: int
    relayout: str

    def nbytes(self, b: ir.IRBuilder, K: ir.Value, N: ir.Value) -> ir.Value:
        """Bytes of W [K, N] in this layout, rounded up to 64."""
        if self.bit == 0:  # panels: ceil(N / 32) · K · 8
            size = b.mul(b.mul(ceil_div(b, N, PANEL_F32), K), i64(8))
        elif self.bit == 1:  # lut3: ceil(N / 128) · ceil(ceil(K / 3) / 6) · 512
            words = ceil_div(b, ceil_div(b, K, 3), LUT_GROUPS_PER_WORD)
            size = b.mul(b.mul(ceil_div(b, N, 16 * LUT_TILES), words), i64(LUT_TILES * 64))
        elif self.bit == 2:  # vnni: 2 · ceil(N / 32) · ceil(K / 16) · 64
            size = b.mul(b.mul(ceil_div(b, N, 2 * PANEL_VNNI), ceil_div(b, K, VNNI_KBLOCK)), i64(128))
        elif self.bit == 3:  # bitplanes: N · ceil(K / 64) · 16
            size = b.mul(b.mul(N, ceil_div(b, K, 64)), i64(16))
        elif self.bit == 4:  # perm8: ceil(N / 16) · ceil(K / 32) · 128
            cols = 8 * PERM8_BLOCK_TILES
            words = ceil_div(b, K, PERM8_WORD_K)
            size = b.mul(b.mul(ceil_div(b, N, cols), words), i64(64 * PERM8_BLOCK_TILES))
        else:  # lut5: ceil(ceil(K / 5) / 16) · N · 16
            chunks = ceil_div(b, ceil_div(b, K, LUT5_GROUP_K), LUT5_CHUNK)
            size = b.mul(b.mul(chunks, N), i64(LUT5_CHUNK))
        return b.mul(ceil_div(b, size, 64), i64(64))


PANELS = Layout(0, "trk_relayout_t2_panels")
LUT3 = Layout(1, "trk_relayout_t2_lut3")
VNNI = Layout(2, "trk_relayout_t2_vnni")
BITPLANES = Layout(3, "trk_relayout_t2_bitplanes")
PERM8 = Layout(4, "trk_relayout_t2_perm8")
LUT5 = Layout(5, "trk_relayout_t2_lut5")
LAYOUTS = (PANELS, LUT3, VNNI, BITPLANES, PERM8, LUT5)


def _region_offset(b: ir.IRBuilder, K: ir.Value, N: ir.Value, layout: Layout) -> ir.Value:
    offset = i64(TAG_BYTES)
    for before in LAYOUTS[:layout.bit]:
        offset = b.add(offset, before.nbytes(b, K, N))
    return offset


def _build_region(fe: FunctionEmitter, w: ir.Value, K: ir.Value, N: ir.Value, layout: Layout,
                  dst: ir.Value) -> None:
    # The relayout kernels write only the set bits: start from zeros.
    b = fe.b
    zero_fill(b, dst, layout.nbytes(b, K, N))
    call_kernel(b, layout.relayout, rtabi.load_data(b, w), K, N, i64(0), i64(0), i64(1), dst)


def emit_layout(fe: FunctionEmitter, w: ir.Value, K: ir.Value, N: ir.Value, layout: Layout,
                span) -> tuple[ir.Value, ir.Value]:
    """(W in `layout`, buffer to free after the call or null); builds the region on first use."""
    b, ctx = fe.b, fe.ctx
    aux_slot = rtabi.field_ptr(b, w, OFF_AUX)
    aux = b.load(aux_slot, typ=PTR)
    has_aux = b.icmp_unsigned("!=", b.ptrtoint(aux, I64), i64(0))
    names = ("check", "new", "ours", "build", "ready", "temp", "join")
    check, new, ours, build, ready, temp, join = (fe.new_block(f"layout.{n}") for n in names)
    b.cbranch(has_aux, check, new)

    b.position_at_end(check)  # aux in use: ours (this tag, this K×N)?

    def field(buf: ir.Value, offset: int) -> ir.Value:
        return b.gep(buf, [i64(offset)], source_etype=I8)

    def tag(offset: int) -> ir.Value:
        return b.load(field(aux, offset), typ=I64)

    is_ours = b.and_(b.icmp_signed("==", tag(0), i64(MAGIC)),
                     b.and_(b.icmp_signed("==", tag(OFF_K), K), b.icmp_signed("==", tag(OFF_N), N)))
    b.cbranch(is_ours, ours, temp)

    b.position_at_end(new)  # free slot: a buffer with room for every layout, none built yet
    total = b.add(_region_offset(b, K, N, LAYOUTS[-1]), LAYOUTS[-1].nbytes(b, K, N))
    buf = rtabi.call(b, "trt_alloc", ctx, total)
    fe.check_error(span)
    for offset, value in ((0, i64(MAGIC)), (OFF_K, K), (OFF_N, N), (OFF_BUILT, i64(0))):
        b.store(value, field(buf, offset))
    rtabi.call(b, "trt_set_aux", w, buf, rtabi.declare(b.module, "trt_free"))
    b.branch(ours)

    b.position_at_end(ours)
    kept = b.load(aux_slot, typ=PTR)
    region = b.gep(kept, [_region_offset(b, K, N, layout)], source_etype=I8)
    built = b.load(field(kept, OFF_BUILT), typ=I64)
    bit = i64(1 << layout.bit)
    b.cbranch(b.icmp_unsigned("!=", b.and_(built, bit), i64(0)), ready, build)

    b.position_at_end(build)
    _build_region(fe, w, K, N, layout, region)
    b.store(b.or_(built, bit), field(kept, OFF_BUILT))
    b.branch(ready)

    b.position_at_end(ready)
    b.branch(join)

    b.position_at_end(temp)  # aux holds something else: a copy for this call only
    scratch = rtabi.call(b, "trt_alloc", ctx, layout.nbytes(b, K, N))
    fe.check_error(span)
    _build_region(fe, w, K, N, layout, scratch)
    temp_end = b.block
    b.branch(join)

    b.position_at_end(join)
    data = phi_of(b, (region, ready), (scratch, temp_end))
    free = phi_of(b, (ir.Constant(PTR, None), ready), (scratch, temp_end))
    return data, free
