"""`tritonc check FILE... [--emit=ast|types|ir|llvm-ir]`: parse and check programs without running them.

In: parsed command-line arguments. Out: an exit code; diagnostics go to stderr in the rendered form,
`--emit` output to stdout: the syntax tree, the checked program, the compiler's IR after its passes, or
the optimized LLVM IR for this machine (the last two also compile, reporting what cannot be compiled
yet). Every file is checked even when an earlier one has errors.
"""

from __future__ import annotations

import argparse
import sys

from ..diagnostics import render_all
from ..pipeline import check_source, emit_text
from . import EXIT_OK, EXIT_PROGRAM_ERRORS, EXIT_USAGE, common_options, report_usage_error
from ._format import format_stage_output
from ._inputs import load_program_file

_BACK_END_STAGES = ("ir", "llvm-ir")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("check", parents=[common_options()],
                                   help="parse and check programs without running them",
                                   description="Parse and check Triton DSL programs; report every error.")
    parser.add_argument("files", nargs="+", metavar="FILE", help="a .triton or .tri file")
    parser.add_argument("--emit", choices=("ast", "types") + _BACK_END_STAGES,
                        help="print the syntax tree (ast), the checked program (types), the compiler's IR "
                             "(ir) or the optimized LLVM IR (llvm-ir) to stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for path in args.files:
        source = load_program_file(path)
        if isinstance(source, str):
            report_usage_error(source)
            status = EXIT_USAGE
            continue
        text = None
        if args.emit in _BACK_END_STAGES:
            compiled, text = emit_text(source, args.emit)
            result = compiled.check
        else:
            result = check_source(source)
        if result.diagnostics:
            print(render_all(result.diagnostics), file=sys.stderr)
        if not result.ok:
            status = max(status, EXIT_PROGRAM_ERRORS)
            continue
        if args.emit in _BACK_END_STAGES and text is None:
            status = max(status, EXIT_PROGRAM_ERRORS)
            continue
        emitted = {"ast": result.program, "types": result.checked}.get(args.emit)
        if args.emit and (emitted is not None or text is not None):
            if len(args.files) > 1:
                print(f"# {path}")
            print(text.rstrip("\n") if text is not None else format_stage_output(emitted, args.emit))
    return status
