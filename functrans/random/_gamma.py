"""Samplers built on gamma variates, and Poisson counts: rejection samplers.

``gamma`` is Marsaglia and Tsang's method ("A simple method for generating gamma
variables", 2000), element by element as JAX's ``_gamma_one``: each element gets
its own key (``split(key, size)``), draws normals until ``v = (1 + c x)**3 > 0``,
then accepts or redraws; shapes below 1 are boosted to ``a + 1`` and scaled by
``u**(1/a)``. The per-element algorithm is written for one key and one shape
parameter and ``vmap``-ped over the elements, so its rejection loops are batched
``while_loop``s that run until every element has accepted (as JAX's do), and
each element sees exactly the draws it would see alone: the same numbers as JAX,
up to the rounding of ``log``, ``pow`` and ``erf_inv``.

Derivatives in the shape parameter are implicit (Figurnov et al., "Implicit
reparameterization gradients", 2018): holding the sample's quantile fixed,
``dx/da = -(dP/da) / (dP/dx)`` with ``P`` the regularized incomplete gamma
function, ``lax.random_gamma_grad``. A ``custom_jvp`` attaches it to the sampler.
``beta``, ``dirichlet``, ``t``, ``generalized_normal`` and ``ball`` are built from
gamma (log-)samples and differentiate through them.

``poisson`` is JAX's: Knuth's product of uniforms below ``lam = 10``, Hörmann's
transformed rejection above, each a ``while_loop`` over the whole array.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans import lax
from functrans.core.avals import get_aval
from functrans.higher_order.custom_derivatives import custom_jvp, traceable_rule
from functrans.numpy._softmax import softmax
from functrans.numpy._util import Array
from functrans.random._keys import canonical_shape, single_key, split2, split_keys
from functrans.random._samplers import (
    as_param,
    broadcast_shape_or_given,
    check_param_shapes,
    exponential_floats,
    float_dtype,
    normal_real,
    rademacher,
    unit_floats,
)
from functrans.transforms.vmap import vmap

__all__ = ["gamma", "loggamma", "beta", "dirichlet", "t", "poisson", "generalized_normal",
           "ball"]


# ------------------------------------------------------------------ one gamma sample

def _gamma_one(key: Array, alpha: Array, log_space: bool) -> Array:
    """One Gamma(alpha, 1) sample (its log with `log_space`) from one key."""
    dtype = get_aval(alpha).dtype
    zero, one, two, minus_one = (np.array(v, dtype) for v in (0.0, 1.0, 2.0, -1.0))
    boost_mask = lax.ge(alpha, one)
    alpha_orig = alpha
    alpha = lax.select(boost_mask, alpha, lax.add(alpha, one))
    d = lax.sub(alpha, np.array(1.0 / 3.0, dtype))
    c = lax.div(np.array(1.0 / 3.0, dtype), lax.sqrt(d))

    def rejected(state: tuple) -> Array:
        _, x_squared, v, u = state
        squeeze = lax.sub(one, lax.mul(np.array(0.0331, dtype),
                                       lax.mul(x_squared, x_squared)))
        bound = lax.add(lax.mul(x_squared, np.array(0.5, dtype)),
                        lax.mul(d, lax.add(lax.sub(one, v), lax.log(v))))
        return lax.bitwise_and(lax.ge(u, squeeze), lax.ge(lax.log(u), bound))

    def next_normal(state: tuple) -> tuple:
        key, _, _ = state
        key, subkey = split2(key)
        x = normal_real(subkey, (), dtype)
        return key, x, lax.add(one, lax.mul(x, c))

    def propose(state: tuple) -> tuple:
        keys = split_keys(state[0], (3,))
        key, x_key, u_key = (lax.index_in_dim(keys, i, keepdims=False) for i in range(3))
        _, x, v = lax.while_loop(lambda s: lax.le(s[2], zero), next_normal,
                                 (x_key, zero, minus_one))
        return key, lax.mul(x, x), lax.mul(lax.mul(v, v), v), unit_floats(u_key, (), dtype)

    key, subkey = split2(key)
    # the initial state (x = 0, v = 1, u = 2) is rejected, so one proposal is always drawn
    _, _, v, _ = lax.while_loop(rejected, propose, (key, zero, one, two))
    if log_space:
        log_u = lax.neg(exponential_floats(subkey, (), dtype))
        unboosted = lax.bitwise_or(boost_mask, lax.eq(log_u, zero))
        log_boost = lax.select(unboosted, zero, lax.mul(log_u, lax.div(one, alpha_orig)))
        return lax.add(lax.add(lax.log(d), lax.log(v)), log_boost)
    u = lax.sub(one, unit_floats(subkey, (), dtype))
    boost = lax.select(boost_mask, one, lax.pow(u, lax.div(one, alpha_orig)))
    return lax.mul(lax.mul(d, v), boost)


@traceable_rule
@partial(custom_jvp, nondiff_argnums=(2,))
def _gamma_samples(keys: Array, alphas: Array, log_space: bool) -> Array:
    """Gamma samples, one per key and shape parameter (both flat)."""
    return vmap(partial(_gamma_one, log_space=log_space))(keys, alphas)


@_gamma_samples.defjvp
def _gamma_samples_jvp(log_space: bool, primals: tuple, tangents: tuple) -> tuple:
    keys, alphas = primals
    _, alphas_dot = tangents
    samples = _gamma_samples(keys, alphas, log_space)
    return samples, fnp.multiply(alphas_dot, _sample_derivative(samples, alphas, log_space))


def _sample_derivative(samples: Array, alphas: Array, log_space: bool) -> Array:
    """d sample / d alpha at a fixed quantile (of the log-sample with `log_space`,
    ``d log x = dx / x``, with x = exp(log x) kept above zero)."""
    if not log_space:
        return lax.random_gamma_grad(alphas, samples)
    x = lax.exp(samples)
    tiny = np.finfo(get_aval(x).dtype).tiny
    x = lax.select(lax.eq(x, lax.full_like(x, 0)), lax.full_like(x, tiny), x)
    return lax.div(lax.random_gamma_grad(alphas, x), x)


def gamma_floats(key: Array, a: Array, shape: tuple[int, ...], log_space: bool) -> Array:
    """Gamma samples of shape `shape` (a broadcast to it), one key per element."""
    a = fnp.broadcast_to(a, shape)
    size = math.prod(shape)
    if size == 0:
        return fnp.zeros(shape, get_aval(a).dtype)
    keys = split_keys(key, (size,))
    return lax.reshape(_gamma_samples(keys, lax.reshape(a, (size,)), log_space), shape)


def _check_method(method: str, fname: str) -> None:
    if method != "exact":
        raise ValueError(f"functrans.random.{fname}: method must be 'exact' (the rejection "
                         f"sampler, JAX's default), got {method!r}; JAX's loop-free "
                         "'approximate' method is not available in functrans")


def gamma(key: Any, a: Any, shape: Sequence[int] | None = None, dtype: Any = None, *,
          method: str = "exact") -> Array:
    """Gamma(a, 1) samples, as ``jax.random.gamma`` (divide by a rate, or multiply
    by a scale, for other gamma distributions). Differentiable in `a` (implicit
    reparameterisation; first derivatives only). Equal to JAX's samples up to
    rounding."""
    key = single_key(key, "gamma")
    _check_method(method, "gamma")
    dtype = float_dtype(dtype, "gamma")
    a = as_param(a, dtype)
    return gamma_floats(key, a, broadcast_shape_or_given("gamma", shape, a), log_space=False)


def loggamma(key: Any, a: Any, shape: Sequence[int] | None = None, dtype: Any = None, *,
             method: str = "exact") -> Array:
    """The logarithm of Gamma(a, 1) samples, computed in log space (accurate where
    the samples underflow, for small `a`), as ``jax.random.loggamma``."""
    key = single_key(key, "loggamma")
    _check_method(method, "loggamma")
    dtype = float_dtype(dtype, "loggamma")
    a = as_param(a, dtype)
    return gamma_floats(key, a, broadcast_shape_or_given("loggamma", shape, a), log_space=True)


def beta(key: Any, a: Any, b: Any, shape: Sequence[int] | None = None, dtype: Any = None, *,
         method: str = "exact") -> Array:
    """Beta(a, b) samples ``G_a / (G_a + G_b)`` from two log-gamma samples, as
    ``jax.random.beta``. Differentiable in `a` and `b`."""
    key = single_key(key, "beta")
    _check_method(method, "beta")
    dtype = float_dtype(dtype, "beta")
    a, b = as_param(a, dtype), as_param(b, dtype)
    shape = broadcast_shape_or_given("beta", shape, a, b)
    key_a, key_b = split2(key)
    log_gamma_a = gamma_floats(key_a, a, shape, log_space=True)
    log_gamma_b = gamma_floats(key_b, b, shape, log_space=True)
    # G_a / (G_a + G_b) scaled by the larger, so neither exponential overflows
    log_max = lax.max(log_gamma_a, log_gamma_b)
    scaled_a = lax.exp(lax.sub(log_gamma_a, log_max))
    scaled_b = lax.exp(lax.sub(log_gamma_b, log_max))
    return lax.div(scaled_a, lax.add(scaled_a, scaled_b))


def dirichlet(key: Any, alpha: Any, shape: Sequence[int] | None = None,
              dtype: Any = None) -> Array:
    """Dirichlet(alpha) samples (``alpha`` of shape ``(..., n)``; result ``shape +
    (n,)``), normalised log-gamma samples, as ``jax.random.dirichlet``.
    Differentiable in `alpha`."""
    key = single_key(key, "dirichlet")
    dtype = float_dtype(dtype, "dirichlet")
    alpha = as_param(alpha, dtype)
    alpha_shape = get_aval(alpha).shape
    if len(alpha_shape) < 1:
        raise ValueError("functrans.random.dirichlet requires alpha.ndim >= 1, got "
                         f"alpha.ndim == {len(alpha_shape)}")
    if shape is None:
        shape = alpha_shape[:-1]
    else:
        shape = canonical_shape(shape, "dirichlet")
        check_param_shapes("dirichlet", shape, np.empty(alpha_shape[:-1]))
    log_gamma_samples = gamma_floats(key, alpha, shape + alpha_shape[-1:], log_space=True)
    return softmax(log_gamma_samples, -1)


def t(key: Any, df: Any, shape: Sequence[int] | None = None, dtype: Any = None) -> Array:
    """Student's t samples with `df` degrees of freedom, ``n sqrt(df / (2 g))`` for a
    normal n and a Gamma(df / 2) sample g, as ``jax.random.t``. Differentiable in
    `df`."""
    key = single_key(key, "t")
    dtype = float_dtype(dtype, "t")
    df = as_param(df, dtype)
    shape = broadcast_shape_or_given("t", shape, df)
    key_n, key_g = split2(key)
    n = normal_real(key_n, shape, dtype)
    half_df = lax.div(df, np.array(2.0, dtype))
    g = gamma_floats(key_g, half_df, shape, log_space=False)
    return fnp.multiply(n, fnp.sqrt(fnp.divide(half_df, g)))


def generalized_normal(key: Any, p: Any, shape: Sequence[int] = (), dtype: Any = None
                       ) -> Array:
    """Samples with density proportional to ``exp(-|x|**p)``, as
    ``jax.random.generalized_normal``: a random sign times ``G**(1/p)``, G
    Gamma(1/p)."""
    key = single_key(key, "generalized_normal")
    dtype = float_dtype(dtype, "generalized_normal")
    shape = canonical_shape(shape, "generalized_normal")
    p = as_param(p, dtype)
    key_g, key_r = split2(key)
    inverse_p = fnp.divide(1.0, p)
    g = gamma_floats(key_g, inverse_p, shape, log_space=False)
    r = rademacher(key_r, shape, dtype)
    return fnp.multiply(r, fnp.power(g, inverse_p))


def ball(key: Any, d: int, p: Any = 2, shape: Sequence[int] = (), dtype: Any = None
         ) -> Array:
    """Points drawn uniformly from the unit Lp ball in `d` dimensions (result
    ``shape + (d,)``), as ``jax.random.ball``: generalized normals divided by
    ``(sum |g|**p + e)**(1/p)``, e exponential (Barthe, Guédon, Mendelson and Naor,
    2005)."""
    key = single_key(key, "ball")
    dtype = float_dtype(dtype, "ball")
    shape = canonical_shape(shape, "ball")
    d = canonical_shape((d,), "ball", "d")[0]
    key_g, key_e = split2(key)
    g = generalized_normal(key_g, p, (*shape, d), dtype)
    e = exponential_floats(key_e, shape, dtype)
    p = as_param(p, dtype)
    radius = fnp.power(fnp.add(fnp.sum(fnp.power(fnp.abs(g), p), axis=-1), e),
                       fnp.divide(1.0, p))
    return fnp.divide(g, radius[..., None])


# ------------------------------------------------------------------ poisson

def _poisson_knuth(key: Array, lam: Array, shape: tuple[int, ...], dtype: np.dtype) -> Array:
    """Count the uniforms whose running product stays above exp(-lam) (all
    elements together, a fresh key per round)."""
    neg_lam = lax.neg(lam)

    def body(carry: tuple) -> tuple:
        k, key, log_product = carry
        key, subkey = split2(key)
        k = lax.select(lax.gt(log_product, neg_lam), lax.add(k, lax.full_like(k, 1)), k)
        u = unit_floats(subkey, shape, np.dtype(np.float32))
        return k, key, lax.add(log_product, lax.log(u))

    def going(carry: tuple) -> Array:
        return fnp.any(lax.gt(carry[2], neg_lam))

    init = (np.zeros(shape, dtype), key, np.zeros(shape, np.float32))
    k = lax.while_loop(going, body, init)[0]
    return lax.sub(k, lax.full_like(k, 1))


def _poisson_rejection(key: Array, lam: Array, shape: tuple[int, ...], dtype: np.dtype
                       ) -> Array:
    """Hörmann's transformed rejection ("The transformed rejection method for
    generating Poisson random variables", 1993), all elements together."""
    log_lam = fnp.log(lam)
    b = fnp.add(0.931, fnp.multiply(2.53, fnp.sqrt(lam)))
    a = fnp.add(-0.059, fnp.multiply(0.02483, b))
    inv_alpha = fnp.add(1.1239, fnp.divide(1.1328, fnp.subtract(b, 3.4)))
    v_r = fnp.subtract(0.9277, fnp.divide(3.6224, fnp.subtract(b, 2)))

    def body(carry: tuple) -> tuple:
        k_out, accepted, key = carry
        keys = split_keys(key, (3,))
        key, key_u, key_v = (lax.index_in_dim(keys, j, keepdims=False) for j in range(3))
        u = fnp.subtract(unit_floats(key_u, shape, np.dtype(np.float32)), 0.5)
        v = unit_floats(key_v, shape, np.dtype(np.float32))
        u_shifted = fnp.subtract(0.5, fnp.abs(u))
        k = fnp.floor(fnp.add(fnp.add(fnp.multiply(fnp.add(fnp.divide(fnp.multiply(2, a),
                                                                       u_shifted), b), u),
                                      lam), 0.43))
        s = fnp.log(fnp.divide(fnp.multiply(v, inv_alpha),
                               fnp.add(fnp.divide(a, fnp.multiply(u_shifted, u_shifted)), b)))
        t_ = fnp.subtract(fnp.add(fnp.negative(lam), fnp.multiply(k, log_lam)),
                          lax.lgamma(fnp.add(k, 1.0)))
        accept1 = fnp.logical_and(fnp.greater_equal(u_shifted, 0.07), fnp.less_equal(v, v_r))
        reject = fnp.logical_or(fnp.less(k, 0), fnp.logical_and(
            fnp.less(u_shifted, 0.013), fnp.greater(v, u_shifted)))
        accept = fnp.logical_or(accept1, fnp.logical_and(fnp.logical_not(reject),
                                                         fnp.less_equal(s, t_)))
        k_out = lax.select(accept, k, k_out)
        return k_out, fnp.logical_or(accepted, accept), key

    def going(carry: tuple) -> Array:
        return fnp.any(fnp.logical_not(carry[1]))

    init = (np.full(shape, -1.0, np.float32), np.zeros(shape, bool), key)
    k = lax.while_loop(going, body, init)[0]
    return lax.convert_element_type(k, dtype)


