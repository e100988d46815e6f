"""Every ternary-producing expression (`sign`, `threshold_quantize`, `ternary_quantize`, `trit(...)`,
`ternarize`) is a real TernaryTensor in every context: a let with a declared type, an argument, a return
value (a `TernaryTensor` object in Python), print, comparison, float arithmetic and `@`. numpy references.
"""

from __future__ import annotations

import numpy as np
import pytest

import triton_dsl
from triton_dsl import api


def _trits(x: np.ndarray) -> np.ndarray:
    return np.where(x > 0.5, 1, np.where(x < -0.5, -1, 0))


# -- every ternary-producing expression in every context ----------------------------------------------

# (expression of the float matrix `x` (and int matrix `k`), trits, value) — numpy references
PRODUCERS = {
    "sign": ("sign(x)", lambda x, k: np.sign(x), 1.0),
    "threshold": ("threshold_quantize(x, 0.5, 2.0)", lambda x, k: np.where(
        x > 1.0, 1, np.where(x < -1.0, -1, 0)), 2.0),
    "ternary_quantize": ("ternary_quantize(x)", lambda x, k: _trits(x), 1.0),
    "trit_cast": ("trit(k)", lambda x, k: k, 1.0),
    "ternarize": ("ternarize(x, 0.5, -0.5, 1.5, 1.5)", lambda x, k: _trits(x), 1.5),
}
CONTEXTS = {
    # body using `q`; reference from (trits, value, x)
    "let": ("let q2: TernaryTensor<trit, [?, ?]> = Q\n    return q2 * 1.0", lambda t, v, x: v),
    "argument": ("return take(Q)", lambda t, v, x: v * 2.0),
    "compare": ("let q = Q\n    return float32(q == -1) + float32(0 < q) * 10.0",
                lambda t, v, x: (t == -1) + (t > 0) * 10.0),
    "arith": ("return Q * 0.5 + x", lambda t, v, x: v * 0.5 + x),
    "matmul": ("return transpose(x) @ Q", lambda t, v, x: x.T @ v),
}
HELPERS = """
fn take(q: TernaryTensor<trit, [?, ?]>) -> Tensor<float32, [?, ?]> { return q * 2.0 }
"""


def _fuzz_source() -> str:
    parts = [HELPERS]
    for pname, (expr, _, _) in PRODUCERS.items():
        parts.append(f"fn ret_{pname}(x: Tensor<float32, [r, c]>, k: Tensor<int32, [r, c]>)"
                     f" -> TernaryTensor<trit, [r, c]> {{ return {expr} }}")
        parts.append(f"fn show_{pname}(x: Tensor<float32, [r, c]>, k: Tensor<int32, [r, c]>) {{"
                     f" print({expr}) }}")
        for cname, (body, _) in CONTEXTS.items():
            out = "[c, c]" if cname == "matmul" else "[?, ?]"
            parts.append(f"fn {cname}_{pname}(x: Tensor<float32, [r, c]>, k: Tensor<int32, [r, c]>)"
                         f" -> Tensor<float32, {out}> {{\n    {body.replace('Q', expr)}\n}}")
    return "\n".join(parts)


@pytest.fixture(scope="module")
def fuzz_module():
    return api.compile(_fuzz_source())


def _inputs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(5, 4)).astype(np.float32) * 1.5
    x[0, :3] = [0.0, 0.5, -0.5]  # sign(0) = 0; strict thresholds
    return x, rng.integers(-1, 2, size=(5, 4)).astype(np.int32)


@pytest.mark.parametrize("pname", list(PRODUCERS))
@pytest.mark.parametrize("cname", list(CONTEXTS))
def test_ternary_producer_in_context(fuzz_module, pname, cname):
    x, k = _inputs(hash((pname, cname)) % 1000)
    _, trits_of, scale = PRODUCERS[pname]
    t = trits_of(x, k).astype(np.float32)
    want = CONTEXTS[cname][1](t, t * scale, x)
    got = getattr(fuzz_module, f"{cname}_{pname}")(x, k)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("pname", list(PRODUCERS))
def test_ternary_producer_returned_to_python_and_printed(fuzz_module, pname, capfd):
    x, k = _inputs(11)
    _, trits_of, scale = PRODUCERS[pname]
    q = getattr(fuzz_module, f"ret_{pname}")(x, k)
    assert isinstance(q, triton_dsl.TernaryTensor)
    assert q.shape == x.shape
    np.testing.assert_array_equal(q.to_numpy(), trits_of(x, k))
    np.testing.assert_allclose(q.dequantize(), trits_of(x, k) * scale)
    getattr(fuzz_module, f"show_{pname}")(x, k)
    printed = capfd.readouterr().out
    numbers = [int(tok) for tok in printed.replace("[", " ").replace("]", " ").split()]
    assert numbers == trits_of(x, k).astype(int).ravel().tolist()  # print shows the trits
