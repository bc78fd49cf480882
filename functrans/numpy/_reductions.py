"""Reductions (sum, mean, var, max, argmax, ...) and cumulative reductions.

Dtypes follow NumPy: sums and products of small integers and booleans
accumulate in int64 (uint64 for unsigned), means and variances of integers
are float64, float32 stays float32.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from functrans.core.avals import get_aval
from functrans.core.primitive import Primitive
from functrans.numpy import _ufuncs
from functrans.numpy._lax import lax
from functrans.numpy._util import (
    Array,
    array_info,
    as_array,
    asarray_arg,
    broadcast_shapes,
    broadcast_to_shape,
    canonicalize_axes,
    canonicalize_axis,
    cast,
    dtype_of,
    ndim_of,
    promote_args,
    shape_of,
    size_of,
    to_inexact_dtype,
)
from functrans.numpy._util import operand as _operand
from functrans.primitives import elementwise as prims  # bound directly on ready operands
from functrans.transforms.tape import one_entry

_int64 = np.dtype(np.int64)




def _check_out(out: Any, fname: str) -> None:
    if out is not None:
        raise TypeError(f"functrans.numpy.{fname}: the 'out' argument is not supported "
                        "(arrays are immutable values); use the returned array")


def _accumulator_dtype(dtype: np.dtype, requested: Any) -> np.dtype:
    """NumPy's sum/prod dtype: small integers and booleans widen to 64 bits."""
    if requested is not None:
        return np.dtype(requested)
    if dtype.kind == "b" or (dtype.kind == "i" and dtype.itemsize < 8):
        return _int64
    if dtype.kind == "u" and dtype.itemsize < 8:
        return np.dtype(np.uint64)
    return dtype


def _keep_dims(out: Array, shape: tuple[int, ...], axes: tuple[int, ...]) -> Array:
    return lax.reshape(out, tuple(1 if i in axes else d for i, d in enumerate(shape)))


def _masked(a: Array, where: Any, fill: Any, fname: str) -> Array:
    """`a` with `fill` where the mask `where` is False (mask broadcast to a)."""
    if where is None:
        return a
    mask = as_array(asarray_arg(where, fname, "where"))
    shape = shape_of(a)
    broadcast_shapes(fname, shape_of(mask), shape)
    mask = broadcast_to_shape(_ufuncs.to_bool(mask), shape)
    return _ufuncs.where(mask, a, _ufuncs._full_like(a, fill))


def _reduce(a: Any, axis: Any, keepdims: bool, fname: str, reduction: Primitive,
            shape: tuple[int, ...] | None = None) -> Array:
    """`reduction` (``lax.reduce_sum_p``...) of `a` (of `shape`, when known) over `axis`.
    The primitive is bound directly: the axes are canonical already, which is all the
    lax function would check."""
    if shape is None:
        shape = shape_of(a)
    axes = canonicalize_axes(axis, len(shape), fname)
    out = reduction.bind(a, axes=axes) if axes else a
    return _keep_dims(out, shape, axes) if keepdims else out


# ------------------------------------------------------------------ sums and products

@one_entry(1)
def sum(a: Any, axis: Any = None, dtype: Any = None, out: None = None,  # noqa: A001
        keepdims: bool = False, initial: Any = None, where: Any = None) -> Array:
    """Sum over `axis` (None: all axes; an int or a tuple of ints)."""
    if dtype is None and where is None and initial is None and out is None:
        info = array_info(a)
        if info is not None and info[0].kind in "fc":  # the common case: nothing to convert
            return _reduce(a, axis, keepdims, "sum", lax.reduce_sum_p, info[1])
    _check_out(out, "sum")
    a = _operand(a, "sum")
    a = cast(a, _accumulator_dtype(dtype_of(a), dtype))
    if where is not None:
        a = _masked(a, where, 0, "sum")
    result = _reduce(a, axis, keepdims, "sum", lax.reduce_sum_p)
    if initial is not None:
        result = lax.add(result, _ufuncs._full_like(result, initial))
    return result


@one_entry(1)
def prod(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
         keepdims: bool = False, initial: Any = None, where: Any = None) -> Array:
    """Product over `axis`."""
    _check_out(out, "prod")
    a = _operand(a, "prod")
    a = cast(a, _accumulator_dtype(dtype_of(a), dtype))
    a = _masked(a, where, 1, "prod")
    result = _reduce(a, axis, keepdims, "prod", lax.reduce_prod_p)
    if initial is not None:
        result = lax.mul(result, _ufuncs._full_like(result, initial))
    return result


