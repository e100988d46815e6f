"""Traits: a function taking a trait accepts every struct with its methods (a compile error names a
missing method); dynamic dispatch where the concrete struct is not known statically — the seed's
`Quantizer` trait (block 29) over a `[Quantizer, ...]` holding different structs (block 30's
PercentileQuantizer and another), iterated and called; trait objects in fields and printed. A call through
a trait is one indirect call (`call_trait`); a call on a known struct stays a direct call."""

from __future__ import annotations

from pathlib import Path

import pytest
from objects_support import run_program

from triton_dsl import api
from triton_dsl.diagnostics import CompileError
from triton_dsl.ir.printer import print_module

SEED = Path(__file__).resolve().parents[1] / "conformance" / "seed"


def quantizers_program() -> str:
    trait = (SEED / "29_custom_quantizer_interface.triton").read_text()
    struct = (SEED / "30_example_percentile_quantizer.triton").read_text().split("# Usage")[0]
    return trait + struct + """
struct SignQuantizer {
    scale: float32 = 0.5
    fn quantize(self, x: Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]> {
        return sign(x)
    }
    fn dequantize(self, x: TernaryTensor<trit, [?, ?]>) -> Tensor<float32, [?, ?]> {
        return dequantize(x, scale=self.scale)
    }
    fn parameters(self) -> [Tensor<float32, ?>, ...] {
        return []
    }
}
fn roundtrip(q: Quantizer, w: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]> {
    return q.dequantize(q.quantize(w))
}
"""


def test_a_list_of_quantizers_dispatches_dynamically(tritonc, tmp_path):
    code, out, err = run_program(tritonc, tmp_path, quantizers_program() + """
let quantizers: [Quantizer, ...] = [PercentileQuantizer(percentile=tensor([0.5])), SignQuantizer()]
let w = tensor([[0.1, -0.9, 0.4], [-0.2, 0.0, 0.7]])
for q in quantizers {
    print(roundtrip(q, w))
    print(length(q.parameters()), q)
}
""")
    assert (code, err) == (0, "")
    # percentile 0.5 of |w| is 0.3: only |x| > 0.3 survive (scale 1); the sign quantizer keeps every
    # non-zero entry at 0.5
    assert out == ("[[ 0. -1.  1.]\n [ 0.  0.  1.]]\n1 PercentileQuantizer(percentile=0.5)\n"
                   "[[ 0.5 -0.5  0.5]\n [-0.5  0.   0.5]]\n0 SignQuantizer(scale=0.5)\n")


def test_trait_objects_in_fields_and_parameters(tritonc, tmp_path):
    code, out, err = run_program(tritonc, tmp_path, quantizers_program() + """
struct Layer {
    weights: Tensor<float32, [?, ?]>
    quantizer: Quantizer
}
let layers = [Layer(weights=ones([1, 2]), quantizer=SignQuantizer(scale=2.0)),
              Layer(weights=ones([1, 2]) * -1.0, quantizer=PercentileQuantizer(percentile=tensor([0.0])))]
let s = SignQuantizer()
layers[1].quantizer = s        # a struct assigned to a trait-typed field
s.scale = 3.0                  # ...is still the same object
for layer in layers {
    print(roundtrip(layer.quantizer, layer.weights))
}
""")
    assert (code, err) == (0, "")
    assert out == "[[2. 2.]]\n[[-3. -3.]]\n"


def test_a_struct_missing_a_method_is_a_compile_error_naming_it(tmp_path):
    src = quantizers_program() + """
struct Half {
    fn quantize(self, x: Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]> {
        return sign(x)
    }
}
print(roundtrip(Half(), ones([1, 1])))
"""
    with pytest.raises(CompileError) as info:
        api.compile(src, name="traits.triton")
    d = info.value.diagnostics[0]
    line = src.count("\n", 0, src.index("print(roundtrip(Half()")) + 1
    assert (d.code, d.line, d.col) == ("E0501", line, 17)
    text = d.render()
    assert "`Half` has no method `dequantize`, `parameters` required by the trait `Quantizer`" in text


def test_dispatch_is_one_indirect_call_and_known_structs_are_direct():
    module = api.compile(quantizers_program() + """
fn direct(q: SignQuantizer, w: Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]> {
    return q.quantize(w)
}
""")
    text = print_module(module._ir)
    roundtrip = text[text.index("func @roundtrip("):]
    roundtrip = roundtrip[:roundtrip.index("\n}\n")]
    assert roundtrip.count("call_trait") == 2 and "call @" not in roundtrip
    direct = text[text.index("func @direct("):]
    direct = direct[:direct.index("\n}\n")]
    assert "call @SignQuantizer.quantize" in direct and "call_trait" not in direct


def test_a_trait_default_body_serves_structs_without_the_method(tritonc, tmp_path):
    code, out, err = run_program(tritonc, tmp_path, """
trait Named {
    fn name(self) -> str
    fn greet(self, punct: str) -> str { return "hello " + self.name() + punct }
}
struct P {
    n: str
    fn name(self) -> str { return self.n }
}
struct Q {
    fn name(self) -> str { return "q" }
    fn greet(self, punct: str) -> str { return "hi" + punct }
}
let xs: [Named, ...] = [P(n="x"), Q()]
for x in xs {
    print(x.greet("!"))
}
""")
    assert (code, err) == (0, "")
    assert out == "hello x!\nhi!\n"
