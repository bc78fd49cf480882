"""What every ``functrans.numpy`` function does with its arguments: accept
array-likes, promote dtypes (NEP 50, see :mod:`functrans.dtypes`), broadcast
shapes with explicit ``broadcast_in_dim``, and normalise axes.

Concrete values (NumPy arrays, scalars) are cast and broadcast with NumPy
directly: they carry no derivative, so there is nothing to record. Tracers go
through the lax functions, so gradients reduce back to each input's shape.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans import dtypes, errors
from functrans.core.avals import get_aval
from functrans.core.backend import foreign_backend
from functrans.core.trace import Tracer, get_current_trace
from functrans.numpy._lax import lax
from functrans.primitives.structural import FILL_BROADCASTS_UP_TO, fill_broadcast

Array = Any  # a NumPy array, a NumPy/Python scalar, or a Tracer
Shape = tuple[int, ...]

_scalar_types = (bool, int, float, complex)
_exact_kinds = "biu"


# ------------------------------------------------------------------ arguments

def quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Silence NumPy floating-point warnings in a composite function: it
    evaluates branches (log(0) at a pole, exp of -inf) that a `where` then
    discards, or whose inf/nan is the intended result, as in JAX."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return wrapper


def is_traced(x: Any) -> bool:
    return isinstance(x, Tracer)


def asarray_arg(x: Any, fname: str, argname: str = "x") -> Array:
    """`x` as a value functrans operations take: a tracer, a NumPy array or
    scalar, or a Python scalar (kept, as it is weakly typed). Sequences are
    converted (stacked, if they hold tracers)."""
    t = type(x)
    if t is np.ndarray or t in _scalar_types or isinstance(x, (Tracer, np.generic)):
        if t is np.ndarray and x.dtype.kind in "OUSVMm":
            raise TypeError(f"functrans.numpy.{fname}: argument {argname} has dtype "
                            f"{x.dtype}; functrans.numpy works with numeric and boolean "
                            "arrays")
        return x
    if isinstance(x, (list, tuple)):
        return array_from_sequence(x, fname, argname)
    if foreign_backend(x) is not None:  # Dask, CuPy, torch...: evaluated by their library
        return x
    if isinstance(x, np.ndarray) or hasattr(x, "__array__"):
        return asarray_arg(np.asarray(x), fname, argname)
    raise TypeError(f"functrans.numpy.{fname}: argument {argname} is a {type(x).__name__} "
                    f"({_short(x)}), not an array: expected a NumPy array, a traced array, a "
                    "Python or NumPy scalar, or a (nested) list of them")


def operand(a: Any, fname: str, argname: str = "a") -> Array:
    """`a` checked by `asarray_arg` and made an array (Python scalars included)."""
    return as_array(asarray_arg(a, fname, argname))


def array_from_sequence(seq: Sequence[Any], fname: str, argname: str) -> Array:
    if not _contains_tracer(seq):
        out = np.asarray(seq)
        if out.dtype.kind in "OUSV":
            raise TypeError(f"functrans.numpy.{fname}: argument {argname} ({_short(seq)}) "
                            "does not convert to a numeric array (ragged or non-numeric "
                            "entries?)")
        return out
    items = [as_array(asarray_arg(item, fname, argname)) for item in seq]
    return _stack_rows(items, fname, argname)


def _stack_rows(items: list[Array], fname: str, argname: str) -> Array:
    """`items` joined along a new leading axis, as ``np.asarray`` joins the
    entries of a list. Built from lax here, not from ``stack``, so that this
    base module needs nothing above it."""
    shapes = {shape_of(item) for item in items}
    if len(shapes) != 1:
        raise ValueError(f"functrans.numpy.{fname}: the entries of argument {argname} have "
                         f"different shapes ({', '.join(str(shape_of(i)) for i in items)}); "
                         "they must all have one shape to form an array")
    (shape,) = shapes
    dtype = result_type(*items)
    rows = [lax.reshape(cast(item, dtype), (1,) + shape) for item in items]
    return rows[0] if len(rows) == 1 else lax.concatenate(rows, 0)


def _contains_tracer(seq: Any) -> bool:
    if isinstance(seq, Tracer):
        return True
    if isinstance(seq, (list, tuple)):
        return any(_contains_tracer(s) for s in seq)
    return False


def _short(x: Any) -> str:
    r = repr(x)
    return r if len(r) < 50 else r[:47] + "..."


def shape_of(x: Any) -> Shape:
    return x.shape if type(x) is np.ndarray else get_aval(x).shape


def dtype_of(x: Any) -> np.dtype:
    return x.dtype if type(x) is np.ndarray else get_aval(x).dtype


def ndim_of(x: Any) -> int:
    return len(shape_of(x))


def size_of(x: Any) -> int:
    return x.size if type(x) is np.ndarray else _size(get_aval(x).shape)


# ------------------------------------------------------------------ dtypes

def result_type(*args: Any) -> np.dtype:
    return dtypes.result_type(*args)


def is_inexact(dtype: np.dtype) -> bool:
    return dtypes.is_float(dtype)


def is_exact(dtype: np.dtype) -> bool:
    return np.dtype(dtype).kind in _exact_kinds


def to_inexact_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype `sin`, `/` or `mean` compute in: floats stay, integers and bools
    become float64 (NumPy's default float)."""
    return dtypes.canonical_float(dtype)


