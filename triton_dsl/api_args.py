"""Arguments and results at the Python API boundary.

In: a public IR function, its checked instance (declared types and default expressions) and the Python
arguments of a call. Out: the 8-byte slots of the entry point (`codegen.entry`) plus the tensor headers
made for the call (released after it); and, after the call, results converted back to numpy arrays,
Python scalars and tuples (structs, lists and trait objects as copies, `api_objects`; or kept as
`api_objects.ObjectHandle`s for a `CallPlan` made with `handles=`, and a handle given as an argument
passes its object itself). Wrong arguments raise TypeError/ValueError naming the parameter in the
language's terms (`Tensor<float32, [?, 4]>`), never internal names.
"""

from __future__ import annotations

import numpy as np

from .check import types as ct
from .codegen.entry import flatten_type
from .ir.types import OptionalTy, ScalarTy, StrTy, TensorTy, TupleTy
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
    if isinstance(expr, ast.NoneLit):
        return None
    if isinstance(expr, ast.Unary) and expr.op == "-":
        inner = _literal(expr.operand)
        return _MISSING if inner is _MISSING else -inner
    return _MISSING


class CallPlan:
    """Everything about calling one compiled function instance that does not depend on the arguments:
    the entry point, parameter names and defaults, one converter per parameter, the result layout."""

    def __init__(self, fn, result, jm, objects=None, handles: object = None):
        import ctypes

        from .codegen.entry import flatten_type
        from .runtime.errors import Context, raise_if_error

        inst = _instance(fn, result)
        self.fn = fn
        self.names = list(fn.param_names)
        self.defaults = {}
        origin = fn.param_origin or list(range(len(self.names)))
        for i, n in zip(origin, self.names, strict=True):
            expr = inst.fn.defaults[i] if i < len(inst.fn.defaults) else None
            self.defaults[n] = _MISSING if expr is None else _literal(expr)
            if expr is not None and self.defaults[n] is _MISSING:
                self.defaults[n] = _COMPUTED
        declared_types = [inst.param_types[i] for i in origin]
        self.objects = objects  # the module's struct classes and object conversions (api_objects.py)
        self.converters = [_converter(p.type, declared, n, fn.source_name, self.objects)
                           for p, n, declared in zip(fn.params, self.names, declared_types, strict=True)]
        self.leaves = flatten_type(fn.ret_type)
        slot = ctypes.c_uint64
        self._argv_type = slot * max(1, sum(len(flatten_type(p.type)) for p in fn.params))
        self._res_type = slot * max(1, len(self.leaves))
        vp = ctypes.c_void_p
        self._entry = jm.cfunc(f"tdsl_call.{fn.name}", None, vp, vp, vp)
        self._addressof = ctypes.addressof
        self._context = Context
        self._raise_if_error = raise_if_error
        # `handles`: struct, list and trait-object results come back as `ObjectHandle`s keeping this
        # alive (the REPL passes its compiled modules), not as Python copies
        self._result = _result_builder(fn.ret_type, self.objects, handles)

    def bind(self, args: tuple, kwargs: dict) -> tuple[list[int], list[int]]:
        names, fname = self.names, self.fn.source_name
        if len(args) > len(names):
            raise TypeError(f"{fname}() takes {len(names)} arguments but {len(args)} were given")
        values = list(args) + [_MISSING] * (len(names) - len(args))
        for k, v in kwargs.items():
            if k not in names:
                raise TypeError(f"{fname}() has no parameter named '{k}'")
            i = names.index(k)
            if values[i] is not _MISSING:
                raise TypeError(f"{fname}() got two values for parameter '{k}'")
            values[i] = v
        owned = _CallRefs()
        slots: list[int] = []
        dims: dict[str, tuple[int, str]] = {}
        try:
            for i, v in enumerate(values):
                if v is _MISSING:
                    v = self.defaults[names[i]]
                    if v is _MISSING:
                        raise TypeError(f"{fname}(): argument '{names[i]}' is missing")
                    if v is _COMPUTED:
                        raise NeedsLanguageDefault(f"{fname}(): argument '{names[i]}' has a default that "
                                                   "only the language can compute")
                slots.extend(self.converters[i](v, dims, owned))
        except BaseException:
            _release_all(owned)
            raise
        return slots, owned

    def run(self, slots: list[int], owned: list[int]):
        argv = self._argv_type(*slots)
        results = self._res_type()
        ctx = self._context()
        try:
            self._entry(self._addressof(ctx), self._addressof(argv), self._addressof(results))
        finally:
            _release_all(owned)
        self._raise_if_error(ctx)
        out = self._result(iter(results))
        readonly = getattr(owned, "readonly", ())
        return _protect(out, readonly) if readonly else out

    def __call__(self, args: tuple, kwargs: dict):
        return self.run(*self.bind(args, kwargs))


