"""Elementwise functions: NumPy's ufuncs over the elementwise lax primitives.

Each function promotes its operands (NEP 50), broadcasts them explicitly, and
binds one primitive; a few (hypot, logaddexp, remainder, ...) are composed
from several, written so their derivatives are right at the awkward points.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from functrans.core.avals import get_aval
from functrans.higher_order.custom_derivatives import SymbolicZero, custom_jvp, traceable_rule
from functrans.numpy import _indexing
from functrans.numpy._lax import lax
from functrans.numpy._util import (
    Array,
    array_info,
    as_array,
    asarray_arg,
    broadcast_shapes,
    broadcast_to_shape,
    cast,
    constant,
    dtype_of,
    is_exact,
    is_inexact,
    is_traced,
    promote_args,
    promote_args_inexact,
    quiet,
    ready_pair,
    result_type,
    shape_of,
    static_int,
    to_inexact_dtype,
)
from functrans.primitives import elementwise as prims  # bound directly on ready operands
from functrans.transforms.tape import one_entry

# ------------------------------------------------------------------ factories


def _unary_inexact(name: str, lax_name: str, doc: str) -> Any:
    """A one-operand function computed in floating point (ints become float64)."""
    def fn(x: Any) -> Array:
        info = array_info(x)
        if info is not None and info[0].kind in "fc":  # nothing to convert
            return getattr(lax, lax_name)(x)
        x = asarray_arg(x, name)
        aval = get_aval(x)
        if not is_inexact(aval.dtype):
            x = cast(x, to_inexact_dtype(aval.dtype))
        elif aval.weak_type:
            x = as_array(x)
        return getattr(lax, lax_name)(x)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return one_entry(1)(fn)


def _binary(name: str, lax_name: str, doc: str, inexact: bool = False) -> Any:
    """A two-operand function binding one primitive (``lax.<lax_name>``'s) on the
    promoted operands; integer operands become float64 when `inexact`.

    Operands `ready_pair` takes get the primitive bound directly, as the lax
    function would bind it; the general path (`promote_args`, which tries
    `ready_pair` again and finds it declines) leaves the rest to the lax function."""
    promote = promote_args_inexact if inexact else promote_args
    lax_fn = getattr(lax, lax_name)
    prim = getattr(prims, lax_name.rstrip("_") + "_p")

    def fn(x: Any, y: Any) -> Array:
        ready = ready_pair(name, x, y, inexact)
        if ready is not None:
            return prim.bind(ready[0], ready[1])
        return lax_fn(*promote(name, x, y))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return one_entry(2)(fn)


def dtype_is_bool(x: Any) -> bool:
    return dtype_of(x).kind == "b"


def _reject_bool(name: str) -> None:
    raise TypeError(f"functrans.numpy.{name} does not support boolean arrays (as NumPy); "
                    "use logical_not / logical_xor, or cast with .astype(int)")


# ------------------------------------------------------------------ arithmetic

@one_entry(2)
def add(x: Any, y: Any) -> Array:
    """Elementwise ``x + y``; for booleans, logical or (as NumPy)."""
    ready = ready_pair("add", x, y)
    if ready is None:
        x, y = promote_args("add", x, y)
        return lax.or_(x, y) if dtype_is_bool(x) else lax.add(x, y)
    x, y, dtype = ready
    return lax.or_(x, y) if dtype.kind == "b" else prims.add_p.bind(x, y)


@one_entry(2)
def subtract(x: Any, y: Any) -> Array:
    """Elementwise ``x - y``."""
    ready = ready_pair("subtract", x, y)
    if ready is not None and ready[2].kind != "b":
        return prims.sub_p.bind(ready[0], ready[1])
    x, y = promote_args("subtract", x, y) if ready is None else ready[:2]
    if dtype_is_bool(x):
        raise TypeError("functrans.numpy.subtract: boolean subtract (the `-` operator) is not "
                        "supported (as NumPy); use logical_xor, or cast with .astype(int)")
    return lax.sub(x, y)


@one_entry(2)
def multiply(x: Any, y: Any) -> Array:
    """Elementwise ``x * y``; for booleans, logical and (as NumPy)."""
    ready = ready_pair("multiply", x, y)
    if ready is None:
        x, y = promote_args("multiply", x, y)
        return lax.and_(x, y) if dtype_is_bool(x) else lax.mul(x, y)
    x, y, dtype = ready
    return lax.and_(x, y) if dtype.kind == "b" else prims.mul_p.bind(x, y)


true_divide = _binary("true_divide", "div", "Elementwise ``x / y`` in floating point "
                      "(integers divide as float64).", inexact=True)
divide = _binary("divide", "div", "Elementwise ``x / y``, as true_divide.", inexact=True)
arctan2 = _binary("arctan2", "atan2", "Elementwise arc tangent of ``x1 / x2`` choosing the "
                  "quadrant.", inexact=True)
fmod = _binary("fmod", "rem", "Elementwise remainder with the sign of the dividend (C fmod).")


def _int_operands(name: str, x: Any, y: Any) -> tuple[Array, Array]:
    x, y = promote_args(name, x, y)
    if dtype_is_bool(x):  # NumPy computes these on booleans in int8
        x, y = cast(x, np.dtype(np.int8)), cast(y, np.dtype(np.int8))
    return x, y


def _floor_divmod(x: Array, y: Array) -> tuple[Array, Array]:
    """Floor division and the matching modulo (sign of the divisor)."""
    mod = lax.rem(x, y)
    zero = _zeros_like(mod)
    fix = lax.and_(lax.ne(mod, zero), lax.ne(lax.lt(mod, zero), lax.lt(y, _zeros_like(y))))
    if is_exact(dtype_of(x)):
        quot = lax.div(x, y)  # rounds toward zero on integers
        one = _full_like(quot, 1)
        return lax.select(fix, lax.sub(quot, one), quot), lax.select(fix, lax.add(mod, y), mod)
    quot = lax.div(lax.sub(x, mod), y)  # close to an integer: round off the error
    one = _full_like(quot, 1)
    quot = lax.round(lax.select(fix, lax.sub(quot, one), quot))
    quot = lax.select(lax.eq(y, zero), lax.div(x, y), quot)  # x // 0 is +-inf or nan
    return quot, lax.select(fix, lax.add(mod, y), mod)


def floor_divide(x: Any, y: Any) -> Array:
    """Elementwise ``x // y``: the floor of the quotient."""
    x, y = _int_operands("floor_divide", x, y)
    return _floor_divmod(x, y)[0]


def remainder(x: Any, y: Any) -> Array:
    """Elementwise ``x % y``, with the sign of the divisor (as Python and NumPy)."""
    x, y = _int_operands("remainder", x, y)
    return _floor_divmod(x, y)[1]


mod = remainder


def divmod(x: Any, y: Any) -> tuple[Array, Array]:  # noqa: A001  (NumPy's name)
    """``(x // y, x % y)``."""
    x, y = _int_operands("divmod", x, y)
    return _floor_divmod(x, y)


def _static_integer_exponent(y: Any) -> int | None:
    """The exponent as a Python int when it is a concrete integer scalar."""
    if type(y) is int:
        return y
    if isinstance(y, np.integer) or (type(y) is np.ndarray and y.shape == ()
                                     and y.dtype.kind in "iu"):
        return int(y)
    return None


@one_entry(1)  # the exponent static: integer_pow for a Python int
def power(x: Any, y: Any) -> Array:
    """Elementwise ``x ** y``. A concrete integer exponent uses ``integer_pow``
    (exact, and differentiable at x <= 0)."""
    if type(y) is int and y != 1:  # the common ``x ** 2`` of a floating array
        info = array_info(x)
        if info is not None and info[0].kind in "fc":
            return prims.integer_pow_p.bind(x, y=y)  # nothing to convert or check
    x = asarray_arg(x, "power")
    y = asarray_arg(y, "power")
    n = _static_integer_exponent(y)
    if n is not None and not isinstance(x, (int, float, complex, bool)):
        dtype = dtype_of(x)
        if type(y) is not int or dtype.kind == "b":  # a Python int never widens x
            dtype = result_type(x, y)
        if is_exact(dtype) and n < 0:
            raise ValueError("functrans.numpy.power: integers to negative integer powers are "
                             f"not allowed (base dtype {dtype}, exponent {n}); use a float base")
        return lax.integer_pow(cast(x, dtype), n)
    x, y = promote_args("power", x, y)
    dtype = dtype_of(x)
    if is_inexact(dtype):
        return lax.pow(x, y)
    return _integer_power(x, y, dtype)


def _integer_power(x: Array, y: Array, dtype: np.dtype) -> Array:
    """Integer base and exponent arrays: computed in float64 and rounded back
    (exact while the result is below 2**53)."""
    y_value = None if is_traced(y) else np.asarray(y)
    if y_value is not None and (y_value < 0).any():
        raise ValueError("functrans.numpy.power: integers to negative integer powers are not "
                         f"allowed (dtype {dtype}); use a float base")
    f64 = np.dtype(np.float64)
    out = lax.round(lax.pow(cast(x, f64), cast(y, f64)))
    return cast(out, dtype)


def float_power(x: Any, y: Any) -> Array:
    """Elementwise ``x ** y`` in at least float64 precision."""
    x, y = promote_args("float_power", x, y)
    dtype = np.promote_types(dtype_of(x), np.float64)
    return lax.pow(cast(x, dtype), cast(y, dtype))


@one_entry(1)
def negative(x: Any) -> Array:
    """Elementwise ``-x``."""
    x = as_array(asarray_arg(x, "negative"))
    if dtype_is_bool(x):
        raise TypeError("functrans.numpy.negative: boolean negative (the `-` operator) is not "
                        "supported (as NumPy); use the `~` operator or logical_not")
    return lax.neg(x)


def positive(x: Any) -> Array:
    """Elementwise ``+x`` (the value itself)."""
    x = as_array(asarray_arg(x, "positive"))
    if dtype_is_bool(x):
        _reject_bool("positive")
    return x


@one_entry(1)
def absolute(x: Any) -> Array:
    """Elementwise absolute value."""
    x = as_array(asarray_arg(x, "absolute"))
    kind = dtype_of(x).kind
    if kind in "bu":
        return x
    return lax.abs(x)


abs = absolute  # noqa: A001  (NumPy's name)
fabs = _unary_inexact("fabs", "abs", "Elementwise absolute value, in floating point.")


def sign(x: Any) -> Array:
    """Elementwise sign: -1, 0 or 1 (nan for nan)."""
    x = as_array(asarray_arg(x, "sign"))
    if dtype_is_bool(x):
        _reject_bool("sign")
    return lax.sign(x)


@one_entry(1)
def square(x: Any) -> Array:
    """Elementwise ``x * x`` (keeps integer dtypes)."""
    x = as_array(asarray_arg(x, "square"))
    if dtype_is_bool(x):  # NumPy squares booleans as int8
        x = cast(x, np.dtype(np.int8))
    return lax.square(x)


@one_entry(1)
def reciprocal(x: Any) -> Array:
    """Elementwise ``1 / x`` in floating point (as jax.numpy: integers become float64)."""
    x = as_array(asarray_arg(x, "reciprocal"))
    dtype = to_inexact_dtype(dtype_of(x))
    x = cast(x, dtype)
    return lax.div(_full_like(x, 1), x)


exp = _unary_inexact("exp", "exp", "Elementwise exponential.")
exp2 = _unary_inexact("exp2", "exp2", "Elementwise ``2 ** x``.")
expm1 = _unary_inexact("expm1", "expm1", "Elementwise ``exp(x) - 1``, accurate near 0.")
log = _unary_inexact("log", "log", "Elementwise natural logarithm.")
log1p = _unary_inexact("log1p", "log1p", "Elementwise ``log(1 + x)``, accurate near 0.")
sqrt = _unary_inexact("sqrt", "sqrt", "Elementwise square root.")
cbrt = _unary_inexact("cbrt", "cbrt", "Elementwise cube root.")
sin = _unary_inexact("sin", "sin", "Elementwise sine.")
cos = _unary_inexact("cos", "cos", "Elementwise cosine.")
tan = _unary_inexact("tan", "tan", "Elementwise tangent.")
arcsin = _unary_inexact("arcsin", "asin", "Elementwise inverse sine.")
arccos = _unary_inexact("arccos", "acos", "Elementwise inverse cosine.")
arctan = _unary_inexact("arctan", "atan", "Elementwise inverse tangent.")
sinh = _unary_inexact("sinh", "sinh", "Elementwise hyperbolic sine.")
cosh = _unary_inexact("cosh", "cosh", "Elementwise hyperbolic cosine.")
tanh = _unary_inexact("tanh", "tanh", "Elementwise hyperbolic tangent.")
arcsinh = _unary_inexact("arcsinh", "asinh", "Elementwise inverse hyperbolic sine.")
arccosh = _unary_inexact("arccosh", "acosh", "Elementwise inverse hyperbolic cosine.")
arctanh = _unary_inexact("arctanh", "atanh", "Elementwise inverse hyperbolic tangent.")
asin, acos, atan, atan2 = arcsin, arccos, arctan, arctan2
asinh, acosh, atanh = arcsinh, arccosh, arctanh


def _log_base(name: str, base: float) -> Any:
    def fn(x: Any) -> Array:
        x = as_array(asarray_arg(x, name))
        dtype = to_inexact_dtype(dtype_of(x))
        x = cast(x, dtype)
        return lax.div(lax.log(x), _full_like(x, np.log(base)))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise base-{base:g} logarithm."
    return fn


log2 = _log_base("log2", 2.0)
log10 = _log_base("log10", 10.0)


def _scale(name: str, factor: float) -> Any:
    def fn(x: Any) -> Array:
        x = as_array(asarray_arg(x, name))
        dtype = to_inexact_dtype(dtype_of(x))
        x = cast(x, dtype)
        return lax.mul(x, _full_like(x, factor))
    fn.__name__ = fn.__qualname__ = name
    return fn


deg2rad = _scale("deg2rad", np.pi / 180)
deg2rad.__doc__ = "Degrees to radians."
rad2deg = _scale("rad2deg", 180 / np.pi)
rad2deg.__doc__ = "Radians to degrees."
radians, degrees = deg2rad, rad2deg


def hypot(x: Any, y: Any) -> Array:
    """Elementwise ``sqrt(x**2 + y**2)`` without overflow for large inputs."""
    x, y = promote_args_inexact("hypot", x, y)
    x, y = lax.abs(x), lax.abs(y)
    big, small = lax.max(x, y), lax.min(x, y)
    zero = _zeros_like(big)
    big_is_zero = lax.eq(big, zero)
    safe_big = lax.select(big_is_zero, _full_like(big, 1), big)
    ratio = lax.div(small, safe_big)
    scaled = lax.mul(big, lax.sqrt(lax.add(_full_like(ratio, 1), lax.mul(ratio, ratio))))
    out = lax.select(big_is_zero, big, scaled)
    inf = _full_like(out, np.inf)
    return lax.select(lax.eq(big, inf), inf, out)


# ------------------------------------------------------------------ rounding

def floor(x: Any) -> Array:
    """Elementwise floor (integers are returned unchanged)."""
    x = as_array(asarray_arg(x, "floor"))
    return x if is_exact(dtype_of(x)) else lax.floor(x)


def ceil(x: Any) -> Array:
    """Elementwise ceiling (integers are returned unchanged)."""
    x = as_array(asarray_arg(x, "ceil"))
    return x if is_exact(dtype_of(x)) else lax.ceil(x)


def trunc(x: Any) -> Array:
    """Elementwise rounding toward zero."""
    x = as_array(asarray_arg(x, "trunc"))
    if is_exact(dtype_of(x)):
        return x
    return lax.select(lax.lt(x, _zeros_like(x)), lax.ceil(x), lax.floor(x))


fix = trunc


def _round_half_even(x: Array) -> Array:
    return lax.round(x, 1)  # rounding_method 1: to nearest even, as NumPy


def rint(x: Any) -> Array:
    """Elementwise rounding to the nearest integer (halves to even), in floating point."""
    x = as_array(asarray_arg(x, "rint"))
    x = cast(x, to_inexact_dtype(dtype_of(x)))
    return _round_half_even(x)


def round(x: Any, decimals: int = 0) -> Array:  # noqa: A001  (NumPy's name)
    """Round to `decimals` decimal places, halves to even (as NumPy)."""
    x = as_array(asarray_arg(x, "round"))
    decimals = static_int(decimals, "round", "decimals")
    dtype = dtype_of(x)
    if is_exact(dtype):
        if decimals >= 0:
            return x
        f64 = np.dtype(np.float64)
        return cast(_round_float(cast(x, f64), decimals), dtype)
    return _round_float(x, decimals)


around = round


def _round_float(x: Array, decimals: int) -> Array:
    if decimals == 0:
        return _round_half_even(x)
    factor = _full_like(x, 10.0 ** builtins.abs(decimals))
    if decimals > 0:
        return lax.div(_round_half_even(lax.mul(x, factor)), factor)
    return lax.mul(_round_half_even(lax.div(x, factor)), factor)


@one_entry(3)
def clip(a: Any, a_min: Any = None, a_max: Any = None, *, min: Any = None,  # noqa: A002
         max: Any = None) -> Array:  # noqa: A002
    """Limit `a` to ``[a_min, a_max]`` (either bound may be None)."""
    lo = a_min if min is None else min
    hi = a_max if max is None else max
    if lo is None and hi is None:
        return as_array(asarray_arg(a, "clip"))
    bounds = _ready_scalar_bounds(a, lo, hi)
    if bounds is not None:  # the general path's constants, in its order; nothing to convert
        out, (lo_value, hi_value) = a, bounds
        if lo_value is not None:
            out = prims.max_p.bind(out, lo_value)
        return out if hi_value is None else prims.min_p.bind(out, hi_value)
    args = [a] + [b for b in (lo, hi) if b is not None]
    promoted = promote_args("clip", *args)
    out, rest = promoted[0], promoted[1:]
    if lo is not None:
        out = lax.max(out, rest[0])
    if hi is not None:
        out = lax.min(out, rest[-1])
    return out


def _ready_scalar_bounds(a: Any, lo: Any, hi: Any) -> tuple[Array | None, Array | None] | None:
    """clip's common case: a strongly-typed floating array or tracer between Python
    int/float bounds (or None). The bounds as `ready_pair` makes them (constants of
    a's shape and dtype), in clip's order; None for anything else."""
    if not all(bound is None or type(bound) in (int, float) for bound in (lo, hi)):
        return None
    bounds = []
    for bound in (lo, hi):
        if bound is None:
            bounds.append(None)
            continue
        # (declines for both bounds or neither: it depends on `a` alone here)
        ready = ready_pair("clip", a, bound)
        if ready is None:
            return None
        bounds.append(ready[1])
    return bounds[0], bounds[1]


@one_entry(2)
def maximum(x: Any, y: Any) -> Array:
    """Elementwise maximum, propagating nans."""
    x, y = promote_args("maximum", x, y)
    return lax.or_(x, y) if dtype_is_bool(x) else lax.max(x, y)


@one_entry(2)
def minimum(x: Any, y: Any) -> Array:
    """Elementwise minimum, propagating nans."""
    x, y = promote_args("minimum", x, y)
    return lax.and_(x, y) if dtype_is_bool(x) else lax.min(x, y)


def fmax(x: Any, y: Any) -> Array:
    """Elementwise maximum, ignoring nans (nan only where both are nan)."""
    x, y = promote_args("fmax", x, y)
    if not is_inexact(dtype_of(x)):
        return maximum(x, y)
    return lax.select(_isnan(y), x, lax.select(_isnan(x), y, lax.max(x, y)))


def fmin(x: Any, y: Any) -> Array:
    """Elementwise minimum, ignoring nans (nan only where both are nan)."""
    x, y = promote_args("fmin", x, y)
    if not is_inexact(dtype_of(x)):
        return minimum(x, y)
    return lax.select(_isnan(y), x, lax.select(_isnan(x), y, lax.min(x, y)))


# ------------------------------------------------------------------ comparisons and logic

equal = _binary("equal", "eq", "Elementwise ``x == y``.")
not_equal = _binary("not_equal", "ne", "Elementwise ``x != y``.")
less = _binary("less", "lt", "Elementwise ``x < y``.")
less_equal = _binary("less_equal", "le", "Elementwise ``x <= y``.")
greater = _binary("greater", "gt", "Elementwise ``x > y``.")
greater_equal = _binary("greater_equal", "ge", "Elementwise ``x >= y``.")


def to_bool(x: Any) -> Array:
    """`x` as booleans (``x != 0``)."""
    x = as_array(x)
    aval = get_aval(x)
    if aval.dtype.kind == "b":
        return x
    return lax.ne(x, _zeros_like(x))


def _logical(name: str, lax_name: str) -> Any:
    def fn(x: Any, y: Any) -> Array:
        x, y = promote_args(name, x, y)
        return getattr(lax, lax_name)(to_bool(x), to_bool(y))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name.replace('_', ' ')} of the truth values."
    return fn


