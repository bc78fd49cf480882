"""Helpers for the common shapes of a primitive's rules.

Most primitives need one to three lines of AD and batching code:

* ``defjvp(p, rule_x, rule_y)``: the JVP given per argument, as
  ``rule(tangent, *primals, **params)``; ``defjvp2`` also passes the output.
  Contributions of symbolic-zero tangents are skipped and the rest summed.
* ``deflinear(p, transpose)``: ``p`` is linear in all its arguments, so its
  JVP is ``p`` applied to the tangents; only the transpose rule is written.
* ``defbilinear(p, lhs_t, rhs_t)``: ``p`` is linear in each argument
  separately (multiplication, dot_general); one transpose rule per side.
* ``defvectorized(p)`` / ``defbroadcasting(p)``: batching rules of
  elementwise primitives.

Reverse mode needs nothing more: the JVP of a non-linear primitive is written
with linear primitives, whose transposes give the backward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from functrans import primitives  # the family, for call-time use (see primitives/__init__)
from functrans.core.avals import get_aval
from functrans.core.primitive import Primitive
from functrans.core.zeros import UndefinedPrimal, Zero, is_undefined_primal

__all__ = ["defjvp", "defjvp2", "defjvp_zero", "deflinear", "defbilinear", "defvectorized",
           "defbroadcasting", "bdim_at_front", "move_bdim", "UndefinedPrimal", "Zero",
           "is_undefined_primal"]


def _zero_like_output(out: Any) -> Zero:
    return Zero(get_aval(out).to_tangent_aval())


def defjvp(prim: Primitive, *rules: Callable[..., Any] | None) -> None:
    """JVP from one rule per argument: ``rule(tangent, *primals, **params)``.

    ``None`` marks an argument with no derivative (an integer index, a predicate).
    """
    _defjvp_per_argument(prim, rules, with_output=False)


def defjvp2(prim: Primitive, *rules: Callable[..., Any] | None) -> None:
    """Like defjvp, but each rule also gets the output: ``rule(t, out, *primals)``."""
    _defjvp_per_argument(prim, rules, with_output=True)


def _defjvp_per_argument(prim: Primitive, rules: Sequence[Callable[..., Any] | None],
                         with_output: bool) -> None:
    def jvp(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        leading = (out,) if with_output else ()
        tangent_out: Any = None
        for rule, t in zip(rules, tangents):
            if rule is not None and type(t) is not Zero:
                contribution = rule(t, *leading, *primals, **params)
                tangent_out = (contribution if tangent_out is None else
                               primitives.tangent_space.add_tangents(tangent_out, contribution))
        return out, _zero_like_output(out) if tangent_out is None else tangent_out
    prim.jvp = jvp


def defjvp_zero(prim: Primitive) -> None:
    """The output is piecewise constant (floor, sign, comparisons): zero tangent."""
    def jvp(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        if prim.multiple_results:
            return out, [_zero_like_output(o) for o in out]
        return out, _zero_like_output(out)
    prim.jvp = jvp


def deflinear(prim: Primitive, transpose: Callable[..., Any]) -> None:
    """``prim`` is linear in all arguments; ``transpose(ct, *args, **params)``
    returns one cotangent per argument."""
    prim.linear = True

    def jvp(primals, tangents, **params):
        out = prim.bind(*primals, **params)
        if all(type(t) is Zero for t in tangents):
            if prim.multiple_results:
                return out, [_zero_like_output(o) for o in out]
            return out, _zero_like_output(out)
        instantiate = primitives.tangent_space.instantiate_zeros
        return out, prim.bind(*[instantiate(t) for t in tangents], **params)

    prim.jvp = jvp
    prim.transpose = transpose


def defbilinear(prim: Primitive, lhs_transpose: Callable[..., Any],
                rhs_transpose: Callable[..., Any]) -> None:
    """``prim(x, y)`` is linear in x and in y separately.

    ``lhs_transpose(ct, x, y, **params)`` gives the cotangent of x given y
    (x is an UndefinedPrimal); ``rhs_transpose`` that of y given x.
    """
    prim.linear = True
    prim.bilinear = True

    def jvp(primals, tangents, **params):
        x, y = primals
        tx, ty = tangents
        out = prim.bind(x, y, **params)
        t_out: Any = _zero_like_output(out)
        if type(tx) is not Zero:
            t_out = prim.bind(tx, y, **params)
        if type(ty) is not Zero:
            t_out = primitives.tangent_space.add_tangents(t_out, prim.bind(x, ty, **params))
        return out, t_out

    def transpose(ct, x, y, **params):
        if type(x) is UndefinedPrimal and type(y) is UndefinedPrimal:
            raise TypeError(f"{prim.name}: transposing a product of two linear values "
                            "(the function is not linear in its inputs)")
        if type(x) is UndefinedPrimal:
            return [lhs_transpose(ct, x, y, **params), None]
        return [None, rhs_transpose(ct, x, y, **params)]

    prim.jvp = jvp
    prim.transpose = transpose


# ------------------------------------------------------------------ batching

def move_bdim(x: Any, src: int | None, dst: int, size: int) -> Any:
    """Move the batch axis of `x` from `src` to `dst`, broadcasting if unbatched."""
    if src == dst:
        return x
    structural = primitives.structural
    shape = get_aval(x).shape
    if src is None:
        if 0 <= dst <= len(shape):  # bound directly: this runs once per batched primitive
            return structural.broadcast_in_dim_p.bind(
                x, shape=shape[:dst] + (int(size),) + shape[dst:],
                broadcast_dimensions=tuple(range(dst)) + tuple(range(dst + 1, len(shape) + 1)))
        out_shape = list(shape)
        out_shape.insert(dst, size)
        dims = tuple(i for i in range(len(out_shape)) if i != dst)
        return structural.broadcast_in_dim(x, tuple(out_shape), dims)
    if 0 <= src < len(shape) and 0 <= dst < len(shape):
        permutation = list(range(len(shape)))
        del permutation[src]
        permutation.insert(dst, src)
        return structural.transpose_p.bind(x, permutation=tuple(permutation))
    return structural.moveaxis(x, src, dst)  # negative axes, or the error naming them


def bdim_at_front(x: Any, src: int | None, size: int) -> Any:
    return move_bdim(x, src, 0, size)


def defvectorized(prim: Primitive) -> None:
    """Batching rule of a one-operand elementwise primitive: the batch axis passes
    through."""
    def batch(args, dims, **params):
        (x,), (d,) = args, dims
        return prim.bind(x, **params), d
    prim.batch = batch


def defbroadcasting(prim: Primitive) -> None:
    """Batching rule of an n-operand elementwise primitive whose operands have
    equal shapes: align the batch axes (broadcasting the unbatched operands)."""
    def batch(args, dims, **params):
        dim = size = None
        aligned = True  # every batched operand has its batch axis at `dim`
        for x, d in zip(args, dims):
            if d is not None:
                if dim is None:
                    dim, size = d, get_aval(x).shape[d]
                elif d != dim:
                    aligned = False
        if not aligned:
            dim = 0
        # the unbatched operands are broadcast with their batch axis where the others
        # have theirs, so nothing batched moves (the common case: all at the same axis)
        return prim.bind(*[move_bdim(x, d, dim, size) for x, d in zip(args, dims)],
                         **params), dim
    prim.batch = batch
