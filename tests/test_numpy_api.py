"""``functrans.numpy``, ``functrans.nn`` and ``functrans.scipy.special`` against NumPy.

Values, dtypes (NEP 50 promotion, float32 preserved, integers promoted to
float64 where NumPy's float functions would) and shapes are compared with
NumPy on concrete inputs; derivatives of a representative subset are checked
against finite differences with ``check_grads``; the operators and methods of
traced arrays are checked under ``jit``, ``grad`` and ``vmap``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import functrans as ft
import functrans.numpy as fnp
from functrans import nn
from functrans.scipy import special
from functrans.test_util import check_grads

RNG = np.random.default_rng(1234)
A = RNG.normal(size=(3, 4))
A32 = A.astype(np.float32)
POS = RNG.uniform(0.5, 2.0, size=(3, 4))
INTS = np.arange(-6, 6).reshape(3, 4)


def assert_same(got, expected, rtol=1e-7, atol=0.0):
    """Equal values, shape and dtype."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)


# ------------------------------------------------------------------ elementwise

UNARY = ["sin", "cos", "tan", "arctan", "sinh", "cosh", "tanh", "arcsinh", "exp", "exp2",
         "expm1", "cbrt", "square", "abs", "negative", "sign", "floor", "ceil", "trunc",
         "rint", "deg2rad", "rad2deg", "isfinite", "isnan", "isinf"]
UNARY_POSITIVE = ["log", "log2", "log10", "log1p", "sqrt", "reciprocal", "arccosh"]


@pytest.mark.parametrize("name", UNARY + UNARY_POSITIVE)
def test_unary_values_and_dtypes(name):
    x = POS + 1.0 if name in UNARY_POSITIVE else A
    f, ref = getattr(fnp, name), getattr(np, name)
    assert_same(f(x), ref(x), rtol=1e-12)
    assert_same(f(x.astype(np.float32)), ref(x.astype(np.float32)), rtol=1e-5)


@pytest.mark.parametrize("name", ["sin", "exp", "sqrt", "log1p", "tanh", "arctan", "cbrt"])
def test_unary_of_integers_is_float64(name):
    ints = np.arange(1, 5, dtype=np.int32)
    out = getattr(fnp, name)(ints)
    assert out.dtype == np.float64
    assert_allclose(out, getattr(np, name)(ints.astype(np.float64)))


BINARY = ["add", "subtract", "multiply", "divide", "true_divide", "maximum", "minimum",
          "arctan2", "hypot", "fmax", "fmin", "logaddexp", "logaddexp2", "floor_divide",
          "remainder", "mod", "fmod", "float_power", "equal", "not_equal", "less",
          "less_equal", "greater", "greater_equal", "logical_and", "logical_or",
          "logical_xor"]


@pytest.mark.parametrize("name", BINARY)
def test_binary_broadcasting_and_promotion(name):
    f, ref = getattr(fnp, name), getattr(np, name)
    y = RNG.normal(size=(4,))
    if name == "float_power":
        x, y = np.abs(A), np.abs(y)
    else:
        x = A
    assert_same(f(x, y), ref(x, y), rtol=1e-12)
    x32 = x.astype(np.float32)
    # NEP 50: a Python scalar does not widen float32; a float64 array does
    assert_same(f(x32, 2.0), ref(x32, 2.0), rtol=1e-5, atol=1e-6)
    assert_same(f(3, x32), ref(3, x32), rtol=1e-5, atol=1e-6)
    assert_same(f(x32, y), ref(x32, y), rtol=1e-5, atol=1e-6)
    assert_same(f(x32[:, :1], y.astype(np.float32)), ref(x32[:, :1], y.astype(np.float32)),
                rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "floor_divide", "remainder",
                                  "fmod", "maximum", "minimum", "power", "divide"])
def test_integer_arithmetic_matches_numpy(name):
    f, ref = getattr(fnp, name), getattr(np, name)
    for divisor in (3, -4) if name != "power" else (3, 0):  # NumPy rejects ints ** -4
        assert_same(f(INTS, divisor), ref(INTS, divisor))
    assert_same(f(INTS.astype(np.int32), np.int32(5)), ref(INTS.astype(np.int32), np.int32(5)))
    assert_same(f(np.abs(INTS) + 1, np.arange(1, 5)), ref(np.abs(INTS) + 1, np.arange(1, 5)))


def test_float_floor_divide_and_remainder_signs():
    x = np.array([-7.5, -7.0, 7.5, 0.0, 5.0, -0.5])
    y = np.array([2.0, -2.0, -2.0, 3.0, 0.5, 0.25])
    assert_same(fnp.floor_divide(x, y), np.floor_divide(x, y))
    assert_same(fnp.remainder(x, y), np.remainder(x, y))
    q, r = fnp.divmod(x, y)
    assert_same(q, np.floor_divide(x, y))
    assert_same(r, np.remainder(x, y))


def test_power_variants():
    assert_same(fnp.power(A32, 3), np.power(A32, 3))
    assert_same(fnp.power(POS, 0.5), np.power(POS, 0.5))
    assert_same(fnp.power(2, np.arange(4)), np.power(2, np.arange(4)))
    assert_same(fnp.power(2.0, A32), np.power(2.0, A32), rtol=1e-6)
    with pytest.raises(ValueError, match="negative integer powers"):
        fnp.power(INTS, -1)
    # x ** n lowers to integer_pow (exact, differentiable at x <= 0)
    assert "integer_pow" in str(ft.make_jaxpr(lambda x: x ** 3)(1.0))
    assert "pow" in str(ft.make_jaxpr(lambda x, y: x ** y)(1.0, 2.0))
    assert_allclose(ft.grad(lambda x: x ** 3)(-2.0), 12.0)


