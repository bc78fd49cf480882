"""Elementwise primitives and their rules.

Operands of an n-ary elementwise primitive have equal shapes and dtypes: the
NumPy-facing layer (:mod:`functrans.numpy`) inserts the broadcasts and casts,
so gradients reduce back to each input's shape exactly. The one convenience
the lax-level functions offer, as ``jax.lax`` does, is a Python scalar operand
(``lax.add(x, 2.0)``): it takes the dtype and shape of the array operand.

Each primitive is registered with its rules side by side, followed by its
lax-level function. JVP rules are written with lax-level functions only, with
the coefficient (computed from primals) built first and the tangent touched
once, so that linearization records a single linear operation per rule.
"""

from __future__ import annotations

import enum
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from functrans import (
    dtypes,
    primitives,  # the family, for call-time use (see primitives/__init__)
)
from functrans.core.avals import ShapedArray, get_aval, weak_type_rule
from functrans.core.primitive import Primitive, UfuncEquivalent
from functrans.core.trace import Tracer
from functrans.core.zeros import Zero
from functrans.primitives.erf_numerics import TWO_OVER_SQRT_PI, erf_f64, erf_inv_f64, erfc_f64
from functrans.primitives.rules import (
    defbilinear,
    defbroadcasting,
    defjvp,
    defjvp2,
    defjvp_zero,
    deflinear,
    defvectorized,
    is_undefined_primal,
)
from functrans.primitives.tangent_space import instantiate_zeros
from functrans.tree_util import tree_map

__all__ = [
    # arithmetic
    "neg", "add", "sub", "mul", "div", "rem", "max", "min", "abs", "sign", "square",
    "reciprocal", "integer_pow", "pow", "sqrt", "rsqrt", "cbrt",
    # exponentials and logarithms
    "exp", "exp2", "expm1", "log", "log1p", "logistic",
    # trigonometric and hyperbolic
    "sin", "cos", "tan", "asin", "acos", "atan", "atan2",
    "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
    # special functions
    "erf", "erfc", "erf_inv",
    # rounding and floating-point inspection
    "floor", "ceil", "round", "RoundingMethod", "is_finite", "nextafter",
    # comparisons
    "eq", "ne", "lt", "le", "gt", "ge",
    # logical / bitwise
    "bitwise_and", "bitwise_or", "bitwise_not", "bitwise_xor", "and_", "or_", "not_", "xor",
    # selection
    "select_n", "select", "clamp",
    # complex numbers
    "complex", "real", "imag", "conj",
    # dtype and differentiation control
    "convert_element_type", "stop_gradient",
]


# ------------------------------------------------------------------ dtype kinds

# Sets of NumPy dtype kinds an operation accepts (as jax.lax, no implicit casts).
BOOL, INT, FLOAT, COMPLEX = "b", "iu", "f", "c"
INEXACT = FLOAT + COMPLEX
REAL_NUMBER = INT + FLOAT
NUMBER = INT + INEXACT
ORDERED = BOOL + REAL_NUMBER
ANY = BOOL + NUMBER
BOOL_OR_INT = BOOL + INT

_KIND_NAMES = {"b": "bool", "i": "signed integer", "u": "unsigned integer",
               "f": "floating-point", "c": "complex"}


def _describe_kinds(kinds: str) -> str:
    return " or ".join(dict.fromkeys(_KIND_NAMES[k] for k in kinds))


def _check_kind(name: str, what: str, aval: ShapedArray, kinds: str) -> None:
    if aval.dtype.kind not in kinds:
        hint = ""
        if aval.dtype.kind in INT + BOOL and set(kinds) <= set(INEXACT):
            hint = (" (functrans.numpy promotes integers to float; with functrans.lax, "
                    "convert first with lax.convert_element_type)")
        raise TypeError(f"{name}: {what} has dtype {aval.dtype.name} ({aval.str_short()}); "
                        f"{name} accepts {_describe_kinds(kinds)} dtypes{hint}")


# ------------------------------------------------------------------ shape rules

def _unary_aval(x: ShapedArray, **_: Any) -> ShapedArray:
    return x  # weak type included (JAX's rule); avals are immutable: share it


def _check_equal_avals(name: str, avals: tuple[ShapedArray, ...]) -> None:
    first = avals[0]
    for a in avals[1:]:
        if a.shape != first.shape or a.dtype != first.dtype:
            raise TypeError(
                f"{name} requires operands of equal shape and dtype, got "
                f"{', '.join(x.str_short() for x in avals)} (functrans.numpy broadcasts "
                "and promotes; functrans.lax does not)")


def _nary_aval(name: str, kinds: str | None = None, out_dtype: Any = None):
    def rule(*avals: ShapedArray, **_: Any) -> ShapedArray:
        _check_equal_avals(name, avals)
        first = avals[0]
        if kinds is not None:
            _check_kind(name, "the operand" if len(avals) == 1 else "each operand",
                        first, kinds)
        if out_dtype is None:
            return weak_type_rule(first, *avals)
        return ShapedArray(first.shape, out_dtype)
    return rule


def _replaced_rule_dtype(prim: Primitive, args: tuple, params: dict, dtype: np.dtype,
                         known: dict[Any, np.dtype]) -> np.dtype:
    """The result dtype by `prim`'s own shape rule, which runs once per (dtype,
    parameters) (and each time it raises, or the parameters cannot be hashed)."""
    try:
        key = (dtype, len(args), tuple(params.items()))
        expected = known.get(key)
    except TypeError:
        key = expected = None
    if expected is None:
        expected = prim.abstract_eval(*[get_aval(a) for a in args], **params).dtype
        if key is not None:
            known[key] = expected
    return expected


