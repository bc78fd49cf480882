"""Custom derivative rules: ``custom_jvp`` and ``custom_vjp``, as in JAX.

Both are higher-order primitives. A call binds ``custom_jvp_call`` (or
``custom_vjp_call``) holding the function's closed jaxpr and the user's rules
(wrapped as flat-array callables), so every trace sees the rules:

* evaluation runs the jaxpr (the function itself, not the rule);
* ``jvp``/``linearize`` call the rule (``custom_jvp``), or run ``fwd`` and emit
  a ``custom_lin`` equation whose transpose is ``bwd`` (``custom_vjp``).
  ``custom_lin`` cannot be evaluated: forward mode of a ``custom_vjp``
  function fails with a ``TypeError`` saying so, reverse mode transposes it;
* ``vmap`` batches the jaxpr and wraps the rules in ``vmap`` (cotangents of
  unbatched inputs are summed over the batch);
* ``jit``/``make_jaxpr`` stage the equation, so a jitted function still uses
  the rule when it is differentiated later.

Outside any transformation a call just runs the function.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans import dtypes, errors
from functrans.compile import evaluate_jaxpr
from functrans.core import trace as core_trace
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.ir import ClosedJaxpr, eval_jaxpr
from functrans.core.primitive import Primitive
from functrans.core.trace import Tracer
from functrans.core.zeros import UndefinedPrimal, Zero
from functrans.higher_order.call import batch_size, call_out_avals
from functrans.higher_order.jaxpr_transforms import batch_jaxpr
from functrans.primitives.elementwise import add, convert_element_type
from functrans.primitives.reductions import reduce_sum
from functrans.primitives.rules import move_bdim
from functrans.primitives.tangent_space import add_tangents, instantiate_zeros
from functrans.transforms.api_util import check_leaf, fun_name
from functrans.transforms.jvp import jvp_flat
from functrans.transforms.staging import hoist_tracer_consts, trace_to_jaxpr
from functrans.transforms.vmap import vmap_flat
from functrans.tree_util import PyTreeDef, tree_flatten, tree_unflatten

__all__ = ["custom_jvp", "custom_vjp", "SymbolicZero", "custom_jvp_call_p",
           "custom_vjp_call_p", "custom_lin_p"]



class SymbolicZero:
    """A zero tangent passed to (or returned by) a ``custom_jvp`` rule defined
    with ``symbolic_zeros=True``: no array is built for it."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    @property
    def shape(self) -> tuple[int, ...]:
        return self.aval.shape

    @property
    def dtype(self) -> np.dtype:
        return self.aval.dtype

    def __repr__(self) -> str:
        return f"SymbolicZero({self.aval.str_short()})"


# ------------------------------------------------------------------ shared plumbing

def _resolve_args(fun: Callable[..., Any], args: tuple, kwargs: dict, what: str) -> tuple:
    """Keyword arguments moved to their positions (rules take positional arguments)."""
    if not kwargs:
        return args
    try:
        bound = inspect.signature(fun).bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{what}: the arguments do not match the signature of the "
                        f"function: {e}") from None
    bound.apply_defaults()
    return bound.args + tuple(bound.kwargs.values())


class _ArgSpec:
    """How a call's arguments map to the primitive's flat operands.

    Operands are the traced leaves of the ``nondiff_argnums`` arguments (their
    other leaves are static) followed by the leaves of the differentiable ones.
    """

    def __init__(self, args: tuple, nondiff_argnums: tuple[int, ...], what: str):
        nargs = len(args)
        for i in nondiff_argnums:
            if not -nargs <= i < nargs:
                raise ValueError(f"{what}: nondiff_argnums entry {i} is out of range for a "
                                 f"call with {nargs} positional arguments")
        self.nargs = nargs
        self.nondiff = tuple(sorted({i % nargs for i in nondiff_argnums}))
        self.diff = tuple(i for i in range(nargs) if i not in self.nondiff)
        nd_leaves, self.nondiff_tree = tree_flatten(tuple(args[i] for i in self.nondiff))
        self.traced = tuple(isinstance(x, Tracer) for x in nd_leaves)
        self.static_leaves = [None if t else x for x, t in zip(nd_leaves, self.traced)]
        diff_leaves, self.diff_tree = tree_flatten(tuple(args[i] for i in self.diff))
        for leaf in diff_leaves:
            check_leaf(leaf, what, "an argument")
        self.num_nondiff = sum(self.traced)
        self.operands = [x for x, t in zip(nd_leaves, self.traced) if t] + diff_leaves

    def structure(self) -> _ArgSpec:
        """This spec without the call's operands: what a rule kept beyond the call
        needs (holding no values of the call)."""
        spec = copy.copy(self)
        spec.operands = []
        return spec

    def split(self, operands: Sequence[Any]) -> tuple[tuple, tuple]:
        """(nondiff args, diff args) rebuilt from flat operands."""
        dyn = iter(operands[:self.num_nondiff])
        nd = [next(dyn) if t else s for s, t in zip(self.static_leaves, self.traced)]
        nondiff = tree_unflatten(self.nondiff_tree, nd)
        diff = tree_unflatten(self.diff_tree, operands[self.num_nondiff:])
        return tuple(nondiff), tuple(diff)

    def full_args(self, operands: Sequence[Any]) -> tuple:
        nondiff, diff = self.split(operands)
        args: list[Any] = [None] * self.nargs
        for i, x in zip(self.nondiff, nondiff):
            args[i] = x
        for i, x in zip(self.diff, diff):
            args[i] = x
        return tuple(args)


