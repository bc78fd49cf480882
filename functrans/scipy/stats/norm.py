"""The normal distribution, as ``jax.scipy.stats.norm``.

The log-CDF and log-survival function are ``log_ndtr`` of the standardized value,
accurate far in both tails (``logcdf(-40)`` is -804.608...), not the log of a CDF
that underflows."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array
from functrans.scipy import special
from functrans.scipy.stats._common import HALF_LOG_2PI, promote, recorded_whole, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]


@recorded_whole
def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the probability density of N(loc, scale**2) at `x`."""
    x, loc, scale = promote("norm.logpdf", x, loc, scale)
    z = standardize(x, loc, scale)
    return -0.5 * z * z - fnp.log(scale) - HALF_LOG_2PI


@recorded_whole
def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Probability density of N(loc, scale**2) at `x`."""
    return fnp.exp(logpdf(x, loc, scale))


@recorded_whole
def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function."""
    x, loc, scale = promote("norm.cdf", x, loc, scale)
    return special.ndtr(standardize(x, loc, scale))


@recorded_whole
def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the CDF, accurate in the lower tail (``log_ndtr``)."""
    x, loc, scale = promote("norm.logcdf", x, loc, scale)
    return special.log_ndtr(standardize(x, loc, scale))


@recorded_whole
def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Survival function ``1 - cdf``, accurate in the upper tail."""
    x, loc, scale = promote("norm.sf", x, loc, scale)
    return special.ndtr(-standardize(x, loc, scale))


@recorded_whole
def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the survival function, accurate in the upper tail."""
    x, loc, scale = promote("norm.logsf", x, loc, scale)
    return special.log_ndtr(-standardize(x, loc, scale))


@recorded_whole
def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Quantile function, the inverse of the CDF (NaN outside [0, 1])."""
    q, loc, scale = promote("norm.ppf", q, loc, scale)
    return special.ndtri(q) * scale + loc


@recorded_whole
def isf(q: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Inverse survival function, ``ppf(1 - q)`` without rounding 1 - q."""
    q, loc, scale = promote("norm.isf", q, loc, scale)
    return loc - special.ndtri(q) * scale


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
