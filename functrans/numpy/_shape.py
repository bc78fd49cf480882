"""Shape manipulation: reshape, transpose, joining, splitting, flipping,
tiling, padding, diagonals and triangles.

All of these are structural (linear) lax primitives, or a gather with
constant indices, so they transpose cleanly under reverse mode.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from functrans.numpy import _indexing, _reductions, _ufuncs
from functrans.numpy._lax import lax
from functrans.numpy._util import (
    Array,
    as_array,
    asarray_arg,
    broadcast_shapes,
    canonicalize_axes,
    canonicalize_axis,
    cast,
    concrete,
    dtype_of,
    is_traced,
    ndim_of,
    result_type,
    same_dtype_arrays,
    shape_of,
    size_of,
    static_int,
    static_shape,
)
from functrans.numpy._util import operand as _operand
from functrans.transforms.tape import one_entry


def _shape(x: Array) -> tuple[int, ...]:
    return shape_of(x)


# ------------------------------------------------------------------ reshaping

def _resolve_shape(shape: Sequence[int], size: int, old_shape: tuple[int, ...],
                   fname: str) -> tuple[int, ...]:
    """`shape` with its (at most one) -1 entry filled in."""
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if builtins.any(s < -1 for s in shape) or len(unknown) > 1:
        raise ValueError(f"functrans.numpy.{fname}: invalid shape {tuple(shape)}: sizes must be "
                         "non-negative, with at most one -1")
    known = math.prod(s for s in shape if s != -1)
    if unknown:
        if known == 0 or size % known:
            raise ValueError(f"functrans.numpy.{fname}: cannot reshape array of shape "
                             f"{old_shape} (size {size}) into shape {tuple(shape)}")
        shape = list(shape)
        shape[unknown[0]] = size // known
    elif known != size:
        raise ValueError(f"functrans.numpy.{fname}: cannot reshape array of shape {old_shape} "
                         f"(size {size}) into shape {tuple(shape)}")
    return tuple(shape)


@one_entry(1)
def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None) -> Array:
    """`a` with a new shape (one entry may be -1); row-major ('C') or
    column-major ('F') element order."""
    if shape is None:
        shape = newshape
    if shape is None:
        raise TypeError("functrans.numpy.reshape: missing the target shape")
    a = _operand(a, "reshape")
    old_shape = _shape(a)
    new_shape = _resolve_shape(static_shape(shape, "reshape"), math.prod(old_shape), old_shape,
                               "reshape")
    if order == "C":
        if new_shape == old_shape:
            return a
        # the sizes are Python ints and checked: what lax.reshape would bind
        return lax.reshape_p.bind(a, new_sizes=new_shape, dimensions=None)
    if order == "F":
        reversed_dims = tuple(range(len(old_shape) - 1, -1, -1))
        flat = lax.reshape(lax.transpose(a, reversed_dims), new_shape[::-1])
        return lax.transpose(flat, tuple(range(len(new_shape) - 1, -1, -1)))
    raise ValueError(f"functrans.numpy.reshape: order must be 'C' or 'F', got {order!r}")


@one_entry(1)
def ravel(a: Any, order: str = "C") -> Array:
    """`a` flattened to 1-D."""
    return reshape(a, (-1,), order)


@one_entry(1)
def transpose(a: Any, axes: Any = None) -> Array:
    """`a` with its axes permuted (reversed when `axes` is None)."""
    a = _operand(a, "transpose")
    ndim = ndim_of(a)
    if axes is None:
        perm = tuple(range(ndim - 1, -1, -1))
    else:
        perm = tuple(canonicalize_axis(ax, ndim, "transpose") for ax in axes)
        if sorted(perm) != list(range(ndim)):
            raise ValueError(f"functrans.numpy.transpose: axes {tuple(axes)} are not a "
                             f"permutation of the {ndim} axes")
    return lax.transpose(a, perm)


def permute_dims(a: Any, axes: Any) -> Array:
    """The array-API spelling of transpose."""
    return transpose(a, axes)


def matrix_transpose(x: Any) -> Array:
    """Swap the last two axes."""
    x = _operand(x, "matrix_transpose", "x")
    ndim = ndim_of(x)
    if ndim < 2:
        raise ValueError(f"functrans.numpy.matrix_transpose: needs at least 2 dimensions, got "
                         f"shape {_shape(x)}")
    return lax.transpose(x, tuple(range(ndim - 2)) + (ndim - 1, ndim - 2))


@one_entry(1)
def swapaxes(a: Any, axis1: int, axis2: int) -> Array:
    """`a` with two axes interchanged."""
    a = _operand(a, "swapaxes")
    ndim = ndim_of(a)
    i = canonicalize_axis(axis1, ndim, "swapaxes")
    j = canonicalize_axis(axis2, ndim, "swapaxes")
    perm = list(range(ndim))
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(a, tuple(perm))


@one_entry(1)
def moveaxis(a: Any, source: Any, destination: Any) -> Array:
    """`a` with axes `source` moved to positions `destination` (ints or sequences)."""
    a = _operand(a, "moveaxis")
    ndim = ndim_of(a)
    src = [source] if not isinstance(source, (tuple, list)) else list(source)
    dst = [destination] if not isinstance(destination, (tuple, list)) else list(destination)
    if len(src) != len(dst):
        raise ValueError("functrans.numpy.moveaxis: source and destination must have the same "
                         f"number of elements, got {len(src)} and {len(dst)}")
    src = [canonicalize_axis(s, ndim, "moveaxis") for s in src]
    dst = [canonicalize_axis(d, ndim, "moveaxis") for d in dst]
    order = [n for n in range(ndim) if n not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return lax.transpose(a, tuple(order))


@one_entry(1)
def squeeze(a: Any, axis: Any = None) -> Array:
    """`a` without the size-1 axes `axis` (all of them for None)."""
    a = _operand(a, "squeeze")
    shape = _shape(a)
    if axis is None:
        axes = tuple(i for i, d in enumerate(shape) if d == 1)
    else:
        axes = canonicalize_axes(axis, len(shape), "squeeze")
        for i in axes:
            if shape[i] != 1:
                raise ValueError(f"functrans.numpy.squeeze: cannot select an axis to squeeze "
                                 f"out which has size not equal to one (axis {i} of shape "
                                 f"{shape})")
    return lax.reshape(a, tuple(d for i, d in enumerate(shape) if i not in axes))


@one_entry(1)
def expand_dims(a: Any, axis: Any) -> Array:
    """`a` with new size-1 axes inserted at positions `axis` of the result."""
    a = _operand(a, "expand_dims")
    shape = _shape(a)
    out_ndim = len(shape) + (len(axis) if isinstance(axis, (tuple, list)) else 1)
    axes = canonicalize_axes(axis, out_ndim, "expand_dims")
    rest = iter(shape)
    return lax.reshape(a, tuple(1 if i in axes else next(rest) for i in range(out_ndim)))


@one_entry(1)
def broadcast_to(array: Any, shape: Any) -> Array:
    """`array` broadcast to `shape` (NumPy's trailing-axis alignment)."""
    array = _operand(array, "broadcast_to", "array")
    shape = static_shape(shape, "broadcast_to")
    old = _shape(array)
    if len(shape) < len(old) or broadcast_shapes("broadcast_to", old, shape) != shape:
        raise ValueError(f"functrans.numpy.broadcast_to: cannot broadcast an array of shape "
                         f"{old} to shape {shape}")
    dims = tuple(range(len(shape) - len(old), len(shape)))
    return lax.broadcast_in_dim(array, shape, dims)


def broadcast_arrays(*args: Any) -> list[Array]:
    """The arguments broadcast to their common shape."""
    args_ = [_operand(a, "broadcast_arrays") for a in args]
    shape = broadcast_shapes("broadcast_arrays", *(_shape(a) for a in args_))
    return [broadcast_to(a, shape) for a in args_]


def broadcast_shapes_(*shapes: Any) -> tuple[int, ...]:
    """The shape the given shapes broadcast to."""
    return broadcast_shapes("broadcast_shapes",
                            *(static_shape(s, "broadcast_shapes") for s in shapes))


def _atleast(arys: tuple[Any, ...], ndim: int, fname: str) -> Any:
    out = []
    for a in arys:
        a = _operand(a, fname)
        shape = _shape(a)
        if len(shape) < ndim:
            if ndim == 3 and len(shape) == 1:
                shape = (1,) + shape + (1,)
            elif ndim == 3 and len(shape) == 2:
                shape = shape + (1,)
            else:
                shape = (1,) * (ndim - len(shape)) + shape
            a = lax.reshape(a, shape)
        out.append(a)
    return out[0] if len(out) == 1 else out


def atleast_1d(*arys: Any) -> Any:
    """Each argument with at least one dimension."""
    return _atleast(arys, 1, "atleast_1d")


def atleast_2d(*arys: Any) -> Any:
    """Each argument with at least two dimensions (new axes in front)."""
    return _atleast(arys, 2, "atleast_2d")


def atleast_3d(*arys: Any) -> Any:
    """Each argument with at least three dimensions (NumPy's placement)."""
    return _atleast(arys, 3, "atleast_3d")


# ------------------------------------------------------------------ joining

@one_entry(1)
def concatenate(arrays: Sequence[Any], axis: Any = 0, dtype: Any = None) -> Array:
    """The arrays joined along an existing `axis` (flattened first for None)."""
    if dtype is None and type(axis) is int and type(arrays) in (list, tuple) \
            and len(arrays) > 1 and same_dtype_arrays(arrays):
        joined = _join(arrays, axis)
        if joined is not None:
            return joined
    if isinstance(arrays, (np.ndarray,)) or is_traced(arrays):
        arrays = list(arrays)
    arrays = [_operand(a, "concatenate", "arrays") for a in arrays]
    if not arrays:
        raise ValueError("functrans.numpy.concatenate: need at least one array to concatenate")
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    ndim = ndim_of(arrays[0])
    if ndim == 0:
        raise ValueError("functrans.numpy.concatenate: zero-dimensional arrays cannot be "
                         "concatenated")
    ax = canonicalize_axis(axis, ndim, "concatenate")
    shapes = [_shape(a) for a in arrays]
    for s in shapes:
        if len(s) != ndim or s[:ax] + s[ax + 1:] != shapes[0][:ax] + shapes[0][ax + 1:]:
            raise ValueError(f"functrans.numpy.concatenate: all input array dimensions except "
                             f"for the concatenation axis ({ax}) must match, got shapes "
                             f"{', '.join(map(str, shapes))}")
    out_dtype = np.dtype(dtype) if dtype is not None else result_type(*arrays)
    arrays = [cast(a, out_dtype) for a in arrays]
    if len(arrays) == 1:
        return arrays[0]
    return lax.concatenate(arrays, ax)


def _join(arrays: Sequence[Array], axis: int) -> Array | None:
    """The common case of concatenate: arrays or tracers of one dtype (nothing to
    convert) whose shapes agree off a valid `axis`. Their concatenate is bound with
    nothing left to check (lax.concatenate would check it all again). None for
    anything else: the general path decides, or explains the error."""
    shape = _shape(arrays[0])
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        return None
    axis %= ndim
    outer, inner = shape[:axis], shape[axis + 1:]
    for a in arrays[1:]:
        other = _shape(a)
        if len(other) != ndim or other[:axis] != outer or other[axis + 1:] != inner:
            return None
    return lax.concatenate_p.bind(*arrays, dimension=axis)


def concat(arrays: Sequence[Any], /, *, axis: Any = 0) -> Array:
    """The array-API spelling of concatenate."""
    return concatenate(arrays, axis)


@one_entry(1)
def stack(arrays: Sequence[Any], axis: int = 0, dtype: Any = None) -> Array:
    """The arrays (all of one shape) joined along a new `axis`."""
    if isinstance(arrays, np.ndarray) or is_traced(arrays):
        arrays = list(arrays)
    arrays = [_operand(a, "stack", "arrays") for a in arrays]
    if not arrays:
        raise ValueError("functrans.numpy.stack: need at least one array to stack")
    shapes = {_shape(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"functrans.numpy.stack: all input arrays must have the same shape, "
                         f"got {', '.join(str(_shape(a)) for a in arrays)}")
    ndim = ndim_of(arrays[0])
    ax = canonicalize_axis(axis, ndim + 1, "stack")
    (shape,) = shapes
    expanded = shape[:ax] + (1,) + shape[ax:]
    # each operand's new axis: the reshape lax.reshape (and expand_dims) would bind
    return concatenate([lax.reshape_p.bind(a, new_sizes=expanded, dimensions=None)
                        for a in arrays], ax, dtype)


@one_entry(1)
def hstack(tup: Sequence[Any], dtype: Any = None) -> Array:
    """Join horizontally: along axis 1 (axis 0 for 1-D inputs)."""
    arrays = [atleast_1d(a) for a in tup]
    axis = 0 if arrays and ndim_of(arrays[0]) == 1 else 1
    return concatenate(arrays, axis, dtype)


@one_entry(1)
def vstack(tup: Sequence[Any], dtype: Any = None) -> Array:
    """Join vertically: along axis 0 of the inputs made at least 2-D."""
    return concatenate([atleast_2d(a) for a in tup], 0, dtype)


row_stack = vstack


def dstack(tup: Sequence[Any], dtype: Any = None) -> Array:
    """Join along the third axis of the inputs made at least 3-D."""
    return concatenate([atleast_3d(a) for a in tup], 2, dtype)


@one_entry(1)
def column_stack(tup: Sequence[Any]) -> Array:
    """Join 1-D arrays as columns of a 2-D array (2-D arrays as they are)."""
    arrays = []
    for a in tup:
        a = _operand(a, "column_stack", "tup")
        if ndim_of(a) < 2:
            a = lax.reshape(a, (size_of(a), 1))
        arrays.append(a)
    return concatenate(arrays, 1)


# ------------------------------------------------------------------ splitting

def slice_axis(x: Array, axis: int, start: int, stop: int, step: int = 1) -> Array:
    """``x[..., start:stop:step, ...]`` on one axis (0 <= start <= stop, step > 0)."""
    shape = _shape(x)
    if start == 0 and stop == shape[axis] and step == 1:
        return x
    starts = [0] * len(shape)
    limits = list(shape)
    strides = [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, stop, step
    return lax.slice(x, tuple(starts), tuple(limits), tuple(strides))


def _split(ary: Any, indices_or_sections: Any, axis: Any, fname: str, even: bool
           ) -> list[Array]:
    ary = _operand(ary, fname, "ary")
    shape = _shape(ary)
    ax = canonicalize_axis(axis, len(shape), fname)
    n = shape[ax]
    sections = concrete(indices_or_sections, fname, "indices_or_sections")
    if np.ndim(sections) == 0:
        count = static_int(sections, fname, "the number of sections")
        if count <= 0:
            raise ValueError(f"functrans.numpy.{fname}: number of sections must be larger "
                             f"than 0, got {count}")
        if even and n % count:
            raise ValueError(f"functrans.numpy.{fname}: array split does not result in an "
                             f"equal division ({n} elements along axis {ax} into {count})")
        each, extra = builtins.divmod(n, count)
        sizes = [each + 1] * extra + [each] * (count - extra)
        points = [0] + list(np.cumsum(sizes))
    else:
        cuts = [static_int(i, fname, "a split index") for i in np.asarray(sections).ravel()]
        points = [0] + cuts + [n]
    bounds = [builtins.min(builtins.max(p if p >= 0 else p + n, 0), n) for p in points]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        out.append(slice_axis(ary, ax, lo, builtins.max(lo, hi)))
    return out


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Array]:
    """`ary` split into equal sections, or at the given indices, along `axis`."""
    return _split(ary, indices_or_sections, axis, "split", even=True)


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Array]:
    """Like split, allowing sections of unequal size."""
    return _split(ary, indices_or_sections, axis, "array_split", even=False)


def hsplit(ary: Any, indices_or_sections: Any) -> list[Array]:
    """Split along axis 1 (axis 0 for 1-D)."""
    ary = _operand(ary, "hsplit", "ary")
    return split(ary, indices_or_sections, 1 if ndim_of(ary) > 1 else 0)


def vsplit(ary: Any, indices_or_sections: Any) -> list[Array]:
    """Split along axis 0."""
    return split(ary, indices_or_sections, 0)


# ------------------------------------------------------------------ reordering

@one_entry(1)
def flip(m: Any, axis: Any = None) -> Array:
    """`m` with the order of elements reversed along `axis` (all axes for None)."""
    m = _operand(m, "flip", "m")
    axes = canonicalize_axes(axis, ndim_of(m), "flip")
    return lax.rev(m, axes) if axes else m


@one_entry(1)
def fliplr(m: Any) -> Array:
    """Reverse the order of columns (axis 1)."""
    m = _operand(m, "fliplr", "m")
    if ndim_of(m) < 2:
        raise ValueError(f"functrans.numpy.fliplr: input must be at least 2-D, got shape "
                         f"{_shape(m)}")
    return flip(m, 1)


@one_entry(1)
def flipud(m: Any) -> Array:
    """Reverse the order of rows (axis 0)."""
    m = _operand(m, "flipud", "m")
    if ndim_of(m) < 1:
        raise ValueError("functrans.numpy.flipud: input must be at least 1-D")
    return flip(m, 0)


def rot90(m: Any, k: int = 1, axes: tuple[int, int] = (0, 1)) -> Array:
    """`m` rotated by 90 degrees `k` times in the plane of `axes`."""
    m = _operand(m, "rot90", "m")
    ndim = ndim_of(m)
    a0, a1 = (canonicalize_axis(a, ndim, "rot90") for a in axes)
    if a0 == a1:
        raise ValueError("functrans.numpy.rot90: axes must be different")
    k = static_int(k, "rot90", "k") % 4
    if k == 0:
        return m
    if k == 2:
        return flip(m, (a0, a1))
    perm = list(range(ndim))
    perm[a0], perm[a1] = perm[a1], perm[a0]
    if k == 1:
        return lax.transpose(flip(m, a1), tuple(perm))
    return flip(lax.transpose(m, tuple(perm)), a1)


@one_entry(1)
def roll(a: Any, shift: Any, axis: Any = None) -> Array:
    """Elements of `a` shifted cyclically by `shift` along `axis` (flattened for None)."""
    a = _operand(a, "roll")
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), _shape(a))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    shifts = shift if isinstance(shift, (tuple, list)) else (shift,) * len(axes)
    if len(shifts) != len(axes):
        raise ValueError(f"functrans.numpy.roll: {len(shifts)} shifts for {len(axes)} axes")
    for s, ax in zip(shifts, axes, strict=True):
        a = _roll_axis(a, s, canonicalize_axis(ax, ndim_of(a), "roll"))
    return a