class _Outputs:
    """The structure and types of a custom function's outputs: known from its traced
    jaxpr, or, when the function itself is never traced, learned from the first
    output of its rule (as JAX does under eager differentiation)."""

    def __init__(self, tree: PyTreeDef | None = None,
                 avals: list[ShapedArray] | None = None):
        self.tree = tree
        self.avals = avals

    def check(self, flat: list[Any], tree: PyTreeDef, what: str) -> list[Any]:
        """`flat` (with structure `tree`) conformed to the output types."""
        if self.tree is None:
            self.tree = tree
            self.avals = [get_aval(x).strip_weak_type() for x in flat]
        if tree != self.tree:
            raise TypeError(f"{what} must produce outputs with the structure of the "
                            f"function's output, {self.tree}; got {tree}")
        return [_conform(x, a, f"{what}: output {i}")
                for i, (x, a) in enumerate(zip(flat, self.avals))]


def _rule_runs_now(operands: Sequence[Any]) -> bool:
    """The current trace differentiates one of `operands`: binding the call runs the
    custom rule at once, on the primal values (concrete under eager grad, jvp and
    vjp), so the function itself is never needed and is not traced. JAX behaves so:
    under eager differentiation the rule may use NumPy, SciPy and Python loops."""
    tracers = [x for x in operands if isinstance(x, Tracer)]
    trace: Any = core_trace.get_current_trace()
    while trace is not None and not trace.stages_constants:
        if any(x._trace is trace for x in tracers):  # the trace that processes the call
            return trace.differentiates
        trace = trace.parent  # a trace that owns no operand hands the call down
    return False


def _closes_over_tracers(fun: Callable[..., Any]) -> bool:
    """`fun` holds a traced value in its closure: its bwd rule cannot give that value a
    cotangent, which tracing the function detects (and reports)."""
    cells = getattr(fun, "__closure__", None) or ()
    return any(isinstance(leaf, Tracer) for cell in cells
               for leaf in tree_flatten(_cell_contents(cell))[0])


def _cell_contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not yet filled
        return None


def _untraced(args: tuple) -> bool:
    """No argument is traced by any transformation (outside every transformation,
    or called on known values inside a rule): the function is simply called.
    Values it closes over are then differentiated through the function itself."""
    if core_trace.get_current_trace() is core_trace.eval_trace:
        return True
    return not any(isinstance(x, Tracer) for x in tree_flatten(args)[0])


def _trace_call(fun: Callable[..., Any], spec: _ArgSpec, name: str
                ) -> tuple[ClosedJaxpr, list[Any], PyTreeDef]:
    """The closed jaxpr of `fun` on the operands, with closed-over tracers hoisted."""
    out_tree: list[PyTreeDef] = []

    def flat_fun(*operands: Any) -> list[Any]:
        leaves, tree = tree_flatten(fun(*spec.full_args(operands)))
        for leaf in leaves:
            check_leaf(leaf, name, "the function's output")
        out_tree.append(tree)
        return leaves

    closed = trace_to_jaxpr(flat_fun, [get_aval(x) for x in spec.operands], name, "custom rule")
    closed, hoisted = hoist_tracer_consts(closed)
    return closed, hoisted, out_tree[0]


def _conform(x: Any, aval: ShapedArray, what: str) -> Any:
    """`x` checked against `aval` (the shape must match; a Python scalar or a
    weakly-typed value is cast to the dtype)."""
    x_aval = get_aval(x)
    if x_aval.shape != aval.shape:
        raise ValueError(f"{what} has shape {x_aval.shape} and dtype {x_aval.dtype}, but "
                         f"shape {aval.shape} and dtype {aval.dtype} are expected")
    if x_aval.dtype != aval.dtype:
        if x_aval.weak_type or dtypes.is_python_scalar(x):
            return convert_element_type(x, aval.dtype)
        raise TypeError(f"{what} has dtype {x_aval.dtype} (shape {x_aval.shape}), but dtype "
                        f"{aval.dtype} is expected; cast it with .astype({aval.dtype})")
    return x


def _strip_dim(aval: ShapedArray, dim: int | None) -> ShapedArray:
    if dim is None:
        return aval
    return ShapedArray(aval.shape[:dim] + aval.shape[dim + 1:], aval.dtype)


def _is_float(aval: ShapedArray) -> bool:
    return dtypes.is_float(aval.dtype)


# ------------------------------------------------------------------ custom_jvp

