"""The composite ``functrans.numpy`` functions (``_composites``,
``_composites_shape``) against NumPy: values, dtypes and shapes on concrete
inputs, derivatives with ``check_grads``, and a ``vmap`` and a ``jit`` case for
each family."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import functrans as ft
import functrans.numpy as fnp
from functrans import errors
from functrans.test_util import check_grads

RNG = np.random.default_rng(7)
A = RNG.normal(size=(3, 4))
A32 = A.astype(np.float32)
WITH_NAN = A.copy()
WITH_NAN[0, 1] = WITH_NAN[2, 3] = np.nan


def same(actual, expected, rtol=1e-6, atol=1e-6):
    """Equal values (nans in the same places), dtype and shape."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    if expected.dtype.kind in "fc":
        assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True)
    else:
        assert_array_equal(actual, expected)


# ------------------------------------------------------------------ nan reductions

NAN_REDUCTIONS = ["nansum", "nanmean", "nanmax", "nanmin", "nanprod", "nanstd", "nanvar",
                  "nanargmax", "nanargmin", "ptp"]


@pytest.mark.parametrize("name", NAN_REDUCTIONS)
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_reductions_match_numpy(name, axis, dtype):
    x = WITH_NAN.astype(dtype) if name != "ptp" else A.astype(dtype)
    same(getattr(fnp, name)(x, axis=axis), getattr(np, name)(x, axis=axis), rtol=1e-5)


@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanmax", "nanvar", "nanargmin", "ptp"])
def test_nan_reductions_keepdims_and_ints(name):
    ints = np.arange(12).reshape(3, 4)
    same(getattr(fnp, name)(ints, axis=1), getattr(np, name)(ints, axis=1))
    same(getattr(fnp, name)(WITH_NAN, axis=0, keepdims=True),
         getattr(np, name)(WITH_NAN, axis=0, keepdims=True))


