"""Sorting and order statistics: sort, argsort, quantile, percentile, median."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrans.numpy import _indexing, _reductions, _shape, _ufuncs
from functrans.numpy._lax import lax
from functrans.numpy._util import (
    Array,
    as_array,
    asarray_arg,
    canonicalize_axis,
    cast,
    concrete,
    dtype_of,
    ndim_of,
    shape_of,
    size_of,
    to_inexact_dtype,
)
from functrans.primitives import sort as sort_primitives  # argsort is not a lax name
from functrans.transforms.tape import one_entry

_int64 = np.dtype(np.int64)


def _along_axis(a: Any, axis: Any, fname: str) -> tuple[Array, int]:
    a = as_array(asarray_arg(a, fname, "a"))
    if axis is None:
        return lax.reshape(a, (size_of(a),)), 0
    if ndim_of(a) == 0:
        raise np.exceptions.AxisError(f"functrans.numpy.{fname}: axis {axis} is out of bounds "
                                      "for a 0-d array")
    return a, canonicalize_axis(axis, ndim_of(a), fname)


@one_entry(1)
def sort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
         stable: bool = True, descending: bool = False) -> Array:
    """`a` sorted along `axis` (flattened for None); nans sort to the end."""
    _no_order(order, "sort")
    a, ax = _along_axis(a, axis, "sort")
    out = lax.sort(a, dimension=ax)
    return lax.rev(out, (ax,)) if descending else out


def argsort(a: Any, axis: Any = -1, kind: Any = None, order: Any = None, *,
            stable: bool = True, descending: bool = False) -> Array:
    """Indices that sort `a` along `axis` (stable: ties keep their order)."""
    _no_order(order, "argsort")
    a, ax = _along_axis(a, axis, "argsort")
    return sort_primitives.argsort(a, ax, descending=descending, stable=stable,
                                   index_dtype=_int64)


def _no_order(order: Any, fname: str) -> None:
    if order is not None:
        raise TypeError(f"functrans.numpy.{fname}: 'order' (structured arrays) is not "
                        "supported")


_QUANTILE_METHODS = ("linear", "lower", "higher", "nearest", "midpoint")


def quantile(a: Any, q: Any, axis: Any = None, out: None = None,
             overwrite_input: bool = False, method: str = "linear",
             keepdims: bool = False) -> Array:
    """The `q`-th quantiles (q in [0, 1], concrete) of `a` along `axis`;
    differentiable in `a` (through the sort). The q axes come first."""
    if out is not None:
        raise TypeError("functrans.numpy.quantile: the 'out' argument is not supported")
    if method not in _QUANTILE_METHODS:
        raise ValueError(f"functrans.numpy.quantile: method must be one of "
                         f"{', '.join(_QUANTILE_METHODS)}; got {method!r}")
    q_values = np.asarray(concrete(q, "quantile", "q"), np.float64)
    if ((q_values < 0) | (q_values > 1)).any():
        raise ValueError("functrans.numpy.quantile: quantiles must be in the range [0, 1]")
    a = as_array(asarray_arg(a, "quantile", "a"))
    a = cast(a, to_inexact_dtype(dtype_of(a)))
    in_shape = shape_of(a)
    a, ax = _along_axis(a, axis, "quantile")
    n = shape_of(a)[ax]
    if n == 0:
        raise ValueError("functrans.numpy.quantile: cannot take a quantile of an empty axis")
    ordered = _shape.moveaxis(sort(a, axis=ax), ax, -1)
    result = _interpolate(ordered, q_values * (n - 1), method)
    # result: batch dims, then q's dims. Nan anywhere along the axis gives nan.
    batch = shape_of(ordered)[:-1]
    has_nan = _reductions.any(_ufuncs.isnan(ordered), axis=-1)
    has_nan = lax.reshape(has_nan, batch + (1,) * q_values.ndim)
    result = _ufuncs.where(has_nan, np.nan, result)
    if q_values.ndim:
        nb = len(batch)
        result = lax.transpose(result, tuple(range(nb, nb + q_values.ndim)) + tuple(range(nb)))
    if keepdims:
        reduced = tuple(1 if (axis is None or d == ax) else s for d, s in enumerate(in_shape))
        result = lax.reshape(result, q_values.shape + reduced)
    return result


def _interpolate(ordered: Array, position: np.ndarray, method: str) -> Array:
    """The values at fractional `position` along the last (sorted) axis of
    `ordered`, between neighbours as `method` says."""
    n = shape_of(ordered)[-1]
    low = np.floor(position).astype(_int64)
    if method == "lower":
        return _indexing.take(ordered, low, axis=-1)
    if method == "higher":
        return _indexing.take(ordered, np.ceil(position).astype(_int64), axis=-1)
    if method == "nearest":
        return _indexing.take(ordered, np.round(position).astype(_int64), axis=-1)
    if method == "midpoint":  # (floor + ceil) / 2: the value itself at exact positions
        high, weight = np.ceil(position).astype(_int64), 0.5
    else:
        high, weight = np.minimum(low + 1, n - 1), position - low
    lo_vals = _indexing.take(ordered, low, axis=-1)
    hi_vals = _indexing.take(ordered, high, axis=-1)
    weight = np.asarray(weight, dtype_of(ordered))
    return _ufuncs.add(lo_vals, _ufuncs.multiply(_ufuncs.subtract(hi_vals, lo_vals), weight))


def percentile(a: Any, q: Any, axis: Any = None, out: None = None,
               overwrite_input: bool = False, method: str = "linear",
               keepdims: bool = False) -> Array:
    """The `q`-th percentiles (q in [0, 100]) of `a` along `axis`."""
    q_values = np.asarray(concrete(q, "percentile", "q"), np.float64) / 100
    return quantile(a, q_values, axis, out, overwrite_input, method, keepdims)


def median(a: Any, axis: Any = None, out: None = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Array:
    """The median of `a` along `axis` (the mean of the middle two for even counts)."""
    return quantile(a, 0.5, axis, out, overwrite_input, "linear", keepdims)
