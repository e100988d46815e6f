"""The stdlib from Python (`triton_dsl.stdlib.<name>`), and that the stdlib is DSL source only.

In: numpy arrays, strings and numbers passed to `triton_dsl.stdlib` functions; the package's Python
sources. Out: the same results as the DSL tests' references; no Python file of the package implements a
library function of blocks 01-20 (the stdlib is `stdlib/*.triton`, compiled by the pipeline).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import ref_threshold

import triton_dsl

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ("threshold_quantize", "adaptive_threshold_quantize", "stochastic_quantize", "learned_quantize",
           "xnor_quantize", "ternary_quantize", "dequantize", "affine_dequantize", "quantized_linear",
           "quantized_conv2d", "quantized_matmul", "bitlinear", "percentile_value",
           "compute_threshold_for_sparsity")


def test_stdlib_calls_from_python():
    s = triton_dsl.stdlib
    x = np.random.default_rng(1).standard_normal((9, 7)).astype(np.float32)
    q = s.threshold_quantize(x, threshold=0.3)
    assert isinstance(q, triton_dsl.TernaryTensor) and np.array_equal(q.to_numpy(), ref_threshold(x, 0.3))
    twn = s.ternary_quantize(x, method="twn")
    assert twn.scale_kind == "tensor" and twn.scales[0] > 0
    assert s.count_trits(q) == tuple(int((q.to_numpy() == v).sum()) for v in (-1, 0, 1))
    assert s.percentile_value(x, 0.25) == pytest.approx(float(np.quantile(x, 0.25)), rel=1e-6)
    signs, alpha = s.xnor_quantize(x)
    assert alpha == pytest.approx(float(np.abs(x).mean()), rel=1e-6)
    w = np.random.default_rng(2).standard_normal((7, 4)).astype(np.float32)
    np.testing.assert_allclose(s.quantized_linear(x, w, quantize_weights=False), x @ w, rtol=1e-5, atol=1e-5)
    with pytest.raises(triton_dsl.TritonRuntimeError, match="unknown method 'bogus'"):
        s.ternary_quantize(x, method="bogus")


def test_the_library_is_dsl_source_not_python():
    # module-level Python functions named like a library function: only the kernels' numpy-level API
    # (runtime/matmul_api.bitlinear, the int8 kernel's own entry point, which the stdlib does not use)
    pattern = re.compile(r"^def ({})\(".format("|".join(LIBRARY)), re.M)
    found = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "triton_dsl").rglob("*.py")
                   if pattern.search(p.read_text(encoding="utf-8")))
    assert found == ["triton_dsl/runtime/matmul_api.py"]
    assert "matmul_api" not in (ROOT / "triton_dsl" / "stdlib.py").read_text(encoding="utf-8")
    stdlib = ROOT / "stdlib"
    assert {p.suffix for p in stdlib.iterdir() if p.is_file()} == {".triton"}
    text = "\n".join(p.read_text(encoding="utf-8") for p in stdlib.glob("*.triton"))
    for name in LIBRARY:
        assert re.search(rf"^fn {name}(<S>)?\(", text, re.M), name
