"""Lowering of compiler primitives (`exp`, `where`, `sum`, `zeros`, `print`, f-strings, ...).

In: an `ast.Call` whose `.target` is a `PrimitiveTarget`, and the `FunctionLowerer`. Out: IR values:
elementwise primitives become elementwise ops (fused later), the rest calls into the runtime library.
A primitive whose runtime function is not in this build's runtime library is reported as
E0901 "... is not available yet" (never a wrong result).
"""

from __future__ import annotations

from ..abi.format_plan import plan_format
from ..abi.functions import FUNCTIONS
from ..check import types as ct
from ..syntax import ast
from .lowering import NotAvailable, ir_type
from .nodes import Value
from .types import (
    BOOL,
    BUF,
    I32,
    I64,
    STR,
    FnValTy,
    ListTy,
    NoneTy,
    OptionalTy,
    ScalarTy,
    StructTy,
    TensorTy,
    TraitTy,
    TupleTy,
    UnionTy,
    scalar_of,
)

_UNARY = {"exp", "log", "sqrt", "tanh", "sigmoid", "sin", "cos", "abs", "relu", "floor", "ceil", "round",
          "sign"}
_CASTS = {"bool": "bool", "int8": "int8", "int16": "int16", "int32": "int32", "int64": "int64",
          "float16": "float16", "float32": "float32", "float64": "float64", "int": "int32",
          "float": "float32", "trit": "trit"}
_REDUCE = {"sum", "mean", "max", "min", "prod", "std", "var", "argmax", "argmin"}
_RT = {"bool": "b", "trit": "i8", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
       "float16": "f16", "float32": "f32", "float64": "f64"}
_DTYPE_CODE = {name: i for i, name in enumerate(
    ("bool", "trit", "int8", "int16", "int32", "int64", "float16", "float32", "float64"))}


def require_runtime(fn: str, span) -> None:
    """Report (in the user's words: the source text of the operation) a runtime function not built yet."""
    if fn not in FUNCTIONS:
        text = " ".join(span.text().split()) if span is not None else ""
        what = f"'{text[:40]}{'...' if len(text) > 40 else ''}'" if text else "this operation"
        raise NotAvailable(f"the operation {what}", span)


def constant_value(lw, value, param_type, span) -> Value:
    if isinstance(value, bool):
        return lw.b.const(value, BOOL, span)
    if isinstance(value, int):
        return lw.b.const(value, I32, span)
    if isinstance(value, float):
        return lw.b.const(value, ScalarTy("float32"), span)
    if isinstance(value, str):
        return lw.b.const(value, STR, span)
    raise NotAvailable(f"the default value {value!r}", span)


