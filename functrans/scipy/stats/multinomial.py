"""The multinomial distribution of n trials over k outcomes with probabilities p,
as ``jax.scipy.stats.multinomial``: counts `x` along the last axis."""

from __future__ import annotations

from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans.numpy._util import Array, cast, dtype_of, operand, quiet
from functrans.scipy import special
from functrans.scipy.stats._common import promote, recorded_whole

__all__ = ["logpmf", "pmf"]


@recorded_whole
@quiet
def logpmf(x: Any, n: Any, p: Any) -> Array:
    """Log of ``n! prod p_i**x_i / x_i!`` for integer counts `x` (last axis) summing
    to the integer `n`; -inf where they do not sum to n."""
    x, n = operand(x, "multinomial.logpmf", "x"), operand(n, "multinomial.logpmf", "n")
    for name, value in (("x", x), ("n", n)):
        if not np.issubdtype(dtype_of(value), np.integer):
            raise ValueError(f"multinomial.logpmf: {name} must have an integer dtype (counts "
                             f"of trials), got {dtype_of(value).name}")
    (p,) = promote("multinomial.logpmf", p)
    counts, trials = cast(x, dtype_of(p)), cast(n, dtype_of(p))
    log_probability = special.gammaln(trials + 1.0) + fnp.sum(
        special.xlogy(counts, p) - special.gammaln(counts + 1.0), axis=-1)
    return fnp.where(fnp.sum(counts, axis=-1) == trials, log_probability, -fnp.inf)


@recorded_whole
def pmf(x: Any, n: Any, p: Any) -> Array:
    """Probability of the counts `x`."""
    return fnp.exp(logpmf(x, n, p))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
