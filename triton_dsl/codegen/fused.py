"""Fused elementwise loops: one pass over memory for a whole chain of elementwise ops.

In: a `fused` IR op (inputs: tensors and scalars; a region computing one output element from one
element of each input) — or a single tensor elementwise op, treated as a fused op of one. Out: the
header of a new tensor holding the result.

Plan of the generated code:
1. trit inputs are unpacked to int8 (`trt_cast`); the output shape is the numpy broadcast of the
   input shapes (a mismatch is a run-time "shape mismatch in `<source text>`" error at the op's span).
2. The output is allocated (`trt_tensor_new`). Each tensor input is read with stride 1 when it has the
   output's element count, stride 0 when it has one element, and otherwise is first broadcast
   (`trt_broadcast_to`), so one flat loop serves every case.
3. The loop lives in its own function `@fused.N.kernel(ptr noalias out, ptr noalias in..., strides...,
   scalars..., i64 begin, i64 end, ptr err)`: noalias pointers and a plain counted loop let LLVM's loop
   vectorizer use the host's vector width. Large loops are split over cores by `trk_parallel_for`
   through a trampoline `@fused.N.task(ptr env, i64 begin, i64 end)` when the thread pool is available.
4. Element errors (integer division by zero, failed trit cast) are OR-ed into a bit mask (vectorizes),
   reported once after the loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..ir.nodes import Block, Op, Value
from ..ir.types import ScalarTy, TensorTy
from . import rtabi
from .llvm_types import I1, I8, I32, I64, PTR, VOID, memory_type, scalar_type, to_memory, to_register

if TYPE_CHECKING:
    from .function import FunctionEmitter

PARALLEL_MIN_ELEMENTS = 1 << 16  # below this the thread hand-off costs more than it saves
PARALLEL_GRAIN = 1 << 14
# A call running a whole loop is not inlined: inlined, every kernel's two vectorized loop copies landed
# in the calling function (often `__main__`), which made LLVM's optimizer and code generator take ~1.6x
# as long for the program (quickstart: 1.3 s -> 0.8 s) for no measurable speed (the call is once per
# loop; per-row calls of the broadcast path stay inlinable).
_WHOLE_LOOP_CALL = ("noinline",)


def emit_single_elementwise(fe: FunctionEmitter, op: Op) -> ir.Value:
    """A tensor elementwise op that fusion left alone: a fused loop of one op."""
    args = [Value(ScalarTy(v.type.dtype)) for v in op.operands]
    inner = Op(op.opcode, args, [Value(ScalarTy(op.result.type.dtype))], dict(op.attrs), op.span)
    region = Block(args, [inner, Op("yield", [inner.result], [])])
    return emit_fused(fe, Op("fused", op.operands, op.results, {}, op.span, [region]))


class _KernelBody:
    """Emits the scalar region for one element; collects error conditions as bits of a mask."""

    def __init__(self, b: ir.IRBuilder, messages: list[str]):
        self.b = b
        self.messages = messages
        self.bits: ir.Value = ir.Constant(I32, 0)

    def fail(self, cond: ir.Value, message: str) -> None:
        if message not in self.messages:
            self.messages.append(message)
        bit = 1 << self.messages.index(message)
        self.bits = self.b.or_(self.bits, self.b.select(cond, ir.Constant(I32, bit), ir.Constant(I32, 0)))

    def emit(self, region: Block, args: list[ir.Value]) -> ir.Value:
        from .function import emit_scalar_op

        values = {a.id: v for a, v in zip(region.args, args, strict=True)}
        for op in region.ops:
            if op.opcode == "yield":
                return values[op.operands[0].id]
            if op.opcode == "const":
                ty = op.result.type
                val = int(bool(op.attrs["value"])) if ty.dtype == "bool" else op.attrs["value"]
                values[op.result.id] = ir.Constant(scalar_type(ty.dtype), val)
                continue
            out = emit_scalar_op(self.b, op, [values[v.id] for v in op.operands], self.fail)
            values[op.result.id] = out
        raise ValueError("fused region without yield")


def _emit_loop(b: ir.IRBuilder, op: Op, tensor_dtypes: list[str], out_dtype: str, messages: list[str],
               out_ptr: ir.Value, ins, strides, scalars, begin: ir.Value, end: ir.Value,
               done: ir.Block) -> tuple[ir.Value, ir.Block]:
    """One counted loop over [begin, end); returns (error mask, block) flowing into `done`."""
    fn = b.function
    pre = b.block
    head, body = fn.append_basic_block("head"), fn.append_basic_block("body")
    b.branch(head)
    b.position_at_end(head)
    i = b.phi(I64)
    mask = b.phi(I32)
    exit_bb = b.block
    b.cbranch(b.icmp_signed("<", i, end), body, done)
    b.position_at_end(body)
    # Region arguments in operand order: tensors read element i (or i*stride), scalars passed through.
    args, ti, si = [], 0, 0
    for v in op.operands:
        if isinstance(v.type, TensorTy):
            dtype = tensor_dtypes[ti]
            idx = i if strides is None else b.mul(i, strides[ti])
            ptr = b.gep(ins[ti], [idx], source_etype=memory_type(dtype))
            args.append(to_register(b, b.load(ptr, typ=memory_type(dtype)), dtype))
            ti += 1
        else:
            args.append(scalars[si])
            si += 1
    kb = _KernelBody(b, messages)
    result = kb.emit(op.regions[0], args)
    store_dtype = "int8" if out_dtype == "trit" else out_dtype
    b.store(to_memory(b, result, out_dtype), b.gep(out_ptr, [i], source_etype=memory_type(store_dtype)))
    nxt = b.add(i, ir.Constant(I64, 1))
    mask2 = b.or_(mask, kb.bits)
    latch = b.block
    b.branch(head)
    i.add_incoming(begin, pre)
    i.add_incoming(nxt, latch)
    mask.add_incoming(ir.Constant(I32, 0), pre)
    mask.add_incoming(mask2, latch)
    return mask, exit_bb


def _emit_kernel(fe: FunctionEmitter, op: Op, tensor_dtypes: list[str], scalar_types: list[ir.Type],
                 out_dtype: str, messages: list[str]) -> ir.Function:
    m = fe.m
    m.fused_count = getattr(m, "fused_count", 0) + 1
    name = f"fused.{m.fused_count}.kernel"
    n_t = len(tensor_dtypes)
    params = [PTR] + [PTR] * n_t + [I64] * n_t + scalar_types + [I64, I64, PTR]
    fn = ir.Function(m.llmod, ir.FunctionType(VOID, params), name)
    fn.linkage = "internal"
    for i in range(1 + n_t):
        fn.args[i].add_attribute("noalias")
    out_ptr, ins = fn.args[0], fn.args[1:1 + n_t]
    strides = fn.args[1 + n_t:1 + 2 * n_t]
    scalars = fn.args[1 + 2 * n_t:1 + 2 * n_t + len(scalar_types)]
    begin, end, err = fn.args[-3:]
    entry = fn.append_basic_block("entry")
    done = fn.append_basic_block("done")
    b = ir.IRBuilder(entry)
    # Two copies of the loop: every tensor read at i (the common case, which LLVM vectorizes), or at
    # i * stride (a one-element input broadcast with stride 0).
    contiguous: ir.Value = ir.Constant(I1, 1)
    for st in strides:
        contiguous = b.and_(contiguous, b.icmp_signed("==", st, ir.Constant(I64, 1)))
    flat_bb, strided_bb = fn.append_basic_block("flat"), fn.append_basic_block("strided")
    b.cbranch(contiguous, flat_bb, strided_bb)
    masks = []
    for start_bb, use_strides in ((flat_bb, False), (strided_bb, True)):
        b.position_at_end(start_bb)
        masks.append(_emit_loop(b, op, tensor_dtypes, out_dtype, messages, out_ptr, ins,
                                strides if use_strides else None, scalars, begin, end, done))
    b.position_at_end(done)
    mask = b.phi(I32)
    for value, src in masks:
        mask.add_incoming(value, src)
    b.position_at_end(done)
    if messages:
        b.atomic_rmw("or", err, mask, "monotonic")
    b.ret_void()
    return fn


def _emit_task(m, kernel: ir.Function, field_types: list[ir.Type]) -> ir.Function:
    """`void task(ptr env, i64 begin, i64 end)`: read the environment's 8-byte slots, run the kernel."""
    fn = ir.Function(m.llmod, ir.FunctionType(VOID, [PTR, I64, I64]), kernel.name.replace("kernel", "task"))
    fn.linkage = "internal"
    env, begin, end = fn.args
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    fields = [_from_slot(b, b.load(b.gep(env, [ir.Constant(I64, k)], source_etype=I64), typ=I64), t)
              for k, t in enumerate(field_types)]
    b.call(kernel, fields[:-1] + [begin, end, fields[-1]], attrs=_WHOLE_LOOP_CALL)
    b.ret_void()
    return fn


