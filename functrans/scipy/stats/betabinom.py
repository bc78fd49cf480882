"""The beta-binomial distribution (n trials whose success probability is
Beta(a, b)), as ``jax.scipy.stats.betabinom``."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy import special
from functrans.scipy.stats._common import promote, recorded_whole

__all__ = ["logpmf", "pmf"]


@recorded_whole
@quiet
def logpmf(k: Any, n: Any, a: Any, b: Any, loc: Any = 0) -> Array:
    """Log of ``C(n, y) B(y + a, n - y + b) / B(a, b)`` for y = floor(k) - loc in
    [0, n]; NaN for n < 0 or non-positive a, b."""
    k, n, a, b, loc = promote("betabinom.logpmf", k, n, a, b, loc)
    y = fnp.floor(k) - loc
    in_support = (y >= 0) & (y <= n)
    safe_y = fnp.where(in_support, y, 0.0)
    log_choose = -fnp.log1p(n) - special.betaln(n - safe_y + 1.0, safe_y + 1.0)
    log_ratio = special.betaln(safe_y + a, n - safe_y + b) - special.betaln(a, b)
    value = fnp.where(in_support, log_choose + log_ratio, -fnp.inf)
    return fnp.where((n < 0) | (a <= 0) | (b <= 0), fnp.nan, value)


@recorded_whole
def pmf(k: Any, n: Any, a: Any, b: Any, loc: Any = 0) -> Array:
    """Probability of floor(k) - loc successes."""
    return fnp.exp(logpmf(k, n, a, b, loc))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