def poisson(key: Any, lam: Any, shape: Sequence[int] | None = None, dtype: Any = None, *,
            method: str = "exact") -> Array:
    """Poisson(lam) counts (int64 by default), as ``jax.random.poisson``: Knuth's
    algorithm where ``lam < 10``, transformed rejection elsewhere, computed in
    float32 as JAX does. Equal to JAX's up to the rounding of ``log`` and
    ``lgamma`` in the acceptance tests."""
    key = single_key(key, "poisson")
    _check_method(method, "poisson")
    dtype = np.dtype(np.int64 if dtype is None else dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"functrans.random.poisson: dtype must be an integer dtype, got {dtype}")
    lam = lam if not isinstance(lam, (int, float)) else np.asarray(lam)
    lam_shape = get_aval(fnp.asarray(lam)).shape
    shape = lam_shape if shape is None else canonical_shape(shape, "poisson")
    check_param_shapes("poisson", shape, np.empty(lam_shape))
    lam = fnp.broadcast_to(as_param(lam, np.dtype(np.float32)), shape)
    use_knuth = fnp.logical_or(fnp.isnan(lam), fnp.less(lam, 10))
    lam_knuth = fnp.where(use_knuth, lam, 0.0)
    lam_rejection = fnp.where(use_knuth, 1e5, lam)  # any value where rejection converges
    result = fnp.where(use_knuth, _poisson_knuth(key, lam_knuth, shape, dtype),
                       _poisson_rejection(key, lam_rejection, shape, dtype))
    return fnp.where(fnp.equal(lam, 0), np.zeros((), dtype), result)