def _roll_axis(a: Array, shift: Any, axis: int) -> Array:
    n = _shape(a)[axis]
    if n == 0:
        return a
    if is_traced(shift):
        doubled = concatenate([a, a], axis)
        start = _ufuncs.remainder(_ufuncs.subtract(n, cast(shift, np.dtype(np.int64))), n)
        starts = [np.int64(0)] * len(_shape(a))
        starts[axis] = start
        return lax.dynamic_slice(doubled, starts, _shape(a))
    s = static_int(shift, "roll", "shift") % n
    if s == 0:
        return a
    return concatenate([slice_axis(a, axis, n - s, n), slice_axis(a, axis, 0, n - s)], axis)


@one_entry(1)
def tile(A: Any, reps: Any) -> Array:  # noqa: N803  (NumPy's name)
    """`A` repeated `reps` times along each axis (whole copies)."""
    A = _operand(A, "tile", "A")
    reps = static_shape(reps, "tile")
    shape = _shape(A)
    ndim = builtins.max(len(shape), len(reps))
    shape = (1,) * (ndim - len(shape)) + shape
    reps = (1,) * (ndim - len(reps)) + tuple(reps)
    A = lax.reshape(A, shape)
    interleaved = tuple(x for r, d in zip(reps, shape, strict=True) for x in (r, d))
    expanded = lax.broadcast_in_dim(A, interleaved, tuple(range(1, 2 * ndim, 2)))
    return lax.reshape(expanded, tuple(r * d for r, d in zip(reps, shape, strict=True)))