def cast(x: Array, dtype: np.dtype, weak_type: bool = False) -> Array:
    """`x` as `dtype`; tracers through ``convert_element_type``, constants by NumPy.
    `weak_type`: promotion of weakly-typed values only, whose result stays weak (a
    Python scalar stays one, of the kind of `dtype`)."""
    if weak_type:
        if dtypes.is_python_scalar(x):
            return dtypes.weak_scalar(x, dtype)
        return lax.convert_element_type(x, dtype, weak_type=True)
    if isinstance(x, Tracer) or foreign_backend(x) is not None:
        return x if get_aval(x).dtype == dtype else lax.convert_element_type(x, dtype)
    if type(x) is np.ndarray and x.dtype == dtype:
        return x
    return np.asarray(x, dtype)


def as_array(x: Array) -> Array:
    """A Python scalar becomes a 0-d NumPy array of its default dtype."""
    return np.asarray(x) if type(x) in _scalar_types else x


# ------------------------------------------------------------------ shapes

def broadcast_shapes(fname: str, *shapes: Shape) -> Shape:
    """NumPy's broadcast of `shapes`, or a ValueError naming `fname`."""
    ndim = max((len(s) for s in shapes), default=0)
    result = [1] * ndim
    for s in shapes:
        offset = ndim - len(s)
        for i, d in enumerate(s):
            r = result[offset + i]
            if d == r or d == 1:
                continue
            if r != 1:
                raise ValueError(
                    f"functrans.numpy.{fname}: operands could not be broadcast together "
                    f"with shapes {' '.join(str(tuple(s)) for s in shapes)}")
            result[offset + i] = d
    return tuple(result)


def broadcast_to_shape(x: Array, shape: Shape) -> Array:
    """`x` broadcast NumPy-style (aligning trailing axes) to `shape`."""
    x_shape = shape_of(x)
    if x_shape == shape:
        return x
    if isinstance(x, Tracer) or foreign_backend(x) is not None:
        return lax.broadcast_in_dim(x, shape, _trailing_dims(len(x_shape), len(shape)))
    if len(x_shape) == 0:
        return constant(x, shape, np.asarray(x).dtype)
    return _broadcast_concrete(x, shape)


def _broadcast_concrete(x: Any, shape: Shape) -> np.ndarray:
    """A NumPy value broadcast to `shape`: filled into a new array when small, as
    ``broadcast_in_dim`` evaluates (cheaper than ``np.broadcast_to``'s view, ~2.5 µs
    of Python), else that read-only view."""
    if _size(shape) <= FILL_BROADCASTS_UP_TO:
        x = np.asarray(x)
        return fill_broadcast(x, shape, x.dtype)
    return np.broadcast_to(x, shape)


def _size(shape: Shape) -> int:
    return math.prod(shape)  # (Python ints: no overflow, and cheaper than np.prod)


@functools.lru_cache(maxsize=256)
def _trailing_dims(ndim: int, out_ndim: int) -> tuple[int, ...]:
    """The last `ndim` of `out_ndim` dimensions: where NumPy broadcasting puts an
    operand's axes."""
    return tuple(range(out_ndim - ndim, out_ndim))


_SMALL = 4096  # below this many elements a filled array is cheaper than a broadcast view


def constant(value: Any, shape: Shape, dtype: np.dtype) -> Array:
    """A constant array: filled when small, a zero-copy broadcast view when large.
    Under jit/make_jaxpr, a staged broadcast of the scalar, so the jaxpr shows the
    scalar rather than a filled array among its constants."""
    if get_current_trace().stages_constants and shape:
        return lax.broadcast_in_dim(np.asarray(value, dtype), shape, ())
    if len(shape) <= 1 and (not shape or shape[0] <= _SMALL):
        return np.full(shape, value, dtype)
    if _size(shape) <= _SMALL:
        return np.full(shape, value, dtype)
    return np.broadcast_to(np.asarray(value, dtype), shape)


def promote_dtypes(*args: Array) -> list[Array]:
    dtype = result_type(*args)
    return [cast(a, dtype) for a in args]


