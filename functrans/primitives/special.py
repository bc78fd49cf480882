"""Special-function primitives: the gamma and beta families, incomplete gamma and
beta functions, zeta, Bessel functions, exponential integrals, and the normal
distribution's tails.

The NumPy side is SciPy: each primitive evaluates a ``scipy.special`` ufunc, which
computes in float64 and rounds to the operand's dtype (float32 in, float32 out).
Two primitives have no SciPy counterpart: ``igamma_grad_a`` (the derivative of the
regularized incomplete gamma function in its parameter) and ``random_gamma_grad``
(the derivative of a Gamma(a) sample in a, at fixed quantile); they run the series
and the continued fraction of the incomplete gamma function differentiated in `a`,
as XLA does (:func:`_igamma_a_derivative`).

Derivatives follow JAX: every function is differentiable in its continuous
arguments, except the parameters JAX leaves undifferentiated (betainc's a and b,
polygamma's order, zeta's x, the order of ive, and the second derivative of igamma
in a); differentiating those raises a TypeError naming the function and argument.
Each JVP is written with the primitives of this family, so derivatives of every
order exist wherever the maths gives them.

The lax-level functions under JAX's ``jax.lax`` names (``lgamma``, ``digamma``,
``igamma``, ``betainc``, ...) are exported through :mod:`functrans.lax`; the others
(``gamma``, ``log_ndtr``, ``ndtri``, ``bessel_j0``, ...) are used by
:mod:`functrans.scipy.special`, which is where users reach them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.special as sc

from functrans.core.avals import get_aval
from functrans.core.primitive import Primitive
from functrans.primitives.elementwise import (
    FLOAT,
    _coerce_operands,
    abs,
    add,
    bitwise_and,
    div,
    eq,
    exp,
    floor,
    gt,
    le,
    log,
    log1p,
    lt,
    mul,
    nary,
    neg,
    rem,
    select,
    sign,
    square,
    sub,
    unary,
)
from functrans.primitives.rules import defjvp, defjvp2, defjvp_zero

__all__ = [
    # gamma family
    "lgamma", "digamma", "polygamma",
    # incomplete gamma and beta functions
    "igamma", "igammac", "igamma_grad_a", "random_gamma_grad", "betainc",
    # zeta and Bessel functions
    "zeta", "bessel_i0e", "bessel_i1e",
]

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2 = math.sqrt(2.0)


# ------------------------------------------------------------------ helpers

def _in_float64(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` evaluated on float64 operands (no copy for float64 ones), the result
    rounded once to the operands' dtype (overflowing to inf quietly, as float32
    arithmetic does). SciPy's float32 loops of a few functions (erfinv, betainc,
    polygamma) compute in float32, some ulp less accurate than this."""
    def impl(*args: Any) -> Any:
        dtype = np.result_type(*args)
        out = fn(*[np.asarray(a, np.float64) for a in args])
        if dtype == np.float64:
            return out
        with np.errstate(over="ignore"):
            return np.asarray(out).astype(dtype)
    return impl


def _special_unary(name: str, fn: Any) -> Primitive:
    """A one-operand floating-point primitive evaluated by `fn` (a SciPy ufunc)."""
    return unary(name, _in_float64(fn), FLOAT)


def _special_nary(name: str, fn: Any) -> Primitive:
    """A floating-point primitive of several operands of equal shape and dtype."""
    return nary(name, _in_float64(fn), FLOAT)


def _bind(prim: Primitive, *args: Any) -> Any:
    """Bind `prim`, giving Python scalar operands the array operands' dtype and shape
    (``lax.igamma(2.0, x)``), as the elementwise lax functions do."""
    return prim.bind(*_coerce_operands(prim.name, *args))


