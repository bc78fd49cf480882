"""The generalized normal distribution with shape `beta`, as
``jax.scipy.stats.gennorm``: density ``beta / (2 Gamma(1/beta)) exp(-|x|**beta)``.

The CDF is ``gammaincc(1/beta, |x|**beta) / 2`` below 0 and one minus that above
(JAX's ``(1 + sign(x) gammainc(...)) / 2`` cancels in the lower tail)."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array
from functrans.scipy import special
from functrans.scipy.stats._common import promote, recorded_whole

__all__ = ["logpdf", "pdf", "cdf"]


@recorded_whole
def logpdf(x: Any, beta: Any) -> Array:
    """Log of the generalized normal density."""
    x, beta = promote("gennorm.logpdf", x, beta)
    return fnp.log(0.5 * beta) - special.gammaln(1.0 / beta) - fnp.abs(x) ** beta


@recorded_whole
def pdf(x: Any, beta: Any) -> Array:
    """Generalized normal density."""
    return fnp.exp(logpdf(x, beta))


@recorded_whole
def cdf(x: Any, beta: Any) -> Array:
    """Cumulative distribution function."""
    x, beta = promote("gennorm.cdf", x, beta)
    tail = 0.5 * special.gammaincc(1.0 / beta, fnp.abs(x) ** beta)
    return fnp.where(x < 0, tail, 1.0 - tail)


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
