"""Structured control flow of the IR as LLVM basic blocks (a mixin of `FunctionEmitter`).

In: `if` / `for` / `while` / `break` / `continue` IR ops with their regions. Out: basic blocks with phi
nodes: `if` → then/else/merge, `for` → head/body/latch/end (the step's sign picks the comparison),
`while` → head (the condition region) / body / end. `break` and `continue` jump to the innermost
loop's exit / latch carrying the current loop-carried values, which become phi inputs there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llvmlite import ir

from ..ir.nodes import Block, Op
from .llvm_types import llvm_type


@dataclass
class _Loop:
    """Where `continue` and `break` go, and the values they bring along."""

    latch: ir.Block
    exit: ir.Block
    continues: list[tuple[list[ir.Value], ir.Block]] = field(default_factory=list)
    breaks: list[tuple[list[ir.Value], ir.Block]] = field(default_factory=list)



class ControlFlowMixin:
    def emit_region(self, block: Block, args: list[ir.Value]) -> tuple[list[ir.Value], ir.Block] | None:
        """Emit a region; return (yielded values, block they flow from) unless it left otherwise."""
        self.bind(block.args, args)
        term = self.emit_block(block)
        if term is None:
            return None
        return [self.get(v) for v in term.operands], self.b.block

    def phis(self, block: ir.Block, types: list, incoming: list[tuple[list[ir.Value], ir.Block]],
             ) -> list[ir.Value]:
        saved = self.b.block
        self.b.position_at_start(block)
        out = []
        for i, ty in enumerate(types):
            phi = self.b.phi(llvm_type(ty))
            for vals, src in incoming:
                phi.add_incoming(vals[i], src)
            out.append(phi)
        self.b.position_at_end(saved)
        return out

    def op_if(self, op: Op) -> None:
        then_bb, else_bb, merge = self.new_block("then"), self.new_block("else"), self.new_block("endif")
        self.b.cbranch(self.get(op.operands[0]), then_bb, else_bb)
        incoming = []
        for bb, region in ((then_bb, op.regions[0]), (else_bb, op.regions[1])):
            self.b.position_at_end(bb)
            flow = self.emit_region(region, [])
            if flow is not None:
                self.b.branch(merge)
                incoming.append(flow)
        self.b.position_at_end(merge)
        if not incoming:
            self.b.unreachable()
            return
        self.bind(op.results, self.phis(merge, [r.type for r in op.results], incoming))

    def op_for(self, op: Op) -> None:
        lo, hi, step = (self.get(v) for v in op.operands[:3])
        inits = [self.get(v) for v in op.operands[3:]]
        pre = self.b.block
        names = ("for.head", "for.body", "for.latch", "for.end")
        head, body, latch, exit_ = (self.new_block(n) for n in names)
        self.b.branch(head)
        self.b.position_at_end(head)
        ity = lo.type
        i = self.b.phi(ity)
        carried = [self.b.phi(v.type) for v in inits]
        zero = ir.Constant(ity, 0)
        going_up = self.b.icmp_signed(">", step, zero)
        more = self.b.select(going_up, self.b.icmp_signed("<", i, hi), self.b.icmp_signed(">", i, hi))
        self.b.cbranch(more, body, exit_)
        loop = _Loop(latch, exit_)
        self.loops.append(loop)
        self.b.position_at_end(body)
        flow = self.emit_region(op.regions[0], [i, *carried])
        self.loops.pop()
        if flow is not None:
            self.b.branch(latch)
            loop.continues.append(flow)
        self.b.position_at_end(latch)
        nexts = self.phis(latch, [r.type for r in op.results], loop.continues)
        i_next = self.b.add(i, step)
        self.b.branch(head)
        i.add_incoming(lo, pre)
        i.add_incoming(i_next, latch)
        for phi, init, nxt in zip(carried, inits, nexts, strict=True):
            phi.add_incoming(init, pre)
            phi.add_incoming(nxt, latch)
        self.b.position_at_end(exit_)
        self.bind(op.results, self.phis(exit_, [r.type for r in op.results],
                                        [(carried, head), *loop.breaks]))

    def op_while(self, op: Op) -> None:
        inits = [self.get(v) for v in op.operands]
        pre = self.b.block
        head, body, exit_ = (self.new_block(n) for n in ("while.head", "while.body", "while.end"))
        self.b.branch(head)
        self.b.position_at_end(head)
        carried = [self.b.phi(v.type) for v in inits]
        cond_flow = self.emit_region(op.regions[0], carried)
        loop = _Loop(head, exit_)
        if cond_flow is not None:
            (cond,), cond_end = cond_flow
            self.b.cbranch(cond, body, exit_)
            loop.breaks.append((carried, cond_end))
        self.loops.append(loop)
        self.b.position_at_end(body)
        flow = self.emit_region(op.regions[1], carried)
        self.loops.pop()
        if flow is not None:
            self.b.branch(head)
            loop.continues.append(flow)
        for phi, init in zip(carried, inits, strict=True):
            phi.add_incoming(init, pre)
        for vals, src in loop.continues:
            for phi, v in zip(carried, vals, strict=True):
                phi.add_incoming(v, src)
        self.b.position_at_end(exit_)
        if not loop.breaks:
            self.b.unreachable()
            return
        self.bind(op.results, self.phis(exit_, [r.type for r in op.results], loop.breaks))

    def op_break(self, op: Op) -> None:
        loop = self.loops[-1]
        loop.breaks.append(([self.get(v) for v in op.operands], self.b.block))
        self.b.branch(loop.exit)

    def op_continue(self, op: Op) -> None:
        loop = self.loops[-1]
        loop.continues.append(([self.get(v) for v in op.operands], self.b.block))
        self.b.branch(loop.latch)


