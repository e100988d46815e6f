"""`tritonc build FILE --emit=llvm-ir|asm|obj|shared [-o OUT] [--target TRIPLE] [--cpu CPU] [-O N]`.

In: parsed command-line arguments. Out: an exit code and the output file: optimized LLVM IR, assembly,
an object file (for the host or another target, e.g. `--target aarch64-linux-gnu`), or a shared library
for the host linked with the system `cc` from the program's object and the runtime library's object,
plus a C header describing its exported functions (each non-generic public function, C ABI:
`int32_t f(trt_ctx *ctx, args..., result *out)`, returning 0 or the error code).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..diagnostics import render_all
from ..target import cross, requested_cpu, resolve
from . import EXIT_OK, EXIT_PROGRAM_ERRORS, EXIT_USAGE, common_options, report_usage_error
from ._inputs import load_program_file

_SUFFIX = {"llvm-ir": ".ll", "asm": ".s", "obj": ".o", "shared": ".so"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("build", parents=[common_options()],
                                   help="compile to LLVM IR, assembly, an object or a shared library",
                                   description="Compile a Triton DSL program ahead of time.")
    parser.add_argument("file", metavar="FILE", help="a .triton or .tri file")
    parser.add_argument("--emit", choices=tuple(_SUFFIX), default="obj", help="what to produce (default obj)")
    parser.add_argument("-o", dest="output", metavar="OUT",
                        help="output path (default: FILE with a new suffix)")
    parser.add_argument("--target", metavar="TRIPLE", help="target triple (default: this machine)")
    parser.add_argument("-O", dest="opt_level", type=int, choices=range(4), default=2, metavar="N",
                        help="LLVM optimization level 0-3 (default 2)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .. import jit
    from ..pipeline import compile_source

    source = load_program_file(args.file)
    if isinstance(source, str):
        return report_usage_error(source) or EXIT_USAGE
    host = jit.host_target()
    cpu = requested_cpu(getattr(args, "cpu", None))
    if args.target in (None, host.triple):
        target = resolve(cpu, host)
    else:
        target = cross(args.target, None if cpu == "native" else cpu)
        jit.target_machine(target)  # an unknown triple is a usage error here, before any work
    if args.emit == "shared" and target.triple != host.triple:
        return report_usage_error("--emit=shared builds for this machine only; use --emit=obj for "
                                  f"'{target.triple}' and link it on the target") or EXIT_USAGE
    # Ahead-of-time code stays single-threaded: the thread pool lives in the kernel library.
    result = compile_source(source, target, c_abi=True, parallel=False)
    if result.diagnostics:
        print(render_all(result.diagnostics), file=sys.stderr)
    if not result.ok:
        return EXIT_PROGRAM_ERRORS
    out = Path(args.output or Path(args.file).with_suffix(_SUFFIX[args.emit]).name)
    options = {"target": target, "opt_level": args.opt_level}
    if args.emit == "llvm-ir":
        out.write_text(jit.optimized_ir(result.llvm_ir, **options))
    elif args.emit == "asm":
        out.write_text(jit.emit_assembly(result.llvm_ir, **options))
    elif args.emit == "obj":
        out.write_bytes(jit.emit_object(result.llvm_ir, **options))
    else:
        status = _build_shared(result, out, options)
        if status != EXIT_OK:
            return status
    print(f"wrote {out}", file=sys.stderr)
    return EXIT_OK


def _library_modules(target) -> list[str]:
    """IR texts of the runtime library's modules (one `; ModuleID` each) and of the kernel library."""
    from ..runtime import library
    from ..runtime.kernel_library import build_library_module

    text = library.runtime_ir()
    starts = [i for i in range(len(text)) if text.startswith("; ModuleID", i)] or [0]
    parts = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    return [*parts, str(build_library_module(target))]


def _build_shared(result, out: Path, options: dict) -> int:
    from .. import jit
    from ..codegen.entry import c_header

    cc = shutil.which(os.environ.get("CC", "cc"))
    if cc is None:
        return report_usage_error("no C compiler found to link the shared library (set CC)") or EXIT_USAGE
    exported = [fn for fn in result.ir_module.functions.values() if fn.public and not fn.generic]
    with tempfile.TemporaryDirectory(prefix="tritonc-") as tmp:
        objects = []
        for i, text in enumerate([result.llvm_ir, *_library_modules(options["target"])]):
            path = Path(tmp, f"part{i}.o")
            path.write_bytes(jit.emit_object(text, **options))
            objects.append(str(path))
        link = subprocess.run([cc, "-shared", "-o", str(out), *objects, "-lm", "-lpthread"],
                              capture_output=True, text=True)
        if link.returncode != 0:
            print(f"tritonc: error: linking failed:\n{link.stderr}", file=sys.stderr)
            return EXIT_PROGRAM_ERRORS
    guard = "TRITON_" + "".join(ch if ch.isalnum() else "_" for ch in out.stem.upper()) + "_H"
    out.with_suffix(".h").write_text(c_header(exported, guard))
    return EXIT_OK
