"""Expression checking: names, literals, operators, indexing, attributes, f-strings, closures.

In: an `ast.Expr` and, optionally, the type the context expects (used to type empty lists, list and
tuple literals element by element, closures' parameters, and generic functions used as values).
Out: the expression's type, also stored in `expr.ty`. Calls are checked by `calls.CallMixin`.

`check_against(expr, expected, ...)` checks an expression for a slot of a known type and records the
implicit conversion on the node: `expr.conversion` (`assign.Conversion`) and `expr.converted_ty`, when
the conversion is not the identity (the back end applies it).
"""

from __future__ import annotations

import re

from ..abi.format_plan import width_problem
from ..diagnostics import Note
from ..syntax import ast
from . import shapes
from .assign import Conversion, convert
from .operators import OpError, check_binary, check_unary, combine_dtypes
from .prim_rules import is_literal
from .primitives import lookup
from .resolve import did_you_mean
from .types import (
    BOOL,
    DTYPE_ALIASES,
    DTYPES,
    ERROR,
    FLOAT32,
    NONE,
    RANGE,
    STR,
    UNIT,
    FnType,
    ListType,
    NeverType,
    OptionalType,
    Scalar,
    StrType,
    StructType,
    TensorType,
    TraitType,
    TupleType,
    Type,
    TypeType,
    UnionType,
    is_error,
    is_int_like,
    promote_dtypes,
)


def join_types(a: Type, b: Type) -> Type | None:
    """The common type of two list elements / branches (None if they have none)."""
    if a == b:
        return a
    if isinstance(a, Scalar) and isinstance(b, Scalar) and a.name != "str" and b.name != "str":
        return Scalar(promote_dtypes(a.name, b.name))
    if isinstance(a, TensorType) and isinstance(b, TensorType) and a.ternary == b.ternary:
        if isinstance(a.shape, tuple) and isinstance(b.shape, tuple) and len(a.shape) == len(b.shape):
            shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape, strict=True))
        else:
            shape = shapes.ANY_RANK
        return TensorType(promote_dtypes(a.dtype, b.dtype), shape, a.ternary)
    if convert(a, b) is not None and convert(a, b).identity:
        return b
    if convert(b, a) is not None and convert(b, a).identity:
        return a
    return None


_SPEC = re.compile(r"(?:.?[<>=^])?[-+ ]?z?#?0?\d*[,_]?(?:\.\d+)?([bcdeEfFgGnosxX%])?")


INT_RANGES = {f"int{b}": (-(2 ** (b - 1)), 2 ** (b - 1) - 1) for b in (8, 16, 32, 64)}
_INT_CONTEXT_OPS = ("+", "-", "*", "//", "%", "**")


def _dtype_of(t: Type) -> str | None:
    if isinstance(t, Scalar) and t.name != "str":
        return t.name
    if isinstance(t, TensorType) and not t.ternary:
        return t.dtype
    return None


def _int_scalar(t: Type) -> Type | None:
    """t if it is an integer scalar type (a context for integer literals), else None."""
    return t if isinstance(t, Scalar) and t.name in INT_RANGES else None


def _literal_tree(e: ast.Expr) -> bool:
    """An integer literal, or arithmetic of them: the operands an integer context types."""
    if isinstance(e, ast.IntLit):
        return True
    if isinstance(e, ast.Unary) and e.op == "-":
        return _literal_tree(e.operand)
    return isinstance(e, ast.Binary) and e.op in _INT_CONTEXT_OPS and _literal_tree(e.left) \
        and _literal_tree(e.right)


