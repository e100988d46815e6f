"""Conversion to and from the Hugging Face BitNet b1.58 packed layout (triton_dsl.convert.hf_bitnet).

In: random ternary tensors (N not a multiple of 4, zero rows, size-1 dims, rank 1 to 3) written to
real files in tmp_path, files laid out as transformers' checkpoints are (BF16 scales, no metadata), and
corrupted ones. Out: assertions that the packing is transformers' (its documented example, and a port
of its unpack loop), that ours -> hf-bitnet -> ours is bit-exact in both scale conventions, and that
what one `weight_scale` cannot hold, or a corrupt file, is refused naming the file and the tensor.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from convert_support import RNG, assert_same, bf16_bytes, raw_safetensors, transformers_unpack, trits
from hypothesis import given, settings
from hypothesis import strategies as st

from triton_dsl import TernaryTensor, WeightsFileError, load_weights, save_weights
from triton_dsl.convert import convert, detect_format
from triton_dsl.convert.hf_bitnet import pack_axis0, unpack_axis0


def test_bitnet_unpack_matches_the_transformers_docstring_example():
    """transformers/integrations/bitnet.py, `unpack_weights`: its worked example, value for value."""
    packed = np.array([[0b10100001, 0b00011000], [0b10010000, 0b00001010]], np.uint8)
    expected = [[0, -1], [-1, 1], [-1, 1], [-1, 1], [1, 0], [0, -1], [1, -1], [1, -1]]
    assert (unpack_axis0(packed).astype(np.int8) - 1).tolist() == expected


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


def test_hf_bitnet_checkpoint_from_transformers_with_bf16_scales(tmp_path: Path):
    """A file as transformers' BitNet checkpoints are: no triton_dsl metadata, BF16 scale and norms."""
    t = trits((8, 6))
    packed = pack_axis0(t)
    path = tmp_path / "model.safetensors"
    raw_safetensors(path, {
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


def test_corrupt_hf_bitnet_files_are_refused_by_name(tmp_path: Path):
    packed = pack_axis0(trits((6, 4)))  # N = 6: the last 2 rows of slab 3 are padding
    meta = {"format": "pt", "triton_dsl.hf_bitnet": json.dumps({"weight_scale": "divide",
                                                                "shapes": {"w": [6, 4]}})}
    bad_code = packed.copy()
    bad_code[0, 0] |= 0b11
    raw_safetensors(tmp_path / "code3.safetensors", {"w": ("U8", packed.shape, bad_code.tobytes()),
                                                      "w_scale": ("F32", (1,), np.float32([1]).tobytes())},
                     metadata=meta)
    with pytest.raises(WeightsFileError, match=r"code3\.safetensors.*'w' is corrupt: it holds code 3"):
        convert(tmp_path / "code3.safetensors", tmp_path / "o.safetensors", "ours")
    bad_pad = packed.copy()
    bad_pad[1, 0] &= 0b00111111  # row 3*2+1 = 7 >= N: padding made -1
    raw_safetensors(tmp_path / "pad.safetensors", {"w": ("U8", packed.shape, bad_pad.tobytes()),
                                                    "w_scale": ("F32", (1,), np.float32([1]).tobytes())},
                     metadata=meta)
    with pytest.raises(WeightsFileError, match=r"pad\.safetensors.*padding rows after row 6"):
        convert(tmp_path / "pad.safetensors", tmp_path / "o.safetensors", "ours")
    raw_safetensors(tmp_path / "shape.safetensors", {"w": ("U8", (3, 4), packed[:1].repeat(3, 0).tobytes()),
                                                      "w_scale": ("F32", (1,), np.float32([1]).tobytes())},
                     metadata=meta)
    with pytest.raises(WeightsFileError, match=r"shape\.safetensors.*does not match its recorded shape"):
        convert(tmp_path / "shape.safetensors", tmp_path / "o.safetensors", "ours")
    good = tmp_path / "good.safetensors"
    raw_safetensors(good, {"w": ("U8", packed.shape, packed.tobytes()),
                            "w_scale": ("F32", (1,), np.float32([1]).tobytes())}, metadata=meta)
    (tmp_path / "cut.safetensors").write_bytes(good.read_bytes()[:-3])
    with pytest.raises(WeightsFileError, match=r"cut\.safetensors.*truncated or corrupt"):
        convert(tmp_path / "cut.safetensors", tmp_path / "o.safetensors", "ours")
    assert not (tmp_path / "o.safetensors").exists()


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


@settings(max_examples=60, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_bitnet_pack_round_trips(shape: list[int], seed: int):
    t = np.random.default_rng(seed).integers(-1, 2, size=shape).astype(np.int8)
    packed = pack_axis0(t)
    assert packed.shape == ((shape[0] + 3) // 4, *shape[1:])
    codes = unpack_axis0(packed)
    assert np.array_equal(codes[:shape[0]].astype(np.int8) - 1, t) and (codes[shape[0]:] == 1).all()
