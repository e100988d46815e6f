"""Backward code of a fused elementwise region: the derivative of its scalar body, as fused loops.

In: a `fused` op (its region: `const`, `binary`, `unary`, `cast`, `select` on scalars, then `yield`), the
index of one input, and a Builder positioned in the backward function with the upstream gradient `g` and
the op's inputs. Out: one new `fused` op over `[g, inputs...]` whose body recomputes the forward values
it needs and runs reverse mode over the body, yielding `g * d(out)/d(input)` elementwise — or None when
the output does not depend on that input differentiably. Forward values are recomputed, never saved:
a saved output would hold the tape node that holds it (a cycle), and recomputing is one cheap pass.

The scalar rules follow PyTorch (docs/autodiff.md): ties of `min`/`max` split the gradient evenly,
`abs`/`sign`/`round`/`floor`/`ceil` have the subgradients 0 at the kinks (`d|x|/dx = sign(x)`), `relu`'
is 0 at 0, `pow`'s exponent gradient is 0 where the base is 0, comparisons and integer values carry none.
"""

from __future__ import annotations

from ..ir.builder import Builder, elementwise_type
from ..ir.nodes import Block, Op, Value
from ..ir.types import ScalarTy

_NO_GRADIENT = frozenset({"floor", "ceil", "round", "sign", "not", "isnan"})


def _is_float(v: Value) -> bool:
    return isinstance(v.type, ScalarTy) and v.type.is_float


class _Adjoint:
    """Reverse mode over one scalar region, emitting the adjoint computation into a builder."""

    def __init__(self, b: Builder):
        self.b = b
        self.adj: dict[int, Value] = {}

    def const(self, x: float, like: Value) -> Value:
        return self.b.const(x, ScalarTy(like.type.dtype))

    def add(self, v: Value, contribution: Value | None) -> None:
        if contribution is None or not _is_float(v):
            return
        if contribution.type.dtype != v.type.dtype:
            contribution = self.b.cast(contribution, v.type.dtype)
        old = self.adj.get(v.id)
        self.adj[v.id] = contribution if old is None else self.b.binary("add", old, contribution)

    def op(self, op: Op) -> None:
        g = self.adj.get(op.results[0].id) if op.results else None
        if g is None or op.opcode == "const":
            return
        b, r = self.b, op.results[0]
        if op.opcode == "cast":
            self.add(op.operands[0], g)
        elif op.opcode == "select":
            _, a, c = op.operands
            zero = self.const(0.0, g)
            self.add(a, b.select(op.operands[0], g, zero))
            self.add(c, b.select(op.operands[0], zero, g))
        elif op.opcode == "unary":
            self.unary(op.attrs["op"], op.operands[0], r, g)
        elif op.opcode == "binary":
            self.binary(op.attrs["op"], op.operands[0], op.operands[1], r, g)

    def unary(self, name: str, a: Value, r: Value, g: Value) -> None:
        b, one = self.b, self.const(1.0, g)
        if name in _NO_GRADIENT:
            return
        contribution = {
            "neg": lambda: b.unary("neg", g),
            "abs": lambda: b.binary("mul", g, b.unary("sign", a)),
            "sqrt": lambda: b.binary("div", g, b.binary("mul", self.const(2.0, g), r)),
            "exp": lambda: b.binary("mul", g, r),
            "log": lambda: b.binary("div", g, a),
            "tanh": lambda: b.binary("mul", g, b.binary("sub", one, b.binary("mul", r, r))),
            "sigmoid": lambda: b.binary("mul", g, b.binary("mul", r, b.binary("sub", one, r))),
            "sin": lambda: b.binary("mul", g, b.unary("cos", a)),
            "cos": lambda: b.unary("neg", b.binary("mul", g, b.unary("sin", a))),
            "relu": lambda: b.select(b.binary("gt", a, self.const(0.0, a)), g, self.const(0.0, g)),
            "square": lambda: b.binary("mul", g, b.binary("mul", self.const(2.0, a), a)),
        }[name]
        self.add(a, contribution())

    def binary(self, name: str, a: Value, c: Value, r: Value, g: Value) -> None:
        b = self.b
        if name == "add":
            self.add(a, g)
            self.add(c, g)
        elif name == "sub":
            self.add(a, g)
            self.add(c, b.unary("neg", g) if _is_float(c) else None)
        elif name == "mul":
            self.add(a, b.binary("mul", g, c) if _is_float(a) else None)
            self.add(c, b.binary("mul", g, a) if _is_float(c) else None)
        elif name == "div":
            self.add(a, b.binary("div", g, c) if _is_float(a) else None)
            self.add(c, b.unary("neg", b.binary("div", b.binary("mul", g, r), c)) if _is_float(c) else None)
        elif name == "pow":
            self.pow(a, c, r, g)
        elif name in ("min", "max"):
            self.min_max(name, a, c, g)
        elif name == "mod":  # Python's floored modulo: a - floor(a / c) * c
            self.add(a, g)
            if _is_float(c):
                self.add(c, b.unary("neg", b.binary("mul", g, b.unary("floor", b.binary("div", a, c)))))
        # floordiv is piecewise constant; comparisons and and/or give bools: no gradient

    def pow(self, a: Value, c: Value, r: Value, g: Value) -> None:
        b = self.b
        zero_g = self.const(0.0, g)
        if _is_float(a):
            cf = c if c.type.dtype == a.type.dtype else b.cast(c, a.type.dtype)
            d = b.binary("mul", cf, b.binary("pow", a, b.binary("sub", cf, self.const(1.0, cf))))
            is_zero_exp = b.binary("eq", cf, self.const(0.0, cf))
            self.add(a, b.select(is_zero_exp, zero_g, b.binary("mul", g, d)))
        if _is_float(c):
            ac = a if a.type.dtype == c.type.dtype else b.cast(a, c.type.dtype)
            d = b.binary("mul", r, b.unary("log", ac))
            base_zero = b.binary("eq", ac, self.const(0.0, ac))
            self.add(c, b.select(base_zero, zero_g, b.binary("mul", g, d)))

    def min_max(self, name: str, a: Value, c: Value, g: Value) -> None:
        b = self.b
        zero, half = self.const(0.0, g), b.binary("mul", g, self.const(0.5, g))
        wins = "lt" if name == "min" else "gt"
        tie = b.binary("eq", a, c)
        self.add(a, b.select(b.binary(wins, a, c), g, b.select(tie, half, zero)))
        self.add(c, b.select(b.binary(wins, c, a), g, b.select(tie, half, zero)))