class _JVPRule:
    """The user's JVP rule as a function of flat operands and tangents."""

    def __init__(self, rule: Callable[..., Any], spec: _ArgSpec, outputs: _Outputs,
                 symbolic_zeros: bool, name: str):
        self.rule = rule
        self.spec = spec
        self.outputs = outputs
        self.symbolic_zeros = symbolic_zeros
        self.name = name

    def __call__(self, primals: Sequence[Any], tangents: Sequence[Any]
                 ) -> tuple[list[Any], list[Any]]:
        spec = self.spec
        nondiff, diff_primals = spec.split(primals)
        n_nd = spec.num_nondiff
        flat_t = [self._tangent_in(t) for t in tangents[n_nd:]]
        diff_tangents = tree_unflatten(spec.diff_tree, flat_t)
        out = self.rule(*nondiff, diff_primals, diff_tangents)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(f"custom_jvp rule of {self.name} must return a pair "
                            f"(primal_out, tangent_out), got {type(out).__name__}")
        primal_out, tangent_out = out
        p_flat, p_tree = tree_flatten(primal_out)
        t_flat, t_tree = tree_flatten(tangent_out)
        p_flat = self.outputs.check(p_flat, p_tree, f"custom_jvp rule of {self.name} (primal)")
        if t_tree != p_tree:
            raise TypeError(f"custom_jvp rule of {self.name} must produce primal and tangent "
                            f"outputs of the same structure; got {p_tree} and {t_tree}")
        t_out = [self._tangent_out(t, a, i) for i, (t, a)
                 in enumerate(zip(t_flat, self.outputs.avals))]
        return p_flat, t_out

    def _tangent_in(self, t: Any) -> Any:
        if type(t) is not Zero:
            return t
        return SymbolicZero(t.aval) if self.symbolic_zeros else instantiate_zeros(t)

    def _tangent_out(self, t: Any, aval: ShapedArray, i: int) -> Any:
        t_aval = aval.to_tangent_aval()
        if type(t) in (SymbolicZero, Zero) or not _is_float(aval):
            return Zero(t_aval)
        return _conform(t, t_aval, f"custom_jvp rule of {self.name}: tangent output {i}")


class _BatchedJVPRule:
    """A JVP rule vmapped over its operands (tangents batched like their primals)."""

    def __init__(self, rule: Any, dims: Sequence[int | None], size: int,
                 out_avals: list[ShapedArray]):
        self.rule = rule
        self.dims = list(dims)
        self.size = size
        self.out_avals = out_avals  # unbatched

    def __call__(self, primals: Sequence[Any], tangents: Sequence[Any]
                 ) -> tuple[list[Any], list[Any]]:
        n = len(primals)
        nonzero = [type(t) is not Zero for t in tangents]
        zero_avals = [_strip_dim(t.aval, d) if type(t) is Zero else None
                      for t, d in zip(tangents, self.dims)]
        floats = [_is_float(a) for a in self.out_avals]

        def per_lane(*xs: Any) -> list[Any]:
            it = iter(xs[n:])
            ts = [next(it) if nz else Zero(za) for nz, za in zip(nonzero, zero_avals)]
            outs, touts = self.rule(list(xs[:n]), ts)
            return list(outs) + [instantiate_zeros(t) for t, f in zip(touts, floats) if f]

        args = list(primals) + [t for t in tangents if type(t) is not Zero]
        dims = self.dims + [d for d, nz in zip(self.dims, nonzero) if nz]
        n_out = len(self.out_avals) + sum(floats)
        res, _ = vmap_flat(per_lane, args, dims, [0] * n_out, self.size)
        outs = res[:len(self.out_avals)]
        t_it = iter(res[len(self.out_avals):])
        touts = [next(t_it) if f else Zero(get_aval(o).to_tangent_aval())
                 for o, f in zip(outs, floats)]
        return outs, touts


custom_jvp_call_p = Primitive("custom_jvp_call", multiple_results=True)


def _custom_jvp_call_impl(*args: Any, call_jaxpr: ClosedJaxpr, jvp: Any, num_consts: int,
                          name: str) -> list[Any]:
    return evaluate_jaxpr(call_jaxpr, args, name)


def _custom_jvp_call_jvp(primals, tangents, *, call_jaxpr, jvp, num_consts, name):
    const_tangents = tangents[:num_consts]
    op_tangents = tangents[num_consts:]
    if any(type(t) is not Zero for t in op_tangents):
        outs, touts = jvp(primals[num_consts:], op_tangents)
    else:
        outs, touts = None, [Zero(a.to_tangent_aval()) for a in call_jaxpr.out_avals]
    if any(type(t) is not Zero for t in const_tangents):
        # Values the function closes over are differentiated through the
        # function itself (the rule only knows about the explicit arguments).
        zeros = [Zero(get_aval(p).to_tangent_aval()) for p in primals[num_consts:]]
        p_outs, extra = jvp_flat(lambda *xs: eval_jaxpr(call_jaxpr.jaxpr, call_jaxpr.consts,
                                                        *xs),
                                 primals, list(const_tangents) + zeros)
        outs = p_outs if outs is None else outs
        touts = [add_tangents(a, b) for a, b in zip(touts, extra)]
    return outs, touts


def _custom_jvp_call_batch(args, dims, *, call_jaxpr, jvp, num_consts, name):
    size = batch_size(args, dims)
    batched = batch_jaxpr(call_jaxpr, dims, size, [True] * len(call_jaxpr.out_avals))[0]
    rule = _BatchedJVPRule(jvp, dims[num_consts:], size, list(call_jaxpr.out_avals))
    outs = custom_jvp_call_p.bind(*args, call_jaxpr=batched, jvp=rule, num_consts=num_consts,
                                  name=name)
    return outs, [0] * len(outs)


