"""``functrans.nn``: activation functions and friends, as ``jax.nn``.

Piecewise functions are written with ``where`` so their derivative at the
kink is JAX's (``relu'(0) = 0``). softplus and log_sigmoid go through
``logaddexp``, whose custom JVP rule stays finite at infinite inputs.
softmax, log_softmax and logsumexp are the ones ``functrans.scipy.special``
exposes too: both take them from ``functrans.numpy._softmax``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans import nn_initializers as initializers  # noqa: F401  (functrans.nn.initializers)
from functrans.higher_order.custom_derivatives import custom_jvp, traceable_rule
from functrans.numpy._lax import lax
from functrans.numpy._softmax import log_softmax, logsumexp, softmax
from functrans.numpy._util import (
    Array,
    as_array,
    asarray_arg,
    canonicalize_axis,
    cast,
    dtype_of,
    ndim_of,
    static_int,
    to_inexact_dtype,
)
from functrans.transforms.tape import one_entry

__all__ = ["relu", "relu6", "sigmoid", "softplus", "soft_sign", "log_sigmoid", "silu", "swish",
           "gelu", "elu", "celu", "selu", "leaky_relu", "hard_tanh", "hard_sigmoid",
           "hard_silu", "hard_swish", "softmax", "log_softmax", "logsumexp", "one_hot",
           "standardize"]


def _inexact(x: Any, fname: str) -> Array:
    x = as_array(asarray_arg(x, fname, "x"))
    return cast(x, to_inexact_dtype(dtype_of(x)))


@one_entry(1)
def relu(x: Any) -> Array:
    """``max(x, 0)``, with derivative 0 at 0."""
    return _relu(as_array(asarray_arg(x, "relu", "x")))


@traceable_rule
@custom_jvp
def _relu(x: Array) -> Array:
    # the forward pass is one maximum; the rule picks relu'(0) = 0 (maximum
    # alone would split the tie), as jax.nn.relu does
    return fnp.maximum(x, 0)


@_relu.defjvp
def _relu_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    return _relu(x), fnp.where(fnp.greater(x, 0), t, 0)


@one_entry(1)
def relu6(x: Any) -> Array:
    """``min(max(x, 0), 6)``, with derivative 0 at 0 and 6."""
    x = as_array(asarray_arg(x, "relu6", "x"))
    return fnp.where(fnp.greater(x, 0), fnp.where(fnp.less(x, 6), x, 6), 0)


@one_entry(1)
def sigmoid(x: Any) -> Array:
    """The logistic function ``1 / (1 + exp(-x))``."""
    return lax.logistic(_inexact(x, "sigmoid"))


@one_entry(1)
def softplus(x: Any) -> Array:
    """``log(1 + exp(x))``, computed stably as ``logaddexp(x, 0)``."""
    return fnp.logaddexp(_inexact(x, "softplus"), 0)


@one_entry(1)
def soft_sign(x: Any) -> Array:
    """``x / (|x| + 1)``."""
    x = _inexact(x, "soft_sign")
    return fnp.divide(x, fnp.add(fnp.abs(x), 1))


@one_entry(1)
def log_sigmoid(x: Any) -> Array:
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large |x|."""
    return fnp.negative(softplus(fnp.negative(_inexact(x, "log_sigmoid"))))


@one_entry(1)
def silu(x: Any) -> Array:
    """``x * sigmoid(x)`` (also called swish)."""
    x = _inexact(x, "silu")
    return fnp.multiply(x, sigmoid(x))


swish = silu


@one_entry(1)
def gelu(x: Any, approximate: bool = True) -> Array:
    """Gaussian error linear unit: ``x * Phi(x)``; with `approximate`, the tanh
    approximation (JAX's default)."""
    x = _inexact(x, "gelu")
    if approximate:
        inner = fnp.multiply(math.sqrt(2 / math.pi),
                             fnp.add(x, fnp.multiply(0.044715, fnp.power(x, 3))))
        return fnp.multiply(fnp.multiply(0.5, x), fnp.add(1, fnp.tanh(inner)))
    return fnp.multiply(fnp.multiply(0.5, x),
                        fnp.add(1, lax.erf(fnp.multiply(x, 1 / math.sqrt(2)))))