def _extremum(a: Any, axis: Any, keepdims: bool, initial: Any, where: Any, fname: str,
              is_max: bool) -> Array:
    a = _operand(a, fname)
    aval = get_aval(a)
    axes = canonicalize_axes(axis, aval.ndim, fname)
    if where is not None and initial is None:
        raise ValueError(f"functrans.numpy.{fname}: reduction with 'where' needs an 'initial' "
                         "value (the result where every element is masked out)")
    if initial is None and builtins.any(aval.shape[i] == 0 for i in axes):
        raise ValueError(f"functrans.numpy.{fname}: zero-size array (shape {aval.shape}) to "
                         "a reduction with no identity; pass 'initial'")
    if aval.dtype.kind == "b":
        reduction = lax.reduce_or_p if is_max else lax.reduce_and_p
    else:
        reduction = lax.reduce_max_p if is_max else lax.reduce_min_p
    if where is not None:
        a = _masked(a, where, initial, fname)
    result = _reduce(a, axis, keepdims, fname, reduction)
    if initial is not None:
        result = (_ufuncs.maximum if is_max else _ufuncs.minimum)(result, initial)
    return result


@one_entry(1)
def max(a: Any, axis: Any = None, out: None = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None, where: Any = None) -> Array:
    """Maximum over `axis` (nan if any element is nan)."""
    _check_out(out, "max")
    return _extremum(a, axis, keepdims, initial, where, "max", True)


@one_entry(1)
def min(a: Any, axis: Any = None, out: None = None, keepdims: bool = False,  # noqa: A001
        initial: Any = None, where: Any = None) -> Array:
    """Minimum over `axis` (nan if any element is nan)."""
    _check_out(out, "min")
    return _extremum(a, axis, keepdims, initial, where, "min", False)


amax, amin = max, min


def _count(a: Array, axes: tuple[int, ...], where: Any, dtype: np.dtype, keepdims: bool,
           fname: str) -> Array:
    """Number of elements reduced (per output element when masked)."""
    shape = shape_of(a)
    if where is None:
        return math.prod(shape[i] for i in axes)
    mask = _ufuncs.to_bool(as_array(asarray_arg(where, fname, "where")))
    mask = broadcast_to_shape(mask, shape)
    return sum(mask, axis=axes, dtype=dtype, keepdims=keepdims)


@one_entry(1)
def mean(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
         keepdims: bool = False, *, where: Any = None) -> Array:
    """Arithmetic mean over `axis` (integers average in float64)."""
    if dtype is None and where is None and out is None:
        info = array_info(a)
        if info is not None and info[0].kind in "fc":  # nothing to convert
            return _float_mean(a, info[1], canonicalize_axes(axis, len(info[1]), "mean"),
                               keepdims)
    _check_out(out, "mean")
    a = _operand(a, "mean")
    dtype = np.dtype(dtype) if dtype is not None else to_inexact_dtype(dtype_of(a))
    axes = canonicalize_axes(axis, ndim_of(a), "mean")
    a = cast(a, dtype)
    total = sum(a, axis=axes, keepdims=keepdims, where=where)
    count = _count(a, axes, where, dtype, keepdims, "mean")
    return lax.div(total, _as_operand_like(count, total))


def _float_mean(a: Array, shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool
                ) -> Array:
    """The mean of a floating array or tracer: its sum and the division by the count
    bound as the general path's lax functions would bind them (the count is a constant
    of the sum's shape and dtype; lax.div leaves a weakly-typed rank-0 sum as it is)."""
    total = lax.reduce_sum_p.bind(a, axes=axes) if axes else a
    if keepdims:
        total = _keep_dims(total, shape, axes)
    count = math.prod(shape[i] for i in axes)
    return prims.div_p.bind(total, _ufuncs._full_like(total, count))


def _as_operand_like(value: Any, like: Array) -> Array:
    if isinstance(value, int):
        return _ufuncs._full_like(like, value)
    return value