def promote_args(fname: str, *args: Any) -> list[Array]:
    """Arguments converted to one dtype (NEP 50) and broadcast to one shape."""
    if len(args) == 2:
        ready = ready_pair(fname, args[0], args[1])
        if ready is not None:
            return [ready[0], ready[1]]
    args = tuple(asarray_arg(a, fname, f"{i}") for i, a in enumerate(args))
    return _promote(fname, args, None)


def promote_args_inexact(fname: str, *args: Any) -> list[Array]:
    """Like promote_args, with integer/bool results promoted to float64."""
    if len(args) == 2:
        ready = ready_pair(fname, args[0], args[1], True)
        if ready is not None:
            return [ready[0], ready[1]]
    args = tuple(asarray_arg(a, fname, f"{i}") for i, a in enumerate(args))
    return _promote(fname, args, to_inexact_dtype)


def array_info(x: Any) -> tuple[np.dtype, Shape, bool] | None:
    """(dtype, shape, weak) of an array or tracer; None for anything else."""
    if type(x) is np.ndarray:
        return x.dtype, x.shape, False
    if isinstance(x, Tracer):
        aval = x.aval
        return aval.dtype, aval.shape, aval.weak_type
    return None


_float_scalar_types = (int, float)
_array_kinds = "biufc"
#: the dtypes two weakly-typed values of one dtype keep (those of Python scalars);
#: a weakly-typed value with a strongly-typed one of its dtype keeps that dtype
_weak_dtypes = frozenset(np.result_type(s, s) for s in (False, 0, 0.0, 0j))


def ready_pair(fname: str, x: Any, y: Any, inexact: bool = False,
               ) -> tuple[Array, Array, np.dtype] | None:
    """`promote_args` (`inexact`: `promote_args_inexact`) of two operands in the
    common cases, decided without the general machinery: two arrays of one dtype
    (broadcast to one shape), or a strongly-typed floating array with a Python
    int/float. Returns the pair and its dtype, or None: the general path decides
    (other dtypes, weak types, errors).

    The pair holds arrays or tracers of one shape and dtype, never a Python
    scalar, so an elementwise primitive may be bound on it directly: its lax
    function would bind it unchanged (a weakly-typed rank-0 tracer in the pair
    has the other's dtype and shape, which the lax function's scalar handling
    leaves as they are)."""
    x_info = array_info(x)
    if x_info is not None:
        y_info = array_info(y)
        if y_info is not None:
            dtype = x_info[0]
            if dtype != y_info[0] or (inexact and dtype.kind not in "fc"):
                return None
            if x_info[2] and y_info[2] and dtype not in _weak_dtypes:
                return None  # two weak float32s promote to a weak float64
            x_shape, y_shape = x_info[1], y_info[1]
            if x_shape == y_shape:
                return x, y, dtype
            if dtype.kind not in _array_kinds:
                return None
            shape = _broadcast_pair(fname, x_shape, y_shape)
            return _broadcast_to(x, x_shape, shape), _broadcast_to(y, y_shape, shape), dtype
        if type(y) in _float_scalar_types and x_info[0].kind == "f" and not x_info[2]:
            return x, _float_constant(y, x_info[1], x_info[0]), x_info[0]
        return None
    if type(x) in _float_scalar_types:
        y_info = array_info(y)
        if y_info is not None and y_info[0].kind == "f" and not y_info[2]:
            return _float_constant(x, y_info[1], y_info[0]), y, y_info[0]
    return None


def _broadcast_to(x: Array, x_shape: Shape, shape: Shape) -> Array:
    """`broadcast_to_shape` of an array or tracer whose shape `x_shape` holds Python
    ints, as `shape` does: a tracer's broadcast is bound without the lax function's
    normalisation of its arguments."""
    if x_shape == shape:
        return x
    if type(x) is np.ndarray:
        return broadcast_to_shape(x, shape)
    return lax.broadcast_in_dim_p.bind(
        x, shape=shape, broadcast_dimensions=_trailing_dims(len(x_shape), len(shape)))


#: (shape, shape) -> their broadcast: few distinct pairs recur in a program
_broadcast_pairs: dict[tuple[Shape, Shape], Shape] = {}


def _broadcast_pair(fname: str, x_shape: Shape, y_shape: Shape) -> Shape:
    """`broadcast_shapes` of two array shapes, remembered."""
    key = (x_shape, y_shape)
    shape = _broadcast_pairs.get(key)
    if shape is None:
        shape = broadcast_shapes(fname, x_shape, y_shape)  # (raises if incompatible)
        if len(_broadcast_pairs) >= 1024:
            _broadcast_pairs.clear()
        _broadcast_pairs[key] = shape
    return shape


