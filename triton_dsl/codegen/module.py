"""Emission of a whole IR module as LLVM IR text.

In: an `ir.Module` (verified, after passes) and a `target.Target`. Out: `emit_module(...)` → LLVM IR
text for that target, ready for `jit.JitModule` / `jit.emit_object`. Every IR function `f` becomes
`@tdsl.f(ptr ctx, params...)` (internal linkage unless public). Public functions also get entry points
(`codegen.entry`): `@tdsl_call.f(ptr ctx, ptr args, ptr results)` (8-byte slots, used by the Python
API) and, for shared libraries, a C ABI function `f` described in a generated header.
"""

from __future__ import annotations

from llvmlite import ir

from ..ir.nodes import Module
from ..ir.types import StructTy, UnitTy
from ..target import Target
from .function import FunctionEmitter
from .llvm_types import I1, I8, I64, PTR, llvm_type


def impl_name(name: str) -> str:
    return f"tdsl.{name}"


class ModuleEmitter:
    def __init__(self, module: Module, target: Target, name: str = "triton_module", *,
                 external: frozenset[str] = frozenset(), export_all: bool = False):
        self.ir_module = module
        self.external = external
        self.target = target
        self.llmod = ir.Module(name)
        self.llmod.triple = target.triple
        self._functions: dict[str, ir.Function] = {}
        self._cstrings: dict[str, ir.GlobalVariable] = {}
        self._strs: dict[str, ir.GlobalVariable] = {}
        from .objects import ObjectSupport
        self.objects = ObjectSupport(self)
        for fn in module.functions.values():
            params = [PTR] + [llvm_type(p.type) for p in fn.params]
            fnty = ir.FunctionType(llvm_type(fn.ret_type), params)
            llfn = ir.Function(self.llmod, fnty, impl_name(fn.name))
            if not fn.public and not export_all and fn.name not in external:
                llfn.linkage = "internal"  # lets LLVM inline and drop it
            llfn.args[0].name = "ctx"
            for arg, pname in zip(llfn.args[1:], fn.param_names or [], strict=False):
                arg.name = pname
            self._functions[fn.name] = llfn

    def function(self, name: str) -> ir.Function:
        return self._functions[name]

    # -- constants ------------------------------------------------------------------------------------
    def cstring(self, text: str) -> ir.Value:
        """A NUL-terminated constant (file names, messages)."""
        g = self._cstrings.get(text)
        if g is None:
            data = bytearray(text.encode("utf-8") + b"\0")
            ty = ir.ArrayType(I8, len(data))
            g = ir.GlobalVariable(self.llmod, ty, f".cstr.{len(self._cstrings)}")
            g.initializer = ir.Constant(ty, data)
            g.global_constant = True
            g.linkage = "private"
            g.unnamed_addr = True
            self._cstrings[text] = g
        return g

    def str_const(self, text: str) -> ir.Value:
        """An immortal `trt_str` literal: { i64 -1, i64 len, [len+1 x i8] }."""
        g = self._strs.get(text)
        if g is None:
            data = bytearray(text.encode("utf-8") + b"\0")
            arr = ir.ArrayType(I8, len(data))
            ty = ir.LiteralStructType([I64, I64, arr])
            g = ir.GlobalVariable(self.llmod, ty, f".str.{len(self._strs)}")
            g.initializer = ir.Constant(ty, [ir.Constant(I64, -1), ir.Constant(I64, len(data) - 1),
                                             ir.Constant(arr, data)])
            g.global_constant = True
            g.linkage = "private"
            self._strs[text] = g
        return g

    def const_array(self, dtype: str, values: list) -> ir.Value:
        """A private constant array of tensor elements (a tensor literal's data)."""
        from .llvm_types import memory_type

        elem = memory_type(dtype)
        if dtype == "bool":
            values = [int(bool(v)) for v in values]
        elif dtype.startswith("float"):
            values = [float(v) for v in values]
        else:
            values = [int(v) for v in values]
        ty = ir.ArrayType(elem, max(1, len(values)))
        g = ir.GlobalVariable(self.llmod, ty, f".data.{len(self.llmod.globals)}")
        g.initializer = ir.Constant(ty, [ir.Constant(elem, v) for v in values] or [ir.Constant(elem, 0)])
        g.global_constant = True
        g.linkage = "private"
        return g

    @staticmethod
    def coerce(b: ir.IRBuilder, value: ir.Value, to: ir.Type) -> ir.Value:
        """Adapt register and ABI forms (bool i1 ↔ i8) at runtime-call boundaries."""
        if value.type == to:
            return value
        if value.type == I1 and isinstance(to, ir.IntType):
            return b.zext(value, to)
        if to == I1 and isinstance(value.type, ir.IntType):
            return b.icmp_unsigned("!=", value, ir.Constant(value.type, 0))
        if isinstance(value.type, ir.IntType) and isinstance(to, ir.IntType):
            return b.sext(value, to) if to.width > value.type.width else b.trunc(value, to)
        raise TypeError(f"cannot pass {value.type} as {to}")

    # -- driver ---------------------------------------------------------------------------------------
    def emit(self, *, c_abi: bool = False) -> ir.Module:
        from .entry import emit_c_abi_wrapper, emit_slot_entry, has_c_abi

        # The descriptors of struct and list parameters get exported names: the Python API builds them.
        self.objects.export_descriptors([p.type for fn in self.ir_module.functions.values() if fn.public
                                         for p in fn.params])
        for struct, trait in list(self.ir_module.vtables):  # the tables a Python caller's struct needs
            if trait in self.ir_module.exported_traits:
                self.objects.vtable(struct, trait)
                self.objects.export_descriptors([StructTy(struct)])
        for fn in self.ir_module.functions.values():
            if fn.name not in self.external:  # defined by a module loaded earlier: a declaration here
                FunctionEmitter(self, fn, self._functions[fn.name]).emit()
        for fn in self.ir_module.functions.values():
            if fn.name in self.external:
                continue
            if fn.public or fn.name == self.ir_module.entry:
                emit_slot_entry(self, fn)
                if c_abi and not fn.generic and has_c_abi(fn):
                    emit_c_abi_wrapper(self, fn)
        return self.llmod


def emit_module(module: Module, target: Target, *, name: str = "triton_module", c_abi: bool = False,
                parallel: bool = False, external: frozenset[str] = frozenset(),
                export_all: bool = False) -> str:
    """LLVM IR text of an IR module for `target` (its kernel variants decide which kernels are called);
    `c_abi` adds the C entry points of a shared library; `parallel` splits large fused loops with
    `trk_parallel_for` (the kernel library must be loaded).

    For the REPL (`repl_session`), which compiles each entry as its own module: the functions named in
    `external` are only declared (an earlier entry's module defines them, and its addresses are published
    before this one loads), and `export_all` keeps every defined function visible (not internal) so that
    later entries can call it."""
    emitter = ModuleEmitter(module, target, name, external=external, export_all=export_all)
    emitter.parallel = parallel
    return str(emitter.emit(c_abi=c_abi))


def returns_value(fn) -> bool:
    return not isinstance(fn.ret_type, UnitTy)
