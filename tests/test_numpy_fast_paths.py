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
@pytest.mark.parametrize("scalar", [2, -3, 2.5, True, 1j, 10**30, -0.0, float("nan"), 1e300,
                                    2**53 + 1])
@pytest.mark.parametrize("dtype", DTYPES)
def test_array_and_python_scalar_match_the_general_path(scalar, dtype):
    for shape in SHAPES + [(70, 70)]:  # (70, 70): above the size filled constants have
        x = np.ones(shape, dtype)
        for args in ((x, scalar), (scalar, x)):
            outcome = _outcome(_util.promote_args, "f", *args)
            assert outcome == _outcome(_util._promote, "f", args, None)
            if isinstance(outcome, list):  # not an error: the values agree too
                got, want = _util.promote_args("f", *args), _util._promote("f", args, None)
                for g, w in zip(got, want):
                    np.testing.assert_array_equal(g, w)
                    if np.asarray(w).dtype.kind == "f":  # -0.0 stays -0.0
                        np.testing.assert_array_equal(np.signbit(g), np.signbit(w))


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


# ------------------------------------------------------------------ direct binds

def _jaxpr_or_error(fn, *operands):
    """What `fn` stages for these operand makers (each: a concrete value and a
    function of the traced value giving the operand), or the error it raises."""
    values = [value for value, _ in operands]

    def staged(*traced):
        return fn(*[make(t) for t, (_, make) in zip(traced, operands, strict=True)])

    try:
        return str(ft.make_jaxpr(staged)(*values))
    except Exception as e:  # the error is part of the outcome
        return f"{type(e).__name__}: {e}"


def _maker(dtype, shape, kind):
    """A concrete value of `dtype` and `shape`, and what the staged function makes of
    it: `kind` is "constant" (the value itself, closed over), "traced", or "weak"."""
    value = np.arange(1, 1 + int(np.prod(shape))).reshape(shape).astype(dtype)
    if kind == "constant":
        return value, lambda _: value
    if kind == "weak":
        return value, lambda t: lax.convert_element_type(t, dtype, weak_type=True)
    return value, lambda t: t


OPERAND_KINDS = ["constant", "traced", "weak"]


def _is_bool(x):
    return get_aval(x).dtype == bool

#: functrans.numpy functions that bind their primitive directly on a ready pair, and
#: what their general path does with the promoted operands
BINARY = {
    "add": (fnp.add, lambda x, y: lax.or_(x, y) if _is_bool(x) else lax.add(x, y), False),
    "subtract": (fnp.subtract, lax.sub, False),
    "multiply": (fnp.multiply, lambda x, y: lax.and_(x, y) if _is_bool(x) else lax.mul(x, y),
                 False),
    "true_divide": (fnp.true_divide, lax.div, True),
    "arctan2": (fnp.arctan2, lax.atan2, True),
    "fmod": (fnp.fmod, lax.rem, False),
    "equal": (fnp.equal, lax.eq, False),
    "less_equal": (fnp.less_equal, lax.le, False),
}


def _general_binary(name):
    fn, lax_fn, inexact = BINARY[name]
    adjust = _util.to_inexact_dtype if inexact else None

    def general(x, y):
        x, y = _util._promote(name, (_util.asarray_arg(x, name), _util.asarray_arg(y, name)),
                              adjust)
        if name == "subtract" and _is_bool(x):
            return fn(x, y)  # the error
        return lax_fn(x, y)
    return general


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_functions_stage_what_the_general_path_stages(name):
    fn, general = BINARY[name][0], _general_binary(name)
    checked = 0
    for dtype, x_shape, y_shape, x_kind, y_kind in itertools.product(
            [np.float32, np.float64, np.int32, np.bool_, np.complex128], SHAPES, SHAPES,
            OPERAND_KINDS, OPERAND_KINDS):
        if x_kind == y_kind == "constant":
            continue  # nothing staged: the values are compared below
        operands = (_maker(dtype, x_shape, x_kind), _maker(dtype, y_shape, y_kind))
        assert _jaxpr_or_error(fn, *operands) == _jaxpr_or_error(general, *operands)
        checked += 1
    for dtype, shape, kind, scalar in itertools.product(
            [np.float16, np.float32, np.float64], SHAPES, OPERAND_KINDS[1:], [2, 2.5]):
        operand = _maker(dtype, shape, kind)
        for pair in ((operand, (scalar, lambda _, s=scalar: s)),
                     ((scalar, lambda _, s=scalar: s), operand)):
            assert _jaxpr_or_error(fn, *pair) == _jaxpr_or_error(general, *pair)
            checked += 1
    assert checked > 700


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.filterwarnings("ignore:divide by zero encountered")
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_functions_compute_what_the_general_path_computes(name):
    fn, general = BINARY[name][0], _general_binary(name)
    rng = np.random.default_rng(0)
    for dtype, x_shape, y_shape in itertools.product(
            [np.float32, np.float64, np.int32, np.complex128], SHAPES, SHAPES):
        x = (rng.standard_normal(x_shape) * 3).astype(dtype)
        for y in [(rng.standard_normal(y_shape) * 3).astype(dtype), 2, -1.5]:
            got, want = _outcome_value(fn, x, y), _outcome_value(general, x, y)
            assert type(got) is type(want)
            if isinstance(want, str):
                assert got == want
            else:
                assert got.dtype == want.dtype
                np.testing.assert_array_equal(got, want)


