"""``functrans.scipy.special``: special functions, as ``jax.scipy.special``.

Each function accepts array-likes, promotes integers to float64 (float32 stays
float32) and broadcasts its arguments, then calls a primitive of
:mod:`functrans.primitives.special` (evaluated by ``scipy.special``) or composes a
few of them. Derivatives exist wherever the maths gives them, to every order, except
for the parameters JAX does not differentiate either: ``betainc``'s a and b,
``polygamma``'s order, ``zeta``'s x, ``iv``/``ive``'s order and the second
derivative of ``gammainc``/``gammaincc`` in a; differentiating those raises a
TypeError naming the function and argument.

Beyond ``jax.scipy.special`` there are SciPy's ``psi``, ``erfcinv``, ``iv``, ``ive``,
``j0``, ``j1``, ``y0`` and ``y1``. ``logsumexp``, ``softmax`` and ``log_softmax`` are
shared with ``functrans.nn`` (from ``functrans.numpy._softmax``, so neither public
module imports the other).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans.higher_order.custom_derivatives import custom_jvp, traceable_rule
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
    static_int,
    to_inexact_dtype,
)
from functrans.primitives import special as special_primitives
from functrans.transforms.tape import one_entry

__all__ = [
    # gamma and beta functions
    "gamma", "gammaln", "gammasgn", "rgamma", "digamma", "psi", "polygamma",
    "multigammaln", "beta", "betaln",
    # incomplete gamma and beta functions
    "gammainc", "gammaincc", "betainc",
    # error function and the normal distribution
    "erf", "erfc", "erfinv", "erfcinv", "erfcx", "ndtr", "ndtri", "log_ndtr",
    # logistic, logarithms, entropies
    "expit", "logit", "xlogy", "xlog1py", "entr", "rel_entr", "kl_div",
    # Bessel functions
    "i0", "i0e", "i1", "i1e", "iv", "ive", "j0", "j1", "y0", "y1",
    # zeta, exponential integrals, dilogarithm
    "zeta", "expi", "exp1", "spence",
    # softmax and its relatives
    "logsumexp", "softmax", "log_softmax",
]


def _inexact(x: Any, fname: str) -> Array:
    x = as_array(asarray_arg(x, fname, "x"))
    return cast(x, to_inexact_dtype(dtype_of(x)))


# ------------------------------------------------------------------ gamma and beta

@one_entry(1)
def gamma(x: Any) -> Array:
    """The gamma function (±inf or NaN at the poles 0, -1, -2, ..., as SciPy).

    JAX computes ``gammasgn(x) * exp(gammaln(x))``; here SciPy's ``gamma`` is
    evaluated directly, which keeps full relative accuracy for large x."""
    return special_primitives.gamma(_inexact(x, "gamma"))


@one_entry(1)
def gammaln(x: Any) -> Array:
    """``log|Gamma(x)|`` (+inf at the poles 0, -1, -2, ...)."""
    return lax.lgamma(_inexact(x, "gammaln"))


@one_entry(1)
def gammasgn(x: Any) -> Array:
    """The sign of ``Gamma(x)``: 1 or -1, NaN at the poles (derivative 0)."""
    return special_primitives.gammasgn(_inexact(x, "gammasgn"))


@one_entry(1)
def rgamma(x: Any) -> Array:
    """``1 / Gamma(x)``, 0 at the poles of Gamma, where its derivative is
    ``(-1)**n n!`` at x = -n."""
    return special_primitives.rgamma(_inexact(x, "rgamma"))


@one_entry(1)
def digamma(x: Any) -> Array:
    """The digamma function ``d/dx log Gamma(x)``."""
    return lax.digamma(_inexact(x, "digamma"))


psi = digamma


@one_entry(2, static_scalars=True)  # n is an order, as_array makes it strong
def polygamma(n: Any, x: Any) -> Array:
    """The n-th derivative of the digamma function.

    `n` must have an integer dtype (as in JAX); its derivative is not defined.
    Negative n gives NaN."""
    n = as_array(asarray_arg(n, "polygamma", "n"))
    if not np.issubdtype(dtype_of(n), np.integer):
        raise ValueError(f"functrans.scipy.special.polygamma: argument n must have an "
                         f"integer dtype (the order of the derivative), got "
                         f"{dtype_of(n).name}; pass integers, e.g. n=2 or "
                         "np.array([0, 1], dtype=np.int32)")
    n, x = promote_args_inexact("polygamma", n, x)
    return lax.polygamma(n, x)


@one_entry(1)
def multigammaln(a: Any, d: int) -> Array:
    """The log of the multivariate gamma function of dimension `d` (a static int),
    ``d (d-1)/4 log(pi) + sum(gammaln(a - j/2) for j < d)``.

    As in JAX, `a` is not checked against SciPy's domain a > (d - 1)/2."""
    d = static_int(d, "multigammaln", "the dimension d")
    if d < 1:
        raise ValueError(f"functrans.scipy.special.multigammaln: d must be a positive "
                         f"integer, got {d}")
    a = _inexact(a, "multigammaln")
    halves = np.arange(d, dtype=dtype_of(a)) / 2
    terms = lax.lgamma(fnp.subtract(fnp.expand_dims(a, -1), halves))
    return fnp.add(fnp.sum(terms, axis=-1), 0.25 * d * (d - 1) * math.log(math.pi))


