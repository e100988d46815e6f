"""The front end's syntax stage: source text in, AST out.

- `ast`      node classes (every node has a span; expressions get `ty`, calls `target` from the checker)
- `parser`   `parse_program(source, sink) -> ast.Program | None` (also `parse_expression`, `parse_type`,
             `parse_text`); grammar in grammar/triton.lark
- `printer`  `format_ast` (the `--emit=ast` text), `format_type`, `format_sexpr`
- `builder`, `lexing`, `strings`, `errors`   internals of the parser

Nothing is imported here, so `from triton_dsl.syntax import ast` does not load Lark.
"""
