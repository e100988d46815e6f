"""Growable lists `[T, ...]`: literals, `[]` typed by later use, append / pop, index read and write with
negative indices and bounds checks naming the line, length, iteration (also while the body appends),
enumerate, zip, `[x] * n`, `+`, slicing, lists of tensors to stack / concat, lists of structs and of lists,
printing; the checker's diagnostics for `pop` and `zip`. Python's semantics throughout (docs/language.md
"Objects"); every program frees what it built."""

from __future__ import annotations

import numpy as np
import pytest
from objects_support import run_program

from triton_dsl import api
from triton_dsl.diagnostics import CompileError


def run_ok(tritonc, tmp_path, source: str) -> str:
    code, out, err = run_program(tritonc, tmp_path, source)
    assert (code, err) == (0, ""), err
    return out


def test_literals_append_pop_index_and_length(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
let xs: [int32, ...] = []
xs.append(3)
xs.append(4)
let ys = [1, 2, 3, 4]
let last = ys.pop()
let first = ys.pop(0)
ys[0] = 20
ys[-1] = 30
print(xs, length(xs), last, first, ys, ys[-2], length([]))
let empty = []
empty.append(1.5)              # the element type comes from this use
print(empty)
""")
    assert out == "[3, 4] 2 4 1 [20, 30] 20 0\n[1.5]\n"


def test_concat_repeat_and_slices_copy(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
let a = [1, 2, 3, 4, 5]
let b = a[1:4]
b[0] = 99                      # a slice is a new list
print(a + [6], [0] * 3, [7, 8] * 2, a[::-1], a[-2:], a[::2], a[4:1:-1], a[10:], b, a)
let names = ["x"] * 2
names[1] = "y"
print(names)
""")
    assert out == ("[1, 2, 3, 4, 5, 6] [0, 0, 0] [7, 8, 7, 8] [5, 4, 3, 2, 1] [4, 5] [1, 3, 5] [5, 4, 3] [] "
                   "[99, 3, 4] [1, 2, 3, 4, 5]\n['x', 'y']\n")


def test_iteration_enumerate_zip_break_continue(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
let xs = [10, 20, 30, 40]
let total = 0
for (i, x) in enumerate(xs) {
    if i == 1 { continue }
    if x > 30 { break }
    total += i * x
}
let words = ["a", "b", "c"]
for (n, w) in zip(xs, words) {
    print(n, w)
}
let grow = [1]
for g in grow {                # Python's rule: appended items are visited too
    if g < 4 { grow.append(g + 1) }
}
print(total, grow)
""")
    assert out == "10 a\n20 b\n30 c\n60 [1, 2, 3, 4]\n"


def test_lists_of_tensors_stack_concat_and_lists_of_lists(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
let ts: [Tensor<float32, [?]>, ...] = []
for i in 0..3 {
    ts.append(full([2], float32(i)))
}
print(stack(ts))
print(concat(ts))
let grid = [[1, 2], [3]]
grid[1].append(4)
grid.append([])
print(grid, length(grid[2]))
""")
    assert out == "[[0. 0.]\n [1. 1.]\n [2. 2.]]\n[0. 0. 1. 1. 2. 2.]\n[[1, 2], [3, 4], []] 0\n"


