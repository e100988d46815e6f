"""Structs, lists and strings at the Python API boundary.

In: IR types of a public function's parameters and result, the program's struct layouts
(`ir.Module.structs`) and its JIT module (for the exported type descriptors, `tdsl_type.<key>`). Out:

- results: a list comes back as a Python list (tensors as numpy arrays / `TernaryTensor`s, scalars as
  Python numbers, strings as `str`, nested lists and structs converted the same way); a struct (or a trait
  object) as a `StructValue` whose attributes are its fields (`q.percentile`), printed like the language
  prints it. The run-time object is released after the conversion: the Python values are copies of the
  containers (arrays share the tensors' memory).
- arguments: a Python list or tuple fills a `[T, ...]` parameter (a new run-time list per call); a
  `StructValue` — made by `module.StructName(field=value, ...)` (keywords, positions, literal defaults) or
  returned by an earlier call — fills a struct parameter (a new run-time object per call, so changes the
  function makes are not seen by the Python value).
- handles: an `ObjectHandle` owns one reference to a run-time object itself (no copy). A call given a
  handle (as an argument, or inside a list or struct argument) passes that very object, so the function's
  changes are seen through the handle; results come back as handles only from a `CallPlan` made with
  `handles=` (the REPL session's entries, which keep object bindings across entries this way: copies would
  break the language's reference semantics). A handle is refused (TypeError) by a function whose type of
  the same name has another layout (a struct or trait redefined in a later REPL entry).
Layouts are `codegen.objects`'s (docs/runtime.md "Objects").
"""

from __future__ import annotations

import ctypes

import numpy as np

from .abi import layout
from .codegen.objects import descriptor_symbol, elem_size, field_offsets, mem_layout
from .ir.types import (
    IRType,
    ListTy,
    NoneTy,
    OptionalTy,
    ScalarTy,
    StrTy,
    StructTy,
    TensorTy,
    TraitTy,
    TupleTy,
    UnionTy,
)


class StructValue:
    """A struct value in Python: one attribute per field (in `_fields` order)."""

    _type_name = "struct"
    _fields: tuple[str, ...] = ()

    def __init__(self, **fields):
        for name in self._fields:
            setattr(self, name, fields[name])

    def __repr__(self) -> str:
        inner = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._fields)
        return f"{self._type_name}({inner})"


_MISSING = object()


def layout_signature(ty: IRType, structs: dict, traits: dict, seen: frozenset = frozenset()) -> str:
    """The memory layout a value of `ty` implies, spelled out through struct fields and trait method
    tables: two modules agree on how to read an object exactly when its type's signatures are equal (a
    struct redefined with other fields, or a trait with other methods, changes it)."""
    def sig(t: IRType) -> str:
        return layout_signature(t, structs, traits, seen)

    if isinstance(ty, StructTy):
        lay = structs.get(ty.name)
        if ty.name in seen or lay is None:
            return ty.name
        inner = frozenset(seen | {ty.name})
        fields = ", ".join(f"{n}: {layout_signature(t, structs, traits, inner)}" for n, t in lay.fields)
        return f"{ty.name}{{{fields}}}"
    if isinstance(ty, TraitTy):
        lay = traits.get(ty.name)
        if ty.name in seen or lay is None:
            return ty.name
        inner = frozenset(seen | {ty.name})
        methods = ", ".join(
            f"{m}({', '.join(layout_signature(p, structs, traits, inner) for p in params)}) -> "
            f"{layout_signature(ret, structs, traits, inner)}" for m, params, ret in lay.methods)
        return f"{ty.name}<{methods}>"
    if isinstance(ty, ListTy):
        return f"[{sig(ty.elem)}, ...]"
    if isinstance(ty, OptionalTy):
        return f"{sig(ty.inner)}?"
    if isinstance(ty, TupleTy):
        return "(" + ", ".join(sig(t) for t in ty.items) + ")"
    if isinstance(ty, UnionTy):
        return " | ".join(sig(t) for t in ty.members)
    return str(ty)


