"""Conversion to and from GGUF TQ2_0 / TQ1_0 (triton_dsl.convert.gguf_file, gguf_blocks).

In: random ternary tensors with edge shapes (rows not a multiple of 256, all-zero rows, size-1 dims,
rank 0 and 1, channel and asymmetric scales) and plain arrays, written to real files in tmp_path; GGUF
files made by gguf-py alone, and corrupted ones. Out: assertions that ours -> GGUF -> ours is bit-exact
(the file comes back byte-identical); that gguf-py's own reader and `gguf.quants` dequantizer give
exactly our `trit x scale`, and its quantizer the same bytes; that what a block cannot hold exactly is
refused (or rounded on request) with an error naming the file and the tensor.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from convert_support import RNG, assert_same, f16_values, trits
from hypothesis import given, settings
from hypothesis import strategies as st

from triton_dsl import TernaryTensor, WeightsFileError, load_weights, save_weights
from triton_dsl.convert import convert, detect_format

gguf = pytest.importorskip("gguf")


def gguf_tensors():
    """Edge cases a TQ block layout must survive, each with scales a float16 can hold."""
    return {
        "r0": TernaryTensor.from_numpy(np.array(-1, dtype=np.int8), 0.5),
        "v1": TernaryTensor.from_numpy(trits((1,)), 2.0),
        "v7_channel": TernaryTensor.from_numpy(trits((7,)), np.full(7, 0.375, np.float32)),
        "v300_channel": TernaryTensor.from_numpy(trits((300,)), np.repeat(f16_values(2), [256, 44])),
        "m3x300": TernaryTensor.from_numpy(trits((3, 300), zero_rows=[1]), float(f16_values(1)[0])),
        "m5x256": TernaryTensor.from_numpy(trits((5, 256)), f16_values(5)),
        "m4x257_zero_rows": TernaryTensor.from_numpy(trits((4, 257), zero_rows=[0, 3]), f16_values(4)),
        "m1x1": TernaryTensor.from_numpy(trits((1, 1)), -1.5),
        "t2x1x3": TernaryTensor.from_numpy(trits((2, 1, 3)), f16_values(2)),
        "t3x2x513": TernaryTensor.from_numpy(trits((3, 2, 513)), f16_values(3)),
        "asym_equal": TernaryTensor.from_numpy(trits((2, 9)), (0.25, 0.25)),
        "all_zero": TernaryTensor.from_numpy(np.zeros((2, 5), np.int8), 0.125),
        "bias": RNG.standard_normal(10).astype(np.float32),
        "half": RNG.standard_normal((2, 3)).astype(np.float16),
        "count": np.array(42, dtype=np.int64),
        "empty_plain": np.zeros((0, 3), np.float32),
    }


@pytest.mark.parametrize("fmt", ["gguf-tq2_0", "gguf-tq1_0"])
def test_ours_to_gguf_and_back_is_bit_exact(tmp_path: Path, fmt: str):
    tensors = gguf_tensors()
    save_weights(tmp_path / "in.safetensors", tensors)
    report = convert(tmp_path / "in.safetensors", tmp_path / "w.gguf", fmt)
    assert (report.source_format, report.tensors, report.ternary) == ("ours", len(tensors), 12)
    assert detect_format(tmp_path / "w.gguf") == "gguf"
    convert(tmp_path / "w.gguf", tmp_path / "back.safetensors", "ours")
    assert_same(tensors, load_weights(tmp_path / "back.safetensors"))
    assert (tmp_path / "back.safetensors").read_bytes() == (tmp_path / "in.safetensors").read_bytes()
    # and between the two GGUF block types
    other = "gguf-tq1_0" if fmt == "gguf-tq2_0" else "gguf-tq2_0"
    convert(tmp_path / "w.gguf", tmp_path / "w2.gguf", other)
    convert(tmp_path / "w2.gguf", tmp_path / "back2.safetensors", "ours")
    assert_same(tensors, load_weights(tmp_path / "back2.safetensors"))


@pytest.mark.parametrize("fmt,qtype", [("gguf-tq2_0", "TQ2_0"), ("gguf-tq1_0", "TQ1_0")])
def test_gguf_reader_and_dequantizer_give_our_values(tmp_path: Path, fmt: str, qtype: str):
    tensors = gguf_tensors()
    save_weights(tmp_path / "in.safetensors", tensors)
    convert(tmp_path / "in.safetensors", tmp_path / "w.gguf", fmt)
    reader = gguf.GGUFReader(tmp_path / "w.gguf")
    found = {t.name: t for t in reader.tensors}
    assert sorted(found) == sorted(tensors)
    for name, value in tensors.items():
        t = found[name]
        if not isinstance(value, TernaryTensor):
            assert np.array_equal(np.asarray(t.data).reshape(value.shape), value), name
            continue
        assert t.tensor_type == getattr(gguf.GGMLQuantizationType, qtype), name
        ours = value.dequantize().reshape(-1, value.shape[-1] if value.ndim else 1)
        theirs = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type)
        theirs = theirs.reshape(ours.shape[0], -1)
        cols = ours.shape[1]
        # ggml computes d * q in float32, the same bits as trit * scale; only a zero trit under a
        # negative scale differs in the sign of zero (ggml -0.0, ours +0.0), equal as values
        assert np.array_equal(theirs[:, :cols], ours), name
        nonzero = ours != 0
        assert theirs[:, :cols][nonzero].tobytes() == ours[nonzero].tobytes(), name
        assert not theirs[:, cols:].any(), f"{name}: the row padding must be zero trits"


@pytest.mark.parametrize("qtype", ["TQ2_0", "TQ1_0"])
def test_our_blocks_are_the_bytes_ggml_quantizes_to(qtype: str):
    """Where ggml's quantizer picks the same d (max |x| of a block with a non-zero trit), the bytes agree."""
    from triton_dsl.convert.gguf_blocks import DECODERS, ENCODERS

    t = trits((6, 512))
    t[:, ::7] = 1  # every block holds a +1, so max |x| = d
    d = np.abs(f16_values(12)).reshape(6, 2).astype(np.float16)
    x = t * np.repeat(d.astype(np.float32), 256, axis=1)
    ours = ENCODERS[qtype](t, d)
    assert ours.tobytes() == gguf.quants.quantize(x, getattr(gguf.GGMLQuantizationType, qtype)).tobytes()
    back, d_back, bad = DECODERS[qtype](ours)
    assert np.array_equal(back, t) and np.array_equal(d_back, d) and bad == -1