def test_rounding_functions():
    x = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.675])
    assert_same(fnp.round(x), np.round(x))
    assert_same(fnp.round(x, 2), np.round(x, 2))
    assert_same(fnp.round(np.array([1234, -1250, 15]), -2),
                np.round(np.array([1234, -1250, 15]), -2))
    assert_same(fnp.round(INTS), np.round(INTS))
    assert_same(fnp.floor(INTS), np.floor(INTS))
    assert_same(fnp.trunc(x), np.trunc(x))
    assert_same(fnp.clip(A32, -0.5, 0.5), np.clip(A32, -0.5, 0.5))
    assert_same(fnp.clip(INTS, max=2), np.clip(INTS, max=2))


def test_where_select_and_special_values():
    assert_same(fnp.where(A > 0, A32, 0.0), np.where(A > 0, A32, 0.0))
    assert_same(fnp.where(A > 0, 1, INTS), np.where(A > 0, 1, INTS))
    conds = [A < -0.5, A > 0.5]
    assert_same(fnp.select(conds, [A, 2 * A], -1.0), np.select(conds, [A, 2 * A], -1.0))
    special_values = np.array([np.nan, np.inf, -np.inf, 0.0, 1.0])
    for name in ["isnan", "isinf", "isfinite", "isposinf", "isneginf"]:
        assert_same(getattr(fnp, name)(special_values), getattr(np, name)(special_values))
    assert_same(fnp.nan_to_num(special_values), np.nan_to_num(special_values))
    assert_same(fnp.fmax(special_values, 0.5), np.fmax(special_values, 0.5))
    assert_same(fnp.isclose(A, A + 1e-9), np.isclose(A, A + 1e-9))
    assert bool(fnp.allclose(A, A + 1e-9))


def test_logaddexp_is_stable():
    x = np.array([1000.0, -1000.0, -np.inf, np.inf, 0.0])
    y = np.array([1000.0, -1001.0, -np.inf, 0.0, -np.inf])
    assert_same(fnp.logaddexp(x, y), np.logaddexp(x, y))


def test_bitwise_and_logical():
    a, b = INTS, INTS[::-1]
    assert_same(fnp.bitwise_and(a, b), np.bitwise_and(a, b))
    assert_same(fnp.bitwise_or(a, 3), np.bitwise_or(a, 3))
    assert_same(fnp.invert(a > 0), np.invert(a > 0))
    assert_same(fnp.logical_not(a), np.logical_not(a))
    with pytest.raises(TypeError, match="bitwise_and"):
        fnp.bitwise_and(A, A)
    with pytest.raises(TypeError, match="boolean"):
        fnp.subtract(a > 0, a > 1)


def test_division_by_zero_and_boolean_square_match_numpy():
    x, y = np.array([1.0, -1.0, 0.0, 5.5]), np.array([0.0, 0.0, 0.0, 2.0])
    with np.errstate(all="ignore"):
        assert_same(fnp.floor_divide(x, y), np.floor_divide(x, y))
        assert_same(fnp.remainder(x, y), np.remainder(x, y))
    assert_same(fnp.square(np.array([True, False])), np.square(np.array([True, False])))


def test_eager_results_are_numpy_and_weak_scalars_stay_weak():
    assert type(fnp.sin(A)) is np.ndarray
    assert isinstance(fnp.sum(A), (np.ndarray, np.generic))
    # a Python scalar passed through a transformation is weakly typed, as in JAX
    assert ft.jit(lambda x, s: x * s)(A32, 2.0).dtype == np.float32
    assert ft.grad(lambda x, s: fnp.sum(x * s))(A32, 2.0).dtype == np.float32


def test_scalars_and_python_inputs():
    out = fnp.sin(1.0)
    assert_allclose(out, math.sin(1.0))
    assert np.asarray(fnp.add(1, 2)).dtype == np.int64
    assert np.asarray(fnp.multiply(np.float32(2), 3.0)).dtype == np.float32
    assert_same(fnp.add([1.0, 2.0], (3.0, 4.0)), np.array([4.0, 6.0]))


def test_incompatible_shapes_name_the_function():
    with pytest.raises(ValueError, match="add: operands could not be broadcast"):
        fnp.add(np.ones(3), np.ones(4))


# ------------------------------------------------------------------ reductions

@pytest.mark.parametrize("name", ["sum", "prod", "mean", "var", "std", "max", "min"])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(name, axis, keepdims):
    f, ref = getattr(fnp, name), getattr(np, name)
    assert_same(f(A, axis=axis, keepdims=keepdims), ref(A, axis=axis, keepdims=keepdims),
                rtol=1e-12)
    assert_same(f(A32, axis=axis, keepdims=keepdims), ref(A32, axis=axis, keepdims=keepdims),
                rtol=1e-5)
    ints = INTS.astype(np.int32)
    assert_same(f(ints, axis=axis, keepdims=keepdims), ref(ints, axis=axis, keepdims=keepdims),
                rtol=1e-12)


def test_reduction_dtype_rules_and_options():
    bools = A > 0
    assert_same(fnp.sum(bools), np.sum(bools))
    assert_same(fnp.sum(INTS.astype(np.uint8)), np.sum(INTS.astype(np.uint8)))
    assert_same(fnp.mean(bools, axis=0), np.mean(bools, axis=0))
    assert_same(fnp.sum(A, dtype=np.float32), np.sum(A, dtype=np.float32), rtol=1e-6)
    assert_same(fnp.var(A, axis=1, ddof=1), np.var(A, axis=1, ddof=1))
    assert_same(fnp.std(A32, ddof=2), np.std(A32, ddof=2), rtol=1e-6)
    assert_same(fnp.sum(A, axis=1, where=A > 0), np.sum(A, axis=1, where=A > 0))
    assert_same(fnp.mean(A, axis=0, where=A > 0), np.mean(A, axis=0, where=A > 0))
    assert_same(fnp.max(A, axis=0, where=A < 0, initial=-5.0),
                np.max(A, axis=0, where=A < 0, initial=-5.0))
    assert_same(fnp.sum(A, initial=10.0), np.sum(A, initial=10.0))
    assert_same(fnp.average(A, axis=1, weights=np.arange(1.0, 5.0)),
                np.average(A, axis=1, weights=np.arange(1.0, 5.0)))
    assert_same(fnp.count_nonzero(INTS, axis=0), np.count_nonzero(INTS, axis=0))
    with pytest.raises(ValueError, match="zero-size"):
        fnp.max(np.ones((0, 3)), axis=0)
    with pytest.raises(np.exceptions.AxisError, match="sum: axis 2 is out of bounds"):
        fnp.sum(A, axis=2)