@one_entry(1)
def repeat(a: Any, repeats: Any, axis: Any = None, *,
           total_repeat_length: int | None = None) -> Array:
    """Each element of `a` repeated `repeats` times along `axis` (flattened for None).

    `repeats` is an int or a concrete sequence (one count per element)."""
    a = _operand(a, "repeat")
    if axis is None:
        a, axis = ravel(a), 0
    shape = _shape(a)
    ax = canonicalize_axis(axis, len(shape), "repeat")
    counts = np.asarray(concrete(repeats, "repeat", "repeats"))
    if counts.dtype.kind not in "iub":
        raise TypeError(f"functrans.numpy.repeat: repeats must be integers, got {counts.dtype}")
    if (counts < 0).any():
        raise ValueError("functrans.numpy.repeat: repeats may not contain negative values")
    if counts.size == 1:
        r = int(counts.ravel()[0])
        result = _repeat_uniform(a, r, ax)
    else:
        if counts.shape != (shape[ax],):
            raise ValueError(f"functrans.numpy.repeat: {counts.size} repeat counts for axis "
                             f"{ax} of length {shape[ax]}")
        result = _indexing.take(a, np.repeat(np.arange(shape[ax]), counts), axis=ax)
    if total_repeat_length is not None and _shape(result)[ax] != total_repeat_length:
        raise ValueError(f"functrans.numpy.repeat: total_repeat_length={total_repeat_length} "
                         f"but the repeats give {_shape(result)[ax]}")
    return result