class ObjectHandle:
    """An owned reference to a run-time struct, list or trait object (not a copy).

    `ty` is its IR type; `table` the method table of a trait object (else 0). The handle keeps `keep`
    alive (the compiled modules whose type descriptors, `drop` / `print` functions and method tables the
    object and everything it holds point into) and releases its reference when it is dropped. `value()`
    reads a Python copy (as a result would be converted); `repr` shows that copy, which prints as the
    language prints the object."""

    __slots__ = ("_ptr", "table", "ty", "type_text", "_objects", "_keep", "__weakref__")

    def __init__(self, ptr: int, ty: IRType, objects: ModuleObjects, keep: object = None, table: int = 0):
        self._ptr = ptr  # the reference this handle owns (taken over from a call's result)
        self.ty = ty
        self.table = table
        self._objects = objects
        self._keep = keep
        # the checker's spelling of its type (`[Q, ...]`), when the maker knows it: a REPL session sets it
        # so a notebook variable holding the handle can be read by a later entry
        self.type_text: str | None = None

    def signature(self) -> str:
        return layout_signature(self.ty, self._objects.structs, self._objects.traits)

    def lend(self, ty: IRType, where: str, objects: ModuleObjects | None) -> int:
        """A new reference to the object for a call expecting `ty` (the caller releases it)."""
        from .runtime import interop

        if self.ty != ty:
            raise TypeError(f"{where} must be a {ty} value, not a handle of a {self.ty} value")
        if objects is not None and self._ptr and layout_signature(ty, objects.structs, objects.traits) \
                != layout_signature(ty, self._objects.structs, self._objects.traits):
            raise TypeError(f"{where}: this {ty} value was made with an earlier definition of its type "
                            "(its layout differs from the one this function expects)")
        if self._ptr:
            interop.func("trt_obj_incref")(self._ptr)
        return self._ptr

    def value(self):
        """A Python copy of the object's current contents (lists, `StructValue`s, arrays)."""
        if not self._ptr:
            return None
        reader = self._objects.reader()
        if isinstance(self.ty, TraitTy):
            cell = ctypes.c_uint64(self._ptr)  # a trait object is read from its slot: the struct pointer
            return reader.at(ctypes.addressof(cell), self.ty)
        return reader.pointer_value(self._ptr, self.ty)

    def same_object(self, other: ObjectHandle) -> bool:
        return isinstance(other, ObjectHandle) and other._ptr == self._ptr

    def release(self) -> None:
        """Drop the reference now (the handle reads as None afterwards)."""
        ptr, self._ptr = self._ptr, 0
        if ptr:
            from .runtime import interop
            interop.func("trt_obj_decref")(ptr)

    def __del__(self) -> None:
        try:
            self.release()
        except Exception:  # noqa: BLE001 - interpreter shutdown: the runtime may already be gone
            pass

    def __repr__(self) -> str:
        return repr(self.value())

    def __copy__(self) -> ObjectHandle:
        """Another handle on the same object (its own reference)."""
        twin = ObjectHandle(self.lend(self.ty, "copy", None), self.ty, self._objects, self._keep, self.table)
        twin.type_text = self.type_text
        return twin

    def __reduce__(self):
        # the default for a class with __slots__ would copy the raw pointer: a second owner of one
        # reference (a double release), or an address of another process after unpickling
        raise TypeError("an ObjectHandle refers to a run-time object of this process; pickle or deep-copy "
                        "handle.value() (a Python copy) instead")


def struct_class(name: str, fields: list[str], defaults: list) -> type:
    """A `StructValue` subclass constructing like the language does: positions in field order, keywords,
    defaults (literal defaults only: a computed one must be given)."""

    def __init__(self, *args, **kwargs):
        if len(args) > len(fields):
            raise TypeError(f"{name}() takes {len(fields)} fields but {len(args)} were given")
        values = dict(zip(fields, args, strict=False))
        for k, v in kwargs.items():
            if k not in fields:
                raise TypeError(f"{name}() has no field named '{k}'")
            if k in values:
                raise TypeError(f"{name}() got two values for field '{k}'")
            values[k] = v
        for f, d in zip(fields, defaults, strict=True):
            if f not in values:
                if d is _MISSING:
                    raise TypeError(f"{name}(): field '{f}' is missing (or has a default only the "
                                    "language computes)")
                values[f] = [] if isinstance(d, list) else d
        StructValue.__init__(self, **values)

    return type(name, (StructValue,), {"__init__": __init__, "_type_name": name, "_fields": tuple(fields)})


