"""Composite ``jax.numpy`` functions about indices, counts and shapes:
searching and counting (searchsorted, digitize, bincount, histogram), unique,
sort variants (partition, lexsort), index constructors, append/insert/delete
with static indices, resize, trim_zeros, piecewise, dsplit and einsum_path.

Functions whose output shape depends on values (``unique``, ``trim_zeros``,
``bincount`` without ``length``) need concrete values, or a static size
argument when traced.

Index arrays that depend only on shapes and static arguments are computed
with NumPy; the data then moves with one gather (``take``), so gradients,
vmap and jit come from ``take``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans.numpy._util import (
    Array,
    canonicalize_axis,
    cast,
    concrete,
    dtype_of,
    is_traced,
    ndim_of,
    quiet,
    shape_of,
    size_of,
    static_int,
    to_inexact_dtype,
)
from functrans.numpy._util import operand as _operand

_int64 = np.dtype(np.int64)




# ------------------------------------------------------------------ searching and counting

def _before(a: Array, v: Array, inclusive: bool) -> Array:
    """``a < v`` (or ``<=``) in NumPy's sort order, where nan is the largest value."""
    if inclusive:
        result = fnp.less_equal(a, v)
        return fnp.logical_or(result, fnp.isnan(v)) if dtype_of(v).kind in "fc" else result
    result = fnp.less(a, v)
    if dtype_of(v).kind in "fc":
        result = fnp.logical_or(result, fnp.logical_and(fnp.isnan(v),
                                                        fnp.logical_not(fnp.isnan(a))))
    return result


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None, *,
                 method: str = "compare_all") -> Array:
    """Insertion indices of `v` into the sorted 1-D `a` (compare-and-count)."""
    if side not in ("left", "right"):
        raise ValueError(f"functrans.numpy.searchsorted: side must be 'left' or 'right', got "
                         f"{side!r}")
    a = _operand(a, "searchsorted")
    v = _operand(v, "searchsorted", "v")
    if ndim_of(a) != 1:
        raise ValueError(f"functrans.numpy.searchsorted: a must be 1-D, got shape {shape_of(a)}")
    if sorter is not None:
        a = fnp.take(a, _operand(sorter, "searchsorted", "sorter"))
    dtype = fnp.result_type(a, v)
    a, v = cast(a, dtype), cast(v, dtype)
    comparison = _before(a, fnp.expand_dims(v, -1), side == "right")
    return cast(fnp.sum(comparison, axis=-1), _int64)


def digitize(x: Any, bins: Any, right: bool = False) -> Array:
    """The index of the bin of each `x` (bins increasing or, if concrete, decreasing)."""
    x = _operand(x, "digitize", "x")
    bins = _operand(bins, "digitize", "bins")
    if ndim_of(bins) != 1:
        raise ValueError(f"functrans.numpy.digitize: bins must be 1-D, got shape "
                         f"{shape_of(bins)}")
    side = "left" if right else "right"
    if not is_traced(bins) and shape_of(bins)[0] > 1:
        steps = np.diff(bins)
        if (steps <= 0).all() and (steps < 0).any():
            reverse = searchsorted(fnp.flip(bins), x, side="left" if right else "right")
            return fnp.subtract(shape_of(bins)[0], reverse)
        if not ((steps >= 0).all()):
            raise ValueError("functrans.numpy.digitize: bins must be monotonically increasing "
                             "or decreasing")
    return searchsorted(bins, x, side=side)


