"""`tritonc convert` end to end: what it prints and its exit codes, on real files in tmp_path.

In: command lines run in-process (the `tritonc` fixture). Out: assertions on the exact stdout line of a
conversion, the round trip through the command, and that a corrupt or unconvertible input is exit 1
with one `tritonc: error:` line naming the file (never a traceback), while an unknown `--to` or a
misplaced `--hf-scale` is a usage error (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from triton_dsl import TernaryTensor, load_weights, save_weights


@pytest.fixture
def weights(tmp_path: Path) -> Path:
    rng = np.random.default_rng(7)
    path = tmp_path / "model.safetensors"
    save_weights(path, {"fc.weight": TernaryTensor.from_numpy(rng.integers(-1, 2, (8, 300)).astype(np.int8),
                                                               0.25),
                        "fc.bias": np.zeros(8, np.float32)})
    return path


def stored_trit_bytes(path: Path, fmt: str) -> int:
    if fmt.startswith("gguf"):
        import gguf
        return next(int(t.n_bytes) for t in gguf.GGUFReader(path).tensors if t.name == "fc.weight")
    from safetensors import safe_open
    with safe_open(path, framework="numpy") as f:
        return f.get_tensor("fc.weight").nbytes


# 8 rows of 300 trits: 2 blocks per row of 66 (TQ2_0) or 54 (TQ1_0) bytes; BitNet: 2 x 300 bytes
@pytest.mark.parametrize("fmt,size", [("gguf-tq2_0", 8 * 2 * 66), ("gguf-tq1_0", 8 * 2 * 54),
                                      ("hf-bitnet", 2 * 300)])
def test_convert_there_and_back(tritonc, weights: Path, tmp_path: Path, fmt: str, size: int):
    if fmt.startswith("gguf"):
        pytest.importorskip("gguf")
    out = tmp_path / "out.bin"
    code, stdout, stderr = tritonc("convert", str(weights), str(out), "--to", fmt)
    assert (code, stderr) == (0, "")
    source_format = "ours"
    assert stdout == (f"converted {weights} ({source_format}) -> {out} ({fmt}): 2 tensors (1 ternary), "
                      f"{out.stat().st_size} bytes\n")
    assert stored_trit_bytes(out, fmt) == size
    back = tmp_path / "back.safetensors"
    code, stdout, stderr = tritonc("convert", str(out), str(back), "--to", "ours")
    assert code == 0 and stderr == ""
    detected = "gguf" if fmt.startswith("gguf") else fmt
    assert stdout.startswith(f"converted {out} ({detected}) -> {back} (ours)")
    a, b = load_weights(weights), load_weights(back)
    assert a["fc.weight"].equals(b["fc.weight"]) and a["fc.bias"].tobytes() == b["fc.bias"].tobytes()


def test_corrupt_or_unconvertible_input_is_exit_1_naming_the_file(tritonc, weights: Path, tmp_path: Path):
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(weights.read_bytes()[:100])
    code, stdout, stderr = tritonc("convert", str(cut), str(tmp_path / "o.gguf"), "--to", "gguf-tq2_0")
    assert code == 1 and stdout == ""
    assert stderr.startswith(f"tritonc: error: weights file '{cut}': not a valid safetensors file")
    assert "Traceback" not in stderr and stderr.count("\n") == 1

    pytest.importorskip("gguf")
    odd = tmp_path / "odd.safetensors"
    save_weights(odd, {"w": TernaryTensor.from_numpy(np.ones((2, 2), np.int8), 0.1)})
    code, stdout, stderr = tritonc("convert", str(odd), str(tmp_path / "o.gguf"), "--to", "gguf-tq1_0")
    assert code == 1 and stdout == ""
    assert stderr.startswith(f"tritonc: error: weights file '{odd}': cannot convert to TQ1_0 exactly: "
                             f"tensor 'w': its scale 0.10000000149011612 has no exact float16 value")
    assert not (tmp_path / "o.gguf").exists()

    code, _, stderr = tritonc("convert", str(tmp_path / "missing.gguf"), str(tmp_path / "o"), "--to", "ours")
    assert code == 1
    assert stderr == (f"tritonc: error: weights file '{tmp_path / 'missing.gguf'}': cannot read: "
                      f"No such file or directory\n")


def test_usage_errors_are_exit_2(tritonc, weights: Path, tmp_path: Path):
    code, stdout, stderr = tritonc("convert", str(weights), str(tmp_path / "o"), "--to", "gguf-q4_0")
    assert code == 2 and stdout == ""
    assert "argument --to: invalid choice: 'gguf-q4_0'" in stderr
    code, _, stderr = tritonc("convert", str(weights), str(tmp_path / "o"))
    assert code == 2 and "the following arguments are required: --to" in stderr
    code, _, stderr = tritonc("convert", str(weights), str(tmp_path / "o.gguf"), "--to", "gguf-tq2_0",
                              "--hf-scale", "multiply")
    assert code == 2
    assert stderr.startswith("tritonc: error: hf_scale (--hf-scale) applies to hf-bitnet files")
    assert not (tmp_path / "o.gguf").exists()
