"""``functrans.scipy.special`` against ``scipy.special`` and mpmath: values on random
inputs including the tails, float32 kept, derivatives (``check_grads``, order 2 where
the maths allows), the derivatives that are not defined raising, and jit/vmap/grad.

The primitives' rules themselves are checked by the rows of tests/rules/table_special.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.special as sc

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.scipy import special
from functrans.test_util import check_grads

RNG = np.random.default_rng(20261204)
N = 64


def _uniform(low: float, high: float) -> np.ndarray:
    return RNG.uniform(low, high, N)


def _log_uniform(low: float, high: float) -> np.ndarray:
    return np.exp(RNG.uniform(np.log(low), np.log(high), N))


def _normal(scale: float) -> np.ndarray:
    return scale * RNG.standard_normal(N)


POSITIVE = _log_uniform(1e-3, 1e3)
REAL = _normal(8.0)
UNIT = _uniform(0.0, 1.0)
SHAPE_A, SHAPE_B = _log_uniform(0.05, 200.0), _log_uniform(0.05, 200.0)

# name: (functrans function, SciPy function, arguments, relative tolerance)
CASES: dict[str, tuple[Callable[..., Any], Callable[..., Any], tuple, float]] = {
    "gamma": (special.gamma, sc.gamma, (_uniform(-20.0, 170.0),), 1e-15),
    "gammaln": (special.gammaln, sc.gammaln, (np.concatenate([POSITIVE, -POSITIVE]),), 1e-15),
    "gammasgn": (special.gammasgn, sc.gammasgn, (REAL,), 0.0),
    "rgamma": (special.rgamma, sc.rgamma, (np.concatenate([REAL, [-3.0, 0.0]]),), 1e-15),
    "digamma": (special.digamma, sc.digamma, (np.concatenate([POSITIVE, REAL]),), 1e-15),
    "psi": (special.psi, sc.psi, (POSITIVE,), 1e-15),
    "polygamma": (special.polygamma, sc.polygamma,
                  (RNG.integers(0, 5, N), _log_uniform(0.01, 100.0)), 1e-14),
    "multigammaln": (lambda a: special.multigammaln(a, 4), lambda a: sc.multigammaln(a, 4),
                     (_uniform(1.6, 50.0),), 1e-14),
    "beta": (special.beta, sc.beta, (_log_uniform(0.1, 30.0), _log_uniform(0.1, 30.0)), 1e-13),
    "betaln": (special.betaln, sc.betaln, (SHAPE_A, 1e6 * SHAPE_B), 1e-15),
    "betainc": (special.betainc, sc.betainc, (SHAPE_A, SHAPE_B, UNIT), 1e-15),
    "gammainc": (special.gammainc, sc.gammainc, (SHAPE_A, _log_uniform(1e-3, 300.0)), 1e-15),
    "gammaincc": (special.gammaincc, sc.gammaincc, (SHAPE_A, _log_uniform(1e-3, 300.0)), 1e-15),
    "erf": (special.erf, sc.erf, (_normal(3.0),), 1e-15),
    "erfc": (special.erfc, sc.erfc, (_normal(2.0),), 6e-14),   # SciPy is the less accurate
    "erfinv": (special.erfinv, sc.erfinv, (_uniform(-1.0, 1.0),), 1e-15),
    "erfcinv": (special.erfcinv, sc.erfcinv, (_uniform(0.0, 2.0),), 1e-15),
    "erfcx": (special.erfcx, sc.erfcx, (REAL * 10,), 1e-15),
    "ndtr": (special.ndtr, sc.ndtr, (_normal(3.0),), 1e-14),
    "ndtri": (special.ndtri, sc.ndtri, (np.concatenate([UNIT, [1e-300, 1 - 1e-16]]),), 1e-15),
    "log_ndtr": (special.log_ndtr, sc.log_ndtr, (np.concatenate([REAL * 10, [-1e5]]),), 1e-15),
    "expit": (special.expit, sc.expit, (REAL * 10,), 1e-15),
    "logit": (special.logit, sc.logit, (UNIT,), 1e-14),
    "xlogy": (special.xlogy, sc.xlogy, (np.where(REAL > 4, 0.0, REAL), POSITIVE), 1e-15),
    "xlog1py": (special.xlog1py, sc.xlog1py, (REAL, POSITIVE - 0.5), 1e-15),
    "entr": (special.entr, sc.entr, (np.concatenate([REAL, [0.0]]),), 1e-15),
    "rel_entr": (special.rel_entr, sc.rel_entr, (np.append(REAL, 0.0), np.append(POSITIVE, 2.0)),
                 1e-14),
    "kl_div": (special.kl_div, sc.kl_div, (np.append(REAL, 0.0), np.append(POSITIVE, 2.0)),
               1e-14),
    "i0": (special.i0, sc.i0, (_normal(20.0),), 1e-15),
    "i0e": (special.i0e, sc.i0e, (REAL * 100,), 1e-15),
    "i1": (special.i1, sc.i1, (_normal(20.0),), 1e-15),
    "i1e": (special.i1e, sc.i1e, (REAL * 100,), 1e-15),
    "iv": (special.iv, sc.iv, (_uniform(0.0, 5.0), _log_uniform(0.01, 50.0)), 1e-13),
    "ive": (special.ive, sc.ive, (_uniform(0.0, 5.0), _log_uniform(0.01, 500.0)), 1e-15),
    "j0": (special.j0, sc.j0, (REAL * 5,), 1e-15),
    "j1": (special.j1, sc.j1, (REAL * 5,), 1e-15),
    "y0": (special.y0, sc.y0, (POSITIVE,), 1e-15),
    "y1": (special.y1, sc.y1, (POSITIVE,), 1e-15),
    "zeta": (special.zeta, sc.zeta, (_uniform(1.1, 20.0), _log_uniform(0.1, 100.0)), 1e-15),
    "expi": (special.expi, sc.expi, (REAL * 10,), 1e-15),
    "exp1": (special.exp1, sc.exp1, (_log_uniform(1e-3, 500.0),), 1e-15),
    "spence": (special.spence, sc.spence, (_log_uniform(1e-3, 1e3),), 1e-15),
}


def _assert_values(computed: Any, expected: Any, rtol: float) -> None:
    computed, expected = np.asarray(computed), np.asarray(expected)
    assert computed.shape == expected.shape and computed.dtype == expected.dtype
    np.testing.assert_allclose(computed, expected, rtol=rtol, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", CASES)
def test_values_match_scipy(name: str) -> None:
    fun, reference, args, rtol = CASES[name]
    _assert_values(fun(*args), reference(*args), rtol)


@pytest.mark.parametrize("name", CASES)
def test_float32_in_float32_out(name: str) -> None:
    """float32 stays float32, within a few float32 roundings of SciPy's float64 value."""
    fun, reference, args, _ = CASES[name]
    # (small integers: an int64 array would promote float32 to float64, as in NumPy)
    args32 = tuple(a.astype(np.int8 if a.dtype.kind == "i" else np.float32) for a in args)
    out = np.asarray(fun(*args32))
    assert out.dtype == np.float32
    with np.errstate(all="ignore"):
        expected = reference(*[a.astype(np.float64) for a in args32])
    finite = np.isfinite(expected) & (np.abs(expected) < np.finfo(np.float32).max)
    finite &= np.abs(expected) > np.finfo(np.float32).tiny
    composite = name in ("beta", "i0", "i1", "iv", "multigammaln", "ndtr", "expit", "logit",
                         "rel_entr", "kl_div", "entr", "xlogy", "xlog1py")
    rtol = 1e-5 if composite else 1.2e-7   # primitives: SciPy in float64, rounded once
    np.testing.assert_allclose(out[finite], expected[finite], rtol=rtol)


