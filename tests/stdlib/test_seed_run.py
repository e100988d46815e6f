"""The seed's blocks of "Quantization Methods", "Dequantization" and "Quantization-Aware Operations"
(tests/conformance/seed/01-20) run under `tritonc run`.

In: the vendored seed blocks. Out: exit code 0, nothing on stderr, and the pinned digest of every value
the block computes (`seed_digest.py`; the signature blocks define functions and print nothing); block 08
is the seed's own shape error (it stacks [1, in_channels] tensors into a rank-3 result), rejected at
compile time as the conformance test pins.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import seed_digest

SEED = Path(__file__).resolve().parents[1] / "conformance" / "seed"
BLOCKS = sorted(p for p in SEED.glob("*.triton") if 1 <= int(p.name[:2]) <= 20)


def test_there_are_twenty_blocks():
    assert len(BLOCKS) == 20


@pytest.mark.parametrize("path", BLOCKS, ids=[p.stem for p in BLOCKS])
def test_seed_block_runs(path, tritonc, tmp_path):
    if path.name.startswith("08_"):
        code, out, err = tritonc("run", str(path))
        assert code == 1 and "error[E0301]" in err and "[?, 1, in_channels]" in err
        return
    # the blocks compute without printing: a probe prints a digest of every top-level value, pinned
    probed = tmp_path / path.name
    probed.write_text(seed_digest.probed(path), encoding="utf-8")
    code, out, err = tritonc("run", str(probed))
    assert (code, err) == (0, ""), err
    assert out == seed_digest.expected_output(path, out)
