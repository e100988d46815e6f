"""`tritonc repl [-O N] [--no-cache]`: an interactive session (see `triton_dsl.repl`).

In: parsed command-line arguments, then entries from stdin (a terminal, or a script piped in). Out: an
exit code — 0; for a script, 1 when an entry had an error, 101 after an internal compiler error.
"""

from __future__ import annotations

import argparse

from . import EXIT_USAGE, common_options, report_usage_error


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "repl", parents=[common_options()], help="an interactive session (or a script on stdin)",
        description="Read Triton DSL entries, check each against everything entered before, run it and "
                    "print its value. On a terminal: line editing, history, highlighting and completion "
                    "(prompt_toolkit); otherwise entries are read from stdin without prompts.")
    parser.add_argument("-O", dest="opt_level", type=int, choices=range(4), default=2, metavar="N",
                        help="LLVM optimization level 0-3 (default 2)")
    parser.add_argument("--no-cache", action="store_true", help="do not read or write the compile cache")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..repl import main
    from ..repl_session import ReplSession

    if sys.stdin.isatty() and sys.stdout.isatty():
        try:
            import prompt_toolkit  # noqa: F401
        except ImportError:
            return report_usage_error("the interactive REPL needs prompt_toolkit: pip install "
                                      "'triton_dsl[repl]' (a script on stdin works without it)") or EXIT_USAGE
    session = ReplSession(opt_level=args.opt_level, cache=not args.no_cache)
    return main(session, debug=getattr(args, "debug", False))