def _no_derivative(fname: str, argname: str, advice: str) -> Callable[..., Any]:
    """A JVP rule for an argument whose derivative is not available: it raises when
    a nonzero tangent reaches that argument (only then; others differentiate)."""
    def rule(tangent: Any, *primals: Any, **params: Any) -> Any:
        raise TypeError(f"{fname}: the derivative with respect to {argname} is not "
                        f"implemented ({advice}); differentiate with respect to the other "
                        f"arguments only, or hold {argname} fixed with lax.stop_gradient")
    return rule


def _xlogy(k: Any, y: Any) -> Any:
    """``k * log(y)``, 0 where k == 0 (log(y) may be -inf there: x**0 = 1 at x = 0)."""
    return mul(k, log(select(eq(k, 0.0), 1.0, y)))


def _xlog1py(k: Any, y: Any) -> Any:
    """``k * log1p(y)``, 0 where k == 0."""
    return mul(k, log1p(select(eq(k, 0.0), 0.0, y)))


# ------------------------------------------------------------------ the gamma family

lgamma_p = _special_unary("lgamma", sc.gammaln)
defjvp(lgamma_p, lambda t, x: mul(t, digamma(x)))


def lgamma(x: Any) -> Any:
    """``log|Gamma(x)|`` (+inf at the poles 0, -1, -2, ...)."""
    return lgamma_p.bind(x)


digamma_p = _special_unary("digamma", sc.psi)
defjvp(digamma_p, lambda t, x: mul(t, polygamma(1.0, x)))


def digamma(x: Any) -> Any:
    """The digamma function ``d/dx log Gamma(x)``."""
    return digamma_p.bind(x)


def _polygamma_impl(m: Any, x: Any) -> Any:
    m = np.asarray(m)
    is_order = (m >= 0) & (m == np.floor(m))
    with np.errstate(all="ignore"):
        out = sc.polygamma(np.where(is_order, m, 0), x)
    return np.where(is_order, out, np.nan)


polygamma_p = _special_nary("polygamma", _polygamma_impl)
defjvp(polygamma_p,
       _no_derivative("polygamma", "the order m", "m is an integer; JAX does not define it"),
       lambda t, m, x: mul(t, polygamma(add(m, 1.0), x)))


def polygamma(m: Any, x: Any) -> Any:
    """The m-th derivative of the digamma function, for integer-valued m >= 0
    (NaN for other m). `m` has `x`'s floating-point dtype, as in ``jax.lax``."""
    return _bind(polygamma_p, m, x)


gamma_p = _special_unary("gamma", sc.gamma)
defjvp2(gamma_p, lambda t, ans, x: mul(t, mul(ans, digamma(x))))


def gamma(x: Any) -> Any:
    """The gamma function (SciPy's ``gamma``; not a ``jax.lax`` function)."""
    return gamma_p.bind(x)


def _rgamma_slope(ans: Any, x: Any) -> Any:
    # 1/Gamma is entire: at a pole x = -n of Gamma its slope is (-1)**n n!, where
    # -digamma(x) / Gamma(x) would read inf * 0
    pole = bitwise_and(le(x, 0.0), eq(floor(x), x))
    n = select(pole, neg(x), 0.0)
    parity = sub(1.0, mul(rem(n, 2.0), 2.0))
    at_pole = mul(parity, gamma(add(n, 1.0)))
    return select(pole, at_pole, neg(mul(ans, digamma(select(pole, 1.0, x)))))


rgamma_p = _special_unary("rgamma", sc.rgamma)
defjvp2(rgamma_p, lambda t, ans, x: mul(t, _rgamma_slope(ans, x)))


def rgamma(x: Any) -> Any:
    """``1 / Gamma(x)`` (0 at the poles of Gamma)."""
    return rgamma_p.bind(x)


gammasgn_p = _special_unary("gammasgn", sc.gammasgn)
defjvp_zero(gammasgn_p)


def gammasgn(x: Any) -> Any:
    """The sign of ``Gamma(x)`` (NaN at the poles)."""
    return gammasgn_p.bind(x)


