"""Samplers built from uniform bits: the same algorithms, in the same order, as
``jax/_src/random/core.py``, so a key gives JAX's numbers.

``uniform`` puts random bits in the mantissa of a float in ``[1, 2)`` and
subtracts 1; ``normal`` is ``sqrt(2) erf_inv(u)`` of a uniform ``u`` in
``(-1, 1)``; the others transform uniforms (``exponential``, ``laplace``,
``logistic``, ``cauchy``, ``gumbel``, ``truncated_normal``) or compare against
them (``bernoulli``). ``randint`` reduces two draws of random bits modulo the
range; ``permutation`` sorts by random 32-bit keys, over as many rounds as JAX.

Every function is a composition of ``functrans.lax``/``functrans.numpy``
operations, so ``jit``, ``vmap`` (over keys or parameters) and derivatives with
respect to the parameters (``minval``, ``maxval``, ``lower``, ``upper``, ``mean``,
``cov``, ``p``, ``logits``...) come from the primitives' rules.

The internal helpers (``_uniform``, ``_normal_real``...) accept a batch of keys
``(*batch, 2)`` and return ``(*batch, *shape)``; the public functions take one key.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans import lax
from functrans.core.avals import get_aval
from functrans.core.trace import Tracer
from functrans.numpy._util import Array, canonicalize_axis, static_int
from functrans.random._keys import (
    UINT_DTYPES,
    canonical_shape,
    random_bits,
    single_key,
    split2,
)

__all__ = ["uniform", "normal", "randint", "permutation", "shuffle", "choice", "bernoulli",
           "categorical", "gumbel", "exponential", "laplace", "logistic", "cauchy",
           "truncated_normal", "multivariate_normal", "orthogonal", "rademacher"]

SQRT2 = math.sqrt(2.0)


# ------------------------------------------------------------------ arguments

def float_dtype(dtype: Any, fname: str, kinds: str = "f") -> np.dtype:
    """`dtype` (float64 when None, JAX's default with ``jax_enable_x64``), checked."""
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    if dtype.kind not in kinds:
        what = "a float or complex" if "c" in kinds else "a float"
        raise ValueError(f"functrans.random.{fname}: dtype argument to `{fname}` must be "
                         f"{what} dtype, got {dtype}")
    return dtype


def as_param(x: Any, dtype: np.dtype) -> Array:
    """A distribution parameter as an array of `dtype` (traced values keep their
    derivative: the conversion is linear)."""
    if not isinstance(x, Tracer):
        x = np.asarray(x)
    return lax.convert_element_type(x, dtype)


def shape_of(x: Any) -> tuple[int, ...]:
    return get_aval(x).shape


def check_param_shapes(fname: str, shape: tuple[int, ...], *params: Any) -> None:
    """Parameters must broadcast to `shape` exactly (as JAX's ``_check_shape``)."""
    param_shapes = [shape_of(p) for p in params]
    try:
        joint = np.broadcast_shapes(shape, *param_shapes)
    except ValueError:
        joint = None
    if joint != shape:
        raise ValueError(f"functrans.random.{fname}: parameter shapes "
                         f"{', '.join(map(str, param_shapes))} must broadcast to the shape "
                         f"argument {shape}, and their broadcast with it must equal it")


def broadcast_shape_or_given(fname: str, shape: Any, *params: Any) -> tuple[int, ...]:
    """`shape` checked against the parameters, or their broadcast shape when None."""
    if shape is None:
        try:
            return tuple(np.broadcast_shapes(*(shape_of(p) for p in params)))
        except ValueError:
            raise ValueError(f"functrans.random.{fname}: parameter shapes "
                             f"{', '.join(str(shape_of(p)) for p in params)} do not "
                             "broadcast together") from None
    shape = canonical_shape(shape, fname)
    check_param_shapes(fname, shape, *params)
    return shape


# ------------------------------------------------------------------ uniform and normal

def unit_floats(keys: Array, shape: tuple[int, ...], dtype: np.dtype) -> Array:
    """Uniform floats in [0, 1): random mantissa bits under the exponent of 1.0
    give a float in [1, 2), minus 1 (exactly representable)."""
    info = np.finfo(dtype)
    nbits, nmant = info.bits, info.nmant
    uint = UINT_DTYPES[nbits]
    one_bits = int(np.array(1.0, dtype).view(uint))
    mantissa = lax.shift_right_logical(random_bits(keys, nbits, shape), nbits - nmant)
    floats = lax.bitcast_convert_type(lax.bitwise_or(mantissa, one_bits), dtype)
    return lax.sub(floats, 1.0)


def uniform_floats(keys: Array, shape: tuple[int, ...], dtype: np.dtype, minval: Any,
                   maxval: Any) -> Array:
    """Uniform floats in [minval, maxval): the unit draws scaled, then kept at or
    above `minval` (which rounding could cross), as JAX's ``_uniform``."""
    floats = unit_floats(keys, shape, dtype)
    low, high = as_param(minval, dtype), as_param(maxval, dtype)
    scaled = fnp.add(fnp.multiply(floats, fnp.subtract(high, low)), low)
    return fnp.maximum(low, scaled)


def uniform(key: Any, shape: Sequence[int] = (), dtype: Any = None, minval: Any = 0.0,
            maxval: Any = 1.0) -> Array:
    """Uniform samples in ``[minval, maxval)``, as ``jax.random.uniform``
    (float64 by default). Differentiable in `minval` and `maxval`.

    Bit-identical to JAX for the same key. JAX on a CPU fuses the final
    ``u * (maxval - minval) + minval`` into one fused multiply-add; functrans
    rounds the product and the sum separately, so with bounds other than 0 and 1
    the last bit may differ.
    """
    key = single_key(key, "uniform")
    dtype = float_dtype(dtype, "uniform")
    shape = canonical_shape(shape, "uniform")
    if _is_unit_interval(minval, maxval):
        return unit_floats(key, shape, dtype)  # u * (1 - 0) + 0 is u
    low, high = as_param(minval, dtype), as_param(maxval, dtype)
    check_param_shapes("uniform", shape, low, high)
    return uniform_floats(key, shape, dtype, low, high)


def _is_unit_interval(minval: Any, maxval: Any) -> bool:
    return (type(minval) is float and type(maxval) is float and minval == 0.0
            and maxval == 1.0 and math.copysign(1.0, minval) > 0)


def normal_real(keys: Array, shape: tuple[int, ...], dtype: np.dtype) -> Array:
    """Standard normal floats: ``sqrt(2) erf_inv(u)``, u uniform in (-1, 1)."""
    low = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    u = uniform_floats(keys, shape, dtype, low, np.array(1.0, dtype))
    return lax.mul(lax.erf_inv(u), SQRT2)


def normal(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Standard normal samples, as ``jax.random.normal`` (float64 by default). A
    complex dtype gives ``(x + i y) / sqrt(2)`` of two independent normals (from
    the two halves of ``split(key)``). Equal to JAX's up to rounding (the
    inverse error function is computed in float64 and rounded)."""
    key = single_key(key, "normal")
    dtype = float_dtype(dtype, "normal", kinds="fc")
    shape = canonical_shape(shape, "normal")
    if dtype.kind == "c":
        real_dtype = np.finfo(dtype).dtype
        key_re, key_im = split2(key)
        re, im = (lax.div(normal_real(k, shape, real_dtype), SQRT2) for k in (key_re, key_im))
        return lax.convert_element_type(lax.complex(re, im), dtype)
    return normal_real(key, shape, dtype)


# ------------------------------------------------------------------ integers

def _int_param(x: Any) -> Array:
    """An integer bound as an integer array (floats truncate, as JAX's ``astype(int)``)."""
    if not isinstance(x, Tracer):
        x = np.asarray(x)
    dtype = get_aval(x).dtype
    return x if dtype.kind in "iu" else lax.convert_element_type(x, np.int64)


def _clip_to_dtype(x: Array, dtype: np.dtype) -> Array:
    """`x` converted to integer `dtype`, clipped to its range rather than wrapped
    (JAX's ``_convert_and_clip_integer``)."""
    src = np.iinfo(get_aval(x).dtype)
    dst = np.iinfo(dtype)
    low, high = max(int(src.min), int(dst.min)), min(int(src.max), int(dst.max))
    return lax.convert_element_type(lax.clamp(low, x, high), dtype)


def _rem(x: Array, span: Array) -> Array:
    """``x % span`` for unsigned `span`, ``x`` itself where ``span == 0`` (XLA's
    remainder by zero, which randint's full-range case relies on)."""
    zero = lax.eq(span, lax.full_like(span, 0))
    safe = lax.select(zero, lax.full_like(span, 1), span)
    return lax.select(zero, x, lax.rem(x, safe))


def _randint(key: Array, shape: tuple[int, ...], minval: Array, maxval: Array,
             dtype: np.dtype) -> Array:
    """JAX's ``_randint``: two draws of ``nbits`` random bits, reduced modulo the
    span as one ``2 * nbits``-bit number (less biased than one draw)."""
    info = np.iinfo(dtype)
    nbits = info.bits
    max_in_bound_dtype = _clip_to_dtype(np.asarray(info.max, dtype), get_aval(maxval).dtype)
    maxval_out_of_range = fnp.greater(maxval, max_in_bound_dtype)
    minval = fnp.broadcast_to(_clip_to_dtype(minval, dtype), shape)
    maxval = fnp.broadcast_to(_clip_to_dtype(maxval, dtype), shape)
    maxval_out_of_range = fnp.broadcast_to(maxval_out_of_range, shape)

    key_high, key_low = split2(key)
    higher_bits = random_bits(key_high, nbits, shape)
    lower_bits = random_bits(key_low, nbits, shape)

    unsigned = UINT_DTYPES[nbits]
    span = lax.convert_element_type(lax.sub(maxval, minval), unsigned)
    one = lax.full_like(span, 1)
    span = lax.select(lax.le(maxval, minval), one, span)  # minval when the range is empty
    # an exclusive maxval beyond the dtype: the span is one larger (0 when it wraps)
    span = lax.select(lax.bitwise_and(maxval_out_of_range, lax.gt(maxval, minval)),
                      lax.add(span, one), span)
    # 2**nbits % span, as (2**(nbits/2) % span)**2 % span so nothing overflows
    multiplier = _rem(lax.full_like(span, 2 ** (nbits // 2)), span)
    multiplier = _rem(lax.mul(multiplier, multiplier), span)
    offset = lax.add(lax.mul(_rem(higher_bits, span), multiplier), _rem(lower_bits, span))
    offset = _rem(offset, span)
    return lax.add(minval, lax.convert_element_type(offset, dtype))


def randint(key: Any, shape: Sequence[int], minval: Any, maxval: Any,
            dtype: Any = None) -> Array:
    """Uniform integers in ``[minval, maxval)``, as ``jax.random.randint`` (int64 by
    default). Bit-identical to JAX for the same key.

    As in JAX the reduction modulo the range is slightly biased unless the range is
    a power of two; 8- and 16-bit dtypes are sampled in 32 bits to keep the bias
    small. An empty range (``maxval <= minval``) gives `minval`.
    """
    key = single_key(key, "randint")
    shape = canonical_shape(shape, "randint")
    dtype = np.dtype(np.int64 if dtype is None else dtype)
    if dtype.kind not in "iu":
        raise TypeError(f"functrans.random.randint only accepts integer dtypes, got {dtype}")
    minval, maxval = _int_param(minval), _int_param(maxval)
    check_param_shapes("randint", shape, minval, maxval)
    if dtype.itemsize >= 4:
        return _randint(key, shape, minval, maxval, dtype)
    info = np.iinfo(dtype)
    int32 = np.dtype(np.int32)
    minval = lax.clamp(int(info.min), lax.convert_element_type(minval, int32), int(info.max))
    maxval = lax.clamp(int(info.min), lax.convert_element_type(maxval, int32),
                       int(info.max) + 1)
    return lax.convert_element_type(_randint(key, shape, minval, maxval, int32), dtype)


# ------------------------------------------------------------------ permutations

def _shuffle(key: Array, x: Array, axis: int) -> Array:
    """Sort `x` along `axis` by random 32-bit keys, in as many rounds as JAX uses
    (``ceil(3 ln(size) / ln(2**32 - 1))``; after a round where every key differs
    the permutation is uniform; the sort is stable)."""
    shape = shape_of(x)
    size = math.prod(shape)
    uint32_max = np.iinfo(np.uint32).max
    num_rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(uint32_max)))
    for _ in range(num_rounds):
        key, subkey = split2(key)
        sort_keys = random_bits(subkey, 32, shape)
        _, x = lax.sort_key_val(sort_keys, x, axis)
    return x


def _as_array(x: Any) -> Array:
    return x if isinstance(x, Tracer) else np.asarray(x)


def permutation(key: Any, x: Any, axis: int = 0, independent: bool = False) -> Array:
    """A random permutation of ``arange(x)`` (an integer `x`) or of `x` along `axis`,
    as ``jax.random.permutation``. With ``independent=True`` every slice along
    `axis` is permuted independently. Bit-identical to JAX for the same key."""
    key = single_key(key, "permutation")
    x = _as_array(x)
    aval = get_aval(x)
    if aval.ndim == 0:
        if aval.dtype.kind not in "iu":
            raise TypeError("functrans.random.permutation: x must be an integer or at least "
                            f"1-dimensional, got {aval.str_short()}")
        n = static_int(x, "random.permutation", "x")
        return _shuffle(key, np.arange(n, dtype=np.int64), 0)
    axis = canonicalize_axis(axis, aval.ndim, "random.permutation")
    if independent or aval.ndim == 1:
        return _shuffle(key, x, axis)
    order = _shuffle(key, np.arange(aval.shape[axis], dtype=np.int64), 0)
    return fnp.take(x, order, axis=axis)


def shuffle(key: Any, x: Any, axis: int = 0) -> Array:
    """`x` with each slice along `axis` permuted independently: the former
    ``jax.random.shuffle`` (removed from JAX in favour of
    ``permutation(key, x, axis, independent=True)``, which this equals)."""
    key = single_key(key, "shuffle")
    x = _as_array(x)
    axis = canonicalize_axis(axis, max(1, get_aval(x).ndim), "random.shuffle")
    return _shuffle(key, x, axis)


def choice(key: Any, a: Any, shape: Sequence[int] = (), replace: bool = True,
           p: Any = None, axis: int = 0, mode: str | None = None) -> Array:
    """A random sample of the entries of `a` (or of ``arange(a)`` for an integer
    `a`) along `axis`, as ``jax.random.choice``: with replacement by ``randint``;
    without by a permutation; with probabilities `p` by inverting their cumulative
    sum (with replacement) or by the Gumbel top-k trick (without). Bit-identical
    to JAX for the same key without `p`; with `p` the cumulative sum may round
    differently, which moves a sample only if it falls on a boundary."""
    key = single_key(key, "choice")
    if not isinstance(shape, Sequence):
        raise TypeError("functrans.random.choice: shape argument must be a sequence, got "
                        f"{shape!r}")
    shape = canonical_shape(shape, "choice")
    arr = _as_array(a)
    aval = get_aval(arr)
    if aval.ndim == 0:
        n_inputs = static_int(arr, "random.choice", "a")
    else:
        axis = canonicalize_axis(axis, aval.ndim, "random.choice")
        n_inputs = aval.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return np.zeros(shape, aval.dtype)
    if n_inputs <= 0:
        raise ValueError("functrans.random.choice: a must be greater than 0 unless no "
                         "samples are taken")
    if not replace and n_draws > n_inputs:
        raise ValueError(f"functrans.random.choice: cannot take a larger sample (size "
                         f"{n_draws}) than population (size {n_inputs}) when "
                         "'replace=False'")
    if p is None:
        if replace:
            ind = randint(key, shape, 0, n_inputs)
            result = ind if aval.ndim == 0 else fnp.take(arr, ind, axis=axis)
        else:
            population = n_inputs if aval.ndim == 0 else arr
            permuted = permutation(key, population, axis if aval.ndim else 0)
            result = lax.slice_in_dim(permuted, 0, n_draws, axis=axis if aval.ndim else 0)
    else:
        p_arr = _as_array(p)
        if get_aval(p_arr).dtype.kind not in "fc":
            p_arr = lax.convert_element_type(p_arr, np.float64)
        if shape_of(p_arr) != (n_inputs,):
            raise ValueError("functrans.random.choice: p must be None or a 1D vector with the "
                             f"same size as a.shape[axis]. p has shape {shape_of(p_arr)} and "
                             f"a.shape[axis] is {n_inputs}.")
        if replace:
            p_cumulative = fnp.cumsum(p_arr)
            total = lax.index_in_dim(p_cumulative, n_inputs - 1, keepdims=False)
            u = unit_floats(key, shape, get_aval(p_cumulative).dtype)
            r = fnp.multiply(total, fnp.subtract(1.0, u))
            ind = fnp.searchsorted(p_cumulative, r).astype(np.int64)
        else:
            g = fnp.add(gumbel(key, (n_inputs,), get_aval(p_arr).dtype, mode), fnp.log(p_arr))
            ind = lax.convert_element_type(lax.top_k(g, n_draws)[1], np.int64)
        result = ind if aval.ndim == 0 else fnp.take(arr, ind, axis=axis)
    out_shape = shape if aval.ndim == 0 else (
        aval.shape[:axis] + tuple(shape) + aval.shape[axis + 1:])
    return fnp.reshape(result, out_shape)


# ------------------------------------------------------------------ from one uniform

def bernoulli(key: Any, p: Any = 0.5, shape: Sequence[int] | None = None,
              mode: str = "low") -> Array:
    """Booleans that are True with probability `p`, as ``jax.random.bernoulli``
    (``uniform < p``). ``mode='high'`` adds a second uniform's bits below the
    first's, for probabilities below the dtype's resolution."""
    key = single_key(key, "bernoulli")
    if mode not in ("high", "low"):
        raise ValueError(f"functrans.random.bernoulli: got mode={mode!r}, expected 'high' "
                         "or 'low'")
    p = _as_array(p)
    dtype = get_aval(p).dtype
    if dtype.kind != "f":
        raise TypeError("functrans.random.bernoulli: probability `p` must have a floating "
                        f"dtype, got {dtype}")
    shape = shape_of(p) if shape is None else canonical_shape(shape, "bernoulli")
    check_param_shapes("bernoulli", shape, p)
    if mode == "high":
        u = unit_floats(key, (2, *shape), dtype)
        u1 = lax.index_in_dim(u, 0, keepdims=False)
        u2 = lax.mul(lax.index_in_dim(u, 1, keepdims=False), 2.0 ** -np.finfo(dtype).nmant)
        return fnp.less(u2, fnp.subtract(p, u1))
    return fnp.less(unit_floats(key, shape, dtype), p)


def rademacher(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """-1 or +1 with equal probability, as ``jax.random.rademacher`` (int64 by
    default): ``2 * bernoulli(key, 0.5, shape) - 1``."""
    key = single_key(key, "rademacher")
    dtype = np.dtype(np.int64 if dtype is None else dtype)
    shape = canonical_shape(shape, "rademacher")
    samples = lax.convert_element_type(bernoulli(key, 0.5, shape), dtype)
    return lax.sub(lax.mul(samples, 2), lax.full_like(samples, 1))


def _safe_int_to_float(hi: Array, lo: Array) -> Array:
    """Two uint32 words of a 64-bit fixed-point number in (0, 1) as the nearest
    float32, exponent included (JAX's ``_safe_int_to_float``)."""
    info = np.finfo(np.float32)
    hi_clz, lo_clz = lax.clz(hi), lax.clz(lo)
    all_high_zero = lax.eq(hi_clz, lax.full_like(hi_clz, 32))
    mantissa = lax.bitwise_or(
        lax.shift_left(hi, hi_clz),
        lax.select(all_high_zero, lax.shift_left(lo, lo_clz),
                   lax.shift_right_logical(lo, lax.sub(lax.full_like(hi_clz, 32), hi_clz))))
    mantissa = lax.shift_right_logical(mantissa, info.bits - info.nmant - 1)
    mantissa = lax.bitwise_and(mantissa, (1 << info.nmant) - 1)
    leading = lax.select(all_high_zero, lax.add(lo_clz, 32), hi_clz)
    exponent = lax.shift_left(lax.sub(lax.full_like(leading, -info.minexp), leading),
                              info.nmant)
    exponent = lax.bitwise_and(exponent, (1 << (info.bits - 2)) - (1 << (info.nmant - 1)))
    return lax.bitcast_convert_type(lax.bitwise_or(exponent, mantissa), np.float32)


def _gumbel_highest_f32(key: Array, shape: tuple[int, ...]) -> Array:
    bits = random_bits(key, 32, (2, *shape))
    neg = lax.bitwise_not(bits)
    neg_lo = lax.index_in_dim(neg, 1, keepdims=False)
    carry = lax.convert_element_type(lax.eq(neg_lo, lax.full_like(neg_lo, 2**32 - 1)),
                                     np.uint32)
    neg = lax.add(neg, lax.concatenate([lax.expand_dims(carry, (0,)),
                                        lax.full_like(neg, 1, shape=(1, *shape))], 0))
    hi = lax.index_in_dim(bits, 0, keepdims=False)
    flip = lax.lt(hi, lax.full_like(hi, 1 << 31))
    chosen = lax.select(lax.broadcast_in_dim(flip, (2, *shape), tuple(range(1, len(shape) + 1))),
                        bits, neg)
    x = _safe_int_to_float(lax.index_in_dim(chosen, 0, keepdims=False),
                           lax.index_in_dim(chosen, 1, keepdims=False))
    small = lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x)))))
    large = lax.neg(lax.log(lax.neg(lax.log(x))))
    return lax.select(flip, small, large)


