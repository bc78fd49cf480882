"""The NumPy-style operators, properties and methods of traced arrays.

:class:`functrans.core.trace.Tracer` knows only its aval; this module gives it
``+``, ``@``, comparisons, indexing, ``.T``, ``.sum()``, ``.at[...]`` and the
rest, all delegating to :mod:`functrans.numpy`. NumPy's own functions on a
tracer (``np.sin(x)``, ``np_array - x``, ``np.dot(w, x)``) reach it through
``__array_ufunc__`` and ``__array_function__``, which :mod:`._dispatch` routes
to functrans.numpy; ``f"{tracer:.3f}"`` formats the value when one is known.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans.core.backend import foreign_backend
from functrans.core.trace import Tracer
from functrans.numpy import _dispatch, _indexing, _products, _reductions, _shape, _sorting
from functrans.numpy import _ufuncs as uf
from functrans.numpy._util import Array, cast, concrete

_operand_types = (Tracer, np.ndarray, np.generic, bool, int, float, complex, list, tuple)


def _is_operand(other: Any) -> bool:
    """Whether a tracer's operator takes `other`: NumPy values, tracers, and arrays of
    other libraries (a Dask array times a traced value is traced too)."""
    return isinstance(other, _operand_types) or foreign_backend(other) is not None


def _binary(fn: Any, reflected: bool = False) -> Any:
    # (the common operand types tested inline: operators are the hottest path there is)
    if reflected:
        def op(self: Tracer, other: Any) -> Any:
            if not isinstance(other, _operand_types) and not _is_operand(other):
                return NotImplemented
            return fn(other, self)
    else:
        def op(self: Tracer, other: Any) -> Any:
            if not isinstance(other, _operand_types) and not _is_operand(other):
                return NotImplemented
            return fn(self, other)
    op.__name__ = fn.__name__
    op.__doc__ = fn.__doc__
    return op


def _pow(self: Tracer, other: Any, modulo: Any = None) -> Any:
    if modulo is not None:
        raise TypeError("pow() with a modulo is not supported for traced arrays")
    if not _is_operand(other):
        return NotImplemented
    return uf.power(self, other)


def _rpow(self: Tracer, other: Any) -> Any:
    if not _is_operand(other):
        return NotImplemented
    return uf.power(other, self)


def _divmod(self: Tracer, other: Any) -> Any:
    if not _is_operand(other):
        return NotImplemented
    return uf.divmod(self, other)


def _rdivmod(self: Tracer, other: Any) -> Any:
    if not _is_operand(other):
        return NotImplemented
    return uf.divmod(other, self)


def _setitem(self: Tracer, index: Any, value: Any) -> None:
    raise TypeError("traced arrays are immutable: `x[idx] = y` is not supported. Use "
                    "x = x.at[idx].set(y) (or .add, .multiply, .min, .max) to get an updated "
                    "copy.")


# ------------------------------------------------------------------ methods

def _reshape(self: Tracer, *shape: Any, order: str = "C") -> Array:
    """``x.reshape(2, 3)`` or ``x.reshape((2, 3))``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return _shape.reshape(self, shape, order)


def _transpose(self: Tracer, *axes: Any) -> Array:
    """``x.transpose()``, ``x.transpose(1, 0)`` or ``x.transpose((1, 0))``."""
    if not axes or (len(axes) == 1 and axes[0] is None):
        return _shape.transpose(self)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = tuple(axes[0])
    return _shape.transpose(self, axes)


def _astype(self: Tracer, dtype: Any, copy: bool = False) -> Array:
    """`x` converted to `dtype`."""
    return cast(self, np.dtype(dtype))


def _item(self: Tracer, *args: Any) -> Any:
    """The element as a Python scalar (concrete integer or boolean values only)."""
    _refuse_inexact(self, "item")
    return np.asarray(concrete(self, "item", "the array")).item(*args)


def _tolist(self: Tracer) -> Any:
    """The elements as Python scalars (concrete integer or boolean values only)."""
    _refuse_inexact(self, "tolist")
    return np.asarray(concrete(self, "tolist", "the array")).tolist()


def _refuse_inexact(self: Tracer, method: str) -> None:
    # Python floats carry no derivative or batch: refused as float() is
    if self.dtype.kind in "fc":
        raise self.scalar_conversion_error(f".{method}()")


def _flatten(self: Tracer, order: str = "C") -> Array:
    """`x` flattened to 1-D."""
    return _shape.ravel(self, order)


def _clip(self: Tracer, min: Any = None, max: Any = None) -> Array:  # noqa: A002
    """`x` limited to ``[min, max]``."""
    return uf.clip(self, min, max)


def _round(self: Tracer, decimals: int = 0) -> Array:
    """`x` rounded to `decimals` places (halves to even)."""
    return uf.round(self, decimals)


def _dunder_round(self: Tracer, ndigits: int | None = None) -> Array:
    return uf.round(self, 0 if ndigits is None else ndigits)


def _squeeze(self: Tracer, axis: Any = None) -> Array:
    """`x` without its size-1 axes (or just `axis`)."""
    return _shape.squeeze(self, axis)


def _sort(self: Tracer, axis: int = -1, kind: Any = None, order: Any = None, *,
          stable: bool = True, descending: bool = False) -> Array:
    """A sorted copy of `x` (arrays are values: nothing is sorted in place)."""
    return _sorting.sort(self, axis, kind, order, stable=stable, descending=descending)