def _repeat_uniform(a: Array, r: int, ax: int) -> Array:
    shape = _shape(a)
    expanded_shape = shape[:ax + 1] + (r,) + shape[ax + 1:]
    dims = tuple(range(ax + 1)) + tuple(range(ax + 2, len(shape) + 1))
    expanded = lax.broadcast_in_dim(a, expanded_shape, dims)
    return lax.reshape(expanded, shape[:ax] + (shape[ax] * r,) + shape[ax + 1:])


# ------------------------------------------------------------------ padding

_INDEX_PAD_MODES = ("edge", "reflect", "symmetric", "wrap")


@one_entry(1)
def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Array:
    """`array` padded by `pad_width` (NumPy's forms: an int, a pair, or one pair
    per axis). Modes: 'constant' (``constant_values``), 'empty' (zeros),
    'edge', 'reflect', 'symmetric', 'wrap'."""
    array = _operand(array, "pad", "array")
    shape = _shape(array)
    widths = _pad_widths(pad_width, len(shape))
    if mode in ("constant", "empty"):
        values = kwargs.pop("constant_values", 0)
        _no_extra_kwargs(kwargs, mode)
        return _pad_constant(array, widths, values)
    if mode in _INDEX_PAD_MODES:
        if mode in ("reflect", "symmetric"):
            kind = kwargs.pop("reflect_type", "even")
            if kind != "even":
                raise ValueError("functrans.numpy.pad: only reflect_type='even' is supported")
        _no_extra_kwargs(kwargs, mode)
        for ax, (before, after) in enumerate(widths):
            if before or after:
                source = np.pad(np.arange(shape[ax]), (before, after), mode=mode)
                array = _indexing.take(array, source, axis=ax)
        return array
    raise ValueError(f"functrans.numpy.pad: mode {mode!r} is not supported; use one of "
                     f"'constant', 'empty', {', '.join(repr(m) for m in _INDEX_PAD_MODES)}")


