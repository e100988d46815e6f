"""Entry points of public functions: how code outside the program calls into it.

In: a `ModuleEmitter` and a public IR function. Out: LLVM wrapper functions:

- `void @tdsl_call.<name>(ptr ctx, ptr args, ptr results)` — every argument in an 8-byte slot of
  `args` (scalars in their C ABI type, bool as a byte; tensors as header pointers), the result
  flattened into the slots of `results` (a tuple gives one slot per leaf). The Python API calls this
  with one ctypes signature for every function.
- `i32 @<name>(ptr ctx, <C ABI params>..., ptr out)` — the C ABI of a shared library: returns the
  context's error code (0 = ok) and writes the result to `*out` (a struct for tuples and optional
  scalars); an optional scalar parameter is `const T *` (NULL is None), an optional tensor a nullable
  `trt_tensor *`. Tensor arguments are checked first (`trt_check_argument`: not NULL, declared dtype,
  rank and static dims), as the Python API checks them in Python.
  `c_header(...)` describes these functions in C, after the runtime's C API (`runtime/rt_capi.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..abi.c_api import c_api_header
from ..ir.nodes import Function
from ..ir.types import BOOL, UNIT, IRType, OptionalTy, ScalarTy, StrTy, TensorTy, TraitTy, TupleTy, UnitTy
from . import rtabi
from .llvm_types import I32, I64, PTR, VOID, abi_type, llvm_type

if TYPE_CHECKING:
    from .module import ModuleEmitter

SLOT = 8


def flatten_type(ty: IRType) -> list[IRType]:
    """The leaves of a type in slot order: tuples give their items, an optional scalar (or tuple) gives
    a presence flag then its value; a tensor or string optional is one (nullable) pointer."""
    if isinstance(ty, TupleTy):
        return [leaf for item in ty.items for leaf in flatten_type(item)]
    if isinstance(ty, OptionalTy) and not ty.nullable_pointer:
        return [BOOL, *flatten_type(ty.inner)]
    if isinstance(ty, UnitTy):
        return []
    if isinstance(ty, TraitTy):  # {ptr obj, ptr vtable}: two slots, read and written as one value
        return [ty, UNIT]
    return [ty]


def _to_abi(b: ir.IRBuilder, value: ir.Value, ty: IRType) -> ir.Value:
    if isinstance(ty, ScalarTy) and ty.is_bool:
        return b.zext(value, abi_type(ty))
    if isinstance(ty, OptionalTy) and not ty.nullable_pointer:
        agg = ir.Constant(abi_type(ty), ir.Undefined)
        agg = b.insert_value(agg, b.zext(b.extract_value(value, 0), abi_type(BOOL)), 0)
        return b.insert_value(agg, _to_abi(b, b.extract_value(value, 1), ty.inner), 1)
    return value


def _from_abi(b: ir.IRBuilder, value: ir.Value, ty: IRType) -> ir.Value:
    if isinstance(ty, ScalarTy) and ty.is_bool:
        return b.icmp_unsigned("!=", value, ir.Constant(value.type, 0))
    if isinstance(ty, OptionalTy) and not ty.nullable_pointer:
        agg = ir.Constant(llvm_type(ty), ir.Undefined)
        agg = b.insert_value(agg, _from_abi(b, b.extract_value(value, 0), BOOL), 0)
        return b.insert_value(agg, _from_abi(b, b.extract_value(value, 1), ty.inner), 1)
    return value


def _leaves(b: ir.IRBuilder, value: ir.Value, ty: IRType) -> list[tuple[ir.Value, IRType]]:
    if isinstance(ty, TupleTy):
        out = []
        for i, item in enumerate(ty.items):
            out += _leaves(b, b.extract_value(value, i), item)
        return out
    if isinstance(ty, OptionalTy) and not ty.nullable_pointer:
        return [(b.extract_value(value, 0), BOOL), *_leaves(b, b.extract_value(value, 1), ty.inner)]
    return [(value, ty)]


def _assemble(b: ir.IRBuilder, ty: IRType, read) -> ir.Value:
    """A value of `ty` from consecutive slots (`read(leaf_type)` loads the next one)."""
    if isinstance(ty, TupleTy) or (isinstance(ty, OptionalTy) and not ty.nullable_pointer):
        parts = ty.items if isinstance(ty, TupleTy) else (BOOL, ty.inner)
        agg = ir.Constant(llvm_type(ty), ir.Undefined)
        for i, item in enumerate(parts):
            agg = b.insert_value(agg, _assemble(b, item, read), i)
        return agg
    return read(ty)


def _slot(b: ir.IRBuilder, base: ir.Value, index: int) -> ir.Value:
    return b.gep(base, [ir.Constant(I64, index * SLOT)], source_etype=ir.IntType(8))


def emit_slot_entry(m: ModuleEmitter, fn: Function) -> ir.Function:
    llfn = ir.Function(m.llmod, ir.FunctionType(VOID, [PTR, PTR, PTR]), f"tdsl_call.{fn.name}")
    ctx, args, results = llfn.args
    b = ir.IRBuilder(llfn.append_basic_block("entry"))
    counter = iter(range(1 << 30))

    def read(leaf: IRType) -> ir.Value:
        raw = b.load(_slot(b, args, next(counter)), typ=abi_type(leaf))
        if isinstance(leaf, TraitTy):
            next(counter)  # its second slot (the method table) was loaded with the first
        return _from_abi(b, raw, leaf)

    params = [_assemble(b, p.type, read) for p in fn.params]
    value = b.call(m.function(fn.name), [ctx, *params])
    if not isinstance(fn.ret_type, UnitTy):
        i = 0
        for leaf, ty in _leaves(b, value, fn.ret_type):
            b.store(_to_abi(b, leaf, ty), _slot(b, results, i))
            # a trait object fills two slots (`flatten_type`): the next leaf goes after its method table
            i += 2 if isinstance(ty, TraitTy) else 1
    b.ret_void()
    return llfn


def _c_struct(ty: IRType) -> ir.Type:
    if isinstance(ty, TupleTy):
        return ir.LiteralStructType([_c_struct(t) for t in ty.items])
    return abi_type(ty)


def _by_pointer(ty: IRType) -> bool:
    """C ABI parameters passed by pointer: optional scalars (NULL is None). Aggregates by value would
    not follow the platform's C calling convention when emitted as LLVM first-class structs."""
    return isinstance(ty, OptionalTy) and not ty.nullable_pointer


