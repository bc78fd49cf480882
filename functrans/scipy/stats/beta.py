"""The beta distribution with shapes `a`, `b` on [loc, loc + scale], as
``jax.scipy.stats.beta``.

The CDF and survival function are ``betainc``, so they are differentiable in x, loc
and scale but not in a and b (as in JAX); the density is differentiable in all."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy import special
from functrans.scipy.stats._common import promote, recorded_whole

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


@recorded_whole
@quiet
def logpdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the density ``y**(a-1) (1-y)**(b-1) / (B(a, b) scale)``; -inf outside
    [loc, loc + scale], NaN for non-positive a, b or scale."""
    x, a, b, loc, scale = promote("beta.logpdf", x, a, b, loc, scale)
    inside = (x >= loc) & (x <= loc + scale)
    y = fnp.where(inside, (x - loc) / scale, 0.5)
    log_density = (special.xlogy(a - 1.0, y) + special.xlog1py(b - 1.0, -y)
                   - special.betaln(a, b) - fnp.log(scale))
    invalid = (a <= 0) | (b <= 0) | (scale <= 0)
    return fnp.where(invalid, fnp.nan, fnp.where(inside, log_density, -fnp.inf))


@recorded_whole
def pdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Beta density."""
    return fnp.exp(logpdf(x, a, b, loc, scale))


def _clipped(fname: str, x: Any, a: Any, b: Any, loc: Any, scale: Any) -> tuple:
    """(a, b, y clipped to [0, 1]): the CDF is 0 below the support and 1 above."""
    x, a, b, loc, scale = promote(fname, x, a, b, loc, scale)
    y = (x - loc) / scale
    return a, b, fnp.where(y < 0, 0.0, fnp.where(y > 1, 1.0, y))


@recorded_whole
def cdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function ``betainc(a, b, y)``."""
    a, b, y = _clipped("beta.cdf", x, a, b, loc, scale)
    return special.betainc(a, b, y)


@recorded_whole
@quiet
def logcdf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the CDF."""
    return fnp.log(cdf(x, a, b, loc, scale))


@recorded_whole
def sf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Survival function ``betainc(b, a, 1 - y)``, accurate in the upper tail."""
    a, b, y = _clipped("beta.sf", x, a, b, loc, scale)
    return special.betainc(b, a, 1.0 - y)


@recorded_whole
@quiet
def logsf(x: Any, a: Any, b: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the survival function."""
    return fnp.log(sf(x, a, b, loc, scale))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
