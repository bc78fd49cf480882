"""softmax, log_softmax and logsumexp, shared by ``functrans.nn`` and
``functrans.scipy.special``.

Both public modules expose these functions (as ``jax.nn`` and
``jax.scipy.special`` do); keeping the one implementation here, below both,
means neither has to import the other.

Every version shifts its input by a ``stop_gradient`` maximum, which keeps
``exp`` finite for large inputs and leaves the derivatives exact. The
maximum has ``-inf`` as its initial value, so an empty or fully masked axis
gives a shift (of 0) instead of an error, and the result is empty (softmax)
or ``-inf`` (logsumexp), as in JAX. ``logsumexp`` without ``b`` has a custom
JVP rule, the softmax weights, which stay finite where entries are infinite;
``softmax`` without ``where`` has JAX's, written with its output, and
``log_softmax`` without ``where`` the same one for the logarithm.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from functrans.higher_order.custom_derivatives import custom_jvp, traceable_rule
from functrans.numpy import _reductions, _shape, _ufuncs
from functrans.numpy._lax import lax
from functrans.numpy._util import (
    Array,
    as_array,
    asarray_arg,
    canonicalize_axis,
    cast,
    dtype_of,
    promote_args_inexact,
    quiet,
    shape_of,
    to_inexact_dtype,
)
from functrans.transforms.tape import one_entry


def _inexact(x: Any, fname: str) -> Array:
    x = as_array(asarray_arg(x, fname, "x"))
    return cast(x, to_inexact_dtype(dtype_of(x)))


def _finite_shift(x: Array, axis: Any, where: Any = None) -> Array:
    """The maximum of `x` along `axis` (kept), 0 where it is not finite; a
    constant, so that the shift changes no derivative."""
    shift = _reductions.max(x, axis=axis, keepdims=True, where=where, initial=-np.inf)
    return lax.stop_gradient(_ufuncs.where(_ufuncs.isfinite(shift), shift, 0))


@one_entry(1)
@quiet
def softmax(x: Any, axis: Any = -1, where: Any = None) -> Array:
    """``exp(x) / sum(exp(x), axis)``, shifted by the maximum for stability.
    `where` masks elements out (they get probability 0). Without `where`, its
    derivative is JAX's rule ``y (x' - sum(y x', axis))`` of the output y (one
    product and one sum instead of differentiating every step)."""
    x = _inexact(x, "softmax")
    if where is None:
        return _softmax(x, _normalize_axes(axis, len(shape_of(x))))
    unnormalized = _ufuncs.exp(_ufuncs.subtract(x, _finite_shift(x, axis, where)))
    if where is not None:
        unnormalized = _ufuncs.where(where, unnormalized, 0)
    total = _reductions.sum(unnormalized, axis=axis, keepdims=True)
    return _ufuncs.divide(unnormalized, total)


@traceable_rule
@partial(custom_jvp, nondiff_argnums=(1,))
def _softmax(x: Array, axes: tuple[int, ...]) -> Array:
    unnormalized = _ufuncs.exp(_ufuncs.subtract(x, _finite_shift(x, axes)))
    return _ufuncs.divide(unnormalized, _reductions.sum(unnormalized, axis=axes, keepdims=True))


@_softmax.defjvp
def _softmax_jvp(axes: tuple[int, ...], primals: tuple, tangents: tuple
                 ) -> tuple[Array, Array]:
    (x,), (x_dot,) = primals, tangents
    y = _softmax(x, axes)
    weighted = _reductions.sum(_ufuncs.multiply(y, x_dot), axis=axes, keepdims=True)
    return y, _ufuncs.multiply(y, _ufuncs.subtract(x_dot, weighted))


@traceable_rule
@partial(custom_jvp, nondiff_argnums=(1,))
def _log_softmax(x: Array, axes: tuple[int, ...]) -> Array:
    shifted = _ufuncs.subtract(x, _finite_shift(x, axes))
    total = _reductions.sum(_ufuncs.exp(shifted), axis=axes, keepdims=True)
    return _ufuncs.subtract(shifted, _ufuncs.log(total))


@_log_softmax.defjvp
def _log_softmax_jvp(axes: tuple[int, ...], primals: tuple, tangents: tuple
                     ) -> tuple[Array, Array]:
    (x,), (x_dot,) = primals, tangents
    y = _log_softmax(x, axes)
    weighted = _reductions.sum(_ufuncs.multiply(_ufuncs.exp(y), x_dot), axis=axes,
                               keepdims=True)
    return y, _ufuncs.subtract(x_dot, weighted)


@one_entry(1)
@quiet
def log_softmax(x: Any, axis: Any = -1, where: Any = None) -> Array:
    """``x - logsumexp(x, axis)``, shifted by the maximum for stability. Without
    `where`, its derivative is ``x' - sum(softmax(x) x', axis)`` (a rule of its own:
    one product and one sum instead of differentiating every step)."""
    x = _inexact(x, "log_softmax")
    if where is None:
        return _log_softmax(x, _normalize_axes(axis, len(shape_of(x))))
    shifted = _ufuncs.subtract(x, _finite_shift(x, axis, where))
    total = _reductions.sum(_ufuncs.exp(shifted), axis=axis, keepdims=True, where=where)
    out = _ufuncs.subtract(shifted, _ufuncs.log(total))
    return out if where is None else _ufuncs.where(where, out, -np.inf)


@one_entry(1)
@quiet
def logsumexp(a: Any, axis: Any = None, b: Any = None, keepdims: bool = False,
              return_sign: bool = False, where: Any = None) -> Any:
    """``log(sum(b * exp(a), axis))`` without overflow.

    `b` scales the terms (it may be negative; with ``return_sign=True`` the
    result is ``(log|sum|, sign(sum))``, else a negative sum gives nan).
    `where` masks out elements. Without `b`, a custom JVP rule gives the
    derivative as the softmax weights, which stay finite where entries are
    infinite (all ``-inf``: zero weights; ``+inf`` entries share the weight)."""
    if b is None and not return_sign:
        a = _inexact(a, "logsumexp")
        axes = _normalize_axes(axis, len(shape_of(a)))
        if where is not None:
            a = _ufuncs.where(where, a, -np.inf)
        return _logsumexp(a, axes, bool(keepdims))
    return _scaled_logsumexp(a, axis, b, keepdims, return_sign, where)


def _scaled_logsumexp(a: Any, axis: Any, b: Any, keepdims: bool, return_sign: bool,
                      where: Any) -> Any:
    """logsumexp with weights `b` or a sign: differentiated through its parts,
    as the softmax-weight rule does not hold for negative weights."""
    if b is not None:
        a, b = promote_args_inexact("logsumexp", a, b)
    else:
        a = _inexact(a, "logsumexp")
    shift = _finite_shift(a, axis, where)
    terms = _ufuncs.exp(_ufuncs.subtract(a, shift))
    if b is not None:
        terms = _ufuncs.multiply(terms, b)
    total = _reductions.sum(terms, axis=axis, keepdims=keepdims, where=where)
    if not keepdims:
        shift = lax.reshape(shift, shape_of(total))
    if return_sign:
        return _ufuncs.add(_ufuncs.log(_ufuncs.abs(total)), shift), _ufuncs.sign(total)
    return _ufuncs.add(_ufuncs.log(total), shift)


def _normalize_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """`axis` as a sorted tuple: the custom JVP rule takes it as a static
    (hashable) argument."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(sorted({canonicalize_axis(ax, ndim, "logsumexp") for ax in axes}))


