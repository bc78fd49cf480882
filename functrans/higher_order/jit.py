"""The ``jit`` primitive: a staged call of a closed jaxpr, and its rules.

``jit(f)`` (see :mod:`functrans.api.jit`) binds ``jit`` with the jaxpr it traced.
Its rules transform the jaxpr (JVP, partial evaluation, transposition, batching)
and bind ``jit`` again, so ``grad(jit(f))``, ``jit(grad(f))``, ``vmap(jit(f))`` and
nested jits all keep their staged structure, and each transformed jaxpr is
compiled once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from functrans.compile import evaluate_jaxpr
from functrans.core.ir import ClosedJaxpr, JaxprEqn, Var
from functrans.core.primitive import Primitive
from functrans.core.zeros import UndefinedPrimal
from functrans.higher_order.call import def_call_rules
from functrans.higher_order.jaxpr_transforms import partial_eval_jaxpr, transpose_jaxpr
from functrans.primitives.tangent_space import instantiate_zeros
from functrans.transforms.staging import JaxprTrace, StagedTracer

__all__ = ["jit_p"]

jit_p = Primitive("jit", multiple_results=True)


def _jit_impl(*args: Any, jaxpr: ClosedJaxpr, name: str) -> list[Any]:
    return evaluate_jaxpr(jaxpr, args, name)


def _jit_partial_eval(trace: JaxprTrace, args: Sequence[Any], params: dict) -> list[Any]:
    """Known part runs now (as a jit in the parent); unknown part is staged."""
    jaxpr, name = params["jaxpr"], params["name"]
    unknowns = [type(x) is StagedTracer and x._trace is trace for x in args]
    known, unknown, out_unknowns, num_res = partial_eval_jaxpr(jaxpr, unknowns)
    known_args = tuple(x for x, u in zip(args, unknowns) if not u)
    known_outs = trace.parent.process_primitive(jit_p, known_args,
                                                dict(jaxpr=known, name=name))
    n_known = len(known_outs) - num_res
    residuals = list(known_outs[n_known:])
    unknown_args = residuals + [x for x, u in zip(args, unknowns) if u]
    unknown_outs = iter(trace.stage(jit_p, unknown_args, dict(jaxpr=unknown, name=name),
                                    unknown.out_avals))
    known_iter = iter(known_outs[:n_known])
    return [next(unknown_outs) if u else next(known_iter) for u in out_unknowns]


def _jit_partial_eval_eqn(eqn: JaxprEqn, unknowns: Sequence[bool]):
    jaxpr, name = eqn.params["jaxpr"], eqn.params["name"]
    known, unknown, out_unknowns, num_res = partial_eval_jaxpr(jaxpr, unknowns)
    res_vars = [Var(a) for a in known.out_avals[len(known.out_avals) - num_res:]]
    known_eqn = JaxprEqn(jit_p, [v for v, u in zip(eqn.invars, unknowns) if not u],
                         dict(jaxpr=known, name=name),
                         [v for v, u in zip(eqn.outvars, out_unknowns) if not u] + res_vars)
    unknown_eqn = JaxprEqn(jit_p, res_vars + [v for v, u in zip(eqn.invars, unknowns) if u],
                           dict(jaxpr=unknown, name=name),
                           [v for v, u in zip(eqn.outvars, out_unknowns) if u])
    return known_eqn, unknown_eqn, out_unknowns


def _jit_transpose(cts: Sequence[Any], *args: Any, jaxpr: ClosedJaxpr, name: str):
    linear = [type(a) is UndefinedPrimal for a in args]
    transposed = transpose_jaxpr(jaxpr, linear)
    outs = iter(jit_p.bind(*[a for a in args if type(a) is not UndefinedPrimal],
                           *[instantiate_zeros(c) for c in cts],
                           jaxpr=transposed, name=f"transpose({name})"))
    return [next(outs) if lin else None for lin in linear]


def_call_rules(jit_p)
jit_p.call_jaxpr_param = "jaxpr"
jit_p.impl = _jit_impl
jit_p.partial_eval = _jit_partial_eval
jit_p.partial_eval_eqn = _jit_partial_eval_eqn
jit_p.transpose = _jit_transpose
