"""The gradient rules: one per differentiable primitive, in one table (`rule_for`).

In: an op of the tensor IR (after fusion). Out: a `Rule` — which values the tape node keeps (`captured`),
which of them receive gradients (`inputs`), and `grad(b, op, i, g, xs)`, which builds in the backward
function the gradient for input `i` from the upstream gradient `g` and the kept values `xs`. A rule may
give a gradient of the broadcast shape: the autodiff pass undoes broadcasting in one place
(`trt_sum_to_shape`) before accumulating. `missing(op)` marks ops that are differentiable but have no rule
yet (the program stops with a clear error if a gradient would have to pass through one); None, ops that
carry no gradient (integer and boolean results, creation, `detach`).

The formulas follow PyTorch (docs/autodiff.md has the table in words): `max`/`min` reductions spread
the gradient evenly over ties, `std`/`var` use the reduction's correction, softmax and log-softmax are
recomputed from their input rather than saved (a saved output would point back at its own node).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..ir.builder import Builder
from ..ir.nodes import Op, Value
from ..ir.types import I64, ScalarTy, TensorTy
from .grad_fused import fused_input_gradient

_SFX = {"float16": "f16", "float32": "f32", "float64": "f64"}
_DTYPE_CODES = {"float16": 6, "float32": 7, "float64": 8}
GradFn = Callable[[Builder, Op, int, Value, list], "Value | None"]


@dataclass
class Rule:
    grad: GradFn
    inputs: tuple[int, ...]
    captured: Callable[[Op], list[Value]] = field(default=lambda op: list(op.operands))
    # a list input without a rule: checked when the op runs (`need_fn` = trt_list_grad_needed), since
    # during backward the grad mode is off and the list's tensors cannot be asked one by one
    missing: bool = False
    need_fn: str = "trt_grad_needed"  # the runtime predicate on the inputs


NO_RULE = "no rule"  # what `grad` gives for an input whose gradient has no rule yet


def _no_rule(b, op, i, g, xs):
    return NO_RULE


def missing(op: Op, captured: Callable[[Op], list[Value]] | None = None,
            inputs: tuple[int, ...] | None = None) -> Rule:
    """The rule of a differentiable op without a gradient rule yet: the node stops backward with an error
    if a gradient reaches one of these inputs (never a silent zero); the forward runs as usual."""
    take = captured or (lambda o: list(o.operands))
    if inputs is None:
        inputs = tuple(i for i, v in enumerate(take(op)) if is_tracked(v))
    return Rule(_no_rule, inputs, take)


def is_float_tensor(v: Value) -> bool:
    return isinstance(v.type, TensorTy) and not v.type.ternary and v.type.dtype in _SFX


def is_ternary(v: Value) -> bool:
    return isinstance(v.type, TensorTy) and v.type.ternary


def is_tracked(v: Value) -> bool:
    """A tensor that can be on the tape: a float tensor, or a TernaryTensor made from tracked values
    (its gradient is the float32 gradient of its value)."""
    return is_float_tensor(v) or is_ternary(v)


# -- small builders for backward code -------------------------------------------------------------------
def rt(b: Builder, fn: str, operands: list[Value], ty, **attrs) -> Value:
    return b.rt(fn, operands, ty, **attrs).result


def expand(b: Builder, g: Value, like: Value) -> Value:
    """g broadcast to the shape of `like` (g's dtype)."""
    return b.fused([g, like], lambda bb, a: a[0])


def reshape_like(b: Builder, g: Value, like: Value) -> Value:
    """g with the shape of `like` (of any rank: the dims are read from its header)."""
    return rt(b, "trt_reshape", [g, like], TensorTy(g.type.dtype, like.type.rank),
              args=[("v", 0), ("rank_of", 1), ("shape_of", 1)])


def transpose(b: Builder, x: Value, d0: int = -2, d1: int = -1) -> Value:
    return rt(b, "trt_transpose", [x], x.type, consts=(d0, d1))


def unsqueeze(b: Builder, x: Value, dim: int) -> Value:
    return rt(b, "trt_unsqueeze", [x], TensorTy(x.type.dtype, x.type.rank + 1), consts=(dim,))


def matmul(b: Builder, x: Value, y: Value, rank: int) -> Value:
    return rt(b, f"trt_matmul_{_SFX[x.type.dtype]}", [x, y], TensorTy(x.type.dtype, rank))


def as_float(b: Builder, n: Value, dtype: str) -> Value:
    return b.cast(n, dtype)


def elementwise(b: Builder, inputs: list[Value], body) -> Value:
    return b.fused(inputs, body)


# -- rules -----------------------------------------------------------------------------------------------
def _fused(b, op, i, g, xs):
    return fused_input_gradient(b, op, i, g, xs)


def _matmul(b, op, i, g, xs):
    x, y = xs
    rx, ry = x.type.rank, y.type.rank
    if rx >= 2 and ry >= 2:  # dx = g @ yᵀ, dy = xᵀ @ g (batch dims broadcast: summed by sum_to_shape)
        r = max(rx, ry)
        return matmul(b, g, transpose(b, y), r) if i == 0 else matmul(b, transpose(b, x), g, r)
    if rx == 1 and ry == 2:  # (k) @ (k, n) -> (n)
        return matmul(b, y, g, 1) if i == 0 else matmul(b, unsqueeze(b, x, 1), unsqueeze(b, g, 0), 2)
    # (m, k) @ (k) -> (m)
    if i == 0:
        return matmul(b, unsqueeze(b, g, 1), unsqueeze(b, y, 0), 2)
    return matmul(b, transpose(b, x), g, 1)


def _matmul_rule(op: Op) -> Rule | None:
    x, y = op.operands
    rx, ry = x.type.rank, y.type.rank
    if (rx >= 2 and ry >= 2) or (rx, ry) in ((1, 2), (2, 1)):
        return Rule(_matmul, (0, 1))
    return missing(op)


def _full_reduction(name: str, sfx: str) -> GradFn:
    """Gradient of `name(x)` over all elements (the lifted rank-0 result)."""
    def grad(b: Builder, op: Op, i: int, g: Value, xs: list) -> Value:
        (x,) = xs
        dt = x.type.dtype
        if name == "sum":
            return expand(b, g, x)
        n = as_float(b, b.op("numel", [x], [I64]).result, dt)
        if name == "mean":
            return elementwise(b, [g, x, n], lambda bb, a: bb.binary("div", a[0], a[2]))
        if name in ("max", "min"):
            m = rt(b, f"trt_{name}_all_{sfx}", [x], ScalarTy(dt))
            mask = elementwise(b, [x, m], lambda bb, a: bb.cast(bb.binary("eq", a[0], a[1]), dt))
            count = rt(b, f"trt_sum_all_{sfx}", [mask], ScalarTy(dt))
            return elementwise(b, [g, mask, count],
                               lambda bb, a: bb.binary("div", bb.binary("mul", a[0], a[1]), a[2]))
        mean = rt(b, f"trt_mean_all_{sfx}", [x], ScalarTy(dt))
        if name == "var":
            return elementwise(b, [g, x, mean, n], lambda bb, a: bb.binary(
                "div", bb.binary("mul", bb.binary("mul", a[0], bb.const(2.0, ScalarTy(dt))),
                                 bb.binary("sub", a[1], a[2])), a[3]))
        std = rt(b, f"trt_std_all_{sfx}", [x], ScalarTy(dt), consts=(0,))
        return elementwise(b, [g, x, mean, n, std], lambda bb, a: bb.binary(
            "div", bb.binary("mul", a[0], bb.binary("sub", a[1], a[2])), bb.binary("mul", a[3], a[4])))
    return grad


def _dim_reduction(name: str, sfx: str) -> GradFn:
    def grad(b: Builder, op: Op, i: int, g: Value, xs: list) -> Value:
        (x,) = xs
        dt, rank = x.type.dtype, x.type.rank
        dim, keep = op.attrs["consts"][0] % max(rank, 1), op.attrs["consts"][1]
        gk = g if keep else unsqueeze(b, g, dim)
        if name == "sum":
            return expand(b, gk, x)
        n = as_float(b, b.dim(x, dim), dt)
        if name == "mean":
            return elementwise(b, [gk, x, n], lambda bb, a: bb.binary("div", a[0], a[2]))
        kept = TensorTy(dt, rank)
        if name in ("max", "min"):
            m = rt(b, f"trt_{name}_dim_{sfx}", [x], kept, consts=(dim, 1))
            mask = elementwise(b, [x, m], lambda bb, a: bb.cast(bb.binary("eq", a[0], a[1]), dt))
            count = rt(b, f"trt_sum_dim_{sfx}", [mask], kept, consts=(dim, 1))
            return elementwise(b, [gk, mask, count],
                               lambda bb, a: bb.binary("div", bb.binary("mul", a[0], a[1]), a[2]))
        ddof = op.attrs["consts"][2]
        mean = rt(b, f"trt_mean_dim_{sfx}", [x], kept, consts=(dim, 1))
        denom = b.binary("sub", n, b.const(float(ddof), ScalarTy(dt)))
        if name == "var":
            return elementwise(b, [gk, x, mean, denom], lambda bb, a: bb.binary(
                "div", bb.binary("mul", bb.binary("mul", a[0], bb.const(2.0, ScalarTy(dt))),
                                 bb.binary("sub", a[1], a[2])), a[3]))
        std = rt(b, f"trt_std_dim_{sfx}", [x], kept, consts=(dim, 1, ddof))
        return elementwise(b, [gk, x, mean, denom, std], lambda bb, a: bb.binary(
            "div", bb.binary("mul", a[0], bb.binary("sub", a[1], a[2])), bb.binary("mul", a[3], a[4])))
    return grad


def _softmax(log: bool, sfx: str) -> GradFn:
    def grad(b: Builder, op: Op, i: int, g: Value, xs: list) -> Value:
        (x,) = xs
        dim = op.attrs["consts"][0] % max(x.type.rank, 1)
        y = rt(b, op.attrs["fn"], [x], x.type, consts=(dim,))  # recomputed, not saved
        if log:
            s = rt(b, f"trt_sum_dim_{sfx}", [g], g.type, consts=(dim, 1))
            return elementwise(b, [g, y, s], lambda bb, a: bb.binary(
                "sub", a[0], bb.binary("mul", bb.unary("exp", a[1]), a[2])))
        gy = elementwise(b, [g, y], lambda bb, a: bb.binary("mul", a[0], a[1]))
        s = rt(b, f"trt_sum_dim_{sfx}", [gy], g.type, consts=(dim, 1))
        return elementwise(b, [y, g, s], lambda bb, a: bb.binary("mul", a[0], bb.binary("sub", a[1], a[2])))
    return grad


def _reshape(b, op, i, g, xs):
    return reshape_like(b, g, xs[0])


def _transpose(b, op, i, g, xs):
    d0, d1 = op.attrs["consts"]
    return transpose(b, g, d0, d1)


def _index(b, op, i, g, xs):
    """x[specs]: g added into zeros of x's shape at the selected positions (the same index specs)."""
    layout = op.attrs["args"]  # [("v", 0), ("array", [1..k], 64), ("c", n)]: the forward's operands
    k = len(op.operands) - 1
    return rt(b, "trt_index_backward", [g, *xs], xs[0].type,
              args=[("v", 0), ("v", 1), ("array", list(range(2, 2 + k)), 64), layout[2]])


def _element(b, op, i, g, xs):
    """x[i, j] (all axes indexed, read as a scalar and lifted): g at that element's flat offset."""
    x, offset = xs
    return rt(b, "trt_grad_at", [g, x, offset], x.type)


def _ternary_matmul(b, op, i, g, xs):
    """x @ W with W packed [in, out]: dx = g @ Wᵀ, on the packed kernel with the transposed trits (moved as
    int8 codes and packed again, never a float copy of W), then each input row's scale."""
    if i == 1:
        return NO_RULE  # the TernaryTensor's own gradient (it was made from tracked values)
    w = xs[1]
    codes = rt(b, "trt_cast", [w], TensorTy("int8", 2), consts=(2,))  # trits, scales not applied
    moved = transpose(b, codes)
    packed = rt(b, "trt_cast", [moved], TensorTy("trit", 2, True), consts=(1,))
    product = b.op("ternary_matmul", [g, packed], [TensorTy("float32", g.type.rank)]).result
    scales = rt(b, "trt_ternary_scale_tensor", [w], TensorTy("float32", 1))
    return elementwise(b, [product, scales], lambda bb, a: bb.binary("mul", a[0], a[1]))


_OMITTED = -(2 ** 63)  # an omitted slice bound (runtime/rt_shape.py)


def _select_along(b: Builder, g: Value, dim: int, spec: tuple[Value, ...], rank: int) -> Value:
    """g indexed with full slices before axis `dim` and `spec` (kind, start, stop, step) at it."""
    full = [b.const(1, I64), b.const(_OMITTED, I64), b.const(_OMITTED, I64), b.const(1, I64)]
    specs = [v for _ in range(dim) for v in full] + list(spec)
    return rt(b, "trt_index", [g, *specs], TensorTy(g.type.dtype, rank),
              args=[("v", 0), ("array", list(range(1, 1 + len(specs))), 64), ("c", dim + 1)])


def _stack(b, op, i, g, xs):
    """stack([x0, x1, ...], dim): input i's gradient is g[..., i, ...] along dim."""
    dim = op.attrs["args"][2][1] % g.type.rank
    zero = b.const(0, I64)
    return _select_along(b, g, dim, (zero, b.const(i, I64), zero, zero), g.type.rank - 1)


def _concat(b, op, i, g, xs):
    """concat([x0, x1, ...], dim): input i's gradient is its slice of g along dim."""
    dim = op.attrs["args"][2][1] % g.type.rank
    start = b.const(0, I64)
    for x in xs[:i]:
        start = b.binary("add", start, b.dim(x, dim))
    stop = b.binary("add", start, b.dim(xs[i], dim))
    return _select_along(b, g, dim, (b.const(1, I64), start, stop, b.const(1, I64)), g.type.rank)


def _identity(b, op, i, g, xs):
    return g


def _cast(b, op, i, g, xs):
    dtype = xs[0].type.dtype
    return rt(b, "trt_cast", [g], TensorTy(dtype, g.type.rank), consts=(_DTYPE_CODES[dtype],))


_REDUCE_DIM = re.compile(r"trt_(sum|mean|max|min|std|var|prod)_dim_(f16|f32|f64)$")
_REDUCE_ALL = re.compile(r"trt_(sum|mean|max|min|std|var|prod)_all_(f16|f32|f64)$")
_SOFTMAX = re.compile(r"trt_(log_softmax|softmax)_(f16|f32|f64)$")
_SHAPE_RULES = {"trt_index": _index,
                "trt_reshape": _reshape, "trt_squeeze": _reshape, "trt_squeeze_all": _reshape,
                "trt_unsqueeze": _reshape, "trt_transpose": _transpose, "trt_broadcast_to": _identity,
                "trt_copy": _identity}
# Runtime calls giving a float tensor that carry no gradient by definition.
_NO_GRADIENT = frozenset({"trt_detach", "trt_set_requires_grad", "trt_tensor_grad", "trt_copy_into",
                          "trt_tape_attach", "trt_sum_to_shape"})


def rule_for(op: Op) -> Rule | None:
    """The rule recording `op`, or None when `op` carries no gradient."""
    if len(op.results) != 1 or not is_tracked(op.result):
        return None
    if op.opcode == "rt" and op.attrs["fn"] == "trt_ternarize_f32":
        pass  # a TernaryTensor result (below)
    elif not is_float_tensor(op.result):
        return None
    if op.opcode == "dequantize":  # a TernaryTensor's value: its gradient is the value's gradient
        return Rule(_identity, (0,))
    if op.opcode == "ternary_matmul":
        if is_float_tensor(op.operands[0]):  # float activations x packed weights
            return Rule(_ternary_matmul, tuple(i for i in (0, 1) if is_tracked(op.operands[i])))
        return missing(op)  # ternary x ternary
    if op.opcode == "fused":
        inputs = tuple(i for i, v in enumerate(op.operands) if is_float_tensor(v))
        return Rule(_fused, inputs) if inputs else None
    if op.opcode != "rt":
        return None
    fn = op.attrs["fn"]
    source = op.attrs.get("lifted_from")
    if source is not None and source.fn == "load":  # an element x[i, j], boxed by passes.lift_scalars
        return Rule(_element, (0,), lambda op: [source.x, *source.extra])
    if source is not None and source.fn == "trt_quantile_f32":  # quantile: no rule yet
        return missing(op, lambda op: [source.x])
    if source is not None:  # a full reduction's scalar, boxed by passes.lift_scalars
        m = _REDUCE_ALL.match(source.fn)
        if m.group(1) == "prod":
            return missing(op, lambda op: [source.x])
        return Rule(_full_reduction(m.group(1), m.group(2)), (0,), lambda op: [source.x])
    floats = tuple(i for i, v in enumerate(op.operands) if is_float_tensor(v))
    if fn in ("trt_stack", "trt_concat") and not floats:  # of a list value: checked element by element
        return Rule(_no_rule, (0,), missing=True, need_fn="trt_list_grad_needed")
    if fn == "trt_ternarize_f32":
        # d value / d x is 0 almost everywhere (a step); thresholds and scales have no rule yet
        params = tuple(i for i in range(1, len(op.operands)) if is_float_tensor(op.operands[i]))
        return missing(op, inputs=params) if params else None
    if not floats or fn in _NO_GRADIENT:
        return None
    if fn.startswith("trt_matmul_"):
        return _matmul_rule(op)
    m = _REDUCE_DIM.match(fn)
    if m:
        return missing(op) if m.group(1) == "prod" else Rule(_dim_reduction(m.group(1), m.group(2)), (0,))
    m = _SOFTMAX.match(fn)
    if m:
        return Rule(_softmax(m.group(1) == "log_softmax", m.group(2)), (0,))
    if fn in _SHAPE_RULES:
        return Rule(_SHAPE_RULES[fn], (0,))
    if fn in ("trt_stack", "trt_concat") and op.attrs.get("args", [("",)])[0][0] == "array":
        return Rule(_stack if fn == "trt_stack" else _concat, floats)
    if fn == "trt_cast" and is_float_tensor(op.operands[0]):
        return Rule(_cast, (0,))
    return missing(op)


__all__ = ["Rule", "rule_for", "is_float_tensor"]
