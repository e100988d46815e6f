"""Weight-file conversion (triton_dsl.convert): round trips, the other tools' own readers, refusals.

In: random ternary tensors with edge shapes (rows not a multiple of 4 or 256, all-zero rows, size-1 dims,
rank 0 and 1) written to real files in tmp_path. Out: assertions that ours -> GGUF TQ2_0/TQ1_0 -> ours
and ours -> hf-bitnet -> ours are bit-exact; that gguf-py's own reader and `gguf.quants` dequantizer
give exactly our `trit x scale` (and its quantizer the same bytes); that the BitNet layout is
transformers' (its documented example, and a literal port of its unpack loop); and that what cannot be
converted exactly, or a corrupt file, is refused with an error naming the file and the tensor.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from triton_dsl import TernaryTensor, WeightsFileError, load_weights, save_weights
from triton_dsl.convert import convert, detect_format
from triton_dsl.convert.hf_bitnet import pack_axis0, unpack_axis0

gguf = pytest.importorskip("gguf")

RNG = np.random.default_rng(20261204)


def trits(shape, zero_rows=()):
    t = RNG.integers(-1, 2, size=shape).astype(np.int8)
    for r in zero_rows:
        t[r] = 0
    return t


def f16_values(n):
    """float32 scales that are exact float16 values (what a GGUF block can hold)."""
    return (RNG.uniform(0.01, 4.0, n) * RNG.choice([-1, 1], n)).astype(np.float16).astype(np.float32)


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


def assert_same(a: dict, b: dict):
    assert list(a) == list(b) or sorted(a) == sorted(b)
    for name, value in a.items():
        other = b[name]
        if isinstance(value, TernaryTensor):
            assert isinstance(other, TernaryTensor) and value.equals(other), name
        else:
            assert isinstance(other, np.ndarray) and other.dtype == value.dtype, name
            assert other.shape == value.shape and other.tobytes() == value.tobytes(), name


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


# ---- Hugging Face BitNet ---------------------------------------------------------------------------

def test_bitnet_unpack_matches_the_transformers_docstring_example():
    """transformers/integrations/bitnet.py, `unpack_weights`: its worked example, value for value."""
    packed = np.array([[0b10100001, 0b00011000], [0b10010000, 0b00001010]], np.uint8)
    expected = [[0, -1], [-1, 1], [-1, 1], [-1, 1], [1, 0], [0, -1], [1, -1], [1, -1]]
    assert (unpack_axis0(packed).astype(np.int8) - 1).tolist() == expected


def transformers_unpack(packed: np.ndarray) -> np.ndarray:
    """transformers' `unpack_weights` loop restated in numpy (slab i of the output from bits 2i)."""
    rows = packed.shape[0]
    out = np.zeros((rows * 4, *packed.shape[1:]), np.uint8)
    for i in range(4):
        out[i * rows:(i + 1) * rows] = (packed & (3 << (2 * i))) >> (2 * i)
    return out.astype(np.int8) - 1


@pytest.mark.parametrize("shape", [(1,), (4,), (6,), (8, 3), (9, 5), (1, 1), (5, 2, 3), (12, 16)])
def test_bitnet_pack_is_what_transformers_unpacks(shape):
    t = trits(shape)
    unpacked = transformers_unpack(pack_axis0(t))
    assert np.array_equal(unpacked[:shape[0]], t)
    assert not unpacked[shape[0]:].any(), "rows past N read as zero trits"


@pytest.mark.parametrize("mode", ["divide", "multiply"])
def test_ours_to_hf_bitnet_and_back_is_bit_exact(tmp_path: Path, mode: str):
    tensors = {
        "model.layers.0.mlp.down_proj.weight": TernaryTensor.from_numpy(trits((9, 5), zero_rows=[2]), 0.25),
        "v1.weight": TernaryTensor.from_numpy(trits((1,)), 4.0),
        "v6.weight": TernaryTensor.from_numpy(trits((6,)), -0.5),
        "m1x1.weight": TernaryTensor.from_numpy(trits((1, 1)), 1.0),
        "t5x2x3.weight": TernaryTensor.from_numpy(trits((5, 2, 3)), 0.75),
        "m16x8.weight": TernaryTensor.from_numpy(trits((16, 8)), 3.0),
        "norm.weight": RNG.standard_normal(5).astype(np.float32),
        "step": np.array(3, np.int64),
    }
    save_weights(tmp_path / "in.safetensors", tensors)
    convert(tmp_path / "in.safetensors", tmp_path / "hf.safetensors", "hf-bitnet", hf_scale=mode)
    assert detect_format(tmp_path / "hf.safetensors") == "hf-bitnet"
    convert(tmp_path / "hf.safetensors", tmp_path / "back.safetensors", "ours")
    assert_same(tensors, load_weights(tmp_path / "back.safetensors"))
    assert (tmp_path / "back.safetensors").read_bytes() == (tmp_path / "in.safetensors").read_bytes()

    # the file as transformers sees it: uint8 (ceil(N/4), ...) plus a weight_scale, format "pt"
    from safetensors import safe_open
    with safe_open(tmp_path / "hf.safetensors", framework="numpy") as f:
        assert f.metadata()["format"] == "pt"
        packed = f.get_tensor("m16x8.weight")
        scale = f.get_tensor("m16x8.weight_scale")
    assert packed.dtype == np.uint8 and packed.shape == (4, 8)
    assert scale.shape == (1,) and scale[0] == (np.float32(1) / np.float32(3.0) if mode == "divide" else 3.0)
    w = transformers_unpack(packed).astype(np.float32)
    value = w / scale[0] if mode == "divide" else w * scale[0]
    assert np.array_equal(value, tensors["m16x8.weight"].dequantize())


