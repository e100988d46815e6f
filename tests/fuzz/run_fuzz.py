"""The long fuzz run (docs/testing.md): the generators and oracles of tests/fuzz/test_run_fuzz.py at a
budget you choose, with a summary at the end and every failing input written to a directory.

    python tests/fuzz/run_fuzz.py --functions 4000 --mutants 6000 --out /tmp/fuzz-report

In: budgets and a first seed. Out: on stdout one line per batch and a JSON summary (cases, what each
oracle compared, failures); exit 1 when anything failed. Generated functions: batches of 50 (25 float
tensor, 25 integer expressions) at -O0 and -O2 against exact references, every `--isa-every`-th batch
also at baseline x86-64 in a child process. Mutants of the seed and example programs: `tritonc check`,
and those that check and may run (`programs.runnable`) run at -O0 and -O2 (at most `--runs` of them).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import programs  # noqa: E402  (a sibling module, not an installed package)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--functions", type=int, default=4000, help="generated functions (batches of 50)")
    ap.add_argument("--mutants", type=int, default=6000, help="mutated programs checked")
    ap.add_argument("--runs", type=int, default=300, help="at most this many mutants also run")
    ap.add_argument("--isa-every", type=int, default=10, help="every n-th batch also at x86-64 (0: never)")
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--out", type=Path, default=Path("fuzz-report"))
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {"functions": 0, "with_reference": 0, "isa_compared": 0, "runtime_errors": 0,
               "mutants": 0, "mutants_ok": 0, "mutants_diagnosed": 0, "mutants_run": 0, "failures": 0}
    start = time.time()

    def fail(kind: str, text: str) -> None:
        summary["failures"] += 1
        (args.out / f"{kind}-{summary['failures']:04d}.txt").write_text(text, encoding="utf-8")
        print(f"FAILURE {kind}: {text[:300]}", flush=True)

    batches = (args.functions + 49) // 50
    for k in range(batches):
        seed = args.seed + k
        cases = programs.batch(seed, 25, 25)
        try:
            results = {"-O0": programs.evaluate(cases, 0), "-O2": programs.evaluate(cases, 2)}
            if args.isa_every and k % args.isa_every == 0:
                results["x86-64"] = programs.evaluate_at_cpu(seed, 25, 25, 2, "x86-64")
                summary["isa_compared"] += len(cases)
        except Exception as exc:  # noqa: BLE001 - a generated batch must compile: report, go on
            sources = "".join(c.source for c in cases)
            fail("compile", f"seed {seed}: {type(exc).__name__}: {exc}\n\n{sources}")
            continue
        for problem in programs.compare(cases, results):
            fail("disagreement", f"seed {seed}: {problem}")
        summary["functions"] += len(cases)
        summary["with_reference"] += sum(c.reference is not None for c in cases)
        summary["runtime_errors"] += sum(isinstance(v, tuple) for v in results["-O0"].values())
        print(f"batch {k + 1}/{batches} seed {seed}: {len(cases)} functions, {time.time() - start:.0f} s",
              flush=True)

    rng = random.Random(args.seed)
    texts = programs.seed_and_examples()
    for i in range(args.mutants):
        text = programs.mutate(rng.choice(texts), rng)
        summary["mutants"] += 1
        try:
            code, _, err = programs.run_program(text, 0, check_only=True)
        except BaseException as exc:  # noqa: BLE001 - anything escaping the CLI is a crash
            fail("check-crash", f"{type(exc).__name__}: {exc}\n\n{text}")
            continue
        if code not in (0, 1) or "internal compiler error" in err:
            fail("check", f"exit {code}\n{err}\n\n{text}")
            continue
        summary["mutants_ok" if code == 0 else "mutants_diagnosed"] += 1
        if code == 0 and programs.runnable(text) and summary["mutants_run"] < args.runs:
            summary["mutants_run"] += 1
            seeded = programs.seeded(text)
            at_o0, at_o2 = programs.run_program(seeded, 0), programs.run_program(seeded, 2)
            if at_o0[0] not in (0, 1) or "internal compiler error" in at_o0[2]:
                fail("run", f"exit {at_o0[0]}\n{at_o0[2]}\n\n{text}")
            elif at_o0 != at_o2:
                fail("run-O0-O2", f"-O0: {at_o0!r}\n-O2: {at_o2!r}\n\n{text}")
        if (i + 1) % 500 == 0:
            print(f"mutants {i + 1}/{args.mutants}, {time.time() - start:.0f} s", flush=True)

    summary["seconds"] = round(time.time() - start)
    print(json.dumps(summary, indent=2))
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
