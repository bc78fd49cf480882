"""Structural primitives: they move, copy or select elements without arithmetic.

All of them are linear in their array operands, so each has a transpose rule
and its JVP is the primitive applied to the tangents (``deflinear``). Integer
operands (the start indices of ``dynamic_slice`` and ``dynamic_update_slice``)
are passed through unchanged and carry no tangent (``deflinear_leading``).

The lax-level functions check their arguments with the shape rule before
binding, so bad input fails with the same message eagerly and under tracing.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans import primitives  # the family, for call-time use (see primitives/__init__)
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive
from functrans.core.trace import Tracer
from functrans.core.zeros import Zero
from functrans.primitives import elementwise as lax_ew
from functrans.primitives.rules import bdim_at_front, deflinear, is_undefined_primal
from functrans.primitives.tangent_space import instantiate_zeros

__all__ = ["broadcast_in_dim", "broadcast", "full", "full_like", "zeros_like_array",
           "reshape", "transpose", "moveaxis", "squeeze", "expand_dims", "concatenate",
           "pad", "slice", "slice_in_dim", "index_in_dim", "rev", "iota", "broadcasted_iota",
           "dynamic_slice", "dynamic_update_slice", "dynamic_slice_in_dim",
           "dynamic_index_in_dim", "dynamic_update_slice_in_dim",
           "broadcast_in_dim_p", "reshape_p", "transpose_p", "squeeze_p", "expand_dims_p",
           "concatenate_p", "pad_p", "slice_p", "rev_p", "iota_p", "dynamic_slice_p",
           "dynamic_update_slice_p"]

_pyslice = builtins.slice  # this module defines lax.slice


def _primitive(name: str, impl: Any, abstract_eval: Any) -> Primitive:
    p = Primitive(name)
    p.impl = impl
    p.abstract_eval = abstract_eval
    return p


def bind_checked(prim: Primitive, *args: Any, **params: Any) -> Any:
    """Run the shape rule first, so eager calls report bad shapes like traced ones."""
    prim.abstract_eval(*[get_aval(a) for a in args], **params)
    return prim.bind(*args, **params)


def deflinear_leading(prim: Primitive, num_linear: int, transpose: Callable[..., Any]) -> None:
    """``prim`` is linear (jointly) in its first `num_linear` arguments; the others
    are integer indices, passed through unchanged: they carry no tangent."""
    prim.linear = True

    def jvp(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        linear_tangents = tangents[:num_linear]
        if all(type(t) is Zero for t in linear_tangents):
            return out, Zero(get_aval(out).to_tangent_aval())
        tangent_out = prim.bind(*[instantiate_zeros(t) for t in linear_tangents],
                                *primals[num_linear:], **params)
        return out, tangent_out

    prim.jvp = jvp
    prim.transpose = transpose


def _normalize_axes(axes: Sequence[int], ndim: int, fn: str, what: str = "dimensions",
                    ) -> tuple[int, ...]:
    """Axes as non-negative ints, checked in range and distinct."""
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{fn}: {what} {tuple(axes)} out of range for an array of "
                             f"rank {ndim} (each must be in [{-ndim}, {ndim}))")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{fn}: {what} {tuple(axes)} repeat an axis")
    return tuple(out)


def _check_axes_param(axes: tuple[int, ...], ndim: int, fn: str) -> None:
    if any(not 0 <= a < ndim for a in axes) or len(set(axes)) != len(axes):
        raise TypeError(f"{fn}: dimensions {axes} must be distinct and in [0, {ndim})")


def _scalar_like(value: Any, dtype: np.dtype) -> Any:
    return np.asarray(value, dtype)


# ------------------------------------------------------------------ broadcast_in_dim

#: a NumPy broadcast of at most this many elements is filled into a new array: that
#: costs less than np.broadcast_to's read-only view (~2.5 µs of Python) and gives a
#: buffer later operations may write into
FILL_BROADCASTS_UP_TO = 4096


def fill_broadcast(x: Any, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """`x` (of a shape broadcastable to `shape`) broadcast into a new array."""
    out = np.empty(shape, dtype)
    out[...] = x
    return out


def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions, xp=np):
    x = xp.asarray(x)
    if x.ndim != len(shape):
        expanded = [1] * len(shape)
        for size, dim in zip(x.shape, broadcast_dimensions):
            expanded[dim] = size
        x = xp.reshape(x, tuple(expanded))
    if xp is np and 0 < _size(shape) <= FILL_BROADCASTS_UP_TO:
        return fill_broadcast(x, shape, x.dtype)
    return xp.broadcast_to(x, shape)


def _size(shape: Sequence[int]) -> int:
    size = 1
    for n in shape:
        size *= n
    return size


def _broadcast_in_dim_aval(x, *, shape, broadcast_dimensions):
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must "
                        f"have one entry per operand dimension of {x.str_short()}")
    if any(b >= len(shape) for b in broadcast_dimensions) or \
            list(broadcast_dimensions) != sorted(set(broadcast_dimensions)):
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must "
                        f"be strictly increasing and less than {len(shape)}")
    if any(s < 0 for s in shape):
        raise TypeError(f"broadcast_in_dim: negative size in shape {shape}")
    for d, b in zip(x.shape, broadcast_dimensions, strict=True):
        if d != 1 and d != shape[b]:
            raise TypeError(f"broadcast_in_dim: operand {x.str_short()} cannot be broadcast "
                            f"to {shape} along dimensions {broadcast_dimensions}")
    return ShapedArray(shape, x.dtype)


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    in_shape = x.aval.shape
    new_dims = tuple(i for i in range(len(shape)) if i not in broadcast_dimensions)
    # operand dims of size 1 that were stretched: summed, then restored by the reshape
    stretched = tuple(b for d, b in zip(in_shape, broadcast_dimensions, strict=True)
                      if d == 1 and shape[b] != 1)
    summed = primitives.reductions.reduce_sum(ct, tuple(sorted(new_dims + stretched)))
    return [reshape(summed, in_shape)]


def _broadcast_in_dim_batch(args, dims, *, shape, broadcast_dimensions):
    (x,), (d,) = args, dims
    size = get_aval(x).shape[d]
    x = moveaxis(x, d, 0)
    new_shape = (size,) + tuple(shape)
    new_dims = (0,) + tuple(b + 1 for b in broadcast_dimensions)
    return broadcast_in_dim(x, new_shape, new_dims), 0


broadcast_in_dim_p = _primitive("broadcast_in_dim", _broadcast_in_dim_impl,
                                _broadcast_in_dim_aval)
deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)
broadcast_in_dim_p.batch = _broadcast_in_dim_batch


def broadcast_in_dim(x: Any, shape: Sequence[int], broadcast_dimensions: Sequence[int]) -> Any:
    """Broadcast `x` to `shape`; operand dimension i becomes dimension
    ``broadcast_dimensions[i]`` of the result (as ``lax.broadcast_in_dim``)."""
    shape = tuple(map(int, shape))
    broadcast_dimensions = tuple(map(int, broadcast_dimensions))
    if get_aval(x).shape == shape and broadcast_dimensions == tuple(range(len(shape))):
        return x
    return broadcast_in_dim_p.bind(x, shape=shape, broadcast_dimensions=broadcast_dimensions)


def broadcast(x: Any, sizes: Sequence[int]) -> Any:
    """Add leading dimensions `sizes` (as ``lax.broadcast``)."""
    shape = tuple(sizes) + get_aval(x).shape
    return broadcast_in_dim(x, shape, tuple(range(len(sizes), len(shape))))


def full(shape: Sequence[int], fill_value: Any, dtype: Any = None) -> Any:
    """An array of `shape` filled with `fill_value` (as ``lax.full``)."""
    shape = tuple(int(s) for s in shape)
    aval = get_aval(fill_value)
    if aval.shape != ():
        raise TypeError(f"full: fill_value must be a scalar, got shape {aval.shape}")
    dtype = aval.dtype if dtype is None else np.dtype(dtype)
    if not isinstance(fill_value, Tracer):
        fill_value = np.asarray(fill_value, dtype)  # a constant: cast now, no equation
    elif aval.dtype != dtype:
        fill_value = lax_ew.convert_element_type(fill_value, dtype)
    return broadcast_in_dim(fill_value, shape, ())


def full_like(x: Any, fill_value: Any, dtype: Any = None,
              shape: Sequence[int] | None = None) -> Any:
    """An array like `x` (its shape and dtype unless given) filled with `fill_value`
    (as ``lax.full_like``). Does not depend on the value of `x`."""
    aval = get_aval(x)
    return full(aval.shape if shape is None else shape, fill_value,
                aval.dtype if dtype is None else dtype)


def zeros_like_array(x: Any) -> Any:
    """Zeros with the shape and dtype of `x` (as ``lax.zeros_like_array``)."""
    return full_like(x, 0)


# ------------------------------------------------------------------ reshape

def _reshape_aval(x, *, new_sizes, dimensions):
    if any(s < 0 for s in new_sizes) or \
            int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise TypeError(f"reshape: cannot reshape {x.str_short()} to {new_sizes}: the sizes "
                        f"must be non-negative with {x.size} elements in all")
    return ShapedArray(new_sizes, x.dtype)


def _reshape_impl(x, *, new_sizes, dimensions, xp=np):
    return xp.reshape(x, new_sizes)


def _reshape_batch(args, dims, *, new_sizes, dimensions):
    (x,), (d,) = args, dims
    x = moveaxis(x, d, 0)
    return reshape(x, (get_aval(x).shape[0],) + tuple(new_sizes)), 0


reshape_p = _primitive("reshape", _reshape_impl, _reshape_aval)
deflinear(reshape_p, lambda ct, x, **_: [reshape(ct, x.aval.shape)])
reshape_p.batch = _reshape_batch


def reshape(x: Any, new_sizes: Sequence[int], dimensions: Sequence[int] | None = None) -> Any:
    """Reshape `x` (row-major) to `new_sizes`, after permuting its axes by
    `dimensions` if given (as ``lax.reshape``)."""
    new_sizes = tuple(int(s) for s in new_sizes)
    if dimensions is not None:
        x = transpose(x, dimensions)
    if get_aval(x).shape == new_sizes:
        return x
    return reshape_p.bind(x, new_sizes=new_sizes, dimensions=None)


# ------------------------------------------------------------------ transpose

def _transpose_aval(x, *, permutation):
    if sorted(permutation) != list(range(x.ndim)):
        raise TypeError(f"transpose: permutation {permutation} is not a permutation of the "
                        f"{x.ndim} axes of {x.str_short()}")
    return ShapedArray(tuple(x.shape[i] for i in permutation), x.dtype)


def _transpose_transpose(ct, x, *, permutation):
    return [transpose(ct, tuple(int(i) for i in np.argsort(permutation)))]


def _transpose_batch(args, dims, *, permutation):
    (x,), (d,) = args, dims
    x = moveaxis(x, d, 0)
    return transpose(x, (0,) + tuple(p + 1 for p in permutation)), 0


transpose_p = _primitive("transpose",
                         lambda x, *, permutation, xp=np: xp.permute_dims(x, permutation),
                         _transpose_aval)
deflinear(transpose_p, _transpose_transpose)
transpose_p.batch = _transpose_batch


def transpose(x: Any, permutation: Sequence[int]) -> Any:
    """Permute the axes of `x` (as ``lax.transpose``)."""
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))) and len(permutation) == get_aval(x).ndim:
        return x
    return transpose_p.bind(x, permutation=permutation)


def moveaxis(x: Any, source: int, destination: int) -> Any:
    """Move axis `source` of `x` to position `destination` (negatives allowed)."""
    ndim = get_aval(x).ndim
    (source,) = _normalize_axes((source,), ndim, "moveaxis", "source")
    (destination,) = _normalize_axes((destination,), ndim, "moveaxis", "destination")
    if source == destination:
        return x
    perm = [i for i in range(ndim) if i != source]
    perm.insert(destination, source)
    return transpose(x, perm)


# ------------------------------------------------------------------ squeeze / expand_dims

def _squeeze_aval(x, *, dimensions):
    _check_axes_param(dimensions, x.ndim, "squeeze")
    for d in dimensions:
        if x.shape[d] != 1:
            raise TypeError(f"squeeze: dimension {d} of {x.str_short()} has size "
                            f"{x.shape[d]}; only dimensions of size 1 can be removed")
    return ShapedArray(tuple(s for i, s in enumerate(x.shape) if i not in dimensions),
                       x.dtype)


def _squeeze_batch(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    moved = tuple(a + (a >= d) for a in dimensions)
    return squeeze(x, moved), d - sum(1 for a in dimensions if a < d)


squeeze_p = _primitive("squeeze", lambda x, *, dimensions, xp=np: xp.squeeze(x, axis=dimensions),
                       _squeeze_aval)
deflinear(squeeze_p, lambda ct, x, *, dimensions: [expand_dims(ct, dimensions)])
squeeze_p.batch = _squeeze_batch


def squeeze(array: Any, dimensions: Sequence[int]) -> Any:
    """Remove the size-1 `dimensions` of `array` (as ``lax.squeeze``)."""
    dims = tuple(sorted(_normalize_axes(dimensions, get_aval(array).ndim, "squeeze")))
    if not dims:
        return array
    return squeeze_p.bind(array, dimensions=dims)


def _expand_dims_aval(x, *, dimensions):
    ndim = x.ndim + len(dimensions)
    _check_axes_param(dimensions, ndim, "expand_dims")
    shape = iter(x.shape)
    return ShapedArray(tuple(1 if i in dimensions else next(shape) for i in range(ndim)),
                       x.dtype)


def _expand_dims_batch(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    return expand_dims(moveaxis(x, d, 0), tuple(a + 1 for a in dimensions)), 0


def _expand_dims_impl(x, *, dimensions, xp=np):
    if xp is np:
        return np.expand_dims(x, dimensions)
    shape = list(x.shape)
    for d in sorted(dimensions):  # the Array API's expand_dims takes one axis
        shape.insert(d, 1)
    return xp.reshape(x, tuple(shape))


expand_dims_p = _primitive("expand_dims",
                           _expand_dims_impl,
                           _expand_dims_aval)
deflinear(expand_dims_p, lambda ct, x, *, dimensions: [squeeze(ct, dimensions)])
expand_dims_p.batch = _expand_dims_batch


def expand_dims(array: Any, dimensions: Sequence[int]) -> Any:
    """Insert size-1 axes at positions `dimensions` of the result (as
    ``lax.expand_dims``)."""
    ndim = get_aval(array).ndim + len(tuple(dimensions))
    dims = tuple(sorted(_normalize_axes(dimensions, ndim, "expand_dims")))
    if not dims:
        return array
    return expand_dims_p.bind(array, dimensions=dims)


# ------------------------------------------------------------------ concatenate

def _concatenate_aval(*xs, dimension):
    if not xs:
        raise TypeError("concatenate: needs at least one operand")
    first = xs[0]
    if not 0 <= dimension < max(first.ndim, 1) or first.ndim == 0:
        raise TypeError(f"concatenate: dimension {dimension} out of range for operands of "
                        f"rank {first.ndim} (0-d arrays cannot be concatenated)")
    for x in xs:
        other_dims = [s for i, s in enumerate(x.shape) if i != dimension]
        if x.dtype != first.dtype or x.ndim != first.ndim or \
                other_dims != [s for i, s in enumerate(first.shape) if i != dimension]:
            raise TypeError(
                "concatenate: operands must have equal dtypes and equal shapes except along "
                f"dimension {dimension}, got {', '.join(a.str_short() for a in xs)}")
    size = sum(x.shape[dimension] for x in xs)
    shape = first.shape[:dimension] + (size,) + first.shape[dimension + 1:]
    return ShapedArray(shape, first.dtype)


def _concatenate_transpose(ct, *xs, dimension):
    cts, start = [], 0
    for x in xs:
        size = (x.aval if is_undefined_primal(x) else get_aval(x)).shape[dimension]
        cts.append(slice_in_dim(ct, start, start + size, axis=dimension)
                   if is_undefined_primal(x) else None)
        start += size
    return cts


def _concatenate_batch(args, dims, *, dimension):
    size = next(get_aval(x).shape[d] for x, d in zip(args, dims, strict=True) if d is not None)
    operands = [bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True)]
    return concatenate(operands, dimension + 1), 0


concatenate_p = _primitive("concatenate",
                           lambda *xs, dimension, xp=np: xp.concat(xs, axis=dimension),
                           _concatenate_aval)
deflinear(concatenate_p, _concatenate_transpose)
concatenate_p.batch = _concatenate_batch


def concatenate(operands: Sequence[Any], dimension: int) -> Any:
    """Join `operands` along `dimension` (as ``lax.concatenate``)."""
    operands = list(operands)
    if not operands:
        raise ValueError("concatenate: needs at least one operand, got an empty sequence")
    if len(operands) == 1:
        return operands[0]
    ndim = get_aval(operands[0]).ndim
    (dimension,) = _normalize_axes((dimension,), max(ndim, 1), "concatenate", "dimension")
    return bind_checked(concatenate_p, *operands, dimension=dimension)


# ------------------------------------------------------------------ pad

def _padded_size(n: int, lo: int, hi: int, interior: int) -> int:
    return lo + hi + n + max(n - 1, 0) * interior


def _pad_aval(x, padding_value, *, padding_config):
    if padding_value.shape != () or padding_value.dtype != x.dtype:
        raise TypeError(f"pad: padding_value must be a scalar of the operand's dtype "
                        f"{x.dtype}, got {padding_value.str_short()}")
    if len(padding_config) != x.ndim:
        raise TypeError(f"pad: padding_config needs one (lo, hi, interior) per dimension of "
                        f"{x.str_short()}, got {len(padding_config)}")
    shape = []
    for n, (lo, hi, interior) in zip(x.shape, padding_config, strict=True):
        size = _padded_size(n, lo, hi, interior)
        if interior < 0 or size < 0:
            raise TypeError(f"pad: padding_config {padding_config} is invalid for "
                            f"{x.str_short()}: interior padding must be >= 0 and negative "
                            "padding may not remove more than the whole dimension")
        shape.append(size)
    return ShapedArray(tuple(shape), x.dtype)


def _pad_layout(shape: tuple[int, ...], padding_config: Any
                ) -> tuple[tuple[int, ...], tuple[slice, ...], tuple[slice, ...]]:
    """How pad builds its result: pad with the non-negative lo/hi first, then crop the
    negative ones. The shape of that first, fully padded array, where the operand
    goes in it (strided by the interior padding) and the crop taken of it."""
    full_shape, placement, crop = [], [], []
    for n, (lo, hi, interior) in zip(shape, padding_config, strict=True):
        lo_pos = max(lo, 0)
        total = _padded_size(n, lo_pos, max(hi, 0), interior)
        full_shape.append(total)
        placement.append(_pyslice(lo_pos, lo_pos + _padded_size(n, 0, 0, interior),
                                  interior + 1))
        crop.append(_pyslice(max(-lo, 0), total - max(-hi, 0)))
    return tuple(full_shape), tuple(placement), tuple(crop)


def _pad_impl(x, padding_value, *, padding_config, xp=np):
    if xp is not np:
        return _pad_array_api(x, padding_value, padding_config, xp)
    x = np.asarray(x)
    full_shape, placement, crop = _pad_layout(x.shape, padding_config)
    out = np.full(full_shape, padding_value, dtype=x.dtype)
    out[placement] = x
    return out[crop]


def _pad_array_api(x: Any, padding_value: Any, padding_config: Any, xp: Any) -> Any:
    """_pad_impl with another library's arrays (no ``full`` of an array value):
    interior padding by assignment into a strided view, negative padding by a crop."""
    full_shape, placement, crop = _pad_layout(x.shape, padding_config)
    filled = xp.broadcast_to(xp.reshape(padding_value, (1,) * len(full_shape)),
                             full_shape)
    out = xp.asarray(filled, copy=True)
    if all(n > 0 for n in x.shape):  # (Dask refuses to assign an empty block)
        out[placement] = x
    return out[crop]


def _pad_operand_cotangent(ct, padding_config):
    lo, hi, interior = zip(*padding_config, strict=True) if padding_config else ((), (), ())
    unpadded = pad(ct, _scalar_like(0, get_aval(ct).dtype),
                   [(-a, -b, 0) for a, b in zip(lo, hi, strict=True)])
    shape = get_aval(unpadded).shape
    return slice(unpadded, (0,) * len(shape), shape, tuple(i + 1 for i in interior))


def _pad_transpose(ct, x, padding_value, *, padding_config):
    ct_operand = _pad_operand_cotangent(ct, padding_config) if is_undefined_primal(x) else None
    ct_value = None
    if is_undefined_primal(padding_value):
        # the padding value appears at every padded position: sum ct over a 0/1 mask
        dtype = get_aval(ct).dtype
        x_shape = x.aval.shape if is_undefined_primal(x) else get_aval(x).shape
        mask = _pad_impl(np.zeros(x_shape, dtype), 1, padding_config=padding_config)
        ct_value = primitives.reductions.reduce_sum(lax_ew.mul(ct, mask),
                                                    tuple(range(len(x_shape))))
    return [ct_operand, ct_value]


def _pad_batch(args, dims, *, padding_config):
    (x, value), (dx, dv) = args, dims
    if dv is None:
        config = list(padding_config)
        config.insert(dx, (0, 0, 0))
        return pad(x, value, config), dx
    # pad with zeros, then choose each member's value at the padded positions
    x = bdim_at_front(x, dx, get_aval(value).shape[dv])
    config = [(0, 0, 0)] + list(padding_config)
    padded_zero = pad(x, _scalar_like(0, get_aval(x).dtype), config)
    is_padding = _pad_impl(np.zeros(get_aval(x).shape, bool), True, padding_config=config)
    values = broadcast_in_dim(value, get_aval(padded_zero).shape, (0,))
    return lax_ew.select_n(is_padding, padded_zero, values), 0


pad_p = _primitive("pad", _pad_impl, _pad_aval)
deflinear(pad_p, _pad_transpose)
pad_p.batch = _pad_batch


def pad(operand: Any, padding_value: Any,
        padding_config: Sequence[tuple[int, int, int]]) -> Any:
    """Pad `operand` with `padding_value`: per dimension (lo, hi, interior) gives the
    padding before, after and between elements; negative lo/hi crop (as ``lax.pad``)."""
    aval = get_aval(operand)
    config = tuple((int(lo), int(hi), int(interior)) for lo, hi, interior in padding_config)
    if not isinstance(padding_value, Tracer):
        value_aval = get_aval(padding_value)
        if value_aval.weak_type or value_aval.dtype == aval.dtype:
            padding_value = np.asarray(padding_value, aval.dtype)
    if all(c == (0, 0, 0) for c in config) and len(config) == aval.ndim:
        _pad_aval(aval, get_aval(padding_value), padding_config=config)
        return operand
    return bind_checked(pad_p, operand, padding_value, padding_config=config)


# ------------------------------------------------------------------ slice

def _slice_aval(x, *, start_indices, limit_indices, strides):
    strides = strides or (1,) * x.ndim
    if not len(start_indices) == len(limit_indices) == len(strides) == x.ndim:
        raise TypeError(f"slice: start_indices {start_indices}, limit_indices "
                        f"{limit_indices} and strides {strides} need one entry per "
                        f"dimension of {x.str_short()}")
    shape = []
    for n, start, limit, stride in zip(x.shape, start_indices, limit_indices, strides, strict=True):
        if not 0 <= start <= limit <= n or stride < 1:
            raise TypeError(f"slice: invalid slice of {x.str_short()}: need "
                            "0 <= start <= limit <= size and stride >= 1, got start "
                            f"{start_indices}, limit {limit_indices}, strides {strides}")
        shape.append(-(-(limit - start) // stride))
    return ShapedArray(tuple(shape), x.dtype)


def _slice_impl(x, *, start_indices, limit_indices, strides, xp=np):
    strides = strides or (1,) * len(start_indices)
    return xp.asarray(x)[tuple(_pyslice(a, b, s) for a, b, s
                               in zip(start_indices, limit_indices, strides, strict=True))]


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    shape = x.aval.shape
    strides = strides or (1,) * len(shape)
    config = []
    for n, start, stride, m in zip(shape, start_indices, strides, get_aval(ct).shape, strict=True):
        end = start + (m - 1) * stride + 1 if m else start  # one past the last element read
        config.append((start, n - end, stride - 1))
    return [pad(ct, _scalar_like(0, get_aval(ct).dtype), config)]


def _slice_batch(args, dims, *, start_indices, limit_indices, strides):
    (x,), (d,) = args, dims
    size = get_aval(x).shape[d]
    starts, limits = list(start_indices), list(limit_indices)
    starts.insert(d, 0)
    limits.insert(d, size)
    new_strides = None
    if strides is not None:
        new_strides = list(strides)
        new_strides.insert(d, 1)
    return slice(x, starts, limits, new_strides), d


slice_p = _primitive("slice", _slice_impl, _slice_aval)
deflinear(slice_p, _slice_transpose)
slice_p.batch = _slice_batch


def slice(operand: Any, start_indices: Sequence[int], limit_indices: Sequence[int],
          strides: Sequence[int] | None = None) -> Any:
    """``operand[start:limit:stride]`` in every dimension (as ``lax.slice``)."""
    aval = get_aval(operand)
    starts = tuple(int(i) for i in start_indices)
    limits = tuple(int(i) for i in limit_indices)
    steps = None if strides is None else tuple(int(s) for s in strides)
    if steps is not None and all(s == 1 for s in steps):
        steps = None
    if steps is None and starts == (0,) * aval.ndim and limits == aval.shape:
        return operand
    return bind_checked(slice_p, operand, start_indices=starts, limit_indices=limits,
                         strides=steps)


def slice_in_dim(operand: Any, start_index: int | None, limit_index: int | None,
                 stride: int = 1, axis: int = 0) -> Any:
    """Slice along one axis (as ``lax.slice_in_dim``); None and negative bounds are
    read like Python's."""
    shape = get_aval(operand).shape
    (axis,) = _normalize_axes((axis,), len(shape), "slice_in_dim", "axis")
    start, limit, _ = _pyslice(start_index, limit_index).indices(shape[axis])
    starts = [0] * len(shape)
    limits = list(shape)
    strides = [1] * len(shape)
    starts[axis], limits[axis], strides[axis] = start, max(start, limit), stride
    return slice(operand, starts, limits, strides)


