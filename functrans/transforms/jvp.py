"""Forward mode: push tangents alongside primals.

The JVP trace carries (primal, tangent) pairs and applies each primitive's
``jvp`` rule in the parent trace, so tangents are computed eagerly. Reverse
mode lives in :mod:`linearize` and :mod:`transpose`; they reuse the same rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from functrans import dtypes
from functrans.core import trace as core_trace
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import missing_transformation_error
from functrans.core.trace import Trace, Tracer, check_alive
from functrans.core.zeros import Zero
from functrans.primitives.elementwise import convert_element_type
from functrans.primitives.tangent_space import instantiate_zeros
from functrans.transforms.api_util import (
    FlatFun,
    argument_name,
    check_leaf,
    flatten_args,
    outputs,
)
from functrans.tree_util import PyTreeDef, tree_flatten, tree_unflatten


class JVPTracer(Tracer):
    __slots__ = ("primal", "tangent", "_aval")

    def __init__(self, trace: JVPTrace, primal: Any, tangent: Any):
        self._trace = trace
        self.primal = primal
        self.tangent = tangent
        self._aval = None

    @property
    def aval(self) -> ShapedArray:
        aval = self._aval
        if aval is None:  # computed once: rules ask for it several times per primitive
            aval = self._aval = get_aval(self.primal)
        return aval

    def to_concrete(self, context: str) -> Any:
        p = self.primal
        return p.to_concrete(context) if isinstance(p, Tracer) else p


class JVPTrace(Trace):
    """Carries (primal, tangent) pairs. Each primitive's ``jvp`` rule runs with
    ``rule_trace`` current: the parent here, so tangents are computed eagerly;
    linearize's subclass records them instead."""

    tracer_type: type = JVPTracer
    transformation = "forward-mode differentiation (jvp)"
    differentiates = True

    def __init__(self, parent: Trace):
        self.parent = parent
        self.rule_trace = parent

    def describe(self) -> str:
        return "jvp"

    def to_primal_tangent(self, x: Any) -> tuple[Any, Any]:
        if isinstance(x, Tracer):
            if x._trace is self:
                return x.primal, x.tangent
            check_alive(x, "inside a jvp")
        return x, Zero(get_aval(x).to_tangent_aval())

    def process_primitive(self, primitive, args, params):
        primals, tangents = [], []
        nonzero = False
        tracer_type = self.tracer_type
        for x in args:
            if type(x) is tracer_type and x._trace is self:
                primals.append(x.primal)
                tangents.append(x.tangent)
                nonzero = True
            else:
                p, t = self.to_primal_tangent(x)
                primals.append(p)
                tangents.append(t)
        if not nonzero:
            return self.parent.process_primitive(primitive, tuple(primals), params)
        rule = primitive.jvp
        if rule is None:
            raise missing_transformation_error(primitive, self.transformation)
        token = core_trace.set_current_trace(self.rule_trace)
        try:
            primal_out, tangent_out = rule(primals, tangents, **params)
        finally:
            core_trace.reset_current_trace(token)
        if primitive.multiple_results:
            return [self.wrap(p, t) for p, t in zip(primal_out, tangent_out)]
        return self.wrap(primal_out, tangent_out)

    def wrap(self, primal: Any, tangent: Any) -> Any:
        if type(tangent) is Zero:
            return primal
        return JVPTracer(self, primal, tangent)


def jvp_flat(f: Callable[..., Sequence[Any]], primals: Sequence[Any],
             tangents: Sequence[Any]) -> tuple[list[Any], list[Any]]:
    """JVP of a function of flat arrays; tangents may be symbolic Zeros."""
    trace = JVPTrace(core_trace.get_current_trace())
    in_tracers = [trace.wrap(p, t) for p, t in zip(primals, tangents)]
    outs = core_trace.run_in(trace, f, in_tracers)
    out_primals, out_tangents = [], []
    for o in outs:
        p, t = trace.to_primal_tangent(o)
        out_primals.append(p)
        out_tangents.append(t)
    return out_primals, out_tangents


