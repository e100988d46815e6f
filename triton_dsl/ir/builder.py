"""A small builder for IR: appends ops to a current block and computes result types.

In: values, attributes and spans from lowering (or tests building IR by hand). Out: `Op`s appended to
the block, and their result `Value`s. Result types follow the IR's typing rules (the same rules the
verifier checks): elementwise ops broadcast to the highest operand rank; comparisons give `bool`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from typing import Any

from ..source import Span
from .nodes import COMPARISONS, Block, Op, Value
from .types import BOOL, IRType, ScalarTy, TensorTy, TupleTy, UnitTy


def elementwise_type(dtype: str, operands: Sequence[Value]) -> IRType:
    """A scalar of `dtype` when every operand is a scalar, else a tensor of the highest rank."""
    ranks = [v.type.rank for v in operands if isinstance(v.type, TensorTy)]
    return TensorTy(dtype, max(ranks)) if ranks else ScalarTy(dtype)


def binary_result_dtype(op: str, lhs_dtype: str) -> str:
    return "bool" if op in COMPARISONS else lhs_dtype


class Builder:
    """Appends ops to `self.block`; `at(block)` switches the insertion block temporarily."""

    def __init__(self, block: Block | None = None, span: Span | None = None):
        self.block = block if block is not None else Block()
        self.span = span  # default span for ops built without one

    @contextmanager
    def at(self, block: Block):
        saved, self.block = self.block, block
        try:
            yield block
        finally:
            self.block = saved

    def op(self, opcode: str, operands: Sequence[Value], result_types: Sequence[IRType] = (),
           attrs: dict[str, Any] | None = None, span: Span | None = None,
           regions: Sequence[Block] = (), hint: str = "") -> Op:
        results = [Value(t, hint) for t in result_types]
        op = Op(opcode, list(operands), results, dict(attrs or {}), span or self.span, list(regions))
        self.block.ops.append(op)
        return op

    # -- values ---------------------------------------------------------------------------------------
    def const(self, value: Any, ty: IRType, span: Span | None = None) -> Value:
        return self.op("const", [], [ty], {"value": value}, span).result

    def binary(self, name: str, a: Value, b: Value, span: Span | None = None, hint: str = "") -> Value:
        lhs = a.type.dtype  # type: ignore[attr-defined]
        ty = elementwise_type(binary_result_dtype(name, lhs), [a, b])
        return self.op("binary", [a, b], [ty], {"op": name}, span, hint=hint).result

    def unary(self, name: str, a: Value, span: Span | None = None, hint: str = "") -> Value:
        dtype = "bool" if name == "isnan" else a.type.dtype  # type: ignore[attr-defined]
        return self.op("unary", [a], [elementwise_type(dtype, [a])], {"op": name}, span, hint=hint).result

    def cast(self, a: Value, dtype: str, span: Span | None = None) -> Value:
        return self.op("cast", [a], [elementwise_type(dtype, [a])], {"to": dtype}, span).result

    def select(self, c: Value, a: Value, b: Value, span: Span | None = None) -> Value:
        ty = elementwise_type(a.type.dtype, [c, a, b])  # type: ignore[attr-defined]
        return self.op("select", [c, a, b], [ty], {}, span).result

    def call(self, callee: str, args: Sequence[Value], ret: IRType, span: Span | None = None) -> Op:
        return self.op("call", args, [] if isinstance(ret, UnitTy) else [ret], {"callee": callee}, span)

    def rt(self, fn: str, operands: Sequence[Value], ret: IRType | None, span: Span | None = None,
           **attrs: Any) -> Op:
        """A call into the runtime library (`fn` is the symbol name). Attributes: `consts` (constant
        arguments after the operands) or `args` (the exact argument layout, see codegen `op_rt`),
        `no_ctx`, `fallible`."""
        return self.op("rt", operands, [] if ret is None else [ret], {"fn": fn, **attrs}, span)

    def tuple(self, items: Sequence[Value], span: Span | None = None) -> Value:
        return self.op("tuple", items, [TupleTy(tuple(v.type for v in items))], {}, span).result

    def get(self, tup: Value, index: int, span: Span | None = None) -> Value:
        ty = tup.type.items[index]  # type: ignore[attr-defined]
        return self.op("get", [tup], [ty], {"index": index}, span).result

    # -- control flow ---------------------------------------------------------------------------------
    def if_(self, cond: Value, result_types: Sequence[IRType], span: Span | None = None) -> Op:
        return self.op("if", [cond], result_types, {}, span, [Block(), Block()])

    def for_(self, lo: Value, hi: Value, step: Value, inits: Sequence[Value],
             span: Span | None = None) -> Op:
        body = Block([Value(lo.type, "i")] + [Value(v.type, v.hint) for v in inits])
        return self.op("for", [lo, hi, step, *inits], [v.type for v in inits], {}, span, [body])

    def while_(self, inits: Sequence[Value], span: Span | None = None) -> Op:
        before = Block([Value(v.type, v.hint) for v in inits])
        after = Block([Value(v.type, v.hint) for v in inits])
        return self.op("while", list(inits), [v.type for v in inits], {}, span, [before, after])

    def fused(self, inputs: Sequence[Value], body: Callable[[Builder, list[Value]], Value],
              span: Span | None = None) -> Value:
        """An elementwise loop over the broadcast of `inputs`; `body` builds the scalar computation."""
        block = Block([Value(ScalarTy(v.type.dtype)) for v in inputs])  # type: ignore[attr-defined]
        with self.at(block):
            out = body(self, block.args)
            self.op("yield", [out])
        ty = elementwise_type(out.type.dtype, inputs)  # type: ignore[attr-defined]
        return self.op("fused", inputs, [ty], {}, span, [block]).result

    def yield_(self, values: Sequence[Value] = (), span: Span | None = None) -> Op:
        return self.op("yield", values, span=span)

    def condition(self, cond: Value, span: Span | None = None) -> Op:
        return self.op("condition", [cond], span=span)

    def ret(self, value: Value | None = None, span: Span | None = None) -> Op:
        return self.op("return", [] if value is None else [value], span=span)

    def panic(self, message: Value, span: Span | None = None) -> Op:
        return self.op("panic", [message], span=span)

    def dim(self, tensor: Value, axis: int, span: Span | None = None) -> Value:
        from .types import I64
        return self.op("dim", [tensor], [I64], {"axis": axis}, span).result

    def check_eq(self, a: Value, b: Value, message: str, span: Span | None = None) -> Op:
        """A run-time check that two int64 values agree (dynamic dims); fails with `message`."""
        return self.op("check_eq", [a, b], [], {"message": message}, span)


__all__ = ["Builder", "BOOL", "elementwise_type"]