def test_gguf_from_another_tool_infers_tensor_and_channel_scales(tmp_path: Path):
    """A GGUF written by gguf-py alone (no triton_dsl metadata): zero blocks have d = 0 there."""
    per_tensor = trits((3, 256), zero_rows=[1]) * np.float32(0.5)
    d = np.array([0.25, 1.5, 3.0], np.float32)
    per_channel = trits((3, 2, 256)) * d[:, None, None]
    varying = trits((1, 512)) * np.repeat(np.array([1.0, 2.0], np.float32), 256)
    writer = gguf.GGUFWriter(tmp_path / "foreign.gguf", "bitnet")
    for name, x in (("tensor", per_tensor), ("channel", per_channel), ("varying", varying)):
        writer.add_tensor(name, gguf.quants.quantize(x, gguf.GGMLQuantizationType.TQ2_0),
                          raw_dtype=gguf.GGMLQuantizationType.TQ2_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(WeightsFileError, match=r"foreign\.gguf.*'varying'.*differ within an output channel"):
        convert(tmp_path / "foreign.gguf", tmp_path / "out.safetensors", "ours")
    from triton_dsl.convert.gguf_file import read_gguf

    # without the refused tensor: read each kind as ggml dequantizes it
    reader = gguf.GGUFReader(tmp_path / "foreign.gguf")
    got = {}
    for t in reader.tensors:
        if t.name != "varying":
            got[t.name] = gguf.quants.dequantize(np.asarray(t.data), t.tensor_type)
    writer = gguf.GGUFWriter(tmp_path / "two.gguf", "bitnet")
    for name, x in (("tensor", per_tensor), ("channel", per_channel)):
        writer.add_tensor(name, gguf.quants.quantize(x, gguf.GGMLQuantizationType.TQ1_0),
                          raw_dtype=gguf.GGMLQuantizationType.TQ1_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    read = read_gguf(tmp_path / "two.gguf")
    assert read["tensor"].scale_kind == "tensor" and read["tensor"].scale == 0.5
    assert read["channel"].scale_kind == "channel" and read["channel"].scales.tolist() == d.tolist()
    for name in ("tensor", "channel"):
        assert read[name].dequantize().tobytes() == got[name].reshape(read[name].shape).tobytes()


def test_refuses_what_a_gguf_block_cannot_hold_exactly(tmp_path: Path):
    cases = {
        "not_f16": (TernaryTensor.from_numpy(trits((2, 3)), 0.1),
                    r"scale 0\.1\d* has no exact float16 value"),
        "asym": (TernaryTensor.from_numpy(trits((2, 3)), (0.5, 0.25)), "asymmetric scales"),
        "vec": (TernaryTensor.from_numpy(trits((3,)), np.array([1, 2, 1], np.float32)),
                r"elements 0\.\.2 \(one TQ2_0 block\) have different scales"),
        "empty": (TernaryTensor.from_numpy(np.zeros((3, 0), np.int8), 1.0),
                  r"shape \(3, 0\) has no elements"),
        "bools": (np.array([True, False]), "dtype bool has no GGUF type"),
        "rank5": (TernaryTensor.from_numpy(trits((1, 1, 1, 2, 3)), 0.5),
                  "5 dimensions, ggml tensors at most 4"),
        "n" * 64: (np.ones(2, np.float32), "names are at most 63 bytes"),
    }
    for name, (value, message) in cases.items():
        src = tmp_path / f"{name}.safetensors"
        save_weights(src, {"ok": np.ones(2, np.float32), name: value})
        with pytest.raises(WeightsFileError, match=rf"{src.name}'.*'{name}'.*{message}"):
            convert(src, tmp_path / "out.gguf", "gguf-tq2_0")
        assert not (tmp_path / "out.gguf").exists(), "a refused conversion writes nothing"


def test_refusal_messages_name_file_and_tensor(tmp_path: Path):
    src = tmp_path / "in.safetensors"
    save_weights(src, {"layer.w": TernaryTensor.from_numpy(trits((4, 8)), 0.1)})
    with pytest.raises(WeightsFileError) as err:
        convert(src, tmp_path / "out.gguf", "gguf-tq1_0")
    text = str(err.value)
    assert f"weights file '{src}'" in text and "tensor 'layer.w'" in text and "TQ1_0" in text


def _gguf_file(tmp_path: Path, fmt="gguf-tq2_0") -> Path:
    save_weights(tmp_path / "in.safetensors", {"w": TernaryTensor.from_numpy(trits((2, 300)), 0.5),
                                               "b": np.ones(3, np.float32)})
    convert(tmp_path / "in.safetensors", tmp_path / "w.gguf", fmt)
    return tmp_path / "w.gguf"


def _tensor_offset(path: Path, name: str) -> int:
    reader = gguf.GGUFReader(path)
    t = next(t for t in reader.tensors if t.name == name)
    return int(t.data_offset)


def test_corrupt_gguf_files_are_refused_by_name(tmp_path: Path):
    path = _gguf_file(tmp_path)
    data = path.read_bytes()
    # the header, the tensor infos, the first tensor's blocks, and the last tensor's data
    for cut in (3, 40, 300, _tensor_offset(path, "b") + 4):
        bad = tmp_path / f"cut{cut}.gguf"
        bad.write_bytes(data[:cut])
        with pytest.raises(WeightsFileError, match=rf"'{bad}'"):
            convert(bad, tmp_path / "o.safetensors", "ours")
    start = _tensor_offset(path, "w")
    code3 = bytearray(data)
    code3[start] = 0xFF  # four trits of code 3
    (tmp_path / "code3.gguf").write_bytes(bytes(code3))
    with pytest.raises(WeightsFileError, match=r"code3\.gguf.*tensor 'w' is corrupt: TQ2_0 code 3"):
        convert(tmp_path / "code3.gguf", tmp_path / "o.safetensors", "ours")
    padding = bytearray(data)
    padding[start + 66 + 60] = 0xAA  # block 2 of row 0, trits beyond element 300: +1
    (tmp_path / "pad.gguf").write_bytes(bytes(padding))
    with pytest.raises(WeightsFileError, match=r"pad\.gguf.*'w' is corrupt: the padding after element 300"):
        convert(tmp_path / "pad.gguf", tmp_path / "o.safetensors", "ours")
    assert not (tmp_path / "o.safetensors").exists()


def test_gguf_whose_metadata_does_not_match_its_tensors(tmp_path: Path):
    writer = gguf.GGUFWriter(tmp_path / "mismatch.gguf", "triton_dsl")
    writer.add_string("triton_dsl.tensors", json.dumps({"w": {"shape": [3, 300], "scale_kind": "tensor"}}))
    x = trits((2, 512)) * np.float32(0.5)
    writer.add_tensor("w", gguf.quants.quantize(x, gguf.GGMLQuantizationType.TQ2_0),
                      raw_dtype=gguf.GGMLQuantizationType.TQ2_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with pytest.raises(WeightsFileError, match=r"mismatch\.gguf.*'w' of shape \(3, 300\) needs 396 bytes"):
        convert(tmp_path / "mismatch.gguf", tmp_path / "o.safetensors", "ours")


def test_round_scales_to_float16_is_reported_and_exact_afterwards(tmp_path: Path):
    src = tmp_path / "in.safetensors"
    scales = np.array([0.1, 0.5, 1 / 3], np.float32)
    save_weights(src, {"w": TernaryTensor.from_numpy(trits((3, 40)), scales),
                       "fits": TernaryTensor.from_numpy(trits((2, 2)), 0.5)})
    report = convert(src, tmp_path / "w.gguf", "gguf-tq1_0", round_scales_to_fit=True)
    f16 = scales.astype(np.float16).astype(np.float32)
    assert report.rounded == ("w",)
    change = np.abs(f16.astype(np.float64) - scales) / scales
    assert report.largest_change == pytest.approx(float(change.max()))
    assert str(report).endswith(f"; scales rounded in 1 tensor (largest relative change "
                                f"{report.largest_change:.3g})")
    convert(tmp_path / "w.gguf", tmp_path / "back.safetensors", "ours")
    back = load_weights(tmp_path / "back.safetensors")
    original = load_weights(src)
    assert back["w"].same_trits(original["w"]) and back["w"].scales.tobytes() == f16.tobytes()
    assert back["fits"].equals(original["fits"])


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(0, 5), blocks=st.integers(0, 3), seed=st.integers(0, 2**32 - 1),
       qtype=st.sampled_from(["TQ2_0", "TQ1_0"]))
def test_block_codecs_round_trip_and_match_ggml(rows: int, blocks: int, seed: int, qtype: str):
    from triton_dsl.convert.gguf_blocks import DECODERS, ENCODERS

    rng = np.random.default_rng(seed)
    t = rng.integers(-1, 2, size=(rows, blocks * 256)).astype(np.int8)
    d = rng.standard_normal((rows, blocks)).astype(np.float16)
    data = ENCODERS[qtype](t, d)
    back, d_back, bad = DECODERS[qtype](data)
    assert np.array_equal(back, t) and d_back.tobytes() == d.tobytes() and bad == -1
    if rows and blocks:
        theirs = gguf.quants.dequantize(data, getattr(gguf.GGMLQuantizationType, qtype))
        assert np.array_equal(theirs, t * np.repeat(d.astype(np.float32), 256, axis=1))