def bincount(x: Any, weights: Any = None, minlength: int = 0, *,
             length: int | None = None) -> Array:
    """Counts (or summed `weights`) of each non-negative integer in 1-D `x`.
    The output length must be static: under jit/vmap pass ``length=``."""
    x = _operand(x, "bincount", "x")
    if ndim_of(x) != 1 or dtype_of(x).kind not in "biu":
        raise TypeError(f"functrans.numpy.bincount: x must be a 1-D integer array, got shape "
                        f"{shape_of(x)} dtype {dtype_of(x)}")
    minlength = static_int(minlength, "bincount", "minlength")
    if length is None:
        values = np.asarray(concrete(x, "bincount", "x (the output length is max(x) + 1; "
                                     "pass length= to fix it)"))
        if values.size and values.min() < 0:
            raise ValueError("functrans.numpy.bincount: x must be non-negative")
        length = max(int(values.max()) + 1 if values.size else 0, minlength)
    else:
        length = static_int(length, "bincount", "length")
    if weights is None:
        weights = fnp.ones(shape_of(x), _int64)
    else:
        weights = _operand(weights, "bincount", "weights")
        if shape_of(weights) != shape_of(x):
            raise ValueError(f"functrans.numpy.bincount: weights shape {shape_of(weights)} "
                             f"does not match x shape {shape_of(x)}")
    # out-of-range values are dropped (as jax.numpy): zero weight at a clipped index
    inside = fnp.logical_and(fnp.greater_equal(x, 0), fnp.less(x, length))
    weights = fnp.where(inside, weights, fnp.zeros_like(weights))
    index = fnp.clip(cast(x, _int64), 0, max(length - 1, 0))
    if length == 0:
        return fnp.zeros((0,), dtype_of(weights))
    return fnp.at(fnp.zeros((length,), dtype_of(weights)))[index].add(weights)


def _histogram_edges(a: Array, bins: Any, range_: Any, fname: str) -> Array:
    if isinstance(bins, str):
        values = np.asarray(concrete(a, fname, "a (string bins depend on the data; pass an "
                                     "integer bins or explicit edges)"))
        return np.histogram_bin_edges(values, bins, range_)
    if np.ndim(bins) == 0 and not is_traced(bins):
        count = static_int(bins, fname, "bins")
        if count < 1:
            raise ValueError(f"functrans.numpy.{fname}: bins must be positive, got {count}")
        dtype = to_inexact_dtype(dtype_of(a))
        if range_ is None:
            lo, hi = fnp.min(a), fnp.max(a)
        else:
            lo, hi = range_
        lo, hi = cast(fnp.asarray(lo), dtype), cast(fnp.asarray(hi), dtype)
        empty = fnp.equal(lo, hi)
        lo = fnp.where(empty, fnp.subtract(lo, 0.5), lo)
        hi = fnp.where(empty, fnp.add(hi, 0.5), hi)
        return fnp.linspace(lo, hi, count + 1) if is_traced(lo) or is_traced(hi) \
            else np.linspace(lo, hi, count + 1, dtype=dtype)
    edges = _operand(bins, fname, "bins")
    if ndim_of(edges) != 1:
        raise ValueError(f"functrans.numpy.{fname}: bins must be an int, a string or 1-D "
                         f"edges, got shape {shape_of(edges)}")
    return edges


def histogram_bin_edges(a: Any, bins: Any = 10, range: Any = None,  # noqa: A002
                        weights: Any = None) -> Array:
    """The bin edges `histogram` uses."""
    a = fnp.ravel(_operand(a, "histogram_bin_edges"))
    return _histogram_edges(a, bins, range, "histogram_bin_edges")


def histogram(a: Any, bins: Any = 10, range: Any = None, weights: Any = None,  # noqa: A002
              density: bool | None = None) -> tuple[Array, Array]:
    """Counts of `a` in bins (last bin closed) and the bin edges. With integer
    `bins` the output shape is static, so this works traced."""
    a = fnp.ravel(_operand(a, "histogram"))
    edges = _histogram_edges(a, bins, range, "histogram")
    count = shape_of(edges)[0] - 1
    index = fnp.subtract(searchsorted(edges, a, side="right"), 1)
    # values equal to the last edge belong to the last bin
    index = fnp.where(fnp.equal(a, edges[-1]), count - 1, index)
    inside = fnp.logical_and(fnp.greater_equal(a, edges[0]), fnp.less_equal(a, edges[-1]))
    index = fnp.where(inside, index, count)
    if weights is None:
        w = fnp.ones(shape_of(a), _int64)
    else:
        w = fnp.ravel(_operand(weights, "histogram", "weights"))
    counts = bincount(index, w, length=count)
    if density:
        widths = fnp.diff(edges)
        total = fnp.sum(counts)
        counts = fnp.divide(fnp.divide(counts, total), widths)
    return counts, edges