logical_and = _logical("logical_and", "and_")
logical_or = _logical("logical_or", "or_")
logical_xor = _logical("logical_xor", "xor")


def logical_not(x: Any) -> Array:
    """Elementwise logical not of the truth values."""
    return lax.not_(to_bool(asarray_arg(x, "logical_not")))


def _bitwise(name: str, lax_name: str) -> Any:
    def fn(x: Any, y: Any) -> Array:
        x, y = promote_args(name, x, y)
        if not is_exact(dtype_of(x)):
            raise TypeError(f"functrans.numpy.{name} requires integer or boolean operands, got "
                            f"dtype {dtype_of(x)}")
        return getattr(lax, lax_name)(x, y)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise {name.replace('_', ' ')} (bitwise on integers)."
    return fn


bitwise_and = _bitwise("bitwise_and", "and_")
bitwise_or = _bitwise("bitwise_or", "or_")
bitwise_xor = _bitwise("bitwise_xor", "xor")


def invert(x: Any) -> Array:
    """Elementwise bitwise not (logical not on booleans); the ``~`` operator."""
    x = as_array(asarray_arg(x, "invert"))
    if not is_exact(dtype_of(x)):
        raise TypeError("functrans.numpy.invert (the `~` operator) requires integer or boolean "
                        f"operands, got dtype {dtype_of(x)}")
    return lax.not_(x)