def _float_constant(value: int | float, shape: Shape, dtype: np.dtype) -> Array:
    """`constant` of a Python int/float in a floating `dtype`, built directly where
    that is cheaper: 0-d, or small and not staged (``ndarray.fill`` gives what
    ``np.full`` gives for these values, warnings and errors included, in half the
    time)."""
    if not shape:
        return np.array(value, dtype)
    if _size(shape) > _SMALL or get_current_trace().stages_constants:
        return constant(value, shape, dtype)
    out = np.empty(shape, dtype)
    out.fill(value)
    return out


def same_dtype_arrays(args: Sequence[Any]) -> bool:
    """Whether `args` are NumPy arrays or tracers of one numeric dtype, none of
    them weakly typed: promotion leaves such arguments as they are."""
    first = array_info(args[0])
    if first is None or first[2] or first[0].kind not in _array_kinds:
        return False
    dtype = first[0]
    for a in args[1:]:
        info = array_info(a)
        if info is None or info[2] or info[0] != dtype:
            return False
    return True


def same_dtype_shapes(x: Any, y: Any) -> tuple[Shape, Shape] | None:
    """The shapes of `x` and `y` when ``same_dtype_arrays((x, y))``, else None."""
    x_info, y_info = array_info(x), array_info(y)
    if (x_info is None or y_info is None or x_info[2] or y_info[2]
            or x_info[0] != y_info[0] or x_info[0].kind not in _array_kinds):
        return None
    return x_info[1], y_info[1]


def _promote(fname: str, args: tuple[Array, ...], adjust: Any) -> list[Array]:
    avals = [get_aval(a) for a in args]
    first = avals[0]
    # fast path: equal shapes and dtypes, no Python scalars to convert
    if all(a.shape == first.shape and a.dtype == first.dtype and not a.weak_type
           for a in avals) and (adjust is None or is_inexact(first.dtype)):
        return list(args)
    dtype, weak = dtypes.weak_result_type(*args)
    if adjust is not None:
        dtype = adjust(dtype)
    shape = broadcast_shapes(fname, *(a.shape for a in avals))
    return [broadcast_to_shape(cast(a, dtype, weak), shape) for a in args]


# ------------------------------------------------------------------ axes

@functools.lru_cache(maxsize=64)
def _all_axes(ndim: int) -> tuple[int, ...]:
    return tuple(range(ndim))


def canonicalize_axis(axis: Any, ndim: int, fname: str) -> int:
    try:
        a = operator.index(axis)
    except TypeError:
        raise TypeError(f"functrans.numpy.{fname}: axis must be an integer, got "
                        f"{_short(axis)}") from None
    if not -ndim <= a < ndim:
        raise np.exceptions.AxisError(
            f"functrans.numpy.{fname}: axis {a} is out of bounds for array of dimension {ndim}")
    return a % ndim if ndim else 0


def canonicalize_axes(axis: Any, ndim: int, fname: str) -> tuple[int, ...]:
    """`axis` (None, an int or a sequence of ints) as sorted non-negative ints."""
    if axis is None:
        return _all_axes(ndim)
    if type(axis) is int and -ndim <= axis < ndim:  # the common case, checked in full
        return (axis % ndim,)
    if isinstance(axis, (tuple, list)):
        axes = [canonicalize_axis(a, ndim, fname) for a in axis]
    else:
        axes = [canonicalize_axis(axis, ndim, fname)]
    if len(set(axes)) != len(axes):
        raise ValueError(f"functrans.numpy.{fname}: duplicate value in 'axis': {axis}")
    return tuple(sorted(axes))


# ------------------------------------------------------------------ concrete values

def concrete(x: Any, fname: str, what: str) -> Any:
    """The concrete value of `x` (a NumPy value), or ConcretizationTypeError."""
    if not isinstance(x, Tracer):
        return x
    try:
        return x.to_concrete(what)
    except errors.ConcretizationTypeError:
        raise errors.ConcretizationTypeError(
            x.describe(), f"functrans.numpy.{fname} needs the concrete value of {what}, "
            "which is not known "
            "while tracing.\n") from None


def static_int(x: Any, fname: str, what: str) -> int:
    """`x` as a Python int: a static size, count or index."""
    value = concrete(x, fname, what)
    try:
        return operator.index(value)
    except TypeError:
        arr = np.asarray(value)
        if arr.shape == () and arr.dtype.kind in "iu":
            return int(arr)
        raise TypeError(f"functrans.numpy.{fname}: {what} must be an integer, got "
                        f"{_short(value)}") from None


def static_shape(shape: Any, fname: str) -> Shape:
    if isinstance(shape, (list, tuple)):
        return tuple(static_int(s, fname, "a shape entry") for s in shape)
    return (static_int(shape, fname, "the shape"),)
