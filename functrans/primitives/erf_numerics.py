"""The error function family in float64, in plain NumPy (no primitives): erf and
erfc by Cody's rational approximations, erf_inv by Halley's method on them.

:mod:`functrans.primitives.elementwise` evaluates the ``erf``, ``erfc`` and
``erf_inv`` primitives with these, on a float64 copy of the operand.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["erf_f64", "erfc_f64", "erf_inv_f64", "TWO_OVER_SQRT_PI"]

# W. J. Cody, "Rational Chebyshev approximations for the error function",
# Math. Comp. 23 (1969): near-minimax rational approximations on three ranges
# of |x|, good to about 18 significant digits; evaluated here in float64.
_ERF_SMALL_NUM = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
                  3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_SMALL_DEN = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
                  2.84423683343917062e03)
_ERFC_MID_NUM = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
                 2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
                 2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERFC_MID_DEN = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
                 1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
                 3.43936767414372164e03, 1.23033935480374942e03)
_ERFC_LARGE_NUM = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
                   1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERFC_LARGE_DEN = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
                   6.05183413124413191e-2, 2.33520497626869185e-3)
_ERF_SMALL_LIMIT = 0.46875   # below: erf by a rational function of x**2
_ERFC_MID_LIMIT = 4.0        # below: erfc by a rational function of |x|; above: of 1/x**2
_ERFC_UNDERFLOW = 27.3       # above: erfc(x) < 2**-1075 rounds to 0 in float64
_INV_SQRT_PI = 0.56418958354775628695
TWO_OVER_SQRT_PI = 2.0 * _INV_SQRT_PI


def _rational(z: np.ndarray, num: tuple, den: tuple, n_loop: int) -> tuple:
    """Cody's Horner scheme for a rational function of `z`. The numerator's
    leading coefficient is ``num[-1]``, the denominator's is 1; the loop adds
    ``num[i]``, ``den[i]`` for i < n_loop. Returns (numerator, denominator) with
    their constant terms (``num[n_loop]``, ``den[n_loop]``) left for the caller."""
    top = num[-1] * z
    bottom = z
    for i in range(n_loop):
        top = (top + num[i]) * z
        bottom = (bottom + den[i]) * z
    return top, bottom


def _erf_small(x: np.ndarray) -> np.ndarray:
    """erf(x) for |x| <= 0.46875."""
    z = x * x
    top, bottom = _rational(z, _ERF_SMALL_NUM, _ERF_SMALL_DEN, 3)
    return x * (top + _ERF_SMALL_NUM[3]) / (bottom + _ERF_SMALL_DEN[3])


def _exp_minus_square(y: np.ndarray) -> np.ndarray:
    """exp(-y*y) without the rounding error of forming y*y: split y = h + d with
    h on a 1/16 grid, so h*h is exact and exp(-(y-h)(y+h)) is a small correction."""
    head = np.trunc(y * 16.0) / 16.0
    return np.exp(-head * head) * np.exp(-(y - head) * (y + head))


def _erfc_positive(y: np.ndarray) -> np.ndarray:
    """erfc(y) for y > 0.46875 (NaN passes through)."""
    out = np.zeros_like(y)
    mid = y <= _ERFC_MID_LIMIT
    large = (~mid & (y < _ERFC_UNDERFLOW)) | np.isnan(y)
    if mid.any():
        ym = y[mid]
        top, bottom = _rational(ym, _ERFC_MID_NUM, _ERFC_MID_DEN, 7)
        out[mid] = _exp_minus_square(ym) * (top + _ERFC_MID_NUM[7]) / (bottom + _ERFC_MID_DEN[7])
    if large.any():
        yl = y[large]
        z = 1.0 / (yl * yl)
        top, bottom = _rational(z, _ERFC_LARGE_NUM, _ERFC_LARGE_DEN, 4)
        tail = z * (top + _ERFC_LARGE_NUM[4]) / (bottom + _ERFC_LARGE_DEN[4])
        out[large] = _exp_minus_square(yl) * (_INV_SQRT_PI - tail) / yl
    return out


def _erf_and_erfc_f64(x: np.ndarray, want_erfc: bool) -> np.ndarray:
    x = np.asarray(x, np.float64)
    y = np.abs(x)
    small = y <= _ERF_SMALL_LIMIT
    out = np.empty_like(x)
    erf_small = _erf_small(x[small])
    out[small] = 1.0 - erf_small if want_erfc else erf_small
    rest = ~small
    xr = x[rest]
    erfc_abs = _erfc_positive(y[rest])
    if want_erfc:
        out[rest] = np.where(xr < 0, 2.0 - erfc_abs, erfc_abs)
    else:
        erf_abs = (0.5 - erfc_abs) + 0.5
        out[rest] = np.where(xr < 0, -erf_abs, erf_abs)
    return out


def erf_f64(x: np.ndarray) -> np.ndarray:
    """erf(x), elementwise, in float64."""
    return _erf_and_erfc_f64(x, want_erfc=False)


def erfc_f64(x: np.ndarray) -> np.ndarray:
    """1 - erf(x), elementwise, in float64 (accurate in the tails)."""
    return _erf_and_erfc_f64(x, want_erfc=True)


def _erf_inv_initial(a: np.ndarray) -> np.ndarray:
    """A starting point for erf_inv(a), 0 <= a < 1, good to about 2e-3 relative
    (Winitzki's closed form; a Taylor series near 0, where the closed form cancels)."""
    k = 0.147
    log_term = np.log((1.0 - a) * (1.0 + a))
    center = 2.0 / (math.pi * k) + 0.5 * log_term
    closed_form = np.sqrt(np.sqrt(center * center - log_term / k) - center)
    series = (math.sqrt(math.pi) / 2.0) * a * (1.0 + (math.pi / 12.0) * a * a)
    return np.where(a < 1e-3, series, closed_form)


_ERF_INV_HALLEY_STEPS = 2


def erf_inv_f64(x: np.ndarray) -> np.ndarray:
    """The inverse of erf, elementwise, in float64 (±inf at ±1, NaN outside [-1, 1])."""
    x = np.asarray(x, np.float64)
    a = np.abs(x)
    inside = a < 1.0
    a_in = a[inside]
    y = _erf_inv_initial(a_in)
    near_one = a_in > 0.5
    complement = 1.0 - a_in[near_one]    # exact for a >= 0.5
    residual = np.empty_like(y)
    # Halley's method on erf(y) = a (cubic convergence: 2e-3 -> 1e-8 -> 1e-16).
    # Near 1 the residual is formed from erfc, whose relative accuracy survives
    # where 1 - erf(y) would cancel.
    for _ in range(_ERF_INV_HALLEY_STEPS):
        residual[near_one] = complement - erfc_f64(y[near_one])
        residual[~near_one] = erf_f64(y[~near_one]) - a_in[~near_one]
        newton = residual / (TWO_OVER_SQRT_PI * np.exp(-y * y))
        y = y - newton / (1.0 + y * newton)
    out = np.where(a == 1.0, np.inf, np.nan)   # NaN for |x| > 1 and NaN input
    out[inside] = y
    return np.copysign(out, x)
