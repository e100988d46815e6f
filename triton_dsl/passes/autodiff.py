"""Autodiff: record every differentiable op on the tape as it runs (reverse mode, PyTorch semantics).

In: an `ir.Module` with `autodiff` set, after fusion (so a fused region is one tape node with fused
backward code) and before reference counting. Out: after each op that has a gradient rule
(`passes.grad_rules`), a check whether any of its float tensor inputs requires grad
(`trt_grad_needed`: the flag on the input and the grad mode) and, if so, a tape node attached to the
result: a closure over the op's inputs whose code is a generated *backward function*
`<fn>.grad<k>(env, g)` — for each input that requires grad it builds the rule's gradient, undoes
broadcasting (`trt_sum_to_shape`) and hands it to the engine (`trt_grad_accumulate`). Later uses of the
result use the recorded tensor (`trt_tape_attach`). The runtime's engine (`trt_backward`, docs/runtime.md
"Autodiff") runs the nodes in reverse creation order and frees them.

Function calls, loops, branches and recursion need nothing: the ops inside them record themselves when
they run, so the tape is exactly what executed. Ops that are differentiable but have no rule yet stop the
program with a clear error when a gradient would have to pass through them (never a silent zero).
"""

from __future__ import annotations

from ..ir.builder import Builder
from ..ir.nodes import Block, Function, Module, Op, Value
from ..ir.types import I32, STR, FnValTy, ScalarTy, StructLayout, StructTy, UnitTy
from .grad_rules import NO_RULE, Rule, rule_for

_I8 = ScalarTy("int8")


def _needed(b: Builder, fn: str, values: list[Value]) -> Value:
    """Whether any of `values` requires grad (`fn`: trt_grad_needed, or trt_requires_grad in backward)."""
    flag = None
    for v in values:
        byte = b.rt(fn, [v], _I8, no_ctx=True, fallible=False).result
        flag = byte if flag is None else b.binary("or", flag, byte)
    return b.binary("ne", flag, b.const(0, _I8))


class _Recorder:
    def __init__(self, module: Module):
        self.module = module
        self.count = 0
        self.generated: set[str] = set()

    def function(self, fn: Function) -> None:
        self.fn = fn
        self.replace: dict[int, Value] = {}
        self.block(fn.body)

    def block(self, block: Block) -> None:
        out: list[Op] = []
        for op in block.ops:
            op.operands = [self.replace.get(v.id, v) for v in op.operands]
            if op.opcode != "fused":
                for region in op.regions:
                    self.block(region)
            out.append(op)
            rule = rule_for(op)
            if rule is not None and rule.inputs:
                self.record(op, rule, out)
        block.ops = out

    def record(self, op: Op, rule: Rule, out: list[Op]) -> None:
        b = Builder(Block(), op.span)
        captured = rule.captured(op)
        need = _needed(b, rule.need_fn, [captured[i] for i in rule.inputs])
        y = op.result
        if rule.missing:
            check = b.if_(need, [], op.span)
            with b.at(check.regions[0]):
                text = " ".join(op.span.text().split()) if op.span is not None else "this operation"
                msg = f"the gradient of '{text[:50]}' is not available yet (E0901)"
                b.panic(b.const(msg, STR, op.span), op.span)
            with b.at(check.regions[1]):
                b.yield_()
            out.extend(b.block.ops)
            return
        backward = self.backward_function(op, rule, captured)
        branch = b.if_(need, [y.type], op.span)
        with b.at(branch.regions[0]):
            closure = b.op("make_closure", captured, [FnValTy((y.type,), UnitTy())],
                           {"fn": backward.name, "env": f"$env.{backward.name}"}).result
            attached = b.rt("trt_tape_attach", [y, closure], y.type,
                            args=[("v", 0), ("code", 1), ("env", 1)]).result
            b.yield_([attached])
        with b.at(branch.regions[1]):
            b.yield_([y])
        out.extend(b.block.ops)
        self.replace[y.id] = branch.result

    def backward_function(self, op: Op, rule: Rule, captured: list[Value]) -> Function:
        self.count += 1
        name = f"{self.fn.name}.grad{self.count}"
        env_name = f"$env.{name}"
        fields = [(f"x{i}", v.type) for i, v in enumerate(captured)]
        self.module.structs[env_name] = StructLayout(env_name, fields)
        env, g = Value(StructTy(env_name), "env"), Value(op.result.type, "g")
        fn = Function(name, Block([env, g]), UnitTy(), span=op.span, source_name=self.fn.source_name,
                      param_names=["env", "g"], public=False, generic=True, param_origin=[0, 1])
        b = Builder(fn.body, op.span)
        xs = [b.op("field_get", [env], [v.type], {"index": i}).result for i, v in enumerate(captured)]
        for i in rule.inputs:
            need = _needed(b, "trt_requires_grad", [xs[i]])
            branch = b.if_(need, [], op.span)
            with b.at(branch.regions[0]):
                grad = rule.grad(b, op, i, g, xs)
                if grad == NO_RULE:
                    text = " ".join(op.span.text().split()) if op.span is not None else "this operation"
                    msg = f"the gradient of '{text[:50]}' is not available yet (E0901)"
                    b.panic(b.const(msg, STR, op.span), op.span)
                elif grad is not None:
                    grad = b.rt("trt_sum_to_shape", [grad, xs[i]], xs[i].type).result
                    b.rt("trt_grad_accumulate", [xs[i], grad], I32)
                if grad != NO_RULE:
                    b.yield_()
            with b.at(branch.regions[1]):
                b.yield_()
        b.ret()
        self.module.add(fn)
        self.generated.add(name)
        return fn


def run_autodiff(module: Module) -> None:
    if not module.autodiff:
        return
    recorder = _Recorder(module)
    for fn in list(module.functions.values()):
        recorder.function(fn)
