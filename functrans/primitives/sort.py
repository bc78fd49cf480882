"""Sorting: ``sort`` (several operands, lexicographic keys), ``top_k``, and the
gather along one axis that carries their derivatives.

Derivatives. A sort permutes its operands, so its tangent is the same
permutation applied to the input tangent. The JVP sorts the keys together with
an ``iota`` (the positions 0..n-1) to obtain that permutation, then gathers the
tangent with ``take_along_axis``. This module defines ``take_along_axis`` as a
small linear primitive of its own (rather than the general ``gather``) with
its transpose, ``scatter_add_along_axis``, a scatter-add into zeros; the two
are each other's transposes. The cumulative max/min of
:mod:`functrans.primitives.reductions` use the same gather.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive
from functrans.core.zeros import Zero
from functrans.primitives.rules import bdim_at_front
from functrans.primitives.structural import broadcasted_iota, rev

__all__ = ["sort", "sort_key_val", "top_k", "sort_p", "top_k_p"]


def _canonical_axis(fname: str, axis: Any, ndim: int, what: str = "dimension") -> int:
    axis = operator.index(axis)
    if ndim == 0:
        raise ValueError(f"{fname}: the operand is a scalar; it needs at least one dimension")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{fname}: {what} {axis} is out of range for an operand with {ndim} "
                         f"dimension(s); use -{ndim} <= {what} < {ndim}")
    return axis % ndim


def _batch_size(args: Sequence[Any], dims: Sequence[int | None]) -> int:
    return next(get_aval(x).shape[d] for x, d in zip(args, dims, strict=True) if d is not None)


def _iota(shape: tuple[int, ...], axis: int, dtype: Any = np.int64) -> Any:
    """Positions along `axis`, broadcast to `shape`."""
    return broadcasted_iota(dtype, shape, axis)


# ------------------------------------------------------------------ take_along_axis

def _check_indices(name: str, operand: ShapedArray, indices: ShapedArray, axis: int) -> None:
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers, got {indices.str_short()}")
    def others(shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape[:axis] + shape[axis + 1:]

    if (indices.ndim != operand.ndim or not 0 <= axis < operand.ndim
            or others(indices.shape) != others(operand.shape)):
        raise TypeError(f"{name}: indices {indices.str_short()} must match the shape of "
                        f"{operand.str_short()} in every dimension but axis {axis}")


def _take_along_axis_aval(operand, indices, *, axis, unique_indices):
    _check_indices("take_along_axis", operand, indices, axis)
    return ShapedArray(indices.shape, operand.dtype)


def _take_along_axis_impl(operand, indices, *, axis, unique_indices, xp=np):
    if xp is not np:
        return _take_along_axis_array_api(xp, operand, indices, axis)
    return np.take_along_axis(np.asarray(operand), np.asarray(indices), axis)


def _take_along_axis_array_api(xp: Any, operand: Any, indices: Any, axis: int) -> Any:
    # int64 positions: what every library's gather takes (torch's only)
    return xp.take_along_axis(operand, xp.astype(indices, xp.int64), axis=axis)


_take_along_axis_impl.prefer_fallback = True  # type: ignore[attr-defined]


def _take_along_axis_jvp(primals, tangents, *, axis, unique_indices):
    operand, indices = primals
    tangent = tangents[0]
    out = take_along_axis_p.bind(operand, indices, axis=axis, unique_indices=unique_indices)
    if type(tangent) is Zero:
        return out, Zero(get_aval(out).to_tangent_aval())
    return out, take_along_axis_p.bind(tangent, indices, axis=axis,
                                       unique_indices=unique_indices)


def _take_along_axis_transpose(ct, operand, indices, *, axis, unique_indices):
    return [scatter_add_along_axis(ct, indices, axis, operand.aval.shape, unique_indices), None]


def _take_along_axis_batch(args, dims, *, axis, unique_indices):
    size = _batch_size(args, dims)
    operand, indices = (bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True))
    return take_along_axis_p.bind(operand, indices, axis=axis + 1,
                                  unique_indices=unique_indices), 0


take_along_axis_p = Primitive("take_along_axis")
take_along_axis_p.impl = _take_along_axis_impl
take_along_axis_p.abstract_eval = _take_along_axis_aval
take_along_axis_p.jvp = _take_along_axis_jvp
take_along_axis_p.transpose = _take_along_axis_transpose
take_along_axis_p.batch = _take_along_axis_batch
take_along_axis_p.linear = True


def take_along_axis(operand: Any, indices: Any, axis: int, unique_indices: bool = False) -> Any:
    """``out[..., i, ...] = operand[..., indices[..., i, ...], ...]`` along `axis` (as
    ``np.take_along_axis``). `indices` has the operand's shape except along `axis`
    and holds positions in ``[0, operand.shape[axis])``. ``unique_indices=True``
    promises no position repeats, which makes the transpose a plain scatter."""
    operand_aval, indices_aval = get_aval(operand), get_aval(indices)
    axis = _canonical_axis("take_along_axis", axis, operand_aval.ndim, "axis")
    _check_indices("take_along_axis", operand_aval, indices_aval, axis)
    return take_along_axis_p.bind(operand, indices, axis=axis,
                                  unique_indices=bool(unique_indices))


# ------------------------------------------------------------------ scatter_add_along_axis

def _scatter_add_aval(updates, indices, *, axis, shape, unique_indices):
    _check_indices("scatter_add_along_axis", ShapedArray(shape, updates.dtype), indices, axis)
    if updates.shape != indices.shape:
        raise TypeError(f"scatter_add_along_axis: updates {updates.str_short()} and indices "
                        f"{indices.str_short()} must have equal shapes")
    return ShapedArray(shape, updates.dtype)


def _scatter_add_impl(updates, indices, *, axis, shape, unique_indices):
    updates, indices = np.asarray(updates), np.asarray(indices)
    out = np.zeros(shape, updates.dtype)
    if unique_indices:
        np.put_along_axis(out, indices, updates, axis)
    else:
        # repeated positions accumulate: an unbuffered add at open-grid indices
        where = list(np.ogrid[tuple(slice(n) for n in indices.shape)])
        where[axis] = indices
        np.add.at(out, tuple(where), updates)
    return out


def _scatter_add_jvp(primals, tangents, *, axis, shape, unique_indices):
    updates, indices = primals
    tangent = tangents[0]
    params = dict(axis=axis, shape=shape, unique_indices=unique_indices)
    out = scatter_add_along_axis_p.bind(updates, indices, **params)
    if type(tangent) is Zero:
        return out, Zero(get_aval(out).to_tangent_aval())
    return out, scatter_add_along_axis_p.bind(tangent, indices, **params)


def _scatter_add_transpose(ct, updates, indices, *, axis, shape, unique_indices):
    return [take_along_axis_p.bind(ct, indices, axis=axis, unique_indices=unique_indices), None]


def _scatter_add_batch(args, dims, *, axis, shape, unique_indices):
    size = _batch_size(args, dims)
    updates, indices = (bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True))
    return scatter_add_along_axis_p.bind(updates, indices, axis=axis + 1, shape=(size,) + shape,
                                         unique_indices=unique_indices), 0


scatter_add_along_axis_p = Primitive("scatter_add_along_axis")
scatter_add_along_axis_p.impl = _scatter_add_impl
scatter_add_along_axis_p.abstract_eval = _scatter_add_aval
scatter_add_along_axis_p.jvp = _scatter_add_jvp
scatter_add_along_axis_p.transpose = _scatter_add_transpose
scatter_add_along_axis_p.batch = _scatter_add_batch
scatter_add_along_axis_p.linear = True


def scatter_add_along_axis(updates: Any, indices: Any, axis: int, shape: Sequence[int],
                           unique_indices: bool = False) -> Any:
    """Zeros of `shape` with ``updates`` added at ``indices`` along `axis`: the
    transpose of :func:`take_along_axis`."""
    shape = tuple(int(s) for s in shape)
    axis = _canonical_axis("scatter_add_along_axis", axis, len(shape), "axis")
    _scatter_add_aval(get_aval(updates), get_aval(indices), axis=axis, shape=shape,
                      unique_indices=unique_indices)
    return scatter_add_along_axis_p.bind(updates, indices, axis=axis, shape=shape,
                                         unique_indices=bool(unique_indices))


# ------------------------------------------------------------------ sort

def _sort_aval(*operands, dimension, is_stable, num_keys):
    first = operands[0]
    if any(op.shape != first.shape for op in operands):
        raise TypeError("sort: all operands must have the same shape, got "
                        f"{', '.join(op.str_short() for op in operands)}")
    if not 0 <= dimension < first.ndim:
        raise TypeError(f"sort: dimension {dimension} is out of range for {first.str_short()}")
    if not 1 <= num_keys <= len(operands):
        raise TypeError(f"sort: num_keys={num_keys} must be between 1 and the number of "
                        f"operands ({len(operands)})")
    return [ShapedArray(op.shape, op.dtype) for op in operands]


def _sort_permutation(keys: Sequence[np.ndarray], axis: int) -> np.ndarray:
    if len(keys) == 1:
        return np.argsort(keys[0], axis=axis, kind="stable")
    return np.lexsort(tuple(reversed(keys)), axis=axis)  # lexsort's primary key is last


def _sort_impl(*operands, dimension, is_stable, num_keys, xp=np):
    if xp is not np:
        return _sort_array_api(xp, operands, dimension, num_keys)
    operands = [np.asarray(op) for op in operands]
    if len(operands) == 1:
        return [np.sort(operands[0], axis=dimension, kind="stable")]
    perm = _sort_permutation(operands[:num_keys], dimension)
    return [np.take_along_axis(op, perm, dimension) for op in operands]


def _sort_array_api(xp: Any, operands: Sequence[Any], axis: int, num_keys: int) -> list:
    """_sort_impl with Array API calls: a lexicographic sort by stable argsorts, from
    the last key to the first (each pass keeps the order of the ones before on ties)."""
    if len(operands) == 1:
        return [xp.sort(operands[0], axis=axis, stable=True)]
    keys = operands[:num_keys]
    perm = xp.argsort(keys[-1], axis=axis, stable=True)
    for key in reversed(keys[:-1]):
        in_order = xp.take_along_axis(key, perm, axis=axis)
        perm = xp.take_along_axis(perm, xp.argsort(in_order, axis=axis, stable=True),
                                  axis=axis)
    return [xp.take_along_axis(op, perm, axis=axis) for op in operands]


_sort_impl.prefer_fallback = True  # type: ignore[attr-defined]


def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    # sort the positions along with the keys: that is the permutation the tangents follow
    shape = get_aval(primals[0]).shape
    iota = _iota(shape, dimension)
    sorted_all = sort_p.bind(*primals, iota, dimension=dimension, is_stable=is_stable,
                             num_keys=num_keys)
    outs, perm = list(sorted_all[:-1]), sorted_all[-1]
    tangents_out = []
    for out, tangent in zip(outs, tangents, strict=True):
        if type(tangent) is Zero:
            tangents_out.append(Zero(get_aval(out).to_tangent_aval()))
        else:
            tangents_out.append(take_along_axis_p.bind(tangent, perm, axis=dimension,
                                                       unique_indices=True))
    return outs, tangents_out


def _sort_batch(args, dims, *, dimension, is_stable, num_keys):
    size = _batch_size(args, dims)
    operands = [bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True)]
    outs = sort_p.bind(*operands, dimension=dimension + 1, is_stable=is_stable,
                       num_keys=num_keys)
    return outs, [0] * len(outs)


sort_p = Primitive("sort", multiple_results=True)
sort_p.impl = _sort_impl
sort_p.abstract_eval = _sort_aval
sort_p.jvp = _sort_jvp
sort_p.batch = _sort_batch


def sort(operand: Any, dimension: int = -1, is_stable: bool = True, num_keys: int = 1) -> Any:
    """Sort along `dimension` (as ``lax.sort``).

    `operand` is an array or a tuple of equally-shaped arrays; a tuple is sorted
    lexicographically by its first `num_keys` arrays and every array is permuted
    the same way. Returns an array, or a tuple for a tuple. NaNs sort last.
    """
    single = not isinstance(operand, (tuple, list))
    operands = (operand,) if single else tuple(operand)
    if not operands:
        raise TypeError("sort: needs at least one operand")
    ndim = get_aval(operands[0]).ndim
    dimension = _canonical_axis("sort", dimension, ndim)
    num_keys = operator.index(num_keys)
    _sort_aval(*(get_aval(op) for op in operands), dimension=dimension,
               is_stable=bool(is_stable), num_keys=num_keys)
    outs = sort_p.bind(*operands, dimension=dimension, is_stable=bool(is_stable),
                       num_keys=num_keys)
    return outs[0] if single else tuple(outs)


def sort_key_val(keys: Any, values: Any, dimension: int = -1,
                 is_stable: bool = True) -> tuple[Any, Any]:
    """Sort `keys` along `dimension` and permute `values` alike (as ``lax.sort_key_val``)."""
    return sort((keys, values), dimension=dimension, is_stable=is_stable, num_keys=1)


def argsort(operand: Any, axis: int = -1, descending: bool = False, stable: bool = True,
            index_dtype: Any = np.int64) -> Any:
    """Positions that sort `operand` along `axis` (for ``functrans.numpy.argsort``).

    Ties keep their original order (also when `descending`). The result is an
    integer array, so it carries no derivative.
    """
    aval = get_aval(operand)
    axis = _canonical_axis("argsort", axis, aval.ndim, "axis")
    iota = _iota(aval.shape, axis, index_dtype)
    if not descending:
        return sort((operand, iota), dimension=axis, is_stable=stable, num_keys=1)[1]
    # Ascending by (value, reversed position), read backwards: descending values with
    # tied elements in increasing position. No negation, so unsigned and bool work.
    reversed_positions = rev(iota, (axis,))
    perm = sort((operand, reversed_positions, iota), dimension=axis, num_keys=2)[2]
    return rev(perm, (axis,))


# ------------------------------------------------------------------ top_k

def _top_k_aval(operand, *, k):
    if operand.ndim == 0:
        raise TypeError(f"top_k: operand must have at least one dimension, got "
                        f"{operand.str_short()}")
    if not 0 <= k <= operand.shape[-1]:
        raise TypeError(f"top_k: k={k} must be between 0 and the last dimension of "
                        f"{operand.str_short()}")
    shape = operand.shape[:-1] + (k,)
    return [ShapedArray(shape, operand.dtype), ShapedArray(shape, np.int32)]


def _top_k_impl(operand, *, k, xp=np):
    if xp is not np:
        return _top_k_array_api(xp, operand, k)
    operand = np.asarray(operand)
    n = operand.shape[-1]
    # a stable ascending sort of the reversed row, read backwards, gives the values in
    # descending order with ties in increasing position (as XLA's TopK)
    order = np.argsort(operand[..., ::-1], axis=-1, kind="stable")[..., ::-1][..., :k]
    indices = (n - 1 - order).astype(np.int32)
    return [np.take_along_axis(operand, indices, -1), indices]


def _top_k_array_api(xp: Any, operand: Any, k: int) -> list:
    """_top_k_impl with Array API calls (reversal by flip: no negative strides)."""
    n = operand.shape[-1]
    order = xp.argsort(xp.flip(operand, axis=-1), axis=-1, stable=True)
    order = xp.flip(order, axis=-1)[..., :k]
    indices = (n - 1) - order
    return [xp.take_along_axis(operand, indices, axis=-1), xp.astype(indices, xp.int32)]


_top_k_impl.prefer_fallback = True  # type: ignore[attr-defined]


def _top_k_jvp(primals, tangents, *, k):
    (operand,), (tangent,) = primals, tangents
    values, indices = top_k_p.bind(operand, k=k)
    if type(tangent) is Zero:
        tangent_out = Zero(get_aval(values).to_tangent_aval())
    else:
        tangent_out = take_along_axis_p.bind(tangent, indices, axis=get_aval(operand).ndim - 1,
                                             unique_indices=True)
    return [values, indices], [tangent_out, Zero(get_aval(indices).to_tangent_aval())]


def _top_k_batch(args, dims, *, k):
    (operand,), (d,) = args, dims
    operand = bdim_at_front(operand, d, get_aval(operand).shape[d])
    return top_k_p.bind(operand, k=k), [0, 0]


top_k_p = Primitive("top_k", multiple_results=True)
top_k_p.impl = _top_k_impl
top_k_p.abstract_eval = _top_k_aval
top_k_p.jvp = _top_k_jvp
top_k_p.batch = _top_k_batch


def top_k(operand: Any, k: int) -> tuple[Any, Any]:
    """The `k` largest entries along the last axis, in descending order, and their
    int32 positions (as ``lax.top_k``); ties go to the lower position."""
    k = operator.index(k)
    _top_k_aval(get_aval(operand), k=k)
    values, indices = top_k_p.bind(operand, k=k)
    return values, indices

