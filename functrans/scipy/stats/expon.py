"""The exponential distribution, as ``jax.scipy.stats.expon``. The log-CDF is
``log(1 - exp(-z))`` evaluated without cancellation near 0 (``log1mexp``)."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy.stats._common import log1mexp, outside_unit_interval, promote, recorded_whole

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


def _standardized(fname: str, x: Any, loc: Any, scale: Any) -> tuple[Array, Array, Array]:
    """(inside the support, z = (x - loc) / scale there and 0 elsewhere, scale)."""
    x, loc, scale = promote(fname, x, loc, scale)
    inside = x >= loc
    return inside, fnp.where(inside, (x - loc) / scale, 0.0), scale


@recorded_whole
def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the density ``exp(-(x - loc) / scale) / scale`` for x >= loc."""
    inside, z, scale = _standardized("expon.logpdf", x, loc, scale)
    return fnp.where(inside, -z - fnp.log(scale), -fnp.inf)


@recorded_whole
def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Exponential density."""
    return fnp.exp(logpdf(x, loc, scale))


@recorded_whole
def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function ``1 - exp(-z)``."""
    _, z, _ = _standardized("expon.cdf", x, loc, scale)
    return -fnp.expm1(-z)


@recorded_whole
@quiet
def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the CDF (-inf below loc)."""
    _, z, _ = _standardized("expon.logcdf", x, loc, scale)
    return log1mexp(-z)


@recorded_whole
def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Survival function ``exp(-z)``."""
    return fnp.exp(logsf(x, loc, scale))


@recorded_whole
def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the survival function, ``-z`` (0 below loc)."""
    _, z, _ = _standardized("expon.logsf", x, loc, scale)
    return -z


@recorded_whole
@quiet
def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Quantile function ``loc - scale log(1 - q)`` (NaN outside [0, 1])."""
    q, loc, scale = promote("expon.ppf", q, loc, scale)
    return fnp.where(outside_unit_interval(q), fnp.nan, loc - scale * fnp.log1p(-q))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
