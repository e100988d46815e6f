"""The driver: the one module that knows the order of the compiler's stages.

In: a `Source` (or file paths). Out: a `CheckResult` holding the syntax tree, the checked program and every
diagnostic the stages reported. Stages report problems in the program through a `DiagnosticSink`;
anything a stage raises is an internal compiler error and propagates to the caller (the CLI turns it
into exit code 101).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, DiagnosticSink
from .source import Source
from .target import Target

SOURCE_SUFFIXES = (".triton", ".tri")


@dataclass
class CheckResult:
    """What parsing and checking one source produced."""

    source: Source
    diagnostics: list[Diagnostic] = field(default_factory=list)
    program: Any | None = None  # syntax.ast.Program, once parsing ran
    checked: Any | None = None  # check.checker's CheckedProgram, once checking ran

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


def read_source(path: str | Path) -> Source:
    """Read a program file; raises OSError / UnicodeDecodeError for the caller to report."""
    return Source.from_path(path)


def check_source(source: Source) -> CheckResult:
    """Parse and check one source. Checking runs only when parsing found no errors."""
    # imported here: a program run from the cache (`tritonc run`) loads neither the parser nor the checker
    from .check.checker import check_program
    from .syntax.parser import parse_program

    sink = DiagnosticSink()
    result = CheckResult(source, sink.diagnostics)

    result.program = parse_program(source, sink)
    if result.program is None or sink.has_errors:
        return result
    result.checked = check_program(result.program, sink)
    return result


def check_files(paths: Iterable[str | Path]) -> list[CheckResult]:
    """Check several files independently (one result each); unreadable files raise."""
    return [check_source(read_source(path)) for path in paths]


# -- back end (run/build side) ---------------------------------------------------------------------------

@dataclass
class CompileResult:
    """What compiling one source to LLVM IR produced (`llvm_ir` is None when there were errors)."""

    check: CheckResult
    ir_module: Any | None = None  # ir.Module after passes
    llvm_ir: str | None = None
    parallel: bool = False  # the code calls trk_parallel_for (load the kernel library first)
    needs_kernels: bool = False  # the code calls kernel-library functions (trk_*)

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return self.check.diagnostics

    @property
    def ok(self) -> bool:
        return self.check.ok and self.llvm_ir is not None


def compile_source(source: Source, target: Target | None = None, *, c_abi: bool = False,
                   parallel: bool | None = None) -> CompileResult:
    """Parse, check, lower, optimize the IR and emit LLVM IR for one source, for `target` (default: the
    process target, what JIT code runs as).

    `parallel` (default: when the program has fused loops) splits large loops over the cores with the
    kernel library's `trk_parallel_for`; the caller must then load the kernel library before running.
    """
    return lower_and_emit(check_source(source), target, name=source.name, c_abi=c_abi, parallel=parallel)


def lower_and_emit(checked: CheckResult, target: Target | None = None, *, name: str, c_abi: bool = False,
                   parallel: bool | None = None) -> CompileResult:
    """The back end of `compile_source` for a program already parsed and checked."""
    result = lower_checked(checked)
    if result.ir_module is None:
        return result
    return emit_llvm(result, target, name=name, c_abi=c_abi, parallel=parallel)


def lower_checked(checked: CheckResult) -> CompileResult:
    """Lower a checked program to IR and run the IR passes (`ir_module` stays None after errors)."""
    from .ir.lowering import lower_program
    from .ir.verifier import verify_module
    from .passes import run_passes

    result = CompileResult(checked)
    if not checked.ok or checked.checked is None:
        return result
    sink = DiagnosticSink(checked.diagnostics)
    module = lower_program(checked.checked, sink)
    if sink.has_errors:
        return result
    verify_module(module)
    run_passes(module)
    result.ir_module = module
    return result


def emit_llvm(result: CompileResult, target: Target | None = None, *, name: str, c_abi: bool = False,
              parallel: bool | None = None, external: frozenset[str] = frozenset(),
              export_all: bool = False) -> CompileResult:
    """Emit the LLVM IR of a lowered program into `result` (and return it). `external` / `export_all` are
    for the REPL, which builds its programs from several entries (see `codegen.module.emit_module`)."""
    from . import jit
    from .codegen.module import emit_module

    module = result.ir_module
    opcodes = {op.opcode for fn in module.functions.values() for op in fn.walk()}
    if parallel is None:
        parallel = "fused" in opcodes
    result.parallel = parallel
    result.needs_kernels = parallel or bool({"dequantize", "ternary_matmul"} & opcodes)
    result.llvm_ir = emit_module(module, target or jit.process_target(), name=name, c_abi=c_abi,
                                 parallel=parallel, external=external, export_all=export_all)
    return result


def emit_text(source: Source, kind: str, *, opt_level: int = 2) -> tuple[CompileResult, str | None]:
    """The text of a back-end stage for `tritonc check --emit=ir|llvm-ir`: the IR after passes (`ir`), or
    the optimized LLVM IR for this machine (`llvm-ir`). The text is None when the program has errors."""
    from .ir.printer import print_module

    result = compile_source(source, parallel=False)
    if not result.ok:
        return result, None
    if kind == "ir":
        return result, print_module(result.ir_module)
    if kind == "llvm-ir":
        from . import jit
        return result, jit.optimized_ir(result.llvm_ir, opt_level=opt_level)
    raise ValueError(f"unknown stage text {kind!r}")
