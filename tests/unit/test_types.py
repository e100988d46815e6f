"""Checker types: spelling, promotion, implicit conversions, operator typing, the primitive table."""

import pytest

from triton_dsl.check import primitives
from triton_dsl.check.assign import convert
from triton_dsl.check.operators import OpError, check_binary, check_unary
from triton_dsl.check.types import (
    ANY_RANK,
    BOOL,
    FLOAT32,
    INT32,
    NONE,
    FnType,
    ListType,
    OptionalType,
    Scalar,
    TensorType,
    TupleType,
    UnionType,
    make_union,
    promote_dtypes,
    ternary,
)

F = TensorType("float32", (784, 128))


def test_types_print_as_written():
    assert str(F) == "Tensor<float32, [784, 128]>"
    assert str(ternary((None, None))) == "TernaryTensor<trit, [?, ?]>"
    assert str(TensorType("float32", ANY_RANK)) == "Tensor<float32, ?>"
    assert str(TensorType("float32", ("batch", 10))) == "Tensor<float32, [batch, 10]>"
    assert str(OptionalType(FLOAT32)) == "float32?"
    assert str(UnionType((INT32, ListType(INT32)))) == "int32 | [int32, ...]"
    assert str(TupleType((F, FLOAT32))) == "Tuple<Tensor<float32, [784, 128]>, float32>"
    assert str(FnType((F,), FLOAT32)) == "fn(Tensor<float32, [784, 128]>) -> float32"


def test_promotion_order():
    assert promote_dtypes("bool", "trit") == "trit"
    assert promote_dtypes("int8", "int64") == "int64"
    assert promote_dtypes("int64", "float16") == "float16"
    assert promote_dtypes("float64", "float32") == "float64"


def test_make_union_flattens_and_dedups():
    assert make_union([INT32, INT32]) == INT32
    assert make_union([INT32, UnionType((FLOAT32, INT32))]) == UnionType((INT32, FLOAT32))


@pytest.mark.parametrize("src,dst,steps", [
    (F, TensorType("float32", (None, None)), ()),
    (ternary((3, 4)), TensorType("float32", (None, None)), ("dequantize",)),
    (TensorType("float32", (1,)), TensorType("float32", ()), ("squeeze",)),
    (TensorType("float32", ()), FLOAT32, ("to_scalar",)),
    (TensorType("float32", (1,)), FLOAT32, ("squeeze", "to_scalar")),
    (FLOAT32, TensorType("float32", ()), ("to_tensor",)),
    (INT32, FLOAT32, ("widen",)),
    (NONE, OptionalType(F), ("none",)),
    (F, OptionalType(TensorType("float32", (None, 128))), ("some",)),
    # a static [1] is a scalar where the union offers a rank-0 member; [3] takes the [?] member
    (TensorType("float32", (1,)), UnionType((TensorType("float32", ()), TensorType("float32", (None,)))),
     ("squeeze", "member:0")),
    (TensorType("float32", (3,)), UnionType((TensorType("float32", ()), TensorType("float32", (None,)))),
     ("member:1",)),
])
def test_conversions(src, dst, steps):
    conv = convert(src, dst)
    assert conv is not None and conv.steps == steps


@pytest.mark.parametrize("src,dst", [
    (F, ternary((None, None))),                       # float where ternary expected
    (F, TensorType("float32", (128, 784))),           # static shape mismatch
    (F, TensorType("float32", (None,))),              # rank mismatch
    (FLOAT32, INT32),                                 # narrowing
    (INT32, Scalar("trit")),                          # trit only through trit(v)
    (TensorType("float32", (None,)), TensorType("float32", ())),  # only static [1] squeezes
    (OptionalType(FLOAT32), FLOAT32),                 # an optional must be narrowed first
])
def test_rejected_conversions(src, dst):
    assert convert(src, dst) is None


def test_literals_adapt():
    assert convert(FLOAT32, Scalar("float16"), literal=True) is not None
    assert convert(FLOAT32, Scalar("float16")) is None
    assert convert(INT32, Scalar("int8"), literal=True) is not None


def test_arithmetic_keeps_tensor_dtype_with_literal():
    half = TensorType("float16", (4,))
    assert check_binary("*", half, FLOAT32, False, True) == half
    assert check_binary("*", half, FLOAT32, False, False) == TensorType("float32", (4,))
    assert check_binary("/", INT32, INT32) == FLOAT32
    assert check_binary("//", INT32, INT32) == INT32
    assert check_binary("**", INT32, INT32) == INT32
    assert check_binary("**", FLOAT32, INT32, True, False) == FLOAT32


def test_ternary_rules():
    q = ternary((3, 4))
    assert check_binary("+", q, TensorType("float32", (3, 4))) == TensorType("float32", (3, 4))
    assert check_binary("==", q, INT32, False, True) == TensorType("bool", (3, 4))
    assert check_binary("@", TensorType("float32", (2, 3)), q) == TensorType("float32", (2, 4))
    assert check_unary("-", q) == q


def test_comparisons_and_shapes():
    assert check_binary("<", F, FLOAT32, False, True) == TensorType("bool", (784, 128))
    assert check_binary("==", INT32, INT32) == BOOL
    with pytest.raises(OpError) as e:
        check_binary("@", TensorType("float32", (32, 784)), TensorType("float32", (128, 10)))
    assert e.value.code == "E0402" and "784 vs 128" in e.value.message
    with pytest.raises(OpError) as e:
        check_binary("+", TensorType("float32", (3, 4)), TensorType("float32", (5,)))
    assert e.value.code == "E0401"


def test_primitive_table_parameters():
    table = primitives.primitives()
    assert [p.name for p in table["conv2d"].params] == ["input", "weight", "bias", "stride", "padding"]
    assert table["conv2d"].params[3].default == 1
    assert [p.name for p in table["backward"].params] == ["loss", "grad"]
    assert table["zeros"].params[1].default == primitives.DTypeConst("float32")
    assert table["softmax"].params[1].default == -1
    assert table["print"].variadic
    for name in ("abs", "exp", "sum", "argmax", "matmul", "reshape", "stack", "trit", "panic", "backward",
                 "length", "enumerate", "range", "uniform", "seed", "no_grad", "save_weights"):
        assert name in table, name
