"""Lowering of the quantization stdlib's primitives (`ternarize`, `quantile`, `cast`, `trits`, `along_axis0`,
`conv2d_dynamic`).

In: an `ast.Call` whose target is one of those primitives (typed by `check/prim_quant.py`) and the
`FunctionLowerer`. Out: IR values — runtime calls into `trt_ternarize_f32` (runtime/rt_quant.py),
`trt_quantile_f32` (rt_quantile.py), `trt_conv2d_t2` / `trt_conv2d_f32` (rt_conv.py), an unpacking cast,
an elementwise cast, or a reshape view plus a run-time dim check.
"""

from __future__ import annotations

from .lowering import NotAvailable, ir_type
from .nodes import Value
from .types import F64, I64, ScalarTy, TensorTy, TupleTy

INT8_CODE = 2  # dtype code of int8 in the tensor header (docs/runtime.md)
QUANT_PRIMITIVES = frozenset({"ternarize", "quantile", "cast", "trits", "along_axis0", "conv2d_dynamic"})


def _float_tensor(lw, arg, span) -> Value:
    """A bound argument as a float32 tensor (a number becomes a rank-0 tensor)."""
    v = lw.bound_arg(arg)
    v = lw.to_dtype(v, "float32", span)
    if isinstance(v.type, ScalarTy):
        return lw.rt("trt_scalar_f32", [v], TensorTy("float32", 0), span)
    return v


def lower_quant(lw, e, target) -> Value:
    name = target.name
    args = {a.name: a for a in target.args}
    span = e.span
    if name == "ternarize":
        x = _float_tensor(lw, args["x"], span)
        params = [_float_tensor(lw, args[p], span)
                  for p in ("pos_threshold", "neg_threshold", "pos_scale", "neg_scale")]
        return lw.rt("trt_ternarize_f32", [x, *params], TensorTy("trit", x.type.rank, True), span)
    if name == "quantile":
        x = _float_tensor(lw, args["x"], span)
        q = lw.bound_arg(args["q"])
        if isinstance(q.type, TensorTy):
            q = lw.item(q, "float64", span)
        q = lw.to_dtype(q, "float64", span) if q.type != F64 else q
        return lw.rt("trt_quantile_f32", [x, q], ScalarTy("float32"), span)
    if name == "cast":
        return lw.to_dtype(lw.bound_arg(args["x"]), target.info["dtype"], span)
    if name == "trits":  # unpack the codes; the scales are not applied
        q = lw.bound_arg(args["q"])
        return lw.rt("trt_cast", [q], TensorTy("int8", q.type.rank), span, consts=(INT8_CODE,))
    if name == "along_axis0":
        v = lw.to_dtype(lw.bound_arg(args["v"]), ir_type(e.ty, span).dtype, span)
        like = lw.bound_arg(args["like"])
        if isinstance(like.type, TensorTy) and like.type.rank >= 1:
            lw.b.check_eq(lw.b.dim(v, 0, span), lw.b.dim(like, 0, span),
                          "per-channel values must have one value per index along axis 0 of the tensor", span)
        rank = target.info["rank"]
        dims = [lw.b.const(-1, I64, span)] + [lw.b.const(1, I64, span) for _ in range(rank - 1)]
        layout = [("v", 0), ("c", rank), ("array", list(range(1, 1 + rank)), 64)]
        lw.require("trt_reshape", span)
        return lw.b.rt("trt_reshape", [v, *dims], ir_type(e.ty, span), span, args=layout).result
    if name in ("conv2d_dynamic", "conv2d"):  # conv2d: stride and padding are constants
        return _conv2d(lw, e, target, args, span)
    raise NotAvailable(f"'{name}'", span)


def _pair_values(lw, arg, const, span) -> tuple[Value, Value]:
    """(height, width) int64 values of a stride / padding argument: an int or a pair, constant or not."""
    if isinstance(const, int):
        const = (const, const)
    if isinstance(const, tuple):
        return tuple(lw.b.const(int(v), I64, span) for v in const)
    v = lw.bound_arg(arg)
    if isinstance(v.type, TupleTy) and len(v.type.items) == 2:  # a pair held as an unboxed tuple
        return lw.to_i64(lw.b.get(v, 0, span), span), lw.to_i64(lw.b.get(v, 1, span), span)
    if not isinstance(v.type, ScalarTy):
        raise NotAvailable("a conv2d stride or padding pair known only at run time", span)
    v = lw.to_i64(v, span)
    return v, v


def _conv2d(lw, e, target, args, span) -> Value:
    from ..check import types as ct

    x = _float_tensor(lw, args["input"], span)
    w = lw.bound_arg(args["weight"])
    if isinstance(w.type, TensorTy) and (w.type.ternary or w.type.dtype == "trit"):
        fn = "trt_conv2d_t2"
    else:
        w, fn = lw.to_dtype(w, "float32", span), "trt_conv2d_f32"
    sh, sw = _pair_values(lw, args["stride"], target.info.get("stride"), span)
    ph, pw = _pair_values(lw, args["padding"], target.info.get("padding"), span)
    y = lw.rt(fn, [x, w, sh, sw, ph, pw], TensorTy("float32", 4), span)
    bias = args["bias"]
    if bias.expr is not None and not isinstance(bias.expr.ty, ct.NoneType):
        b = _float_tensor(lw, bias, span)
        dims = [lw.b.const(d, I64, span) for d in (-1, 1, 1)]
        layout = [("v", 0), ("c", 3), ("array", [1, 2, 3], 64)]
        b3 = lw.b.rt("trt_reshape", [b, *dims], TensorTy("float32", 3), span, args=layout).result
        y = lw.b.binary("add", y, b3, span)
    return y


__all__ = ["lower_quant", "QUANT_PRIMITIVES"]