def test_arg_and_logical_reductions():
    for axis in (None, 0, 1, -1):
        assert_same(fnp.argmax(A, axis=axis), np.argmax(A, axis=axis))
        assert_same(fnp.argmin(A32, axis=axis), np.argmin(A32, axis=axis))
        assert_same(fnp.all(A > -1, axis=axis), np.all(A > -1, axis=axis))
        assert_same(fnp.any(INTS, axis=axis), np.any(INTS, axis=axis))
    assert_same(fnp.argmax(A, axis=1, keepdims=True), np.argmax(A, axis=1, keepdims=True))
    ties = np.array([1.0, 3.0, 3.0, 0.0])
    assert fnp.argmax(ties) == 1


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
def test_cumulative(name):
    f, ref = getattr(fnp, name), getattr(np, name)
    for axis in (None, 0, 1):
        assert_same(f(A, axis=axis), ref(A, axis=axis), rtol=1e-12)
        assert_same(f(A32, axis=axis), ref(A32, axis=axis), rtol=1e-5)
        assert_same(f(INTS.astype(np.int16), axis=axis), ref(INTS.astype(np.int16), axis=axis))
    assert_same(fnp.cumulative_sum(np.arange(4), include_initial=True),
                np.array([0, 0, 1, 3, 6]))


# ------------------------------------------------------------------ shape manipulation

def test_reshaping_and_axes():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert_same(fnp.reshape(x, (4, -1)), np.reshape(x, (4, -1)))
    assert_same(fnp.reshape(x, (6, 4), order="F"), np.reshape(x, (6, 4), order="F"))
    assert_same(fnp.ravel(x), np.ravel(x))
    assert_same(fnp.transpose(x), np.transpose(x))
    assert_same(fnp.transpose(x, (1, 0, 2)), np.transpose(x, (1, 0, 2)))
    assert_same(fnp.swapaxes(x, 0, -1), np.swapaxes(x, 0, -1))
    assert_same(fnp.moveaxis(x, [0, 1], [-1, 0]), np.moveaxis(x, [0, 1], [-1, 0]))
    assert_same(fnp.expand_dims(x, (0, -1)), np.expand_dims(x, (0, -1)))
    assert_same(fnp.squeeze(np.ones((1, 3, 1))), np.squeeze(np.ones((1, 3, 1))))
    assert_same(fnp.squeeze(np.ones((1, 3, 1)), axis=2), np.squeeze(np.ones((1, 3, 1)), 2))
    assert_same(fnp.broadcast_to(np.arange(3), (2, 3)), np.broadcast_to(np.arange(3), (2, 3)))
    for n in (1, 2, 3):
        f, ref = getattr(fnp, f"atleast_{n}d"), getattr(np, f"atleast_{n}d")
        for v in (np.float64(1.0), np.ones(3), np.ones((2, 3))):
            assert_same(f(v), ref(v))
    with pytest.raises(ValueError, match="cannot reshape"):
        fnp.reshape(x, (5, -1))
    with pytest.raises(ValueError, match="squeeze"):
        fnp.squeeze(x, 0)


def test_joining_and_splitting():
    x, y = A, A32
    assert_same(fnp.concatenate([x, y], axis=1), np.concatenate([x, y], axis=1))
    assert_same(fnp.concatenate([x, INTS], axis=None), np.concatenate([x, INTS], axis=None))
    assert_same(fnp.stack([x, x], axis=-1), np.stack([x, x], axis=-1))
    assert_same(fnp.hstack([np.ones(2), np.zeros(3)]), np.hstack([np.ones(2), np.zeros(3)]))
    assert_same(fnp.vstack([np.ones(4), x]), np.vstack([np.ones(4), x]))
    assert_same(fnp.dstack([x, x]), np.dstack([x, x]))
    assert_same(fnp.column_stack([np.ones(3), x]), np.column_stack([np.ones(3), x]))
    for got, want in zip(fnp.split(x, 2, axis=1), np.split(x, 2, axis=1), strict=True):
        assert_same(got, want)
    for got, want in zip(fnp.split(x, [1, -1], axis=1), np.split(x, [1, -1], axis=1),
                         strict=True):
        assert_same(got, want)
    for got, want in zip(fnp.array_split(np.arange(7), 3), np.array_split(np.arange(7), 3),
                         strict=True):
        assert_same(got, want)
    with pytest.raises(ValueError, match="equal division"):
        fnp.split(x, 3, axis=1)
    with pytest.raises(ValueError, match="dimensions except"):
        fnp.concatenate([x, np.ones((2, 2))])


def test_reordering_tiling_padding():
    x = np.arange(12.0).reshape(3, 4)
    assert_same(fnp.flip(x), np.flip(x))
    assert_same(fnp.fliplr(x), np.fliplr(x))
    assert_same(fnp.flipud(x), np.flipud(x))
    for k in range(4):
        assert_same(fnp.rot90(x, k), np.rot90(x, k))
    assert_same(fnp.roll(x, 5), np.roll(x, 5))
    assert_same(fnp.roll(x, (-1, 2), axis=(0, 1)), np.roll(x, (-1, 2), axis=(0, 1)))
    assert_same(fnp.tile(x, (2, 1, 3)), np.tile(x, (2, 1, 3)))
    assert_same(fnp.tile(np.arange(3), 2), np.tile(np.arange(3), 2))
    assert_same(fnp.repeat(x, 2, axis=1), np.repeat(x, 2, axis=1))
    assert_same(fnp.repeat(x, [2, 0, 1], axis=0), np.repeat(x, [2, 0, 1], axis=0))
    assert_same(fnp.repeat(x, 3), np.repeat(x, 3))
    assert_same(fnp.pad(x, 1), np.pad(x, 1))
    assert_same(fnp.pad(x, ((1, 0), (2, 3)), constant_values=-1.0),
                np.pad(x, ((1, 0), (2, 3)), constant_values=-1.0))
    assert_same(fnp.pad(x, 2, constant_values=((1, 2), (3, 4))),
                np.pad(x, 2, constant_values=((1, 2), (3, 4))))
    for mode in ("edge", "reflect", "symmetric", "wrap"):
        assert_same(fnp.pad(x, ((2, 1), (3, 5)), mode=mode), np.pad(x, ((2, 1), (3, 5)),
                                                                     mode=mode))
    with pytest.raises(ValueError, match="mode 'median' is not supported"):
        fnp.pad(x, 1, mode="median")


