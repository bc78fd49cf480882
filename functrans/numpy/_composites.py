"""Composite ``jax.numpy`` functions built from the other ``functrans.numpy``
functions: nan-aware reductions, small elementwise functions, differences
and polynomials, products, convolution, statistics and interpolation.

Everything here is a composition of functions that already handle concrete
arrays and tracers, so gradients, vmap and jit come from those. Searching,
counting, ``unique`` and index/shape helpers live in
:mod:`functrans.numpy._composites_index`.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans.higher_order.custom_derivatives import custom_jvp
from functrans.numpy._lax import lax
from functrans.numpy._util import (
    Array,
    canonicalize_axis,
    cast,
    dtype_of,
    is_traced,
    ndim_of,
    promote_args_inexact,
    quiet,
    shape_of,
    static_int,
    to_inexact_dtype,
)
from functrans.numpy._util import operand as _operand
from functrans.transforms.tape import one_entry

_int64 = np.dtype(np.int64)




def _inexact(a: Any, fname: str, argname: str = "a") -> Array:
    a = _operand(a, fname, argname)
    return cast(a, to_inexact_dtype(dtype_of(a)))


def _no_out(out: Any, fname: str) -> None:
    if out is not None:
        raise TypeError(f"functrans.numpy.{fname}: the 'out' argument is not supported "
                        "(arrays are immutable values); use the returned array")


# ------------------------------------------------------------------ nan-aware reductions

def ptp(a: Any, axis: Any = None, out: None = None, keepdims: bool = False) -> Array:
    """The range ``max - min`` of `a` along `axis`."""
    _no_out(out, "ptp")
    a = _operand(a, "ptp")
    return fnp.subtract(fnp.max(a, axis, keepdims=keepdims), fnp.min(a, axis, keepdims=keepdims))


def _nan_filled(a: Array, fill: Any) -> Array:
    """`a` with its nans replaced by `fill` (integers have none)."""
    if dtype_of(a).kind not in "fc":
        return a
    return fnp.where(fnp.isnan(a), fnp.asarray(fill, dtype_of(a)), a)


def nansum(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
           keepdims: bool = False, initial: Any = None, where: Any = None) -> Array:
    """Sum over `axis`, treating nans as zero."""
    _no_out(out, "nansum")
    a = _nan_filled(_operand(a, "nansum"), 0)
    return fnp.sum(a, axis, dtype, keepdims=keepdims, initial=initial, where=where)


def nanprod(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
            keepdims: bool = False, initial: Any = None, where: Any = None) -> Array:
    """Product over `axis`, treating nans as one."""
    _no_out(out, "nanprod")
    a = _nan_filled(_operand(a, "nanprod"), 1)
    return fnp.prod(a, axis, dtype, keepdims=keepdims, initial=initial, where=where)


def _nan_extremum(a: Any, axis: Any, keepdims: bool, initial: Any, where: Any,
                  fname: str, is_max: bool) -> Array:
    a = _operand(a, fname)
    reducer = fnp.max if is_max else fnp.min
    if dtype_of(a).kind not in "fc":
        return reducer(a, axis, keepdims=keepdims, initial=initial, where=where)
    nan = fnp.isnan(a)
    filled = _nan_filled(a, -np.inf if is_max else np.inf)
    result = reducer(filled, axis, keepdims=keepdims, initial=initial, where=where)
    # an all-nan slice gives nan, as NumPy (which also warns)
    all_nan = fnp.all(nan, axis, keepdims=keepdims)
    return fnp.where(all_nan, fnp.asarray(np.nan, dtype_of(a)), result) if initial is None \
        else result


def nanmax(a: Any, axis: Any = None, out: None = None, keepdims: bool = False,
           initial: Any = None, where: Any = None) -> Array:
    """Maximum over `axis`, ignoring nans (nan for an all-nan slice)."""
    _no_out(out, "nanmax")
    return _nan_extremum(a, axis, keepdims, initial, where, "nanmax", True)


def nanmin(a: Any, axis: Any = None, out: None = None, keepdims: bool = False,
           initial: Any = None, where: Any = None) -> Array:
    """Minimum over `axis`, ignoring nans (nan for an all-nan slice)."""
    _no_out(out, "nanmin")
    return _nan_extremum(a, axis, keepdims, initial, where, "nanmin", False)


def _nan_count(a: Array, axis: Any, keepdims: bool, dtype: np.dtype) -> Array:
    valid = fnp.logical_not(fnp.isnan(a)) if dtype_of(a).kind in "fc" \
        else fnp.ones_like(a, dtype=bool)
    return cast(fnp.sum(valid, axis, keepdims=keepdims), dtype)


def _nan_outside(a: Array, where: Any, dtype: Any) -> Array:
    """`a` in its working dtype (floating), with nan where the mask `where` is False."""
    a = cast(a, np.dtype(dtype) if dtype is not None else to_inexact_dtype(dtype_of(a)))
    return a if where is None else fnp.where(where, a, fnp.asarray(np.nan, dtype_of(a)))


@quiet
def nanmean(a: Any, axis: Any = None, dtype: Any = None, out: None = None,
            keepdims: bool = False, where: Any = None) -> Array:
    """Mean over `axis` of the non-nan elements (integers give float64)."""
    _no_out(out, "nanmean")
    a = _nan_outside(_operand(a, "nanmean"), where, dtype)
    work = dtype_of(a)
    total = fnp.sum(_nan_filled(a, 0), axis, keepdims=keepdims)
    count = _nan_count(a, axis, keepdims, np.dtype(work).type(0).real.dtype)
    return fnp.divide(total, cast(count, dtype_of(total)))


@quiet
def nanvar(a: Any, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
           keepdims: bool = False, where: Any = None) -> Array:
    """Variance over `axis` of the non-nan elements (divisor: count - ddof)."""
    _no_out(out, "nanvar")
    a = _nan_outside(_operand(a, "nanvar"), where, dtype)
    # zero the nan entries before squaring, so their (zero) cotangent stays finite
    centred = _nan_filled(fnp.subtract(a, nanmean(a, axis, keepdims=True)), 0)
    squares = fnp.real(fnp.multiply(centred, fnp.conj(centred)))
    total = fnp.sum(squares, axis, keepdims=keepdims)
    count = fnp.subtract(_nan_count(a, axis, keepdims, dtype_of(total)), ddof)
    count = fnp.where(fnp.less_equal(count, 0), fnp.asarray(np.nan, dtype_of(total)), count)
    return fnp.divide(total, count)


def nanstd(a: Any, axis: Any = None, dtype: Any = None, out: None = None, ddof: int = 0,
           keepdims: bool = False, where: Any = None) -> Array:
    """Standard deviation over `axis` of the non-nan elements."""
    _no_out(out, "nanstd")
    return fnp.sqrt(nanvar(a, axis, dtype, None, ddof, keepdims, where))


def _nan_arg(a: Any, axis: Any, keepdims: bool, fname: str, is_max: bool) -> Array:
    a = _operand(a, fname)
    arg = fnp.argmax if is_max else fnp.argmin
    if dtype_of(a).kind not in "fc":
        return arg(a, axis, keepdims=keepdims)
    nan = fnp.isnan(a)
    index = arg(_nan_filled(a, -np.inf if is_max else np.inf), axis, keepdims=keepdims)
    # an all-nan slice has no answer: -1, as jax.numpy (NumPy raises)
    return fnp.where(fnp.all(nan, axis, keepdims=keepdims), -1, index)


def nanargmax(a: Any, axis: Any = None, out: None = None, keepdims: bool = False) -> Array:
    """Index of the maximum along `axis`, ignoring nans (-1 for an all-nan slice)."""
    _no_out(out, "nanargmax")
    return _nan_arg(a, axis, keepdims, "nanargmax", True)


def nanargmin(a: Any, axis: Any = None, out: None = None, keepdims: bool = False) -> Array:
    """Index of the minimum along `axis`, ignoring nans (-1 for an all-nan slice)."""
    _no_out(out, "nanargmin")
    return _nan_arg(a, axis, keepdims, "nanargmin", False)


# ------------------------------------------------------------------ elementwise

def signbit(x: Any) -> Array:
    """True where the sign bit is set (including -0.0). Traced nans count as
    positive: without a bitcast primitive their sign bit is not observable."""
    x = _operand(x, "signbit", "x")
    if not is_traced(x):
        return np.signbit(x)
    kind = dtype_of(x).kind
    if kind == "c":
        raise TypeError("functrans.numpy.signbit: complex input is not supported (NumPy "
                        f"neither); got dtype {dtype_of(x)}")
    if kind in "bu":
        return fnp.zeros_like(x, dtype=bool)
    negative = fnp.less(x, 0)
    if kind == "f":
        with np.errstate(divide="ignore"):
            negative_zero = fnp.logical_and(fnp.equal(x, 0), fnp.less(fnp.reciprocal(x), 0))
        negative = fnp.logical_or(negative, negative_zero)
    return negative


def copysign(x1: Any, x2: Any, /) -> Array:
    """`x1` with the sign of `x2`."""
    x1, x2 = promote_args_inexact("copysign", x1, x2)
    magnitude = fnp.abs(x1)
    return fnp.where(signbit(x2), fnp.negative(magnitude), magnitude)


def heaviside(x1: Any, x2: Any, /) -> Array:
    """0 where x1 < 0, `x2` where x1 == 0, 1 where x1 > 0 (nan stays nan)."""
    x1, x2 = promote_args_inexact("heaviside", x1, x2)
    zero, one = fnp.zeros_like(x1), fnp.ones_like(x1)
    step = fnp.where(fnp.less(x1, 0), zero, fnp.where(fnp.greater(x1, 0), one, x2))
    return fnp.where(fnp.isnan(x1), x1, step)


@quiet
def sinc(x: Any, /) -> Array:
    """``sin(pi x) / (pi x)``, 1 at 0; every derivative is right at 0 too."""
    x = _inexact(x, "sinc", "x")
    at_zero = fnp.equal(x, 0)
    pi_x = fnp.multiply(x, np.pi)
    safe = fnp.where(at_zero, fnp.ones_like(pi_x), pi_x)
    return fnp.where(at_zero, _sinc_maclaurin(0)(pi_x), fnp.divide(fnp.sin(safe), safe))


@functools.cache
def _sinc_maclaurin(k: int) -> Any:
    """``x -> (d/dx)^k (sin x / x)`` at 0, as a function of x (constant in value)
    whose derivative is the (k+1)-th: so derivatives of any order at 0 are
    right, where the quotient formula would give nan."""
    coefficient = 0.0 if k % 2 else (-1) ** (k // 2) / (k + 1)

    @custom_jvp
    def value(x: Array) -> Array:
        return fnp.add(fnp.multiply(x, 0), coefficient)

    @value.defjvp
    def value_jvp(primals: tuple, tangents: tuple) -> tuple[Array, Array]:
        (x,), (x_dot,) = primals, tangents
        return value(x), fnp.multiply(_sinc_maclaurin(k + 1)(x), x_dot)

    return value


def _exp2_int(n: Array, dtype: np.dtype) -> Array:
    return fnp.exp2(cast(n, dtype))


def ldexp(x1: Any, x2: Any, /) -> Array:
    """``x1 * 2**x2`` for integer `x2` (float32 x1 stays float32)."""
    x2 = _operand(x2, "ldexp", "x2")
    if dtype_of(x2).kind not in "biu":
        raise TypeError(f"functrans.numpy.ldexp: x2 must be integer, got dtype {dtype_of(x2)}")
    x1 = _inexact(x1, "ldexp", "x1")
    dtype = dtype_of(x1)
    # two half-size factors: 2**x2 alone overflows (or underflows) where the product is finite
    half = fnp.floor_divide(x2, 2)
    return fnp.multiply(fnp.multiply(x1, _exp2_int(half, dtype)),
                        _exp2_int(fnp.subtract(x2, half), dtype))


@quiet
def frexp(x: Any, /) -> tuple[Array, Array]:
    """Mantissa in [0.5, 1) (signed) and int32 exponent with ``x = m * 2**e``."""
    x = _inexact(x, "frexp", "x")
    dtype = dtype_of(x)
    if dtype.kind == "c":
        raise TypeError("functrans.numpy.frexp: complex input is not supported")
    magnitude = fnp.abs(x)
    special = fnp.logical_or(fnp.equal(x, 0), fnp.logical_not(fnp.isfinite(x)))
    safe = fnp.where(special, fnp.ones_like(magnitude), magnitude)
    exponent = cast(fnp.add(fnp.floor(fnp.log2(safe)), 1), np.dtype(np.int32))
    mantissa = ldexp(x, fnp.negative(exponent))
    # log2 may be one off near powers of two: move the mantissa into [0.5, 1)
    high = fnp.greater_equal(fnp.abs(mantissa), 1)
    low = fnp.less(fnp.abs(mantissa), 0.5)
    shift = cast(fnp.subtract(cast(high, _int64), cast(low, _int64)), np.dtype(np.int32))
    shift = fnp.where(special, 0, shift)
    mantissa = fnp.where(special, x, ldexp(mantissa, fnp.negative(shift)))
    exponent = fnp.where(special, 0, fnp.add(exponent, shift))
    return mantissa, cast(exponent, np.dtype(np.int32))


@quiet
def modf(x: Any, /, out: None = None) -> tuple[Array, Array]:
    """Fractional and integral parts of `x`, both with the sign of `x`."""
    _no_out(out, "modf")
    x = _inexact(x, "modf", "x")
    whole = fnp.trunc(x)
    fraction = fnp.where(fnp.isinf(x), fnp.zeros_like(x), fnp.subtract(x, whole))
    return copysign(fraction, x), whole


def nextafter(x1: Any, x2: Any, /) -> Array:
    """The next representable value after `x1` towards `x2`."""
    x1, x2 = promote_args_inexact("nextafter", x1, x2)
    return lax.nextafter(x1, x2)


def isreal(x: Any) -> Array:
    """True where the imaginary part is zero (everywhere for real dtypes)."""
    x = _operand(x, "isreal", "x")
    return fnp.equal(fnp.imag(x), 0)


def iscomplex(x: Any) -> Array:
    """True where the imaginary part is nonzero."""
    x = _operand(x, "iscomplex", "x")
    return fnp.not_equal(fnp.imag(x), 0)


# ------------------------------------------------------------------ differences and polynomials

def _edge_values(value: Any, a: Array, axis: int, fname: str, argname: str) -> Array:
    value = _operand(value, fname, argname)
    if ndim_of(value) == 0:
        shape = list(shape_of(a))
        shape[axis] = 1
        value = fnp.broadcast_to(value, tuple(shape))
    return value


@one_entry(1)
def diff(a: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Array:
    """The `n`-th discrete difference along `axis` (``not_equal`` for booleans)."""
    a = _operand(a, "diff")
    n = static_int(n, "diff", "n")
    if n < 0:
        raise ValueError(f"functrans.numpy.diff: order n must be non-negative, got {n}")
    if n == 0:
        return a
    if ndim_of(a) == 0:
        raise ValueError("functrans.numpy.diff requires input that is at least one dimensional")
    ax = canonicalize_axis(axis, ndim_of(a), "diff")
    parts = [a]
    if prepend is not None:
        parts.insert(0, _edge_values(prepend, a, ax, "diff", "prepend"))
    if append is not None:
        parts.append(_edge_values(append, a, ax, "diff", "append"))
    if len(parts) > 1:
        a = fnp.concatenate(parts, axis=ax)
    step = fnp.not_equal if dtype_of(a).kind == "b" else fnp.subtract
    for _ in range(n):  # n is a static order, not a loop over elements
        length = shape_of(a)[ax]
        a = step(_slice(a, ax, 1, length), _slice(a, ax, 0, length - 1))
    return a


def _slice(a: Array, axis: int, start: int, stop: int) -> Array:
    index = [slice(None)] * ndim_of(a)
    index[axis] = slice(start, max(stop, start))
    return a[tuple(index)]


def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Array:
    """Differences of consecutive elements of the flattened `ary`, with optional ends."""
    flat = fnp.ravel(_operand(ary, "ediff1d", "ary"))
    parts = [diff(flat)]
    dtype = dtype_of(parts[0])
    if to_begin is not None:
        parts.insert(0, cast(fnp.ravel(_operand(to_begin, "ediff1d", "to_begin")), dtype))
    if to_end is not None:
        parts.append(cast(fnp.ravel(_operand(to_end, "ediff1d", "to_end")), dtype))
    return fnp.concatenate(parts) if len(parts) > 1 else parts[0]


def polyval(p: Any, x: Any, *, unroll: int = 16) -> Array:
    """The polynomial with coefficients `p` (highest degree first) at `x`, by Horner."""
    p = _operand(p, "polyval", "p")
    x = _operand(x, "polyval", "x")
    if ndim_of(p) != 1:
        raise ValueError(f"functrans.numpy.polyval: p must be 1-D, got shape {shape_of(p)}")
    dtype = fnp.result_type(p, x)
    p, x = cast(p, dtype), cast(x, dtype)
    if shape_of(p)[0] == 0:
        return fnp.zeros_like(x)

    def horner(acc: Array, coefficient: Array) -> tuple[Array, None]:
        return fnp.add(fnp.multiply(acc, x), coefficient), None

    # a scan over the (static number of) coefficients, vectorised over x
    result, _ = lax.scan(horner, fnp.zeros_like(x), p)
    return result


def vander(x: Any, N: int | None = None, increasing: bool = False) -> Array:  # noqa: N803
    """Columns are powers of `x` (decreasing unless `increasing`)."""
    x = _operand(x, "vander", "x")
    if ndim_of(x) != 1:
        raise ValueError(f"functrans.numpy.vander: x must be 1-D, got shape {shape_of(x)}")
    columns = shape_of(x)[0] if N is None else static_int(N, "vander", "N")
    if columns == 0:
        return fnp.zeros((shape_of(x)[0], 0), dtype_of(x))
    # x**k as a running product: exact for integers, derivative fine at x = 0
    repeated = fnp.broadcast_to(fnp.expand_dims(x, 1), (shape_of(x)[0], columns - 1))
    ones = fnp.ones((shape_of(x)[0], 1), dtype_of(x))
    powers = fnp.concatenate([ones, fnp.cumprod(repeated, axis=1)], axis=1) if columns > 1 \
        else ones
    return powers if increasing else fnp.flip(powers, axis=1)


# ------------------------------------------------------------------ products

def kron(a: Any, b: Any) -> Array:
    """The Kronecker product of `a` and `b`."""
    a, b = _promoted_pair("kron", a, b)
    ndim = max(ndim_of(a), ndim_of(b))
    a_shape = (1,) * (ndim - ndim_of(a)) + shape_of(a)
    b_shape = (1,) * (ndim - ndim_of(b)) + shape_of(b)
    # interleave the axes: (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...)
    a_wide = fnp.reshape(a, tuple(d for s in a_shape for d in (s, 1)))
    b_wide = fnp.reshape(b, tuple(d for s in b_shape for d in (1, s)))
    product = fnp.multiply(a_wide, b_wide)
    return fnp.reshape(product, tuple(x * y for x, y in zip(a_shape, b_shape, strict=True)))


def _promoted_pair(fname: str, a: Any, b: Any) -> tuple[Array, Array]:
    a, b = _operand(a, fname), _operand(b, fname, "b")
    dtype = fnp.result_type(a, b)
    return cast(a, dtype), cast(b, dtype)


def cross(a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1,
          axis: int | None = None) -> Array:
    """The cross product of 2- or 3-vectors along the given axes (broadcasting)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = _promoted_pair("cross", a, b)
    a = fnp.moveaxis(a, canonicalize_axis(axisa, ndim_of(a), "cross"), -1)
    b = fnp.moveaxis(b, canonicalize_axis(axisb, ndim_of(b), "cross"), -1)
    for name, v in (("a", a), ("b", b)):
        if shape_of(v)[-1] not in (2, 3):
            raise ValueError(f"functrans.numpy.cross: incompatible dimensions for cross "
                             f"product: {name} has vector length {shape_of(v)[-1]} "
                             "(dimension must be 2 or 3)")
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    z = fnp.subtract(fnp.multiply(a0, b1), fnp.multiply(a1, b0))
    if shape_of(a)[-1] == 2 and shape_of(b)[-1] == 2:
        return z
    a2 = a[..., 2] if shape_of(a)[-1] == 3 else fnp.zeros_like(a0)
    b2 = b[..., 2] if shape_of(b)[-1] == 3 else fnp.zeros_like(b0)
    x = fnp.subtract(fnp.multiply(a1, b2), fnp.multiply(a2, b1))
    y = fnp.subtract(fnp.multiply(a2, b0), fnp.multiply(a0, b2))
    x, y, z = fnp.broadcast_arrays(x, y, z)
    result = fnp.stack([x, y, z], axis=-1)
    return fnp.moveaxis(result, -1, canonicalize_axis(axisc, ndim_of(result), "cross"))