def _no_extra_kwargs(kwargs: dict[str, Any], mode: str) -> None:
    if kwargs:
        raise TypeError(f"functrans.numpy.pad: unexpected keyword arguments for mode "
                        f"{mode!r}: {', '.join(kwargs)}")


def _pad_widths(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    widths = np.asarray(concrete(pad_width, "pad", "pad_width"))
    if widths.dtype.kind not in "iu":
        raise TypeError(f"functrans.numpy.pad: pad_width must be integers, got {pad_width!r}")
    try:
        widths = np.broadcast_to(widths, (ndim, 2))
    except ValueError:
        raise ValueError(f"functrans.numpy.pad: pad_width {pad_width!r} does not fit an array "
                         f"of {ndim} dimensions; give an int, a pair, or one pair per "
                         "axis") from None
    if (widths < 0).any():
        raise ValueError(f"functrans.numpy.pad: pad widths must be non-negative, got "
                         f"{pad_width!r}")
    return [(int(b), int(a)) for b, a in widths]


def _pad_constant(array: Array, widths: list[tuple[int, int]], values: Any) -> Array:
    dtype = dtype_of(array)
    values = as_array(asarray_arg(values, "pad", "constant_values"))
    values_shape = shape_of(values)
    if values_shape == ():
        config = tuple((b, a, 0) for b, a in widths)
        return lax.pad(array, cast(values, dtype), config)
    if is_traced(values):
        raise TypeError("functrans.numpy.pad: per-axis constant_values must be concrete")
    per_axis = np.broadcast_to(np.asarray(values), (len(widths), 2))
    for ax, ((before, after), (v_before, v_after)) in enumerate(
            zip(widths, per_axis, strict=True)):
        config = [(0, 0, 0)] * len(widths)
        if v_before == v_after:
            config[ax] = (before, after, 0)
            array = lax.pad(array, np.asarray(v_before, dtype), tuple(config))
            continue
        shape = list(_shape(array))
        parts = []
        if before:
            parts.append(np.full(shape[:ax] + [before] + shape[ax + 1:], v_before, dtype))
        parts.append(array)
        if after:
            parts.append(np.full(shape[:ax] + [after] + shape[ax + 1:], v_after, dtype))
        array = concatenate(parts, ax)
    return array


# ------------------------------------------------------------------ diagonals and triangles

@one_entry(1)
def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Array:
    """The diagonal of the `axis1`/`axis2` planes, as a new last axis.

    Taken as a strided slice of the flattened plane: no gather needed."""
    a = _operand(a, "diagonal")
    ndim = ndim_of(a)
    if ndim < 2:
        raise ValueError(f"functrans.numpy.diagonal: needs at least 2 dimensions, got shape "
                         f"{_shape(a)}")
    i = canonicalize_axis(axis1, ndim, "diagonal")
    j = canonicalize_axis(axis2, ndim, "diagonal")
    if i == j:
        raise ValueError("functrans.numpy.diagonal: axis1 and axis2 cannot be the same")
    offset = static_int(offset, "diagonal", "offset")
    rest = [d for d in range(ndim) if d not in (i, j)]
    a = lax.transpose(a, tuple(rest) + (i, j))
    shape = _shape(a)
    n, m = shape[-2], shape[-1]
    if offset >= 0:
        length, start = builtins.max(0, builtins.min(n, m - offset)), offset
    else:
        length, start = builtins.max(0, builtins.min(n + offset, m)), -offset * m
    flat = lax.reshape(a, shape[:-2] + (n * m,))
    if length == 0:
        return slice_axis(flat, len(shape) - 2, 0, 0)
    stop = start + (length - 1) * (m + 1) + 1
    return slice_axis(flat, len(shape) - 2, start, stop, m + 1)


@one_entry(1)
def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: None = None) -> Array:
    """Sum along the diagonal (see diagonal)."""
    return _reductions.sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype, out=out)


