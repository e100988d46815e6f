"""The example programs run under `tritonc run` and print what they promise.

In: examples/*.triton. Out: exit code 0 and the lines each example is about (trit distribution, errors,
compression ratio); the numbers that follow from the seeded data and the packed format are pinned.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from triton_dsl.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(name: str, capsys) -> str:
    assert main(["run", str(EXAMPLES / name)]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def test_quickstart(capsys):
    out = run_example("quickstart.triton", capsys)
    assert "trits:" in out and "mean squared error" in out and "layer output error" in out
    assert "storage: 96 bytes as float32, 10 bytes packed ternary" in out


def test_quantization_methods(capsys):
    out = run_example("quantization_methods.triton", capsys)
    for name in ("threshold_quantize(w)", "stochastic_quantize(w, temperature=0.1)", "learned_quantize",
                 "xnor_quantize(w)", 'ternary_quantize(w, method="twn")', "target_sparsity=0.3"):
        assert name in out
    assert out.count("compression 16.0x") == 11  # 256 x 128: 2 bits per weight, no padding
    assert "0:  30.0%" in out  # the target sparsity is met exactly on this data


def test_dequantization(capsys):
    out = run_example("dequantization.triton", capsys)
    assert "bytes: float32 8192, packed trits 512 (+ 4 for the scale)" in out
    assert "[[ 2.  0. -2.  0.]\n [ 0.  2. -2.  0.]]" in out
    assert "affine, per-row scales" in out and "as float16" in out


def test_quantization_aware_ops(capsys):
    out = run_example("quantization_aware_ops.triton", capsys)
    assert "bytes: float32 401408, packed 25088 (16.0x smaller)" in out
    assert "quantized_linear, float (no quant.)  : mean |error| 0.0000   relative rms error 0.00%" in out
    # the pre-quantized weights and x @ q are the same TWN product as quantize_weights=true
    lines = {line.split(":")[0].strip(): line.split(":", 1)[1] for line in out.splitlines() if ":" in line}
    assert lines["quantized_linear, TWN weights"] == lines["quantized_linear, pre-quantized"]
    assert lines["quantized_linear, TWN weights"] == lines["x @ q (the packed kernel directly)"]
    assert "-> 16 x 16 maps" in out


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.triton")))
def test_every_example_checks(name, tritonc):
    code, out, err = tritonc("check", str(EXAMPLES / name))
    assert code == 0, err


def test_custom_quantizers(capsys):
    out = run_example("custom_quantizers.triton", capsys)
    # the seed's quantizers through a [Quantizer, ...] on a real trained MLP (scikit-learn, 8x8 digits):
    # the percentile is met exactly, and the ternarized network keeps most of the float accuracy
    assert out.startswith("float32: test accuracy 0.975 on 360 images\n")
    assert out.count("percentile 0.5: 1 learnable parameter(s)") == 1 and "twn: 0 learnable" in out
    assert out.count("zeros  50.0%") == 2 and out.count("zeros  70.0%") == 2
    assert "fc1 64x128   zeros  45.0%  error    44.9%  at best scale  44.9%  output  36.2%" in out
    accuracies = [float(line.split()[-1]) for line in out.splitlines() if "ternary test accuracy" in line]
    assert accuracies == [0.931, 0.894, 0.944, 0.933]
    assert "layer-wise adaptive: 3 parameter tensors" in out
    assert "mixed precision ['binary', 'ternary']:" in out
    assert "fc1 64x128    binary: 2048 bytes packed, 16.0x smaller than float32" in out
    assert out.endswith("fc2 128x10   ternary: 384 bytes packed, 13.3x smaller than float32\n")


def test_digits_mlp_data_is_what_its_script_says():
    """examples/data/digits_mlp.safetensors (written by examples/make_digits_mlp.py): the MLP's layers and
    the test split, and the float network is 97.5 % accurate on it (numpy float64 here)."""
    from safetensors.numpy import load_file

    t = load_file(str(EXAMPLES / "data" / "digits_mlp.safetensors"))
    shapes = {k: v.shape for k, v in t.items()}
    assert shapes == {"fc1.weight": (64, 128), "fc1.bias": (128,), "fc2.weight": (128, 10), "fc2.bias": (10,),
                      "x_test": (360, 64), "y_test": (360,)}
    assert t["x_test"].min() >= 0.0 and t["x_test"].max() <= 1.0 and set(t["y_test"]) == set(range(10))
    h = np.maximum(t["x_test"].astype(np.float64) @ t["fc1.weight"] + t["fc1.bias"], 0.0)
    logits = h @ t["fc2.weight"] + t["fc2.bias"]
    assert np.mean(logits.argmax(1) == t["y_test"]) == 0.975
