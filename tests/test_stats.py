"""``functrans.scipy.stats`` against ``scipy.stats``: every function of every
distribution on random inputs (with loc and scale, inside and outside the support),
the tails in log space, float32 kept, derivatives by ``check_grads`` (order 2 where
the maths allows), and jit/vmap/grad."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.stats as st

import functrans as ft
import functrans.numpy as fnp
from functrans.scipy import stats
from functrans.test_util import check_grads

RNG = np.random.default_rng(20261205)
N = 40
X = 3.0 * RNG.standard_normal(N)            # both sides of loc, some outside supports
Q = np.concatenate([RNG.uniform(0.0, 1.0, N - 4), [0.0, 1.0, 1e-300, 1.0 - 1e-16]])
LOC, SCALE = 0.5, 1.7
COUNTS = RNG.integers(-2, 15, N).astype(np.float64)

# (distribution, functions, arguments after x, x values); loc/scale where it takes them
CONTINUOUS = [
    ("norm", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), (LOC, SCALE), X),
    ("cauchy", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), (LOC, SCALE), X),
    ("laplace", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), (LOC, SCALE), X),
    ("logistic", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), (LOC, SCALE), X),
    ("expon", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), (LOC, SCALE), X),
    ("uniform", ("logpdf", "pdf", "cdf"), (LOC, SCALE), X),
    ("t", ("logpdf", "pdf"), (3.5, LOC, SCALE), X),
    ("gamma", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), (2.5, LOC, SCALE), X),
    ("chi2", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), (3.5, LOC, SCALE), X),
    ("beta", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), (2.5, 1.5, -2.0, 5.0), X),
    ("lognorm", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), (0.8, LOC, SCALE), X),
    ("pareto", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"), (2.5, LOC, SCALE), X),
    ("truncnorm", ("logpdf", "pdf", "cdf", "logcdf", "sf", "logsf"),
     (-1.0, 2.0, LOC, SCALE), X),
    ("truncnorm", ("logpdf", "cdf", "logcdf", "sf", "logsf"), (3.0, 9.0, LOC, SCALE),
     LOC + SCALE * RNG.uniform(2.0, 10.0, N)),
    ("gennorm", ("logpdf", "pdf", "cdf"), (1.5,), X),
    ("vonmises", ("logpdf", "pdf"), (2.5,), X),
]
QUANTILES = [
    ("norm", ("ppf", "isf"), (LOC, SCALE)),
    ("cauchy", ("ppf", "isf"), (LOC, SCALE)),
    ("laplace", ("ppf",), (LOC, SCALE)),
    ("logistic", ("ppf", "isf"), (LOC, SCALE)),
    ("expon", ("ppf",), (LOC, SCALE)),
    ("uniform", ("ppf",), (LOC, SCALE)),
    ("lognorm", ("ppf",), (0.8, LOC, SCALE)),
    ("pareto", ("ppf",), (2.5, LOC, SCALE)),
]
DISCRETE = [
    ("poisson", ("logpmf", "pmf", "cdf"), (3.5, 1.0), COUNTS),
    ("bernoulli", ("logpmf", "pmf"), (0.3,), np.clip(COUNTS, -1, 2)),
    ("binom", ("logpmf", "pmf"), (10.0, 0.3), COUNTS),
    ("geom", ("logpmf", "pmf"), (0.3,), COUNTS),
    ("nbinom", ("logpmf", "pmf"), (4.5, 0.3), COUNTS),
    ("betabinom", ("logpmf", "pmf"), (10.0, 2.5, 1.5), COUNTS),
]


def _cases() -> list[Any]:
    cases = []
    for table in (CONTINUOUS, DISCRETE):
        for k, (dist, names, params, x) in enumerate(table):
            cases += [pytest.param(dist, name, (x, *params), id=f"{dist}{k}.{name}")
                      for name in names]
    for dist, names, params in QUANTILES:
        cases += [pytest.param(dist, name, (Q, *params), id=f"{dist}.{name}") for name in names]
    cases.append(pytest.param("bernoulli", "cdf", (X / 4, 0.3), id="bernoulli.cdf"))
    # (q = 0 left out: JAX's bernoulli.ppf gives 0 there, SciPy -1)
    cases.append(pytest.param("bernoulli", "ppf", (Q[Q > 1e-30], 0.3), id="bernoulli.ppf"))
    return cases


def _scipy(dist: str, name: str) -> Callable[..., Any]:
    return getattr(getattr(st, dist), name)


def _assert_close(computed: Any, expected: Any, rtol: float) -> None:
    computed, expected = np.asarray(computed), np.asarray(expected)
    assert computed.shape == expected.shape, (computed.shape, expected.shape)
    np.testing.assert_allclose(computed, expected, rtol=rtol, atol=1e-300, equal_nan=True)


@pytest.mark.parametrize("dist, name, args", _cases())
def test_values_match_scipy(dist: str, name: str, args: tuple) -> None:
    computed = getattr(getattr(stats, dist), name)(*args)
    assert np.asarray(computed).dtype == np.float64
    _assert_close(computed, _scipy(dist, name)(*args), rtol=5e-13)


@pytest.mark.parametrize("dist, name, args", _cases())
def test_float32_kept(dist: str, name: str, args: tuple) -> None:
    args32 = tuple(np.asarray(a, np.float32) for a in args)
    computed = np.asarray(getattr(getattr(stats, dist), name)(*args32))
    assert computed.dtype == np.float32
    with np.errstate(all="ignore"):
        expected = _scipy(dist, name)(*[a.astype(np.float64) for a in args32])
    finite = np.isfinite(expected) & (np.abs(expected) > 1e-30)
    np.testing.assert_allclose(computed[finite], expected[finite], rtol=2e-4, atol=1e-6)


def test_multivariate_distributions_match_scipy() -> None:
    alpha = np.array([1.5, 2.0, 3.5])
    x = RNG.dirichlet(alpha, 6).T
    _assert_close(stats.dirichlet.logpdf(x, alpha), st.dirichlet.logpdf(x, alpha), 1e-13)
    _assert_close(stats.dirichlet.logpdf(x[:2], alpha), st.dirichlet.logpdf(x, alpha), 1e-13)
    assert stats.dirichlet.logpdf(np.array([0.5, 0.6, 0.1]), alpha) == -np.inf
    p = np.array([0.2, 0.3, 0.5])
    counts = RNG.multinomial(10, p, 6)
    _assert_close(stats.multinomial.logpmf(counts, 10, p),
                  st.multinomial.logpmf(counts, 10, p), 1e-13)
    _assert_close(stats.multinomial.pmf(counts, 10, p), st.multinomial.pmf(counts, 10, p), 1e-13)
    assert stats.multinomial.logpmf(np.array([1, 2, 3]), 10, p) == -np.inf
    mu = np.array([0.5, 3.0, 50.0, 299.0, 301.0, 2000.0])
    _assert_close(stats.poisson.entropy(mu), st.poisson.entropy(mu), 5e-12)


def _covariance(n: int) -> np.ndarray:
    a = RNG.standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


def test_multivariate_normal_matches_scipy() -> None:
    n = 5
    mean, cov = RNG.standard_normal(n), _covariance(n)
    x = RNG.standard_normal((7, n))
    _assert_close(stats.multivariate_normal.logpdf(x, mean, cov),
                  st.multivariate_normal.logpdf(x, mean, cov), 1e-12)
    _assert_close(stats.multivariate_normal.pdf(x, mean, cov),
                  st.multivariate_normal.pdf(x, mean, cov), 1e-12)
    _assert_close(ft.jit(stats.multivariate_normal.logpdf)(x, mean, cov),
                  st.multivariate_normal.logpdf(x, mean, cov), 1e-12)
    _assert_close(ft.vmap(stats.multivariate_normal.logpdf, in_axes=(0, None, None))(
        x, mean, cov), st.multivariate_normal.logpdf(x, mean, cov), 1e-12)
    _assert_close(stats.multivariate_normal.logpdf(x, mean, 2.5),
                  st.multivariate_normal.logpdf(x, mean, 2.5 * np.eye(n)), 1e-13)
    _assert_close(stats.multivariate_normal.logpdf(x[:, 0], 0.3, 2.5),
                  st.norm.logpdf(x[:, 0], 0.3, np.sqrt(2.5)), 1e-13)
    # batched covariances broadcast against batched points
    covs = np.stack([_covariance(n) for _ in range(3)])
    batched = stats.multivariate_normal.logpdf(x[:3], mean, covs)
    _assert_close(batched, [st.multivariate_normal.logpdf(x[i], mean, covs[i])
                            for i in range(3)], 1e-12)


# ------------------------------------------------------------------ the tails

def test_tails_in_log_space() -> None:
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    x = np.array([-40.0, -1e3, 38.0])
    expected = [float(mpmath.log(mpmath.ncdf(v))) for v in x]
    np.testing.assert_allclose(stats.norm.logcdf(x), expected, rtol=1e-14)
    np.testing.assert_allclose(stats.norm.logsf(-x), expected, rtol=1e-14)
    np.testing.assert_allclose(stats.norm.logcdf(-40.0 * 2.0 + 1.0, 1.0, 2.0), expected[0],
                               rtol=1e-14)
    # lognorm through log_ndtr
    np.testing.assert_allclose(stats.lognorm.logcdf(np.exp(-40.0 * 0.5), 0.5), expected[0],
                               rtol=1e-13)
    # cauchy's lower tail: atan2 keeps the CDF's relative accuracy
    np.testing.assert_allclose(stats.cauchy.logcdf(-1e10), float(mpmath.log(
        mpmath.mpf(0.5) + mpmath.atan(-1e10) / mpmath.pi)), rtol=1e-14)
    np.testing.assert_allclose(stats.cauchy.ppf(1e-12), -1 / np.tan(np.pi * 1e-12), rtol=1e-14)
    # logistic and laplace far out, expon and pareto next to the support's edge
    assert stats.logistic.logcdf(-800.0) == pytest.approx(-800.0, rel=1e-15)
    assert stats.laplace.logsf(700.0) == pytest.approx(-700.0 - np.log(2.0), rel=1e-15)
    assert stats.expon.logcdf(1e-20) == pytest.approx(np.log(1e-20), rel=1e-15)
    just_inside = 1.0 + 1e-15                 # 1 + 1.11e-15 as a float
    assert stats.pareto.logcdf(just_inside, 2.0) == pytest.approx(
        np.log(-np.expm1(-2.0 * np.log1p(just_inside - 1.0))), rel=1e-14)
    # truncated to an interval far in the upper tail
    np.testing.assert_allclose(stats.truncnorm.logpdf(30.5, 30.0, 31.0),
                               st.truncnorm.logpdf(30.5, 30.0, 31.0), rtol=1e-12)
    # gennorm's lower tail uses gammaincc, not 1 - gammainc
    np.testing.assert_allclose(stats.gennorm.cdf(-6.0, 1.5), st.gennorm.cdf(-6.0, 1.5),
                               rtol=1e-13)


def test_tail_gradients_are_finite() -> None:
    g = ft.grad(stats.norm.logcdf)(-40.0)
    assert g == pytest.approx(40.02496884720727, rel=1e-14)     # pdf / cdf ~ -x
    assert ft.grad(stats.norm.logsf)(40.0) == pytest.approx(-40.02496884720727, rel=1e-14)
    assert ft.grad(stats.expon.logcdf)(1e-20) == pytest.approx(1e20, rel=1e-12)
    assert ft.grad(stats.logistic.logcdf)(-800.0) == pytest.approx(1.0)


# ------------------------------------------------------------------ derivatives

V = np.array([-0.7, 0.4, 1.9])

SECOND_ORDER: dict[str, tuple[Callable[..., Any], tuple]] = {
    "norm": (lambda x, m, s: stats.norm.logpdf(x, m, s) + stats.norm.logcdf(x, m, s)
             + stats.norm.logsf(x, m, s) + stats.norm.ppf(0.3, m, s), (V, 0.3, 1.4)),
    "t": (stats.t.logpdf, (V, 3.5, 0.2, 1.3)),
    "cauchy_logistic_laplace": (
        lambda x, s: stats.cauchy.logcdf(x, 0.1, s) + stats.logistic.logsf(x, 0.1, s)
        + stats.laplace.logcdf(x, 0.1, s), (V, 1.3)),
    "expon_pareto": (lambda x, b: stats.expon.logcdf(x + 1.0, 0.0, b)
                     + stats.pareto.logpdf(x + 2.0, b), (V, 1.5)),
    "gamma_chi2_pdf": (lambda x, a: stats.gamma.logpdf(x + 1.0, a)
                       + stats.chi2.logpdf(x + 1.0, a), (V, 2.5)),
    "gamma_cdf_x": (lambda x: stats.gamma.logcdf(x + 1.0, 2.5, 0.0, 0.7), (V,)),
    "beta": (lambda x, a, b: stats.beta.logpdf(x / 4 + 0.5, a, b), (V, 2.5, 1.5)),
    "beta_cdf_x": (lambda x: stats.beta.logsf(x / 4 + 0.5, 2.5, 1.5), (V,)),
    "lognorm": (lambda x, s: stats.lognorm.logpdf(x + 1.0, s) + stats.lognorm.logcdf(x + 1.0, s),
                (V, 0.8)),
    "truncnorm": (lambda x, m, s: stats.truncnorm.logpdf(x, -1.0, 2.5, m, s)
                  + stats.truncnorm.logcdf(x, -1.0, 2.5, m, s), (V, 0.1, 1.2)),
    "gennorm_vonmises": (lambda x, b: stats.gennorm.logpdf(x, b) + stats.vonmises.logpdf(x, b),
                         (V, 1.7)),
    "discrete": (lambda mu, p: stats.poisson.logpmf(np.array([0.0, 3.0, 7.0]), mu)
                 + stats.binom.logpmf(np.array([0.0, 3.0, 7.0]), 9.0, p)
                 + stats.nbinom.logpmf(np.array([0.0, 3.0, 7.0]), mu, p)
                 + stats.geom.logpmf(np.array([1.0, 3.0, 7.0]), p)
                 + stats.bernoulli.logpmf(np.array([0.0, 1.0, 1.0]), p)
                 + stats.betabinom.logpmf(np.array([0.0, 3.0, 7.0]), 9.0, mu, p * 4),
                 (2.5, 0.35)),
    "dirichlet_multinomial": (
        lambda x, a: stats.dirichlet.logpdf(fnp.stack([x, 1.0 - x]) * 0.5 + 0.25,
                                            fnp.stack([a, 2.0 * a]))
        + stats.multinomial.logpmf(np.array([2, 3]), 5, fnp.stack([x, 1.0 - x])),
        (np.array(0.3), np.array(1.5))),
}


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_check_grads_second_order(name: str) -> None:
    f, args = SECOND_ORDER[name]
    args = tuple(np.asarray(a, np.float64) for a in args)
    check_grads(lambda *a: fnp.sum(f(*a)), args, order=2)


def test_check_grads_first_order_through_shape_parameters() -> None:
    """gammainc's derivative in a is defined to first order: gamma and chi2 CDFs,
    gennorm's CDF and poisson's CDF in mu."""
    check_grads(lambda x, a: fnp.sum(stats.gamma.logcdf(x, a) + stats.chi2.sf(x, a)
                                     + stats.gennorm.cdf(x - 1.5, a)),
                (V + 1.0, np.array(2.5)), order=1)
    check_grads(lambda mu: fnp.sum(stats.poisson.cdf(np.array([0.0, 2.0, 6.0]), mu)),
                (np.array(2.5),), order=2)


def test_multivariate_normal_derivatives() -> None:
    n = 3
    mean, cov = RNG.standard_normal(n), _covariance(n)
    x = RNG.standard_normal((4, n))
    check_grads(lambda m, c: fnp.sum(stats.multivariate_normal.logpdf(x, m, c)),
                (mean, cov), order=1)
    check_grads(lambda m: fnp.sum(stats.multivariate_normal.logpdf(x, m, cov)), (mean,),
                order=2)
    # the gradient in cov is the symmetric -(cov^-1 - cov^-1 r r^T cov^-1) / 2, summed
    inverse = np.linalg.inv(cov)
    r = x - mean
    expected = sum(-0.5 * (inverse - inverse @ np.outer(ri, ri) @ inverse) for ri in r)
    computed = ft.grad(lambda c: fnp.sum(stats.multivariate_normal.logpdf(x, mean, c)))(cov)
    np.testing.assert_allclose(computed + computed.T - np.diag(np.diag(computed)),
                               2 * expected - np.diag(np.diag(expected)), rtol=1e-10)


def test_shape_parameters_of_beta_cdf_raise() -> None:
    with pytest.raises(TypeError, match="betainc: the derivative with respect to a"):
        ft.grad(lambda a: stats.beta.cdf(0.3, a, 2.0))(1.5)


# ------------------------------------------------------------------ transformations

def _log_likelihood(params: Any, x: Any) -> Any:
    loc, log_scale, log_df = params
    return fnp.sum(stats.t.logpdf(x, fnp.exp(log_df), loc, fnp.exp(log_scale))
                   + stats.norm.logcdf(x, loc, fnp.exp(log_scale))
                   + stats.gamma.logpdf(fnp.abs(x) + 0.1, fnp.exp(log_df)))


def test_jit_vmap_grad_agree() -> None:
    params = np.array([0.2, -0.1, 1.0])
    grad = ft.grad(_log_likelihood)(params, X)
    np.testing.assert_allclose(ft.jit(ft.grad(_log_likelihood))(params, X), grad, rtol=1e-13)
    per_point = ft.vmap(ft.grad(_log_likelihood), in_axes=(None, 0))(params, X[:, None])
    np.testing.assert_allclose(per_point.sum(axis=0), grad, rtol=1e-12)
    batched = ft.vmap(stats.truncnorm.logcdf, in_axes=(0, None, None))(X, -1.0, 2.0)
    np.testing.assert_allclose(batched, st.truncnorm.logcdf(X, -1.0, 2.0), rtol=1e-12)


def test_float32_gradients_stay_float32() -> None:
    params = np.array([0.2, -0.1, 1.0], np.float32)
    grad = ft.grad(_log_likelihood)(params, X.astype(np.float32))
    assert grad.dtype == np.float32
    np.testing.assert_allclose(grad, ft.grad(_log_likelihood)(params.astype(np.float64), X),
                               rtol=1e-3)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="dirichlet.logpdf: alpha must be one-dimensional"):
        stats.dirichlet.logpdf(np.ones(3) / 3, np.ones((3, 1)))
    with pytest.raises(ValueError, match="dirichlet.logpdf: x must have k = 3 or k - 1 = 2"):
        stats.dirichlet.logpdf(np.ones(5) / 5, np.ones(3))
    with pytest.raises(ValueError, match="multinomial.logpmf: x must have an integer dtype"):
        stats.multinomial.logpmf(np.array([1.0, 2.0]), 3, np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match=r"cov must be a scalar or have shape \(\.\.\., 3, 3\)"):
        stats.multivariate_normal.logpdf(np.zeros(3), np.zeros(3), np.eye(2))
    with pytest.raises(TypeError, match="allow_singular is not supported"):
        stats.multivariate_normal.logpdf(np.zeros(3), np.zeros(3), np.eye(3), True)
    with pytest.raises(ValueError, match="could not be broadcast"):
        stats.norm.logpdf(np.zeros(3), np.zeros(2))