@one_entry(1)
def elu(x: Any, alpha: float = 1.0) -> Array:
    """``x`` for x > 0, else ``alpha * (exp(x) - 1)``."""
    x = _inexact(x, "elu")
    positive = fnp.greater(x, 0)
    # expm1 only sees non-positive inputs, so it cannot overflow in the unused branch
    negative_part = fnp.multiply(alpha, fnp.expm1(fnp.where(positive, 0, x)))
    return fnp.where(positive, x, negative_part)


@one_entry(1)
def celu(x: Any, alpha: float = 1.0) -> Array:
    """``x`` for x > 0, else ``alpha * (exp(x / alpha) - 1)``."""
    x = _inexact(x, "celu")
    positive = fnp.greater(x, 0)
    negative_part = fnp.multiply(alpha, fnp.expm1(fnp.divide(fnp.where(positive, 0, x),
                                                             alpha)))
    return fnp.where(positive, x, negative_part)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@one_entry(1)
def selu(x: Any) -> Array:
    """Scaled ELU with the self-normalising constants."""
    return fnp.multiply(_SELU_SCALE, elu(x, _SELU_ALPHA))


@one_entry(1)
def leaky_relu(x: Any, negative_slope: float = 1e-2) -> Array:
    """``x`` for x >= 0, else ``negative_slope * x``."""
    x = _inexact(x, "leaky_relu")
    return fnp.where(fnp.greater_equal(x, 0), x, fnp.multiply(negative_slope, x))


@one_entry(1)
def hard_tanh(x: Any) -> Array:
    """``x`` clipped to [-1, 1]."""
    x = _inexact(x, "hard_tanh")
    return fnp.where(fnp.greater(x, 1), 1, fnp.where(fnp.less(x, -1), -1, x))


@one_entry(1)
def hard_sigmoid(x: Any) -> Array:
    """``relu6(x + 3) / 6``."""
    return fnp.divide(relu6(fnp.add(_inexact(x, "hard_sigmoid"), 3)), 6)


@one_entry(1)
def hard_silu(x: Any) -> Array:
    """``x * hard_sigmoid(x)``."""
    x = _inexact(x, "hard_silu")
    return fnp.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def one_hot(x: Any, num_classes: int, *, dtype: Any = np.float64, axis: int = -1) -> Array:
    """One-hot encoding of the integers `x` with `num_classes` classes (a new
    axis at `axis`); out-of-range values give all-zero rows."""
    x = as_array(asarray_arg(x, "one_hot", "x"))
    num_classes = static_int(num_classes, "one_hot", "num_classes")
    ndim = ndim_of(x)
    out_axis = canonicalize_axis(axis, ndim + 1, "one_hot")
    classes = np.arange(num_classes).reshape((num_classes,) + (1,) * (ndim - out_axis))
    expanded = fnp.expand_dims(x, out_axis)
    return cast(fnp.equal(expanded, classes), np.dtype(dtype))


@one_entry(1)
def standardize(x: Any, axis: Any = -1, mean: Any = None, variance: Any = None,
                epsilon: float = 1e-5) -> Array:
    """``(x - mean) / sqrt(variance + epsilon)`` along `axis`."""
    x = _inexact(x, "standardize")
    if mean is None:
        mean = fnp.mean(x, axis=axis, keepdims=True)
    if variance is None:
        centered = fnp.subtract(x, mean)
        variance = fnp.mean(fnp.square(centered), axis=axis, keepdims=True)
    return fnp.divide(fnp.subtract(x, mean), fnp.sqrt(fnp.add(variance, epsilon)))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted([*__all__, "initializers"])
