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
from functrans.numpy import _indexing, _products, _ufuncs, _util
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




MEAN_AXES = [None, 0, -1, (0, 1), 5, 1.0]


@pytest.mark.parametrize("name", ["mean", "var", "std"])
def test_means_and_variances_stage_what_the_general_path_stages(name):
    fn = getattr(fnp, name)

    def general(x, axis, keepdims, ddof):
        if name == "mean":  # a dtype (the one it computes in) takes the general path
            dtype = _util.to_inexact_dtype(get_aval(x).dtype)
            return fn(x, axis, dtype=dtype, keepdims=keepdims)
        return fn(x, axis, keepdims=keepdims, correction=ddof)  # as does a correction

    checked = 0
    for dtype, shape, kind, axis, keepdims, ddof in itertools.product(
            [np.float32, np.float64, np.complex64, np.int32], [(), (3,), (2, 3)],
            OPERAND_KINDS, MEAN_AXES, [False, True], [0, 1] if name != "mean" else [0]):
        if kind == "weak" and dtype == np.int32 and name != "mean":
            continue  # (a weak int has no variance dtype to keep: nothing to compare)
        operand = _maker(dtype, shape, kind)
        kwargs = {} if name == "mean" else {"ddof": ddof}
        got = _jaxpr_or_error(lambda x: fn(x, axis, keepdims=keepdims, **kwargs), operand)
        assert got == _jaxpr_or_error(lambda x: general(x, axis, keepdims, ddof), operand)
        if kind == "constant" and not got.startswith(("TypeError", "ValueError", "Axis")):
            value = operand[0]
            fast, slow = fn(value, axis, keepdims=keepdims, **kwargs), general(
                value, axis, keepdims, ddof)
            assert fast.dtype == slow.dtype
            np.testing.assert_array_equal(fast, slow)
        checked += 1
    assert checked > 200


def _general_clip(a, lo, hi):
    """clip by the general promotion of its three operands."""
    args = [a] + [b for b in (lo, hi) if b is not None]
    promoted = _util._promote("clip", tuple(_util.asarray_arg(x, "clip") for x in args), None)
    out, rest = promoted[0], promoted[1:]
    if lo is not None:
        out = lax.max(out, rest[0])
    if hi is not None:
        out = lax.min(out, rest[-1])
    return out


CLIP_BOUNDS = [(0.5, None), (None, 2), (-1.5, 2.5), (1, 3), (np.float32(0.5), 2.0),
               (0.5, np.float64(2.0)), (0.5, np.full(3, 2.0)), (True, None), (1e300, None)]


@pytest.mark.filterwarnings("ignore:overflow encountered in cast")
def test_clip_stages_what_the_general_path_stages():
    checked = 0
    for dtype, shape, kind, (lo, hi) in itertools.product(
            [np.float16, np.float32, np.float64, np.int32], SHAPES, OPERAND_KINDS,
            CLIP_BOUNDS):
        operand = _maker(dtype, shape, kind)
        got = _jaxpr_or_error(lambda x: fnp.clip(x, lo, hi), operand)
        assert got == _jaxpr_or_error(lambda x: _general_clip(x, lo, hi), operand)
        if kind == "constant":
            fast, slow = fnp.clip(operand[0], lo, hi), _general_clip(operand[0], lo, hi)
            assert fast.dtype == slow.dtype
            np.testing.assert_array_equal(fast, slow)
        checked += 1
    assert checked > 300


def _general_where(condition, x, y):
    """where by the general promotion and broadcasting of its operands."""
    condition = _util.as_array(_util.asarray_arg(condition, "where"))
    x, y = _util._promote("where", (_util.asarray_arg(x, "where"),
                                    _util.asarray_arg(y, "where")), None)
    shape = _util.broadcast_shapes("where", _util.shape_of(condition), _util.shape_of(x))
    return lax.select(_util.broadcast_to_shape(_ufuncs.to_bool(condition), shape),
                      _util.broadcast_to_shape(x, shape), _util.broadcast_to_shape(y, shape))


