"""Issue 15 regression tests: each input once gave a silent wrong answer, an internal error or a hang.

In: small programs run through `tritonc check` / `tritonc run` in-process. Out: the right output, or a
diagnostic pinned at file:line:col with its code, or a run-time error naming the line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from triton_dsl.cli import main


def run(tmp_path: Path, capsys, text: str, command: str = "run") -> tuple[int, str, str]:
    path = tmp_path / "p.triton"
    path.write_text(text)
    code = main([command, str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def main_of(*lines: str) -> str:
    return "main {\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


# ---------------------------------------------------------------- integer literals take their context


@pytest.mark.parametrize(("lines", "out"), [
    (["let e: int64 = 5000000000 + 1", "print(e)"], "5000000001"),
    (["let a: int64 = -9223372036854775807", "print(a)"], "-9223372036854775807"),
    (["let a: int64 = -9223372036854775808", "print(a)"], "-9223372036854775808"),
    (["let a: int64 = 9223372036854775807", "print(a)"], "9223372036854775807"),
    (["let p: int64 = 100000 * 100000", "print(p)"], "10000000000"),
    (["let big = 3000000000", "print(big + 1)"], "3000000001"),       # a literal beyond int32 is int64
    (["let m = -2147483648", "print(m)"], "-2147483648"),
    (["let y: int8 = 3", "print(y + 100)"], "103"),                     # a literal adapts when it fits
    (["let x: int64 = 2 ** 40", "print(x)"], "1099511627776"),
])
def test_integer_literals_are_typed_from_context(tmp_path, capsys, lines, out):
    code, stdout, stderr = run(tmp_path, capsys, main_of(*lines))
    assert (code, stdout.strip()) == (0, out), stderr


@pytest.mark.parametrize(("lines", "line", "col", "message"), [
    (["let b = 12345678901234567890123456789012345678"], 2, 13,
     "the literal 12345678901234567890123456789012345678 does not fit in any integer type: the widest, "
     "`int64`, holds -9223372036854775808..9223372036854775807"),
    (["let b = -9223372036854775809"], 2, 13, "the literal -9223372036854775809 does not fit in any"),
    (["let y: int8 = 3", "print(y + 1000)"], 3, 15,
     "the literal 1000 does not fit in `int8` (-128..127), the type of the other operand"),
    (["print(2147483647 + 1)"], 2, 11,
     "this constant expression is 2147483648, which does not fit in `int32` (-2147483648..2147483647)"),
    (["let x: int32 = 7", "print(x == 5000000000)"], 3, 16,
     "the literal 5000000000 does not fit in `int32` (-2147483648..2147483647)"),
    (["let x: int32 = 5000000000"], 2, 20,
     "the literal 5000000000 does not fit in `int32` (-2147483648..2147483647)"),
    (["let x: int64 = 9223372036854775807 + 1"], 2, 20, "does not fit in `int64`"),
    (["let x: int16 = 200 * 200"], 2, 20, "this constant expression is 40000, which does not fit in `int16`"),
])
def test_integer_literal_out_of_range_is_e0311(tmp_path, capsys, lines, line, col, message):
    code, _, stderr = run(tmp_path, capsys, main_of(*lines), "check")
    assert code == 1
    assert f"p.triton:{line}:{col}: error[E0311]: " in stderr, stderr
    assert message in stderr, stderr
