"""Function values: closures `fn(x) {...}` / `fn(x: T) -> U {...}` capturing variables by reference (as in
Python: a later assignment is seen by the closure and the closure's assignments by the function), passed to
and returned from functions, stored in lists and struct fields, parameter types inferred from the expected
function type; named functions as values; the hook value of seed block 38. Every program frees what it
built (environments and cells are objects too)."""

from __future__ import annotations

from objects_support import live_objects, run_program

from triton_dsl import api


def run_ok(tritonc, tmp_path, source: str) -> str:
    code, out, err = run_program(tritonc, tmp_path, source)
    assert (code, err) == (0, ""), err
    return out


def test_capture_by_reference(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
let count = 0
let inc = fn() { count = count + 1 }
inc()
inc()
let k = 1.0
let scale = fn(x: float32) -> float32 { return x * k }
k = 3.0                        # seen by the closure
print(count, scale(2.0))
fn counter() -> fn() -> int32 {
    let n = 0
    return fn() -> int32 {
        n += 1
        return n
    }
}
let c1 = counter()
let c2 = counter()             # its own `n`
print(c1(), c1(), c2(), c1())
""")
    assert out == "2 6.0\n1 2 1 3\n"


def test_closures_passed_returned_and_stored(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
fn apply(f: fn(float32) -> float32, x: float32) -> float32 { return f(x) }
fn make_adder(k: float32) -> fn(float32) -> float32 {
    return fn(y: float32) -> float32 { return y + k }
}
fn double(x: float32) -> float32 { return x * 2.0 }
struct Holder {
    f: fn(int32) -> int32
    label: str
}
let add2 = make_adder(2.0)
let named = double
let fs: [fn(float32) -> float32, ...] = [add2, named, fn(x: float32) -> float32 { return x * 10.0 }]
for f in fs {
    print(f(1.0), apply(f, 2.0))
}
print(apply(double, 1.0), apply(fn(y) { return y - 1.0 }, 1.0))   # `y` typed by `apply`
let h = Holder(f=fn(x) { return x * 3 }, label="triple")
print(h.f(2), h.label)
""")
    assert out == "3.0 4.0\n2.0 4.0\n10.0 20.0\n2.0 0.0\n6 triple\n"


def test_nested_closures_and_captured_objects(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
struct Box {
    items: [str, ...]
}
let b = Box(items=[])
let log = fn(s: str) { b.items.append(s) }
let twice = fn(s: str) {
    let again = fn() { log(s + "!") }
    again()
    again()
}
twice("a")
log("b")
print(b.items)
""")
    assert out == "['a!', 'a!', 'b']\n"


def test_seed_block_38_hook_value(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
let hook: fn(Tensor<float32, [?, ?]>) = fn(grad) {
    print(f"Gradient mean: {mean(grad)}")
    print(f"Gradient std: {std(grad)}")
    print(f"Fraction zero: {sum(grad == 0) / grad.numel()}")

    # Warn if too many gradients are zero
    if sum(grad == 0) / grad.numel() > 0.5 {
        print("WARNING: >50% of gradients are zero")
    }
}
hook(tensor([[0.0, 0.0], [0.0, 2.0]]))
""")
    assert out == ("Gradient mean: 0.5\nGradient std: 0.8660254\nFraction zero: 0.75\n"
                   "WARNING: >50% of gradients are zero\n")


def test_errors_inside_closures_name_the_line(tritonc, tmp_path):
    code, out, err = run_program(tritonc, tmp_path, """
let xs = [1, 2]
let get = fn(i: int32) -> int32 { return xs[i] }
print(get(1))
print(get(9))
""")
    assert code == 1 and out == "2\n"
    assert "prog.triton:3:42: runtime error: list index 9 is out of range for a list of length 2" in err
    assert "prog.triton:5:7: note: called from here" in err


def test_closures_in_a_long_loop_free_their_environments():
    m = api.compile("""
fn churn(n: int32) -> int32 {
    let total = 0
    for i in 0..n {
        let xs = [i]
        let f = fn(d: int32) -> int32 { return xs[0] + d }
        let g = fn() { total = total + 1 }
        g()
        total = total + f(0) - i
    }
    return total
}
""")
    before = live_objects()
    assert m.churn(100_000) == 100_000
    assert live_objects() == before


def test_a_loop_variable_is_new_in_every_iteration(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
let fs: [fn() -> int32, ...] = []
for i in 0..3 {
    fs.append(fn() -> int32 { return i * 10 })
}
let total = 0
for f in fs {
    total += f()
}
print(fs[0](), fs[2](), total)
""")
    assert out == "0 20 30\n"
