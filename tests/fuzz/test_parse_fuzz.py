"""Fuzzing the parser: programs generated from the grammar (hypothesis' `from_lark`) and random
mutations of the seed blocks. Whatever the input, `parse_program` returns either an AST with no
diagnostics or None with at least one E01xx diagnostic whose span lies inside the text — it never
raises. Deterministic (derandomized / seeded) so a failure reproduces."""

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark

from triton_dsl.diagnostics import DiagnosticSink
from triton_dsl.source import Source
from triton_dsl.syntax import ast
from triton_dsl.syntax.parser import build_lark_uncached, parse_program
from triton_dsl.syntax.printer import format_ast

SEED_FILES = sorted((Path(__file__).resolve().parents[1] / "conformance" / "seed").glob("*.triton"))

FUZZ_SETTINGS = settings(deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))


def check_parse(text: str) -> ast.Program | None:
    """Parse text and assert the contract: an AST and no diagnostics, or None and E01xx diagnostics."""
    sink = DiagnosticSink()
    program = parse_program(Source("fuzz.triton", text), sink)
    if program is None:
        assert sink.diagnostics, "a failed parse must say why"
    else:
        assert sink.diagnostics == []
        format_ast(program)  # every tree the parser builds can be printed
    for diag in sink.diagnostics:
        assert diag.code.startswith("E01"), diag.render()
        assert 0 <= diag.span.start <= len(text) and diag.span.start <= diag.span.end
        diag.render()
    return program


# Strategies for the regex terminals (from_lark cannot draw regexes with look-arounds), padded with
# spaces so that most drawn token sequences also lex as intended and reach the tree builder.
_NAMES = st.sampled_from(["x", "w", "layer", "main", "grad", "h'", "Model", "self", "_t0", "int32"])
_NUMBERS = st.sampled_from(["0", "1", "42", "0x2A", "0b1010", "0o52", "3.14", ".5", "1.0e-5", "1_000",
                            "0x", "1e", "0b2", "12ab"])
_STRINGS = st.sampled_from(['"s"', '""', '"a\\n\\"b\\""', '"\\q"', '"\\u{41}"'])
_FSTRINGS = st.sampled_from(['f"{x}"', 'f"v={a + b:.2%} {{}}"', 'f"{x!r:>4}"', 'f"{}"', 'f"}"', 'f"{x"',
                             'f"{x +}"', 'f"{f(a, b=[1, 2])[0]}"'])


def _spaced(strategy):
    return strategy.map(lambda s: f" {s} ")


def _grammar_strategy(spaced: bool):
    lark = build_lark_uncached()
    explicit = {
        "NAME": _NAMES, "NUMBER": _NUMBERS, "STRING": _STRINGS, "FSTRING": _FSTRINGS,
        "AUG_ASSIGN": st.sampled_from(["+=", "-=", "//=", "**=", "@="]),
        "COMMENT": st.sampled_from(["# c\n", "/* c */", "/* a\n b */"]),
        "BAD_STRING": st.just('"open\n'), "BAD_COMMENT": st.just("/* open"),
        "WS": st.just(" "), "_NL": st.sampled_from(["\n", "\n\n  "]),
    }
    if spaced:
        explicit = {name: _spaced(s) if name not in ("_NL", "WS") else s for name, s in explicit.items()}
        # Ignored tokens are drawn between any two tokens: keep them blank or single-line here.
        explicit.update(COMMENT=st.just(" /* c */ "), BAD_STRING=st.just(" "), BAD_COMMENT=st.just(" "))
        for term in lark.terminals:
            if term.name not in explicit and term.pattern.type == "str":
                explicit[term.name] = st.just(f" {term.pattern.value} ")
    # Uniform choices among a rule's alternatives make whole programs mostly empty items, so also draw
    # function bodies and expressions directly and wrap them into a program.
    def draw(start: str):
        used = {t.name for t in lark.grammar.compile([start], set())[0]} | set(lark.ignore_tokens)
        return from_lark(lark, start=start, explicit={k: v for k, v in explicit.items() if k in used})

    return st.one_of(
        draw("start"),
        draw("block").map(lambda body: f"fn f()\n{body}\n"),
        draw("expr").map(lambda e: f"let v = {e}\nprint({e})\n"),
    )


def test_programs_generated_from_the_grammar_never_crash_the_parser():
    """Token sequences drawn from the grammar, spaced so that most lex as drawn and reach the tree
    builder; the generator is only worth something if many of its programs do parse."""
    parsed = []

    @settings(FUZZ_SETTINGS, max_examples=100)
    @given(_grammar_strategy(spaced=True))
    def run(text):
        parsed.append(check_parse(text) is not None)

    run()
    assert sum(parsed) >= len(parsed) // 4, f"only {sum(parsed)} of {len(parsed)} generated programs parsed"


@settings(FUZZ_SETTINGS, max_examples=60)
@given(_grammar_strategy(spaced=False))
def test_unspaced_token_soup_from_the_grammar_never_crashes_the_parser(text):
    check_parse(text)


_INSERTIONS = list("{}()[]<>\"'/*#.\n;:,=?|-!@f0x_ \\") + [
    "..", "->", "fn", "let ", "if ", "else", "/*", "*/", "f\"{", "}", "layer", "**", "Tensor<"]