def _outcome_value(fn, *args):
    try:
        return fn(*args)
    except Exception as e:
        return f"{type(e).__name__}: {e}"


@pytest.mark.parametrize("exponent", [-2, -1, 0, 1, 2, 3])
def test_integer_powers_of_floats_stage_integer_pow(exponent):
    for dtype, shape, kind in itertools.product([np.float32, np.float64, np.complex64],
                                                SHAPES, OPERAND_KINDS[1:]):
        operand = _maker(dtype, shape, kind)
        assert (_jaxpr_or_error(lambda x: x ** exponent, operand)
                == _jaxpr_or_error(lambda x: lax.integer_pow(x, exponent), operand))


MATMUL_SHAPES = [(3,), (4,), (2, 3), (3, 4), (4, 3), (2, 2, 3), (1, 3, 4)]


def _general_product(name):
    """The general path of matmul or dot for operands of at most two dimensions."""
    def general(a, b):
        a, b = _products._operands(name, a, b)
        na, nb = len(get_aval(a).shape), len(get_aval(b).shape)
        if na > 2 or nb > 2:
            return getattr(fnp, name)(a, b)  # (no direct path for stacks)
        if get_aval(a).shape[-1] != get_aval(b).shape[0]:
            raise ValueError("mismatch")
        return lax.dot_general(a, b, (((na - 1,), (0,)), ((), ())))
    return general


@pytest.mark.parametrize("name", ["matmul", "dot"])
def test_matrix_products_stage_what_the_general_path_stages(name):
    fn, general = getattr(fnp, name), _general_product(name)
    checked = 0
    for (x_dtype, y_dtype), x_shape, y_shape, x_kind, y_kind in itertools.product(
            [(np.float32, np.float32), (np.float64, np.float64), (np.int32, np.int32),
             (np.float32, np.float64), (np.int32, np.float32)], MATMUL_SHAPES, MATMUL_SHAPES,
            OPERAND_KINDS, OPERAND_KINDS):
        if x_kind == y_kind == "constant":
            continue
        operands = (_maker(x_dtype, x_shape, x_kind), _maker(y_dtype, y_shape, y_kind))
        got, want = _jaxpr_or_error(fn, *operands), _jaxpr_or_error(general, *operands)
        if want.startswith("ValueError: mismatch"):
            assert got.startswith(f"ValueError: functrans.numpy.{name}: shapes")
        else:
            assert got == want
        checked += 1
    assert checked > 1500


@pytest.mark.parametrize("name", ["matmul", "dot"])
@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.bool_, np.complex64])
def test_matrix_products_of_arrays_compute_numpys(name, dtype):
    rng = np.random.default_rng(1)
    for x_shape, y_shape in itertools.product(MATMUL_SHAPES, MATMUL_SHAPES):
        x = (rng.standard_normal(x_shape) * 3).astype(dtype)
        y = (rng.standard_normal(y_shape) * 3).astype(dtype)
        try:
            want = getattr(np, name)(x, y)
        except ValueError:
            with pytest.raises(ValueError, match=f"functrans.numpy.{name}"):
                getattr(fnp, name)(x, y)
            continue
        got = getattr(fnp, name)(x, y)
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5)  # (complex64: summation order)


AXES = [None, 0, 1, -1, -2, 2, -3, 5, True, np.int64(1), 1.0, "a", (0,), (1, 0), (0, 0), [-1]]


