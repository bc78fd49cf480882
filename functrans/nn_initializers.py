"""``functrans.nn.initializers``: weight initializers, as ``jax.nn.initializers``.

An initializer is a function ``init(key, shape, dtype=None) -> array`` of a
:mod:`functrans.random` key; the builders (``glorot_normal()``, ``normal(0.1)``,
``variance_scaling(...)``) return one. The same key gives JAX's numbers (up to
the rounding of the samplers built on ``erf_inv``). The default dtype is float64
(JAX's with ``jax_enable_x64``). Initializers work under ``jit`` and ``vmap``.

The variance-scaling family scales samples to variance ``scale / n``, with ``n``
the fan-in, fan-out, their mean or their geometric mean, computed from the
``in_axis``/``out_axis``/``batch_axis`` of the weight shape; the remaining axes
are a convolution's receptive field and multiply both fans.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

import functrans.numpy as fnp
from functrans import random
from functrans.numpy._util import Array, canonicalize_axis, cast

__all__ = ["Initializer", "zeros", "ones", "constant", "uniform", "normal", "truncated_normal",
           "variance_scaling", "glorot_uniform", "glorot_normal", "xavier_uniform",
           "xavier_normal", "lecun_uniform", "lecun_normal", "he_uniform", "he_normal",
           "kaiming_uniform", "kaiming_normal", "orthogonal"]


def __dir__() -> list[str]:
    """The module's API (not the names it imports)."""
    return sorted(__all__)


#: ``init(key, shape, dtype=None) -> array``
Initializer = Callable[..., Array]
Axes = int | Sequence[int]

#: the standard deviation of a standard normal truncated to (-2, 2), and of a complex
#: standard normal with its modulus truncated to 2 (JAX's constants)
_TRUNCATED_STDDEV = 0.87962566103423978
_COMPLEX_TRUNCATED_STDDEV = 0.95311164380491208


def _dtype(dtype: Any) -> np.dtype:
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    if dtype.kind not in "fc":
        raise ValueError(f"functrans.nn.initializers: dtype must be a float or complex "
                         f"dtype, got {dtype}")
    return dtype


def _shape(shape: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in shape) if isinstance(shape, Sequence) else (int(shape),)


def zeros(key: Any, shape: Sequence[int], dtype: Any = None) -> Array:
    """An array of zeros (the key is ignored)."""
    return np.zeros(_shape(shape), _dtype(dtype))


def ones(key: Any, shape: Sequence[int], dtype: Any = None) -> Array:
    """An array of ones (the key is ignored)."""
    return np.ones(_shape(shape), _dtype(dtype))


def constant(value: Any, dtype: Any = None) -> Initializer:
    """An initializer that fills arrays with `value`."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Array:
        return fnp.full(_shape(shape), value, dtype=_dtype(dtype))
    return init


def uniform(scale: Any = 1e-2, dtype: Any = None) -> Initializer:
    """An initializer of samples uniform in ``[0, scale)``."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Array:
        dtype = _dtype(dtype)
        return fnp.multiply(random.uniform(key, _shape(shape), dtype), np.asarray(scale, dtype))
    return init


