"""Scalar lifting: float scalars computed from tensors become rank-0 tensors, so gradients reach them.

In: an `ir.Module` with `autodiff` set, before fusion. Out: the same module where every float scalar that
comes from a full reduction of a float tensor (`mean(x)`, `sum(x)`, ...) — and every float scalar
computed from such a value by elementwise ops, `if` results and the returns of the functions that give
one — is a rank-0 tensor instead. The autodiff pass can then record the ops producing them on the tape
(a machine scalar has no header to hang a tape node on), and `backward(loss)` of a scalar loss works.

Where a lifted value meets an op that needs a machine scalar (a comparison, a format, a call argument,
a loop-carried value, a struct field) the pass reads it back with `trt_item_*`: the gradient stops there.
Loop-carried values stay machine scalars on purpose: `total = total + loss` over a training loop would
otherwise keep every step's graph alive (PyTorch's `total += loss` pitfall). Closures and functions used
as values return machine scalars too (a function value's type is shared by all closures of that type).
A public function whose result is lifted keeps its C ABI: its body moves to a private `<name>$lifted`,
which DSL callers call, and the public function becomes a wrapper giving the scalar.

A reduction keeps returning a machine scalar; the pass boxes it right after (`trt_scalar_*` with the
attribute `lifted_from` = the reduction and its input), which is the op the autodiff pass records. A
float read out of a rank-0 tensor (`trt_item_*`) is lifted as that tensor.
"""

from __future__ import annotations

import re

from ..ir.builder import Builder
from ..ir.nodes import ELEMENTWISE, ENTRY_NAME, Block, Function, Module, Op, Value
from ..ir.types import ScalarTy, TensorTy

_REDUCTION = re.compile(r"trt_(sum|mean|max|min|std|var|prod)_all_(f16|f32|f64)$")
_ITEM = re.compile(r"trt_item_(f16|f32|f64)$")
_SUFFIX = {"float16": "f16", "float32": "f32", "float64": "f64"}


class LiftedFrom:
    """The attribute `lifted_from` of a lifted reduction's box: the reduction (`fn`) and its input `x`."""

    def __init__(self, fn: str, x: Value, extra: list[Value] | None = None):
        self.fn, self.x, self.extra = fn, x, list(extra or [])

    def __repr__(self) -> str:
        return f"{self.fn}(%{self.x.hint or self.x.id})"


def _is_float_scalar(v: Value) -> bool:
    return isinstance(v.type, ScalarTy) and v.type.is_float


def _is_seed(op: Op) -> bool:
    """A full reduction of a float tensor, or one element read out of one (`x[i, j]`)."""
    if op.opcode == "load":
        return _is_float_scalar(op.result)
    if op.opcode == "rt" and op.attrs["fn"] == "trt_quantile_f32":  # (no gradient rule: see grad_rules)
        return True
    return op.opcode == "rt" and bool(_REDUCTION.match(op.attrs["fn"])) and _is_float_scalar(op.result)


def _is_item(op: Op) -> bool:
    """A float read out of a rank-0 tensor (the checker types a full reduction `Tensor<float32, []>`, and
    lowering reads it back where a number is wanted): lifted, it stays the tensor, graph included."""
    return op.opcode == "rt" and bool(_ITEM.match(op.attrs["fn"])) and _is_float_scalar(op.result) \
        and isinstance(op.operands[0].type, TensorTy) and op.operands[0].type.rank == 0


