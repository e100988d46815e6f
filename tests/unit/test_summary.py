"""`triton_dsl.summary` / `tritonc summary`: the table of what a weight file or a program stores.

In: small weight files written in tmp_path with hand-chosen trits (so every count is worked out below),
the same weights converted to GGUF and Hugging Face BitNet, and a `.triton` program. Out: the exact
table text, the structured rows and totals, and the errors for an unreadable, corrupt or non-compiling
input (CLI exit 1, naming the file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import triton_dsl
from triton_dsl import CompileError, TernaryTensor, WeightsFileError, save_weights
from triton_dsl.summarize import ProgramFileError

# 24 trits, 12 zeros (3 + 6 + 0 + 3); packed 4 rows x 2 bytes + 4 float32 scales = 24 bytes
W1 = np.array([[1, 0, -1, 0, 0, 1], [0, 0, 0, 0, 0, 0], [1, 1, 1, -1, -1, -1], [0, 1, 0, 1, 0, 1]], np.int8)


def tensors() -> dict:
    return {
        "fc1.weight": TernaryTensor.from_numpy(W1, np.array([0.5, 1.0, 0.25, 2.0], np.float32)),
        "fc1.bias": np.array([0.0, 1.5, 0.0, -2.0], np.float32),                       # 2 of 4 zero
        "fc2.weight": TernaryTensor.from_numpy(np.array([[1, -1, 0, 0]] * 3, np.int8), 0.5),  # 3 + 4 bytes
        "emb": np.arange(6, dtype=np.float16).reshape(2, 3),                            # 1 of 6 zero
        "empty": np.zeros((0, 4), np.float32),
    }


@pytest.fixture
def weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # relative paths keep the pinned text free of tmp_path
    save_weights("model.safetensors", tensors())
    return Path("model.safetensors")


def test_weight_file_table(weights: Path):
    assert str(triton_dsl.summary(weights)) == """\
weights model.safetensors (ours)
name        shape   dtype    params  bytes  bits/param  zeros  scale
----------  ------  -------  ------  -----  ----------  -----  -------
emb         [2, 3]  float16       6     12       16.00  16.7%  -
empty       [0, 4]  float32       0      0           -      -  -
fc1.bias    [4]     float32       4     16       32.00  50.0%  -
fc1.weight  [4, 6]  trit         24     24        8.00  50.0%  channel
fc2.weight  [3, 4]  trit         12      7        4.67  50.0%  tensor
5 tensors (2 ternary), 46 parameters, 59 bytes stored
float32 would take 184 bytes: 3.12x smaller (10.26 bits per parameter)"""


def test_rows_and_totals_are_structured(weights: Path):
    s = triton_dsl.summary(str(weights))
    assert isinstance(s, triton_dsl.Summary) and s.kind == "weights" and s.format == "ours"
    rows = {r.name: r for r in s.rows}
    fc1 = rows["fc1.weight"]
    assert (fc1.shape, fc1.dtype, fc1.parameters, fc1.stored_bytes, fc1.trit_bytes) == \
        ((4, 6), "trit", 24, 24, 8)
    assert (fc1.zero_fraction, fc1.scale_kind, fc1.ternary, fc1.bits_per_parameter) == \
        (0.5, "channel", True, 8.0)
    assert rows["emb"].zero_fraction == pytest.approx(1 / 6) and not rows["emb"].ternary
    assert rows["empty"].zero_fraction is None and rows["empty"].bits_per_parameter is None
    assert (s.parameters, s.stored_bytes, s.float32_bytes) == (46, 59, 184)
    assert s.compression == pytest.approx(184 / 59)


def test_dict_of_tensors_counts_what_our_format_would_store():
    s = triton_dsl.summary(tensors())
    assert s.source == "<dict>" and [r.name for r in s.rows] == list(tensors())
    assert (s.parameters, s.stored_bytes) == (46, 59)


def test_gguf_and_bitnet_files_count_their_own_bytes(weights: Path):
    pytest.importorskip("gguf")
    from triton_dsl.convert import convert

    convert(weights, "model.gguf", "gguf-tq2_0")
    # every row of a TQ2_0 tensor is one 66-byte block here: 4 x 66 and 3 x 66
    assert str(triton_dsl.summary("model.gguf")) == """\