# ------------------------------------------------------------------ unique

def unique(ar: Any, return_index: bool = False, return_inverse: bool = False,
           return_counts: bool = False, axis: int | None = None, *, equal_nan: bool = True,
           size: int | None = None, fill_value: Any = None, sorted: bool = True) -> Any:
    """The sorted unique elements of `ar` (or unique slices along `axis`).

    The number of unique values is data-dependent: concrete inputs give it
    exactly; traced inputs need a static ``size=`` (results padded with
    `fill_value`, default the smallest unique value, or truncated)."""
    ar = _operand(ar, "unique", "ar")
    in_shape = shape_of(ar)
    if axis is None:
        rows = fnp.reshape(ar, (size_of(ar), 1))
        ax = None
    else:
        ax = canonicalize_axis(axis, len(in_shape), "unique")
        moved = fnp.moveaxis(ar, ax, 0)
        rows = fnp.reshape(moved, (in_shape[ax], -1))
    n = shape_of(rows)[0]
    order = _row_order(rows)
    ordered = fnp.take(rows, order, axis=0)
    first = _group_starts(ordered, equal_nan)
    group = fnp.subtract(fnp.cumsum(cast(first, _int64)), 1)
    count = fnp.sum(first)
    if size is None:
        size = int(concrete(count, "unique", "the number of unique values (under jit or vmap "
                            "pass a static size= and optionally fill_value=)"))
    else:
        size = static_int(size, "unique", "size")
    # positions of the group starts: a stable sort puts the True entries first, in order
    starts = fnp.argsort(fnp.logical_not(first), stable=True)
    starts = fnp.concatenate([starts, fnp.zeros((max(size - n, 0),), _int64)])[:size]
    valid = fnp.less(np.arange(size), count)
    values = fnp.take(ordered, starts, axis=0)
    fill = ordered[0:1] if fill_value is None else fnp.broadcast_to(
        cast(fnp.asarray(fill_value), dtype_of(values)), (1,) + shape_of(values)[1:])
    values = fnp.where(valid[:, None], values, fill)
    if ax is None:
        values = fnp.reshape(values, (size,))
    else:
        values = fnp.moveaxis(fnp.reshape(values, (size,) + tuple(
            d for i, d in enumerate(in_shape) if i != ax)), 0, ax)
    outputs = [values]
    if return_index:
        outputs.append(fnp.where(valid, fnp.take(order, starts), 0))
    if return_inverse:
        inverse = fnp.take(group, fnp.argsort(order))
        outputs.append(fnp.reshape(inverse, in_shape) if ax is None else inverse)
    if return_counts:
        in_range = fnp.less(group, size)
        counts = bincount(fnp.where(in_range, group, size), length=size)
        outputs.append(counts)
    return outputs[0] if len(outputs) == 1 else tuple(outputs)


def _row_order(rows: Array) -> Array:
    """A stable lexicographic order of the rows of a 2-D array."""
    columns = shape_of(rows)[1]
    if columns == 1:
        return fnp.argsort(rows[:, 0], stable=True)
    return lexsort(fnp.flip(fnp.transpose(rows), axis=0))


def _group_starts(ordered: Array, equal_nan: bool) -> Array:
    """True at each sorted row that differs from the row before it."""
    if shape_of(ordered)[0] == 0:
        return fnp.zeros((0,), bool)
    previous, current = ordered[:-1], ordered[1:]
    differs = fnp.not_equal(current, previous)
    if equal_nan and dtype_of(ordered).kind in "fc":
        both_nan = fnp.logical_and(fnp.isnan(current), fnp.isnan(previous))
        differs = fnp.logical_and(differs, fnp.logical_not(both_nan))
    return fnp.concatenate([np.ones((1,), bool), fnp.any(differs, axis=1)])


# ------------------------------------------------------------------ sorting variants

