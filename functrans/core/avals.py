"""Abstract values: what the tracers and the IR know about an array."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from functrans import dtypes

try:  # optional: arrays of other libraries (functrans.core.backend)
    import array_api_compat
except ImportError:  # pragma: no cover - exercised where array-api-compat is absent
    array_api_compat = None


class ShapedArray:
    """The abstract value ("aval") of an array: a shape and a dtype.

    ``weak_type`` marks a value computed from Python scalars only (a Python scalar
    argument of ``jit`` is traced as one); it only affects dtype promotion (see
    :mod:`functrans.dtypes`): it promotes like the Python scalar it stands for.
    Each primitive's shape rule says whether its result keeps it.
    """

    __slots__ = ("shape", "dtype", "weak_type")
    array_abstraction_level = 1

    def __init__(self, shape: tuple[int, ...], dtype: Any, weak_type: bool = False):
        self.shape = shape if type(shape) is tuple else tuple(shape)
        self.dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
        self.weak_type = weak_type

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(math.prod(self.shape))

    def update(self, shape: tuple[int, ...] | None = None, dtype: Any = None,
               weak_type: bool | None = None) -> ShapedArray:
        return ShapedArray(self.shape if shape is None else shape,
                           self.dtype if dtype is None else dtype,
                           self.weak_type if weak_type is None else weak_type)

    def strip_weak_type(self) -> ShapedArray:
        return ShapedArray(self.shape, self.dtype) if self.weak_type else self

    def to_tangent_aval(self) -> ShapedArray:
        if dtypes.is_float(self.dtype) and not self.weak_type:
            return self
        return ShapedArray(self.shape, dtypes.tangent_dtype(self.dtype))

    def str_short(self) -> str:
        return f"{dtypes.short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __eq__(self, other: object) -> bool:
        return (type(other) is ShapedArray and self.shape == other.shape
                and self.dtype == other.dtype and self.weak_type == other.weak_type)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype, self.weak_type))

    def __repr__(self) -> str:
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapedArray({self.str_short()}{weak})"


def weak_type_rule(out: ShapedArray, *operands: ShapedArray) -> ShapedArray:
    """`out`, weakly typed when every operand is: JAX's rule for the result of an
    operation on values computed from Python scalars only (``0.9 ** step`` with a
    traced Python int `step` is a weak float, so ``m / (1 - 0.9 ** step)`` keeps the
    dtype of `m`, as the same Python arithmetic does outside jit)."""
    weak = all(a.weak_type for a in operands)
    return out if out.weak_type == weak else out.update(weak_type=weak)


def get_aval(x: Any) -> ShapedArray:
    """The aval of a concrete value (array, NumPy scalar, Python scalar) or a tracer.

    A Python scalar is weakly typed, of the dtype NumPy gives it (see
    :func:`functrans.dtypes.python_scalar_dtype`).
    """
    t = type(x)
    if t is np.ndarray or t in _numpy_scalar_types:
        return ShapedArray(x.shape, x.dtype)
    aval = _python_scalar_avals.get(t)  # before the look-up of .aval, which floats lack
    if aval is not None:
        return aval
    aval = getattr(x, "aval", None)  # a tracer
    if aval is not None:
        return aval
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(x.shape, x.dtype)
    if _is_other_array(x):  # an array of another library (Dask, CuPy, torch): see backend
        return ShapedArray(tuple(int(d) for d in x.shape), dtypes.library_dtype(x.dtype))
    raise TypeError(f"Value {x!r} of type {type(x).__name__} is not a valid functrans "
                    "type: expected a NumPy array, a NumPy scalar or a Python scalar.")


_python_scalar_types = frozenset((bool, int, float, complex))
#: a Python scalar's aval depends on its type alone (avals are never modified)
_python_scalar_avals = {t: ShapedArray((), dtypes.python_scalar_dtype(t()), weak_type=True)
                        for t in _python_scalar_types}
#: the NumPy scalar types of the numeric dtypes, for a fast type test (others, such
#: as np.str_, are found by isinstance)
_numpy_scalar_types = frozenset(np.dtype(c).type for c in "?bBhHiIlLqQefdgFDG")


def _is_other_array(x: Any) -> bool:
    """An array of a library implementing the Array API standard, other than NumPy."""
    return array_api_compat is not None and array_api_compat.is_array_api_obj(x)

