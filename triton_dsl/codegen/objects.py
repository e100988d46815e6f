"""Heap objects in generated code: memory layouts, type descriptors and the per-type helper functions.

In: IR types (`StructTy`, `ListTy`, `TraitTy`, `FnValTy`, and everything they hold) and the
`ModuleEmitter`. Out, per module and created on first use:

- `mem_layout(lltype)` / `struct_offsets(...)`: byte sizes, alignments and field offsets (natural C
  alignment, which is LLVM's for these types on every supported target); a struct's fields start after
  the 16-byte object header, a list's elements are `elem_size` apart in its buffer;
- `ObjectSupport.descriptor(ty)`: the constant `trt_type` of a struct or list type (docs/runtime.md
  "Objects"): name, `drop`, sizes, element retain/release, `print`;
- `emit_refcount(...)`: incref/decref of any value; object references are counted inline (a load, a
  compare, a store; `trt_obj_free` only when the count reaches zero), tensors and strings by the runtime;
- `ObjectSupport.print_fn(ty)`: `i32 (ptr ctx, ptr buf, T v, i32 depth)` appending Python's `repr` of a
  value (strings quoted, `[1, 2]`, `(a, b)`, `Name(field=value, ...)`, `None`), used by `print`,
  f-strings and the `print` slot of descriptors (so a trait object prints its concrete struct).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from llvmlite import ir

from ..abi import layout
from ..ir.types import (
    FnValTy,
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
    UnitTy,
)
from . import rtabi
from .kernels.trk_ir import Callee
from .llvm_types import I8, I32, I64, PTR, VOID, llvm_type

if TYPE_CHECKING:
    from .module import ModuleEmitter

# Containers nested deeper than this print as `[...]` / `Name(...)` (a reference cycle must not recurse
# until the stack overflows).
MAX_PRINT_DEPTH = 64


def descriptor_symbol(ty: IRType) -> str:
    """The exported name of the descriptor of a struct or list type a public function takes (the Python
    API builds arguments with it)."""
    return "tdsl_type." + hashlib.sha1(str(ty).encode()).hexdigest()[:16]


def vtable_symbol(struct: str, trait: str) -> str:
    """The exported name of a struct's method table for a trait a public function takes."""
    return "tdsl_vtable." + hashlib.sha1(f"{struct}:{trait}".encode()).hexdigest()[:16]


def nested_object_types(types, structs: dict) -> list[IRType]:
    """The struct and list types in `types`, nested ones included (each once)."""
    out: list[IRType] = []

    def walk(t):
        if isinstance(t, (ListTy, StructTy)):
            if t in out:
                return
            out.append(t)
            if isinstance(t, ListTy):
                walk(t.elem)
            elif t.name in structs:
                for _, ft in structs[t.name].fields:
                    walk(ft)
        elif isinstance(t, OptionalTy):
            walk(t.inner)
        elif isinstance(t, TupleTy):
            for item in t.items:
                walk(item)

    for t in types:
        walk(t)
    return out