def _check_kth(kth: Any, a: Array, axis: int, fname: str) -> None:
    n = shape_of(a)[axis] if ndim_of(a) else 1
    for k in np.atleast_1d(np.asarray(concrete(kth, fname, "kth"))):
        if not -n <= int(k) < n:
            raise ValueError(f"functrans.numpy.{fname}: kth {int(k)} is out of bounds for "
                             f"axis of size {n}")


def partition(a: Any, kth: Any, axis: int = -1) -> Array:
    """`a` with the element at `kth` where a sort puts it, smaller ones before
    and larger ones after (here: fully sorted, which is one such arrangement)."""
    a = _operand(a, "partition")
    ax = canonicalize_axis(axis, ndim_of(a), "partition")
    _check_kth(kth, a, ax, "partition")
    return fnp.sort(a, axis=ax)


def argpartition(a: Any, kth: Any, axis: int = -1) -> Array:
    """Indices that partition `a` around `kth` (a stable argsort)."""
    a = _operand(a, "argpartition")
    ax = canonicalize_axis(axis, ndim_of(a), "argpartition")
    _check_kth(kth, a, ax, "argpartition")
    return fnp.argsort(a, axis=ax)


def lexsort(keys: Any, axis: int = -1) -> Array:
    """Indices that sort by the last key, then the one before, ... (stable)."""
    if isinstance(keys, (list, tuple)):
        key_list = [_operand(k, "lexsort", "keys") for k in keys]
    else:
        stacked = _operand(keys, "lexsort", "keys")
        if ndim_of(stacked) == 0:
            raise TypeError("functrans.numpy.lexsort: keys must be a sequence of arrays or an "
                            "array of at least one dimension, got a 0-d array")
        key_list = [stacked[i] for i in range(shape_of(stacked)[0])]
    if not key_list:
        raise TypeError("functrans.numpy.lexsort: need at least one key")
    key_list = fnp.broadcast_arrays(*key_list)
    if ndim_of(key_list[0]) == 0:
        return np.zeros((), _int64)
    ax = canonicalize_axis(axis, ndim_of(key_list[0]), "lexsort")
    # least significant key first; each stable sort keeps the order of the previous ones
    order = fnp.argsort(key_list[0], axis=ax, stable=True)
    for key in key_list[1:]:  # a static number of keys
        permuted = fnp.take_along_axis(key, order, axis=ax)
        order = fnp.take_along_axis(order, fnp.argsort(permuted, axis=ax, stable=True), axis=ax)
    return order


def sort_complex(a: Any) -> Array:
    """`a` sorted along its last axis by real part, then imaginary part, as complex."""
    a = _operand(a, "sort_complex")
    dtype = dtype_of(a)
    complex_dtype = np.dtype(np.complex64) if dtype in (np.float32, np.float16) or \
        dtype == np.complex64 or (dtype.kind in "iub" and dtype.itemsize <= 2) \
        else np.dtype(np.complex128)
    a = cast(a, complex_dtype)
    if ndim_of(a) == 0:
        return a
    order = lexsort([fnp.imag(a), fnp.real(a)], axis=-1)
    return fnp.take_along_axis(a, order, axis=-1)


# ------------------------------------------------------------------ index constructors

def triu_indices(n: int, k: int = 0, m: int | None = None) -> tuple[Array, Array]:
    """Row and column indices of the upper triangle of an (n, m) array."""
    n = static_int(n, "triu_indices", "n")
    m = n if m is None else static_int(m, "triu_indices", "m")
    return np.triu_indices(n, static_int(k, "triu_indices", "k"), m)


def tril_indices(n: int, k: int = 0, m: int | None = None) -> tuple[Array, Array]:
    """Row and column indices of the lower triangle of an (n, m) array."""
    n = static_int(n, "tril_indices", "n")
    m = n if m is None else static_int(m, "tril_indices", "m")
    return np.tril_indices(n, static_int(k, "tril_indices", "k"), m)


def diag_indices(n: int, ndim: int = 2) -> tuple[Array, ...]:
    """Indices of the main diagonal of an ``(n,) * ndim`` array."""
    return np.diag_indices(static_int(n, "diag_indices", "n"),
                           static_int(ndim, "diag_indices", "ndim"))