def _u64(addr: int) -> int:
    return ctypes.c_uint64.from_address(addr).value


# -- reading values out of memory (results) ---------------------------------------------------------------
class Reader:
    """Python values of IR type `ty` read from the memory of a module's objects."""

    def __init__(self, structs: dict, classes: dict):
        self.structs = structs
        self.classes = classes  # struct name -> StructValue subclass

    def pointer_value(self, p: int, ty: IRType):
        """The Python value of a pointer-represented value (tensor, string, list, struct)."""
        from .runtime import interop

        if isinstance(ty, TensorTy):
            if ty.ternary or ty.dtype == "trit":
                return interop.header_to_ternary(p, steal=False)
            arr = interop.from_header(p, steal=False)
            return arr[()] if arr.ndim == 0 else arr
        if isinstance(ty, StrTy):
            n = ctypes.c_int64.from_address(p + 8).value
            return ctypes.string_at(p + layout.STR_DATA_OFFSET, n).decode("utf-8", "replace")
        if isinstance(ty, ListTy):
            n = ctypes.c_int64.from_address(p + layout.LIST_FIELDS["list_len"][0]).value
            data = _u64(p + layout.LIST_FIELDS["list_data"][0])
            size = elem_size(ty.elem)
            return [self.at(data + i * size, ty.elem) for i in range(n)]
        if isinstance(ty, StructTy):
            fields = self.structs[ty.name].fields
            offsets, _ = field_offsets([t for _, t in fields])
            values = {n: self.at(p + off, t) for (n, t), off in zip(fields, offsets, strict=True)}
            cls = self.classes.get(ty.name) or struct_class(ty.name, [n for n, _ in fields],
                                                            [_MISSING] * len(fields))
            return cls(**values)
        raise TypeError(f"values of type {ty} cannot be returned to Python")

    def at(self, addr: int, ty: IRType):
        """The value of type `ty` stored at `addr` (a field or a list slot)."""
        from .codegen.llvm_types import llvm_type

        if isinstance(ty, ScalarTy):
            dtype = np.dtype("int8" if ty.dtype == "trit" else ("uint8" if ty.is_bool else ty.dtype))
            value = np.frombuffer(ctypes.string_at(addr, dtype.itemsize), dtype=dtype)[0]
            return bool(value) if ty.is_bool else value.item()
        if isinstance(ty, (NoneTy,)):
            return None
        if isinstance(ty, OptionalTy):
            if ty.nullable_pointer:
                p = _u64(addr)
                return None if p == 0 else self.pointer_value(p, ty.inner)
            if not ctypes.c_uint8.from_address(addr).value:
                return None
            _, align = mem_layout(llvm_type(ty.inner))
            return self.at(addr + max(align, 1), ty.inner)
        if isinstance(ty, TupleTy):
            items, pos = [], 0
            for t in ty.items:
                size, align = mem_layout(llvm_type(t))
                pos = (pos + align - 1) // align * align
                items.append(self.at(addr + pos, t))
                pos += size
            return tuple(items)
        if isinstance(ty, UnionTy):  # {i32 tag, members...}: the tagged member
            tag = ctypes.c_int32.from_address(addr).value
            pos = 4
            for i, t in enumerate(ty.members):
                size, align = mem_layout(llvm_type(t))
                pos = (pos + align - 1) // align * align
                if i == tag:
                    return self.at(addr + pos, t)
                pos += size
            raise ValueError(f"a union value with no member {tag}")
        if isinstance(ty, TraitTy):
            obj = _u64(addr)
            desc = _u64(obj + layout.OBJ_FIELDS["obj_type"][0])
            name = ctypes.string_at(_u64(desc + layout.TYPE_FIELDS["type_name"][0])).decode()
            return self.pointer_value(obj, StructTy(name))
        return self.pointer_value(_u64(addr), ty)

    def result(self, p: int, ty: IRType):
        """An owned result of a call: converted, then released."""
        from .runtime import interop
        try:
            return self.pointer_value(p, ty)
        finally:
            interop.func("trt_obj_decref")(p)


