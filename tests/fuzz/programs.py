"""Program generators for the run-time fuzzers (tests/fuzz/test_run_fuzz.py, tests/fuzz/run_fuzz.py).

In: a `random.Random`. Out: `Case`s — one typed DSL function each (its source, its parameters, the
arguments to call it with) and, where one exists, a Python/numpy reference of what it must return — and
mutants of the seed and example programs. `evaluate` compiles a batch of cases as one module and calls
each function; `compare` is the oracle: exact equality (NaN equal to NaN) for the operations IEEE rounds
exactly (`+ - * /`, `sqrt`, `abs`, min/max, integer arithmetic with two's complement wrapping, saturating
float to int casts), and the same program at -O0, -O2 and at two ISA levels for everything else.

Generation is typed from the grammar's expression rules down: every generated function checks, so the
fuzzer spends its time in lowering, codegen and the runtime rather than in parse errors.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SEED_TEXTS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "tests" / "conformance" / "seed")
                                                            .glob("*.triton"))]
EXAMPLE_TEXTS = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.triton"))]

SHAPE = (4, 3)
INT_RANGE = {"int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1)}


@dataclass
class Case:
    """One generated function: `source` defines `name`; `args` are its Python arguments."""

    name: str
    source: str
    args: tuple
    reference: object = None       # the expected result (None: differential oracles only)
    kind: str = "tensor"
    text: str = ""                 # the expression, for reports
    notes: list = field(default_factory=list)


# ---------------------------------------------------------------- float tensor expressions


class _Float:
    """A random float32 expression over tensors a, b ([4, 3]), a row v ([3]) and a scalar s, with its
    numpy float32 value alongside (None when an operation without an exact reference was used)."""

    EXACT_UNARY = {"-": np.negative, "abs": np.abs, "sqrt_abs": lambda x: np.sqrt(np.abs(x))}
    APPROX_UNARY = ("exp", "tanh", "log_abs", "floor", "ceil", "round")
    BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide,
              "maximum": np.maximum, "minimum": np.minimum}

    def __init__(self, rng: random.Random, env: dict, exact_only: bool):
        self.rng, self.env, self.exact_only = rng, env, exact_only

    def leaf(self):
        r = self.rng.random()
        if r < 0.7:
            name = self.rng.choice(["a", "b", "v", "s"])
            return name, self.env[name]
        value = self.rng.choice([0.0, 1.0, -1.0, 0.5, 2.0, 3.25, 1e-3, 1e30, -7.0])
        text = repr(value)
        return (f"({text})" if value < 0 else text), np.float32(value)

    def expr(self, depth: int):
        if depth <= 0 or self.rng.random() < 0.25:
            return self.leaf()
        r = self.rng.random()
        if r < 0.3:
            ops = list(self.EXACT_UNARY) + ([] if self.exact_only else list(self.APPROX_UNARY))
            op = self.rng.choice(ops)
            text, value = self.expr(depth - 1)
            return self.unary(op, text, value)
        op = self.rng.choice(list(self.BINARY))
        (lt, lv), (rt, rv) = self.expr(depth - 1), self.expr(depth - 1)
        if op in ("maximum", "minimum"):
            return f"{op}({lt}, {rt})", _np(self.BINARY[op], lv, rv)
        return f"({lt} {op} {rt})", _np(self.BINARY[op], lv, rv)

    def unary(self, op: str, text: str, value):
        if op == "-":
            return f"(-{text})", _np(np.negative, value)
        if op == "abs":
            return f"abs({text})", _np(np.abs, value)
        if op == "sqrt_abs":
            return f"sqrt(abs({text}))", _np(lambda x: np.sqrt(np.abs(x)), value)
        if op == "log_abs":
            return f"log(abs({text}) + 1.0)", None
        return f"{op}({text})", None


def _np(fn, *values):
    if any(v is None for v in values):
        return None
    with np.errstate(all="ignore"):
        out = fn(*values)
    return out.astype(np.float32) if isinstance(out, np.ndarray) else np.float32(out)


def tensor_inputs(rng: random.Random) -> dict:
    nrng = np.random.default_rng(rng.randrange(2 ** 32))
    a = (nrng.standard_normal(SHAPE) * 3).astype(np.float32)
    b = (nrng.standard_normal(SHAPE) * 3).astype(np.float32)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, 3.4e38]
    for arr in (a, b):  # a few edge values in every input
        for _ in range(2):
            arr[nrng.integers(SHAPE[0]), nrng.integers(SHAPE[1])] = nrng.choice(special)
    v = (nrng.standard_normal(SHAPE[1]) * 2).astype(np.float32)
    s = np.float32(rng.choice([0.0, 1.5, -2.0, 1e-3, 7.0, float(nrng.standard_normal())]))
    return {"a": a, "b": b, "v": v, "s": s}


def gen_tensor_case(rng: random.Random, index: int, exact_only: bool | None = None) -> Case:
    env = tensor_inputs(rng)
    exact = rng.random() < 0.7 if exact_only is None else exact_only
    gen = _Float(rng, env, exact)
    text, value = gen.expr(rng.randint(1, 5))
    name = f"t{index}"
    reduce = rng.random() < 0.25
    # `+ zeros([4, 3])`: a scalar- or row-valued expression broadcasts to the result's shape
    body = f"sum({text} + zeros([4, 3]))" if reduce else f"{text} + zeros([4, 3])"
    ret = "float32" if reduce else "Tensor<float32, [4, 3]>"
    source = (f"fn {name}(a: Tensor<float32, [4, 3]>, b: Tensor<float32, [4, 3]>, v: Tensor<float32, [3]>, "
              f"s: float32) -> {ret} {{\n    return {body}\n}}\n")
    ref = None
    if value is not None and not reduce:
        ref = np.broadcast_to(value, SHAPE).astype(np.float32)
    return Case(name, source, (env["a"], env["b"], env["v"], float(env["s"])), ref, "tensor", text)


# ---------------------------------------------------------------- integer scalar expressions


def _wrap(value: int, dtype: str) -> int:
    bits = 32 if dtype == "int32" else 64
    return (value + (1 << (bits - 1))) % (1 << bits) - (1 << (bits - 1))


class _Int:
    """A random integer expression over p, q (of `dtype`) with the value Python computes with the
    language's rules: wrapping `+ - *`, floor `//` and `%` (sign of the divisor), saturating
    `dtype(float)` casts; a literal must fit the dtype (E0311 otherwise, tested elsewhere)."""

    def __init__(self, rng: random.Random, dtype: str, env: dict):
        self.rng, self.dtype, self.env = rng, dtype, env

    def leaf(self):
        if self.rng.random() < 0.6:
            name = self.rng.choice(["p", "q"])
            return name, self.env[name]
        low, high = INT_RANGE[self.dtype]
        value = self.rng.choice([0, 1, 2, 7, 100, 65536, 2 ** 31 - 1, high, low + 1, 3])
        return (f"({value})" if value < 0 else str(value)), value

    def expr(self, depth: int):
        if depth <= 0 or self.rng.random() < 0.2:
            return self.leaf()
        r = self.rng.random()
        if r < 0.1:
            text, value = self.expr(depth - 1)
            low, high = INT_RANGE[self.dtype]
            if _constant(text) and not low <= -value <= high:
                return text, value  # negating the constant minimum overflows: E0311, not a test here
            return f"(-{text})", _wrap(-value, self.dtype)
        if r < 0.2:  # a float to int conversion, saturating
            text, value = self.expr(depth - 1)
            if _constant(text):  # literal arithmetic in a call has no integer context: int32, maybe E0311
                return text, value
            scale = self.rng.choice([0.5, 1.5, 1e10, -3.0])
            f = float(np.float64(value) * np.float64(scale))
            return f"{self.dtype}(float64({text}) * {scale!r})", _saturate(f, self.dtype)
        op = self.rng.choice(["+", "-", "*", "//", "%"])
        (lt, lv) = self.expr(depth - 1)
        if op in ("//", "%"):
            d = self.rng.choice([1, 2, 3, 7, 10, 1000])
            sign = self.rng.choice([1, -1])
            rt, rv = (f"({sign * d})" if sign < 0 else str(d)), sign * d
            if lv == INT_RANGE[self.dtype][0] and rv == -1:
                rt, rv = "3", 3
            q = lv // rv
            return f"({lt} {op} {rt})", _wrap(q if op == "//" else lv - q * rv, self.dtype)
        (rt, rv) = self.expr(depth - 1)
        value = {"+": lv + rv, "-": lv - rv, "*": lv * rv}[op]
        low, high = INT_RANGE[self.dtype]
        if _constant(lt) and _constant(rt) and not low <= value <= high:
            # a constant expression that overflows is a compile error (E0311): use a parameter instead
            rt, rv = "p", self.env["p"]
            value = {"+": lv + rv, "-": lv - rv, "*": lv * rv}[op]
        return f"({lt} {op} {rt})", _wrap(value, self.dtype)


def _constant(text: str) -> bool:
    """No parameter in it: the checker evaluates it (and refuses an overflow)."""
    return re.search(r"\b[pq]\b", text) is None


def _saturate(value: float, dtype: str) -> int:
    if math.isnan(value):
        return 0
    low, high = INT_RANGE[dtype]
    if value >= high:
        return high
    if value <= low:
        return low
    return int(value)


def gen_int_case(rng: random.Random, index: int) -> Case:
    dtype = rng.choice(["int32", "int64"])
    low, high = INT_RANGE[dtype]
    pick = [0, 1, -1, 5, -7, 12345, high, low, high // 3, low // 5]
    env = {"p": rng.choice(pick + [rng.randint(low, high)]), "q": rng.choice(pick + [rng.randint(-99, 99)])}
    text, value = _Int(rng, dtype, env).expr(rng.randint(1, 5))
    name = f"i{index}"
    source = f"fn {name}(p: {dtype}, q: {dtype}) -> {dtype} {{\n    return {text}\n}}\n"
    return Case(name, source, (env["p"], env["q"]), value, "int", text)


# ---------------------------------------------------------------- evaluation and the oracle


def evaluate(cases: list[Case], opt_level: int, cache: bool = False) -> dict[str, object]:
    """Compile the cases as one module (a case whose function does not compile is reported on its own)
    and call each: name -> result, or ("error", exception text) for a clean run-time error."""
    import triton_dsl

    module = triton_dsl.compile("".join(c.source for c in cases), opt_level=opt_level, cache=cache)
    out = {}
    for c in cases:
        try:
            out[c.name] = getattr(module, c.name)(*c.args)
        except (ValueError, ArithmeticError, RuntimeError) as exc:
            out[c.name] = ("error", f"{type(exc).__name__}: {exc}")
    return out


def same(x, y) -> bool:
    """Exact equality, NaN equal to NaN, -0.0 equal to 0.0 (numpy's comparison), arrays elementwise."""
    if isinstance(x, tuple) or isinstance(y, tuple):
        return x == y
    xa, ya = np.asarray(x), np.asarray(y)
    if xa.shape != ya.shape:
        return False
    if xa.dtype.kind == "f" or ya.dtype.kind == "f":
        return bool(np.array_equal(xa.astype(np.float64), ya.astype(np.float64), equal_nan=True))
    return bool(np.array_equal(xa, ya))


def compare(cases: list[Case], results: dict[str, dict[str, object]]) -> list[str]:
    """Disagreements, in words: every configuration must give the same result, and the reference."""
    problems = []
    configs = list(results)
    for c in cases:
        first = results[configs[0]][c.name]
        for cfg in configs[1:]:
            if not same(first, results[cfg][c.name]):
                problems.append(f"{c.name} ({c.text}): {configs[0]} gives {first!r} but {cfg} gives "
                                f"{results[cfg][c.name]!r}\n{c.source}")
        if c.reference is not None and not same(first, c.reference):
            problems.append(f"{c.name} ({c.text}): got {first!r}, the reference is {c.reference!r}; "
                            f"args {c.args!r}\n{c.source}")
    return problems


# ---------------------------------------------------------------- mutants of the seed and examples

TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_']*|\d+(?:\.\d+)?(?:e-?\d+)?|\"(?:[^\"\\\n]|\\.)*\"|\S")
NAMES = ["x", "w", "self", "trit", "float16", "int64", "None", "quantized", "sum", "stack", "unsqueeze",
         "dequantize", "ternary_quantize", "main", "print", "out_channels", "S", "Tensor", "numel",
         "TernaryTensor", "length", "range", "shape", "mean", "abs", "maximum", "reshape", "int32"]
NUMBERS = ["0", "1", "-1", "2", "7", "0.5", "1e-5", "784", "3", "-3", "100000", "2147483648",
           "9223372036854775807", "1e30", "0.0", "255", "8"]
STRINGS = ['"s"', '""', '"\\u{1F600}"', 'f"{x:>8.3f}"', 'f"{x:099d}"', '"\\ud800"', 'f"{x:,}"']


def mutate(text: str, rng: random.Random) -> str:
    """One to four token-level edits: delete, duplicate, replace by a name / number / string, swap."""
    for _ in range(rng.randint(1, 4)):
        tokens = [(m.start(), m.end()) for m in TOKEN.finditer(text)]
        if not tokens:
            return text
        start, end = rng.choice(tokens)
        op = rng.randrange(6)
        word = text[start:end]
        if op == 0:
            new = ""
        elif op == 1:
            new = word + " " + word
        elif op == 2:
            new = rng.choice(NAMES)
        elif op == 3:
            new = rng.choice(NUMBERS)
        elif op == 4:
            new = rng.choice(STRINGS)
        else:
            s2, e2 = rng.choice(tokens)
            new = text[s2:e2]
        text = text[:start] + new + text[end:]
    return text


def seed_and_examples() -> list[str]:
    return SEED_TEXTS + EXAMPLE_TEXTS


def batch(seed: int, n_tensor: int, n_int: int) -> list[Case]:
    """The cases of one seed (the same in every process: the ISA-level oracle regenerates them)."""
    rng = random.Random(seed)
    return [gen_tensor_case(rng, i) for i in range(n_tensor)] + [gen_int_case(rng, i) for i in range(n_int)]


_CHILD = """
import pickle, sys
sys.path.insert(0, {here!r})
import programs
seed, n_tensor, n_int, opt = {args!r}
cases = programs.batch(seed, n_tensor, n_int)
out = programs.evaluate(cases, opt)
sys.stdout.buffer.write(pickle.dumps({{k: (v if isinstance(v, tuple) else np.asarray(v))
                                      for k, v in out.items()}}))
""".replace("import pickle, sys", "import pickle, sys\nimport numpy as np")


def evaluate_at_cpu(seed: int, n_tensor: int, n_int: int, opt: int, cpu: str, timeout: float = 300):
    """`evaluate` of `batch(seed, ...)` in a child process whose target is `cpu` (the process target is
    fixed per process, so another ISA level needs another process)."""
    import os
    import pickle
    import subprocess
    import sys

    code = _CHILD.format(here=str(Path(__file__).resolve().parent), args=(seed, n_tensor, n_int, opt))
    env = dict(os.environ, TRITON_DSL_CPU=cpu)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=timeout, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the {cpu} child failed ({done.returncode}): "
                           f"{done.stderr.decode(errors='replace')[-3000:]}")
    return pickle.loads(done.stdout)


def run_program(text: str, opt_level: int, *, check_only: bool = False) -> tuple[int, str, str]:
    """`tritonc check` / `tritonc run -O<n>` of a program text, in this process: (exit code, out, err)."""
    import contextlib
    import io
    import os
    import tempfile

    from triton_dsl.cli import main

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.triton"
        path.write_text(text, encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        argv = ["check", str(path)] if check_only else ["run", f"-O{opt_level}", "--no-cache", str(path)]
        cwd = os.getcwd()
        os.chdir(tmp)  # a program may write files (`save_weights("layer.safetensors", ...)`): here
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        finally:
            os.chdir(cwd)
        return code, out.getvalue(), err.getvalue().replace(str(path), "fuzz.triton")


def seeded(text: str) -> str:
    """The program with a `seed(...)` first: the random state is per process and continues from one
    program to the next, so two runs compared with each other must start from the same seed."""
    return "seed(4242)\n" + text


def runnable(text: str) -> bool:
    """A mutant worth running: no loop that may not end (`while`), no huge tensor to build."""
    return "while" not in text and not re.search(r"\d{6,}", text)
