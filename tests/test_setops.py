"""functrans.numpy.setdiff1d, union1d, intersect1d against NumPy, eagerly and
under jit with a static size."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrans as ft
import functrans.numpy as fnp
from functrans.errors import ConcretizationTypeError

small_ints = st.lists(st.integers(-4, 6), min_size=0, max_size=9).map(
    lambda v: np.array(v, np.int64))


@settings(max_examples=40, deadline=None)
@given(small_ints, small_ints)
def test_match_numpy_on_concrete_values(x, y):
    np.testing.assert_array_equal(fnp.setdiff1d(x, y), np.setdiff1d(x, y))
    np.testing.assert_array_equal(fnp.union1d(x, y), np.union1d(x, y))
    for got, expected in zip(fnp.intersect1d(x, y, return_indices=True),
                             np.intersect1d(x, y, return_indices=True)):
        np.testing.assert_array_equal(got, expected)
    ux, uy = np.unique(x), np.unique(y)[::-1]  # distinct, one of them unsorted
    np.testing.assert_array_equal(fnp.setdiff1d(uy, ux, assume_unique=True),
                                  np.setdiff1d(uy, ux, assume_unique=True))
    np.testing.assert_array_equal(fnp.intersect1d(ux, uy, assume_unique=True),
                                  np.intersect1d(ux, uy, assume_unique=True))


@settings(max_examples=15, deadline=None)
@given(small_ints.filter(len), small_ints.filter(len), st.integers(1, 8))
def test_sized_results_under_jit(x, y, size):
    def padded(expected, fill):
        expected = expected[:size]
        return np.concatenate([expected, np.full(size - len(expected), fill, expected.dtype)])

    setdiff = ft.jit(lambda a, b: fnp.setdiff1d(a, b, size=size, fill_value=-9))(x, y)
    np.testing.assert_array_equal(setdiff, padded(np.setdiff1d(x, y), -9))
    union = ft.jit(lambda a, b: fnp.union1d(a, b, size=size, fill_value=-9))(x, y)
    np.testing.assert_array_equal(union, padded(np.union1d(x, y), -9))
    values, ia, ib = ft.jit(lambda a, b: fnp.intersect1d(a, b, return_indices=True,
                                                          size=size))(x, y)
    ev, eia, eib = np.intersect1d(x, y, return_indices=True)
    fill = ev[0] if len(ev) else 0
    np.testing.assert_array_equal(values, padded(ev, fill))
    np.testing.assert_array_equal(ia, padded(eia, len(x)))
    np.testing.assert_array_equal(ib, padded(eib, len(y)))


def test_floats_nan_dtypes_and_flattening():
    x = np.array([[3.0, np.nan], [1.0, np.nan]])
    y = np.array([np.nan, 1.0, 2.0], np.float32)
    np.testing.assert_array_equal(fnp.union1d(x, y), np.union1d(x, y))
    np.testing.assert_array_equal(fnp.setdiff1d(x, y), np.setdiff1d(x, y))
    np.testing.assert_array_equal(fnp.intersect1d(x, y), np.intersect1d(x, y))
    assert fnp.union1d(y, y).dtype == np.float32
    assert fnp.union1d(np.array([1], np.int32), y).dtype == np.union1d(
        np.array([1], np.int32), y).dtype


def test_default_fill_is_the_smallest_value():
    x, y = np.array([4, 2, 2, 8]), np.array([8])
    out = ft.jit(lambda a, b: fnp.setdiff1d(a, b, size=4))(x, y)
    np.testing.assert_array_equal(out, [2, 4, 2, 2])
    out = ft.jit(lambda a, b: fnp.intersect1d(a, b, size=2))(x, np.array([5]))
    np.testing.assert_array_equal(out, [0, 0])


def test_traced_without_size_names_the_function():
    x = np.array([1, 2, 3])
    for fn in (fnp.setdiff1d, fnp.union1d, fnp.intersect1d):
        with pytest.raises(ConcretizationTypeError, match=f"{fn.__name__} needs the concrete "
                                                          "value.*size="):
            ft.jit(fn)(x, x)
