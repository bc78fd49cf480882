"""Linearization: evaluate the primal now, record the tangent computation.

The linearize trace is JVP fused with partial evaluation. Each primitive's
``jvp`` rule runs with the *tangent trace* current: a staging trace that
records only operations with a tangent among their inputs (these are linear
in the tangents) and hands every other operation to the parent trace, so
primal values are computed right away with NumPy. The recorded equations form
the linear jaxpr; the known values they use (``cos(x)`` for ``sin``) are its
constants, the residuals. Reverse mode transposes that jaxpr (see
:mod:`transpose`); nothing else is needed per primitive.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from functrans import dtypes
from functrans.core import trace as core_trace
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.ir import ClosedJaxpr, Jaxpr, eval_jaxpr
from functrans.core.trace import Trace, Tracer
from functrans.core.zeros import UndefinedPrimal, Zero
from functrans.primitives.tangent_space import instantiate_zeros
from functrans.transforms.api_util import FlatFun, flatten_args, fun_name, outputs
from functrans.transforms.jvp import JVPTrace, aux_fun, check_tangent
from functrans.transforms.staging import JaxprTrace, StagedTracer
from functrans.transforms.transpose import backward_pass
from functrans.tree_util import tree_flatten, tree_unflatten


class LinearizeTracer(Tracer):
    __slots__ = ("primal", "tangent", "_aval")

    def __init__(self, trace: LinearizeTrace, primal: Any, tangent: StagedTracer):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent
        self._aval = None

    @property
    def aval(self) -> ShapedArray:
        aval = self._aval
        if aval is None:
            aval = self._aval = get_aval(self.primal)
        return aval

    def to_concrete(self, context: str) -> Any:
        p = self.primal
        return p.to_concrete(context) if isinstance(p, Tracer) else p


class LinearizeTrace(JVPTrace):
    """JVP whose rules run with the tangent (partial-evaluation) trace current."""

    tracer_type = LinearizeTracer
    transformation = "differentiation"

    def __init__(self, parent: Trace, tangent_trace: JaxprTrace):
        self.parent = parent
        self.rule_trace = self.tangent_trace = tangent_trace

    def describe(self) -> str:
        return "linearize"

    def wrap(self, primal: Any, tangent: Any) -> Any:
        if type(tangent) is not StagedTracer or tangent._trace is not self.tangent_trace:
            # Zero, or a tangent that does not depend on the input tangents: a
            # linear rule can only produce that from zeros, so it is zero.
            return primal
        return LinearizeTracer(self, primal, tangent)


class LinearFunction:
    """The linear map recorded by linearize: tangents in -> tangents out.

    ``jaxpr`` takes the nonzero input tangents (``in_nonzero``) and returns the
    nonzero output tangents (``out_nonzero``); its constants are the residuals.
    """

    __slots__ = ("jaxpr", "in_avals", "out_avals", "in_nonzero", "out_nonzero")

    def __init__(self, jaxpr: ClosedJaxpr, in_avals: list[ShapedArray],
                 out_avals: list[ShapedArray], in_nonzero: list[bool],
                 out_nonzero: list[bool]):
        self.jaxpr = jaxpr
        self.in_avals = in_avals
        self.out_avals = out_avals
        self.in_nonzero = in_nonzero
        self.out_nonzero = out_nonzero

    def first_outputs(self, n_keep: int) -> LinearFunction:
        """The map to the first `n_keep` outputs only (``has_aux`` drops the aux ones,
        which come last)."""
        n_nonzero_kept = sum(self.out_nonzero[:n_keep])
        jaxpr = self.jaxpr
        if n_nonzero_kept != len(jaxpr.jaxpr.outvars):
            j = jaxpr.jaxpr
            jaxpr = ClosedJaxpr(Jaxpr(j.constvars, j.invars, j.outvars[:n_nonzero_kept], j.eqns),
                                jaxpr.consts)
        return LinearFunction(jaxpr, self.in_avals, self.out_avals[:n_keep], self.in_nonzero,
                              self.out_nonzero[:n_keep])

    @property
    def residuals(self) -> list[Any]:
        """The values the linear map keeps from the forward pass."""
        return list(self.jaxpr.consts)

    def transpose(self, cts_out: Sequence[Any], consume: bool = False) -> list[Any]:
        """Cotangents of the inputs (``Zero`` where none flows) from those of the
        outputs. With `consume`, the residuals are released during the walk and the
        function cannot be transposed again."""
        nz_in_avals = [a for a, nz in zip(self.in_avals, self.in_nonzero) if nz]
        nz_cts = [ct for ct, nz in zip(cts_out, self.out_nonzero) if nz]
        consts = self.jaxpr.consts
        if consume:
            self.jaxpr.consts = []
        cts_in = iter(core_trace.quietly(backward_pass, (
            self.jaxpr.jaxpr, consts, [UndefinedPrimal(a) for a in nz_in_avals], nz_cts,
            True, consume)))
        return [next(cts_in) if nz else Zero(a)
                for a, nz in zip(self.in_avals, self.in_nonzero)]

    def __call__(self, *tangents: Any) -> list[Any]:
        nz = [t for t, keep in zip(tangents, self.in_nonzero) if keep]
        outs = iter(eval_jaxpr(self.jaxpr.jaxpr, self.jaxpr.consts, *nz))
        return [next(outs) if keep else Zero(a)
                for a, keep in zip(self.out_avals, self.out_nonzero)]


def linearize_flat(f: Callable[..., Sequence[Any]], primals: Sequence[Any]
                   ) -> tuple[list[Any], LinearFunction]:
    """Evaluate `f` at `primals` and record its linearization."""
    parent = core_trace.get_current_trace()
    tangent_trace = JaxprTrace(parent, stage_all=False, name=fun_name(f),
                               purpose="linearize")
    trace = LinearizeTrace(parent, tangent_trace)
    in_avals = [get_aval(p) for p in primals]
    in_nonzero = [dtypes.is_float(a.dtype) for a in in_avals]
    tangents_in = [tangent_trace.new_arg(a.to_tangent_aval()) for a, nz
                   in zip(in_avals, in_nonzero) if nz]
    it = iter(tangents_in)
    in_tracers = [LinearizeTracer(trace, p, next(it)) if nz else p
                  for p, nz in zip(primals, in_nonzero)]
    try:
        with core_trace.gc_paused():  # the linear jaxpr grows with the function
            outs = core_trace.run_in(trace, f, in_tracers)
    finally:
        tangent_trace.alive = False
    out_primals, out_tangents = [], []
    for o in outs:
        p, t = trace.to_primal_tangent(o)
        out_primals.append(p)
        out_tangents.append(t)
    out_nonzero = [type(t) is not Zero for t in out_tangents]
    jaxpr = tangent_trace.to_jaxpr(tangents_in, [t for t in out_tangents if type(t) is not Zero])
    out_avals = [get_aval(p).to_tangent_aval() for p in out_primals]
    tangent_avals = [a.to_tangent_aval() for a in in_avals]
    return out_primals, LinearFunction(jaxpr, tangent_avals, out_avals, in_nonzero,
                                       out_nonzero)


def linearize(fun: Callable[..., Any], *primals: Any, has_aux: bool = False
              ) -> tuple[Any, ...]:
    """``(fun(*primals), f_jvp)`` where ``f_jvp(*tangents)`` evaluates the JVP
    with the linearization recorded once, as ``jax.linearize``; with `has_aux`,
    `fun` returns ``(output, aux)`` and the result is ``(output, f_jvp, aux)``."""
    name = fun_name(fun)
    flat, in_tree = flatten_args(primals, None, f"linearize of {name}")
    flat_fun = FlatFun(aux_fun(fun, has_aux), in_tree, name)
    out_primals, linear = linearize_flat(flat_fun, flat)
    out_tree = flat_fun.out_tree
    aux = None
    if has_aux:
        out, aux = tree_unflatten(out_tree, out_primals)
        out_primals, out_tree = tree_flatten(out)
        linear = linear.first_outputs(len(out_primals))
    primal_avals = [get_aval(p) for p in flat]
    fname = f"linearized {name}"

    def f_jvp(*tangents: Any) -> Any:
        flat_t, t_tree = tree_flatten((tangents, {}))
        if t_tree != in_tree:
            raise TypeError(f"{fname}: tangents must have the structure of the primals, "
                            f"{in_tree}; got {t_tree}")
        checked = [check_tangent(a, t, fname, in_tree, i)
                   for i, (a, t) in enumerate(zip(primal_avals, flat_t))]
        outs = outputs((instantiate_zeros(t) for t in linear(*checked)), flat_t)
        return tree_unflatten(out_tree, outs)

    out = tree_unflatten(out_tree, outputs(out_primals, flat))
    return (out, f_jvp, aux) if has_aux else (out, f_jvp)