def test_nan_reductions_all_nan_slice_and_ddof():
    x = np.array([[np.nan, np.nan], [1.0, 2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same(fnp.nanmax(x, axis=1), np.nanmax(x, axis=1))
        same(fnp.nanmean(x, axis=1), np.nanmean(x, axis=1))
    same(fnp.nanargmax(x, axis=1), np.array([-1, 1]))
    same(fnp.nanvar(WITH_NAN, axis=1, ddof=1), np.nanvar(WITH_NAN, axis=1, ddof=1))
    same(fnp.nanstd(WITH_NAN, ddof=1), np.nanstd(WITH_NAN, ddof=1))
    mask = A > -0.5
    for name in ("nanmean", "nanvar", "nansum"):
        same(getattr(fnp, name)(WITH_NAN, axis=1, where=mask),
             getattr(np, name)(WITH_NAN, axis=1, where=mask))


@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanmax", "nanstd", "nanvar", "nanprod"])
def test_nan_reduction_grads(name):
    fn = getattr(fnp, name)
    check_grads(lambda x: fn(x, axis=1), (A,), order=1)
    # the nan entries get zero gradient, the others the nan-free derivative
    g = ft.grad(lambda x: fn(x))(WITH_NAN)
    assert np.all(g[np.isnan(WITH_NAN)] == 0) and np.all(np.isfinite(g))


def test_ptp_grad():
    check_grads(lambda x: fnp.ptp(x, axis=0), (A,), order=1)


def test_nan_reductions_vmap_jit():
    same(ft.vmap(fnp.nanmean)(WITH_NAN), np.nanmean(WITH_NAN, axis=1))
    same(ft.jit(lambda x: fnp.nanstd(x, axis=0))(WITH_NAN), np.nanstd(WITH_NAN, axis=0))
    same(ft.jit(fnp.nanargmin)(WITH_NAN), np.nanargmin(WITH_NAN))


# ------------------------------------------------------------------ elementwise

SPECIAL = np.array([-2.5, -1.0, -0.0, 0.0, 0.3, 1.0, 7.0, np.inf, -np.inf])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_elementwise_match_numpy(dtype):
    v = SPECIAL.astype(dtype)
    with np.errstate(all="ignore"):
        for name in ["signbit", "sinc", "isreal", "iscomplex"]:
            same(getattr(fnp, name)(v), getattr(np, name)(v))
        for name in ["modf", "frexp"]:
            for got, want in zip(getattr(fnp, name)(v), getattr(np, name)(v), strict=True):
                same(got, want)
        same(fnp.copysign(v, dtype(-1)), np.copysign(v, dtype(-1)))
        same(fnp.copysign(2.0, v), np.copysign(2.0, v).astype(dtype))
        same(fnp.heaviside(v, dtype(0.5)), np.heaviside(v, dtype(0.5)))
        same(fnp.ldexp(v, np.int32(3)), np.ldexp(v, np.int32(3)))
        same(fnp.nextafter(v, dtype(0)), np.nextafter(v, dtype(0)))


def test_frexp_ldexp_extremes():
    v = np.array([1e-310, 5e-324, 3.0, 1024.0, 0.75, 1e300, -0.1, np.nan])
    for got, want in zip(fnp.frexp(v), np.frexp(v), strict=True):
        same(got, want)
    e = np.array([-1074, 1023, 2000, -2000])
    same(fnp.ldexp(np.array([1.0, 1.5, 1e-300, 1e300]), e),
         np.ldexp(np.array([1.0, 1.5, 1e-300, 1e300]), e))
    same(fnp.ldexp(np.array([1, 2]), 3), np.ldexp(np.array([1, 2]), 3))
    with pytest.raises(TypeError, match="ldexp"):
        fnp.ldexp(1.0, 2.5)


def test_elementwise_traced_and_transforms():
    v = SPECIAL.astype(np.float32)
    same(ft.jit(fnp.signbit)(v), np.signbit(v))
    same(ft.jit(fnp.copysign)(np.ones(9, np.float32), v), np.copysign(np.float32(1), v))
    same(ft.jit(fnp.heaviside)(v, np.float32(0.5)), np.heaviside(v, np.float32(0.5)))
    with np.errstate(all="ignore"):
        same(ft.vmap(fnp.sinc)(v), np.sinc(v))
        for got, want in zip(ft.jit(fnp.frexp)(v), np.frexp(v), strict=True):
            same(got, want)
        for got, want in zip(ft.vmap(fnp.modf)(v), np.modf(v), strict=True):
            same(got, want)


def test_sinc_derivatives_at_zero():
    assert ft.grad(fnp.sinc)(0.0) == 0.0
    assert_allclose(ft.grad(ft.grad(fnp.sinc))(0.0), -np.pi ** 2 / 3)
    assert_allclose(ft.grad(ft.grad(ft.grad(ft.grad(fnp.sinc))))(0.0), np.pi ** 4 / 5)
    check_grads(fnp.sinc, (np.array([0.0, 0.4, -1.3]),), order=2)
    check_grads(lambda x: fnp.copysign(x, -1.0), (np.array([0.5, -2.0]),), order=2)
    check_grads(lambda x: fnp.ldexp(x, 3), (np.array([0.5, -2.0]),), order=1)
    check_grads(lambda x: fnp.modf(x)[0], (np.array([0.5, -2.3]),), order=1)


# ------------------------------------------------------------------ differences and polynomials

@pytest.mark.parametrize("kwargs", [{}, {"n": 2, "axis": 0}, {"axis": 0, "prepend": 1.0},
                                    {"n": 3, "append": np.zeros((3, 2))}])
def test_diff(kwargs):
    same(fnp.diff(A, **kwargs), np.diff(A, **kwargs))
    same(fnp.diff(A32, **kwargs), np.diff(A32, **kwargs))
    same(fnp.diff(np.array([True, False, False])), np.diff(np.array([True, False, False])))


def test_ediff1d_polyval_vander():
    same(fnp.ediff1d(A, to_end=[1, 2], to_begin=5), np.ediff1d(A, to_end=[1, 2], to_begin=5))
    p32 = np.float32([1.0, -2.0, 3.0])
    same(fnp.polyval(p32, A32), np.polyval(p32, A32))
    same(fnp.polyval([1, 2, 3], np.arange(4)), np.polyval([1, 2, 3], np.arange(4)))
    same(fnp.vander(np.arange(4), 3), np.vander(np.arange(4), 3))
    # float32 stays float32 (as jax.numpy; NumPy's vander promotes to float64)
    same(fnp.vander(A32[0], increasing=True),
         np.vander(A32[0], increasing=True).astype(np.float32), rtol=1e-5)


def test_differences_transforms():
    check_grads(lambda x: fnp.diff(x, n=2, axis=0, prepend=0.5), (A,), order=2)
    check_grads(lambda x: fnp.polyval(x[0], x[1]), (A,), order=2)
    check_grads(lambda x: fnp.vander(x, 4), (np.array([0.0, 1.5, -2.0]),), order=2)
    same(ft.vmap(fnp.diff)(A), np.diff(A))
    same(ft.jit(lambda p, x: fnp.polyval(p, x))(A[0], A), np.polyval(A[0], A))
    same(ft.vmap(lambda x: fnp.vander(x, 3))(A), np.stack([np.vander(r, 3) for r in A]))


# ------------------------------------------------------------------ products

def test_kron_cross():
    b = RNG.normal(size=(2, 3))
    same(fnp.kron(A, b), np.kron(A, b))
    same(fnp.kron(A32[0], b.astype(np.float32)), np.kron(A32[0], b.astype(np.float32)))
    u, v = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    same(fnp.cross(u, v), np.cross(u, v))
    same(fnp.cross(u.T, v, axisa=0, axisc=0), np.cross(u.T, v, axisa=0, axisc=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        same(fnp.cross(u[:, :2], v), np.cross(u[:, :2], v))
        same(fnp.cross(u[:, :2], v[:, :2]), np.cross(u[:, :2], v[:, :2]))
    with pytest.raises(ValueError, match="cross"):
        fnp.cross(A, A)
    check_grads(fnp.kron, (A[:2, :2], b), order=2)
    check_grads(fnp.cross, (u, v), order=2)
    same(ft.vmap(fnp.cross)(u, v), np.cross(u, v))
    same(ft.jit(fnp.kron)(A, b), np.kron(A, b))


# ------------------------------------------------------------------ convolution

@pytest.mark.parametrize("sizes", [(6, 3), (3, 6), (4, 4), (5, 2), (2, 5), (1, 3)])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_convolve_correlate(sizes, mode):
    a, v = RNG.normal(size=sizes[0]), RNG.normal(size=sizes[1])
    same(fnp.convolve(a, v, mode), np.convolve(a, v, mode))
    same(fnp.correlate(a, v, mode), np.correlate(a, v, mode))


def test_convolve_dtypes_and_transforms():
    a, v = A32[0], A32[1, :3]
    same(fnp.convolve(a, v), np.convolve(a, v), rtol=1e-5)
    same(fnp.convolve(np.arange(4), np.arange(3)), np.convolve(np.arange(4), np.arange(3)))
    c = RNG.normal(size=4) + 1j * RNG.normal(size=4)
    same(fnp.correlate(c, c[:2], "full"), np.correlate(c, c[:2], "full"))
    check_grads(lambda x, y: fnp.convolve(x, y, "same"), (A[0], A[1, :3]), order=2)
    check_grads(lambda x, y: fnp.correlate(x, y), (A[0], A[1, :3]), order=1)
    same(ft.vmap(lambda x: fnp.convolve(x, A[0, :2]))(A),
         np.stack([np.convolve(r, A[0, :2]) for r in A]))
    same(ft.jit(fnp.correlate)(A[0], A[1, :2]), np.correlate(A[0], A[1, :2]))
    with pytest.raises(ValueError, match="mode"):
        fnp.convolve(A[0], A[1], "circular")


# ------------------------------------------------------------------ statistics

def test_cov_corrcoef():
    x = RNG.normal(size=(3, 6))
    for kwargs in [{}, {"rowvar": False}, {"bias": True}, {"ddof": 2},
                   {"fweights": [1, 2, 1, 3, 1, 1]},
                   {"aweights": [0.5, 1, 2, 1, 1, 3], "fweights": [1, 2, 1, 3, 1, 1]}]:
        same(fnp.cov(x, **kwargs), np.cov(x, **kwargs))
    same(fnp.cov(x[0], x[1]), np.cov(x[0], x[1]))
    same(fnp.corrcoef(x), np.corrcoef(x))
    same(fnp.corrcoef(x[0], x[1]), np.corrcoef(x[0], x[1]))
    assert fnp.cov(x.astype(np.float32)).dtype == np.float32  # float32 stays, as jax.numpy
    check_grads(fnp.cov, (x,), order=2)
    check_grads(fnp.corrcoef, (x,), order=1)
    same(ft.jit(fnp.corrcoef)(x), np.corrcoef(x))
    same(ft.vmap(fnp.cov)(np.stack([x, 2 * x])), np.stack([np.cov(x), np.cov(2 * x)]))


# ------------------------------------------------------------------ searching and counting

def test_searchsorted_digitize():
    s = np.sort(RNG.normal(size=6))
    q = np.concatenate([RNG.normal(size=(5,)), s[:2], [np.nan, np.inf]])
    for side in ("left", "right"):
        same(fnp.searchsorted(s, q, side), np.searchsorted(s, q, side))
        same(fnp.searchsorted(s, q.reshape(3, 3), side), np.searchsorted(s, q.reshape(3, 3),
                                                                         side))
    perm = RNG.permutation(6)
    same(fnp.searchsorted(s[perm], q, sorter=np.argsort(perm)),
         np.searchsorted(s[perm], q, sorter=np.argsort(perm)))
    bins = np.array([0.0, 1.0, 2.5, 4.0])
    x = np.array([-1, 0, 0.5, 1, 2.5, 3, 4, 5])
    for right in (False, True):
        same(fnp.digitize(x, bins, right), np.digitize(x, bins, right))
        same(fnp.digitize(x, bins[::-1], right), np.digitize(x, bins[::-1], right))
    same(ft.jit(fnp.searchsorted)(s, q), np.searchsorted(s, q))
    same(ft.vmap(lambda v: fnp.digitize(v, bins))(x), np.digitize(x, bins))


def test_bincount():
    x = np.array([0, 1, 1, 3, 2, 1, 7])
    same(fnp.bincount(x), np.bincount(x))
    same(fnp.bincount(x, weights=np.arange(7.0), minlength=10),
         np.bincount(x, np.arange(7.0), 10))
    same(ft.jit(lambda i: fnp.bincount(i, length=9))(x), np.bincount(x, minlength=9))
    with pytest.raises(errors.ConcretizationTypeError, match="length="):
        ft.jit(fnp.bincount)(x)
    w = np.arange(7.0)
    same(ft.vmap(lambda ww: fnp.bincount(x, ww, length=8))(np.stack([w, w])),
         np.stack([np.bincount(x, w)] * 2))
    check_grads(lambda ww: fnp.bincount(x, ww), (w,), order=1)


@pytest.mark.parametrize("kwargs", [{}, {"bins": 5, "range": (-1, 1)},
                                    {"bins": np.array([-2, -1, 0, 3.0])},
                                    {"bins": 4, "density": True}, {"bins": "auto"},
                                    {"bins": 3, "weights": np.arange(50.0)}])
def test_histogram(kwargs):
    h = RNG.normal(size=50)
    for got, want in zip(fnp.histogram(h, **kwargs), np.histogram(h, **kwargs), strict=True):
        same(got, want)


def test_histogram_traced_and_interp():
    h = RNG.normal(size=50)
    for got, want in zip(ft.jit(lambda v: fnp.histogram(v, 6))(h), np.histogram(h, 6),
                         strict=True):
        same(got, want)
    with pytest.raises(errors.ConcretizationTypeError, match="histogram"):
        ft.jit(lambda v: fnp.histogram(v, "auto"))(h)
    same(ft.vmap(lambda v: fnp.histogram(v, 4, range=(-2, 2))[0])(h.reshape(5, 10)),
         np.stack([np.histogram(r, 4, range=(-2, 2))[0] for r in h.reshape(5, 10)]))
    xp, fp = np.array([0, 1, 2.5, 4]), np.array([1.0, 3, 2, 0])
    x = np.array([-1, 0, 0.5, 1, 2.5, 3, 4, 5, 3.99])
    same(fnp.interp(x, xp, fp), np.interp(x, xp, fp))
    same(fnp.interp(x, xp, fp, left=-5, right=9), np.interp(x, xp, fp, -5, 9))
    same(fnp.interp(x, xp, fp, period=3), np.interp(x, xp, fp, period=3))
    assert fnp.interp(x.astype(np.float32), xp.astype(np.float32),
                      fp.astype(np.float32)).dtype == np.float32  # as jax.numpy
    same(ft.jit(fnp.interp)(x, xp, fp), np.interp(x, xp, fp))
    same(ft.vmap(fnp.interp, (0, None, None))(x, xp, fp), np.interp(x, xp, fp))
    check_grads(lambda x, f: fnp.interp(x, xp, f), (np.array([0.3, 1.7, 3.0]), fp), order=1)


# ------------------------------------------------------------------ unique

def test_unique_concrete():
    u = np.array([3, 1, 2, 3, 1, np.nan, np.nan, 0.0])
    same(fnp.unique(u), np.unique(u))
    all_outputs = dict(return_index=True, return_inverse=True, return_counts=True)
    for got, want in zip(fnp.unique(u, **all_outputs), np.unique(u, **all_outputs),
                         strict=True):
        same(got, want)
    m = np.array([[1, 2], [0, 1], [1, 2], [0, 0]])
    for got, want in zip(fnp.unique(m, axis=0, **all_outputs),
                         np.unique(m, axis=0, **all_outputs), strict=True):
        same(got, want)
    same(fnp.unique(m.T, axis=1), np.unique(m.T, axis=1))
    same(fnp.unique(np.arange(6).reshape(2, 3) % 4), np.unique(np.arange(6) % 4))


def test_unique_traced_needs_size():
    x = np.array([3.0, 1.0, 3.0, 2.0])
    same(ft.jit(lambda v: fnp.unique(v, size=5, fill_value=-1))(x),
         np.array([1.0, 2.0, 3.0, -1.0, -1.0]))
    values, counts = ft.jit(lambda v: fnp.unique(v, size=2, return_counts=True))(x)
    same(values, np.array([1.0, 2.0]))
    same(counts, np.array([1, 1]))
    same(ft.vmap(lambda v: fnp.unique(v, size=4))(np.stack([x, x[::-1]])),
         np.array([[1.0, 2.0, 3.0, 1.0]] * 2))
    with pytest.raises(errors.ConcretizationTypeError, match="size="):
        ft.jit(fnp.unique)(x)
    check_grads(lambda v: fnp.unique(v, size=3), (np.array([0.5, 2.0, 0.1]),), order=1)


# ------------------------------------------------------------------ sort variants and indices

def test_partition_lexsort_sort_complex():
    p = np.asarray(fnp.partition(A32, 2, axis=1))
    assert p.dtype == np.float32 and np.all(p[:, :2] <= p[:, 2:3]) and np.all(
        p[:, 3:] >= p[:, 2:3])
    idx = np.asarray(fnp.argpartition(A, 1, axis=0))
    assert_array_equal(np.take_along_axis(A, idx, 0)[1], np.partition(A, 1, axis=0)[1])
    with pytest.raises(ValueError, match="kth"):
        fnp.partition(A, 9)
    k1, k2 = np.array([1, 0, 1, 0, 2]), np.array([3, 3, 1, 1, 0])
    same(fnp.lexsort((k1, k2)), np.lexsort((k1, k2)))
    keys = RNG.integers(0, 3, size=(2, 3, 4))
    same(fnp.lexsort(keys, axis=1), np.lexsort(keys, axis=1))
    c = np.array([1 + 2j, 1 - 1j, -3 + 0j, 1 + 0j])
    same(fnp.sort_complex(c), np.sort_complex(c))
    same(fnp.sort_complex(np.arange(3)), np.sort_complex(np.arange(3)))
    assert fnp.sort_complex(A32).dtype == np.complex64  # float32 stays single, as jax.numpy
    same(ft.jit(fnp.lexsort)((k1, k2)), np.lexsort((k1, k2)))
    same(ft.vmap(lambda r: fnp.partition(r, 1))(A), np.sort(A, axis=1))
    check_grads(lambda x: fnp.partition(x, 1, axis=0), (A,), order=1)


def test_index_constructors():
    for got, want in zip(fnp.triu_indices(4, 1, 5), np.triu_indices(4, 1, 5), strict=True):
        same(got, want)
    for got, want in zip(fnp.tril_indices(4, -1), np.tril_indices(4, -1), strict=True):
        same(got, want)
    for got, want in zip(fnp.diag_indices(3, 3), np.diag_indices(3, 3), strict=True):
        same(got, want)
    same(fnp.indices((2, 3)), np.indices((2, 3)))
    flat = np.array([0, 5, 11, 7, -1])
    for got, want in zip(fnp.unravel_index(flat, (3, 4)), np.unravel_index(flat % 12, (3, 4)),
                         strict=True):
        same(got, want)
    for got, want in zip(ft.jit(lambda i: fnp.unravel_index(i, (3, 4)))(flat),
                         np.unravel_index(flat % 12, (3, 4)), strict=True):
        same(got, want)
    rows, cols = np.array([0, 2, 1]), np.array([3, 0, 1])
    for order in ("C", "F"):
        same(fnp.ravel_multi_index((rows, cols), (3, 4), order=order),
             np.ravel_multi_index((rows, cols), (3, 4), order=order))
    same(fnp.ravel_multi_index((rows + 2, cols - 1), (3, 4), mode="wrap"),
         np.ravel_multi_index((rows + 2, cols - 1), (3, 4), mode="wrap"))
    same(ft.jit(lambda r, c: fnp.ravel_multi_index((r, c), (3, 4), mode="clip"))(rows, cols),
         np.ravel_multi_index((rows, cols), (3, 4)))
    with pytest.raises(errors.ConcretizationTypeError, match="mode"):
        ft.jit(lambda r, c: fnp.ravel_multi_index((r, c), (3, 4)))(rows, cols)
    same(ft.vmap(lambda i: fnp.unravel_index(i, (3, 4))[1])(flat[:4]), flat[:4] % 4)


# ------------------------------------------------------------------ append, insert, delete, ...

INSERTS = [(1, 9.0, None), (2, [7.0, 8.0], None), ([1, 3], [7.0, 8.0], None), (1, 9.0, 0),
           (2, [[1.0], [2], [3], [4]], 1), ([0, 2, 2], 5.0, 1), (slice(0, 4, 2), [1.0, 2], 1),
           (-1, 3.0, 1), ([3, 1], [7.0, 8.0], None), (2, [1.0, 2, 3], 1)]


@pytest.mark.parametrize("obj,values,axis", INSERTS)
def test_insert(obj, values, axis):
    same(fnp.insert(A32, obj, values, axis), np.insert(A32, obj, values, axis))


def test_append_delete_resize_trim():
    same(fnp.append(A, [1, 2]), np.append(A, [1, 2]))
    same(fnp.append(A32, A32[:1], axis=0), np.append(A32, A32[:1], axis=0))
    for obj, axis in [(1, None), ([0, 3], 1), (slice(1, 3), 0),
                      (np.array([True, False, True]), 0)]:
        same(fnp.delete(A, obj, axis), np.delete(A, obj, axis))
    same(fnp.resize(A32, (3, 9)), np.resize(A32, (3, 9)))
    same(fnp.resize(np.arange(3), 7), np.resize(np.arange(3), 7))
    z = np.array([0, 0, 1, 2, 0, 3, 0])
    for trim in ("fb", "f", "b"):
        same(fnp.trim_zeros(z, trim), np.trim_zeros(z, trim))
    with pytest.raises(errors.ConcretizationTypeError, match="trim_zeros"):
        ft.jit(fnp.trim_zeros)(z)


def test_append_insert_delete_transforms():
    check_grads(lambda x: fnp.insert(x, [1, 2], x[0, :2], axis=1), (A,), order=2)
    check_grads(lambda x: fnp.delete(fnp.append(x, x), [0, 5]), (A,), order=2)
    check_grads(lambda x: fnp.resize(x, (5, 5)), (A,), order=1)
    same(ft.jit(lambda x: fnp.insert(x, 1, 0.0, axis=1))(A), np.insert(A, 1, 0.0, axis=1))
    same(ft.vmap(lambda x: fnp.delete(x, 2))(A), np.delete(A, 2, axis=1))
    same(ft.vmap(lambda x: fnp.append(x, 1.0))(A), np.append(A, np.ones((3, 1)), axis=1))


def test_piecewise_geomspace_dsplit_einsum_path():
    x = np.linspace(-2, 2, 9)
    funcs = [lambda t: -t, lambda t: t ** 2]
    same(fnp.piecewise(x, [x < 0, x >= 0], funcs), np.piecewise(x, [x < 0, x >= 0], funcs))
    same(fnp.piecewise(x, [x < -1, x > 1], [0.0, lambda t: t, 5.0]),
         np.piecewise(x, [x < -1, x > 1], [0.0, lambda t: t, 5.0]))
    i = np.arange(5)
    same(fnp.piecewise(i, [i > 2], [lambda t: t * 2]), np.piecewise(i, [i > 2], [lambda t: t * 2]))
    same(ft.jit(lambda v: fnp.piecewise(v, [v < 0], funcs))(x), np.piecewise(x, [x < 0], funcs))
    check_grads(lambda v: fnp.piecewise(v, [v < 0, v >= 0], funcs), (x[1::2],), order=2)
    same(fnp.geomspace(1.0, 1000.0, 4), np.geomspace(1.0, 1000.0, 4))
    same(fnp.geomspace(-1.0, -1000.0, 5, endpoint=False),
         np.geomspace(-1.0, -1000.0, 5, endpoint=False))
    same(fnp.geomspace(np.array([1.0, 2.0]), 8.0, 3, axis=1),
         np.geomspace(np.array([1.0, 2.0]), 8.0, 3, axis=1))
    same(ft.jit(lambda a, b: fnp.geomspace(a, b, 5))(2.0, 32.0), np.geomspace(2.0, 32.0, 5))
    check_grads(lambda a: fnp.geomspace(a, 32.0, 5), (2.0,), order=1)
    cube = np.arange(24.0).reshape(2, 3, 4)
    for got, want in zip(fnp.dsplit(cube, 2), np.dsplit(cube, 2), strict=True):
        same(got, want)
    with pytest.raises(ValueError, match="dsplit"):
        fnp.dsplit(A, 2)
    a, b, c = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 5)), RNG.normal(size=(5, 2))
    assert fnp.einsum_path("ij,jk,kl->il", a, b, c) == np.einsum_path("ij,jk,kl->il", a, b, c)
    assert fnp.einsum_path(a, [0, 1], b, [1, 2], [0, 2])[0] == \
        np.einsum_path(a, [0, 1], b, [1, 2], [0, 2])[0]