custom_jvp_call_p.impl = _custom_jvp_call_impl
custom_jvp_call_p.call_jaxpr_param = "call_jaxpr"  # evaluation ignores the rule
custom_jvp_call_p.abstract_eval = (
    lambda *avals, call_jaxpr, **params: call_out_avals(jaxpr=call_jaxpr))
custom_jvp_call_p.jvp = _custom_jvp_call_jvp
custom_jvp_call_p.batch = _custom_jvp_call_batch


class custom_jvp:  # noqa: N801  (JAX's name)
    """A function with a custom JVP rule, as ``jax.custom_jvp``::

        @custom_jvp
        def f(x, y):
            return fnp.sin(x) * y

        @f.defjvp
        def f_jvp(primals, tangents):
            x, y = primals
            x_dot, y_dot = tangents
            return f(x, y), fnp.cos(x) * x_dot * y + fnp.sin(x) * y_dot

    Arguments listed in `nondiff_argnums` are passed to the rule first
    (``rule(*nondiff_args, primals, tangents)``) and get no tangent. The rule
    is used by every differentiation (also of a ``jit``-compiled or ``vmap``-ped
    call) and is itself differentiated for higher orders.
    """

    #: the rule is written with functrans operations alone (set by
    #: :func:`traceable_rule`, for the library's own functions): see there
    rule_traceable = False

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.jvp: Callable[..., Any] | None = None
        self.symbolic_zeros = False
        #: per operand signature, the traced call and its rule (rule_traceable only)
        self._staged: dict[Any, tuple] = {}

    def defjvp(self, jvp: Callable[..., Any], symbolic_zeros: bool = False
               ) -> Callable[..., Any]:
        """Set the rule ``jvp(primals, tangents) -> (primal_out, tangent_out)``.
        With `symbolic_zeros`, zero tangents arrive as ``SymbolicZero`` objects
        (and the rule may return them)."""
        self.jvp = jvp
        self.symbolic_zeros = symbolic_zeros
        self._staged.clear()  # rules made with the previous one
        return jvp

    def defjvps(self, *jvps: Callable[..., Any] | None) -> None:
        """One rule per differentiable argument, ``rule(tangent, primal_out,
        *primals) -> tangent_out contribution``; None for an argument with zero
        derivative. The contributions are summed."""
        n_nondiff = len(self.nondiff_argnums)

        def jvp(*args: Any) -> tuple[Any, Any]:
            nondiff, (primals, tangents) = args[:n_nondiff], args[n_nondiff:]
            if len(jvps) != len(primals):
                raise TypeError(f"defjvps of {fun_name(self.fun)}: {len(jvps)} rules for "
                                f"{len(primals)} differentiable arguments")
            full = self._with_nondiff(nondiff, primals)
            primal_out = self(*full)
            total: Any = None
            for rule, t in zip(jvps, tangents):
                if rule is None or _all_symbolic_zero(t):
                    continue
                part = rule(t, primal_out, *primals)
                total = part if total is None else _tree_add(total, part)
            if total is None:
                total = _tree_zeros_like(primal_out)
            return primal_out, total

        self.defjvp(jvp, symbolic_zeros=True)

    def _with_nondiff(self, nondiff: Sequence[Any], primals: Sequence[Any]) -> tuple:
        n = len(nondiff) + len(primals)
        positions = sorted({i % n for i in self.nondiff_argnums})
        nd, pr = iter(nondiff), iter(primals)
        return tuple(next(nd) if i in positions else next(pr) for i in range(n))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._staged and not kwargs:  # a traceable rule's call met before
            operands, key = _array_arguments_key(args, self.nondiff_argnums)
            try:
                staged = self._staged.get(key) if key is not None else None
            except TypeError:  # an unhashable static argument: never kept
                staged = None
            if staged is not None:
                closed, _, outputs, rule = staged  # (kept only without hoisted values)
                outs = custom_jvp_call_p.bind(*operands, call_jaxpr=closed, jvp=rule,
                                              num_consts=0, name=rule.name)
                return tree_unflatten(outputs.tree, outs)
        name = fun_name(self.fun)
        what = f"custom_jvp function {name}"
        if self.jvp is None:
            raise AttributeError(f"No JVP defined for custom_jvp function {name} using "
                                 "defjvp (or defjvps).")
        args = _resolve_args(self.fun, args, kwargs, what)
        untraced = _untraced(args)
        if untraced and not self.rule_traceable:
            return self.fun(*args)  # no argument carries a tangent: the rule plays no part
        spec = _ArgSpec(args, self.nondiff_argnums, what)
        # a traceable rule's function is staged even on values: its call then runs
        # compiled code (see evaluate_jaxpr), not one primitive at a time
        staged = self._stage(spec, name) if self.rule_traceable else None
        if staged is not None:
            closed, hoisted, outputs, rule = staged
        elif untraced:
            return self.fun(*args)
        else:
            if _rule_runs_now(spec.operands):
                closed, hoisted, outputs = None, [], _Outputs()
            else:
                closed, hoisted, out_tree = _trace_call(self.fun, spec, name)
                outputs = _Outputs(out_tree, list(closed.out_avals))
            rule = _JVPRule(self.jvp, spec, outputs, self.symbolic_zeros, name)
        outs = custom_jvp_call_p.bind(*hoisted, *spec.operands, call_jaxpr=closed, jvp=rule,
                                      num_consts=len(hoisted), name=name)
        return tree_unflatten(outputs.tree, outs)


    def _stage(self, spec: _ArgSpec, name: str
               ) -> tuple[ClosedJaxpr, list[Any], _Outputs, _JVPRule]:
        """The call traced, and its rule, kept per operand signature: the same objects
        each call, so that eager reverse mode derives the call's reverse rule once,
        as a primitive's (see :mod:`functrans.transforms.tape`). None where the
        signature cannot be kept (an unhashable static argument): the call then
        takes the path of any custom rule."""
        key: Any = (spec.diff_tree, *[get_aval(x) for x in spec.operands])
        if any(spec.traced):  # a traced value among the static arguments: this call's
            return None
        if spec.nondiff:  # the static arguments are part of it
            key += (_static_key(tree_unflatten(spec.nondiff_tree, spec.static_leaves)),)
        try:
            staged = self._staged.get(key)
        except TypeError:
            return None
        if staged is not None:
            return staged
        closed, hoisted, out_tree = _trace_call(self.fun, spec, name)
        outputs = _Outputs(out_tree, list(closed.out_avals))
        rule = _JVPRule(self.jvp, spec.structure(), outputs, self.symbolic_zeros, name)
        staged = (closed, hoisted, outputs, rule)
        if not hoisted:  # hoisted tracers belong to this call
            if len(self._staged) >= _MAX_STAGED:
                del self._staged[next(iter(self._staged))]
            self._staged[key] = staged
        return staged