def test_roll_by_a_traced_shift():
    x = np.arange(5.0)
    for shift in (0, 2, -1, 7):
        assert_same(ft.jit(lambda a, s: fnp.roll(a, s))(x, shift), np.roll(x, shift))


def test_diagonals_and_triangles():
    x = np.arange(12.0).reshape(3, 4)
    c = RNG.normal(size=(2, 3, 4, 5))
    for k in (-2, -1, 0, 1, 3, 5):
        assert_same(fnp.diagonal(x, k), np.diagonal(x, k))
        assert_same(fnp.diag(x, k), np.diag(x, k))
        assert_same(fnp.diag(np.arange(1.0, 4.0), k), np.diag(np.arange(1.0, 4.0), k))
        assert_same(fnp.tril(x, k), np.tril(x, k))
        assert_same(fnp.triu(c, k), np.triu(c, k))
    assert_same(fnp.diagonal(c, 1, 3, 1), np.diagonal(c, 1, 3, 1))
    assert_same(fnp.trace(x, 1), np.trace(x, 1))
    assert_same(fnp.trace(c, -1, 2, 3), np.trace(c, -1, 2, 3))
    assert_same(fnp.diagflat([[1, 2], [3, 4]]), np.diagflat([[1, 2], [3, 4]]))


# ------------------------------------------------------------------ products

MATMUL_SHAPES = [((4,), (4,)), ((3, 4), (4,)), ((4,), (4, 5)), ((3, 4), (4, 5)),
                 ((2, 3, 4), (4, 5)), ((3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
                 ((4,), (2, 4, 5)), ((2, 3, 4), (4,))]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul_and_dot(shapes):
    a, b = RNG.normal(size=shapes[0]), RNG.normal(size=shapes[1])
    assert_same(fnp.matmul(a, b), np.matmul(a, b), rtol=1e-12)
    assert_same(fnp.matmul(a.astype(np.float32), b), np.matmul(a.astype(np.float32), b),
                rtol=1e-12)
    if len(shapes[1]) <= 2 or len(shapes[0]) == 1:
        assert_same(fnp.dot(a, b), np.dot(a, b), rtol=1e-12)


def test_other_products():
    a, b = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(5, 4))
    c = RNG.normal(size=(4, 3, 2))
    d = RNG.normal(size=(6, 4, 2))
    assert_same(fnp.dot(a, d), np.dot(a, d), rtol=1e-12)
    assert_same(fnp.dot(3.0, a), np.dot(3.0, a))
    assert_same(fnp.inner(a, b), np.inner(a, b), rtol=1e-12)
    assert_same(fnp.outer(a[0], b), np.outer(a[0], b))
    assert_same(fnp.vdot(a, a), np.vdot(a, a), rtol=1e-12)
    assert_same(fnp.tensordot(a, c, axes=([1, 2], [1, 0])),
                np.tensordot(a, c, axes=([1, 2], [1, 0])), rtol=1e-12)
    assert_same(fnp.tensordot(a, c, axes=1), np.tensordot(a, c, axes=1), rtol=1e-12)
    assert_same(fnp.tensordot(a, c, 0), np.tensordot(a, c, 0))
    assert_same(fnp.vecdot(a, a), np.vecdot(a, a), rtol=1e-12)
    with pytest.raises(ValueError, match="matmul"):
        fnp.matmul(a, b)
    with pytest.raises(ValueError, match="not aligned"):
        fnp.dot(b, b)


EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]), ("ij,jk", [(3, 4), (4, 5)]), ("ii", [(4, 4)]),
    ("ii->i", [(4, 4)]), ("ij->ji", [(3, 4)]), ("ijk->", [(2, 3, 4)]), ("i,j", [(3,), (4,)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("...ij,...jk->...ik", [(2, 3, 4), (4, 5)]),
    ("ijk,kl,lm", [(2, 3, 4), (4, 5), (5, 2)]), ("iij->j", [(3, 3, 4)]),
    ("ij,ij->i", [(3, 4), (3, 4)]), ("i,i", [(4,), (4,)]), ("ab,bc,cd,da->", [(2, 3), (3, 4),
                                                                            (4, 5), (5, 2)]),
    ("i...,i->...", [(3, 2, 2), (3,)]), ("ij,j->ij", [(3, 4), (1,)]),
]


@pytest.mark.parametrize("spec, shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_matches_numpy(spec, shapes):
    ops = [RNG.normal(size=s) for s in shapes]
    assert_same(fnp.einsum(spec, *ops), np.einsum(spec, *ops), rtol=1e-12)
    assert_same(fnp.einsum(spec, *ops, optimize=False), np.einsum(spec, *ops), rtol=1e-12)


def test_einsum_sublist_form_and_errors():
    a, b = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))
    assert_same(fnp.einsum(a, [0, 1], b, [1, 2], [0, 2]), a @ b, rtol=1e-12)
    with pytest.raises(ValueError, match="size of label"):
        fnp.einsum("ij,jk", a, a)
    with pytest.raises(ValueError, match="operands"):
        fnp.einsum("ij,jk", a)


# ------------------------------------------------------------------ creation, sorting, linalg