_COMPUTED = object()


class _CallRefs(list):
    """The references one call holds (released after it) and the read-only arrays it was given."""

    def __init__(self):
        super().__init__()
        self.readonly: list[np.ndarray] = []


def _protect(value, readonly: list):
    """A result is never a writable alias of a read-only input: a function returning its argument (or a
    view of it) hands back the same memory, which numpy must then refuse to write as well."""
    from .runtime.ternary import TernaryTensor

    if isinstance(value, tuple):
        return tuple(_protect(v, readonly) for v in value)
    arr = value.packed if isinstance(value, TernaryTensor) else value
    if isinstance(arr, np.ndarray) and arr.flags.writeable \
            and any(np.may_share_memory(arr, r) for r in readonly):
        arr.flags.writeable = False
    return value


class NeedsLanguageDefault(TypeError):
    """An omitted argument's default is an expression: the call goes through a compiled wrapper."""


def _decref(h: int) -> None:
    from .runtime import interop
    interop.func("trt_decref")(h)  # cached ctypes function after the first call


def _release_all(owned: list) -> None:
    """Drop the references made for one call (tensor headers, strings)."""
    for release, h in owned:
        release(h)


_INT_RANGE = {"trit": (-1, 1), **{f"int{b}": (-(2 ** (b - 1)), 2 ** (b - 1) - 1) for b in (8, 16, 32, 64)}}
_FLOAT_MAX = {"float16": float(np.finfo(np.float16).max), "float32": float(np.finfo(np.float32).max),
              "float64": float(np.finfo(np.float64).max)}


def _checked_scalar(value, dtype: str, where: str):
    """A Python value for a scalar parameter of `dtype`, refused rather than wrapped or rounded to
    infinity: TypeError for the wrong kind, ValueError for a trit or bool outside its values,
    OverflowError for an integer or finite float outside the type's range."""
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.item()  # a 0-d array or numpy scalar: its Python value
    if dtype == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, int):
            raise ValueError(f"{where} of type bool must be True, False, 0 or 1, not {value}")
        raise TypeError(f"{where} must be a bool, not {type(value).__name__}")
    if dtype in _INT_RANGE:
        if isinstance(value, float):
            raise TypeError(f"{where} must be an integer ({dtype}), not {value!r}")
        if not isinstance(value, int):
            raise TypeError(f"{where} must be an integer ({dtype}), not {type(value).__name__}")
        low, high = _INT_RANGE[dtype]
        if not low <= value <= high:
            if dtype == "trit":
                raise ValueError(f"{where} of type trit must be -1, 0 or 1, not {value}")
            raise OverflowError(f"{where} of type {dtype} must be in {low}..{high}, not {value}")
        return int(value)
    if not isinstance(value, (int, float)):
        raise TypeError(f"{where} must be a number ({dtype}), not {type(value).__name__}")
    limit = _FLOAT_MAX[dtype]
    try:
        x = float(value)
    except OverflowError:
        raise OverflowError(f"{where} of type {dtype} must be at most {limit:g} in magnitude, not an "
                            f"integer of {value.bit_length()} bits") from None
    with np.errstate(over="ignore"):
        rounded = float(np.asarray(x, dtype))
    # a finite value beyond the largest finite one after rounding (numpy would make it inf)
    if np.isfinite(x) and not np.isfinite(rounded):
        raise OverflowError(f"{where} of type {dtype} must be at most {limit:g} in magnitude, not {value!r}")
    return x