def indices(dimensions: Sequence[int], dtype: Any = int, sparse: bool = False) -> Any:
    """An index grid for an array of shape `dimensions`."""
    dims = tuple(static_int(d, "indices", "a dimension") for d in dimensions)
    return np.indices(dims, dtype=dtype, sparse=sparse)


def unravel_index(indices: Any, shape: Sequence[int]) -> tuple[Array, ...]:
    """Coordinates in an array of `shape` of the flat `indices` (negative ones
    count from the end; out-of-range ones are clipped, as jax.numpy)."""
    dims = tuple(static_int(d, "unravel_index", "a shape entry") for d in shape)
    flat = _operand(indices, "unravel_index", "indices")
    if dtype_of(flat).kind not in "iu":
        raise TypeError(f"functrans.numpy.unravel_index: indices must be integers, got dtype "
                        f"{dtype_of(flat)}")
    total = int(np.prod(dims, dtype=np.int64))
    if not is_traced(flat):
        values = np.asarray(flat)
        if ((values < -total) | (values >= total)).any():
            raise ValueError(f"functrans.numpy.unravel_index: index out of bounds for an array "
                             f"of size {total}")
    flat = cast(flat, _int64)
    flat = fnp.where(fnp.less(flat, 0), fnp.add(flat, total), flat)
    flat = fnp.clip(flat, 0, max(total - 1, 0))
    coords = []
    for d in reversed(dims):  # a static number of dimensions
        coords.append(fnp.remainder(flat, d) if d else flat)
        flat = fnp.floor_divide(flat, d) if d else flat
    return tuple(reversed(coords))


def ravel_multi_index(multi_index: Sequence[Any], dims: Sequence[int], mode: str = "raise",
                      order: str = "C") -> Array:
    """Flat indices in an array of shape `dims` of the coordinate arrays
    `multi_index` (mode raise/wrap/clip; 'raise' needs concrete indices)."""
    dims = tuple(static_int(d, "ravel_multi_index", "a dims entry") for d in dims)
    if len(multi_index) != len(dims):
        raise ValueError(f"functrans.numpy.ravel_multi_index: got {len(multi_index)} index "
                         f"arrays for {len(dims)} dimensions")
    if order not in ("C", "F"):
        raise ValueError(f"functrans.numpy.ravel_multi_index: order must be 'C' or 'F', got "
                         f"{order!r}")
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"functrans.numpy.ravel_multi_index: mode must be 'raise', 'wrap' or "
                         f"'clip', got {mode!r}")
    coords = [cast(_operand(i, "ravel_multi_index", "multi_index"), _int64)
              for i in multi_index]
    for c, d in zip(coords, dims, strict=True):
        if mode == "raise":
            values = np.asarray(concrete(c, "ravel_multi_index", "multi_index (with "
                                         "mode='raise'; pass mode='clip' or 'wrap' to trace)"))
            if ((values < 0) | (values >= d)).any():
                raise ValueError("functrans.numpy.ravel_multi_index: invalid entry in "
                                 f"coordinates array (dimension of size {d})")
    if mode == "wrap":
        coords = [fnp.remainder(c, d) for c, d in zip(coords, dims, strict=True)]
    elif mode == "clip":
        coords = [fnp.clip(c, 0, d - 1) for c, d in zip(coords, dims, strict=True)]
    sizes = list(dims) if order == "C" else list(reversed(dims))
    strides_list = [int(np.prod(sizes[i + 1:], dtype=np.int64)) for i in range(len(sizes))]
    strides = strides_list if order == "C" else list(reversed(strides_list))
    total: Any = np.zeros((), _int64)
    for c, s in zip(coords, strides, strict=True):
        total = fnp.add(total, fnp.multiply(c, s))
    return total


# ------------------------------------------------------------------ append, insert, delete

def append(arr: Any, values: Any, axis: int | None = None) -> Array:
    """`values` appended to `arr` (both flattened when `axis` is None)."""
    arr, values = _operand(arr, "append", "arr"), _operand(values, "append", "values")
    if axis is None:
        return fnp.concatenate([fnp.ravel(arr), fnp.ravel(values)])
    return fnp.concatenate([arr, values], axis=axis)


