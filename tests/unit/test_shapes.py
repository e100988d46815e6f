"""Shape rules against numpy, the oracle.

Every rule is run on random static shapes next to the numpy operation applied to zero arrays of those
shapes: the result shapes must be equal, and the rule must reject exactly what numpy rejects. Rules on
shapes with `?` dims must be sound: whenever a concrete choice of the unknown dims works in numpy, the
rule accepts the abstract shapes and its result agrees with numpy's wherever it claims a static size.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from triton_dsl.check.shapes import (
    ANY_RANK,
    UNKNOWN,
    UNKNOWN_INDEX,
    DimBinding,
    ShapeError,
    broadcast_shapes,
    concat_shape,
    conv2d_shape,
    flatten_shape,
    format_shape,
    index_shape,
    matmul_shape,
    permute_shape,
    reduce_shape,
    reshape_shape,
    squeeze_shape,
    stack_shape,
    substitute_shape,
    transpose_shape,
    unify,
    unsqueeze_shape,
)

MANY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

dims = st.integers(0, 4)
static_shapes = st.lists(dims, max_size=4).map(tuple)


def numpy_shape(make):
    """The shape numpy gives, or None when numpy rejects the operation."""
    try:
        return tuple(make().shape)
    except (ValueError, IndexError, TypeError):
        return None


def rule_shape(rule, *args, **kwargs):
    """The shape the rule gives, or None when it reports a ShapeError."""
    try:
        return rule(*args, **kwargs)
    except ShapeError as err:
        assert err.message and err.code.startswith("E04")
        return None


def z(shape):
    return np.zeros(shape, dtype=np.int8)


def agrees(abstract, concrete) -> bool:
    """Is `abstract` (which may hold `?` dims or be ANY_RANK) a sound description of `concrete`?"""
    if abstract is ANY_RANK:
        return True
    if len(abstract) != len(concrete):
        return False
    return all(a is None or a == c for a, c in zip(abstract, concrete, strict=True))


@st.composite
def related_shapes(draw, count: int = 2):
    """Shapes that often broadcast: drawn from one base by dropping leading dims and setting some to 1."""
    base = draw(st.lists(st.integers(0, 4), max_size=4))
    out = []
    for _ in range(count):
        if draw(st.booleans()):
            out.append(draw(static_shapes))
            continue
        keep = draw(st.integers(0, len(base)))
        shape = [1 if draw(st.integers(0, 3)) == 0 else d for d in base[len(base) - keep:]]
        out.append(tuple(shape))
    return out


def forget(draw, shape):
    """Replace a random subset of dims with `?`."""
    return tuple(None if draw(st.booleans()) else d for d in shape)


# ---------------------------------------------------------------- broadcast


@MANY
@given(related_shapes())
def test_broadcast_matches_numpy(shapes):
    a, b = shapes
    assert rule_shape(broadcast_shapes, a, b) == numpy_shape(lambda: z(a) + z(b))


@MANY
@given(related_shapes(3))
def test_broadcast_of_three_matches_numpy(shapes):
    a, b, c = shapes
    assert rule_shape(broadcast_shapes, a, b, c) == numpy_shape(lambda: z(a) + z(b) + z(c))


symbolic_dims = st.one_of(st.integers(0, 3), st.sampled_from(["n", "m"]), st.none())
symbolic_shapes = st.lists(symbolic_dims, max_size=3).map(tuple)


@MANY
@given(symbolic_shapes, symbolic_shapes)
def test_broadcast_is_commutative(a, b):
    assert rule_shape(broadcast_shapes, a, b) == rule_shape(broadcast_shapes, b, a)


@MANY
@given(symbolic_shapes, symbolic_shapes, symbolic_shapes)
def test_broadcast_is_associative(a, b, c):
    ab = rule_shape(broadcast_shapes, a, b)
    bc = rule_shape(broadcast_shapes, b, c)
    left = None if ab is None else rule_shape(broadcast_shapes, ab, c)
    right = None if bc is None else rule_shape(broadcast_shapes, a, bc)
    assert left == right


@MANY
@given(st.data(), related_shapes())
def test_broadcast_with_unknown_dims_is_sound(data, shapes):
    a, b = shapes
    concrete = numpy_shape(lambda: z(a) + z(b))
    abstract = rule_shape(broadcast_shapes, forget(data.draw, a), forget(data.draw, b))
    if concrete is not None:
        assert abstract is not None and agrees(abstract, concrete)


def test_broadcast_named_dims():
    assert broadcast_shapes(("batch", 784), (784,)) == ("batch", 784)
    assert broadcast_shapes(("n",), ("n",)) == ("n",)
    assert broadcast_shapes(("n",), (1,)) == ("n",)
    assert broadcast_shapes((None,), ("n",)) == ("n",)
    assert broadcast_shapes((None,), (1,)) == (None,)
    assert broadcast_shapes((None,), (5,)) == (5,)
    assert broadcast_shapes(ANY_RANK, (3,)) is ANY_RANK
    with pytest.raises(ShapeError, match=r"\[n\] and \[m\] cannot be broadcast together .*n vs m"):
        broadcast_shapes(("n",), ("m",))
    with pytest.raises(ShapeError, match="n vs 3"):
        broadcast_shapes(("n",), (3,))


def test_broadcast_message():
    with pytest.raises(ShapeError) as info:
        broadcast_shapes((32, 10), (32, 784))
    assert info.value.message == ("shapes [32, 10] and [32, 784] cannot be broadcast together "
                                  "(dimension -1: 10 vs 784)")
    assert info.value.code == "E0401"


# ---------------------------------------------------------------- matmul


@st.composite
def matmul_operands(draw):
    inner = draw(st.integers(0, 4))
    batch_a, batch_b = draw(related_shapes())
    a = tuple(batch_a[:2]) + draw(st.sampled_from([(inner,), (draw(dims), inner)]))
    b = tuple(batch_b[:2]) + draw(st.sampled_from([(inner,), (inner, draw(dims))]))
    if draw(st.integers(0, 4)) == 0:  # sometimes anything at all, including scalars and wrong inner dims
        a, b = draw(static_shapes), draw(static_shapes)
    return a, b


@MANY
@given(matmul_operands())
def test_matmul_matches_numpy(operands):
    a, b = operands
    assert rule_shape(matmul_shape, a, b) == numpy_shape(lambda: z(a) @ z(b))


@MANY
@given(st.data(), matmul_operands())
def test_matmul_with_unknown_dims_is_sound(data, operands):
    a, b = operands
    concrete = numpy_shape(lambda: z(a) @ z(b))
    abstract = rule_shape(matmul_shape, forget(data.draw, a), forget(data.draw, b))
    if concrete is not None:
        assert abstract is not None and agrees(abstract, concrete)


def test_matmul_messages_and_named_dims():
    with pytest.raises(ShapeError) as info:
        matmul_shape((32, 784), (128, 10))
    assert info.value.message == "inner dimensions do not match: [32, 784] @ [128, 10] (784 vs 128)"
    assert matmul_shape(("batch", "k"), ("k", "n")) == ("batch", "n")
    assert matmul_shape(("k",), ("k",)) == ()
    assert matmul_shape((None, 784), (784, 10)) == (None, 10)
    assert matmul_shape(ANY_RANK, (3, 4)) is ANY_RANK
    with pytest.raises(ShapeError, match="k vs j"):
        matmul_shape(("m", "k"), ("j", "n"))
    with pytest.raises(ShapeError, match="scalar"):
        matmul_shape((), (3,))


# ---------------------------------------------------------------- reductions


@MANY
@given(static_shapes, st.data(), st.booleans())
def test_reduce_matches_numpy(shape, data, keepdim):
    rank = len(shape)
    dim = data.draw(st.one_of(st.none(), st.integers(-rank - 1, rank),
                              st.lists(st.integers(-rank - 1, rank), max_size=3).map(tuple)))
    expected = numpy_shape(lambda: np.sum(z(shape), axis=dim, keepdims=keepdim))
    assert rule_shape(reduce_shape, shape, dim, keepdim) == expected


def test_reduce_named_and_any_rank():
    assert reduce_shape(("batch", 10), -1) == ("batch",)
    assert reduce_shape(("batch", 10), 0, keepdim=True) == (1, 10)
    assert reduce_shape(ANY_RANK) == ()
    assert reduce_shape(ANY_RANK, 1) is ANY_RANK
    with pytest.raises(ShapeError, match=r"dimension 2 is out of range for a tensor of rank 2 \(expected -2"):
        reduce_shape((3, 4), 2)


# ---------------------------------------------------------------- reshape


@st.composite
def reshape_cases(draw):
    shape = draw(static_shapes)
    if draw(st.booleans()):  # a target with the same element count: the dims regrouped
        count = int(np.prod(shape))
        target = []
        while count > 1 and len(target) < 3:
            factor = draw(st.sampled_from([f for f in range(1, count + 1) if count % f == 0]))
            target.append(factor)
            count //= factor
        target.append(count)
        target = draw(st.permutations(target))
    else:
        target = draw(st.lists(dims, max_size=4))
    if target and draw(st.booleans()):
        target[draw(st.integers(0, len(target) - 1))] = -1
    if draw(st.integers(0, 9)) == 0:
        target = target + [-1, -1]
    return shape, tuple(target)


@MANY
@given(reshape_cases())
def test_reshape_matches_numpy(case):
    shape, target = case
    assert rule_shape(reshape_shape, shape, target) == numpy_shape(lambda: z(shape).reshape(target))


@MANY
@given(st.data(), reshape_cases())
def test_reshape_with_unknown_dims_is_sound(data, case):
    shape, target = case
    concrete = numpy_shape(lambda: z(shape).reshape(target))
    abstract = rule_shape(reshape_shape, forget(data.draw, shape), target)
    if concrete is not None:
        assert abstract is not None and agrees(abstract, concrete)


def test_reshape_named_dims():
    assert reshape_shape(("batch", 784), (-1, 28, 28)) == ("batch", 28, 28)
    assert reshape_shape(("batch", 28, 28), ("batch", -1)) == ("batch", 784)
    assert reshape_shape(("n", "m"), ("m", "n")) == ("m", "n")
    assert reshape_shape((None, 4), (-1, 2)) == (None, 2)
    with pytest.raises(ShapeError, match=r"cannot reshape \[n, 4\] \(4 \* n elements\) to \[n, 3\]"):
        reshape_shape(("n", 4), ("n", 3))
    with pytest.raises(ShapeError, match="only one dimension can be -1"):
        reshape_shape((4,), (-1, -1))
    with pytest.raises(ShapeError, match="negative size -2"):  # numpy takes any negative as -1; we do not
        reshape_shape((4,), (-2,))


# ---------------------------------------------------------------- permute, transpose, (un)squeeze


@MANY
@given(static_shapes, st.data())
def test_axis_rules_match_numpy(shape, data):
    rank = len(shape)
    axis = data.draw(st.integers(-rank - 2, rank + 1))
    order = data.draw(st.one_of(st.permutations(range(rank)),
                                st.lists(st.integers(-rank - 1, rank), max_size=4)))
    other = data.draw(st.integers(-rank - 1, rank))
    x = z(shape)
    assert rule_shape(permute_shape, shape, order) == numpy_shape(lambda: np.transpose(x, order))
    assert rule_shape(transpose_shape, shape, axis, other) == numpy_shape(lambda: np.swapaxes(x, axis, other))
    assert rule_shape(unsqueeze_shape, shape, axis) == numpy_shape(lambda: np.expand_dims(x, axis))
    assert rule_shape(squeeze_shape, shape, axis) == numpy_shape(lambda: np.squeeze(x, axis))
    assert rule_shape(squeeze_shape, shape) == numpy_shape(lambda: np.squeeze(x))


@MANY
@given(static_shapes, st.data())
def test_flatten_matches_numpy_reshape(shape, data):
    rank = len(shape)
    start, end = data.draw(st.integers(-rank - 1, rank)), data.draw(st.integers(-rank - 1, rank))

    def numpy_flatten():  # flatten is the reshape that merges axes start..end (a scalar becomes [1])
        x = z(shape)
        if x.ndim == 0:
            return x.reshape(1)
        if not (-x.ndim <= start < x.ndim and -x.ndim <= end < x.ndim):
            raise IndexError("axis out of range")
        a, b = start % x.ndim, end % x.ndim
        if a > b:
            raise ValueError("start after end")
        return x.reshape(shape[:a] + (int(np.prod(shape[a:b + 1])),) + shape[b + 1:])

    assert rule_shape(flatten_shape, shape, start, end) == numpy_shape(numpy_flatten)


def test_flatten_named_dims():
    assert flatten_shape(("batch", 3, 4), 1) == ("batch", 12)
    assert flatten_shape(("batch", "n", 4), 1) == ("batch", None)
    assert flatten_shape(("batch", "n"), 1) == ("batch", "n")
    assert flatten_shape(()) == (1,)
    with pytest.raises(ShapeError, match="start_dim 1 comes after end_dim 0"):
        flatten_shape((2, 3), 1, 0)


def test_axis_rules_on_named_and_unknown_dims():
    assert transpose_shape(("m", "n")) == ("n", "m")
    assert unsqueeze_shape(("n",), -1) == ("n", 1)
    assert squeeze_shape((None, 3), 0) == (3,)
    assert squeeze_shape((None, 1)) is ANY_RANK
    with pytest.raises(ShapeError, match="its size is n, not 1"):
        squeeze_shape(("n", 1), 0)
    with pytest.raises(ShapeError, match="repeats a dimension"):
        permute_shape((2, 3), (0, 0))


# ---------------------------------------------------------------- stack and concat


@st.composite
def join_cases(draw):
    first = draw(static_shapes)
    shapes = [first]
    for _ in range(draw(st.integers(0, 2))):
        shape = list(first)
        if shape and draw(st.booleans()):
            shape[draw(st.integers(0, len(shape) - 1))] = draw(dims)
        if draw(st.integers(0, 5)) == 0:
            shape = draw(static_shapes)
        shapes.append(tuple(shape))
    rank = len(first)
    return shapes, draw(st.integers(-rank - 2, rank + 1))


@MANY
@given(join_cases())
def test_stack_and_concat_match_numpy(case):
    shapes, dim = case
    arrays = [z(s) for s in shapes]
    assert rule_shape(stack_shape, shapes, dim) == numpy_shape(lambda: np.stack(arrays, axis=dim))
    assert rule_shape(concat_shape, shapes, dim) == numpy_shape(lambda: np.concatenate(arrays, axis=dim))


@MANY
@given(st.data(), join_cases())
def test_stack_and_concat_with_unknown_dims_are_sound(data, case):
    shapes, dim = case
    arrays = [z(s) for s in shapes]
    abstract = [forget(data.draw, s) for s in shapes]
    for rule, numpy_op in ((stack_shape, np.stack), (concat_shape, np.concatenate)):
        concrete = numpy_shape(lambda op=numpy_op: op(arrays, axis=dim))
        if concrete is not None:
            result = rule_shape(rule, abstract, dim)
            assert result is not None and agrees(result, concrete)


def test_join_named_dims_and_messages():
    assert stack_shape([("n", 3), (None, 3)], 0) == (2, "n", 3)
    assert concat_shape([("n", 3), ("n", 4)], -1) == ("n", 7)
    assert concat_shape([(2, "n"), (3, "n")], 0) == (5, "n")
    assert concat_shape([("n", 2), ("n", "m")], 1) == ("n", None)
    assert concat_shape([ANY_RANK, (2, 3)], 0) == (None, 3)
    with pytest.raises(ShapeError, match=r"shapes \[2, 3\] and \[2, 4\] differ in dimension 1 \(3 vs 4\)"):
        stack_shape([(2, 3), (2, 4)])
    with pytest.raises(ShapeError, match="at least one tensor"):
        concat_shape([], 0)


# ---------------------------------------------------------------- indexing and slicing

bounds = st.one_of(st.none(), st.integers(-6, 6))
slices = st.builds(slice, bounds, bounds, st.one_of(st.none(), st.integers(-3, 3)))


@MANY
@given(static_shapes, st.lists(st.one_of(st.integers(-5, 5), slices, st.just(Ellipsis)), max_size=5))
def test_indexing_matches_numpy(shape, indices):
    expected = numpy_shape(lambda: np.asarray(z(shape)[tuple(indices)]))
    assert rule_shape(index_shape, shape, indices) == expected


@MANY
@given(st.data(), static_shapes, st.lists(st.one_of(st.integers(-5, 5), slices), max_size=4))
def test_indexing_with_unknown_parts_is_sound(data, shape, indices):
    concrete = numpy_shape(lambda: np.asarray(z(shape)[tuple(indices)]))
    hidden = [ix for ix in indices]
    for i, ix in enumerate(indices):
        if data.draw(st.booleans()):  # this index or slice start is computed at run time
            hidden[i] = UNKNOWN if isinstance(ix, int) else slice(UNKNOWN_INDEX, ix.stop, ix.step)
    abstract = rule_shape(index_shape, forget(data.draw, shape), hidden)
    if concrete is not None:
        assert abstract is not None and agrees(abstract, concrete)


def test_indexing_named_dims_and_messages():
    assert index_shape(("n", "m"), [0]) == ("m",)
    assert index_shape(("n", "m"), [slice(None), slice(None, None, -1)]) == ("n", "m")
    assert index_shape(("n", "m"), [slice(1, None)]) == (None, "m")
    assert index_shape(("n", 4), [Ellipsis, UNKNOWN]) == ("n",)
    with pytest.raises(ShapeError, match=r"index 4 is out of range for dimension 1 of \[2, 4\] \(size 4\)"):
        index_shape((2, 4), [0, 4])
    with pytest.raises(ShapeError, match="too many indices"):
        index_shape((2,), [0, 0])
    with pytest.raises(ShapeError, match="step cannot be zero"):
        index_shape((2,), [slice(None, None, 0)])


# ---------------------------------------------------------------- conv2d


def numpy_conv2d(x_shape, w_shape, stride, padding):
    """conv2d with numpy: pad, take sliding windows with the stride, contract channels and window."""
    if x_shape[1] != w_shape[1]:  # einsum would broadcast a channel count of 1; a convolution does not
        raise ValueError("channels differ")
    (sh, sw), (ph, pw) = stride, padding
    x = np.pad(z(x_shape), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    windows = sliding_window_view(x, w_shape[2:], axis=(2, 3))[:, :, ::sh, ::sw]
    return np.einsum("nchwij,ocij->nohw", windows, z(w_shape))


@st.composite
def conv_cases(draw):
    channels = draw(st.integers(1, 3))
    x = (draw(st.integers(0, 2)), channels, draw(st.integers(0, 7)), draw(st.integers(0, 7)))
    w = (draw(st.integers(1, 3)), channels, draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    if draw(st.integers(0, 6)) == 0:
        w = (w[0], channels + 1) + w[2:]
    pair = st.tuples(st.integers(1, 3), st.integers(1, 3))
    stride = draw(st.one_of(st.integers(1, 3), pair))
    padding = draw(st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2))))
    return x, w, stride, padding


def as_pair(v):
    return (v, v) if isinstance(v, int) else v


@MANY
@given(conv_cases())
def test_conv2d_matches_numpy(case):
    x, w, stride, padding = case
    expected = numpy_shape(lambda: numpy_conv2d(x, w, as_pair(stride), as_pair(padding)))
    assert rule_shape(conv2d_shape, x, w, stride, padding) == expected


@MANY
@given(st.data(), conv_cases())
def test_conv2d_with_unknown_dims_is_sound(data, case):
    x, w, stride, padding = case
    concrete = numpy_shape(lambda: numpy_conv2d(x, w, as_pair(stride), as_pair(padding)))
    abstract = rule_shape(conv2d_shape, forget(data.draw, x), forget(data.draw, w), stride, padding)
    if concrete is not None:
        assert abstract is not None and agrees(abstract, concrete)


def test_conv2d_named_dims_and_messages():
    assert conv2d_shape(("batch", 3, 32, 32), (16, 3, 3, 3), 1, 1) == ("batch", 16, 32, 32)
    assert conv2d_shape(("b", "c", "h", "w"), ("o", "c", 3, 3), 1, 1) == ("b", "o", "h", "w")
    assert conv2d_shape(("b", "c", "h", "w"), ("o", "c", 3, 3), 2, 1) == ("b", "o", None, None)
    with pytest.raises(ShapeError, match="conv2d channels do not match: input .* has 3 channels, weight"):
        conv2d_shape((1, 3, 8, 8), (4, 2, 3, 3))
    with pytest.raises(ShapeError, match="expects an input of shape"):
        conv2d_shape((3, 8, 8), (4, 3, 3, 3))
    with pytest.raises(ShapeError, match="stride must be at least 1"):
        conv2d_shape((1, 3, 8, 8), (4, 3, 3, 3), stride=0)


# ---------------------------------------------------------------- named dims at a call


def test_unify_binds_and_substitutes():
    b = unify(("batch", "in_features"), (32, 784), {}, "argument 'input'")
    b = unify(("in_features", "out_features"), (784, 10), b, "argument 'weight'")
    assert {k: v.value for k, v in b.items()} == {"batch": 32, "in_features": 784, "out_features": 10}
    assert substitute_shape(("batch", "out_features"), b) == (32, 10)
    assert substitute_shape(("batch", "h'"), b) == (32, None)  # a name no argument bound is unknown


def test_unify_conflict_names_the_dim_and_where_it_was_bound():
    b = unify(("batch", "in_features"), (32, 784), {}, "argument 'input'", origin="span-of-input")
    with pytest.raises(ShapeError) as info:
        unify(("in_features", "out_features"), (128, 10), b, "argument 'weight'")
    err = info.value
    assert err.message == ("dimension 'in_features' is 784 (from argument 'input', dimension 1) "
                           "but 128 in argument 'weight', dimension 0")
    assert err.code == "E0408"
    assert err.related == DimBinding(784, "argument 'input', dimension 1", "span-of-input")


def test_unify_unknown_dims_refine_and_ranks_are_checked():
    b = unify(("k",), (None,), {}, "argument 'a'")
    b = unify(("k",), (5,), b, "argument 'b'")
    assert b["k"].value == 5 and b["k"].where == "argument 'b', dimension 0"
    assert unify(("k",), (None,), b, "argument 'c'") == b  # `?` fits any binding (checked at run time)
    assert unify(ANY_RANK, (1, 2, 3), b, "argument 'd'") == b
    with pytest.raises(ShapeError, match=r"argument 'x' should have rank 2 \(\[m, k\]\), got rank 3"):
        unify(("m", "k"), (2, 3, 4), {}, "argument 'x'")
    with pytest.raises(ShapeError, match=r"dimension 1: 784 vs 10"):
        unify((None, 784), (32, 10), {}, "argument 'x'")
    original = {"k": DimBinding(5, "argument 'b'")}
    unify(("k", "j"), (5, 2), original, "argument 'e'")
    assert set(original) == {"k"}  # bindings passed in are not mutated


def test_format_shape():
    assert format_shape((32, "batch", None)) == "[32, batch, ?]"
    assert format_shape(()) == "[]"
    assert format_shape(ANY_RANK) == "?"


# ---------------------------------------------------------------- named dims against numpy

named_dims = st.one_of(st.integers(0, 3), st.sampled_from(["n", "m"]))
named_shapes = st.lists(named_dims, max_size=3).map(tuple)
assignments = st.fixed_dictionaries({"n": st.integers(0, 3), "m": st.integers(0, 3)})


def concretize(shape, sizes):
    return tuple(sizes.get(d, d) if isinstance(d, str) else d for d in shape)


def agrees_named(result, concrete, sizes) -> bool:
    """A result with named dims describes numpy's shape once the names take their sizes."""
    return agrees(tuple(sizes[d] if isinstance(d, str) else d for d in result), concrete)


