"""Calls on objects compiled from Triton DSL: a method call on a struct known statically against a plain
function call doing the same work, a call through a trait (dynamic dispatch, one indirect call), a call
through a closure value, and building small objects — each in a DSL loop of N iterations, reported as
nanoseconds per iteration, beside the same Python code for scale.

Run: `python benchmarks/bench_objects.py [--quick]`. Timing is never a test; this only reports.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import triton_dsl  # noqa: E402
from benchmarks.common import median_seconds, quick_parser  # noqa: E402

SOURCE = """
trait Stepper {
    fn step(self, i: int32) -> int32
}
struct Acc {
    total: int32
    fn step(self, i: int32) -> int32 {
        self.total = (self.total + i) % 1000003
        return self.total
    }
}
struct Other {
    total: int32
    fn step(self, i: int32) -> int32 {
        self.total = (self.total + 2 * i) % 1000003
        return self.total
    }
}
fn step(a: Acc, i: int32) -> int32 {
    a.total = (a.total + i) % 1000003
    return a.total
}
fn by_function(n: int32) -> int32 {
    let a = Acc(total=0)
    for i in 0..n { step(a, i) }
    return a.total
}
fn by_method(n: int32) -> int32 {
    let a = Acc(total=0)
    for i in 0..n { a.step(i) }
    return a.total
}
fn by_trait(n: int32) -> int32 {
    let steppers: [Stepper, ...] = [Acc(total=0), Other(total=0)]
    let s = steppers[n % 2]        # not known statically
    for i in 0..n { s.step(i) }
    return s.step(0)
}
fn by_closure(n: int32) -> int32 {
    let a = Acc(total=0)
    let f = fn(i: int32) -> int32 { return a.step(i) }
    for i in 0..n { f(i) }
    return a.total
}
fn building(n: int32) -> int32 {
    let kept = 0
    for i in 0..n {
        let xs = [Acc(total=i), Acc(total=i + 1)]
        kept = (kept + xs[1].total - xs[0].total) % 1000003
    }
    return kept
}
"""


class Acc:
    def __init__(self, total):
        self.total = total

    def step(self, i):
        self.total = (self.total + i) % 1000003
        return self.total


def py_method(n):
    a = Acc(0)
    for i in range(n):
        a.step(i)
    return a.total


def main() -> int:
    args = quick_parser(__doc__).parse_args()
    n = 200_000 if args.quick else 2_000_000
    repeat = 3 if args.quick else 5
    m = triton_dsl.compile(SOURCE, name="bench_objects.triton")
    want = sum(range(n)) % 1000003
    assert m.by_function(n) == m.by_method(n) == m.by_closure(n) == want
    print(f"{'loop of N calls (N=' + str(n) + ')':<44} {'ns / iteration':>14}")
    for name, label in (("by_function", "plain function step(a, i)"),
                        ("by_method", "method a.step(i) (direct)"),
                        ("by_trait", "trait s.step(i) (one indirect call)"),
                        ("by_closure", "closure f(i) (indirect + method)"),
                        ("building", "building [Acc, Acc] + two structs")):
        fn = getattr(m, name)
        t = median_seconds(lambda fn=fn: fn(n), repeat)
        print(f"{label:<44} {t / n * 1e9:>14.2f}")
    t = median_seconds(lambda: py_method(n // 10), repeat)
    print(f"{'Python: method call of a class (for scale)':<44} {t / (n // 10) * 1e9:>14.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
