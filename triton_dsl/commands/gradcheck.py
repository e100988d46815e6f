"""`tritonc gradcheck FILE [--fn NAME]` / `tritonc gradcheck --stdlib`: gradients against finite differences.

In: parsed command-line arguments: a program file (or `--stdlib`) and optionally one function. Out: an
exit code (0: every checked gradient agrees, 1: one disagrees or the program does not compile); the
report of `triton_dsl.gradcheck` on stdout (docs/autodiff.md "Checking gradients").
"""

from __future__ import annotations

import argparse
import sys

from . import EXIT_OK, EXIT_PROGRAM_ERRORS, common_options, report_usage_error
from ._inputs import load_program_file


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gradcheck", parents=[common_options()], help="check gradients against finite differences",
        description="For every differentiable function of FILE (or of the standard library): the autodiff "
                    "gradient against central finite differences on random inputs, or against the "
                    "function's declared pseudo-gradient (`# pseudo-gradient: <formula>`).")
    parser.add_argument("file", metavar="FILE", nargs="?", help="a .triton or .tri file")
    parser.add_argument("--stdlib", action="store_true", help="check the standard library's functions")
    parser.add_argument("--fn", metavar="NAME", help="check only this function")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..diagnostics import CompileError
    from ..gradcheck import gradcheck

    if (args.file is None) == (not args.stdlib):
        return report_usage_error("gradcheck takes a FILE or --stdlib")
    text, name = None, "<stdlib>"
    if args.file is not None:
        source = load_program_file(args.file)
        if isinstance(source, str):
            return report_usage_error(source)
        text, name = source.text, source.name
    try:
        report = gradcheck(text, name=name, fn=args.fn, seed=args.seed)
    except CompileError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_PROGRAM_ERRORS
    except KeyError as exc:
        return report_usage_error(str(exc.args[0]))
    print(report)
    return EXIT_OK if report.ok else EXIT_PROGRAM_ERRORS
