"""IR ops on heap objects (a mixin of `FunctionEmitter`): structs, lists, printing, tensor retyping.

In: `new_struct`, `field_get`, `field_set`, `list_new`, `list_len`, `list_get`, `list_set`, `list_append`,
`list_pop`, `print_value`, `retype`, `rank_cast` ops. Out: LLVM IR on the object layouts of
`codegen.objects` (docs/runtime.md "Objects"). Every op follows the refcount pass's contract: operands
are borrowed, results are fresh references (a value read out of an object is incref'ed; `list_pop` hands
over the list's own reference), and a value stored into an object is incref'ed by the store.
Index checks are inline; a failure reports the list's length and the index at the op's source location.
"""

from __future__ import annotations

from llvmlite import ir

from ..abi import layout
from ..ir.nodes import Op
from ..ir.types import ListTy, StructTy
from . import rtabi
from .kernels.trk_ir import Callee
from .llvm_types import I32, I64, PTR, llvm_type
from .objects import byte_ptr, elem_size, emit_refcount

_LEN = layout.LIST_FIELDS["list_len"][0]
_DATA = layout.LIST_FIELDS["list_data"][0]


class ObjectOpsMixin:
    # -- structs ------------------------------------------------------------------------------------------
    def op_new_struct(self, op: Op) -> None:
        ty = op.result.type
        objects = self.m.objects
        offsets, size = objects.struct_layout(ty.name)
        obj = rtabi.call(self.b, "trt_obj_new", self.ctx, objects.descriptor(ty), ir.Constant(I64, size))
        self.check_error(op.span)
        for v, off in zip(op.operands, offsets, strict=True):
            self.store_owned(obj, off, v)
        self.bind(op.results, [obj])

    def store_owned(self, base: ir.Value, offset, v) -> None:
        """Store a value into an object (or list slot) and count the reference the object now holds."""
        value = self.get(v)
        self.b.store(value, byte_ptr(self.b, base, offset))
        if v.type.is_refcounted():
            emit_refcount(self.b, v.type, value, "incref")

    def _field_addr(self, op: Op) -> tuple[ir.Value, ir.Type]:
        obj = op.operands[0]
        offsets, _ = self.m.objects.struct_layout(obj.type.name)
        ft = self.m.objects.struct_fields(obj.type.name)[op.attrs["index"]][1]
        return byte_ptr(self.b, self.get(obj), offsets[op.attrs["index"]]), ft

    def op_field_get(self, op: Op) -> None:
        addr, ft = self._field_addr(op)
        value = self.b.load(addr, typ=llvm_type(ft))
        if ft.is_refcounted():
            emit_refcount(self.b, ft, value, "incref")
        self.bind(op.results, [value])

    def op_field_set(self, op: Op) -> None:
        addr, ft = self._field_addr(op)
        self.replace_at(addr, ft, op.operands[1])

    def replace_at(self, addr: ir.Value, ty, v) -> None:
        """Store `v` at `addr` in place of the value there: the new one is counted, the old released (after
        the store, so that an old value whose drop reaches this object again sees it consistent)."""
        new = self.get(v)
        if ty.is_refcounted():
            emit_refcount(self.b, ty, new, "incref")
            old = self.b.load(addr, typ=llvm_type(ty))
            self.b.store(new, addr)
            emit_refcount(self.b, ty, old, "decref")
        else:
            self.b.store(new, addr)

    # -- lists --------------------------------------------------------------------------------------------
    def list_len(self, lst: ir.Value) -> ir.Value:
        return self.b.load(byte_ptr(self.b, lst, _LEN), typ=I64)

    def list_slot(self, lst: ir.Value, index: ir.Value, elem) -> ir.Value:
        data = self.b.load(byte_ptr(self.b, lst, _DATA), typ=PTR)
        return byte_ptr(self.b, data, self.b.mul(index, ir.Constant(I64, elem_size(elem))))

    def op_list_new(self, op: Op) -> None:
        ty: ListTy = op.result.type
        desc = self.m.objects.descriptor(ty)
        n = len(op.operands)
        lst = rtabi.call(self.b, "trt_list_new", self.ctx, desc, ir.Constant(I64, n))
        self.check_error(op.span)
        if n:
            data = self.b.load(byte_ptr(self.b, lst, _DATA), typ=PTR)
            size = elem_size(ty.elem)
            for i, v in enumerate(op.operands):
                self.store_owned(data, i * size, v)
        self.bind(op.results, [lst])

    def op_list_len(self, op: Op) -> None:
        self.bind(op.results, [self.list_len(self.get(op.operands[0]))])

    def checked_index(self, lst: ir.Value, index: ir.Value, span, message: str | None = None) -> ir.Value:
        """`index` made non-negative (a negative index counts from the end) and checked against the length;
        out of range is a run-time error naming the index and the length (or `message`)."""
        b = self.b
        n = self.list_len(lst)
        k = b.select(b.icmp_signed("<", index, ir.Constant(I64, 0)), b.add(index, n), index)
        outside = b.icmp_unsigned(">=", k, n)  # also catches a negative k
        fail, ok = self.new_block("index.fail"), self.new_block("index.ok")
        b.cbranch(outside, fail, ok)
        b.position_at_end(fail)
        if message is None:
            rtabi.call(b, "trt_err_list_index", self.ctx, index, n)
        else:
            code = ir.Constant(I32, rtabi.ERR_INDEX)
            rtabi.call(b, "trt_set_error", self.ctx, code, self.m.cstring(message))
        self.set_location(span)
        b.branch(self.error_exit)
        b.position_at_end(ok)
        return k

    def op_list_get(self, op: Op) -> None:
        lst_v, idx_v = op.operands
        lst = self.get(lst_v)
        elem = lst_v.type.elem
        k = self.checked_index(lst, self.get(idx_v), op.span) if not op.attrs.get("unchecked") \
            else self.get(idx_v)
        value = self.b.load(self.list_slot(lst, k, elem), typ=llvm_type(elem))
        if elem.is_refcounted():
            emit_refcount(self.b, elem, value, "incref")
        self.bind(op.results, [value])

    def op_list_set(self, op: Op) -> None:
        lst_v, idx_v, value = op.operands
        lst = self.get(lst_v)
        k = self.checked_index(lst, self.get(idx_v), op.span)
        self.replace_at(self.list_slot(lst, k, lst_v.type.elem), lst_v.type.elem, value)

    def op_list_append(self, op: Op) -> None:
        lst_v, value = op.operands
        slot = rtabi.call(self.b, "trt_list_push", self.ctx, self.get(lst_v))
        self.check_error(op.span)
        self.store_owned(slot, 0, value)

    def op_list_pop(self, op: Op) -> None:
        lst_v = op.operands[0]
        lst = self.get(lst_v)
        elem = lst_v.type.elem
        if len(op.operands) > 1:
            k = self.checked_index(lst, self.get(op.operands[1]), op.span, "pop index out of range")
        else:
            n = self.list_len(lst)
            k = self.checked_index(lst, self.b.sub(n, ir.Constant(I64, 1)), op.span, "pop from an empty list")
        value = self.b.load(self.list_slot(lst, k, elem), typ=llvm_type(elem))  # the list's reference: ours
        rtabi.call(self.b, "trt_list_remove", lst, k)
        self.bind(op.results, [value])

    def list_data(self, lst: ir.Value) -> ir.Value:
        """The address of a list's first element (for a runtime call taking an array, e.g. `trt_stack`)."""
        return self.b.load(byte_ptr(self.b, lst, _DATA), typ=PTR)

    # -- function values ----------------------------------------------------------------------------------
    def op_make_closure(self, op: Op) -> None:
        """`{code, env}`: the environment object holds the captured values (null when there are none)."""
        from .objects import FnPointer
        env_ty = StructTy(op.attrs["env"])
        if op.operands:
            objects = self.m.objects
            offsets, size = objects.struct_layout(env_ty.name)
            desc = objects.descriptor(env_ty)
            env = rtabi.call(self.b, "trt_obj_new", self.ctx, desc, ir.Constant(I64, size))
            self.check_error(op.span)
            for v, off in zip(op.operands, offsets, strict=True):
                self.store_owned(env, off, v)
        else:
            env = ir.Constant(PTR, None)
        pair = ir.Constant(ir.LiteralStructType([PTR, PTR]), None)
        pair = self.b.insert_value(pair, FnPointer(self.m.function(op.attrs["fn"])), 0)
        self.bind(op.results, [self.b.insert_value(pair, env, 1)])

    def op_call_value(self, op: Op) -> None:
        """A call through a function value: `code(ctx, env, args...)`, one indirect call."""
        fv, *args = op.operands
        pair = self.get(fv)
        ty = fv.type
        fnty = ir.FunctionType(llvm_type(ty.ret), [PTR, PTR, *(llvm_type(p) for p in ty.params)])
        code, env = self.b.extract_value(pair, 0), self.b.extract_value(pair, 1)
        result = self.b.call(Callee(code, fnty), [self.ctx, env, *(self.get(a) for a in args)])
        self.check_error(op.span, call_site=True)
        self.bind(op.results, [result] if op.results else [])

    # -- top-level variables that functions read (ir/lower_globals.py) ------------------------------------
    def op_global_set(self, op: Op) -> None:
        value, flag = self.m.objects.program_global(op.attrs["name"], op.operands[0].type)
        self.replace_at(value, op.operands[0].type, op.operands[0])
        self.b.store(ir.Constant(ir.IntType(8), 1), flag)

    def op_global_get(self, op: Op) -> None:
        ty = op.result.type
        value, flag = self.m.objects.program_global(op.attrs["name"], ty)
        byte = ir.IntType(8)
        unset = self.b.icmp_unsigned("==", self.b.load(flag, typ=byte), ir.Constant(byte, 0))
        name = op.attrs["name"]
        self.fail_if(unset, rtabi.ERR_RUNTIME, f"`{name}` is read before the top-level `let {name}` ran "
                     "(run the program's top-level code first)", op.span)
        v = self.b.load(value, typ=llvm_type(ty))
        emit_refcount(self.b, ty, v, "incref")
        self.bind(op.results, [v])

    def op_global_clear(self, op: Op) -> None:
        ty = op.attrs["type"]
        value, flag = self.m.objects.program_global(op.attrs["name"], ty)
        set_ = self.b.icmp_unsigned("!=", self.b.load(flag, typ=ir.IntType(8)), ir.Constant(ir.IntType(8), 0))
        with self.b.if_then(set_):
            old = self.b.load(value, typ=llvm_type(ty))
            self.b.store(ir.Constant(llvm_type(ty), None), value)
            self.b.store(ir.Constant(ir.IntType(8), 0), flag)
            emit_refcount(self.b, ty, old, "decref")

    # -- union values ---------------------------------------------------------------------------------------
    def op_union_make(self, op: Op) -> None:
        ty = op.result.type
        agg = ir.Constant(llvm_type(ty), None)
        agg = self.b.insert_value(agg, ir.Constant(I32, op.attrs["index"]), 0)
        self.bind(op.results, [self.b.insert_value(agg, self.get(op.operands[0]), op.attrs["index"] + 1)])

    def op_union_is(self, op: Op) -> None:
        tag = self.b.extract_value(self.get(op.operands[0]), 0)
        self.bind(op.results, [self.b.icmp_signed("==", tag, ir.Constant(I32, op.attrs["index"]))])

    def op_union_get(self, op: Op) -> None:
        self.bind(op.results, [self.b.extract_value(self.get(op.operands[0]), op.attrs["index"] + 1)])

    # -- trait objects ------------------------------------------------------------------------------------
    def op_to_trait(self, op: Op) -> None:
        """`{obj, vtable}`: the struct reference (counted) and its method table for the trait."""
        obj = self.get(op.operands[0])
        emit_refcount(self.b, op.operands[0].type, obj, "incref")
        table = self.m.objects.vtable(op.attrs["struct"], op.attrs["trait"])
        pair = self.b.insert_value(ir.Constant(ir.LiteralStructType([PTR, PTR]), None), obj, 0)
        self.bind(op.results, [self.b.insert_value(pair, table, 1)])

    def op_call_trait(self, op: Op) -> None:
        """Dynamic dispatch: load the method from the table, one indirect call with the struct as `self`."""
        recv, *args = op.operands
        pair = self.get(recv)
        obj, table = self.b.extract_value(pair, 0), self.b.extract_value(pair, 1)
        fnptr = self.b.load(byte_ptr(self.b, table, 8 * op.attrs["index"]), typ=PTR)
        ret = op.results[0].type if op.results else None
        fnty = ir.FunctionType(llvm_type(ret) if ret is not None else ir.VoidType(),
                               [PTR, PTR, *(llvm_type(a.type) for a in args)])
        result = self.b.call(Callee(fnptr, fnty), [self.ctx, obj, *(self.get(a) for a in args)])
        self.check_error(op.span, call_site=True)
        self.bind(op.results, [result] if op.results else [])

    # -- printing and tensors of any rank -----------------------------------------------------------------
    def op_print_value(self, op: Op) -> None:
        buf, v = op.operands
        fn = self.m.objects.print_fn(v.type)
        self.b.call(fn, [self.ctx, self.get(buf), self.get(v), ir.Constant(I32, 0)])
        self.check_error(op.span)

    def op_retype(self, op: Op) -> None:
        """The same reference seen with another IR type (a tensor of known rank as one of any rank)."""
        value = self.get(op.operands[0])
        emit_refcount(self.b, op.result.type, value, "incref")
        self.bind(op.results, [value])

    def op_rank_cast(self, op: Op) -> None:
        """A tensor of any rank used where rank `rank` is expected: checked at run time."""
        t = self.get(op.operands[0])
        want = op.result.type.rank
        rank = self.b.load(byte_ptr(self.b, t, rtabi.OFF_RANK), typ=I32)
        what = op.attrs.get("what", f"a tensor of rank {want}")
        self.fail_if(self.b.icmp_signed("!=", rank, ir.Constant(I32, want)), rtabi.ERR_SHAPE,
                     f"expected {what} here, got a tensor of another rank", op.span)
        rtabi.call(self.b, "trt_incref", t)
        self.bind(op.results, [t])


__all__ = ["ObjectOpsMixin"]