weights model.gguf (gguf)
name        shape   dtype    params  bytes  bits/param  zeros  scale
----------  ------  -------  ------  -----  ----------  -----  -------
emb         [2, 3]  float16       6     12       16.00  16.7%  -
empty       [0, 4]  float32       0      0           -      -  -
fc1.bias    [4]     float32       4     16       32.00  50.0%  -
fc1.weight  [4, 6]  TQ2_0        24    264       88.00  50.0%  channel
fc2.weight  [3, 4]  TQ2_0        12    198      132.00  50.0%  tensor
5 tensors (2 ternary), 46 parameters, 490 bytes stored
float32 would take 184 bytes: 2.66x larger (85.22 bits per parameter)"""
    only_tensor_scales = tensors()
    del only_tensor_scales["fc1.weight"]  # BitNet keeps one weight_scale per tensor
    save_weights("t.safetensors", only_tensor_scales)
    convert("t.safetensors", "hf.safetensors", "hf-bitnet")
    # fc2.weight: 3 rows packed along axis 0 into 1 x 4 bytes, plus a float32 weight_scale
    assert str(triton_dsl.summary("hf.safetensors")).splitlines()[-3:] == [
        "fc2.weight  [3, 4]  trit         12      8        5.33  50.0%  tensor",
        "4 tensors (1 ternary), 22 parameters, 36 bytes stored",
        "float32 would take 88 bytes: 2.44x smaller (13.09 bits per parameter)"]


PROGRAM = """\
fn layer(x: Tensor<float32, [?, 64]>, w: TernaryTensor<trit, [64, 10]>) -> Tensor<float32, [?, 10]> {
    let y = x @ w
    return y
}

main {
    let w1 = randn([64, 10])
    let q1 = ternary_quantize(w1, method="twn")
    let b = zeros([10])
    let x = randn([8, 64])
    let loaded = load_ternary("w.safetensors", "w", 2)
    print(layer(x, q1))
}
"""


def test_program_table_shows_only_what_is_static(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    Path("prog.triton").write_text(PROGRAM, encoding="utf-8")
    s = triton_dsl.summary("prog.triton")
    # q1: 64 rows x ceil(10 / 4) bytes of trits; its scales are a run-time choice of ternary_quantize
    assert str(s) == """\
program prog.triton
name    shape     dtype    params         bytes  bits/param  zeros  scale  declared in
------  --------  -------  ------  ------------  ----------  -----  -----  ----------------
w1      [64, 10]  float32     640         2,560       32.00      ?  -      main
q1      [64, 10]  trit        640  192 + scales           ?      ?  ?      main
b       [10]      float32      10            40       32.00      ?  -      main
x       [8, 64]   float32     512         2,048       32.00      ?  -      main
loaded  [?, ?]    trit          ?             ?           ?      ?  ?      main
x       [?, 64]   float32       ?             ?           ?      ?  -      fn layer (param)
w       [64, 10]  trit        640  192 + scales           ?      ?  ?      fn layer (param)
y       [?, 10]   float32       ?             ?           ?      ?  -      fn layer
8 tensors (3 ternary); 5 with static sizes: 2,442 parameters, 5,032 bytes + the scales of 2 ternary \
tensors; 3 sized only at run time
not known statically: sizes with ? or named dims are known only when the program runs
not known statically: scale kinds, scale bytes and zero fractions of ternary tensors are run-time values: \
save the weights (save_weights) and run `tritonc summary` on the file
not known statically: zero fractions of plain tensors are run-time values"""
    assert s.kind == "program" and s.parameters is None and s.compression is None
    q1 = next(r for r in s.rows if r.name == "q1")
    assert (q1.parameters, q1.trit_bytes, q1.stored_bytes, q1.scale_kind, q1.zero_fraction) == \
        (640, 192, None, None, None)


def test_errors_name_the_file(tmp_path: Path, weights: Path):
    Path("cut.safetensors").write_bytes(weights.read_bytes()[:50])
    with pytest.raises(WeightsFileError, match="weights file 'cut.safetensors': not a valid safetensors"):
        triton_dsl.summary("cut.safetensors")
    with pytest.raises(ProgramFileError, match="cannot read 'missing.triton': No such file"):
        triton_dsl.summary("missing.triton")
    Path("bad.triton").write_text('main { let x: int = "a" }\n', encoding="utf-8")
    with pytest.raises(CompileError, match="bad.triton:1:21: error"):
        triton_dsl.summary("bad.triton")


def test_cli(tritonc, weights: Path):
    code, out, err = tritonc("summary", str(weights))
    assert (code, err) == (0, "") and out == str(triton_dsl.summary(weights)) + "\n"
    Path("cut.safetensors").write_bytes(weights.read_bytes()[:50])
    code, out, err = tritonc("summary", "cut.safetensors")
    assert code == 1 and out == "" and err.startswith("tritonc: error: weights file 'cut.safetensors': ")
    assert "Traceback" not in err
    Path("bad.triton").write_text('main { let x: int = "a" }\n', encoding="utf-8")
    code, out, err = tritonc("summary", "bad.triton")
    assert code == 1 and out == "" and "error[E0301]" in err
    code, _, err = tritonc("summary")
    assert code == 2 and "the following arguments are required: FILE" in err


def test_plain_safetensors_with_bf16(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A plain file from another tool: BF16 is shown as stored (2 bytes each), read exactly."""
    import json
    import struct

    monkeypatch.chdir(tmp_path)
    header = json.dumps({"a": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    Path("bf.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\x80\x3f\x00\x00")
    s = triton_dsl.summary("bf.safetensors")
    assert str(s).splitlines()[3] == "a     [2]    bfloat16       2      4       16.00  50.0%  -"
    from triton_dsl.convert import read_any
    assert read_any("bf.safetensors")[1]["a"].tolist() == [1.0, 0.0]
