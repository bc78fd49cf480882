"""The normal distribution N(loc, scale**2) truncated to [loc + a scale, loc + b scale]
(a, b in standard units, as SciPy), as ``jax.scipy.stats.truncnorm``.

The normalizing mass Phi(b) - Phi(a) is computed in log space from ``log_ndtr`` of
whichever tail the interval lies in, so intervals far in a tail keep their accuracy."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy import special
from functrans.scipy.stats import norm
from functrans.scipy.stats._common import log1mexp, promote, recorded_whole

__all__ = ["logpdf", "pdf", "logcdf", "cdf", "logsf", "sf"]


def _log_diff(log_x: Array, log_y: Array) -> Array:
    """``log(exp(log_x) - exp(log_y))`` for log_x >= log_y."""
    return log_x + log1mexp(log_y - log_x)


def _log_gauss_mass(a: Array, b: Array) -> Array:
    """``log(Phi(b) - Phi(a))`` for a <= b: from the lower tail when b <= 0, from the
    upper tail (by symmetry) when a > 0, else as ``log1p(-Phi(a) - Phi(-b))``."""
    in_a_tail = (b <= 0) | (a > 0)
    right = a > 0
    a_tail, b_tail = fnp.where(right, -b, a), fnp.where(right, -a, b)
    in_tail = _log_diff(special.log_ndtr(b_tail), special.log_ndtr(a_tail))
    # the central formula only sees intervals around 0, where log1p(...) is finite
    a_central, b_central = fnp.where(in_a_tail, -1.0, a), fnp.where(in_a_tail, 1.0, b)
    central = fnp.log1p(-special.ndtr(a_central) - special.ndtr(-b_central))
    return fnp.where(in_a_tail, in_tail, central)


@recorded_whole
@quiet
def logpdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the truncated normal density (-inf outside [a, b], NaN when a >= b)."""
    x, a, b, loc, scale = promote("truncnorm.logpdf", x, a, b, loc, scale)
    z = (x - loc) / scale
    value = norm.logpdf(x, loc, scale) - _log_gauss_mass(a, b)
    value = fnp.where((z < a) | (z > b), -fnp.inf, value)
    return fnp.where(a >= b, fnp.nan, value)


@recorded_whole
def pdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Truncated normal density."""
    return fnp.exp(logpdf(x, a, b, loc, scale))


@recorded_whole
@quiet
def logcdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the CDF: from the mass below x, or, near 1, as ``log1p(-sf)`` from the
    mass above x (which keeps the accuracy of the small survival probability)."""
    x, a, b, loc, scale = promote("truncnorm.logcdf", x, a, b, loc, scale)
    z = (x - loc) / scale
    inside = (z > a) & (z < b)
    z_inside = fnp.where(inside, z, 0.5 * (a + b))
    log_mass = _log_gauss_mass(a, b)
    log_below = _log_gauss_mass(a, z_inside) - log_mass
    log_above = _log_gauss_mass(z_inside, b) - log_mass
    value = fnp.where(log_below > -0.1, fnp.log1p(-fnp.exp(log_above)), log_below)
    value = fnp.where(z >= b, 0.0, fnp.where(z <= a, -fnp.inf, value))
    return fnp.where(a >= b, fnp.nan, value)


@recorded_whole
def cdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function."""
    return fnp.exp(logcdf(x, a, b, loc, scale))


@recorded_whole
def logsf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the survival function (by reflection: the log-CDF of -x on [-b, -a])."""
    x, a, b, loc, scale = promote("truncnorm.logsf", x, a, b, loc, scale)
    return logcdf(-x, -b, -a, -loc, scale)


@recorded_whole
def sf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Survival function."""
    return fnp.exp(logsf(x, a, b, loc, scale))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
