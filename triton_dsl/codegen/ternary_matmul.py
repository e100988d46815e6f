"""Code for `x @ W` with float32 activations and a packed ternary weight tensor, in generated functions.

In: the `FunctionEmitter`, x ([K] or [M, K] float32) and a trit header W [K, N]. Out: LLVM IR that picks
the kernel the way `runtime/matmul_api.py` does (docs/kernels.md, "Calling the kernels from generated
code"):
- on x86-64 hosts with AVX-512 (detected once per module at run time with `cpuid`) and N ≥ 128: the
  table-lookup kernels on the `lut3` layout, `trk_gemv_f32_t2_lut` for one row, `trk_gemm_f32_t2_lut`
  for several;
- otherwise the generic `trk_matmul_f32_t2` on the `panels` layout.
The re-laid-out weights are built once per header and kept in its `aux` slot behind a 64-byte tag
(layout magic, K, N), so a copy in one layout is never read as the other. Headers made from a Python
`TernaryTensor` live as long as it does (`runtime/ternary_headers.py`), so the copy is built once per
weight tensor, not once per call.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llvmlite import ir

from . import rtabi
from .kernels.relayout import LUT_GROUPS_PER_WORD, LUT_TILES, PANEL_F32
from .llvm_types import FLOAT, I8, I32, I64, PTR

if TYPE_CHECKING:
    from .function import FunctionEmitter

# header scale_kind values (docs/runtime.md)
SCALE_NONE, SCALE_TENSOR, SCALE_CHANNEL, SCALE_ASYMMETRIC = 0, 1, 2, 3
OFF_AUX = 136  # tensor header field `aux` (docs/runtime.md)
TAG_BYTES = 64  # the tag before the copy; 64 keeps the copy 64-byte aligned like trt_alloc's buffer
LUT_MIN_COLUMNS = 128  # below this, building a table per row costs more than the lookups save
LUT_BLOCK_COLUMNS = 16 * LUT_TILES
LUT_HOST_FLAG = "tdsl.lut_host"  # module global: -1 not yet known, 0 no, 1 AVX-512 host


@dataclass(frozen=True)
class Layout:
    """A kernel-private weight layout kept in `aux`: its tag magic and relayout kernel."""

    magic: int
    relayout: str

    def nbytes(self, b: ir.IRBuilder, K: ir.Value, N: ir.Value) -> ir.Value:
        if self is PANELS:  # ceil(N / 32) · K · 8
            return b.mul(b.mul(_ceil_div(b, N, PANEL_F32), K), i64(8))
        words = _ceil_div(b, _ceil_div(b, K, 3), LUT_GROUPS_PER_WORD)
        return b.mul(b.mul(_ceil_div(b, N, LUT_BLOCK_COLUMNS), words), i64(LUT_TILES * 64))


PANELS = Layout(int.from_bytes(b"TDSLPNL1", "little"), "trk_relayout_t2_panels")
LUT3 = Layout(int.from_bytes(b"TDSLLUT3", "little"), "trk_relayout_t2_lut3")

# C ABI of the kernels called here (docs/kernels.md); declared locally so that this file does not depend
# on which kernels the runtime's signature table lists.
_RELAYOUT = (ir.VoidType(), [PTR, I64, I64, I64, I64, I64, PTR])
KERNEL_SIGNATURES = {
    "trk_relayout_t2_panels": _RELAYOUT,
    "trk_relayout_t2_lut3": _RELAYOUT,
    "trk_matmul_f32_t2": (ir.VoidType(), [PTR, I64, I64, PTR, PTR, I64, I64, I64, I64, I64, PTR, PTR, FLOAT,
                                          FLOAT]),
    "trk_gemv_f32_t2_lut": (I32, [PTR, PTR, PTR, I64, I64, PTR, PTR, FLOAT, FLOAT]),
    "trk_gemm_f32_t2_lut": (I32, [PTR, I64, PTR, PTR, I64, I64, I64, I64, PTR, PTR, FLOAT, FLOAT]),
}


def i64(v: int) -> ir.Constant:
    return ir.Constant(I64, v)


def _ceil_div(b: ir.IRBuilder, a: ir.Value, d: int) -> ir.Value:
    return b.sdiv(b.add(a, i64(d - 1)), i64(d))


def call_kernel(b: ir.IRBuilder, name: str, *args: ir.Value) -> ir.Value:
    fn = b.module.globals.get(name)
    if fn is None:
        ret, params = KERNEL_SIGNATURES[name]
        fn = ir.Function(b.module, ir.FunctionType(ret, params), name)
    return b.call(fn, list(args))


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


def _targets_x86_64(module: ir.Module) -> bool:
    triple = module.triple
    if not triple or triple.startswith("unknown"):  # no triple given: the module is for this machine
        return platform.machine().lower() in ("x86_64", "amd64")
    return triple.startswith("x86_64")


def _emit_detect_avx512(module: ir.Module) -> ir.Function:
    """`i32 tdsl.detect_avx512()`: 1 when the CPU has AVX-512F and the OS saves its registers
    (cpuid leaf 1 OSXSAVE, XCR0 bits 1, 2, 5, 6, 7 via xgetbv, cpuid leaf 7 EBX bit 16)."""
    fn = ir.Function(module, ir.FunctionType(I32, []), "tdsl.detect_avx512")
    fn.linkage = "internal"
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    regs = ir.LiteralStructType([I32] * 4)
    cpuid = ir.InlineAsm(ir.FunctionType(regs, [I32, I32]), "cpuid", "={ax},={bx},={cx},={dx},{ax},{cx}",
                         side_effect=True)
    xgetbv = ir.InlineAsm(ir.FunctionType(ir.LiteralStructType([I32, I32]), [I32]), "xgetbv",
                          "={ax},={dx},{cx}", side_effect=True)
    no, check_os, check_cpu = (fn.append_basic_block(n) for n in ("no", "os", "cpu"))
    leaf1_ecx = b.extract_value(b.call(cpuid, [ir.Constant(I32, 1), ir.Constant(I32, 0)]), 2)
    osxsave = b.icmp_unsigned("!=", b.and_(leaf1_ecx, ir.Constant(I32, 1 << 27)), ir.Constant(I32, 0))
    b.cbranch(osxsave, check_os, no)
    b.position_at_end(check_os)
    xcr0 = b.extract_value(b.call(xgetbv, [ir.Constant(I32, 0)]), 0)
    saved = b.icmp_unsigned("==", b.and_(xcr0, ir.Constant(I32, 0xE6)), ir.Constant(I32, 0xE6))
    b.cbranch(saved, check_cpu, no)
    b.position_at_end(check_cpu)
    leaf7_ebx = b.extract_value(b.call(cpuid, [ir.Constant(I32, 7), ir.Constant(I32, 0)]), 1)
    b.ret(b.zext(b.icmp_unsigned("!=", b.and_(leaf7_ebx, ir.Constant(I32, 1 << 16)), ir.Constant(I32, 0)),
                 I32))
    b.position_at_end(no)
    b.ret(ir.Constant(I32, 0))
    return fn


def emit_lut_host(fe: FunctionEmitter) -> ir.Value:
    """i1: the table-lookup kernels pay off on the machine running this code (AVX-512, as matmul_api
    decides). Asked at run time, once per module, so cached IR stays right on another machine."""
    b = fe.b
    module = b.module
    if not _targets_x86_64(module):
        return ir.Constant(ir.IntType(1), 0)
    flag = module.globals.get(LUT_HOST_FLAG)
    if flag is None:
        flag = ir.GlobalVariable(module, I32, LUT_HOST_FLAG)
        flag.linkage = "internal"
        flag.initializer = ir.Constant(I32, -1)
        _emit_detect_avx512(module)
    # monotonic: threads running this module may race to fill the flag, with the same value
    known = b.load_atomic(flag, "monotonic", 4, typ=I32)
    pre = b.block
    detect, join = fe.new_block("lut.detect"), fe.new_block("lut.known")
    b.cbranch(b.icmp_signed("<", known, ir.Constant(I32, 0)), detect, join)
    b.position_at_end(detect)
    found = b.call(module.globals["tdsl.detect_avx512"], [])
    b.store_atomic(found, flag, "monotonic", 4)
    b.branch(join)
    b.position_at_end(join)
    value = b.phi(I32)
    value.add_incoming(known, pre)
    value.add_incoming(found, detect)
    return b.icmp_signed("==", value, ir.Constant(I32, 1))


def _cached_layout(fe: FunctionEmitter, w: ir.Value, K: ir.Value, N: ir.Value, layout: Layout,
                   span) -> tuple[ir.Value, ir.Value]:
    """(pointer to W in `layout`, buffer to free after the product or null): the copy kept in `aux`
    when its tag says it is this layout for this K×N, else a fresh relayout (kept in `aux` when the
    slot is free, so the next product with this header reuses it)."""
    b, ctx = fe.b, fe.ctx
    aux = b.load(rtabi.field_ptr(b, w, OFF_AUX), typ=PTR)
    has_aux = b.icmp_unsigned("!=", b.ptrtoint(aux, I64), i64(0))
    check, reuse, build, join = (fe.new_block(f"relayout.{n}") for n in ("check", "reuse", "build", "join"))
    b.cbranch(has_aux, check, build)
    b.position_at_end(check)

    def tag(offset: int) -> ir.Value:
        return b.load(b.gep(aux, [i64(offset)], source_etype=I8), typ=I64)

    ours = b.and_(b.icmp_signed("==", tag(0), i64(layout.magic)),
                  b.and_(b.icmp_signed("==", tag(8), K), b.icmp_signed("==", tag(16), N)))
    b.cbranch(ours, reuse, build)
    b.position_at_end(reuse)
    reused = b.gep(aux, [i64(TAG_BYTES)], source_etype=I8)
    b.branch(join)
    b.position_at_end(build)
    nbytes = b.add(layout.nbytes(b, K, N), i64(TAG_BYTES))
    buf = rtabi.call(b, "trt_alloc", ctx, nbytes)
    fe.check_error(span)
    # The relayout kernels write only the set bits: start from zeros.
    memset = b.module.declare_intrinsic("llvm.memset", [PTR, I64])
    b.call(memset, [buf, ir.Constant(I8, 0), nbytes, ir.Constant(ir.IntType(1), 0)])
    for offset, value in ((0, i64(layout.magic)), (8, K), (16, N)):
        b.store(value, b.gep(buf, [i64(offset)], source_etype=I8))
    built = b.gep(buf, [i64(TAG_BYTES)], source_etype=I8)
    call_kernel(b, layout.relayout, rtabi.load_data(b, w), K, N, i64(0), i64(0), i64(1), built)
    with b.if_then(b.not_(has_aux)):
        rtabi.call(b, "trt_set_aux", w, buf, rtabi.declare(b.module, "trt_free"))
    to_free = b.select(has_aux, buf, ir.Constant(PTR, None))
    build_end = b.block
    b.branch(join)
    b.position_at_end(join)
    data = b.phi(PTR)
    data.add_incoming(reused, reuse)
    data.add_incoming(built, build_end)
    free = b.phi(PTR)
    free.add_incoming(ir.Constant(PTR, None), reuse)
    free.add_incoming(to_free, build_end)
    return data, free


@dataclass
class WeightScales:
    """Scales of W as the kernels take them: per k (or null), per output column (malloc'd), wpos, wneg."""

    kscale: ir.Value
    nscale: ir.Value
    wpos: ir.Value
    wneg: ir.Value


def _weight_scales(fe: FunctionEmitter, w: ir.Value, N: ir.Value, span) -> WeightScales:
    """One value → nscale filled with it; `channel` (axis 0, per k) → kscale; asymmetric → wpos, wneg."""
    b = fe.b
    kind = b.load(rtabi.field_ptr(b, w, rtabi.OFF_SCALE_KIND), typ=I32)
    scales_h = b.load(rtabi.field_ptr(b, w, rtabi.OFF_SCALES), typ=PTR)
    has = b.icmp_unsigned("!=", b.ptrtoint(scales_h, I64), i64(0))
    nscale = rtabi.call(b, "trt_alloc", fe.ctx, b.add(b.mul(N, i64(4)), i64(4)))
    fe.check_error(span)
    one = ir.Constant(FLOAT, 1.0)
    with b.if_else(has) as (then, otherwise):
        with then:
            sdata = rtabi.load_data(b, scales_h)
            s0 = b.load(sdata, typ=FLOAT)
            s1 = b.load(b.gep(sdata, [i64(1)], source_etype=FLOAT), typ=FLOAT)
            then_bb = b.block
        with otherwise:
            else_bb = b.block
    sd, first, second = b.phi(PTR), b.phi(FLOAT), b.phi(FLOAT)
    for phi, value, default in ((sd, sdata, ir.Constant(PTR, None)), (first, s0, one), (second, s1, one)):
        phi.add_incoming(value, then_bb)
        phi.add_incoming(default, else_bb)
    channel = b.and_(has, b.icmp_signed("==", kind, ir.Constant(I32, SCALE_CHANNEL)))
    asymmetric = b.and_(has, b.icmp_signed("==", kind, ir.Constant(I32, SCALE_ASYMMETRIC)))
    fill_floats(fe, nscale, N, b.select(b.or_(channel, asymmetric), one, first))
    return WeightScales(b.select(channel, sd, ir.Constant(PTR, None)), nscale,
                        b.select(asymmetric, first, one), b.select(asymmetric, second, one))


def emit_ternary_matmul(fe: FunctionEmitter, x: ir.Value, x_rank: int, w: ir.Value, text: str,
                        span) -> ir.Value:
    """`x @ W` for float32 x ([K] or [M, K]) and a packed ternary W [K, N] → a new float32 [M, N] (or
    [N]), exact: every output is a float32 sum of x[k]·value(W[k, n])."""
    b, ctx = fe.b, fe.ctx
    K, N = rtabi.load_dim(b, w, 0), rtabi.load_dim(b, w, 1)
    xk = rtabi.load_dim(b, x, x_rank - 1)
    M = rtabi.load_dim(b, x, 0) if x_rank == 2 else i64(1)
    fail, ok = fe.new_block("tmm.shape.fail"), fe.new_block("tmm.shape.ok")
    b.cbranch(b.icmp_signed("!=", xk, K), fail, ok)
    b.position_at_end(fail)
    rtabi.call(b, "trt_err_shape_mismatch", ctx, fe.m.cstring(text), x, w)
    fe.set_location(span)
    b.branch(fe.error_exit)
    b.position_at_end(ok)
    shape = fe.stack_array([M, N] if x_rank == 2 else [N], 64)
    out = rtabi.call(b, "trt_tensor_new", ctx, ir.Constant(I32, rtabi.DTYPE_CODE["float32"]),
                     ir.Constant(I32, x_rank), shape)
    fe.check_error(span)
    s = _weight_scales(fe, w, N, span)
    xd, yd = rtabi.load_data(b, x), rtabi.load_data(b, out)
    use_lut = b.and_(emit_lut_host(fe), b.icmp_signed(">=", N, i64(LUT_MIN_COLUMNS)))
    lut, generic, join = fe.new_block("tmm.lut"), fe.new_block("tmm.panels"), fe.new_block("tmm.done")
    b.cbranch(use_lut, lut, generic)

    b.position_at_end(lut)
    table, lut_free = _cached_layout(fe, w, K, N, LUT3, span)
    with b.if_else(b.icmp_signed("==", M, i64(1))) as (one_row, rows):
        with one_row:
            gemv = call_kernel(b, "trk_gemv_f32_t2_lut", xd, table, yd, K, N, s.kscale, s.nscale, s.wpos,
                               s.wneg)
            gemv_bb = b.block
        with rows:
            gemm = call_kernel(b, "trk_gemm_f32_t2_lut", xd, K, table, yd, N, M, K, N, s.kscale, s.nscale,
                               s.wpos, s.wneg)
            gemm_bb = b.block
    status = b.phi(I32)
    status.add_incoming(gemv, gemv_bb)
    status.add_incoming(gemm, gemm_bb)
    oom, lut_ok = fe.new_block("tmm.lut.oom"), fe.new_block("tmm.lut.ok")
    b.cbranch(b.icmp_signed("!=", status, ir.Constant(I32, 0)), oom, lut_ok)
    b.position_at_end(oom)
    for buf in (s.nscale, lut_free):
        rtabi.call(b, "trt_free", buf)
    rtabi.call(b, "trt_decref", out)
    rtabi.call(b, "trt_set_error", ctx, ir.Constant(I32, rtabi.ERR_OOM),
               fe.m.cstring("out of memory for the matmul lookup tables"))
    fe.set_location(span)
    b.branch(fe.error_exit)
    b.position_at_end(lut_ok)
    b.branch(join)
    lut_end = b.block

    b.position_at_end(generic)
    panels, panels_free = _cached_layout(fe, w, K, N, PANELS, span)
    call_kernel(b, "trk_matmul_f32_t2", xd, K, i64(1), panels, yd, N, i64(1), M, K, N, s.kscale, s.nscale,
                s.wpos, s.wneg)
    generic_end = b.block
    b.branch(join)

    b.position_at_end(join)
    free = b.phi(PTR)
    free.add_incoming(lut_free, lut_end)
    free.add_incoming(panels_free, generic_end)
    rtabi.call(b, "trt_free", s.nscale)
    rtabi.call(b, "trt_free", free)
    return out
