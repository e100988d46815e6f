"""Weight files: `save_weights` / `load_weights` round trips and every way a file can be bad.

In: dicts of numpy arrays and `TernaryTensor`s (all scale kinds, rank 0..3, empty). Out: bit-exact
round trips, a plain safetensors layout readable by the `safetensors` package, atomic replacement,
and `WeightsFileError` (naming the file) for truncated, corrupt or inconsistent files.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from triton_dsl import TernaryTensor, TritonRuntimeError, WeightsFileError, load_weights, save_weights


def sample_weights() -> dict:
    rng = np.random.default_rng(21)
    trits = rng.integers(-1, 2, size=(6, 37)).astype(np.int8)
    return {
        "layer1.w": TernaryTensor.from_numpy(trits, scale=0.125),
        "layer1.b": rng.standard_normal(6).astype(np.float32),
        "layer2.w": TernaryTensor.from_numpy(rng.integers(-1, 2, size=(4, 3, 9)).astype(np.int8),
                                             scale=rng.uniform(0.1, 2, 4).astype(np.float32)),
        "asym": TernaryTensor.quantize(rng.standard_normal(257).astype(np.float32), 0.3, 1.0),
        "asym2": TernaryTensor.from_numpy(rng.integers(-1, 2, size=5).astype(np.int8), scale=(0.7, 1.3)),
        "scalar": TernaryTensor.from_numpy(np.int8(-1), scale=3.0),
        "empty": TernaryTensor.from_numpy(np.zeros((0, 5), np.int8)),
        "counts": np.arange(12, dtype=np.int64).reshape(3, 4),
        "f64": np.array(2.5),
    }


def assert_same(loaded: dict, original: dict) -> None:
    assert set(loaded) == set(original)
    for name, value in original.items():
        got = loaded[name]
        if isinstance(value, TernaryTensor):
            assert isinstance(got, TernaryTensor) and got.equals(value), name
            np.testing.assert_array_equal(got.to_numpy(), value.to_numpy())
        else:
            assert got.dtype == value.dtype and got.shape == value.shape, name
            assert got.tobytes() == value.tobytes(), name


def test_round_trip_is_bit_exact(tmp_path: Path) -> None:
    weights = sample_weights()
    path = tmp_path / "model.safetensors"
    save_weights(path, weights)
    assert_same(load_weights(path), weights)
    assert_same(load_weights(str(path)), weights)


def test_file_is_plain_safetensors_with_documented_layout(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    trits = np.array([[-1, 0, 1, 1], [1, -1, 0, 0]], np.int8)
    w = TernaryTensor.from_numpy(trits, scale=np.array([2.0, 4.0]))
    save_weights(path, {"w": w})
    raw = load_file(path)
    assert set(raw) == {"w", "w.scales"}
    assert raw["w"].dtype == np.uint8 and raw["w"].tolist() == [[0xA4], [0x52]]
    assert raw["w.scales"].dtype == np.float32 and raw["w.scales"].tolist() == [2.0, 4.0]
    size = int.from_bytes(path.read_bytes()[:8], "little")
    meta = json.loads(path.read_bytes()[8:8 + size])["__metadata__"]
    assert json.loads(meta["triton_dsl.ternary"]) == {"w": {
        "layout": "triton_dsl.ternary2", "shape": [2, 4], "scale_kind": "channel", "scales": "w.scales"}}


def test_files_without_ternary_metadata_load_as_arrays(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    save_file({"a": np.ones((2, 2), np.float32)}, path)
    loaded = load_weights(path)
    assert list(loaded) == ["a"] and loaded["a"].tolist() == [[1, 1], [1, 1]]


def test_save_replaces_atomically_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(path, {"x": np.zeros(3, np.float32)})
    save_weights(path, {"y": np.ones(2, np.int8)})
    assert list(load_weights(path)) == ["y"]
    assert os.listdir(tmp_path) == ["w.safetensors"]
    # A failed save (unstorable value) leaves the previous file intact and no temporary file.
    with pytest.raises(TypeError, match="'bad' must be a numpy array or a TernaryTensor"):
        save_weights(path, {"bad": [1, 2, 3]})
    with pytest.raises(WeightsFileError, match="cannot encode"):
        save_weights(path, {"obj": np.array([object()])})
    assert list(load_weights(path)) == ["y"] and os.listdir(tmp_path) == ["w.safetensors"]


def test_scales_name_collision_is_refused(tmp_path: Path) -> None:
    t = TernaryTensor.from_numpy(np.zeros(4, np.int8))
    with pytest.raises(ValueError, match="'w.scales'"):
        save_weights(tmp_path / "w.safetensors", {"w": t, "w.scales": np.zeros(1, np.float32)})


def test_missing_and_unwritable_paths(tmp_path: Path) -> None:
    missing = tmp_path / "nope.safetensors"
    with pytest.raises(WeightsFileError, match="nope.safetensors.*cannot read") as info:
        load_weights(missing)
    assert info.value.path == str(missing) and isinstance(info.value, TritonRuntimeError)
    with pytest.raises(WeightsFileError, match="cannot create"):
        save_weights(tmp_path / "no_dir" / "w.safetensors", {"a": np.zeros(1)})


def test_truncated_files_are_errors_at_every_length(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    save_weights(good, sample_weights())
    data = good.read_bytes()
    bad = tmp_path / "bad.safetensors"
    for n in sorted({0, 1, 7, 8, 9, 40, len(data) // 2, len(data) - 1}):
        bad.write_bytes(data[:n])
        with pytest.raises(WeightsFileError, match="bad.safetensors"):
            load_weights(bad)


def test_garbage_files_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "junk.safetensors"
    rng = np.random.default_rng(5)
    header = b'{"w": {"dtype": "U8", "shape": [4], "data_offsets": [0, 400]}}'
    blobs = [rng.bytes(1000), (10**12).to_bytes(8, "little") + b"{}",
             len(header).to_bytes(8, "little") + header + b"1234",  # data shorter than declared
             (3).to_bytes(8, "little") + b"\xff\xfe{", (2).to_bytes(8, "little") + b"[]"]
    for blob in blobs:
        path.write_bytes(blob)
        with pytest.raises(WeightsFileError, match="junk.safetensors"):
            load_weights(path)


def rewrite(path: Path, edit) -> None:
    """Re-save a file's raw entries with edited metadata/entries, bypassing save_weights' checks."""
    size = int.from_bytes(path.read_bytes()[:8], "little")
    meta = json.loads(path.read_bytes()[8:8 + size])["__metadata__"]
    ternary = json.loads(meta["triton_dsl.ternary"])
    entries = load_file(path)
    edit(ternary, entries)
    save_file(entries, path, metadata={"triton_dsl.ternary": json.dumps(ternary)})


@pytest.mark.parametrize("edit,message", [
    (lambda t, e: t["w"].update(layout="other.format1"), "layout 'other.format1'"),
    (lambda t, e: e.pop("w.scales"), "missing its scales entry 'w.scales'"),
    (lambda t, e: e.pop("w"), "no packed data entry"),
    (lambda t, e: t["w"].update(shape=[3, 9]), r"needs packed bytes of shape \(3, 3\)"),
    (lambda t, e: t["w"].update(shape="2x7"), "invalid shape"),
    (lambda t, e: t["w"].update(scale_kind="block"), "unknown scale kind 'block'"),
    (lambda t, e: t["w"].update(scale_kind="asymmetric"), "kind 'asymmetric' needs 2 scale value.*found 1"),
    (lambda t, e: e.update({"w.scales": np.ones(1, np.float64)}), "float32"),
    (lambda t, e: e.update({"w.scales": np.array([np.nan], np.float32)}), "finite"),
    (lambda t, e: e["w"].__setitem__((0, 0), 0xFF), "corrupt"),
    (lambda t, e: e["w"].__setitem__((1, 1), 0x95), "corrupt"),  # padding of a 7-element row
])
def test_inconsistent_files_are_errors(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "w.safetensors"
    save_weights(path, {"w": TernaryTensor.from_numpy(np.zeros((2, 7), np.int8), scale=0.5)})
    rewrite(path, edit)
    with pytest.raises(WeightsFileError, match=message) as info:
        load_weights(path)
    assert "w.safetensors" in str(info.value)


def test_unreadable_metadata_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    save_file({"w": np.zeros(1, np.uint8)}, path, metadata={"triton_dsl.ternary": "{not json"})
    with pytest.raises(WeightsFileError, match="unreadable ternary metadata"):
        load_weights(path)
    save_file({"w": np.zeros(1, np.uint8)}, path, metadata={"triton_dsl.ternary": "[1, 2]"})
    with pytest.raises(WeightsFileError, match="not an object"):
        load_weights(path)


def test_saved_files_get_the_mode_open_would_give(tmp_path: Path) -> None:
    """mkstemp makes 0600 files; a weights file must be as readable as any file the user writes."""
    old = os.umask(0o022)
    try:
        save_weights(tmp_path / "w.safetensors", {"a": np.zeros(3, np.float32)})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "w.safetensors").stat().st_mode) == 0o644