# ------------------------------------------------------------------ convolution

_MODES = ("full", "same", "valid")


def _correlate_full(a: Array, v: Array) -> Array:
    """``out[i] = sum_n a_padded[i + n] * v[n]`` for every lag: one gather of
    sliding windows (an index matrix built by NumPy) and one matrix-vector dot."""
    n, m = shape_of(a)[0], shape_of(v)[0]
    padded = fnp.pad(a, (m - 1, m - 1))
    windows = np.arange(n + m - 1)[:, None] + np.arange(m)[None, :]
    return fnp.matmul(fnp.take(padded, windows, axis=0), v)


def _vectors(fname: str, a: Any, v: Any, mode: str) -> tuple[Array, Array]:
    if mode not in _MODES:
        raise ValueError(f"functrans.numpy.{fname}: mode must be one of {_MODES}, got {mode!r}")
    a, v = _promoted_pair(fname, a, v)
    if ndim_of(a) != 1 or ndim_of(v) != 1:
        raise ValueError(f"functrans.numpy.{fname}: a and v must be 1-D, got shapes "
                         f"{shape_of(a)} and {shape_of(v)}")
    if shape_of(a)[0] == 0 or shape_of(v)[0] == 0:
        raise ValueError(f"functrans.numpy.{fname}: a and v must be non-empty, got shapes "
                         f"{shape_of(a)} and {shape_of(v)}")
    if dtype_of(a).kind == "b":
        a, v = cast(a, _int64), cast(v, _int64)
    return a, v


