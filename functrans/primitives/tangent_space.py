"""The tangent-space operations every AD rule shares: accumulation (``add_any``)
and turning a symbolic ``Zero`` into an array (``instantiate_zeros``).

``add_any`` is the primitive that sums the contributions of fan-out: the JVP of
a value used twice, the cotangents of a variable read by two equations. It is
linear, and its transpose hands the cotangent to both sides.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrans import (
    dtypes,
    primitives,  # the family, for call-time use (see primitives/__init__)
)
from functrans.core.avals import ShapedArray
from functrans.core.primitive import Primitive, UfuncEquivalent
from functrans.core.zeros import Zero

add_any_p = Primitive("add_any")
add_any_p.impl = lambda x, y: np.add(x, y)
add_any_p.abstract_eval = lambda x, y: ShapedArray(x.shape, x.dtype)
add_any_p.linear = True
add_any_p.ufunc = UfuncEquivalent(np.add, "iufc")  # tangents are numeric: add keeps the dtype


def _add_any_jvp(primals, tangents):
    x, y = primals
    tx, ty = tangents
    return add_any_p.bind(x, y), add_tangents(tx, ty)


def _add_any_transpose(ct, x, y):
    return [ct, ct]


def _add_any_batch(args, dims):
    x, y = args
    dx, dy = dims
    if dx == dy:
        return add_any_p.bind(x, y), dx
    size = (x.shape[dx] if dx is not None else y.shape[dy])
    return add_any_p.bind(primitives.rules.bdim_at_front(x, dx, size),
                          primitives.rules.bdim_at_front(y, dy, size)), 0


add_any_p.jvp = _add_any_jvp
add_any_p.transpose = _add_any_transpose
add_any_p.batch = _add_any_batch


def add_tangents(x: Any, y: Any) -> Any:
    """Sum of two tangents, either of which may be a symbolic Zero."""
    if type(x) is Zero:
        return y
    if type(y) is Zero:
        return x
    return add_any_p.bind(x, y)


def instantiate_zeros(t: Any) -> Any:
    """A real zero array for a symbolic Zero (created by broadcasting, so traced
    code stays traced); other values pass through."""
    if type(t) is not Zero:
        return t
    aval = t.aval
    if aval.dtype == dtypes.float0:
        return np.zeros(aval.shape, dtypes.float0)
    return primitives.structural.full(aval.shape, 0, aval.dtype)
