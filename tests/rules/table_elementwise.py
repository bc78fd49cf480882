"""Rows for the elementwise primitives (functrans/primitives/elementwise.py).

Arguments are drawn where each function is smooth: positive for log/sqrt, |x| < 1
for atanh, away from ties for max/min, away from integers (and half-integers) for
the rounding functions, away from the bounds for clamp. Functions whose derivative
is zero almost everywhere (floor, sign, comparisons, ...) are rows with
``differentiable=False``: the harness checks that their tangents and cotangents
are zero, and still checks vmap, jit and dtypes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from functrans import lax
from functrans.core.avals import get_aval
from tests.rules import Row

SHAPE = (3, 4)
Args = Callable[[np.random.Generator, np.dtype], tuple]


# ------------------------------------------------------------------ argument makers

def _normal(*shapes: tuple[int, ...], scale: float = 1.0) -> Args:
    return lambda rng, dtype: tuple((scale * rng.standard_normal(s)).astype(dtype)
                                    for s in shapes)


def _uniform(low: float, high: float, count: int = 1, shape: tuple[int, ...] = SHAPE) -> Args:
    return lambda rng, dtype: tuple(rng.uniform(low, high, shape).astype(dtype)
                                    for _ in range(count))


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...] = SHAPE,
                    low: float = 0.3, high: float = 2.0) -> np.ndarray:
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(low, high, shape)


def _nonzero(count: int = 1) -> Args:
    return lambda rng, dtype: tuple(_away_from_zero(rng).astype(dtype) for _ in range(count))


def _off_grid(rng: np.random.Generator, shape: tuple[int, ...] = SHAPE) -> np.ndarray:
    """Values whose fractional part is in (0.1, 0.4) or (0.6, 0.9): away from the
    integers and the half-integers where rounding functions jump."""
    whole = rng.integers(-4, 4, shape)
    fraction = rng.uniform(0.1, 0.4, shape) + rng.choice([0.0, 0.5], shape)
    return whole + fraction


def _distinct_pair(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    """x, y differing by at least 0.1 everywhere (no ties for max/min)."""
    x = rng.standard_normal(SHAPE)
    y = x + _away_from_zero(rng, low=0.1, high=1.5)
    return x.astype(dtype), y.astype(dtype)


def _pair_with_ties(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    x = rng.standard_normal(SHAPE).astype(dtype)
    y = np.where(rng.random(SHAPE) < 0.3, x, rng.standard_normal(SHAPE)).astype(dtype)
    return x, y


def _rem_args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    # x / y stays away from the integers, where fmod jumps
    y = _away_from_zero(rng, low=0.5, high=1.5)
    return (_off_grid(rng) * y).astype(dtype), y.astype(dtype)


def _pow_args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    return rng.uniform(0.5, 2.0, SHAPE).astype(dtype), rng.standard_normal(SHAPE).astype(dtype)


def _pow_int_exponent_args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    return _away_from_zero(rng, low=0.5).astype(dtype), rng.integers(-3, 4, SHAPE, np.int32)


def _atan2_args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    # atan2(x, y) is the angle below: away from the origin and from the jump at +-pi
    radius = rng.uniform(0.5, 2.0, SHAPE)
    angle = rng.uniform(-2.8, 2.8, SHAPE)
    return (radius * np.sin(angle)).astype(dtype), (radius * np.cos(angle)).astype(dtype)


def _clamp_args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    """x below, inside and above [low, high], at least 0.1 from either bound."""
    low = rng.uniform(-1.0, -0.5, SHAPE)
    high = rng.uniform(0.5, 1.0, SHAPE)
    band = rng.integers(0, 3, SHAPE)
    below = low - rng.uniform(0.1, 1.0, SHAPE)
    inside = rng.uniform(low + 0.1, high - 0.1)
    above = high + rng.uniform(0.1, 1.0, SHAPE)
    x = np.choose(band, [below, inside, above])
    return low.astype(dtype), x.astype(dtype), high.astype(dtype)


def _clamp_scalar_bounds_args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    x = _off_grid(rng) / 2.0          # never within 0.05 of -1.0 or 1.0
    return np.asarray(-1.0, dtype), x.astype(dtype), np.asarray(1.0, dtype)


def _select_args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    return (rng.random(SHAPE) < 0.5, rng.standard_normal(SHAPE).astype(dtype),
            rng.standard_normal(SHAPE).astype(dtype))


def _select_n_int_args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    return (rng.integers(0, 3, SHAPE, np.int32),) + tuple(
        rng.standard_normal(SHAPE).astype(dtype) for _ in range(3))


def _with_specials(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    x = rng.standard_normal(SHAPE)
    x.flat[:3] = [np.inf, -np.inf, np.nan]
    return (x.astype(dtype),)


def _integers(count: int) -> Args:
    def make(rng: np.random.Generator, dtype: np.dtype) -> tuple:
        if np.dtype(dtype) == np.bool_:
            return tuple(rng.random(SHAPE) < 0.5 for _ in range(count))
        return tuple(rng.integers(-50, 50, SHAPE).astype(dtype) for _ in range(count))
    return make


def _int_divisor_args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    y = rng.choice([-1, 1], SHAPE) * rng.integers(1, 7, SHAPE)
    return rng.integers(-50, 50, SHAPE).astype(dtype), y.astype(dtype)


# ------------------------------------------------------------------ rows

def _wider(x):
    """A dtype that holds every value of x's float dtype exactly."""
    return np.float64 if get_aval(x).dtype == np.float32 else np.longdouble


