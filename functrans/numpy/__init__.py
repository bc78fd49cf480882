# ruff: noqa: F401  (this module re-exports the public API)
"""``functrans.numpy``: the ``jax.numpy`` API over functrans primitives.

    import functrans.numpy as fnp

Every function works on NumPy arrays (returning NumPy arrays), on Python
scalars, and on traced arrays inside ``grad``/``jvp``/``vmap``/``jit``.
Semantics are NumPy's, including NEP 50 dtype promotion (``float32 * 2.0``
stays float32; integers become float64 in ``sin``, ``/``, ``mean``). Arrays
are values: updates are functional, ``x.at[idx].set(v)``.

Importing this package also gives traced arrays their operators and
methods (``x + y``, ``x @ w``, ``x[idx]``, ``x.sum()``, ``x.T``, ``x.at``).
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from functrans.core.avals import get_aval as _get_aval
from functrans.core.trace import Tracer
from functrans.numpy import fft, linalg
from functrans.numpy._composites import (
    convolve,
    copysign,
    corrcoef,
    correlate,
    cov,
    cross,
    diff,
    ediff1d,
    frexp,
    geomspace,
    heaviside,
    interp,
    iscomplex,
    isreal,
    kron,
    ldexp,
    modf,
    nanargmax,
    nanargmin,
    nanmax,
    nanmean,
    nanmin,
    nanprod,
    nanstd,
    nansum,
    nanvar,
    nextafter,
    polyval,
    ptp,
    signbit,
    sinc,
    vander,
)
from functrans.numpy._composites_index import (
    append,
    argpartition,
    bincount,
    delete,
    diag_indices,
    digitize,
    dsplit,
    einsum_path,
    histogram,
    histogram_bin_edges,
    indices,
    insert,
    lexsort,
    partition,
    piecewise,
    ravel_multi_index,
    resize,
    searchsorted,
    sort_complex,
    tril_indices,
    trim_zeros,
    triu_indices,
    unique,
    unravel_index,
)
from functrans.numpy._creation import (
    arange,
    array,
    asarray,
    copy,
    empty,
    empty_like,
    eye,
    full,
    full_like,
    identity,
    linspace,
    logspace,
    meshgrid,
    ones,
    ones_like,
    tri,
    zeros,
    zeros_like,
)
from functrans.numpy._extras import (
    angle,
    apply_along_axis,
    astype,
    block,
    fill_diagonal,
    gcd,
    gradient,
    isin,
    ix_,
    lcm,
    mgrid,
    ogrid,
    polyder,
    polyfit,
    polyint,
    put_along_axis,
    roots,
    s_,
    trapezoid,
    unstack,
    vectorize,
)
from functrans.numpy._index_tricks import c_, r_
from functrans.numpy._indexing import (
    argwhere,
    at,
    compress,
    extract,
    flatnonzero,
    nonzero,
    take,
    take_along_axis,
)
from functrans.numpy._products import dot, einsum, inner, matmul, outer, tensordot, vdot, vecdot
from functrans.numpy._reductions import (
    all,
    allclose,
    amax,
    amin,
    any,
    argmax,
    argmin,
    average,
    count_nonzero,
    cumprod,
    cumsum,
    cumulative_prod,
    cumulative_sum,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from functrans.numpy._setops import intersect1d, setdiff1d, union1d
from functrans.numpy._shape import (
    array_split,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    broadcast_arrays,
    broadcast_to,
    column_stack,
    concat,
    concatenate,
    diag,
    diagflat,
    diagonal,
    dstack,
    expand_dims,
    flip,
    fliplr,
    flipud,
    hsplit,
    hstack,
    matrix_transpose,
    moveaxis,
    pad,
    permute_dims,
    ravel,
    repeat,
    reshape,
    roll,
    rot90,
    row_stack,
    split,
    squeeze,
    stack,
    swapaxes,
    tile,
    trace,
    transpose,
    tril,
    triu,
    vsplit,
    vstack,
)
from functrans.numpy._shape import broadcast_shapes_ as broadcast_shapes
from functrans.numpy._sorting import argsort, median, percentile, quantile, sort
from functrans.numpy._tracer_methods import attach_to_tracer
from functrans.numpy._ufuncs import (
    abs,
    absolute,
    acos,
    acosh,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    around,
    asin,
    asinh,
    atan,
    atan2,
    atanh,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    cbrt,
    ceil,
    clip,
    conj,
    conjugate,
    cos,
    cosh,
    deg2rad,
    degrees,
    divide,
    divmod,
    equal,
    exp,
    exp2,
    expm1,
    fabs,
    fix,
    float_power,
    floor,
    floor_divide,
    fmax,
    fmin,
    fmod,
    greater,
    greater_equal,
    hypot,
    imag,
    invert,
    isclose,
    isfinite,
    isinf,
    isnan,
    isneginf,
    isposinf,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logaddexp,
    logaddexp2,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    maximum,
    minimum,
    mod,
    multiply,
    nan_to_num,
    negative,
    not_equal,
    positive,
    power,
    rad2deg,
    radians,
    real,
    reciprocal,
    remainder,
    rint,
    round,
    select,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    subtract,
    tan,
    tanh,
    true_divide,
    trunc,
    where,
)
from functrans.numpy._ufuncs import add as add
from functrans.numpy._util import asarray_arg as _asarray_arg
from functrans.numpy._util import canonicalize_axis as _canonicalize_axis
from functrans.numpy._util import result_type as _result_type

# ------------------------------------------------------------------ dtypes and constants

bool_ = np.bool_
bool = np.bool_  # noqa: A001  (jax.numpy name)
int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint8, uint16, uint32, uint64 = np.uint8, np.uint16, np.uint32, np.uint64
float16, float32, float64 = np.float16, np.float32, np.float64
complex64, complex128 = np.complex64, np.complex128
int_, float_, complex_ = np.int64, np.float64, np.complex128
generic, number, inexact, floating = np.generic, np.number, np.inexact, np.floating
integer, signedinteger, unsignedinteger = np.integer, np.signedinteger, np.unsignedinteger
complexfloating = np.complexfloating
dtype = np.dtype
finfo, iinfo = np.finfo, np.iinfo
issubdtype, promote_types, can_cast = np.issubdtype, np.promote_types, np.can_cast

pi, e, inf, nan, euler_gamma = np.pi, np.e, np.inf, np.nan, np.euler_gamma
newaxis = None


class _ArrayMeta(type):
    def __instancecheck__(cls, obj: Any) -> builtins.bool:
        return isinstance(obj, (np.ndarray, Tracer))

    def __subclasscheck__(cls, sub: type) -> builtins.bool:
        return issubclass(sub, (np.ndarray, Tracer))


class ndarray(metaclass=_ArrayMeta):  # noqa: N801  (NumPy's name)
    """For ``isinstance`` checks: NumPy arrays and traced arrays are both
    functrans arrays (as ``isinstance(tracer, jax.numpy.ndarray)`` in JAX)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("functrans.numpy.ndarray is for isinstance checks; create arrays with "
                        "functrans.numpy.array / zeros / ...")


