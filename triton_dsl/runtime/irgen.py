"""Small helpers for writing the runtime library directly in LLVM IR with `llvmlite.ir`.

In: Python calls describing functions (`Emitter.define`), loops (`FnBuilder.loop`), branches, header
field accesses. Out: an `llvmlite.ir.Module` plus the table of public signatures (`Emitter.signatures`)
that `runtime/abi_table.py` writes into `abi/functions.py` for lowering and code generation.

Every runtime module (`rt_*.py`) exposes `emit(em: Emitter) -> None` and uses only these helpers, so
the IR style (allocas promoted by mem2reg, byte-offset field access, libc declarations) stays uniform.
"""

from __future__ import annotations

from contextlib import contextmanager

from llvmlite import ir

from ..abi import layout
from ..codegen.kernels.trk_ir import (
    F32,
    F64,
    HALF,
    I1,
    I8,
    I16,
    I32,
    I64,
    VOID,
    Callee,
    declare,
    entry_alloca,
)
from ..codegen.kernels.trk_ir import i8 as c8
from ..codegen.kernels.trk_ir import i32 as c32
from ..codegen.kernels.trk_ir import i64 as c64
from ..codegen.kernels.trk_ir import intrinsic as declare_intrinsic

# The runtime is written with opaque pointers throughout (the kernels' trk_ir.PTR is a typed i8*).
PTR = ir.PointerType()

__all__ = ["F32", "F64", "HALF", "I1", "I8", "I16", "I32", "I64", "PTR", "VOID", "c8", "c32", "c64",
           "Emitter", "FnBuilder", "opaque"]


# C library functions the runtime may call: name -> (return type, argument types, varargs).
_LIBC = {
    "malloc": (PTR, [I64], False),
    "realloc": (PTR, [PTR, I64], False),
    "free": (VOID, [PTR], False),
    "posix_memalign": (I32, [PTR, I64, I64], False),
    "memcpy": (PTR, [PTR, PTR, I64], False),
    "memmove": (PTR, [PTR, PTR, I64], False),
    "memset": (PTR, [PTR, I32, I64], False),
    "memcmp": (I32, [PTR, PTR, I64], False),
    "strlen": (I64, [PTR], False),
    "snprintf": (I32, [PTR, I64, PTR], True),
    "strtod": (F64, [PTR, PTR], False),
    "strtof": (F32, [PTR, PTR], False),
    "strtol": (I64, [PTR, PTR, I32], False),
    "write": (I64, [I32, PTR, I64], False),
    "clock_gettime": (I32, [I32, PTR], False),
    "log": (F64, [F64], False),
    "exp": (F64, [F64], False),
    "sqrt": (F64, [F64], False),
    "cos": (F64, [F64], False),
    "sin": (F64, [F64], False),
    "expf": (F32, [F32], False),
    "ceil": (F64, [F64], False),
    "logf": (F32, [F32], False),
}