bitwise_not = invert


def _isnan(x: Array) -> Array:
    return lax.ne(x, x)


def isnan(x: Any) -> Array:
    """Elementwise test for nan."""
    x = as_array(asarray_arg(x, "isnan"))
    aval = get_aval(x)
    if not is_inexact(aval.dtype):
        return np.zeros(aval.shape, bool)
    return _isnan(x)


def isinf(x: Any) -> Array:
    """Elementwise test for positive or negative infinity."""
    x = as_array(asarray_arg(x, "isinf"))
    aval = get_aval(x)
    if not is_inexact(aval.dtype):
        return np.zeros(aval.shape, bool)
    return lax.eq(lax.abs(x), _full_like(x, np.inf))


def isposinf(x: Any) -> Array:
    """Elementwise test for positive infinity."""
    x = as_array(asarray_arg(x, "isposinf"))
    aval = get_aval(x)
    if not is_inexact(aval.dtype):
        return np.zeros(aval.shape, bool)
    return lax.eq(x, _full_like(x, np.inf))


def isneginf(x: Any) -> Array:
    """Elementwise test for negative infinity."""
    x = as_array(asarray_arg(x, "isneginf"))
    aval = get_aval(x)
    if not is_inexact(aval.dtype):
        return np.zeros(aval.shape, bool)
    return lax.eq(x, _full_like(x, -np.inf))