def _c_param(b: ir.IRBuilder, arg: ir.Value, ty: IRType) -> ir.Value:
    if not _by_pointer(ty):
        return _from_abi(b, arg, ty)
    present = b.icmp_unsigned("!=", b.ptrtoint(arg, I64), ir.Constant(I64, 0))
    with b.if_else(present) as (then, otherwise):
        with then:
            loaded = _from_abi(b, b.load(arg, typ=abi_type(ty.inner)), ty.inner)
            then_bb = b.block
        with otherwise:
            else_bb = b.block
    inner = b.phi(llvm_type(ty.inner))
    inner.add_incoming(loaded, then_bb)
    inner.add_incoming(ir.Constant(llvm_type(ty.inner), None), else_bb)
    agg = b.insert_value(ir.Constant(llvm_type(ty), ir.Undefined), present, 0)
    return b.insert_value(agg, inner, 1)


def _check_tensor_args(m: ModuleEmitter, b: ir.IRBuilder, fn: Function, ctx: ir.Value,
                       args: list[ir.Value]) -> None:
    """C callers get the checks the Python API makes before a call: every tensor argument is a live
    header of the declared dtype, rank and static dims (named dims agreeing between arguments are
    checked by the function itself). A failing check returns the error code before the call."""
    declared = fn.param_declared or [""] * len(fn.params)
    dims = fn.param_dims or [None] * len(fn.params)
    for i, (arg, param) in enumerate(zip(args, fn.params, strict=True)):
        ty, optional = param.type, False
        if isinstance(ty, OptionalTy) and ty.nullable_pointer:
            ty, optional = ty.inner, True
        if not isinstance(ty, TensorTy):
            continue
        shape = dims[i] if dims[i] is not None and len(dims[i]) == ty.rank else (None,) * ty.rank
        table = ir.ArrayType(I64, max(1, ty.rank))
        static = ir.GlobalVariable(m.llmod, table, f".argdims.{fn.name}.{i}")
        static.initializer = ir.Constant(table, [d if isinstance(d, int) else -1 for d in shape] or [0])
        static.global_constant = True
        static.linkage = "private"
        what = m.cstring(f"{fn.source_name or fn.name}(): argument '{_param_name(fn, i)}'")
        spelled = m.cstring(declared[i] or str(ty))
        if optional:
            given = b.icmp_unsigned("!=", b.ptrtoint(arg, I64), ir.Constant(I64, 0))
            with b.if_then(given):
                _call_check(b, ctx, arg, ty, static, what, spelled)
        else:
            _call_check(b, ctx, arg, ty, static, what, spelled)


def _param_name(fn: Function, i: int) -> str:
    return fn.param_names[i] if i < len(fn.param_names) else f"#{i + 1}"


def _call_check(b: ir.IRBuilder, ctx: ir.Value, arg: ir.Value, ty: TensorTy, static: ir.Value,
                what: ir.Value, spelled: ir.Value) -> None:
    code = ir.Constant(I32, rtabi.DTYPE_CODE[ty.dtype])
    status = rtabi.call(b, "trt_check_argument", ctx, arg, code, ir.Constant(I32, ty.rank), static, what,
                        spelled)
    with b.if_then(b.icmp_signed("!=", status, ir.Constant(I32, 0)), likely=False):
        b.ret(b.load(ctx, typ=I32))


