"""`--emit=types`: a stable text view of a checked program, for golden tests and for users.

In: a `CheckedProgram`. Out: text. For the top level, `main`, and each function instance (user
instances first, then stdlib ones, each in the order they were made): its signature as instantiated,
then every `let` / `for` binding inside with its type, indented by block depth, and each call with
what it resolved to. Example:

    let weights: Tensor<float32, [784, 128]>
    let quantized: TernaryTensor<trit, [784, 128]>    # threshold_quantize[x: Tensor<float32, [?, ?]>]
    fn adaptive_quantize_layer(weights: Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]>
      let mean_abs: Tensor<float32, []>
"""

from __future__ import annotations

from ..syntax import ast
from .targets import FunctionTarget, MethodTarget, PrimitiveTarget


def _pattern(p) -> str:
    if isinstance(p, ast.NamePattern):
        return p.name
    return "(" + ", ".join(_pattern(x) for x in p.elems) + ")"


def _params(inst) -> str:
    """`name: type, ...` of a function instance's parameters as instantiated."""
    return ", ".join(f"{n}: {t}" for n, t in zip(inst.fn.param_names, inst.param_types, strict=True))


def _call_note(e) -> str:
    target = getattr(e, "target", None) if isinstance(e, ast.Call) else None
    if isinstance(target, (FunctionTarget, MethodTarget)):
        inst = target.instance
        return f"    # {inst.mangled()}({_params(inst)})"
    if isinstance(target, PrimitiveTarget):
        return f"    # primitive {target.name}"
    return ""


def _stmts(stmts, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    for s in stmts:
        if isinstance(s, ast.Let):
            out.append(f"{pad}let {_pattern(s.target)}: {s.value.ty}{_call_note(s.value)}")
        elif isinstance(s, ast.For):
            out.append(f"{pad}for {_pattern(s.target)} in {s.iter.ty}")
            _stmts(s.body.stmts, depth + 1, out)
        elif isinstance(s, ast.While):
            out.append(f"{pad}while")
            _stmts(s.body.stmts, depth + 1, out)
        elif isinstance(s, ast.If):
            out.append(f"{pad}if" + ("" if getattr(s, "static", None) is None
                                     else f"  # static: {str(s.static).lower()}"))
            _stmts(s.then.stmts, depth + 1, out)
            orelse = s.orelse
            if isinstance(orelse, ast.If):
                out.append(f"{pad}else")
                _stmts([orelse], depth + 1, out)
            elif orelse is not None:
                out.append(f"{pad}else")
                _stmts(orelse.stmts, depth + 1, out)
        elif isinstance(s, ast.Return) and s.value is not None:
            out.append(f"{pad}return {s.value.ty}{_call_note(s.value)}")
        elif isinstance(s, ast.ExprStmt) and _call_note(s.expr):
            out.append(f"{pad}call {s.expr.ty}{_call_note(s.expr)}")


def format_types(checked) -> str:
    out: list[str] = []
    _stmts(checked.toplevel, 0, out)
    if checked.main is not None:
        out.append("main")
        _stmts(checked.main.body.stmts, 1, out)
    insts = sorted(checked.instances, key=lambda i: i.fn.origin != "user")
    for inst in insts:
        tag = "" if inst.fn.origin == "user" else "    # stdlib"
        out.append(f"fn {inst.mangled()}({_params(inst)}) -> {inst.ret}{tag}")
        if inst.body is not None and inst.fn.origin == "user":
            _stmts(inst.body.stmts, 1, out)
    return "\n".join(out) + "\n"
