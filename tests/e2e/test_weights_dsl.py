"""Weight files from DSL programs: `save_weights(path, "name", t, ...)`, `load_tensor`, `load_ternary`.

Round trips between two separately compiled programs (packed bytes and scales bit-exact, float tensors
equal), interop with the Python `save_weights` / `load_weights` in both directions, run-time errors with
the call's `file:line:col` (missing or truncated file, unknown entry, wrong kind / dtype / rank), saves
that fail without leaving anything behind, and the ahead-of-time library reporting weight files as
unavailable.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import numpy as np
import pytest

import triton_dsl
from triton_dsl import TernaryTensor, load_weights, save_weights
from triton_dsl.cli import main

SAVER = """
fn quantize_tensor(w: Tensor<float32, [?, ?]>) -> TernaryTensor<trit, [?, ?]> {
    return ternarize(w, 0.5, -0.5, 0.25, 0.25)
}
fn quantize_channels(w: Tensor<float32, [?, ?]>, s: Tensor<float32, [?]>) -> TernaryTensor<trit, [?, ?]> {
    return ternarize(w, 0.3, -0.3, s, s)
}
fn save_all(path: str, w: Tensor<float32, [?, ?]>, b: Tensor<float64, [?]>, s: Tensor<float32, [?]>) {
    save_weights(path, "w", w, "b", b, "qt", quantize_tensor(w), "qc", quantize_channels(w, s),
                 "idx", int32(b * 10.0), "wt", w.T, "row", w[1])
}
"""

LOADER = """
fn load_w(path: str, name: str) -> Tensor<float32, [?, ?]> { return load_tensor(path, name, 2) }
fn load_row(path: str) -> Tensor<float32, [?]> { return load_tensor(path, "row", 1) }
fn load_b(path: str) -> Tensor<float64, [?]> { return load_tensor(path, "b", 1, dtype=float64) }
fn load_idx(path: str) -> Tensor<int32, [?]> { return load_tensor(path, "idx", 1, dtype=int32) }
fn load_q(path: str, name: str) -> TernaryTensor<trit, [?, ?]> { return load_ternary(path, name, 2) }
fn layer(path: str, name: str, x: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]> {
    return x @ load_ternary(path, name, 2)
}
"""


@pytest.fixture(scope="module")
def saver():
    return triton_dsl.compile(SAVER)


@pytest.fixture(scope="module")
def loader():
    return triton_dsl.compile(LOADER)


def sample(seed: int = 0):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((5, 11)).astype(np.float32)
    b = rng.standard_normal(7)
    s = (np.abs(rng.standard_normal(5)) + 0.1).astype(np.float32)
    return w, b, s


def assert_same_ternary(a: TernaryTensor, b: TernaryTensor) -> None:
    assert a.shape == b.shape and a.scale_kind == b.scale_kind
    assert a.packed.tobytes() == b.packed.tobytes()
    assert a.scales.tobytes() == b.scales.tobytes()


def test_dsl_round_trip_is_bit_exact(saver, loader, tmp_path):
    w, b, s = sample()
    path = str(tmp_path / "model.safetensors")
    saver.save_all(path, w, b, s)
    qt, qc = saver.quantize_tensor(w), saver.quantize_channels(w, s)
    assert qt.scale_kind == "tensor" and qc.scale_kind == "channel"
    np.testing.assert_array_equal(loader.load_w(path, "w"), w)
    np.testing.assert_array_equal(loader.load_w(path, "wt"), w.T)
    np.testing.assert_array_equal(loader.load_row(path), w[1])
    np.testing.assert_array_equal(loader.load_b(path), b)
    np.testing.assert_array_equal(loader.load_idx(path), (b * 10.0).astype(np.int32))
    assert_same_ternary(loader.load_q(path, "qt"), qt)
    assert_same_ternary(loader.load_q(path, "qc"), qc)
    # a layer run on the loaded packed weights equals one run on their value
    x = np.random.default_rng(1).standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_allclose(loader.layer(path, "qc", x), x @ qc.dequantize(), rtol=1e-5, atol=1e-5)


def test_file_written_by_dsl_reads_in_python(saver, tmp_path):
    w, b, s = sample(2)
    path = tmp_path / "model.safetensors"
    saver.save_all(str(path), w, b, s)
    weights = load_weights(path)
    assert sorted(weights) == ["b", "idx", "qc", "qt", "row", "w", "wt"]
    np.testing.assert_array_equal(weights["w"], w)
    assert weights["b"].dtype == np.float64 and weights["idx"].dtype == np.int32
    assert_same_ternary(weights["qc"], saver.quantize_channels(w, s))
    assert_same_ternary(weights["qt"], saver.quantize_tensor(w))


def test_file_written_by_python_loads_in_dsl(loader, tmp_path):
    rng = np.random.default_rng(3)
    trits = rng.integers(-1, 2, size=(4, 9)).astype(np.int8)
    per_channel = TernaryTensor.from_numpy(trits, scale=np.array([0.5, 1.0, 1.5, 2.0], np.float32))
    asymmetric = TernaryTensor.from_numpy(trits, scale=(0.75, 0.25))
    w = rng.standard_normal((3, 4)).astype(np.float32)
    path = str(tmp_path / "py.safetensors")
    save_weights(path, {"w": w, "pc": per_channel, "asym": asymmetric, "idx": np.arange(6, dtype=np.int32)})
    np.testing.assert_array_equal(loader.load_w(path, "w"), w)
    np.testing.assert_array_equal(loader.load_idx(path), np.arange(6, dtype=np.int32))
    for name, tt in (("pc", per_channel), ("asym", asymmetric)):
        assert_same_ternary(loader.load_q(path, name), tt)
    x = rng.standard_normal((2, 4)).astype(np.float32)
    expected = x @ per_channel.dequantize()
    np.testing.assert_allclose(loader.layer(path, "pc", x), expected, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------ errors


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.setenv("TRITON_DSL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # relative paths in programs are relative to the working directory
    save_weights("m.safetensors", {"w": np.ones((2, 3), np.float32),
                                   "q": TernaryTensor.from_numpy(np.ones((2, 4), np.int8), scale=0.5)})
    return tmp_path


def run_error(workdir: Path, statement: str) -> Path:
    """Run `main { <statement> }` with tritonc run: it must exit 1; returns the program's path."""
    prog = workdir / "prog.triton"
    prog.write_text(f"main {{\n    {statement}\n}}\n")
    assert main(["run", str(prog)]) == 1
    return prog


