"""The `tritonc` subcommands, one module each.

In: nothing. Out: `common_options()`, the parent parser every subcommand includes, `report_usage_error()`
for the "tritonc: error: ..." lines, and the exit codes. A subcommand module exposes
`add_parser(subparsers)` and `run(args) -> int`; register it in `COMMANDS` in `triton_dsl/cli.py`.
"""

from __future__ import annotations

import argparse
import sys

# Exit codes shared by all subcommands.
EXIT_OK = 0
EXIT_PROGRAM_ERRORS = 1
EXIT_USAGE = 2
EXIT_INTERNAL_ERROR = 101


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand accepts after its name (`tritonc check x.triton --debug`)."""
    parent = argparse.ArgumentParser(add_help=False)
    # SUPPRESS keeps a top-level `tritonc --debug check ...` from being reset by the subparser default.
    parent.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the traceback of an internal compiler error")
    parent.add_argument("--cpu", "--mcpu", dest="cpu", metavar="CPU", default=argparse.SUPPRESS,
                        help=CPU_HELP)
    return parent


CPU_HELP = ("CPU to compile for: native (default, or $TRITON_DSL_CPU), x86-64, x86-64-v2, x86-64-v3, "
            "x86-64-v4, or an LLVM CPU name such as znver3")


def report_usage_error(message: str) -> int:
    """Print `tritonc: error: <message>` to stderr and return the usage exit code."""
    print(f"tritonc: error: {message}", file=sys.stderr)
    return EXIT_USAGE
