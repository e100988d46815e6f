"""Constant folding and dead-code removal.

In: an `ir.Module`. Out: the module with scalar ops on constants folded into constants (integer and
bool arithmetic only: float folding would have to reproduce LLVM's rounding of every op exactly, and
LLVM folds those itself) and ops without side effects whose results are unused removed.
"""

from __future__ import annotations

from ..ir.nodes import Block, Module, Op
from ..ir.types import ScalarTy

# Ops that only compute their results (no errors possible, no effects): safe to delete when unused.
_PURE = frozenset({"const", "binary", "unary", "select", "tuple", "get", "dim", "numel", "buf", "none",
                   "some", "is_some", "unwrap", "field_get", "list_len", "retype", "union_make",
                   "union_is", "union_get"})
_MAY_FAIL = frozenset({"floordiv", "mod", "pow"})  # integer ÷ 0 and negative exponents raise
_FOLD = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
         "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
         "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
         "and": lambda a, b: a and b, "or": lambda a, b: a or b,
         "min": min, "max": max}
_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}


def _wrap(value: int, dtype: str) -> int:
    bits = _BITS[dtype]
    return (value + (1 << (bits - 1))) % (1 << bits) - (1 << (bits - 1))


def _fold_cast(op: Op, consts: dict[int, object]) -> object | None:
    """int/bool constant → int (wrapped) or float; anything involving floats is left to LLVM."""
    src = op.operands[0]
    dst = op.result.type
    if src.id not in consts or not isinstance(dst, ScalarTy) or not isinstance(src.type, ScalarTy):
        return None
    if not (src.type.dtype in _BITS or src.type.is_bool):
        return None
    value = int(consts[src.id])
    if dst.dtype in _BITS:
        return _wrap(value, dst.dtype)
    if dst.is_float:
        return float(value)
    if dst.is_bool:
        return value != 0
    return None


def _fold_unary(op: Op, consts: dict[int, object]) -> object | None:
    src = op.operands[0]
    if src.id not in consts or not isinstance(src.type, ScalarTy):
        return None
    value = consts[src.id]
    if op.attrs["op"] == "not" and src.type.is_bool:
        return not value
    if op.attrs["op"] == "neg" and src.type.dtype in _BITS:
        return _wrap(-int(value), src.type.dtype)
    if op.attrs["op"] == "neg" and src.type.is_float:
        return -float(value)  # exact: negation only flips the sign bit
    return None


def _fold(op: Op, consts: dict[int, object]) -> object | None:
    if op.opcode == "cast":
        return _fold_cast(op, consts)
    if op.opcode == "unary":
        return _fold_unary(op, consts)
    if op.opcode != "binary" or op.attrs["op"] not in _FOLD:
        return None
    if not all(v.id in consts for v in op.operands):
        return None
    ty = op.operands[0].type
    if not isinstance(ty, ScalarTy) or not (ty.dtype in _BITS or ty.is_bool):
        return None
    value = _FOLD[op.attrs["op"]](*(consts[v.id] for v in op.operands))
    if isinstance(value, bool) or op.result.type.dtype == "bool":
        return bool(value)
    return _wrap(int(value), ty.dtype)


def _fold_block(block: Block, consts: dict[int, object]) -> None:
    for op in block.ops:
        if op.opcode == "const" and isinstance(op.result.type, ScalarTy):
            consts[op.result.id] = op.attrs["value"]
            continue
        folded = _fold(op, consts)
        if folded is not None:
            op.opcode, op.operands, op.attrs = "const", [], {"value": folded}
            consts[op.result.id] = folded
        for region in op.regions:
            _fold_block(region, consts)


def _used_ids(block: Block) -> set[int]:
    return {v.id for op in block.walk() for v in op.operands}


def _remove_dead(block: Block, used: set[int]) -> bool:
    changed = False
    kept = []
    for op in block.ops:
        for region in op.regions:
            changed |= _remove_dead(region, used)
        pure = (op.opcode in _PURE and not (op.opcode == "binary" and op.attrs["op"] in _MAY_FAIL)) or (
            op.opcode == "cast" and op.attrs["to"] != "trit") or (
            op.opcode == "rt" and op.attrs["fn"].startswith("trt_scalar_"))  # boxing a scalar: no effect
        if pure and op.results and not any(r.id in used for r in op.results):
            changed = True
            continue
        kept.append(op)
    block.ops = kept
    return changed


def run_simplify(module: Module) -> None:
    for fn in module.functions.values():
        _fold_block(fn.body, {})
        while _remove_dead(fn.body, _used_ids(fn.body)):
            pass
