"""The geometric distribution (trials up to the first success, probability p), as
``jax.scipy.stats.geom``."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array, quiet
from functrans.scipy import special
from functrans.scipy.stats._common import promote, recorded_whole

__all__ = ["logpmf", "pmf"]


@recorded_whole
@quiet
def logpmf(k: Any, p: Any, loc: Any = 0) -> Array:
    """Log of ``(1 - p)**(y - 1) p`` for y = k - loc >= 1 (-inf below)."""
    k, p, loc = promote("geom.logpmf", k, p, loc)
    y = k - loc
    safe_y = fnp.where(y >= 1, y, 1.0)
    log_probability = special.xlog1py(safe_y - 1.0, -p) + fnp.log(p)
    return fnp.where(y >= 1, log_probability, -fnp.inf)


@recorded_whole
def pmf(k: Any, p: Any, loc: Any = 0) -> Array:
    """Probability that the first success is trial k - loc."""
    return fnp.exp(logpmf(k, p, loc))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