def test_integers_promote_to_float64() -> None:
    assert special.gammaln(np.arange(1, 5)).dtype == np.float64
    np.testing.assert_allclose(special.gammaln(np.arange(1, 5)), np.log([1, 1, 2, 6]),
                               atol=1e-15)


# ------------------------------------------------------------------ the tails

def test_log_ndtr_far_in_the_lower_tail_against_mpmath() -> None:
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    x = np.array([-1e3, -200.0, -40.0, -38.0, -20.0, -5.0, 0.0, 5.0, 10.0])
    expected = [float(mpmath.log(mpmath.ncdf(mpmath.mpf(v)))) for v in x]
    np.testing.assert_allclose(special.log_ndtr(x), expected, rtol=1e-14)
    # its derivative pdf/cdf ~ -x in the lower tail, exp(-x**2/2)/sqrt(2 pi) in the upper
    slope = ft.vmap(ft.grad(special.log_ndtr))(x)
    expected_slope = [float(mpmath.npdf(v) / mpmath.ncdf(v)) for v in x]
    np.testing.assert_allclose(slope, expected_slope, rtol=1e-13)


def test_erfc_tail_against_mpmath() -> None:
    """The erfc primitive keeps Cody's approximations because they beat SciPy in the
    tail (see functrans/primitives/erf_numerics.py): under 1e-15 to x = 26."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    x = np.linspace(5.0, 26.0, 211)
    expected = np.array([float(mpmath.erfc(mpmath.mpf(float(v)))) for v in x])
    worst = np.max(np.abs(special.erfc(x) - expected) / expected)
    assert worst <= 1e-15, worst


def test_igamma_grad_a_against_mpmath() -> None:
    """The derivative of P(a, x) in a, on both sides of x = max(1, a) (series and
    continued fraction), against mpmath's numerical derivative."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    a = np.array([0.01, 0.3, 1.0, 2.5, 2.5, 7.0, 30.0, 30.0, 150.0, 0.5])
    x = np.array([0.5, 0.05, 3.0, 1.5, 8.0, 7.5, 25.0, 40.0, 160.0, 1e-8])
    expected = [float(mpmath.diff(lambda s: mpmath.gammainc(s, 0, mpmath.mpf(float(xi)),
                                                            regularized=True), float(ai)))
                for ai, xi in zip(a, x)]
    np.testing.assert_allclose(lax.igamma_grad_a(a, x), expected, rtol=1e-12)
    np.testing.assert_allclose(ft.vmap(ft.grad(special.gammainc))(a, x), expected, rtol=1e-12)