def _checked_impl(prim: Primitive, impl: Callable[..., Any], kinds: str | None,
                  out_dtype: Any, rule: Callable[..., Any]) -> Callable[..., Any]:
    """Check operands before the NumPy implementation, so eager calls reject what a
    traced call would (NumPy would silently promote int to float, or broadcast),
    and give the result exactly the dtype the shape rule promises.

    The check is a few attribute comparisons on the hot path; the shape rule
    itself only runs to produce the error message, for non-array operands, or
    when a primitive replaced the standard shape rule `rule` with its own.
    """
    fixed_dtype = None if out_dtype is None else np.dtype(out_dtype)
    #: a replaced shape rule's result dtype for operands that pass the check, per
    #: (dtype, parameters): elementwise, it does not depend on their shape
    dtype_by_signature: dict[Any, np.dtype] = {}

    def checked(*args: Any, **params: Any) -> Any:
        first = args[0]
        try:
            shape, dtype = first.shape, first.dtype
            ok = kinds is None or dtype.kind in kinds
            for a in args:
                if a.shape != shape or a.dtype != dtype:
                    ok = False
        except AttributeError:
            ok = False
        if ok and prim.abstract_eval is rule:
            expected = dtype if fixed_dtype is None else fixed_dtype
        elif ok:
            expected = _replaced_rule_dtype(prim, args, params, dtype, dtype_by_signature)
        else:
            expected = prim.abstract_eval(*[get_aval(a) for a in args], **params).dtype
        out = impl(*args, **params)
        try:
            if out.dtype != expected:
                out = out.astype(expected)
        except AttributeError:  # a Python scalar passed through (identity impls)
            out = np.asarray(out, expected)
        return out
    if out_dtype is None:  # the result has the operands' dtype: see _with_scalar_constant
        checked.same_dtype_impl = (impl, rule)  # type: ignore[attr-defined]
    # what other array libraries evaluate (functrans.core.backend): the ufunc's Array API
    # equivalent, or `impl` itself when it takes the namespace (``xp=``); the backend
    # checks the operands with the shape rule and casts the result to its dtype
    checked.elementwise = True  # type: ignore[attr-defined]
    checked.numpy_ufunc = impl if isinstance(impl, np.ufunc) else None  # type: ignore
    checked.array_api_impl = impl  # type: ignore[attr-defined]
    return checked


def unary(name: str, impl: Any, kinds: str | None = None, out_dtype: Any = None, *,
          ufunc_kinds: str | None = None) -> Primitive:
    """An elementwise one-operand primitive with its shape and batching rules.

    `kinds` restricts the operand's dtype kinds (e.g. ``FLOAT``); `out_dtype`
    fixes the result dtype (default: the operand's). `ufunc_kinds`, when given,
    says that `impl` is a NumPy ufunc computing the primitive, dtype included,
    for operands of those kinds (see :class:`UfuncEquivalent`).
    """
    p = Primitive(name)
    p.abstract_eval = (_unary_aval if kinds is None and out_dtype is None
                       else _nary_aval(name, kinds, out_dtype))
    p.impl = _checked_impl(p, impl, kinds, out_dtype, p.abstract_eval)
    p.ufunc = _ufunc_equivalent(impl, ufunc_kinds)
    defvectorized(p)
    return p


def nary(name: str, impl: Any, kinds: str | None = None, out_dtype: Any = None, *,
         ufunc_kinds: str | None = None) -> Primitive:
    """An elementwise n-operand primitive with its shape and batching rules
    (the arguments as for :func:`unary`)."""
    p = Primitive(name)
    p.abstract_eval = _nary_aval(name, kinds, out_dtype)
    p.impl = _checked_impl(p, impl, kinds, out_dtype, p.abstract_eval)
    p.ufunc = _ufunc_equivalent(impl, ufunc_kinds)
    defbroadcasting(p)
    return p


def _ufunc_equivalent(impl: Any, kinds: str | None) -> UfuncEquivalent | None:
    if kinds is None:
        return None
    if not isinstance(impl, np.ufunc):
        raise TypeError(f"ufunc_kinds given for {impl!r}, which is not a NumPy ufunc")
    return UfuncEquivalent(impl, kinds)


# ------------------------------------------------------------------ Python scalar operands

def _is_scalar_like(x: Any) -> bool:
    """A Python scalar, or a weakly-typed rank-0 value (a traced Python scalar)."""
    t = type(x)
    if t in _CONCRETE_ARRAY_TYPES:  # the common case, first
        return False
    if t in _PYTHON_SCALARS:
        return True
    aval = getattr(x, "aval", None)
    return aval is not None and aval.weak_type and aval.shape == ()


_PYTHON_SCALARS = (bool, int, float, complex)
#: NumPy arrays and NumPy scalars (what evaluation produces), for fast type tests
_CONCRETE_ARRAY_TYPES = frozenset([np.ndarray] + [np.dtype(c).type
                                                for c in "?bBhHiIlLqQefdgFDG"])