#: operand signatures kept per custom_jvp function with a traceable rule
_MAX_STAGED = 64
_ARGUMENT_TREES: dict[int, PyTreeDef] = {}


def _array_arguments_key(args: tuple, nondiff_argnums: tuple[int, ...]
                         ) -> tuple[list[Any], Any]:
    """The operands of a call whose differentiable arguments are arrays and whose
    static ones (`nondiff_argnums`) hold no tracer, and the key :meth:`custom_jvp._stage`
    keeps it under (None for any other call): found without building a spec."""
    nargs = len(args)
    nondiff = sorted({i % nargs for i in nondiff_argnums if -nargs <= i < nargs})
    avals, operands = [], []
    for i, x in enumerate(args):
        if nondiff and i in nondiff:
            continue
        if isinstance(x, Tracer):
            avals.append(x.aval)
        elif type(x) is np.ndarray:
            avals.append(get_aval(x))
        else:
            return operands, None
        operands.append(x)
    tree = _ARGUMENT_TREES.get(len(operands))
    if tree is None:
        tree = _ARGUMENT_TREES[len(operands)] = tree_flatten(tuple(range(len(operands))))[1]
    if not nondiff:
        return operands, (tree, *avals)
    return operands, (tree, *avals, _static_key(tuple(args[i] for i in nondiff)))


def _static_key(static_args: tuple) -> tuple:
    """The static arguments of a call as part of a staged call's key: by type and
    value (``True`` and ``1`` differ)."""
    return tuple((type(a), a) for a in static_args)


def traceable_rule(fun: custom_jvp) -> custom_jvp:
    """Mark `fun`'s JVP rule as written with functrans operations alone, as the
    library's own rules are (relu, logaddexp, det...).

    A user's rule runs on the concrete values under eager differentiation, as in
    JAX, so it may use NumPy, SciPy and Python control flow; each call then
    linearizes on its values. A traceable rule is traced instead, once per operand
    signature, and eager reverse mode derives and compiles its reverse rule like a
    primitive's: no per-call linearization."""
    fun.rule_traceable = True
    return fun


def _all_symbolic_zero(tree: Any) -> bool:
    leaves = tree_flatten(tree)[0]
    return all(type(x) is SymbolicZero for x in leaves)


def _tree_add(a: Any, b: Any) -> Any:
    a_flat, tree = tree_flatten(a)
    b_flat = tree_flatten(b)[0]
    out = []
    for x, y in zip(a_flat, b_flat):
        if type(x) is SymbolicZero:
            out.append(y)
        elif type(y) is SymbolicZero:
            out.append(x)
        else:
            out.append(add(x, y))
    return tree_unflatten(tree, out)


def _tree_zeros_like(tree: Any) -> Any:
    leaves, t = tree_flatten(tree)
    return tree_unflatten(t, [SymbolicZero(get_aval(x).to_tangent_aval()) for x in leaves])


# ------------------------------------------------------------------ custom_vjp

class _FwdRule:
    """The user's ``fwd`` as a function of flat operands: (outputs, residuals, res tree)."""

    def __init__(self, fwd: Callable[..., Any], spec: _ArgSpec, outputs: _Outputs,
                 name: str):
        self.fwd = fwd
        self.spec = spec
        self.outputs = outputs
        self.name = name

    def __call__(self, operands: Sequence[Any]) -> tuple[list[Any], list[Any], PyTreeDef]:
        out = self.fwd(*self.spec.full_args(operands))
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(f"custom_vjp fwd rule of {self.name} must return a pair "
                            f"(primal_out, residuals), got {type(out).__name__}")
        primal_out, res = out
        p_flat, p_tree = tree_flatten(primal_out)
        p_flat = self.outputs.check(p_flat, p_tree, f"custom_vjp fwd rule of {self.name}")
        res_flat, res_tree = tree_flatten(res)
        for leaf in res_flat:
            check_leaf(leaf, f"custom_vjp fwd rule of {self.name}", "a residual")
        return p_flat, res_flat, res_tree