def test_random_gamma_grad_is_the_quantile_derivative() -> None:
    """At fixed quantile q, x(a) = gammaincinv(a, q) moves by random_gamma_grad(a, x)."""
    a = np.array([0.2, 1.0, 3.5, 40.0])
    q = np.array([0.3, 0.9, 0.05, 0.6])
    x = sc.gammaincinv(a, q)
    step = 1e-6 * a
    central = (sc.gammaincinv(a + step, q) - sc.gammaincinv(a - step, q)) / (2 * step)
    np.testing.assert_allclose(lax.random_gamma_grad(a, x), central, rtol=1e-7)


def test_special_values() -> None:
    assert special.gammaln(0.0) == np.inf
    assert np.isnan(special.polygamma(np.array([-1]), 2.0))
    np.testing.assert_array_equal(special.erfinv(np.array([1.0, -1.0, -0.0, 2.0])),
                                  [np.inf, -np.inf, -0.0, np.nan])
    assert np.signbit(special.erfinv(-0.0))
    np.testing.assert_array_equal(special.ndtri(np.array([0.0, 1.0])), [-np.inf, np.inf])
    assert special.entr(-1.0) == -np.inf and special.entr(0.0) == 0.0
    np.testing.assert_array_equal(special.rel_entr(np.array([0.0, 1.0, -1.0]),
                                                   np.array([3.0, 0.0, 1.0])),
                                  [0.0, np.inf, np.inf])
    assert special.kl_div(0.0, 3.0) == 3.0


# ------------------------------------------------------------------ derivatives