def _trim_mode(full: Array, n: int, m: int, mode: str) -> Array:
    longer, shorter = max(n, m), min(n, m)
    if mode == "full":
        return full
    if mode == "valid":
        return full[shorter - 1:longer]
    start = (shorter - 1) // 2
    return full[start:start + longer]


def convolve(a: Any, v: Any, mode: str = "full", *, precision: Any = None,
             preferred_element_type: Any = None) -> Array:
    """The discrete linear convolution of 1-D `a` and `v` (modes full/same/valid)."""
    a, v = _vectors("convolve", a, v, mode)
    n, m = shape_of(a)[0], shape_of(v)[0]
    if m > n:  # convolution commutes; NumPy's "same" is sized by the longer input
        a, v = v, a
    full = _correlate_full(a, fnp.flip(v))
    return _trim_mode(full, n, m, mode)


def correlate(a: Any, v: Any, mode: str = "valid", *, precision: Any = None,
              preferred_element_type: Any = None) -> Array:
    """The cross-correlation ``c[k] = sum_n a[n + k] * conj(v[n])`` of 1-D inputs."""
    a, v = _vectors("correlate", a, v, mode)
    n, m = shape_of(a)[0], shape_of(v)[0]
    full = _correlate_full(a, fnp.conj(v))
    if mode == "same" and m > n:
        # NumPy correlates the longer against the shorter and reverses: the
        # window of length m then starts (n - 1) - (n - 1) // 2 lags in
        start = (n - 1) - (n - 1) // 2
        return full[start:start + m]
    return _trim_mode(full, n, m, mode)