class _BwdRule:
    """The user's ``bwd`` as a map (residuals, output cotangents) -> one
    cotangent per operand (``Zero`` where none flows)."""

    def __init__(self, bwd: Callable[..., Any], spec: _ArgSpec, outputs: _Outputs,
                 in_avals: list[ShapedArray], name: str):
        self.bwd = bwd
        self.spec = spec
        self.outputs = outputs  # learned by fwd, which runs first, if not known before
        self.in_avals = in_avals  # of the operands
        self.name = name

    @property
    def out_avals(self) -> list[ShapedArray]:
        return self.outputs.avals

    def __call__(self, res: Sequence[Any], res_tree: PyTreeDef, cts: Sequence[Any]
                 ) -> list[Any]:
        spec = self.spec
        n_nd = spec.num_nondiff
        nondiff, _ = spec.split(list(res[:n_nd]) + [None] * (len(self.in_avals) - n_nd))
        residuals = tree_unflatten(res_tree, res[n_nd:])
        ct_tree = tree_unflatten(self.outputs.tree, [instantiate_zeros(c) for c in cts])
        out = self.bwd(*nondiff, residuals, ct_tree)
        n_diff = len(spec.diff)
        if not isinstance(out, (tuple, list)) or len(out) != n_diff:
            got = (f"a {type(out).__name__} of length {len(out)}"
                   if isinstance(out, (tuple, list)) else f"a {type(out).__name__}")
            raise TypeError(f"custom_vjp bwd rule of {self.name} must return a tuple with one "
                            f"cotangent per differentiable argument ({n_diff}), got {got}")
        # the rule may return arrays it did not compute (a module's constant, a
        # residual, an argument of fwd): the caller's results must not share their
        # memory. The cotangents it was given are the backward pass's own.
        flat = [ct.copy() if type(ct) is np.ndarray and not any(ct is c for c in cts) else ct
                for ct in self._flatten_cts(out)]
        return [Zero(a.to_tangent_aval()) for a in self.in_avals[:n_nd]] + flat

    def _flatten_cts(self, out: Sequence[Any]) -> list[Any]:
        arg_trees = self.spec.diff_tree.children
        avals = iter(self.in_avals[self.spec.num_nondiff:])
        flat: list[Any] = []
        for i, (ct, tree) in enumerate(zip(out, arg_trees)):
            arg_avals = [next(avals) for _ in range(tree.num_leaves)]
            if ct is None:
                flat.extend(Zero(a.to_tangent_aval()) for a in arg_avals)
                continue
            leaves, ct_tree = tree_flatten(ct, is_leaf=lambda x: x is None)
            if ct_tree != tree:
                raise TypeError(f"custom_vjp bwd rule of {self.name}: the cotangent for "
                                f"argument {i} must have the argument's structure {tree}, "
                                f"got {ct_tree}")
            for leaf, a in zip(leaves, arg_avals):
                flat.append(self._leaf_ct(leaf, a, i))
        return flat

    def _leaf_ct(self, ct: Any, aval: ShapedArray, i: int) -> Any:
        t_aval = aval.to_tangent_aval()
        if ct is None or type(ct) in (Zero, SymbolicZero) or not _is_float(aval):
            return Zero(t_aval)
        return _conform(ct, t_aval, f"custom_vjp bwd rule of {self.name}: the cotangent for "
                                    f"argument {i}")


class _BatchedFwd:
    def __init__(self, fwd: Any, dims: Sequence[int | None], size: int):
        self.fwd = fwd
        self.dims = list(dims)
        self.size = size

    def __call__(self, operands: Sequence[Any]) -> tuple[list[Any], list[Any], PyTreeDef]:
        info: list[Any] = []

        def per_lane(*ops: Any) -> list[Any]:
            outs, res, res_tree = self.fwd(list(ops))
            info[:] = [len(outs), res_tree]
            return list(outs) + list(res)

        flat, _ = vmap_flat(per_lane, list(operands), self.dims,
                            lambda: [0] * (info[0] + info[1].num_leaves), self.size)
        return flat[:info[0]], flat[info[0]:], info[1]