def isfinite(x: Any) -> Array:
    """Elementwise test for finiteness (not inf, not nan)."""
    x = as_array(asarray_arg(x, "isfinite"))
    aval = get_aval(x)
    if not is_inexact(aval.dtype):
        return np.ones(aval.shape, bool)
    return lax.is_finite(x)


def isclose(a: Any, b: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Array:
    """Elementwise ``|a - b| <= atol + rtol * |b|`` (as NumPy)."""
    a, b = promote_args("isclose", a, b)
    dtype = dtype_of(a)
    if not is_inexact(dtype):
        return lax.eq(a, b)
    close = lax.le(lax.abs(lax.sub(a, b)),
                   lax.add(_full_like(a, atol), lax.mul(_full_like(a, rtol), lax.abs(b))))
    both_inf = lax.and_(lax.eq(a, b), lax.not_(lax.is_finite(a)))
    close = lax.or_(close, both_inf)
    if equal_nan:
        close = lax.or_(close, lax.and_(_isnan(a), _isnan(b)))
    return close


# ------------------------------------------------------------------ selection

@one_entry(3)
def where(condition: Any, x: Any = None, y: Any = None, /, *, size: int | None = None,
          fill_value: Any = None) -> Any:
    """``x`` where `condition` holds, else ``y``, broadcasting all three.

    With only `condition`, the indices of its nonzero elements, as ``nonzero``
    (with a static `size`, padded with `fill_value`, also under jit)."""
    if x is None and y is None:
        return _indexing.nonzero(condition, size=size, fill_value=fill_value)
    if size is not None or fill_value is not None:
        raise TypeError("functrans.numpy.where: size and fill_value apply to the one-argument "
                        "form where(condition, size=...) only")
    if x is None or y is None:
        raise TypeError("functrans.numpy.where takes either one argument (condition) or three "
                        "(condition, x, y)")
    condition = as_array(asarray_arg(condition, "where", "condition"))
    ready = ready_pair("where", x, y)
    if ready is None:
        x, y = promote_args("where", x, y)
    else:  # (promote_args would give this pair: made once, as it may stage constants)
        x, y = ready[0], ready[1]
        if _selects_directly(condition, x):
            # nothing to broadcast or convert: the select_n lax.select would bind
            return prims.select_n_p.bind(condition, y, x)
    shape = broadcast_shapes("where", shape_of(condition), shape_of(x))
    return lax.select(broadcast_to_shape(to_bool(condition), shape),
                      broadcast_to_shape(x, shape), broadcast_to_shape(y, shape))


def _selects_directly(condition: Any, x: Array) -> bool:
    """Whether where's operands are ready for select_n: a boolean condition of the
    shape of a `ready_pair` (x, y) (whose scalar handling leaves x and y as they are)."""
    condition_info = array_info(condition)
    return (condition_info is not None and condition_info[0].kind == "b"
            and array_info(x)[1] == condition_info[1])


def select(condlist: Any, choicelist: Any, default: Any = 0) -> Array:
    """Per element, the choice of the first condition that holds, else `default`."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"functrans.numpy.select: condlist has {len(condlist)} entries but "
                         f"choicelist has {len(choicelist)}; they must have the same length")
    if not condlist:
        raise ValueError("functrans.numpy.select: condlist must not be empty")
    out = default
    for cond, choice in zip(reversed(list(condlist)), reversed(list(choicelist)), strict=True):
        out = where(cond, choice, out)
    return out


# ------------------------------------------------------------------ logaddexp

@one_entry(2)
@quiet
def logaddexp(x: Any, y: Any) -> Array:
    """Elementwise ``log(exp(x) + exp(y))`` without overflow, accurate where one
    term is tiny (``log1p``).

    A custom JVP rule gives the derivative as the softmax weights
    ``sigmoid(x - y)``, ``sigmoid(y - x)``: finite everywhere, ``1/2`` each
    where x == y (also when both are the same infinity)."""
    x, y = promote_args_inexact("logaddexp", x, y)
    return _logaddexp(x, y)


def _logaddexp_value(x: Array, y: Array) -> Array:
    delta = lax.sub(x, y)
    shifted = lax.add(lax.max(x, y), lax.log1p(lax.exp(lax.neg(lax.abs(delta)))))
    # delta is nan for equal infinities (and for nan inputs): x + y is then right
    return lax.select(_isnan(delta), lax.add(x, y), shifted)


@traceable_rule
@custom_jvp
def _logaddexp(x: Array, y: Array) -> Array:
    return _logaddexp_value(x, y)


def _logaddexp_jvp(primals: tuple, tangents: tuple) -> tuple[Array, Array]:
    x, y = primals
    delta = lax.sub(x, y)
    equal_infinities = lax.and_(_isnan(delta), lax.eq(x, y))
    delta = lax.select(equal_infinities, _zeros_like(delta), delta)
    # a constant operand (softplus's 0) has a symbolic zero tangent: no weight for it
    terms = [lax.mul(dot, lax.logistic(d)) for dot, d in zip(tangents, (delta, lax.neg(delta)))
             if type(dot) is not SymbolicZero]
    out = _logaddexp(x, y)
    if not terms:
        return out, SymbolicZero(get_aval(out))
    return out, terms[0] if len(terms) == 1 else lax.add(*terms)


_logaddexp.defjvp(_logaddexp_jvp, symbolic_zeros=True)


@one_entry(2)
def logaddexp2(x: Any, y: Any) -> Array:
    """Elementwise ``log2(2**x + 2**y)`` without overflow."""
    x, y = promote_args_inexact("logaddexp2", x, y)
    ln2 = _full_like(x, np.log(2.0))
    return lax.div(logaddexp(lax.mul(x, ln2), lax.mul(y, ln2)), ln2)


def nan_to_num(x: Any, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Array:
    """`x` with nan replaced by `nan` and infinities by `posinf`/`neginf`
    (default: the largest/smallest finite value of the dtype)."""
    x = as_array(asarray_arg(x, "nan_to_num"))
    dtype = dtype_of(x)
    if not is_inexact(dtype):
        return x
    info = np.finfo(dtype)
    out = lax.select(_isnan(x), _full_like(x, nan), x)
    out = lax.select(lax.eq(x, _full_like(x, np.inf)),
                     _full_like(x, info.max if posinf is None else posinf), out)
    return lax.select(lax.eq(x, _full_like(x, -np.inf)),
                      _full_like(x, info.min if neginf is None else neginf), out)


# ------------------------------------------------------------------ complex parts

def real(x: Any) -> Array:
    """The real part (the value itself for real dtypes)."""
    x = as_array(asarray_arg(x, "real"))
    return lax.real(x) if dtype_of(x).kind == "c" else x


def imag(x: Any) -> Array:
    """The imaginary part (zeros for real dtypes)."""
    x = as_array(asarray_arg(x, "imag"))
    aval = get_aval(x)
    return lax.imag(x) if aval.dtype.kind == "c" else np.zeros(aval.shape, aval.dtype)


def conjugate(x: Any) -> Array:
    """The complex conjugate (the value itself for real dtypes)."""
    x = as_array(asarray_arg(x, "conjugate"))
    return lax.conj(x) if dtype_of(x).kind == "c" else x


conj = conjugate


# ------------------------------------------------------------------ helpers

def _full_like(x: Array, value: Any) -> np.ndarray:
    """A constant shaped like `x` (a broadcast view when large)."""
    aval = get_aval(x)
    return constant(value, aval.shape, aval.dtype)


def _zeros_like(x: Array) -> np.ndarray:
    return _full_like(x, 0)
