"""Lowering of expressions: literals, names, operators, calls, implicit conversions.

In: typed AST expressions (`.ty` from the checker, `.target` on calls). Out: IR values appended to the
current block. Tensor arithmetic becomes elementwise IR ops (fused later); everything else on tensors
is a runtime-library call (`rt` op) named after docs/runtime.md; compiler primitives are in
`ir.lower_prims`.
"""

from __future__ import annotations

from ..check import types as ct
from ..syntax import ast
from .lowering import NotAvailable, fixed_list_type, ir_type
from .nodes import Value
from .types import (
    BOOL,
    I64,
    STR,
    IRType,
    ListTy,
    NoneTy,
    OptionalTy,
    ScalarTy,
    StructTy,
    TensorTy,
    TraitTy,
    TupleTy,
    UnionTy,
)

_BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "div", "//": "floordiv", "%": "mod", "**": "pow",
           "==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "&&": "and", "||": "or"}
_RT = {"bool": "b", "trit": "i8", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
       "float16": "f16", "float32": "f32", "float64": "f64"}


def is_literal(e) -> bool:
    if isinstance(e, ast.Unary) and e.op == "-":
        return is_literal(e.operand)
    return isinstance(e, (ast.IntLit, ast.FloatLit, ast.BoolLit))


class ExprLowerer:
    """Mixin of `FunctionLowerer`: needs `self.b` (Builder), `self.scopes`, `self.program`."""

    def lower_expr(self, e) -> Value:
        method = getattr(self, f"expr_{type(e).__name__}", None)
        if method is None:
            raise NotAvailable(f"the expression '{e.span.text()[:40]}'", e.span)
        return method(e)

    def lower_value(self, e) -> Value:
        """An expression as a value kept beyond its use (bound, stored, printed): a fixed-length list
        literal (a tuple at run time) becomes a growable list when its type is one."""
        from .lower_objects import as_list
        return as_list(self, self.lower_expr(e), getattr(e, "ty", None), e.span)

    # -- literals and names ---------------------------------------------------------------------------
    def expr_IntLit(self, e) -> Value:
        ty = ir_type(e.ty, e.span)
        return self.b.const(float(e.value) if ty.is_float else int(e.value), ty, e.span)

    def expr_FloatLit(self, e) -> Value:
        return self.b.const(float(e.value), ir_type(e.ty, e.span), e.span)

    def expr_BoolLit(self, e) -> Value:
        return self.b.const(bool(e.value), BOOL, e.span)

    def expr_StrLit(self, e) -> Value:
        return self.b.const(e.value, STR, e.span)

    def expr_Name(self, e) -> Value:
        from ..check import targets as tg
        v = self.scopes.lookup(e.name)
        if v is None:
            from .lower_closures import function_as_value
            if isinstance(getattr(e, "target", None), tg.FunctionRef):
                return function_as_value(self, e.target.instance, e.span)
            bound = getattr(self, "fn_values", {}).get(e.name)
            if bound is not None:
                return function_as_value(self, bound, e.span)
            from .lower_globals import read_global
            v = read_global(self, e.name, e.span)
            if v is None:
                raise NotAvailable(f"using '{e.name}' here (globals and function values)", e.span)
        else:
            from .lower_globals import is_top_binding, read_top_level
            if is_top_binding(self, e.name):  # the top-level code reads the global too: a function may
                v = read_top_level(self, e.name, e.span)  # have assigned it
        if e.name in getattr(self, "boxed", ()):
            from .lower_closures import is_cell, read_cell
            if is_cell(v):
                v = read_cell(self, v, e.span)
        if isinstance(v.type, OptionalTy) and e.ty is not None and not isinstance(e.ty, ct.OptionalType):
            return self.unwrap(v, e.span)  # narrowed by `if x != None`
        if isinstance(v.type, UnionTy) and e.ty is not None and not isinstance(e.ty, ct.UnionType):
            return self.union_member(v, ir_type(e.ty, e.span, stored=True), e.span)  # narrowed by `is`
        return v

    def union_member(self, v: Value, want: IRType, span) -> Value:
        k = v.type.index(want)
        if k is None:
            raise NotAvailable(f"reading a `{want}` out of this union", span)
        return self.b.op("union_get", [v], [want], {"index": k}, span).result

    def expr_Is(self, e) -> Value:
        """`x is T`: decided statically for a resolved type, else a test of a union value's tag."""
        static = getattr(e, "static", None)
        if static is not None:
            return self.b.const(bool(static), BOOL, e.span)
        v = self.scopes.lookup(e.value.name) if isinstance(e.value, ast.Name) else None
        v = v if v is not None and isinstance(v.type, UnionTy) else self.lower_expr(e.value)
        if not isinstance(v.type, UnionTy):
            raise NotAvailable("this `is` test", e.span)
        k = v.type.index(ir_type(e.tested_ty, e.span, stored=True))
        if k is None:
            return self.b.const(False, BOOL, e.span)
        return self.b.op("union_is", [v], [BOOL], {"index": k}, e.span).result

    def expr_NoneLit(self, e) -> Value:
        return self.b.op("none", [], [NoneTy()], span=e.span).result

    def unwrap(self, v: Value, span) -> Value:
        return self.b.op("unwrap", [v], [v.type.inner], span=span).result

    def none_test(self, op: str, a: Value, b: Value, span) -> Value:
        """`x == None` / `x != None`."""
        other = b if isinstance(a.type, NoneTy) else a
        if isinstance(other.type, OptionalTy):
            some = self.b.op("is_some", [other], [BOOL], span=span).result
            return some if op == "ne" else self.b.unary("not", some, span)
        # None compared with None, or with a value that is never None
        same = isinstance(other.type, NoneTy)
        return self.b.const(same if op == "eq" else not same, BOOL, span)

    def expr_Closure(self, e) -> Value:
        from .lower_closures import lower_closure
        return lower_closure(self, e)

    def expr_FString(self, e) -> Value:
        from .lower_prims import lower_fstring
        return lower_fstring(self, e)

    def expr_Index(self, e) -> Value:
        from .lower_access import lower_index
        return lower_index(self, e)

    def expr_Attribute(self, e) -> Value:
        from .lower_access import lower_attribute
        return lower_attribute(self, e)

    def program_const(self, e):
        """The Python value of a literal (or negated literal) expression, else None."""
        if isinstance(e, (ast.IntLit, ast.FloatLit, ast.BoolLit, ast.StrLit)):
            return e.value
        if isinstance(e, ast.Unary) and e.op == "-":
            inner = self.program_const(e.operand)
            return -inner if isinstance(inner, (int, float)) and not isinstance(inner, bool) else None
        return None

    def require(self, fn: str, span) -> None:
        from .lower_prims import require_runtime
        require_runtime(fn, span)

    def expr_TupleLit(self, e) -> Value:
        return self.b.tuple([self.lower_expr(x) for x in e.elems], e.span)

    def expr_ListLit(self, e) -> Value:
        """A list literal of scalars (`[2, 1]`) is a fixed-length list: a tuple at run time (a growable
        list where it meets one, see `lower_objects.as_list`); any other list literal is a list object."""
        fixed = fixed_list_type(e.ty, len(e.elems)) if e.elems else None
        if fixed is None:
            from .lower_objects import lower_list_literal
            return lower_list_literal(self, e)
        return self.b.tuple([self.coerce(self.lower_expr(x), t, x.span)
                             for x, t in zip(e.elems, fixed.items, strict=True)], e.span)

    # -- operators ------------------------------------------------------------------------------------
    def expr_Unary(self, e) -> Value:
        x = self.lower_expr(e.operand)
        want = ir_type(e.ty, e.span)
        if e.op == "!":
            return self.b.unary("not", self.as_bool(x, e.span), e.span)
        x = self.coerce(x, want, e.span)
        negated = self.b.unary("neg", x, e.span)
        if isinstance(x.type, TensorTy) and x.type.ternary:
            # -q negates the trits and keeps the scales: its value is -(trit x scale)
            self.b.op("copy_scales", [negated, x], [], {"negate": True}, e.span)
        return negated

    def expr_Binary(self, e) -> Value:
        if e.op == "@":
            return self.matmul(e)
        if e.op in ("+", "*") and isinstance(e.ty, ct.ListType):
            from .lower_objects import lower_list_binary
            return lower_list_binary(self, e)
        result = e.ty
        a, b = self.lower_expr(e.left), self.lower_expr(e.right)
        op = _BINARY[e.op]
        if isinstance(a.type, NoneTy) or isinstance(b.type, NoneTy):
            return self.none_test(op, a, b, e.span)
        if a.type == STR or b.type == STR:
            return self.string_op(op, a, b, e.span)
        if op in ("and", "or"):
            return self.b.binary(op, self.as_bool(a, e.span), self.as_bool(b, e.span), e.span)
        if op in ("eq", "ne", "lt", "le", "gt", "ge"):
            from ..check.operators import combine_dtypes
            if _compares_trits(e.left.ty, e.right.ty) or _compares_trits(e.right.ty, e.left.ty):
                # A TernaryTensor against an integer compares its trits, whatever the scale (LANGUAGE.md)
                a, b = self.trits_as(a, "int32", e.span), self.trits_as(b, "int32", e.span)
                return self.b.binary(op, a, b, e.span)
            da, db = _dtype(e.left.ty), _dtype(e.right.ty)
            common = combine_dtypes(da, db, is_literal(e.left), is_literal(e.right))
            if common == "trit":
                common = "int8"
            a, b = self.to_dtype(a, common, e.span), self.to_dtype(b, common, e.span)
            return self.b.binary(op, a, b, e.span)
        dtype = _dtype(result)
        return self.b.binary(op, self.to_dtype(a, dtype, e.span), self.to_dtype(b, dtype, e.span), e.span)

    def string_op(self, op: str, a: Value, b: Value, span) -> Value:
        if a.type != STR or b.type != STR:
            raise NotAvailable("mixing strings and numbers in an operator", span)
        if op in ("eq", "ne"):
            same = self.rt("trt_str_eq", [a, b], ScalarTy("int32"), span, no_ctx=True, fallible=False)
            zero = self.b.const(0, ScalarTy("int32"), span)
            return self.b.binary("ne" if op == "eq" else "eq", same, zero, span)
        if op == "add":
            return self.rt("trt_str_concat", [a, b], STR, span)
        raise NotAvailable(f"the operator '{op}' on strings", span)

    def matmul(self, e) -> Value:
        a, b = self.lower_expr(e.left), self.lower_expr(e.right)
        return self.matmul_values(a, b, e)

    def matmul_values(self, a: Value, b: Value, e) -> Value:
        a_ternary = isinstance(a.type, TensorTy) and a.type.ternary
        if isinstance(b.type, TensorTy) and b.type.ternary and not a_ternary:
            # float activations × packed ternary weights: the packed kernel, never an unpacked copy
            if b.type.rank != 2 or a.type.rank not in (1, 2):
                raise NotAvailable("matmul with packed ternary weights that are not a matrix", e.span)
            x = self.to_dtype(a, "float32", e.span)
            out = TensorTy("float32", a.type.rank)
            return self.b.op("ternary_matmul", [x, b], [out], span=e.span).result
        if a_ternary and isinstance(b.type, TensorTy) and b.type.ternary:
            # ternary × ternary: integer dot products by popcount on bit-planes
            if a.type.rank != 2 or b.type.rank != 2:
                raise NotAvailable("ternary x ternary matmul of tensors that are not matrices", e.span)
            return self.b.op("ternary_matmul", [a, b], [TensorTy("float32", 2)], span=e.span).result
        if a_ternary:
            a = self.dequantize(a, e.span)  # ternary activations × float weights: their value
        dtype = _dtype(e.ty)
        if dtype not in ("float32", "float64"):
            raise NotAvailable(f"matmul of {dtype} tensors", e.span)
        a, b = self.to_dtype(a, dtype, e.span), self.to_dtype(b, dtype, e.span)
        return self.rt(f"trt_matmul_{_RT[dtype]}", [a, b], ir_type(e.ty, e.span), e.span)

    # -- conversions ----------------------------------------------------------------------------------
    def rt(self, fn: str, args: list[Value], ret: IRType | None, span, **attrs) -> Value | None:
        from .lower_prims import require_runtime
        require_runtime(fn, span)
        op = self.b.rt(fn, args, ret, span, **attrs)
        return op.results[0] if op.results else None

    def to_dtype(self, v: Value, dtype: str, span) -> Value:
        """Cast scalars/tensors elementwise to `dtype` (ternary tensors are dequantized first)."""
        ty = v.type
        if isinstance(ty, TensorTy) and ty.ternary:
            if dtype in ("trit", "int8"):
                return v  # trits compare as small integers (the fused loop unpacks them)
            v = self.dequantize(v, span)
            ty = v.type
        if isinstance(ty, (ScalarTy, TensorTy)) and ty.dtype != dtype:
            return self.b.cast(v, dtype, span)
        return v

    def trits_as(self, v: Value, dtype: str, span) -> Value:
        """The trits of a ternary tensor (scales not applied), or any other value, cast to `dtype`."""
        if isinstance(v.type, (ScalarTy, TensorTy)) and v.type.dtype != dtype:
            return self.b.cast(v, dtype, span)  # a packed operand is unpacked to its trits by the loop
        return v

    def dequantize(self, v: Value, span) -> Value:
        """A TernaryTensor's value (trit × scale) as a float32 tensor (the packed kernel unpacks)."""
        return self.b.op("dequantize", [v], [TensorTy("float32", v.type.rank)], span=span).result

    def as_bool(self, v: Value, span) -> Value:
        if v.type == BOOL:
            return v
        if isinstance(v.type, TensorTy):
            return self.item(v, "bool", span)
        return self.b.cast(v, "bool", span)

    def to_i64(self, v: Value, span) -> Value:
        if isinstance(v.type, TensorTy):
            v = self.item(v, v.type.dtype, span)
        return v if v.type == I64 else self.b.cast(v, "int64", span)

    def item(self, v: Value, dtype: str, span) -> Value:
        """The single element of a one-element tensor, as a scalar of `dtype`."""
        src = v.type.dtype
        out = self.rt(f"trt_item_{_RT[src]}", [v], ScalarTy("int8" if src == "trit" else src), span)
        return out if out.type.dtype == dtype else self.b.cast(out, dtype, span)

    def coerce(self, v: Value, want: IRType, span) -> Value:
        """Make `v` of IR type `want` (implicit conversions the checker allowed)."""
        have = v.type
        if have == want:
            return v
        if isinstance(want, OptionalTy):
            if isinstance(have, NoneTy):
                return self.b.op("none", [], [want], span=span).result
            if isinstance(have, OptionalTy):
                raise NotAvailable(f"converting {have} to {want}", span)
            return self.b.op("some", [self.coerce(v, want.inner, span)], [want], span=span).result
        if isinstance(have, OptionalTy):
            return self.coerce(self.unwrap(v, span), want, span)
        if isinstance(want, ScalarTy) and isinstance(have, TensorTy):
            return self.item(v, want.dtype, span)
        if isinstance(want, TensorTy) and isinstance(have, ScalarTy):
            v = self.to_dtype(v, want.dtype, span)
            return self.rt(f"trt_scalar_{_RT[want.dtype]}", [v], TensorTy(want.dtype, 0), span)
        if isinstance(want, TensorTy) and isinstance(have, TensorTy):
            if have.ternary and not want.ternary:
                v = self.dequantize(v, span)
            v = self.to_dtype(v, want.dtype, span)
            if want.rank is None and v.type.rank is not None:  # stored as a tensor of any rank
                any_rank = TensorTy(v.type.dtype, None, v.type.ternary)
                return self.b.op("retype", [v], [any_rank], span=span).result
            if v.type.rank is None and want.rank is not None:  # checked when it is used with a rank again
                what = {"what": f"a rank-{want.rank} tensor"}
                return self.b.op("rank_cast", [v], [want], what, span).result
            if v.type.rank != want.rank:
                if want.rank == 0:
                    self.require("trt_reshape", span)
                    return self.b.rt("trt_reshape", [v], want, span,
                                     args=[("v", 0), ("c", 0), ("array", [], 64)]).result
                raise NotAvailable(f"passing a rank-{v.type.rank} tensor where rank {want.rank} is expected",
                                   span)
            return v
        if isinstance(want, ScalarTy) and isinstance(have, ScalarTy):
            return self.b.cast(v, want.dtype, span)
        if isinstance(want, TupleTy) and isinstance(have, TupleTy) and len(want.items) == len(have.items):
            items = [self.coerce(self.b.get(v, i, span), t, span) for i, t in enumerate(want.items)]
            return self.b.tuple(items, span)
        return self.coerce_object(v, want, span)

    def coerce_object(self, v: Value, want: IRType, span) -> Value:
        """Conversions into and out of objects: fixed-length lists to and from lists, lists of tensors of
        a known rank as lists of any rank (a shallow copy), structs as trait objects, union members."""
        from .lower_objects import list_to_tuple, to_list
        have = v.type
        if isinstance(want, ListTy) and isinstance(have, TupleTy):
            return to_list(self, v, want, span)
        if isinstance(want, TupleTy) and isinstance(have, ListTy):
            return list_to_tuple(self, v, want, span)
        if isinstance(want, ListTy) and isinstance(have, ListTy) and \
                _same_representation(have.elem, want.elem):
            # A list of rank-k tensors where a list of any rank is expected: a shallow copy (the tensors are
            # shared), not the same list — appending another rank through it must not reach a list whose
            # readers assume rank k.
            bounds = [self.b.const(-(2**63), I64, span), self.b.const(-(2**63), I64, span),
                      self.b.const(1, I64, span)]
            return self.rt("trt_list_slice", [v, *bounds], want, span)
        if isinstance(want, UnionTy):
            k = want.index(have)
            if k is None:  # the first member the value converts to (the checker's `member:<i>` step)
                for i, m in enumerate(want.members):
                    try:
                        v, k = self.coerce(v, m, span), i
                        break
                    except NotAvailable:
                        continue
            if k is None:
                raise NotAvailable(f"converting {have} to {want}", span)
            return self.b.op("union_make", [v], [want], {"index": k}, span).result
        if isinstance(want, TraitTy) and isinstance(have, StructTy):
            from .lower_traits import to_trait
            return to_trait(self, v, want, span)
        raise NotAvailable(f"converting {have} to {want}", span)

    def convert_to(self, v: Value, checker_type, span) -> Value:
        if isinstance(v.type, TupleTy):  # a fixed-length list (a tuple at run time) keeps its length
            fixed = fixed_list_type(checker_type, len(v.type.items))
            if fixed is not None:
                return self.coerce(v, fixed, span)
        return self.coerce(v, ir_type(checker_type, span), span)

    def bound_arg(self, arg) -> Value:
        """The value filling one bound parameter (the written argument or its default), converted."""
        from .lower_prims import constant_value
        if arg.expr is not None:
            v = self.lower_expr(arg.expr)
        elif arg.default_expr is not None:
            v = self.lower_expr(arg.default_expr)
        else:
            return constant_value(self, arg.default_value, arg.param_type, None)
        if arg.param_type is not None and _is_value_type(arg.param_type):
            try:
                return self.convert_to(v, arg.param_type, arg.expr.span if arg.expr else None)
            except NotAvailable:
                return v
        return v

    # -- calls ----------------------------------------------------------------------------------------
    def expr_Call(self, e) -> Value:
        from ..check import targets as tg
        from .lower_prims import lower_primitive

        target = e.target
        if isinstance(target, tg.PrimitiveTarget):
            return lower_primitive(self, e, target)
        if isinstance(target, tg.FunctionTarget):
            inst = target.instance
            if inst.body is None:
                raise NotAvailable(f"the library function '{inst.fn.name}'", e.span)
            # A function argument known at compile time (a named function) is bound into a copy of the
            # callee (direct calls); any other function value (a closure, a variable) is passed at run time.
            fn_values, dynamic = {}, set()
            for i, a in enumerate(target.args):
                if isinstance(a.param_type, ct.FnType):
                    static = self.static_function(a.expr or a.default_expr)
                    if static is not None:
                        fn_values[i] = static
                    else:
                        dynamic.add(i)
            name = inst.mangled()
            if fn_values or dynamic:
                special = self.program.specialize(inst, fn_values)
                if special is None:
                    raise NotAvailable("closures and functions as values", e.span)
                name = special.name
            args = [self.bound_arg(a) for i, a in enumerate(target.args)
                    if not isinstance(a.param_type, (ct.TypeType, ct.FnType)) or i in dynamic]
            return self.call_function(name, inst, args, e.span)
        if isinstance(target, tg.ClosureTarget):
            if self.static_function(target.callee) is None:  # a closure or a function value: at run time
                from .lower_closures import call_value
                fv = self.lower_expr(target.callee)
                return call_value(self, fv, [self.bound_arg(a) for a in target.args], e.span)
            inst = self.function_value(target.callee, e.span)
            if inst.body is None:
                raise NotAvailable(f"the library function '{inst.fn.name}'", e.span)
            if any(isinstance(t, ct.FnType) for t in inst.param_types):
                raise NotAvailable("closures and functions as values", e.span)
            args = [self.bound_arg(a) for a in target.args]
            # Parameters beyond the function type's are the callee's defaults (it fits with them).
            extra = [(d, t) for d, t in zip(inst.fn.defaults[len(args):], inst.param_types[len(args):],
                                            strict=True) if d is not None]
            if len(args) + len(extra) != len(inst.params):
                raise NotAvailable("closures and functions as values", e.span)
            args += [self.convert_to(self.lower_expr(d), t, e.span) for d, t in extra]
            return self.call_function(inst.mangled(), inst, args, e.span)
        if isinstance(target, tg.StructTarget):
            from .lower_objects import lower_struct_new
            return lower_struct_new(self, e, target)
        if isinstance(target, tg.MethodTarget):
            # a method of a struct known statically: a direct call with the receiver as `self`
            inst = target.instance
            receiver = self.lower_expr(target.receiver)
            args = [self.bound_arg(a) for a in target.args if not isinstance(a.param_type, ct.TypeType)]
            return self.call_function(inst.mangled(), inst, [receiver, *args], e.span)
        if isinstance(target, tg.TraitMethodTarget):
            from .lower_traits import lower_trait_call
            return lower_trait_call(self, e, target)
        kinds = {tg.MethodTarget: "methods of structs", tg.StructTarget: "structs as run-time values",
                 tg.ClosureTarget: "closures", tg.TraitMethodTarget: "traits"}
        raise NotAvailable(kinds.get(type(target), "this call"), e.span)


    def call_function(self, name: str, inst, args: list[Value], span) -> Value:
        """A direct call of the IR function `name` (an instance of `inst`), arguments coerced."""
        callee = self.program.module.functions.get(name)
        if callee is not None:
            args = [self.coerce(a, p.type, span) for a, p in zip(args, callee.params, strict=True)]
            ret = callee.ret_type
        else:
            ret = ir_type(inst.ret, span)
        op = self.b.call(name, args, ret, span)
        return op.results[0] if op.results else self.b.tuple([], span)

    def static_function(self, e):
        """The function instance a function-typed expression denotes at compile time, else None."""
        try:
            return self.function_value(e, getattr(e, "span", None))
        except NotAvailable:
            return None

    def function_value(self, e, span):
        """The function instance a function-typed expression denotes: a named function (`FunctionRef`) or
        a parameter bound to one in this specialization. Anything else (a closure) is not available."""
        from ..check import targets as tg

        if isinstance(e, ast.Name):
            if isinstance(getattr(e, "target", None), tg.FunctionRef):
                return e.target.instance
            bound = getattr(self, "fn_values", {}).get(e.name)
            if bound is not None and self.scopes.lookup(e.name) is None:
                return bound
        raise NotAvailable("closures and functions as values", getattr(e, "span", None) or span)


def _dtype(t) -> str:
    d = ct.dtype_of(t)
    if d is None:
        return "float32"
    return "float32" if isinstance(t, ct.TensorType) and t.ternary else d


def _compares_trits(t, other) -> bool:
    """`t` is a trit tensor (TernaryTensor or not) and `other` an integer (a literal, scalar or tensor)."""
    if not (isinstance(t, ct.TensorType) and (t.ternary or t.dtype == "trit")):
        return False
    d = ct.dtype_of(other)
    return d in ("trit", "int8", "int16", "int32", "int64") and not (
        isinstance(other, ct.TensorType) and other.ternary)


def _is_value_type(t) -> bool:
    return isinstance(t, (ct.Scalar, ct.TensorType, ct.TupleType, ct.StrType, ct.OptionalType, ct.ListType,
                          ct.StructType, ct.TraitType))


def _same_representation(a: IRType, b: IRType) -> bool:
    """Elements of IR type a may be read as b without a change (a tensor of rank k as one of any rank)."""
    if a == b:
        return True
    return (isinstance(a, TensorTy) and isinstance(b, TensorTy) and b.rank is None and a.dtype == b.dtype
            and a.ternary == b.ternary)

