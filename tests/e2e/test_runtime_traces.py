"""A run-time error inside a called function reports the call chain: the innermost location, then one
`called from here` note per call site it unwound through, innermost first — through `tritonc run` (with
source lines and carets, stdlib sources included) and through the Python API (`TritonRuntimeError.frames`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_api_error_memory import _fail_many, rss_bytes

from triton_dsl import TritonRuntimeError, api
from triton_dsl.cli import main

QUANTIZE = """main {
    let w = randn([4, 8])
    let q = adaptive_threshold_quantize(w, percentile=1.5)
    print(q)
}
"""
SCALE_ROWS = """fn scale_rows(x: Tensor<float32, [?, ?]>, s: Tensor<float32, [?]>) -> Tensor<float32, [?, ?]>\
 {
    return x * s
}
main {
    let y = scale_rows(randn([4, 8]), randn([7]))
    print(y)
}
"""
NAMED_DIM = """fn add(a: Tensor<float32, [n]>, b: Tensor<float32, [n]>) -> Tensor<float32, [n]> {
    return a + b
}
fn make(k: int32) -> Tensor<float32, [?]> {
    return randn([k])
}
main {
    let s = add(make(5), make(7))
    print(s)
}
"""
CHAIN = """fn g(x: Tensor<float32, [?]>, k: int32) -> float32 {
    return x[k]
}
fn f(x: Tensor<float32, [?]>, k: int32) -> float32 {
    let y = x * 2.0
    return g(y, k) + 1.0
}
main {
    print(f(randn([3]), 10))
}
"""


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TRITON_DSL_CACHE_DIR", str(tmp_path / "cache"))


def run_failing(tmp_path: Path, capsys, text: str) -> tuple[str, list[str]]:
    path = tmp_path / "prog.triton"
    path.write_text(text)
    assert main(["run", str(path)]) == 1
    return str(path), capsys.readouterr().err.splitlines()


def test_stdlib_error_shows_the_stdlib_line_and_the_users_call(tmp_path, capsys):
    path, lines = run_failing(tmp_path, capsys, QUANTIZE)
    assert lines[0] == ("stdlib/quantize.triton:142:9: runtime error: "
                        "percentile must be a fraction in 0..1, got 1.5")
    assert lines[2].startswith("142 |") and "panic(" in lines[2] and lines[3] == "    |         ^"
    notes = [line for line in lines if "note: called from here" in line]
    assert notes[-1] == f"{path}:3:13: note: called from here"
    at = lines.index(notes[-1])
    assert lines[at + 2] == "3 |     let q = adaptive_threshold_quantize(w, percentile=1.5)"
    assert lines[at + 3] == "  |             " + "^" * len("adaptive_threshold_quantize(w, percentile=1.5)")
    assert all(note.startswith("stdlib/quantize.triton:") for note in notes[:-1])


def test_user_function_error_notes_the_callers_line(tmp_path, capsys):
    path, lines = run_failing(tmp_path, capsys, SCALE_ROWS)
    assert lines[0] == f"{path}:2:12: runtime error: shape mismatch in `x * s`: [4, 8] vs [7]"
    assert lines[4] == f"{path}:5:13: note: called from here"
    assert lines[6] == "5 |     let y = scale_rows(randn([4, 8]), randn([7]))"
    assert len([line for line in lines if "note:" in line]) == 1


def test_named_dim_mismatch_notes_the_call(tmp_path, capsys):
    path, lines = run_failing(tmp_path, capsys, NAMED_DIM)
    assert lines[0].startswith(f"{path}:1:33: runtime error: shape mismatch")
    assert lines[4] == f"{path}:8:13: note: called from here"
    assert lines[7] == "  |             " + "^" * len("add(make(5), make(7))")


def test_two_level_chain_lists_both_call_sites_innermost_first(tmp_path, capsys):
    path, lines = run_failing(tmp_path, capsys, CHAIN)
    assert lines[0] == f"{path}:2:12: runtime error: index 10 is out of bounds for axis 0 with size 3"
    notes = [line for line in lines if "note:" in line]
    assert notes == [f"{path}:6:12: note: called from here", f"{path}:9:11: note: called from here"]


@pytest.mark.parametrize("text, where, frames", [
    (SCALE_ROWS, ("t.triton", 2, 12), [("t.triton", 5, 13)]),
    (NAMED_DIM, ("t.triton", 1, 33), [("t.triton", 8, 13)]),
    (CHAIN, ("t.triton", 2, 12), [("t.triton", 6, 12), ("t.triton", 9, 11)]),
])
def test_api_error_carries_the_frames(text, where, frames):
    m = api.compile(text, name="t.triton", cache=False)
    for _ in range(2):  # a second failure starts from an empty trace
        with pytest.raises(TritonRuntimeError) as info:
            m.run_main()
        err = info.value
        assert (err.file, err.line, err.col) == where
        assert err.frames == frames
        notes = [f"{file}:{line}:{col}: note: called from here" for file, line, col in frames]
        assert str(err).splitlines()[1:] == notes


def test_api_stdlib_frames_end_at_the_users_call():
    m = api.compile(QUANTIZE, name="q.triton", cache=False)
    with pytest.raises(TritonRuntimeError) as info:
        m.run_main()
    assert (info.value.file, info.value.line, info.value.col) == ("stdlib/quantize.triton", 142, 9)
    assert info.value.frames[-1] == ("q.triton", 3, 13)


def test_direct_api_call_has_no_frames_and_deep_traces_are_capped():
    m = api.compile(CHAIN + """
fn deep(x: Tensor<float32, [?]>, n: int32) -> float32 {
    if n == 0 { return g(x, 10) }
    return deep(x, n - 1)
}
""", name="t.triton", cache=False)
    with pytest.raises(TritonRuntimeError) as info:
        m.g(np.ones(3, np.float32), 10)
    assert info.value.frames == []
    with pytest.raises(TritonRuntimeError) as info:
        m.deep(np.ones(3, np.float32), 40)
    assert len(info.value.frames) == 16
    assert info.value.frames[0] == ("t.triton", 13, 24) and info.value.frames[1] == ("t.triton", 14, 12)
    assert m.f(np.ones(3, np.float32), 1) == 3.0


def test_failing_chain_in_a_loop_keeps_memory_flat():
    m = api.compile(CHAIN, name="t.triton", cache=False)
    x = np.ones(4096, np.float32)
    _fail_many(m.f, (x, 99_999), 200)
    before = rss_bytes()
    message = _fail_many(m.f, (x, 99_999), 30_000)
    grown = rss_bytes() - before
    assert message.splitlines()[1:] == ["t.triton:6:12: note: called from here"]
    assert grown < 40 * 2**20, f"resident memory grew by {grown / 2**20:.1f} MiB"
