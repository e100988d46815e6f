"""Fusion of elementwise chains into single loops.

In: an `ir.Module`. Out: every elementwise op on tensors (`binary`, `unary`, `cast`, `select`) becomes
part of a `fused` op; a fused op whose result is used only once, by another fused op of the same block,
is inlined into its consumer. `tanh(x / t)`, `(a - b) ** 2` or a chain of `where(...)` thus make one
pass over memory and no intermediate tensors. Broadcasting composes (it is associative), so the merged
loop reads each input at the same broadcast position as the separate loops would.
"""

from __future__ import annotations

from collections import Counter

from ..ir.nodes import ELEMENTWISE, Block, Module, Op, Value
from ..ir.types import ScalarTy, TensorTy


def _use_counts(block: Block) -> Counter:
    return Counter(v.id for op in block.walk() for v in op.operands)


def _as_fused(op: Op) -> Op:
    args = [Value(ScalarTy(v.type.dtype)) for v in op.operands]
    inner = Op(op.opcode, args, [Value(ScalarTy(op.result.type.dtype))], dict(op.attrs), op.span)
    region = Block(args, [inner, Op("yield", [inner.result], [])])
    return Op("fused", list(op.operands), op.results, {}, op.span, [region])


def _inline(consumer: Op, index: int, producer: Op) -> None:
    """Replace input `index` of `consumer` by the computation of `producer` (its only use)."""
    region = consumer.regions[0]
    p_region = producer.regions[0]
    p_yield = p_region.ops[-1]
    replaced = region.args[index]
    new_args = [Value(a.type, a.hint) for a in p_region.args]
    mapping = {a.id: n for a, n in zip(p_region.args, new_args, strict=True)}
    body = []
    for op in p_region.ops[:-1]:
        op.operands = [mapping.get(v.id, v) for v in op.operands]
        body.append(op)
    produced = mapping.get(p_yield.operands[0].id, p_yield.operands[0])
    for op in region.ops:
        op.operands = [produced if v.id == replaced.id else v for v in op.operands]
    consumer.operands = consumer.operands[:index] + consumer.operands[index + 1:] + list(producer.operands)
    region.args = region.args[:index] + region.args[index + 1:] + new_args
    region.ops = body + region.ops


def _inline_constants(op: Op, consts: dict[int, Op]) -> None:
    """Scalar constants become ops inside the region, so the loop body sees literal values
    (LLVM then turns `x ** 2.0` into a multiply and folds the rest)."""
    region = op.regions[0]
    keep_operands, keep_args, prologue = [], [], []
    for v, a in zip(op.operands, region.args, strict=True):
        src = consts.get(v.id)
        if src is None:
            keep_operands.append(v)
            keep_args.append(a)
            continue
        prologue.append(Op("const", [], [a], dict(src.attrs), src.span))
    op.operands, region.args = keep_operands, keep_args
    region.ops = prologue + region.ops


def _unwrap_rank0(op: Op, wrapped: dict[int, Value]) -> None:
    """A rank-0 tensor made from a scalar (`trt_scalar_*`) enters the loop as that scalar, when another
    input still gives the loop its shape."""
    tensors = [v for v in op.operands if isinstance(v.type, TensorTy) and v.id not in wrapped]
    if not tensors:
        return
    op.operands = [wrapped.get(v.id, v) for v in op.operands]


def _dedupe_inputs(op: Op) -> None:
    """One region argument per distinct input value (a loop reads `x` once per element, not thrice)."""
    region = op.regions[0]
    first: dict[int, Value] = {}
    operands, args, replace = [], [], {}
    for v, a in zip(op.operands, region.args, strict=True):
        if v.id in first:
            replace[a.id] = first[v.id]
            continue
        first[v.id] = a
        operands.append(v)
        args.append(a)
    if replace:
        for inner in region.ops:
            inner.operands = [replace.get(x.id, x) for x in inner.operands]
        op.operands, region.args = operands, args


def _fuse_block(block: Block, uses: Counter) -> None:
    producers: dict[int, Op] = {}
    consts: dict[int, Op] = {}
    wrapped: dict[int, Value] = {}  # rank-0 tensor made from a scalar -> the scalar
    out: list[Op] = []
    for op in block.ops:
        if op.opcode == "const" and isinstance(op.result.type, ScalarTy):
            consts[op.result.id] = op
        if op.opcode == "rt" and op.attrs["fn"].startswith("trt_scalar_") and len(op.operands) == 1 \
                and "lifted_from" not in op.attrs:  # (a lifted reduction is a tape node: keep the tensor)
            wrapped[op.result.id] = op.operands[0]
        for region in op.regions:
            if op.opcode != "fused":
                _fuse_block(region, uses)
        if op.opcode in ELEMENTWISE and isinstance(op.result.type, TensorTy):
            op = _as_fused(op)
        if op.opcode == "fused":
            changed = True
            while changed:
                changed = False
                for i, v in enumerate(op.operands):
                    producer = producers.get(v.id)
                    if producer is not None and uses[v.id] == 1:
                        _inline(op, i, producer)
                        out.remove(producer)
                        del producers[v.id]
                        changed = True
                        break
            _unwrap_rank0(op, wrapped)
            _inline_constants(op, consts)
            _dedupe_inputs(op)
            producers[op.result.id] = op
        out.append(op)
    block.ops = out


def run_fusion(module: Module) -> None:
    for fn in module.functions.values():
        _fuse_block(fn.body, _use_counts(fn.body))
