"""The multivariate normal distribution, as ``jax.scipy.stats.multivariate_normal``.

`x` and `mean` hold the n coordinates along their last axis; `cov` is a scalar (an
isotropic covariance) or a symmetric positive-definite (..., n, n) matrix, each
broadcasting against the others' batch axes. A matrix covariance is factored as
L L^T (``lax.linalg.cholesky``) and the Mahalanobis distance comes from solving
L y = x - mean (``lax.linalg.triangular_solve``), as in JAX; both are LAPACK calls
with derivatives of every order. A covariance that is not positive definite gives NaN.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans.lax import linalg
from functrans.numpy._util import (
    Array,
    cast,
    ndim_of,
    operand,
    result_type,
    shape_of,
    to_inexact_dtype,
)
from functrans.scipy.stats._common import HALF_LOG_2PI, recorded_whole

__all__ = ["logpdf", "pdf"]


def _standardize(factor: Array, residual: Array) -> Array:
    """``L^-1 r`` for each residual r along the last axis: one triangular solve of
    the residuals as the rows of a matrix (r^T L^-T), batched over cov's batch axes."""
    batch = np.broadcast_shapes(shape_of(factor)[:-2], shape_of(residual)[:-1])
    n = shape_of(factor)[-1]
    if len(shape_of(factor)) == 2:            # one covariance: all residuals at once
        rows = fnp.reshape(fnp.broadcast_to(residual, batch + (n,)), (-1, n))
        solved = linalg.triangular_solve(factor, rows, left_side=False, lower=True,
                                         transpose_a=True)
        return fnp.reshape(solved, batch + (n,))
    factor = fnp.broadcast_to(factor, batch + (n, n))
    rows = fnp.broadcast_to(residual, batch + (n,))[..., None, :]
    solved = linalg.triangular_solve(factor, rows, left_side=False, lower=True,
                                     transpose_a=True)
    return solved[..., 0, :]


@recorded_whole
def logpdf(x: Any, mean: Any, cov: Any, allow_singular: None = None) -> Array:
    """Log of the density of N(mean, cov) at `x`.

    `allow_singular` must be None (as in JAX: singular covariances are not
    supported)."""
    if allow_singular is not None:
        raise TypeError("multivariate_normal.logpdf: allow_singular is not supported (as "
                        "in JAX); pass a positive-definite cov and leave it None")
    x, mean, cov = (operand(v, "multivariate_normal.logpdf", name)
                    for v, name in ((x, "x"), (mean, "mean"), (cov, "cov")))
    dtype = to_inexact_dtype(result_type(x, mean, cov))
    x, mean, cov = cast(x, dtype), cast(mean, dtype), cast(cov, dtype)
    if ndim_of(mean) == 0:                      # one coordinate, cov its variance
        return -0.5 * fnp.square(x - mean) / cov - 0.5 * fnp.log(cov) - HALF_LOG_2PI
    n = shape_of(mean)[-1]
    if ndim_of(cov) == 0:                       # isotropic: cov times the identity
        residual = x - mean
        squared = fnp.sum(residual * residual, axis=-1)
        return -0.5 * squared / cov - 0.5 * n * fnp.log(cov) - n * HALF_LOG_2PI
    if ndim_of(cov) < 2 or shape_of(cov)[-2:] != (n, n):
        raise ValueError(f"multivariate_normal.logpdf: cov must be a scalar or have shape "
                         f"(..., {n}, {n}) for a mean of {n} coordinates, got "
                         f"{shape_of(cov)}")
    factor = linalg.cholesky(cov)
    standardized = _standardize(factor, x - mean)
    log_det = 2.0 * fnp.sum(fnp.log(fnp.diagonal(factor, axis1=-2, axis2=-1)), axis=-1)
    return (-0.5 * fnp.sum(standardized * standardized, axis=-1) - 0.5 * log_det
            - n * HALF_LOG_2PI)


@recorded_whole
def pdf(x: Any, mean: Any, cov: Any) -> Array:
    """Density of N(mean, cov) at `x`."""
    return fnp.exp(logpdf(x, mean, cov))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