def _scalar_fits(value: Any, kind: str, dtype: np.dtype) -> bool:
    """Whether the Python scalar `value` converts to `dtype` without losing its kind."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        if kind in INT:
            info = np.iinfo(dtype)
            return info.min <= value <= info.max
        return kind in INEXACT
    if isinstance(value, float):
        return kind in INEXACT
    return kind == "c"


def _coerce_scalar(name: str, x: Any, dtype: np.dtype, shape: tuple[int, ...],
                   concrete: bool = False) -> Any:
    kind = dtype.kind
    if dtypes.is_python_scalar(x):
        if not _scalar_fits(x, kind, dtype):
            raise TypeError(f"{name}: the Python scalar {x!r} cannot be used with an "
                            f"operand of dtype {dtype.name} without changing its value or "
                            "kind; convert the array operand with lax.convert_element_type, or "
                            "use functrans.numpy, which promotes")
        if concrete:  # a constant: build it with NumPy, no primitive needed
            return np.full(shape, x, dtype)
        return primitives.structural.full(shape, np.asarray(x, dtype))
    kind_rank = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}
    if kind_rank[get_aval(x).dtype.kind] > kind_rank[kind]:
        raise TypeError(f"{name}: a weakly-typed {get_aval(x).dtype.name} scalar cannot be "
                        f"used with an operand of dtype {dtype.name}; convert it explicitly")
    if get_aval(x).dtype != dtype:  # (same dtype: weak-typed or not, the value is the same)
        x = convert_element_type(x, dtype)
    return primitives.structural.broadcast_in_dim(x, shape, ())


def _coerce_operands(name: str, *args: Any) -> list[Any]:
    """Give Python scalars (and traced weakly-typed scalars) the dtype and shape
    of the first array operand; arrays are left for the shape rule to check."""
    scalar_like = [_is_scalar_like(x) for x in args]
    if not any(scalar_like):
        return list(args)
    anchors = [x for x, s in zip(args, scalar_like) if not s]
    if anchors:
        aval = get_aval(anchors[0])
        dtype, shape = aval.dtype, aval.shape
        concrete = isinstance(anchors[0], (np.ndarray, np.generic))
    else:  # only scalars: constants unless one of them is traced
        dtype, shape = dtypes.result_type(*args), ()
        concrete = not any(isinstance(x, Tracer) for x in args)
        if not concrete:  # computed from Python scalars only: the result stays weak
            return [_coerce_weak(x, dtype) for x in args]
    return [_coerce_scalar(name, x, dtype, shape, concrete) if s else x
            for x, s in zip(args, scalar_like)]


def _coerce_weak(x: Any, dtype: np.dtype) -> Any:
    """A Python scalar or weakly-typed tracer as a weakly-typed value of `dtype`."""
    if dtypes.is_python_scalar(x):
        return dtypes.weak_scalar(x, dtype)  # staged as a weakly-typed literal
    return convert_element_type(x, dtype, weak_type=True)


def _binary(prim: Primitive, x: Any, y: Any) -> Any:
    tx, ty = type(x), type(y)
    if tx in _CONCRETE_ARRAY_TYPES:
        if ty in _CONCRETE_ARRAY_TYPES:
            return prim.bind(x, y)
        if ty in _PYTHON_SCALARS:  # a constant on the primal side of a rule
            return _with_scalar_constant(prim, x, y, x)
    elif tx in _PYTHON_SCALARS:
        if ty in _CONCRETE_ARRAY_TYPES:
            return _with_scalar_constant(prim, x, y, y)
        if ty in _PYTHON_SCALARS:  # two constants: NumPy's scalar promotion
            dtype = dtypes.result_type(x, y)
            return prim.bind(np.asarray(x, dtype), np.asarray(y, dtype))
    if _is_scalar_like(x) or _is_scalar_like(y):
        x, y = _coerce_operands(prim.name, x, y)
    return prim.bind(x, y)


def _with_scalar_constant(prim: Primitive, x: Any, y: Any, array: np.ndarray) -> Any:
    """`prim` of a concrete array and a Python scalar. Nothing is traced, so this
    is evaluation: NumPy broadcasts the scalar itself, keeping the array's dtype
    (NEP 50), which is what filling an array with it and binding would give."""
    dtype = array.dtype
    scalar = y if x is array else x
    numpy_impl, rule = getattr(prim.impl, "same_dtype_impl", (None, None))
    if (numpy_impl is None or prim.abstract_eval is not rule
            or not _scalar_fits(scalar, dtype.kind, dtype)):
        x, y = _coerce_operands(prim.name, x, y)  # the general path (or its error)
        return prim.bind(x, y)
    out = numpy_impl(x, y)
    return out if out.dtype == dtype else out.astype(dtype)


# ------------------------------------------------------------------ helpers for rules

def _full_like(x: Any, value: Any) -> Any:
    """An array of `x`'s shape and dtype filled with `value` (a primal constant)."""
    aval = get_aval(x)
    return primitives.structural.full(aval.shape, np.asarray(value, aval.dtype))


def _as_float_mask(mask: Any, like: Any) -> Any:
    return convert_element_type(mask, get_aval(like).dtype)


def _tangent_where(mask: Any, t: Any) -> Any:
    """`t` where `mask` holds, zero elsewhere (linear in `t`)."""
    return select_n(mask, _full_like(t, 0), t)


# ------------------------------------------------------------------ arithmetic

neg_p = unary("neg", np.negative, NUMBER, ufunc_kinds=NUMBER)
deflinear(neg_p, lambda ct, x: [neg(ct)])


def neg(x: Any) -> Any:
    """``-x`` elementwise."""
    return neg_p.bind(x)


def _one_tangent_passes_through(prim: Primitive, negate_second: bool) -> None:
    """``x + y`` and ``x - y`` with one tangent a symbolic Zero: the output's tangent
    is the other one (negated for the second operand of ``sub``), not a sum with
    materialised zeros."""
    linear_jvp = prim.jvp

    def jvp(primals: Any, tangents: Any, **params: Any) -> Any:
        tx, ty = tangents
        if (type(tx) is Zero) == (type(ty) is Zero):
            return linear_jvp(primals, tangents, **params)
        out = prim.bind(*primals, **params)
        t = tx if type(ty) is Zero else ty
        t_aval, out_aval = get_aval(t), get_aval(out)
        if t_aval.shape != out_aval.shape or t_aval.dtype != out_aval.dtype:
            return out, prim.bind(*[instantiate_zeros(u) for u in tangents], **params)
        return out, neg(t) if negate_second and t is ty else t

    prim.jvp = jvp


add_p = nary("add", np.add, NUMBER, ufunc_kinds=NUMBER)
deflinear(add_p, lambda ct, x, y: [ct, ct])
_one_tangent_passes_through(add_p, negate_second=False)


def add(x: Any, y: Any) -> Any:
    """``x + y`` elementwise."""
    return _binary(add_p, x, y)


sub_p = nary("sub", np.subtract, NUMBER, ufunc_kinds=NUMBER)
deflinear(sub_p, lambda ct, x, y: [ct, neg(ct)])
_one_tangent_passes_through(sub_p, negate_second=True)


def sub(x: Any, y: Any) -> Any:
    """``x - y`` elementwise."""
    return _binary(sub_p, x, y)


mul_p = nary("mul", np.multiply, NUMBER, ufunc_kinds=NUMBER)
defbilinear(mul_p, lambda ct, x, y: mul(ct, y), lambda ct, x, y: mul(x, ct))


def mul(x: Any, y: Any) -> Any:
    """``x * y`` elementwise."""
    return _binary(mul_p, x, y)


def _div_impl(x: Any, y: Any, *, xp: Any = np) -> Any:
    x, y = xp.asarray(x), xp.asarray(y)
    if get_aval(x).dtype.kind not in INT:
        return xp.divide(x, y)
    # integer division rounds toward zero (C semantics), as lax.div
    quotient = xp.floor_divide(x, y)
    inexact = xp.not_equal(xp.remainder(x, y), 0)
    return quotient + xp.astype(inexact & ((x < 0) != (y < 0)), quotient.dtype)


def _div_transpose(ct, x, y):
    if is_undefined_primal(y):
        raise TypeError("div: the divisor of a linear value must not depend on it")
    return [div(ct, y), None]


div_p = nary("div", _div_impl, NUMBER)
div_p.ufunc = UfuncEquivalent(np.divide, INEXACT)  # what _div_impl does for these kinds
defjvp(div_p,
       lambda t, x, y: div(t, y),
       lambda t, x, y: mul(t, neg(div(div(x, y), y))))
div_p.transpose = _div_transpose


