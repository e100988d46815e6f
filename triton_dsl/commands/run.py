"""`tritonc run FILE [-O N] [--no-cache]`: compile a program to native code and run it.

In: parsed command-line arguments. Out: an exit code. The program's top-level statements run in order,
then `main`; its output goes to stdout. Compile errors are printed like `tritonc check` prints them
(exit 1); a run-time error prints `file:line:col: runtime error: message` with the source line and a
caret (exit 1), then a `called from here` note per call site, innermost first. A second run of an
unchanged file skips the whole compiler: its LLVM IR comes from the program cache and its machine code
from the object cache (`triton_dsl.program_cache`, `jit.ObjectCache`).
"""

from __future__ import annotations

import argparse
import sys

from ..diagnostics import render_all
from . import EXIT_OK, EXIT_PROGRAM_ERRORS, EXIT_USAGE, common_options, report_usage_error
from ._inputs import load_program_file


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", parents=[common_options()], help="compile and run a program",
                                   description="Compile a Triton DSL program to native code and run it: "
                                               "top-level statements first, then main.")
    parser.add_argument("file", metavar="FILE", help="a .triton or .tri file")
    parser.add_argument("-O", dest="opt_level", type=int, choices=range(4), default=2, metavar="N",
                        help="LLVM optimization level 0-3 (default 2)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the compile cache")
    parser.set_defaults(run=run)


def render_runtime_error(err, source) -> str:
    """`file:line:col: runtime error: message`, then the source line with a caret (when known), then one
    `called from here` note per call site the error unwound through, innermost first."""
    head = f"{err.file}:{err.line}:{err.col}: runtime error: {err.message}" if err.line else \
        f"runtime error: {err.message}"
    parts = [head, *_snippet(source, err.file, err.line, err.col, 1)]
    for (file, line, col), width in zip(err.frames, err.widths, strict=True):
        parts.append(f"{file}:{line}:{col}: note: called from here")
        parts.extend(_snippet(source, file, line, col, width))
    return "\n".join(parts)


def _snippet(source, file: str | None, line: int, col: int, width: int) -> list[str]:
    """The gutter lines showing `line` of `file` with `width` carets from `col` (none if not found)."""
    text_source = _find_source(source, file)
    if not line or text_source is None:
        return []
    text = text_source.line_text(line)
    gutter = str(line)
    pad = " " * len(gutter)
    prefix = "".join(ch if ch == "\t" else " " for ch in text[: col - 1])
    return [f"{pad} |", f"{gutter} | {text}", f"{pad} | {prefix}{'^' * max(1, width)}"]


def _find_source(source, file: str | None):
    """The program's source, or a stdlib source (named `stdlib/<name>.triton`) for `file`. `source` may
    also map names to sources (the REPL's entries)."""
    if isinstance(source, dict):
        if file in source:
            return source[file]
    elif source is not None and file == source.name:
        return source
    if not file or not file.startswith("stdlib/"):
        return None
    from ..resources import stdlib_paths
    from ..source import Source

    for path in stdlib_paths():
        if f"stdlib/{path.name}" == file:
            return Source(file, path.read_text(encoding="utf-8"))
    return None


def run(args: argparse.Namespace) -> int:
    from ..runtime.errors import TritonRuntimeError
    from ..runtime.output import take_write_error

    source = load_program_file(args.file)
    if isinstance(source, str):
        return report_usage_error(source) or EXIT_USAGE
    program = _compiled_program(source, args)
    if isinstance(program, int):
        return program
    live = _live_objects()
    try:
        program()
    except TritonRuntimeError as err:
        sys.stdout.flush()
        print(render_runtime_error(err, source), file=sys.stderr)
        return EXIT_PROGRAM_ERRORS
    finally:
        write_error = take_write_error()
        if isinstance(write_error, BrokenPipeError):
            raise write_error  # the CLI turns a closed pipe into a quiet exit 141
        sys.stdout.flush()
    if write_error is not None:
        print(f"tritonc: error: cannot write the program's output: {write_error}", file=sys.stderr)
        return EXIT_PROGRAM_ERRORS
    left = _live_objects() - live
    if left > 0:
        print(f"tritonc: note: {left} object{'s' * (left != 1)} still allocated when the program ended: "
              "reference cycles (an object reachable from itself) are not collected; assign None or another "
              "value to a field of the cycle to free it (docs/language.md \"Objects\")", file=sys.stderr)
    return EXIT_OK


def _live_objects() -> int:
    """Heap objects alive in this process (0 while no program has made one: nothing is compiled for it)."""
    from ..runtime import interop, library

    if "rt_objects" not in library.load_runtime().loaded():
        return 0
    return interop.func("trt_obj_live")()


def _compiled_program(source, args: argparse.Namespace):
    """A callable running the program, from the program cache or a fresh compilation (or an exit code)."""
    from ..api import Module, load_cached_entry
    from ..pipeline import compile_source
    from ..program_cache import discard, load_compiled, store_compiled

    use_cache = not args.no_cache
    cached = load_compiled(source, args.opt_level) if use_cache else None
    if cached is not None:
        try:
            run_entry = load_cached_entry(cached, args.opt_level)
        except Exception:  # an entry whose IR does not load is a miss, never an error of the run
            discard(source, args.opt_level)
        else:
            if cached.warnings:
                print(cached.warnings, file=sys.stderr)
            return run_entry
    result = compile_source(source)
    rendered = render_all(result.diagnostics) if result.diagnostics else ""
    if rendered:
        print(rendered, file=sys.stderr)
    if not result.ok:
        return EXIT_PROGRAM_ERRORS
    if use_cache:
        store_compiled(source, args.opt_level, result, rendered)
    module = Module(result, args.opt_level, cache=use_cache)
    return module.run_main