@traceable_rule
@partial(custom_jvp, nondiff_argnums=(1, 2))
def _logsumexp(a: Array, axes: tuple[int, ...], keepdims: bool) -> Array:
    shift = _finite_shift(a, axes)
    total = _reductions.sum(_ufuncs.exp(_ufuncs.subtract(a, shift)), axis=axes, keepdims=True)
    out = _ufuncs.add(_ufuncs.log(total), shift)
    return out if keepdims else _shape.squeeze(out, axis=axes)


@_logsumexp.defjvp
def _logsumexp_jvp(axes: tuple[int, ...], keepdims: bool, primals: tuple, tangents: tuple
                   ) -> tuple[Array, Array]:
    (a,), (a_dot,) = primals, tangents
    weights = _softmax_weights(a, axes)
    tangent = _reductions.sum(_ufuncs.multiply(weights, a_dot), axis=axes, keepdims=keepdims)
    return _logsumexp(a, axes, keepdims), tangent


def _softmax_weights(a: Array, axes: tuple[int, ...]) -> Array:
    """``exp(a - logsumexp(a))`` along `axes`, finite for infinite entries."""
    top = _reductions.max(a, axis=axes, keepdims=True, initial=-np.inf)
    at_inf = cast(_ufuncs.equal(a, np.inf), dtype_of(a))
    terms = _ufuncs.where(_ufuncs.equal(top, np.inf), at_inf,
                          _ufuncs.exp(_ufuncs.subtract(a, _finite_shift(a, axes))))
    total = _reductions.sum(terms, axis=axes, keepdims=True)
    nonempty = _ufuncs.greater(total, 0)
    # double where: the division only ever sees a positive total
    return _ufuncs.where(nonempty, _ufuncs.divide(terms, _ufuncs.where(nonempty, total, 1)), 0)
