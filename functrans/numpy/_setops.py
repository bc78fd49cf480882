"""Set operations on 1-D arrays: ``setdiff1d``, ``union1d``, ``intersect1d``, as in
``jax.numpy``.

Each flattens its inputs, sorts, marks the entries that belong to the result
(first of a run of equal values, and in / not in the other array), and moves
the marked entries to the front with one stable argsort and one gather, so jit,
vmap and gradients come from ``sort``/``argsort``/``take``. The number of
results depends on the values: concrete inputs give it exactly; traced inputs
need a static ``size=`` (the result is truncated or padded with `fill_value`).
NaNs are equal to each other in ``setdiff1d`` and ``union1d`` (as ``unique``)
and never in an intersection (as NumPy).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans.numpy._util import (
    Array,
    cast,
    concrete,
    dtype_of,
    operand,
    result_type,
    shape_of,
    static_int,
)

__all__ = ["setdiff1d", "union1d", "intersect1d"]

_int64 = np.dtype(np.int64)


def _flat(x: Any, fname: str, argname: str) -> Array:
    return fnp.ravel(operand(x, fname, argname))


def _run_starts(ordered: Array) -> Array:
    """True at each entry of the sorted 1-D `ordered` that differs from the one before
    (NaNs count as equal, as ``unique``'s ``equal_nan``)."""
    if shape_of(ordered)[0] == 0:
        return fnp.zeros((0,), bool)
    previous, current = ordered[:-1], ordered[1:]
    differs = fnp.not_equal(current, previous)
    if dtype_of(ordered).kind in "fc":
        differs = fnp.logical_and(differs, fnp.logical_not(
            fnp.logical_and(fnp.isnan(current), fnp.isnan(previous))))
    return fnp.concatenate([np.ones((1,), bool), differs])


def _result_size(keep: Array, size: Any, fname: str) -> int:
    if size is not None:
        return static_int(size, fname, "size")
    count = concrete(fnp.sum(keep), fname,
                     "the number of values in the result (under jit or vmap pass a static "
                     "size= and optionally fill_value=)")
    return int(count)


def _compact(values: Array, keep: Array, size: int, fill_value: Any,
             *indices: tuple[Array, int]) -> list[Array]:
    """The entries of `values` (and of each index array) where `keep`, in order, in
    `size` slots: values padded with `fill_value` (default: the first kept value, the
    smallest, or 0 when none is kept), indices with their out-of-bounds pad value."""
    n = shape_of(values)[0]
    dtype = dtype_of(values)
    if n == 0:
        fill = 0 if fill_value is None else fill_value
        return [fnp.full((size,), fill, dtype)] + [fnp.full((size,), pad, _int64)
                                                   for _, pad in indices]
    count = fnp.sum(keep)
    # a stable sort of "not kept" puts the kept positions first, in order
    order = fnp.argsort(fnp.logical_not(keep), stable=True)
    order = fnp.concatenate([order, np.zeros((max(size - n, 0),), _int64)])[:size]
    valid = fnp.less(np.arange(size), count)
    picked = fnp.take(values, order)
    first_kept = fnp.where(count > 0, picked[0], fnp.zeros((), dtype)) if size else picked
    fill = first_kept if fill_value is None else cast(fnp.asarray(fill_value), dtype)
    out = [fnp.where(valid, picked, fill)]
    for index, pad in indices:
        out.append(fnp.where(valid, fnp.take(index, order), pad))
    return out


def setdiff1d(ar1: Any, ar2: Any, assume_unique: bool = False, *, size: int | None = None,
              fill_value: Any = None) -> Array:
    """The unique values of `ar1` that are not in `ar2`, sorted, as ``jnp.setdiff1d``.

    With `assume_unique`, `ar1`'s values are taken as distinct and keep their order
    (NumPy's behaviour). Under jit or vmap pass a static `size`: the result is
    truncated or padded with `fill_value` (default: its smallest value; 0 if empty).
    """
    fname = "setdiff1d"
    a = _flat(ar1, fname, "ar1")
    b = _flat(ar2, fname, "ar2")
    if assume_unique:
        values, keep = a, fnp.ones(shape_of(a), bool)
    else:
        values = fnp.sort(a)
        keep = _run_starts(values)
    keep = fnp.logical_and(keep, fnp.isin(values, b, invert=True))
    return _compact(values, keep, _result_size(keep, size, fname), fill_value)[0]


def union1d(ar1: Any, ar2: Any, *, size: int | None = None, fill_value: Any = None) -> Array:
    """The sorted unique values found in either array, as ``jnp.union1d``. Under jit
    or vmap pass a static `size` (padding with `fill_value`, default the smallest
    value)."""
    fname = "union1d"
    a = _flat(ar1, fname, "ar1")
    b = _flat(ar2, fname, "ar2")
    dtype = result_type(a, b)
    values = fnp.sort(fnp.concatenate([cast(a, dtype), cast(b, dtype)]))
    keep = _run_starts(values)
    return _compact(values, keep, _result_size(keep, size, fname), fill_value)[0]


def intersect1d(ar1: Any, ar2: Any, assume_unique: bool = False, return_indices: bool = False,
                *, size: int | None = None, fill_value: Any = None) -> Any:
    """The sorted unique values found in both arrays, as ``jnp.intersect1d``.

    With `return_indices`, also the index of each value's first occurrence in the
    flattened `ar1` and `ar2`. Under jit or vmap pass a static `size`: values are
    padded with `fill_value` (default: the smallest value in the intersection; 0 if
    it is empty) and indices with an out-of-bounds index (the array's size).
    """
    fname = "intersect1d"
    a = _flat(ar1, fname, "ar1")
    b = _flat(ar2, fname, "ar2")
    dtype = result_type(a, b)
    a, b = cast(a, dtype), cast(b, dtype)
    order_a = fnp.argsort(a, stable=True)  # stable: a run starts at a first occurrence
    values = fnp.take(a, order_a)
    keep = fnp.ones(shape_of(a), bool) if assume_unique else _run_starts(values)
    keep = fnp.logical_and(keep, fnp.isin(values, b))
    n = _result_size(keep, size, fname)
    if not return_indices:
        return _compact(values, keep, n, fill_value)[0]
    order_b = fnp.argsort(b, stable=True)
    sorted_b = fnp.take(b, order_b)
    size_b = shape_of(b)[0]
    # where a value occurs in b, the leftmost match in the stably sorted b is its first
    # occurrence (the other positions are masked out)
    position = fnp.minimum(fnp.searchsorted(sorted_b, values), max(size_b - 1, 0))
    index_b = fnp.take(order_b, position) if size_b else fnp.zeros(shape_of(a), _int64)
    values, index_a, index_b = _compact(values, keep, n, fill_value,
                                        (order_a, shape_of(a)[0]), (index_b, size_b))
    return values, index_a, index_b
