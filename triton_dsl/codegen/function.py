"""Emission of one IR function as an LLVM function: scalars, structured control flow, calls, errors.

In: an `ir.Function` and the `ModuleEmitter` it belongs to. Out: the body of the LLVM function
`ret @tdsl.<name>(ptr ctx, params...)`. Structured regions become basic blocks with phi nodes:
`if` → then/else/merge, `for`/`while` → header/body/latch/exit, `break`/`continue` jump to the
innermost loop's exit/latch with the current loop-carried values. Elementwise ops on tensors are
emitted as fused loops (`codegen.fused`); `rt` ops call the runtime library by name.

Error protocol (docs/runtime.md): after every fallible call the context's code is tested; on failure
the op's source location is attached and the function returns its failure value (zero/null).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llvmlite import ir

from ..abi import layout
from ..ir.nodes import ELEMENTWISE, Block, Function, Op, Value
from ..ir.types import OptionalTy, ScalarTy, StrTy, TensorTy
from ..passes.refcount import RELEASE_ON_ERROR
from ..source import Span
from . import rtabi
from .call_graph import recursive_functions
from .control import ControlFlowMixin
from .llvm_types import I1, I32, I64, PTR, llvm_type, memory_type, to_register, zero_value
from .object_ops import ObjectOpsMixin
from .scalar_ops import emit_binary, emit_cast, emit_unary

if TYPE_CHECKING:
    from .module import ModuleEmitter


class FunctionEmitter(ControlFlowMixin, ObjectOpsMixin):
    def __init__(self, module: ModuleEmitter, fn: Function, llfn: ir.Function):
        self.m = module
        self.fn = fn
        self.llfn = llfn
        self.ctx = llfn.args[0]
        self.values: dict[int, ir.Value] = {}
        self.loops = []  # innermost last: where break/continue go (see codegen.control)
        self.b = ir.IRBuilder(llfn.append_basic_block("entry"))
        self._error_exit: ir.Block | None = None
        self._emitting: list[Op] = []  # the op being emitted, innermost last
        self._release_exits: dict[int, ir.Block] = {}  # op id -> its error path releasing what it owns

    # -- plumbing -------------------------------------------------------------------------------------
    def get(self, v: Value) -> ir.Value:
        return self.values[v.id]

    def bind(self, values: list[Value], llvals: list[ir.Value]) -> None:
        for v, lv in zip(values, llvals, strict=True):
            self.values[v.id] = lv

    def new_block(self, name: str) -> ir.Block:
        return self.llfn.append_basic_block(name)

    @property
    def error_exit(self) -> ir.Block:
        """Where an error in the op being emitted goes: a block releasing what the function owns at that
        op (its `release_on_error` list, from the refcount pass), then the shared failure return."""
        op = self._emitting[-1] if self._emitting else None
        owned = op.attrs.get(RELEASE_ON_ERROR) if op is not None else None
        if not owned:
            return self.failure_return
        block = self._release_exits.get(id(op))
        if block is None:
            block = self._release_exits[id(op)] = self.new_block("error.release")
            saved = self.b.block
            self.b.position_at_end(block)
            for v in owned:
                self.refcount(v, "decref")
            self.b.branch(self.failure_return)
            self.b.position_at_end(saved)
        return block

    @property
    def failure_return(self) -> ir.Block:
        """The block that returns the failure value (the caller tests ctx.code)."""
        if self._error_exit is None:
            self._error_exit = self.new_block("error.exit")
            saved = self.b.block
            self.b.position_at_end(self._error_exit)
            ret_ty = self.llfn.function_type.return_type
            if isinstance(ret_ty, ir.VoidType):
                self.b.ret_void()
            else:
                self.b.ret(zero_value(ret_ty))
            self.b.position_at_end(saved)
        return self._error_exit

    def set_location(self, span: Span | None) -> None:
        file = self.m.cstring(span.source.name if span else "")
        line, col = (span.line, span.col) if span else (0, 0)
        rtabi.call(self.b, "trt_set_location", self.ctx, file, ir.Constant(I32, line), ir.Constant(I32, col))

    def check_error(self, span: Span | None, call_site: bool = False) -> None:
        """After a fallible call: on a pending error, attach `span` and return the failure value. After a
        call of a DSL function (`call_site`), `span` joins the error's call trace instead (docs/runtime.md
        "Context"), unless the error has no location yet."""
        fail = self.new_block("fail")
        ok = self.new_block("ok")
        self.b.cbranch(rtabi.error_pending(self.b, self.ctx), fail, ok)
        self.b.position_at_end(fail)
        if call_site and span is not None:
            end_line, end_col = span.end_line_col
            width = max(1, end_col - span.col) if end_line == span.line else \
                max(1, len(span.source.line_text(span.line)) - span.col + 1)
            rtabi.call(self.b, "trt_push_frame", self.ctx, self.m.cstring(span.source.name),
                       *(ir.Constant(I32, v) for v in (span.line, span.col, width)))
        else:
            self.set_location(span)
        self.b.branch(self.error_exit)
        self.b.position_at_end(ok)

    def fail_if(self, cond: ir.Value, code: int, message: str, span: Span | None) -> None:
        """Raise a run-time error with `message` at `span` when `cond` holds."""
        if isinstance(cond, ir.Constant) and cond.constant == 0:
            return
        fail = self.new_block("check.fail")
        ok = self.new_block("check.ok")
        self.b.cbranch(cond, fail, ok)
        self.b.position_at_end(fail)
        rtabi.call(self.b, "trt_set_error", self.ctx, ir.Constant(I32, code), self.m.cstring(message))
        self.set_location(span)
        self.b.branch(self.error_exit)
        self.b.position_at_end(ok)

    def scalar_fail(self, span: Span | None):
        return lambda cond, msg: self.fail_if(cond, rtabi.ERR_VALUE, msg, span)

    # -- driver ---------------------------------------------------------------------------------------
    def emit(self) -> None:
        self.bind(self.fn.params, list(self.llfn.args[1:]))
        if self.emit_block(self.fn.body) is not None and not self.b.block.is_terminated:
            if self.fn.returns_value:
                self.b.unreachable()
            else:
                self.b.ret_void()

    def emit_block(self, block: Block) -> Op | None:
        """Emit the ops of a block; return its yield/condition terminator (None if it left otherwise)."""
        for op in block.ops:
            if op.opcode in ("yield", "condition"):
                return op
            self.emit_op(op)
            if self.b.block.is_terminated:
                return None
        return None

    def emit_op(self, op: Op) -> None:
        handler = getattr(self, f"op_{op.opcode}", None)
        if handler is None:
            if op.opcode not in ELEMENTWISE:
                raise NotImplementedError(f"codegen for IR op '{op.opcode}'")
            handler = self.op_elementwise
        self._emitting.append(op)
        try:
            handler(op)
        finally:
            self._emitting.pop()

    # -- simple ops -----------------------------------------------------------------------------------
    def op_const(self, op: Op) -> None:
        ty, value = op.result.type, op.attrs["value"]
        if isinstance(ty, StrTy):
            self.bind(op.results, [self.m.str_const(value)])
        elif isinstance(ty, ScalarTy) and ty.is_bool:
            self.bind(op.results, [ir.Constant(I1, int(bool(value)))])
        else:
            self.bind(op.results, [ir.Constant(llvm_type(ty), value)])

    def op_elementwise(self, op: Op) -> None:
        if any(isinstance(v.type, TensorTy) for v in op.operands):
            from .fused import emit_single_elementwise
            self.bind(op.results, [emit_single_elementwise(self, op)])
            return
        args = [self.get(v) for v in op.operands]
        self.bind(op.results, [emit_scalar_op(self.b, op, args, self.scalar_fail(op.span))])

    def op_fused(self, op: Op) -> None:
        from .fused import emit_fused
        self.bind(op.results, [emit_fused(self, op)])

    def op_tuple(self, op: Op) -> None:
        agg = ir.Constant(llvm_type(op.result.type), ir.Undefined)
        for i, v in enumerate(op.operands):
            agg = self.b.insert_value(agg, self.get(v), i)
        self.bind(op.results, [agg])

    def op_get(self, op: Op) -> None:
        self.bind(op.results, [self.b.extract_value(self.get(op.operands[0]), op.attrs["index"])])

    def op_dim(self, op: Op) -> None:
        self.bind(op.results, [rtabi.load_dim(self.b, self.get(op.operands[0]), op.attrs["axis"])])

    def op_check_eq(self, op: Op) -> None:
        a, b = (self.get(v) for v in op.operands)
        code = rtabi.ERR_INDEX if op.attrs.get("code") == "index" else rtabi.ERR_SHAPE
        self.fail_if(self.b.icmp_signed("!=", a, b), code, op.attrs["message"], op.span)

    def op_check_dim(self, op: Op) -> None:
        """Two tensors' dims that must be equal (a named dim); a mismatch names both shapes."""
        a, b = (self.get(v) for v in op.operands)
        ax, bx = op.attrs["axes"]
        differ = self.b.icmp_signed("!=", rtabi.load_dim(self.b, a, ax), rtabi.load_dim(self.b, b, bx))
        fail, ok = self.new_block("dims.fail"), self.new_block("dims.ok")
        self.b.cbranch(differ, fail, ok)
        self.b.position_at_end(fail)
        rtabi.call(self.b, "trt_err_shape_mismatch", self.ctx, self.m.cstring(op.attrs["what"]), a, b)
        self.set_location(op.span)
        self.b.branch(self.error_exit)
        self.b.position_at_end(ok)

    # -- optionals ------------------------------------------------------------------------------------
    def op_none(self, op: Op) -> None:
        ty = op.result.type
        if isinstance(ty, OptionalTy) and not ty.nullable_pointer:
            self.bind(op.results, [ir.Constant(llvm_type(ty), None)])
        elif isinstance(ty, OptionalTy):
            self.bind(op.results, [ir.Constant(PTR, None)])
        else:
            self.bind(op.results, [ir.Constant(I1, 0)])

    def op_some(self, op: Op) -> None:
        ty, v = op.result.type, self.get(op.operands[0])
        if ty.nullable_pointer:
            self.bind(op.results, [v])
            return
        agg = self.b.insert_value(ir.Constant(llvm_type(ty), None), ir.Constant(I1, 1), 0)
        self.bind(op.results, [self.b.insert_value(agg, v, 1)])

    def op_is_some(self, op: Op) -> None:
        ty, v = op.operands[0].type, self.get(op.operands[0])
        if ty.nullable_pointer:
            self.bind(op.results, [self.b.icmp_unsigned("!=", self.b.ptrtoint(v, I64), ir.Constant(I64, 0))])
        else:
            self.bind(op.results, [self.b.extract_value(v, 0)])

    def op_unwrap(self, op: Op) -> None:
        ty, v = op.operands[0].type, self.get(op.operands[0])
        self.bind(op.results, [v if ty.nullable_pointer else self.b.extract_value(v, 1)])

    def op_retain(self, op: Op) -> None:
        self.refcount(op.operands[0], "incref")

    def op_release(self, op: Op) -> None:
        self.refcount(op.operands[0], "decref")

    def refcount(self, v: Value, what: str) -> None:
        self.refcount_value(v.type, self.get(v), what)

    def refcount_value(self, ty, value: ir.Value, what: str) -> None:
        from .objects import emit_refcount
        emit_refcount(self.b, ty, value, what)

    # -- calls ----------------------------------------------------------------------------------------
    def op_call(self, op: Op) -> None:
        callee = self.m.function(op.attrs["callee"])
        depth_ptr = depth = None
        if op.attrs["callee"] in recursive_functions(self.m).get(self.fn.name, ()):
            # A call that may recurse: count it in the context so runaway recursion is a run-time error
            # instead of a native stack overflow. The saved depth is stored back after the call returns,
            # which every path does (errors return too), so the counter stays balanced.
            depth_ptr = rtabi.field_ptr(self.b, self.ctx, layout.CALL_DEPTH_OFFSET)
            depth = self.b.load(depth_ptr, typ=I32)
            limit = ir.Constant(I32, layout.MAX_CALL_DEPTH)
            self.fail_if(self.b.icmp_signed(">=", depth, limit), rtabi.ERR_RUNTIME,
                         f"recursion too deep (more than {layout.MAX_CALL_DEPTH} nested calls)", op.span)
            self.b.store(self.b.add(depth, ir.Constant(I32, 1)), depth_ptr)
        result = self.b.call(callee, [self.ctx] + [self.get(v) for v in op.operands])
        if depth_ptr is not None:
            self.b.store(depth, depth_ptr)
        self.check_error(op.span, call_site=True)
        self.bind(op.results, [result] if op.results else [])

    def op_rt(self, op: Op) -> None:
        """A runtime library call: ctx first (unless `no_ctx`), then the operands and constant args."""
        fn = rtabi.declare(self.b.module, op.attrs["fn"])
        params = fn.function_type.args
        args: list[ir.Value] = [] if op.attrs.get("no_ctx") else [self.ctx]
        template = op.attrs.get("args")
        if template is None:
            args += [self.get(v) for v in op.operands]
            args += [ir.Constant(params[len(args) + i], c) for i, c in enumerate(op.attrs.get("consts", ()))]
        else:
            # ("v", i): operand i; ("c", x): a constant; ("array", [i...], bits): operands packed in memory;
            # ("rank_of", i) / ("shape_of", i): tensor operand i's rank and dims array (header fields)
            for item in template:
                if item[0] == "v":
                    args.append(self.get(op.operands[item[1]]))
                elif item[0] == "c":
                    args.append(ir.Constant(params[len(args)], item[1]))
                elif item[0] == "data":
                    args.append(self.m.const_array(item[1], item[2]))
                elif item[0] == "list_data":  # the element array of a list operand
                    args.append(self.list_data(self.get(op.operands[item[1]])))
                elif item[0] == "list_len":
                    args.append(self.list_len(self.get(op.operands[item[1]])))
                elif item[0] == "str_bytes":  # the UTF-8 bytes and byte length of a string operand
                    args.append(rtabi.field_ptr(self.b, self.get(op.operands[item[1]]), 16))
                elif item[0] in ("rank_of", "shape_of"):  # a tensor operand's rank / its dims array
                    t = self.get(op.operands[item[1]])
                    if item[0] == "rank_of":
                        args.append(self.b.load(rtabi.field_ptr(self.b, t, layout.TENSOR_FIELDS["rank"][0]),
                                                typ=I32))
                    else:
                        args.append(rtabi.field_ptr(self.b, t, layout.SHAPE_OFFSET))
                elif item[0] in ("code", "env"):  # a function value's code pointer / environment
                    pair = self.get(op.operands[item[1]])
                    args.append(self.b.extract_value(pair, 0 if item[0] == "code" else 1))
                elif item[0] == "str_len":
                    s = self.get(op.operands[item[1]])
                    args.append(self.b.load(rtabi.field_ptr(self.b, s, 8), typ=I64))
                else:
                    args.append(self.stack_array([self.get(op.operands[i]) for i in item[1]], item[2]))
        args = [self.m.coerce(self.b, a, t) for a, t in zip(args, params, strict=True)]
        result = self.b.call(fn, args)
        if op.attrs.get("fallible", True) and not op.attrs.get("no_ctx"):
            self.check_error(op.span)
        if op.results:
            self.bind(op.results, [self.m.coerce(self.b, result, llvm_type(op.result.type))])

    def stack_array(self, values: list[ir.Value], elem: int | str) -> ir.Value:
        """A stack array of `values`: integers of `elem` bits (shapes, axes, index specs), elements of
        dtype `elem` (a literal's computed elements) or `"ptr"` (a list of tensors)."""
        ty = PTR if elem == "ptr" else (ir.IntType(elem) if isinstance(elem, int) else memory_type(elem))
        with self.b.goto_entry_block():
            entry = self.llfn.entry_basic_block
            if entry.instructions:
                self.b.position_before(entry.instructions[0])
            arr = self.b.alloca(ty, size=ir.Constant(I32, max(1, len(values))))
        for i, v in enumerate(values):
            slot = self.b.gep(arr, [ir.Constant(I32, i)], source_etype=ty)
            self.b.store(v if elem == "ptr" else self.m.coerce(self.b, v, ty), slot)
        return arr

    def op_buf(self, op: Op) -> None:
        """A zeroed text buffer `trt_buf` on the stack (print, f-strings)."""
        with self.b.goto_entry_block():
            entry = self.llfn.entry_basic_block
            if entry.instructions:
                self.b.position_before(entry.instructions[0])
            buf = self.b.alloca(I64, size=ir.Constant(I32, 3))
        for i in range(3):
            self.b.store(ir.Constant(I64, 0), self.b.gep(buf, [ir.Constant(I32, i)], source_etype=I64))
        self.bind(op.results, [buf])

    def entry_alloca(self, ty: ir.Type, name: str) -> ir.Value:
        with self.b.goto_entry_block():
            entry = self.llfn.entry_basic_block
            if entry.instructions:
                self.b.position_before(entry.instructions[0])
            return self.b.alloca(ty, name=name)

    def op_dequantize(self, op: Op) -> None:
        from .ternary_ops import emit_dequantize
        v = op.operands[0]
        self.bind(op.results, [emit_dequantize(self, self.get(v), v.type.rank, op.span)])

    def op_ternary_matmul(self, op: Op) -> None:
        from .ternary_ops import emit_ternary_matmul, emit_ternary_ternary_matmul
        x, w = op.operands
        text = op.span.text() if op.span is not None else "matmul"
        if isinstance(x.type, TensorTy) and x.type.ternary:
            out = emit_ternary_ternary_matmul(self, self.get(x), self.get(w), text, op.span)
        else:
            out = emit_ternary_matmul(self, self.get(x), x.type.rank, self.get(w), text, op.span)
        self.bind(op.results, [out])

    def op_set_scales(self, op: Op) -> None:
        from .ternary_ops import emit_set_scales
        emit_set_scales(self, self.get(op.operands[0]), self.get(op.operands[1]), op.attrs["kind"])

    def op_copy_scales(self, op: Op) -> None:
        from .scales import emit_copy_scales
        dst, src = (self.get(v) for v in op.operands)
        emit_copy_scales(self, dst, src, bool(op.attrs.get("negate")), op.span)

    def op_check_scales(self, op: Op) -> None:
        from .scales import emit_check_channel_scales
        t = op.operands[0]
        emit_check_channel_scales(self, self.get(t), t.type.rank, op.span, bool(op.attrs.get("axis0_moved")))

    def op_load(self, op: Op) -> None:
        """Element `offset` of a tensor's data (the offset was bounds-checked by the runtime)."""
        t, off = (self.get(v) for v in op.operands)
        dtype = op.result.type.dtype
        ptr = self.b.gep(rtabi.load_data(self.b, t), [off], source_etype=memory_type(dtype))
        raw = self.b.load(ptr, typ=memory_type(dtype))
        self.bind(op.results, [to_register(self.b, raw, dtype)])

    def op_numel(self, op: Op) -> None:
        self.bind(op.results, [rtabi.load_numel(self.b, self.get(op.operands[0]))])

    def op_panic(self, op: Op) -> None:
        s = self.get(op.operands[0])
        length = self.b.load(rtabi.field_ptr(self.b, s, 8), typ=I64)
        rtabi.call(self.b, "trt_panic", self.ctx, rtabi.field_ptr(self.b, s, 16), length)
        self.set_location(op.span)
        self.b.branch(self.error_exit)

    def op_return(self, op: Op) -> None:
        if op.operands:
            self.b.ret(self.get(op.operands[0]))
        else:
            self.b.ret_void()


def emit_scalar_op(b: ir.IRBuilder, op: Op, args: list[ir.Value], fail) -> ir.Value:
    """The scalar meaning of an elementwise IR op (shared by scalar code and fused loop bodies)."""
    code = op.opcode
    if code == "binary":
        return emit_binary(b, op.attrs["op"], args[0], args[1], op.operands[0].type.dtype, fail)
    if code == "unary":
        return emit_unary(b, op.attrs["op"], args[0], op.operands[0].type.dtype)
    if code == "cast":
        return emit_cast(b, args[0], op.operands[0].type.dtype, op.attrs["to"], fail)
    if code == "select":
        return b.select(*args)
    raise NotImplementedError(code)


__all__ = ["FunctionEmitter", "emit_scalar_op", "I64"]
