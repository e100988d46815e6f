"""The table of compiler primitives: their parameters (names, order, defaults) and typing rules.

In: a primitive's name. Out: a `Primitive` (parameters + a typing rule). The checker binds a call's
arguments to the parameters (positional, keyword, defaults filled, in parameter order) and hands the
rule one `Arg` per parameter; the rule returns the result type (or raises `RuleError`) and may record
resolved constants in `call.info` (e.g. `dim`, `keepdim`, `shape`, `variant`) for the back end.

The back end implements every primitive natively; the typing rules live in `prim_rules.py`. Categories:
creation, elementwise, reduction, linalg, nn, shape, cast, io, autodiff, list/builtins, placeholders.
Methods (`x.unsqueeze(0)`, `x.numel()`, `list.append(v)`) map to primitives with the receiver as the
first argument (`METHODS`); attributes (`x.shape`, `x.T`, `x.grad`) are typed by `prim_rules.attribute`.
"""

from __future__ import annotations

from ast import literal_eval
from dataclasses import dataclass, field
from typing import Any

from ..source import Span
from .types import BOOL, ERROR, FLOAT32, INT32, NONE, STR, Type, TypeType

REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "REQUIRED"})()
NOT_CONST: Any = type("NotConst", (), {"__repr__": lambda self: "NOT_CONST"})()


@dataclass(frozen=True)
class DTypeConst:
    """A dtype used as a constant value (`dtype=float16`)."""

    name: str


@dataclass(frozen=True)
class PParam:
    name: str
    default: Any = REQUIRED  # a Python constant: None, bool, int, float, str, DTypeConst, tuple

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass
class Arg:
    """One bound parameter as a typing rule sees it."""

    ty: Type
    const: Any = NOT_CONST      # the constant value, when the argument is a constant (or a default)
    span: Span | None = None
    given: bool = False         # written at the call (not a default)
    shape: tuple | None = None  # the argument read as a shape (`[784, n]`, `x.shape`), when it can be
    length: int | None = None   # a list argument's static length, when known
    nest: tuple | None = None   # a nested list literal's lengths per level (`[[1, 2], [3, 4]]` -> (2, 2))
    node: Any = None            # the ast.Expr, when given


class RuleError(Exception):
    def __init__(self, code: str, message: str, span: Span | None = None):
        super().__init__(message)
        self.code, self.message, self.span = code, message, span


@dataclass
class RuleCall:
    """What a typing rule receives: bound arguments by parameter name, extra positional arguments of a
    variadic primitive, the call's span; it fills `info` for the back end."""

    name: str
    args: dict[str, Arg]
    varargs: list[Arg] = field(default_factory=list)
    span: Span | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def fail(self, code: str, message: str, span: Span | None = None) -> RuleError:
        return RuleError(code, message, span or self.span)


@dataclass(frozen=True)
class Primitive:
    name: str
    category: str
    params: tuple[PParam, ...]
    rule: Any  # Callable[[RuleCall], Type]
    variadic: bool = False

    def param_names(self) -> list[str]:
        return [p.name for p in self.params]


def _p(spec: str) -> tuple[PParam, ...]:
    """Parse a compact parameter spec: `"x, dim=None, keepdim=False"` (defaults are Python literals)."""
    out = []
    for part in filter(None, (s.strip() for s in spec.split(","))):
        if "=" in part:
            name, default = (s.strip() for s in part.split("=", 1))
            value = DTypeConst(default[1:]) if default.startswith("@") else literal_eval(default)
            out.append(PParam(name, value))
        else:
            out.append(PParam(part))
    return tuple(out)


