"""Indexing (``x[idx]``, ``x.at[idx]``, take, take_along_axis) against NumPy.

Each index expression runs three ways: eagerly on a NumPy array (through
``fnp.at(x)[idx].get()``), under ``jit`` (a staged gather/slice), and under
``grad``, whose gradient must equal NumPy's ``np.add.at`` scatter of the
output cotangent (this covers repeated indices).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import functrans as ft
import functrans.numpy as fnp
from functrans.errors import NonConcreteBooleanIndexError
from functrans.test_util import check_grads

X = np.random.default_rng(0).normal(size=(4, 5, 6))
MASK0 = X[:, 0, 0] > 0
MASK2 = X[..., 0] > 0

INDEX_EXPRESSIONS = [
    0, -1, 3, (1, 2), (1, 2, 3), (-1, -2, -3),
    slice(1, 3), slice(None, None, -1), slice(4, 0, -2), slice(None, None, 2),
    slice(-100, 100), slice(3, 1), (slice(1, 3), slice(None, None, -2), 4),
    Ellipsis, (Ellipsis, 1), (1, Ellipsis), (0, Ellipsis, -1),
    None, (None, 1, None), (Ellipsis, None), (slice(None), None, slice(1, 2)),
    [0, 2], ([0, 2], [1, 1]), ([0, 0, 3],), ([-1, -4],), [],
    (slice(None), [0, 3]), (slice(None), [0, 3], 2), ([1, 2], slice(None), [0, 3]),
    (np.array([[0, 1], [2, 3]]),), (slice(None), None, [1, 2]),
    (0, slice(None), [1, 2]), ([1, 0], 2, slice(None, None, -1)),
    (slice(1, None), [[0], [1]], [0, 1, 2]), (Ellipsis, [0, 1], None),
    (np.int64(2), np.array(3)), (slice(None), np.array([[4, 0]]), slice(None, None, -1)),
    (MASK0,), (slice(None), X[0, :, 0] > 0), (MASK2,), (X > 0,), (MASK0, 1, [0, 5]),
    (True,), (False,), (0, True, [1, 2]),
]


def _id(idx: object) -> str:
    return repr(idx).replace("\n", "")[:40]


@pytest.mark.parametrize("idx", INDEX_EXPRESSIONS, ids=_id)
def test_getitem_matches_numpy(idx):
    expected = X[idx]
    eager = fnp.at(X)[idx].get()
    staged = ft.jit(lambda a: a[idx])(X)
    for got in (eager, staged):
        assert np.shape(got) == expected.shape
        assert_array_equal(got, expected)


@pytest.mark.parametrize("idx", INDEX_EXPRESSIONS, ids=_id)
def test_getitem_gradient_scatters_cotangent(idx):
    weights = np.cos(np.arange(X[idx].size)).reshape(X[idx].shape)
    g = ft.grad(lambda a: fnp.sum(a[idx] * weights))(X)
    expected = np.zeros_like(X)
    np.add.at(expected, idx, weights)
    assert_allclose(g, expected, rtol=1e-12)


def test_repeated_indices_accumulate_in_the_gradient():
    x = np.arange(5.0)
    g = ft.grad(lambda a: fnp.sum(a[np.array([0, 0, 3, 0, 3])] ** 2))(x)
    assert_allclose(g, [0.0, 0, 0, 12.0, 0])  # 3 * 2*0, 2 * 2*3
    g2 = ft.grad(lambda a: fnp.sum(a[[1, 1, 1]]))(x)
    assert_allclose(g2, [0, 3.0, 0, 0, 0])


def test_float32_indexing_keeps_dtype():
    x32 = X.astype(np.float32)
    for idx in (0, (slice(None), [0, 2]), X > 0):
        assert ft.jit(lambda a: a[idx])(x32).dtype == np.float32
        assert ft.grad(lambda a: fnp.sum(a[idx]))(x32).dtype == np.float32


def test_traced_integer_index():
    x = np.arange(12.0).reshape(3, 4)
    assert_array_equal(ft.jit(lambda a, i: a[i])(x, 2), x[2])
    assert_array_equal(ft.jit(lambda a, i: a[:, i])(x, np.int64(-1)), x[:, -1])
    assert_array_equal(ft.jit(lambda a, i, j: a[i, j])(x, 1, 2), x[1, 2])
    idx = np.array([[2, 0], [1, 1]])
    assert_array_equal(ft.jit(lambda a, i: a[1:, i])(x, idx), x[1:, idx])
    assert_array_equal(ft.jit(lambda a, i: a[i, ::-1])(x, idx), x[idx, ::-1])


def test_vmap_of_indexing_with_batched_indices():
    x = np.arange(20.0).reshape(4, 5)
    idx = np.array([[0, 4], [1, 1], [3, 2], [4, 0]])
    out = ft.vmap(lambda row, i: row[i])(x, idx)
    assert_array_equal(out, np.take_along_axis(x, idx, axis=1))
    # a NumPy array indexed by a tracer goes through fnp (NumPy's [] cannot see tracers)
    out2 = ft.vmap(lambda i: fnp.take(x, i, axis=1))(idx)
    assert_array_equal(out2, np.stack([x[:, i] for i in idx]))


# ------------------------------------------------------------------ boolean masks

def test_concrete_mask_works_under_grad():
    x = np.array([-1.0, 2.0, -3.0, 4.0])
    g = ft.grad(lambda a: fnp.sum(a[a > 0] ** 2))(x)
    assert_allclose(g, [0, 4.0, 0, 8.0])


def test_traced_mask_raises_with_a_hint():
    with pytest.raises(NonConcreteBooleanIndexError, match="where"):
        ft.jit(lambda a: a[a > 0])(X)
    with pytest.raises(IndexError):  # it is also an IndexError, as in JAX
        ft.vmap(lambda a: a[a > 0])(X)


def test_traced_full_mask_update_is_a_where():
    out = ft.jit(lambda a: a.at[a < 0].set(0.0))(X)
    assert_array_equal(out, np.where(X < 0, 0.0, X))
    out = ft.jit(lambda a: a.at[a < 0].multiply(2.0))(X)
    assert_array_equal(out, np.where(X < 0, 2 * X, X))


def test_mask_shape_mismatch():
    with pytest.raises(IndexError, match="boolean index did not match"):
        fnp.at(X)[np.ones(3, bool)].get()


# ------------------------------------------------------------------ errors

@pytest.mark.parametrize("idx, match", [
    (4, "out of bounds"), ((0, 5), "out of bounds"), ([0, -5], "out of bounds"),
    ((0, 0, 0, 0), "too many indices"), (1.5, "valid indices"),
    (np.array([0.5]), "valid indices"), ((Ellipsis, 0, Ellipsis), "single ellipsis"),
])
def test_index_errors(idx, match):
    with pytest.raises(IndexError, match=match):
        ft.jit(lambda a: a[idx])(X)


def test_setitem_points_to_at():
    with pytest.raises(TypeError, match=r"\.at\[idx\]\.set"):
        ft.jit(lambda a: a.__setitem__(0, 1.0))(X)


def test_traced_slice_bound_is_a_concretization_error():
    with pytest.raises(ft.ConcretizationTypeError):
        ft.jit(lambda a, n: a[:n])(X, 2)


# ------------------------------------------------------------------ .at updates

UPDATE_INDICES = [
    0, (1, 2), slice(1, 3), ([0, 0, 2],), (slice(None), [0, 3]), ([1, 2], slice(None), [0, 3]),
    (Ellipsis, 1), (slice(None, None, -2), 0), (X > 0.5,), (None, 0), (slice(None),),
    (slice(1, None), None, [[0], [1]], [0, 4]), ([3, 3, 3], 1, slice(2, 5)),
]

_NUMPY_AT = {"add": np.add.at, "multiply": np.multiply.at, "min": np.minimum.at,
             "max": np.maximum.at}


def _numpy_update(x, idx, op, values):
    out = x.copy()
    if op == "set":
        out[idx] = values
    else:
        _NUMPY_AT[op](out, idx, values)
    return out


@pytest.mark.parametrize("op", ["set", "add", "multiply", "min", "max"])
@pytest.mark.parametrize("idx", UPDATE_INDICES, ids=_id)
def test_at_updates_match_numpy(idx, op):
    values = np.linspace(-2, 2, X[idx].size).reshape(X[idx].shape)
    expected = _numpy_update(X, idx, op, values)
    staged = ft.jit(lambda a, v: getattr(a.at[idx], op)(v))(X, values)
    eager = getattr(fnp.at(X)[idx], op)(values)
    for got in (staged, eager):
        assert_allclose(got, expected, rtol=1e-14)
    scalar = _numpy_update(X, idx, op, 0.5)
    assert_allclose(ft.jit(lambda a: getattr(a.at[idx], op)(0.5))(X), scalar, rtol=1e-14)


def test_at_set_repeated_index_keeps_last():
    x = np.zeros(4)
    out = ft.jit(lambda a: a.at[np.array([1, 1, 2])].set(np.array([5.0, 6.0, 7.0])))(x)
    assert_array_equal(out, [0, 6.0, 7.0, 0])


def test_at_other_ops_and_get():
    x = np.arange(1.0, 7.0).reshape(2, 3)
    assert_array_equal(ft.jit(lambda a: a.at[:, 1].subtract(1.0))(x), x - [0, 1, 0])
    assert_allclose(ft.jit(lambda a: a.at[0].divide(2.0))(x), x / [[2.0], [1.0]])
    assert_array_equal(ft.jit(lambda a: a.at[1, ::-1].get())(x), x[1, ::-1])
    assert_array_equal(ft.jit(lambda a: a.at[0].mul(3.0))(x), x * [[3.0], [1.0]])
    x32 = x.astype(np.float32)
    assert ft.jit(lambda a: a.at[0].set(1.5))(x32).dtype == np.float32  # values are cast


def test_at_shape_mismatch():
    with pytest.raises(ValueError, match="could not be broadcast"):
        ft.jit(lambda a: a.at[0].set(np.ones(3)))(X)


def test_at_gradients_with_repeated_indices():
    x = np.linspace(-1.0, 1.0, 6)
    u = np.array([0.5, -1.5, 2.0])
    idx = np.array([1, 1, 4])

    def f_add(a, v):
        return fnp.sum(fnp.sin(fnp.at(a)[idx].add(v)))  # fnp.at: `a` may be a NumPy array

    check_grads(f_add, (x, u), order=2)
    g_x, g_u = ft.grad(f_add, argnums=(0, 1))(x, u)
    y = x.copy()
    np.add.at(y, idx, u)
    assert_allclose(g_x, np.cos(y))
    assert_allclose(g_u, np.cos(y)[idx])

    def f_set(a, v):
        return fnp.sum(fnp.at(a)[idx].set(v) ** 2)

    g_x, g_u = ft.grad(f_set, argnums=(0, 1))(x, u)
    y = x.copy()
    y[idx] = u
    assert_allclose(g_x, np.where(np.isin(np.arange(6), idx), 0.0, 2 * x))
    assert_allclose(g_u, [0.0, 2 * y[1], 2 * y[4]])  # only the kept update gets a gradient
    check_grads(lambda a, v: fnp.sum(fnp.at(a)[:, 1:3].max(v) ** 2),
                (np.arange(12.0).reshape(3, 4) / 7, np.full((3, 2), 0.8)), order=1)


# ------------------------------------------------------------------ take and friends

def test_take_matches_numpy():
    x = np.arange(24.0).reshape(2, 3, 4)
    assert_array_equal(fnp.take(x, [0, 2, -1], axis=2), np.take(x, [0, 2, -1], axis=2))
    assert_array_equal(fnp.take(x, np.array([[5, 0]])), np.take(x, np.array([[5, 0]])))
    assert_array_equal(fnp.take(x, 1, axis=1), np.take(x, 1, axis=1))
    assert_array_equal(fnp.take(x, [7, -9], axis=2, mode="wrap"),
                       np.take(x, [7, -9], axis=2, mode="wrap"))
    assert_array_equal(fnp.take(x, [7, -9], axis=2, mode="clip"),
                       np.take(x, [7, -9], axis=2, mode="clip"))
    with pytest.raises(IndexError):
        fnp.take(x, [4], axis=2)


def test_take_along_axis_with_argsort_and_argmax():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 5))
    order = np.argsort(x, axis=1)
    assert_array_equal(fnp.take_along_axis(x, order, axis=1), np.sort(x, axis=1))
    best = np.argmax(x, axis=0)[None]
    assert_array_equal(fnp.take_along_axis(x, best, 0), np.take_along_axis(x, best, 0))
    g = ft.grad(lambda a: fnp.sum(fnp.take_along_axis(a, fnp.argsort(a, axis=1)[:, :2], 1)))(x)
    expected = np.zeros_like(x)
    np.put_along_axis(expected, order[:, :2], 1.0, axis=1)
    assert_array_equal(g, expected)


def test_nonzero_family_is_concrete_only():
    x = np.array([[0, 1], [2, 0]])
    for got, want in zip(fnp.nonzero(x), np.nonzero(x), strict=True):
        assert_array_equal(got, want)
    assert_array_equal(fnp.argwhere(x), np.argwhere(x))
    assert_array_equal(fnp.flatnonzero(x), np.flatnonzero(x))
    assert_array_equal(fnp.nonzero(x, size=3, fill_value=-1)[0], [0, 1, -1])
    assert_array_equal(fnp.where(x)[1], np.where(x)[1])
    with pytest.raises(ft.ConcretizationTypeError, match="nonzero"):
        ft.jit(fnp.nonzero)(x)
