"""What a call resolved to: the `.target` the checker puts on every `ast.Call` (and on a `Name` that
refers to a function used as a value).

In: nothing (plain data). Out, for the back end:
- `BoundArg`          one parameter of the callee with what fills it, in parameter order: `expr` (the
  argument written at the call) or the default (`default_expr`, an AST expression of the definition,
  already typed; or `default_value`, a Python constant for a primitive), the parameter's type as the
  callee sees it (`param_type`), and the implicit `conversion` from `expr.ty` to it (`assign.py`).
- `PrimitiveTarget`   a compiler primitive (`primitive.name`), its bound args, `varargs` (the extra
  positional arguments of `print`), and `info` (constants the rule resolved: dim, keepdim, shape,
  dtype, stride, padding, variant — e.g. `max` is `"binary"` or `"reduce"`).
- `FunctionTarget`    a user or stdlib function instance (`instance`: a `env.FunctionInstance`).
- `MethodTarget`      a struct method instance with its `receiver` expression (the `self` argument).
- `TraitMethodTarget` a method called through a trait-typed value (dynamic dispatch by method name).
- `StructTarget`      a struct constructor (`args` in field order).
- `ClosureTarget`     a call of a function value (`callee` is the expression giving the function).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..syntax import ast
from .assign import Conversion
from .env import FunctionInstance, StructInfo, TraitInfo
from .primitives import Primitive
from .types import FnType, Type


@dataclass(eq=False)
class BoundArg:
    name: str
    param_type: Type
    expr: ast.Expr | None = None          # the argument as written (None: the default is used)
    default_expr: ast.Expr | None = None  # a user/stdlib function's default expression (typed)
    default_value: Any = None             # a primitive's default (Python constant, DTypeConst)
    conversion: Conversion | None = None  # from expr.ty (or default_expr.ty) to param_type

    @property
    def given(self) -> bool:
        return self.expr is not None


@dataclass(eq=False)
class PrimitiveTarget:
    primitive: Primitive
    args: list[BoundArg]
    varargs: list[ast.Expr] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.primitive.name


@dataclass(eq=False)
class FunctionTarget:
    instance: FunctionInstance
    args: list[BoundArg]


@dataclass(eq=False)
class MethodTarget:
    instance: FunctionInstance
    receiver: ast.Expr
    args: list[BoundArg]  # the parameters after `self`


@dataclass(eq=False)
class TraitMethodTarget:
    trait: TraitInfo
    method: str
    receiver: ast.Expr
    args: list[BoundArg]


@dataclass(eq=False)
class StructTarget:
    struct: StructInfo
    args: list[BoundArg]


@dataclass(eq=False)
class ClosureTarget:
    callee: ast.Expr
    fn_type: FnType
    args: list[BoundArg]


@dataclass(eq=False)
class FunctionRef:
    """`.target` of a Name that denotes a function used as a value (`quantize_fn = ternary_quantize`)."""

    instance: FunctionInstance
