"""Symbolic zeros and the tangent-space addition every AD rule shares.

A tangent or cotangent that is structurally zero (the input does not affect the
output, or the value is an integer) is the object ``Zero(aval)``, never an
array of zeros. Rules skip work on it; it is turned into an array only at the
API boundary (``instantiate_zeros``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrans import dtypes
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive


class Zero:
    """A structurally-zero tangent/cotangent with aval `aval`."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    @staticmethod
    def from_primal_value(x: Any) -> Zero:
        return Zero(get_aval(x).to_tangent_aval())

    def __repr__(self) -> str:
        return f"Zero({self.aval.str_short()})"


class UndefinedPrimal:
    """Marks a linear input of an equation being transposed."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"UndefinedPrimal({self.aval.str_short()})"


def is_undefined_primal(x: Any) -> bool:
    return type(x) is UndefinedPrimal


def zeros_like_aval(aval: ShapedArray) -> Any:
    if aval.dtype == dtypes.float0:
        return np.zeros(aval.shape, dtypes.float0)
    return np.zeros(aval.shape, aval.dtype)


def instantiate_zeros(t: Any) -> Any:
    """A real zero array for a symbolic Zero (created by broadcasting, so traced
    code stays traced); other values pass through."""
    if type(t) is not Zero:
        return t
    aval = t.aval
    if aval.dtype == dtypes.float0:
        return np.zeros(aval.shape, dtypes.float0)
    from functrans.primitives.structural import full  # primitives depend on core

    return full(aval.shape, 0, aval.dtype)


# add_any: tangent accumulation. It is the one primitive core needs itself;
# it is linear and its transpose hands the cotangent to both sides.
add_any_p = Primitive("add_any")
add_any_p.impl = lambda x, y: np.add(x, y)
add_any_p.abstract_eval = lambda x, y: ShapedArray(x.shape, x.dtype)
add_any_p.linear = True


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
    from functrans.primitives.rules import bdim_at_front

    size = (x.shape[dx] if dx is not None else y.shape[dy])
    return add_any_p.bind(bdim_at_front(x, dx, size), bdim_at_front(y, dy, size)), 0


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