def mem_layout(t: ir.Type) -> tuple[int, int]:
    """(size, alignment) in bytes of an LLVM value type in memory."""
    if isinstance(t, ir.IntType):
        n = max(1, (t.width + 7) // 8)
        n = 1 << (n - 1).bit_length()
        return n, n
    if isinstance(t, ir.HalfType):
        return 2, 2
    if isinstance(t, ir.FloatType):
        return 4, 4
    if isinstance(t, ir.DoubleType):
        return 8, 8
    if isinstance(t, ir.PointerType):
        return 8, 8
    if isinstance(t, ir.LiteralStructType):
        offsets, size, align = _offsets([mem_layout(e) for e in t.elements], 0)
        return size, align
    if isinstance(t, ir.ArrayType):
        size, align = mem_layout(t.element)
        return size * t.count, align
    raise TypeError(f"no memory layout for {t}")


def _offsets(items: list[tuple[int, int]], start: int) -> tuple[list[int], int, int]:
    offsets, pos, align = [], start, 1
    for size, a in items:
        pos = (pos + a - 1) // a * a
        offsets.append(pos)
        pos += size
        align = max(align, a)
    return offsets, (pos + align - 1) // align * align, align


def field_offsets(types: list[IRType]) -> tuple[list[int], int]:
    """Byte offsets of an object's payload fields (after the header) and the object's size."""
    offsets, size, _ = _offsets([mem_layout(llvm_type(t)) for t in types], layout.OBJ_HEADER_SIZE)
    return offsets, max(size, layout.OBJ_HEADER_SIZE)


def elem_size(ty: IRType) -> int:
    size, align = mem_layout(llvm_type(ty))
    return (size + align - 1) // align * align


def byte_ptr(b: ir.IRBuilder, base: ir.Value, offset) -> ir.Value:
    off = ir.Constant(I64, offset) if isinstance(offset, int) else offset
    return b.gep(base, [off], source_etype=I8)


def obj_pointer(b: ir.IRBuilder, ty: IRType, value: ir.Value) -> ir.Value | None:
    """The object reference a value of type `ty` holds (None: it holds no object)."""
    if isinstance(ty, (StructTy, ListTy)):
        return value
    if isinstance(ty, TraitTy):
        return b.extract_value(value, 0)
    if isinstance(ty, FnValTy):
        return b.extract_value(value, 1)
    return None


def emit_obj_refcount(b: ir.IRBuilder, p: ir.Value, what: str) -> None:
    """Inline incref / decref of an object reference (null and immortal objects are left alone)."""
    with b.if_then(b.icmp_unsigned("!=", p, ir.Constant(PTR, None)), likely=True):
        rc = b.load(p, typ=I64)
        if what == "incref":
            with b.if_then(b.icmp_signed(">=", rc, ir.Constant(I64, 0)), likely=True):
                b.store(b.add(rc, ir.Constant(I64, 1)), p)
        else:
            with b.if_then(b.icmp_signed(">", rc, ir.Constant(I64, 0)), likely=True):
                left = b.sub(rc, ir.Constant(I64, 1))
                b.store(left, p)
                with b.if_then(b.icmp_signed("==", left, ir.Constant(I64, 0)), likely=False):
                    rtabi.call(b, "trt_obj_free", p)


def emit_refcount(b: ir.IRBuilder, ty: IRType, value: ir.Value, what: str) -> None:
    """incref / decref every reference a value of type `ty` holds."""
    if isinstance(ty, TensorTy):
        rtabi.call(b, f"trt_{what}", value)
    elif isinstance(ty, StrTy):
        rtabi.call(b, f"trt_str_{what}", value)
    elif isinstance(ty, TupleTy):
        for i, item in enumerate(ty.items):
            if item.is_refcounted():
                emit_refcount(b, item, b.extract_value(value, i), what)
    elif isinstance(ty, OptionalTy):
        # None is a null pointer (or a zeroed value): every refcount function accepts null.
        if ty.inner.is_refcounted():
            inner = value if ty.nullable_pointer else b.extract_value(value, 1)
            emit_refcount(b, ty.inner, inner, what)
    elif isinstance(ty, UnionTy):
        # only the tagged member is set; the others are zero (null), which the refcount functions accept
        for i, m in enumerate(ty.members):
            if m.is_refcounted():
                emit_refcount(b, m, b.extract_value(value, i + 1), what)
    else:
        p = obj_pointer(b, ty, value)
        if p is not None:
            emit_obj_refcount(b, p, what)


class ObjectSupport:
    """The type descriptors and helper functions of one module (created on first use)."""

    def __init__(self, m: ModuleEmitter):
        self.m = m
        self._descriptors: dict[IRType, ir.GlobalVariable] = {}
        self._helpers: dict[tuple[str, IRType], ir.Function] = {}
        self._names = 0

    # -- layouts ------------------------------------------------------------------------------------------
    def struct_fields(self, name: str):
        return self.m.ir_module.structs[name].fields

    def struct_layout(self, name: str) -> tuple[list[int], int]:
        return field_offsets([t for _, t in self.struct_fields(name)])

    def _fresh(self, kind: str) -> str:
        self._names += 1
        return f"tdsl.{kind}.{self._names}"

    # -- descriptors --------------------------------------------------------------------------------------
    def export_descriptors(self, types) -> None:
        """Give the descriptors of these types (and the types they hold) their exported names."""
        for t in nested_object_types(types, self.m.ir_module.structs):
            self.descriptor(t, exported=True)

    def descriptor(self, ty: IRType, exported: bool = False) -> ir.GlobalVariable:
        """The constant `trt_type` of a struct or list type (one per module)."""
        g = self._descriptors.get(ty)
        if g is not None:
            return g
        null = ir.Constant(PTR, None)
        g = ir.GlobalVariable(self.m.llmod, layout.TYPE_T, descriptor_symbol(ty) if exported
                              else self._fresh("type"))
        g.global_constant = True
        if not exported:
            g.linkage = "private"
        self._descriptors[ty] = g  # before the helpers: a recursive type refers to itself
        if isinstance(ty, StructTy):
            fields = self.struct_fields(ty.name)
            _, size = self.struct_layout(ty.name)
            drop = self.struct_drop(ty) if any(t.is_refcounted() for _, t in fields) else null
            values = [self.m.cstring(ty.name), drop, ir.Constant(I64, size), null, null,
                      ir.Constant(I32, layout.KIND_STRUCT), ir.Constant(I32, len(fields)), self.print_fn(ty)]
        elif isinstance(ty, ListTy):
            refcounted = ty.elem.is_refcounted()
            retain = self.elem_fn(ty.elem, "incref") if refcounted else null
            release = self.elem_fn(ty.elem, "decref") if refcounted else null
            values = [self.m.cstring(str(ty)), rtabi.declare(self.m.llmod, "trt_list_drop"),
                      ir.Constant(I64, elem_size(ty.elem)), retain, release,
                      ir.Constant(I32, layout.KIND_LIST), ir.Constant(I32, 0), self.print_fn(ty)]
        else:
            raise TypeError(f"no descriptor for {ty}")
        g.initializer = ir.Constant(layout.TYPE_T, values)
        return g

    def vtable(self, struct: str, trait: str) -> ir.GlobalVariable:
        """The constant method table of `struct` for `trait` (IR function names: `Module.vtables`)."""
        key = ("vtable", struct, trait)
        g = self._descriptors.get(key)
        if g is None:
            names = self.m.ir_module.vtables[(struct, trait)]
            ty = ir.ArrayType(PTR, max(1, len(names)))
            exported = trait in self.m.ir_module.exported_traits  # a Python caller passes the struct
            g = ir.GlobalVariable(self.m.llmod, ty, vtable_symbol(struct, trait) if exported
                                  else self._fresh("vtable"))
            g.global_constant = True
            if not exported:
                g.linkage = "private"
            g.initializer = ir.Constant(ty, [FnPointer(self.m.function(n)) for n in names]
                                        or [ir.Constant(PTR, None)])
            self._descriptors[key] = g
        return g

    def program_global(self, name: str, ty: IRType) -> tuple[ir.GlobalVariable, ir.GlobalVariable]:
        """The module global holding a top-level variable that functions read, and its `set` flag."""
        key = ("global", name)
        found = self._descriptors.get(key)
        if found is None:
            value = ir.GlobalVariable(self.m.llmod, llvm_type(ty), self._fresh("global"))
            value.initializer = ir.Constant(llvm_type(ty), None)
            value.linkage = "internal"
            flag = ir.GlobalVariable(self.m.llmod, I8, self._fresh("global_set"))
            flag.initializer = ir.Constant(I8, 0)
            flag.linkage = "internal"
            found = self._descriptors[key] = (value, flag)
        return found

    # -- helper functions ---------------------------------------------------------------------------------
    def _helper(self, kind: str, ty, fnty: ir.FunctionType, build) -> ir.Function:
        key = (kind, ty)
        fn = self._helpers.get(key)
        if fn is None:
            fn = ir.Function(self.m.llmod, fnty, self._fresh(kind))
            fn.linkage = "internal"
            self._helpers[key] = fn
            build(fn, ir.IRBuilder(fn.append_basic_block("entry")))
        return fn

    def struct_drop(self, ty: StructTy) -> ir.Function:
        types = [t for _, t in self.struct_fields(ty.name)]
        offsets, _ = self.struct_layout(ty.name)
        return self._drop_fields(types, offsets, key=ty)

    def _drop_fields(self, types: list[IRType], offsets: list[int], key=None) -> ir.Function:
        def build(fn, b):
            obj = fn.args[0]
            for t, off in zip(types, offsets, strict=True):
                if t.is_refcounted():
                    emit_refcount(b, t, b.load(byte_ptr(b, obj, off), typ=llvm_type(t)), "decref")
            b.ret_void()
        return self._helper("drop", key if key is not None else ("env", tuple(types)),
                            ir.FunctionType(VOID, [PTR]), build)

    def elem_fn(self, ty: IRType, what: str) -> ir.Function:
        """`void (ptr slot)`: incref / decref the element of type `ty` stored at `slot`."""
        def build(fn, b):
            emit_refcount(b, ty, b.load(fn.args[0], typ=llvm_type(ty)), what)
            b.ret_void()
        return self._helper(f"elem_{what}", ty, ir.FunctionType(VOID, [PTR]), build)

    def print_fn(self, ty: IRType) -> ir.Function:
        """`i32 (ptr ctx, ptr buf, T v, i32 depth)`: append the repr of v; non-zero on an error (set)."""
        def build(fn, b):
            ctx, buf, v, depth = fn.args
            status = _Printer(self, b, ctx, buf).value(ty, v, depth)
            b.ret(status)
        return self._helper("print", ty, ir.FunctionType(I32, [PTR, PTR, llvm_type(ty), I32]), build)


class _Printer:
    """Builds the body of a print function: every append's status is or-ed into the result."""

    def __init__(self, objects: ObjectSupport, b: ir.IRBuilder, ctx, buf):
        self.o = objects
        self.b = b
        self.ctx = ctx
        self.buf = buf
        self.status = b.alloca(I32)
        b.store(ir.Constant(I32, 0), self.status)

    def _or(self, r: ir.Value) -> None:
        b = self.b
        b.store(b.or_(b.load(self.status, typ=I32), r), self.status)

    def text(self, s: str) -> None:
        self._or(rtabi.call(self.b, "trt_buf_append_str", self.ctx, self.buf, self.o.m.str_const(s)))

    def value(self, ty: IRType, v: ir.Value, depth: ir.Value) -> ir.Value:
        self.append(ty, v, depth)
        return self.b.load(self.status, typ=I32)

    def append(self, ty: IRType, v: ir.Value, depth: ir.Value) -> None:
        b, ctx, buf = self.b, self.ctx, self.buf
        if isinstance(ty, ScalarTy):
            if ty.is_bool:
                self._or(rtabi.call(b, "trt_buf_append_bool", ctx, buf, b.zext(v, I8)))
            elif ty.is_float:
                self._or(rtabi.call(b, f"trt_buf_append_{rtabi.RT_SUFFIX[ty.dtype]}", ctx, buf, v))
            else:
                wide = v if ty.dtype == "int64" else b.sext(v, I64)
                self._or(rtabi.call(b, "trt_buf_append_i64", ctx, buf, wide))
        elif isinstance(ty, StrTy):
            self._or(rtabi.call(b, "trt_buf_append_repr", ctx, buf, v))
        elif isinstance(ty, TensorTy):
            self._or(rtabi.call(b, "trt_buf_append_tensor", ctx, buf, v))
        elif isinstance(ty, (NoneTy, UnitTy)):
            self.text("None" if isinstance(ty, NoneTy) else "()")
        elif isinstance(ty, OptionalTy):
            present = (b.icmp_unsigned("!=", v, ir.Constant(PTR, None)) if ty.nullable_pointer
                       else b.extract_value(v, 0))
            with b.if_else(present) as (then, otherwise):
                with then:
                    self.append(ty.inner, v if ty.nullable_pointer else b.extract_value(v, 1), depth)
                with otherwise:
                    self.text("None")
        elif isinstance(ty, TupleTy):
            self.text("(")
            for i, item in enumerate(ty.items):
                if i:
                    self.text(", ")
                self.append(item, b.extract_value(v, i), depth)
            self.text(",)" if len(ty.items) == 1 else ")")
        elif isinstance(ty, ListTy):
            self._list(ty, v, depth)
        elif isinstance(ty, StructTy):
            self._struct(ty, v, depth)
        elif isinstance(ty, TraitTy):
            obj = b.extract_value(v, 0)
            desc = b.load(byte_ptr(b, obj, layout.OBJ_FIELDS["obj_type"][0]), typ=PTR)
            fn = b.load(byte_ptr(b, desc, layout.TYPE_FIELDS["type_print"][0]), typ=PTR)
            fnty = ir.FunctionType(I32, [PTR, PTR, PTR, I32])
            self._or(b.call(Callee(fn, fnty), [ctx, buf, obj, depth]))
        elif isinstance(ty, FnValTy):
            self.text("<function>")
        elif isinstance(ty, UnionTy):
            tag = b.extract_value(v, 0)
            for i, m in enumerate(ty.members):
                with b.if_then(b.icmp_signed("==", tag, ir.Constant(I32, i))):
                    self.append(m, b.extract_value(v, i + 1), depth)
        else:
            raise TypeError(f"cannot print {ty}")

    def _list(self, ty: ListTy, v, depth) -> None:
        b = self.b
        inner = b.add(depth, ir.Constant(I32, 1))
        deep = b.icmp_signed(">=", depth, ir.Constant(I32, MAX_PRINT_DEPTH))
        with b.if_else(deep) as (then, otherwise):
            with then:
                self.text("[...]")
            with otherwise:
                n = b.load(byte_ptr(b, v, layout.LIST_FIELDS["list_len"][0]), typ=I64)
                data = b.load(byte_ptr(b, v, layout.LIST_FIELDS["list_data"][0]), typ=PTR)
                self.text("[")
                fn = b.function
                slot = b.alloca(I64)
                b.store(ir.Constant(I64, 0), slot)
                head, body, end = fn.append_basic_block("p.head"), fn.append_basic_block("p.body"), \
                    fn.append_basic_block("p.end")
                b.branch(head)
                b.position_at_end(head)
                i = b.load(slot, typ=I64)
                b.cbranch(b.icmp_signed("<", i, n), body, end)
                b.position_at_end(body)
                with b.if_then(b.icmp_signed(">", i, ir.Constant(I64, 0))):
                    self.text(", ")
                size = elem_size(ty.elem)
                item = b.load(byte_ptr(b, data, b.mul(i, ir.Constant(I64, size))), typ=llvm_type(ty.elem))
                self._or(b.call(self.o.print_fn(ty.elem), [self.ctx, self.buf, item, inner]))
                b.store(b.add(i, ir.Constant(I64, 1)), slot)
                b.branch(head)
                b.position_at_end(end)
                self.text("]")

    def _struct(self, ty: StructTy, v, depth) -> None:
        b = self.b
        inner = b.add(depth, ir.Constant(I32, 1))
        deep = b.icmp_signed(">=", depth, ir.Constant(I32, MAX_PRINT_DEPTH))
        with b.if_else(deep) as (then, otherwise):
            with then:
                self.text(f"{ty.name}(...)")
            with otherwise:
                offsets, _ = self.o.struct_layout(ty.name)
                self.text(f"{ty.name}(")
                fields = self.o.struct_fields(ty.name)
                for k, ((fname, ft), off) in enumerate(zip(fields, offsets, strict=True)):
                    self.text(f"{', ' if k else ''}{fname}=")
                    item = b.load(byte_ptr(b, v, off), typ=llvm_type(ft))
                    self._or(b.call(self.o.print_fn(ft), [self.ctx, self.buf, item, inner]))
                self.text(")")


class FnPointer:
    """A function's address as an opaque `ptr` value (llvmlite would print a typed function pointer)."""

    def __init__(self, fn: ir.Function):
        self.fn = fn
        self.type = PTR

    def get_reference(self) -> str:
        return self.fn.get_reference()

    def __str__(self) -> str:  # as an element of a constant aggregate (the type is printed before it)
        return self.get_reference()



__all__ = ["ObjectSupport", "emit_refcount", "mem_layout", "field_offsets", "elem_size", "byte_ptr",
           "obj_pointer", "descriptor_symbol", "nested_object_types", "FnPointer"]