@pytest.mark.parametrize("ndim", [0, 1, 2, 3])
def test_axes_of_an_int_are_those_of_a_one_entry_list(ndim):
    for axis in AXES:
        general = [axis] if axis is not None and not isinstance(axis, (tuple, list)) else axis
        if axis is None:
            general = list(range(ndim))
        outcomes = []
        for given in (axis, general):
            try:
                outcomes.append(_util.canonicalize_axes(given, ndim, "f"))
            except Exception as e:
                outcomes.append(f"{type(e).__name__}: {e}")
        assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize("reduction", ["sum", "max", "min", "prod", "any", "all"])
def test_reductions_stage_the_lax_reduction(reduction):
    lax_fn = {"sum": lax.reduce_sum, "max": lax.reduce_max, "min": lax.reduce_min,
              "prod": lax.reduce_prod, "any": lax.reduce_or, "all": lax.reduce_and}[reduction]
    for dtype, shape, axis, keepdims in itertools.product(
            [np.float32, np.float64], [(), (3,), (2, 3)], [None, 0, -1, (0, 1), 1.0], [False,
                                                                                    True]):
        operand = _maker(dtype, shape, "traced")
        fn = getattr(fnp, reduction)

        def general(x, axis=axis, keepdims=keepdims):
            if reduction in ("any", "all"):
                x = lax.ne(x, lax.full_like(x, 0))
            axes = _util.canonicalize_axes([] if axis is None else axis, x.ndim, reduction) \
                if axis is not None else tuple(range(x.ndim))
            out = lax_fn(x, axes) if axes else x
            if keepdims:
                out = lax.reshape(out, tuple(1 if i in axes else d
                                             for i, d in enumerate(x.shape)))
            return out

        got = _jaxpr_or_error(lambda x, a=axis, k=keepdims: fn(x, axis=a, keepdims=k), operand)
        want = _jaxpr_or_error(general, operand)
        if isinstance(axis, float):
            assert got.startswith("TypeError: functrans.numpy") and "axis" in got
        else:
            assert got == want


DOT_DIMENSION_NUMBERS = [
    (((1,), (0,)), ((), ())), (((0,), (0,)), ((), ())), (((-1,), (-2,)), ((), ())),
    (((1,), (1,)), ((0,), (0,))), (((2,), (0,)), ((), ())), (((np.int64(1),), (0,)), ((), ())),
    (((True,), (0,)), ((), ())), (((1.0,), (0,)), ((), ())), (((1, 1), (0, 1)), ((), ())),
]


def _as_lists(dimension_numbers):
    (lc, rc), (lb, rb) = dimension_numbers
    return [[list(lc), list(rc)], [list(lb), list(rb)]]


def test_dot_general_dimension_numbers_as_tuples_are_those_as_lists():
    # lists always take the general canonicalisation; tuples may be kept as they are
    operands = (_maker(np.float64, (3, 3), "traced"), _maker(np.float64, (3, 3), "traced"))
    for dims in DOT_DIMENSION_NUMBERS:
        listed = _as_lists(dims)
        assert (_jaxpr_or_error(lambda a, b, d=dims: lax.dot_general(a, b, d), *operands)
                == _jaxpr_or_error(lambda a, b, d=listed: lax.dot_general(a, b, d), *operands))


LAX_AXES = [(), (0,), (1,), (0, 1), (1, 0), (0, 0), (-1,), (2,), (True,), (np.int64(1),),
            (1.0,)]


@pytest.mark.parametrize("reduction", [lax.reduce_sum, lax.reduce_max])
def test_lax_reduction_axes_as_tuples_are_those_as_lists(reduction):
    # lists always take the general canonicalisation; tuples may be kept as they are
    operand = _maker(np.float64, (2, 3), "traced")
    for axes in LAX_AXES:
        listed = list(axes)
        assert (_jaxpr_or_error(lambda x, a=axes: reduction(x, a), operand)
                == _jaxpr_or_error(lambda x, a=listed: reduction(x, a), operand))


def test_small_concrete_broadcasts_are_new_arrays():
    x, b = np.ones((8, 32)), np.arange(32.0)
    _, wide = _util.promote_args("f", x, b)
    big, _ = _util.promote_args("f", b, np.ones((70, 70, 32)))
    np.testing.assert_array_equal(wide, np.broadcast_to(b, (8, 32)))
    assert not np.shares_memory(wide, b) and wide.flags.writeable
    np.testing.assert_array_equal(big, np.broadcast_to(b, (70, 70, 32)))  # a view: large
    np.testing.assert_array_equal(fnp.add(x, b), x + b)


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
