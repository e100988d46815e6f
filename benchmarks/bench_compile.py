"""Benchmark: compile time stage by stage, cold (empty cache) and warm (everything cached), per program.

Run from the repository root: `python -m benchmarks.bench_compile [--quick] [--libraries] [--cpu CPU,...]`.
In: the standard library and every program under examples/. Out, for the process target of each `--cpu`
(default: `$TRITON_DSL_CPU` or native), CPU seconds (`time.process_time`, every figure measured in a
fresh process with its own cache directory):

- the stdlib: building the grammar's parse tables (or loading them from the cache), parsing and
  checking the stdlib sources;
- each example, cold then warm (second process, same cache): parse, check, lower (+ IR passes), emit
  (LLVM IR text), LLVM optimize and code generation of the program's module; running it (what its
  first calls bind); the runtime parts and kernel families it pulled in (how many, Python IR
  building, LLVM); the whole process; and the CPU time of a real `tritonc run` of the file (cold:
  empty cache; warm: program and objects cached);
- with `--libraries`: every kernel family and runtime part compiled on its own (IR building,
  optimize, code generation, object size), which is what a program needing it pays once per cache.

Timing is never a test; this only measures and reports (the machine is named in the first lines).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples").glob("*.triton"))


# ---------------------------------------------------------------- worker side (one fresh process each)

def _cpu() -> float:
    return time.process_time()


def _unit_totals(units) -> dict:
    """Count, IR-building and LLVM seconds of loaded library units (`units.LoadedUnit`)."""
    llvm = sum(u.module.record.parse + u.module.record.optimize + u.module.record.codegen for u in units)
    return {"n": len(units), "built": sum(1 for u in units if not u.from_index),
            "build": sum(u.build_seconds for u in units), "llvm": llvm}


def work_program(path: str | None) -> dict:
    """Stages of compiling `path` (None: the stdlib only) in this process; JSON-able seconds."""
    start = _cpu()
    from triton_dsl import jit
    from triton_dsl.check import stdlib_env
    from triton_dsl.syntax import parser

    out: dict = {"import": _cpu() - start}
    t = _cpu()
    parser.get_lark()
    out["grammar"] = _cpu() - t
    parse_seconds = [0.0]
    real_parse = parser.parse_program

    def timed_parse(*args, **kwargs):
        t0 = _cpu()
        try:
            return real_parse(*args, **kwargs)
        finally:
            parse_seconds[0] += _cpu() - t0

    parser.parse_program = timed_parse  # load_stdlib imports it at call time
    t = _cpu()
    stdlib_env.stdlib_env()
    total = _cpu() - t
    parser.parse_program = real_parse
    out["stdlib_parse"], out["stdlib_check"] = parse_seconds[0], total - parse_seconds[0]
    if path is None:
        out["total"] = _cpu() - start
        return out

    from triton_dsl.check.checker import check_program
    from triton_dsl.codegen.module import emit_module
    from triton_dsl.diagnostics import DiagnosticSink
    from triton_dsl.ir.lowering import lower_program
    from triton_dsl.ir.verifier import verify_module
    from triton_dsl.passes import run_passes
    from triton_dsl.pipeline import read_source
    from triton_dsl.runtime.kernel_library import kernel_library
    from triton_dsl.runtime.library import load_runtime

    source = read_source(path)
    sink = DiagnosticSink()
    t = _cpu()
    program = parser.parse_program(source, sink)
    out["parse"] = _cpu() - t
    t = _cpu()
    checked = check_program(program, sink)
    out["check"] = _cpu() - t
    if sink.has_errors:
        raise SystemExit(f"{path} has errors")
    t = _cpu()
    module = lower_program(checked, DiagnosticSink())
    verify_module(module)
    run_passes(module)
    out["lower"] = _cpu() - t
    opcodes = {op.opcode for fn in module.functions.values() for op in fn.walk()}
    t = _cpu()
    llvm_ir = emit_module(module, jit.process_target(), name=source.name, parallel="fused" in opcodes)
    out["emit"] = _cpu() - t
    runtime, kernels = load_runtime(), kernel_library()
    t = _cpu()
    jm = jit.JitModule(llvm_ir, 2, jit.ObjectCache())
    out["jit_total"] = _cpu() - t
    rec = jm.record
    out["llvm_opt"], out["llvm_codegen"] = rec.optimize, rec.codegen + rec.parse
    import io
    from contextlib import redirect_stdout

    from triton_dsl.api import _call_entry
    from triton_dsl.ir.nodes import ENTRY_NAME

    t = _cpu()
    if module.entry is not None:  # running binds what the code calls (kernels, reduction cores, ...)
        with redirect_stdout(io.StringIO()):
            _call_entry(jm, ENTRY_NAME, [], [])
    out["run"] = _cpu() - t
    out["runtime"] = _unit_totals(runtime.loaded_units())
    out["kernels"] = _unit_totals(kernels.loaded_units())
    out["kernel_families"] = kernels.compiled_families()
    out["total"] = _cpu() - start
    return out


def work_libraries() -> dict:
    """Every kernel family, then every runtime part, compiled one at a time (fresh cache)."""
    from triton_dsl import jit
    from triton_dsl.runtime.kernel_library import kernel_library
    from triton_dsl.runtime.library import load_runtime

    rows = []
    kernels, runtime = kernel_library(), load_runtime()
    for name, lib, units, compile_unit in (("kernels", kernels, kernels.families(), kernels.compile_family),
                                           ("runtime", runtime, runtime.units(), runtime.compile_unit)):
        for unit in units:
            if unit in [u.unit.name for u in lib.loaded_units()]:
                continue
            before = len(jit.compile_log())
            compile_unit(unit)
            loaded = {id(u.module.record): u for u in lib.loaded_units()}
            for rec in jit.compile_log()[before:]:  # the unit, and any unit it pulled in first
                u = loaded.get(id(rec))
                rows.append({"library": name, "unit": u.unit.name if u else rec.name,
                             "build": u.build_seconds if u else 0.0, "opt": rec.optimize,
                             "codegen": rec.codegen + rec.parse, "ir_kib": rec.ir_bytes / 1024,
                             "obj_kib": rec.object_bytes / 1024, "opt_level": rec.opt_level})
    return {"rows": rows}


# ---------------------------------------------------------------- driver side

def _run_worker(args: list[str], cache: str, cpu: str | None) -> dict:
    env = dict(os.environ, TRITON_DSL_CACHE_DIR=cache)
    if cpu:
        env["TRITON_DSL_CPU"] = cpu
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])
    with tempfile.TemporaryDirectory(prefix="bench-compile-worker-") as cwd:  # examples may write files
        proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_compile", "--worker", *args],
                              cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"worker {args} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _tritonc_cpu(path: Path, cache: str, cpu: str | None) -> float:
    """CPU seconds (user + system) of one `tritonc run` subprocess."""
    env = dict(os.environ, TRITON_DSL_CACHE_DIR=cache)
    if cpu:
        env["TRITON_DSL_CPU"] = cpu
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory(prefix="bench-compile-run-") as cwd:  # examples may write files
        proc = subprocess.run([sys.executable, "-m", "triton_dsl", "run", str(path)], cwd=cwd, env=env,
                              capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"tritonc run {path} failed:\n{proc.stderr}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _machine(cpu: str | None) -> str:
    from benchmarks.common import machine_description
    from triton_dsl import jit
    from triton_dsl.target import requested_cpu, resolve

    host = jit.host_target()
    target = resolve(requested_cpu(cpu), host)
    return (f"{machine_description()[0]}\nLLVM host CPU {host.cpu}; code compiled for {target.name} "
            f"({target.cpu}); kernel variants {target.variants()}")


def _fmt(x: float) -> str:
    return f"{x:7.2f}"


def _median_runs(fn, runs: int) -> dict:
    results = [fn() for _ in range(runs)]
    if runs == 1:
        return results[0]

    def merge(values):
        if isinstance(values[0], dict):
            return {k: merge([v[k] for v in values]) for k in values[0]}
        if isinstance(values[0], (int, float)):
            return statistics.median(values)
        return values[0]

    return merge(results)


def report_programs(cpu: str | None, runs: int, files: list[Path]) -> None:
    head = (f"{'':22}{'parse':>7}{'check':>7}{'lower':>7}{'emit':>7}{'opt':>7}{'codegen':>8}{'run':>6}"
            f"{'runtime':>16}{'kernels':>16}{'process':>8}{'tritonc':>8}")
    print(head)
    print(f"{'':22}{'':>7}{'':>7}{'':>7}{'':>7}{'(program module)':>22}{'':>6}"
          f"{'n  IR  LLVM':>16}{'n  IR  LLVM':>16}{'':>8}{'run':>8}")
    print("-" * len(head))
    with tempfile.TemporaryDirectory(prefix="bench-compile-") as root:
        cache = os.path.join(root, "stdlib")
        cold = _median_runs(lambda: _run_worker(["stdlib"], tempfile.mkdtemp(dir=root), cpu), runs)
        warm = _run_worker(["stdlib"], cache, cpu) and _run_worker(["stdlib"], cache, cpu)
        for label, r in (("cold", cold), ("warm", warm)):
            print(f"{'stdlib ' + label:22}{_fmt(r['stdlib_parse'])}{_fmt(r['stdlib_check'])}"
                  f"   grammar tables {r['grammar']:.2f} s, imports {r['import']:.2f} s, "
                  f"process {r['total']:.2f} s")
        for path in files:
            name = path.name.removesuffix(".triton")[:15]

            def cold_run(path=path):
                c = tempfile.mkdtemp(dir=root)
                r = _run_worker([str(path)], c, cpu)
                r["tritonc"] = _tritonc_cpu(path, tempfile.mkdtemp(dir=root), cpu)
                return r

            r_cold = _median_runs(cold_run, runs)
            shared = tempfile.mkdtemp(dir=root)
            _run_worker([str(path)], shared, cpu)
            r_warm = _run_worker([str(path)], shared, cpu)
            _tritonc_cpu(path, shared, cpu)
            warm_runs = [_tritonc_cpu(path, shared, cpu) for _ in range(max(runs, 3))]
            r_warm["tritonc"] = statistics.median(warm_runs)
            for label, r in (("cold", r_cold), ("warm", r_warm)):
                rt, kn = r["runtime"], r["kernels"]
                print(f"{name + ' ' + label:22}{_fmt(r['parse'])}{_fmt(r['check'])}{_fmt(r['lower'])}"
                      f"{_fmt(r['emit'])}{_fmt(r['llvm_opt'])}{r['llvm_codegen']:8.2f}{r['run']:6.2f}"
                      f"{rt['n']:>5}{rt['build']:5.2f}{rt['llvm']:6.2f}"
                      f"{kn['n']:>5}{kn['build']:5.2f}{kn['llvm']:6.2f}"
                      f"{r['total']:8.2f}{r['tritonc']:8.2f}")
            print(f"{'':22}kernel families: {', '.join(r_cold['kernel_families']) or 'none'}")


def report_libraries(cpu: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-compile-libs-") as cache:
        rows = _run_worker(["libraries"], cache, cpu)["rows"]
    head = (f"{'library':9}{'unit':22}{'-O':>3}{'IR KiB':>8}{'IR build':>10}{'optimize':>10}{'codegen':>9}"
            f"{'obj KiB':>9}")
    print(head)
    print("-" * len(head))
    totals: dict[str, list[float]] = {}
    for r in rows:
        print(f"{r['library']:9}{r['unit']:22}{r['opt_level']:>3}{r['ir_kib']:8.0f}{r['build']:10.2f}"
              f"{r['opt']:10.2f}{r['codegen']:9.2f}{r['obj_kib']:9.0f}")
        t = totals.setdefault(r["library"], [0.0, 0.0, 0.0])
        t[0] += r["build"]
        t[1] += r["opt"]
        t[2] += r["codegen"]
    for lib, (b, o, c) in totals.items():
        print(f"{lib:9}{'(all units)':22}{'':>3}{'':>8}{b:10.2f}{o:10.2f}{c:9.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="quickstart only, one run each")
    ap.add_argument("--runs", type=int, default=3, help="cold runs per program (median)")
    ap.add_argument("--libraries", action="store_true",
                    help="also compile every kernel family and runtime part")
    ap.add_argument("--cpu", default=None, help="comma-separated CPUs (TRITON_DSL_CPU values) to measure")
    ap.add_argument("--worker", nargs=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        what = args.worker[0]
        result = work_libraries() if what == "libraries" else work_program(None if what == "stdlib" else what)
        print(json.dumps(result))
        return
    files = [p for p in EXAMPLES if p.name == "quickstart.triton"] if args.quick else EXAMPLES
    runs = 1 if args.quick else args.runs
    for cpu in (args.cpu.split(",") if args.cpu else [None]):
        print(_machine(cpu))
        print(f"CPU seconds (process_time of fresh processes; cold = empty cache dir, median of {runs}; "
              f"warm = same cache); load average {os.getloadavg()[0]:.1f} at start")
        report_programs(cpu, runs, files)
        if args.libraries:
            print()
            report_libraries(cpu)
        print()


if __name__ == "__main__":
    main()
