"""Structs as run-time values: construction (keywords, positions, defaults), fields of every kind, methods
with `self`, field assignment seen through every reference, printing, structs in and out of functions,
and the seed's custom quantizer blocks 30-32 run as written and with their methods called (pinned output).
Every program also frees every object it built (`objects_support.run_program`)."""

from __future__ import annotations

from pathlib import Path

from objects_support import live_objects, run_program

from triton_dsl import api
from triton_dsl.ir.printer import print_module

SEED = Path(__file__).resolve().parents[1] / "conformance" / "seed"

COUNTER = """
struct Inner {
    tag: str
    values: [int32, ...]
}
struct Counter {
    name: str
    count: int32 = 0
    weights: Tensor<float32, [?]>
    inner: Inner? = None
    scale: float32 = 1.5
    fn bump(self, by: int32) -> int32 {
        self.count = self.count + by
        return self.count
    }
    fn total(self) -> float32 {
        return sum(self.weights) * self.scale
    }
}
"""


def test_keywords_defaults_methods_and_shared_references(tritonc, tmp_path):
    code, out, err = run_program(tritonc, tmp_path, COUNTER + """
let c = Counter(name="a", weights=ones([3]))
let d = c                      # the same object
d.bump(2)
c.count += 5
print(c.count, d.count, d.name, c.total())
print(c)
""")
    assert (code, err) == (0, "")
    assert out == "7 7 a 4.5\nCounter(name='a', count=7, weights=[1. 1. 1.], inner=None, scale=1.5)\n"


def test_positional_construction_nested_structs_and_optional_fields(tritonc, tmp_path):
    code, out, err = run_program(tritonc, tmp_path, COUNTER + """
let inner = Inner("t", [1, 2])
let c = Counter("b", 0, zeros([2]), inner)
inner.values.append(3)         # seen through c.inner: a reference
if c.inner != None {
    print(c.inner)
}
c.inner = None
print(c.inner, inner.values)
""")
    assert (code, err) == (0, "")
    assert out == "Inner(tag='t', values=[1, 2, 3])\nNone [1, 2, 3]\n"


def test_fields_of_every_kind(tritonc, tmp_path):
    code, out, err = run_program(tritonc, tmp_path, """
struct Layer {
    w: TernaryTensor<trit, [?, ?]>
    b: Tensor<float32, [?]>
    name: str
    shape: (int32, int32)
    flags: [bool, ...]
    gain: float64 = 0.25
}
struct Model {
    layers: [Layer, ...]
    label: str? = None
}
fn forward(m: Model, x: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]> {
    let y = x
    for layer in m.layers {
        y = y @ layer.w + layer.b
    }
    return y
}
let w = ternarize(tensor([[1.0, -1.0], [0.0, 2.0]]), 0.5, -0.5)
let l1 = Layer(w=w, b=tensor([0.5, 0.5]), name="first", shape=(2, 2), flags=[true, false])
let m = Model(layers=[l1, l1])
m.layers[1].name = "second"    # the same Layer twice: both names change
print(forward(m, tensor([[1.0, 2.0]])))
print(m.layers[0].name, l1.shape, l1.flags, l1.gain, m.label)
""")
    assert (code, err) == (0, "")
    assert out == "[[2.  0.5]]\nsecond (2, 2) [true, false] 0.25 None\n"


def test_structs_pass_through_functions_and_loops(tritonc, tmp_path):
    code, out, err = run_program(tritonc, tmp_path, """
struct Acc {
    n: int32
    seen: [str, ...]
}
fn make(n: int32) -> Acc {
    return Acc(n=n, seen=[])
}
fn feed(a: Acc, word: str) {
    a.seen.append(word)
    a.n = a.n + length(word)
}
let a = make(0)
for w in ["ab", "cde", "f"] {
    feed(a, w)
}
let i = 0
while i < 3 {
    a = make(a.n + i)          # the old Acc is freed here
    i += 1
}
print(a.n, a.seen)
""")
    assert (code, err) == (0, "")
    assert out == "9 []\n"


