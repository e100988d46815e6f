"""Typing rules of the io, autodiff and builtin primitives (print, panic,
stop_gradient, backward, register_hook, length, enumerate, range, append), tensor attributes
(`x.shape`, `x.T`, `x.grad`, …), and what a `for` loop yields over a value.

In: a `RuleCall` (see `primitives.py`), or a type and an attribute name. Out: the result type.
"""

from __future__ import annotations

from . import shapes
from .prim_rules import (
    as_tensor,
    is_int_scalar,
    require,
)
from .primitives import Arg, RuleCall
from .types import (
    ANY_RANK,
    BOOL,
    ERROR,
    INT32,
    INT64,
    NEVER,
    RANGE,
    UNIT,
    FnType,
    ListType,
    NoneType,
    Scalar,
    StrType,
    TensorType,
    TupleType,
    Type,
    TypeType,
    is_error,
    is_float_dtype,
)

# ------------------------------------------------------------------------------------------ io, autodiff


def print_rule(r: RuleCall) -> Type:
    for p in ("sep", "end"):
        require(r, p, isinstance(r.args[p].ty, StrType) or is_error(r.args[p].ty), "a string")
    return UNIT


def clock(r: RuleCall) -> Type:
    """`clock()`: seconds on a monotonic clock, as a float64 (differences time parts of a program)."""
    return Scalar("float64")


def panic(r: RuleCall) -> Type:
    msg = r.args["message"].ty
    require(r, "message", isinstance(msg, StrType) or is_error(msg), "a string")
    return NEVER


def stop_gradient(r: RuleCall) -> Type:
    as_tensor(r, "x", dequantize=False)
    return r.args["x"].ty


def requires_grad_(r: RuleCall) -> Type:
    """`x.requires_grad_()`: a leaf of the graph sharing x's memory (gradients accumulate in its .grad)."""
    t = as_tensor(r, "x", dequantize=False)
    if t.ternary or not is_float_dtype(t.dtype) or not isinstance(r.args["x"].ty, TensorType):
        raise r.fail("E0501", f"only floating-point tensors can require gradients, got `{r.args['x'].ty}`",
                     r.args["x"].span)
    return t


def backward(r: RuleCall) -> Type:
    loss = as_tensor(r, "loss")
    if r.args["grad"].given:
        grad = as_tensor(r, "grad")
        if not is_float_dtype(loss.dtype) or grad.dtype != loss.dtype:
            raise r.fail("E0501", f"the gradient passed to `backward` must be a `{loss.dtype}` tensor "
                         f"like the output, got `{r.args['grad'].ty}`", r.args["grad"].span)
    return UNIT


def zero_grad(r: RuleCall) -> Type:
    """`zero_grad(t)` / `t.zero_grad()`: forget the accumulated gradient of a leaf (PyTorch's set_to_none)."""
    as_tensor(r, "x", dequantize=False)
    return UNIT


def no_grad(r: RuleCall) -> Type:
    """`no_grad(fn() { ... })`: runs the function with gradient recording off; gives what it returns."""
    body = r.args["body"].ty
    if is_error(body):
        return body
    if not isinstance(body, FnType) or body.params:
        raise r.fail("E0501", f"`no_grad` takes a function of no parameters, got `{body}`",
                     r.args["body"].span)
    return body.ret


def copy_(r: RuleCall) -> Type:
    """`dst.copy_(src)`: writes src's values into dst's memory (seen through every reference to dst)."""
    dst = as_tensor(r, "x", dequantize=False)
    src = as_tensor(r, "src")
    if dst.ternary or not is_float_dtype(dst.dtype) or src.dtype != dst.dtype:
        raise r.fail("E0501", f"`copy_` copies a floating-point tensor into one of the same dtype, "
                     f"got `{src}` into `{dst}`", r.span)
    return UNIT


def register_hook(r: RuleCall) -> Type:
    as_tensor(r, "x", dequantize=False)
    require(r, "hook", isinstance(r.args["hook"].ty, FnType) or is_error(r.args["hook"].ty),
            "a function taking the gradient")
    return UNIT


def hook_type(args: dict[str, Arg]) -> Type:
    """The expected type of `register_hook`'s function: it receives a tensor of the hooked tensor's type."""
    t = args["x"].ty
    grad = TensorType("float32", t.shape) if isinstance(t, TensorType) and t.ternary else t
    return FnType((grad,), UNIT)