class Emitter:
    """The runtime module under construction and its public signature table.

    `shared` (a dict every emitter of a library holds) lets the library be split into several modules:
    each function defined anywhere is registered there, and a call by name to a function of another
    module declares it (`get`, `FnBuilder.call`); `library.py` then gives the internal functions such
    references need hidden external linkage (`export_cross_references`).

    `aot`: the module is for an ahead-of-time library (no Python in the process; see
    `library.runtime_modules`), which changes how a few functions find their callees.
    """

    def __init__(self, name: str = "triton_dsl_runtime", kernels: Emitter | None = None,
                 shared: dict[str, ir.FunctionType] | None = None, aot: bool = False, split: bool = False):
        self.module = ir.Module(name=name)
        self.aot = aot
        # Hot leaf loops go to a separate module compiled with optimization (see `define(kernel=True)`).
        self.kernels = kernels
        self.shared = shared
        # split: every function defined here gets a module of its own (`children`), so that each can be
        # compiled alone; such functions must not share globals (`global_var` refuses).
        self.split = split
        self.children: list[Emitter] = []
        self.signatures: dict[str, tuple[ir.Type, list[ir.Type]]] = {}
        self._strings: dict[bytes, ir.GlobalVariable] = {}

    def get(self, name: str) -> ir.Function:
        found = self.module.globals.get(name)
        if found is None and self.shared is not None and name in self.shared:
            return declare(self.module, name, self.shared[name])
        return self.module.get_global(name)

    def libc(self, name: str) -> ir.Function:
        fn = self.module.globals.get(name)
        if fn is None:
            ret, args, var = _LIBC[name]
            fn = declare(self.module, name, ir.FunctionType(ret, args, var_arg=var))
        return fn

    def intrinsic(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        return declare_intrinsic(self.module, name, ret, args)

    def cstring(self, text: str | bytes) -> ir.GlobalVariable:
        """A private constant NUL-terminated string; usable directly as a `ptr`."""
        data = (text.encode() if isinstance(text, str) else text) + b"\0"
        gv = self._strings.get(data)
        if gv is None:
            arr = ir.ArrayType(I8, len(data))
            gv = ir.GlobalVariable(self.module, arr, f".str.{len(self._strings)}")
            gv.initializer = ir.Constant(arr, bytearray(data))
            gv.global_constant = True
            gv.linkage = "private"
            gv.unnamed_addr = True
            gv.type = PTR  # referenced as an opaque `ptr` (llvmlite would print a typed pointer)
            self._strings[data] = gv
        return gv

    def global_var(self, name: str, ty: ir.Type, init) -> ir.GlobalVariable:
        if self.split:
            raise TypeError(f"global {name!r}: the functions of a split emitter cannot share state (list "
                            f"this group in runtime/library.py's _HOT_WHOLE)")
        gv = ir.GlobalVariable(self.module, ty, name)
        gv.initializer = ir.Constant(ty, init)
        gv.linkage = "internal"
        gv.type = PTR
        return gv

    def callback_slot(self, name: str, setter: str) -> ir.GlobalVariable:
        """A function-pointer global `name` (null until set) and the public `void setter(ptr)` through
        which the host installs the callback."""
        slot = self.global_var(name, PTR, None)
        fb = self.define(setter, VOID, [PTR])
        fb.b.store(fb.args[0], slot)
        fb.ret()
        return slot

    def define(self, name: str, ret: ir.Type, args: list[ir.Type], public: bool = True,
               kernel: bool = False) -> FnBuilder:
        """Start a function body; public functions are exported and listed in `signatures`.

        kernel=True puts the body in the kernels module (optimized; it may call only libc, intrinsics
        and other kernels) and declares it here, so callers in this module are unchanged.
        """
        if kernel and self.kernels is not None:
            self.declare(name, ret, args)
            if public:
                self.signatures[name] = (ret, list(args))
            return self.kernels.define(name, ret, args, public=True)
        if self.split:
            child = Emitter(f"{self.module.name}.{name}", shared=self.shared)
            self.children.append(child)
            fb = child.define(name, ret, args, public=public)
            if public:
                self.signatures[name] = (ret, list(args))
            return fb
        fn = declare(self.module, name, ir.FunctionType(ret, args))
        if self.shared is not None:
            self.shared[name] = fn.function_type
        # Why noinline: the library is many small entry points around shared drivers; inlining the
        # drivers into every wrapper multiplies code size and LLVM compile time (paid at each start).
        fn.attributes.add("noinline")
        if public:
            self.signatures[name] = (ret, list(args))
        else:
            fn.linkage = "internal"
        return FnBuilder(self, fn)

    def declare(self, name: str, ret: ir.Type, args: list[ir.Type]) -> ir.Function:
        """Forward-declare a runtime function defined later (or by another rt_* module)."""
        return declare(self.module, name, ir.FunctionType(ret, args))


def opaque(value):
    """Give an address an opaque `ptr` type: llvmlite infers typed pointers for allocas and geps and
    would then refuse stores of other types through them (the IR text is `ptr` either way)."""
    value.type = PTR
    return value


class FnBuilder:
    """An `ir.IRBuilder` positioned in a new function, with loop/branch/field helpers."""

    def __init__(self, em: Emitter, fn: ir.Function):
        self.em = em
        self.fn = fn
        self.args = fn.args
        self._entry = fn.append_basic_block("entry")
        self.b = ir.IRBuilder(self._entry)
        self._exits: list[ir.Block] = []

    # -- values ---------------------------------------------------------------------------------------
    def var(self, ty: ir.Type, init=None, count: int | None = None):
        """A stack slot allocated in the entry block (so mem2reg can promote it)."""
        slot = opaque(entry_alloca(self.b, ty, count=count))
        if init is not None:
            self.b.store(init if isinstance(init, ir.Value) else ir.Constant(ty, init), slot)
        return slot

    def load(self, ptr, ty: ir.Type):
        return self.b.load(ptr, typ=ty)

    def at(self, ptr, index, ty: ir.Type):
        """Address of element `index` (i64) of type `ty` in the array at `ptr`."""
        if isinstance(index, int):
            index = c64(index)
        return opaque(self.b.gep(ptr, [index], source_etype=ty))

    def byte_at(self, ptr, offset):
        if isinstance(offset, int):
            offset = c64(offset)
        return opaque(self.b.gep(ptr, [offset], source_etype=I8))

    def field_ptr(self, obj, name: str):
        off, _ = layout.FIELDS[name]
        return self.byte_at(obj, off)

    def get(self, obj, name: str):
        """Load a field of a tensor header or context by its layout name."""
        off, ty = layout.FIELDS[name]
        return self.b.load(self.byte_at(obj, off), typ=ty)

    def put(self, obj, name: str, value) -> None:
        off, ty = layout.FIELDS[name]
        if not isinstance(value, ir.Value):
            value = ir.Constant(ty, value)
        self.b.store(value, self.byte_at(obj, off))

    def add_to_refcount(self, obj, field: str, delta: int):
        """Add `delta` to the refcount field `field` of obj and give the new count — after returning from
        the function when obj is null or immortal (a negative count: literals, static objects)."""
        self.ret_if(self.is_null(obj))
        rc = self.get(obj, field)
        self.ret_if(self.b.icmp_signed("<", rc, c64(0)))
        rc = self.b.add(rc, c64(delta))
        self.put(obj, field, rc)
        return rc

    def dim(self, t, axis):
        """shape[axis] of a tensor header (axis: i64 or int)."""
        base = self.byte_at(t, layout.SHAPE_OFFSET)
        return self.load(self.at(base, axis, I64), I64)

    def call(self, name: str, *args):
        fn = self.em.module.globals.get(name)
        if fn is None:
            shared = self.em.shared
            if shared is not None and name in shared:
                fn = declare(self.em.module, name, shared[name])
            else:
                fn = self.em.libc(name)
        return self.b.call(fn, list(args))

    def call_ptr(self, fnptr, ret: ir.Type, argtys: list[ir.Type], args: list):
        """Call through a function pointer of type `ret (argtys)`.

        llvmlite's call instruction reads the callee's `function_type`; an opaque `ptr` value has none,
        so the call goes through a small proxy that supplies it.
        """
        return self.b.call(Callee(fnptr, ir.FunctionType(ret, argtys)), args)

    # -- control flow ---------------------------------------------------------------------------------
    @contextmanager
    def loop(self, start, stop, step=1):
        """for (i = start; i < stop; i += step) — yields the i64 induction value."""
        b = self.b
        start = c64(start) if isinstance(start, int) else start
        stop = c64(stop) if isinstance(stop, int) else stop
        step = c64(step) if isinstance(step, int) else step
        slot = self.var(I64, start)
        cond = self.fn.append_basic_block("loop.cond")
        body = self.fn.append_basic_block("loop.body")
        end = self.fn.append_basic_block("loop.end")
        b.branch(cond)
        b.position_at_end(cond)
        iv = b.load(slot, typ=I64)
        b.cbranch(b.icmp_signed("<", iv, stop), body, end)
        b.position_at_end(body)
        self._exits.append(end)
        yield iv
        self._exits.pop()
        if not b.block.is_terminated:
            b.store(b.add(iv, step), slot)
            b.branch(cond)
        b.position_at_end(end)

    def break_(self) -> None:
        """Leave the innermost `loop` (emit inside an `if_then`)."""
        self.b.branch(self._exits[-1])

    def if_then(self, cond, likely=None):
        return self.b.if_then(cond, likely=likely)

    def if_else(self, cond):
        return self.b.if_else(cond)

    def ret(self, value=None):
        if value is None:
            self.b.ret_void()
        else:
            self.b.ret(value)

    def ret_if(self, cond, value=None) -> None:
        """Return early (`value`, or void) when `cond` holds."""
        with self.b.if_then(cond, likely=False):
            self.ret(value)

    def is_null(self, p):
        return self.b.icmp_unsigned("==", p, ir.Constant(PTR, None))

    def div_or(self, a, b, default):
        """a / b (signed), or `default` when b == 0 — without ever executing a division by zero
        (`select` evaluates both operands, so the divisor itself must be made safe)."""
        zero = self.b.icmp_signed("==", b, ir.Constant(b.type, 0))
        q = self.b.sdiv(a, self.b.select(zero, ir.Constant(b.type, 1), b))
        fallback = default if isinstance(default, ir.Value) else ir.Constant(b.type, default)
        return self.b.select(zero, fallback, q)

    def select(self, cond, a, b):
        return self.b.select(cond, a, b)
