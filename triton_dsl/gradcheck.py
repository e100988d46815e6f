"""`tritonc gradcheck` / `triton_dsl.gradcheck`: check a program's gradients against finite differences.

In: a program's source text (or the stdlib) and optionally one function name. Out: a `GradcheckReport`,
one line per function: the largest error between the autodiff gradient and central finite differences
(on random inputs, every float tensor and float scalar argument), or why the function was skipped.

A function returning a tensor is checked through `sum(f(x) * w)` with random `w`. A function whose
gradient is a declared *pseudo-gradient* (a straight-through estimator: its true derivative is zero
almost everywhere) says so in a comment line above it,

    # pseudo-gradient: where(abs(x) <= threshold, g, 0.0)

an expression of the parameters and `g` (the upstream gradient) giving d/dx; gradcheck compares the
autodiff gradient with that formula instead. A function whose gradient is that of another expression
(`quantized_batch_norm` passes batch norm's) says `# gradient-as: <expression>`: its autodiff gradient
must equal the expression's, which must match finite differences. `# gradcheck-skip: <reason>` leaves a
function out with its reason in the report (a gradient finite differences cannot see). Each evaluation
starts with `seed(1234)`, so functions that draw random numbers see the same draws in every evaluation.

Finite differences run on the function's own dtype: with float32 code the central difference carries
~1e-4 of rounding, so the tolerance is `atol + rtol·|grad|` with atol = rtol = 2e-2 for float32 (1e-6 for
float64 code). Random inputs avoid the kinks of `abs`, `relu`, `max` with probability ~1 − 1e-3.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

WRAPPER = "tdsl_gradcheck"
_ANNOTATION = re.compile(r"^\s*#\s*(pseudo-gradient|gradient-as|gradcheck-skip):\s*(.+?)\s*$")


@dataclass
class FunctionCheck:
    name: str
    status: str  # "ok", "FAIL", "skipped"
    detail: str = ""
    max_error: float | None = None


@dataclass
class GradcheckReport:
    checks: list[FunctionCheck] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != "FAIL" for c in self.checks)

    def __str__(self) -> str:
        width = max([len(c.name) for c in self.checks] + [8])
        lines = [f"{'function':<{width}}  result   detail"]
        for c in self.checks:
            lines.append(f"{c.name:<{width}}  {c.status:<7}  {c.detail}")
        failed = sum(c.status == "FAIL" for c in self.checks)
        passed = sum(c.status == "ok" for c in self.checks)
        skipped = len(self.checks) - failed - passed
        lines.append(f"{passed} passed, {failed} failed, {skipped} skipped")
        return "\n".join(lines)


def _annotation(text: str, span) -> tuple[str, str] | None:
    """The `# pseudo-gradient:` or `# gradient-as:` comment in the comment block right above a definition:
    (kind, expression), if any."""
    lines = text.splitlines()
    i = span.line - 2
    while i >= 0 and lines[i].lstrip().startswith("#"):
        m = _ANNOTATION.match(lines[i])
        if m:
            return m.group(1), m.group(2)
        i -= 1
    return None


class _Inputs:
    """Random arguments for declared parameter types (named dims get one size each, 2, 3, 4, ...)."""

    def __init__(self, rng):
        self.rng = rng
        self.sizes: dict[str, int] = {}

    def dim(self, d) -> int:
        if isinstance(d, int):
            return d
        if isinstance(d, str):
            return self.sizes.setdefault(d, 2 + len(self.sizes))
        return 3

    def shape(self, ty) -> tuple:
        return tuple(self.dim(d) for d in ty.shape) if isinstance(ty.shape, tuple) else (3, 4)

    def value(self, ty):
        from .check import types as ct
        if isinstance(ty, ct.Scalar) and ty.name.startswith("float"):
            return float(self.rng.uniform(0.2, 0.8))  # (fractions, thresholds, temperatures)
        if isinstance(ty, ct.Scalar) and ty.name.startswith("int"):
            return 2
        if isinstance(ty, ct.TensorType) and not ty.ternary:
            shape = self.shape(ty)
            if ty.dtype.startswith("float"):
                return self.rng.standard_normal(shape).astype(ty.dtype)
            if ty.dtype.startswith("int"):
                return self.rng.integers(0, 2, size=shape).astype(ty.dtype)
        return None


def _differentiable_params(info) -> tuple[list[int], list[int]] | str:
    """(parameters to pass, of which the float ones to differentiate), or why the function is skipped."""
    from .check import types as ct
    passed, floats = [], []
    for i, (pname, ty, default) in enumerate(zip(info.param_names, info.param_types, info.defaults,
                                                 strict=True)):
        is_float = (isinstance(ty, ct.TensorType) and not ty.ternary and ty.dtype.startswith("float")) or \
            (isinstance(ty, ct.Scalar) and ty.name.startswith("float") and default is None)
        is_int = (isinstance(ty, ct.TensorType) and not ty.ternary and ty.dtype.startswith("int")) or \
            (isinstance(ty, ct.Scalar) and ty.name.startswith("int"))
        if is_float:
            passed.append(i)
            if isinstance(ty, ct.TensorType):
                floats.append(i)
        elif is_int and default is None:
            passed.append(i)
        elif default is None:
            return f"parameter '{pname}: {ty}' has no value gradcheck can make"
    if not floats:
        return "no floating-point tensor parameter"
    ret = info.ret
    if not ((isinstance(ret, ct.Scalar) and ret.name.startswith("float"))
            or (isinstance(ret, ct.TensorType) and not ret.ternary and ret.dtype.startswith("float"))):
        return f"its result `{ret}` has no gradient"
    return passed, floats


def _spell(ty, value) -> str:
    """A parameter type for the generated wrappers: tensors with `?` dims of the argument's rank."""
    import numpy as np
    if isinstance(value, np.ndarray):
        return f"Tensor<{value.dtype}, [" + ", ".join("?" for _ in value.shape) + "]>"
    return str(ty)


