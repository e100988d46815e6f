"""The example programs run under `tritonc run` and print what they promise.

In: examples/*.triton. Out: exit code 0 and the lines each example is about (trit distribution, errors,
compression ratio); the numbers that follow from the seeded data and the packed format are pinned.
"""

from __future__ import annotations

from pathlib import Path

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


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.triton")))
def test_every_example_checks(name, tritonc):
    code, out, err = tritonc("check", str(EXAMPLES / name))
    assert code == 0, err
