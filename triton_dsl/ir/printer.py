"""The IR's text form (`tritonc check --emit=ir`, `module.ir(name)`, golden tests).

In: an `ir.Module` or `ir.Function`. Out: text such as

    func @scale(%x: tensor<f32, 2>, %s: f32) -> tensor<f32, 2> {
      %0 = binary mul %x, %s : tensor<f32, 2>            @3:12
      return %0                                          @3:5
    }

Values are numbered in order of definition within each function; the source position of every op is
shown as `@line:col` so that spans can be checked in golden files.
"""

from __future__ import annotations

from .nodes import Block, Function, Module, Op, Value

_COMMENT_COLUMN = 56


class _Namer:
    def __init__(self) -> None:
        self.names: dict[int, str] = {}

    def define(self, v: Value) -> str:
        name = f"%{len(self.names)}"
        if v.hint and v.hint.isidentifier():
            name = f"%{v.hint}.{len(self.names)}"
        self.names[v.id] = name
        return name

    def __call__(self, v: Value) -> str:
        return self.names.get(v.id, f"%?{v.id}")


def _format_attr(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return repr(value)


def _op_head(op: Op, names: _Namer) -> str:
    attrs = dict(op.attrs)
    head = op.opcode
    # The most telling attribute goes right after the opcode, the rest in braces.
    for key in ("op", "fn", "callee"):
        if key in attrs:
            head += f" {attrs.pop(key)}" if key == "op" else f" @{attrs.pop(key)}"
            break
    if op.opcode == "const":
        head += f" {_format_attr(attrs.pop('value'))}"
    if op.operands:
        head += " " + ", ".join(names(v) for v in op.operands)
    # what an op releases on its error path is implied by the retain/release ops around it: not shown
    attrs = {k: v for k, v in attrs.items() if v not in ((), [], None) and k != "release_on_error"}
    if attrs:
        head += " {" + ", ".join(f"{k}={_format_attr(v)}" for k, v in sorted(attrs.items())) + "}"
    if op.results:
        head += " : " + ", ".join(str(r.type) for r in op.results)
    return head


def _print_block(block: Block, names: _Namer, indent: str, lines: list[str]) -> None:
    for op in block.ops:
        results = ", ".join(names.define(r) for r in op.results)
        text = indent + (f"{results} = " if results else "") + _op_head(op, names)
        if op.regions:
            text += " {"
        if op.span is not None:
            text = text.ljust(_COMMENT_COLUMN) + f" @{op.span.line}:{op.span.col}"
        lines.append(text)
        for i, region in enumerate(op.regions):
            if i:
                sep = "} do {" if op.opcode == "while" else "} else {"
                lines.append(indent + sep)
            if region.args:
                lines.append(indent + "  ^(" + ", ".join(
                    f"{names.define(a)}: {a.type}" for a in region.args) + "):")
            _print_block(region, names, indent + "  ", lines)
        if op.regions:
            lines.append(indent + "}")


def print_function(fn: Function) -> str:
    names = _Namer()
    params = ", ".join(f"{names.define(p)}: {p.type}" for p in fn.params)
    flags = "".join(f" {f}" for f, on in (("public", fn.public), ("generic", fn.generic)) if on)
    lines = [f"func @{fn.name}({params}) -> {fn.ret_type}{flags} {{"]
    _print_block(fn.body, names, "  ", lines)
    lines.append("}")
    return "\n".join(lines)


def print_module(module: Module) -> str:
    return "\n\n".join(print_function(fn) for fn in module.functions.values()) + "\n"
