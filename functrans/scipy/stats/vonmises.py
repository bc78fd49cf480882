"""The von Mises distribution on the circle, as ``jax.scipy.stats.vonmises``:
density ``exp(kappa cos x) / (2 pi I0(kappa))``."""

from __future__ import annotations

import math
from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import Array
from functrans.scipy import special
from functrans.scipy.stats._common import promote, recorded_whole

__all__ = ["logpdf", "pdf"]


@recorded_whole
def logpdf(x: Any, kappa: Any) -> Array:
    """Log of the von Mises density with concentration `kappa` > 0 (NaN otherwise).
    ``i0e`` keeps it finite for large kappa."""
    x, kappa = promote("vonmises.logpdf", x, kappa)
    safe_kappa = fnp.where(kappa > 0, kappa, 1.0)
    log_density = (safe_kappa * (fnp.cos(x) - 1.0)
                   - fnp.log(2.0 * math.pi * special.i0e(safe_kappa)))
    return fnp.where(kappa > 0, log_density, fnp.nan)


@recorded_whole
def pdf(x: Any, kappa: Any) -> Array:
    """von Mises density."""
    return fnp.exp(logpdf(x, kappa))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