def test_creation_functions():
    assert_same(fnp.zeros((2, 3)), np.zeros((2, 3)))
    assert_same(fnp.ones(3, dtype=np.int32), np.ones(3, dtype=np.int32))
    assert_same(fnp.full((2,), 7), np.full((2,), 7))
    assert_same(fnp.zeros_like(A32), np.zeros_like(A32))
    assert_same(fnp.ones_like(INTS, dtype=float), np.ones_like(INTS, dtype=float))
    assert_same(fnp.full_like(A32, 2.5), np.full_like(A32, 2.5))
    assert_same(fnp.empty((2, 2)).shape, (2, 2))
    assert_same(fnp.eye(3, 4, k=1), np.eye(3, 4, k=1))
    assert_same(fnp.identity(3), np.identity(3))
    assert_same(fnp.arange(2, 11, 3), np.arange(2, 11, 3))
    assert_same(fnp.arange(0.0, 1.0, 0.25), np.arange(0.0, 1.0, 0.25))
    assert_same(fnp.linspace(0, 1, 7), np.linspace(0, 1, 7))
    assert_same(fnp.linspace(1, 2, 4, endpoint=False), np.linspace(1, 2, 4, endpoint=False))
    assert_same(fnp.logspace(0, 2, 3), np.logspace(0, 2, 3))
    assert_same(fnp.tri(3, 4, -1), np.tri(3, 4, -1))
    assert_same(fnp.array([[1, 2], [3, 4]], dtype=np.float32),
                np.array([[1, 2], [3, 4]], dtype=np.float32))
    assert_same(fnp.asarray(A32), A32)
    for got, want in zip(fnp.meshgrid(np.arange(3), np.arange(2)),
                         np.meshgrid(np.arange(3), np.arange(2)), strict=True):
        assert_same(got, want)
    with pytest.raises(ft.ConcretizationTypeError, match="arange"):
        ft.jit(lambda n: fnp.arange(n))(3)


def test_creation_from_traced_values():
    def f(x):
        v = fnp.array([x, 2 * x, x ** 2])
        return fnp.sum(v * fnp.full((3,), x)) + fnp.sum(fnp.linspace(x, 3 * x, 5))

    assert_allclose(f(1.5), 1.5 * (1.5 + 3 + 2.25) + 5 * 3.0)
    check_grads(f, (1.5,), order=2)


def test_nested_lists_of_traced_values():
    rows = ft.jit(lambda x: fnp.array([[x, 2 * x], [3.0, x]]))(np.float32(1.5))
    assert_same(rows, np.array([[1.5, 3.0], [3.0, 1.5]]))
    with pytest.raises(ValueError, match=r"functrans.numpy.array: .*different shapes"):
        ft.jit(lambda x: fnp.array([x, np.ones(2)]))(1.0)


def test_sorting_and_quantiles():
    x = RNG.normal(size=(4, 7))
    for axis in (None, 0, -1):
        assert_same(fnp.sort(x, axis=axis), np.sort(x, axis=axis))
        assert_same(fnp.argsort(x, axis=axis), np.argsort(x, axis=axis))
        assert_same(fnp.median(x, axis=axis), np.median(x, axis=axis))
    ties = np.array([3, 1, 3, 2, 1])
    assert_same(fnp.argsort(ties), np.argsort(ties, kind="stable"))
    assert_same(fnp.argsort(ties, descending=True), np.array([0, 2, 3, 1, 4]))
    assert_same(fnp.sort(ties, descending=True), np.sort(ties)[::-1])
    for method in ("linear", "lower", "higher", "nearest", "midpoint"):
        assert_same(fnp.quantile(x, [0.1, 0.5, 1.0], axis=1, method=method),
                    np.quantile(x, [0.1, 0.5, 1.0], axis=1, method=method), rtol=1e-12)
    assert_same(fnp.percentile(x, 30, axis=0, keepdims=True),
                np.percentile(x, 30, axis=0, keepdims=True))
    assert np.isnan(fnp.median(np.array([1.0, np.nan, 2.0])))


VECTOR_ORDS = [None, 0, 1, 2, 3, 0.5, np.inf, -np.inf]
MATRIX_ORDS = [None, "fro", 1, -1, np.inf, -np.inf]


def test_linalg_norm():
    x = RNG.normal(size=(3, 4))
    for ord_ in VECTOR_ORDS:
        assert_same(fnp.linalg.norm(x, ord_, axis=1), np.linalg.norm(x, ord_, axis=1))
        assert_same(fnp.linalg.norm(x[0], ord_), np.linalg.norm(x[0], ord_))
    for ord_ in MATRIX_ORDS:
        assert_same(fnp.linalg.norm(x, ord_), np.linalg.norm(x, ord_))
        assert_same(fnp.linalg.norm(x.T, ord_, keepdims=True),
                    np.linalg.norm(x.T, ord_, keepdims=True))
    batch = RNG.normal(size=(2, 3, 4))
    assert_same(fnp.linalg.norm(batch, 1, axis=(2, 1)), np.linalg.norm(batch, 1, axis=(2, 1)))
    assert_same(fnp.linalg.norm(batch), np.linalg.norm(batch))
    assert_same(fnp.linalg.norm(A32), np.linalg.norm(A32))
    for spectral in (2, -2, "nuc"):  # from the singular values
        assert_same(fnp.linalg.norm(x, spectral), np.linalg.norm(x, spectral))
    with pytest.raises(ValueError, match="invalid norm order"):
        fnp.linalg.norm(x[0], "fro")


# ------------------------------------------------------------------ gradients