def _to_slot(b: ir.IRBuilder, v: ir.Value) -> ir.Value:
    """Any field (pointer, integer, float) as the i64 bits of an 8-byte environment slot."""
    ty = v.type
    if isinstance(ty, ir.PointerType):
        return b.ptrtoint(v, I64)
    if isinstance(ty, ir.IntType):
        return b.zext(v, I64) if ty.width < 64 else v
    bits = ir.IntType({"half": 16, "float": 32, "double": 64}[str(ty)])
    raw = b.bitcast(v, bits)
    return b.zext(raw, I64) if bits.width < 64 else raw


def _from_slot(b: ir.IRBuilder, raw: ir.Value, ty: ir.Type) -> ir.Value:
    if isinstance(ty, ir.PointerType):
        return b.inttoptr(raw, PTR)
    if isinstance(ty, ir.IntType):
        return b.trunc(raw, ty) if ty.width < 64 else raw
    bits = ir.IntType({"half": 16, "float": 32, "double": 64}[str(ty)])
    return b.bitcast(b.trunc(raw, bits) if bits.width < 64 else raw, ty)


def _entry_alloca(fe: FunctionEmitter, ty: ir.Type, name: str, count: int | None = None) -> ir.Value:
    entry = fe.llfn.entry_basic_block
    saved = fe.b.block
    with fe.b.goto_block(entry):
        if entry.instructions:
            fe.b.position_before(entry.instructions[0])
        slot = fe.b.alloca(ty, size=None if count is None else ir.Constant(I32, count), name=name)
    fe.b.position_at_end(saved)
    return slot


