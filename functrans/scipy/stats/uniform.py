"""The uniform distribution on [loc, loc + scale], as ``jax.scipy.stats.uniform``."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array
from functrans.scipy.stats._common import outside_unit_interval, promote, recorded_whole

__all__ = ["logpdf", "pdf", "cdf", "ppf"]


@recorded_whole
def logpdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """``-log(scale)`` on [loc, loc + scale], -inf outside."""
    x, loc, scale = promote("uniform.logpdf", x, loc, scale)
    outside = (x < loc) | (x > loc + scale)
    return fnp.where(outside, -fnp.inf, -fnp.log(scale))


@recorded_whole
def pdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """``1 / scale`` on [loc, loc + scale], 0 outside."""
    return fnp.exp(logpdf(x, loc, scale))


@recorded_whole
def cdf(x: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function: 0 below loc, 1 above loc + scale."""
    x, loc, scale = promote("uniform.cdf", x, loc, scale)
    inside = (x >= loc) & (x <= loc + scale)
    fraction = (fnp.where(inside, x, loc) - loc) / scale
    return fnp.where(x < loc, 0.0, fnp.where(inside, fraction, 1.0))


@recorded_whole
def ppf(q: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Quantile function ``loc + scale q`` (NaN outside [0, 1])."""
    q, loc, scale = promote("uniform.ppf", q, loc, scale)
    return fnp.where(outside_unit_interval(q), fnp.nan, loc + scale * q)


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