def test_a_method_call_on_a_known_struct_is_a_direct_call():
    module = api.compile(COUNTER + "fn go(c: Counter) -> int32 {\n    return c.bump(1)\n}\n")
    text = print_module(module._ir)
    go = text[text.index("func @go("):]
    go = go[:go.index("\n}\n")]
    assert "call @Counter.bump %c" in go  # the method's own function, no dispatch, no boxing
    assert "call_trait" not in go and "retain" not in go


def test_struct_results_and_errors_inside_methods_free_everything(tritonc, tmp_path):
    code, out, err = run_program(tritonc, tmp_path, COUNTER + """
struct Outer {
    inner: Inner
}
fn fail(o: Outer) -> int32 {
    let keep = Inner(tag="x", values=[1])
    return o.inner.values[5]
}
let o = Outer(inner=Inner(tag="y", values=[1, 2]))
print(fail(o))
""")
    assert code == 1 and out == ""
    assert "prog.triton:" in err and "list index 5 is out of range for a list of length 2" in err


def test_seed_blocks_30_to_32_run_as_written(tritonc):
    for block in ("30_example_percentile_quantizer", "31_example_layer_wise_adaptive_quantizer",
                  "32_example_mixed_precision_quantizer"):
        before = live_objects()
        assert tritonc("run", str(SEED / f"{block}.triton")) == (0, "", ""), block
        assert live_objects() == before


def _seed_with(tmp_path: Path, block: str, usage: str) -> Path:
    path = tmp_path / f"{block}.triton"
    path.write_text((SEED / f"{block}.triton").read_text() + usage)
    return path


def test_seed_block_30_percentile_quantizer_methods(tritonc, tmp_path):
    path = _seed_with(tmp_path, "30_example_percentile_quantizer", """
seed(0)
let w2 = randn([4, 6])
let q = quantizer.quantize(w2)
print(sum(trits(q) == 0), quantizer.parameters())
print(quantizer.dequantize(q).shape)
print(quantizer)
""")
    assert tritonc("run", str(path)) == (0, "17 [0.7]\n[4, 6]\nPercentileQuantizer(percentile=0.7)\n", "")


def test_seed_block_31_layer_wise_quantizer_methods(tritonc, tmp_path):
    path = _seed_with(tmp_path, "31_example_layer_wise_adaptive_quantizer", """
let lq = LayerAdaptiveQuantizer(pos_threshold=tensor([0.5, 0.2]), neg_threshold=tensor([-0.5, -0.2]),
                                scales=tensor([1.0, 2.0]))
let w = tensor([[0.05, -0.3, 0.2], [-0.05, 0.4, 0.0]])
let q = lq.quantize(w, 1)
print(trits(q))
print(lq.dequantize(q, 1))
print(length(lq.parameters()))
""")
    # layer 1: x * 2.0 against the thresholds 0.2 / -0.2
    assert tritonc("run", str(path)) == (0, "[[ 0 -1  1]\n [ 0  1  0]]\n[[ 0. -2.  2.]\n [ 0.  2.  0.]]\n3\n",
                                         "")


def test_seed_block_32_mixed_precision_quantizer_methods_and_panic(tritonc, tmp_path):
    path = _seed_with(tmp_path, "32_example_mixed_precision_quantizer", """
let mq = MixedPrecisionQuantizer(layer_modes=["binary", "ternary", "int4"])
let w = tensor([[0.9, -0.1, 0.0], [-2.0, 0.3, 0.6]])
print(trits(mq.quantize(w, 0)))
print(trits(mq.quantize(w, 1)))
print(trits(mq.quantize(w, 2)))
""")
    code, out, err = tritonc("run", str(path))
    assert code == 1
    assert out == "[[ 1 -1  0]\n [-1  1  1]]\n[[ 1  0  0]\n [-1  0  1]]\n"
    assert f"{path}:17:13: runtime error: Unknown mode: int4" in err
    assert f"{path}:26:13: note: called from here" in err