SECOND_ORDER: dict[str, tuple[Callable[..., Any], tuple]] = {
    "gamma_digamma": (lambda x: special.gamma(x) * special.digamma(x), (np.array([0.7, 3.2]),)),
    "rgamma": (special.rgamma, (np.array([-2.5, 0.4, 4.0]),)),
    "beta": (special.beta, (np.array([0.7, 2.5]), np.array([3.0, 1.2]))),
    "betaln": (special.betaln, (np.array([0.7, 2.5]), np.array([3.0, 1.2]))),
    "multigammaln": (lambda a: special.multigammaln(a, 3), (np.array([2.5, 4.0]),)),
    "polygamma_x": (lambda x: special.polygamma(2, x), (np.array([0.8, 3.0]),)),
    "gammainc_x": (lambda x: special.gammainc(2.5, x), (np.array([0.5, 4.0]),)),
    "gammaincc_x": (lambda x: special.gammaincc(2.5, x), (np.array([0.5, 4.0]),)),
    "betainc_x": (lambda x: special.betainc(2.5, 0.7, x), (np.array([0.2, 0.8]),)),
    "ndtr": (special.ndtr, (np.array([-3.0, 0.5]),)),
    "log_ndtr": (special.log_ndtr, (np.array([-30.0, -3.0, 0.5, 6.0]),)),
    "ndtri": (special.ndtri, (np.array([0.01, 0.7]),)),
    "erfcinv_erfcx": (lambda y: special.erfcx(special.erfcinv(y)), (np.array([0.3, 1.6]),)),
    "logit_expit": (lambda x: special.logit(special.expit(x) * 0.5), (np.array([-1.0, 2.0]),)),
    "xlogy_xlog1py": (lambda x, y: special.xlogy(x, y) + special.xlog1py(x, y),
                      (np.array([0.5, 2.0]), np.array([1.5, 0.3]))),
    "entropies": (lambda p, q: special.entr(p) + special.rel_entr(p, q) + special.kl_div(q, p),
                  (np.array([0.2, 0.6]), np.array([0.5, 0.1]))),
    "bessel_i": (lambda x: special.i0(x) + special.i1(x) + special.i0e(x) + special.i1e(x),
                 (np.array([-2.0, 0.7, 5.0]),)),
    "bessel_iv": (lambda x: special.iv(1.5, x) + special.ive(0.5, x), (np.array([0.7, 5.0]),)),
    "bessel_jy": (lambda x: special.j0(x) + special.j1(x) + special.y0(x) + special.y1(x),
                  (np.array([0.7, 5.0]),)),
    "zeta_q": (lambda q: special.zeta(3.0, q), (np.array([0.5, 2.0]),)),
    "integrals": (lambda x: special.expi(x) + special.exp1(x) + special.spence(x),
                  (np.array([0.4, 1.0, 2.5]),)),
}


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_check_grads_second_order(name: str) -> None:
    f, args = SECOND_ORDER[name]
    check_grads(lambda *a: fnp.sum(f(*a)), args, order=2)


def test_gammainc_in_a_first_order() -> None:
    """The a-derivative (igamma_grad_a) in both modes, and mixed with x."""
    for f in (special.gammainc, special.gammaincc):
        check_grads(lambda a, x: fnp.sum(f(a, x)), (np.array([0.6, 3.0, 12.0]),
                                                      np.array([0.4, 5.0, 9.0])), order=1)
    # d/dx of the a-derivative is the derivative of the density in a
    mixed = ft.grad(ft.grad(special.gammainc, argnums=0), argnums=1)(2.5, 1.5)
    density = np.exp(1.5 * np.log(1.5) - 1.5 - sc.gammaln(2.5))
    np.testing.assert_allclose(mixed, density * (np.log(1.5) - sc.digamma(2.5)), rtol=1e-12)


