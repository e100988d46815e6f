"""The seed's blocks of "Quantization Methods", "Dequantization" and "Quantization-Aware Operations"
(tests/conformance/seed/01-20) run under `tritonc run`.

In: the vendored seed blocks. Out: exit code 0, nothing on stderr and nothing printed (the blocks only
compute) — the signature blocks just check; block 08 is the seed's own shape error (it stacks
[1, in_channels] tensors into a rank-3 result), rejected at compile time as the conformance test pins.
"""

from __future__ import annotations

from pathlib import Path

import pytest

SEED = Path(__file__).resolve().parents[1] / "conformance" / "seed"
BLOCKS = sorted(p for p in SEED.glob("*.triton") if 1 <= int(p.name[:2]) <= 20)


def test_there_are_twenty_blocks():
    assert len(BLOCKS) == 20


@pytest.mark.parametrize("path", BLOCKS, ids=[p.stem for p in BLOCKS])
def test_seed_block_runs(path, tritonc):
    code, out, err = tritonc("run", str(path))
    if path.name.startswith("08_"):
        assert code == 1 and "error[E0301]" in err and "[?, 1, in_channels]" in err
        return
    assert (code, out, err) == (0, "", "")
