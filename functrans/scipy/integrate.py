"""``functrans.scipy.integrate``: numerical integration of samples, as
``jax.scipy.integrate``. (Integrating differential equations is
:func:`functrans.experimental.ode.odeint`.)"""

from __future__ import annotations

from typing import Any

import functrans.numpy as fnp
from functrans.numpy._util import (
    Array,
    canonicalize_axis,
    cast,
    operand,
    result_type,
    shape_of,
    to_inexact_dtype,
)

__all__ = ["trapezoid"]


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Array:
    """The integral of the samples `y` along `axis` by the trapezoidal rule (as
    ``jax.scipy.integrate.trapezoid`` and ``scipy.integrate.trapezoid``).

    The samples sit at the points `x` (1-D, of length ``y.shape[axis]``, or of `y`'s
    shape), or `dx` apart. Integer samples are integrated in floating point.
    """
    y = operand(y, "scipy.integrate.trapezoid", "y")
    axis = canonicalize_axis(axis, len(shape_of(y)), "scipy.integrate.trapezoid")
    if x is None:
        y = cast(y, to_inexact_dtype(result_type(y)))
        spacing = dx
    else:
        x = operand(x, "scipy.integrate.trapezoid", "x")
        dtype = to_inexact_dtype(result_type(y, x))
        y, x = cast(y, dtype), cast(x, dtype)
        spacing = _spacing(x, shape_of(y), axis)
    y = fnp.moveaxis(y, axis, -1)
    heights = fnp.add(y[..., 1:], y[..., :-1])
    return fnp.multiply(0.5, fnp.sum(fnp.multiply(spacing, heights), axis=-1))


def _spacing(x: Array, y_shape: tuple[int, ...], axis: int) -> Array:
    """The gaps between sample points, laid out along the last axis."""
    n = y_shape[axis]
    x_shape = shape_of(x)
    if len(x_shape) == 1:
        if x_shape[0] != n:
            raise ValueError(f"functrans.scipy.integrate.trapezoid: x has {x_shape[0]} points "
                             f"but y has {n} samples along axis {axis} (shape {y_shape})")
        return fnp.diff(x)
    if len(x_shape) != len(y_shape) or x_shape[axis] != n:
        raise ValueError(f"functrans.scipy.integrate.trapezoid: x of shape {x_shape} must be "
                         f"1-D with {n} points or have the number of dimensions of y "
                         f"{y_shape} and {n} points along axis {axis}")
    return fnp.moveaxis(fnp.diff(x, axis=axis), axis, -1)
