"""Lowering of one function body's statements: let/assign, if, while, for, return, break, continue.

In: a `FunctionInstance` (or the top-level statements) and the IR function to fill. Out: the body
ops, in SSA with structured regions (see `ir.lowering` for the variable rules).
"""

from __future__ import annotations

from ..check import types as ct
from ..syntax import ast
from .builder import Builder
from .lower_expr import ExprLowerer
from .lowering import NotAvailable, Scopes, assigned_names, ir_type, not_available_message
from .nodes import Function, Value
from .types import BOOL, I32, I64, ScalarTy, TensorTy, TupleTy


class _LoopFrame:
    def __init__(self, carried: list[str]):
        self.carried = carried


class _ListLoops:
    """`for x in xs`, `for (i, x) in enumerate(xs)`, `for (a, b) in zip(xs, ys)` over growable lists (a
    mixin of `FunctionLowerer`). Python's semantics: the length is read before every iteration, so items
    appended by the body are visited too; `zip` stops at the shorter list."""

    def list_loop(self, it):
        """(kind, lists) when `it` iterates over list objects, else None (ranges, fixed-length lists)."""
        from .lower_objects import as_list
        from .types import ListTy

        target = getattr(it, "target", None)
        name = getattr(target, "name", None) if isinstance(it, ast.Call) else None
        if name in ("enumerate", "zip") and getattr(target, "primitive", None) is not None:
            exprs = [a.expr for a in target.args]
            kind = name
        elif isinstance(getattr(it, "ty", None), ct.ListType) and not isinstance(it, ast.ListLit):
            exprs, kind = [it], "items"
        elif isinstance(it, ast.ListLit) and isinstance(getattr(it, "ty", None), ct.ListType) and \
                self.fixed_list(it) is None:
            exprs, kind = [it], "items"
        else:
            return None
        if not all(isinstance(getattr(x, "ty", None), ct.ListType) for x in exprs):
            return None
        values = [as_list(self, self.lower_expr(x), x.ty, x.span) for x in exprs]
        if not all(isinstance(v.type, ListTy) for v in values):
            return None
        return kind, values

    def iterated_tensor(self, it):
        """The tensor a `for` loop walks along its first axis, else None."""
        ty = getattr(it, "ty", None)
        if not (isinstance(ty, ct.TensorType) and isinstance(ty.shape, tuple) and ty.shape):
            return None
        if ty.ternary or ty.dtype == "trit":
            raise NotAvailable("for loops over packed ternary tensors", it.span)
        return self.lower_expr(it)

    def tensor_row(self, t: Value, i: Value, span) -> Value:
        """`t[i]` for 0 <= i < t.shape[0]: an element of a vector, a sub-tensor otherwise."""
        from .types import TensorTy
        if t.type.rank == 1:
            self.require("trt_offset", span)
            layout = [("v", 0), ("array", [1], 64), ("c", 1)]
            off = self.b.rt("trt_offset", [t, i], I64, span, args=layout).result
            return self.b.op("load", [t, off], [ScalarTy(t.type.dtype)], span=span).result
        zero = self.b.const(0, I64, span)
        self.require("trt_index", span)
        return self.b.rt("trt_index", [t, zero, i, zero, zero], TensorTy(t.type.dtype, t.type.rank - 1), span,
                         args=[("v", 0), ("array", [1, 2, 3, 4], 64), ("c", 1)]).result

    def lower_for_lists(self, s: ast.For, kind: str, lists: list) -> None:
        counter = f"$for.{id(s)}"
        self.scopes.define(counter, self.b.const(0, I64, s.span))
        names = [counter] + self.visible_assigned(s.body.stmts)
        op = self.b.while_([self.scopes.lookup(n) for n in names], s.span)
        before, after = op.regions
        self.name_values(names, before.args, after.args, op.results)
        snap = self.scopes.snapshot()
        with self.b.at(before):
            lengths = [self.b.op("list_len", [lst], [I64], span=s.span).result for lst in lists]
            n = lengths[0]
            for other in lengths[1:]:
                n = self.b.binary("min", n, other, s.span)
            self.b.condition(self.b.binary("lt", before.args[0], n, s.span), s.span)
        self.scopes.restore(snap)
        for name, a in zip(names, after.args, strict=True):
            self.scopes.assign(name, a)
        self.loops.append(_LoopFrame(names))
        with self.b.at(after):
            self.scopes.push()
            i = after.args[0]
            # the condition just checked i < length: the reads need no bounds check
            items = [self.b.op("list_get", [lst, i], [lst.type.elem], {"unchecked": True}, s.span).result
                     for lst in lists]
            self.scopes.assign(counter, self.b.binary("add", i, self.b.const(1, I64, s.span), s.span))
            if kind == "enumerate":
                items = [self.b.cast(i, "int32", s.span), items[0]]
            value = items[0] if kind == "items" else self.b.tuple(items, s.span)
            self.bind_pattern(s.target, value)
            self.lower_stmts(s.body.stmts)
            self.scopes.pop()
            if after.terminator is None:
                self.b.yield_([self.scopes.lookup(n) for n in names], s.span)
        self.loops.pop()
        self.scopes.restore(snap)
        for name, r in zip(names, op.results, strict=True):
            self.scopes.assign(name, r)