def test_where_stages_what_the_general_path_stages():
    checked = 0
    scalars = [(2.5, lambda _: 2.5), (2, lambda _: 2)]
    for dtype, c_shape, x_shape, c_kind, x_kind, y_kind in itertools.product(
            [np.float32, np.float64, np.int32, np.bool_], [(), (2, 3)], SHAPES,
            OPERAND_KINDS[:2], OPERAND_KINDS, OPERAND_KINDS):
        condition = _maker(np.bool_, c_shape, c_kind)
        x = _maker(dtype, x_shape, x_kind)
        for y in [_maker(dtype, c_shape, y_kind)] + scalars:
            operands = (condition, x, y)
            assert (_jaxpr_or_error(fnp.where, *operands)
                    == _jaxpr_or_error(_general_where, *operands))
            checked += 1
    values = [np.arange(6.0).reshape(2, 3) - 2, np.arange(3, dtype=np.float32), 1.5, 2]
    for c, x, y in itertools.product(values[:2], values, values):
        condition = np.asarray(c) > 0
        fast, slow = fnp.where(condition, x, y), _general_where(condition, x, y)
        assert fast.dtype == slow.dtype
        np.testing.assert_array_equal(fast, slow)
    assert checked > 1000


JOIN_SHAPES = [[(2, 3), (2, 3)], [(2, 3), (4, 3)], [(2, 3), (2, 4)], [(3,), (2,)],
               [(2, 3), (3,)], [(), ()], [(2, 3), (2, 3), (1, 3)]]


@pytest.mark.parametrize("axis", [0, 1, -1, -2, 2, None, np.int64(1)])
def test_concatenate_and_stack_stage_what_the_general_path_stages(axis):
    checked = 0
    for shapes, dtypes, kinds in itertools.product(
            JOIN_SHAPES, [(np.float64, np.float64), (np.float32, np.float64),
                          (np.int32, np.int32)], itertools.product(OPERAND_KINDS, repeat=2)):
        operands = [_maker(dtypes[i % 2], s, kinds[i % 2]) for i, s in enumerate(shapes)]

        def general_concatenate(*xs):  # an iterable (not a list) takes the general path
            return fnp.concatenate(iter(xs), axis)

        def general_stack(*xs):
            ax = _util.canonicalize_axis(axis, _util.ndim_of(xs[0]) + 1, "stack")
            return fnp.concatenate([fnp.expand_dims(x, ax) for x in xs], ax)

        assert (_jaxpr_or_error(lambda *xs: fnp.concatenate(xs, axis), *operands)
                == _jaxpr_or_error(general_concatenate, *operands))
        got = _jaxpr_or_error(lambda *xs: fnp.stack(xs, axis), *operands)
        if not got.startswith(("ValueError", "TypeError", "Axis")):
            assert got == _jaxpr_or_error(general_stack, *operands)
        checked += 1
    assert checked > 180


STATIC_INDEXES = [0, -1, (0, 1), slice(None), (slice(None), 0), (Ellipsis, 1),
                  (None, slice(1, None)), (slice(None, None, -1), None, -2),
                  (slice(3, 0, -2), Ellipsis), (1, slice(None), None), slice(5, 9), 4,
                  (0, 0, 0), (Ellipsis, Ellipsis), (slice(None, None, 0),)]


def test_static_indexes_remembered_are_those_parsed_afresh():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(shape)
              for shape in [(4,), (6,), (4, 3), (3, 4), (3, 4, 2), (2, 4, 3)]]
    cases = list(itertools.product(range(len(arrays)), STATIC_INDEXES))
    fresh = {}
    for k, index in cases:
        _indexing._basic_indexes.clear()
        fresh[k, repr(index)] = _jaxpr_or_error(lambda t, i=index: t[i],
                                                (arrays[k], lambda t: t))
    for k, index in cases * 2:  # remembered, after the other indexes and shapes
        x = arrays[k]
        assert _jaxpr_or_error(lambda t, i=index: t[i], (x, lambda t: t)) == \
            fresh[k, repr(index)]
        try:
            want = x[index]
        except (IndexError, ValueError) as e:
            with pytest.raises(type(e)):
                _indexing.getitem(x, index)
            continue
        np.testing.assert_array_equal(_indexing.getitem(x, index), want)


# ------------------------------------------------------------------ einsum plans

#: one einsum at shapes that change its plan: ellipsis widths, size-1 axes that
#: broadcast, sizes that change the contraction order, repeated labels
EINSUM_SHAPE_SEQUENCES = [
    ("...ij,...jk->...ik", [[(3, 4), (4, 5)], [(2, 3, 4), (4, 5)], [(2, 1, 3, 4), (5, 4, 6)],
                            [(1, 4), (4, 5)]]),
    ("ij,jk,kl->il", [[(3, 4), (4, 50), (50, 2)], [(30, 4), (4, 5), (5, 2)],
                      [(3, 40), (40, 5), (5, 20)]]),
    ("ij,j->i", [[(3, 4), (4,)], [(3, 4), (1,)], [(3, 1), (4,)]]),
    ("ii->i", [[(3, 3)], [(1, 1)], [(5, 5)]]),
]