def index_in_dim(operand: Any, index: int, axis: int = 0, keepdims: bool = True) -> Any:
    """Select one static index along `axis` (as ``lax.index_in_dim``)."""
    shape = get_aval(operand).shape
    (axis,) = _normalize_axes((axis,), len(shape), "index_in_dim", "axis")
    if not -shape[axis] <= index < shape[axis]:
        raise IndexError(f"index_in_dim: index {index} out of bounds for axis {axis} of "
                         f"size {shape[axis]}")
    index %= shape[axis]
    out = slice_in_dim(operand, index, index + 1, axis=axis)
    return out if keepdims else squeeze(out, (axis,))


# ------------------------------------------------------------------ rev

def _rev_aval(x, *, dimensions):
    _check_axes_param(dimensions, x.ndim, "rev")
    return ShapedArray(x.shape, x.dtype)


def _rev_batch(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    return rev(x, tuple(a + (a >= d) for a in dimensions)), d


rev_p = _primitive("rev", lambda x, *, dimensions, xp=np: xp.flip(x, axis=dimensions), _rev_aval)
deflinear(rev_p, lambda ct, x, *, dimensions: [rev(ct, dimensions)])
rev_p.batch = _rev_batch


def rev(operand: Any, dimensions: Sequence[int]) -> Any:
    """Reverse the order of elements along `dimensions` (as ``lax.rev``)."""
    dims = tuple(sorted(_normalize_axes(dimensions, get_aval(operand).ndim, "rev")))
    if not dims:
        return operand
    return rev_p.bind(operand, dimensions=dims)


# ------------------------------------------------------------------ iota
# iota has no inputs: no transformation ever sees a tracer among its arguments,
# so it needs no JVP, transpose or batching rule (its value is a constant).

def _iota_aval(*, dtype, shape, dimension):
    if np.dtype(dtype).kind not in "iuf":
        raise TypeError(f"iota: dtype must be an integer or floating dtype, got {dtype}")
    if not 0 <= dimension < len(shape) or any(s < 0 for s in shape):
        raise TypeError(f"iota: dimension {dimension} out of range for shape {shape}")
    return ShapedArray(shape, dtype)


def _iota_impl(*, dtype, shape, dimension):
    line = np.arange(shape[dimension], dtype=dtype)
    axes = tuple(i for i in range(len(shape)) if i != dimension)
    return np.broadcast_to(np.expand_dims(line, axes), shape)


iota_p = _primitive("iota", _iota_impl, _iota_aval)


def broadcasted_iota(dtype: Any, shape: Sequence[int], dimension: int) -> Any:
    """An array of `shape` whose entries count 0, 1, ... along `dimension` (as
    ``lax.broadcasted_iota``)."""
    shape = tuple(int(s) for s in shape)
    (dimension,) = _normalize_axes((dimension,), len(shape), "broadcasted_iota", "dimension")
    params = dict(dtype=np.dtype(dtype), shape=shape, dimension=dimension)
    _iota_aval(**params)
    return iota_p.bind(**params)


def iota(dtype: Any, size: int) -> Any:
    """``[0, 1, ..., size - 1]`` of `dtype` (as ``lax.iota``)."""
    return broadcasted_iota(dtype, (int(size),), 0)


# ------------------------------------------------------------------ dynamic_slice
# Start indices are scalar integer operands (traced values allowed). As in lax,
# a negative start counts from the end, then starts are clamped so the slice
# lies inside the operand.

def _check_start_indices(fn: str, operand: ShapedArray, starts: Sequence[ShapedArray]) -> None:
    if len(starts) != operand.ndim:
        raise TypeError(f"{fn}: needs one start index per dimension of "
                        f"{operand.str_short()}, got {len(starts)}")
    for s in starts:
        if s.shape != () or s.dtype.kind not in "iu":
            raise TypeError(f"{fn}: start indices must be integer scalars, got "
                            f"{', '.join(a.str_short() for a in starts)}")


def _clamped_starts(starts: Sequence[Any], shape: Sequence[int],
                    sizes: Sequence[int]) -> tuple[int, ...]:
    out = []
    for s, n, size in zip(starts, shape, sizes, strict=True):
        s = int(s)
        s = s + n if s < 0 else s
        out.append(min(max(s, 0), n - size))
    return tuple(out)


def _dynamic_slice_aval(x, *starts, slice_sizes):
    _check_start_indices("dynamic_slice", x, starts)
    if len(slice_sizes) != x.ndim or \
            any(not 0 <= s <= n for s, n in zip(slice_sizes, x.shape, strict=True)):
        raise TypeError(f"dynamic_slice: slice_sizes {slice_sizes} must give one size per "
                        f"dimension of {x.str_short()}, each between 0 and the dimension")
    return ShapedArray(tuple(slice_sizes), x.dtype)


def _dynamic_slice_impl(x, *starts, slice_sizes, xp=np):
    x = xp.asarray(x)
    begin = _clamped_starts(starts, x.shape, slice_sizes)
    return x[tuple(_pyslice(b, b + s) for b, s in zip(begin, slice_sizes, strict=True))]


def _dynamic_slice_transpose(ct, x, *starts, slice_sizes):
    zeros = full(x.aval.shape, 0, x.aval.dtype)
    return [dynamic_update_slice_p.bind(zeros, ct, *starts)] + [None] * len(starts)


def _window_indices(starts: Sequence[Any], batched: Sequence[bool], shape: Sequence[int],
                    sizes: Sequence[int], batch_size: int) -> Any:
    """Integer indices (batch, *sizes, ndim) of the elements of each batch
    member's (clamped) window, for a gather or scatter."""
    index_dtype = np.result_type(*[get_aval(s).dtype for s in starts])
    grid_shape = (batch_size,) + tuple(sizes)
    columns = []
    for j, (s, is_batched, n, size) in enumerate(zip(starts, batched, shape, sizes,
                                                     strict=True)):
        s = lax_ew.convert_element_type(s, index_dtype)
        # the impl's rule, on traced values: wrap a negative start, then clamp
        zero = np.zeros(get_aval(s).shape, index_dtype)
        wrapped = lax_ew.select_n(lax_ew.lt(s, zero), s, lax_ew.add(s, zero + n))
        clamped = lax_ew.min(lax_ew.max(wrapped, zero), zero + (n - size))
        offsets = broadcast_in_dim(clamped, grid_shape, (0,) if is_batched else ())
        window = lax_ew.add(offsets, broadcasted_iota(index_dtype, grid_shape, j + 1))
        columns.append(reshape(window, grid_shape + (1,)))
    return concatenate(columns, len(grid_shape))


def _dynamic_slice_batch(args, dims, *, slice_sizes):
    (x, *starts), (dx, *dstarts) = args, dims
    if all(d is None for d in dstarts):
        sizes = list(slice_sizes)
        sizes.insert(dx, get_aval(x).shape[dx])
        starts.insert(dx, np.zeros((), get_aval(starts[0]).dtype if starts else np.int64))
        return dynamic_slice_p.bind(x, *starts, slice_sizes=tuple(sizes)), dx
    size = next(get_aval(s).shape[d] for s, d in zip(starts, dstarts, strict=True)
                if d is not None)
    shape = get_aval(x).shape if dx is None else tuple(
        n for i, n in enumerate(get_aval(x).shape) if i != dx)
    indices = _window_indices(starts, [d is not None for d in dstarts], shape, slice_sizes,
                              size)
    if dx is None:
        return primitives.indexing.gather(x, indices, tuple(range(len(shape)))), 0
    operand = moveaxis(x, dx, 0)
    indexing = primitives.indexing
    return indexing.gather(operand, indexing.prepend_batch_index(indices),
                           tuple(range(len(shape) + 1))), 0


dynamic_slice_p = _primitive("dynamic_slice", _dynamic_slice_impl, _dynamic_slice_aval)
deflinear_leading(dynamic_slice_p, 1, _dynamic_slice_transpose)
dynamic_slice_p.batch = _dynamic_slice_batch


def _start_index_list(start_indices: Any, fn: str) -> list[Any]:
    """Start indices as a list of scalars: a sequence, or a 1-d integer array."""
    if isinstance(start_indices, (Tracer, np.ndarray)):
        aval = get_aval(start_indices)
        if aval.ndim != 1:
            raise TypeError(f"{fn}: start_indices as an array must be 1-d, got "
                            f"{aval.str_short()}")
        return [index_in_dim(start_indices, i, keepdims=False) for i in range(aval.shape[0])]
    # a Python int becomes int64; anything else keeps its dtype (the shape rule
    # rejects non-integers)
    return [s if isinstance(s, Tracer) else np.asarray(s) for s in start_indices]


def dynamic_slice(operand: Any, start_indices: Sequence[Any],
                  slice_sizes: Sequence[int]) -> Any:
    """The block of shape `slice_sizes` starting at `start_indices` (integers, traced
    allowed; negative ones count from the end, then clamped into range), as
    ``lax.dynamic_slice``."""
    starts = _start_index_list(start_indices, "dynamic_slice")
    sizes = tuple(int(s) for s in slice_sizes)
    return bind_checked(dynamic_slice_p, operand, *starts, slice_sizes=sizes)


def dynamic_slice_in_dim(operand: Any, start_index: Any, slice_size: int,
                         axis: int = 0) -> Any:
    """``dynamic_slice`` along one axis (as ``lax.dynamic_slice_in_dim``)."""
    shape = get_aval(operand).shape
    (axis,) = _normalize_axes((axis,), len(shape), "dynamic_slice_in_dim", "axis")
    starts: list[Any] = [np.int64(0)] * len(shape)
    sizes = list(shape)
    starts[axis], sizes[axis] = start_index, slice_size
    return dynamic_slice(operand, starts, sizes)


def dynamic_index_in_dim(operand: Any, index: Any, axis: int = 0,
                         keepdims: bool = True) -> Any:
    """Select one (traced) index along `axis` (as ``lax.dynamic_index_in_dim``)."""
    out = dynamic_slice_in_dim(operand, index, 1, axis)
    return out if keepdims else squeeze(out, (axis,))


# ------------------------------------------------------------------ dynamic_update_slice

def _dynamic_update_slice_aval(x, update, *starts):
    _check_start_indices("dynamic_update_slice", x, starts)
    if update.dtype != x.dtype or update.ndim != x.ndim or \
            any(u > n for u, n in zip(update.shape, x.shape, strict=True)):
        raise TypeError(f"dynamic_update_slice: update {update.str_short()} must have the "
                        f"dtype and rank of operand {x.str_short()} and fit inside it")
    return ShapedArray(x.shape, x.dtype)


def _dynamic_update_slice_impl(x, update, *starts, xp=np):
    out = xp.asarray(x, copy=True)
    update = xp.asarray(update)
    begin = _clamped_starts(starts, out.shape, update.shape)
    out[tuple(_pyslice(b, b + s) for b, s in zip(begin, update.shape, strict=True))] = update
    return out


def _dynamic_update_slice_transpose(ct, x, update, *starts):
    update_aval = update.aval if is_undefined_primal(update) else get_aval(update)
    ct_operand = ct_update = None
    if is_undefined_primal(x):
        ct_operand = dynamic_update_slice_p.bind(
            ct, full(update_aval.shape, 0, update_aval.dtype), *starts)
    if is_undefined_primal(update):
        ct_update = dynamic_slice_p.bind(ct, *starts, slice_sizes=update_aval.shape)
    return [ct_operand, ct_update] + [None] * len(starts)


def _dynamic_update_slice_batch(args, dims):
    (x, update, *starts), (dx, du, *dstarts) = args, dims
    size = next(get_aval(v).shape[d] for v, d in zip(args, dims, strict=True) if d is not None)
    operand = bdim_at_front(x, dx, size)
    update = bdim_at_front(update, du, size)
    if all(d is None for d in dstarts):
        zero = np.zeros((), get_aval(starts[0]).dtype if starts else np.int64)
        return dynamic_update_slice_p.bind(operand, update, zero, *starts), 0
    shape = get_aval(operand).shape[1:]
    window = get_aval(update).shape[1:]
    indices = _window_indices(starts, [d is not None for d in dstarts], shape, window, size)
    indexing = primitives.indexing
    return indexing.scatter(operand, indexing.prepend_batch_index(indices), update,
                            tuple(range(len(shape) + 1))), 0


dynamic_update_slice_p = _primitive("dynamic_update_slice", _dynamic_update_slice_impl,
                                    _dynamic_update_slice_aval)
deflinear_leading(dynamic_update_slice_p, 2, _dynamic_update_slice_transpose)
dynamic_update_slice_p.batch = _dynamic_update_slice_batch


def dynamic_update_slice(operand: Any, update: Any, start_indices: Sequence[Any]) -> Any:
    """`operand` with the block starting at `start_indices` replaced by `update`
    (indices clamped like ``dynamic_slice``), as ``lax.dynamic_update_slice``."""
    starts = _start_index_list(start_indices, "dynamic_update_slice")
    return bind_checked(dynamic_update_slice_p, operand, update, *starts)


def dynamic_update_slice_in_dim(operand: Any, update: Any, start_index: Any,
                                axis: int) -> Any:
    """``dynamic_update_slice`` along one axis (as ``lax.dynamic_update_slice_in_dim``)."""
    ndim = get_aval(operand).ndim
    (axis,) = _normalize_axes((axis,), ndim, "dynamic_update_slice_in_dim", "axis")
    starts: list[Any] = [np.int64(0)] * ndim
    starts[axis] = start_index
    return dynamic_update_slice(operand, update, starts)
