"""Structs, lists and strings at the Python API: struct results come back as objects with attributes (of
the module's struct class), lists as Python lists (of numpy arrays, numbers, strings, structs), tuples
holding them too; Python lists of arrays and strings fill `[T, ...]` parameters; `module.S(...)` builds a
struct value (keywords, positions, literal defaults) to pass in. Wrong values raise TypeError naming the
argument; nothing leaks (`trt_obj_live`)."""

from __future__ import annotations

import numpy as np
import pytest
from objects_support import live_objects

from triton_dsl import api

SOURCE = """
struct PQ {
    percentile: Tensor<float32, []>
    name: str = "pq"
    tags: [str, ...] = []
    fn describe(self) -> str { return f"{self.name}@{self.percentile}" }
}
struct Net {
    layers: [Tensor<float32, [?, ?]>, ...]
    q: PQ
}
fn make(p: float32) -> PQ { return PQ(percentile=tensor([p]), tags=["a"]) }
fn describe(q: PQ) -> str { return q.describe() }
fn tagged(q: PQ, tag: str) -> PQ {
    q.tags.append(tag)
    return q
}
fn lens(xs: [str, ...]) -> [int32, ...] {
    let out: [int32, ...] = []
    for x in xs { out.append(length(x)) }
    return out
}
fn total(ts: [Tensor<float32, [?]>, ...]) -> Tensor<float32, [?]> { return concat(ts) }
fn splits(x: Tensor<float32, [n]>) -> [Tensor<float32, [?]>, ...] { return [x[0:1], x[1:]] }
fn pair() -> (int32, [str, ...]) { return (3, ["u", "v"]) }
fn forward(net: Net, x: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]> {
    let y = x
    for w in net.layers { y = y @ w }
    return y
}
fn build(w: Tensor<float32, [?, ?]>) -> Net { return Net(layers=[w, w], q=make(0.5)) }
"""


@pytest.fixture(scope="module")
def m():
    return api.compile(SOURCE, name="objects_api.triton")


def test_struct_results_are_objects_with_attributes(m):
    before = live_objects()
    q = m.make(0.25)
    assert isinstance(q, m.PQ) and q.percentile == np.float32(0.25) and q.name == "pq" and q.tags == ["a"]
    assert repr(q) == "PQ(percentile=np.float32(0.25), name='pq', tags=['a'])"
    net = m.build(np.eye(2, dtype=np.float32))
    assert len(net.layers) == 2 and isinstance(net.q, m.PQ)
    np.testing.assert_array_equal(net.layers[1], np.eye(2))
    assert live_objects() == before


def test_struct_values_built_in_python_pass_in(m):
    before = live_objects()
    assert m.describe(m.PQ(percentile=np.float32(0.5))) == "pq@0.5"
    assert m.describe(m.PQ(np.float32(0.5), "mine")) == "mine@0.5"
    q = m.tagged(m.PQ(0.1, "n", ["t"]), "x")
    assert q.tags == ["t", "x"]
    w = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    net = m.Net(layers=[w, w], q=q)
    np.testing.assert_allclose(m.forward(net, np.eye(2, dtype=np.float32)), w @ w)
    assert live_objects() == before


def test_lists_in_and_out(m):
    before = live_objects()
    assert m.lens(["ab", "héé", ""]) == [2, 3, 0]
    np.testing.assert_array_equal(m.total([np.ones(2, np.float32), np.zeros(1, np.float32)]), [1, 1, 0])
    parts = m.splits(np.arange(3, dtype=np.float32))
    assert [p.tolist() for p in parts] == [[0.0], [1.0, 2.0]]
    assert m.pair() == (3, ["u", "v"])
    assert live_objects() == before


@pytest.mark.parametrize("call,message", [
    (lambda m: m.lens([1]), "lens(): argument 'xs' must hold str values, not int"),
    (lambda m: m.lens("ab"), "lens(): argument 'xs' must be a list, not str"),
    (lambda m: m.describe(3), "describe(): argument 'q' must be a PQ (module.PQ(...)), not int"),
    (lambda m: m.PQ(), "PQ(): field 'percentile' is missing"),
    (lambda m: m.PQ(1, 2, 3, 4), "PQ() takes 3 fields but 4 were given"),
    (lambda m: m.total([np.ones((2, 2), np.float32)]), "expected 1 dimension(s), got shape [2, 2]"),
])
def test_wrong_values_raise_naming_the_argument(m, call, message):
    before = live_objects()
    with pytest.raises((TypeError, ValueError)) as info:
        call(m)
    assert message in str(info.value)
    assert live_objects() == before


def test_structs_built_in_python_pass_as_trait_objects():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).parent))
    from test_traits import quantizers_program

    m = api.compile(quantizers_program() + "struct Plain {\n    x: int32\n}\n", name="traits_api.triton")
    w = np.array([[0.1, -0.9, 0.4], [-0.2, 0.0, 0.7]], np.float32)
    before = live_objects()
    # each struct goes with its own method table: one function, two implementations
    np.testing.assert_array_equal(m.roundtrip(m.PercentileQuantizer(percentile=np.float32(0.5)), w),
                                  [[0, -1, 1], [0, 0, 1]])
    np.testing.assert_array_equal(m.roundtrip(m.SignQuantizer(), w), np.sign(w) * 0.5)
    with pytest.raises(TypeError, match="`Plain` does not have the methods of the trait `Quantizer`"):
        m.roundtrip(m.Plain(x=1), w)
    with pytest.raises(TypeError, match="must be a struct with the methods of `Quantizer`, not int"):
        m.roundtrip(3, w)
    assert live_objects() == before


def test_a_trait_object_in_a_tuple_result_comes_back_as_its_struct():
    """A trait object takes two result slots: the struct (a copy, as struct results are) and the int after
    it both come back right (the int was written over the method table before)."""
    m = api.compile("""
trait Shape {
    fn area(self) -> float32
}
struct Sq {
    s: float32
    fn area(self) -> float32 { return self.s * self.s }
}
struct Circle {
    r: float32
    fn area(self) -> float32 { return 3.0 * self.r * self.r }
}
fn pick(big: bool) -> (Shape, int32, Shape) {
    let a: Shape = Sq(s=2.0)
    let b: Shape = Circle(r=1.0)
    if big {
        return (b, 7, a)
    }
    return (a, 8, b)
}
""", name="trait_tuple.triton")
    before = live_objects()
    first, n, last = m.pick(True)
    assert (type(first).__name__, first.r, n, type(last).__name__, last.s) == ("Circle", 1.0, 7, "Sq", 2.0)
    first, n, last = m.pick(False)
    assert (first.s, n, last.r) == (2.0, 8, 1.0)
    del first, last
    assert live_objects() == before