class _BatchedBwd:
    """bwd vmapped: residuals and cotangents batched along axis 0; cotangents of
    unbatched operands summed over the batch."""

    def __init__(self, bwd: Any, dims: Sequence[int | None], size: int,
                 in_avals: list[ShapedArray], nondiff_res_dims: Sequence[int | None]):
        self.bwd = bwd
        self.dims = list(dims)
        self.size = size
        self.in_avals = in_avals  # unbatched operands
        # the first residuals are the traced nondiff arguments, batched as given
        self.nondiff_res_dims = list(nondiff_res_dims)

    def __call__(self, res: Sequence[Any], res_tree: PyTreeDef, cts: Sequence[Any]
                 ) -> list[Any]:
        n_res = len(res)
        nonzero = [type(c) is not Zero for c in cts]
        zero_avals = [_strip_dim(c.aval, 0) if type(c) is Zero else None for c in cts]
        floats = [_is_float(a) for a in self.in_avals]

        def per_lane(*xs: Any) -> list[Any]:
            it = iter(xs[n_res:])
            lane_cts = [next(it) if nz else Zero(za) for nz, za in zip(nonzero, zero_avals)]
            out = self.bwd(list(xs[:n_res]), res_tree, lane_cts)
            return [instantiate_zeros(c) for c, f in zip(out, floats) if f]

        args = list(res) + [c for c in cts if type(c) is not Zero]
        n_nd = len(self.nondiff_res_dims)
        arg_dims = self.nondiff_res_dims + [0] * (len(args) - n_nd)
        flat, _ = vmap_flat(per_lane, args, arg_dims, [0] * sum(floats), self.size)
        it = iter(flat)
        result = []
        for aval, d, f in zip(self.in_avals, self.dims, floats):
            if not f:
                result.append(Zero(aval.to_tangent_aval()))
                continue
            ct = next(it)
            result.append(reduce_sum(ct, (0,)) if d is None else move_bdim(ct, 0, d, self.size))
        return result


custom_vjp_call_p = Primitive("custom_vjp_call", multiple_results=True)


def _custom_vjp_call_impl(*args: Any, call_jaxpr: ClosedJaxpr, fwd: Any, bwd: Any,
                          num_consts: int, name: str) -> list[Any]:
    return evaluate_jaxpr(call_jaxpr, args, name)


def _custom_vjp_call_jvp(primals, tangents, *, call_jaxpr, fwd, bwd, num_consts, name):
    if any(type(t) is not Zero for t in tangents[:num_consts]):
        raise TypeError(f"custom_vjp function {name} closes over a value that is being "
                        "differentiated; its bwd rule cannot return a cotangent for it. "
                        "Pass the value as an explicit argument instead.")
    operands = list(primals[num_consts:])
    op_tangents = tangents[num_consts:]
    outs, res, res_tree = fwd(operands)
    n_nd = bwd.spec.num_nondiff
    res = operands[:n_nd] + list(res)  # bwd receives the traced nondiff arguments
    in_nonzero = tuple(type(t) is not Zero for t in op_tangents)
    out_avals = [get_aval(o) for o in outs]
    lin_avals = tuple(a.to_tangent_aval() for a in out_avals if _is_float(a))
    if not lin_avals:
        return outs, [Zero(a.to_tangent_aval()) for a in out_avals]
    lin_outs = iter(custom_lin_p.bind(*res, *[t for t in op_tangents if type(t) is not Zero],
                                      num_res=len(res), res_tree=res_tree, bwd=bwd,
                                      in_nonzero=in_nonzero, out_avals=lin_avals, name=name))
    touts = [next(lin_outs) if _is_float(a) else Zero(a.to_tangent_aval()) for a in out_avals]
    return outs, touts


def _custom_vjp_call_batch(args, dims, *, call_jaxpr, fwd, bwd, num_consts, name):
    size = batch_size(args, dims)
    batched = batch_jaxpr(call_jaxpr, dims, size, [True] * len(call_jaxpr.out_avals))[0]
    op_dims = dims[num_consts:]
    op_avals = [_strip_dim(get_aval(x), d) for x, d in zip(args[num_consts:], op_dims)]
    outs = custom_vjp_call_p.bind(*args, call_jaxpr=batched, fwd=_BatchedFwd(fwd, op_dims, size),
                                  bwd=_BatchedBwdRule(bwd, op_dims, size, op_avals,
                                                      op_dims[:bwd.spec.num_nondiff]),
                                  num_consts=num_consts, name=name)
    return outs, [0] * len(outs)


class _BatchedBwdRule(_BatchedBwd):
    """_BatchedBwd that still exposes the wrapped rule's argument spec."""

    @property
    def spec(self) -> _ArgSpec:
        return self.bwd.spec


custom_vjp_call_p.impl = _custom_vjp_call_impl
custom_vjp_call_p.call_jaxpr_param = "call_jaxpr"  # evaluation ignores the rule
custom_vjp_call_p.abstract_eval = (
    lambda *avals, call_jaxpr, **params: call_out_avals(jaxpr=call_jaxpr))
custom_vjp_call_p.jvp = _custom_vjp_call_jvp
custom_vjp_call_p.batch = _custom_vjp_call_batch


# custom_lin: the linear map whose transpose is bwd. It exists only to be
# transposed; evaluating it means forward mode was asked of a custom_vjp function.
custom_lin_p = Primitive("custom_lin", multiple_results=True)
custom_lin_p.linear = True


def _custom_lin_impl(*args: Any, name: str, **_: Any) -> list[Any]:
    raise errors.ForwardModeUnsupportedError(
        f"can't apply forward-mode autodiff (jvp) to a custom_vjp function ({name}). Use "
        "reverse mode (grad, vjp, jacrev), or define the function with custom_jvp to get "
        "forward mode.")


