"""Make ownership explicit: insert `retain`/`release` ops so that memory goes when the last reference goes.

In: an `ir.Module` where every op returns fresh references and borrows its operands. Out: the same
module with `retain`/`release` ops, under these rules (the runtime's, docs/runtime.md):

- an op's results are owned by the block that defines them; function parameters are borrowed;
- a value is released right after its last use in its block (a use inside a nested region counts as a
  use by the op owning the region) — or right after its definition when it is never used;
- `yield`, `return`, `break`, `continue` and a loop's initial values *consume* their operands: a
  value owned by the current block at its last use is handed over; anything else is retained first;
- leaving early (`return`, `break`, `continue`) releases what the enclosing blocks (up to the function,
  or up to the loop) still own at that point; an op that can fail (or `panic`) lists in its attribute
  `release_on_error` what this block and every enclosing one own at that point, which codegen releases
  on the error path, so a failing call leaks nothing (a Python loop of failing calls keeps memory flat);
- loop-carried values are owned by the loop body (`for` body, `while` body), borrowed by the `while`
  condition region; `tuple`/`some` retain the items they pack, `get`/`unwrap` the item they extract.
- ops on objects (`new_struct`, `field_get`, `list_get`, `make_closure`, ...) follow the general rule: their
  results are fresh references and they borrow their operands (code generation counts the references a
  store into an object makes and a read out of one gives; see codegen/object_ops.py).
"""

from __future__ import annotations

from ..ir.nodes import Block, Function, Module, Op, Value

_CONSUMING_TERMINATORS = frozenset({"yield", "return", "break", "continue"})
RELEASE_ON_ERROR = "release_on_error"
# Ops that never fail at run time (no error path to clean up).
_NEVER_FAIL = frozenset({"const", "tuple", "get", "dim", "numel", "buf", "none", "some", "is_some", "unwrap",
                         "retain", "release", "yield", "condition", "return", "break", "continue",
                         "field_get", "field_set", "list_len", "retype", "union_make", "union_is",
                         "union_get", "global_set", "global_clear"})


def _rc(v: Value) -> bool:
    return v.type.is_refcounted()


def _uses(op: Op) -> set[int]:
    """Ids of values an op uses, including free uses inside its regions."""
    used = {v.id for v in op.operands}
    for region in op.regions:
        defined = {a.id for a in region.args}
        for inner in region.walk():
            defined.update(r.id for r in inner.results)
            for r in inner.regions:
                defined.update(a.id for a in r.args)
        for inner in region.walk():
            used.update(v.id for v in inner.operands if v.id not in defined)
    return used


class _Frame:
    """Ownership state of one block while it is being rewritten."""

    def __init__(self, block: Block, owns_args: bool, is_loop_body: bool, args_on_error: bool = False):
        self.block = block
        self.owned: list[Value] = [a for a in block.args if owns_args and _rc(a)]
        self.is_loop_body = is_loop_body
        self.released: set[int] = set()
        # A `while` condition borrows the carried values from the loop, which still owns them: an error
        # there must release them too.
        self.on_error: list[Value] = [a for a in block.args if args_on_error and _rc(a)]

    def live(self) -> list[Value]:
        return [v for v in self.owned if v.id not in self.released]


def _release(v: Value) -> Op:
    return Op("release", [v], [])


def _retain(v: Value) -> Op:
    return Op("retain", [v], [])


def _rewrite(frame: _Frame, stack: list[_Frame]) -> None:
    block = frame.block
    ops = block.ops
    uses = [_uses(op) for op in ops]
    last: dict[int, int] = {}
    for k, used in enumerate(uses):
        for vid in used:
            last[vid] = k
    out: list[Op] = []
    # Arguments never used: release at once.
    for a in list(frame.owned):
        if a.id not in last:
            out.append(_release(a))
            frame.released.add(a.id)
    for k, op in enumerate(ops):
        consumed: set[int] = set()
        if op.opcode in _CONSUMING_TERMINATORS or op.opcode in ("for", "while"):
            carried = op.operands[3:] if op.opcode == "for" else op.operands
            if op.opcode not in ("for", "while"):
                carried = op.operands
            for v in carried:
                if not _rc(v):
                    continue
                owned_here = any(o.id == v.id for o in frame.live())
                if owned_here and last.get(v.id) == k and v.id not in consumed:
                    consumed.add(v.id)  # hand over our reference
                else:
                    out.append(_retain(v))
        if op.opcode in ("return", "break", "continue"):
            # Release what this block and the enclosing ones (up to the function / the loop) still own.
            for f in [frame, *reversed(stack)]:
                for v in f.live():
                    if v.id not in consumed and (f is not frame or last.get(v.id, -1) >= k):
                        out.append(_release(v))
                if op.opcode != "return" and f.is_loop_body:
                    break
        if op.opcode in ("tuple", "some", "union_make"):
            out.extend(_retain(v) for v in op.operands if _rc(v))
        # Values handed over (e.g. a loop's initial values, now owned by the loop body) are no longer ours,
        # also for an early `return` inside the loop's regions.
        frame.released.update(consumed)
        if op.opcode not in _NEVER_FAIL:
            owned = [v for f in [frame, *reversed(stack)] for v in f.live() + f.on_error]
            if owned:
                op.attrs[RELEASE_ON_ERROR] = owned
        # Nested regions see this block's live values as owned by an enclosing frame.
        for i, region in enumerate(op.regions):
            if op.opcode == "fused":
                continue
            owns_args = op.opcode == "for" or (op.opcode == "while" and i == 1)
            inner = _Frame(region, owns_args, is_loop_body=owns_args,
                           args_on_error=op.opcode == "while" and i == 0)
            _rewrite(inner, [*stack, frame])
        out.append(op)
        if op.opcode in ("get", "unwrap", "union_get") and _rc(op.result):
            out.append(_retain(op.result))
        # Results we own from now on; released after their last use.
        for r in op.results:
            if _rc(r):
                frame.owned.append(r)
                if r.id not in last:
                    out.append(_release(r))
                    frame.released.add(r.id)
        if op.opcode in _CONSUMING_TERMINATORS or op.opcode in ("condition", "panic"):
            continue
        for v in frame.live():
            if last.get(v.id) == k:
                out.append(_release(v))
                frame.released.add(v.id)
    # A block ending in a non-consuming way (condition, panic, or no terminator) releases what is left
    # only where it falls through; `condition` regions borrow, so their own temporaries were handled above.
    block.ops = out


def _drop_pairs(block: Block) -> None:
    """Remove a `retain v` directly followed by `release v` (they cancel out)."""
    out: list[Op] = []
    for op in block.ops:
        for region in op.regions:
            _drop_pairs(region)
        if (op.opcode == "release" and out and out[-1].opcode == "retain"
                and out[-1].operands[0].id == op.operands[0].id):
            out.pop()
            continue
        out.append(op)
    block.ops = out


def insert_refcounts(fn: Function) -> None:
    frame = _Frame(fn.body, owns_args=False, is_loop_body=False)
    _rewrite(frame, [])
    _drop_pairs(fn.body)


def run_refcount_pass(module: Module) -> None:
    for fn in module.functions.values():
        insert_refcounts(fn)
