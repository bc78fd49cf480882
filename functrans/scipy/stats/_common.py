"""Helpers shared by the distributions of :mod:`functrans.scipy.stats`."""

from __future__ import annotations

import math
from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import (
    Array,
    as_array,
    asarray_arg,
    broadcast_shapes,
    cast,
    result_type,
    shape_of,
    to_inexact_dtype,
)
from functrans.transforms.tape import one_entry

LOG_2 = math.log(2.0)
LOG_PI = math.log(math.pi)
HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)

#: how a distribution's function is recorded on the tape: as one entry, its data and
#: parameters (by position or keyword) its operands
recorded_whole = one_entry(n_operands=8, keywords=True)


def promote(fname: str, *args: Any) -> list[Array]:
    """The arguments of `fname` as arrays of one floating-point dtype (integers become
    float64, float32 stays float32, Python scalars take the arrays' dtype), checked to
    broadcast together. Their shapes are kept, as in JAX: a scalar parameter stays a
    scalar, so its special functions (gammaln(a), ...) are evaluated once, not once
    per data point."""
    values = [asarray_arg(a, fname, f"argument {i}") for i, a in enumerate(args)]
    dtype = to_inexact_dtype(result_type(*values))    # Python scalars are weak here
    arrays = [as_array(v) for v in values]
    broadcast_shapes(fname, *(shape_of(a) for a in arrays))
    return [cast(a, dtype) for a in arrays]


def standardize(x: Array, loc: Array, scale: Array) -> Array:
    """``(x - loc) / scale``."""
    return (x - loc) / scale


def outside_unit_interval(q: Array) -> Array:
    """Where a probability `q` is NaN or outside [0, 1]: a quantile function gives NaN."""
    return fnp.isnan(q) | (q < 0) | (q > 1)


def log1mexp(x: Array) -> Array:
    """``log(1 - exp(x))`` for x <= 0, accurate near 0 and far below it (Mächler's
    switch at -log 2). Each branch only sees arguments it is accurate and finite at,
    so neither poisons the other's derivative."""
    near_zero = x > -LOG_2
    from_expm1 = fnp.log(-fnp.expm1(fnp.where(near_zero, x, -1.0)))
    from_log1p = fnp.log1p(-fnp.exp(fnp.where(near_zero, -1.0, x)))
    return fnp.where(near_zero, from_expm1, from_log1p)