def _converter(ty, declared, pname: str, fname: str, objects=None):
    """A function (value, dims, owned) -> slot for one parameter."""
    from .ir.types import ListTy, StructTy, TraitTy
    from .runtime import interop, ternary_headers

    where = f"{fname}(): argument '{pname}'"
    if isinstance(ty, (ListTy, StructTy)) and objects is not None:
        writer = objects.writer(where)

        def obj(value, dims, owned):
            p = writer.pointer(value, ty)
            owned.append((interop.func("trt_obj_decref"), p))
            return [p]
        return obj
    if isinstance(ty, TraitTy) and objects is not None:  # two slots: the struct and its method table
        writer = objects.writer(where)

        def trait_object(value, dims, owned):
            p, table = writer.trait_object(value, ty)
            owned.append((interop.func("trt_obj_decref"), p))
            return [p, table]
        return trait_object
    if isinstance(ty, ScalarTy):
        dtype = np.dtype("int8" if ty.dtype == "trit" else ty.dtype)

        def scalar(value, dims, owned):
            if isinstance(value, np.ndarray) and value.shape != ():
                raise TypeError(f"{where} must be a {ty.dtype} scalar, not an array of shape {value.shape}")
            checked = _checked_scalar(value, ty.dtype, where)
            return [int.from_bytes(np.asarray(checked, dtype).tobytes().ljust(8, b"\0"), "little")]
        return scalar
    if isinstance(ty, TensorTy):
        if ty.ternary:
            def ternary(value, dims, owned):
                from .runtime.ternary import TernaryTensor
                if not isinstance(value, TernaryTensor):
                    raise TypeError(f"{where} must be a TernaryTensor, not {type(value).__name__}")
                if len(value.shape) != ty.rank:
                    raise ValueError(f"{where} must have {ty.rank} dimension(s) ({declared}), not shape "
                                     f"{list(value.shape)}")
                # the header kept for this tensor: its cached weight layouts outlive the call
                h = ternary_headers.argument_header(value)
                owned.append((_decref, h))
                if isinstance(value.packed, np.ndarray) and not value.packed.flags.writeable:
                    owned.readonly.append(value.packed)
                return [h]
            return ternary
        want = np.dtype(ty.dtype)
        shape = declared.shape if isinstance(declared, ct.TensorType) else None
        static = list(enumerate(shape)) if isinstance(shape, tuple) else []
        to_header = interop.to_header

        def tensor(value, dims, owned):
            if isinstance(value, np.ndarray):
                arr = value
                if arr.dtype != want:
                    raise TypeError(f"{where} must be a {declared} array, not {arr.dtype}")
            else:
                arr = np.asarray(value)
                if arr.dtype.kind == "f" and want.kind in "iub":
                    raise TypeError(f"{where} must hold {ty.dtype} values, not floats")
                arr = arr.astype(want)
            if arr.ndim != ty.rank:
                raise ValueError(f"{where} must have {ty.rank} dimension(s) ({declared}), not shape "
                                 f"{list(arr.shape)}")
            for axis, d in static:
                got = arr.shape[axis]
                if isinstance(d, int) and d != got:
                    want_shape = ct.format_shape(shape)
                    raise ValueError(f"{where} must have shape {want_shape}, got {list(arr.shape)}")
                if isinstance(d, str):
                    seen = dims.setdefault(d, (got, pname))
                    if seen[0] != got:
                        raise ValueError(f"{where}: dimension '{d}' is {got} here but {seen[0]} in "
                                         f"argument '{seen[1]}'")
            h = to_header(arr)
            owned.append((_decref, h))
            if not arr.flags.writeable:
                owned.readonly.append(arr)
            return [h]
        return tensor
    if isinstance(ty, StrTy):
        def string(value, dims, owned):
            if not isinstance(value, str):
                raise TypeError(f"{where} must be a str, not {type(value).__name__}")
            data = value.encode("utf-8")
            h = interop.call("trt_str_new", data, len(data))
            owned.append((interop.func("trt_str_decref"), h))
            return [h]
        return string
    if isinstance(ty, OptionalTy):
        inner_declared = declared.inner if isinstance(declared, ct.OptionalType) else declared
        inner = _converter(ty.inner, inner_declared, pname, fname, objects)
        width = len(flatten_type(ty.inner))

        def optional(value, dims, owned):
            if value is None:
                return [0] * (1 if ty.nullable_pointer else 1 + width)
            slots = inner(value, dims, owned)
            return slots if ty.nullable_pointer else [1, *slots]
        return optional
    if isinstance(ty, TupleTy):
        return _tuple_converter(ty, declared, pname, fname, objects)

    def unsupported(value, dims, owned):
        raise TypeError(f"{where}: values of type {declared} cannot be passed from Python yet")
    return unsupported


