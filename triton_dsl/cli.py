"""`tritonc`, the command line.

In: argv (`tritonc <command> [options]`). Out: an exit code — 0 success, 1 errors in the program
(diagnostics on stderr), 2 bad usage, 101 internal compiler error (traceback only with `--debug`).
Each subcommand lives in `triton_dsl/commands/<name>.py`; adding one is one module plus one entry in
`COMMANDS`.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import traceback

from . import __version__
from .commands import (
    CPU_HELP,
    EXIT_INTERNAL_ERROR,
    EXIT_USAGE,
    build,
    check,
    repl,
    report_usage_error,
    run,
)
from .commands import convert as convert_command
from .commands import gradcheck as gradcheck_command
from .commands import summary as summary_command
from .target import TargetError

COMMANDS = [check, run, build, repl, summary_command, convert_command, gradcheck_command]

_INTERNAL_ERROR = ("tritonc: internal compiler error: {summary} — this is a bug in triton_dsl, not in your "
                   "program; run with --debug for the traceback")


class _VersionAction(argparse.Action):
    """`--version`: loads LLVM only when asked, so other commands do not pay for it here."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the versions of triton_dsl, llvmlite and LLVM and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, *args: object) -> None:
        try:
            print(version_text(getattr(namespace, "cpu", None)))
        except TargetError as exc:
            parser.exit(EXIT_USAGE, f"tritonc: error: {exc}\n")
        parser.exit(0)


def version_text(cpu: str | None = None) -> str:
    """Versions, then the machine: host CPU, the target CPU JIT code is compiled for, and the kernel
    variant each kernel family uses on that target."""
    from . import jit

    host, target = jit.host_target(), jit.use_cpu(cpu)
    variants = ", ".join(f"{family}: {variant}" for family, variant in target.variants().items())
    return (f"tritonc (triton_dsl) {__version__}\n"
            f"llvmlite {jit.llvmlite_version()}\n"
            f"LLVM {jit.llvm_version()}\n"
            f"host CPU {host.cpu} ({host.triple})\n"
            f"target CPU {target.cpu} ({target.name})\n"
            f"kernels {variants}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tritonc",
        description="Compiler for Triton DSL, a statically typed language for ternary neural networks.",
        epilog="exit codes: 0 success, 1 errors in the program, 2 bad usage, 101 internal compiler error",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument("--debug", action="store_true", default=False,
                        help="show the traceback of an internal compiler error")
    parser.add_argument("--cpu", "--mcpu", dest="cpu", metavar="CPU", default=None, help=CPU_HELP)
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def _internal_error_summary(exc: BaseException) -> str:
    # The first line of the exception's own message; the type and traceback are for --debug.
    text = str(exc).strip().splitlines()
    return text[0] if text else "unexpected failure"


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version exit 0, usage errors exit 2
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if args.cpu is not None and args.run is not build.run:
            # `--cpu X` fixes the CPU of this process's JIT code, like `TRITON_DSL_CPU=X` (`build` reads it
            # for the code it writes instead). Checked here so that a bad name is a usage error at once.
            from . import jit
            jit.use_cpu(args.cpu)
        return args.run(args)
    except TargetError as exc:
        return report_usage_error(str(exc))
    except KeyboardInterrupt:
        print("tritonc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`tritonc check x --emit=types | head`): stop quietly, like a tool killed by
        # SIGPIPE, instead of reporting an internal error.
        _silence_stdout()
        return 141
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(_INTERNAL_ERROR.format(summary=_internal_error_summary(exc)), file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
