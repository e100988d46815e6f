"""Strings as values: `+`, `==` / `!=`, `length` (code points), indexing and slicing by code point,
`str(x)`, f-strings with Python's format-spec mini-language (numbers and strings), strings in lists and
struct fields (printed as Python's repr), and `panic(f"...")` with the source location."""

from __future__ import annotations

import pytest
from objects_support import run_program


def run_ok(tritonc, tmp_path, source: str) -> str:
    code, out, err = run_program(tritonc, tmp_path, source)
    assert (code, err) == (0, ""), err
    return out


def test_operators_length_and_indexing(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
let s = "ab" + "cd"
let u = "héllo→"
print(s == "abcd", s != "abcd", "a" == "b", length(s), length(u), length(""))
print(u[1], u[-1], u[1:4], s[::-1], s[10:], str(42) + str(2.5) + str(true))
""")
    assert out == "true false false 4 6 0\né → éll dcba  422.5true\n"


@pytest.mark.parametrize("spec,value,want", [
    (":.2%", "0.25", "25.00%"), (":>8.3f", "3.14159", "   3.142"), (":+d", "5", "+5"),
    (":08.2f", "-1.5", "-0001.50"), (":e", "12345.678", "1.234568e+04"), (":,", "1234567", "1,234,567"),
    (":x", "255", "ff"), (":^7", "\"ab\"", "  ab   "), (":*<5", "\"z\"", "z****"), (":.2", "\"hello\"", "he"),
    ("", "0.1", "0.1"),
])
def test_format_specs_follow_python(tritonc, tmp_path, spec, value, want):
    out = run_ok(tritonc, tmp_path, f'let v = {value}\nprint(f"[{{v{spec}}}]")\n')
    assert out == f"[{want}]\n"


def test_strings_in_lists_and_fields(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
struct Tagged {
    name: str
    tags: [str, ...]
}
let t = Tagged(name="it's", tags=["a\\tb", "q\\"uote"])
t.tags.append(t.name + "!")
print(t)
print(f"{t.name}: {length(t.tags)} tags, first {t.tags[0]}")
""")
    assert out == ("Tagged(name=\"it's\", tags=['a\\tb', 'q\"uote', \"it's!\"])\n"
                   "it's: 3 tags, first a\tb\n")


def test_panic_with_an_fstring_names_the_location(tritonc, tmp_path):
    code, out, err = run_program(tritonc, tmp_path, """
fn check(mode: str) {
    if mode != "ok" {
        panic(f"Unknown mode: {mode} ({length(mode)} chars)")
    }
}
check("ok")
check("int4")
""")
    assert code == 1 and out == ""
    assert "prog.triton:4:9: runtime error: Unknown mode: int4 (4 chars)" in err
    assert "prog.triton:8:1: note: called from here" in err
