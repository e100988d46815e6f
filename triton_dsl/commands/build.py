"""`tritonc build FILE --emit=llvm-ir|asm|obj|static|shared [-o OUT] [--target TRIPLE] [--cpu CPU] [-O N]`.

In: parsed command-line arguments. Out: an exit code and the output file, for this machine or another
target (e.g. `--target aarch64-linux-gnu`), for the CPU `--cpu` names (default: native for this machine,
the architecture's baseline for another):

- `llvm-ir`, `asm`, `obj`: the program alone (optimized LLVM IR, assembly, an ELF object);
- `static`: a `.a` archive of the program, the runtime, the kernel library and the compiler-support
  functions, all built for the target (`aot.library_objects`): what a C program needs to link
  (`cc main.c libprog.a -lm -lpthread`); no C compiler is needed to make it;
- `shared`: the same linked into a shared library by a C compiler for the target (`$CC`, `cc` on this
  machine's architecture, else `<triple prefix>-gcc`; a usage error when none is found).

`static` and `shared` also write a C header next to the output (`libprog.h`): the runtime's C API
(contexts, errors, making and reading tensors and ternary tensors) and each exported function (each
non-generic public function, C ABI: `int32_t f(trt_ctx *ctx, args..., result *out)`, returning 0 or the
error code).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from ..diagnostics import render_all
from ..target import cross, requested_cpu, resolve
from . import EXIT_OK, EXIT_PROGRAM_ERRORS, EXIT_USAGE, common_options, report_usage_error
from ._inputs import load_program_file

_SUFFIX = {"llvm-ir": ".ll", "asm": ".s", "obj": ".o", "static": ".a", "shared": ".so"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("build", parents=[common_options()],
                                   help="compile to LLVM IR, assembly, an object, a static or shared library",
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
    cc = None
    if args.emit == "shared":
        from ..aot import compiler_candidates, find_c_compiler

        cc = find_c_compiler(target, host.triple)
        if cc is None:
            tried = os.environ.get("CC", "").strip() or " or ".join(compiler_candidates(target, host.triple))
            return report_usage_error(
                f"no C compiler found to link a shared library for '{target.triple}' (tried {tried}): set CC "
                "to one, or use --emit=static and link the archive with your own toolchain") or EXIT_USAGE
    # Fused loops of ahead-of-time code stay serial (an `--emit=obj` object may be linked without the
    # kernel library's thread pool); the packed kernels themselves still split large work across threads.
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
        status = _build_library(result, out, options, cc)
        if status != EXIT_OK:
            return status
    print(f"wrote {out}", file=sys.stderr)
    return EXIT_OK


def _build_library(result, out: Path, options: dict, cc: list[str] | None) -> int:
    """A static archive (cc is None) or a shared library linked by `cc`, plus the C header."""
    from .. import aot, jit
    from ..codegen.entry import c_header
    from ..diagnostics import InternalCompilerError
    from ..elf_symbols import undefined_symbols

    target, opt_level = options["target"], options["opt_level"]
    program = jit.emit_object(result.llvm_ir, target=target, opt_level=opt_level)
    kernels = [name for name in undefined_symbols(program) if name.startswith("trk_")]
    members = [("program.o", program), *aot.library_objects(target, opt_level, kernels)]
    missing = aot.unresolved(members)
    if missing:
        raise InternalCompilerError(f"the library for {target.triple} ({target.cpu}) lacks "
                                    f"{', '.join(missing)}")
    if cc is None:
        aot.write_archive(out, members)
    else:
        with tempfile.TemporaryDirectory(prefix="tritonc-") as tmp:
            paths = []
            for name, data in members:
                paths.append(Path(tmp, name))
                paths[-1].write_bytes(data)
            failure = aot.link_shared(cc, out, paths)
        if failure is not None:
            print(f"tritonc: error: linking the shared library failed:\n{failure}", file=sys.stderr)
            return EXIT_PROGRAM_ERRORS
    exported = [fn for fn in result.ir_module.functions.values() if fn.public and not fn.generic]
    guard = "TRITON_" + "".join(ch if ch.isalnum() else "_" for ch in out.stem.upper()) + "_H"
    out.with_suffix(".h").write_text(c_header(exported, guard))
    return EXIT_OK