@one_entry(1)
def var(a: Any, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
        keepdims: bool = False, *, where: Any = None, correction: Any = None) -> Array:
    """Variance over `axis`: ``mean(|a - mean(a)|**2)`` with ``ddof`` (or
    ``correction``) subtracted from the count."""
    if dtype is None and where is None and out is None and correction is None \
            and type(ddof) is int:
        info = array_info(a)
        if info is not None and info[0].kind == "f":  # nothing to convert
            return _float_var(a, info[1], canonicalize_axes(axis, len(info[1]), "var"), ddof,
                              keepdims)
    _check_out(out, "var")
    if correction is not None:
        if ddof:
            raise ValueError("functrans.numpy.var: pass either ddof or correction, not both")
        ddof = correction
    a = _operand(a, "var")
    dtype = np.dtype(dtype) if dtype is not None else to_inexact_dtype(dtype_of(a))
    axes = canonicalize_axes(axis, ndim_of(a), "var")
    a = cast(a, dtype)
    centered = lax.sub(a, broadcast_to_shape(mean(a, axes, keepdims=True, where=where),
                                             shape_of(a)))
    squares = lax.mul(centered, _conj(centered))
    if dtype_of(squares).kind == "c":  # |z|**2 is real
        squares = lax.real(squares)
    total = sum(squares, axis=axes, keepdims=keepdims, where=where)
    count = _count(a, axes, where, dtype_of(total), keepdims, "var")
    if isinstance(count, int):
        denominator = _ufuncs._full_like(total, builtins.max(count - ddof, 0))
    else:
        denominator = _ufuncs.maximum(lax.sub(count, _ufuncs._full_like(count, ddof)), 0)
    return lax.div(total, denominator)


def _float_var(a: Array, shape: tuple[int, ...], axes: tuple[int, ...], ddof: int,
               keepdims: bool) -> Array:
    """The variance of a real floating array or tracer, bound as the general path's
    lax functions would bind it (their operands have one shape and dtype)."""
    centered = prims.sub_p.bind(a, broadcast_to_shape(_float_mean(a, shape, axes, True),
                                                      shape))
    squares = prims.mul_p.bind(centered, centered)
    total = lax.reduce_sum_p.bind(squares, axes=axes) if axes else squares
    if keepdims:
        total = _keep_dims(total, shape, axes)
    count = math.prod(shape[i] for i in axes)
    return prims.div_p.bind(total, _ufuncs._full_like(total, builtins.max(count - ddof, 0)))


def _conj(x: Array) -> Array:
    return lax.conj(x) if dtype_of(x).kind == "c" else x


@one_entry(1)
def std(a: Any, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
        keepdims: bool = False, *, where: Any = None, correction: Any = None) -> Array:
    """Standard deviation over `axis` (the square root of var)."""
    _check_out(out, "std")
    return lax.sqrt(var(a, axis, dtype, None, ddof, keepdims, where=where,
                        correction=correction))


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False,
            keepdims: bool = False) -> Any:
    """Weighted mean over `axis` (the plain mean without weights)."""
    a = _operand(a, "average")
    if weights is None:
        result = mean(a, axis, keepdims=keepdims)
        count = size_of(a) // builtins.max(size_of(result), 1)
        return (result, _ufuncs._full_like(result, count)) if returned else result
    weights = _operand(weights, "average")
    a_shape, w_shape = shape_of(a), shape_of(weights)
    if w_shape != a_shape:
        if axis is None or len(w_shape) != 1:
            raise TypeError(f"functrans.numpy.average: weights of shape {w_shape} differ from "
                            f"a's shape {a_shape}; 1-D weights need an int axis")
        ax = canonicalize_axis(axis, len(a_shape), "average")
        if w_shape[0] != a_shape[ax]:
            raise ValueError(f"functrans.numpy.average: weights of length {w_shape[0]} do not "
                             f"match axis {ax} of length {a_shape[ax]}")
        weights = lax.broadcast_in_dim(weights, a_shape, (ax,))
    a, weights = promote_args("average", a, weights)
    dtype = to_inexact_dtype(dtype_of(a))
    a, weights = cast(a, dtype), cast(weights, dtype)
    total_weight = sum(weights, axis, keepdims=keepdims)
    result = lax.div(sum(lax.mul(a, weights), axis, keepdims=keepdims), total_weight)
    return (result, total_weight) if returned else result


# ------------------------------------------------------------------ arg-reductions

def _arg_extremum(a: Any, axis: Any, keepdims: bool, fname: str, lax_name: str) -> Array:
    a = _operand(a, fname)
    aval = get_aval(a)
    if axis is None:
        if aval.size == 0:
            raise ValueError(f"functrans.numpy.{fname}: attempt to get {fname} of an empty "
                             "array")
        result = getattr(lax, lax_name)(lax.reshape(a, (aval.size,)), 0, _int64)
        return lax.reshape(result, (1,) * aval.ndim) if keepdims else result
    ax = canonicalize_axis(axis, aval.ndim, fname)
    if aval.shape[ax] == 0:
        raise ValueError(f"functrans.numpy.{fname}: attempt to get {fname} of an empty "
                         f"axis {ax} (shape {aval.shape})")
    if aval.dtype.kind == "b":
        a = cast(a, np.dtype(np.int8))
    result = getattr(lax, lax_name)(a, ax, _int64)
    return _keep_dims(result, aval.shape, (ax,)) if keepdims else result