def emit_fused(fe: FunctionEmitter, op: Op) -> ir.Value:
    b, ctx = fe.b, fe.ctx
    out_ty: TensorTy = op.result.type
    rank = out_ty.rank
    temps: list[ir.Value] = []  # owned headers made here (unpacked trits, broadcast copies)
    tensors: list[tuple[ir.Value, str, int]] = []  # (header, element dtype, rank)
    for v in op.operands:
        if isinstance(v.type, TensorTy):
            t = fe.get(v)
            dtype = v.type.dtype
            if dtype == "trit":
                t = rtabi.call(b, "trt_cast", ctx, t, ir.Constant(I32, rtabi.DTYPE_CODE["int8"]))
                fe.check_error(op.span)
                temps.append(t)
                dtype = "int8"
            tensors.append((t, dtype, v.type.rank))
    # 1. broadcast shape
    shape = _entry_alloca(fe, I64, "fused.shape", 8)
    bad: ir.Value = ir.Constant(I1, 0)
    for j in range(rank):
        out_d: ir.Value = ir.Constant(I64, 1)
        for t, _, r in tensors:
            axis = j - (rank - r)
            if axis < 0:
                continue
            d = rtabi.load_dim(b, t, axis)
            not1 = b.icmp_signed("!=", d, ir.Constant(I64, 1))
            clash = b.and_(not1, b.and_(b.icmp_signed("!=", out_d, ir.Constant(I64, 1)),
                                        b.icmp_signed("!=", d, out_d)))
            bad = b.or_(bad, clash)
            out_d = b.select(not1, d, out_d)
        b.store(out_d, b.gep(shape, [ir.Constant(I32, j)], source_etype=I64))
    if len(tensors) > 1:
        fail_bb, ok_bb = fe.new_block("bcast.fail"), fe.new_block("bcast.ok")
        b.cbranch(bad, fail_bb, ok_bb)
        b.position_at_end(fail_bb)
        text = op.span.text() if op.span is not None else "elementwise operation"
        rtabi.call(b, "trt_err_shape_mismatch", ctx, fe.m.cstring(text), tensors[0][0], tensors[1][0])
        fe.set_location(op.span)
        for t in temps:
            rtabi.call(b, "trt_decref", t)
        b.branch(fe.error_exit)
        b.position_at_end(ok_bb)
    # 2. output and input strides
    out_dtype = out_ty.dtype
    alloc_dtype = "int8" if out_dtype == "trit" else out_dtype
    out = rtabi.call(b, "trt_tensor_new", ctx, ir.Constant(I32, rtabi.DTYPE_CODE[alloc_dtype]),
                     ir.Constant(I32, rank), shape)
    fe.check_error(op.span)
    numel = rtabi.load_numel(b, out)
    datas, strides, dtypes, flat_ok = [], [], [], ir.Constant(I1, 1)
    for t, dtype, _ in tensors:
        n = rtabi.load_numel(b, t)
        full = b.icmp_signed("==", n, numel)
        one = b.icmp_signed("==", n, ir.Constant(I64, 1))
        flat_ok = b.and_(flat_ok, b.or_(full, one))
        datas.append(rtabi.load_data(b, t))
        strides.append(b.select(full, ir.Constant(I64, 1), ir.Constant(I64, 0)))
        dtypes.append(dtype)
    scalar_vals = [fe.get(v) for v in op.operands if not isinstance(v.type, TensorTy)]
    # 3. the loop: flat when every input has the output's element count (or one element), else by rows
    messages: list[str] = []
    kernel = _emit_kernel(fe, op, dtypes, [s.type for s in scalar_vals], out_dtype, messages)
    err = _entry_alloca(fe, I32, "fused.err")
    b.store(ir.Constant(I32, 0), err)
    out_data = rtabi.load_data(b, out)
    if rank == 0:  # one element: nothing to broadcast
        _run_loop(fe, kernel, [out_data, *datas, *strides, *scalar_vals], numel, err)
    else:
        with b.if_else(flat_ok) as (flat, rows):
            with flat:
                _run_loop(fe, kernel, [out_data, *datas, *strides, *scalar_vals], numel, err)
            with rows:
                _run_rows(fe, kernel, tensors, datas, scalar_vals, out_data, alloc_dtype, shape, rank, numel,
                          err)
    for t in temps:
        rtabi.call(b, "trt_decref", t)
    # 4. element errors, then packing of a trit result
    if messages:
        code = b.load(err, typ=I32)
        with b.if_then(b.icmp_unsigned("!=", code, ir.Constant(I32, 0))):
            rtabi.call(b, "trt_decref", out)  # one of the failures below leaves: the output goes
        for k, msg in enumerate(messages):
            hit = b.icmp_unsigned("!=", b.and_(code, ir.Constant(I32, 1 << k)), ir.Constant(I32, 0))
            fe.fail_if(hit, rtabi.ERR_VALUE, msg, op.span)
    if out_dtype == "trit":
        packed = rtabi.call(b, "trt_cast", ctx, out, ir.Constant(I32, rtabi.DTYPE_CODE["trit"]))
        rtabi.call(b, "trt_decref", out)
        fe.check_error(op.span)
        out = packed
    return out


