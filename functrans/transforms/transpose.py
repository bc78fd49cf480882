"""Transposition of linear jaxprs: the backward pass of reverse mode.

Walks the equations from last to first, applying each linear primitive's
``transpose`` rule to the cotangent of its output and accumulating the
cotangents of its linear inputs (``add_any`` for fan-out). A cotangent is
popped from the environment when it is consumed, so memory is released as the
walk proceeds; the walk is a loop, so depth is unlimited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from functrans.core.ir import Jaxpr, JaxprEqn, Literal, Var, last_uses
from functrans.core.primitive import missing_transformation_error
from functrans.core.zeros import UndefinedPrimal, Zero
from functrans.primitives.tangent_space import add_tangents


def backward_pass(jaxpr: Jaxpr, consts: Sequence[Any], args: Sequence[Any],
                  cotangents_out: Sequence[Any], all_linear: bool = False,
                  consume: bool = False) -> list[Any]:
    """Cotangents of the linear inputs of `jaxpr`.

    `args` holds an ``UndefinedPrimal`` for each linear input and a value for
    each other input; `cotangents_out` one cotangent (or ``Zero``) per output.
    Returns one cotangent per input: ``Zero`` for non-linear inputs and for
    linear inputs nothing flowed to. ``all_linear`` promises that every
    equation has a linear input (true of the jaxprs linearize records), which
    skips the forward scan. ``consume`` hands the residuals over: `consts` (a
    list) is emptied and each residual is released after its last use, so the
    memory of the forward pass shrinks as the backward pass proceeds.
    """
    primal_env: dict[Var, Any] = dict(zip(jaxpr.constvars, consts))
    if consume:
        consts.clear()  # type: ignore[attr-defined]
    linear: set[Var] = set()
    for v, a in zip(jaxpr.invars, args):
        if type(a) is UndefinedPrimal:
            linear.add(v)
        else:
            primal_env[v] = a

    linear_eqns = jaxpr.eqns if all_linear else _recompute_residuals(jaxpr, linear, primal_env)

    ct_env: dict[Var, Any] = {}
    if all_linear:  # linear = every variable that is not a constant
        def is_linear(v: Any) -> bool:
            return type(v) is Var and v not in primal_env
    else:
        def is_linear(v: Any) -> bool:
            return type(v) is Var and v in linear

    def accumulate(v: Any, ct: Any) -> None:
        if ct is None or type(ct) is Zero or not is_linear(v):
            return
        prev = ct_env.get(v)
        ct_env[v] = ct if prev is None else add_tangents(prev, ct)

    for v, ct in zip(jaxpr.outvars, cotangents_out):
        accumulate(v, ct)

    # the equation after which each residual is dead (the walk runs backwards); the
    # residuals recomputed here are released, the caller's only when handed over
    if consume:
        releasable: Any = primal_env
    elif all_linear:  # nothing was recomputed: every primal value is the caller's
        releasable = ()
    else:
        releasable = primal_env.keys() - set(jaxpr.constvars) - {
            v for v, a in zip(jaxpr.invars, args) if type(a) is not UndefinedPrimal}
    release_after = _first_uses(linear_eqns, releasable) if releasable else {}
    for index in range(len(linear_eqns) - 1, -1, -1):
        eqn = linear_eqns[index]
        for v in release_after.pop(index + 1, ()):  # dead from here on
            del primal_env[v]
        prim = eqn.primitive
        if prim.multiple_results:
            cts = [ct_env.pop(v, None) for v in eqn.outvars]
            if all(c is None for c in cts):
                continue
            ct: Any = [Zero(v.aval) if c is None else c for v, c in zip(eqn.outvars, cts)]
        else:
            ct = ct_env.pop(eqn.outvars[0], None)
            if ct is None:
                continue
        invals = []
        for v in eqn.invars:
            if type(v) is Literal:
                invals.append(v.val)
            else:
                val = primal_env.get(v, _UNDEFINED)
                invals.append(UndefinedPrimal(v.aval) if val is _UNDEFINED else val)
        rule = prim.transpose
        if rule is None:
            raise missing_transformation_error(prim, "reverse-mode differentiation "
                                               "(it has no transpose rule, and appeared "
                                               "in a linear position)")
        cts_in = rule(ct, *invals, **eqn.params)
        for v, c in zip(eqn.invars, cts_in):
            accumulate(v, c)

    return [_pop_or_zero(ct_env, v) if type(a) is UndefinedPrimal else Zero(v.aval)
            for v, a in zip(jaxpr.invars, args)]


_UNDEFINED = object()


def _recompute_residuals(jaxpr: Jaxpr, linear: set[Var], primal_env: dict[Var, Any]
                         ) -> list[JaxprEqn]:
    """Evaluate the equations that do not depend on linear inputs (the recomputation
    of a checkpoint, residual computations inside nested jaxprs) into `primal_env`,
    and return the linear equations. A value is held only while a later equation
    reads it: what only helped to compute a residual is freed at once."""
    linear_eqns, forward_eqns = [], []
    for eqn in jaxpr.eqns:
        if any(type(v) is Var and v in linear for v in eqn.invars):
            linear.update(eqn.outvars)
            linear_eqns.append(eqn)
        else:
            forward_eqns.append(eqn)
    needed_later = {v for eqn in linear_eqns for v in eqn.invars if type(v) is Var}
    dead_after = last_uses(Jaxpr([], [], list(needed_later), forward_eqns))
    callers = set(jaxpr.constvars) | set(jaxpr.invars)
    for i, eqn in enumerate(forward_eqns):
        invals = [v.val if type(v) is Literal else primal_env[v] for v in eqn.invars]
        out = eqn.primitive.bind(*invals, **eqn.params)
        outs = out if eqn.primitive.multiple_results else (out,)
        primal_env.update(zip(eqn.outvars, outs))
        for v in dead_after.get(i, ()):
            if v not in callers:
                primal_env.pop(v, None)
    return linear_eqns


def _first_uses(eqns: Sequence[Any], residuals: dict[Var, Any]) -> dict[int, list[Var]]:
    """For the backward walk: the index of the earliest equation reading each
    residual (its last use when walking backwards) -> those residuals."""
    first: dict[Var, int] = {}
    for i, eqn in enumerate(eqns):
        for v in eqn.invars:
            if type(v) is Var and v in residuals and v not in first:
                first[v] = i
    by_index: dict[int, list[Var]] = {}
    for v, i in first.items():
        by_index.setdefault(i, []).append(v)
    return by_index


def _pop_or_zero(env: dict[Var, Any], v: Var) -> Any:
    ct = env.pop(v, None)
    return Zero(v.aval) if ct is None else ct
