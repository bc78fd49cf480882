"""Transformations of closed jaxprs: the toolkit every higher-order primitive shares.

A higher-order primitive (``jit``, ``cond``, ``scan``, ``custom_jvp_call``,
``checkpoint`` ...) holds closed jaxprs as parameters. Its JVP, transpose,
batching and partial-evaluation rules transform those jaxprs with the functions
here and bind the primitive again on the results. Each result is remembered per
jaxpr (one cache, dropped with the jaxpr), so ``grad(jit(f))`` meets the same
transformed jaxprs on every call and their compiled code is reused.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from functrans.core.ir import ClosedJaxpr, eval_jaxpr
from functrans.core.zeros import UndefinedPrimal, Zero
from functrans.primitives.rules import move_bdim
from functrans.primitives.tangent_space import instantiate_zeros
from functrans.transforms.jvp import jvp_flat
from functrans.transforms.partial_eval import partial_eval_jaxpr as _partial_eval_jaxpr
from functrans.transforms.staging import trace_to_jaxpr
from functrans.transforms.transpose import backward_pass
from functrans.transforms.vmap import batching_axis, vmap_flat

__all__ = ["jvp_jaxpr", "transpose_jaxpr", "batch_jaxpr", "partial_eval_jaxpr", "remembered"]

# closed jaxpr -> {(transformation, its arguments): result}
_results: weakref.WeakKeyDictionary[ClosedJaxpr, dict[Hashable, Any]] = (
    weakref.WeakKeyDictionary())


def remembered(closed: ClosedJaxpr, key: Hashable, build: Callable[[], Any]) -> Any:
    """``build()``, computed once per (`closed`, `key`): the cache every
    transformation of a jaxpr goes through."""
    per_jaxpr = _results.setdefault(closed, {})
    result = per_jaxpr.get(key)
    if result is None:
        result = per_jaxpr[key] = build()
    return result


def _as_function(closed: ClosedJaxpr) -> Callable[..., list[Any]]:
    return lambda *args: eval_jaxpr(closed.jaxpr, closed.consts, *args)


def jvp_jaxpr(closed: ClosedJaxpr, nonzeros: Sequence[bool],
              instantiate: Sequence[bool] | None = None) -> tuple[ClosedJaxpr, list[bool]]:
    """A jaxpr computing (primals_out, nonzero tangents_out) from (primals_in,
    tangents_in for the `nonzeros` inputs), and which output tangents it returns.
    An output tangent is returned where it is nonzero or `instantiate` asks for it
    (a structural zero is then materialised)."""
    instantiate = tuple(instantiate or (False,) * len(closed.out_avals))
    nonzeros = tuple(nonzeros)
    jaxpr, out_nonzeros = remembered(closed, ("jvp", nonzeros, instantiate),
                                     lambda: _jvp_jaxpr(closed, nonzeros, instantiate))
    return jaxpr, list(out_nonzeros)


def _jvp_jaxpr(closed: ClosedJaxpr, nonzeros: tuple[bool, ...],
               instantiate: tuple[bool, ...]) -> tuple[ClosedJaxpr, list[bool]]:
    n = len(closed.in_avals)
    tangent_avals = [a.to_tangent_aval() for a, nz in zip(closed.in_avals, nonzeros) if nz]
    out_nonzeros: list[bool] = []

    def f(*args: Any) -> list[Any]:
        primals, nz_tangents = args[:n], iter(args[n:])
        tangents = [next(nz_tangents) if nz else Zero(a.to_tangent_aval())
                    for a, nz in zip(closed.in_avals, nonzeros)]
        outs_p, outs_t = jvp_flat(_as_function(closed), primals, tangents)
        out_nonzeros[:] = [type(t) is not Zero or inst for t, inst in zip(outs_t, instantiate)]
        return list(outs_p) + [instantiate_zeros(t)
                               for t, nz in zip(outs_t, out_nonzeros) if nz]

    jaxpr = trace_to_jaxpr(f, list(closed.in_avals) + tangent_avals, "jvp")
    return jaxpr, list(out_nonzeros)


def transpose_jaxpr(closed: ClosedJaxpr, linear: Sequence[bool]) -> ClosedJaxpr:
    """A jaxpr mapping (non-linear inputs, output cotangents) to the cotangents of
    the `linear` inputs (zeros instantiated)."""
    linear = tuple(linear)
    return remembered(closed, ("transpose", linear),
                       lambda: _transpose_jaxpr(closed, linear))


def _transpose_jaxpr(closed: ClosedJaxpr, linear: tuple[bool, ...]) -> ClosedJaxpr:
    in_avals = closed.in_avals
    nonlin_avals = [a for a, lin in zip(in_avals, linear) if not lin]
    ct_avals = [a.to_tangent_aval() for a in closed.out_avals]
    n_nonlin = len(nonlin_avals)

    def transposed(*args: Any) -> list[Any]:
        nonlin, cts = iter(args[:n_nonlin]), args[n_nonlin:]
        full = [UndefinedPrimal(a) if lin else next(nonlin) for a, lin in zip(in_avals, linear)]
        cts_in = backward_pass(closed.jaxpr, closed.consts, full, cts)
        return [instantiate_zeros(c) for c, lin in zip(cts_in, linear) if lin]

    return trace_to_jaxpr(transposed, nonlin_avals + ct_avals, "transpose", "transpose")


def batch_jaxpr(closed: ClosedJaxpr, in_dims: Sequence[int | None], axis_size: int,
                to_front: Sequence[bool] | None = None
                ) -> tuple[ClosedJaxpr, list[int | None]]:
    """`closed` batched along `in_dims` (None: unbatched), and its outputs' batch dims.

    Without `to_front`, outputs keep the batch dims the batching rules give them.
    With it, every batched output has its batch axis at 0, and the outputs it
    marks are batched at 0 even when the computation leaves them unbatched (a loop
    carry must keep one type across iterations)."""
    in_dims = tuple(in_dims)
    to_front = None if to_front is None else tuple(to_front)
    # batched over the named axis whose rule is running, if any: the collectives inside
    # over that name are resolved in the result, so the name is part of the key
    ambient = batching_axis()
    axis_name = ambient[0] if ambient is not None and ambient[1] == axis_size else None
    jaxpr, out_dims = remembered(
        closed, ("batch", in_dims, axis_size, to_front, axis_name),
        lambda: _batch_jaxpr(closed, in_dims, axis_size, to_front, axis_name))
    return jaxpr, list(out_dims)


def _batch_jaxpr(closed: ClosedJaxpr, in_dims: tuple[int | None, ...], axis_size: int,
                 to_front: tuple[bool, ...] | None, axis_name: Hashable | None
                 ) -> tuple[ClosedJaxpr, list[int | None]]:
    in_avals = []
    for aval, d in zip(closed.in_avals, in_dims):
        if d is None:
            in_avals.append(aval)
        else:
            shape = list(aval.shape)
            shape.insert(d, axis_size)
            in_avals.append(aval.update(shape=tuple(shape), weak_type=False))
    out_dims: list[int | None] = []

    def f(*args: Any) -> list[Any]:
        outs, dims = vmap_flat(_as_function(closed), args, in_dims, None, axis_size,
                               axis_name)
        if to_front is None:
            out_dims[:] = dims
            return outs
        out_dims[:] = [0 if d is not None or force else None for d, force in zip(dims, to_front)]
        return [o if od is None else move_bdim(o, d, 0, axis_size)
                for o, d, od in zip(outs, dims, out_dims)]

    jaxpr = trace_to_jaxpr(f, in_avals, "vmap", "vmap")
    return jaxpr, list(out_dims)


def partial_eval_jaxpr(closed: ClosedJaxpr, unknowns: Sequence[bool]
                       ) -> tuple[ClosedJaxpr, ClosedJaxpr, list[bool], int]:
    """:func:`functrans.transforms.partial_eval.partial_eval_jaxpr`, remembered (the
    lists returned are the caller's: the remembered result never changes)."""
    unknowns = tuple(unknowns)
    known, unknown, out_unknowns, num_res = remembered(
        closed, ("partial_eval", unknowns), lambda: _partial_eval_jaxpr(closed, list(unknowns)))
    return known, unknown, list(out_unknowns), num_res
