"""The exponential distribution, as ``jax.scipy.stats.expon``. The log-CDF is
``log(1 - exp(-z))`` evaluated without cancellation near 0 (``log1mexp``)."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy.stats._common import log1mexp, outside_unit_interval, promote
from functrans.transforms.tape import one_entry

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


def _standardized(fname: str, x: Any, loc: Any, scale: Any) -> tuple[Array, Array, Array]:
    """(inside the support, z = (x - loc) / scale there and 0 elsewhere, scale)."""
    x, loc, scale = promote(fname, x, loc, scale)
    inside = x >= loc
    return inside, fnp.where(inside, (x - loc) / scale, 0.0), scale


@one_entry(8, keywords=True)
def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the density ``exp(-(x - loc) / scale) / scale`` for x >= loc."""
    inside, z, scale = _standardized("expon.logpdf", x, loc, scale)
    return fnp.where(inside, -z - fnp.log(scale), -fnp.inf)


@one_entry(8, keywords=True)
def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Exponential density."""
    return fnp.exp(logpdf(x, loc, scale))


@one_entry(8, keywords=True)
def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function ``1 - exp(-z)``."""
    _, z, _ = _standardized("expon.cdf", x, loc, scale)
    return -fnp.expm1(-z)


@one_entry(8, keywords=True)
@quiet
def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the CDF (-inf below loc)."""
    _, z, _ = _standardized("expon.logcdf", x, loc, scale)
    return log1mexp(-z)


@one_entry(8, keywords=True)
def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Survival function ``exp(-z)``."""
    return fnp.exp(logsf(x, loc, scale))


@one_entry(8, keywords=True)
def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the survival function, ``-z`` (0 below loc)."""
    _, z, _ = _standardized("expon.logsf", x, loc, scale)
    return -z


@one_entry(8, keywords=True)
@quiet
def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Quantile function ``loc - scale log(1 - q)`` (NaN outside [0, 1])."""
    q, loc, scale = promote("expon.ppf", q, loc, scale)
    return fnp.where(outside_unit_interval(q), fnp.nan, loc - scale * fnp.log1p(-q))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
