"""The Poisson distribution with mean `mu`, as ``jax.scipy.stats.poisson``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy import special
from functrans.scipy.stats._common import promote, recorded_whole

__all__ = ["logpmf", "pmf", "cdf", "entropy"]


@recorded_whole
@quiet
def logpmf(k: Any, mu: Any, loc: Any = 0) -> Array:
    """Log of the probability ``mu**k exp(-mu) / k!`` of k - loc events (-inf where
    that is negative or not an integer)."""
    k, mu, loc = promote("poisson.logpmf", k, mu, loc)
    count = k - loc
    in_support = (count >= 0) & (fnp.round(k) == k)
    safe_count = fnp.where(in_support, count, 0.0)
    log_probability = special.xlogy(safe_count, mu) - special.gammaln(safe_count + 1.0) - mu
    return fnp.where(in_support, log_probability, -fnp.inf)


@recorded_whole
def pmf(k: Any, mu: Any, loc: Any = 0) -> Array:
    """Probability of k - loc events."""
    return fnp.exp(logpmf(k, mu, loc))


@recorded_whole
def cdf(k: Any, mu: Any, loc: Any = 0) -> Array:
    """Cumulative distribution function, ``gammaincc(floor(k - loc) + 1, mu)``;
    differentiable in mu."""
    k, mu, loc = promote("poisson.cdf", k, mu, loc)
    count = k - loc
    safe_count = fnp.where(count >= 0, count, 0.0)
    return fnp.where(count >= 0, special.gammaincc(fnp.floor(safe_count) + 1.0, mu), 0.0)


# Below this mean the entropy is summed over the counts k < mu + 12 sqrt(mu) + 30,
# which carry all of the probability to float64 accuracy; above, its asymptotic
# expansion in 1/mu is within 1.5e-11 (measured against SciPy's sum).
_SUMMED_BELOW = 300.0
_MAX_COUNT = int(_SUMMED_BELOW + 12 * math.sqrt(_SUMMED_BELOW) + 30)


@recorded_whole
def entropy(mu: Any, loc: Any = 0) -> Array:
    """The entropy of the distribution (in nats); `loc` does not change it."""
    mu, loc = promote("poisson.entropy", mu, loc)
    small = mu < _SUMMED_BELOW
    mu_small = fnp.where(small, mu, 1.0)
    counts = np.arange(_MAX_COUNT, dtype=fnp.result_type(mu)).reshape(
        (_MAX_COUNT,) + (1,) * fnp.ndim(mu))
    summed = fnp.sum(special.entr(pmf(counts, mu_small)), axis=0)
    mu_large = fnp.where(small, _SUMMED_BELOW, mu)
    inverse = 1.0 / mu_large
    asymptotic = (0.5 * fnp.log(2.0 * math.pi * math.e * mu_large)
                  - inverse * (1.0 / 12.0 + inverse * (1.0 / 24.0
                                                      + inverse * (19.0 / 360.0))))
    return fnp.where(small, summed, asymptotic)


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
