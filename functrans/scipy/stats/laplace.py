"""The Laplace distribution, as ``jax.scipy.stats.laplace`` (logpdf, pdf, cdf), with
SciPy's logcdf, sf, logsf and ppf, accurate in both tails."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy.stats._common import (
    LOG_2,
    outside_unit_interval,
    promote,
    recorded_whole,
    standardize,
)

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


@recorded_whole
def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the Laplace density ``exp(-|x - loc| / scale) / (2 scale)``."""
    x, loc, scale = promote("laplace.logpdf", x, loc, scale)
    return -fnp.abs(standardize(x, loc, scale)) - fnp.log(2.0 * scale)


@recorded_whole
def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Laplace density."""
    return fnp.exp(logpdf(x, loc, scale))


def _halves(z: Array) -> tuple[Array, Array, Array]:
    """(z <= 0, z where z <= 0 else 0, z where z > 0 else 0): each side's formula
    sees only its own arguments, so exp cannot overflow in the unused one."""
    lower = z <= 0
    return lower, fnp.where(lower, z, 0.0), fnp.where(lower, 0.0, z)


def _standard_cdf(z: Array) -> Array:
    lower, z_low, z_high = _halves(z)
    return fnp.where(lower, 0.5 * fnp.exp(z_low), 1.0 - 0.5 * fnp.exp(-z_high))


def _standard_logcdf(z: Array) -> Array:
    lower, z_low, z_high = _halves(z)
    return fnp.where(lower, z_low - LOG_2, fnp.log1p(-0.5 * fnp.exp(-z_high)))


@recorded_whole
def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function."""
    x, loc, scale = promote("laplace.cdf", x, loc, scale)
    return _standard_cdf(standardize(x, loc, scale))


@recorded_whole
def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the CDF."""
    x, loc, scale = promote("laplace.logcdf", x, loc, scale)
    return _standard_logcdf(standardize(x, loc, scale))


@recorded_whole
def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Survival function ``1 - cdf``."""
    x, loc, scale = promote("laplace.sf", x, loc, scale)
    return _standard_cdf(-standardize(x, loc, scale))


@recorded_whole
def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the survival function."""
    x, loc, scale = promote("laplace.logsf", x, loc, scale)
    return _standard_logcdf(-standardize(x, loc, scale))


@recorded_whole
@quiet
def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Quantile function (NaN outside [0, 1])."""
    q, loc, scale = promote("laplace.ppf", q, loc, scale)
    lower = q <= 0.5
    q_low, q_high = fnp.where(lower, q, 0.25), fnp.where(lower, 0.75, q)
    z = fnp.where(lower, fnp.log(2.0 * q_low), -fnp.log(2.0 * (1.0 - q_high)))
    return fnp.where(outside_unit_interval(q), fnp.nan, loc + scale * z)


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