# -- writing Python values into new objects (arguments) ---------------------------------------------------
class Writer:
    """Builds run-time values of IR types from Python values (the references made belong to the object
    they are stored into; the top-level one to the call's `owned` list)."""

    def __init__(self, structs: dict, jm, where: str, objects: ModuleObjects | None = None):
        self.structs = structs
        self.jm = jm
        self.where = where
        self.objects = objects  # for checking that a handle's layout is this module's

    def descriptor(self, ty: IRType) -> int:
        try:
            return self.jm.global_address(descriptor_symbol(ty))
        except KeyError:
            raise TypeError(f"{self.where}: values of type {ty} cannot be passed from Python") from None

    def pointer(self, value, ty: IRType) -> int:
        """An owned reference for a pointer-represented value."""
        from .runtime import interop

        if isinstance(value, ObjectHandle) and isinstance(ty, (ListTy, StructTy)):
            return value.lend(ty, self.where, self.objects)  # the object itself, not a copy

        if isinstance(ty, TensorTy):
            arr = value
            if not (ty.ternary or ty.dtype == "trit"):
                arr = np.asarray(value)
                if arr.dtype != np.dtype(ty.dtype):
                    if arr.dtype.kind == "f" and np.dtype(ty.dtype).kind in "iub":
                        raise TypeError(f"{self.where} must hold {ty.dtype} values, not floats")
                    arr = arr.astype(ty.dtype)
                if ty.rank is not None and arr.ndim != ty.rank:
                    raise ValueError(f"{self.where}: expected {ty.rank} dimension(s), got shape "
                                     f"{list(arr.shape)}")
            return interop.to_header(arr)
        if isinstance(ty, StrTy):
            if not isinstance(value, str):
                raise TypeError(f"{self.where} must hold str values, not {type(value).__name__}")
            data = value.encode("utf-8")
            return interop.call("trt_str_new", data, len(data))
        if isinstance(ty, ListTy):
            if not isinstance(value, (list, tuple)):
                raise TypeError(f"{self.where} must be a list, not {type(value).__name__}")
            p = interop.call("trt_list_new", self.descriptor(ty), len(value))
            try:
                data = _u64(p + layout.LIST_FIELDS["list_data"][0])
                size = elem_size(ty.elem)
                for i, item in enumerate(value):
                    self.store(item, data + i * size, ty.elem)
            except BaseException:
                interop.func("trt_obj_decref")(p)
                raise
            return p
        if isinstance(ty, StructTy):
            fields = self.structs[ty.name].fields
            if not isinstance(value, StructValue) or type(value).__name__ != ty.name:
                raise TypeError(f"{self.where} must be a {ty.name} (module.{ty.name}(...)), "
                                f"not {type(value).__name__}")
            offsets, size = field_offsets([t for _, t in fields])
            p = interop.call("trt_obj_new", self.descriptor(ty), size)
            try:
                for (n, t), off in zip(fields, offsets, strict=True):
                    self.store(getattr(value, n), p + off, t)
            except BaseException:
                interop.func("trt_obj_decref")(p)
                raise
            return p
        raise TypeError(f"{self.where}: values of type {ty} cannot be passed from Python")

    def trait_object(self, value, ty: TraitTy) -> tuple[int, int]:
        """(owned struct reference, method table) for a struct value passed as a trait object."""
        from .codegen.objects import vtable_symbol
        if isinstance(value, ObjectHandle) and isinstance(value.ty, TraitTy) and value.table:
            return value.lend(ty, self.where, self.objects), value.table  # the object and its own table
        if isinstance(value, ObjectHandle) and isinstance(value.ty, StructTy):
            name = value.ty.name
            try:
                table = self.jm.global_address(vtable_symbol(name, ty.name))
            except KeyError:
                raise TypeError(f"{self.where}: `{name}` does not have the methods of the trait "
                                f"`{ty.name}`") from None
            return value.lend(value.ty, self.where, self.objects), table
        name = getattr(type(value), "_type_name", None)
        if not isinstance(value, StructValue) or name not in self.structs:
            raise TypeError(f"{self.where} must be a struct with the methods of `{ty.name}`, "
                            f"not {type(value).__name__}")
        try:
            table = self.jm.global_address(vtable_symbol(name, ty.name))
        except KeyError:
            raise TypeError(f"{self.where}: `{name}` does not have the methods of the trait "
                            f"`{ty.name}`") from None
        return self.pointer(value, StructTy(name)), table

    def store(self, value, addr: int, ty: IRType) -> None:
        from .codegen.llvm_types import llvm_type

        if isinstance(ty, ScalarTy):
            dtype = np.dtype("int8" if ty.dtype == "trit" else ("uint8" if ty.is_bool else ty.dtype))
            data = np.asarray(value).astype(dtype).tobytes()
            ctypes.memmove(addr, data, len(data))
        elif isinstance(ty, OptionalTy) and ty.nullable_pointer:
            ctypes.c_uint64.from_address(addr).value = 0 if value is None else self.pointer(value, ty.inner)
        elif isinstance(ty, OptionalTy):
            ctypes.c_uint8.from_address(addr).value = 0 if value is None else 1
            if value is not None:
                _, align = mem_layout(llvm_type(ty.inner))
                self.store(value, addr + align, ty.inner)
        elif isinstance(ty, UnionTy):
            raise TypeError(f"{self.where}: union values cannot be passed from Python yet")
        elif isinstance(ty, TraitTy):  # {ptr obj, ptr vtable}
            obj, table = self.trait_object(value, ty)
            ctypes.c_uint64.from_address(addr).value = obj
            ctypes.c_uint64.from_address(addr + 8).value = table
        elif isinstance(ty, TupleTy):
            pos = 0
            for item, t in zip(value, ty.items, strict=True):
                size, align = mem_layout(llvm_type(t))
                pos = (pos + align - 1) // align * align
                self.store(item, addr + pos, t)
                pos += size
        else:
            ctypes.c_uint64.from_address(addr).value = self.pointer(value, ty)