Array = ndarray


def result_type(*arrays_and_dtypes: Any) -> np.dtype:
    """The dtype NumPy 2 (NEP 50) promotion gives: Python scalars are weak."""
    args = [np.empty((), a) if isinstance(a, (np.dtype, type, str)) else a
            for a in arrays_and_dtypes]
    return _result_type(*args)


def shape(a: Any) -> tuple[int, ...]:
    """The shape of `a` (also of a traced array)."""
    return _get_aval(_asarray_arg(a, "shape", "a")).shape


def ndim(a: Any) -> int:
    """The number of dimensions of `a`."""
    return len(shape(a))


def size(a: Any, axis: int | None = None) -> int:
    """The number of elements of `a` (along `axis`, if given)."""
    s = shape(a)
    if axis is None:
        return int(np.prod(s, dtype=np.int64))
    return s[_canonicalize_axis(axis, len(s), "size")]


def isscalar(element: Any) -> builtins.bool:
    """True for Python and NumPy scalars and 0-d arrays (also traced)."""
    if isinstance(element, (Tracer, np.ndarray)):
        return element.ndim == 0
    return np.isscalar(element)


def array_equal(a1: Any, a2: Any, equal_nan: builtins.bool = False) -> Any:
    """True when `a1` and `a2` have one shape and equal elements."""
    if shape(a1) != shape(a2):
        return np.bool_(False)
    eq = equal(a1, a2)
    if equal_nan:
        eq = logical_or(eq, logical_and(isnan(a1), isnan(a2)))
    return all(eq)


def iscomplexobj(x: Any) -> builtins.bool:
    """True when the dtype of `x` is complex."""
    return np.dtype(_result_type(_asarray_arg(x, "iscomplexobj", "x"))).kind == "c"


def isrealobj(x: Any) -> builtins.bool:
    """True when the dtype of `x` is not complex."""
    return not iscomplexobj(x)


attach_to_tracer(Tracer)

__all__ = [name for name in dir() if not name.startswith("_")
           and name not in ("annotations", "Any", "np", "Tracer", "attach_to_tracer",
                            "builtins")]


def __dir__() -> list[str]:
    """The API and the submodules, not the names this module imports."""
    return sorted([*__all__, "fft", "linalg"])