def jvp(fun: Callable[..., Any], primals: Sequence[Any], tangents: Sequence[Any],
        has_aux: bool = False) -> tuple[Any, ...]:
    """Forward-mode Jacobian-vector product, as ``jax.jvp``.

    Returns ``(fun(*primals), J @ tangents)`` with the output pytree structure
    (and ``aux`` as a third element with ``has_aux=True``).
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples or lists (one entry per "
                        f"positional argument of the function), got {type(primals).__name__} "
                        f"and {type(tangents).__name__}")
    if len(primals) != len(tangents):
        raise TypeError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    name = getattr(fun, "__name__", "function")
    flat_primals, in_tree = flatten_args(primals, None, f"jvp of {name}")
    flat_tangents, tangent_tree = tree_flatten((tuple(tangents), {}))
    if tangent_tree != in_tree:
        raise TypeError(f"jvp: primal and tangent arguments must have the same tree "
                        f"structure; got {in_tree} and {tangent_tree}")
    tangents_in = [check_tangent(get_aval(p), t, f"jvp of {name}", in_tree, i)
                   for i, (p, t) in enumerate(zip(flat_primals, flat_tangents))]
    flat_fun = FlatFun(aux_fun(fun, has_aux), in_tree, name)
    out_primals, out_tangents = jvp_flat(flat_fun, flat_primals, tangents_in)
    # the caller's: no result shares memory with an argument or another result
    owned = outputs(list(out_primals) + [instantiate_zeros(t) for t in out_tangents],
                    flat_primals + flat_tangents)
    out_primals, out_tangents = owned[:len(out_primals)], owned[len(out_primals):]
    out_tree = flat_fun.out_tree
    if has_aux:
        (p, aux), (t, _) = (tree_unflatten(out_tree, out_primals),
                            tree_unflatten(out_tree, out_tangents))
        return p, t, aux
    return tree_unflatten(out_tree, out_primals), tree_unflatten(out_tree, out_tangents)


def aux_fun(fun: Callable[..., Any], has_aux: bool) -> Callable[..., Any]:
    if not has_aux:
        return fun

    def checked(*args: Any, **kwargs: Any) -> Any:
        out = fun(*args, **kwargs)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError("has_aux=True requires the function to return a pair "
                            f"(output, aux), got {type(out).__name__}")
        return tuple(out)
    checked.__name__ = getattr(fun, "__name__", "function")
    return checked


def check_tangent(primal_aval: ShapedArray, tangent: Any, fname: str,
                  in_tree: PyTreeDef, index: int) -> Any:
    """The tangent for flat argument `index` as the transformations use it (a
    weakly-typed float cast to the primal's dtype; a symbolic ``Zero`` for an
    integer or boolean primal), or a TypeError/ValueError naming `fname`, the
    argument, and what it should be: JAX's rules for ``jvp`` tangents."""
    try:
        t_aval = get_aval(tangent)
    except TypeError:  # not an array: say which argument, as for primals
        check_leaf(tangent, fname, f"the tangent {argument_name(in_tree, index, 'tangents')}")
        raise
    expected = primal_aval.to_tangent_aval()
    if t_aval.shape != expected.shape:
        raise ValueError(f"{fname}: the tangent {argument_name(in_tree, index, 'tangents')} "
                         f"has shape {t_aval.shape}, but its primal has shape "
                         f"{primal_aval.shape}; each tangent must have its primal's shape")
    if expected.dtype == dtypes.float0:
        if t_aval.dtype != dtypes.float0:
            raise _tangent_dtype_error(primal_aval, t_aval, fname, in_tree, index)
        return Zero(expected)  # integers carry no tangent
    if t_aval.dtype == expected.dtype and t_aval.weak_type <= primal_aval.weak_type:
        return tangent
    if t_aval.weak_type and _weak_float_fits(t_aval, expected):
        return convert_element_type(tangent, expected.dtype)
    raise _tangent_dtype_error(primal_aval, t_aval, fname, in_tree, index)


def _weak_float_fits(t_aval: ShapedArray, expected: ShapedArray) -> bool:
    """A Python float (or weakly-typed float tangent) may stand for a tangent of
    `expected`'s dtype when promoting them keeps that dtype, as in arithmetic."""
    return (dtypes.is_float(t_aval.dtype)
            and dtypes.result_type(t_aval, expected) == expected.dtype)


def _tangent_dtype_error(primal_aval: ShapedArray, t_aval: ShapedArray, fname: str,
                         in_tree: PyTreeDef, index: int) -> TypeError:
    expected = primal_aval.to_tangent_aval().dtype
    if expected == dtypes.float0:
        expected_name = "float0"
        fix = (f"pass np.zeros({primal_aval.shape}, functrans.dtypes.float0) (integer and "
               "boolean values carry no tangent)")
    else:
        expected_name = str(expected)
        fix = f"cast the tangent with .astype({expected})"
    weak = " (weakly typed)" if t_aval.weak_type else ""
    return TypeError(
        f"{fname}: primal and tangent arguments do not match; dtypes must be equal, or in "
        "case of int/bool primal dtype the tangent dtype must be float0. Got primal dtype "
        f"{primal_aval.dtype} for {argument_name(in_tree, index, 'primals')} and so "
        f"expected tangent dtype {expected_name}, but got tangent dtype {t_aval.dtype}"
        f"{weak} instead; {fix}.")
