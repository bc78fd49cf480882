"""``functrans.scipy.special``: special functions, as ``jax.scipy.special``.

Each is composed from ``functrans.numpy``/``lax`` operations, written so that
the derivative is right where a naive formula would give nan or overflow:
the branches of ``xlogy`` and ``gammaln`` only ever see safe inputs, so the
unselected branch cannot poison a gradient. ``logsumexp``, ``softmax`` and
``log_softmax`` are shared with ``functrans.nn`` (from
``functrans.numpy._softmax``, so neither public module imports the other);
``logsumexp`` has a custom JVP rule, the softmax weights, finite for infinite
entries.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans.numpy import _softmax
from functrans.numpy._lax import lax
from functrans.numpy._softmax import logsumexp
from functrans.numpy._util import (
    Array,
    as_array,
    asarray_arg,
    cast,
    dtype_of,
    promote_args_inexact,
    quiet,
    to_inexact_dtype,
)

__all__ = ["logsumexp", "expit", "logit", "erf", "erfc", "erfinv", "xlogy", "xlog1py",
           "gammaln", "softmax", "log_softmax", "log_ndtr", "ndtr"]


def _inexact(x: Any, fname: str) -> Array:
    x = as_array(asarray_arg(x, fname, "x"))
    return cast(x, to_inexact_dtype(dtype_of(x)))


def expit(x: Any) -> Array:
    """The logistic sigmoid ``1 / (1 + exp(-x))``."""
    return lax.logistic(_inexact(x, "expit"))


def logit(x: Any) -> Array:
    """The inverse of expit: ``log(x / (1 - x))``."""
    x = _inexact(x, "logit")
    return fnp.subtract(fnp.log(x), fnp.log1p(fnp.negative(x)))


def erf(x: Any) -> Array:
    """The error function."""
    return lax.erf(_inexact(x, "erf"))


def erfc(x: Any) -> Array:
    """The complementary error function ``1 - erf(x)``, accurate for large x."""
    return lax.erfc(_inexact(x, "erfc"))


def erfinv(x: Any) -> Array:
    """The inverse error function."""
    return lax.erf_inv(_inexact(x, "erfinv"))


def ndtr(x: Any) -> Array:
    """The standard normal CDF."""
    x = _inexact(x, "ndtr")
    return fnp.multiply(0.5, lax.erfc(fnp.multiply(x, -1 / math.sqrt(2.0))))


def log_ndtr(x: Any) -> Array:
    """The log of the standard normal CDF (via erfc, accurate in the lower tail
    down to about -37 in float64)."""
    return fnp.log(ndtr(x))


def xlogy(x: Any, y: Any) -> Array:
    """``x * log(y)``, defined as 0 where x == 0 (also for y <= 0)."""
    x, y = promote_args_inexact("xlogy", x, y)
    # where x == 0 and log(y) is not finite, feed log a 1: the product is then 0
    # and no nan reaches the gradient; elsewhere d/dx = log(y), d/dy = x / y.
    unsafe = fnp.logical_and(fnp.equal(x, 0), fnp.logical_not(fnp.greater(y, 0)))
    return fnp.multiply(x, fnp.log(fnp.where(unsafe, 1, y)))


def xlog1py(x: Any, y: Any) -> Array:
    """``x * log1p(y)``, defined as 0 where x == 0."""
    x, y = promote_args_inexact("xlog1py", x, y)
    unsafe = fnp.logical_and(fnp.equal(x, 0), fnp.logical_not(fnp.greater(y, -1)))
    return fnp.multiply(x, fnp.log1p(fnp.where(unsafe, 0, y)))


# Lanczos approximation (g = 7, 9 terms): relative error below 1e-15 for Re x >= 0.5.
_LANCZOS_G = 7.0
_LANCZOS_COEFFS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028,
                   771.32342877765313, -176.61502916214059, 12.507343278686905,
                   -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7)


def _lgamma_lanczos(x: Array) -> Array:
    """log Gamma(x) for x >= 0.5 (float64)."""
    z = fnp.subtract(x, 1.0)
    series = _LANCZOS_COEFFS[0]
    for i, c in enumerate(_LANCZOS_COEFFS[1:], start=1):
        series = fnp.add(series, fnp.divide(c, fnp.add(z, float(i))))
    t = fnp.add(z, _LANCZOS_G + 0.5)
    return fnp.add(fnp.subtract(fnp.multiply(fnp.add(z, 0.5), fnp.log(t)), t),
                   fnp.add(0.5 * math.log(2 * math.pi), fnp.log(series)))


@quiet
def gammaln(x: Any) -> Array:
    """``log|Gamma(x)|`` (Lanczos approximation, computed in float64; reflection
    formula below 0.5; +inf at the poles 0, -1, -2, ...)."""
    x = _inexact(x, "gammaln")
    dtype = dtype_of(x)
    x64 = cast(x, np.dtype(np.float64))
    reflect = fnp.less(x64, 0.5)
    # each branch gets inputs it is finite at, so neither can poison the gradient
    lanczos = _lgamma_lanczos(fnp.where(reflect, fnp.subtract(1.0, x64), x64))
    sin_term = fnp.abs(fnp.sin(fnp.multiply(math.pi, fnp.where(reflect, x64, 0.25))))
    reflected = fnp.subtract(fnp.subtract(math.log(math.pi), fnp.log(sin_term)), lanczos)
    # sin(pi x) is not exactly 0 at the poles in floating point: mark them
    pole = fnp.logical_and(fnp.less_equal(x64, 0), fnp.equal(x64, fnp.floor(x64)))
    result = fnp.where(pole, np.inf, fnp.where(reflect, reflected, lanczos))
    return cast(result, dtype)


def softmax(x: Any, axis: Any = -1) -> Array:
    """Softmax along `axis` (see functrans.nn.softmax)."""
    return _softmax.softmax(x, axis=axis)


def log_softmax(x: Any, axis: Any = -1) -> Array:
    """Log-softmax along `axis` (see functrans.nn.log_softmax)."""
    return _softmax.log_softmax(x, axis=axis)
