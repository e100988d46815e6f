"""E0901 messages read naturally: the verb agrees with the feature the back end cannot compile yet.

In: feature names as the lowering raises them, and small programs. Out: the rendered message
(`structs as run-time values are not available yet`, `indexing packed ternary tensors is not ...`).
"""

from __future__ import annotations

import pytest

from triton_dsl.ir.lowering import not_available_message
from triton_dsl.pipeline import compile_source
from triton_dsl.source import Source


@pytest.mark.parametrize("what", [
    "structs as run-time values", "lists as run-time values", "closures and functions as values",
    "trait objects", "union values at run time", "tensors of unknown rank", "methods of structs",
    "closures", "traits", "format specs on strings", "for loops over lists and tensors",
    "nested tensor literals with computed elements", "values of type [int32, ...]", "fields of structs",
])
def test_plural_features_are_not_available(what):
    assert not_available_message(what) == f"{what} are not available yet"


@pytest.mark.parametrize("what", [
    "indexing packed ternary tensors", "the operation 'xs.append(3)'", "'append'", "None as a run-time value",
    "matmul of int32 tensors", "ternary x ternary matmul of tensors that are not matrices",
    "assignment to fields and elements", "mixing strings and numbers in an operator", "this call",
    "a shape that is not a list literal or `x.shape`", "`x.shape[...]` with an index that is not a constant",
    "converting f32 to str", "the library function 'f'", "using 'g' here (globals and function values)",
])
def test_singular_features_is_not_available(what):
    assert not_available_message(what) == f"{what} is not available yet"


def test_a_construct_of_the_back_end_reads_naturally():
    program = "fn g(q: TernaryTensor<trit, [?, ?]>) -> int32 {\n    for row in q {\n    }\n    return 0\n}\n"
    result = compile_source(Source("prog.triton", program))
    messages = [d.message for d in result.diagnostics if d.code == "E0901"]
    assert messages and all(m.endswith(" are not available yet") or m.endswith(" is not available yet")
                            for m in messages)
    assert "for loops over packed ternary tensors are not available yet" in messages
