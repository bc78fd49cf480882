"""The gamma distribution with shape `a`, as ``jax.scipy.stats.gamma``.

The CDF and survival function are ``gammainc`` and ``gammaincc``, each accurate
where it is small; their logs are accurate until those underflow (below 1e-308).
Differentiable in x, loc, scale and, to first order, in a."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy import special
from functrans.scipy.stats._common import promote, recorded_whole

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def _standardized(fname: str, x: Any, a: Any, loc: Any, scale: Any
                  ) -> tuple[Array, Array, Array, Array]:
    """(inside the support, y = (x - loc) / scale there and 0 elsewhere, a, scale)."""
    x, a, loc, scale = promote(fname, x, a, loc, scale)
    inside = x >= loc
    return inside, fnp.where(inside, (x - loc) / scale, 0.0), a, scale


@recorded_whole
@quiet
def logpdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the density ``y**(a-1) exp(-y) / (Gamma(a) scale)``."""
    inside, y, a, scale = _standardized("gamma.logpdf", x, a, loc, scale)
    log_density = special.xlogy(a - 1.0, y) - y - special.gammaln(a) - fnp.log(scale)
    return fnp.where(inside, log_density, -fnp.inf)


@recorded_whole
def pdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Gamma density."""
    return fnp.exp(logpdf(x, a, loc, scale))


@recorded_whole
def cdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function ``gammainc(a, y)``."""
    _, y, a, _ = _standardized("gamma.cdf", x, a, loc, scale)
    return special.gammainc(a, y)


@recorded_whole
@quiet
def logcdf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the CDF."""
    return fnp.log(cdf(x, a, loc, scale))


@recorded_whole
def sf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Survival function ``gammaincc(a, y)``, accurate in the upper tail."""
    _, y, a, _ = _standardized("gamma.sf", x, a, loc, scale)
    return special.gammaincc(a, y)


@recorded_whole
@quiet
def logsf(x: Any, a: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the survival function."""
    return fnp.log(sf(x, a, loc, scale))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