GRAD_CASES = {
    "sin*exp": (lambda x: fnp.sum(fnp.sin(x) * fnp.exp(x)), (A,)),
    "logaddexp": (lambda x, y: fnp.sum(fnp.logaddexp(x, y)), (A, A[0])),
    "logaddexp ties": (lambda x: fnp.logaddexp(x, x), (0.3,)),
    "hypot": (lambda x, y: fnp.sum(fnp.hypot(x, y)), (A, POS)),
    "power": (lambda x, y: fnp.sum(fnp.power(x, y)), (POS, A)),
    "arctan2": (lambda x, y: fnp.sum(fnp.arctan2(x, y)), (A, POS)),
    "where": (lambda x: fnp.sum(fnp.where(x > 0, fnp.sqrt(fnp.abs(x)), x ** 2)), (A,)),
    "clip": (lambda x: fnp.sum(fnp.clip(x, -0.5, 0.5) ** 2), (A,)),
    "var/std": (lambda x: fnp.sum(fnp.var(x, axis=0, ddof=1)) + fnp.std(x), (A,)),
    "mean keepdims": (lambda x: fnp.sum(x / fnp.mean(x, axis=1, keepdims=True)), (POS,)),
    "max": (lambda x: fnp.sum(fnp.max(x, axis=1)) + fnp.min(x), (A,)),
    "prod/cumsum": (lambda x: fnp.sum(fnp.prod(x, axis=0) + fnp.cumsum(x, axis=0)), (POS,)),
    "matmul": (lambda a, b: fnp.sum(fnp.tanh(a @ b)), (A, RNG.normal(size=(2, 4, 3)))),
    "einsum": (lambda a, b, c: fnp.einsum("ij,jk,ki->", a, b, c),
               (A, RNG.normal(size=(4, 2)), RNG.normal(size=(2, 3)))),
    "einsum diag": (lambda a: fnp.einsum("ii->i", a), (A[:, :3],)),
    "tensordot": (lambda a, b: fnp.tensordot(a, b, 1), (A, POS.T)),
    "joins": (lambda x: fnp.sum(fnp.concatenate([x, 2 * x], axis=1) *
                                fnp.stack([x, x ** 2, x, x ** 3, x, x], axis=-1)
                                .reshape(3, 8, 3)[..., 0]), (A,)),
    "split": (lambda x: fnp.sum(fnp.split(x, 2, axis=1)[1] ** 2), (A,)),
    "pad": (lambda x: fnp.sum(fnp.pad(x, ((1, 2), (3, 0)), mode="reflect") ** 2) +
            fnp.sum(fnp.pad(x, 1, constant_values=2.0) ** 3), (A,)),
    "roll/tile/repeat": (lambda x: fnp.sum(fnp.roll(x, 3) * fnp.tile(x[:1], (3, 1))) +
                         fnp.sum(fnp.repeat(x, [1, 2, 0], axis=0) ** 2), (A,)),
    "diag/trace/tril": (lambda x: fnp.trace(x) + fnp.sum(fnp.diag(fnp.diag(x, 1)) ** 2)
                        + fnp.sum(fnp.tril(x) ** 2), (A,)),
    "sort/quantile": (lambda x: fnp.sum(fnp.sort(x, axis=0) * A) + fnp.median(x), (A,)),
    "norm": (lambda x: fnp.linalg.norm(x) + fnp.linalg.norm(x, 1) +
             fnp.sum(fnp.linalg.norm(x, 3, axis=0)), (A,)),
    "transpose/flip": (lambda x: fnp.sum(fnp.flip(x.T, 0) * fnp.moveaxis(x, 0, 1)), (A,)),
    "softmax": (lambda x: fnp.sum(nn.softmax(x) * A) + fnp.sum(nn.log_softmax(x, axis=0)),
                (A,)),
    "logsumexp": (lambda x: special.logsumexp(x, axis=1, b=POS).sum(), (A,)),
    "activations": (lambda x: fnp.sum(nn.gelu(x) + nn.gelu(x, approximate=False) + nn.elu(x)
                                      + nn.silu(x) + nn.softplus(x) + nn.log_sigmoid(x)
                                      + nn.leaky_relu(x) + nn.selu(x) + nn.celu(x, 0.5)),
                    (A,)),
    "gammaln": (lambda x: fnp.sum(special.gammaln(x)), (np.array([-2.5, 0.3, 1.0, 4.5]),)),
    "xlogy": (lambda x, y: fnp.sum(special.xlogy(x, y) + special.xlog1py(x, y)), (A, POS)),
}


@pytest.mark.parametrize("name", list(GRAD_CASES))
def test_gradients(name):
    f, args = GRAD_CASES[name]
    check_grads(f, args, order=2 if name in ("sin*exp", "logaddexp", "hypot", "einsum",
                                              "softmax", "gammaln") else 1)


def test_float32_gradients_stay_float32():
    g = ft.grad(lambda x: fnp.sum(fnp.tanh(x) * 2.0 + fnp.mean(x) + fnp.var(x)))(A32)
    assert g.dtype == np.float32
    g = ft.grad(lambda x: nn.logsumexp(x * 3.0) + fnp.linalg.norm(x))(A32)
    assert g.dtype == np.float32


def test_gradient_reduces_to_broadcast_input_shapes():
    x, row, s = A, A[0], 2.0
    gx, grow, gs = ft.grad(lambda x, r, s: fnp.sum(x * r + s), argnums=(0, 1, 2))(x, row, s)
    assert gx.shape == (3, 4) and grow.shape == (4,) and np.shape(gs) == ()
    assert_allclose(grow, x.sum(0))
    assert_allclose(gs, 12.0)


def test_kinks_follow_jax():
    assert ft.grad(nn.relu)(0.0) == 0.0
    assert ft.grad(lambda x: fnp.maximum(x, 0.0))(0.0) == 0.5
    assert ft.grad(lambda x: fnp.abs(x))(0.0) == 1.0  # JAX: select(x >= 0, t, -t)
    assert_allclose(ft.grad(lambda x: fnp.logaddexp(x, 0.0))(0.0), 0.5)


# ------------------------------------------------------------------ traced arrays