def gumbel(key: Any, shape: Sequence[int] = (), dtype: Any = None,
           mode: str | None = None) -> Array:
    """Standard Gumbel samples ``-log(-log(u))``, as ``jax.random.gumbel``. ``mode``
    'low' (default) draws one uniform in ``[tiny, 1)``; 'high' combines two for
    more resolution near 0; 'highest' (float32) builds the uniform from 64 bits."""
    key = single_key(key, "gumbel")
    dtype = float_dtype(dtype, "gumbel")
    shape = canonical_shape(shape, "gumbel")
    mode = "low" if mode is None else mode
    if mode not in ("highest", "high", "low"):
        raise ValueError(f"functrans.random.gumbel: mode must be 'low', 'high' or 'highest', "
                         f"got {mode!r}")
    info = np.finfo(dtype)
    if mode == "highest" and dtype == np.float32:
        return _gumbel_highest_f32(key, shape)
    if mode in ("high", "highest"):
        u = unit_floats(key, (2, *shape), dtype)
        high, low = (lax.index_in_dim(u, i, keepdims=False) for i in (0, 1))
        offset = max(2.0 ** -(2 * info.nmant + 1), float(info.tiny))
        combined = lax.add(lax.add(high, lax.mul(low, 2.0 ** -info.nmant)), offset)
        x = lax.select(lax.ge(high, lax.full_like(high, 0.5)), high, combined)
        return lax.neg(lax.log(lax.neg(lax.log1p(lax.neg(x)))))
    u = uniform_floats(key, shape, dtype, np.array(info.tiny, dtype), np.array(1.0, dtype))
    return lax.neg(lax.log(lax.neg(lax.log(u))))


