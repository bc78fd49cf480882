"""The chi-squared distribution with `df` degrees of freedom, as
``jax.scipy.stats.chi2``: a gamma distribution of shape df/2 and scale 2 scale."""

from __future__ import annotations

from typing import Any

from functrans.numpy._util import Array
from functrans.scipy.stats import gamma
from functrans.scipy.stats._common import promote, recorded_whole

__all__ = ["logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"]


def _as_gamma(fname: str, x: Any, df: Any, loc: Any, scale: Any) -> tuple:
    x, df, loc, scale = promote(fname, x, df, loc, scale)
    return x, 0.5 * df, loc, 2.0 * scale


@recorded_whole
def logpdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the chi-squared density."""
    return gamma.logpdf(*_as_gamma("chi2.logpdf", x, df, loc, scale))


@recorded_whole
def pdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Chi-squared density."""
    return gamma.pdf(*_as_gamma("chi2.pdf", x, df, loc, scale))


@recorded_whole
def cdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Cumulative distribution function."""
    return gamma.cdf(*_as_gamma("chi2.cdf", x, df, loc, scale))


@recorded_whole
def logcdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the CDF."""
    return gamma.logcdf(*_as_gamma("chi2.logcdf", x, df, loc, scale))


@recorded_whole
def sf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Survival function, accurate in the upper tail."""
    return gamma.sf(*_as_gamma("chi2.sf", x, df, loc, scale))


@recorded_whole
def logsf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the survival function."""
    return gamma.logsf(*_as_gamma("chi2.logsf", x, df, loc, scale))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
