"""The fast paths of functrans.numpy's argument handling and of tree_util give
exactly what the general machinery gives: same values, dtypes, weak types and
errors, for arrays and for tracers (weakly typed ones included)."""

import collections
import itertools

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.core.avals import get_aval
from functrans.core.trace import Tracer
from functrans.numpy import _products, _util
from functrans.tree_util import _flatten, tree_flatten, tree_unflatten

DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_, np.complex128, np.float16]
SHAPES = [(), (3,), (2, 3), (2, 1)]


def _describe(value):
    """What promotion decides about a value: its kind of container and its aval."""
    aval = get_aval(value)
    kind = "tracer" if isinstance(value, Tracer) else type(value).__name__
    return kind, aval.shape, aval.dtype, aval.weak_type


def _outcome(fn, *args):
    try:
        return [_describe(v) for v in fn(*args)]
    except Exception as e:  # the error is part of the outcome
        return f"{type(e).__name__}: {e}"


def _operand(dtype, shape, weak, traced, value):
    """A concrete array, a tracer, or a weakly-typed tracer of `dtype` and `shape`."""
    if weak:
        return lax.convert_element_type(value, dtype, weak_type=True)
    return value if traced else np.ones(shape, dtype)


def _kinds():
    # (weak, traced): weakly-typed values only exist traced
    return [(False, False), (False, True), (True, True)]


@pytest.mark.parametrize("x_dtype", DTYPES)
def test_pair_promotion_matches_the_general_path(x_dtype):
    outcomes = []

    def compare(x_value, y_value, x_kind, y_kind, y_dtype, inexact):
        x = _operand(x_dtype, x_value.shape, *x_kind, x_value)
        y = _operand(y_dtype, y_value.shape, *y_kind, y_value)
        fast = _util.promote_args_inexact if inexact else _util.promote_args
        adjust = _util.to_inexact_dtype if inexact else None
        outcomes.append((_outcome(fast, "f", x, y), _outcome(_util._promote, "f", (x, y),
                                                               adjust)))
        outcomes.append((_outcome(_products._operands, "f", x, y),
                         _outcome(_util.promote_dtypes, x, y)))
        return 0.0

    for y_dtype, x_shape, y_shape, x_kind, y_kind, inexact in itertools.product(
            DTYPES, SHAPES, SHAPES, _kinds(), _kinds(), [False, True]):
        x_value, y_value = np.ones(x_shape, x_dtype), np.ones(y_shape, y_dtype)
        ft.make_jaxpr(lambda a, b, k=(x_kind, y_kind, y_dtype, inexact):
                      compare(a, b, *k))(x_value, y_value)
    assert len(outcomes) > 1000
    for fast, general in outcomes:
        assert fast == general


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
@pytest.mark.parametrize("scalar", [2, -3, 2.5, True, 1j, 10**30])
@pytest.mark.parametrize("dtype", DTYPES)
def test_array_and_python_scalar_match_the_general_path(scalar, dtype):
    for shape in SHAPES:
        x = np.ones(shape, dtype)
        for args in ((x, scalar), (scalar, x)):
            outcome = _outcome(_util.promote_args, "f", *args)
            assert outcome == _outcome(_util._promote, "f", args, None)
            if isinstance(outcome, list):  # not an error: the values agree too
                got, want = _util.promote_args("f", *args), _util._promote("f", args, None)
                for g, w in zip(got, want):
                    np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex64])
@pytest.mark.parametrize("weak", [False, True])
def test_unary_power_and_sum_keep_dtypes_and_weak_types(dtype, weak):
    x = np.arange(1, 7).reshape(2, 3).astype(dtype)

    def f(v):
        v = lax.convert_element_type(v, v.dtype, weak_type=weak)
        return fnp.tanh(v), v ** 2, v ** -1, fnp.sum(v), fnp.sum(v, axis=0)

    traced_avals = []
    ft.make_jaxpr(lambda v: traced_avals.extend(get_aval(out) for out in f(v)) or 0.0)(x)
    # elementwise results keep a weak type; reductions' results are strongly typed
    want = [(dtype, weak)] * 3 + [(dtype, False)] * 2
    assert [(aval.dtype, aval.weak_type) for aval in traced_avals] == want
    values = f(x)
    np.testing.assert_allclose(values[1], x * x, rtol=1e-3)
    np.testing.assert_allclose(values[3], np.sum(x), rtol=1e-3)


def test_integer_powers_take_the_general_path():
    x = np.arange(1, 4, dtype=np.int32)
    assert fnp.power(x, 2).dtype == np.int32
    with pytest.raises(ValueError, match="negative integer powers"):
        fnp.power(x, -1)


Point = collections.namedtuple("Point", "x y")


class Pair(tuple):
    """A tuple subclass that is not a namedtuple: a leaf."""


TREES = [
    0, None, (), [], {}, (1,), [1, (2, 3)], {"b": 1, "a": [2, None, (3,)]},
    Point(1, (2, None)), [Pair((1, 2)), {"k": Point(3, 4)}], ((([[1]],),),),
]


@pytest.mark.parametrize("tree", TREES, ids=repr)
def test_tree_flatten_matches_the_iterative_walk(tree):
    leaves, treedef = tree_flatten(tree)
    iterative_leaves = []
    assert treedef == _flatten(tree, iterative_leaves, None)
    assert hash(treedef) == hash(_flatten(tree, [], None))
    assert leaves == iterative_leaves
    assert tree_unflatten(treedef, leaves) == tree


def test_deep_trees_flatten_past_the_recursion_limit():
    tree = 0
    for _ in range(5000):
        tree = [tree, 1]
    leaves, treedef = tree_flatten(tree)
    assert len(leaves) == treedef.num_leaves == 5001
    back = tree_unflatten(treedef, leaves)
    depth = 0
    while isinstance(back, list):
        back, depth = back[0], depth + 1
    assert depth == 5000


def test_unflatten_counts_leaves():
    treedef = tree_flatten([(1, 2), {"a": 3}])[1]
    with pytest.raises(ValueError, match="too few leaves"):
        tree_unflatten(treedef, [1, 2])
    with pytest.raises(ValueError, match="too many leaves"):
        tree_unflatten(treedef, [1, 2, 3, 4])
