"""Pinned output of the seed blocks that only compute (issue 15: their tests checked the exit code only).

In: a seed block. Out: the block, seeded (`seed(...)` first), with a probe appended that prints a digest
of every top-level `let` (a float tensor: its element count, the sums of |x| and of x², to four
significant digits — sums of positive terms, stable under the summation order of another ISA level; a
ternary tensor: its counts of -1, 0 and +1 and the sum of its |value|; a scalar: its value), and the
pinned text it must print, `tests/golden/data/seed_runs/<block>.out`. A missing golden fails;
`TRITON_DSL_UPDATE_GOLDEN=1` rewrites them after an intended change (review the diff: the digests are
what the blocks compute).
"""

from __future__ import annotations

import os
from pathlib import Path

from triton_dsl.check import types as ct
from triton_dsl.pipeline import check_source
from triton_dsl.source import Source
from triton_dsl.syntax import ast

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "data" / "seed_runs"
UPDATE = os.environ.get("TRITON_DSL_UPDATE_GOLDEN") == "1"


def _digest(name: str, t) -> str | None:
    if isinstance(t, ct.TensorType) and t.ternary:
        return (f"let ({name}_n, {name}_z, {name}_p) = count_trits({name})\n"
                f'print("{name}: trits", {name}_n, {name}_z, {name}_p, '
                f'f"|value| {{sum(abs(dequantize({name}))):.3e}}")\n')
    if isinstance(t, ct.TensorType):
        return (f'print("{name}: numel", numel({name}), f"|x| {{sum(abs(float32({name}))):.3e}}", '
                f'f"x2 {{sum(float32({name}) * float32({name})):.3e}}")\n')
    if isinstance(t, ct.Scalar) and t.name.startswith("float"):
        return f'print("{name}:", f"{{{name}:.4e}}")\n'
    if isinstance(t, ct.Scalar):
        return f'print("{name}:", {name})\n'
    return None


def _bindings(pattern, t):
    if isinstance(pattern, ast.NamePattern):
        yield pattern.name, t
    elif isinstance(pattern, ast.TuplePattern) and isinstance(t, ct.TupleType):
        for p, item in zip(pattern.elems, t.items, strict=False):
            yield from _bindings(p, item)


def probed(path: Path) -> str:
    """The block's text with the digest probe appended."""
    text = path.read_text(encoding="utf-8")
    result = check_source(Source(path.name, text))
    assert result.ok, [d.render() for d in result.diagnostics]
    probe = []
    for item in result.program.items:
        if isinstance(item, ast.Let):
            for name, t in _bindings(item.target, item.value.ty):
                line = _digest(name, t)
                if line:
                    probe.append(line)
    if not probe:
        return text
    # seeded first: the random state otherwise continues from whatever ran before in this process
    return ("seed(20251204)\n" + text + "\n# --- probe (tests/stdlib/seed_digest.py)\n" + "".join(probe))


def expected_output(path: Path, actual: str) -> str:
    golden = GOLDEN / f"{path.stem[:2]}.out"
    if UPDATE:
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"missing {golden}: run with TRITON_DSL_UPDATE_GOLDEN=1 and review it"
    return golden.read_text(encoding="utf-8")
