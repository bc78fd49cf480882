"""Partial evaluation of jaxprs: split into a *known* part, computable now,
and an *unknown* part that needs the remaining inputs.

Linearize does this on the fly while tracing (see :mod:`staging`); this module
does it on a finished jaxpr, for higher-order primitives such as ``jit`` whose
body is a jaxpr.
"""

from __future__ import annotations

from collections.abc import Sequence

from functrans.config import config
from functrans.core.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Var, dce_jaxpr, typecheck_jaxpr


def partial_eval_jaxpr(closed: ClosedJaxpr, in_unknowns: Sequence[bool]
                       ) -> tuple[ClosedJaxpr, ClosedJaxpr, list[bool], int]:
    """Split `closed` by which inputs are unknown.

    Returns ``(known, unknown, out_unknowns, num_residuals)``:
    ``known`` maps the known inputs to the known outputs followed by the
    residuals; ``unknown`` maps (residuals, unknown inputs) to the unknown
    outputs. Equations of nested call primitives with mixed inputs are split
    recursively through their ``partial_eval_eqn`` hook.
    """
    jaxpr = closed.jaxpr
    unknown: set[Var] = {v for v, u in zip(jaxpr.invars, in_unknowns) if u}
    known_eqns: list[JaxprEqn] = []
    unknown_eqns: list[JaxprEqn] = []
    for eqn in jaxpr.eqns:
        unks = [type(v) is Var and v in unknown for v in eqn.invars]
        if not any(unks):
            known_eqns.append(eqn)
            continue
        split = eqn.primitive.partial_eval_eqn
        if split is not None:
            known_eqn, unknown_eqn, out_unks = split(eqn, unks)
            if known_eqn is not None:
                known_eqns.append(known_eqn)
            unknown_eqns.append(unknown_eqn)
            unknown.update(v for v, u in zip(eqn.outvars, out_unks) if u)
        else:
            unknown_eqns.append(eqn)
            unknown.update(eqn.outvars)

    out_unknowns = [type(v) is Var and v in unknown for v in jaxpr.outvars]
    residuals: list[Var] = []
    seen: set[Var] = set()
    for eqn in unknown_eqns:
        for v in eqn.invars:
            if type(v) is Var and v not in unknown and v not in seen:
                seen.add(v)
                residuals.append(v)
    known_invars = [v for v, u in zip(jaxpr.invars, in_unknowns) if not u]
    known_outs = [v for v, u in zip(jaxpr.outvars, out_unknowns) if not u]
    known = Jaxpr(jaxpr.constvars, known_invars, known_outs + residuals, known_eqns)
    unknown_invars = [v for v, u in zip(jaxpr.invars, in_unknowns) if u]
    unknown_outs = [v for v, u in zip(jaxpr.outvars, out_unknowns) if u]
    unknown_jaxpr = Jaxpr([], residuals + unknown_invars, unknown_outs, unknown_eqns)
    if config.check_jaxprs:
        typecheck_jaxpr(known)
        typecheck_jaxpr(unknown_jaxpr)
    return (ClosedJaxpr(dce_jaxpr(known), closed.consts), ClosedJaxpr(unknown_jaxpr, []),
            out_unknowns, len(residuals))