def _raw_safetensors(path: Path, entries: dict[str, tuple[str, tuple, bytes]], metadata=None) -> None:
    """Write a safetensors file by hand (numpy cannot make BF16 entries)."""
    header, offset, blob = {}, 0, b""
    for name, (dtype, shape, data) in entries.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blob += data
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + blob)


def bf16_bytes(values) -> bytes:
    return (np.asarray(values, np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()


def test_hf_bitnet_checkpoint_from_transformers_with_bf16_scales(tmp_path: Path):
    """A file as transformers' BitNet checkpoints are: no triton_dsl metadata, BF16 scale and norms."""
    t = trits((8, 6))
    packed = pack_axis0(t)
    path = tmp_path / "model.safetensors"
    _raw_safetensors(path, {
        "model.layers.0.self_attn.q_proj.weight": ("U8", packed.shape, packed.tobytes()),
        "model.layers.0.self_attn.q_proj.weight_scale": ("BF16", (1,), bf16_bytes([2.0])),
        "model.norm.weight": ("BF16", (3,), bf16_bytes([1.0, -0.5, 0.15625])),
    }, metadata={"format": "pt"})
    assert detect_format(path) == "hf-bitnet"
    convert(path, tmp_path / "ours.safetensors", "ours")
    got = load_weights(tmp_path / "ours.safetensors")
    q = got["model.layers.0.self_attn.q_proj.weight"]
    assert q.shape == (8, 6) and np.array_equal(q.to_numpy(), t) and q.scale == 0.5  # trit / 2.0
    assert got["model.norm.weight"].tolist() == [1.0, -0.5, 0.15625]
    assert "model.layers.0.self_attn.q_proj.weight_scale" not in got
    convert(path, tmp_path / "ours_mul.safetensors", "ours", hf_scale="multiply")
    mul = load_weights(tmp_path / "ours_mul.safetensors")
    assert mul["model.layers.0.self_attn.q_proj.weight"].scale == 2.0


def test_hf_bitnet_refusals(tmp_path: Path):
    no_inverse = next(float(s) for s in np.arange(1, 2000, dtype=np.float32) / np.float32(1000)
                      if np.float32(1) / (np.float32(1) / s) != s)
    cases = {
        "channel": (TernaryTensor.from_numpy(trits((2, 3)), np.array([1, 2], np.float32)), "channel scales"),
        "asym": (TernaryTensor.from_numpy(trits((2, 3)), (1.0, 2.0)), "asymmetric scales"),
        "scalar": (TernaryTensor.from_numpy(np.array(1, np.int8), 1.0), "rank 0"),
        "noinv": (TernaryTensor.from_numpy(trits((4, 3)), no_inverse), r"1/\(1/s\)"),
    }
    for name, (value, message) in cases.items():
        src = tmp_path / f"{name}.safetensors"
        save_weights(src, {name: value})
        with pytest.raises(WeightsFileError, match=rf"{src.name}'.*tensor '{name}'.*{message}"):
            convert(src, tmp_path / "out.safetensors", "hf-bitnet")
        assert not (tmp_path / "out.safetensors").exists()
    # the scale without a float32 reciprocal is exact with AutoBitLinear's convention
    convert(tmp_path / "noinv.safetensors", tmp_path / "mul.safetensors", "hf-bitnet", hf_scale="multiply")
    convert(tmp_path / "mul.safetensors", tmp_path / "back.safetensors", "ours")
    assert load_weights(tmp_path / "back.safetensors")["noinv"].scale == np.float32(no_inverse)


def test_hf_scale_must_agree_with_the_file_and_apply(tmp_path: Path):
    save_weights(tmp_path / "in.safetensors", {"w": TernaryTensor.from_numpy(trits((4, 4)), 1.0)})
    convert(tmp_path / "in.safetensors", tmp_path / "hf.safetensors", "hf-bitnet", hf_scale="multiply")
    with pytest.raises(WeightsFileError, match="was written with --hf-scale multiply, not divide"):
        convert(tmp_path / "hf.safetensors", tmp_path / "o.safetensors", "ours", hf_scale="divide")
    with pytest.raises(ValueError, match="applies to hf-bitnet files"):
        convert(tmp_path / "in.safetensors", tmp_path / "o.gguf", "gguf-tq2_0", hf_scale="divide")
    with pytest.raises(ValueError, match="unknown target format 'gguf-q4_0'"):
        convert(tmp_path / "in.safetensors", tmp_path / "o.gguf", "gguf-q4_0")


# ---- corrupt and mismatched inputs -----------------------------------------------------------------

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


def test_corrupt_hf_bitnet_files_are_refused_by_name(tmp_path: Path):
    packed = pack_axis0(trits((6, 4)))  # N = 6: the last 2 rows of slab 3 are padding
    meta = {"format": "pt", "triton_dsl.hf_bitnet": json.dumps({"weight_scale": "divide",
                                                                "shapes": {"w": [6, 4]}})}
    bad_code = packed.copy()
    bad_code[0, 0] |= 0b11
    _raw_safetensors(tmp_path / "code3.safetensors", {"w": ("U8", packed.shape, bad_code.tobytes()),
                                                      "w_scale": ("F32", (1,), np.float32([1]).tobytes())},
                     metadata=meta)
    with pytest.raises(WeightsFileError, match=r"code3\.safetensors.*'w' is corrupt: it holds code 3"):
        convert(tmp_path / "code3.safetensors", tmp_path / "o.safetensors", "ours")
    bad_pad = packed.copy()
    bad_pad[1, 0] &= 0b00111111  # row 3*2+1 = 7 >= N: padding made -1
    _raw_safetensors(tmp_path / "pad.safetensors", {"w": ("U8", packed.shape, bad_pad.tobytes()),
                                                    "w_scale": ("F32", (1,), np.float32([1]).tobytes())},
                     metadata=meta)
    with pytest.raises(WeightsFileError, match=r"pad\.safetensors.*padding rows after row 6"):
        convert(tmp_path / "pad.safetensors", tmp_path / "o.safetensors", "ours")
    _raw_safetensors(tmp_path / "shape.safetensors", {"w": ("U8", (3, 4), packed[:1].repeat(3, 0).tobytes()),
                                                      "w_scale": ("F32", (1,), np.float32([1]).tobytes())},
                     metadata=meta)
    with pytest.raises(WeightsFileError, match=r"shape\.safetensors.*does not match its recorded shape"):
        convert(tmp_path / "shape.safetensors", tmp_path / "o.safetensors", "ours")
    good = tmp_path / "good.safetensors"
    _raw_safetensors(good, {"w": ("U8", packed.shape, packed.tobytes()),
                            "w_scale": ("F32", (1,), np.float32([1]).tobytes())}, metadata=meta)
    (tmp_path / "cut.safetensors").write_bytes(good.read_bytes()[:-3])
    with pytest.raises(WeightsFileError, match=r"cut\.safetensors.*truncated or corrupt"):
        convert(tmp_path / "cut.safetensors", tmp_path / "o.safetensors", "ours")
    assert not (tmp_path / "o.safetensors").exists()


# ---- --round-scales --------------------------------------------------------------------------------

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


def test_round_scales_for_bitnet_divide_and_out_of_range(tmp_path: Path):
    no_inverse = next(s for s in np.arange(1, 2000, dtype=np.float32) / np.float32(1000)
                      if np.float32(1) / (np.float32(1) / s) != s)
    save_weights(tmp_path / "in.safetensors",
                 {"w": TernaryTensor.from_numpy(trits((4, 3)), float(no_inverse))})
    report = convert(tmp_path / "in.safetensors", tmp_path / "hf.safetensors", "hf-bitnet",
                     round_scales_to_fit=True)
    assert report.rounded == ("w",) and 0 < report.largest_change < 1e-6
    convert(tmp_path / "hf.safetensors", tmp_path / "back.safetensors", "ours")
    nearest = np.float32(1) / (np.float32(1) / no_inverse)
    assert load_weights(tmp_path / "back.safetensors")["w"].scale == nearest
    save_weights(tmp_path / "big.safetensors", {"w": TernaryTensor.from_numpy(trits((2, 2)), 1e6)})
    with pytest.raises(WeightsFileError, match=r"big\.safetensors.*'w': a scale of 1000000\.0 is out of"):
        convert(tmp_path / "big.safetensors", tmp_path / "o.gguf", "gguf-tq2_0", round_scales_to_fit=True)


# ---- properties of the codecs ----------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


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


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_bitnet_pack_round_trips(shape: list[int], seed: int):
    t = np.random.default_rng(seed).integers(-1, 2, size=shape).astype(np.int8)
    packed = pack_axis0(t)
    assert packed.shape == ((shape[0] + 3) // 4, *shape[1:])
    codes = unpack_axis0(packed)
    assert np.array_equal(codes[:shape[0]].astype(np.int8) - 1, t) and (codes[shape[0]:] == 1).all()