def test_operators_of_traced_arrays():
    a = RNG.uniform(1.0, 2.0, size=(3, 4))
    b = RNG.uniform(1.0, 2.0, size=(3, 4))

    def ops(a, b):
        return (a + b, a - b, a * b, a / b, a // b, a % b, a ** 2, a ** b, -a, +a, abs(-a),
                a @ b.T, a < b, a <= b, a > b, a >= b, a == b, a != b, ~(a > b),
                (a > 1.5) & (b > 1.5), (a > 1.5) | (b > 1.5), (a > 1.5) ^ (b > 1.5),
                1.0 + a, 2.0 - a, 3.0 * a, 1.0 / a, 2 ** a, 7.0 // a, 7.0 % a,
                b.T @ a, divmod(a, b)[1])

    for got, want in zip(ft.jit(ops)(a, b), ops(a, b), strict=True):
        assert_same(got, want, rtol=1e-14)
    assert_same(ft.jit(lambda t: round(t, 1))(a), np.round(a, 1))


def test_numpy_operand_on_the_left():
    y = np.array([1.0, 2.0, 3.0])
    f = lambda t: fnp.sum((y - t) ** 2 + y * t + y / (t + 2.0)) + y @ t  # noqa: E731
    assert_allclose(ft.grad(f)(np.zeros(3)), -2 * y + y - y / 4.0 + y)
    assert_same(ft.jit(lambda t: np.float32(2.0) * t)(np.ones(2, np.float32)),
                np.full(2, 2.0, np.float32))
    assert_same(ft.jit(lambda t: np.ones(2) < t)(np.zeros(2)), np.zeros(2, bool))


def test_methods_and_properties_of_traced_arrays():
    x = RNG.normal(size=(2, 3))

    def methods(t):
        return (t.T, t.mT, t.reshape(3, 2), t.reshape((-1,)), t.astype(np.float32),
                t.sum(0), t.mean(), t.max(axis=1), t.min(), t.prod(), t.std(), t.argmax(1),
                t.argmin(), t.cumsum(1), t.cumprod(), t.transpose(), t.transpose(1, 0),
                t.squeeze(), t.ravel(), t.flatten(), t.dot(t.T), t.clip(-0.5, 0.5),
                t.round(1), t.conj(), t.real, t.imag, t.any(), t.all(1), t.swapaxes(0, 1),
                t.sort(), t.argsort(), t.take([2, 0], axis=1), t.repeat(2), t.trace(),
                t.diagonal(), t.at[0, 1].set(5.0), t.at[:, 0].add(1.0))

    def reference(t):
        return (t.T, np.swapaxes(t, -1, -2), t.reshape(3, 2), t.reshape((-1,)),
                t.astype(np.float32), t.sum(0), t.mean(), t.max(axis=1), t.min(), t.prod(),
                t.std(), t.argmax(1), t.argmin(), t.cumsum(1), t.cumprod(), t.transpose(),
                t.transpose(1, 0), t.squeeze(), t.ravel(), t.flatten(), t.dot(t.T),
                t.clip(-0.5, 0.5), t.round(1), t.conj(), t.real, t.imag, t.any(), t.all(1),
                t.swapaxes(0, 1), np.sort(t), t.argsort(), t.take([2, 0], axis=1),
                t.repeat(2), t.trace(), t.diagonal(), _set(t, (0, 1), 5.0),
                _set(t, (slice(None), 0), t[:, 0] + 1.0))

    for got, want in zip(ft.jit(methods)(x), reference(x), strict=True):
        assert_same(got, want, rtol=1e-14)
    primal, tangent = ft.jvp(lambda t: t.var(axis=1, ddof=1), (x,), (np.ones_like(x),))
    assert_same(primal, x.var(axis=1, ddof=1))
    # .item() of a float would drop its derivative (jvp) or has no value (jit): refused;
    # of an integer, it works where the value is known
    with pytest.raises(ft.ConcretizationTypeError, match=r"\.item\(\)"):
        ft.jvp(lambda t: t * t.sum().item(), (x,), (x,))
    with pytest.raises(ft.ConcretizationTypeError):
        ft.jit(lambda t: t.sum().item())(x)
    assert ft.jvp(lambda t: t * t.shape[0] * (t > 0).sum().item(), (x,), (x,))[0].shape == (2, 3)
    assert isinstance(x, fnp.ndarray)
    assert ft.jit(lambda t: isinstance(t, fnp.ndarray))(x) is not None


def _set(x, idx, value):
    out = x.copy()
    out[idx] = value
    return out


def test_vmap_and_jit_agree_with_a_loop():
    def f(x, w):
        h = fnp.tanh(x @ w + fnp.mean(x))
        return fnp.sum(nn.softmax(h) * fnp.arange(3.0)) + fnp.linalg.norm(h[::-1])

    xs, w = RNG.normal(size=(5, 4)), RNG.normal(size=(4, 3))
    expected = np.array([f(x, w) for x in xs])
    assert_allclose(ft.vmap(f, in_axes=(0, None))(xs, w), expected, rtol=1e-12)
    assert_allclose(ft.jit(ft.vmap(f, in_axes=(0, None)))(xs, w), expected, rtol=1e-12)


# ------------------------------------------------------------------ nn and scipy.special

def test_activation_values():
    x = np.linspace(-4.0, 4.0, 17)
    sig = 1 / (1 + np.exp(-x))
    erf = np.vectorize(math.erf)
    cases = {
        "relu": np.maximum(x, 0), "relu6": np.clip(x, 0, 6), "sigmoid": sig,
        "softplus": np.log1p(np.exp(x)), "log_sigmoid": np.log(sig), "silu": x * sig,
        "soft_sign": x / (1 + np.abs(x)), "elu": np.where(x > 0, x, np.expm1(x)),
        "leaky_relu": np.where(x >= 0, x, 0.01 * x), "hard_tanh": np.clip(x, -1, 1),
        "hard_sigmoid": np.clip(x + 3, 0, 6) / 6,
        "gelu": 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
    }
    for name, want in cases.items():
        assert_allclose(getattr(nn, name)(x), want, rtol=1e-12, atol=1e-15, err_msg=name)
    assert_allclose(nn.gelu(x, approximate=False), 0.5 * x * (1 + erf(x / np.sqrt(2))),
                    rtol=1e-12)
    assert nn.sigmoid(A32).dtype == np.float32
    assert nn.relu(INTS).dtype == INTS.dtype