def _custom_lin_transpose(cts, *args, num_res, res_tree, bwd, in_nonzero, out_avals, name):
    res = args[:num_res]
    if any(type(r) is UndefinedPrimal for r in res):
        raise TypeError(f"custom_vjp function {name}: a residual of its fwd rule depends "
                        "linearly on the input tangents, which cannot be transposed")
    full_cts = _full_output_cts(bwd, iter(cts))
    cts_in = bwd(list(res), res_tree, full_cts)
    return [None] * num_res + [c for c, nz in zip(cts_in, in_nonzero) if nz]


def _full_output_cts(bwd: Any, cts: Any) -> list[Any]:
    """Cotangents for every output: the float ones from `cts`, float0 zeros for
    integer outputs (which custom_lin does not carry)."""
    out_avals = _rule_out_avals(bwd)
    result = []
    for a in out_avals:
        if _is_float(a):
            result.append(next(cts))
        else:
            result.append(Zero(a.to_tangent_aval()))
    return result


def _rule_out_avals(bwd: Any) -> list[ShapedArray]:
    while not isinstance(bwd, _BwdRule):
        bwd = bwd.bwd
    return bwd.out_avals


def _custom_lin_batch(args, dims, *, num_res, res_tree, bwd, in_nonzero, out_avals, name):
    size = batch_size(args, dims)
    res = [move_bdim(x, d, 0, size) for x, d in zip(args[:num_res], dims[:num_res])]
    lin_dims = dims[num_res:]
    # the wrapped bwd sees every operand; those without a tangent are unbatched
    lin_iter = iter(zip(args[num_res:], lin_dims))
    op_dims, op_avals = [], []
    for aval, nz in zip(bwd.in_avals, in_nonzero):
        if nz:
            x, d = next(lin_iter)
            op_dims.append(d)
            op_avals.append(_strip_dim(get_aval(x), d))
        else:
            op_dims.append(None)
            op_avals.append(aval)
    batched_bwd = _BatchedBwdRule(bwd, op_dims, size, op_avals,
                                  [0] * bwd.spec.num_nondiff)
    batched_avals = tuple(ShapedArray((size,) + a.shape, a.dtype) for a in out_avals)
    outs = custom_lin_p.bind(*res, *args[num_res:], num_res=num_res, res_tree=res_tree,
                             bwd=batched_bwd, in_nonzero=in_nonzero, out_avals=batched_avals,
                             name=name)
    return outs, [0] * len(outs)


custom_lin_p.impl = _custom_lin_impl
custom_lin_p.abstract_eval = lambda *avals, out_avals, **params: list(out_avals)
custom_lin_p.transpose = _custom_lin_transpose
custom_lin_p.batch = _custom_lin_batch


class custom_vjp:  # noqa: N801  (JAX's name)
    """A function with a custom VJP, as ``jax.custom_vjp``::

        @custom_vjp
        def f(x):
            return fnp.sin(x)

        def f_fwd(x):
            return f(x), fnp.cos(x)        # (output, residuals)

        def f_bwd(cos_x, g):
            return (cos_x * g,)            # one cotangent per argument

        f.defvjp(f_fwd, f_bwd)

    ``fwd`` takes the function's arguments; ``bwd(*nondiff_args, residuals,
    output_cotangent)`` returns a tuple with one cotangent per differentiable
    argument (``None`` for zero). Reverse mode and ``vmap`` work; forward mode
    (``jvp``, ``jacfwd``) raises a ``TypeError``.
    """

    def __init__(self, fun: Callable[..., Any], nondiff_argnums: Sequence[int] = ()):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.nondiff_argnums = tuple(nondiff_argnums)
        self.fwd: Callable[..., Any] | None = None
        self.bwd: Callable[..., Any] | None = None

    def defvjp(self, fwd: Callable[..., Any], bwd: Callable[..., Any],
               symbolic_zeros: bool = False) -> None:
        """Set the forward rule ``fwd(*args) -> (out, residuals)`` and the
        backward rule ``bwd(*nondiff_args, residuals, g) -> cotangents``."""
        if symbolic_zeros:
            raise ValueError("custom_vjp.defvjp: symbolic_zeros=True is not supported; zero "
                             "cotangents are passed to bwd as zero arrays")
        self.fwd = fwd
        self.bwd = bwd

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = fun_name(self.fun)
        what = f"custom_vjp function {name}"
        if self.fwd is None or self.bwd is None:
            raise AttributeError(f"No VJP defined for custom_vjp function {name} using "
                                 "defvjp.")
        args = _resolve_args(self.fun, args, kwargs, what)
        if _untraced(args) and not _closes_over_tracers(self.fun):
            return self.fun(*args)  # nothing is being transformed
        spec = _ArgSpec(args, self.nondiff_argnums, what)
        if _rule_runs_now(spec.operands):
            closed, hoisted, outputs = None, [], _Outputs()
        else:
            closed, hoisted, out_tree = _trace_call(self.fun, spec, name)
            outputs = _Outputs(out_tree, list(closed.out_avals))
        fwd = _FwdRule(self.fwd, spec, outputs, name)
        bwd = _BwdRule(self.bwd, spec, outputs, [get_aval(x) for x in spec.operands], name)
        outs = custom_vjp_call_p.bind(*hoisted, *spec.operands, call_jaxpr=closed, fwd=fwd,
                                      bwd=bwd, num_consts=len(hoisted), name=name)
        return tree_unflatten(outputs.tree, outs)
