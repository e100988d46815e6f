"""Lowering of the weight-file primitives `save_weights`, `load_tensor`, `load_ternary`.

In: an `ast.Call` whose target is one of them (typed by `check/prim_weights.py`) and the
`FunctionLowerer`. Out: IR values — runtime calls into `trt_weights_save(ctx, path, n, names[], tensors[])`
and `trt_weights_load(ctx, path, name, dtype_code, rank)` (runtime/rt_weights.py). The names of a save
are string constants; the tensors go by reference (no copy).
"""

from __future__ import annotations

from .lower_prims import require_runtime
from .lowering import NotAvailable
from .nodes import Value
from .types import STR, TensorTy

WEIGHT_PRIMITIVES = frozenset({"save_weights", "load_tensor", "load_ternary"})
# dtype codes of the tensor header (docs/runtime.md)
_DTYPE_CODE = {name: i for i, name in enumerate(
    ("bool", "trit", "int8", "int16", "int32", "int64", "float16", "float32", "float64"))}


def lower_weights(lw, e, target) -> Value:
    name, span = target.name, e.span
    if name == "save_weights":
        path, *rest = target.varargs
        names = [lw.b.const(n, STR, span) for n in target.info["names"]]
        tensors = [lw.lower_expr(v) for v in rest[1::2]]
        n = len(names)
        layout = [("v", 0), ("c", n), ("array", list(range(1, 1 + n)), "ptr"),
                  ("array", list(range(1 + n, 1 + 2 * n)), "ptr")]
        operands = [lw.lower_expr(path), *names, *tensors]
        require_runtime("trt_weights_save", span)
        lw.b.rt("trt_weights_save", operands, None, span, args=layout)
        return lw.b.tuple([], span)
    if name in ("load_tensor", "load_ternary"):
        args = {a.name: a for a in target.args}
        dtype, rank = target.info["dtype"], target.info["rank"]
        out = TensorTy(dtype, rank, True) if dtype == "trit" else TensorTy(dtype, rank)
        operands = [lw.bound_arg(args["path"]), lw.bound_arg(args["name"])]
        return lw.rt("trt_weights_load", operands, out, span, consts=(_DTYPE_CODE[dtype], rank))
    raise NotAvailable(f"'{name}'", span)


__all__ = ["lower_weights", "WEIGHT_PRIMITIVES"]