def div(x: Any, y: Any) -> Any:
    """``x / y`` elementwise; integer division rounds toward zero."""
    return _binary(div_p, x, y)


def _trunc(x: Any) -> Any:
    return mul(sign(x), floor(abs(x)))


rem_p = nary("rem", np.fmod, REAL_NUMBER)
defjvp(rem_p,
       lambda t, x, y: t,
       lambda t, x, y: mul(t, neg(_trunc(div(x, y)))))


def rem(x: Any, y: Any) -> Any:
    """Remainder of ``x / y`` with the sign of `x` (C ``fmod``), as ``lax.rem``."""
    return _binary(rem_p, x, y)


def _balanced_share(x: Any, ans: Any, other: Any) -> Any:
    """1 where `x` alone attains the extremum `ans`, 0.5 where it ties with
    `other`, 0 elsewhere: JAX's convention for the derivative of max/min."""
    wins = _as_float_mask(eq(x, ans), x)
    ties = _as_float_mask(eq(other, ans), x)
    return mul(wins, sub(1.0, mul(ties, 0.5)))


max_p = nary("max", np.maximum, ANY, ufunc_kinds=REAL_NUMBER)  # complex: lexicographic, as XLA
defjvp2(max_p,
        lambda t, ans, x, y: mul(t, _balanced_share(x, ans, y)),
        lambda t, ans, x, y: mul(t, _balanced_share(y, ans, x)))


def max(x: Any, y: Any) -> Any:  # noqa: A001  (jax.lax name)
    """Elementwise maximum (NaN propagates)."""
    return _binary(max_p, x, y)


min_p = nary("min", np.minimum, ANY, ufunc_kinds=REAL_NUMBER)
defjvp2(min_p,
        lambda t, ans, x, y: mul(t, _balanced_share(x, ans, y)),
        lambda t, ans, x, y: mul(t, _balanced_share(y, ans, x)))


def min(x: Any, y: Any) -> Any:  # noqa: A001  (jax.lax name)
    """Elementwise minimum (NaN propagates)."""
    return _binary(min_p, x, y)


def _abs_aval(x: ShapedArray) -> ShapedArray:
    _check_kind("abs", "x", x, NUMBER)
    dtype = np.finfo(x.dtype).dtype if x.dtype.kind == "c" else x.dtype
    return weak_type_rule(ShapedArray(x.shape, dtype), x)


def _abs_tangent(t, x):
    if get_aval(x).dtype.kind != "c":
        # the slope at 0 is taken as 1, as in JAX
        return mul(t, select(ge(x, 0), _full_like(x, 1), _full_like(x, -1)))
    # d|x| = Re(conj(x) dx) / |x|, and 0 at x = 0
    magnitude = abs(x)
    safe = select(eq(magnitude, 0), _full_like(magnitude, 1), magnitude)
    return real(mul(t, div(conj(x), complex(safe, _full_like(safe, 0)))))


abs_p = unary("abs", np.abs, ufunc_kinds=REAL_NUMBER)
abs_p.abstract_eval = _abs_aval
defjvp(abs_p, _abs_tangent)


def abs(x: Any) -> Any:  # noqa: A001  (jax.lax name)
    """``|x|`` elementwise (a real array for complex `x`)."""
    return abs_p.bind(x)


sign_p = unary("sign", np.sign, NUMBER, ufunc_kinds=REAL_NUMBER)
defjvp_zero(sign_p)


def sign(x: Any) -> Any:
    """-1, 0 or 1 according to the sign of `x` (NaN for NaN; ``x / |x|`` for complex)."""
    return sign_p.bind(x)


square_p = unary("square", np.square, NUMBER, ufunc_kinds=NUMBER)
defjvp(square_p, lambda t, x: mul(t, mul(x, 2)))


def square(x: Any) -> Any:
    """``x * x`` elementwise."""
    return square_p.bind(x)


def _integer_pow_aval(x: ShapedArray, *, y: int) -> ShapedArray:
    _check_kind("integer_pow", "x", x, NUMBER)
    if y < 0 and x.dtype.kind in INT:
        raise TypeError(f"integer_pow: a negative exponent y={y} needs a floating-point x, "
                        f"got {x.str_short()}")
    return x  # weak type included (JAX's rule); avals are immutable: share it


def _integer_pow_jvp(primals, tangents, *, y):
    (x,), (t,) = primals, tangents
    out = integer_pow(x, y)
    if type(t) is Zero or y == 0:
        return out, Zero(get_aval(out).to_tangent_aval())
    if y == 1:
        return out, t
    return out, mul(t, mul(integer_pow(x, y - 1), y))


integer_pow_p = unary("integer_pow", lambda x, *, y, xp=np: xp.pow(x, y))
integer_pow_p.abstract_eval = _integer_pow_aval
integer_pow_p.jvp = _integer_pow_jvp


def integer_pow(x: Any, y: int) -> Any:
    """``x ** y`` for a static Python integer `y`, as ``lax.integer_pow``."""
    try:
        y = operator.index(y)
    except TypeError:
        raise TypeError(f"integer_pow: the exponent y must be a Python int, got {y!r} of type "
                        f"{type(y).__name__}; use lax.pow for array exponents") from None
    if y == 1:
        return x
    return integer_pow_p.bind(x, y=y)


def reciprocal(x: Any) -> Any:
    """``1 / x`` elementwise."""
    return integer_pow(x, -1)


def _pow_aval(x: ShapedArray, y: ShapedArray) -> ShapedArray:
    _check_kind("pow", "x", x, INEXACT)
    if x.shape != y.shape or (y.dtype != x.dtype and y.dtype.kind not in INT):
        raise TypeError(f"pow requires operands of equal shape, with y of x's dtype or an "
                        f"integer dtype, got x: {x.str_short()}, y: {y.str_short()}")
    return weak_type_rule(ShapedArray(x.shape, x.dtype), x, y)


def _pow_dx(t, x, y):
    y = convert_element_type(y, get_aval(x).dtype)
    # d/dx x**0 is 0 everywhere, also at x = 0 where x**-1 is infinite
    safe_y = select(eq(y, 0.0), _full_like(y, 1), y)
    return mul(t, mul(y, pow(x, sub(safe_y, 1.0))))


def _pow_dy(t, ans, x, y):
    # x == 0 contributes 0 (the limit for y > 0), as JAX does
    safe_x = select(eq(x, 0.0), _full_like(x, 1), x)
    return mul(t, mul(log(safe_x), ans))


