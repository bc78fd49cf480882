"""``functrans.random``: JAX's ``jax.random``, with its keys and its numbers.

Keys are values: a key is a uint32 array of shape ``(2,)`` (``key(seed)`` or
``PRNGKey(seed)``), and every function is a pure function of its key, so the same
key always gives the same numbers, and different numbers need different keys
(``split``, ``fold_in``). There is no global state. Everything works under
``jit`` and ``vmap`` (a batch of keys gives a batch of samples), and samples are
differentiable in their parameters where JAX's are.

The generator is JAX's default, Threefry-2x32 with ``jax_threefry_partitionable``
(the default since JAX 0.5), and the defaults are JAX's with ``jax_enable_x64``
(float64, int64, uint64). ``split``, ``fold_in``, ``bits``, ``uniform``,
``randint``, ``permutation``, ``choice`` (without ``p``) and ``bernoulli`` give JAX's
numbers exactly; samplers built on special functions (``normal``, ``gamma``...)
equal them up to rounding.
See ``docs/random.md``.
"""

from functrans.random._gamma import (
    ball,
    beta,
    dirichlet,
    gamma,
    generalized_normal,
    loggamma,
    poisson,
    t,
)
from functrans.random._keys import (
    PRNGKey,
    bits,
    clone,
    fold_in,
    key,
    key_data,
    key_impl,
    split,
    wrap_key_data,
)
from functrans.random._samplers import (
    bernoulli,
    categorical,
    cauchy,
    choice,
    exponential,
    gumbel,
    laplace,
    logistic,
    multivariate_normal,
    normal,
    orthogonal,
    permutation,
    rademacher,
    randint,
    shuffle,
    truncated_normal,
    uniform,
)

__all__ = ["key", "PRNGKey", "key_data", "wrap_key_data", "key_impl", "clone", "split",
           "fold_in", "bits", "uniform", "normal", "randint", "choice", "permutation",
           "shuffle", "bernoulli", "categorical", "gumbel", "exponential", "gamma",
           "loggamma", "beta", "dirichlet", "poisson", "truncated_normal",
           "multivariate_normal", "laplace", "logistic", "cauchy", "t", "orthogonal", "ball",
           "generalized_normal", "rademacher"]
