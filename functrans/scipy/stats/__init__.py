"""``functrans.scipy.stats``: probability distributions, as ``jax.scipy.stats``.

One module per distribution, each with the functions ``jax.scipy.stats`` has for it
(``logpdf``/``pdf`` or ``logpmf``/``pmf``, ``cdf``, ``logcdf``, ``sf``, ``logsf``,
``ppf``, ...), with SciPy's argument names and ``loc``/``scale``. All are compositions
of ``functrans.numpy`` and ``functrans.scipy.special`` functions, so they work under
``jit``, ``vmap`` and every order of differentiation (in the parameters too, except
the shape parameters of ``beta``'s CDF, which needs the derivative of ``betainc``
in a and b). ``lognorm`` follows ``scipy.stats.lognorm`` (JAX has none).

Log-probabilities are computed in log space: ``norm.logcdf(-40)`` is -804.608...,
not the log of an underflowed CDF.
"""

from functrans.scipy.stats import (
    bernoulli,
    beta,
    betabinom,
    binom,
    cauchy,
    chi2,
    dirichlet,
    expon,
    gamma,
    gennorm,
    geom,
    laplace,
    logistic,
    lognorm,
    multinomial,
    multivariate_normal,
    nbinom,
    norm,
    pareto,
    poisson,
    t,
    truncnorm,
    uniform,
    vonmises,
)

__all__ = ["bernoulli", "beta", "betabinom", "binom", "cauchy", "chi2", "dirichlet", "expon",
           "gamma", "gennorm", "geom", "laplace", "logistic", "lognorm", "multinomial",
           "multivariate_normal", "nbinom", "norm", "pareto", "poisson", "t", "truncnorm",
           "uniform", "vonmises"]