def diag(v: Any, k: int = 0) -> Array:
    """The `k`-th diagonal of a 2-D array, or a 2-D array with 1-D `v` on its
    `k`-th diagonal."""
    v = _operand(v, "diag", "v")
    k = static_int(k, "diag", "k")
    ndim = ndim_of(v)
    if ndim == 2:
        return diagonal(v, k)
    if ndim != 1:
        raise ValueError(f"functrans.numpy.diag: input must be 1-D or 2-D, got shape "
                         f"{_shape(v)}")
    n = _shape(v)[0]
    size = n + builtins.abs(k)
    row = lax.pad(v, np.zeros((), dtype_of(v)),
                  ((k, 0, 0),) if k >= 0 else ((0, -k, 0),))
    rows = lax.broadcast_in_dim(row, (size, size), (1,))
    mask = np.eye(size, size, k, dtype=bool)
    return lax.select(mask, rows, np.zeros((size, size), dtype_of(v)))


def diagflat(v: Any, k: int = 0) -> Array:
    """A 2-D array with the flattened `v` on its `k`-th diagonal."""
    return diag(ravel(v), k)


def _triangle(m: Any, k: int, fname: str, lower: bool) -> Array:
    m = _operand(m, fname, "m")
    shape = _shape(m)
    if len(shape) < 2:
        m = broadcast_to(m, (shape[0] if shape else 1,) * 2)
        shape = _shape(m)
    k = static_int(k, fname, "k")
    n, cols = shape[-2], shape[-1]
    mask = np.tri(n, cols, k, dtype=bool) if lower else ~np.tri(n, cols, k - 1, dtype=bool)
    mask = np.broadcast_to(mask, shape)
    return lax.select(mask, m, np.zeros(shape, dtype_of(m)))


@one_entry(1)
def tril(m: Any, k: int = 0) -> Array:
    """`m` with the elements above the `k`-th diagonal zeroed (last two axes)."""
    return _triangle(m, k, "tril", lower=True)


@one_entry(1)
def triu(m: Any, k: int = 0) -> Array:
    """`m` with the elements below the `k`-th diagonal zeroed (last two axes)."""
    return _triangle(m, k, "triu", lower=False)
