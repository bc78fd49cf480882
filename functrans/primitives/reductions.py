"""Reductions: sum, max, min, prod, argmax/argmin, and cumulative reductions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive
from functrans.primitives.rules import deflinear


def _reduced_shape(x: ShapedArray, axes: Sequence[int]) -> tuple[int, ...]:
    for a in axes:
        if not 0 <= a < x.ndim:
            raise TypeError(f"reduction axis {a} out of range for {x.str_short()}")
    return tuple(d for i, d in enumerate(x.shape) if i not in axes)


def _reduce_sum_transpose(ct, x, *, axes):
    from functrans.primitives.structural import broadcast_in_dim

    shape = x.aval.shape
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    return [broadcast_in_dim(ct, shape, kept)]


def _reduce_batch(prim):
    def batch(args, dims, *, axes, **params):
        (x,), (d,) = args, dims
        new_axes = tuple(a + 1 if a >= d else a for a in axes)
        out_dim = d - sum(1 for a in axes if a < d)
        return prim.bind(x, axes=new_axes, **params), out_dim
    return batch


reduce_sum_p = Primitive("reduce_sum")
reduce_sum_p.impl = lambda x, *, axes: np.asarray(np.sum(x, axis=axes))
reduce_sum_p.abstract_eval = lambda x, *, axes: ShapedArray(_reduced_shape(x, axes), x.dtype)
deflinear(reduce_sum_p, _reduce_sum_transpose)
reduce_sum_p.batch = _reduce_batch(reduce_sum_p)


def reduce_sum(x: Any, axes: Sequence[int]) -> Any:
    """Sum of `x` over `axes` (as ``lax.reduce_sum``)."""
    axes = tuple(sorted(int(a) % max(get_aval(x).ndim, 1) for a in axes))
    if not axes:
        return x
    return reduce_sum_p.bind(x, axes=axes)