def boundary_supported(ty) -> bool:
    """Whether values of IR type `ty` can both be passed to and returned from a public function (what
    `_converter` and `_result_builder` handle) as Python values: extend it together with those two.
    The REPL keeps a binding between entries when `handle_supported` holds (objects as handles)."""
    if isinstance(ty, (ScalarTy, TensorTy, StrTy)):
        return True
    if isinstance(ty, OptionalTy):
        return boundary_supported(ty.inner)
    if isinstance(ty, TupleTy):
        return all(boundary_supported(t) for t in ty.items)
    return False


def handle_supported(ty) -> bool:
    """Whether values of IR type `ty` cross the boundary when objects travel as `ObjectHandle`s (a
    `CallPlan` made with `handles=`): what `boundary_supported` takes, plus structs, lists of element
    types the language can store and trait objects, and optionals and tuples of those."""
    from .ir.types import ListTy, NoneTy, StructTy, TraitTy

    if isinstance(ty, ListTy):
        return not isinstance(ty.elem, NoneTy)  # `[]` whose element type nothing fixed
    if isinstance(ty, (StructTy, TraitTy)):
        return True
    if isinstance(ty, OptionalTy):
        return handle_supported(ty.inner)
    if isinstance(ty, TupleTy):
        return all(handle_supported(t) for t in ty.items)
    return boundary_supported(ty)


def _tuple_converter(ty: TupleTy, declared, pname: str, fname: str, objects=None):
    """A fixed-length list / tuple parameter (e.g. `stride: [int32, int32]`) from a Python tuple or list
    of that length: each item goes through its own converter, the slots are concatenated."""
    where = f"{fname}(): argument '{pname}'"
    if isinstance(declared, ct.UnionType):  # e.g. `int32 | [int32, int32]`: this instance took the list
        declared = next((m for m in declared.members if isinstance(m, (ct.TupleType, ct.ListType))), declared)
    if isinstance(declared, ct.TupleType):
        items_declared = list(declared.items)
    elif isinstance(declared, ct.ListType) and declared.elem is not None:
        items_declared = [declared.elem] * len(ty.items)
    else:
        items_declared = list(ty.items)
    spelled = "[" + ", ".join(t.dtype if isinstance(t, ScalarTy) else str(d)
                              for t, d in zip(ty.items, items_declared, strict=True)) + "]"
    items = [_converter(t, d, f"{pname}[{i}]", fname, objects)
             for i, (t, d) in enumerate(zip(ty.items, items_declared, strict=True))]

    def sequence(value, dims, owned):
        if not isinstance(value, (tuple, list)):
            raise TypeError(f"{where} must be a tuple or list of {len(items)} values ({spelled}), "
                            f"not {type(value).__name__}")
        if len(value) != len(items):
            raise ValueError(f"{where} must have {len(items)} items ({spelled}), not {len(value)}")
        slots: list[int] = []
        for convert, item in zip(items, value, strict=True):
            slots.extend(convert(item, dims, owned))
        return slots
    return sequence