def categorical(key: Any, logits: Any, axis: int = -1, shape: Sequence[int] | None = None,
                replace: bool = True, mode: str | None = None) -> Array:
    """Samples of the categories along `axis` with probabilities ``softmax(logits)``,
    as ``jax.random.categorical``: ``argmax(logits + gumbel)`` (with replacement),
    or the top-k of one Gumbel perturbation (without: the leading axes of `shape`
    count the draws). Indices are int64 with replacement, int32 without, as in
    JAX with ``jax_enable_x64``."""
    key = single_key(key, "categorical")
    logits = _as_array(logits)
    logits_shape = shape_of(logits)
    ndim = len(logits_shape)
    axis = canonicalize_axis(axis, ndim, "random.categorical")
    batch_shape = logits_shape[:axis] + logits_shape[axis + 1:]
    if shape is None:
        shape = batch_shape
    else:
        shape = canonical_shape(shape, "categorical")
        check_param_shapes("categorical", shape, np.empty(batch_shape))
    dtype = get_aval(logits).dtype
    prefix = shape[:len(shape) - len(batch_shape)]
    if replace:
        sample_shape = list(shape[len(shape) - len(batch_shape):])
        sample_shape.insert(axis, logits_shape[axis])
        noise = gumbel(key, (*prefix, *sample_shape), dtype, mode)
        expanded = lax.expand_dims(logits, tuple(range(len(prefix)))) if prefix else logits
        return fnp.argmax(fnp.add(noise, expanded), axis=axis + len(prefix))
    perturbed = fnp.add(logits, gumbel(key, logits_shape, dtype, mode))
    k = math.prod(prefix)
    if k > logits_shape[axis]:
        raise ValueError(f"functrans.random.categorical: number of samples without "
                         f"replacement ({k}) cannot exceed number of categories "
                         f"({logits_shape[axis]})")
    _, indices = lax.top_k(fnp.moveaxis(perturbed, axis, -1), k)
    last = len(batch_shape)
    return lax.reshape(indices, shape, (last, *range(last)))