def _wrapper_source(name: str, info, passed: list[int], args: list, ret_is_tensor: bool) -> str:
    params = ", ".join(f"a{i}: {_spell(info.param_types[i], a)}" for i, a in zip(passed, args, strict=False))
    call = ", ".join(f"{info.param_names[i]}=a{i}" for i in passed)
    if ret_is_tensor:
        return (f"fn {WRAPPER}({params}, w: {_spell(info.ret, args[-1])}) -> float32 {{\n    seed(1234)\n"
                f"    return sum({name}({call}) * w)\n}}\n")
    return f"fn {WRAPPER}({params}) -> float32 {{\n    seed(1234)\n    return float32({name}({call}))\n}}\n"


def _check_function(name: str, info, prefix: str, source_name: str, text: str, rng) -> FunctionCheck:
    from .runtime.errors import TritonRuntimeError
    try:
        return _check(name, info, prefix, source_name, text, rng)
    except TritonRuntimeError as exc:  # e.g. a parameter outside its documented range
        if "does not require grad" in exc.message:
            return FunctionCheck(name, "skipped", "its result does not depend differentiably on its inputs")
        return FunctionCheck(name, "skipped", f"run-time error on random inputs: {exc.message}")


def _check(name: str, info, prefix: str, source_name: str, text: str, rng) -> FunctionCheck:
    import numpy as np

    from . import api
    from .api_grad import value_and_grad
    from .check import types as ct
    from .diagnostics import CompileError

    plan = _differentiable_params(info)
    if isinstance(plan, str):
        return FunctionCheck(name, "skipped", plan)
    passed, floats = plan
    ret_is_tensor = isinstance(info.ret, ct.TensorType)
    inputs = _Inputs(rng)
    args = [inputs.value(info.param_types[i]) for i in passed]
    if any(a is None for a in args):
        return FunctionCheck(name, "skipped", "a parameter type gradcheck cannot fill")
    if ret_is_tensor:  # the weights w of sum(f(x) * w); a generic result has its argument's shape (3, 4)
        args.append(inputs.rng.standard_normal(inputs.shape(info.ret)).astype(info.ret.dtype))
    annotation = _annotation(text, info.span)
    if annotation is not None and annotation[0] == "gradcheck-skip":
        return FunctionCheck(name, "skipped", annotation[1])
    pseudo = annotation[1] if annotation is not None and annotation[0] == "pseudo-gradient" else None
    surrogate = annotation[1] if annotation is not None and annotation[0] == "gradient-as" else None
    try:
        wrapper = _wrapper_source(name, info, passed, args, ret_is_tensor)
        module = api.compile(prefix + "\n" + wrapper, name=source_name)
        fn = getattr(module, WRAPPER)
        argnums = tuple(passed.index(i) for i in floats)
        _, grads = value_and_grad(fn, argnums=argnums)(*args)
    except CompileError as exc:
        return FunctionCheck(name, "skipped", f"does not compile for gradcheck: {exc.diagnostics[0].message}")
    dtype = np.dtype(args[argnums[0]].dtype)
    tol = 2e-2 if dtype == np.float32 else 1e-6
    if pseudo is not None:
        expected = _pseudo_expected(pseudo, name, info, passed, floats, args, prefix, source_name)
        if isinstance(expected, str):
            return FunctionCheck(name, "FAIL", expected)
        err = _max_error(grads[0], expected, tol)
        status = "ok" if err <= 1.0 else "FAIL"
        return FunctionCheck(name, status, f"pseudo-gradient {pseudo}: max error {err:.2g} of tolerance",
                             err)
    eps = 1e-3 if dtype == np.float32 else 1e-6
    if surrogate is not None:  # same gradient as the surrogate, whose gradient must match differences
        try:
            source = _surrogate_source(surrogate, info, passed, args, ret_is_tensor)
            sfn = getattr(api.compile(prefix + "\n" + source, name=source_name), WRAPPER)
        except CompileError as exc:
            return FunctionCheck(name, "FAIL", f"the gradient-as formula does not compile: "
                                 f"{exc.diagnostics[0].message}")
        _, sgrads = value_and_grad(sfn, argnums=argnums)(*args)
        same = max(_max_error(g, s, tol) for g, s in zip(grads, sgrads, strict=True))
        worst = max(same, _finite_difference_error(sfn, args, argnums, sgrads, eps, tol))
        status = "ok" if worst <= 1.0 else "FAIL"
        return FunctionCheck(name, status, f"gradient as {surrogate}: max error {worst:.2g} of tolerance",
                             worst)
    worst = _finite_difference_error(fn, args, argnums, grads, eps, tol)
    status = "ok" if worst <= 1.0 else "FAIL"
    return FunctionCheck(name, status, f"finite differences: max error {worst:.2g} of tolerance", worst)


