"""The logistic distribution, as ``jax.scipy.stats.logistic``, with SciPy's logcdf
and logsf (``-softplus(-z)``, ``-softplus(z)``: accurate in both tails)."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array
from functrans.scipy import special
from functrans.scipy.stats._common import promote, recorded_whole, standardize

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]


@recorded_whole
def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the logistic density ``exp(-z) / (scale (1 + exp(-z))**2)``."""
    x, loc, scale = promote("logistic.logpdf", x, loc, scale)
    half_z = 0.5 * standardize(x, loc, scale)
    return -2.0 * fnp.logaddexp(half_z, -half_z) - fnp.log(scale)


@recorded_whole
def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Logistic density."""
    return fnp.exp(logpdf(x, loc, scale))


@recorded_whole
def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function, ``expit(z)``."""
    x, loc, scale = promote("logistic.cdf", x, loc, scale)
    return special.expit(standardize(x, loc, scale))


@recorded_whole
def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the CDF, ``-log(1 + exp(-z))``."""
    x, loc, scale = promote("logistic.logcdf", x, loc, scale)
    return -fnp.logaddexp(0.0, -standardize(x, loc, scale))


@recorded_whole
def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Survival function, ``expit(-z)``."""
    x, loc, scale = promote("logistic.sf", x, loc, scale)
    return special.expit(-standardize(x, loc, scale))


@recorded_whole
def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the survival function, ``-log(1 + exp(z))``."""
    x, loc, scale = promote("logistic.logsf", x, loc, scale)
    return -fnp.logaddexp(0.0, standardize(x, loc, scale))


@recorded_whole
def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Quantile function, ``loc + scale * logit(q)``."""
    q, loc, scale = promote("logistic.ppf", q, loc, scale)
    return loc + scale * special.logit(q)


@recorded_whole
def isf(q: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Inverse survival function, ``loc - scale * logit(q)``."""
    q, loc, scale = promote("logistic.isf", q, loc, scale)
    return loc - scale * special.logit(q)


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
