"""`%load_ext triton_dsl` in a real IPython kernel: a small notebook executed with nbclient (the kernel is
a subprocess sharing the suite's compile cache through the inherited environment)."""

from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

CELLS = [
    "%load_ext triton_dsl",
    "%%triton\nfn double(a: Tensor<float32, [?]>) -> Tensor<float32, [?]> {\n    return a * 2.0\n}\n"
    "let base = tensor([1.0, 2.0, 3.0])",
    "import numpy as np\ndouble(np.array([1.0, 2.5], np.float32)).tolist()",
    "%triton double(base) + 1.0",
    "x = np.array([0.5, -4.0], np.float32)\ny = %triton double(x)\ny.tolist()",
    "%%triton\nlet bad = base + undefined_name",
    "%%triton\nlet i = 9\nbase[i]",
    "%triton sum(base)",
    "from triton_dsl import TernaryTensor\nTernaryTensor.from_numpy(np.array([[1, 0], [-1, 0]], np.int8), "
    "scale=0.5)",
    '%%triton\nprint(f"base sums to {sum(base):.1f}")\nprint(base * 2.0)',
    # objects: a cell's struct binding is the same object in later cells and in Python (a handle)
    "%%triton\nstruct P {\n    x: float32\n    xs: [int32, ...]\n}\nfn bump(p: P) {\n    p.x = p.x + 1.0\n}\n"
    "let p = P(x=1.0, xs=[1])",
    "h = %triton p\nh",
    "%%triton\nh.x = 5.0\nh.xs.append(2)",
    "bump(h)\n%triton p",
]


def _text(cell) -> tuple[str, str, dict]:
    """(stdout+result text, stderr, the result's data) of an executed cell."""
    out, err, data = [], [], {}
    for o in cell.outputs:
        if o.output_type == "stream":
            (err if o.name == "stderr" else out).append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            data = dict(o.data)
            out.append(o.data.get("text/plain", ""))
        elif o.output_type == "error":
            raise AssertionError(f"cell raised {o.ename}: {o.evalue}")
    return "".join(out), "".join(err), data


def test_notebook_magics() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3")
    client.execute()
    results = [_text(c) for c in nb.cells]
    assert results[1][:2] == ("", "")
    assert results[2][0] == "[2.0, 5.0]"
    assert results[3][0] == "array([3., 5., 7.], dtype=float32)"
    assert results[4][0] == "[1.0, -8.0]"  # a notebook variable read by name
    out, err, _ = results[5]
    assert out == ""
    assert "<cell-" in err and "error[E0201]: cannot find `undefined_name` in this scope" in err
    assert "1 | let bad = base + undefined_name\n  |                  ^^^^^^^^^^^^^^" in err
    assert "runtime error: index 9 is out of bounds for axis 0 with size 3" in results[6][1]
    assert results[7][0] == "np.float32(6.0)"  # the session survived both errors (a rank-0 result)
    out, _, data = results[8]
    assert out.startswith("TernaryTensor(shape=(2, 2)") and "zeros=50.0%" in out
    assert "<table>" in data["text/html"] and "0: 2 (50.0%)" in data["text/html"]
    assert results[9][:2] == ("base sums to 6.0\n[2. 4. 6.]\n", "")  # the program's output is the cell's
    assert results[10][:2] == ("", "")
    assert results[11][:2] == ("P(x=1.0, xs=[1])", "")  # a handle shows a copy of the object
    assert results[12][:2] == ("", "")  # the notebook variable `h` is the object `p` names
    assert results[13][:2] == ("P(x=6.0, xs=[1, 2])", "")  # and a Python call given `h` changes it too