# Expected types of function-valued primitive parameters, computed from the arguments before them
# (so that a closure's parameter types can be inferred).
EXPECTED_ARGS = {("register_hook", "hook"): hook_type}


def hook_replacing_grad(t: Type, expected: Type) -> bool:
    """A hook may also return a tensor of the gradient's type, which replaces the gradient (PyTorch)."""
    return isinstance(t, FnType) and isinstance(expected, FnType) and t.params == expected.params \
        and t.ret == expected.params[0]


# Other types such an argument may have (beyond the expected one).
ALSO_ACCEPTED = {("register_hook", "hook"): hook_replacing_grad}


# ------------------------------------------------------------------------------------------ builtins


def length(r: RuleCall) -> Type:
    t = r.args["x"].ty
    require(r, "x", isinstance(t, (ListType, StrType, TensorType)) or is_error(t), "a list, string or tensor")
    return INT32


def element_type(t: Type) -> Type | None:
    """What a `for` loop over a value of type t yields (None: not iterable)."""
    if isinstance(t, ListType):
        return t.elem if t.elem is not None else ERROR
    if t == RANGE:
        return INT32
    if isinstance(t, TensorType) and isinstance(t.shape, tuple) and t.shape:
        if len(t.shape) > 1 or t.ternary:
            return TensorType(t.dtype, t.shape[1:], t.ternary)
        return Scalar(t.dtype)
    if isinstance(t, TensorType):
        return TensorType(t.dtype, ANY_RANK, t.ternary)
    if is_error(t):
        return ERROR
    return None


def enumerate_rule(r: RuleCall) -> Type:
    elem = element_type(r.args["items"].ty)
    if elem is None or r.args["items"].ty == RANGE:
        raise r.fail("E0501", f"`enumerate` needs a list or a tensor, got `{r.args['items'].ty}`",
                     r.args["items"].span)
    return ListType(TupleType((INT32, elem)))


def range_rule(r: RuleCall) -> Type:
    for p in ("start", "end", "step"):
        t = r.args[p].ty
        ok = is_int_scalar(t) or isinstance(t, NoneType) or t == TensorType("int32", ())
        require(r, p, ok, "an integer")
    return RANGE


def append(r: RuleCall) -> Type:
    return UNIT  # the checker refines/validates the list's element type itself


def pop_rule(r: RuleCall) -> Type:
    """`xs.pop()` / `xs.pop(i)`: removes and returns an item (the last one by default), as in Python."""
    t = r.args["items"].ty
    if is_error(t):
        return ERROR
    if not isinstance(t, ListType):
        raise r.fail("E0501", f"`pop` needs a list, got `{t}`", r.args["items"].span)
    if t.elem is None:
        raise r.fail("E0306", "cannot infer the element type of this empty list: give its type "
                     "(`let xs: [T, ...] = []`)", r.args["items"].span)
    index = r.args["index"].ty
    require(r, "index", isinstance(index, NoneType) or is_int_scalar(index) or is_error(index), "an integer")
    return t.elem


def zip_rule(r: RuleCall) -> Type:
    """`zip(a, b)`: pairs of items of two lists (or tensors), as long as the shorter one."""
    elems = []
    for p in ("a", "b"):
        elem = element_type(r.args[p].ty)
        if elem is None or r.args[p].ty == RANGE:
            raise r.fail("E0501", f"`zip` needs lists, got `{r.args[p].ty}`", r.args[p].span)
        elems.append(elem)
    return ListType(TupleType(tuple(elems)))


def attribute(t: Type, name: str) -> Type | None:
    """The type of a tensor attribute (`x.shape`, `x.T`, `x.grad`, …), or None if there is no such one."""
    if not isinstance(t, TensorType):
        return None
    if name == "shape":
        return ListType(INT64)  # dims are int64, as numpy's
    if name == "T":
        return TensorType(t.dtype, shapes.transpose_shape(t.shape) if t.rank != 1 else t.shape, t.ternary)
    if name == "grad":
        return TensorType("float32" if t.ternary else t.dtype, t.shape)
    if name == "requires_grad":
        return BOOL
    if name == "dtype":
        return TypeType(t.dtype)
    if name == "ndim":
        return INT32
    if name == "scale" and t.ternary:
        return TensorType("float32", ANY_RANK)
    return None


TENSOR_ATTRIBUTES = ("shape", "T", "grad", "requires_grad", "dtype", "ndim")