def _einsum_jaxpr(spec, shapes, optimize):
    arrays = [np.ones(s) for s in shapes]
    return str(ft.make_jaxpr(lambda *xs: fnp.einsum(spec, *xs, optimize=optimize))(*arrays))


@pytest.mark.parametrize("optimize", [False, "greedy", "optimal"])
@pytest.mark.parametrize("spec, sequence", EINSUM_SHAPE_SEQUENCES,
                         ids=[s for s, _ in EINSUM_SHAPE_SEQUENCES])
def test_einsum_plans_are_those_made_afresh(spec, sequence, optimize):
    # a remembered plan serves only calls of its subscripts, shapes and optimize
    rng = np.random.default_rng(2)
    fresh = {}
    for shapes in sequence:
        _products._einsum_plans.clear()
        fresh[tuple(shapes)] = _einsum_jaxpr(spec, shapes, optimize)
    for shapes in sequence + sequence[::-1]:  # each one met after the others
        arrays = [rng.standard_normal(s) for s in shapes]
        np.testing.assert_allclose(fnp.einsum(spec, *arrays, optimize=optimize),
                                   np.einsum(spec, *arrays), rtol=1e-12)
        assert _einsum_jaxpr(spec, shapes, optimize) == fresh[tuple(shapes)]


def test_einsum_optimize_values_that_compare_equal_keep_their_meaning():
    a, b, c = np.ones((3, 4)), np.ones((4, 5)), np.ones((5, 2))
    want = np.einsum("ij,jk,kl->il", a, b, c)
    path = ["einsum_path", [1, 2], [0, 1]]  # lists inside: not hashable as given
    for optimize in [False, path, True, "greedy", 1]:
        np.testing.assert_allclose(fnp.einsum("ij,jk,kl->il", a, b, c, optimize=optimize), want)
    for optimize in [0, "bogus"]:  # 0 == False, but is not a strategy
        with pytest.raises(ValueError, match="einsum: optimize must be"):
            fnp.einsum("ij,jk,kl->il", a, b, c, optimize=optimize)
    path_order = _einsum_jaxpr("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)], path)
    assert path_order == _einsum_jaxpr("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)],
                                       ("einsum_path", (1, 2), (0, 1)))
    assert path_order != _einsum_jaxpr("ij,jk,kl->il", [(3, 4), (4, 5), (5, 2)], False)


def test_einsum_plans_kept_are_bounded():
    for n in range(1, _products._EINSUM_PLANS_KEPT + 20):
        fnp.einsum("i->", np.ones(n))
        assert len(_products._einsum_plans) <= _products._EINSUM_PLANS_KEPT


#: einsums and the functrans.numpy functions that stage the same program
EINSUM_EQUIVALENTS = [
    ("ij,jk->ik", [(3, 4), (4, 5)], fnp.matmul),
    ("ij,j->i", [(3, 4), (4,)], fnp.matmul),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)], lambda a, b: lax.dot_general(
        a, b, (((2,), (1,)), ((0,), (0,))))),
    ("ij,kj->ik", [(3, 4), (5, 4)], lambda a, b: lax.dot_general(a, b, (((1,), (1,)),
                                                                        ((), ())))),
    ("ij,jk->ki", [(3, 4), (4, 5)], lambda a, b: fnp.transpose(fnp.matmul(a, b))),
    ("ij->", [(3, 4)], fnp.sum),
    ("ijk->ik", [(2, 3, 4)], lambda a: fnp.sum(a, axis=1)),
    ("ijk->kji", [(2, 3, 4)], fnp.transpose),
    ("ii->i", [(3, 3)], fnp.diagonal),
    ("ij->ij", [(3, 4)], lambda a: a),
]


@pytest.mark.parametrize("spec, shapes, equivalent", EINSUM_EQUIVALENTS,
                         ids=[s for s, _, _ in EINSUM_EQUIVALENTS])
def test_einsum_stages_what_the_equivalent_function_stages(spec, shapes, equivalent):
    for kind in ["traced", "weak"]:
        operands = [_maker(np.float64, s, kind) for s in shapes]
        for _ in range(2):  # a fresh plan, then the remembered one
            assert (_jaxpr_or_error(lambda *xs: fnp.einsum(spec, *xs), *operands)
                    == _jaxpr_or_error(equivalent, *operands))


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