# ------------------------------------------------------------------ statistics

def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: int | None = None,
        fweights: Any = None, aweights: Any = None) -> Array:
    """The covariance matrix of the variables in `m` (rows, unless not `rowvar`)."""
    x = _inexact(m, "cov", "m")
    if ndim_of(x) > 2:
        raise ValueError(f"functrans.numpy.cov: m has more than 2 dimensions (shape "
                         f"{shape_of(x)})")
    x = fnp.atleast_2d(x)
    if not rowvar and shape_of(x)[0] != 1:
        x = fnp.transpose(x)
    if y is not None:
        other = fnp.atleast_2d(_inexact(y, "cov", "y"))
        if not rowvar and shape_of(other)[0] != 1:
            other = fnp.transpose(other)
        dtype = fnp.result_type(x, other)
        x = fnp.concatenate([cast(x, dtype), cast(other, dtype)], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    n = shape_of(x)[1]
    weights = None
    if fweights is not None:
        weights = _operand(fweights, "cov", "fweights")
    if aweights is not None:
        aw = _operand(aweights, "cov", "aweights")
        weights = aw if weights is None else fnp.multiply(weights, aw)
    if weights is None:
        mean = fnp.mean(x, axis=1, keepdims=True)
        norm = n - ddof
    else:
        weights = cast(weights, dtype_of(x).type(0).real.dtype)
        total = fnp.sum(weights)
        mean = fnp.divide(fnp.sum(fnp.multiply(x, weights), axis=1, keepdims=True), total)
        if ddof == 0:
            norm = total
        elif aweights is None:
            norm = fnp.subtract(total, ddof)
        else:
            aw = cast(_operand(aweights, "cov", "aweights"), dtype_of(weights))
            norm = fnp.subtract(total, fnp.divide(fnp.multiply(ddof, fnp.sum(
                fnp.multiply(weights, aw))), total))
    centred = fnp.subtract(x, mean)
    weighted = centred if weights is None else fnp.multiply(centred, weights)
    product = fnp.matmul(weighted, fnp.conj(fnp.transpose(centred)))
    return fnp.squeeze(fnp.divide(product, cast(fnp.asarray(norm), dtype_of(product).type(0)
                                                 .real.dtype)))


def corrcoef(x: Any, y: Any = None, rowvar: bool = True) -> Array:
    """Pearson correlation coefficients, clipped to [-1, 1]."""
    c = cov(x, y, rowvar)
    if ndim_of(c) == 0:
        return fnp.divide(c, c)
    d = fnp.diagonal(c)
    stddev = fnp.sqrt(fnp.real(d))
    c = fnp.divide(fnp.divide(c, stddev[:, None]), stddev[None, :])
    if dtype_of(c).kind == "c":
        return fnp.add(fnp.clip(fnp.real(c), -1, 1), fnp.multiply(
            fnp.clip(fnp.imag(c), -1, 1), 1j))
    return fnp.clip(c, -1, 1)


# ------------------------------------------------------------------ interpolation

@quiet
def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None,
           period: Any = None) -> Array:
    """Piecewise-linear interpolation of (`xp`, `fp`) at `x` (xp increasing)."""
    x, xp = _inexact(x, "interp", "x"), _inexact(xp, "interp", "xp")
    fp = _inexact(fp, "interp", "fp")
    if ndim_of(xp) != 1 or ndim_of(fp) != 1 or shape_of(xp) != shape_of(fp):
        raise ValueError(f"functrans.numpy.interp: xp and fp must be 1-D of one length, got "
                         f"shapes {shape_of(xp)} and {shape_of(fp)}")
    dtype = fnp.result_type(x, xp)
    x, xp = cast(x, dtype), cast(xp, dtype)
    if period is not None:
        x, xp, fp = _periodic(x, xp, fp, period)
    n = shape_of(xp)[0]
    upper = fnp.clip(fnp.searchsorted(xp, x, side="right"), 1, n - 1) if n > 1 else \
        fnp.zeros(shape_of(x), _int64)
    lower = fnp.subtract(upper, 1) if n > 1 else upper
    x_lo, x_hi = fnp.take(xp, lower), fnp.take(xp, upper)
    f_lo, f_hi = fnp.take(fp, lower), fnp.take(fp, upper)
    span = fnp.subtract(x_hi, x_lo)
    safe_span = fnp.where(fnp.equal(span, 0), fnp.ones_like(span), span)
    t = fnp.divide(fnp.subtract(x, x_lo), safe_span)
    t = cast(t, dtype_of(fp)) if dtype_of(fp).kind == "c" else t
    result = fnp.add(f_lo, fnp.multiply(t, fnp.subtract(f_hi, f_lo)))
    result = fnp.where(fnp.equal(span, 0), f_hi, result)
    if period is None:
        left_value = fp[0] if left is None else left
        right_value = fp[-1] if right is None else right
        result = fnp.where(fnp.less(x, xp[0]), left_value, result)
        result = fnp.where(fnp.greater(x, xp[-1]), right_value, result)
    return result