def _finite_difference_error(fn, args: list, argnums: tuple, grads, eps: float, tol: float) -> float:
    """The largest error (in tolerances) of `grads` against central differences of the scalar `fn`."""
    import numpy as np
    worst = 0.0
    for k, pos in enumerate(argnums):
        x = args[pos]
        numeric = np.zeros_like(x, dtype=np.float64)
        flat = x.reshape(-1)
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            up = float(fn(*args))
            flat[j] = old - eps
            down = float(fn(*args))
            flat[j] = old
            numeric.reshape(-1)[j] = (up - down) / (2 * eps)
        worst = max(worst, _max_error(grads[k], numeric, tol))
    return worst


def _defaults_named(formula: str, info, passed: list[int]) -> str:
    """`let` lines giving the parameters left at their defaults that `formula` names their values."""
    return "".join(f"    let {pname} = {default.span.text()}\n"
                   for i, (pname, default) in enumerate(zip(info.param_names, info.defaults, strict=True))
                   if i not in passed and default is not None and re.search(rf"\b{pname}\b", formula))


def _surrogate_source(formula: str, info, passed: list[int], args: list, ret_is_tensor: bool) -> str:
    params = ", ".join(f"{info.param_names[i]}: {_spell(info.param_types[i], a)}"
                       for i, a in zip(passed, args, strict=False))
    lets = _defaults_named(formula, info, passed)
    if ret_is_tensor:
        return (f"fn {WRAPPER}({params}, w: {_spell(info.ret, args[-1])}) -> float32 {{\n    seed(1234)\n"
                f"{lets}    return sum(({formula}) * w)\n}}\n")
    return f"fn {WRAPPER}({params}) -> float32 {{\n    seed(1234)\n{lets}    return float32({formula})\n}}\n"


def _max_error(got, want, tol: float) -> float:
    """The largest |got − want| in units of the tolerance atol + rtol·|want| (≤ 1 passes)."""
    import numpy as np
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        return float("inf")
    if got.size == 0:
        return 0.0
    bad = np.isnan(got) != np.isnan(want)
    err = np.abs(np.nan_to_num(got) - np.nan_to_num(want)) / (tol + tol * np.abs(np.nan_to_num(want)))
    return float("inf") if bad.any() else float(err.max())


def _pseudo_expected(formula: str, name: str, info, passed, floats, args, prefix: str, source_name: str):
    """The declared pseudo-gradient evaluated on the same inputs (`g` = the random weights w)."""
    from . import api
    from .check import types as ct
    from .diagnostics import CompileError
    if len(floats) != 1 or not isinstance(info.ret, ct.TensorType):
        return "a pseudo-gradient is checked for one tensor parameter and a tensor result"
    params = ", ".join(f"{info.param_names[i]}: {_spell(info.param_types[i], a)}"
                       for i, a in zip(passed, args, strict=False))
    ret = _spell(info.ret, args[-1])
    lets = _defaults_named(formula, info, passed)  # e.g. `threshold` at its default
    source = f"fn tdsl_pseudo({params}, g: {ret}) -> {ret} {{\n{lets}    return {formula}\n}}\n"
    try:
        module = api.compile(prefix + "\n" + source, name=source_name)
    except CompileError as exc:
        return f"the pseudo-gradient formula does not compile: {exc.diagnostics[0].message}"
    return module.tdsl_pseudo(*args)


def gradcheck(text: str | None, *, name: str = "<string>", fn: str | None = None,
              seed: int = 0) -> GradcheckReport:
    """Check every differentiable function of the program `text` (None: of the stdlib), or just `fn`."""
    import numpy as np

    from .diagnostics import CompileError
    from .pipeline import check_source
    from .source import Source

    rng = np.random.default_rng(seed)
    checked = check_source(Source(name, text or ""))
    if not checked.ok:
        raise CompileError([d for d in checked.diagnostics if d.severity == "error"])
    if text is None:
        from .check.stdlib_env import stdlib_env
        env, origin = stdlib_env(), "stdlib"
    else:
        env, origin = checked.checked.env, "user"
    report = GradcheckReport()
    for fname, info in sorted(env.functions.items()):
        if info.origin != origin or info.owner is not None or fname.startswith("_"):
            continue
        if fn is not None and fname != fn:
            continue
        source_text = info.span.source.text  # (the comments above the definition)
        report.checks.append(_check_function(fname, info, text or "", name, source_text, rng))
    if fn is not None and not report.checks:
        raise KeyError(f"no function '{fn}' to check")
    return report


__all__ = ["gradcheck", "GradcheckReport", "FunctionCheck"]
