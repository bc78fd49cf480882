"""Call-like primitives: the rules shared by every primitive that applies a closed
jaxpr (its ``jaxpr`` parameter) to its operands, such as ``jit`` and ``checkpoint``.

Such a primitive is transformed by transforming its jaxpr and binding the same
primitive again, so the staged structure survives every transformation: the
JVP of a jit is a jit of the JVP, a batched checkpoint is a checkpoint of the
batched jaxpr.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from functrans.core.avals import ShapedArray, get_aval
from functrans.core.ir import ClosedJaxpr
from functrans.core.primitive import Primitive
from functrans.core.zeros import Zero
from functrans.higher_order.jaxpr_transforms import batch_jaxpr, jvp_jaxpr


def def_call_rules(prim: Primitive) -> None:
    """Give `prim` the shape, JVP and batching rules of a call of its ``jaxpr``."""

    def jvp(primals: Sequence[Any], tangents: Sequence[Any], *, jaxpr: ClosedJaxpr,
            name: str, **params: Any):
        nonzeros = [type(t) is not Zero for t in tangents]
        jvp_closed, out_nonzeros = jvp_jaxpr(jaxpr, nonzeros)
        outs = prim.bind(*primals, *[t for t in tangents if type(t) is not Zero],
                         jaxpr=jvp_closed, name=f"jvp({name})", **params)
        n = len(jaxpr.out_avals)
        nz_tangents = iter(outs[n:])
        tangents_out = [next(nz_tangents) if nz else Zero(aval.to_tangent_aval())
                        for aval, nz in zip(jaxpr.out_avals, out_nonzeros)]
        return outs[:n], tangents_out

    def batch(args: Sequence[Any], dims: Sequence[int | None], *, jaxpr: ClosedJaxpr,
              name: str, **params: Any):
        batched, out_dims = batch_jaxpr(jaxpr, dims, batch_size(args, dims))
        return prim.bind(*args, jaxpr=batched, name=f"vmap({name})", **params), out_dims

    prim.abstract_eval = call_out_avals
    prim.jvp = jvp
    prim.batch = batch


def call_out_avals(*avals: Any, jaxpr: ClosedJaxpr, **params: Any) -> list[ShapedArray]:
    """The result types of a call: the jaxpr's, strongly typed."""
    return [aval.strip_weak_type() for aval in jaxpr.out_avals]


def batch_size(args: Sequence[Any], dims: Sequence[int | None]) -> int:
    """The size of the batch axis of a batching rule's operands."""
    return next(get_aval(x).shape[d] for x, d in zip(args, dims) if d is not None)
