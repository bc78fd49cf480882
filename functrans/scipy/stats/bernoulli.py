"""The Bernoulli distribution with success probability `p`, as
``jax.scipy.stats.bernoulli``."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy import special
from functrans.scipy.stats._common import outside_unit_interval, promote, recorded_whole

__all__ = ["logpmf", "pmf", "cdf", "ppf"]


@recorded_whole
@quiet
def logpmf(k: Any, p: Any, loc: Any = 0) -> Array:
    """``log p`` at k - loc = 1, ``log(1 - p)`` at 0, -inf elsewhere."""
    k, p, loc = promote("bernoulli.logpmf", k, p, loc)
    outcome = k - loc
    log_probability = special.xlogy(outcome, p) + special.xlog1py(1.0 - outcome, -p)
    return fnp.where((outcome < 0) | (outcome > 1), -fnp.inf, log_probability)


@recorded_whole
def pmf(k: Any, p: Any, loc: Any = 0) -> Array:
    """Probability of the outcome k - loc."""
    return fnp.exp(logpmf(k, p, loc))


@recorded_whole
def cdf(k: Any, p: Any) -> Array:
    """0 below 0, 1 - p on [0, 1), 1 from 1 (NaN for p outside [0, 1])."""
    k, p = promote("bernoulli.cdf", k, p)
    value = fnp.where(k < 0, 0.0, fnp.where(k < 1, 1.0 - p, 1.0))
    return fnp.where(fnp.isnan(k) | outside_unit_interval(p), fnp.nan, value)


@recorded_whole
def ppf(q: Any, p: Any) -> Array:
    """The smallest outcome whose CDF reaches q: 0 for q <= 1 - p, else 1 (also 0 at
    q = 0, as in JAX; SciPy gives -1 there)."""
    q, p = promote("bernoulli.ppf", q, p)
    value = fnp.where(q <= 1.0 - p, fnp.zeros_like(q), 1.0)
    return fnp.where(outside_unit_interval(q) | outside_unit_interval(p), fnp.nan, value)


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
