"""Top-level variables read (and assigned) by functions: a top-level `let model = Model(...)` used by a
function, mutated through a method, reassigned at the top level and from a function — every read sees
the current value; released when the top-level code ends. A function reading such a variable called
from Python before the top-level code ran is a clean run-time error."""

from __future__ import annotations

import pytest
from objects_support import run_program

from triton_dsl import api


def test_functions_read_and_assign_top_level_objects(tritonc, tmp_path):
    code, out, err = run_program(tritonc, tmp_path, """
struct Model {
    layers: [Tensor<float32, [?, ?]>, ...]
}
let model = Model(layers=[ones([2, 2]), ones([2, 2]) * 2.0])
let steps = 0
let log: [str, ...] = []
fn forward(x: Tensor<float32, [?, ?]>) -> Tensor<float32, [?, ?]> {
    let y = x
    for w in model.layers {
        y = y @ w
    }
    steps = steps + 1
    log.append(f"step {steps}")
    return y
}
print(forward(ones([1, 2])), steps)
model.layers.append(ones([2, 2]))
print(forward(ones([1, 2])), steps)
model = Model(layers=[])
print(forward(ones([1, 2])), steps, log)
""")
    assert (code, err) == (0, "")  # run_program: nothing is left allocated at the end
    assert out == "[[8. 8.]] 1\n[[16. 16.]] 2\n[[1. 1.]] 3 ['step 1', 'step 2', 'step 3']\n"


def test_reading_before_the_top_level_ran_is_an_error():
    m = api.compile("let names = [\"a\"]\nfn first() -> str {\n    return names[0]\n}\nprint(first())\n",
                    name="early.triton")
    with pytest.raises(Exception, match="`names` is read before the top-level `let names` ran") as info:
        m.first()
    assert "early.triton:3:12" in str(info.value)