def _round_trip(x):
    return lax.convert_element_type(lax.convert_element_type(x, _wider(x)), get_aval(x).dtype)


def _complex_round_trip(x, y):
    z = lax.complex(x, y)
    w = lax.mul(z, lax.sin(z))
    return lax.add(lax.real(w), lax.mul(lax.imag(lax.conj(w)), 0.5))


INTS = (np.int32, np.int64)
unary_normal = _normal(SHAPE)
binary_normal = _normal(SHAPE, SHAPE)

ROWS = [
    # arithmetic
    Row("neg", lax.neg, unary_normal, linear=True),
    Row("add", lax.add, binary_normal, linear=True),
    Row("add_python_scalar", lambda x: lax.add(x, 2.5), unary_normal),
    Row("sub", lax.sub, binary_normal, linear=True),
    Row("mul", lax.mul, binary_normal),
    Row("mul_lhs", lax.mul, binary_normal, diff_argnums=(0,), linear=True),
    Row("mul_rhs", lax.mul, binary_normal, diff_argnums=(1,), linear=True),
    Row("div", lax.div, lambda rng, dtype: (rng.standard_normal(SHAPE).astype(dtype),
                                            _away_from_zero(rng).astype(dtype))),
    Row("div_numerator", lax.div, lambda rng, dtype: (
        rng.standard_normal(SHAPE).astype(dtype), _away_from_zero(rng).astype(dtype)),
        diff_argnums=(0,), linear=True),
    Row("div_int", lax.div, _int_divisor_args, dtypes=INTS, differentiable=False),
    Row("rem", lax.rem, _rem_args),
    Row("rem_int", lax.rem, _int_divisor_args, dtypes=INTS, differentiable=False),
    Row("max", lax.max, _distinct_pair),
    Row("min", lax.min, _distinct_pair),
    # max(x, x) = x: only the 0.5/0.5 split of the tie gives derivative 1
    Row("max_tie", lambda x: lax.max(x, x), unary_normal),
    Row("min_tie", lambda x: lax.min(x, x), unary_normal),
    Row("max_int", lax.max, _integers(2), dtypes=INTS, differentiable=False),
    Row("abs", lax.abs, _nonzero()),
    Row("abs_int", lax.abs, _integers(1), dtypes=INTS, differentiable=False),
    Row("sign", lax.sign, _nonzero(), differentiable=False),
    Row("square", lax.square, unary_normal),
    Row("reciprocal", lax.reciprocal, _nonzero()),
    Row("integer_pow_2", lambda x: lax.integer_pow(x, 2), unary_normal),
    Row("integer_pow_3", lambda x: lax.integer_pow(x, 3), unary_normal),
    Row("integer_pow_1", lambda x: lax.integer_pow(x, 1), unary_normal),
    Row("integer_pow_0", lambda x: lax.integer_pow(x, 0), unary_normal),
    Row("integer_pow_neg2", lambda x: lax.integer_pow(x, -2), _nonzero()),
    Row("integer_pow_int", lambda x: lax.integer_pow(x, 3), _integers(1), dtypes=INTS,
        differentiable=False),
    Row("pow", lax.pow, _pow_args),
    Row("pow_int_exponent", lax.pow, _pow_int_exponent_args),
    # a zero base contributes 0 to the derivative in the exponent, as in JAX
    Row("pow_zero_base", lambda y: lax.pow(lax.mul(y, 0.0), lax.add(lax.square(y), 3.0)),
        unary_normal),
    Row("sqrt", lax.sqrt, _uniform(0.2, 3.0)),
    Row("rsqrt", lax.rsqrt, _uniform(0.2, 3.0)),
    Row("cbrt", lax.cbrt, _nonzero()),
    # exponentials and logarithms
    Row("exp", lax.exp, unary_normal),
    Row("exp2", lax.exp2, unary_normal),
    Row("expm1", lax.expm1, unary_normal),
    Row("log", lax.log, _uniform(0.2, 3.0)),
    Row("log1p", lax.log1p, _uniform(-0.5, 3.0)),
    Row("logistic", lax.logistic, _normal(SHAPE, scale=3.0)),
    # trigonometric and hyperbolic
    Row("sin", lax.sin, unary_normal),
    Row("cos", lax.cos, unary_normal),
    Row("tan", lax.tan, _uniform(-1.2, 1.2)),
    Row("asin", lax.asin, _uniform(-0.8, 0.8)),
    Row("acos", lax.acos, _uniform(-0.8, 0.8)),
    Row("atan", lax.atan, _normal(SHAPE, scale=2.0)),
    Row("atan2", lax.atan2, _atan2_args),
    Row("sinh", lax.sinh, unary_normal),
    Row("cosh", lax.cosh, unary_normal),
    Row("tanh", lax.tanh, unary_normal),
    Row("asinh", lax.asinh, _normal(SHAPE, scale=2.0)),
    Row("acosh", lax.acosh, _uniform(1.2, 4.0)),
    Row("atanh", lax.atanh, _uniform(-0.8, 0.8)),
    # special functions
    Row("erf", lax.erf, _normal(SHAPE, scale=1.5)),
    Row("erfc", lax.erfc, _normal(SHAPE, scale=1.5)),
    Row("erf_inv", lax.erf_inv, _uniform(-0.9, 0.9)),
    # rounding and floating-point inspection
    Row("floor", lax.floor, lambda rng, dtype: (_off_grid(rng).astype(dtype),),
        differentiable=False),
    Row("ceil", lax.ceil, lambda rng, dtype: (_off_grid(rng).astype(dtype),),
        differentiable=False),
    Row("round_away_from_zero", lambda x: lax.round(x, lax.RoundingMethod.AWAY_FROM_ZERO),
        lambda rng, dtype: (_off_grid(rng).astype(dtype),), differentiable=False),
    Row("round_to_nearest_even", lambda x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN),
        lambda rng, dtype: (_off_grid(rng).astype(dtype),), differentiable=False),
    Row("is_finite", lax.is_finite, _with_specials, differentiable=False),
    Row("nextafter", lax.nextafter, binary_normal, differentiable=False),
    # comparisons
    *[Row(name, getattr(lax, name), _pair_with_ties, differentiable=False)
      for name in ("eq", "ne", "lt", "le", "gt", "ge")],
    *[Row(f"{name}_int", getattr(lax, name), _integers(2), dtypes=INTS, differentiable=False)
      for name in ("eq", "lt", "ge")],
    # logical / bitwise
    *[Row(name, getattr(lax, name), _integers(2), dtypes=INTS + (np.bool_,),
          differentiable=False)
      for name in ("bitwise_and", "bitwise_or", "bitwise_xor")],
    Row("bitwise_not", lax.bitwise_not, _integers(1), dtypes=INTS + (np.bool_,),
        differentiable=False),
    # selection
    Row("select", lax.select, _select_args, linear=True),
    Row("select_n_bool", lax.select_n, _select_args, linear=True),
    Row("select_n_int", lax.select_n, _select_n_int_args, linear=True),
    Row("select_n_int_cases", lax.select_n,
        lambda rng, dtype: (rng.random(SHAPE) < 0.5,) + _integers(2)(rng, dtype),
        dtypes=INTS, differentiable=False),
    Row("select_scalar_case", lambda p, x: lax.select(p, x, 0.0),
        lambda rng, dtype: _select_args(rng, dtype)[:2], linear=True),
    Row("clamp", lax.clamp, _clamp_args),
    Row("clamp_scalar_bounds", lax.clamp, _clamp_scalar_bounds_args),
    Row("clamp_python_bounds", lambda x: lax.clamp(-1.0, x, 1.0),
        lambda rng, dtype: (_off_grid(rng).astype(dtype) / 2.0,)),
    # complex numbers, through real inputs and outputs (on those, JAX's complex
    # cotangent convention and the harness's Hermitian inner product agree)
    Row("complex_real_imag_conj", _complex_round_trip, binary_normal),
    Row("abs_complex", lambda x, y: lax.abs(lax.complex(x, y)), _nonzero(2)),
    Row("complex_linear", lambda x, y: lax.imag(lax.conj(lax.complex(x, y))), binary_normal,
        linear=True),
    # dtype and differentiation control
    Row("convert_element_type", _round_trip, unary_normal, linear=True),
    Row("convert_element_type_to_int",
        lambda x: lax.convert_element_type(x, np.int32),
        lambda rng, dtype: (_off_grid(rng).astype(dtype),), differentiable=False),
    Row("stop_gradient", lax.stop_gradient, unary_normal, differentiable=False),
    # compositions: second derivatives through several rules at once
    Row("sin_times_log", lambda x, y: lax.mul(lax.sin(x), lax.log(y)),
        lambda rng, dtype: (rng.standard_normal(SHAPE).astype(dtype),
                            rng.uniform(0.5, 2.0, SHAPE).astype(dtype))),
    Row("erf_of_tanh", lambda x: lax.erf(lax.tanh(x)), unary_normal),
]