def normal(stddev: Any = 1e-2, dtype: Any = None) -> Initializer:
    """An initializer of normal samples with mean 0 and standard deviation `stddev`."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Array:
        dtype = _dtype(dtype)
        return fnp.multiply(random.normal(key, _shape(shape), dtype), np.asarray(stddev, dtype))
    return init


def truncated_normal(stddev: Any = 1e-2, dtype: Any = None, lower: Any = -2.0,
                     upper: Any = 2.0) -> Initializer:
    """An initializer of standard normal samples truncated to ``(lower, upper)``,
    times `stddev` (no correction for the truncation's smaller spread, as in JAX)."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Array:
        dtype = _dtype(dtype)
        samples = random.truncated_normal(key, lower, upper, _shape(shape), dtype)
        return fnp.multiply(samples, np.asarray(stddev, dtype))
    return init


def _product(shape: tuple[int, ...], axes: Axes) -> int:
    if isinstance(axes, int):
        return shape[axes]
    return math.prod(shape[a] for a in axes)


def _compute_fans(shape: tuple[int, ...], in_axis: Axes, out_axis: Axes,
                  batch_axis: Axes) -> tuple[float, float]:
    """(fan_in, fan_out): the input and output sizes, each times the receptive field
    (the product of the axes that are neither input, output nor batch)."""
    if isinstance(in_axis, int) and in_axis == -2 and len(shape) <= 1:
        raise ValueError(f"functrans.nn.initializers: can't compute input and output sizes "
                         f"of a {len(shape)}-dimensional weights tensor with the default "
                         "in_axis; it must be at least 2-D, or pass in_axis explicitly")
    in_size = _product(shape, in_axis)
    out_size = _product(shape, out_axis)
    batch_size = _product(shape, batch_axis)
    receptive_field = math.prod(shape) / in_size / out_size / batch_size
    return in_size * receptive_field, out_size * receptive_field


def _complex_uniform(key: Any, shape: tuple[int, ...], dtype: np.dtype) -> Array:
    """Uniform in the complex disk of radius sqrt(2): zero mean, unit variance."""
    key_r, key_theta = random.split(key)
    real = np.finfo(dtype).dtype
    r = cast(fnp.sqrt(fnp.multiply(2, random.uniform(key_r, shape, real))), dtype)
    theta = cast(fnp.multiply(2 * np.pi, random.uniform(key_theta, shape, real)), dtype)
    return fnp.multiply(r, fnp.exp(fnp.multiply(1j, theta)))


def _complex_truncated_normal(key: Any, upper: float, shape: tuple[int, ...],
                              dtype: np.dtype) -> Array:
    """A complex standard normal (variance 1) with its modulus truncated to `upper`."""
    key_r, key_theta = random.split(key)
    real = np.finfo(dtype).dtype
    t = fnp.multiply(np.asarray(1 - np.exp(-(upper ** 2)), dtype),
                     cast(random.uniform(key_r, shape, real), dtype))
    r = fnp.sqrt(fnp.negative(fnp.log(fnp.subtract(1, t))))
    theta = cast(fnp.multiply(2 * np.pi, random.uniform(key_theta, shape, real)), dtype)
    return fnp.multiply(r, fnp.exp(fnp.multiply(1j, theta)))


def variance_scaling(scale: Any, mode: Literal["fan_in", "fan_out", "fan_avg", "fan_geo_avg"],
                     distribution: Literal["truncated_normal", "normal", "uniform"],
                     in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
                     dtype: Any = None) -> Initializer:
    """An initializer of samples with variance ``scale / n``, ``n`` chosen by `mode`
    (``fan_in``, ``fan_out``, their mean ``fan_avg`` or geometric mean
    ``fan_geo_avg``), as ``jax.nn.initializers.variance_scaling``.

    ``truncated_normal`` samples a standard normal truncated to (-2, 2), rescaled to
    the variance; ``uniform`` samples ``(-1, 1)`` times ``sqrt(3 variance)``
    (complex dtypes: a disk). `in_axis`, `out_axis` and `batch_axis` locate the
    dimensions of the weight shape; the others form the receptive field.
    """
    if mode not in ("fan_in", "fan_out", "fan_avg", "fan_geo_avg"):
        raise ValueError(f"functrans.nn.initializers.variance_scaling: invalid mode {mode!r}; "
                         "use 'fan_in', 'fan_out', 'fan_avg' or 'fan_geo_avg'")
    if distribution not in ("truncated_normal", "normal", "uniform"):
        raise ValueError(f"functrans.nn.initializers.variance_scaling: invalid distribution "
                         f"{distribution!r}; use 'truncated_normal', 'normal' or 'uniform'")

    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Array:
        shape, dtype = _shape(shape), _dtype(dtype)
        fan_in, fan_out = _compute_fans(shape, in_axis, out_axis, batch_axis)
        denominator = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
                       "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
        variance = np.asarray(scale / denominator, dtype)
        complex_dtype = dtype.kind == "c"
        if distribution == "truncated_normal":
            if complex_dtype:
                stddev = np.sqrt(variance) / np.asarray(_COMPLEX_TRUNCATED_STDDEV, dtype)
                return fnp.multiply(_complex_truncated_normal(key, 2.0, shape, dtype), stddev)
            stddev = np.sqrt(variance) / np.asarray(_TRUNCATED_STDDEV, dtype)
            return fnp.multiply(random.truncated_normal(key, -2, 2, shape, dtype), stddev)
        if distribution == "normal":
            return fnp.multiply(random.normal(key, shape, dtype), np.sqrt(variance))
        if complex_dtype:
            return fnp.multiply(_complex_uniform(key, shape, dtype), np.sqrt(variance))
        return fnp.multiply(random.uniform(key, shape, dtype, -1.0, 1.0),
                            np.sqrt(np.asarray(3, dtype) * variance))
    return init


def glorot_uniform(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
                   dtype: Any = None) -> Initializer:
    """Glorot (Xavier) uniform: ``variance_scaling(1.0, "fan_avg", "uniform")``."""
    return variance_scaling(1.0, "fan_avg", "uniform", in_axis, out_axis, batch_axis, dtype)


def glorot_normal(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
                  dtype: Any = None) -> Initializer:
    """Glorot (Xavier) normal: ``variance_scaling(1.0, "fan_avg", "truncated_normal")``."""
    return variance_scaling(1.0, "fan_avg", "truncated_normal", in_axis, out_axis,
                            batch_axis, dtype)


def lecun_uniform(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
                  dtype: Any = None) -> Initializer:
    """LeCun uniform: ``variance_scaling(1.0, "fan_in", "uniform")``."""
    return variance_scaling(1.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def lecun_normal(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
                 dtype: Any = None) -> Initializer:
    """LeCun normal: ``variance_scaling(1.0, "fan_in", "truncated_normal")``."""
    return variance_scaling(1.0, "fan_in", "truncated_normal", in_axis, out_axis,
                            batch_axis, dtype)


def he_uniform(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
               dtype: Any = None) -> Initializer:
    """He (Kaiming) uniform: ``variance_scaling(2.0, "fan_in", "uniform")``."""
    return variance_scaling(2.0, "fan_in", "uniform", in_axis, out_axis, batch_axis, dtype)


def he_normal(in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (),
              dtype: Any = None) -> Initializer:
    """He (Kaiming) normal: ``variance_scaling(2.0, "fan_in", "truncated_normal")``."""
    return variance_scaling(2.0, "fan_in", "truncated_normal", in_axis, out_axis,
                            batch_axis, dtype)


xavier_uniform, xavier_normal = glorot_uniform, glorot_normal
kaiming_uniform, kaiming_normal = he_uniform, he_normal


def orthogonal(scale: Any = 1.0, column_axis: int = -1, dtype: Any = None) -> Initializer:
    """An initializer of (semi-)orthogonal matrices: the shape read as a matrix whose
    columns lie along `column_axis`, drawn by :func:`functrans.random.orthogonal`
    (orthonormal columns, or rows when there are fewer rows), times `scale`.
    Real dtypes only (JAX also draws unitary complex matrices)."""
    def init(key: Any, shape: Sequence[int], dtype: Any = dtype) -> Array:
        shape, dtype = _shape(shape), _dtype(dtype)
        if len(shape) < 2:
            raise ValueError("functrans.nn.initializers.orthogonal: the orthogonal "
                             f"initializer requires at least a 2-D shape, got {shape}")
        if any(d == 0 for d in shape):
            return np.zeros(shape, dtype)
        axis = canonicalize_axis(column_axis, len(shape), "nn.initializers.orthogonal")
        n_cols = shape[axis]
        n_rows = math.prod(shape) // n_cols
        q = random.orthogonal(key, n_rows, (), dtype, n_cols)
        q = fnp.reshape(q, shape[:axis] + shape[axis + 1:] + (n_cols,))
        return fnp.multiply(np.asarray(scale, dtype), fnp.moveaxis(q, -1, axis))
    return init