class _Analysis:
    """Which values and which function results are lifted (a fixpoint over the whole module)."""

    def __init__(self, module: Module):
        self.module = module
        self.values: set[int] = set()
        self.functions: set[str] = set()
        # functions used as values keep their signature: a function value's type is shared by every
        # closure of that type (their returns are read back as scalars)
        self.as_values = {op.attrs["fn"] for fn in module.functions.values() for op in fn.walk()
                          if op.opcode == "make_closure"}

    def run(self) -> None:
        changed = True
        while changed:
            changed = False
            for fn in self.module.functions.values():
                changed |= self._block(fn, fn.body)

    def _mark(self, v: Value) -> bool:
        if v.id in self.values or not _is_float_scalar(v):
            return False
        self.values.add(v.id)
        return True

    def _block(self, fn: Function, block: Block) -> bool:
        changed = False
        for op in block.ops:
            for region in op.regions:
                changed |= self._block(fn, region)
            if _is_seed(op) or _is_item(op):
                changed |= self._mark(op.result)
            elif op.opcode in ELEMENTWISE and len(op.results) == 1 and _is_float_scalar(op.result):
                if any(v.id in self.values for v in op.operands):
                    changed |= self._mark(op.result)
            elif op.opcode == "call" and op.attrs["callee"] in self.functions and op.results:
                changed |= self._mark(op.result)
            elif op.opcode == "if":
                for j, r in enumerate(op.results):
                    if any(_yielded(region, j) in self.values for region in op.regions):
                        changed |= self._mark(r)
            elif op.opcode == "return" and op.operands and op.operands[0].id in self.values:
                if fn.name not in self.functions and fn.name != ENTRY_NAME \
                        and fn.name not in self.as_values:
                    self.functions.add(fn.name)
                    changed = True
        return changed


def _yielded(region: Block, j: int) -> int | None:
    term = region.terminator
    if term is not None and term.opcode == "yield" and j < len(term.operands):
        return term.operands[j].id
    return None


class _Rewriter:
    def __init__(self, module: Module, lifted: set[int], functions: set[str]):
        self.module = module
        self.lifted = lifted
        self.functions = functions
        self.replace: dict[int, Value] = {}  # box of a lifted value -> the value
        self.unitem: dict[int, Value] = {}  # lifted read of a rank-0 tensor -> the tensor

    def is_lifted(self, v: Value) -> bool:
        return v.id in self.lifted

    def item(self, out: list[Op], v: Value, span) -> Value:
        s = Value(ScalarTy(v.type.dtype), v.hint)
        out.append(Op("rt", [v], [s], {"fn": f"trt_item_{_SUFFIX[v.type.dtype]}"}, span))
        return s

    def box(self, out: list[Op], v: Value, span) -> Value:
        t = Value(TensorTy(v.type.dtype, 0), v.hint)
        out.append(Op("rt", [v], [t], {"fn": f"trt_scalar_{_SUFFIX[v.type.dtype]}"}, span))
        return t

    def block(self, block: Block, yield_mask: list[bool] | None, fn_lifted: bool) -> None:
        out: list[Op] = []
        for op in block.ops:
            # operands that were a boxed lifted value: the op takes a tensor there
            boxed = {i for i, v in enumerate(op.operands) if v.id in self.replace}
            op.operands = [self.unitem.get(v.id, self.replace.get(v.id, v)) for v in op.operands]
            if op.opcode == "if":
                mask = [self.is_lifted(r) for r in op.results]
                for region in op.regions:
                    self.block(region, mask, fn_lifted)
            else:
                for region in op.regions:
                    self.block(region, None, fn_lifted)
            self.op(op, out, yield_mask, fn_lifted, boxed)
        block.ops = out

    def op(self, op: Op, out: list[Op], yield_mask: list[bool] | None, fn_lifted: bool,
           boxed: set[int]) -> None:
        code = op.opcode
        if _is_seed(op) and self.is_lifted(op.result):
            lifted = op.result
            scalar = Value(ScalarTy(lifted.type.dtype), lifted.hint)
            op.results = [scalar]
            out.append(op)
            source = LiftedFrom("load", op.operands[0], op.operands[1:]) if op.opcode == "load" \
                else LiftedFrom(op.attrs["fn"], op.operands[0])
            attrs = {"fn": f"trt_scalar_{_SUFFIX[lifted.type.dtype]}", "lifted_from": source}
            out.append(Op("rt", [scalar], [lifted], attrs, op.span))
            return
        if _is_item(op) and self.is_lifted(op.result):
            self.unitem[op.result.id] = op.operands[0]
            self.lifted.add(op.operands[0].id)  # (already a rank-0 tensor)
            return
        if code == "rt" and op.attrs["fn"].startswith("trt_scalar_") and op.operands \
                and self.is_lifted(op.operands[0]):
            self.replace[op.result.id] = op.operands[0]  # boxing a lifted value: it is the box already
            return
        want = self._wanted_operands(op, yield_mask, fn_lifted)
        for i, v in enumerate(op.operands):
            if i in boxed:
                continue  # the op took a tensor: it takes the lifted value itself
            if want[i] == "scalar" and self.is_lifted(v):
                op.operands[i] = self.item(out, v, op.span)
            elif want[i] == "tensor" and not self.is_lifted(v) and _is_float_scalar(v):
                op.operands[i] = self.box(out, v, op.span)  # a plain scalar flowing into a lifted result
        out.append(op)

    def _wanted_operands(self, op: Op, yield_mask: list[bool] | None, fn_lifted: bool) -> list[str]:
        """Per operand, what the op takes after lifting: "tensor" (a rank-0 tensor), "scalar" (a machine
        scalar: a lifted value is read back) or "any" (elementwise ops broadcast scalars and tensors)."""
        n = len(op.operands)
        code = op.opcode
        if code in ELEMENTWISE and op.results:
            r = op.result
            if self.is_lifted(r) or isinstance(r.type, TensorTy):
                return ["any"] * n
            return ["scalar"] * n
        if code == "yield" and yield_mask is not None:
            return ["tensor" if m else "scalar" for m in yield_mask] + ["scalar"] * (n - len(yield_mask))
        if code == "return" and fn_lifted:
            return ["tensor"] * n
        return ["scalar"] * n