def format_spec_problem(spec: str, t: Type) -> str | None:
    """Why a format spec (`.2%`, `>8.3f`, `d`) does not fit a value of type t (None if it does)."""
    m = _SPEC.fullmatch(spec)
    if m is None:
        return f"invalid format spec `{spec}`"
    too_large = width_problem(spec)
    if too_large:
        return too_large
    kind = m.group(1)
    scalar = t.name if isinstance(t, Scalar) else None
    if isinstance(t, TensorType) and t.shape == () and not t.ternary:
        scalar = t.dtype  # a rank-0 tensor formats like its scalar
    if isinstance(t, StrType):
        if kind in (None, "s"):
            return None
        return f"format spec `{spec}` needs a number, but the value is a string"
    if scalar is None:
        return f"format spec `{spec}` applies to a number or a string, not to `{t}`"
    if kind == "s":
        return f"format spec `{spec}` needs a string, but the value is `{t}`"
    integral = scalar.startswith("int") or scalar in ("bool", "trit")
    if kind in ("b", "c", "d", "o", "x", "X") and not integral:
        return f"format spec `{spec}` needs an integer, but the value is `{t}`"
    return None


class ExprMixin:
    # ------------------------------------------------------------------ entry points

    def check_expr(self, e: ast.Expr, expected: Type | None = None) -> Type:
        method = getattr(self, "_expr_" + type(e).__name__, None)
        t = method(e, expected) if method is not None else ERROR
        if isinstance(t, TensorType):
            try:
                shapes.check_rank(t.shape)  # the one rank limit, whatever op built the type
            except shapes.ShapeError as exc:
                self.error(exc.code, exc.message, e.span)
                t = ERROR
        e.ty = t
        return t

    def check_against(self, e: ast.Expr, expected: Type, what: str, *notes,
                      code: str = "E0301") -> Conversion | None:
        """Check `e` for a slot of type `expected`; report a mismatch (`what` names the slot)."""
        t = self.check_expr(e, expected)
        return self.coerce(e, t, expected, what, *notes, code=code)

    def coerce(self, e: ast.Expr, t: Type, expected: Type, what: str, *notes,
               code: str = "E0301") -> Conversion | None:
        if isinstance(t, ListType) and t.elem is None and isinstance(expected, ListType):
            self.refine_list(e, expected)
            return Conversion()
        conv = convert(t, expected, self.conforms, literal=is_literal(e))
        if conv is None:
            self.report_mismatch(e.span, t, expected, what, *notes, code=code)
            return None
        if not self.literal_fits(e, expected):
            return None
        if not conv.identity:
            e.conversion = conv
            e.converted_ty = expected
        return conv

    def literal_fits(self, e: ast.Expr, expected: Type) -> bool:
        """An integer literal adapting to a narrower integer dtype must be in its range."""
        target = expected.inner if isinstance(expected, OptionalType) else expected
        dtype = target.name if isinstance(target, Scalar) else getattr(target, "dtype", None)
        value = self.const_value(e) if is_literal(e) else None
        if dtype in INT_RANGES and isinstance(value, int):
            low, high = INT_RANGES[dtype]
            if not low <= value <= high:
                self.error("E0311", f"the literal {value} does not fit in `{dtype}` ({low}..{high})", e.span)
                return False
        return True

    def report_mismatch(self, span, t: Type, expected: Type, what: str, *notes, code: str = "E0301") -> None:
        """A value of type t where `expected` is needed (E0301; E0501 for a call argument)."""
        if is_error(t) or is_error(expected):
            return
        exp_t = expected.inner if isinstance(expected, OptionalType) else expected
        if isinstance(exp_t, TensorType) and exp_t.ternary and isinstance(t, TensorType) and not t.ternary:
            self.error("E0701", f"{what} expects `{expected}` but got a float tensor `{t}`; a float tensor "
                       "is not ternary: quantize it first (for example with `ternary_quantize`)", span,
                       *notes)
            return
        if isinstance(t, OptionalType) and convert(t.inner, expected, self.conforms) is not None:
            self.error("E0303", f"{what} expects `{expected}` but got `{t}`, which may be None; check "
                       "`!= None` first", span, *notes)
            return
        self.error(code, f"{what} expects `{expected}`, found `{t}`", span, *notes,
                   *self.mismatch_hints(t, exp_t))

    def mismatch_hints(self, t: Type, expected: Type) -> tuple:
        """Notes saying what differs: ranks of two tensors, methods a struct lacks for a trait."""

        if isinstance(t, TensorType) and isinstance(expected, TensorType) and t.rank is not None \
                and expected.rank is not None and t.rank != expected.rank:
            return (Note(f"the value has rank {t.rank}, the expected type rank {expected.rank}"),)
        if isinstance(t, StructType) and isinstance(expected, TraitType):
            s, tr = self.env.struct(t.name), self.env.trait(expected.name)
            if s is not None and tr is not None:
                missing = [m for m in tr.methods if m not in s.methods]
                if missing:
                    return (Note(f"`{t}` has no method " + ", ".join(f"`{m}`" for m in missing)
                                 + f" required by the trait `{expected}`"),)
                return (Note(f"a method of `{t}` does not have the signature the trait `{expected}` "
                             "requires"),)
        return ()

    # ------------------------------------------------------------------ constants and shapes

    def _expr_IntLit(self, e, expected):
        return self.int_literal_type(e, e.value, expected)

    def int_literal_type(self, e: ast.Expr, value: int, expected: Type | None) -> Type:
        """An integer literal's type: the integer dtype the context expects when the value fits it,
        else `int32`, else `int64`; a value beyond `int64` is an error (E0311), never a wrapped value.
        A float context takes an oversized literal as a float (`let x: float64 = 10**30`-like)."""
        want = expected.inner if isinstance(expected, OptionalType) else expected
        dtype = want.name if isinstance(want, Scalar) else None
        if dtype in INT_RANGES and INT_RANGES[dtype][0] <= value <= INT_RANGES[dtype][1]:
            return Scalar(dtype)
        for name in ("int32", "int64"):
            low, high = INT_RANGES[name]
            if low <= value <= high:
                return Scalar(name)
        if dtype in ("float16", "float32", "float64"):
            return Scalar(dtype)
        low, high = INT_RANGES["int64"]
        self.error("E0311", f"the literal {value} does not fit in any integer type: the widest, "
                   f"`int64`, holds {low}..{high}", e.span)
        return ERROR

    def const_int(self, e: ast.Expr) -> int | None:
        """The value of an integer constant expression (literals, unary `-`, `+ - * // % **`), else
        None. Used to find a constant expression that overflows its dtype at compile time."""
        if isinstance(e, ast.IntLit):
            return e.value
        if isinstance(e, ast.Unary) and e.op == "-":
            v = self.const_int(e.operand)
            return None if v is None else -v
        if isinstance(e, ast.Binary) and e.op in ("+", "-", "*", "//", "%", "**"):
            a, b = self.const_int(e.left), self.const_int(e.right)
            if a is None or b is None:
                return None
            if e.op == "+":
                return a + b
            if e.op == "-":
                return a - b
            if e.op == "*":
                return a * b
            if e.op in ("//", "%"):
                if b == 0:
                    return None
                return a // b if e.op == "//" else a % b  # floor division, as the language's `//`
            if b < 0 or (b > 64 and abs(a) > 1):
                return None if b < 0 else (2 ** 64 if a > 0 or b % 2 == 0 else -(2 ** 64))
            return a ** b
        return None

    def _expr_FloatLit(self, e, expected):
        return FLOAT32

    def _expr_BoolLit(self, e, expected):
        return BOOL

    def _expr_StrLit(self, e, expected):
        return STR

    def _expr_NoneLit(self, e, expected):
        return NONE

    def _expr_FString(self, e, expected):
        for part in e.parts:
            if isinstance(part, ast.FStringExpr):
                t = self.check_expr(part.expr)
                if isinstance(t, NeverType) or t == UNIT:
                    self.error("E0301", "this expression has no value to format", part.expr.span)
                elif part.spec and not is_error(t):
                    problem = format_spec_problem(part.spec, t)
                    if problem:
                        self.error("E0310", problem, part.expr.span)
        return STR

    def _expr_Name(self, e: ast.Name, expected):
        var = self.scope.lookup(e.name)
        if var is None:
            var = self.env.global_var(e.name)
            if var is not None and self.ctx.instance is not None:
                self.ctx.instance.global_reads.append((var, e))  # see Checker.check_global_order
        if var is not None:
            return var.ty
        info = self.env.function(e.name)
        if info is not None:
            return self.function_value(e, info, expected)
        dtype = DTYPE_ALIASES.get(e.name, e.name)
        if dtype in DTYPES:
            return TypeType(dtype)
        if self.env.struct(e.name) is not None:
            self.error("E0301", f"`{e.name}` is a struct: call it to build a value (`{e.name}(...)`)", e.span)
            return ERROR
        if lookup(e.name) is not None:
            self.error("E0301", f"the builtin `{e.name}` cannot be used as a value; wrap it in a closure "
                       f"(`fn(x) {{ return {e.name}(x) }}`)", e.span)
            return ERROR
        self.unknown_name(e.name, e.span)
        return ERROR

    def unknown_name(self, name: str, span) -> None:
        from .primitives import primitives

        candidates = self.scope.names() | self.env.all_names() | set(primitives())
        self.error("E0201", f"cannot find `{name}` in this scope", span, *did_you_mean(name, candidates))

    # ------------------------------------------------------------------ compound literals

    def _expr_ListLit(self, e: ast.ListLit, expected):
        want = expected.inner if isinstance(expected, OptionalType) else expected
        if isinstance(want, ListType) and want.elem is not None:
            for x in e.elems:
                self.check_against(x, want.elem, "a list element")
            return want
        if not e.elems:
            return ListType(None)
        elem: Type | None = None
        for x in e.elems:
            t = self.check_expr(x)
            if elem is None or is_error(elem):
                elem = t
                continue
            joined = join_types(elem, t)
            if joined is None and not is_error(t):
                self.error("E0301", f"list elements must have one type: found `{elem}` and `{t}`", x.span)
                return ERROR
            elem = joined or elem
        return ListType(elem)

    def _expr_TupleLit(self, e: ast.TupleLit, expected):
        if isinstance(expected, TupleType) and len(expected.items) == len(e.elems):
            items = []
            for x, t in zip(e.elems, expected.items, strict=True):
                conv = self.check_against(x, t, "a tuple element")
                items.append(t if conv is not None else x.ty)
            return TupleType(tuple(items))
        return TupleType(tuple(self.check_expr(x) for x in e.elems))

    def _expr_Range(self, e: ast.Range, expected):
        for x in (e.start, e.end):
            t = self.check_expr(x)
            if not is_int_like(t) and not is_error(t):
                self.error("E0301", f"a range bound must be an integer, found `{t}`", x.span)
        return RANGE

    # ------------------------------------------------------------------ operators

    def _expr_Unary(self, e: ast.Unary, expected):
        if e.op == "-" and isinstance(e.operand, ast.IntLit):
            # `-9223372036854775808` is one literal: its range is the negated value's
            t = e.operand.ty = self.int_literal_type(e, -e.operand.value, expected)
            return t
        t = self.check_expr(e.operand, expected if e.op == "-" else None)
        try:
            return check_unary(e.op, t)
        except OpError as exc:
            self.error(exc.code, exc.message, e.span)
            return ERROR

    def _expr_Binary(self, e: ast.Binary, expected):
        # An integer context (`let e: int64 = 5000000000 + 1`) types the literals of the arithmetic
        # under it; other operands keep their own types (a literal then adapts to them).
        want = expected.inner if isinstance(expected, OptionalType) else expected
        ctx = want if e.op in _INT_CONTEXT_OPS and isinstance(want, Scalar) and want.name in INT_RANGES \
            else None
        # Literal arithmetic next to another operand takes that operand's integer type
        # (`p64 + (7 - 2147483647)` is int64 arithmetic, not an int32 overflow).
        lit_left, lit_right = _literal_tree(e.left), _literal_tree(e.right)
        if lit_left and not lit_right:
            b = self.check_expr(e.right)
            a = self.check_expr(e.left, _int_scalar(b) or ctx)
        elif lit_right and not lit_left:
            a = self.check_expr(e.left)
            b = self.check_expr(e.right, _int_scalar(a) or ctx)
        else:
            a = self.check_expr(e.left, ctx if lit_left else None)
            b = self.check_expr(e.right, ctx if lit_right else None)
        result = self._binary_type(e, a, b)
        if not is_error(result) and not self.operand_literals_fit(e, a, b):
            return ERROR
        if isinstance(result, Scalar) and result.name in INT_RANGES:
            value = self.const_int(e)
            low, high = INT_RANGES[result.name]
            if value is not None and not low <= value <= high:
                self.error("E0311", f"this constant expression is {value}, which does not fit in "
                           f"`{result.name}` ({low}..{high}); write a literal of a wider type or "
                           "annotate the variable", e.span)
                return ERROR
        return result

    def operand_literals_fit(self, e: ast.Binary, a: Type, b: Type) -> bool:
        """An integer literal next to a narrower integer operand takes that operand's dtype (`x8 + 1`
        stays int8): it must fit it (`x8 + 1000` is E0311, as NumPy 2 refuses it), never wrap."""
        if e.op not in _INT_CONTEXT_OPS + ("<", "<=", ">", ">=", "==", "!=") or e.op == "**":
            return True
        da, db = (_dtype_of(t) for t in (a, b))
        if da is None or db is None:
            return True
        lit_a, lit_b = is_literal(e.left), is_literal(e.right)
        dtype = combine_dtypes(da, db, lit_a, lit_b)
        if dtype not in INT_RANGES:
            return True
        low, high = INT_RANGES[dtype]
        for side, lit in ((e.left, lit_a), (e.right, lit_b)):
            value = self.const_int(side) if lit else None
            if value is not None and not low <= value <= high:
                self.error("E0311", f"the literal {value} does not fit in `{dtype}` ({low}..{high}), "
                           "the type of the other operand", side.span)
                return False
        return True

    def _binary_type(self, e: ast.Binary, a: Type, b: Type) -> Type:
        if e.op == "*" and isinstance(a, ListType) and is_int_like(b):
            return a  # `[x] * n` repeats a list
        if e.op == "*" and isinstance(b, ListType) and is_int_like(a):
            return b
        if e.op == "+" and isinstance(a, ListType) and isinstance(b, ListType):
            joined = join_types(a, b)
            if joined is not None:
                return joined
        try:
            return check_binary(e.op, a, b, is_literal(e.left), is_literal(e.right))
        except OpError as exc:
            self.error(exc.code, exc.message, e.span)
            return ERROR

    def _expr_Is(self, e: ast.Is, expected):
        t = self.check_expr(e.value)
        target = self.body_resolver().resolve(e.type)
        e.tested_ty = target
        members = t.members if isinstance(t, UnionType) else (t,)
        fits = [m for m in members if convert(m, target, self.conforms) is not None
                and convert(m, target, self.conforms).identity]
        if is_error(t) or is_error(target):
            e.static = None
        elif not fits:
            e.static = False
        elif len(fits) == len(members):
            e.static = True
        else:
            e.static = None  # decided at run time (a union-typed local)
        return BOOL

    # ------------------------------------------------------------------ access

    def _expr_Closure(self, e: ast.Closure, expected):
        from .checker import FnContext

        exp = expected if isinstance(expected, FnType) and len(expected.params) == len(e.params) else None
        resolver = self.body_resolver()
        ptypes = []
        for i, p in enumerate(e.params):
            if p.type is not None:
                ptypes.append(resolver.resolve(p.type))
            elif exp is not None:
                ptypes.append(exp.params[i])
            else:
                self.error("E0306", f"cannot infer the type of parameter `{p.name}`; write it: "
                           f"`fn({p.name}: T)`", p.span)
                ptypes.append(ERROR)
        ret = resolver.resolve(e.ret) if e.ret is not None else (exp.ret if exp is not None else None)
        saved = (self.scope, self.ctx)
        from .env import Scope, VarInfo

        self.scope = Scope(self.scope)
        self.ctx = FnContext(ret=ret, instance=saved[1].instance, dims=saved[1].dims, kind="closure")
        for p, pt in zip(e.params, ptypes, strict=True):
            self.scope.define(VarInfo(p.name, pt, p.span, kind="param"))
        self.check_block(e.body)
        returns = self.ctx.returns
        self.scope, self.ctx = saved
        if ret is None:
            ret = UNIT
            for r in returns:
                ret = r if ret == UNIT else (join_types(ret, r) or ret)
        e.param_types = ptypes
        return FnType(tuple(ptypes), ret)
