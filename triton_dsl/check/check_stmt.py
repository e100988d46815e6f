"""Statement checking: `let` (with destructuring), assignment, `if`/`while`/`for`, `break`/`continue`,
`return`, and the flow facts the checker needs (does a block always leave: return or panic).

In: statements of a function body, closure, `main` or the top level. Out: `check_block(block) -> bool`,
True when control never falls off the end of the block (every path returns or diverges); errors go to
the sink (E06xx for control flow).

Narrowing: after `if x != None { ... }` the then-branch sees `x` without `?`; after
`if x == None { return ... }` the rest of the block does; `if x is T` narrows `x` to `T` in the branch
(and to the other members in `else`). A condition known statically (`x is T` on a resolved union)
checks only the branch taken (the other one is dead code in this instance: `If.static`).
"""

from __future__ import annotations

from ..syntax import ast
from .assign import convert
from .env import VarInfo
from .prim_builtin_rules import element_type
from .types import (
    ERROR,
    NONE,
    UNIT,
    ListType,
    NeverType,
    OptionalType,
    StructType,
    TensorType,
    TupleType,
    Type,
    TypeType,
    UnionType,
    is_bool_like,
    is_error,
    make_union,
)


class StmtMixin:
    def check_block(self, block: ast.Block, new_scope: bool = True) -> bool:
        if new_scope:
            self.push_scope()
        leaves = False
        for stmt in block.stmts:
            if self.check_stmt(stmt):
                leaves = True
                if isinstance(stmt, ast.If) and getattr(stmt, "static", None) is not None:
                    # `if x is A { return ... }` in the instance where x is an A: what follows is dead
                    # code in this instance, typed for the other members (`x.w` of a B); not checked here
                    break
        if new_scope:
            self.pop_scope()
        return leaves

    def check_stmt(self, s) -> bool:
        method = getattr(self, "_stmt_" + type(s).__name__)
        return bool(method(s))

    # ------------------------------------------------------------------ bindings

    def _stmt_Let(self, s: ast.Let):
        if s.type is not None:
            declared = self.body_resolver().resolve(s.type)
            s.declared = declared  # the back end converts the value to it (`let o: S? = None`)
            t = declared
            self.check_against(s.value, declared, "this `let`")
        else:
            t = self.check_expr(s.value)
            if t == UNIT or isinstance(t, NeverType):
                if t == UNIT:
                    self.error("E0301", "this expression has no value to bind", s.value.span)
                t = ERROR
            elif t == NONE:
                self.error("E0306", "cannot infer a type from `None` alone; write it: `let x: T? = None`",
                           s.value.span)
                t = ERROR
        self.bind_pattern(s.target, t, s.value)
        return isinstance(s.value.ty, NeverType)

    def bind_pattern(self, p, t: Type, value: ast.Expr | None = None, kind: str = "var") -> None:
        if isinstance(p, ast.NamePattern):
            node = value if isinstance(t, ListType) and t.elem is None else None
            var = VarInfo(p.name, t, p.span, kind=kind, node=node)
            self.scope.define(var)
            if node is not None:
                self.empty_lists.append(var)
            if self.ctx.instance is None and self.scope.parent is None:
                self.env.globals[p.name] = var
            return
        if isinstance(t, TupleType) and len(t.items) == len(p.elems):
            for sub, st in zip(p.elems, t.items, strict=True):
                self.bind_pattern(sub, st, None, kind)
            return
        if not is_error(t):
            what = f"a tuple of {len(t.items)}" if isinstance(t, TupleType) else f"`{t}`"
            self.error("E0305", f"cannot destructure {what} into {len(p.elems)} names", p.span)
        for sub in p.elems:
            self.bind_pattern(sub, ERROR, None, kind)

    def _stmt_Assign(self, s: ast.Assign):
        target = s.target
        if isinstance(target, ast.Name):
            var = self.scope.lookup(target.name) or self.env.global_var(target.name)
            if var is None:
                self.check_expr(s.value)
                self.unknown_name(target.name, target.span)
                return False
            if var.kind == "dim":
                self.error("E0309", f"`{target.name}` is a named dimension and cannot be assigned",
                           target.span)
                return False
            target.ty = var.ty
            self.check_against(s.value, var.ty, f"`{target.name}`")
            if isinstance(var.ty, TypeType) and s.value.ty != var.ty:
                var.ty = TypeType()  # a dtype variable assigned twice is no longer a known constant
            return False
        if isinstance(target, ast.Attribute):
            ot = self.check_expr(target.obj)
            if isinstance(ot, TensorType) and target.name in ("grad", "requires_grad"):
                ft = self.attribute_type(ot, target.name, target.span)
            elif isinstance(ot, StructType) or is_error(ot):
                ft = self.attribute_type(ot, target.name, target.span)
            else:
                ft = self.attribute_type(ot, target.name, target.span)
                if not is_error(ft):
                    self.error("E0309", f"`.{target.name}` of `{ot}` cannot be assigned", target.span)
                    ft = ERROR
            target.ty = ft
            if is_error(ft):
                self.check_expr(s.value)
            else:
                self.check_against(s.value, ft, f"field `{target.name}`")
            return False
        if isinstance(target, ast.Index):
            tt = self.check_expr(target)
            if is_error(tt):
                self.check_expr(s.value)
                return False
            vt = self.check_expr(s.value)
            if isinstance(target.obj.ty, TensorType):
                if convert(vt, tt, self.conforms, literal=True) is None and not self._broadcasts(vt, tt):
                    self.report_mismatch(s.value.span, vt, tt, "this element store")
            else:
                self.coerce(s.value, vt, tt, "this element store")
            return False
        self.error("E0309", "this cannot be assigned", target.span)
        return False

    def _broadcasts(self, vt: Type, tt: Type) -> bool:
        from .operators import OpError, check_binary

        try:
            check_binary("+", tt, vt)
            return True
        except OpError:
            return False

    def _stmt_ExprStmt(self, s: ast.ExprStmt):
        t = self.check_expr(s.expr)
        return isinstance(t, NeverType)

    # ------------------------------------------------------------------ control flow

    def check_condition(self, cond: ast.Expr) -> None:
        t = self.check_expr(cond)
        if not is_bool_like(t) and not is_error(t):
            self.error("E0302", f"a condition must be a `bool`, found `{t}`", cond.span)

    def static_truth(self, cond: ast.Expr):
        if isinstance(cond, ast.Is):
            return getattr(cond, "static", None)
        if isinstance(cond, ast.Unary) and cond.op == "!":
            v = self.static_truth(cond.operand)
            return None if v is None else not v
        if isinstance(cond, ast.BoolLit):
            return cond.value
        return None

    def narrowings(self, cond: ast.Expr, positive: bool) -> dict[str, Type]:
        """Variables whose type is narrower when `cond` is `positive`."""
        if isinstance(cond, ast.Unary) and cond.op == "!":
            return self.narrowings(cond.operand, not positive)
        if isinstance(cond, ast.Binary) and cond.op in ("&&", "||"):
            if (cond.op == "&&") == positive:
                out = self.narrowings(cond.left, positive)
                out.update(self.narrowings(cond.right, positive))
                return out
            return {}
        if isinstance(cond, ast.Binary) and cond.op in ("==", "!="):
            name, other = cond.left, cond.right
            if isinstance(name, ast.NoneLit):
                name, other = other, name
            if isinstance(name, ast.Name) and isinstance(other, ast.NoneLit):
                var = self.scope.lookup(name.name) or self.env.global_var(name.name)
                if var is not None and isinstance(var.ty, OptionalType):
                    not_none = (cond.op == "!=") == positive
                    return {name.name: var.ty.inner if not_none else NONE}
        if isinstance(cond, ast.Is) and isinstance(cond.value, ast.Name):
            var = self.scope.lookup(cond.value.name) or self.env.global_var(cond.value.name)
            tested = getattr(cond, "tested_ty", None)
            if var is not None and isinstance(var.ty, UnionType) and tested is not None:
                if positive:
                    return {var.name: tested}
                rest = [m for m in var.ty.members if m != tested]
                return {var.name: make_union(rest)} if rest else {}
        return {}

    def _narrowed_block(self, block: ast.Block, narrow: dict[str, Type]) -> bool:
        self.push_scope()
        for name, t in narrow.items():
            old = self.scope.lookup(name) or self.env.global_var(name)
            self.scope.define(VarInfo(name, t, old.span if old else None, kind=old.kind if old else "var"))
        leaves = self.check_block(block, new_scope=False)
        self.pop_scope()
        return leaves

    def _stmt_If(self, s: ast.If):
        self.check_condition(s.cond)
        static = self.static_truth(s.cond)
        s.static = static
        then_narrow, else_narrow = self.narrowings(s.cond, True), self.narrowings(s.cond, False)
        then_leaves = False if static is False else self._narrowed_block(s.then, then_narrow)
        if s.orelse is None:
            else_leaves = False
        elif static is True:
            else_leaves = False
        elif isinstance(s.orelse, ast.If):
            self.push_scope()
            for name, t in else_narrow.items():
                self.scope.define(VarInfo(name, t, None))
            else_leaves = self.check_stmt(s.orelse)
            self.pop_scope()
        else:
            else_leaves = self._narrowed_block(s.orelse, else_narrow)
        if static is True:
            return then_leaves
        if static is False:
            return else_leaves
        # `if x == None { return }`: the rest of the block sees x narrowed.
        if then_leaves and not else_leaves:
            for name, t in else_narrow.items():
                old = self.scope.lookup(name) or self.env.global_var(name)
                self.scope.define(VarInfo(name, t, old.span if old else None))
        elif else_leaves and not then_leaves:
            for name, t in then_narrow.items():
                old = self.scope.lookup(name) or self.env.global_var(name)
                self.scope.define(VarInfo(name, t, old.span if old else None))
        return then_leaves and else_leaves

    def _stmt_While(self, s: ast.While):
        self.check_condition(s.cond)
        self.ctx.loop_depth += 1
        self.check_block(s.body)
        self.ctx.loop_depth -= 1
        has_break = any(isinstance(n, ast.Break) for n in ast.walk(s.body))
        return isinstance(s.cond, ast.BoolLit) and s.cond.value and not has_break

    def _stmt_For(self, s: ast.For):
        it = self.check_expr(s.iter)
        elem = element_type(it)
        if elem is None:
            self.error("E0301", f"cannot loop over `{it}`: expected a range, a list or a tensor", s.iter.span)
            elem = ERROR
        self.push_scope()
        self.bind_pattern(s.target, elem)
        self.ctx.loop_depth += 1
        self.check_block(s.body)
        self.ctx.loop_depth -= 1
        self.pop_scope()
        return False

    def _stmt_Break(self, s):
        if self.ctx.loop_depth == 0:
            self.error("E0602", "`break` outside of a loop", s.span)
        return False

    def _stmt_Continue(self, s):
        if self.ctx.loop_depth == 0:
            self.error("E0603", "`continue` outside of a loop", s.span)
        return False

    def _stmt_Return(self, s: ast.Return):
        ret = self.ctx.ret
        if self.ctx.kind == "toplevel":
            self.error("E0604", "`return` outside of a function", s.span)
            if s.value is not None:
                self.check_expr(s.value)
            return True
        if s.value is None:
            if ret is not None and ret != UNIT and not is_error(ret):
                self.error("E0605", f"this function must return a value of type `{ret}`", s.span)
            self.ctx.returns.append(UNIT)
            return True
        if ret is None:
            self.ctx.returns.append(self.check_expr(s.value))
        elif ret == UNIT:
            t = self.check_expr(s.value)
            if not is_error(t) and t != UNIT:
                self.error("E0606", f"this function has no return type but returns a value of type `{t}`; "
                           f"declare it: `-> {t}`", s.value.span)
        else:
            self.check_against(s.value, ret, "the return value")
        return True

