"""The negative binomial distribution (failures before the n-th success, success
probability p), as ``jax.scipy.stats.nbinom``."""

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
    """Log of ``Gamma(y + n) / (Gamma(n) y!) p**n (1 - p)**y`` for y = k - loc >= 0."""
    k, n, p, loc = promote("nbinom.logpmf", k, n, p, loc)
    y = k - loc
    safe_y = fnp.where(y >= 0, y, 0.0)
    log_choose = (special.gammaln(safe_y + n) - special.gammaln(n)
                  - special.gammaln(safe_y + 1.0))
    log_powers = special.xlogy(n, p) + special.xlog1py(safe_y, -p)
    return fnp.where(y >= 0, log_choose + log_powers, -fnp.inf)


@recorded_whole
def pmf(k: Any, n: Any, p: Any, loc: Any = 0) -> Array:
    """Probability of k - loc failures before the n-th success."""
    return fnp.exp(logpmf(k, n, p, loc))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
