"""``checkpoint`` (alias ``remat``): trade memory for recomputation, as ``jax.checkpoint``.

A checkpointed call is the primitive ``checkpoint`` holding the function's
closed jaxpr. Evaluation, ``jvp`` and ``vmap`` treat it like a call. The
difference is in partial evaluation, which is where reverse mode decides what
to keep: the known (primal) part runs now and returns the outputs, but of the
values the linear part needs (the residuals) only those the ``policy`` allows
are kept — by default none. The rest are recomputed from the call's inputs
inside the staged linear part, so they exist only while the backward pass goes
through this call. The residuals held between the forward and the backward
pass are then the call's inputs plus the saved values.

A policy is a function ``policy(primitive, *avals, **params) -> bool`` saying
whether an equation's outputs may be saved; :data:`checkpoint_policies` holds
JAX's common ones.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from functrans.compile import evaluate_jaxpr
from functrans.core import trace as core_trace
from functrans.core.avals import get_aval
from functrans.core.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Var, dce_jaxpr
from functrans.core.primitive import Primitive
from functrans.core.zeros import UndefinedPrimal
from functrans.higher_order.call import def_call_rules
from functrans.higher_order.jaxpr_transforms import partial_eval_jaxpr
from functrans.primitives.rules import deflinear
from functrans.transforms.api_util import FlatFun, flatten_args, fun_name, partial_static
from functrans.transforms.staging import (
    JaxprTrace,
    StagedTracer,
    hoist_tracer_consts,
    trace_to_jaxpr,
)
from functrans.transforms.transpose import backward_pass
from functrans.tree_util import tree_map, tree_unflatten

__all__ = ["checkpoint", "remat", "checkpoint_policies", "checkpoint_name", "checkpoint_p",
           "name_p"]

Policy = Callable[..., bool]


# ------------------------------------------------------------------ policies

def everything_saveable(*_: Any, **__: Any) -> bool:
    """Save every residual: no recomputation (same memory as without checkpoint)."""
    return True


def nothing_saveable(*_: Any, **__: Any) -> bool:
    """Save nothing: recompute everything from the inputs (the default)."""
    return False


def dots_saveable(prim: Any, *_: Any, **__: Any) -> bool:
    """Save the outputs of matrix products (``dot_general``); recompute the rest."""
    return prim.name == "dot_general"


def dots_with_no_batch_dims_saveable(prim: Any, *_: Any, **params: Any) -> bool:
    """Save the outputs of matrix products without batch dimensions."""
    if prim.name != "dot_general":
        return False
    (_, _), (lhs_batch, rhs_batch) = params["dimension_numbers"]
    return not lhs_batch and not rhs_batch


def save_from_both_policies(policy_1: Policy, policy_2: Policy) -> Policy:
    """A policy saving what either policy saves."""
    def policy(prim: Any, *avals: Any, **params: Any) -> bool:
        return policy_1(prim, *avals, **params) or policy_2(prim, *avals, **params)
    return policy


def save_only_these_names(*names: str) -> Policy:
    """A policy saving the values named (by :func:`checkpoint_name`) with one of `names`."""
    wanted = frozenset(names)

    def policy(prim: Any, *_: Any, **params: Any) -> bool:
        return prim is name_p and params["name"] in wanted
    return policy


def save_any_names_but_these(*names: str) -> Policy:
    """A policy saving every named value except those named with one of `names`."""
    refused = frozenset(names)

    def policy(prim: Any, *_: Any, **params: Any) -> bool:
        return prim is name_p and params["name"] not in refused
    return policy


class checkpoint_policies:  # noqa: N801  (JAX's name: a namespace of policies)
    """The standard ``policy`` arguments of :func:`checkpoint`, as
    ``jax.checkpoint_policies``."""

    everything_saveable = staticmethod(everything_saveable)
    nothing_saveable = staticmethod(nothing_saveable)
    dots_saveable = staticmethod(dots_saveable)
    checkpoint_dots = staticmethod(dots_saveable)
    dots_with_no_batch_dims_saveable = staticmethod(dots_with_no_batch_dims_saveable)
    checkpoint_dots_with_no_batch_dims = staticmethod(dots_with_no_batch_dims_saveable)
    save_from_both_policies = staticmethod(save_from_both_policies)
    save_only_these_names = staticmethod(save_only_these_names)
    save_any_names_but_these = staticmethod(save_any_names_but_these)


# ------------------------------------------------------------------ naming values

# name: the identity, carrying a name that policies can select values by. It is linear
# (its tangent and cotangent keep the name), so naming never changes a derivative.
name_p = Primitive("name")
name_p.impl = lambda x, *, name: x
name_p.abstract_eval = lambda x, *, name: x
deflinear(name_p, lambda ct, x, *, name: [ct])
name_p.batch = lambda args, dims, *, name: (name_p.bind(args[0], name=name), dims[0])


def checkpoint_name(x: Any, name: str) -> Any:
    """`x`, named `name` for the checkpoint policies ``save_only_these_names`` and
    ``save_any_names_but_these``, as ``jax.ad_checkpoint.checkpoint_name``. Every leaf
    of a pytree `x` gets the name."""
    if not isinstance(name, str):
        raise TypeError(f"checkpoint_name: name must be a str, got {type(name).__name__}")
    return tree_map(lambda leaf: name_p.bind(leaf, name=name), x)


# ------------------------------------------------------------------ the split

class _RematSplit:
    """`closed` split by unknown inputs, recomputing what the policy does not save.

    ``known`` maps the known inputs to (known outputs, saved values);
    ``unknown`` maps (saved values, the known inputs it needs, unknown inputs)
    to the unknown outputs, recomputing the other residuals first.
    """

    def __init__(self, closed: ClosedJaxpr, unknowns: Sequence[bool], policy: Policy):
        known, unknown, self.out_unknowns, num_res = partial_eval_jaxpr(closed, unknowns)
        k, u = known.jaxpr, unknown.jaxpr
        n_known_out = len(k.outvars) - num_res
        residuals = u.invars[:num_res]
        known_ins = [v for v, unk in zip(closed.jaxpr.invars, unknowns) if not unk]
        saved, recompute, used_inputs = _choose(k, residuals, known_ins, policy)
        self.known_inputs_used = [v in used_inputs for v in known_ins]
        self.num_saved = len(saved)
        self.known = ClosedJaxpr(dce_jaxpr(Jaxpr(k.constvars, known_ins,
                                                 k.outvars[:n_known_out] + saved, k.eqns)),
                                 known.consts)
        invars = saved + [v for v in known_ins if v in used_inputs] + u.invars[num_res:]
        self.unknown = ClosedJaxpr(Jaxpr(k.constvars, invars, u.outvars, recompute + u.eqns),
                                   known.consts)


def _choose(known: Jaxpr, residuals: Sequence[Var], known_ins: Sequence[Var], policy: Policy
            ) -> tuple[list[Var], list[JaxprEqn], set[Var]]:
    """Which residuals to save and which equations of `known` to recompute.

    Walks back from the residuals: an input is passed along, an output of a
    saveable equation is saved, anything else is recomputed from its operands.
    """
    producer = {v: e for e in known.eqns for v in e.outvars}
    inputs, consts = set(known_ins), set(known.constvars)
    saved: list[Var] = []
    saved_set: set[Var] = set()
    recompute: set[int] = set()
    used_inputs: set[Var] = set()
    stack = [v for v in residuals if type(v) is Var]
    while stack:
        v = stack.pop()
        if v in consts or v in saved_set:
            continue
        if v in inputs:
            used_inputs.add(v)
            continue
        eqn = producer[v]
        if id(eqn) in recompute:
            continue
        if policy(eqn.primitive, *[a.aval for a in eqn.invars], **eqn.params):
            saved_set.add(v)
            saved.append(v)
            continue
        recompute.add(id(eqn))
        stack.extend(a for a in eqn.invars if type(a) is Var)
    eqns = [e for e in known.eqns if id(e) in recompute]
    return saved, eqns, used_inputs


# ------------------------------------------------------------------ the primitive

checkpoint_p = Primitive("checkpoint", multiple_results=True)


def _checkpoint_impl(*args: Any, jaxpr: ClosedJaxpr, policy: Policy, prevent_cse: bool,
                     name: str) -> list[Any]:
    return evaluate_jaxpr(jaxpr, args, name)


def _checkpoint_partial_eval(trace: JaxprTrace, args: Sequence[Any], params: dict
                             ) -> list[Any]:
    """Primal outputs now (as a checkpoint in the parent); the linear part, with
    its recomputation, staged."""
    unknowns = [type(x) is StagedTracer and x._trace is trace for x in args]
    split = _RematSplit(params["jaxpr"], unknowns, params["policy"])
    known_args = [x for x, u in zip(args, unknowns) if not u]
    known_outs = trace.parent.process_primitive(checkpoint_p, tuple(known_args),
                                                dict(params, jaxpr=split.known))
    n_known = len(known_outs) - split.num_saved
    used = [x for x, keep in zip(known_args, split.known_inputs_used) if keep]
    unknown_args = list(known_outs[n_known:]) + used + [x for x, u in zip(args, unknowns) if u]
    unknown_outs = iter(trace.stage(checkpoint_p, unknown_args,
                                    dict(params, jaxpr=split.unknown),
                                    split.unknown.out_avals))
    known_iter = iter(known_outs[:n_known])
    return [next(unknown_outs) if u else next(known_iter) for u in split.out_unknowns]


def _checkpoint_partial_eval_eqn(eqn: JaxprEqn, unknowns: Sequence[bool]):
    params = eqn.params
    split = _RematSplit(params["jaxpr"], unknowns, params["policy"])
    known_in = [v for v, u in zip(eqn.invars, unknowns) if not u]
    saved_vars = [Var(a) for a in split.known.out_avals[len(split.known.out_avals)
                                                         - split.num_saved:]]
    known_out = [v for v, u in zip(eqn.outvars, split.out_unknowns) if not u]
    known_eqn = None
    if known_out or saved_vars:
        known_eqn = JaxprEqn(checkpoint_p, known_in, dict(params, jaxpr=split.known),
                             known_out + saved_vars)
    used = [v for v, keep in zip(known_in, split.known_inputs_used) if keep]
    unknown_eqn = JaxprEqn(checkpoint_p,
                           saved_vars + used + [v for v, u in zip(eqn.invars, unknowns) if u],
                           dict(params, jaxpr=split.unknown),
                           [v for v, u in zip(eqn.outvars, split.out_unknowns) if u])
    return known_eqn, unknown_eqn, split.out_unknowns


def _checkpoint_transpose(cts, *args, jaxpr, policy, prevent_cse, name):
    # The forward loop of backward_pass recomputes the non-linear equations
    # (the residuals that were not saved) right here, in the backward pass.
    cts_in = backward_pass(jaxpr.jaxpr, jaxpr.consts, args, cts)
    return [ct if type(a) is UndefinedPrimal else None for a, ct in zip(args, cts_in)]


def_call_rules(checkpoint_p)
checkpoint_p.impl = _checkpoint_impl
# no call_jaxpr_param: inlined, the recomputation would be merged by CSE with the
# forward pass it repeats, and the memory checkpointing saves would be spent again
checkpoint_p.partial_eval = _checkpoint_partial_eval
checkpoint_p.partial_eval_eqn = _checkpoint_partial_eval_eqn
checkpoint_p.transpose = _checkpoint_transpose


# ------------------------------------------------------------------ public API

def checkpoint(fun: Callable[..., Any], *, prevent_cse: bool = True,
               policy: Policy | None = None, static_argnums: int | Sequence[int] = ()
               ) -> Callable[..., Any]:
    """`fun`, whose intermediate values are not kept for the backward pass but
    recomputed during it, as ``jax.checkpoint`` (alias ``remat``).

    `policy` (see :data:`checkpoint_policies`) chooses values that may be kept
    anyway; by default nothing is. `static_argnums` marks arguments that are
    Python values rather than arrays. `prevent_cse` is accepted for JAX
    compatibility (functrans does no common-subexpression elimination).
    """
    if not callable(fun):
        raise TypeError(f"checkpoint: expected a function, got {type(fun).__name__}")
    if policy is not None and not callable(policy):
        raise TypeError("checkpoint: policy must be a function (prim, *avals, **params) -> "
                        f"bool, such as checkpoint_policies.dots_saveable; got {policy!r}")
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)
    name = fun_name(fun)
    chosen = nothing_saveable if policy is None else policy

    @functools.wraps(fun)
    def checkpointed(*args: Any, **kwargs: Any) -> Any:
        if core_trace.get_current_trace() is core_trace.eval_trace:
            return fun(*args, **kwargs)  # nothing is being differentiated
        f, dyn = partial_static(fun, args, static)
        flat, in_tree = flatten_args(dyn, kwargs, f"checkpoint of {name}")
        flat_fun = FlatFun(f, in_tree, name)
        closed = trace_to_jaxpr(flat_fun, [get_aval(x) for x in flat], name, "checkpoint")
        closed, hoisted = hoist_tracer_consts(closed)
        outs = checkpoint_p.bind(*hoisted, *flat, jaxpr=closed, policy=chosen,
                                 prevent_cse=prevent_cse, name=name)
        return tree_unflatten(flat_fun.out_tree, outs)

    return checkpointed


remat = checkpoint