pow_p = nary("pow", np.power, ufunc_kinds=INEXACT)
pow_p.abstract_eval = _pow_aval
defjvp2(pow_p,
        lambda t, ans, x, y: _pow_dx(t, x, y),
        _pow_dy)


def pow(x: Any, y: Any) -> Any:  # noqa: A001  (jax.lax name)
    """``x ** y`` elementwise for array `y` (of x's dtype or an integer dtype)."""
    return _binary(pow_p, x, y)


def _broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    return primitives.structural.broadcast_in_dim(x, shape, ())


sqrt_p = unary("sqrt", np.sqrt, INEXACT, ufunc_kinds=INEXACT)
defjvp2(sqrt_p, lambda t, ans, x: div(t, mul(ans, 2.0)))


def sqrt(x: Any) -> Any:
    """Square root."""
    return sqrt_p.bind(x)


rsqrt_p = unary("rsqrt", lambda x, *, xp=np: 1 / xp.sqrt(x), INEXACT)
defjvp2(rsqrt_p, lambda t, ans, x: mul(t, mul(div(ans, x), -0.5)))


def rsqrt(x: Any) -> Any:
    """``1 / sqrt(x)``."""
    return rsqrt_p.bind(x)


cbrt_p = unary("cbrt", np.cbrt, FLOAT, ufunc_kinds=FLOAT)
defjvp2(cbrt_p, lambda t, ans, x: mul(t, mul(integer_pow(ans, -2), 1.0 / 3.0)))


def cbrt(x: Any) -> Any:
    """Real cube root."""
    return cbrt_p.bind(x)


# ------------------------------------------------------------------ exponentials, logarithms

exp_p = unary("exp", np.exp, INEXACT, ufunc_kinds=INEXACT)
defjvp2(exp_p, lambda t, ans, x: mul(t, ans))


def exp(x: Any) -> Any:
    """``e ** x``."""
    return exp_p.bind(x)


exp2_p = unary("exp2", np.exp2, INEXACT, ufunc_kinds=INEXACT)
defjvp2(exp2_p, lambda t, ans, x: mul(t, mul(ans, math.log(2.0))))


def exp2(x: Any) -> Any:
    """``2 ** x``."""
    return exp2_p.bind(x)


expm1_p = unary("expm1", np.expm1, INEXACT, ufunc_kinds=INEXACT)
defjvp2(expm1_p, lambda t, ans, x: mul(t, add(ans, 1.0)))


def expm1(x: Any) -> Any:
    """``exp(x) - 1``, accurate for small `x`."""
    return expm1_p.bind(x)


log_p = unary("log", np.log, INEXACT, ufunc_kinds=INEXACT)
defjvp(log_p, lambda t, x: div(t, x))


def log(x: Any) -> Any:
    """Natural logarithm."""
    return log_p.bind(x)


log1p_p = unary("log1p", np.log1p, INEXACT, ufunc_kinds=INEXACT)
defjvp(log1p_p, lambda t, x: div(t, add(x, 1.0)))


def log1p(x: Any) -> Any:
    """``log(1 + x)``, accurate for small `x`."""
    return log1p_p.bind(x)


def _logistic_impl(x: Any, *, xp: Any = np) -> Any:
    x = xp.asarray(x)
    if get_aval(x).dtype.kind == "c":
        return 1 / (1 + xp.exp(-x))
    # exp of a non-positive number never overflows
    decay = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + decay), decay / (1 + decay))


logistic_p = unary("logistic", _logistic_impl, INEXACT)
defjvp2(logistic_p, lambda t, ans, x: mul(t, mul(ans, sub(1.0, ans))))


def logistic(x: Any) -> Any:
    """The sigmoid ``1 / (1 + exp(-x))``, computed without overflow."""
    return logistic_p.bind(x)


# ------------------------------------------------------------------ trigonometric

sin_p = unary("sin", np.sin, INEXACT, ufunc_kinds=INEXACT)
defjvp(sin_p, lambda t, x: mul(t, cos(x)))


def sin(x: Any) -> Any:
    """Sine."""
    return sin_p.bind(x)


cos_p = unary("cos", np.cos, INEXACT, ufunc_kinds=INEXACT)
defjvp(cos_p, lambda t, x: mul(t, neg(sin(x))))


def cos(x: Any) -> Any:
    """Cosine."""
    return cos_p.bind(x)


tan_p = unary("tan", np.tan, INEXACT, ufunc_kinds=INEXACT)
defjvp2(tan_p, lambda t, ans, x: mul(t, add(square(ans), 1.0)))


def tan(x: Any) -> Any:
    """Tangent."""
    return tan_p.bind(x)


def _one_minus_square(x: Any) -> Any:
    # (1 - x)(1 + x) keeps its relative accuracy near |x| = 1, unlike 1 - x*x
    return mul(sub(1.0, x), add(1.0, x))


asin_p = unary("asin", np.arcsin, INEXACT, ufunc_kinds=INEXACT)
defjvp(asin_p, lambda t, x: mul(t, rsqrt(_one_minus_square(x))))


def asin(x: Any) -> Any:
    """Inverse sine."""
    return asin_p.bind(x)


acos_p = unary("acos", np.arccos, INEXACT, ufunc_kinds=INEXACT)
defjvp(acos_p, lambda t, x: mul(t, neg(rsqrt(_one_minus_square(x)))))


def acos(x: Any) -> Any:
    """Inverse cosine."""
    return acos_p.bind(x)


atan_p = unary("atan", np.arctan, INEXACT, ufunc_kinds=INEXACT)
defjvp(atan_p, lambda t, x: div(t, add(square(x), 1.0)))


def atan(x: Any) -> Any:
    """Inverse tangent."""
    return atan_p.bind(x)


def _atan2_denominator(x: Any, y: Any) -> Any:
    return add(square(x), square(y))


atan2_p = nary("atan2", np.arctan2, FLOAT, ufunc_kinds=FLOAT)
defjvp(atan2_p,
       lambda t, x, y: mul(t, div(y, _atan2_denominator(x, y))),
       lambda t, x, y: mul(t, neg(div(x, _atan2_denominator(x, y)))))


def atan2(x: Any, y: Any) -> Any:
    """The angle of the point ``(y, x)``: ``atan(x / y)`` in the right quadrant."""
    return _binary(atan2_p, x, y)


# ------------------------------------------------------------------ hyperbolic

sinh_p = unary("sinh", np.sinh, INEXACT, ufunc_kinds=INEXACT)
defjvp(sinh_p, lambda t, x: mul(t, cosh(x)))