def exponential(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Standard exponential samples ``-log1p(-u)``, as ``jax.random.exponential``."""
    key = single_key(key, "exponential")
    dtype = float_dtype(dtype, "exponential")
    return exponential_floats(key, canonical_shape(shape, "exponential"), dtype)


def exponential_floats(keys: Array, shape: tuple[int, ...], dtype: np.dtype) -> Array:
    return lax.neg(lax.log1p(lax.neg(unit_floats(keys, shape, dtype))))


def laplace(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Standard Laplace samples ``sign(u) log1p(-|u|)``, u uniform in (-1, 1), as
    ``jax.random.laplace``."""
    key = single_key(key, "laplace")
    dtype = float_dtype(dtype, "laplace")
    low = np.array(-1.0 + np.finfo(dtype).epsneg, dtype)
    u = uniform_floats(key, canonical_shape(shape, "laplace"), dtype, low, np.array(1.0, dtype))
    return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


def logistic(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Standard logistic samples ``log(u) - log1p(-u)``, as ``jax.random.logistic``."""
    key = single_key(key, "logistic")
    dtype = float_dtype(dtype, "logistic")
    tiny = np.array(np.finfo(dtype).tiny, dtype)
    x = uniform_floats(key, canonical_shape(shape, "logistic"), dtype, tiny,
                       np.array(1.0, dtype))
    return lax.sub(lax.log(x), lax.log1p(lax.neg(x)))


def cauchy(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Standard Cauchy samples ``tan(pi (u - 1/2))``, as ``jax.random.cauchy``."""
    key = single_key(key, "cauchy")
    dtype = float_dtype(dtype, "cauchy")
    eps = np.array(np.finfo(dtype).eps, dtype)
    u = uniform_floats(key, canonical_shape(shape, "cauchy"), dtype, eps, np.array(1.0, dtype))
    return lax.tan(lax.mul(lax.sub(u, 0.5), math.pi))


def truncated_normal(key: Any, lower: Any, upper: Any, shape: Sequence[int] | None = None,
                     dtype: Any = None) -> Array:
    """Standard normal samples truncated to ``(lower, upper)``, as
    ``jax.random.truncated_normal``: the inverse CDF of a uniform between
    ``erf(lower / sqrt 2)`` and ``erf(upper / sqrt 2)``, clipped into the open
    interval. Differentiable in `lower` and `upper`."""
    key = single_key(key, "truncated_normal")
    dtype = float_dtype(dtype, "truncated_normal")
    lower, upper = as_param(lower, dtype), as_param(upper, dtype)
    shape = broadcast_shape_or_given("truncated_normal", shape, lower, upper)
    a = lax.erf(lax.div(lower, SQRT2))
    b = lax.erf(lax.div(upper, SQRT2))
    u = uniform_floats(key, shape, dtype, a, b)
    out = lax.mul(lax.erf_inv(u), SQRT2)
    inf = np.array(np.inf, dtype)
    above = lax.nextafter(lax.stop_gradient(lower), fnp.broadcast_to(inf, shape_of(lower)))
    below = lax.nextafter(lax.stop_gradient(upper), fnp.broadcast_to(-inf, shape_of(upper)))
    return fnp.clip(out, above, below)


# ------------------------------------------------------------------ matrices

def multivariate_normal(key: Any, mean: Any, cov: Any, shape: Sequence[int] | None = None,
                        dtype: Any = None, method: str = "cholesky") -> Array:
    """Multivariate normal samples ``mean + F z`` with ``F F^T = cov`` and ``z``
    standard normal, as ``jax.random.multivariate_normal``. `mean` is ``(..., n)``,
    `cov` ``(..., n, n)``; the result is ``shape + (n,)``. `method` picks the factor
    ``F``: ``'cholesky'`` (default, positive definite `cov`), or ``'svd'`` / ``'eigh'``
    (``U sqrt(S)``, also for singular covariances). Differentiable in `mean` and
    `cov`."""
    key = single_key(key, "multivariate_normal")
    if method not in ("svd", "eigh", "cholesky"):
        raise ValueError("functrans.random.multivariate_normal: method must be one of "
                         f"'svd', 'eigh' and 'cholesky', got {method!r}")
    mean, cov = _as_array(mean), _as_array(cov)
    param_dtype = fnp.result_type(mean, cov)
    param_dtype = param_dtype if param_dtype.kind == "f" else np.dtype(np.float64)
    dtype = param_dtype if dtype is None else float_dtype(dtype, "multivariate_normal")
    mean, cov = as_param(mean, param_dtype), as_param(cov, param_dtype)
    mean_shape, cov_shape = shape_of(mean), shape_of(cov)
    if len(mean_shape) < 1:
        raise ValueError("functrans.random.multivariate_normal requires mean.ndim >= 1, got "
                         f"mean.ndim == {len(mean_shape)}")
    if len(cov_shape) < 2:
        raise ValueError("functrans.random.multivariate_normal requires cov.ndim >= 2, got "
                         f"cov.ndim == {len(cov_shape)}")
    n = mean_shape[-1]
    if cov_shape[-2:] != (n, n):
        raise ValueError(f"functrans.random.multivariate_normal requires cov.shape == (..., n, "
                         f"n) for n={n}, but got cov.shape == {cov_shape}.")
    if shape is None:
        shape = tuple(np.broadcast_shapes(mean_shape[:-1], cov_shape[:-2]))
    else:
        shape = canonical_shape(shape, "multivariate_normal")
        check_param_shapes("multivariate_normal", shape, np.empty(mean_shape[:-1]),
                           np.empty(cov_shape[:-2]))
    if method == "svd":
        u, s, _ = fnp.linalg.svd(cov)
        factor = fnp.multiply(u, fnp.sqrt(s)[..., None, :])
    elif method == "eigh":
        w, v = fnp.linalg.eigh(cov)
        factor = fnp.multiply(v, fnp.sqrt(w)[..., None, :])
    else:
        factor = fnp.linalg.cholesky(cov)
    z = normal_real(key, (*shape, n), dtype)
    return fnp.add(mean, fnp.einsum("...ij,...j->...i", factor, z))


def orthogonal(key: Any, n: int, shape: Sequence[int] = (), dtype: Any = None,
               m: int | None = None) -> Array:
    """A matrix drawn uniformly from the orthogonal group O(n) (``shape + (n, m)``;
    semi-orthogonal rows or columns when ``m != n``), as ``jax.random.orthogonal``:
    the Q factor of a normal matrix, its columns' signs fixed so that R has a
    positive diagonal (Mezzadri 2007)."""
    key = single_key(key, "orthogonal")
    dtype = float_dtype(dtype, "orthogonal")
    shape = canonical_shape(shape, "orthogonal")
    n = static_int(n, "random.orthogonal", "n")
    m = n if m is None else static_int(m, "random.orthogonal", "m")
    z = normal_real(key, (*shape, max(n, m), min(n, m)), dtype)
    q, r = fnp.linalg.qr(z)
    signs = fnp.sign(fnp.diagonal(r, axis1=-2, axis2=-1))
    q = fnp.multiply(q, signs[..., None, :])
    return fnp.swapaxes(q, -1, -2) if n < m else q