@pytest.mark.parametrize("statement,message", [
    ('let a = load_tensor("missing.safetensors", "w", 2)',
     "weights file 'missing.safetensors': cannot read: No such file or directory"),
    ('let a = load_tensor("m.safetensors", "v", 2)',
     "weights file 'm.safetensors' has no entry 'v' (entries: 'q', 'w')"),
    ('let a = load_ternary("m.safetensors", "w", 2)',
     "weights file 'm.safetensors': entry 'w' is Tensor<float32, [2, 3]>, but TernaryTensor<trit, [?, ?]> "
     "was requested"),
    ('let a = load_tensor("m.safetensors", "q", 2)',
     "entry 'q' is TernaryTensor<trit, [2, 4]>, but Tensor<float32, [?, ?]> was requested"),
    ('let a = load_tensor("m.safetensors", "w", 1)',
     "entry 'w' is Tensor<float32, [2, 3]>, but Tensor<float32, [?]> was requested"),
    ('let a = load_tensor("m.safetensors", "w", 2, dtype=int32)',
     "entry 'w' is Tensor<float32, [2, 3]>, but Tensor<int32, [?, ?]> was requested"),
])
def test_load_errors_name_the_call_file_and_entry(workdir, capsys, statement, message):
    prog = run_error(workdir, statement)
    err = capsys.readouterr().err
    assert f"{prog}:2:13: runtime error: " in err and message in err


def test_truncated_file_is_an_error(workdir, capsys):
    data = (workdir / "m.safetensors").read_bytes()
    for size in (4, 20, len(data) - 3):
        (workdir / "t.safetensors").write_bytes(data[:size])
        prog = run_error(workdir, 'let a = load_tensor("t.safetensors", "w", 2)')
        err = capsys.readouterr().err
        assert f"{prog}:2:13:" in err and "weights file 't.safetensors'" in err
        assert "truncated or corrupt" in err


def test_failed_save_into_a_missing_folder_leaves_nothing(workdir, capsys):
    prog = run_error(workdir, 'save_weights("no_such_dir/m.safetensors", "a", zeros([2]))')
    err = capsys.readouterr().err
    assert f"{prog}:2:5: runtime error: weights file 'no_such_dir/m.safetensors'" in err
    assert not (workdir / "no_such_dir").exists()


