"""Dtype rules.

functrans follows NumPy 2 (NEP 50) rather than JAX where the two differ:

* float64 is the default floating dtype (JAX defaults to float32);
* a Python scalar is *weakly typed*: ``x32 * 2.0`` stays float32, as in NumPy;
* nothing is silently downcast: mixing float32 and float64 arrays gives float64.

Integer and boolean values flow through every transformation but carry no
tangent. Where JAX would use a ``float0`` tangent (a tangent of an integer
value) we use the same structured zero-size dtype, :data:`float0`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The dtype of a tangent or cotangent of an integer or boolean value.
float0 = np.dtype([("float0", np.void, 0)])

_python_scalar_types = (bool, int, float, complex)


_is_float_cache: dict[np.dtype, bool] = {}


def is_float(dtype: np.dtype) -> bool:
    """True for the dtypes that carry derivatives (real or complex floating)."""
    try:
        return _is_float_cache[dtype]
    except (KeyError, TypeError):
        result = _is_float_cache[np.dtype(dtype)] = np.issubdtype(dtype, np.inexact)
        return result


def is_python_scalar(x: object) -> bool:
    return type(x) in _python_scalar_types


#: the range of a weakly-typed int64: the Python ints jit can trace
INT64_MIN, INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
#: the dtype of each kind of Python scalar, as NumPy gives it (and JAX with x64)
_python_scalar_dtypes = {bool: np.dtype(np.bool_), int: np.dtype(np.int64),
                         float: np.dtype(np.float64), complex: np.dtype(np.complex128)}


def python_scalar_dtype(x: bool | int | float | complex) -> np.dtype:
    """The dtype of a Python scalar as a weakly-typed value: bool, int64, float64 or
    complex128. An int is int64 whatever its value: promotion looks at the value
    itself (``uint64_array + 2**63`` is uint64, as in NumPy), converting it raises
    OverflowError where it does not fit, and a traced int must fit int64
    (:func:`fits_int64`, checked by jit)."""
    return _python_scalar_dtypes[type(x)]


def fits_int64(x: int) -> bool:
    """Whether the Python int `x` is a valid weakly-typed int64 value."""
    return INT64_MIN <= x <= INT64_MAX


def is_supported(dtype: np.dtype) -> bool:
    """Whether functrans computes with values of `dtype`: booleans and numbers (and
    the float0 of integer tangents), not datetimes, strings, bytes or objects."""
    return dtype.kind in "biufc" or dtype == float0


def is_weak(x: object) -> bool:
    """Whether `x` promotes like a Python scalar: it is one, or a weakly-typed
    aval or tracer (a value computed from Python scalars only)."""
    return type(x) in _python_scalar_types or getattr(x, "weak_type", False) is True


def weak_result_type(*args: object) -> tuple[np.dtype, bool]:
    """`result_type` and whether the result is weakly typed, as JAX's promotion
    computes both: it is when every argument is (``0.9 ** step`` with a traced
    Python int `step` is a weak float64, so it leaves float32 arrays float32)."""
    return result_type(*args), all(is_weak(a) for a in args)


def weak_scalar(x: bool | int | float | complex, dtype: np.dtype) -> bool | int | float | complex:
    """The Python scalar `x` converted to the kind of `dtype`, which must be the
    dtype of Python scalars of that kind (``weak_scalar(1, float64)`` is 1.0): a
    constant that stays weakly typed where promotion changed its kind."""
    return np.asarray(x, dtype).item()


def tangent_dtype(dtype: np.dtype) -> np.dtype:
    """Dtype of a tangent of a value of `dtype`: itself if inexact, else float0."""
    return dtype if is_float(dtype) else float0


def result_type(*args: object) -> np.dtype:
    """NumPy's result type, treating weakly-typed values like Python scalars.

    `args` are arrays, Python scalars, or anything with ``.dtype`` and a
    ``weak_type`` attribute (avals and tracers).
    """
    proxies = []
    for a in args:
        if is_python_scalar(a):
            proxies.append(a)
        elif getattr(a, "weak_type", False):
            proxies.append(_weak_proxy(a.dtype))
        else:
            proxies.append(library_dtype(a.dtype) if hasattr(a, "dtype")
                           else np.asarray(a).dtype)
    return np.result_type(*proxies)


def library_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype of a dtype of NumPy or of another array library
    (``torch.float32`` -> float32; Dask and CuPy use NumPy's dtypes)."""
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(str(dtype).rpartition(".")[2])


def _weak_proxy(dtype: np.dtype) -> object:
    kind = np.dtype(dtype).kind
    return {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}[kind]


def default_float() -> np.dtype:
    return np.dtype(np.float64)


def canonical_float(dtype: np.dtype) -> np.dtype:
    """The floating dtype an integer/bool value is promoted to by `sin`, `/`, ..."""
    dtype = np.dtype(dtype)
    return dtype if is_float(dtype) else default_float()


def short_name(dtype: np.dtype) -> str:
    """JAX-style short dtype name used when printing jaxprs: f32, i64, bool."""
    dtype = np.dtype(dtype)
    if dtype == float0:
        return "float0"
    if dtype.kind == "b":
        return "bool"
    prefix = {"f": "f", "i": "i", "u": "u", "c": "c"}.get(dtype.kind)
    if prefix is None:
        return str(dtype)
    return f"{prefix}{dtype.itemsize * 8}"
