"""Array creation: constants are plain NumPy arrays (they carry no
derivative); values built from traced arguments (``array([x, y])``,
``full(shape, x)``, ``linspace(a, b)``) stay traced."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrans import dtypes
from functrans.numpy import _shape, _ufuncs
from functrans.numpy._lax import lax
from functrans.numpy._util import (
    Array,
    as_array,
    asarray_arg,
    cast,
    concrete,
    dtype_of,
    is_traced,
    promote_args_inexact,
    shape_of,
    size_of,
    static_int,
    static_shape,
)

_float64 = np.dtype(np.float64)


def _dtype(dtype: Any, default: Any = _float64) -> np.dtype:
    # another array library's dtype (x.dtype of a torch tensor) names its NumPy dtype
    return dtypes.library_dtype(default if dtype is None else dtype)


def array(object: Any, dtype: Any = None, copy: bool = True, order: Any = None,  # noqa: A002
          ndmin: int = 0) -> Array:
    """An array from `object`: an array, a scalar, or nested sequences (which
    may hold traced values; they are stacked)."""
    if isinstance(object, np.ndarray) or not _has_tracer(object):
        out = np.array(concrete(object, "array", "object"), dtype=dtype, copy=copy,
                       ndmin=ndmin)
        if out.dtype.kind in "OUSV":
            raise TypeError(f"functrans.numpy.array: {type(object).__name__} does not convert "
                            "to a numeric array")
        return out
    out = as_array(asarray_arg(object, "array", "object"))
    if dtype is not None:
        out = cast(out, np.dtype(dtype))
    shape = shape_of(out)
    if len(shape) < ndmin:
        out = lax.reshape(out, (1,) * (ndmin - len(shape)) + shape)
    return out


def _has_tracer(x: Any) -> bool:
    if is_traced(x):
        return True
    if isinstance(x, (list, tuple)):
        return any(_has_tracer(i) for i in x)
    return False


def asarray(a: Any, dtype: Any = None, order: Any = None, *, copy: Any = None) -> Array:
    """`a` as an array (no copy for arrays already of `dtype`)."""
    if is_traced(a) or _has_tracer(a):
        return array(a, dtype=dtype)
    return np.asarray(a, dtype=dtype) if not copy else np.array(a, dtype=dtype)


def copy(a: Any) -> Array:
    """A copy of `a` (arrays are values, so traced arrays are returned as they are)."""
    return as_array(asarray_arg(a, "copy", "a")) if is_traced(a) else np.array(a)


def zeros(shape: Any, dtype: Any = None) -> np.ndarray:
    """An array of zeros (float64 unless `dtype` is given)."""
    return np.zeros(static_shape(shape, "zeros"), _dtype(dtype))


def ones(shape: Any, dtype: Any = None) -> np.ndarray:
    """An array of ones (float64 unless `dtype` is given)."""
    return np.ones(static_shape(shape, "ones"), _dtype(dtype))


def empty(shape: Any, dtype: Any = None) -> np.ndarray:
    """An array of the given shape; its values are zeros (arrays are values)."""
    return zeros(shape, dtype)


def full(shape: Any, fill_value: Any, dtype: Any = None) -> Array:
    """An array of `shape` filled with `fill_value` (which may be traced, or an
    array broadcast to `shape`)."""
    shape = static_shape(shape, "full")
    if not is_traced(fill_value):
        return np.full(shape, fill_value, dtype=dtype)
    fill = cast(fill_value, np.dtype(dtype)) if dtype is not None else fill_value
    return _shape.broadcast_to(fill, shape)


def _like_shape(a: Any, shape: Any, fname: str) -> tuple[int, ...]:
    if shape is not None:
        return static_shape(shape, fname)
    return shape_of(as_array(asarray_arg(a, fname, "a")))


def _like_dtype(a: Any, dtype: Any, fname: str) -> np.dtype:
    if dtype is not None:
        return np.dtype(dtype)
    return dtype_of(as_array(asarray_arg(a, fname, "a")))


def zeros_like(a: Any, dtype: Any = None, shape: Any = None) -> np.ndarray:
    """Zeros with the shape and dtype of `a`."""
    return np.zeros(_like_shape(a, shape, "zeros_like"), _like_dtype(a, dtype, "zeros_like"))


def ones_like(a: Any, dtype: Any = None, shape: Any = None) -> np.ndarray:
    """Ones with the shape and dtype of `a`."""
    return np.ones(_like_shape(a, shape, "ones_like"), _like_dtype(a, dtype, "ones_like"))


def empty_like(a: Any, dtype: Any = None, shape: Any = None) -> np.ndarray:
    """Like zeros_like (arrays are values)."""
    return zeros_like(a, dtype, shape)


def full_like(a: Any, fill_value: Any, dtype: Any = None, shape: Any = None) -> Array:
    """An array shaped like `a` filled with `fill_value` (dtype of `a` by default)."""
    return full(_like_shape(a, shape, "full_like"), fill_value,
                _like_dtype(a, dtype, "full_like"))


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> np.ndarray:  # noqa: N803
    """A 2-D array with ones on the `k`-th diagonal."""
    n = static_int(N, "eye", "N")
    m = n if M is None else static_int(M, "eye", "M")
    return np.eye(n, m, static_int(k, "eye", "k"), dtype=_dtype(dtype))


def identity(n: int, dtype: Any = None) -> np.ndarray:
    """The `n` x `n` identity matrix."""
    return eye(n, dtype=dtype)


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> np.ndarray:  # noqa: N803
    """Ones at and below the `k`-th diagonal."""
    n = static_int(N, "tri", "N")
    m = n if M is None else static_int(M, "tri", "M")
    return np.tri(n, m, static_int(k, "tri", "k"), dtype=_dtype(dtype))


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> np.ndarray:
    """Evenly spaced values in ``[start, stop)``; the bounds must be concrete
    (the length of the result is part of its shape)."""
    args = [concrete(v, "arange", name) for v, name in
            ((start, "start"), (stop, "stop"), (step, "step")) if v is not None]
    return np.arange(*args, dtype=dtype)


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: Any = None, axis: int = 0) -> Any:
    """`num` evenly spaced values from `start` to `stop`; differentiable in
    `start` and `stop` when they are traced."""
    num = static_int(num, "linspace", "num")
    if num < 0:
        raise ValueError(f"functrans.numpy.linspace: number of samples, {num}, must be "
                         "non-negative")
    if not is_traced(start) and not is_traced(stop):
        return np.linspace(start, stop, num, endpoint, retstep, dtype, axis)
    start, stop = promote_args_inexact("linspace", start, stop)
    work_dtype = dtype_of(start)
    div = (num - 1) if endpoint else num
    fractions = np.arange(num, dtype=work_dtype) / max(div, 1)
    if endpoint and num > 1:
        fractions[-1] = 1.0
    shape = shape_of(start)
    frac = np.reshape(fractions, (num,) + (1,) * len(shape))
    lo, hi = _shape.expand_dims(start, 0), _shape.expand_dims(stop, 0)
    out = _ufuncs.add(_ufuncs.multiply(lo, 1 - frac), _ufuncs.multiply(hi, frac))
    if axis != 0:
        out = _shape.moveaxis(out, 0, axis)
    if dtype is not None:
        out = cast(out, np.dtype(dtype))
    if retstep:
        return out, _ufuncs.divide(_ufuncs.subtract(stop, start), div) if div else np.nan
    return out


def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: float = 10.0,
             dtype: Any = None, axis: int = 0) -> Array:
    """`base` raised to `num` evenly spaced exponents from `start` to `stop`."""
    out = _ufuncs.power(base, linspace(start, stop, num, endpoint, axis=axis))
    return cast(out, np.dtype(dtype)) if dtype is not None else out


def meshgrid(*xi: Any, copy: bool = True, sparse: bool = False,
             indexing: str = "xy") -> list[Array]:
    """Coordinate arrays from 1-D coordinate vectors ('xy' or 'ij' indexing)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"functrans.numpy.meshgrid: indexing must be 'xy' or 'ij', got "
                         f"{indexing!r}")
    vectors = [as_array(asarray_arg(x, "meshgrid", "xi")) for x in xi]
    vectors = [lax.reshape(v, (size_of(v),)) for v in vectors]
    sizes = [shape_of(v)[0] for v in vectors]
    n = len(vectors)
    order = list(range(n))
    if indexing == "xy" and n >= 2:
        order[0], order[1] = 1, 0  # output axis of each input vector
    out = []
    full_shape = [0] * n
    for size, ax in zip(sizes, order, strict=True):
        full_shape[ax] = size
    for v, size, ax in zip(vectors, sizes, order, strict=True):
        if sparse:
            out.append(lax.reshape(v, tuple(size if i == ax else 1 for i in range(n))))
        else:
            out.append(lax.broadcast_in_dim(v, tuple(full_shape), (ax,)))
    return out