betaln_p = _special_nary("betaln", sc.betaln)
defjvp(betaln_p,
       lambda t, a, b: mul(t, sub(digamma(a), digamma(add(a, b)))),
       lambda t, a, b: mul(t, sub(digamma(b), digamma(add(a, b)))))


def betaln(a: Any, b: Any) -> Any:
    """``log|B(a, b)|``, accurate also where a + b is much larger than a or b."""
    return _bind(betaln_p, a, b)


# ------------------------------------------------------------------ incomplete gamma

def _igamma_density(a: Any, x: Any) -> Any:
    """``d/dx igamma(a, x) = x**(a-1) exp(-x) / Gamma(a)``."""
    return exp(sub(sub(_xlogy(sub(a, 1.0), x), x), lgamma(a)))


igamma_p = _special_nary("igamma", sc.gammainc)
defjvp(igamma_p,
       lambda t, a, x: mul(t, igamma_grad_a(a, x)),
       lambda t, a, x: mul(t, _igamma_density(a, x)))


def igamma(a: Any, x: Any) -> Any:
    """The regularized lower incomplete gamma function ``P(a, x)``."""
    return _bind(igamma_p, a, x)


igammac_p = _special_nary("igammac", sc.gammaincc)
defjvp(igammac_p,
       lambda t, a, x: mul(t, neg(igamma_grad_a(a, x))),
       lambda t, a, x: mul(t, neg(_igamma_density(a, x))))


def igammac(a: Any, x: Any) -> Any:
    """The regularized upper incomplete gamma function ``Q(a, x) = 1 - P(a, x)``."""
    return _bind(igammac_p, a, x)


# ∂P(a, x)/∂a has no closed form. Below x = max(1, a) it is the series of
# P(a, x) = x**a e**-x / Gamma(a + 1) * sum_n x**n / ((a + 1) ... (a + n)) differentiated
# term by term in a; above, Legendre's continued fraction of Q(a, x) differentiated
# likewise (XLA's igamma_grad_a and random_gamma_grad, and Cephes' igam/igamc for the
# values). Each loop step works on the entries not yet converged, all at once.
_IGAMMA_MAX_ITERATIONS = 2000
_EPS = np.finfo(np.float64).eps


def _retire(moving: np.ndarray, index: np.ndarray, results: tuple[np.ndarray, ...],
            outputs: tuple[np.ndarray, ...], state: tuple[np.ndarray, ...]
            ) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
    """Write the `results` of the entries no longer `moving` to `outputs` (at their
    original positions, `index`) and drop them from `index` and the loop's `state`,
    so that each step computes on the entries still converging only."""
    settled = ~moving
    for result, output in zip(results, outputs):
        output[index[settled]] = result[settled]
    return index[moving], tuple(array[moving] for array in state)