class FunctionLowerer(ExprLowerer, _ListLoops):
    def __init__(self, program, fn: Function, inst):
        self.program = program
        self.fn = fn
        self.inst = inst
        self.b = Builder(fn.body, fn.span)
        self.scopes = Scopes()
        self.loops: list[_LoopFrame] = []
        self.boxed: set[str] = set()  # variables living in cells (captured by a closure and assigned)

    # -- entry points ---------------------------------------------------------------------------------
    def lower_instance(self) -> None:
        from .lower_closures import boxed_names
        self.boxed = boxed_names(self.inst.body.stmts)
        for i, v in zip(self.fn.param_origin, self.fn.params, strict=True):
            self.define_var(self.inst.params[i].name, v, self.fn.span)
        # Named dims are int64 values (as numpy's shapes) read from the tensor argument that carries them.
        for name, (pi, axis) in self.inst.dim_sources.items():
            d = self.b.dim(self.fn.params[self.fn.param_origin.index(pi)], axis, self.fn.span)
            self.scopes.define(name, d)
        for name, (field, axis) in self.inst.field_dim_sources.items():
            # a method's named dim carried only by a field of `self` (`weights: Tensor<float32, [n]>`)
            from .lower_objects import struct_layout
            this = self.fn.params[0]
            layout = struct_layout(self, this.type.name, self.fn.span)
            i = layout.index(field)
            t = self.b.op("field_get", [this], [layout.fields[i][1]], {"index": i}, self.fn.span).result
            self.scopes.define(name, self.b.dim(t, axis, self.fn.span))
        self.check_named_dims()
        self.lower_body(self.inst.body.stmts)

    def check_named_dims(self) -> None:
        """A named dim written in several parameters must agree: checked here, at the function's entry,
        for the dims the checker could not prove (`n` of `x: [n]` and `y: [n]` from unknown callers)."""
        for name, (src_param, src_axis) in self.inst.dim_sources.items():
            src = self.fn.params[self.fn.param_origin.index(src_param)]
            for k, pi in enumerate(self.fn.param_origin):
                shape = getattr(self.inst.param_types[pi], "shape", None)
                if pi == src_param or not isinstance(shape, tuple):
                    continue
                for axis, d in enumerate(shape):
                    if d == name:
                        other = self.fn.params[k]
                        what = (f"{self.fn.source_name}(): dimension '{name}' of "
                                f"'{self.inst.params[src_param].name}' and '{self.inst.params[pi].name}'")
                        self.b.op("check_dim", [src, other], [], {"axes": (src_axis, axis), "what": what},
                                  self.inst.params[pi].span)


    def lower_entry(self, stmts: list) -> None:
        from .lower_closures import boxed_names
        from .lower_globals import clear_globals
        self.boxed = boxed_names(stmts)
        self.lower_stmts(stmts)
        if self.b.block.terminator is None:
            clear_globals(self, self.fn.span)  # the program is over: release the top-level variables
            self.b.ret(None, self.fn.span)

    def define_var(self, name: str, v: Value, span) -> None:
        """Bind a new variable; one that closures capture and someone assigns lives in a cell."""
        if name in self.boxed:
            from .lower_closures import is_cell, new_cell
            if not is_cell(v):
                v = new_cell(self, v, span)
        self.scopes.define(name, v)

    def lower_body(self, stmts: list) -> None:
        self.lower_stmts(stmts)
        if self.b.block.terminator is None:
            if self.fn.returns_value:
                # The checker guarantees a return on every path; this point is unreachable.
                self.b.panic(self.b.const("missing return", _str()), self.fn.span)
            else:
                self.b.ret(None, self.fn.span)

    def lower_stmts(self, stmts: list) -> None:
        for s in stmts:
            if self.b.block.terminator is not None:
                return  # code after return/break/continue is unreachable
            try:
                self.lower_stmt(s)
            except NotAvailable as exc:
                self.program.not_available(exc)
                if self.b.block.terminator is None:
                    self.b.panic(self.b.const(not_available_message(exc.what), _str()), exc.span or s.span)

    # -- statements -----------------------------------------------------------------------------------
    def lower_stmt(self, s) -> None:
        if isinstance(s, ast.ExprStmt):
            self.lower_expr(s.expr)
        elif isinstance(s, ast.Let):
            value = self.lower_expr(s.value)
            if s.type is not None and s.value.ty is not None:
                value = self.convert_to(value, self.declared_type(s), s.value.span)
            else:
                from .lower_objects import as_list
                value = as_list(self, value, s.value.ty, s.value.span)
            self.bind_pattern(s.target, value)
        elif isinstance(s, ast.Assign):
            if isinstance(s.target, ast.Attribute) and isinstance(s.target.obj.ty, ct.StructType):
                from .lower_objects import lower_field_store
                return lower_field_store(self, s)
            if isinstance(s.target, ast.Index) and isinstance(s.target.obj.ty, ct.ListType):
                from .lower_objects import lower_element_store
                return lower_element_store(self, s)
            if not isinstance(s.target, ast.Name):
                raise NotAvailable("assignment to this target", s.span)
            old = self.scopes.lookup(s.target.name)
            value = self.lower_value(s.value)
            from .lower_globals import is_top_binding, store_global
            if old is None and s.target.name in self.program.shared_globals:
                return store_global(self, s.target.name, value, s.span)  # a function assigns a global
            if is_top_binding(self, s.target.name):
                store_global(self, s.target.name, value, s.span)
            if old is not None and s.target.name in self.boxed:
                from .lower_closures import is_cell, write_cell
                if is_cell(old):
                    return write_cell(self, old, value, s.span)
            if old is not None and old.type != value.type:
                value = self.coerce(value, old.type, s.value.span)
            self.scopes.assign(s.target.name, value)
        elif isinstance(s, ast.Return):
            value = self.lower_expr(s.value) if s.value is not None else None
            if value is not None and value.type != self.fn.ret_type:
                value = self.coerce(value, self.fn.ret_type, s.value.span)
            self.b.ret(value, s.span)
        elif isinstance(s, ast.If):
            self.lower_if(s)
        elif isinstance(s, ast.While):
            self.lower_while(s)
        elif isinstance(s, ast.For):
            self.lower_for(s)
        elif isinstance(s, (ast.Break, ast.Continue)):
            carried = [self.scopes.lookup(n) for n in self.loops[-1].carried]
            self.b.op("break" if isinstance(s, ast.Break) else "continue", carried, span=s.span)
        elif isinstance(s, ast.Block):
            self.scopes.push()
            self.lower_stmts(s.stmts)
            self.scopes.pop()
        else:
            raise NotAvailable(f"the statement '{type(s).__name__.lower()}'", s.span)

    def declared_type(self, s: ast.Let):
        """The annotated type of `let x: T = e` (the checker's when it records it, else read from the
        annotation for the shapes of type that matter at run time: dtype, rank, optional, tuple)."""
        declared = getattr(s, "declared", None)
        if declared is not None:
            return declared
        return annotation_type(s.type) or s.value.ty

    def bind_pattern(self, target, value) -> None:
        if isinstance(target, ast.NamePattern):
            self.define_var(target.name, value, target.span)
            from .lower_globals import is_top_binding, store_global
            if is_top_binding(self, target.name):  # a top-level variable some function reads
                store_global(self, target.name, value, target.span)
        elif isinstance(target, ast.TuplePattern):
            for i, t in enumerate(target.elems):
                self.bind_pattern(t, self.b.get(value, i, target.span))
        else:
            raise NotAvailable("this binding pattern", target.span)

    def visible_assigned(self, stmts: list) -> list[str]:
        return sorted(n for n in assigned_names(stmts) if self.scopes.lookup(n) is not None)

    def lower_region(self, block, stmts: list, names: list[str], snap, span) -> None:
        """Lower `stmts` into `block`, ending with a yield of `names`' values (unless it left early)."""
        self.scopes.restore(snap)
        with self.b.at(block):
            self.scopes.push()
            self.lower_stmts(stmts)
            self.scopes.pop()
            if block.terminator is None:
                self.b.yield_([self.scopes.lookup(n) for n in names], span)

    @staticmethod
    def name_values(names: list[str], *groups) -> None:
        for group in groups:
            for n, v in zip(names, group, strict=True):
                v.hint = n

    def lower_if(self, s: ast.If) -> None:
        if getattr(s, "static", None) is not None:  # the checker resolved `x is T`: one branch only
            taken = s.then if s.static else s.orelse
            if taken is not None:
                self.lower_stmt(taken)
            return
        cond = self.as_bool(self.lower_expr(s.cond), s.cond.span)
        then_stmts = s.then.stmts
        else_stmts = [] if s.orelse is None else (s.orelse.stmts if isinstance(s.orelse, ast.Block)
                                                  else [s.orelse])
        names = self.visible_assigned(then_stmts + else_stmts)
        snap = self.scopes.snapshot()
        op = self.b.if_(cond, [self.scopes.lookup(n).type for n in names], s.span)
        self.lower_region(op.regions[0], then_stmts, names, snap, s.span)
        self.lower_region(op.regions[1], else_stmts, names, snap, s.span)
        self.scopes.restore(snap)
        for n, r in zip(names, op.results, strict=True):
            r.hint = n
            self.scopes.assign(n, r)

    def lower_while(self, s: ast.While) -> None:
        names = self.visible_assigned(s.body.stmts)
        inits = [self.scopes.lookup(n) for n in names]
        op = self.b.while_(inits, s.span)
        snap = self.scopes.snapshot()
        before, after = op.regions
        self.name_values(names, before.args, after.args, op.results)
        with self.b.at(before):
            for n, a in zip(names, before.args, strict=True):
                self.scopes.assign(n, a)
            self.b.condition(self.as_bool(self.lower_expr(s.cond), s.cond.span), s.cond.span)
        self.scopes.restore(snap)
        for n, a in zip(names, after.args, strict=True):
            self.scopes.assign(n, a)
        self.loops.append(_LoopFrame(names))
        self.lower_region(after, s.body.stmts, names, self.scopes.snapshot(), s.span)
        self.loops.pop()
        self.scopes.restore(snap)
        for n, r in zip(names, op.results, strict=True):
            self.scopes.assign(n, r)

    def fixed_list(self, it) -> Value | None:
        """The tuple value of a fixed-length list being iterated over, else None."""
        from ..check import types as ct
        if not isinstance(getattr(it, "ty", None), ct.ListType):
            return None
        v = self.lower_expr(it)
        return v if isinstance(v.type, TupleTy) and v.type.items else None

    def range_bounds(self, it):
        """(start, stop, step) as int64 values for `a..b` and `range(...)`."""
        if isinstance(it, ast.Range):
            lo, hi = self.lower_expr(it.start), self.lower_expr(it.end)
            return self.to_i64(lo, it.span), self.to_i64(hi, it.span), self.b.const(1, I64, it.span)
        target = getattr(it, "target", None)
        if isinstance(it, ast.Call) and getattr(target, "name", None) == "range":
            args = {a.name: a for a in target.args}
            start = self.bound_arg(args["start"])
            end = args["end"]
            if end.expr is None and end.default_expr is None:
                lo, hi = self.b.const(0, I64, it.span), self.to_i64(start, it.span)
            else:
                lo, hi = self.to_i64(start, it.span), self.to_i64(self.bound_arg(end), it.span)
            step = self.to_i64(self.bound_arg(args["step"]), it.span)
            self.b.check_eq(self.b.binary("eq", step, self.b.const(0, I64)), self.b.const(False, BOOL),
                            "range() step must not be zero", it.span)
            return lo, hi, step
        raise NotAvailable("for loops over lists and tensors", it.span)

    def lower_for(self, s: ast.For) -> None:
        seqs = self.list_loop(s.iter)
        if seqs is not None:
            return self.lower_for_lists(s, *seqs)
        items = self.fixed_list(s.iter)
        tensor = self.iterated_tensor(s.iter) if items is None else None
        if items is not None:  # `for x in [a, b, c]`: an index loop reading item i
            lo, step = self.b.const(0, I64, s.span), self.b.const(1, I64, s.span)
            hi = self.b.const(len(items.type.items), I64, s.span)
        elif tensor is not None:  # `for row in t`: t[0], t[1], ... along the first axis (numpy's rule)
            lo, step = self.b.const(0, I64, s.span), self.b.const(1, I64, s.span)
            hi = self.b.dim(tensor, 0, s.span)
        else:
            lo, hi, step = self.range_bounds(s.iter)
        if not isinstance(s.target, ast.NamePattern):
            raise NotAvailable("this loop pattern", s.target.span)
        names = self.visible_assigned(s.body.stmts)
        op = self.b.for_(lo, hi, step, [self.scopes.lookup(n) for n in names], s.span)
        body = op.regions[0]
        self.name_values(names, body.args[1:], op.results)
        snap = self.scopes.snapshot()
        for n, a in zip(names, body.args[1:], strict=True):
            self.scopes.assign(n, a)
        inner = self.scopes.snapshot()
        self.loops.append(_LoopFrame(names))
        self.scopes.restore(inner)
        with self.b.at(body):
            self.scopes.push()
            var_ty = ir_type(s.target.ty, s.span) if getattr(s.target, "ty", None) is not None else I32
            if items is not None:  # the loop variable has the type of the list's items
                from .lower_access import select_item
                i = select_item(self, items, body.args[0], s.span)
            elif tensor is not None:
                i = self.tensor_row(tensor, body.args[0], s.span)
            else:
                i = body.args[0] if var_ty == I64 else self.b.cast(body.args[0], var_ty.dtype, s.span)
            self.define_var(s.target.name, i, s.span)
            self.lower_stmts(s.body.stmts)
            self.scopes.pop()
            if body.terminator is None:
                self.b.yield_([self.scopes.lookup(n) for n in names], s.span)
        self.loops.pop()
        self.scopes.restore(snap)
        for n, r in zip(names, op.results, strict=True):
            self.scopes.assign(n, r)


def annotation_type(t):
    """A checker type for a written annotation, or None when it needs the checker's resolution."""
    from ..check import types as ct

    if isinstance(t, ast.OptionalType):
        inner = annotation_type(t.inner)
        return ct.OptionalType(inner) if inner is not None else None
    if isinstance(t, ast.TupleType):
        items = [annotation_type(x) for x in t.elems]
        return ct.TupleType(tuple(items)) if all(i is not None for i in items) else None
    if isinstance(t, ast.TypeName) and not t.args:
        name = ct.DTYPE_ALIASES.get(t.name, t.name)
        if name in ct.DTYPES:
            return ct.Scalar(name)
        return ct.STR if name == "str" else None
    if isinstance(t, ast.TensorType) and isinstance(t.dtype, ast.TypeName) and isinstance(t.shape, list):
        dtype = ct.DTYPE_ALIASES.get(t.dtype.name, t.dtype.name)
        if dtype not in ct.DTYPES:
            return None
        return ct.TensorType(dtype, tuple(None for _ in t.shape), t.kind == "TernaryTensor")
    return None


def _str():
    from .types import STR
    return STR


__all__ = ["FunctionLowerer", "ScalarTy", "TensorTy"]