class ModuleObjects:
    """A compiled module's struct classes and its readers / writers of objects."""

    def __init__(self, ir_module, checked, jm):
        from .api_args import _literal

        self.structs = ir_module.structs
        self.traits = getattr(ir_module, "traits", {})
        self.jm = jm
        self.classes: dict[str, type] = {}
        env = checked.env if checked is not None else None
        for name, lay in self.structs.items():
            info = env.struct(name) if env is not None else None
            if info is None or name.startswith("$"):
                continue
            defaults = []
            for d in info.field_defaults:
                value = _MISSING if d is None else _literal(d)
                if value is not _MISSING and type(value).__name__ == "object":
                    value = _MISSING
                if d is not None and value is _MISSING and getattr(d, "elems", None) == []:
                    value = _EMPTY_LIST
                defaults.append(value)
            self.classes[name] = struct_class(name, [n for n, _ in lay.fields], defaults)

    def reader(self) -> Reader:
        return Reader(self.structs, self.classes)

    def writer(self, where: str) -> Writer:
        return Writer(self.structs, self.jm, where, self)


class _EmptyList(list):
    """The default `[]` of a field: a fresh list for every value built from Python."""


_EMPTY_LIST = _EmptyList()


__all__ = ["ObjectHandle", "layout_signature", "StructValue", "struct_class", "Reader", "Writer",
           "ModuleObjects"]
