"""Arguments and results at the Python API boundary.

In: a public IR function, its checked instance (declared types and default expressions) and the Python
arguments of a call. Out: the 8-byte slots of the entry point (`codegen.entry`) plus the tensor headers
made for the call (released after it); and, after the call, results converted back to numpy arrays,
Python scalars and tuples. Wrong arguments raise TypeError/ValueError naming the parameter in the
language's terms (`Tensor<float32, [?, 4]>`), never internal names.
"""

from __future__ import annotations

import numpy as np

from .check import types as ct
from .ir.types import ScalarTy, StrTy, TensorTy, TupleTy
from .syntax import ast

_MISSING = object()


def _instance(fn, result):
    for inst in result.check.checked.instances:
        if inst.mangled() == fn.name:
            return inst
    raise TypeError(f"'{fn.source_name}' cannot be called from Python")


def _literal(expr):
    """The Python value of a constant default expression, or _MISSING."""
    if isinstance(expr, (ast.IntLit, ast.FloatLit, ast.BoolLit, ast.StrLit)):
        return expr.value
    if isinstance(expr, ast.Unary) and expr.op == "-":
        inner = _literal(expr.operand)
        return _MISSING if inner is _MISSING else -inner
    return _MISSING


def bind_arguments(fn, result, args: tuple, kwargs: dict) -> tuple[list[int], list[int]]:
    inst = _instance(fn, result)
    names = list(fn.param_names)
    if len(args) > len(names):
        raise TypeError(f"{fn.source_name}() takes {len(names)} arguments but {len(args)} were given")
    values = dict(zip(names, args, strict=False))
    for k, v in kwargs.items():
        if k not in names:
            raise TypeError(f"{fn.source_name}() has no parameter named '{k}'")
        if k in values:
            raise TypeError(f"{fn.source_name}() got two values for parameter '{k}'")
        values[k] = v
    for i, n in enumerate(names):
        if n not in values:
            default = inst.fn.defaults[i] if i < len(inst.fn.defaults) else None
            value = _literal(default) if default is not None else _MISSING
            if value is _MISSING:
                what = "is missing" if default is None else "has a default that only the language can compute"
                raise TypeError(f"{fn.source_name}(): argument '{n}' {what}")
            values[n] = value
    slots: list[int] = []
    owned: list[int] = []
    dims: dict[str, tuple[int, str]] = {}
    try:
        for p, n, declared in zip(fn.params, names, inst.param_types, strict=True):
            slots.append(_to_slot(p.type, declared, values[n], n, fn.source_name, dims, owned))
    except BaseException:
        _release(owned)
        raise
    return slots, owned


def _release(owned: list[int]) -> None:
    from .runtime import interop
    for h in owned:
        interop.func("trt_decref")(h)


def _to_slot(ty, declared, value, pname: str, fname: str, dims: dict, owned: list[int]) -> int:
    from .runtime import interop

    where = f"{fname}(): argument '{pname}'"
    if isinstance(ty, ScalarTy):
        if isinstance(value, np.ndarray) and value.shape != ():
            raise TypeError(f"{where} must be a {ty.dtype} scalar, not an array of shape {value.shape}")
        if ty.is_int and isinstance(value, (float, np.floating)):
            raise TypeError(f"{where} must be an integer ({ty.dtype}), not {value!r}")
        raw = np.asarray(value).astype(ty.dtype if ty.dtype != "trit" else "int8").tobytes()
        return int.from_bytes(raw.ljust(8, b"\0"), "little")
    if isinstance(ty, TensorTy):
        if ty.ternary:
            raise TypeError(f"{where}: passing a TernaryTensor from Python is not available yet")
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        want = np.dtype(ty.dtype)
        if isinstance(value, np.ndarray) and arr.dtype != want:
            raise TypeError(f"{where} must be a {declared} array, not {arr.dtype}")
        if not isinstance(value, np.ndarray):
            if arr.dtype.kind == "f" and want.kind in "iub":
                raise TypeError(f"{where} must hold {ty.dtype} values, not floats")
            arr = arr.astype(want)
        if arr.ndim != ty.rank:
            raise ValueError(f"{where} must have {ty.rank} dimension(s) ({declared}), not shape "
                             f"{list(arr.shape)}")
        shape = declared.shape if isinstance(declared, ct.TensorType) else None
        if isinstance(shape, tuple):
            for axis, (d, got) in enumerate(zip(shape, arr.shape, strict=True)):
                if isinstance(d, int) and d != got:
                    want_shape = ct.format_shape(shape)
                    raise ValueError(f"{where} must have shape {want_shape}, got {list(arr.shape)}")
                if isinstance(d, str):
                    seen = dims.setdefault(d, (got, pname))
                    if seen[0] != got:
                        raise ValueError(f"{where}: dimension '{d}' is {got} here but {seen[0]} in "
                                         f"argument '{seen[1]}'")
                del axis
        h = interop.to_header(arr)
        owned.append(h)
        return h
    raise TypeError(f"{where}: values of type {declared} cannot be passed from Python yet")


def convert_results(ty, slots: list[int]):
    """Python values of a result from its flattened slots (tensors take over the reference)."""
    from .codegen.entry import flatten_type
    from .runtime import interop

    it = iter(slots)

    def build(t):
        if isinstance(t, TupleTy):
            return tuple(build(x) for x in t.items)
        raw = next(it)
        if isinstance(t, TensorTy):
            if t.ternary or t.dtype == "trit":
                from .runtime import interop as io
                return io.trit_parts(raw)
            arr = interop.from_header(raw)
            return arr[()] if arr.ndim == 0 else arr
        if isinstance(t, ScalarTy):
            dtype = "int8" if t.dtype == "trit" else t.dtype
            size = np.dtype(dtype).itemsize
            return np.frombuffer(int(raw).to_bytes(8, "little")[:size], dtype=dtype)[0].item()
        if isinstance(t, StrTy):
            return None
        return None

    del flatten_type
    return build(ty)