def _table() -> dict[str, Primitive]:
    from . import prim_builtin_rules as b
    from . import prim_quant as q
    from . import prim_rules as r
    from . import prim_shape_rules as sh
    from . import prim_weights as w

    rows = [
        # creation
        ("zeros", "creation", "shape, dtype=@float32, requires_grad=False", r.creation),
        ("ones", "creation", "shape, dtype=@float32, requires_grad=False", r.creation),
        ("full", "creation", "shape, value, dtype=None, requires_grad=False", r.full),
        ("randn", "creation", "shape, dtype=@float32, requires_grad=False", r.creation),
        ("rand", "creation", "shape, dtype=@float32, requires_grad=False", r.creation),
        ("uniform", "creation", "low, high, shape, requires_grad=False", r.uniform),
        ("arange", "creation", "start, end=None, step=1", r.arange),
        ("tensor", "creation", "data, requires_grad=False, dtype=None", r.tensor_literal),
        ("seed", "creation", "n", r.seed),
        # elementwise
        *[(n, "elementwise", "x", r.float_unary)
          for n in ("exp", "log", "sqrt", "tanh", "sigmoid", "sin", "cos")],
        *[(n, "elementwise", "x", r.same_unary) for n in ("abs", "relu", "floor", "ceil", "round")],
        ("sign", "elementwise", "x", r.sign),
        ("clip", "elementwise", "x, min, max", r.clip),
        ("clamp", "elementwise", "x, min, max", r.clip),
        ("where", "elementwise", "cond, a, b", r.where),
        ("minimum", "elementwise", "a, b", r.binary_elementwise),
        ("maximum", "elementwise", "a, b", r.binary_elementwise),
        ("pow", "elementwise", "a, b", r.pow_rule),
        # reductions; min/max are binary on two values, reductions on one tensor
        *[(n, "reduction", "x, dim=None, keepdim=False", r.reduction)
          for n in ("sum", "mean", "std", "var", "prod", "argmax", "argmin")],
        ("max", "reduction", "x, y=None, dim=None, keepdim=False", r.min_max),
        ("min", "reduction", "x, y=None, dim=None, keepdim=False", r.min_max),
        # linear algebra and nn
        ("matmul", "linalg", "a, b", sh.matmul),
        ("conv2d", "nn", "input, weight, bias=None, stride=1, padding=0", sh.conv2d),
        ("softmax", "nn", "x, dim=-1", sh.softmax),
        ("log_softmax", "nn", "x, dim=-1", sh.softmax),
        # shape ops
        ("reshape", "shape", "x, shape", sh.reshape),
        ("transpose", "shape", "x, dim0=-2, dim1=-1", sh.transpose),
        ("permute", "shape", "x, dims", sh.permute),
        ("unsqueeze", "shape", "x, dim", sh.unsqueeze),
        ("squeeze", "shape", "x, dim=None", sh.squeeze),
        ("flatten", "shape", "x, start_dim=0, end_dim=-1", sh.flatten),
        ("stack", "shape", "tensors, dim=0", sh.stack),
        ("concat", "shape", "tensors, dim=0", sh.concat),
        ("numel", "shape", "x", sh.numel),
        # casts
        *[(n, "cast", "x", r.cast) for n in ("bool", "int8", "int16", "int32", "int64", "float16", "float32",
                                             "float64", "int", "float")],
        ("trit", "cast", "x", r.trit_cast),
        ("str", "cast", "x", r.to_str),
        # io and control
        ("print", "io", "sep=' ', end='\\n'", b.print_rule),
        ("panic", "io", "message", b.panic),
        ("clock", "io", "", b.clock),
        *w.ROWS,  # weight files: save_weights, load_tensor, load_ternary (prim_weights.py)
        # autodiff
        ("stop_gradient", "autodiff", "x", b.stop_gradient),
        ("requires_grad_", "autodiff", "x", b.requires_grad_),
        ("backward", "autodiff", "loss, grad=None", b.backward),
        ("register_hook", "autodiff", "x, hook", b.register_hook),
        ("zero_grad", "autodiff", "x", b.zero_grad),
        ("no_grad", "autodiff", "body", b.no_grad),
        ("copy_", "autodiff", "x, src", b.copy_),
        # builtins on lists and ranges
        ("length", "builtin", "x", b.length),
        ("enumerate", "builtin", "items", b.enumerate_rule),
        ("range", "builtin", "start, end=None, step=1", b.range_rule),
        ("append", "builtin", "items, value", b.append),
        ("pop", "builtin", "items, index=None", b.pop_rule),
        ("zip", "builtin", "a, b", b.zip_rule),
        *q.ROWS,  # the quantization stdlib's primitives (prim_quant.py)
    ]
    table = {}
    for name, cat, spec, rule in rows:
        table[name] = Primitive(name, cat, _p(spec), rule, variadic=name == "print" or name in w.VARIADIC)
    return table


_PRIMITIVES: dict[str, Primitive] | None = None


def primitives() -> dict[str, Primitive]:
    """The primitive table (built once)."""
    global _PRIMITIVES
    if _PRIMITIVES is None:
        _PRIMITIVES = _table()
    return _PRIMITIVES


def lookup(name: str) -> Primitive | None:
    return primitives().get(name)


# Tensor methods: `x.name(args)` calls the primitive with `x` as its first argument.
TENSOR_METHODS = {
    "unsqueeze": "unsqueeze", "squeeze": "squeeze", "reshape": "reshape", "transpose": "transpose",
    "t": "transpose", "permute": "permute", "flatten": "flatten", "numel": "numel",
    "register_hook": "register_hook", "sum": "sum", "mean": "mean", "std": "std", "var": "var",
    "max": "max", "min": "min", "argmax": "argmax", "argmin": "argmin", "prod": "prod", "abs": "abs",
    "exp": "exp", "log": "log", "sqrt": "sqrt", "clip": "clip", "clamp": "clamp",
    "detach": "stop_gradient", "backward": "backward", "zero_grad": "zero_grad", "copy_": "copy_",
    "requires_grad_": "requires_grad_",
}
LIST_METHODS = {"append": "append", "pop": "pop"}


def type_of_const(v) -> Type:
    if v is None:
        return NONE
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int):
        return INT32
    if isinstance(v, float):
        return FLOAT32
    if isinstance(v, str):
        return STR
    if isinstance(v, DTypeConst):
        return TypeType(v.name)
    return ERROR