def sinh(x: Any) -> Any:
    """Hyperbolic sine."""
    return sinh_p.bind(x)


cosh_p = unary("cosh", np.cosh, INEXACT, ufunc_kinds=INEXACT)
defjvp(cosh_p, lambda t, x: mul(t, sinh(x)))


def cosh(x: Any) -> Any:
    """Hyperbolic cosine."""
    return cosh_p.bind(x)


tanh_p = unary("tanh", np.tanh, INEXACT, ufunc_kinds=INEXACT)
defjvp2(tanh_p, lambda t, ans, x: mul(t, sub(1.0, square(ans))))


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return tanh_p.bind(x)


asinh_p = unary("asinh", np.arcsinh, INEXACT, ufunc_kinds=INEXACT)
defjvp(asinh_p, lambda t, x: mul(t, rsqrt(add(square(x), 1.0))))


def asinh(x: Any) -> Any:
    """Inverse hyperbolic sine."""
    return asinh_p.bind(x)


acosh_p = unary("acosh", np.arccosh, INEXACT, ufunc_kinds=INEXACT)
defjvp(acosh_p, lambda t, x: mul(t, rsqrt(mul(sub(x, 1.0), add(x, 1.0)))))


def acosh(x: Any) -> Any:
    """Inverse hyperbolic cosine (defined for x >= 1)."""
    return acosh_p.bind(x)


atanh_p = unary("atanh", np.arctanh, INEXACT, ufunc_kinds=INEXACT)
defjvp(atanh_p, lambda t, x: div(t, _one_minus_square(x)))


def atanh(x: Any) -> Any:
    """Inverse hyperbolic tangent (defined for |x| < 1)."""
    return atanh_p.bind(x)


# ------------------------------------------------------------------ erf, erfc, erf_inv

def _special_impl(f64_fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Any], Any]:
    """Evaluate on a flat float64 copy (accurate for every float dtype); return
    x's shape and dtype."""
    def impl(x: Any) -> Any:
        x = np.asarray(x)
        flat = f64_fn(x.astype(np.float64).ravel())
        return flat.reshape(x.shape).astype(x.dtype, copy=False)
    return impl


erf_p = unary("erf", _special_impl(erf_f64), FLOAT)
defjvp(erf_p, lambda t, x: mul(t, mul(exp(neg(square(x))), TWO_OVER_SQRT_PI)))


def erf(x: Any) -> Any:
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t**2) dt``."""
    return erf_p.bind(x)


erfc_p = unary("erfc", _special_impl(erfc_f64), FLOAT)
defjvp(erfc_p, lambda t, x: mul(t, mul(exp(neg(square(x))), -TWO_OVER_SQRT_PI)))


def erfc(x: Any) -> Any:
    """``1 - erf(x)``, accurate where erf(x) is close to 1."""
    return erfc_p.bind(x)


erf_inv_p = unary("erf_inv", _special_impl(erf_inv_f64), FLOAT)
defjvp2(erf_inv_p,
        lambda t, ans, x: mul(t, mul(exp(square(ans)), math.sqrt(math.pi) / 2.0)))


def erf_inv(x: Any) -> Any:
    """The inverse of erf on (-1, 1) (±inf at ±1, NaN outside)."""
    return erf_inv_p.bind(x)


# ------------------------------------------------------------------ rounding, inspection

floor_p = unary("floor", np.floor, FLOAT, ufunc_kinds=FLOAT)
defjvp_zero(floor_p)


def floor(x: Any) -> Any:
    """Largest integer-valued float <= x."""
    return floor_p.bind(x)


ceil_p = unary("ceil", np.ceil, FLOAT, ufunc_kinds=FLOAT)
defjvp_zero(ceil_p)


def ceil(x: Any) -> Any:
    """Smallest integer-valued float >= x."""
    return ceil_p.bind(x)


class RoundingMethod(enum.IntEnum):
    """How :func:`round` breaks ties, with ``jax.lax.RoundingMethod``'s values."""

    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def _round_impl(x: Any, *, rounding_method: RoundingMethod, xp: Any = np) -> Any:
    if rounding_method == RoundingMethod.TO_NEAREST_EVEN:
        return xp.round(x)  # halves to even, in NumPy and the Array API
    whole = xp.trunc(x)
    fraction = xp.subtract(x, whole)   # exact in floating point
    return whole + xp.where(xp.abs(fraction) >= 0.5, xp.sign(x), xp.zeros_like(whole))


round_p = unary("round", _round_impl, FLOAT)
defjvp_zero(round_p)


def round(x: Any, rounding_method: Any = RoundingMethod.AWAY_FROM_ZERO) -> Any:  # noqa: A001
    """Round to the nearest integer; ties away from zero (method 0) or to even (1)."""
    try:
        method = RoundingMethod(int(rounding_method))
    except (TypeError, ValueError):
        raise ValueError(f"round: rounding_method must be RoundingMethod.AWAY_FROM_ZERO (0) "
                         f"or RoundingMethod.TO_NEAREST_EVEN (1), got {rounding_method!r}"
                         ) from None
    return round_p.bind(x, rounding_method=method)


is_finite_p = unary("is_finite", np.isfinite, FLOAT, out_dtype=np.bool_)
defjvp_zero(is_finite_p)


def is_finite(x: Any) -> Any:
    """True where `x` is neither infinite nor NaN."""
    return is_finite_p.bind(x)


nextafter_p = nary("nextafter", np.nextafter, FLOAT, ufunc_kinds=FLOAT)
defjvp_zero(nextafter_p)


def nextafter(x1: Any, x2: Any) -> Any:
    """The next representable value after `x1` in the direction of `x2`."""
    return _binary(nextafter_p, x1, x2)


# ------------------------------------------------------------------ comparisons

def _comparison(name: str, impl: Any, kinds: str) -> Primitive:
    p = nary(name, impl, kinds, out_dtype=np.bool_)
    defjvp_zero(p)
    return p


eq_p = _comparison("eq", np.equal, ANY)
ne_p = _comparison("ne", np.not_equal, ANY)
lt_p = _comparison("lt", np.less, ORDERED)
le_p = _comparison("le", np.less_equal, ORDERED)
gt_p = _comparison("gt", np.greater, ORDERED)
ge_p = _comparison("ge", np.greater_equal, ORDERED)


def eq(x: Any, y: Any) -> Any:
    """``x == y`` elementwise (bool)."""
    return _binary(eq_p, x, y)


