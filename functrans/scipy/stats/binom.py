"""The binomial distribution of n trials with success probability p, as
``jax.scipy.stats.binom``."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy import special
from functrans.scipy.stats._common import promote, recorded_whole

__all__ = ["logpmf", "pmf"]


@recorded_whole
@quiet
def logpmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Array:
    """Log of ``C(n, y) p**y (1 - p)**(n - y)`` for y = k - loc in [0, n]."""
    k, n, p, loc = promote("binom.logpmf", k, n, p, loc)
    y = k - loc
    in_support = (y >= 0) & (y <= n)
    safe_y = fnp.where(in_support, y, 0.0)
    log_choose = (special.gammaln(n + 1.0) - special.gammaln(safe_y + 1.0)
                  - special.gammaln(n - safe_y + 1.0))
    log_powers = special.xlogy(safe_y, p) + special.xlog1py(n - safe_y, -p)
    return fnp.where(in_support, log_choose + log_powers, -fnp.inf)


@recorded_whole
def pmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Array:
    """Probability of k - loc successes."""
    return fnp.exp(logpmf(k, n, p, loc))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