def argmax(a: Any, axis: Any = None, out: None = None, *, keepdims: bool = False) -> Array:
    """Index of the (first) maximum along `axis` (of the flattened array for None)."""
    _check_out(out, "argmax")
    return _arg_extremum(a, axis, keepdims, "argmax", "argmax")


def argmin(a: Any, axis: Any = None, out: None = None, *, keepdims: bool = False) -> Array:
    """Index of the (first) minimum along `axis` (of the flattened array for None)."""
    _check_out(out, "argmin")
    return _arg_extremum(a, axis, keepdims, "argmin", "argmin")


# ------------------------------------------------------------------ logical reductions

def all(a: Any, axis: Any = None, out: None = None, keepdims: bool = False,  # noqa: A001
        *, where: Any = None) -> Array:
    """True where every element along `axis` is nonzero."""
    _check_out(out, "all")
    a = _masked(_ufuncs.to_bool(_operand(a, "all")), where, True, "all")
    return _reduce(a, axis, keepdims, "all", lax.reduce_and_p)


def allclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> Array:
    """True when every element of `a` is close to `b` (see isclose)."""
    return all(_ufuncs.isclose(a, b, rtol, atol, equal_nan))


def any(a: Any, axis: Any = None, out: None = None, keepdims: bool = False,  # noqa: A001
        *, where: Any = None) -> Array:
    """True where some element along `axis` is nonzero."""
    _check_out(out, "any")
    a = _masked(_ufuncs.to_bool(_operand(a, "any")), where, False, "any")
    return _reduce(a, axis, keepdims, "any", lax.reduce_or_p)


def count_nonzero(a: Any, axis: Any = None, *, keepdims: bool = False) -> Array:
    """Number of nonzero elements along `axis`."""
    nonzero = _ufuncs.to_bool(_operand(a, "count_nonzero"))
    return sum(nonzero, axis, dtype=_int64, keepdims=keepdims)


# ------------------------------------------------------------------ cumulative

def _cumulative(a: Any, axis: Any, dtype: Any, fname: str, lax_name: str) -> Array:
    a = _operand(a, fname)
    aval = get_aval(a)
    if axis is None:
        a = lax.reshape(a, (aval.size,))
        ax = 0
    else:
        ax = canonicalize_axis(axis, aval.ndim, fname)
    if lax_name in ("cumsum", "cumprod"):
        a = cast(a, _accumulator_dtype(dtype_of(a), dtype))
    elif dtype is not None:
        a = cast(a, np.dtype(dtype))
    if shape_of(a) == ():
        return a
    return getattr(lax, lax_name)(a, ax)


@one_entry(1)
def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: None = None) -> Array:
    """Cumulative sum along `axis` (of the flattened array for None)."""
    _check_out(out, "cumsum")
    return _cumulative(a, axis, dtype, "cumsum", "cumsum")


@one_entry(1)
def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: None = None) -> Array:
    """Cumulative product along `axis` (of the flattened array for None)."""
    _check_out(out, "cumprod")
    return _cumulative(a, axis, dtype, "cumprod", "cumprod")


def cumulative_sum(x: Any, /, *, axis: Any = None, dtype: Any = None,
                   include_initial: bool = False) -> Array:
    """Cumulative sum (the array-API spelling); `axis` may be None only for 1-D."""
    return _cumulative_api(x, axis, dtype, include_initial, "cumulative_sum", cumsum, 0)


def cumulative_prod(x: Any, /, *, axis: Any = None, dtype: Any = None,
                    include_initial: bool = False) -> Array:
    """Cumulative product (the array-API spelling); `axis` may be None only for 1-D."""
    return _cumulative_api(x, axis, dtype, include_initial, "cumulative_prod", cumprod, 1)


def _cumulative_api(x: Any, axis: Any, dtype: Any, include_initial: bool, fname: str,
                    fn: Any, identity: int) -> Array:
    x = _operand(x, fname)
    ndim = ndim_of(x)
    if axis is None:
        if ndim > 1:
            raise ValueError(f"functrans.numpy.{fname}: axis is required for {ndim}-D input")
        axis = 0
    ax = canonicalize_axis(axis, builtins.max(ndim, 1), fname)
    result = fn(x, ax, dtype)
    if not include_initial:
        return result
    shape = list(shape_of(result))
    shape[ax] = 1
    start = np.full(shape, identity, dtype_of(result))
    # lax directly: the two parts already share a dtype and all other axes,
    # and joining arrays is the shape layer's job, which builds on this one
    return lax.concatenate([start, result], ax)