def _nonzero(self: Tracer, *, size: int | None = None, fill_value: Any = None) -> Any:
    """Indices of the nonzero elements (concrete values only)."""
    return _indexing.nonzero(self, size=size, fill_value=fill_value)


def _copy(self: Tracer) -> Tracer:
    """`x` itself: arrays are immutable values."""
    return self


def _at(self: Tracer) -> _indexing._IndexUpdateHelper:
    """Functional updates: ``x.at[idx].set(v)``, ``.add(v)``, ``.multiply(v)``,
    ``.min(v)``, ``.max(v)``, ``.get()``."""
    return _indexing._IndexUpdateHelper(self)


def _real(self: Tracer) -> Array:
    return uf.real(self)


def _imag(self: Tracer) -> Array:
    return uf.imag(self)


def _T(self: Tracer) -> Array:  # noqa: N802
    return _shape.transpose(self)


def _mT(self: Tracer) -> Array:  # noqa: N802
    return _shape.matrix_transpose(self)


def _fill(self: Tracer, value: Any) -> None:
    raise TypeError("traced arrays are immutable: x.fill(v) is not supported; use "
                    "functrans.numpy.full_like(x, v)")


_OPERATORS = {
    "__add__": _binary(uf.add), "__radd__": _binary(uf.add, True),
    "__sub__": _binary(uf.subtract), "__rsub__": _binary(uf.subtract, True),
    "__mul__": _binary(uf.multiply), "__rmul__": _binary(uf.multiply, True),
    "__truediv__": _binary(uf.true_divide), "__rtruediv__": _binary(uf.true_divide, True),
    "__floordiv__": _binary(uf.floor_divide),
    "__rfloordiv__": _binary(uf.floor_divide, True),
    "__mod__": _binary(uf.remainder), "__rmod__": _binary(uf.remainder, True),
    "__divmod__": _divmod, "__rdivmod__": _rdivmod,
    "__pow__": _pow, "__rpow__": _rpow,
    "__matmul__": _binary(_products.matmul), "__rmatmul__": _binary(_products.matmul, True),
    "__and__": _binary(uf.bitwise_and), "__rand__": _binary(uf.bitwise_and, True),
    "__or__": _binary(uf.bitwise_or), "__ror__": _binary(uf.bitwise_or, True),
    "__xor__": _binary(uf.bitwise_xor), "__rxor__": _binary(uf.bitwise_xor, True),
    "__eq__": _binary(uf.equal), "__ne__": _binary(uf.not_equal),
    "__lt__": _binary(uf.less), "__le__": _binary(uf.less_equal),
    "__gt__": _binary(uf.greater), "__ge__": _binary(uf.greater_equal),
    "__neg__": uf.negative, "__pos__": uf.positive, "__abs__": uf.absolute,
    "__invert__": uf.invert, "__round__": _dunder_round,
    "__getitem__": _indexing.getitem, "__setitem__": _setitem,
}

_METHODS = {
    "reshape": _reshape, "transpose": _transpose, "astype": _astype, "item": _item,
    "tolist": _tolist, "flatten": _flatten, "ravel": _shape.ravel, "squeeze": _squeeze,
    "swapaxes": _shape.swapaxes, "repeat": _shape.repeat, "diagonal": _shape.diagonal,
    "trace": _shape.trace, "take": _indexing.take, "nonzero": _nonzero,
    "sum": _reductions.sum, "prod": _reductions.prod, "mean": _reductions.mean,
    "var": _reductions.var, "std": _reductions.std, "max": _reductions.max,
    "min": _reductions.min, "argmax": _reductions.argmax, "argmin": _reductions.argmin,
    "any": _reductions.any, "all": _reductions.all, "cumsum": _reductions.cumsum,
    "cumprod": _reductions.cumprod, "dot": _products.dot, "clip": _clip, "round": _round,
    "conj": uf.conjugate, "conjugate": uf.conjugate, "sort": _sort,
    "argsort": _sorting.argsort, "copy": _copy, "fill": _fill,
}

_PROPERTIES = {"T": _T, "mT": _mT, "real": _real, "imag": _imag, "at": _at}


def attach_to_tracer(cls: type = Tracer) -> None:
    """Install the operators, methods and properties on `cls`."""
    for name, fn in _OPERATORS.items():
        setattr(cls, name, fn)
    for name, fn in _METHODS.items():
        setattr(cls, name, fn)
    for name, fn in _PROPERTIES.items():
        setattr(cls, name, property(fn, doc=fn.__doc__))
    cls.__array_namespace__ = _array_namespace  # type: ignore[attr-defined]
    cls.__array_ufunc__ = _dispatch.array_ufunc  # type: ignore[assignment]
    cls.__array_function__ = _dispatch.array_function  # type: ignore[attr-defined]
    cls.__format__ = _format  # type: ignore[method-assign]


def _array_namespace(self: Tracer, *, api_version: Any = None) -> Any:
    return fnp


def _format(self: Tracer, format_spec: str) -> str:
    """``f"{x}"`` shows the tracer; a format spec such as ``.3f`` needs the
    value, which only a tracer over a concrete value (as under grad) has."""
    if not format_spec:
        return str(self)
    value = self._concrete_for(f"the format spec {format_spec!r}")
    return format(value, format_spec)