def _run_rows(fe: FunctionEmitter, kernel: ir.Function, tensors, datas, scalar_vals, out_data: ir.Value,
              out_dtype: str, shape: ir.Value, rank: int, numel: ir.Value, err: ir.Value) -> None:
    """General broadcasting: one kernel call per row of the last axis, inputs at their broadcast offsets."""
    b = fe.b
    zero, one = ir.Constant(I64, 0), ir.Constant(I64, 1)
    out_dims = [b.load(b.gep(shape, [ir.Constant(I32, j)], source_etype=I64), typ=I64) for j in range(rank)]
    # Per input and output axis: the element stride (0 where the input is broadcast along the axis).
    axis_strides = []
    for t, _, r in tensors:
        strides, acc = [zero] * rank, one
        for a in range(r - 1, -1, -1):
            d = rtabi.load_dim(b, t, a)
            strides[a + rank - r] = b.select(b.icmp_signed("==", d, one), zero, acc)
            acc = b.mul(acc, d)
        axis_strides.append(strides)
    last = out_dims[-1]
    rows = b.select(b.icmp_signed("==", last, zero), zero, b.sdiv(numel, b.select(
        b.icmp_signed("==", last, zero), one, last)))
    pre = b.block
    head, body, done = fe.new_block("rows.head"), fe.new_block("rows.body"), fe.new_block("rows.done")
    b.branch(head)
    b.position_at_end(head)
    row = b.phi(I64)
    row.add_incoming(zero, pre)
    b.cbranch(b.icmp_signed("<", row, rows), body, done)
    b.position_at_end(body)
    offsets = [zero] * len(tensors)
    rem = row
    for a in range(rank - 2, -1, -1):
        idx = b.srem(rem, out_dims[a])
        rem = b.sdiv(rem, out_dims[a])
        offsets = [b.add(off, b.mul(idx, axis_strides[k][a])) for k, off in enumerate(offsets)]
    ins = [b.gep(d, [off], source_etype=memory_type(t[1]))
           for d, off, t in zip(datas, offsets, tensors, strict=True)]
    out_row = b.gep(out_data, [b.mul(row, last)], source_etype=memory_type(out_dtype))
    inner = [axis_strides[k][rank - 1] for k in range(len(tensors))]
    b.call(kernel, [out_row, *ins, *inner, *scalar_vals, zero, last, err])
    row.add_incoming(b.add(row, one), b.block)
    b.branch(head)
    b.position_at_end(done)


def _run_loop(fe: FunctionEmitter, kernel: ir.Function, kargs: list[ir.Value], numel: ir.Value,
              err: ir.Value) -> None:
    b = fe.b
    if not getattr(fe.m, "parallel", False):
        b.call(kernel, [*kargs, ir.Constant(I64, 0), numel, err], attrs=_WHOLE_LOOP_CALL)
        return
    fields = [*kargs, err]
    task = _emit_task(fe.m, kernel, [v.type for v in fields])
    big = b.icmp_signed(">=", numel, ir.Constant(I64, PARALLEL_MIN_ELEMENTS))
    with b.if_else(big) as (then, otherwise):
        with then:
            env = _entry_alloca(fe, I64, "fused.env", len(fields))
            for k, v in enumerate(fields):
                b.store(_to_slot(b, v), b.gep(env, [ir.Constant(I32, k)], source_etype=I64))
            rtabi.call(b, "trk_parallel_for", task, env, numel, ir.Constant(I64, PARALLEL_GRAIN))
        with otherwise:
            b.call(kernel, [*kargs, ir.Constant(I64, 0), numel, err], attrs=_WHOLE_LOOP_CALL)


__all__ = ["emit_fused", "emit_single_elementwise", "I8", "scalar_type"]