def ne(x: Any, y: Any) -> Any:
    """``x != y`` elementwise (bool)."""
    return _binary(ne_p, x, y)


def lt(x: Any, y: Any) -> Any:
    """``x < y`` elementwise (bool)."""
    return _binary(lt_p, x, y)


def le(x: Any, y: Any) -> Any:
    """``x <= y`` elementwise (bool)."""
    return _binary(le_p, x, y)


def gt(x: Any, y: Any) -> Any:
    """``x > y`` elementwise (bool)."""
    return _binary(gt_p, x, y)


def ge(x: Any, y: Any) -> Any:
    """``x >= y`` elementwise (bool)."""
    return _binary(ge_p, x, y)


# ------------------------------------------------------------------ logical / bitwise

# Logical for bool operands, bitwise for integers (as jax.lax's and_p, or_p, ...).
and_p = nary("and", np.bitwise_and, BOOL_OR_INT)
defjvp_zero(and_p)
or_p = nary("or", np.bitwise_or, BOOL_OR_INT)
defjvp_zero(or_p)
xor_p = nary("xor", np.bitwise_xor, BOOL_OR_INT)
defjvp_zero(xor_p)
not_p = unary("not", np.invert, BOOL_OR_INT)
defjvp_zero(not_p)


def bitwise_and(x: Any, y: Any) -> Any:
    """Logical and of bools, bitwise and of integers."""
    return _binary(and_p, x, y)


def bitwise_or(x: Any, y: Any) -> Any:
    """Logical or of bools, bitwise or of integers."""
    return _binary(or_p, x, y)


def bitwise_xor(x: Any, y: Any) -> Any:
    """Logical xor of bools, bitwise xor of integers."""
    return _binary(xor_p, x, y)


def bitwise_not(x: Any) -> Any:
    """Logical not of bools, bitwise complement of integers."""
    return not_p.bind(x)


and_, or_, xor, not_ = bitwise_and, bitwise_or, bitwise_xor, bitwise_not


# ------------------------------------------------------------------ select_n

def _select_n_aval(which: ShapedArray, *cases: ShapedArray) -> ShapedArray:
    if not cases:
        raise TypeError("select_n requires at least one case")
    _check_equal_avals("select_n", cases)
    if which.dtype.kind not in BOOL_OR_INT:
        raise TypeError(f"select_n: which must be bool or integer, got {which.str_short()}")
    if which.dtype.kind == "b" and len(cases) > 2:
        raise TypeError(f"select_n: a bool which selects between at most 2 cases, got "
                        f"{len(cases)}; use an integer which")
    if which.shape != cases[0].shape:
        raise TypeError(f"select_n: which {which.str_short()} must have the shape of the "
                        f"cases {cases[0].str_short()} (or be a scalar, for lax.select_n)")
    return weak_type_rule(cases[0], *cases)


def _select_n_impl(which: Any, *cases: Any, xp: Any = np) -> Any:
    which = xp.asarray(which)
    if get_aval(which).dtype == np.bool_:
        return xp.where(which, cases[-1], cases[0])
    chosen = xp.asarray(cases[0])
    for i, case in enumerate(cases[1:], start=1):   # a loop over cases, not elements
        chosen = xp.where(which == i, case, chosen)
    return chosen


def _select_n_jvp(primals, tangents):
    which, *cases = primals
    out = select_n_p.bind(which, *cases)
    case_tangents = tangents[1:]
    if all(type(t) is Zero for t in case_tangents):
        return out, Zero(get_aval(out).to_tangent_aval())
    return out, select_n_p.bind(which, *[instantiate_zeros(t) for t in case_tangents])


def _select_n_transpose(ct, which, *cases):
    if is_undefined_primal(which):
        raise TypeError("select_n: the selector `which` is not a linear argument")
    zeros = _full_like(ct, 0)
    cts: list[Any] = [None]
    for i, case in enumerate(cases):
        if not is_undefined_primal(case):
            cts.append(None)
            continue
        cts.append(select_n_p.bind(which, *[ct if j == i else zeros
                                            for j in range(len(cases))]))
    return cts


select_n_p = Primitive("select_n")
def _select_n_checked_impl(which: Any, *cases: Any) -> Any:
    first = cases[0]
    try:
        ok = (which.shape == first.shape and which.dtype.kind in "biu"
              and all(c.shape == first.shape and c.dtype == first.dtype for c in cases))
    except AttributeError:
        ok = False
    if not ok:  # raises the shape rule's error, or accepts scalar-like operands
        _select_n_aval(*[get_aval(a) for a in (which, *cases)])
    return _select_n_impl(which, *cases)


select_n_p.impl = _select_n_checked_impl
_select_n_checked_impl.array_api_impl = _select_n_impl  # type: ignore[attr-defined]
select_n_p.abstract_eval = _select_n_aval
select_n_p.jvp = _select_n_jvp
select_n_p.transpose = _select_n_transpose
select_n_p.linear = True
defbroadcasting(select_n_p)


def _as_selector(which: Any) -> Any:
    if dtypes.is_python_scalar(which):
        if isinstance(which, bool):
            return np.asarray(which)
        if isinstance(which, int):
            return np.asarray(which, np.int32)
        raise TypeError(f"select_n: which must be bool or integer, got {which!r}")
    return which


def select_n(which: Any, *cases: Any) -> Any:
    """``cases[which]`` elementwise, as ``lax.select_n``: a bool `which` picks
    ``cases[1]`` where True; an integer `which` indexes the cases. `which` may
    be a scalar; Python scalar cases take the dtype of the array cases."""
    which = _as_selector(which)
    cases = tuple(_coerce_operands("select_n", *cases))
    which_shape, case_shape = get_aval(which).shape, get_aval(cases[0]).shape
    if which_shape != case_shape:
        if which_shape == ():
            which = _broadcast_to(which, case_shape)
        elif case_shape == () and all(get_aval(c).shape == () for c in cases):
            cases = tuple(_broadcast_to(c, which_shape) for c in cases)
    return select_n_p.bind(which, *cases)


def select(pred: Any, on_true: Any, on_false: Any) -> Any:
    """`on_true` where `pred` holds, else `on_false` (as ``lax.select``)."""
    return select_n(pred, on_false, on_true)


# ------------------------------------------------------------------ clamp

def _clamp_impl(low: Any, x: Any, high: Any, *, xp: Any = np) -> Any:
    return xp.minimum(xp.maximum(x, low), high)