def _static_index(obj: Any, fname: str) -> Any:
    if isinstance(obj, slice):
        return obj
    value = np.asarray(concrete(obj, fname, "obj (the indices must be static)"))
    if value.dtype.kind not in "biu":
        raise TypeError(f"functrans.numpy.{fname}: obj must be integer or boolean indices "
                        f"or a slice, got dtype {value.dtype}")
    return value


def delete(arr: Any, obj: Any, axis: int | None = None, *,
           assume_unique_indices: bool = False) -> Array:
    """`arr` without the entries at static `obj` along `axis` (flattened for None)."""
    arr = _operand(arr, "delete", "arr")
    if axis is None:
        arr, axis = fnp.ravel(arr), 0
    ax = canonicalize_axis(axis, ndim_of(arr), "delete")
    keep = np.delete(np.arange(shape_of(arr)[ax]), _static_index(obj, "delete"))
    return fnp.take(arr, keep, axis=ax)


def insert(arr: Any, obj: Any, values: Any, axis: int | None = None) -> Array:
    """`values` inserted before the static indices `obj` along `axis`."""
    arr = _operand(arr, "insert", "arr")
    values = cast(_operand(values, "insert", "values"), dtype_of(arr))
    if axis is None:
        arr, axis = fnp.ravel(arr), 0
    ax = canonicalize_axis(axis, ndim_of(arr), "insert")
    n = shape_of(arr)[ax]
    index = _static_index(obj, "insert")
    if isinstance(index, slice):
        index = np.arange(*index.indices(n))
    if index.dtype.kind == "b":
        raise TypeError("functrans.numpy.insert: boolean obj is not supported (NumPy "
                        "neither); pass integer indices")
    if index.ndim == 0:
        # one position: NumPy inserts all of `values`, laid out with its first axis on `axis`
        values = fnp.moveaxis(_at_least(values, ndim_of(arr)), 0, ax)
        count = shape_of(values)[ax]
        positions = np.full(count, int(index))
    else:
        count = index.size
        positions = index.ravel()
    new_shape = list(shape_of(arr))
    new_shape[ax] = count
    values = fnp.broadcast_to(values, tuple(new_shape))
    if ((positions < -n) | (positions > n)).any():
        raise IndexError(f"functrans.numpy.insert: index out of bounds for axis {ax} with "
                         f"size {n}")
    positions = np.where(positions < 0, positions + n, positions)
    combined = fnp.concatenate([arr, values], axis=ax)
    return fnp.take(combined, _insert_source(n, positions), axis=ax)


def _insert_source(n: int, positions: np.ndarray) -> np.ndarray:
    """For each slot of the result, its index into ``concat(arr, values)``: the
    new values go before `positions`, in the order of the stably sorted positions
    (as NumPy), shifted by the values inserted before them."""
    order = np.argsort(positions, kind="stable")
    total = n + positions.size
    source = np.empty(total, np.int64)
    new_slots = positions[order] + np.arange(positions.size)
    is_new = np.zeros(total, bool)
    is_new[new_slots] = True
    source[new_slots] = n + order
    source[~is_new] = np.arange(n)
    return source


def _at_least(x: Array, ndim: int) -> Array:
    """`x` with leading unit axes up to `ndim` (NumPy's ``array(x, ndmin=ndim)``)."""
    missing = ndim - ndim_of(x)
    return fnp.reshape(x, (1,) * missing + shape_of(x)) if missing > 0 else x


def resize(a: Any, new_shape: Any) -> Array:
    """`a` flattened, repeated cyclically to fill `new_shape`."""
    a = fnp.ravel(_operand(a, "resize"))
    shape = (static_int(new_shape, "resize", "new_shape"),) if np.ndim(new_shape) == 0 \
        else tuple(static_int(d, "resize", "a new_shape entry") for d in new_shape)
    if any(d < 0 for d in shape):
        raise ValueError(f"functrans.numpy.resize: all elements of new_shape must be "
                         f"non-negative, got {shape}")
    total = int(np.prod(shape, dtype=np.int64))
    if size_of(a) == 0:
        return fnp.zeros(shape, dtype_of(a))
    return fnp.reshape(fnp.take(a, np.arange(total) % size_of(a)), shape)


