"""The log-normal distribution with shape `s`, as ``scipy.stats.lognorm`` (JAX has
none): log((x - loc) / scale) is normal with standard deviation s. The log-CDF and
log-survival function use ``log_ndtr``, accurate in both tails."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array
from functrans.scipy import special
from functrans.scipy.stats._common import HALF_LOG_2PI, promote, recorded_whole

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf", "ppf"]


def _log_standardized(fname: str, x: Any, s: Any, loc: Any, scale: Any
                      ) -> tuple[Array, Array, Array, Array]:
    """(inside the support x > loc, log y there and 0 elsewhere, s, scale)."""
    x, s, loc, scale = promote(fname, x, s, loc, scale)
    inside = x > loc
    return inside, fnp.log(fnp.where(inside, (x - loc) / scale, 1.0)), s, scale


@recorded_whole
def logpdf(x: Any, s: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the log-normal density (-inf for x <= loc)."""
    inside, log_y, s, scale = _log_standardized("lognorm.logpdf", x, s, loc, scale)
    z = log_y / s
    log_density = -0.5 * z * z - log_y - fnp.log(s * scale) - HALF_LOG_2PI
    return fnp.where(inside, log_density, -fnp.inf)


@recorded_whole
def pdf(x: Any, s: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log-normal density."""
    return fnp.exp(logpdf(x, s, loc, scale))


@recorded_whole
def cdf(x: Any, s: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function ``ndtr(log(y) / s)`` (0 for x <= loc)."""
    inside, log_y, s, _ = _log_standardized("lognorm.cdf", x, s, loc, scale)
    return fnp.where(inside, special.ndtr(log_y / s), 0.0)


@recorded_whole
def logcdf(x: Any, s: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the CDF (-inf for x <= loc)."""
    inside, log_y, s, _ = _log_standardized("lognorm.logcdf", x, s, loc, scale)
    return fnp.where(inside, special.log_ndtr(log_y / s), -fnp.inf)


@recorded_whole
def sf(x: Any, s: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Survival function (1 for x <= loc)."""
    inside, log_y, s, _ = _log_standardized("lognorm.sf", x, s, loc, scale)
    return fnp.where(inside, special.ndtr(-log_y / s), 1.0)


@recorded_whole
def logsf(x: Any, s: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the survival function (0 for x <= loc)."""
    inside, log_y, s, _ = _log_standardized("lognorm.logsf", x, s, loc, scale)
    return fnp.where(inside, special.log_ndtr(-log_y / s), 0.0)


@recorded_whole
def ppf(q: Any, s: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Quantile function ``loc + scale exp(s ndtri(q))`` (NaN outside [0, 1])."""
    q, s, loc, scale = promote("lognorm.ppf", q, s, loc, scale)
    return loc + scale * fnp.exp(s * special.ndtri(q))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