def lower_primitive(lw, e: ast.Call, target) -> Value:
    name = target.name
    args = {a.name: a for a in target.args}
    out_ty = e.ty
    span = e.span

    def val(pname: str) -> Value:
        return lw.bound_arg(args[pname])

    if name in _UNARY:
        x = val("x")
        dtype = _dtype(out_ty)
        if name == "sign" and isinstance(out_ty, ct.TensorType) and out_ty.ternary:
            signs = lw.b.unary("sign", lw.to_dtype(x, _dtype(args["x"].expr.ty), span), span)
            return lw.b.cast(signs, "trit", span)
        return lw.b.unary(name, lw.to_dtype(x, dtype, span), span)
    if name in _CASTS and target.primitive.category == "cast":
        x = val("x")
        return lw.to_dtype(x, _CASTS[name], span) if name != "trit" else lw.b.cast(x, "trit", span)
    if name in ("clip", "clamp"):
        dtype = _dtype(out_ty)
        x, lo, hi = (lw.to_dtype(val(n), dtype, span) for n in ("x", "min", "max"))
        return lw.b.binary("min", lw.b.binary("max", x, lo, span), hi, span)
    if name == "where":
        dtype = _dtype(out_ty)
        c = val("cond")
        c = c if c.type.dtype == "bool" else lw.b.cast(c, "bool", span)
        return lw.b.select(c, lw.to_dtype(val("a"), dtype, span), lw.to_dtype(val("b"), dtype, span), span)
    binary_minmax = name in ("max", "min") and target.info.get("variant") == "binary"
    if name in ("minimum", "maximum", "pow") or binary_minmax:
        dtype = _dtype(out_ty)
        names = ("a", "b") if name in ("minimum", "maximum", "pow") else ("x", "y")
        a, b = (lw.to_dtype(val(n), dtype, span) for n in names)
        op = {"minimum": "min", "maximum": "max", "pow": "pow"}.get(name, name)
        return lw.b.binary(op, a, b, span)
    if name in _REDUCE:
        return _reduce(lw, name, val("x"), target.info, out_ty, span)
    if target.primitive.category == "autodiff":
        from .lower_autodiff import lower_autodiff
        return lower_autodiff(lw, name, target, args, span)
    if name == "numel":
        n = lw.b.op("numel", [val("x")], [I64], span=span).result
        return lw.coerce(n, ir_type(out_ty, span), span)
    if name == "matmul":
        return lw.matmul_values(val("a"), val("b"), e)
    if name in ("zeros", "ones", "randn", "rand", "full", "uniform"):
        t = _creation(lw, name, target, args, out_ty, span)
        if target.info.get("requires_grad"):
            from .lower_autodiff import requires_grad
            t = requires_grad(lw, t, span)
        return t
    if name in ("ternarize", "quantile", "cast", "trits", "along_axis0", "conv2d_dynamic", "conv2d"):
        # The quantization stdlib's primitives are lowered by `ir.lower_quant` (owned with the stdlib).
        try:
            from .lower_quant import lower_quant
        except ModuleNotFoundError:
            raise NotAvailable(f"'{name}'", span) from None
        return lower_quant(lw, e, target)
    if name in ("save_weights", "load_tensor", "load_ternary"):  # weight files: ir/lower_weights.py
        from .lower_weights import lower_weights
        return lower_weights(lw, e, target)
    if name == "tensor":
        from .lower_access import lower_tensor_literal
        t = lower_tensor_literal(lw, e, target, args)
        if target.info.get("requires_grad"):
            from .lower_autodiff import requires_grad
            t = requires_grad(lw, t, span)
        return t
    if name in ("reshape", "flatten", "transpose", "permute", "unsqueeze", "squeeze", "stack", "concat"):
        from .lower_access import lower_shape_primitive
        return lower_shape_primitive(lw, name, e, target, args)
    if name == "arange":
        want = ir_type(out_ty, span)
        vals = [lw.to_dtype(lw.bound_arg(args[n]), "float64", span) if (args[n].given or n != "end")
                else None for n in ("start", "end", "step")]
        if vals[1] is None:  # arange(n): from 0 to n
            vals = [lw.b.const(0.0, ScalarTy("float64"), span), vals[0], vals[2]]
        require_runtime("trt_arange", span)
        layout = [("c", _DTYPE_CODE[want.dtype]), ("v", 0), ("v", 1), ("v", 2)]
        return lw.b.rt("trt_arange", vals, want, span, args=layout).result
    if name == "seed":
        require_runtime("trt_seed", span)
        lw.b.rt("trt_seed", [lw.to_i64(val("n"), span)], None, span, no_ctx=True, fallible=False)
        return lw.b.tuple([], span)
    if name == "print":
        sep = _const_str(args.get("sep"), " ")
        end = _const_str(args.get("end"), "\n")
        buf = lw.b.op("buf", [], [BUF], span=span).result
        for i, x in enumerate(target.varargs):
            if i:
                _append_text(lw, buf, sep, span)
            append_value(lw, buf, lw.lower_value(x), x.span)
        _append_text(lw, buf, end, span)
        lw.rt("trt_buf_print", [buf], None, span)
        return lw.b.tuple([], span)
    if name == "clock":
        return lw.rt("trt_clock", [], ScalarTy("float64"), span, no_ctx=True, fallible=False)
    if name == "panic":
        msg = val("message")
        lw.b.panic(msg, span)
        # Nothing may follow the panic in this block: its "value" is never defined nor used.
        return Value(TupleTy(()), "never")
    if name == "softmax" or name == "log_softmax":
        x = lw.to_dtype(val("x"), _dtype(out_ty), span)
        fn = f"trt_{name}_{_RT[_dtype(out_ty)]}"
        return lw.rt(fn, [x], ir_type(out_ty, span), span, consts=(int(target.info.get("dim", -1)),))
    if name == "length":
        from .lower_objects import lower_length
        return lower_length(lw, lw.lower_expr(args["x"].expr), out_ty, span)
    if name == "append":
        from .lower_objects import lower_append
        return lower_append(lw, target, span)
    if name == "pop":
        from .lower_objects import lower_pop
        return lower_pop(lw, target, span)
    if name == "str":  # `str(x)`: the text `print` / `f"{x}"` gives
        buf = lw.b.op("buf", [], [BUF], span=span).result
        append_value(lw, buf, lw.lower_value(args["x"].expr), span)
        return lw.rt("trt_buf_take_str", [buf], STR, span)
    if name in ("enumerate", "zip"):
        from .lower_objects import lower_pairs
        return lower_pairs(lw, name, target, out_ty, span)
    raise NotAvailable(f"'{name}'", span)


