"""Student's t distribution, as ``jax.scipy.stats.t``."""

from __future__ import annotations

import math
from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array
from functrans.scipy import special
from functrans.scipy.stats._common import promote, recorded_whole, standardize

__all__ = ["logpdf", "pdf"]


@recorded_whole
def logpdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Log of the density of the t distribution with `df` degrees of freedom."""
    x, df, loc, scale = promote("t.logpdf", x, df, loc, scale)
    z = standardize(x, loc, scale)
    half_df = 0.5 * df
    normalizer = (special.gammaln(half_df) - special.gammaln(half_df + 0.5)
                  + 0.5 * fnp.log(df * math.pi) + fnp.log(scale))
    return -normalizer - (half_df + 0.5) * fnp.log1p(z * z / df)


@recorded_whole
def pdf(x: Any, df: Any, loc: Any = 0, scale: Any = 1) -> Array:
    """Density of the t distribution with `df` degrees of freedom."""
    return fnp.exp(logpdf(x, df, loc, scale))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
