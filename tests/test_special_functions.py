"""Accuracy of the erf, erfc and erf_inv primitives (functrans.lax: SciPy's erf and
erfinv, Cody's erfc, see functrans/primitives/erf_numerics.py), against the C library's
math.erf / math.erfc on dense grids that reach into the tails, and against mpmath
where it is installed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from functrans import lax

TINY = np.finfo(np.float64).tiny


def _grid() -> np.ndarray:
    """Dense linear grid over [-30, 30] plus log-spaced points from 1e-300 to 30
    on both sides: every branch of the approximation and both tails."""
    linear = np.linspace(-30.0, 30.0, 60_001)
    logs = np.geomspace(1e-300, 30.0, 6_001)
    return np.concatenate([linear, logs, -logs, [0.0, -0.0]])


def _relative_error(computed: np.ndarray, expected: np.ndarray) -> np.ndarray:
    return np.abs(computed - expected) / np.abs(expected)


def test_erf_matches_math_erf() -> None:
    x = _grid()
    expected = np.array([math.erf(v) for v in x])
    computed = lax.erf(x)
    nonzero = expected != 0
    assert np.all(computed[~nonzero] == 0)
    worst = _relative_error(computed[nonzero], expected[nonzero]).max()
    assert worst <= 1e-15, f"erf: worst relative error {worst:.3g}"


def test_erfc_matches_math_erfc_into_the_tails() -> None:
    x = _grid()
    expected = np.array([math.erfc(v) for v in x])
    computed = lax.erfc(x)
    normal = expected >= TINY      # below: subnormal results, compared absolutely
    worst = _relative_error(computed[normal], expected[normal]).max()
    assert worst <= 2e-15, f"erfc: worst relative error {worst:.3g}"
    smallest_subnormal = np.nextafter(0.0, 1.0)
    assert np.abs(computed[~normal] - expected[~normal]).max() <= 4 * smallest_subnormal


def test_erf_erfc_special_values_and_symmetry() -> None:
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 40.0, -40.0])
    np.testing.assert_array_equal(lax.erf(x), [1.0, -1.0, np.nan, 0.0, -0.0, 1.0, -1.0])
    np.testing.assert_array_equal(lax.erfc(x), [0.0, 2.0, np.nan, 1.0, 1.0, 0.0, 2.0])
    assert np.signbit(lax.erf(np.array(-0.0)))
    y = np.linspace(0.0, 8.0, 1001)
    np.testing.assert_array_equal(lax.erf(-y), -lax.erf(y))
    np.testing.assert_allclose(lax.erfc(-y), 2.0 - lax.erfc(y), rtol=1e-15)


def test_float32_in_float32_out() -> None:
    x = np.linspace(-5.0, 5.0, 2001).astype(np.float32)
    u = np.linspace(-0.999, 0.999, 2001).astype(np.float32)
    for fun, arg in ((lax.erf, x), (lax.erfc, x), (lax.erf_inv, u)):
        out = fun(arg)
        assert out.dtype == np.float32
        # computed in float64 and rounded once
        np.testing.assert_array_equal(out, fun(arg.astype(np.float64)).astype(np.float32))
    assert lax.erf(np.float32(0.5)).dtype == np.float32


def test_erf_inv_inverts_erf_backward_error() -> None:
    """erf(erf_inv(x)) = x up to what a 1e-13 relative error in erf_inv(x) allows
    (measured with math.erf, an independent implementation)."""
    x = np.concatenate([np.linspace(-0.999, 0.999, 20_001), np.geomspace(1e-300, 0.5, 601)])
    y = lax.erf_inv(x)
    slope = 2.0 / math.sqrt(math.pi) * np.exp(-y * y)
    allowed = 1e-13 * np.abs(y) * slope + 2.0 * np.spacing(np.abs(x))
    residual = np.abs(np.array([math.erf(v) for v in y]) - x)
    assert np.all(residual <= allowed), f"worst excess {np.max(residual / allowed):.3g}"


def test_erf_inv_tails_through_erfc() -> None:
    """Near +-1 erf(y) cannot resolve y; erfc(y) = 1 - |x| (exact there) can. A
    relative error d in y changes erfc(y) by about 2 y^2 d relatively."""
    x = 1.0 - np.geomspace(1.2e-16, 0.5, 2001)
    gap = 1.0 - x                                    # exact: x >= 0.5
    for sign in (1.0, -1.0):
        y = sign * lax.erf_inv(sign * x)
        erfc_y = np.array([math.erfc(v) for v in y])
        allowed = (1e-13 * 2 * y * y + 4e-16) * gap
        assert np.all(np.abs(erfc_y - gap) <= allowed)


def test_erf_inv_special_values() -> None:
    x = np.array([1.0, -1.0, 1.5, -2.0, np.nan, 0.0, -0.0])
    out = lax.erf_inv(x)
    np.testing.assert_array_equal(out, [np.inf, -np.inf, np.nan, np.nan, np.nan, 0.0, -0.0])
    assert np.signbit(out[-1])
    tiny = np.array([1e-300, 5e-324])
    np.testing.assert_allclose(lax.erf_inv(tiny), math.sqrt(math.pi) / 2 * tiny, rtol=1e-15)


def test_erf_inv_against_mpmath() -> None:
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    x = np.concatenate([np.linspace(-0.9999, 0.9999, 1001), 1.0 - np.geomspace(1e-16, 0.1, 201),
                        np.geomspace(1e-300, 0.1, 101)])
    expected = np.array([float(mpmath.erfinv(mpmath.mpf(float(v)))) for v in x])
    computed = lax.erf_inv(x)
    nonzero = expected != 0
    worst = _relative_error(computed[nonzero], expected[nonzero]).max()
    assert worst <= 1e-13, f"erf_inv: worst relative error {worst:.3g}"


def test_erf_against_mpmath_in_the_tails() -> None:
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    x = np.linspace(0.3, 26.0, 801)
    expected = np.array([float(mpmath.erfc(mpmath.mpf(float(v)))) for v in x])
    worst = _relative_error(lax.erfc(x), expected).max()
    assert worst <= 1e-15, f"erfc: worst relative error {worst:.3g}"