def _clamp_low_tangent(t, low, x, high):
    # the lower bound is the result where it lies above x and below the upper bound
    return _tangent_where(bitwise_and(lt(x, low), lt(low, high)), t)


def _clamp_x_tangent(t, low, x, high):
    return _tangent_where(bitwise_and(lt(low, x), lt(x, high)), t)


def _clamp_high_tangent(t, low, x, high):
    # the upper bound is the result where it lies below both x and the lower bound
    return _tangent_where(lt(high, max(x, low)), t)


clamp_p = nary("clamp", _clamp_impl, ORDERED)
defjvp(clamp_p, _clamp_low_tangent, _clamp_x_tangent, _clamp_high_tangent)


def clamp(min: Any, x: Any, max: Any) -> Any:  # noqa: A002  (jax.lax signature)
    """`x` limited to ``[min, max]``: ``minimum(maximum(x, min), max)``. `min` and
    `max` may be scalars (Python or rank-0 arrays); they broadcast to `x`."""
    x, low, high = _coerce_operands("clamp", x, min, max)
    shape = get_aval(x).shape
    low, high = (_broadcast_to(b, shape) if get_aval(b).shape == () and shape != () else b
                 for b in (low, high))
    return clamp_p.bind(low, x, high)


# ------------------------------------------------------------------ complex numbers
# Cotangents follow JAX's convention (the pairing Re(sum(ct * t)), no conjugate),
# the one mul's transpose ``ct * y`` already uses.

def _real_part_aval(name: str):
    def rule(x: ShapedArray) -> ShapedArray:
        _check_kind(name, "x", x, COMPLEX)
        return ShapedArray(x.shape, np.finfo(x.dtype).dtype)
    return rule


def _complex_aval(x: ShapedArray, y: ShapedArray) -> ShapedArray:
    _check_equal_avals("complex", (x, y))
    _check_kind("complex", "each operand", x, FLOAT)
    return ShapedArray(x.shape, np.result_type(x.dtype, np.complex64))


def _complex_impl(x: Any, y: Any) -> Any:
    x, y = np.asarray(x), np.asarray(y)
    out = np.empty(x.shape, np.result_type(x.dtype, np.complex64))
    out.real, out.imag = x, y
    return out


complex_p = nary("complex", _complex_impl)
complex_p.abstract_eval = _complex_aval
deflinear(complex_p, lambda ct, x, y: [real(ct), neg(imag(ct))])


def complex(x: Any, y: Any) -> Any:  # noqa: A001  (jax.lax name)
    """``x + i y`` from real arrays of equal shape and dtype."""
    return _binary(complex_p, x, y)


real_p = unary("real", lambda x, *, xp=np: xp.real(x), COMPLEX)
real_p.abstract_eval = _real_part_aval("real")
deflinear(real_p, lambda ct, x: [complex(ct, _full_like(ct, 0))])


def real(x: Any) -> Any:
    """The real part of a complex array."""
    return real_p.bind(x)


imag_p = unary("imag", lambda x, *, xp=np: xp.imag(x), COMPLEX)
imag_p.abstract_eval = _real_part_aval("imag")
deflinear(imag_p, lambda ct, x: [complex(_full_like(ct, 0), neg(ct))])


def imag(x: Any) -> Any:
    """The imaginary part of a complex array."""
    return imag_p.bind(x)


conj_p = unary("conj", np.conjugate, COMPLEX, ufunc_kinds=COMPLEX)
deflinear(conj_p, lambda ct, x: [conj(ct)])


def conj(x: Any) -> Any:
    """The complex conjugate of a complex array."""
    return conj_p.bind(x)


# ------------------------------------------------------------------ dtype conversion

def _convert_aval(x, *, new_dtype, weak_type=False):
    return ShapedArray(x.shape, new_dtype, weak_type)


def _convert_impl(x, *, new_dtype, weak_type=False, xp=np):
    if xp is not np:  # another library: its backend casts to the shape rule's dtype
        return x
    return np.asarray(x).astype(new_dtype, copy=False)


def _convert_jvp(primals, tangents, *, new_dtype, weak_type=False):
    (x,), (t,) = primals, tangents
    weak = {"weak_type": True} if weak_type else {}
    out = convert_element_type_p.bind(x, new_dtype=new_dtype, **weak)
    if type(t) is Zero or not dtypes.is_float(new_dtype):
        return out, Zero(ShapedArray(get_aval(out).shape, dtypes.tangent_dtype(new_dtype)))
    return out, convert_element_type_p.bind(t, new_dtype=new_dtype)


def _convert_transpose(ct, x, *, new_dtype, weak_type=False):
    if get_aval(ct).dtype.kind == "c" and x.aval.dtype.kind != "c":
        ct = real(ct)  # the cotangent of a real input is real: drop the imaginary part
    return [convert_element_type_p.bind(ct, new_dtype=x.aval.dtype)]


convert_element_type_p = unary("convert_element_type", _convert_impl)
convert_element_type_p.abstract_eval = _convert_aval
convert_element_type_p.impl = _convert_impl  # exact by construction; hot in promotion
convert_element_type_p.jvp = _convert_jvp
convert_element_type_p.transpose = _convert_transpose
convert_element_type_p.linear = True


def convert_element_type(x: Any, new_dtype: Any, weak_type: bool = False) -> Any:
    """Cast `x` to `new_dtype` (as ``lax.convert_element_type``). `weak_type`: the
    result promotes like a Python scalar (what promotion of weakly-typed values
    gives, as in JAX); the parameter is staged only when true."""
    new_dtype = np.dtype(new_dtype)
    aval = get_aval(x)
    if aval.dtype == new_dtype and aval.weak_type == weak_type:
        return x
    if weak_type:
        return convert_element_type_p.bind(x, new_dtype=new_dtype, weak_type=True)
    return convert_element_type_p.bind(x, new_dtype=new_dtype)


# ------------------------------------------------------------------ stop_gradient

stop_gradient_p = unary("stop_gradient", lambda x, *, xp=np: x)
defjvp_zero(stop_gradient_p)


def stop_gradient(x: Any) -> Any:
    """`x`, with a zero derivative: no gradient flows through (as
    ``lax.stop_gradient``). Applies leaf-wise to pytrees."""
    return tree_map(lambda leaf: stop_gradient_p.bind(
        np.asarray(leaf) if dtypes.is_python_scalar(leaf) else leaf), x)