def test_failed_overwrite_keeps_the_existing_file(workdir, capsys):
    before = (workdir / "m.safetensors").read_bytes()
    # a ternary tensor's scales are stored as "<name>.scales": that name is taken, so the save fails
    prog = run_error(workdir, 'save_weights("m.safetensors", "k", zeros([3]), '
                              '"t", ternarize(ones([2, 2]), 0.5, -0.5), "t.scales", zeros([1]))')
    err = capsys.readouterr().err
    assert f"{prog}:2:5:" in err and "'t.scales'" in err
    assert (workdir / "m.safetensors").read_bytes() == before
    assert sorted(os.listdir(workdir)) == ["cache", "m.safetensors", "prog.triton"]


def test_save_weights_is_checked_at_compile_time(workdir, capsys):
    prog = workdir / "prog.triton"
    prog.write_text('let x = zeros([2])\nsave_weights("a.safetensors", "x", x, "x", x)\n'
                    'save_weights("a.safetensors", x)\nlet y = load_tensor("a.safetensors", "x", 9)\n')
    assert main(["run", str(prog)]) == 1
    err = capsys.readouterr().err
    assert 'the weight name "x" is given twice' in err and f"{prog}:2:39" in err
    assert "pairs of a name and a tensor" in err
    assert "argument 'rank' of `load_tensor` must be between 0 and 8" in err
    assert not (workdir / "a.safetensors").exists()


def test_ahead_of_time_library_reports_weight_files_unavailable(tmp_path):
    from triton_dsl.runtime.errors import Context

    prog = tmp_path / "aot.triton"
    prog.write_text('fn save_it() {\n    save_weights("aot.safetensors", "w", zeros([2]))\n}\n')
    out = tmp_path / "libaot.so"
    assert main(["build", str(prog), "--emit=shared", "-o", str(out)]) == 0
    lib = ctypes.CDLL(str(out))
    ctx = Context()
    assert lib.save_it(ctypes.byref(ctx)) != 0
    assert b"not available in an ahead-of-time build" in ctx.message and ctx.line == 2
    assert not (tmp_path / "aot.safetensors").exists()


def test_example_saves_loads_and_matches(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    example = Path(__file__).resolve().parents[2] / "examples" / "save_and_load.triton"
    assert main(["run", str(example)]) == 0
    out = capsys.readouterr().out
    assert "outputs match: true" in out
    assert sorted(load_weights(tmp_path / "layer.safetensors")) == ["bias", "weight"]


def test_repeated_saves_and_loads_keep_nothing_alive(tmp_path):
    import gc

    from triton_dsl.runtime import interop

    module = triton_dsl.compile("""
fn churn(path: str, n: int32) -> float32 {
    let total = 0.0
    for i in 0..n {
        let w = randn([8, 8])
        save_weights(path, "w", w, "q", ternarize(w, 0.5, -0.5, 0.3, 0.3))
        let back = load_tensor(path, "w", 2)
        let q = load_ternary(path, "q", 2)
        total = total + sum(back - w) + sum(trits(q))
    }
    return total
}
""")
    path = str(tmp_path / "churn.safetensors")
    module.churn(path, 2)  # warm up (compiles, caches)
    gc.collect()
    before = interop.borrowed_count()
    module.churn(path, 30)
    gc.collect()
    assert interop.borrowed_count() == before


def test_other_dtypes_and_rank_zero_round_trip(tmp_path):
    module = triton_dsl.compile("""
fn h(path: str) -> Tensor<float16, [?]> { return load_tensor(path, "h", 1, dtype=float16) }
fn flags(path: str) -> Tensor<bool, [?, ?]> { return load_tensor(path, "b", 2, dtype=bool) }
fn small(path: str) -> Tensor<int8, []> { return load_tensor(path, "i", 0, dtype=int8) }
fn big(path: str) -> Tensor<int64, [?]> { return load_tensor(path, "l", 1, dtype=int64) }
fn resave(path: str, out: str) {
    save_weights(out, "h", h(path), "b", flags(path), "i", small(path), "l", big(path))
}
""")
    weights = {"h": np.array([1.5, -2.0, 65504.0], np.float16), "b": np.array([[True, False, True]]),
               "i": np.array(-3, np.int8), "l": np.array([2**40, -1], np.int64)}
    src, out = str(tmp_path / "in.safetensors"), str(tmp_path / "out.safetensors")
    save_weights(src, weights)
    module.resave(src, out)
    back = load_weights(out)
    assert sorted(back) == sorted(weights)
    for name, array in weights.items():
        assert back[name].dtype == array.dtype and back[name].shape == array.shape
        assert back[name].tobytes() == array.tobytes()