def _split_public(module: Module, fn: Function) -> str:
    """Move a public function's body to `<name>$lifted` (private) and make `fn` a wrapper around it that
    reads the rank-0 result back as the scalar its C ABI promises. Gives the private name."""
    name = f"{fn.name}$lifted"
    inner = Function(name, fn.body, fn.ret_type, span=fn.span, source_name=fn.source_name,
                     param_names=list(fn.param_names), public=False, generic=True,
                     param_origin=list(fn.param_origin))
    module.add(inner)
    params = [Value(p.type, p.hint) for p in fn.params]
    fn.body = Block(params)
    b = Builder(fn.body, fn.span)
    call = b.call(name, params, fn.ret_type, fn.span)
    b.ret(call.results[0], fn.span)
    return name


def run_lift_scalars(module: Module) -> None:
    if not module.autodiff:
        return
    analysis = _Analysis(module)
    analysis.run()
    if not analysis.values:
        return
    functions = set(analysis.functions)
    renamed = {}
    for name in sorted(analysis.functions):
        fn = module.functions[name]
        if fn.public:
            renamed[name] = _split_public(module, fn)
            functions.add(renamed[name])
    wrappers = set(renamed)
    for fn in list(module.functions.values()):
        if fn.name in wrappers:
            continue
        for op in fn.walk():
            if op.opcode == "call" and op.attrs["callee"] in renamed:
                op.attrs["callee"] = renamed[op.attrs["callee"]]
    rw = _Rewriter(module, analysis.values, functions)
    for fn in list(module.functions.values()):
        if fn.name in wrappers:
            continue
        lifted_fn = fn.name in functions
        rw.block(fn.body, None, lifted_fn)
        if lifted_fn:
            fn.ret_type = TensorTy(fn.ret_type.dtype, 0)  # type: ignore[attr-defined]
    for fn in module.functions.values():
        for op in fn.walk():
            for v in (*op.results, *(a for r in op.regions for a in r.args)):
                if v.id in analysis.values:
                    v.type = TensorTy(v.type.dtype, 0)  # type: ignore[attr-defined]
    for name in wrappers:  # the wrapper's call gives the rank-0 tensor; its return reads the scalar
        fn = module.functions[name]
        call, ret = fn.body.ops
        call.results[0].type = module.functions[renamed[name]].ret_type
        out: list[Op] = [call]
        ret.operands = [rw.item(out, call.results[0], fn.span)]
        fn.body.ops = out + [ret]