def _periodic(x: Array, xp: Array, fp: Array, period: Any) -> tuple[Array, Array, Array]:
    """x and xp reduced modulo `period`, xp sorted and extended by one period each side."""
    if isinstance(period, (int, float)) and period == 0:
        raise ValueError("functrans.numpy.interp: period must be a non-zero value")
    period = fnp.abs(period)
    x = fnp.remainder(x, period)
    xp = fnp.remainder(xp, period)
    order = fnp.argsort(xp)
    xp, fp = fnp.take(xp, order), fnp.take(fp, order)
    xp = fnp.concatenate([fnp.subtract(xp[-1:], period), xp, fnp.add(xp[0:1], period)])
    fp = fnp.concatenate([fp[-1:], fp, fp[0:1]])
    return x, xp, fp


# ------------------------------------------------------------------ misc

def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None,
              axis: int = 0) -> Array:
    """`num` values spaced evenly on a log scale from `start` to `stop` (same sign)."""
    start, stop = promote_args_inexact("geomspace", start, stop)
    num = static_int(num, "geomspace", "num")
    if not is_traced(start) and not is_traced(stop):
        if np.any(np.asarray(start) == 0) or np.any(np.asarray(stop) == 0):
            raise ValueError("functrans.numpy.geomspace: geometric sequence cannot include zero")
    sign = fnp.where(fnp.logical_and(fnp.less(fnp.real(start), 0),
                                     fnp.less(fnp.real(stop), 0)), -1, 1)
    sign = cast(sign, dtype_of(start))
    lo, hi = fnp.log(fnp.multiply(start, sign)), fnp.log(fnp.multiply(stop, sign))
    out = fnp.exp(fnp.linspace(lo, hi, num, endpoint))
    out = fnp.multiply(out, sign)
    if num > 0:  # the ends exactly, as NumPy
        out = fnp.at(out)[0].set(start)
        if endpoint and num > 1:
            out = fnp.at(out)[-1].set(stop)
    if axis != 0:
        out = fnp.moveaxis(out, 0, axis)
    return cast(out, np.dtype(dtype)) if dtype is not None else out