def _const_str(arg, default: str) -> str:
    if arg is None:
        return default
    if arg.expr is not None and isinstance(arg.expr, ast.StrLit):
        return arg.expr.value
    return arg.default_value if isinstance(arg.default_value, str) else default


def _append_text(lw, buf: Value, text: str, span) -> None:
    if text:
        lw.rt("trt_buf_append_str", [buf, lw.b.const(text, STR, span)], None, span)


def append_value(lw, buf: Value, v: Value, span, spec: str | None = None) -> None:
    """Append the text of `v` to `buf` (print / f-string), with a format spec when given."""
    ty = v.type
    if isinstance(ty, (OptionalTy, NoneTy)):
        return _append_optional(lw, buf, v, span, spec)
    if isinstance(ty, UnionTy):  # the member the value holds, printed as that member prints
        for k, member in enumerate(ty.members):
            holds = lw.b.op("union_is", [v], [BOOL], {"index": k}, span).result
            branch = lw.b.if_(holds, [], span)
            with lw.b.at(branch.regions[0]):
                item = lw.b.op("union_get", [v], [member], {"index": k}, span).result
                append_value(lw, buf, item, span, spec)
                lw.b.yield_([], span)
            with lw.b.at(branch.regions[1]):
                lw.b.yield_([], span)
        return None
    if spec:
        return _append_formatted(lw, buf, v, spec, span)
    if ty == STR:
        lw.rt("trt_buf_append_str", [buf, v], None, span)
    elif isinstance(ty, TensorTy):
        lw.rt("trt_buf_append_tensor", [buf, v], None, span)
    elif isinstance(ty, ScalarTy) and ty.is_bool:
        lw.rt("trt_buf_append_bool", [buf, v], None, span)
    elif isinstance(ty, ScalarTy) and ty.is_float:
        lw.rt(f"trt_buf_append_{_RT[ty.dtype]}", [buf, v], None, span)
    elif isinstance(ty, ScalarTy):
        lw.rt("trt_buf_append_i64", [buf, lw.b.cast(v, "int64", span) if ty != I64 else v], None, span)
    elif isinstance(ty, (ListTy, StructTy, TupleTy, TraitTy, FnValTy)):
        lw.b.op("print_value", [buf, v], [], {}, span)  # Python's repr of the value (codegen.objects)
    else:
        raise NotAvailable(f"printing values of type {ty}", span)


def _append_optional(lw, buf: Value, v: Value, span, spec: str | None) -> None:
    """`None`, or the value (as Python prints an Optional)."""
    if isinstance(v.type, NoneTy):
        return _append_text(lw, buf, "None", span)
    present = lw.b.op("is_some", [v], [BOOL], span=span).result
    branch = lw.b.if_(present, [], span)
    with lw.b.at(branch.regions[0]):
        append_value(lw, buf, lw.unwrap(v, span), span, spec)
        lw.b.yield_([], span)
    with lw.b.at(branch.regions[1]):
        _append_text(lw, buf, "None", span)
        lw.b.yield_([], span)


def _append_formatted(lw, buf: Value, v: Value, spec: str, span) -> None:
    ty = v.type
    if isinstance(ty, TensorTy):
        v = lw.item(v, ty.dtype, span)
        ty = v.type
    kind = "str" if ty == STR else ("bool" if ty.is_bool else ("float" if ty.is_float else "int"))
    try:
        plan = plan_format(spec, kind)
    except ValueError as exc:
        raise NotAvailable(f"the format spec '{spec}' ({exc})", span) from None
    consts = tuple(plan.args())
    if kind == "float":
        bits = {"float16": 16, "float32": 32, "float64": 64}[ty.dtype]
        x = lw.b.cast(v, "float64", span) if ty.dtype != "float64" else v
        lw.rt("trt_format_float", [buf, x], None, span, consts=(bits, *consts))
    elif kind == "int":
        wide = lw.b.cast(v, "int64", span) if ty != I64 else v
        lw.rt("trt_format_int", [buf, wide], None, span, consts=consts)
    elif kind == "bool":
        lw.rt("trt_format_bool", [buf, v], None, span, consts=consts)
    else:
        layout = [("v", 0), ("str_bytes", 1), ("str_len", 1), *(("c", c) for c in consts)]
        lw.b.rt("trt_format_str", [buf, v], None, span, args=layout)