@one_entry(2)
def betaln(a: Any, b: Any) -> Array:
    """``log|B(a, b)|``, with SciPy's accuracy also where a + b is much larger than
    a or b (a difference of gammaln values would cancel there)."""
    a, b = promote_args_inexact("betaln", a, b)
    return special_primitives.betaln(a, b)


@one_entry(2)
def beta(a: Any, b: Any) -> Array:
    """The beta function ``Gamma(a) Gamma(b) / Gamma(a + b)``."""
    a, b = promote_args_inexact("beta", a, b)
    sign = fnp.multiply(fnp.multiply(gammasgn(a), gammasgn(b)), gammasgn(fnp.add(a, b)))
    return fnp.multiply(sign, fnp.exp(special_primitives.betaln(a, b)))


# ------------------------------------------------------------------ incomplete functions

@one_entry(2)
def gammainc(a: Any, x: Any) -> Array:
    """The regularized lower incomplete gamma function ``P(a, x)``.

    Differentiable in x (to every order) and in a (to first order, by
    ``lax.igamma_grad_a``), as in JAX."""
    a, x = promote_args_inexact("gammainc", a, x)
    return lax.igamma(a, x)


@one_entry(2)
def gammaincc(a: Any, x: Any) -> Array:
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``,
    accurate where P is close to 1."""
    a, x = promote_args_inexact("gammaincc", a, x)
    return lax.igammac(a, x)


@one_entry(3)
def betainc(a: Any, b: Any, x: Any) -> Array:
    """The regularized incomplete beta function ``I_x(a, b)``.

    Differentiable in x; the derivatives in a and b are not defined (as in JAX)."""
    a, b, x = promote_args_inexact("betainc", a, b, x)
    return lax.betainc(a, b, x)


# ------------------------------------------------------------------ erf and the normal law

@one_entry(1)
def erf(x: Any) -> Array:
    """The error function."""
    return lax.erf(_inexact(x, "erf"))


@one_entry(1)
def erfc(x: Any) -> Array:
    """The complementary error function ``1 - erf(x)``, accurate for large x."""
    return lax.erfc(_inexact(x, "erfc"))


@one_entry(1)
def erfinv(x: Any) -> Array:
    """The inverse error function."""
    return lax.erf_inv(_inexact(x, "erfinv"))


@one_entry(1)
def erfcinv(y: Any) -> Array:
    """The inverse of erfc on [0, 2] (SciPy's; not in ``jax.scipy.special``)."""
    return special_primitives.erfcinv(_inexact(y, "erfcinv"))


@one_entry(1)
def erfcx(x: Any) -> Array:
    """The scaled complementary error function ``exp(x**2) erfc(x)``."""
    return special_primitives.erfcx(_inexact(x, "erfcx"))


@one_entry(1)
def ndtr(x: Any) -> Array:
    """The standard normal CDF."""
    x = _inexact(x, "ndtr")
    return fnp.multiply(0.5, lax.erfc(fnp.multiply(x, -1 / math.sqrt(2.0))))


@one_entry(1)
def ndtri(p: Any) -> Array:
    """The inverse of the standard normal CDF (±inf at 0 and 1, NaN outside)."""
    return special_primitives.ndtri(_inexact(p, "ndtri"))


@one_entry(1)
def log_ndtr(x: Any, series_order: int = 3) -> Array:
    """The log of the standard normal CDF, accurate in both tails (``log_ndtr(-40)``
    is -804.608...).

    SciPy's ``log_ndtr`` computes it; `series_order` (JAX's number of asymptotic
    series terms for the lower tail) is checked as JAX does but not needed."""
    if not isinstance(series_order, int) or isinstance(series_order, bool):
        raise TypeError(f"functrans.scipy.special.log_ndtr: series_order must be a Python "
                        f"int, got {series_order!r}")
    if not 0 <= series_order <= 30:
        raise ValueError(f"functrans.scipy.special.log_ndtr: series_order must be in "
                         f"[0, 30], got {series_order}")
    return special_primitives.log_ndtr(_inexact(x, "log_ndtr"))


# ------------------------------------------------------------------ logistic, entropies

@one_entry(1)
def expit(x: Any) -> Array:
    """The logistic sigmoid ``1 / (1 + exp(-x))``."""
    return lax.logistic(_inexact(x, "expit"))


@one_entry(1)
@quiet
def logit(x: Any) -> Array:
    """The inverse of expit: ``log(x / (1 - x))`` (-inf at 0, +inf at 1)."""
    x = _inexact(x, "logit")
    return fnp.subtract(fnp.log(x), fnp.log1p(fnp.negative(x)))


@one_entry(2)
def xlogy(x: Any, y: Any) -> Array:
    """``x * log(y)``, defined as 0 where x == 0 (also for y <= 0), where its
    derivatives are 0 (JAX: log(y) and x/y, infinite or NaN at y = 0)."""
    x, y = promote_args_inexact("xlogy", x, y)
    # where x == 0 and log(y) is not finite, feed log a 1: the product is then 0
    # and no nan reaches the gradient; elsewhere d/dx = log(y), d/dy = x / y.
    unsafe = fnp.logical_and(fnp.equal(x, 0), fnp.logical_not(fnp.greater(y, 0)))
    return fnp.multiply(x, fnp.log(fnp.where(unsafe, 1, y)))


@one_entry(2)
def xlog1py(x: Any, y: Any) -> Array:
    """``x * log1p(y)``, defined as 0 where x == 0."""
    x, y = promote_args_inexact("xlog1py", x, y)
    unsafe = fnp.logical_and(fnp.equal(x, 0), fnp.logical_not(fnp.greater(y, -1)))
    return fnp.multiply(x, fnp.log1p(fnp.where(unsafe, 0, y)))


@traceable_rule
@custom_jvp
def _xlogx(x: Array) -> Array:
    return xlogy(x, x)


@_xlogx.defjvp
def _xlogx_jvp(primals: tuple, tangents: tuple) -> tuple[Array, Array]:
    # d/dx x log x = log x + 1, -inf at 0 (xlogy's safe branch would give 0 there)
    (x,), (t,) = primals, tangents
    return _xlogx(x), fnp.multiply(t, fnp.add(fnp.log(x), 1.0))


@one_entry(1)
@quiet
def entr(x: Any) -> Array:
    """The elementwise entropy ``-x log(x)``: 0 at x = 0, -inf for x < 0."""
    x = _inexact(x, "entr")
    return fnp.where(fnp.less(x, 0), -np.inf, fnp.negative(_xlogx(x)))


@one_entry(2)
@quiet
def rel_entr(p: Any, q: Any) -> Array:
    """The relative entropy term ``p log(p / q)``: 0 where p == 0 and q >= 0, +inf
    where p < 0 or q < 0 (or q == 0 < p)."""
    p, q = promote_args_inexact("rel_entr", p, q)
    both_positive = fnp.logical_and(fnp.greater(p, 0), fnp.greater(q, 0))
    zero_p = fnp.logical_and(fnp.equal(p, 0), fnp.greater_equal(q, 0))
    # only positive p, q reach log: the other branches cannot poison the gradient
    safe_p, safe_q = fnp.where(both_positive, p, 1), fnp.where(both_positive, q, 1)
    value = fnp.multiply(safe_p, fnp.log(fnp.divide(safe_p, safe_q)))
    return fnp.where(both_positive, value, fnp.where(zero_p, fnp.zeros_like(p), np.inf))


@one_entry(2)
def kl_div(p: Any, q: Any) -> Array:
    """The Kullback-Leibler divergence term ``p log(p / q) - p + q``: q where
    p == 0 and q >= 0, +inf where p < 0 or q < 0."""
    p, q = promote_args_inexact("kl_div", p, q)
    return fnp.add(fnp.subtract(rel_entr(p, q), p), q)


# ------------------------------------------------------------------ Bessel functions

@one_entry(1)
def i0e(x: Any) -> Array:
    """The exponentially scaled modified Bessel function ``exp(-|x|) I0(x)``."""
    return lax.bessel_i0e(_inexact(x, "i0e"))


@one_entry(1)
def i0(x: Any) -> Array:
    """The modified Bessel function of the first kind of order 0."""
    x = _inexact(x, "i0")
    return fnp.multiply(fnp.exp(fnp.abs(x)), lax.bessel_i0e(x))


@one_entry(1)
def i1e(x: Any) -> Array:
    """The exponentially scaled modified Bessel function ``exp(-|x|) I1(x)``."""
    return lax.bessel_i1e(_inexact(x, "i1e"))


@one_entry(1)
def i1(x: Any) -> Array:
    """The modified Bessel function of the first kind of order 1."""
    x = _inexact(x, "i1")
    return fnp.multiply(fnp.exp(fnp.abs(x)), lax.bessel_i1e(x))


@one_entry(2)
def ive(v: Any, x: Any) -> Array:
    """``exp(-|x|) I_v(x)`` for real order v (SciPy's; not in JAX). Differentiable
    in x; the derivative in v is not defined."""
    v, x = promote_args_inexact("ive", v, x)
    return special_primitives.bessel_ive(v, x)


@one_entry(2)
def iv(v: Any, x: Any) -> Array:
    """The modified Bessel function of the first kind of real order v (SciPy's; not
    in JAX). Differentiable in x; the derivative in v is not defined."""
    v, x = promote_args_inexact("iv", v, x)
    return fnp.multiply(fnp.exp(fnp.abs(x)), special_primitives.bessel_ive(v, x))


@one_entry(1)
def j0(x: Any) -> Array:
    """The Bessel function of the first kind of order 0 (SciPy's; not in JAX)."""
    return special_primitives.bessel_j0(_inexact(x, "j0"))


@one_entry(1)
def j1(x: Any) -> Array:
    """The Bessel function of the first kind of order 1 (SciPy's; not in JAX)."""
    return special_primitives.bessel_j1(_inexact(x, "j1"))


@one_entry(1)
def y0(x: Any) -> Array:
    """The Bessel function of the second kind of order 0 (SciPy's; not in JAX)."""
    return special_primitives.bessel_y0(_inexact(x, "y0"))


@one_entry(1)
def y1(x: Any) -> Array:
    """The Bessel function of the second kind of order 1 (SciPy's; not in JAX)."""
    return special_primitives.bessel_y1(_inexact(x, "y1"))


# ------------------------------------------------------------------ zeta, integrals

@one_entry(2)
def zeta(x: Any, q: Any = None) -> Array:
    """The Hurwitz zeta function ``sum_n (n + q)**-x``, differentiable in q.

    As in JAX, `q` is required (q = 1 gives the Riemann zeta function for x > 1).
    Unlike JAX, the derivative in x is not defined."""
    if q is None:
        raise TypeError("functrans.scipy.special.zeta: q is required (the Hurwitz zeta "
                        "function, as in JAX); for the Riemann zeta function of x > 1 "
                        "pass q=1")
    x, q = promote_args_inexact("zeta", x, q)
    return lax.zeta(x, q)


@one_entry(1)
def expi(x: Any) -> Array:
    """The exponential integral ``Ei(x)``."""
    return special_primitives.expi(_inexact(x, "expi"))


@one_entry(1)
def exp1(x: Any) -> Array:
    """The exponential integral ``E1(x)``, for x > 0."""
    return special_primitives.exp1(_inexact(x, "exp1"))


@one_entry(1)
def spence(x: Any) -> Array:
    """Spence's function ``integral_1^x log(t) / (1 - t) dt``, for x >= 0."""
    return special_primitives.spence(_inexact(x, "spence"))


# ------------------------------------------------------------------ softmax family

def softmax(x: Any, axis: Any = -1) -> Array:
    """Softmax along `axis` (see functrans.nn.softmax)."""
    return _softmax.softmax(x, axis=axis)


def log_softmax(x: Any, axis: Any = -1) -> Array:
    """Log-softmax along `axis` (see functrans.nn.log_softmax)."""
    return _softmax.log_softmax(x, axis=axis)


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
