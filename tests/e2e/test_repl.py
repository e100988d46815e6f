"""`tritonc repl` driven as a user drives it: a real pseudo-terminal (pexpect, prompt_toolkit on the other
side) and a script on stdin. Both run the installed program in a subprocess sharing the suite's compile
cache (`TRITON_DSL_CACHE_DIR`, set by conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from triton_dsl import TernaryTensor, save_weights

pexpect = pytest.importorskip("pexpect")

TIMEOUT = 60  # a cold cache compiles the runtime parts the entries use
PROMPT = ">>>"  # prompt_toolkit draws the space after it as a cursor move


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env["PROMPT_TOOLKIT_NO_CPR"] = "1"  # pexpect does not answer cursor-position requests
    env["TERM"] = "xterm"
    env.pop("NO_COLOR", None)
    return env


def _script(text: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "triton_dsl", "repl", *args], input=text, text=True,
                          capture_output=True, env=_env(tmp_path), timeout=TIMEOUT)


def test_terminal_session(tmp_path: Path) -> None:
    child = pexpect.spawn(sys.executable, ["-m", "triton_dsl", "repl"], env=_env(tmp_path),
                          encoding="utf-8", timeout=TIMEOUT, dimensions=(40, 120))
    try:
        child.expect("REPL")
        child.expect(PROMPT)
        child.send("let x = tensor([1.0, 2.0, 3.0])\r")
        child.expect(r"\x1b\[0;38;5;\d+(;1)?mlet")  # highlighted: the keyword is drawn in a colour
        child.expect(PROMPT)
        # a multi-line function: Enter inside an open brace continues the entry
        child.send("fn f(a: Tensor<float32, [3]>) -> float32 {\r")
        child.expect(r"\.\.\.")
        child.send("    return sum(a * a)\r")
        child.send("}\r")
        child.expect(PROMPT)
        child.send("f(x) + 1.0\r")
        child.expect("15.0")
        # a run-time error shows the entry's line with a caret, and the session goes on
        child.send("let i = 7\r")
        child.expect(PROMPT)
        child.send("x[i]\r")
        child.expect(r"<repl-\d+>:1:1: runtime error: index 7 is out of bounds")
        child.expect(r"\^")
        child.send("f(x) * 3.0\r")
        child.expect("42.0")
        child.send(":type x > 1.5\r")
        child.expect(r"Tensor<bool, \[3\]>")
        child.send(":asm f\r")
        child.expect("tdsl.f:")
        child.expect("ret")
        child.expect(PROMPT)
        # history recall: Up goes back past `:asm f` and `:type` to `f(x) * 3.0`
        child.send("\x1b[A\x1b[A\x1b[A\r")
        child.expect("42.0")
        # Ctrl-C drops a half-typed entry: what follows is a fresh entry
        child.send("let z = (1 +")
        child.send("\x03")
        child.expect(PROMPT)
        child.send("20 + 3\r")
        child.expect("23")
        child.expect(PROMPT)
        # Ctrl-C while an entry runs: reported when the native call returns; the session goes on
        child.send("fn spin(n: int32) -> float32 {\r    let acc = 0.0\r    let i = 0\r    while i < n {\r"
                   "        acc = acc * 0.999 + 1.0\r        i = i + 1\r    }\r    return acc\r}\r")
        child.expect(PROMPT)
        child.send("spin(400000000)\r")
        time.sleep(0.3)
        child.send("\x03")
        child.expect("interrupted: native code cannot be stopped midway")
        child.expect(PROMPT)
        # Tab completes a name in scope
        child.send("let longname_value = 41\r")
        child.expect(PROMPT)
        child.send("longname_v\t")
        child.send(" + 1\r")
        child.expect("42")
        child.expect(PROMPT)
        child.sendeof()  # Ctrl-D leaves
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    history = (tmp_path / "state" / "triton_dsl" / "history").read_text(encoding="utf-8")
    assert "+fn f(a: Tensor<float32, [3]>) -> float32 {\n+    return sum(a * a)\n+}" in history
    assert "+f(x) * 3.0" in history


SCRIPT = """\
let x = tensor([1.0, 2.0, 3.0])
x * 2.0
fn f(a: Tensor<float32, [3]>) -> float32 {
    return sum(a * a)
}
f(x)
let y = undefined + 1
let n = 4
x[n]
n = n + 1
n
:type f(x)
"hello"
"""


def test_script_on_stdin(tmp_path: Path) -> None:
    proc = _script(SCRIPT, tmp_path)
    assert proc.stdout == "[2. 4. 6.]\n: Tensor<float32, [3]>\n14.0\n5\nfloat32\nhello\n"
    assert proc.stderr.splitlines()[:4] == [
        "<repl-5>:1:9: error[E0201]: cannot find `undefined` in this scope",
        "  |",
        "1 | let y = undefined + 1",
        "  |         ^^^^^^^^^",
    ]
    assert "<repl-7>:1:1: runtime error: index 4 is out of bounds for axis 0 with size 3" in proc.stderr
    assert proc.returncode == 1  # a script with errors fails, after running every entry


def test_script_without_errors_and_load(tmp_path: Path) -> None:
    lib = tmp_path / "lib.triton"
    lib.write_text("fn double(a: Tensor<float32, [?]>) -> Tensor<float32, [?]> {\n    return a * 2.0\n}\n"
                   "let base = tensor([0.5, 1.5])\n", encoding="utf-8")
    proc = _script(f":load {lib}\ndouble(tensor([1.0, -2.0]))\n:ir double\n:llvm double\n:reset\ndouble\n",
                   tmp_path)
    lines = proc.stdout.splitlines()
    assert lines[:3] == ["[ 2. -4.]", ": Tensor<float32, [?]>",
                         "func @double(%a.0: tensor<f32, 1>) -> tensor<f32, 1> public {"]
    assert any(line.startswith("define ptr @tdsl.double(ptr %ctx") for line in lines)
    assert lines[-1] == "session reset"
    assert "cannot find `double`" in proc.stderr  # :reset forgot it
    proc = _script(":load /nonexistent/x.tri\n:frobnicate\n:type\n", tmp_path)
    assert proc.stderr.splitlines() == ["error: cannot read /nonexistent/x.tri: No such file or directory",
                                        "error: unknown command ':frobnicate' (see :help)",
                                        "error: :type needs an argument (see :help)"]
    assert proc.returncode == 1
    proc = _script("let a = 2\nlet b = a * 21\nb\n", tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "42\n", "")


def test_help_lists_repl(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "triton_dsl", "--help"], capture_output=True, text=True,
                          env=_env(tmp_path), timeout=TIMEOUT)
    assert proc.returncode == 0
    assert "repl" in proc.stdout and "interactive session" in proc.stdout


def test_summary_of_bindings_and_files(tmp_path: Path) -> None:
    """`:summary` tabulates the session's tensor bindings (real packed bytes), or a file."""
    weights = tmp_path / "w.safetensors"
    trits = np.array([[1, 0, -1, 0], [0, 0, 1, 1]], np.int8)
    save_weights(weights, {"w": TernaryTensor.from_numpy(trits, 0.5)})
    proc = _script(":summary\nlet t = ternary_quantize(tensor([[1.0, -1.0, 0.0, 0.0]]), threshold=0.5)\n"
                   f"let x = ones([2, 8])\n:summary\n:summary {weights}\n:summary {tmp_path / 'none'}\n",
                   tmp_path)
    assert proc.stdout.splitlines() == [
        "weights <dict> (ours)",
        "name  shape   dtype    params  bytes  bits/param  zeros  scale",
        "----  ------  -------  ------  -----  ----------  -----  ------",
        "t     [1, 4]  trit          4      5       10.00  50.0%  tensor",
        "x     [2, 8]  float32      16     64       32.00   0.0%  -",
        "2 tensors (1 ternary), 20 parameters, 69 bytes stored",
        "float32 would take 80 bytes: 1.16x smaller (27.60 bits per parameter)",
        f"weights {weights} (ours)",
        "name  shape   dtype  params  bytes  bits/param  zeros  scale",
        "----  ------  -----  ------  -----  ----------  -----  ------",
        "w     [2, 4]  trit        8      6        6.00  50.0%  tensor",
        "1 tensor (1 ternary), 8 parameters, 6 bytes stored",
        "float32 would take 32 bytes: 5.33x smaller (6.00 bits per parameter)",
    ]
    assert proc.stderr.splitlines() == [
        "error: no tensor bindings to summarize (`:summary FILE` for a file)",
        f"error: weights file '{tmp_path / 'none'}': cannot read: No such file or directory"]
    assert proc.returncode == 1


