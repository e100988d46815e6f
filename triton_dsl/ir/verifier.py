"""The IR verifier, run after lowering and between passes.

In: an `ir.Module`. Out: nothing when the IR is well formed; otherwise `IRVerificationError` naming
the function, the op and the rule broken. Checked: every operand is defined before use and visible
(defined in this block or an enclosing one), blocks end in the terminator their parent expects,
region arguments and results agree in number and type with what the op carries, elementwise and
call types are consistent, spans are present on ops that can fail at run time.
"""

from __future__ import annotations

from .nodes import BINARY_OPS, ELEMENTWISE, REGION_COUNTS, TERMINATORS, UNARY_OPS, Block, Function, Module, Op
from .types import BOOL, ScalarTy, TensorTy, UnitTy

# Ops that can fail at run time must say where they come from.
_NEEDS_SPAN = frozenset({"rt", "call", "check_eq", "check_dim", "panic", "cast", "fused", "dequantize",
                        "ternary_matmul", "copy_scales", "check_scales", "new_struct", "list_new", "list_get",
                        "list_set", "list_append", "list_pop", "print_value", "rank_cast", "make_closure",
                        "call_value", "call_trait", "to_trait", "global_get"})


class IRVerificationError(Exception):
    """The IR broke one of its rules: a bug in the compiler stage that produced it."""


class _Verifier:
    def __init__(self, module: Module, fn: Function):
        self.module = module
        self.fn = fn

    def fail(self, op: Op | None, message: str) -> None:
        where = f" in '{op.opcode}'" if op is not None else ""
        at = f" at {op.span.location()}" if op is not None and op.span is not None else ""
        raise IRVerificationError(f"function @{self.fn.name}{where}{at}: {message}")

    def block(self, block: Block, visible: set[int], expect_term: set[str] | None) -> None:
        scope = set(visible) | {a.id for a in block.args}
        for i, op in enumerate(block.ops):
            for v in op.operands:
                if v.id not in scope:
                    self.fail(op, f"operand {v!r} is not defined before this use")
            if op.opcode in TERMINATORS and i != len(block.ops) - 1:
                self.fail(op, "terminator is not the last op of its block")
            self.check_op(op)
            for region in op.regions:
                self.block(region, scope, self.region_terminators(op))
            scope.update(r.id for r in op.results)
        term = block.terminator
        if expect_term is not None:
            if term is None:
                self.fail(None, f"a block does not end in one of {sorted(expect_term)}")
            elif term.opcode not in expect_term | {"return", "panic", "break", "continue"}:
                self.fail(term, f"block must end in one of {sorted(expect_term)}")

    @staticmethod
    def region_terminators(op: Op) -> set[str]:
        if op.opcode == "while":
            return {"condition", "yield"}
        return {"yield"}

    def check_op(self, op: Op) -> None:
        code = op.opcode
        if code in REGION_COUNTS and len(op.regions) != REGION_COUNTS[code]:
            self.fail(op, f"expected {REGION_COUNTS[code]} regions, found {len(op.regions)}")
        if code in _NEEDS_SPAN and op.span is None:
            self.fail(op, "op that can fail at run time has no source span")
        if code in ELEMENTWISE:
            self.check_elementwise(op)
        elif code == "call":
            callee = self.module.functions.get(op.attrs["callee"])
            if callee is None:
                self.fail(op, f"call to unknown function @{op.attrs['callee']}")
            elif [p.type for p in callee.params] != [v.type for v in op.operands]:
                self.fail(op, "argument types do not match the callee's parameters")
            elif [r.type for r in op.results] != ([] if isinstance(callee.ret_type, UnitTy)
                                                  else [callee.ret_type]):
                self.fail(op, "result type does not match the callee's return type")
        elif code == "if":
            if op.operands[0].type != BOOL:
                self.fail(op, "condition is not bool")
            for region in op.regions:
                self.check_yield(op, region, [r.type for r in op.results])
        elif code == "for":
            body = op.regions[0]
            carried = [v.type for v in op.operands[3:]]
            if [a.type for a in body.args[1:]] != carried or [r.type for r in op.results] != carried:
                self.fail(op, "loop-carried types disagree")
            self.check_yield(op, body, carried)
        elif code == "while":
            carried = [v.type for v in op.operands]
            for region in op.regions:
                if [a.type for a in region.args] != carried:
                    self.fail(op, "region arguments do not match the loop-carried values")
            self.check_yield(op, op.regions[1], carried)
        elif code == "fused":
            body = op.regions[0]
            if len(body.args) != len(op.operands):
                self.fail(op, "fused region arguments do not match its inputs")
            if not isinstance(op.result.type, TensorTy):
                self.fail(op, "fused loop must produce a tensor")

    def check_elementwise(self, op: Op) -> None:
        kind = op.attrs.get("op")
        if op.opcode == "binary" and kind not in BINARY_OPS:
            self.fail(op, f"unknown binary op {kind!r}")
        if op.opcode == "unary" and kind not in UNARY_OPS:
            self.fail(op, f"unknown unary op {kind!r}")
        ranks = [v.type.rank for v in op.operands if isinstance(v.type, TensorTy)]
        res = op.result.type
        if ranks and (not isinstance(res, TensorTy) or res.rank != max(ranks)):
            self.fail(op, "elementwise result rank is not the broadcast rank")
        if not ranks and not isinstance(res, ScalarTy):
            self.fail(op, "elementwise op on scalars must give a scalar")
        if op.opcode == "binary":
            a, b = (v.type.dtype for v in op.operands)  # type: ignore[attr-defined]
            if a != b:
                self.fail(op, f"operand dtypes differ ({a} vs {b}); lowering must cast first")
        if op.opcode == "select" and op.operands[0].type.dtype != "bool":  # type: ignore[attr-defined]
            self.fail(op, "select condition is not bool")

    def check_yield(self, op: Op, region: Block, types: list) -> None:
        term = region.terminator
        if term is not None and term.opcode == "yield" and [v.type for v in term.operands] != types:
            self.fail(term, f"yielded types do not match the results of '{op.opcode}'")


def verify_function(module: Module, fn: Function) -> None:
    v = _Verifier(module, fn)
    v.block(fn.body, set(), None)
    last = fn.body.terminator
    if fn.returns_value and (last is None or last.opcode not in ("return", "panic")):
        v.fail(last, "function with a result does not end in return")
    for op in fn.walk():
        if op.opcode == "return":
            got = [x.type for x in op.operands]
            want = [] if isinstance(fn.ret_type, UnitTy) else [fn.ret_type]
            if got != want:
                v.fail(op, f"returns {got} but the function returns {fn.ret_type}")


def verify_module(module: Module) -> None:
    for fn in module.functions.values():
        verify_function(module, fn)
