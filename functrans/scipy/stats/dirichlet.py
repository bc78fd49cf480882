"""The Dirichlet distribution, as ``jax.scipy.stats.dirichlet``: `x` holds the k
coordinates (or the first k - 1) along its first axis, `alpha` is one-dimensional."""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import (
    Array,
    cast,
    ndim_of,
    operand,
    quiet,
    result_type,
    shape_of,
    to_inexact_dtype,
)
from functrans.scipy import special
from functrans.scipy.stats._common import recorded_whole

__all__ = ["logpdf", "pdf"]

_SIMPLEX_TOLERANCE = 1e-6  # how far from 1 the coordinates' sum may be, as in JAX


@recorded_whole
@quiet
def logpdf(x: Any, alpha: Any) -> Array:
    """Log of the Dirichlet density ``prod x_i**(alpha_i - 1) / B(alpha)``; -inf
    where `x` is not on the simplex (a coordinate <= 0, or the sum off 1 by more than
    1e-6). With k - 1 coordinates, the last is one minus their sum."""
    x, alpha = operand(x, "dirichlet.logpdf", "x"), operand(alpha, "dirichlet.logpdf", "alpha")
    if ndim_of(alpha) != 1:
        raise ValueError(f"dirichlet.logpdf: alpha must be one-dimensional (the k "
                         f"concentrations), got shape {shape_of(alpha)}")
    k = shape_of(alpha)[0]
    if ndim_of(x) == 0 or shape_of(x)[0] not in (k, k - 1):
        raise ValueError(f"dirichlet.logpdf: x must have k = {k} or k - 1 = {k - 1} "
                         f"entries along its first axis (alpha has shape "
                         f"{shape_of(alpha)}), got shape {shape_of(x)}")
    dtype = to_inexact_dtype(result_type(x, alpha))
    x, alpha = cast(x, dtype), cast(alpha, dtype)
    if shape_of(x)[0] == k - 1:
        x = fnp.concatenate([x, 1.0 - fnp.sum(x, axis=0, keepdims=True)], axis=0)
    alpha_column = fnp.reshape(alpha, (k,) + (1,) * (ndim_of(x) - 1))
    log_normalizer = fnp.sum(special.gammaln(alpha)) - special.gammaln(fnp.sum(alpha))
    log_density = fnp.sum(special.xlogy(alpha_column - 1.0, x), axis=0) - log_normalizer
    on_simplex = (fnp.all(x > 0, axis=0)
                  & (fnp.abs(fnp.sum(x, axis=0) - 1.0) < _SIMPLEX_TOLERANCE))
    return fnp.where(on_simplex, log_density, -fnp.inf)


@recorded_whole
def pdf(x: Any, alpha: Any) -> Array:
    """Dirichlet density."""
    return fnp.exp(logpdf(x, alpha))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