def _mutate(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(text) + 1)
        j = min(len(text), i + rng.randint(1, 12))
        action = rng.randrange(4)
        if action == 0:
            text = text[:i] + text[j:]                               # delete a stretch
        elif action == 1:
            text = text[:i] + rng.choice(_INSERTIONS) + text[i:]     # insert a troublesome token
        elif action == 2:
            text = text[:i] + text[i:j] * 2 + text[j:]               # duplicate a stretch
        else:
            k = rng.randrange(len(text) + 1)                         # move a stretch
            piece, rest = text[i:j], text[:i] + text[j:]
            k = min(k, len(rest))
            text = rest[:k] + piece + rest[k:]
    return text


@pytest.mark.parametrize("path", SEED_FILES, ids=lambda p: p.stem[:2])
def test_mutated_seed_blocks_never_crash_the_parser(path):
    original = path.read_text(encoding="utf-8")
    rng = random.Random(path.name)
    outcomes = [check_parse(_mutate(original, rng)) is None for _ in range(100)]
    assert any(outcomes), "mutations should break at least some programs"


def test_random_token_sequences_never_crash_the_parser():
    """2000 sequences of real tokens in random order: mostly syntax errors, each must be a diagnostic."""
    lark = build_lark_uncached()
    vocabulary = sorted({t.pattern.value for t in lark.terminals if t.pattern.type == "str"})
    vocabulary += ["x", "layer", "h'", "1", "0.5", "0x1F", '"s"', 'f"{x:.2f}"', "\n", "# c\n", "/* c */"]
    rng = random.Random(1234)
    parsed = 0
    for _ in range(2000):
        tokens = [rng.choice(vocabulary) for _ in range(rng.randint(1, 25))]
        parsed += check_parse(" ".join(tokens)) is not None
    assert parsed < 2000  # random order is almost never a program; the point is that nothing raised


class GrammarWalker:
    """A fast random derivation of the grammar's compiled rules (thousands of programs per second, where
    hypothesis' from_lark draws tens): below max_depth it picks alternatives at random, beyond it the
    alternative that finishes soonest, so every derivation terminates."""

    SAMPLES = {"NAME": ["x", "w", "layer", "main", "h'", "S"],
               "NUMBER": ["0", "2", "0x2A", "0b1", "1.5", "1e-3"],
               "STRING": ['"s"', '"a\\n"'], "FSTRING": ['f"{x:.2f} {{}}"', 'f"{f(a)[0]!r}"'],
               "AUG_ASSIGN": ["+=", "//="], "_NL": ["\n"]}

    def __init__(self, lark, rng: random.Random, max_depth: int = 12):
        self.rng = rng
        self.max_depth = max_depth
        self.text = {t.name: t.pattern.value for t in lark.terminals if t.pattern.type == "str"}
        self.rules: dict[str, list] = {}
        for rule in lark.rules:
            self.rules.setdefault(rule.origin.name, []).append(rule.expansion)
        self.height = self._heights()

    def _heights(self) -> dict[str, int]:
        """Least derivation height of each rule (a fixpoint over the rules)."""
        height: dict[str, int] = {}
        changed = True
        while changed:
            changed = False
            for name, expansions in self.rules.items():
                for expansion in expansions:
                    parts = [0 if sym.is_term else height.get(sym.name) for sym in expansion]
                    if None not in parts:
                        h = 1 + max(parts, default=0)
                        if h < height.get(name, 1 << 30):
                            height[name] = h
                            changed = True
        return height

    def derive(self, symbol: str, depth: int = 0) -> list[str]:
        expansions = self.rules[symbol]
        if depth >= self.max_depth:
            expansion = min(expansions, key=lambda e: max((self.height.get(s.name, 0) for s in e), default=0))
        else:
            expansion = self.rng.choice(expansions)
        out: list[str] = []
        for sym in expansion:
            if sym.is_term:
                out.append(self.text.get(sym.name) or self.rng.choice(self.SAMPLES[sym.name]))
            else:
                out.extend(self.derive(sym.name, depth + 1))
        return out


@pytest.mark.parametrize("start", ["start", "block", "expr"])
def test_grammar_walk_programs_parse_or_give_diagnostics(start):
    """Random derivations of the grammar: nothing raises, and the only complaints are the checks the
    grammar leaves to the tree builder (`1 = 2`, `[int32, str]`, a non-integer dim, ...), never a
    syntax error, which would mean that the lexer or the newline rules disagree with the grammar."""
    walker = GrammarWalker(build_lark_uncached(), random.Random(start))
    wrap = {"start": "{}", "block": "fn f()\n{}\n", "expr": "let v = {}\n"}[start]
    parsed = 0
    for _ in range(400):
        text = wrap.format(" ".join(walker.derive(start)))
        sink = DiagnosticSink()
        parsed += parse_program(Source("walk.triton", text), sink) is not None
        assert {d.code for d in sink.diagnostics} <= {"E0104", "E0107", "E0108", "E0110"}, text
    assert parsed >= 200, f"only {parsed} of 400 derivations parsed"
