"""Optionals and unions with objects: `T?` of structs, lists, strings, tensors and scalars (None, in fields
and variables), narrowing with `!= None` and `== None { return }`, `x is T` on a union parameter of
structs (one instance per member; the code after `if x is A { return }` is that instance's dead code),
optional fields through the Python API; union values held at run time (a `[int32 | str, ...]` element, a
union field, a union-typed variable) tested with `is`."""

from __future__ import annotations

from objects_support import run_program

from triton_dsl import api


def run_ok(tritonc, tmp_path, source: str) -> str:
    code, out, err = run_program(tritonc, tmp_path, source)
    assert (code, err) == (0, ""), err
    return out


def test_optional_objects_and_narrowing(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
struct Node {
    value: int32
    next: Node? = None
    label: str? = None
    scale: float32? = None
}
fn length_of(n: Node?) -> int32 {
    if n == None {
        return 0
    }
    return 1 + length_of(n.next)
}
fn describe(n: Node) -> str {
    let label = n.label
    if label != None {
        return f"{n.value}:{label}"
    }
    return f"{n.value}"
}
let tail = Node(value=3, label="end")
let head = Node(value=1, next=Node(value=2, next=tail), scale=0.5)
print(length_of(head), length_of(None), describe(head), describe(tail))
let o: Node? = None
print(o)
o = tail
if o != None {
    print(o.value, o.scale)
}
let xs: [int32, ...]? = None
xs = [1]
print(xs, head.scale)
""")
    assert out == "3 0 1 3:end\nNone\n3 None\n[1] 0.5\n"


def test_is_narrows_a_union_parameter_of_structs(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
struct A {
    v: int32
}
struct B {
    w: str
}
fn show(x: A | B) -> str {
    if x is A {
        return f"A {x.v}"
    }
    return f"B {x.w}"
}
print(show(A(v=1)), show(B(w="z")))
""")
    assert out == "A 1 B z\n"


def test_optional_fields_through_the_api():
    m = api.compile("""
struct Cfg {
    name: str? = None
    limit: int32? = None
}
fn make(flag: bool) -> Cfg {
    if flag { return Cfg(name="on", limit=3) }
    return Cfg()
}
fn limit_or(c: Cfg, d: int32) -> int32 {
    let l = c.limit
    if l != None { return l }
    return d
}
""")
    on, off = m.make(True), m.make(False)
    assert (on.name, on.limit, off.name, off.limit) == ("on", 3, None, None)
    assert m.limit_or(on, 9) == 3 and m.limit_or(m.Cfg(), 9) == 9 and m.limit_or(m.Cfg(limit=4), 0) == 4


def test_union_values_at_run_time(tritonc, tmp_path):
    out = run_ok(tritonc, tmp_path, """
struct A {
    v: int32
}
struct Tagged {
    value: A | str | Tensor<float32, [?]>
}
let xs: [int32 | str, ...] = [1, "a", 3]
let total = 0
for x in xs {
    if x is int32 {
        total += x
    } else {
        print(f"text {x}")
    }
}
let v: int32 | str = 2
v = "now a string"
if v is str {
    print(length(v))
}
let items = [Tagged(value=A(v=7)), Tagged(value="s"), Tagged(value=ones([2]))]
items[1].value = A(v=8)
print(total, xs, items[0], items[1].value, items[2])
""")
    assert out == "text a\n12\n4 [1, 'a', 3] Tagged(value=A(v=7)) A(v=8) Tagged(value=[1. 1.])\n"


def test_union_fields_come_back_to_python():
    m = api.compile("""
struct Tagged {
    value: int32 | str
}
fn make(flag: bool) -> Tagged {
    if flag { return Tagged(value=5) }
    return Tagged(value="five")
}
""")
    assert m.make(True).value == 5 and m.make(False).value == "five"