def _series_a_derivative(a: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The series' sum and its derivative in a, for x <= max(1, a)."""
    outputs = (np.ones_like(a), np.zeros_like(a))
    index = np.arange(a.size)
    ratio, x = a.copy(), x.copy()                         # ratio: a + n
    term, total = np.ones_like(a), np.ones_like(a)
    d_term, d_total = np.zeros_like(a), np.zeros_like(a)
    for _ in range(_IGAMMA_MAX_ITERATIONS):
        ratio = ratio + 1.0
        d_term = d_term * (x / ratio) - term * x / (ratio * ratio)
        term = term * (x / ratio)
        total, d_total = total + term, d_total + d_term
        moving = np.abs(d_term) > _EPS * np.abs(d_total)
        if not moving.all():
            index, (ratio, x, term, total, d_term, d_total) = _retire(
                moving, index, (total, d_total), outputs,
                (ratio, x, term, total, d_term, d_total))
            if index.size == 0:
                break
    _retire(np.zeros(index.size, bool), index, (total, d_total), outputs, ())
    return outputs


def _continued_fraction_a_derivative(a: np.ndarray, x: np.ndarray
                                     ) -> tuple[np.ndarray, np.ndarray]:
    """Q(a, x) x**-a e**x Gamma(a) by its continued fraction, and its derivative in
    a, for x > max(1, a): convergents p/q with their a-derivatives dp/dq, rescaled
    when they grow large (the ratio is unchanged)."""
    outputs = (np.empty_like(a), np.empty_like(a))
    index = np.arange(a.size)
    y, z, c = 1.0 - a, x + 2.0 - a, np.zeros_like(a)
    p2, q2, p1, q1 = np.ones_like(a), x.copy(), x + 1.0, (x + 2.0 - a) * x
    dp2, dq2, dp1, dq1 = np.zeros_like(a), np.zeros_like(a), np.zeros_like(a), -x
    value = p1 / q1
    d_value = (dp1 - value * dq1) / q1
    for _ in range(_IGAMMA_MAX_ITERATIONS):
        c, y, z = c + 1.0, y + 1.0, z + 2.0
        yc = y * c
        p, q = p1 * z - p2 * yc, q1 * z - q2 * yc
        dp = dp1 * z - p1 - dp2 * yc + p2 * c
        dq = dq1 * z - q1 - dq2 * yc + q2 * c
        nonzero = q != 0
        safe_q = np.where(nonzero, q, 1.0)
        new_value = np.where(nonzero, p / safe_q, value)
        new_d_value = np.where(nonzero, (dp - new_value * dq) / safe_q, d_value)
        # the rounding error of (dp - value dq) / q: below it, further steps are noise
        noise = 4 * _EPS * (np.abs(dp) + np.abs(new_value * dq)) / np.abs(safe_q)
        moving = (np.abs(new_d_value - d_value) > noise) | ~nonzero
        value, d_value = new_value, new_d_value
        scale = np.where(np.abs(p) > 1.0 / _EPS, _EPS, 1.0)
        p2, q2, p1, q1 = p1 * scale, q1 * scale, p * scale, q * scale
        dp2, dq2, dp1, dq1 = dp1 * scale, dq1 * scale, dp * scale, dq * scale
        if not moving.all():
            index, (y, z, c, p2, q2, p1, q1, dp2, dq2, dp1, dq1, value, d_value) = _retire(
                moving, index, (value, d_value), outputs,
                (y, z, c, p2, q2, p1, q1, dp2, dq2, dp1, dq1, value, d_value))
            if index.size == 0:
                break
    _retire(np.zeros(index.size, bool), index, (value, d_value), outputs, ())
    return outputs


def _from_series(a: np.ndarray, x: np.ndarray, sample: bool) -> np.ndarray:
    """∂P/∂a (or, with `sample`, -∂aP / ∂xP) where x <= max(1, a): P is the prefactor
    x**a e**-x / Gamma(a + 1), whose log has derivative log(x) - digamma(a + 1), times
    the series."""
    total, d_total = _series_a_derivative(a, x)
    slope = total * (np.log(x) - sc.psi(a + 1.0)) + d_total    # (∂P/∂a) / prefactor
    if sample:      # ∂P/∂x = prefactor * a / x
        return -slope * x / a
    return np.exp(a * np.log(x) - x - sc.gammaln(a + 1.0)) * slope


def _from_continued_fraction(a: np.ndarray, x: np.ndarray, sample: bool) -> np.ndarray:
    """The same where x > max(1, a), from Q = x**a e**-x / Gamma(a) times the
    continued fraction, and ∂P/∂a = -∂Q/∂a."""
    value, d_value = _continued_fraction_a_derivative(a, x)
    slope = value * (np.log(x) - sc.psi(a)) + d_value           # (∂Q/∂a) / prefactor
    if sample:      # ∂P/∂x = prefactor / x
        return slope * x
    return -np.exp(a * np.log(x) - x - sc.gammaln(a)) * slope


def _igamma_a_derivative(a: Any, x: Any, *, sample: bool) -> np.ndarray:
    """``∂P(a, x)/∂a`` in float64; with `sample`, ``-∂aP / ∂xP``, the derivative in a
    of the x where P(a, x) stays fixed (a Gamma(a) sample at a fixed quantile).
    NaN outside a > 0, x >= 0."""
    a, x = np.asarray(a, np.float64), np.asarray(x, np.float64)
    out = np.full(a.shape, np.nan)
    valid = (a > 0) & (x >= 0)
    out[valid & (x == 0)] = 0.0
    if not sample:
        out[valid & (x == np.inf)] = 0.0    # P(a, inf) = 1 for every a
    inside = valid & (x > 0) & (x < np.inf)
    upper = inside & (x > 1) & (x > a)
    lower = inside & ~upper
    with np.errstate(all="ignore"):     # exp underflowing far in the tails gives 0
        out[lower] = _from_series(a[lower], x[lower], sample)
        out[upper] = _from_continued_fraction(a[upper], x[upper], sample)
    return out


igamma_grad_a_p = _special_nary(
    "igamma_grad_a", lambda a, x: _igamma_a_derivative(a, x, sample=False))
defjvp(igamma_grad_a_p,
       _no_derivative("igamma_grad_a", "a", "the second derivative of igamma in a; JAX "
                      "does not define it"),
       lambda t, a, x: mul(t, mul(_igamma_density(a, x), sub(log(x), digamma(a)))))


def igamma_grad_a(a: Any, x: Any) -> Any:
    """``∂/∂a igamma(a, x)``, the derivative of the regularized lower incomplete
    gamma function in its parameter."""
    return _bind(igamma_grad_a_p, a, x)


def _random_gamma_grad_x_slope(ans: Any, a: Any, x: Any) -> Any:
    # r = -∂aP/∂xP: ∂r/∂x = digamma(a) - log(x) + r (1 - (a - 1) / x)
    return add(sub(digamma(a), log(x)), mul(ans, sub(1.0, div(sub(a, 1.0), x))))


random_gamma_grad_p = _special_nary(
    "random_gamma_grad", lambda a, x: _igamma_a_derivative(a, x, sample=True))
defjvp2(random_gamma_grad_p,
        _no_derivative("random_gamma_grad", "a", "it needs the second derivative of "
                       "igamma in a"),
        lambda t, ans, a, x: mul(t, _random_gamma_grad_x_slope(ans, a, x)))


def random_gamma_grad(a: Any, x: Any) -> Any:
    """The derivative in `a` of a Gamma(a, 1) sample `x` at a fixed quantile
    (``-∂P/∂a / ∂P/∂x``): the implicit reparameterisation gradient of the gamma
    sampler."""
    return _bind(random_gamma_grad_p, a, x)


# ------------------------------------------------------------------ incomplete beta

def _betainc_x_slope(a: Any, b: Any, x: Any) -> Any:
    """``x**(a-1) (1-x)**(b-1) / B(a, b)``."""
    log_density = add(_xlogy(sub(a, 1.0), x), _xlog1py(sub(b, 1.0), neg(x)))
    return exp(sub(log_density, betaln(a, b)))


betainc_p = _special_nary("regularized_incomplete_beta", sc.betainc)
_BETAINC_PARAMETER = "JAX does not define it"
defjvp(betainc_p,
       _no_derivative("betainc", "a", _BETAINC_PARAMETER),
       _no_derivative("betainc", "b", _BETAINC_PARAMETER),
       lambda t, a, b, x: mul(t, _betainc_x_slope(a, b, x)))


def betainc(a: Any, b: Any, x: Any) -> Any:
    """The regularized incomplete beta function ``I_x(a, b)``."""
    return _bind(betainc_p, a, b, x)


# ------------------------------------------------------------------ zeta

zeta_p = _special_nary("zeta", sc.zeta)
defjvp(zeta_p,
       _no_derivative("zeta", "x", "jax.lax.zeta does not define it"),
       lambda t, x, q: mul(t, neg(mul(x, zeta(add(x, 1.0), q)))))


def zeta(x: Any, q: Any) -> Any:
    """The Hurwitz zeta function ``sum_n (n + q)**-x``."""
    return _bind(zeta_p, x, q)


# ------------------------------------------------------------------ Bessel functions

bessel_i0e_p = _special_unary("bessel_i0e", sc.i0e)
defjvp2(bessel_i0e_p, lambda t, ans, x: mul(t, sub(bessel_i1e(x), mul(sign(x), ans))))


def bessel_i0e(x: Any) -> Any:
    """The exponentially scaled modified Bessel function ``exp(-|x|) I0(x)``."""
    return bessel_i0e_p.bind(x)


def _not_tiny(x: Any) -> Any:
    """|x| above the dtype's epsilon: below, a ratio such as i1e(x) / x is taken as
    its limit at 0."""
    return gt(abs(x), float(np.finfo(get_aval(x).dtype).eps))


def _bessel_i1e_slope(ans: Any, x: Any) -> Any:
    # i1e' = i0e - i1e (sign(x) + 1/x), with the limit 1/2 at 0
    not_tiny = _not_tiny(x)
    safe_x = select(not_tiny, x, 1.0)
    slope = sub(bessel_i0e(safe_x), mul(ans, add(sign(safe_x), div(1.0, safe_x))))
    return select(not_tiny, slope, 0.5)


bessel_i1e_p = _special_unary("bessel_i1e", sc.i1e)
defjvp2(bessel_i1e_p, lambda t, ans, x: mul(t, _bessel_i1e_slope(ans, x)))


def bessel_i1e(x: Any) -> Any:
    """The exponentially scaled modified Bessel function ``exp(-|x|) I1(x)``."""
    return bessel_i1e_p.bind(x)


bessel_ive_p = _special_nary("bessel_ive", sc.ive)
defjvp2(bessel_ive_p,
        _no_derivative("ive", "the order v", "no closed form; JAX has no ive"),
        lambda t, ans, v, x: mul(t, sub(
            mul(add(bessel_ive(sub(v, 1.0), x), bessel_ive(add(v, 1.0), x)), 0.5),
            mul(sign(x), ans))))


def bessel_ive(v: Any, x: Any) -> Any:
    """The exponentially scaled modified Bessel function ``exp(-|x|) I_v(x)`` of real
    order v (SciPy's ``ive``)."""
    return _bind(bessel_ive_p, v, x)


bessel_j0_p = _special_unary("bessel_j0", sc.j0)
defjvp(bessel_j0_p, lambda t, x: mul(t, neg(bessel_j1(x))))


def bessel_j0(x: Any) -> Any:
    """The Bessel function of the first kind of order 0 (SciPy's ``j0``)."""
    return bessel_j0_p.bind(x)


def _bessel_j1_slope(ans: Any, x: Any) -> Any:
    # j1' = j0 - j1 / x, with the limit 1/2 at 0
    not_tiny = _not_tiny(x)
    safe_x = select(not_tiny, x, 1.0)
    return select(not_tiny, sub(bessel_j0(safe_x), div(ans, safe_x)), 0.5)


bessel_j1_p = _special_unary("bessel_j1", sc.j1)
defjvp2(bessel_j1_p, lambda t, ans, x: mul(t, _bessel_j1_slope(ans, x)))


def bessel_j1(x: Any) -> Any:
    """The Bessel function of the first kind of order 1 (SciPy's ``j1``)."""
    return bessel_j1_p.bind(x)


bessel_y0_p = _special_unary("bessel_y0", sc.y0)
defjvp(bessel_y0_p, lambda t, x: mul(t, neg(bessel_y1(x))))


def bessel_y0(x: Any) -> Any:
    """The Bessel function of the second kind of order 0, for x > 0 (SciPy's ``y0``)."""
    return bessel_y0_p.bind(x)


bessel_y1_p = _special_unary("bessel_y1", sc.y1)
defjvp2(bessel_y1_p, lambda t, ans, x: mul(t, sub(bessel_y0(x), div(ans, x))))


def bessel_y1(x: Any) -> Any:
    """The Bessel function of the second kind of order 1, for x > 0 (SciPy's ``y1``)."""
    return bessel_y1_p.bind(x)


# ------------------------------------------------------------------ exponential integrals

expi_p = _special_unary("expi", sc.expi)
defjvp(expi_p, lambda t, x: mul(t, div(exp(x), x)))


def expi(x: Any) -> Any:
    """The exponential integral ``Ei(x)``."""
    return expi_p.bind(x)


exp1_p = _special_unary("exp1", sc.exp1)
defjvp(exp1_p, lambda t, x: mul(t, neg(div(exp(neg(x)), x))))


def exp1(x: Any) -> Any:
    """The exponential integral ``E1(x) = integral_x^inf exp(-t) / t dt``."""
    return exp1_p.bind(x)


def _spence_slope(z: Any) -> Any:
    # log(z) / (1 - z) = -log1p(d) / d with d = z - 1 (exact near 1); within 1e-3 of
    # z = 1 its Taylor series (error below d**5 / 6), right in every derivative there
    d = sub(z, 1.0)
    near_one = lt(abs(d), 1e-3)
    safe_d = select(near_one, 1.0, d)
    series = add(-1.0, mul(d, add(0.5, mul(d, add(-1.0 / 3.0, mul(d, sub(0.25, mul(d, 0.2))))))))
    return select(near_one, series, neg(div(log1p(safe_d), safe_d)))


spence_p = _special_unary("spence", sc.spence)
defjvp(spence_p, lambda t, z: mul(t, _spence_slope(z)))


def spence(z: Any) -> Any:
    """Spence's function (the dilogarithm ``Li2(1 - z)``), for z >= 0."""
    return spence_p.bind(z)


# ------------------------------------------------------------------ normal tails, erfcx

erfcx_p = _special_unary("erfcx", sc.erfcx)
defjvp2(erfcx_p, lambda t, ans, x: mul(t, sub(mul(mul(x, ans), 2.0), 2.0 / _SQRT_PI)))


def erfcx(x: Any) -> Any:
    """The scaled complementary error function ``exp(x**2) erfc(x)``."""
    return erfcx_p.bind(x)


def _log_ndtr_slope(x: Any) -> Any:
    # pdf(x) / cdf(x) = sqrt(2/pi) / erfcx(-x/sqrt(2)): finite for every x, ~ -x far
    # in the lower tail, 0 (erfcx overflowing to inf) far in the upper one
    return div(math.sqrt(2.0 / math.pi), erfcx(mul(x, -1.0 / _SQRT_2)))


log_ndtr_p = _special_unary("log_ndtr", sc.log_ndtr)
defjvp(log_ndtr_p, lambda t, x: mul(t, _log_ndtr_slope(x)))


def log_ndtr(x: Any) -> Any:
    """The log of the standard normal CDF, accurate in both tails."""
    return log_ndtr_p.bind(x)


ndtri_p = _special_unary("ndtri", sc.ndtri)
defjvp2(ndtri_p,
        lambda t, ans, p: mul(t, mul(exp(mul(square(ans), 0.5)), math.sqrt(2.0 * math.pi))))


def ndtri(p: Any) -> Any:
    """The inverse of the standard normal CDF."""
    return ndtri_p.bind(p)


erfcinv_p = _special_unary("erfcinv", sc.erfcinv)
defjvp2(erfcinv_p, lambda t, ans, y: mul(t, mul(exp(square(ans)), -_SQRT_PI / 2.0)))


def erfcinv(y: Any) -> Any:
    """The inverse of erfc on (0, 2)."""
    return erfcinv_p.bind(y)