def test_lists_of_structs_are_references(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
struct P {
    x: int32
}
let ps = [P(x=1), P(x=2)]
let q = ps[0]
q.x = 10
let alias = ps
alias.append(P(x=3))
print(ps, length(ps))
""")
    assert out == "[P(x=10), P(x=2), P(x=3)] 3\n"


@pytest.mark.parametrize("stmt,message,col", [
    ("print(xs[3])", "list index 3 is out of range for a list of length 3", 7),
    ("print(xs[-4])", "list index -4 is out of range for a list of length 3", 7),
    ("xs[7] = 1", "list index 7 is out of range for a list of length 3", 1),
    ("print(xs.pop(5))", "pop index out of range", 7),
    ("print(e.pop())", "pop from an empty list", 7),
])
def test_index_errors_name_the_line(tritonc, tmp_path, stmt, message, col):
    code, out, err = run_program(tritonc, tmp_path, f"let xs = [1, 2, 3]\nlet e: [str, ...] = []\n{stmt}\n")
    assert code == 1 and out == ""
    assert f"prog.triton:3:{col}: runtime error: {message}" in err


@pytest.mark.parametrize("src,code,words", [
    ("let xs = [1]\nlet y: str = xs.pop()\n", "E0301", "expects `str`, found `int32`"),
    ("let n = 3\nprint(n.pop())\n", "E0304", "has no method `pop`"),
    ("print(zip([1], 2))\n", "E0501", "`zip` needs lists"),
    ("let xs = [1]\nxs.pop(\"a\")\n", "E0501", "an integer"),
    ("let xs = []\nprint(length(xs))\n", "E0306", "cannot infer the element type"),
])
def test_diagnostics(src, code, words):
    with pytest.raises(CompileError) as info:
        api.compile(src, name="d.triton")
    first = info.value.diagnostics[0]
    assert first.code == code and words in first.message, first.render()


def test_fixed_length_literals_still_fill_fixed_length_parameters():
    m = api.compile("""
fn weigh(s: [int32, int32]) -> int32 { return s[0] * 10 + s[1] }
fn direct() -> int32 { return weigh([4, 2]) }
fn via_variable() -> int32 {
    let s = [5, 3]
    s[1] = 7
    return weigh(s)            # a growable list of 2 items: checked, then read
}
fn wrong() -> int32 {
    let s = [1, 2, 3]
    return weigh(s)
}
""", name="fixed.triton")
    assert m.direct() == 42 and m.via_variable() == 57
    with pytest.raises(Exception, match="expected a list of 2 elements here") as info:
        m.wrong()
    assert "fixed.triton:11:" in str(info.value)


def test_a_long_loop_building_lists_keeps_memory_flat():
    from objects_support import live_objects
    m = api.compile("""
fn churn(n: int32) -> int32 {
    let keep = 0
    for i in 0..n {
        let xs = [i, i + 1]
        xs.append(i)
        let nested = [xs, [i]]
        keep = keep + length(nested[0]) - 3
    }
    return keep
}
""")
    before = live_objects()
    assert m.churn(100_000) == 0
    assert live_objects() == before
    np.testing.assert_equal(m.churn(3), 0)


def test_for_loops_over_tensors_walk_the_first_axis(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
let t = tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
let sums: [float32, ...] = []
for row in t {
    sums.append(sum(row))
}
let total = 0
for v in tensor([1, 2, 3]) {
    if v == 2 { continue }
    total += v
}
print(sums, total)
""")
    assert out == "[3.0, 7.0, 11.0] 4\n"


def test_enumerate_and_zip_as_values_are_lists_of_tuples(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
let xs = ["a", "b", "c"]
let z = zip([1, 2, 3, 4], xs)
print(enumerate(xs), z, length(z))
for (i, p) in enumerate(z) {
    print(i, p)
}
""")
    assert out == ("[(0, 'a'), (1, 'b'), (2, 'c')] [(1, 'a'), (2, 'b'), (3, 'c')] 3\n"
                   "0 (1, 'a')\n1 (2, 'b')\n2 (3, 'c')\n")


def test_a_list_of_one_rank_passed_as_any_rank_is_a_shallow_copy(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
fn add_one(xs: [Tensor<float32, ?>, ...]) -> int32 {
    xs.append(ones([2, 2]))    # a rank-2 tensor: it must not land in the caller's list of vectors
    return length(xs)
}
let mine: [Tensor<float32, [?]>, ...] = [ones([3])]
print(add_one(mine), length(mine), mine[0])
""")
    assert out == "2 1 [1. 1. 1.]\n"