def fused_input_gradient(b: Builder, op: Op, index: int, g: Value, inputs: list[Value]) -> Value | None:
    """`g * d(out)/d(input index)` of the fused op `op` over the backward function's `inputs` (its
    operands, read back from the tape node) as a new fused loop, or None if there is no such dependence."""
    region = op.regions[0]
    block = Block([Value(ScalarTy(g.type.dtype), "g")] + [Value(a.type, a.hint) for a in region.args])
    inner = Builder(block, op.span)
    mapping = {a.id: n for a, n in zip(region.args, block.args[1:], strict=True)}
    forward: list[Op] = []
    for fop in region.ops[:-1]:  # recompute the forward values (the yield excluded)
        results = [Value(r.type, r.hint) for r in fop.results]
        operands = [mapping.get(v.id, v) for v in fop.operands]
        clone = Op(fop.opcode, operands, results, dict(fop.attrs), fop.span)
        block.ops.append(clone)
        mapping.update({r.id: n for r, n in zip(fop.results, results, strict=True)})
        forward.append(clone)
    out = mapping.get(region.ops[-1].operands[0].id, region.ops[-1].operands[0])
    adjoint = _Adjoint(inner)
    adjoint.adj[out.id] = block.args[0]
    for fop in reversed(forward):
        adjoint.op(fop)
    target = block.args[1 + index]
    result = adjoint.adj.get(target.id)
    if result is None:
        return None
    inner.yield_([result])
    ty = elementwise_type(target.type.dtype, [g, *inputs])
    return b.op("fused", [g, *inputs], [ty], {}, op.span, [block]).result
