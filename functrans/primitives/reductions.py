"""Reductions: sum, max, min, prod, and/or, argmax/argmin, and the cumulative
reductions (cumsum, cumprod, cummax, cummin, cumlogsumexp).

Derivatives, in short:

* ``reduce_sum`` and ``cumsum`` are linear; their transposes broadcast back and
  run the cumulative sum the other way.
* ``reduce_max``/``reduce_min``: the tangent is averaged over the positions equal
  to the extremum (as JAX), so ties share the derivative.
* ``reduce_prod``: the tangent is ``sum(t * product of the other entries)``; the
  products of the others come from exclusive cumulative products from both
  ends, with no division, so zeros in the input are handled exactly.
* ``cumprod`` and ``cumlogsumexp``: their tangents obey a first-order linear
  recurrence ``dy[i] = a[i] * dy[i-1] + b[i]``, solved in ceil(log2 n)
  vectorised doubling steps (shifts by padding, products, sums). No division,
  so ``cumprod`` is exact at zeros.
* ``cummax``/``cummin``: the tangent at i is the input tangent at the position of
  the running extremum, gathered with ``take_along_axis`` (see ``sort.py``).
* ``argmax``/``argmin``/``reduce_and``/``reduce_or``: integer or boolean
  results, zero tangents.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive
from functrans.primitives.elementwise import (
    add,
    convert_element_type,
    div,
    eq,
    exp,
    mul,
    select_n,
    sub,
)
from functrans.primitives.rules import defjvp, defjvp2, defjvp_zero, deflinear
from functrans.primitives.sort import take_along_axis
from functrans.primitives.structural import (
    broadcast_in_dim,
    broadcasted_iota,
    full,
    pad,
    reshape,
    transpose,
)

__all__ = ["reduce_sum", "reduce_max", "reduce_min", "reduce_prod", "reduce_and", "reduce_or",
           "argmax", "argmin", "cumsum", "cumprod", "cummax", "cummin", "cumlogsumexp",
           "reduce_sum_p", "reduce_max_p", "reduce_min_p", "reduce_prod_p", "reduce_and_p",
           "reduce_or_p", "argmax_p", "argmin_p", "cumsum_p", "cumprod_p", "cummax_p",
           "cummin_p", "cumlogsumexp_p"]


# ------------------------------------------------------------------ shared helpers

def _canonical_axes(fname: str, x: Any, axes: Sequence[int]) -> tuple[int, ...]:
    """`axes` as sorted non-negative ints, checked against the operand."""
    aval = get_aval(x)
    if type(axes) is tuple:  # already canonical, the common case: kept as it is
        previous = -1
        for a in axes:
            if type(a) is not int or not previous < a < aval.ndim:
                break
            previous = a
        else:
            return axes
    out = []
    for a in axes:
        a = operator.index(a)
        if not -aval.ndim <= a < aval.ndim:
            raise ValueError(f"{fname}: axis {a} is out of range for an operand of shape "
                             f"{aval.shape}; use -{aval.ndim} <= axis < {aval.ndim}")
        out.append(a % aval.ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{fname}: repeated axes in {tuple(axes)}")
    return tuple(sorted(out))


def _canonical_axis(fname: str, x: Any, axis: int) -> int:
    if get_aval(x).ndim == 0:
        raise ValueError(f"{fname}: the operand is a scalar; it needs at least one dimension")
    (axis,) = _canonical_axes(fname, x, (axis,))
    return axis


def _reduced_shape(name: str, x: ShapedArray, axes: Sequence[int]) -> tuple[int, ...]:
    for a in axes:
        if not 0 <= a < x.ndim:
            raise TypeError(f"{name}: reduction axis {a} out of range for {x.str_short()}")
    return tuple(d for i, d in enumerate(x.shape) if i not in axes)


def _check_kind(name: str, x: ShapedArray, kinds: str, what: str) -> None:
    if x.dtype.kind not in kinds:
        raise TypeError(f"{name} requires {what} operands, got {x.str_short()}")


def _kept_axes(ndim: int, axes: Sequence[int]) -> tuple[int, ...]:
    return tuple(i for i in range(ndim) if i not in axes)


def _expand_to(reduced: Any, x: Any, axes: Sequence[int]) -> Any:
    """Broadcast a reduced value back to the shape of `x`."""
    shape = get_aval(x).shape
    return broadcast_in_dim(reduced, shape, _kept_axes(len(shape), axes))


def _reduce_batch(prim: Primitive):
    """Batching rule of a reduction over ``axes``: shift the axes past the batch axis."""
    def batch(args, dims, *, axes, **params):
        (x,), (d,) = args, dims
        new_axes = tuple(a + 1 if a >= d else a for a in axes)
        out_dim = d - sum(1 for a in axes if a < d)
        return prim.bind(x, axes=new_axes, **params), out_dim
    return batch


def _reduction(name: str, impl: Any, kinds: str, what: str) -> Primitive:
    """A reduction over ``axes`` with its shape and batching rules."""
    def abstract_eval(x, *, axes):
        _check_kind(name, x, kinds, what)
        return ShapedArray(_reduced_shape(name, x, axes), x.dtype)

    p = Primitive(name)
    p.impl = impl
    p.abstract_eval = abstract_eval
    p.batch = _reduce_batch(p)
    return p


def _bind_reduction(prim: Primitive, fname: str, x: Any, axes: Sequence[int]) -> Any:
    axes = _canonical_axes(fname, x, axes)
    if not axes:
        return x
    return prim.bind(x, axes=axes)


NUMERIC = "biufc"
ORDERED = "biuf"


def _identity_of_max(dtype: np.dtype) -> Any:
    if dtype.kind == "f":
        return -np.inf
    if dtype.kind in "iu":
        return np.iinfo(dtype).min
    return False


def _identity_of_min(dtype: np.dtype) -> Any:
    if dtype.kind == "f":
        return np.inf
    if dtype.kind in "iu":
        return np.iinfo(dtype).max
    return True


# ------------------------------------------------------------------ reduce_sum

def _reduce_sum_impl(x, *, axes, xp=np):
    x = xp.asarray(x)
    return xp.asarray(xp.sum(x, axis=axes, dtype=x.dtype))  # no int32 -> int64 upcast


def _reduce_sum_transpose(ct, x, *, axes):
    shape = x.aval.shape
    return [broadcast_in_dim(ct, shape, _kept_axes(len(shape), axes))]


reduce_sum_p = _reduction("reduce_sum", _reduce_sum_impl, NUMERIC, "numeric")
deflinear(reduce_sum_p, _reduce_sum_transpose)


def reduce_sum(x: Any, axes: Sequence[int]) -> Any:
    """Sum of `x` over `axes` (as ``lax.reduce_sum``)."""
    return _bind_reduction(reduce_sum_p, "reduce_sum", x, axes)


# ------------------------------------------------------------------ reduce_max / reduce_min

def _chooser_impl(np_reduce: Any, identity: Any):
    def impl(x, *, axes, xp=np):
        if xp is not np:  # the Array API's max/min (no initial: empty axes have none)
            return getattr(xp, np_reduce.__name__)(x, axis=axes)
        x = np.asarray(x)
        if any(x.shape[a] == 0 for a in axes):   # empty reduction: the identity
            return np.asarray(np_reduce(x, axis=axes, initial=identity(x.dtype)))
        return np.asarray(np_reduce(x, axis=axes))
    return impl


def _chooser_jvp(t, out, x, *, axes):
    """Tangent of max/min: the mean of `t` over the positions holding the extremum."""
    dtype = get_aval(t).dtype
    if any(get_aval(x).shape[a] == 0 for a in axes):   # the constant identity: no change
        return full(get_aval(out).shape, 0, dtype)
    at_extremum = convert_element_type(eq(x, _expand_to(out, x, axes)), dtype)
    counts = reduce_sum(at_extremum, axes)
    return div(reduce_sum(mul(t, at_extremum), axes), counts)


reduce_max_p = _reduction("reduce_max", _chooser_impl(np.max, _identity_of_max), ORDERED,
                          "real (ordered)")
defjvp2(reduce_max_p, _chooser_jvp)

reduce_min_p = _reduction("reduce_min", _chooser_impl(np.min, _identity_of_min), ORDERED,
                          "real (ordered)")
defjvp2(reduce_min_p, _chooser_jvp)


def reduce_max(operand: Any, axes: Sequence[int]) -> Any:
    """Maximum of `operand` over `axes` (as ``lax.reduce_max``); -inf (or the smallest
    integer) over an empty axis. Ties share the derivative equally."""
    return _bind_reduction(reduce_max_p, "reduce_max", operand, axes)


def reduce_min(operand: Any, axes: Sequence[int]) -> Any:
    """Minimum of `operand` over `axes` (as ``lax.reduce_min``)."""
    return _bind_reduction(reduce_min_p, "reduce_min", operand, axes)


# ------------------------------------------------------------------ reduce_prod

def _reduce_prod_impl(x, *, axes, xp=np):
    x = xp.asarray(x)
    return xp.asarray(xp.prod(x, axis=axes, dtype=x.dtype))


def _to_last_axis(x: Any, axes: Sequence[int]) -> Any:
    """`x` with the reduced `axes` moved to the end and merged into one."""
    shape = get_aval(x).shape
    kept = _kept_axes(len(shape), axes)
    moved = transpose(x, kept + tuple(axes))
    n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
    return reshape(moved, tuple(shape[a] for a in kept) + (n,))


def _product_of_others(x: Any, axis: int) -> Any:
    """Entry i: the product of every entry of `x` along `axis` except the i-th,
    from exclusive cumulative products from the left and from the right."""
    from_left = _shift(cumprod(x, axis), axis, 1, reverse=False, fill=1)
    from_right = _shift(cumprod(x, axis, reverse=True), axis, 1, reverse=True, fill=1)
    return mul(from_left, from_right)


def _reduce_prod_jvp(t, x, *, axes):
    x_rows, t_rows = _to_last_axis(x, axes), _to_last_axis(t, axes)
    last = get_aval(x_rows).ndim - 1
    return reduce_sum(mul(t_rows, _product_of_others(x_rows, last)), (last,))


reduce_prod_p = _reduction("reduce_prod", _reduce_prod_impl, NUMERIC, "numeric")
defjvp(reduce_prod_p, _reduce_prod_jvp)


def reduce_prod(operand: Any, axes: Sequence[int]) -> Any:
    """Product of `operand` over `axes` (as ``lax.reduce_prod``); the derivative is
    exact where entries are zero."""
    return _bind_reduction(reduce_prod_p, "reduce_prod", operand, axes)


# ------------------------------------------------------------------ reduce_and / reduce_or

def _logical_impl(bool_reduce: Any, int_reduce: Any):
    def impl(x, *, axes):
        x = np.asarray(x)
        if x.dtype == np.bool_:
            return np.asarray(bool_reduce(x, axis=axes))
        return np.asarray(int_reduce.reduce(x, axis=axes, dtype=x.dtype))
    return impl


reduce_and_p = _reduction("reduce_and", _logical_impl(np.all, np.bitwise_and), "biu",
                          "boolean or integer")
defjvp_zero(reduce_and_p)

reduce_or_p = _reduction("reduce_or", _logical_impl(np.any, np.bitwise_or), "biu",
                         "boolean or integer")
defjvp_zero(reduce_or_p)


def reduce_and(operand: Any, axes: Sequence[int]) -> Any:
    """Logical (bool) or bitwise (integer) AND over `axes` (as ``lax.reduce_and``)."""
    return _bind_reduction(reduce_and_p, "reduce_and", operand, axes)


def reduce_or(operand: Any, axes: Sequence[int]) -> Any:
    """Logical (bool) or bitwise (integer) OR over `axes` (as ``lax.reduce_or``)."""
    return _bind_reduction(reduce_or_p, "reduce_or", operand, axes)


# ------------------------------------------------------------------ argmax / argmin

def _arg_impl(np_arg: Any):
    def impl(x, *, axes, index_dtype, xp=np):
        (axis,) = axes
        if xp is not np:  # the backend casts to index_dtype
            return getattr(xp, np_arg.__name__)(x, axis=axis)
        return np.asarray(np_arg(np.asarray(x), axis=axis).astype(index_dtype, copy=False))
    return impl


def _arg_aval(name: str):
    def abstract_eval(x, *, axes, index_dtype):
        _check_kind(name, x, ORDERED, "real (ordered)")
        if len(axes) != 1:
            raise TypeError(f"{name} reduces exactly one axis, got axes={axes}")
        if x.shape[axes[0]] == 0:
            raise TypeError(f"{name}: axis {axes[0]} of {x.str_short()} is empty; there is "
                            "no position to return")
        if np.dtype(index_dtype).kind not in "iu":
            raise TypeError(f"{name}: index_dtype must be an integer dtype, got {index_dtype}")
        return ShapedArray(_reduced_shape(name, x, axes), index_dtype)
    return abstract_eval


argmax_p = Primitive("argmax")
argmax_p.impl = _arg_impl(np.argmax)
argmax_p.abstract_eval = _arg_aval("argmax")
defjvp_zero(argmax_p)
argmax_p.batch = _reduce_batch(argmax_p)

argmin_p = Primitive("argmin")
argmin_p.impl = _arg_impl(np.argmin)
argmin_p.abstract_eval = _arg_aval("argmin")
defjvp_zero(argmin_p)
argmin_p.batch = _reduce_batch(argmin_p)


def _bind_arg(prim: Primitive, fname: str, operand: Any, axis: int, index_dtype: Any) -> Any:
    params = dict(axes=(_canonical_axis(fname, operand, axis),), index_dtype=np.dtype(index_dtype))
    prim.abstract_eval(get_aval(operand), **params)
    return prim.bind(operand, **params)


def argmax(operand: Any, axis: int, index_dtype: Any) -> Any:
    """Position of the maximum along `axis` (as ``lax.argmax``); the first one on
    ties, and the first NaN if any."""
    return _bind_arg(argmax_p, "argmax", operand, axis, index_dtype)


def argmin(operand: Any, axis: int, index_dtype: Any) -> Any:
    """Position of the minimum along `axis` (as ``lax.argmin``)."""
    return _bind_arg(argmin_p, "argmin", operand, axis, index_dtype)


# ------------------------------------------------------------------ cumulative reductions

def _cumulative(name: str, np_accumulate: Any, kinds: str, what: str) -> Primitive:
    """A cumulative reduction along ``axis`` (optionally from the end) with its shape
    and batching rules. `np_accumulate(x, axis)` runs front to back."""
    def impl(x, *, axis, reverse):
        x = np.asarray(x)
        if not reverse:
            return np.asarray(np_accumulate(x, axis))
        return np.flip(np_accumulate(np.flip(x, axis), axis), axis)

    def abstract_eval(x, *, axis, reverse):
        _check_kind(name, x, kinds, what)
        if not 0 <= axis < x.ndim:
            raise TypeError(f"{name}: axis {axis} is out of range for {x.str_short()}")
        return ShapedArray(x.shape, x.dtype)

    def batch(args, dims, *, axis, reverse):
        (x,), (d,) = args, dims
        return p.bind(x, axis=axis + 1 if axis >= d else axis, reverse=reverse), d

    p = Primitive(name)
    p.impl = impl
    p.abstract_eval = abstract_eval
    p.batch = batch
    return p


def _bind_cumulative(prim: Primitive, fname: str, operand: Any, axis: int,
                     reverse: bool) -> Any:
    params = dict(axis=_canonical_axis(fname, operand, axis), reverse=bool(reverse))
    prim.abstract_eval(get_aval(operand), **params)
    return prim.bind(operand, **params)


def _shift(x: Any, axis: int, step: int, reverse: bool, fill: Any) -> Any:
    """`x` moved `step` places along `axis` in the direction of accumulation
    (towards the end, or the start when `reverse`), with `fill` coming in."""
    aval = get_aval(x)
    step = min(step, aval.shape[axis])
    config = [(0, 0, 0)] * aval.ndim
    config[axis] = (step, -step, 0) if not reverse else (-step, step, 0)
    return pad(x, np.asarray(fill, aval.dtype), config)


def _linear_recurrence(coefficient: Any, offset: Any, axis: int, reverse: bool) -> Any:
    """``h[i] = coefficient[i] * h[i-1] + offset[i]`` along `axis` (``h[-1] = 0``;
    indices run backwards when `reverse`), linear in `offset`.

    Doubling: after the round with step s, ``offset[i]`` holds the recurrence
    started 2s places earlier and ``coefficient[i]`` the product of the 2s
    coefficients ending at i, so ceil(log2 n) vectorised rounds suffice.
    """
    n = get_aval(offset).shape[axis]
    step = 1
    while step < n:
        offset = add(offset, mul(coefficient, _shift(offset, axis, step, reverse, 0)))
        if 2 * step < n:
            coefficient = mul(coefficient, _shift(coefficient, axis, step, reverse, 0))
        step *= 2
    return offset


# cumsum: linear; the transpose accumulates the other way.

cumsum_p = _cumulative("cumsum", lambda x, axis: np.cumsum(x, axis, dtype=x.dtype), NUMERIC,
                       "numeric")
deflinear(cumsum_p, lambda ct, x, *, axis, reverse: [cumsum(ct, axis, not reverse)])


def cumsum(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """Cumulative sum along `axis`, from the end if `reverse` (as ``lax.cumsum``)."""
    return _bind_cumulative(cumsum_p, "cumsum", operand, axis, reverse)


# cumprod: y[i] = x[i] * y[i-1], so dy[i] = x[i] * dy[i-1] + y[i-1] * t[i].

def _cumprod_jvp(t, out, x, *, axis, reverse):
    previous = _shift(out, axis, 1, reverse, fill=1)
    return _linear_recurrence(x, mul(previous, t), axis, reverse)


cumprod_p = _cumulative("cumprod", lambda x, axis: np.cumprod(x, axis, dtype=x.dtype), NUMERIC,
                        "numeric")
defjvp2(cumprod_p, _cumprod_jvp)


def cumprod(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """Cumulative product along `axis` (as ``lax.cumprod``); the derivative is exact
    where entries are zero."""
    return _bind_cumulative(cumprod_p, "cumprod", operand, axis, reverse)


# cummax/cummin: the tangent follows the position of the running extremum.

def _running_extremum_position(x: Any, out: Any, axis: int, reverse: bool) -> Any:
    """Position along `axis` of the entry equal to the running extremum `out`.

    Where ``x[j] == out[j]``, entry j is (one of) the extremum of its prefix; the
    last such j up to i (the first from i on, when `reverse`) holds ``out[i]``.
    """
    aval = get_aval(x)
    positions = broadcasted_iota(np.int64, aval.shape, axis)
    neutral = full(aval.shape, aval.shape[axis] - 1 if reverse else 0, np.int64)
    candidates = select_n(eq(x, out), neutral, positions)
    if reverse:
        return cummin(candidates, axis, reverse=True)
    return cummax(candidates, axis)


def _cum_chooser_jvp(t, out, x, *, axis, reverse):
    source = _running_extremum_position(x, out, axis, reverse)
    return take_along_axis(t, source, axis)


cummax_p = _cumulative("cummax", lambda x, axis: np.maximum.accumulate(x, axis), ORDERED,
                       "real (ordered)")
defjvp2(cummax_p, _cum_chooser_jvp)

cummin_p = _cumulative("cummin", lambda x, axis: np.minimum.accumulate(x, axis), ORDERED,
                       "real (ordered)")
defjvp2(cummin_p, _cum_chooser_jvp)


def cummax(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """Cumulative maximum along `axis` (as ``lax.cummax``)."""
    return _bind_cumulative(cummax_p, "cummax", operand, axis, reverse)


def cummin(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """Cumulative minimum along `axis` (as ``lax.cummin``)."""
    return _bind_cumulative(cummin_p, "cummin", operand, axis, reverse)


# cumlogsumexp: y[i] = logaddexp(y[i-1], x[i]), so
# dy[i] = exp(y[i-1] - y[i]) * dy[i-1] + exp(x[i] - y[i]) * t[i]; both weights lie in [0, 1].

def _cumlogsumexp_jvp(t, out, x, *, axis, reverse):
    previous = _shift(out, axis, 1, reverse, fill=-np.inf)
    carry = exp(sub(previous, out))
    return _linear_recurrence(carry, mul(exp(sub(x, out)), t), axis, reverse)


cumlogsumexp_p = _cumulative("cumlogsumexp", lambda x, axis: np.logaddexp.accumulate(x, axis),
                             "f", "floating")
defjvp2(cumlogsumexp_p, _cumlogsumexp_jvp)


def cumlogsumexp(operand: Any, axis: int = 0, reverse: bool = False) -> Any:
    """``log(cumsum(exp(operand)))`` along `axis`, computed stably (as
    ``lax.cumlogsumexp``)."""
    return _bind_cumulative(cumlogsumexp_p, "cumlogsumexp", operand, axis, reverse)
