"""The Cauchy distribution, as ``jax.scipy.stats.cauchy``.

The CDF is ``atan2(1, -z) / pi``, which keeps its relative accuracy in the lower
tail (JAX's ``1/2 + atan(z)/pi`` cancels there), so ``logcdf`` and ``logsf`` are
accurate in both tails; the quantile function likewise avoids forming ``q - 1/2``."""

from __future__ import annotations

import math
from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy.stats._common import (
    outside_unit_interval,
    promote,
    recorded_whole,
    standardize,
)

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf", "isf"]


@recorded_whole
def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the Cauchy density."""
    x, loc, scale = promote("cauchy.logpdf", x, loc, scale)
    z = standardize(x, loc, scale)
    return -fnp.log1p(z * z) - fnp.log(scale) - math.log(math.pi)


@recorded_whole
def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cauchy density."""
    return fnp.exp(logpdf(x, loc, scale))


def _standard_cdf(z: Array) -> Array:
    return fnp.arctan2(1.0, -z) / math.pi


@recorded_whole
def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function."""
    x, loc, scale = promote("cauchy.cdf", x, loc, scale)
    return _standard_cdf(standardize(x, loc, scale))


@recorded_whole
@quiet
def logcdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the CDF."""
    return fnp.log(cdf(x, loc, scale))


@recorded_whole
def sf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Survival function ``1 - cdf``."""
    x, loc, scale = promote("cauchy.sf", x, loc, scale)
    return _standard_cdf(-standardize(x, loc, scale))


@recorded_whole
@quiet
def logsf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the survival function."""
    return fnp.log(sf(x, loc, scale))


@quiet
def _standard_ppf(q: Array) -> Array:
    """tan(pi (q - 1/2)), as -cot(pi q) below 1/2 and cot(pi (1 - q)) above (1 - q
    is exact there): accurate for q near 0 and near 1."""
    lower = q < 0.5
    q_low, q_high = fnp.where(lower, q, 0.25), fnp.where(lower, 0.75, q)
    value = fnp.where(lower, -1.0 / fnp.tan(math.pi * q_low),
                      1.0 / fnp.tan(math.pi * (1.0 - q_high)))
    return fnp.where(outside_unit_interval(q), fnp.nan, value)


@recorded_whole
def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Quantile function (NaN outside [0, 1])."""
    q, loc, scale = promote("cauchy.ppf", q, loc, scale)
    return loc + scale * _standard_ppf(q)


@recorded_whole
def isf(q: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Inverse survival function."""
    q, loc, scale = promote("cauchy.isf", q, loc, scale)
    return loc - scale * _standard_ppf(q)


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
