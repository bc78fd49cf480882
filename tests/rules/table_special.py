"""Rows for the special-function primitives (functrans/primitives/special.py).

Arguments are drawn inside each function's domain and away from its poles and kinks:
positive for the gamma family (plus a row between the poles on the negative axis),
away from 0 for bessel_i0e/i1e (|x| has a kink there) and expi (a log singularity),
(0, 1) for betainc's x and ndtri. Arguments whose derivative is not defined (betainc's
a and b, polygamma's order, zeta's x, ive's order, igamma_grad_a's a) are held fixed
with ``diff_argnums``; tests/test_special_scipy.py checks that differentiating them
raises, and checks igamma's derivative in a (defined to first order).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from functrans import lax
from functrans.primitives import special
from tests.rules import Row

SHAPE = (3, 4)
Args = Callable[[np.random.Generator, np.dtype], tuple]


def _uniform(*ranges: tuple[float, float]) -> Args:
    """One argument per (low, high) range, drawn uniformly."""
    return lambda rng, dtype: tuple(rng.uniform(low, high, SHAPE).astype(dtype)
                                    for low, high in ranges)


def _normal(scale: float) -> Args:
    return lambda rng, dtype: ((scale * rng.standard_normal(SHAPE)).astype(dtype),)


def _away_from_zero(low: float, high: float) -> Args:
    return lambda rng, dtype: ((rng.choice([-1.0, 1.0], SHAPE)
                                * rng.uniform(low, high, SHAPE)).astype(dtype),)


def _between_poles(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    """Negative non-integers at least 0.2 from the poles 0, -1, -2, -3 of Gamma."""
    return ((-rng.integers(0, 4, SHAPE) - rng.uniform(0.2, 0.8, SHAPE)).astype(dtype),)


def _with_integer_order(orders: list[float], x_range: tuple[float, float]) -> Args:
    """(order, x): an order (m of polygamma, v of ive) from `orders`, x uniform."""
    def make(rng: np.random.Generator, dtype: np.dtype) -> tuple:
        return (rng.choice(orders, SHAPE).astype(dtype),
                rng.uniform(*x_range, SHAPE).astype(dtype))
    return make


def _betainc_args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    return tuple(rng.uniform(low, high, SHAPE).astype(dtype)
                 for low, high in ((0.5, 4.0), (0.5, 4.0), (0.1, 0.9)))


def _igamma_args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    """(a, x) on both sides of x = max(1, a), where the evaluation switches from the
    series to the continued fraction."""
    a = rng.uniform(0.5, 5.0, SHAPE)
    return a.astype(dtype), (a * rng.uniform(0.3, 2.5, SHAPE)).astype(dtype)


ROWS = [
    # the gamma family
    Row("lgamma", lax.lgamma, _uniform((0.2, 6.0))),
    Row("lgamma_between_poles", lax.lgamma, _between_poles),
    Row("digamma", lax.digamma, _uniform((0.3, 6.0))),
    Row("digamma_between_poles", lax.digamma, _between_poles),
    Row("polygamma", lax.polygamma, _with_integer_order([0.0, 1.0, 2.0, 3.0], (0.5, 4.0)),
        diff_argnums=(1,)),
    Row("gamma", special.gamma, _uniform((0.3, 5.0))),
    Row("gamma_between_poles", special.gamma, _between_poles),
    Row("rgamma", special.rgamma, _uniform((0.3, 5.0))),
    Row("rgamma_between_poles", special.rgamma, _between_poles),
    Row("gammasgn", special.gammasgn, _between_poles, differentiable=False),
    Row("betaln", special.betaln, _uniform((0.3, 5.0), (0.3, 5.0))),
    # incomplete gamma and beta functions
    Row("igamma_x", lax.igamma, _igamma_args, diff_argnums=(1,)),
    Row("igammac_x", lax.igammac, _igamma_args, diff_argnums=(1,)),
    Row("igamma_grad_a", lax.igamma_grad_a, _igamma_args, diff_argnums=(1,)),
    Row("random_gamma_grad", lax.random_gamma_grad, _igamma_args, diff_argnums=(1,)),
    Row("betainc", lax.betainc, _betainc_args, diff_argnums=(2,)),
    # zeta, Bessel functions, exponential integrals
    Row("zeta", lax.zeta, _uniform((1.5, 5.0), (0.5, 3.0)), diff_argnums=(1,)),
    Row("bessel_i0e", lax.bessel_i0e, _away_from_zero(0.2, 6.0)),
    Row("bessel_i1e", lax.bessel_i1e, _away_from_zero(0.2, 6.0)),
    Row("bessel_ive", special.bessel_ive,
        _with_integer_order([0.0, 0.5, 1.0, 2.5], (0.3, 5.0)), diff_argnums=(1,)),
    Row("bessel_j0", special.bessel_j0, _normal(4.0)),
    Row("bessel_j1", special.bessel_j1, _normal(4.0)),
    Row("bessel_y0", special.bessel_y0, _uniform((0.5, 8.0))),
    Row("bessel_y1", special.bessel_y1, _uniform((0.5, 8.0))),
    Row("expi", special.expi, _away_from_zero(0.2, 4.0)),
    Row("exp1", special.exp1, _uniform((0.2, 4.0))),
    Row("spence", special.spence, _uniform((0.2, 3.0))),
    # the normal distribution's tails, erfcx
    Row("erfcx", special.erfcx, _normal(2.0)),
    Row("log_ndtr", special.log_ndtr, _normal(4.0)),
    Row("ndtri", special.ndtri, _uniform((0.02, 0.98))),
    Row("erfcinv", special.erfcinv, _uniform((0.05, 1.95))),
    # compositions: derivatives of one rule through another
    Row("lgamma_of_exp", lambda x: lax.lgamma(lax.exp(x)), _normal(1.0)),
    Row("igamma_of_square", lambda a, x: lax.igamma(a, lax.mul(x, x)),
        _uniform((0.5, 3.0), (0.3, 2.0)), diff_argnums=(1,)),
]