def test_derivatives_at_the_removable_points() -> None:
    # 1/Gamma at its zeros: (-1)**n n!
    np.testing.assert_allclose(ft.vmap(ft.grad(special.rgamma))(np.array([0.0, -1.0, -4.0])),
                               [1.0, -1.0, 24.0])
    assert ft.grad(special.i1e)(0.0) == 0.5
    assert ft.grad(special.j1)(0.0) == 0.5
    assert ft.grad(special.spence)(1.0) == -1.0
    assert ft.grad(ft.grad(special.spence))(1.0) == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize("f, argnums, message", [
    (special.betainc, 0, "betainc: the derivative with respect to a"),
    (special.betainc, 1, "betainc: the derivative with respect to b"),
    (lambda m, x: lax.polygamma(m, x), 0, "polygamma: the derivative with respect to the order"),
    (special.zeta, 0, "zeta: the derivative with respect to x"),
    (special.ive, 0, "ive: the derivative with respect to the order v"),
    (special.iv, 0, "ive: the derivative with respect to the order v"),
    (ft.grad(special.gammainc, argnums=0), 0, "igamma_grad_a: the derivative with respect to a"),
], ids=["betainc-a", "betainc-b", "polygamma-m", "zeta-x", "ive-v", "iv-v", "gammainc-a-a"])
def test_undefined_derivatives_raise(f: Callable[..., Any], argnums: int, message: str) -> None:
    args = (2.0, 3.0, 0.4) if f is special.betainc else (2.0, 3.0)
    with pytest.raises(TypeError, match=message):
        ft.grad(f, argnums=argnums)(*args)
    with pytest.raises(TypeError, match=message):
        ft.jvp(lambda a: f(*args[:argnums], a, *args[argnums + 1:]), (args[argnums],), (1.0,))


def test_differentiating_the_other_arguments_still_works() -> None:
    assert np.isfinite(ft.grad(special.betainc, argnums=2)(2.0, 3.0, 0.4))
    assert np.isfinite(ft.grad(lambda q: special.zeta(2.0, q))(3.0))


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="polygamma: argument n must have an integer dtype"):
        special.polygamma(1.5, 2.0)
    with pytest.raises(TypeError, match="zeta: q is required"):
        special.zeta(2.0)
    with pytest.raises(ValueError, match="multigammaln: d must be a positive integer"):
        special.multigammaln(3.0, 0)
    with pytest.raises(TypeError, match="igamma accepts floating-point"):
        lax.igamma(np.ones(2, np.int32), np.ones(2, np.int32))
    with pytest.raises(TypeError, match="requires operands of equal shape and dtype"):
        lax.betainc(np.ones(2), np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="series_order must be in"):
        special.log_ndtr(1.0, series_order=31)


# ------------------------------------------------------------------ transformations

def _loss(a: Any, x: Any) -> Any:
    return fnp.sum(special.gammaln(a) * special.log_ndtr(x) + special.betainc(2.0, 3.0, x * x / 20)
                   + special.gammainc(a, x * x) + special.i1e(x) * special.digamma(a))


def test_jit_vmap_grad_agree() -> None:
    a, x = np.array([0.5, 2.0, 7.5]), np.array([-3.0, 0.2, 4.0])
    grads = ft.grad(_loss, argnums=(0, 1))(a, x)
    jitted = ft.jit(ft.grad(_loss, argnums=(0, 1)))(a, x)
    for g, j in zip(grads, jitted):
        np.testing.assert_allclose(j, g, rtol=1e-14)
    per_point = ft.vmap(ft.grad(_loss, argnums=(0, 1)))(a[:, None], x[:, None])
    for g, p in zip(grads, per_point):
        np.testing.assert_allclose(p[:, 0], g, rtol=1e-14)


def test_float32_derivatives_stay_float32() -> None:
    a, x = np.array([0.5, 2.0], np.float32), np.array([-3.0, 0.2], np.float32)
    grads = ft.grad(_loss, argnums=(0, 1))(a, x)
    assert all(g.dtype == np.float32 for g in grads)
    reference = ft.grad(_loss, argnums=(0, 1))(a.astype(np.float64), x.astype(np.float64))
    for g, r in zip(grads, reference):
        np.testing.assert_allclose(g, r, rtol=1e-5)