def emit_c_abi_wrapper(m: ModuleEmitter, fn: Function) -> ir.Function:
    has_out = not isinstance(fn.ret_type, UnitTy)
    params = [PTR] + [PTR if _by_pointer(p.type) else abi_type(p.type) for p in fn.params]
    params += [PTR] if has_out else []
    llfn = ir.Function(m.llmod, ir.FunctionType(I32, params), fn.name)
    b = ir.IRBuilder(llfn.append_basic_block("entry"))
    ctx = llfn.args[0]
    _check_tensor_args(m, b, fn, ctx, list(llfn.args[1:len(fn.params) + 1]))
    args = [_c_param(b, a, p.type) for a, p in zip(llfn.args[1:], fn.params, strict=False)]
    value = b.call(m.function(fn.name), [ctx, *args])
    if has_out:
        b.store(_c_value(b, value, fn.ret_type), llfn.args[-1])
    b.ret(b.load(ctx, typ=I32))
    return llfn


def _c_value(b: ir.IRBuilder, value: ir.Value, ty: IRType) -> ir.Value:
    if isinstance(ty, TupleTy):
        agg = ir.Constant(_c_struct(ty), ir.Undefined)
        for i, item in enumerate(ty.items):
            agg = b.insert_value(agg, _c_value(b, b.extract_value(value, i), item), i)
        return agg
    return _to_abi(b, value, ty)


_C_SCALARS = {"bool": "uint8_t", "trit": "int8_t", "int8": "int8_t", "int16": "int16_t",
              "int32": "int32_t", "int64": "int64_t", "float16": "_Float16", "float32": "float",
              "float64": "double"}


def c_type(ty: IRType, name: str, structs: list[str]) -> str:
    if isinstance(ty, ScalarTy):
        return _C_SCALARS[ty.dtype]
    if isinstance(ty, TensorTy):
        return "trt_tensor *"  # declarations read `trt_tensor *x` (see _c_decl)
    if isinstance(ty, StrTy):
        return "trt_str *"
    if isinstance(ty, TupleTy):
        fields = "; ".join(f"{c_type(t, f'{name}_{i}', structs)} f{i}" for i, t in enumerate(ty.items))
        structs.append(f"typedef struct {{ {fields}; }} {name};")
        return name
    if isinstance(ty, OptionalTy):
        if ty.nullable_pointer:
            return c_type(ty.inner, name, structs)  # NULL is None
        opt = f"{name}_opt"
        value = c_type(ty.inner, name, structs)
        structs.append(f"typedef struct {{ uint8_t present; {value} value; }} {opt};")
        return opt
    raise TypeError(f"no C type for {ty}")


def has_c_abi(fn: Function) -> bool:
    """Whether every parameter and the result of `fn` has a C type (functions taking or returning structs,
    lists, trait objects or function values are callable in the library but not exported to C yet)."""
    try:
        for ty in [p.type for p in fn.params] + ([] if isinstance(fn.ret_type, UnitTy) else [fn.ret_type]):
            c_type(ty.inner if _by_pointer(ty) else ty, "probe", [])
    except TypeError:
        return False
    return True


def _c_decl(ctype: str, name: str) -> str:
    return f"{ctype}{name}" if ctype.endswith("*") else f"{ctype} {name}"


def c_header(functions: list[Function], guard: str) -> str:
    """A C header declaring the C ABI of `functions` (see the module docstring)."""
    structs: list[str] = []
    protos = []
    for fn in (f for f in functions if has_c_abi(f)):
        params = ["trt_ctx *ctx"] + [
            _c_decl(("const " + c_type(p.type.inner, fn.name, structs) + " *") if _by_pointer(p.type)
                    else c_type(p.type, fn.name, structs), n)
            for p, n in zip(fn.params, fn.param_names, strict=False)]
        if not isinstance(fn.ret_type, UnitTy):
            params.append(_c_decl(c_type(fn.ret_type, f"{fn.name}_result", structs), "*out"))
        protos.append(f"int32_t {fn.name}({', '.join(params)});")
    return "\n".join([
        f"#ifndef {guard}", f"#define {guard}", "/* Generated by tritonc build. Each function returns 0 on",
        "   success, else the error code left in the context (see docs/runtime.md, \"Using a built",
        "   library from C\"). Link: the library, then -lm -lpthread. */",
        "#include <stdint.h>", "#ifdef __cplusplus", 'extern "C" {', "#endif",
        *c_api_header(), *structs, *protos, "#ifdef __cplusplus", "}", "#endif", f"#endif /* {guard} */", ""])


__all__ = ["emit_slot_entry", "emit_c_abi_wrapper", "c_header", "flatten_type", "has_c_abi", "llvm_type",
           "rtabi"]