OBJECTS_SCRIPT = """\
trait Quantizer {
    fn quantize(self, x: float32) -> float32
}
struct Plus {
    k: float32
    hist: [float32, ...]
    fn quantize(self, x: float32) -> float32 {
        self.hist.append(x)
        return x + self.k
    }
}
struct Twice {
    fn quantize(self, x: float32) -> float32 { return x * 2.0 }
}
let p = Plus(k=1.0, hist=[])
let alias = p
alias.k = 5.0
p
let qs: [Quantizer, ...] = [Twice(), p]
qs[1].quantize(2.0)
p.hist
qs.append(Plus(k=0.5, hist=[]))
fn run_all(qs: [Quantizer, ...], x: float32) -> float32 {
    let acc = x
    for q in qs {
        acc = q.quantize(acc)
    }
    return acc
}
run_all(qs, 1.0)
alias.hist
main {
    alias.k = 0.0
    let gone = qs.pop()
    let bad = qs[7]
}
length(qs)
p.k
gone
:reset
p
"""


def test_script_keeps_objects_between_entries(tmp_path: Path) -> None:
    """Struct, list and trait-object bindings are the same objects in every later entry: an alias's
    field assignment, a method appending to a field, a list of trait objects dispatching, printing in the
    language's form; an entry failing at run time keeps the changes it made to objects, not its bindings;
    `:reset` forgets them."""
    proc = _script(OBJECTS_SCRIPT, tmp_path)
    assert proc.stdout.splitlines() == [
        "Plus(k=5.0, hist=[])",
        "7.0",
        "[2.0]",
        "7.5",  # Twice: 2.0, p: 7.0 (recording 2.0), the new Plus: 7.5
        "[2.0, 2.0]",
        "2",  # the failed entry's pop and field assignment happened before the error; `gone` is not kept
        "0.0",
        "session reset",
    ]
    assert "runtime error: list index 7 is out of range for a list of length 2" in proc.stderr
    assert "<repl-18>:1:1: error[E0201]: cannot find `gone` in this scope" in proc.stderr
    assert "cannot find `p`" in proc.stderr
    assert not [line for line in proc.stderr.splitlines() if line.startswith("note:")]  # none dropped
    assert proc.returncode == 1
