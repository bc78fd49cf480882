"""Structural primitives: they move, copy or select elements without arithmetic.

All of them are linear, so each has a transpose rule and its JVP is the
primitive applied to the tangent (``deflinear``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive
from functrans.primitives.rules import deflinear


def _primitive(name: str, impl: Any, abstract_eval: Any) -> Primitive:
    p = Primitive(name)
    p.impl = impl
    p.abstract_eval = abstract_eval
    return p


# ------------------------------------------------------------------ broadcast_in_dim

def _broadcast_in_dim_impl(x, *, shape, broadcast_dimensions):
    x = np.asarray(x)
    expanded = np.expand_dims(x, tuple(i for i in range(len(shape))
                                       if i not in broadcast_dimensions))
    return np.broadcast_to(expanded, shape)


def _broadcast_in_dim_aval(x, *, shape, broadcast_dimensions):
    if len(broadcast_dimensions) != x.ndim:
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must "
                        f"have one entry per operand dimension of {x.str_short()}")
    if any(b >= len(shape) for b in broadcast_dimensions) or \
            list(broadcast_dimensions) != sorted(set(broadcast_dimensions)):
        raise TypeError(f"broadcast_in_dim: broadcast_dimensions {broadcast_dimensions} must "
                        f"be strictly increasing and less than {len(shape)}")
    for d, b in zip(x.shape, broadcast_dimensions):
        if d != 1 and d != shape[b]:
            raise TypeError(f"broadcast_in_dim: operand {x.str_short()} cannot be broadcast "
                            f"to {shape} along dimensions {broadcast_dimensions}")
    return ShapedArray(shape, x.dtype)


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    from functrans.primitives.reductions import reduce_sum

    in_shape = x.aval.shape
    new_dims = tuple(i for i in range(len(shape)) if i not in broadcast_dimensions)
    # dims that were size 1 in the operand and stretched
    stretched = tuple(b for d, b in zip(in_shape, broadcast_dimensions)
                      if d == 1 and shape[b] != 1)
    summed = reduce_sum(ct, tuple(sorted(new_dims + stretched)))
    if stretched:
        summed = reshape(summed, in_shape)
    return [summed]


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
    shape = tuple(int(s) for s in shape)
    broadcast_dimensions = tuple(int(b) for b in broadcast_dimensions)
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
    if dtype is None:
        dtype = get_aval(fill_value).dtype
    aval = get_aval(fill_value)
    if aval.shape != ():
        raise TypeError(f"full: fill_value must be a scalar, got shape {aval.shape}")
    if aval.dtype != np.dtype(dtype):
        from functrans.primitives.elementwise import convert_element_type

        fill_value = convert_element_type(fill_value, dtype)
    if not hasattr(fill_value, "aval") and not isinstance(fill_value, np.ndarray):
        fill_value = np.asarray(fill_value, dtype)
    return broadcast_in_dim(fill_value, shape, ())


# ------------------------------------------------------------------ reshape

def _reshape_aval(x, *, new_sizes, dimensions):
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size:
        raise TypeError(f"reshape: cannot reshape {x.str_short()} to {new_sizes}: the sizes "
                        f"differ ({x.size} elements)")
    return ShapedArray(new_sizes, x.dtype)


def _reshape_impl(x, *, new_sizes, dimensions):
    return np.reshape(x, new_sizes)


def _reshape_batch(args, dims, *, new_sizes, dimensions):
    (x,), (d,) = args, dims
    x = moveaxis(x, d, 0)
    return reshape(x, (get_aval(x).shape[0],) + tuple(new_sizes)), 0


reshape_p = _primitive("reshape", _reshape_impl, _reshape_aval)
deflinear(reshape_p, lambda ct, x, **_: [reshape(ct, x.aval.shape)])
reshape_p.batch = _reshape_batch


def reshape(x: Any, new_sizes: Sequence[int], dimensions: None = None) -> Any:
    """Reshape `x` (row-major) to `new_sizes` (as ``lax.reshape``)."""
    new_sizes = tuple(int(s) for s in new_sizes)
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
    return [transpose(ct, tuple(np.argsort(permutation)))]


def _transpose_batch(args, dims, *, permutation):
    (x,), (d,) = args, dims
    x = moveaxis(x, d, 0)
    return transpose(x, (0,) + tuple(p + 1 for p in permutation)), 0


transpose_p = _primitive("transpose", lambda x, *, permutation: np.transpose(x, permutation),
                         _transpose_aval)
deflinear(transpose_p, _transpose_transpose)
transpose_p.batch = _transpose_batch


def transpose(x: Any, permutation: Sequence[int]) -> Any:
    """Permute the axes of `x` (as ``lax.transpose``)."""
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return transpose_p.bind(x, permutation=permutation)


def moveaxis(x: Any, source: int, destination: int) -> Any:
    ndim = get_aval(x).ndim
    source %= ndim
    destination %= ndim
    if source == destination:
        return x
    perm = [i for i in range(ndim) if i != source]
    perm.insert(destination, source)
    return transpose(x, perm)