def trim_zeros(filt: Any, trim: str = "fb", axis: Any = None) -> Array:
    """1-D `filt` without its leading ('f') and/or trailing ('b') zeros.
    The result length depends on the values, so `filt` must be concrete."""
    filt = _operand(filt, "trim_zeros", "filt")
    if ndim_of(filt) != 1:
        raise ValueError(f"functrans.numpy.trim_zeros: filt must be 1-D, got shape "
                         f"{shape_of(filt)}")
    nonzero = np.asarray(concrete(fnp.not_equal(filt, 0), "trim_zeros",
                                  "filt (the output length depends on it; trim_zeros has no "
                                  "traced form: slice with static bounds instead)"))
    where = np.flatnonzero(nonzero)
    trim = trim.lower()
    if where.size == 0:
        return filt[0:0]
    start = int(where[0]) if "f" in trim else 0
    stop = int(where[-1]) + 1 if "b" in trim else shape_of(filt)[0]
    return filt[start:stop]


# ------------------------------------------------------------------ piecewise, split, einsum_path

@quiet
def piecewise(x: Any, condlist: Any, funclist: Sequence[Any], *args: Any, **kw: Any) -> Array:
    """Per element, ``funclist[i](x)`` for the first true ``condlist[i]`` (a
    last extra function or value is the default, else 0). Each function is
    evaluated on the whole of `x` (vectorised), then the results selected."""
    x = _operand(x, "piecewise", "x")
    if isinstance(condlist, (list, tuple)):
        conds = [_operand(c, "piecewise", "condlist") for c in condlist]
    else:
        stacked = _operand(condlist, "piecewise", "condlist")
        conds = [stacked] if ndim_of(stacked) <= ndim_of(x) else \
            [stacked[i] for i in range(shape_of(stacked)[0])]
    n = len(conds)
    if len(funclist) not in (n, n + 1):
        raise ValueError(f"functrans.numpy.piecewise: with {n} condition(s) funclist must "
                         f"have {n} or {n + 1} entries, got {len(funclist)}")
    dtype = dtype_of(x)

    def evaluate(f: Any) -> Array:
        value = f(x, *args, **kw) if callable(f) else f
        return fnp.broadcast_to(cast(_operand(value, "piecewise", "funclist"), dtype),
                                shape_of(x))

    result = evaluate(funclist[n]) if len(funclist) == n + 1 else fnp.zeros(shape_of(x), dtype)
    # later conditions win where several hold, as NumPy's sequential assignment
    for cond, f in zip(conds, funclist[:n], strict=True):  # a static number of pieces
        result = fnp.where(cond, evaluate(f), result)
    return result


def dsplit(ary: Any, indices_or_sections: Any) -> list[Array]:
    """Split `ary` along its third axis."""
    ary = _operand(ary, "dsplit", "ary")
    if ndim_of(ary) < 3:
        raise ValueError(f"functrans.numpy.dsplit only works on arrays of 3 or more "
                         f"dimensions, got shape {shape_of(ary)}")
    return fnp.split(ary, indices_or_sections, axis=2)


def einsum_path(subscripts: Any, *operands: Any, optimize: Any = "greedy"
                ) -> tuple[list[Any], str]:
    """NumPy's contraction order and report for an einsum (only shapes matter)."""
    if isinstance(subscripts, str):
        return np.einsum_path(subscripts, *(_stand_in(o) for o in operands), optimize=optimize)
    # sublist form: array, sublist, array, sublist, ..., [output sublist]
    args = [_stand_in(subscripts)] + [_stand_in(o) if i % 2 else o
                                      for i, o in enumerate(operands)]
    return np.einsum_path(*args, optimize=optimize)


def _stand_in(x: Any) -> np.ndarray:
    """An array of the shape and dtype of `x` (its values do not matter)."""
    x = _operand(x, "einsum_path", "operands")
    return np.zeros(shape_of(x), dtype_of(x)) if is_traced(x) else np.asarray(x)
