"""`tritonc summary FILE`: what a weight file or a program stores, tensor by tensor.

In: parsed command-line arguments: a weight file (ours or any safetensors, GGUF, Hugging Face BitNet)
or a `.triton` / `.tri` program. Out: an exit code; the table of `triton_dsl.summary` on stdout. An
unreadable or corrupt file is an error naming it (exit 1); a program with compile errors prints its
diagnostics like `tritonc check` (exit 1). Nothing runs: a program's run-time sizes are shown as `?`.
"""

from __future__ import annotations

import argparse
import sys

from . import EXIT_OK, EXIT_PROGRAM_ERRORS, common_options


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "summary", parents=[common_options()], help="show the tensors of a weight file or a program",
        description="Per tensor: shape, dtype, parameters, bytes stored (packed), bits per parameter, zero "
                    "fraction and scale kind; then the totals against float32. For a program, what the "
                    "checker knows without running it.")
    parser.add_argument("file", metavar="FILE",
                        help="a weight file (.safetensors, .gguf) or a .triton program")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..diagnostics import CompileError
    from ..runtime.weights import WeightsFileError
    from ..summarize import ProgramFileError, summary

    try:
        result = summary(args.file)
    except (WeightsFileError, ProgramFileError) as exc:
        print(f"tritonc: error: {exc}", file=sys.stderr)
        return EXIT_PROGRAM_ERRORS
    except CompileError as exc:  # rendered like `tritonc check` renders them
        print(str(exc), file=sys.stderr)
        return EXIT_PROGRAM_ERRORS
    except ImportError as exc:  # a GGUF file without the optional gguf package
        print(f"tritonc: error: {exc}", file=sys.stderr)
        return EXIT_PROGRAM_ERRORS
    print(result)
    return EXIT_OK
