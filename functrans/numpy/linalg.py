"""``functrans.numpy.linalg``: norms, and the array-API aliases of products.

Decompositions (svd, eigh, cholesky, solve) need primitives functrans does
not have; the norms that would need singular values raise a ValueError.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from functrans.higher_order.custom_derivatives import custom_jvp
from functrans.numpy import _reductions as red
from functrans.numpy import _ufuncs as uf
from functrans.numpy._lax import lax
from functrans.numpy._products import matmul, outer, tensordot, vecdot
from functrans.numpy._shape import diagonal as _diagonal
from functrans.numpy._shape import matrix_transpose
from functrans.numpy._shape import trace as _trace
from functrans.numpy._util import (
    Array,
    as_array,
    asarray_arg,
    canonicalize_axis,
    cast,
    dtype_of,
    shape_of,
    to_inexact_dtype,
)

__all__ = ["norm", "vector_norm", "matrix_norm", "matmul", "outer", "tensordot", "vecdot",
           "matrix_transpose", "diagonal", "trace"]

_MATRIX_ORDS = "'fro', 1, -1, inf, -inf (and None)"


def _abs(x: Array) -> Array:
    return uf.absolute(x)


def _keep(result: Array, shape: tuple[int, ...], axes: tuple[int, ...]) -> Array:
    return lax.reshape(result, tuple(1 if i in axes else d for i, d in enumerate(shape)))


def _vector_norm(x: Array, ord: Any, axes: tuple[int, ...]) -> Array:  # noqa: A002
    if ord is None or ord == 2:
        return _two_norm(x, axes)
    if isinstance(ord, str):
        raise ValueError(f"functrans.numpy.linalg.norm: invalid norm order {ord!r} for "
                         "vectors; use None, an int or float, inf or -inf")
    if ord == np.inf:
        return red.max(_abs(x), axis=axes)
    if ord == -np.inf:
        return red.min(_abs(x), axis=axes)
    if ord == 0:
        count = red.sum(uf.not_equal(x, 0), axis=axes)
        return cast(count, dtype_of(uf.real(x)))
    if ord == 1:
        return red.sum(_abs(x), axis=axes)
    magnitude = _abs(x)
    p = np.asarray(ord, dtype_of(magnitude))
    return uf.power(red.sum(uf.power(magnitude, p), axis=axes), 1 / p)


@partial(custom_jvp, nondiff_argnums=(1,))
def _two_norm(x: Array, axes: tuple[int, ...]) -> Array:
    squares = uf.real(uf.multiply(x, uf.conjugate(x)))
    return uf.sqrt(red.sum(squares, axis=axes))


@_two_norm.defjvp
def _two_norm_jvp(axes: tuple[int, ...], primals: tuple, tangents: tuple
                  ) -> tuple[Array, Array]:
    # d|x| = <x, dx> / |x|; at x = 0 the subgradient 0 is taken (the naive
    # derivative of sqrt is 0 * inf = nan there).
    (x,), (x_dot,) = primals, tangents
    norm_x = _two_norm(x, axes)
    inner = red.sum(uf.real(uf.multiply(uf.conjugate(x), x_dot)), axis=axes)
    positive = uf.greater(norm_x, 0)
    safe_norm = uf.where(positive, norm_x, 1)  # double where: no 0/0 even in the unused branch
    return norm_x, uf.where(positive, uf.divide(inner, safe_norm), 0)


def _matrix_norm(x: Array, ord: Any, row: int, col: int) -> Array:  # noqa: A002
    if ord is None or ord == "fro":
        return _vector_norm(x, None, tuple(sorted((row, col))))
    if ord in (1, -1):
        sums = red.sum(_abs(x), axis=row)  # column sums
        col = col - 1 if col > row else col
        return red.max(sums, axis=col) if ord == 1 else red.min(sums, axis=col)
    if ord in (np.inf, -np.inf):
        sums = red.sum(_abs(x), axis=col)  # row sums
        row = row - 1 if row > col else row
        return red.max(sums, axis=row) if ord == np.inf else red.min(sums, axis=row)
    if ord in (2, -2, "nuc"):
        raise ValueError(f"functrans.numpy.linalg.norm: the matrix norm ord={ord!r} needs "
                         f"singular values, which functrans does not compute; supported matrix "
                         f"orders: {_MATRIX_ORDS}")
    raise ValueError(f"functrans.numpy.linalg.norm: invalid norm order {ord!r} for matrices; "
                     f"supported: {_MATRIX_ORDS}")


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Array:  # noqa: A002
    """Vector or matrix norm, as ``numpy.linalg.norm``.

    With `axis` None: the 2-norm of the flattened array when `ord` is None,
    else the vector norm of a 1-D or the matrix norm of a 2-D `x`. An int axis
    gives vector norms, a pair of axes matrix norms."""
    x = as_array(asarray_arg(x, "linalg.norm", "x"))
    x = cast(x, to_inexact_dtype(dtype_of(x)))
    shape = shape_of(x)
    ndim = len(shape)
    if axis is None:
        if ord is None:
            all_axes = tuple(range(ndim))
            result = _vector_norm(x, None, all_axes)
            return _keep(result, shape, all_axes) if keepdims else result
        if ndim not in (1, 2):
            raise ValueError(f"functrans.numpy.linalg.norm: improper number of dimensions "
                             f"({ndim}) to norm with ord={ord!r}; pass axis")
        axis = tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(canonicalize_axis(a, ndim, "linalg.norm") for a in axes)
    if len(axes) == 1:
        result = _vector_norm(x, ord, axes)
    elif len(axes) == 2:
        if axes[0] == axes[1]:
            raise ValueError("functrans.numpy.linalg.norm: duplicate axes given")
        result = _matrix_norm(x, ord, axes[0], axes[1])
    else:
        raise ValueError(f"functrans.numpy.linalg.norm: improper number of axes ({len(axes)}); "
                         "give one axis (vector norm) or two (matrix norm)")
    return _keep(result, shape, axes) if keepdims else result


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False,
                ord: Any = 2) -> Array:  # noqa: A002
    """Vector norm over `axis` (all axes, flattened, for None)."""
    x = as_array(asarray_arg(x, "linalg.vector_norm", "x"))
    x = cast(x, to_inexact_dtype(dtype_of(x)))
    shape = shape_of(x)
    if axis is None:
        axes = tuple(range(len(shape)))
    elif isinstance(axis, (int, np.integer)):
        axes = (canonicalize_axis(axis, len(shape), "linalg.vector_norm"),)
    else:
        axes = tuple(sorted(canonicalize_axis(a, len(shape), "linalg.vector_norm")
                            for a in axis))
    result = _vector_norm(x, ord, axes)
    return _keep(result, shape, axes) if keepdims else result


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Array:  # noqa: A002
    """Matrix norm over the last two axes."""
    return norm(x, ord, (-2, -1), keepdims)


def diagonal(x: Any, /, *, offset: int = 0) -> Array:
    """The diagonals of the last two axes."""
    return _diagonal(x, offset, -2, -1)


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Array:
    """The traces of the last two axes."""
    return _trace(x, offset, -2, -1, dtype)