def lower_fstring(lw, e) -> Value:
    buf = lw.b.op("buf", [], [BUF], span=e.span).result
    for part in e.parts:
        if isinstance(part, str):
            _append_text(lw, buf, part, e.span)
        else:
            append_value(lw, buf, lw.lower_value(part.expr), part.expr.span, part.spec or None)
    return lw.rt("trt_buf_take_str", [buf], STR, e.span)


def _reduce(lw, name: str, x: Value, info: dict, out_ty, span) -> Value:
    if not isinstance(x.type, TensorTy):
        return x
    src = x.type.dtype
    want = ir_type(out_ty, span)
    if x.type.ternary and (scalar_dtype(want) in ("float16", "float32", "float64")
                           or name in ("argmax", "argmin")):
        # a float result, or the position of the largest / smallest, is about the values (trit x scale)
        x, src = lw.dequantize(x, span), "float32"
    elif x.type.ternary or src == "trit":
        x = lw.rt("trt_cast", [x], TensorTy("int8", x.type.rank), span, consts=(_DTYPE_CODE["int8"],))
        src = "int8"
    dim = info.get("dim")
    extra = (0,) if name in ("std", "var") else ()
    if dim is None:
        res_dtype = want.dtype
        fn = f"trt_{name}_all_{_RT[src]}"
        out = lw.rt(fn, [x], ScalarTy(_reduce_dtype(name, src)), span, consts=extra)
        return out if out.type.dtype == res_dtype else lw.b.cast(out, res_dtype, span)
    fn = f"trt_{name}_dim_{_RT[src]}"
    keep = int(bool(info.get("keepdim")))
    return lw.rt(fn, [x], want, span, consts=(int(dim), keep, *extra))


def _reduce_dtype(name: str, src: str) -> str:
    """Scalar result dtype of `trt_<name>_all_<src>` (docs/runtime.md, "Output dtypes of reductions")."""
    if name in ("argmax", "argmin"):
        return "int64"
    if name in ("sum", "prod"):
        return src if src in ("int64", "float16", "float32", "float64") else "int32"
    if name in ("mean", "var", "std"):
        return src if src.startswith("float") else "float32"
    return src


def _creation(lw, name: str, target, args, out_ty, span) -> Value:
    from .lower_access import shape_values

    shape = target.info.get("shape")
    if isinstance(shape, tuple) and all(isinstance(d, int) for d in shape):
        dims = [lw.b.const(d, I64, span) for d in shape]
    else:
        dims = shape_values(lw, args["shape"], span)
    want = ir_type(out_ty, span)
    rank = len(dims)
    code = _DTYPE_CODE[want.dtype]
    if name in ("zeros", "ones", "full"):
        fill = {"zeros": 0, "ones": 1}.get(name)
        if fill is not None:
            value = lw.b.const(float(fill) if want.elem.is_float else fill, want.elem, span)
        else:
            value = lw.to_dtype(lw.bound_arg(args["value"]), want.dtype, span)
        fn = f"trt_full_{_RT[want.dtype] if want.dtype != 'bool' else 'b'}"
        require_runtime(fn, span)
        return lw.b.rt(fn, [value, *dims], want, span,
                       args=[("c", rank), ("array", list(range(1, 1 + rank)), 64), ("v", 0)]).result
    if name in ("randn", "rand"):
        fn = f"trt_{name}"
        require_runtime(fn, span)
        return lw.b.rt(fn, dims, want, span,
                       args=[("c", code), ("c", rank), ("array", list(range(rank)), 64)]).result
    lo = lw.to_dtype(lw.bound_arg(args["low"]), "float64", span)
    hi = lw.to_dtype(lw.bound_arg(args["high"]), "float64", span)
    require_runtime("trt_uniform", span)
    layout = [("c", code), ("c", rank), ("array", list(range(2, 2 + rank)), 64), ("v", 0), ("v", 1)]
    return lw.b.rt("trt_uniform", [lo, hi, *dims], want, span, args=layout).result


def scalar_dtype(ty) -> str | None:
    """The element dtype of an IR scalar or tensor type (None for anything else)."""
    elem = scalar_of(ty)
    return elem.dtype if elem is not None else None


def _dtype(t) -> str:
    d = ct.dtype_of(t)
    if d is None:
        return "float32"
    return "float32" if isinstance(t, ct.TensorType) and t.ternary else d


__all__ = ["lower_primitive", "lower_fstring", "append_value", "require_runtime", "constant_value", "I32"]