NAMED_CASES = {
    "broadcast": (lambda a, b: broadcast_shapes(a, b), lambda a, b: z(a) + z(b)),
    "matmul": (lambda a, b: matmul_shape(a, b), lambda a, b: z(a) @ z(b)),
    "concat": (lambda a, b: concat_shape([a, b], 0), lambda a, b: np.concatenate([z(a), z(b)])),
    "stack": (lambda a, b: stack_shape([a, b], -1), lambda a, b: np.stack([z(a), z(b)], axis=-1)),
    "reshape": (lambda a, b: reshape_shape(a, b + (-1,)), lambda a, b: z(a).reshape(b + (-1,))),
}


@MANY
@given(st.sampled_from(sorted(NAMED_CASES)), named_shapes, named_shapes, assignments)
def test_named_dim_results_agree_with_numpy_for_any_sizes(case, a, b, sizes):
    rule, numpy_op = NAMED_CASES[case]
    result = rule_shape(rule, a, b)
    concrete = numpy_shape(lambda: numpy_op(concretize(a, sizes), concretize(b, sizes)))
    if result is not None and concrete is not None:
        assert agrees_named(result, concrete, sizes)
    if a == b and case in ("broadcast", "stack"):  # a shape always fits itself, whatever its names
        assert result is not None
