"""Elementwise primitives and their rules.

Operands of an n-ary elementwise primitive have equal shapes and dtypes: the
NumPy-facing layer (:mod:`functrans.numpy`) inserts the broadcasts and casts,
so gradients reduce back to each input's shape exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrans.core.avals import ShapedArray
from functrans.core.primitive import Primitive
from functrans.primitives.rules import (defbilinear, defbroadcasting, defjvp, defjvp2, defjvp_zero,
                                        deflinear, defvectorized, is_undefined)


# ------------------------------------------------------------------ shape rules

def _unary_aval(x: ShapedArray, **_: Any) -> ShapedArray:
    return ShapedArray(x.shape, x.dtype)


def _nary_aval(name: str):
    def rule(*avals: ShapedArray, **_: Any) -> ShapedArray:
        first = avals[0]
        for a in avals[1:]:
            if a.shape != first.shape or a.dtype != first.dtype:
                raise TypeError(
                    f"{name} requires operands of equal shape and dtype, got "
                    f"{', '.join(x.str_short() for x in avals)} (functrans.numpy broadcasts "
                    "and promotes; functrans.lax does not)")
        return ShapedArray(first.shape, first.dtype)
    return rule


def unary(name: str, impl: Any) -> Primitive:
    """An elementwise one-operand primitive with its shape and batching rules."""
    p = Primitive(name)
    p.impl = impl
    p.abstract_eval = _unary_aval
    defvectorized(p)
    return p


def nary(name: str, impl: Any) -> Primitive:
    """An elementwise n-operand primitive with its shape and batching rules."""
    p = Primitive(name)
    p.impl = impl
    p.abstract_eval = _nary_aval(name)
    defbroadcasting(p)
    return p


# ------------------------------------------------------------------ arithmetic

neg_p = unary("neg", np.negative)
deflinear(neg_p, lambda ct, x: [neg(ct)])

add_p = nary("add", np.add)
deflinear(add_p, lambda ct, x, y: [ct, ct])

sub_p = nary("sub", np.subtract)
deflinear(sub_p, lambda ct, x, y: [ct, neg(ct)])

mul_p = nary("mul", np.multiply)
defbilinear(mul_p, lambda ct, x, y: mul(ct, y), lambda ct, x, y: mul(x, ct))


def _div_transpose(ct, x, y):
    if is_undefined(y):
        raise TypeError("div: the divisor of a linear value must not depend on it")
    return [div(ct, y), None]


div_p = nary("div", np.divide)
defjvp(div_p,
       lambda t, x, y: div(t, y),
       lambda t, x, y: mul(t, neg(div(div(x, y), y))))
div_p.transpose = _div_transpose

sin_p = unary("sin", np.sin)
defjvp(sin_p, lambda t, x: mul(t, cos(x)))

cos_p = unary("cos", np.cos)
defjvp(cos_p, lambda t, x: neg(mul(t, sin(x))))

exp_p = unary("exp", np.exp)
defjvp2(exp_p, lambda t, ans, x: mul(t, ans))

log_p = unary("log", np.log)
defjvp(log_p, lambda t, x: div(t, x))


# ------------------------------------------------------------------ lax-level functions

def neg(x: Any) -> Any:
    return neg_p.bind(x)


def add(x: Any, y: Any) -> Any:
    return add_p.bind(x, y)


def sub(x: Any, y: Any) -> Any:
    return sub_p.bind(x, y)


def mul(x: Any, y: Any) -> Any:
    return mul_p.bind(x, y)


def div(x: Any, y: Any) -> Any:
    return div_p.bind(x, y)


def sin(x: Any) -> Any:
    return sin_p.bind(x)


def cos(x: Any) -> Any:
    return cos_p.bind(x)


def exp(x: Any) -> Any:
    return exp_p.bind(x)


def log(x: Any) -> Any:
    return log_p.bind(x)


# ------------------------------------------------------------------ dtype conversion

def _convert_aval(x, *, new_dtype):
    return ShapedArray(x.shape, new_dtype)


def _convert_impl(x, *, new_dtype):
    return np.asarray(x).astype(new_dtype, copy=False)


def _convert_jvp(primals, tangents, *, new_dtype):
    from functrans import dtypes
    from functrans.core.zeros import Zero

    (x,), (t,) = primals, tangents
    out = convert_element_type_p.bind(x, new_dtype=new_dtype)
    if type(t) is Zero or not dtypes.is_float(new_dtype):
        return out, Zero(ShapedArray(np.shape(out) if not hasattr(out, "aval")
                                     else out.aval.shape, dtypes.tangent_dtype(new_dtype)))
    return out, convert_element_type_p.bind(t, new_dtype=new_dtype)


def _convert_transpose(ct, x, *, new_dtype):
    return [convert_element_type_p.bind(ct, new_dtype=x.aval.dtype)]


convert_element_type_p = unary("convert_element_type", _convert_impl)
convert_element_type_p.abstract_eval = _convert_aval
convert_element_type_p.jvp = _convert_jvp
convert_element_type_p.transpose = _convert_transpose
convert_element_type_p.linear = True


def convert_element_type(x: Any, new_dtype: Any) -> Any:
    """Cast `x` to `new_dtype` (as ``lax.convert_element_type``)."""
    from functrans.core.avals import get_aval

    new_dtype = np.dtype(new_dtype)
    aval = get_aval(x)
    if aval.dtype == new_dtype and not aval.weak_type:
        return x
    return convert_element_type_p.bind(x, new_dtype=new_dtype)


# ------------------------------------------------------------------ stop_gradient

stop_gradient_p = unary("stop_gradient", lambda x: x)
defjvp_zero(stop_gradient_p)


def stop_gradient(x: Any) -> Any:
    """`x`, with a zero derivative: no gradient flows through (as
    ``lax.stop_gradient``). Applies leaf-wise to pytrees."""
    from functrans.tree_util import tree_map

    return tree_map(stop_gradient_p.bind, x)
