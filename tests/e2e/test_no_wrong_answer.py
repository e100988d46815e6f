"""Issue 15 regression tests: each input once gave a silent wrong answer, an internal error or a hang.

In: small programs run through `tritonc check` / `tritonc run` in-process. Out: the right output, or a
diagnostic pinned at file:line:col with its code, or a run-time error naming the line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
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


# ---------------------------------------------------------------- float -> int saturates (docs/language.md)

# (expression, the numpy-free reference: truncate toward zero, clamp to the range, NaN -> 0)
def _saturate(value: float, bits: int) -> int:
    if value != value:
        return 0
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if value >= high:
        return high
    if value <= low:
        return low
    return int(value)


FLOAT_TO_INT = [
    ("3.0e9", 3.0e9), ("-3.0e9", -3.0e9), ("0.0 / 0.0", float("nan")), ("1.0 / 0.0", float("inf")),
    ("-1.0 / 0.0", float("-inf")), ("200.7", 200.7), ("-2.5", -2.5), ("2147483520.0", 2147483520.0),
    ("-2147483648.0", -2147483648.0), ("1.0e30", 1.0e30),
]


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64"])
def test_float_to_int_saturates_scalar_and_tensor(tmp_path, capsys, dtype):
    bits = int(dtype[3:])
    # through a function parameter, so that nothing is folded at compile time
    lines = [f"fn conv(x: float32) -> {dtype} {{ return {dtype}(x) }}", "fn conv64(x: float64) -> "
             f"{dtype} {{ return {dtype}(x) }}", "main {"]
    for text, _ in FLOAT_TO_INT:
        lines.append(f"    print(conv({text}), conv64(float64({text})), {dtype}({text}))")
    lines.append("    let t = tensor([" + ", ".join(t for t, _ in FLOAT_TO_INT) + "])")
    lines.append(f"    print(cast(t, {dtype}))")
    lines.append("}")
    code, out, err = run(tmp_path, capsys, "\n".join(lines) + "\n")
    assert code == 0, err
    rows = out.strip().splitlines()
    for (text, value), row in zip(FLOAT_TO_INT, rows, strict=False):
        f32 = float(np.float32(value))  # the float32 literal's value
        want = _saturate(f32, bits)
        assert row.split() == [str(want)] * 3, (text, row)
    tensor_row = " ".join(rows[len(FLOAT_TO_INT):]).strip("[] ").split()
    want = [_saturate(float(np.float32(v)), bits) for _, v in FLOAT_TO_INT]
    assert [int(x) for x in tensor_row] == want


def test_float_to_int_is_the_same_every_run(tmp_path, capsys):
    program = main_of("let nan = 0.0 / 0.0", "print(int32(3.0e9), int32(nan), int64(nan), int16(-1.0e9))")
    outs = {run(tmp_path, capsys, program)[1] for _ in range(3)}
    assert outs == {"2147483647 0 0 -32768\n"}


def test_float_to_trit_beyond_any_int_is_a_runtime_error(tmp_path, capsys):
    program = ("fn tr(x: float32) -> trit { return trit(x) }\n"
               "main {\n    print(tr(1.0))\n    print(tr(1.0e30))\n}\n")
    code, out, err = run(tmp_path, capsys, program)
    assert code == 1 and out == "1\n", (out, err)
    assert "p.triton:1:" in err and "not a trit" in err, err


# ---------------------------------------------------------------- one rank limit for every op (E0410)

RANK8 = "zeros([1, 1, 1, 1, 1, 1, 2, 3])"


@pytest.mark.parametrize(("line", "col", "what"), [
    (f"let y = unsqueeze({RANK8}, 0)", 13, "would have rank 9"),
    ("let y = reshape(zeros([6]), [1, 1, 1, 1, 1, 1, 1, 2, 3])", 13, "would have rank 9"),
    (f"let y = stack([{RANK8}, {RANK8}])", 13, "would have rank 9"),
    ("let y = zeros([1, 1, 1, 1, 1, 1, 1, 1, 1])", 13, "would have rank 9"),
    ("let y = randn([1, 1, 1, 1, 1, 1, 1, 1, 1, 1])", 13, "would have rank 10"),
    ("let y = tensor([[[[[[[[[1.0]]]]]]]]])", 13, "would have rank 9"),
    ("let y: Tensor<float32, [1, 1, 1, 1, 1, 1, 1, 1, 1]> = zeros([1])", 12, "this tensor type has rank 9"),
])
def test_rank_above_8_is_e0410_for_every_op(tmp_path, capsys, line, col, what):
    code, _, err = run(tmp_path, capsys, main_of(line), "check")
    assert code == 1
    assert f"p.triton:2:{col}: error[E0410]: " in err, err
    assert f"{what}; the maximum rank is 8" in err, err


def test_rank_8_still_works(tmp_path, capsys):
    code, out, err = run(tmp_path, capsys, main_of(f"let x = {RANK8}", "print(numel(unsqueeze(x[0], 0)))",
                                                   "print(numel(x), x.shape[7])"))
    assert (code, out) == (0, "6\n6 3\n"), err


# ---------------------------------------------------------------- strings hold scalar values (lexer, E0105)


@pytest.mark.parametrize(("literal", "col", "code_point"), [
    ('"\\ud800"', 12, "U+D800"), ('"\\u{DFFF}"', 12, "U+DFFF"), ('f"a\\udc00{1}"', 14, "U+DC00"),
    ('"ok \\u{D83D}"', 15, "U+D83D"),
])
def test_surrogate_escape_is_a_lexical_error(tmp_path, capsys, literal, col, code_point):
    for command in ("check", "run"):
        code, _, err = run(tmp_path, capsys, main_of(f"print({literal})"), command)
        assert code == 1, err
        assert f"p.triton:2:{col}: error[E0105]: {code_point} is a surrogate, not a character" in err, err


def test_surrogate_in_a_python_source_string_is_refused_and_printable():
    import triton_dsl

    with pytest.raises(triton_dsl.CompileError) as info:
        triton_dsl.compile('main {\n    print("x\ud800")\n}\n')
    text = str(info.value)
    assert "<string>:2:13: error[E0105]: U+D800 is a surrogate" in text
    text.encode("utf-8")  # the message itself must be printable


def test_valid_escapes_and_nul_still_run(tmp_path, capsys):
    code, out, err = run(tmp_path, capsys, main_of('print("\\u{1F600}\\u00e9\\x41\\0z")'))
    assert (code, out) == (0, "\U0001F600\u00e9A\0z\n"), err


# ---------------------------------------------------------------- generic instantiation always ends

GROWING = ("fn f<S>(x: Tensor<float32, S>) -> float32 {\n"
           "    return f(unsqueeze(x, 0))\n"
           "}\n"
           "main {\n    print(f(zeros([2])))\n}\n")


def test_generic_recursion_growing_the_rank_ends_with_a_diagnostic(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "p.triton"
    path.write_text(GROWING)
    # in a subprocess with a timeout: this check once ran forever, its memory past 1.5 GB
    done = subprocess.run([sys.executable, "-m", "triton_dsl", "check", str(path)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert f"{path}:2:14: error[E0410]: this tensor would have rank 9; the maximum rank is 8" in done.stderr


def test_instantiation_depth_limit_is_e0508(tmp_path, capsys, monkeypatch):
    from triton_dsl.check import calls

    # With the real limit (100) no program reaches it before the rank limit: lower it to see the rule.
    monkeypatch.setattr(calls, "MAX_INSTANTIATION_DEPTH", 3)
    code, _, err = run(tmp_path, capsys, GROWING, "check")
    assert code == 1
    assert "p.triton:2:12: error[E0508]: instantiating `f` for (Tensor<float32, [?, ?, ?, ?, ?]>) nests " \
           "more than 3 instances deep" in err, err
    assert err.count("error[E0508]") == 1
    # a recursion at the same types makes no new instance: it is not limited
    program = ("fn f<S>(x: Tensor<float32, S>, n: int32) -> float32 {\n"
               "    if n == 0 { return sum(x) }\n    return f(x * 2.0, n - 1)\n}\n"
               "main {\n    print(f(ones([2, 1]), 10))\n}\n")
    code, _, err = run(tmp_path, capsys, program, "check")
    assert code == 0, err


# ---------------------------------------------------------------- format-spec widths are bounded (E0310)


@pytest.mark.parametrize(("spec", "what"), [
    ("099999999999999999999d", "width 99999999999999999999"),
    (">3000000000", "width 3000000000"),
    (">9223372036854775808", "width 9223372036854775808"),
    ("<" + "9" * 5000, "width " + "9" * 5000),  # more digits than Python's int() reads
    (">1000001", "width 1000001"),
])
def test_format_width_beyond_the_limit_is_e0310(tmp_path, capsys, spec, what):
    code, _, err = run(tmp_path, capsys, main_of("let x = 5", f'print(f"{{x:{spec}}}")'), "check")
    assert code == 1
    assert f"p.triton:3:14: error[E0310]: format {what} is too large (at most 1000000)" in err, err[:300]


def test_format_precision_beyond_the_limit_is_e0310(tmp_path, capsys):
    code, _, err = run(tmp_path, capsys, main_of('print(f"{1.5:.151f}")'), "check")
    assert code == 1
    assert "p.triton:2:14: error[E0310]: format precision 151 is too large (at most 150)" in err, err


def test_format_widths_up_to_the_limit_match_python(tmp_path, capsys):
    x = 5
    specs = [">1000000", "09d", "^12", "*<7", "+08,d"]
    program = main_of("let x = 5", *(f'print(f"[{{x:{s}}}]")' for s in specs))
    code, out, err = run(tmp_path, capsys, program)
    assert code == 0, err
    assert out.splitlines() == [f"[{format(x, s)}]" for s in specs]


# ---------------------------------------------------------------- the Python API boundary

API_SOURCE = """
fn i32(x: int32) -> int32 { return x }
fn i64(x: int64) -> int64 { return x }
fn i8(x: int8) -> int8 { return x }
fn tr(x: trit) -> trit { return x }
fn bo(x: bool) -> bool { return x }
fn f16(x: float16) -> float32 { return float32(x) }
fn f32(x: float32) -> float32 { return x }
fn dim_n(x: Tensor<float32, [n, k]>) -> int64 { return n }
fn shape0(x: Tensor<float32, [n, k]>) -> int64 { return x.shape[0] }
fn ident(x: Tensor<float32, [n]>) -> Tensor<float32, [n]> { return x }
fn flat(x: Tensor<float32, [n, k]>) -> Tensor<float32, [?]> { return reshape(x, [-1]) }
fn pair(x: Tensor<float32, [n]>, y: Tensor<float32, [n]>) -> (Tensor<float32, [n]>, Tensor<float32, [n]>) {
    return (y, x + 1.0)
}
"""


@pytest.fixture(scope="module")
def api_module():
    import triton_dsl

    return triton_dsl.compile(API_SOURCE)


@pytest.mark.parametrize(("fn", "value", "error", "message"), [
    ("i32", 2 ** 40, OverflowError,
     "i32(): argument 'x' of type int32 must be in -2147483648..2147483647, not 1099511627776"),
    ("i32", -2 ** 31 - 1, OverflowError, "of type int32 must be in -2147483648..2147483647, not -2147483649"),
    ("i64", 2 ** 63, OverflowError, "i64(): argument 'x' of type int64 must be in -9223372036854775808.."
     "9223372036854775807, not 9223372036854775808"),
    ("i8", np.int64(300), OverflowError, "i8(): argument 'x' of type int8 must be in -128..127, not 300"),
    ("tr", 5, ValueError, "tr(): argument 'x' of type trit must be -1, 0 or 1, not 5"),
    ("tr", 300, ValueError, "tr(): argument 'x' of type trit must be -1, 0 or 1, not 300"),
    ("bo", 2, ValueError, "bo(): argument 'x' of type bool must be True, False, 0 or 1, not 2"),
    ("f16", 1.0e6, OverflowError, "f16(): argument 'x' of type float16 must be at most 65504 in magnitude"),
    ("f32", 1.0e39, OverflowError, "f32(): argument 'x' of type float32 must be at most 3.40282e+38"),
    ("f32", 2 ** 2000, OverflowError, "not an integer of 2001 bits"),
    ("i32", 3.0, TypeError, "i32(): argument 'x' must be an integer (int32), not 3.0"),
    ("f32", "3", TypeError, "f32(): argument 'x' must be a number (float32), not str"),
])
def test_api_scalar_out_of_range_is_refused(api_module, fn, value, error, message):
    with pytest.raises(error) as info:
        getattr(api_module, fn)(value)
    assert message in str(info.value)


@pytest.mark.parametrize(("fn", "value", "want"), [
    ("i32", 2 ** 31 - 1, 2 ** 31 - 1), ("i32", -2 ** 31, -2 ** 31), ("i64", 2 ** 63 - 1, 2 ** 63 - 1),
    ("i64", -2 ** 63, -2 ** 63), ("i8", np.int8(-128), -128), ("tr", -1, -1), ("tr", np.int8(1), 1),
    ("bo", True, True), ("bo", 0, False), ("f16", 65504.0, 65504.0), ("f32", float("inf"), float("inf")),
    ("f32", 3, 3.0), ("i32", np.array(7), 7),
])
def test_api_scalar_in_range_passes_exactly(api_module, fn, value, want):
    assert getattr(api_module, fn)(value) == want


def test_api_nan_passes_as_nan(api_module):
    assert np.isnan(api_module.f32(float("nan")))


def test_api_dims_beyond_int32(api_module):
    big = np.zeros((2 ** 31 + 3, 0), np.float32)  # no memory: a huge dim, zero elements
    assert api_module.dim_n(big) == 2 ** 31 + 3
    assert api_module.shape0(big) == 2 ** 31 + 3
    huge = np.zeros((2 ** 40, 0), np.float32)
    assert api_module.dim_n(huge) == 2 ** 40


def test_api_result_is_never_a_writable_alias_of_a_read_only_input(api_module):
    ro = np.arange(3, dtype=np.float32)
    ro.flags.writeable = False
    r = api_module.ident(ro)
    assert np.shares_memory(r, ro) and not r.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        r[0] = 99.0
    assert ro.tolist() == [0.0, 1.0, 2.0]
    grid = np.arange(6, dtype=np.float32).reshape(2, 3)
    grid.flags.writeable = False
    assert not api_module.flat(grid).flags.writeable
    alias, fresh = api_module.pair(np.ones(3, np.float32), ro)
    assert not alias.flags.writeable and fresh.flags.writeable and fresh.tolist() == [2.0, 2.0, 2.0]
    rw = np.arange(3, dtype=np.float32)
    assert api_module.ident(rw).flags.writeable  # a writable input's alias stays writable, as numpy views


def test_api_generic_wrapper_takes_int64_beyond_int32():
    import triton_dsl

    m = triton_dsl.compile("fn g<S>(x: Tensor<float32, S>, k: int64) -> int64 { return k + 1 }\n")
    assert m.g(np.zeros(2, np.float32), 2 ** 40) == 2 ** 40 + 1


# ---------------------------------------------------------------- the program cache: any bad entry is a miss

CACHED = main_of("let x = 6", 'print(f"{x * 7}")')


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "programs").glob("*.json"))


def test_program_cache_entry_with_one_flipped_bit_is_a_miss(tmp_path, capsys, monkeypatch):
    import json

    cache = tmp_path / "cache"
    monkeypatch.setenv("TRITON_DSL_CACHE_DIR", str(cache))
    assert run(tmp_path, capsys, CACHED)[:2] == (0, "42\n")
    (entry,) = _entries(cache)
    good = entry.read_bytes()
    assert "sha256" in json.loads(good)
    # flip one bit inside the IR text (any position of the payload would do)
    pos = good.index(b"define")
    for bit in (0, 3, 6):
        entry.write_bytes(good[:pos] + bytes([good[pos] ^ (1 << bit)]) + good[pos + 1:])
        for _ in range(2):  # the bad entry is replaced: later runs read a good one
            code, out, err = run(tmp_path, capsys, CACHED)
            assert (code, out) == (0, "42\n"), err
        assert json.loads(_entries(cache)[0].read_text())["sha256"] == json.loads(good)["sha256"]


@pytest.mark.parametrize("damage", ["truncate", "not json", "empty", "wrong types"])
def test_program_cache_unreadable_entry_is_a_miss(tmp_path, capsys, monkeypatch, damage):
    import json

    cache = tmp_path / "cache"
    monkeypatch.setenv("TRITON_DSL_CACHE_DIR", str(cache))
    assert run(tmp_path, capsys, CACHED)[:2] == (0, "42\n")
    (entry,) = _entries(cache)
    text = entry.read_text()
    entry.write_text({"truncate": text[: len(text) // 2], "not json": "\x00\xff garbage", "empty": "",
                      "wrong types": json.dumps([1, 2, 3])}[damage])
    code, out, err = run(tmp_path, capsys, CACHED)
    assert (code, out) == (0, "42\n"), err


def test_program_cache_entry_whose_ir_does_not_load_is_a_miss(tmp_path, capsys, monkeypatch):
    """A consistent entry (checksum recomputed) holding IR LLVM rejects: recompiled, not exit 101."""
    import json

    from triton_dsl import program_cache

    cache = tmp_path / "cache"
    monkeypatch.setenv("TRITON_DSL_CACHE_DIR", str(cache))
    assert run(tmp_path, capsys, CACHED)[:2] == (0, "42\n")
    (entry,) = _entries(cache)
    data = json.loads(entry.read_text())
    data["llvm_ir"] = data["llvm_ir"].replace("define", "defxne", 1)
    data.pop("sha256")
    data["sha256"] = program_cache._checksum(data)
    entry.write_text(json.dumps(data))
    code, out, err = run(tmp_path, capsys, CACHED)
    assert (code, out) == (0, "42\n"), err
    assert "defxne" not in _entries(cache)[0].read_text()


# ---------------------------------------------------------------- found by the run fuzzer (tests/fuzz)


def test_fuzz_literal_tree_takes_the_other_operands_type(tmp_path, capsys):
    # `p + ((7 % -1000) - 2147483647)` with p: int64 computed the literal arithmetic in int32 (wrapped by
    # 2**32), and the checker's constant folding truncated `%` where the language floors.
    program = ("fn f(p: int64) -> int64 {\n    return p + ((7 % (-1000)) - 2147483647)\n}\n"
               "fn g(p: int64) -> int64 {\n    return p - (3 + 2147483647)\n}\n"
               "fn h(p: int64) -> int64 {\n    return (-9223372036854775807) - ((9223372036854775807 // 7) % "
               "(-1000))\n}\n"
               "main {\n    print(f(0), g(0), h(0), 7 % -1000, 7 // -1000, -7 // 2, -7 % 2)\n}\n")
    code, out, err = run(tmp_path, capsys, program)
    want = [0 + ((7 % -1000) - 2147483647), 0 - (3 + 2147483647),
            -9223372036854775807 - ((9223372036854775807 // 7) % -1000),
            7 % -1000, 7 // -1000, -7 // 2, -7 % 2]
    assert (code, out.split()) == (0, [str(w) for w in want]), err


def test_fuzz_constant_overflow_uses_floor_semantics(tmp_path, capsys):
    program = "fn h(p: int32) -> int32 {\n    return p + (7 % (-1000) - 2147483647)\n}\n"
    code, _, err = run(tmp_path, capsys, program, "check")
    assert code == 1
    assert "p.triton:2:17: error[E0311]: this constant expression is -2147484640, which does not fit in " \
           "`int32`" in err, err
