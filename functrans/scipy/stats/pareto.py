"""The Pareto distribution, as ``jax.scipy.stats.pareto``: density
``b / y**(b + 1)`` for y = (x - loc) / scale >= 1."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy.stats._common import log1mexp, outside_unit_interval, promote, recorded_whole

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


def _log_standardized(fname: str, x: Any, b: Any, loc: Any, scale: Any
                      ) -> tuple[Array, Array, Array, Array]:
    """(inside the support, log y there and 0 elsewhere, b, scale)."""
    x, b, loc, scale = promote(fname, x, b, loc, scale)
    inside = x >= loc + scale
    return inside, fnp.log(fnp.where(inside, (x - loc) / scale, 1.0)), b, scale


@recorded_whole
def logpdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the Pareto density with shape `b`."""
    inside, log_y, b, scale = _log_standardized("pareto.logpdf", x, b, loc, scale)
    return fnp.where(inside, fnp.log(b / scale) - (b + 1.0) * log_y, -fnp.inf)


@recorded_whole
def pdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Pareto density."""
    return fnp.exp(logpdf(x, b, loc, scale))


@recorded_whole
def cdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function ``1 - y**-b``."""
    inside, log_y, b, _ = _log_standardized("pareto.cdf", x, b, loc, scale)
    return fnp.where(inside, -fnp.expm1(-b * log_y), 0.0)


@recorded_whole
@quiet
def logcdf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the CDF (-inf below the support)."""
    inside, log_y, b, _ = _log_standardized("pareto.logcdf", x, b, loc, scale)
    return fnp.where(inside, log1mexp(-b * log_y), -fnp.inf)


@recorded_whole
def logsf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the survival function, ``-b log y`` (0 below the support)."""
    _, log_y, b, _ = _log_standardized("pareto.logsf", x, b, loc, scale)
    return -b * log_y


@recorded_whole
def sf(x: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Survival function ``y**-b``."""
    return fnp.exp(logsf(x, b, loc, scale))


@recorded_whole
@quiet
def ppf(q: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Quantile function ``loc + scale (1 - q)**(-1/b)`` (NaN outside [0, 1])."""
    q, b, loc, scale = promote("pareto.ppf", q, b, loc, scale)
    value = loc + scale * fnp.exp(-fnp.log1p(-q) / b)
    return fnp.where(outside_unit_interval(q), fnp.nan, value)


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