def _ternary_result(addr: int):
    """A `TernaryTensor` over a trit header's packed bytes (no copy); unscaled trits get scale 1."""
    from .runtime import interop
    from .runtime.ternary import TernaryTensor

    packed, shape, scales, kind = interop.trit_parts(addr)
    if scales is None or kind not in ("tensor", "channel", "asymmetric"):
        scales, kind = np.ones(1, np.float32), "tensor"
    return TernaryTensor(packed, shape, scales, kind)


def _result_builder(ty, objects=None, handles: object = None):
    """A function turning an iterator over result slots into the Python value of type `ty`; with
    `handles` (not None), objects become `ObjectHandle`s owning the returned reference (kept, not
    converted) and keeping `handles` alive."""
    from .ir.types import ListTy, StructTy, TraitTy
    from .runtime import interop

    if handles is not None and objects is not None and isinstance(ty, (ListTy, StructTy, TraitTy)):
        from .api_objects import ObjectHandle

        if isinstance(ty, TraitTy):  # two slots: the struct and its method table
            return lambda it: ObjectHandle(next(it), ty, objects, handles, table=next(it))
        return lambda it: ObjectHandle(next(it), ty, objects, handles)
    if isinstance(ty, (ListTy, StructTy)) and objects is not None:
        reader = objects.reader()
        return lambda it: reader.result(next(it), ty)
    if isinstance(ty, TraitTy) and objects is not None:  # in a tuple: its struct's copy, from two slots
        import ctypes
        reader = objects.reader()

        def trait_object(it):
            obj, _table = next(it), next(it)
            cell = ctypes.c_uint64(obj)  # `Reader.at` reads a trait object from its slot
            try:
                return reader.at(ctypes.addressof(cell), ty)
            finally:
                interop.func("trt_obj_decref")(obj)
        return trait_object
    if isinstance(ty, TupleTy):
        items = [_result_builder(t, objects, handles) for t in ty.items]
        return lambda it: tuple(item(it) for item in items)
    if isinstance(ty, TensorTy):
        if ty.ternary or ty.dtype == "trit":
            return lambda it: _ternary_result(next(it))

        def tensor(it):
            arr = interop.from_header(next(it))
            return arr[()] if arr.ndim == 0 else arr
        return tensor
    if isinstance(ty, ScalarTy):
        dtype = np.dtype("int8" if ty.dtype == "trit" else ty.dtype)
        size = dtype.itemsize
        return lambda it: np.frombuffer(int(next(it)).to_bytes(8, "little")[:size], dtype=dtype)[0].item()
    if isinstance(ty, OptionalTy):
        inner = _result_builder(ty.inner, objects, handles)
        width = len(flatten_type(ty.inner))
        if ty.nullable_pointer:
            def nullable(it):
                addr = next(it)
                return None if addr == 0 else inner(iter([addr]))
            return nullable

        def optional(it):
            present = next(it) & 0xFF
            values = [next(it) for _ in range(width)]
            return inner(iter(values)) if present else None
        return optional
    if isinstance(ty, StrTy):
        def string(it):
            import ctypes
            addr = next(it)
            n = ctypes.c_int64.from_address(addr + 8).value
            text = ctypes.string_at(addr + 16, n).decode("utf-8", "replace")
            interop.func("trt_str_decref")(addr)
            return text
        return string
    return lambda it: None
