"""Symbolic zero tangents and undefined primals.

A tangent or cotangent that is structurally zero (the input does not affect the
output, or the value is an integer) is the object ``Zero(aval)``, never an
array of zeros. Rules skip work on it; it is turned into an array only at the
API boundary (``primitives.tangent_space.instantiate_zeros``).
"""

from __future__ import annotations

from typing import Any

from functrans.core.avals import ShapedArray


class Zero:
    """A structurally-zero tangent/cotangent with aval `aval`."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

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