def test_stable_for_large_inputs():
    big = np.array([1000.0, -1000.0])
    assert_allclose(nn.softplus(big), [1000.0, 0.0])
    assert_allclose(nn.log_sigmoid(big), [0.0, -1000.0])
    assert_allclose(nn.softmax(np.array([1000.0, 1000.0])), [0.5, 0.5])
    assert_allclose(nn.log_softmax(np.array([1000.0, 0.0])), [0.0, -1000.0])
    assert_allclose(special.logsumexp(np.array([1000.0, 1000.0])), 1000.0 + np.log(2.0))
    assert special.logsumexp(np.array([-np.inf, -np.inf])) == -np.inf
    assert_allclose(ft.grad(lambda x: fnp.sum(nn.softplus(x)))(big), [1.0, 0.0])
    assert_allclose(ft.grad(lambda x: nn.logsumexp(x))(np.array([1000.0, 1000.0])), [0.5, 0.5])


def test_softmax_family():
    x = RNG.normal(size=(3, 5))
    e = np.exp(x - x.max(axis=1, keepdims=True))
    assert_allclose(nn.softmax(x), e / e.sum(1, keepdims=True), rtol=1e-12)
    assert_allclose(nn.log_softmax(x, axis=0), x - np.log(np.exp(x).sum(0)), rtol=1e-12)
    mask = x > -0.5
    masked = nn.softmax(x, where=mask)
    assert_allclose(np.where(mask, masked, 0).sum(1), 1.0)
    assert_allclose(nn.logsumexp(x, axis=1), np.log(np.exp(x).sum(1)), rtol=1e-12)
    value, sign = special.logsumexp(x, axis=0, b=-np.ones_like(x), return_sign=True)
    assert_allclose(value, np.log(np.exp(x).sum(0)), rtol=1e-12)
    assert_array_equal(sign, -np.ones(5))
    assert_allclose(special.logsumexp(x, keepdims=True), np.log(np.exp(x).sum(keepdims=True)))


def test_softmax_family_over_an_empty_axis():
    # as JAX: softmax keeps the empty shape, logsumexp of nothing is -inf
    x = np.zeros((3, 0))
    for fn in (nn.softmax, nn.log_softmax, special.softmax, special.log_softmax):
        assert fn(x).shape == (3, 0)
        assert ft.jit(fn)(x).shape == (3, 0)
    assert_array_equal(nn.logsumexp(x, axis=1), np.full(3, -np.inf))
    assert_array_equal(special.logsumexp(x, axis=1, b=np.ones((3, 0))), np.full(3, -np.inf))
    value, sign = special.logsumexp(x, axis=1, return_sign=True)
    assert_array_equal(value, np.full(3, -np.inf))
    assert_array_equal(sign, np.zeros(3))
    assert ft.grad(lambda v: fnp.sum(nn.softmax(v)))(x).shape == (3, 0)
    assert ft.grad(lambda v: fnp.sum(nn.logsumexp(v, axis=1)))(x).shape == (3, 0)


def test_nn_and_scipy_share_the_softmax_family():
    assert nn.logsumexp is special.logsumexp
    x = RNG.normal(size=(2, 3))
    assert_array_equal(special.softmax(x, axis=0), nn.softmax(x, axis=0))
    assert_array_equal(special.log_softmax(x), nn.log_softmax(x))


def test_one_hot_and_standardize():
    labels = np.array([0, 2, 1, 5])
    assert_same(nn.one_hot(labels, 3), np.eye(3)[np.minimum(labels, 2)] * (labels < 3)[:, None])
    assert_same(nn.one_hot(labels[:3], 3, axis=0, dtype=np.float32),
                np.eye(3, dtype=np.float32)[labels[:3]].T)
    z = nn.standardize(A, axis=0)
    assert_allclose(z.mean(0), 0.0, atol=1e-12)
    assert_allclose(z.var(0), 1.0, rtol=1e-4)


def test_special_functions():
    x = np.array([0.1, 0.5, 0.9])
    assert_allclose(special.expit(np.log(x / (1 - x))), x, rtol=1e-12)
    assert_allclose(special.logit(x), np.log(x / (1 - x)), rtol=1e-12)
    assert_allclose(special.erf(x), [math.erf(v) for v in x], rtol=1e-12)
    assert_allclose(special.erfc(x), [math.erfc(v) for v in x], rtol=1e-12)
    assert_allclose(special.erf(special.erfinv(x)), x, rtol=1e-12)
    assert_allclose(special.ndtr(np.array([0.0, 1.0])), [0.5, 0.8413447460685429], rtol=1e-12)
    assert_allclose(special.xlogy(np.array([0.0, 0.0, 2.0]), np.array([0.0, -1.0, 3.0])),
                    [0.0, 0.0, 2 * np.log(3.0)])
    # d/dx x log y = log y, also at x = 0; d/dy = x / y = 0 there
    gx, gy = ft.grad(lambda a, b: special.xlogy(a, b), argnums=(0, 1))(0.0, 2.0)
    assert_allclose([gx, gy], [np.log(2.0), 0.0])
    assert ft.grad(lambda b: special.xlogy(0.0, b))(0.0) == 0.0


def test_gammaln_against_math_lgamma_and_digamma():
    x = np.array([-3.7, -0.5, 0.1, 0.5, 1.0, 1.5, 2.0, 3.3, 10.0, 171.5, 1e5])
    assert_allclose(special.gammaln(x), [math.lgamma(v) for v in x], rtol=1e-13, atol=1e-14)
    assert special.gammaln(np.float32(2.5)).dtype == np.float32
    assert np.isinf(special.gammaln(np.array([0.0, -2.0]))).all()
    euler = 0.5772156649015329
    digamma = {1.0: -euler, 0.5: -euler - 2 * math.log(2), 4.0: 1 + 1 / 2 + 1 / 3 - euler}
    for v, want in digamma.items():
        assert_allclose(ft.grad(special.gammaln)(v), want, rtol=1e-12)
