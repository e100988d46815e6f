"""`tritonc convert IN OUT --to FORMAT [--hf-scale divide|multiply] [--round-scales]`: convert weights.

In: parsed command-line arguments. Out: an exit code; one line on stdout saying what was written. The
input's format is detected from its contents (ours, GGUF, Hugging Face BitNet). A file that cannot be
read, is corrupt, or holds a tensor the target cannot represent exactly is an error naming the file
(exit 1, nothing written); an unknown format or a misplaced option is a usage error (exit 2).
"""

from __future__ import annotations

import argparse
import sys

from . import EXIT_OK, EXIT_PROGRAM_ERRORS, common_options, report_usage_error

_FORMATS = ("gguf-tq2_0", "gguf-tq1_0", "hf-bitnet", "ours")  # = triton_dsl.convert.FORMATS, without
# importing numpy to build the parser


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert", parents=[common_options()],
        help="convert a weight file to GGUF, Hugging Face BitNet or ours",
        description="Convert a weight file, bit-exact or not at all (docs/convert.md). The input may be our "
                    "safetensors format, GGUF (TQ2_0/TQ1_0) or Hugging Face BitNet b1.58.")
    parser.add_argument("source", metavar="IN", help="the weight file to read")
    parser.add_argument("target", metavar="OUT", help="the file to write (replaced atomically)")
    parser.add_argument("--to", required=True, choices=_FORMATS, metavar="FORMAT",
                        help="gguf-tq2_0, gguf-tq1_0, hf-bitnet or ours")
    parser.add_argument("--hf-scale", choices=("divide", "multiply"), default=None,
                        help="hf-bitnet weight_scale convention: divide (transformers BitLinear, the "
                             "default) or multiply (AutoBitLinear, offline)")
    parser.add_argument("--round-scales", action="store_true",
                        help="round scales the target cannot hold exactly to the nearest it can (float16 for "
                             "GGUF) instead of refusing; this changes the weights and says by how much")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..convert import convert
    from ..runtime.weights import WeightsFileError

    try:
        report = convert(args.source, args.target, args.to, hf_scale=args.hf_scale,
                         round_scales_to_fit=args.round_scales)
    except WeightsFileError as exc:
        print(f"tritonc: error: {exc}", file=sys.stderr)
        return EXIT_PROGRAM_ERRORS
    except ImportError as exc:  # the optional gguf package
        print(f"tritonc: error: {exc}", file=sys.stderr)
        return EXIT_PROGRAM_ERRORS
    except ValueError as exc:
        return report_usage_error(str(exc))
    print(f"converted {report}")
    return EXIT_OK
