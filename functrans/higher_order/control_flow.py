"""Structured control flow: ``cond``, ``switch``, ``scan``, ``fori_loop`` and ``while_loop``.

Each construct traces the user's functions once, on the avals of the operands,
into closed jaxprs, and binds a higher-order primitive holding them (the model
is ``jit_p`` in :mod:`functrans.higher_order.jit`). Values the functions close
over that are tracers of an enclosing transformation are hoisted into explicit
leading operands, so every transformation sees them.

Rules, per primitive:

* ``impl`` evaluates the jaxprs with the NumPy implementations (no re-tracing
  per iteration); ``abstract_eval`` checks operand types against the jaxprs.
* ``jvp`` binds the same primitive on the JVP of the jaxprs; loops find the
  carries with nonzero tangents by a fixed point, the others stay symbolic zeros.
* ``partial_eval`` (while linearizing) and ``partial_eval_eqn`` (inside a jaxpr)
  split the primitive into a known one, run now, and an unknown one, staged.
  A scan's known part stacks, per step, only the residuals that vary from step
  to step; loop-invariant residuals are recomputed in the unknown part from the
  known constants, never stacked.
* ``transpose``: per branch for ``cond``; for ``scan`` a scan running in the
  opposite direction whose carry accumulates the cotangents of the constants.
  ``while_loop`` has no transpose: its trip count is unknown until run time.
* ``batch``: a batched ``cond`` index evaluates every branch and selects; a
  batched ``while_loop`` predicate runs until every lane is done, freezing the
  carries of finished lanes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans.compile import evaluate_jaxpr
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.backend import Backend, backend_of, foreign_backend
from functrans.core.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Var, dce_jaxpr, eval_jaxpr
from functrans.core.primitive import Primitive
from functrans.core.trace import Tracer
from functrans.core.zeros import UndefinedPrimal, Zero
from functrans.higher_order.jaxpr_transforms import (
    batch_jaxpr,
    jvp_jaxpr,
    partial_eval_jaxpr,
    remembered,
    transpose_jaxpr,
)
from functrans.primitives.elementwise import add, clamp, convert_element_type, lt, ne, select_n
from functrans.primitives.reductions import reduce_or
from functrans.primitives.rules import move_bdim
from functrans.primitives.structural import broadcast_in_dim, full
from functrans.primitives.tangent_space import add_tangents, instantiate_zeros
from functrans.transforms.api_util import check_leaf, fun_name
from functrans.transforms.staging import (
    JaxprTrace,
    StagedTracer,
    hoist_tracer_consts,
    trace_to_jaxpr,
)
from functrans.tree_util import PyTreeDef, tree_flatten, tree_unflatten

__all__ = ["cond", "switch", "scan", "fori_loop", "while_loop", "cond_p", "scan_p", "while_p"]


# ================================================================== shared helpers

def _as_array(x: Any, aval: ShapedArray) -> Any:
    backend = foreign_backend(x)
    if backend is not None:  # an array of another library stays one (core/backend.py)
        return backend.cast(x, aval)
    return np.asarray(x, aval.dtype)


def _staged(trace: JaxprTrace, x: Any) -> bool:
    return type(x) is StagedTracer and x._trace is trace


def _split(xs: Sequence[Any], *sizes: int) -> list[list[Any]]:
    parts, start = [], 0
    for n in sizes:
        parts.append(list(xs[start:start + n]))
        start += n
    parts.append(list(xs[start:]))
    return parts


def _union(a: Sequence[bool], b: Sequence[bool]) -> list[bool]:
    return [x or y for x, y in zip(a, b)]


def _same_type(a: ShapedArray, b: ShapedArray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _avals_str(avals: Sequence[ShapedArray]) -> str:
    return "(" + ", ".join(a.str_short() for a in avals) + ")"


def _reorder(closed: ClosedJaxpr, in_order: Sequence[int], out_order: Sequence[int]
             ) -> ClosedJaxpr:
    """The same jaxpr with its inputs and outputs permuted."""
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr(j.constvars, [j.invars[i] for i in in_order],
                             [j.outvars[i] for i in out_order], j.eqns), closed.consts)


def _with_extra_invars(closed: ClosedJaxpr, avals: Sequence[ShapedArray]) -> ClosedJaxpr:
    """`closed` taking (and ignoring) extra trailing inputs of `avals`."""
    j = closed.jaxpr
    return ClosedJaxpr(Jaxpr(j.constvars, j.invars + [Var(a) for a in avals], j.outvars,
                             j.eqns), closed.consts)


# ------------------------------------------------------------------ tracing user functions

class _TracedFun:
    """A user function traced to a closed jaxpr; ``consts`` are the hoisted tracers."""

    def __init__(self, closed: ClosedJaxpr, consts: list[Any], out_tree: PyTreeDef):
        self.closed = closed
        self.consts = consts
        self.out_tree = out_tree


def _trace(fun: Callable[..., Any], args_tree: PyTreeDef, in_avals: Sequence[ShapedArray],
           where: str, out_dtypes: Sequence[Any] | None = None) -> _TracedFun:
    """Trace ``fun(*args)`` (args unflattened from `args_tree`); outputs are cast to
    `out_dtypes` where given (weakly-typed results joining a typed one)."""
    name = fun_name(fun)
    out_tree_box: list[PyTreeDef] = []

    def flat_fun(*flat: Any) -> list[Any]:
        args = tree_unflatten(args_tree, flat)
        leaves, tree = tree_flatten(fun(*args))
        out_tree_box.append(tree)
        for leaf in leaves:
            check_leaf(leaf, f"{where}: {name}", "an output")
        if out_dtypes is not None:
            leaves = [x if d is None or get_aval(x).dtype == d else convert_element_type(x, d)
                      for x, d in zip(leaves, out_dtypes)]
        return leaves

    closed = trace_to_jaxpr(flat_fun, list(in_avals), name, where)
    closed, consts = hoist_tracer_consts(closed)
    return _TracedFun(closed, consts, out_tree_box[0])


def _flat_operands(tree: Any, where: str, what: str) -> tuple[list[Any], PyTreeDef]:
    leaves, treedef = tree_flatten(tree)
    for leaf in leaves:
        check_leaf(leaf, where, what)
    return leaves, treedef


def _weak_join(avals_list: Sequence[Sequence[ShapedArray]]) -> list[Any] | None:
    """Per output, the dtype weakly-typed results should be cast to so that every
    list agrees (None where nothing is needed); None overall if nothing to do."""
    targets: list[Any] = []
    needed = False
    for column in zip(*avals_list):
        strong = {a.dtype for a in column if not a.weak_type}
        if len({a.dtype for a in column}) > 1 and len(strong) == 1:
            targets.append(strong.pop())
            needed = True
        else:
            targets.append(None)
    return targets if needed else None


# ------------------------------------------------------------------ jaxpr transformations

def _batch_jaxpr(closed: ClosedJaxpr, in_batched: Sequence[bool], size: int,
                 force: Sequence[bool]) -> tuple[ClosedJaxpr, list[bool]]:
    """`closed` batched along axis 0 of the `in_batched` inputs; outputs batched
    (along axis 0) where the computation makes them so or `force` asks."""
    batched, out_dims = batch_jaxpr(closed, [0 if b else None for b in in_batched], size,
                                    force)
    return batched, [d is not None for d in out_dims]


def _to_front(x: Any, d: int | None, size: int, batched: bool) -> Any:
    """`x` with its batch axis at 0 (broadcast if it must be batched but is not)."""
    return move_bdim(x, d, 0, size) if batched else x


class _Split:
    """A jaxpr split by partial evaluation; see :func:`_partial_eval_forced`."""

    def __init__(self, known: Jaxpr, consts: list[Any], unknown: Jaxpr, out_uk: list[bool],
                 residuals: list[Var]):
        self.known = known
        self.consts = consts
        self.unknown = unknown
        self.out_uk = out_uk
        self.residuals = residuals


def _partial_eval_forced(closed: ClosedJaxpr, in_uk: Sequence[bool],
                         force_uk: Sequence[bool]) -> _Split:
    """Partial evaluation with some outputs forced to be unknown.

    ``known`` maps (constvars; known inputs) to (known outputs, residuals);
    ``unknown`` maps (residuals, unknown inputs) to the unknown outputs. A forced
    output that is known becomes a residual passed through the unknown part.
    """
    known, unknown, out_uk, num_res = partial_eval_jaxpr(closed, list(in_uk))
    jaxpr = closed.jaxpr
    n_known_out = len(known.jaxpr.outvars) - num_res
    residuals = list(known.jaxpr.outvars[n_known_out:])
    final_uk = _union(out_uk, force_uk)
    for v, was, now in zip(jaxpr.outvars, out_uk, final_uk):
        if now and not was and type(v) is Var and all(v is not r for r in residuals):
            residuals.append(v)
    known_outs = [v for v, u in zip(jaxpr.outvars, final_uk) if not u]
    known_j = Jaxpr(known.jaxpr.constvars, known.jaxpr.invars, known_outs + residuals,
                    known.jaxpr.eqns)
    unknown_j = Jaxpr([], residuals + unknown.jaxpr.invars[num_res:],
                      [v for v, u in zip(jaxpr.outvars, final_uk) if u], unknown.jaxpr.eqns)
    return _Split(known_j, list(closed.consts), unknown_j, final_uk, residuals)


def _out_uk(closed: ClosedJaxpr, in_uk: Sequence[bool]) -> list[bool]:
    return partial_eval_jaxpr(closed, list(in_uk))[2]


# ================================================================== cond / switch

cond_p = Primitive("cond", multiple_results=True)


def _check_index(index: Any, where: str, what: str) -> ShapedArray:
    check_leaf(index, where, what)
    aval = get_aval(index)
    if aval.shape != () or aval.dtype.kind not in "biu":
        kinds = "a boolean or integer" if where == "cond" else "an integer"
        raise TypeError(f"{where}: the {what} must be {kinds} scalar, but got an array of "
                        f"shape {aval.shape} and dtype {aval.dtype} ({aval.str_short()}). "
                        + ("Reduce it to a scalar (e.g. with .any() or .all()), or use "
                           "functrans.numpy.where / lax.select for an elementwise choice."
                           if aval.shape != () else
                           "Compare it explicitly (e.g. x > 0) to get a boolean."))
    return aval


def cond(pred: Any, true_fun: Callable[..., Any], false_fun: Callable[..., Any],
         *operands: Any) -> Any:
    """``true_fun(*operands)`` if `pred` else ``false_fun(*operands)``, as ``lax.cond``.

    `pred` is a boolean (or integer: nonzero is true) scalar, possibly traced.
    Both branches are traced and must return the same structure and types.
    Under ``vmap`` with a batched `pred`, both branches run and are selected.
    """
    aval = _check_index(pred, "cond", "predicate `pred`")
    if aval.dtype.kind != "b":
        pred = ne(pred, np.zeros((), aval.dtype))
    index = convert_element_type(pred, np.int32)
    return _switch(index, [false_fun, true_fun], operands, "cond",
                   ["false_fun", "true_fun"])


def switch(index: Any, branches: Sequence[Callable[..., Any]], *operands: Any) -> Any:
    """``branches[index](*operands)``, as ``lax.switch``; `index` is clamped to
    ``[0, len(branches) - 1]``."""
    branches = list(branches)
    if not branches or not all(callable(b) for b in branches):
        raise TypeError(f"switch: branches must be a non-empty sequence of callables, got "
                        f"{branches!r}")
    aval = _check_index(index, "switch", "index")
    if aval.dtype.kind == "b":
        raise TypeError(f"switch: the index must be an integer scalar, got {aval.str_short()}")
    index = convert_element_type(index, np.int32)
    return _switch(index, branches, operands, "switch",
                   [f"branches[{i}]" for i in range(len(branches))])


def _switch(index: Any, branches: list[Callable[..., Any]], operands: tuple, where: str,
            labels: list[str]) -> Any:
    ops, ops_tree = _flat_operands(operands, where, "an operand")
    args_tree = tree_flatten(tuple(operands))[1]
    avals = [get_aval(x) for x in ops]
    traced = [_trace(b, args_tree, avals, where) for b in branches]
    _check_branch_trees(traced, branches, labels, where)
    targets = _weak_join([t.closed.out_avals for t in traced])
    if targets is not None:  # weakly-typed scalars take the other branches' dtypes
        traced = [_trace(b, args_tree, avals, where, targets) for b in branches]
    _check_branch_avals(traced, branches, labels, where)
    consts = [c for t in traced for c in t.consts]
    jaxprs = _join_consts(traced)
    outs = cond_p.bind(index, *consts, *ops, branches=tuple(jaxprs))
    return tree_unflatten(traced[0].out_tree, outs)


def _describe_branch(label: str, fun: Callable[..., Any]) -> str:
    return f"{label} '{fun_name(fun)}'"


def _check_branch_trees(traced: list[_TracedFun], funs: list[Callable[..., Any]],
                        labels: list[str], where: str) -> None:
    first = traced[0]
    for t, f, label in zip(traced[1:], funs[1:], labels[1:]):
        if t.out_tree != first.out_tree:
            raise TypeError(f"{where}: the branches must return the same pytree structure, "
                            f"but {_describe_branch(labels[0], funs[0])} returned "
                            f"{first.out_tree} and {_describe_branch(label, f)} returned "
                            f"{t.out_tree}")


def _check_branch_avals(traced: list[_TracedFun], funs: list[Callable[..., Any]],
                        labels: list[str], where: str) -> None:
    first = traced[0].closed.out_avals
    for t, f, label in zip(traced[1:], funs[1:], labels[1:]):
        avals = t.closed.out_avals
        if not all(_same_type(a, b) for a, b in zip(first, avals)):
            raise TypeError(f"{where}: the branches must return the same shapes and dtypes, "
                            f"but {_describe_branch(labels[0], funs[0])} returned "
                            f"{_avals_str(first)} and {_describe_branch(label, f)} returned "
                            f"{_avals_str(avals)}")


def _join_consts(traced: list[_TracedFun]) -> list[ClosedJaxpr]:
    """Every branch takes the hoisted constants of all branches, then the operands."""
    counts = [len(t.consts) for t in traced]
    jaxprs = []
    for k, t in enumerate(traced):
        j = t.closed.jaxpr
        own = j.invars[:counts[k]]
        before = [Var(get_aval(c)) for tt in traced[:k] for c in tt.consts]
        after = [Var(get_aval(c)) for tt in traced[k + 1:] for c in tt.consts]
        invars = before + own + after + j.invars[counts[k]:]
        jaxprs.append(ClosedJaxpr(Jaxpr(j.constvars, invars, j.outvars, j.eqns),
                                  t.closed.consts))
    return jaxprs


def _cond_impl(index: Any, *ops: Any, branches: tuple[ClosedJaxpr, ...]) -> list[Any]:
    i = min(max(int(index), 0), len(branches) - 1)
    outs = evaluate_jaxpr(branches[i], ops, "branch")
    return [_as_array(o, a) for o, a in zip(outs, branches[i].out_avals)]


def _cond_abstract_eval(index: ShapedArray, *ops: ShapedArray,
                        branches: tuple[ClosedJaxpr, ...]) -> list[ShapedArray]:
    if index.shape != () or index.dtype.kind not in "iu":
        raise TypeError(f"cond: the branch index must be an integer scalar, got "
                        f"{index.str_short()}")
    for k, b in enumerate(branches):
        if len(b.in_avals) != len(ops) or not all(map(_same_type, b.in_avals, ops)):
            raise TypeError(f"cond: branch {k} takes {_avals_str(b.in_avals)} but the "
                            f"operands are {_avals_str(ops)}")
        if not all(map(_same_type, b.out_avals, branches[0].out_avals)):
            raise TypeError(f"cond: branch {k} returns {_avals_str(b.out_avals)} but branch "
                            f"0 returns {_avals_str(branches[0].out_avals)}")
    return [a.strip_weak_type() for a in branches[0].out_avals]


def _cond_jvp(primals, tangents, *, branches):
    index, ops = primals[0], primals[1:]
    op_tangents = tangents[1:]
    nonzeros = [type(t) is not Zero for t in op_tangents]
    n_out = len(branches[0].out_avals)
    out_nz = [False] * n_out
    for b in branches:
        out_nz = _union(out_nz, jvp_jaxpr(b, nonzeros, [False] * n_out)[1])
    jvp_branches = tuple(jvp_jaxpr(b, nonzeros, out_nz)[0] for b in branches)
    outs = cond_p.bind(index, *ops, *_nonzero(op_tangents), branches=jvp_branches)
    nz_tangents = iter(outs[n_out:])
    return outs[:n_out], [next(nz_tangents) if nz else Zero(a.to_tangent_aval())
                          for a, nz in zip(branches[0].out_avals, out_nz)]


class _CondSplit:
    def __init__(self, branches: tuple[ClosedJaxpr, ...], ops_uk: Sequence[bool]):
        n_out = len(branches[0].out_avals)
        out_uk = [False] * n_out
        for b in branches:
            out_uk = _union(out_uk, _out_uk(b, ops_uk))
        splits = [_partial_eval_forced(b, ops_uk, out_uk) for b in branches]
        self.out_uk = out_uk
        self.res_avals = [v.aval for s in splits for v in s.residuals]
        counts = [len(s.residuals) for s in splits]
        offsets = np.cumsum([0] + counts).tolist()
        known_avals = [a for a, u in zip(branches[0].in_avals, ops_uk) if not u]
        uk_avals = [a for a, u in zip(branches[0].in_avals, ops_uk) if u]
        self.known = tuple(self._known_branch(s, k, offsets, known_avals)
                           for k, s in enumerate(splits))
        self.unknown = tuple(self._unknown_branch(s, offsets[k], uk_avals)
                             for k, s in enumerate(splits))

    def _known_branch(self, s: _Split, k: int, offsets: list[int],
                      in_avals: list[ShapedArray]) -> ClosedJaxpr:
        n_res = len(s.residuals)
        before, after = self.res_avals[:offsets[k]], self.res_avals[offsets[k] + n_res:]

        def known(*args: Any) -> list[Any]:
            outs = eval_jaxpr(s.known, s.consts, *args)
            n_out = len(outs) - n_res
            return (outs[:n_out] + [full(a.shape, 0, a.dtype) for a in before]
                    + outs[n_out:] + [full(a.shape, 0, a.dtype) for a in after])

        return trace_to_jaxpr(known, in_avals, "cond (known part)", "partial evaluation")

    def _unknown_branch(self, s: _Split, offset: int, uk_avals: list[ShapedArray]
                        ) -> ClosedJaxpr:
        n_res, total = len(s.residuals), len(self.res_avals)

        def unknown(*args: Any) -> list[Any]:
            return eval_jaxpr(s.unknown, [], *args[offset:offset + n_res], *args[total:])

        return trace_to_jaxpr(unknown, self.res_avals + uk_avals, "cond (unknown part)",
                              "partial evaluation")


def _merge(flags: Sequence[bool], if_true: Sequence[Any], if_false: Sequence[Any]) -> list[Any]:
    t, f = iter(if_true), iter(if_false)
    return [next(t) if flag else next(f) for flag in flags]


def _cond_partial_eval(trace: JaxprTrace, args: Sequence[Any], params: dict) -> list[Any]:
    unknowns = [_staged(trace, x) for x in args]
    if unknowns[0]:
        return trace.stage(cond_p, args, params)
    split = _CondSplit(params["branches"], unknowns[1:])
    index, ops = args[0], args[1:]
    known_ops = [x for x, u in zip(ops, unknowns[1:]) if not u]
    known_outs = trace.parent.process_primitive(cond_p, (index, *known_ops),
                                                dict(branches=split.known))
    n_known = len(known_outs) - len(split.res_avals)
    residuals = list(known_outs[n_known:])
    uk_ops = [x for x, u in zip(ops, unknowns[1:]) if u]
    uk_outs = (trace.stage(cond_p, [index, *residuals, *uk_ops], dict(branches=split.unknown))
               if any(split.out_uk) else [])
    return _merge(split.out_uk, uk_outs, known_outs[:n_known])


def _cond_partial_eval_eqn(eqn: JaxprEqn, unknowns: Sequence[bool]):
    if unknowns[0]:
        return None, eqn, [True] * len(eqn.outvars)
    split = _CondSplit(eqn.params["branches"], unknowns[1:])
    index, ops = eqn.invars[0], eqn.invars[1:]
    res_vars = [Var(a.strip_weak_type()) for a in split.res_avals]
    known_eqn = JaxprEqn(cond_p, [index] + [v for v, u in zip(ops, unknowns[1:]) if not u],
                         dict(branches=split.known),
                         [v for v, u in zip(eqn.outvars, split.out_uk) if not u] + res_vars)
    unknown_eqn = JaxprEqn(cond_p, [index] + res_vars + [v for v, u in zip(ops, unknowns[1:])
                                                         if u],
                           dict(branches=split.unknown),
                           [v for v, u in zip(eqn.outvars, split.out_uk) if u])
    return known_eqn, unknown_eqn, split.out_uk


def _cond_transpose(cts, index, *ops, branches):
    if type(index) is UndefinedPrimal:
        raise TypeError("cond: the branch index is not a linear argument and cannot be "
                        "transposed")
    linear = [type(x) is UndefinedPrimal for x in ops]
    transposed = tuple(transpose_jaxpr(b, linear) for b in branches)
    outs = iter(cond_p.bind(index, *[x for x in ops if type(x) is not UndefinedPrimal],
                            *[instantiate_zeros(c) for c in cts], branches=transposed))
    return [None] + [next(outs) if lin else None for lin in linear]


def _cond_batch(args, dims, *, branches):
    size = next(get_aval(x).shape[d] for x, d in zip(args, dims) if d is not None)
    index, ops = args[0], args[1:]
    in_batched = [d is not None for d in dims[1:]]
    ops = [_to_front(x, d, size, b) for x, d, b in zip(ops, dims[1:], in_batched)]
    n_out = len(branches[0].out_avals)
    if dims[0] is None:
        out_batched = [False] * n_out
        for b in branches:
            out_b = _batch_jaxpr(b, in_batched, size, [False] * n_out)[1]
            out_batched = _union(out_batched, out_b)
        batched = tuple(_batch_jaxpr(b, in_batched, size, out_batched)[0] for b in branches)
        outs = cond_p.bind(index, *ops, branches=batched)
        return outs, [0 if b else None for b in out_batched]
    # A batched index: every branch runs on the whole batch, then each lane picks.
    index = move_bdim(index, dims[0], 0, size)
    index = clamp(np.int32(0), index, np.int32(len(branches) - 1))
    branch_outs = [eval_jaxpr(bj.jaxpr, bj.consts, *ops) for bj in
                   (_batch_jaxpr(b, in_batched, size, [True] * n_out)[0] for b in branches)]
    outs = []
    for cases in zip(*branch_outs):
        shape = get_aval(cases[0]).shape
        which = broadcast_in_dim(index, shape, (0,))
        outs.append(select_n(which, *cases) if len(cases) > 1 else cases[0])
    return outs, [0] * n_out


cond_p.impl = _cond_impl
cond_p.abstract_eval = _cond_abstract_eval
cond_p.jvp = _cond_jvp
cond_p.partial_eval = _cond_partial_eval
cond_p.partial_eval_eqn = _cond_partial_eval_eqn
cond_p.transpose = _cond_transpose
cond_p.batch = _cond_batch


# ================================================================== scan

scan_p = Primitive("scan", multiple_results=True)


def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None,
         length: int | None = None, reverse: bool = False, unroll: int | bool = 1) -> Any:
    """Loop ``carry, y = f(carry, x)`` over the leading axis of `xs`, as ``lax.scan``.

    Returns ``(final_carry, ys)`` with the ``y`` of every step stacked along a new
    leading axis. `init`, `xs` and the results may be pytrees; ``xs=None`` with
    `length` scans without inputs. ``reverse=True`` runs from the last step to the
    first (ys keep their positions). `unroll` is accepted for compatibility and
    does not change the result.
    """
    return _scan(f, init, xs, length, reverse, "scan")


def _scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any, length: int | None,
          reverse: bool, where: str) -> Any:
    name = fun_name(f)
    if not callable(f):
        raise TypeError(f"{where}: the body function must be callable, got {f!r}")
    init_flat, init_tree = _flat_operands(init, "scan", "a leaf of init")
    xs_flat, xs_tree = _flat_operands(xs, "scan", "a leaf of xs")
    length = _scan_length(xs_flat, length, name)
    x_avals = [ShapedArray(get_aval(x).shape[1:], get_aval(x).dtype) for x in xs_flat]
    args_tree = tree_flatten((init, xs))[1]
    carry_avals = [get_aval(c) for c in init_flat]
    body = _trace_scan_body(f, args_tree, carry_avals, x_avals, init_tree)
    promoted = _promote_weak_carries(carry_avals, body.closed.out_avals[:len(init_flat)])
    if promoted is not None:
        init_flat = [c if d is None else convert_element_type(c, d)
                     for c, d in zip(init_flat, promoted)]
        carry_avals = [get_aval(c) for c in init_flat]
        body = _trace_scan_body(f, args_tree, carry_avals, x_avals, init_tree)
    _check_carry(carry_avals, body.closed.out_avals[:len(init_flat)], where, name)
    outs = scan_p.bind(*body.consts, *init_flat, *xs_flat, jaxpr=body.closed,
                       num_consts=len(body.consts), num_carry=len(init_flat),
                       length=length, reverse=bool(reverse))
    carry_tree, y_tree = body.out_tree
    return (tree_unflatten(carry_tree, outs[:len(init_flat)]),
            tree_unflatten(y_tree, outs[len(init_flat):]))


def _scan_length(xs_flat: list[Any], length: int | None, name: str) -> int:
    lengths = []
    for x in xs_flat:
        shape = get_aval(x).shape
        if not shape:
            raise ValueError(f"scan of {name}: every leaf of xs needs a leading axis to scan "
                             f"over, but one is a scalar ({get_aval(x).str_short()})")
        lengths.append(shape[0])
    if length is not None:
        try:
            length = int(length)
        except TypeError:
            raise TypeError(f"scan of {name}: length must be a concrete Python int, got "
                            f"{length!r}") from None
        if length < 0:
            raise ValueError(f"scan of {name}: length must be >= 0, got {length}")
    if lengths:
        if len(set(lengths)) > 1:
            shapes = [get_aval(x).shape for x in xs_flat]
            raise ValueError(f"scan of {name}: the leaves of xs must have the same leading "
                             f"axis size, got shapes {shapes}")
        if length is not None and length != lengths[0]:
            raise ValueError(f"scan of {name}: length={length} does not match the leading "
                             f"axis size {lengths[0]} of xs")
        return lengths[0]
    if length is None:
        raise ValueError(f"scan of {name}: with xs=None (or no array leaves), the length "
                         "argument is required")
    return length


def _trace_scan_body(f: Callable[..., Any], args_tree: PyTreeDef,
                     carry_avals: list[ShapedArray], x_avals: list[ShapedArray],
                     init_tree: PyTreeDef) -> _TracedFun:
    name = fun_name(f)

    def pair_fun(carry: Any, x: Any) -> Any:
        out = f(carry, x)
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise TypeError(f"scan: the body function '{name}' must return a pair "
                            f"(carry, y), got {type(out).__name__}")
        return tuple(out)

    pair_fun.__name__ = name
    body = _trace(pair_fun, args_tree, carry_avals + x_avals, "lax.scan")
    # out_tree describes the pair; split it into the carry's and the ys' trees
    dummy = tree_unflatten(body.out_tree, range(body.out_tree.num_leaves))
    carry_tree, y_tree = tree_flatten(dummy[0])[1], tree_flatten(dummy[1])[1]
    if carry_tree != init_tree:
        raise TypeError(f"scan: the body function '{name}' must return a carry with the "
                        f"structure of init, {init_tree}, but it returned {carry_tree}")
    body.out_tree = (carry_tree, y_tree)
    return body


def _promote_weak_carries(in_avals: list[ShapedArray], out_avals: list[ShapedArray]
                          ) -> list[Any] | None:
    """A weakly-typed initial carry (a Python scalar) takes the body's dtype."""
    targets = [o.dtype if i.weak_type and i.shape == o.shape and i.dtype != o.dtype else None
               for i, o in zip(in_avals, out_avals)]
    return targets if any(t is not None for t in targets) else None


def _check_carry(in_avals: list[ShapedArray], out_avals: list[ShapedArray], where: str,
                 name: str) -> None:
    if all(map(_same_type, in_avals, out_avals)):
        return
    bad = [i for i, (a, b) in enumerate(zip(in_avals, out_avals)) if not _same_type(a, b)]
    raise TypeError(f"{where}: the body function '{name}' must return a carry of the same "
                    f"shapes and dtypes as its input carry, but the input carry is "
                    f"{_avals_str(in_avals)} and the output carry is {_avals_str(out_avals)} "
                    f"(leaves {bad} differ). Cast the initial value or the body's result so "
                    "that they agree.")


def _scan_impl(*args: Any, jaxpr: ClosedJaxpr, num_consts: int, num_carry: int, length: int,
               reverse: bool) -> list[Any]:
    consts, carry, xs = _split(args, num_consts, num_carry)
    y_avals = jaxpr.out_avals[num_carry:]
    backend = backend_of(args)
    if backend is None:
        ys = [np.empty((length,) + a.shape, a.dtype) for a in y_avals]
    else:  # another library's arrays (core/backend.py): stacked at the end
        ys = [[None] * length for _ in y_avals]
    for step in range(length):
        i = length - 1 - step if reverse else step
        outs = evaluate_jaxpr(jaxpr, consts + carry + [x[i] for x in xs], "scan body")
        carry = outs[:num_carry]
        for buffer, y in zip(ys, outs[num_carry:]):
            buffer[i] = y
        outs = y = None  # copied into ys: hold no step's outputs into the next step
    carry_avals = jaxpr.in_avals[num_consts:num_consts + num_carry]
    if backend is not None:
        ys = [_stack_on(backend, rows, (length,) + a.shape, a) for rows, a in zip(ys, y_avals)]
    return [_as_array(c, a) for c, a in zip(carry, carry_avals)] + ys


def _stack_on(backend: Backend, rows: list[Any], shape: tuple, aval: ShapedArray) -> Any:
    """The scan outputs of each step stacked into one array of `backend`."""
    if not rows:
        return backend.from_numpy(np.empty(shape, aval.dtype))
    return backend.xp.stack([backend.cast(backend.constant(r), aval) for r in rows])


def _scan_abstract_eval(*avals: ShapedArray, jaxpr: ClosedJaxpr, num_consts: int,
                        num_carry: int, length: int, reverse: bool) -> list[ShapedArray]:
    body_in = jaxpr.in_avals
    if len(avals) != len(body_in):
        raise TypeError(f"scan: the body takes {len(body_in)} inputs but {len(avals)} "
                        "operands were given")
    consts, carry, xs = _split(avals, num_consts, num_carry)
    x_avals = [ShapedArray(x.shape[1:], x.dtype) for x in xs]
    if any(x.shape[:1] != (length,) for x in xs):
        raise TypeError(f"scan: xs must have leading axis {length}, got {_avals_str(xs)}")
    if not all(map(_same_type, consts + carry + x_avals, body_in)):
        raise TypeError(f"scan: the body takes {_avals_str(body_in)} but got (consts, carry, "
                        f"x) = {_avals_str(consts + carry + x_avals)}")
    out = jaxpr.out_avals
    _check_carry(carry, out[:num_carry], "scan", "body")
    return ([a.strip_weak_type() for a in carry]
            + [ShapedArray((length,) + a.shape, a.dtype) for a in out[num_carry:]])


def _scan_params(jaxpr: ClosedJaxpr, num_consts: int, num_carry: int, length: int,
                 reverse: bool) -> dict:
    return dict(jaxpr=jaxpr, num_consts=num_consts, num_carry=num_carry, length=length,
                reverse=reverse)


def _carry_fixed_point(step: Callable[[list[bool]], list[bool]], init: list[bool]
                       ) -> list[bool]:
    """Smallest superset of `init` closed under `step` (carry in -> carry out flags)."""
    flags = list(init)
    while True:
        new = _union(flags, step(flags))
        if new == flags:
            return flags
        flags = new


def _grouped_order(nonzeros: Sequence[bool], group_sizes: Sequence[int]) -> list[int]:
    """Positions in a JVP jaxpr's (primals..., nonzero tangents...) that list each
    group of primals followed by its own tangents: (consts, const tangents, carry,
    carry tangents, xs, xs tangents) for a scan body."""
    n = len(nonzeros)
    tangent_at = iter(range(n, n + sum(nonzeros)))
    tangent_pos = [next(tangent_at) if nz else None for nz in nonzeros]
    order, start = [], 0
    for size in group_sizes:
        group = range(start, start + size)
        order += list(group) + [tangent_pos[i] for i in group if tangent_pos[i] is not None]
        start += size
    return order


def _nonzero(tangents: Sequence[Any]) -> list[Any]:
    return [t for t in tangents if type(t) is not Zero]


def _scan_jvp(primals, tangents, *, jaxpr, num_consts, num_carry, length, reverse):
    nc, nk = num_consts, num_carry
    const_nz, init_nz, xs_nz = _split([type(t) is not Zero for t in tangents], nc, nk)
    n_ys = len(jaxpr.out_avals) - nk
    carry_nz = _carry_fixed_point(
        lambda c: jvp_jaxpr(jaxpr, const_nz + c + xs_nz, [False] * (nk + n_ys))[1][:nk],
        init_nz)
    jvp_body, out_nz = jvp_jaxpr(jaxpr, const_nz + carry_nz + xs_nz,
                                  carry_nz + [False] * n_ys)
    body = _reorder(jvp_body, _grouped_order(const_nz + carry_nz + xs_nz, (nc, nk, len(xs_nz))),
                    _grouped_order(out_nz, (nk, n_ys)))
    consts, init, xs = _split(primals, nc, nk)
    const_t, init_t, xs_t = _split(tangents, nc, nk)
    init_t = [instantiate_zeros(t) for t, nz in zip(init_t, carry_nz) if nz]
    outs = scan_p.bind(*consts, *_nonzero(const_t), *init, *init_t, *xs, *_nonzero(xs_t),
                       **_scan_params(body, nc + sum(const_nz), nk + sum(carry_nz), length,
                                      reverse))
    carry, carry_t, ys, ys_t = _split(outs, nk, sum(carry_nz), n_ys)
    out_avals = jaxpr.out_avals[:nk] + [_stacked(a, length) for a in jaxpr.out_avals[nk:]]
    tangents_out = iter(carry_t + ys_t)
    return carry + ys, [next(tangents_out) if nz else Zero(a.to_tangent_aval())
                        for nz, a in zip(carry_nz + out_nz[nk:], out_avals)]


def _stacked(aval: ShapedArray, length: int) -> ShapedArray:
    return ShapedArray((length,) + aval.shape, aval.dtype)


class _ScanSplit:
    """A scan split into a known scan (run now) and an unknown scan (staged).

    Known scan: (known consts; known carry; known xs) -> (known carry; known ys;
    stacked residuals). Unknown scan: (known consts that loop-invariant residuals
    are recomputed from, unknown consts; unknown carry; stacked residuals, known xs
    used as residuals, unknown xs) -> (unknown carry; unknown ys).

    Only values that change from step to step are stacked: a residual computed
    from the constants alone is recomputed by the unknown body, and a residual
    that is a slice of a known xs reads that xs again.
    """

    def __init__(self, params: dict, unknowns: Sequence[bool]):
        jaxpr, nc, nk = params["jaxpr"], params["num_consts"], params["num_carry"]
        self.const_uk, init_uk, self.xs_uk = _split(unknowns, nc, nk)
        self.carry_uk = _carry_fixed_point(
            lambda c: _out_uk(jaxpr, self.const_uk + c + self.xs_uk)[:nk], init_uk)
        n_ys = len(jaxpr.out_avals) - nk
        s = _partial_eval_forced(jaxpr, self.const_uk + self.carry_uk + self.xs_uk,
                                 self.carry_uk + [False] * n_ys)
        self.out_uk = s.out_uk
        body = jaxpr.jaxpr
        const_vars, xs_vars = body.invars[:nc], body.invars[nc + nk:]
        variant = _variant_vars(s.known, body.invars[nc:], self.carry_uk + self.xs_uk)
        invariant_res = [r for r in s.residuals if r not in variant]
        xs_res = [i for i, v in enumerate(xs_vars) if v in set(s.residuals)]
        stacked_res = [r for r in s.residuals if r in variant and r not in set(xs_vars)]
        recompute = dce_jaxpr(Jaxpr(s.known.constvars, s.known.invars, invariant_res,
                                    s.known.eqns))
        self.needed_consts = _free_inputs(recompute, const_vars)
        n_known_out = len(s.known.outvars) - len(s.residuals)
        known = dce_jaxpr(Jaxpr(s.known.constvars, s.known.invars,
                                s.known.outvars[:n_known_out] + stacked_res, s.known.eqns))
        uk_in = s.unknown.invars[len(s.residuals):]
        n_uk_consts, n_uk_carry = sum(self.const_uk), sum(self.carry_uk)
        unknown = Jaxpr(body.constvars,
                        [const_vars[i] for i in self.needed_consts]
                        + uk_in[:n_uk_consts + n_uk_carry] + stacked_res
                        + [xs_vars[i] for i in xs_res] + uk_in[n_uk_consts + n_uk_carry:],
                        s.unknown.outvars, recompute.eqns + s.unknown.eqns)
        length, reverse = params["length"], params["reverse"]
        self.xs_res = xs_res
        self.res_avals = [_stacked(v.aval.strip_weak_type(), length) for v in stacked_res]
        self.known_params = _scan_params(ClosedJaxpr(known, s.consts), nc - n_uk_consts,
                                         nk - n_uk_carry, length, reverse)
        self.unknown_params = _scan_params(ClosedJaxpr(unknown, s.consts),
                                           len(self.needed_consts) + n_uk_consts, n_uk_carry,
                                           length, reverse)

    def known_operands(self, args: Sequence[Any]) -> list[Any]:
        consts, init, xs = _split(args, len(self.const_uk), len(self.carry_uk))
        return ([c for c, u in zip(consts, self.const_uk) if not u]
                + [c for c, u in zip(init, self.carry_uk) if not u]
                + [x for x, u in zip(xs, self.xs_uk) if not u])

    def unknown_operands(self, args: Sequence[Any], residuals: Sequence[Any]) -> list[Any]:
        consts, init, xs = _split(args, len(self.const_uk), len(self.carry_uk))
        return ([consts[i] for i in self.needed_consts]
                + [c for c, u in zip(consts, self.const_uk) if u]
                + [c for c, u in zip(init, self.carry_uk) if u]
                + list(residuals) + [xs[i] for i in self.xs_res]
                + [x for x, u in zip(xs, self.xs_uk) if u])


def _variant_vars(known: Jaxpr, loop_vars: Sequence[Var], loop_uk: Sequence[bool]) -> set[Var]:
    """Variables of the known body that change from step to step: the known carries
    and xs, and whatever is computed from them."""
    variant = {v for v, u in zip(loop_vars, loop_uk) if not u}
    for eqn in known.eqns:
        if any(type(a) is Var and a in variant for a in eqn.invars):
            variant.update(eqn.outvars)
    return variant


def _free_inputs(jaxpr: Jaxpr, candidates: Sequence[Var]) -> list[int]:
    """Indices of the `candidates` that `jaxpr` reads (as an input or an output)."""
    defined = {v for e in jaxpr.eqns for v in e.outvars}
    read = {a for e in jaxpr.eqns for a in e.invars if type(a) is Var}
    read.update(v for v in jaxpr.outvars if type(v) is Var)
    return [i for i, v in enumerate(candidates) if v in read and v not in defined]


def _scan_partial_eval(trace: JaxprTrace, args: Sequence[Any], params: dict) -> list[Any]:
    split = _ScanSplit(params, [_staged(trace, x) for x in args])
    known_outs = (trace.parent.process_primitive(scan_p, tuple(split.known_operands(args)),
                                                 split.known_params)
                  if split.known_params["jaxpr"].jaxpr.outvars else [])
    n_known = len(known_outs) - len(split.res_avals)
    residuals = known_outs[n_known:]
    uk_outs = (trace.stage(scan_p, split.unknown_operands(args, residuals),
                           split.unknown_params) if any(split.out_uk) else [])
    return _merge(split.out_uk, uk_outs, known_outs[:n_known])


def _scan_partial_eval_eqn(eqn: JaxprEqn, unknowns: Sequence[bool]):
    split = _ScanSplit(eqn.params, unknowns)
    res_vars = [Var(a) for a in split.res_avals]
    known_eqn = JaxprEqn(scan_p, split.known_operands(eqn.invars), split.known_params,
                         [v for v, u in zip(eqn.outvars, split.out_uk) if not u] + res_vars)
    unknown_eqn = JaxprEqn(scan_p, split.unknown_operands(eqn.invars, res_vars),
                           split.unknown_params,
                           [v for v, u in zip(eqn.outvars, split.out_uk) if u])
    return known_eqn, unknown_eqn, split.out_uk


def _scan_transpose(cts, *args, jaxpr, num_consts, num_carry, length, reverse):
    nc, nk = num_consts, num_carry
    consts, init, xs = _split(args, nc, nk)
    const_lin = [type(c) is UndefinedPrimal for c in consts]
    xs_lin = [type(x) is UndefinedPrimal for x in xs]
    # carries of a linear scan are linear (a known initial carry is a zero tangent)
    t_body = _transposed_scan_body(jaxpr, nc, nk, tuple(const_lin), tuple(xs_lin))
    nl_consts = [c for c, lin in zip(consts, const_lin) if not lin]
    nl_xs = [x for x, lin in zip(xs, xs_lin) if not lin]
    lin_const_avals = [c.aval for c, lin in zip(consts, const_lin) if lin]
    acc = [full(a.shape, 0, a.dtype) for a in lin_const_avals]
    ct_carry = [instantiate_zeros(c) for c in cts[:nk]]
    ct_ys = [instantiate_zeros(c) for c in cts[nk:]]
    outs = scan_p.bind(*nl_consts, *acc, *ct_carry, *nl_xs, *ct_ys,
                       **_scan_params(t_body, len(nl_consts), len(acc) + nk, length,
                                      not reverse))
    ct_consts, ct_init, ct_xs = _split(outs, len(acc), nk)
    ct_consts_it, ct_xs_it = iter(ct_consts), iter(ct_xs)
    return ([next(ct_consts_it) if lin else None for lin in const_lin]
            + [ct if type(c) is UndefinedPrimal else None for c, ct in zip(init, ct_init)]
            + [next(ct_xs_it) if lin else None for lin in xs_lin])


def _transposed_scan_body(jaxpr: ClosedJaxpr, nc: int, nk: int, const_lin: tuple,
                          xs_lin: tuple) -> ClosedJaxpr:
    """Body of the transposed scan: (non-linear consts; cotangent accumulators of the
    linear consts, carry cotangent; non-linear xs, ys cotangent) -> (accumulators,
    carry cotangent; cotangents of the linear xs)."""
    return remembered(jaxpr, ("scan transpose body", nc, nk, const_lin, xs_lin),
                      lambda: _build_transposed_scan_body(jaxpr, nc, nk, const_lin, xs_lin))


def _build_transposed_scan_body(jaxpr: ClosedJaxpr, nc: int, nk: int, const_lin: tuple,
                                xs_lin: tuple) -> ClosedJaxpr:
    linear = list(const_lin) + [True] * nk + list(xs_lin)
    transposed = transpose_jaxpr(jaxpr, linear)
    consts_a, carry_a, xs_a = _split(jaxpr.in_avals, nc, nk)
    nl_const_a = [a for a, lin in zip(consts_a, const_lin) if not lin]
    lin_const_a = [a.to_tangent_aval() for a, lin in zip(consts_a, const_lin) if lin]
    carry_t_a = [a.to_tangent_aval() for a in carry_a]
    nl_xs_a = [a for a, lin in zip(xs_a, xs_lin) if not lin]
    ct_y_a = [a.to_tangent_aval() for a in jaxpr.out_avals[nk:]]
    n_nlc, n_lc, n_nlx = len(nl_const_a), len(lin_const_a), len(nl_xs_a)

    def body(*args: Any) -> list[Any]:
        nl_c, acc, ct_carry, nl_x, ct_y = _split(args, n_nlc, n_lc, nk, n_nlx)
        outs = eval_jaxpr(transposed.jaxpr, transposed.consts, *nl_c, *nl_x, *ct_carry, *ct_y)
        ct_lc, ct_carry_in, ct_lx = _split(outs, n_lc, nk)
        return [add_tangents(a, c) for a, c in zip(acc, ct_lc)] + ct_carry_in + ct_lx

    return trace_to_jaxpr(body, nl_const_a + lin_const_a + carry_t_a + nl_xs_a + ct_y_a,
                          "transpose(scan body)", "transpose")


def _scan_batch(args, dims, *, jaxpr, num_consts, num_carry, length, reverse):
    nc, nk = num_consts, num_carry
    size = next(get_aval(x).shape[d] for x, d in zip(args, dims) if d is not None)
    const_b, init_b, xs_b = _split([d is not None for d in dims], nc, nk)
    n_ys = len(jaxpr.out_avals) - nk
    carry_b = _carry_fixed_point(
        lambda c: _batch_jaxpr(jaxpr, const_b + c + xs_b, size, c + [False] * n_ys)[1][:nk],
        init_b)
    body, out_b = _batch_jaxpr(jaxpr, const_b + carry_b + xs_b, size, carry_b + [False] * n_ys)
    consts, init, xs = _split(args, nc, nk)
    c_dims, i_dims, x_dims = _split(dims, nc, nk)
    consts = [_to_front(x, d, size, d is not None) for x, d in zip(consts, c_dims)]
    init = [_to_front(x, d, size, b) for x, d, b in zip(init, i_dims, carry_b)]
    xs = [x if d is None else move_bdim(x, d, 1, size) for x, d in zip(xs, x_dims)]
    outs = scan_p.bind(*consts, *init, *xs, **_scan_params(body, nc, nk, length, reverse))
    return outs, ([0 if b else None for b in carry_b]
                  + [1 if b else None for b in out_b[nk:]])


scan_p.impl = _scan_impl
scan_p.abstract_eval = _scan_abstract_eval
scan_p.jvp = _scan_jvp
scan_p.partial_eval = _scan_partial_eval
scan_p.partial_eval_eqn = _scan_partial_eval_eqn
scan_p.transpose = _scan_transpose
scan_p.batch = _scan_batch


# ================================================================== while_loop

while_p = Primitive("while", multiple_results=True)


def while_loop(cond_fun: Callable[[Any], Any], body_fun: Callable[[Any], Any],
               init_val: Any) -> Any:
    """``while cond_fun(val): val = body_fun(val)``, as ``lax.while_loop``.

    `val` may be a pytree; `body_fun` must keep its structure, shapes and dtypes.
    Forward-mode differentiation works; reverse mode does not (the trip count is
    only known at run time): use :func:`fori_loop` with static bounds or
    :func:`scan`.
    """
    for f, what in ((cond_fun, "cond_fun"), (body_fun, "body_fun")):
        if not callable(f):
            raise TypeError(f"while_loop: {what} must be callable, got {f!r}")
    init_flat, init_tree = _flat_operands(init_val, "while_loop", "a leaf of init_val")
    args_tree = tree_flatten((init_val,))[1]
    avals = [get_aval(x) for x in init_flat]
    body = _trace(body_fun, args_tree, avals, "lax.while_loop")
    promoted = _promote_weak_carries(avals, body.closed.out_avals)
    if promoted is not None and body.out_tree == init_tree:
        init_flat = [c if d is None else convert_element_type(c, d)
                     for c, d in zip(init_flat, promoted)]
        avals = [get_aval(x) for x in init_flat]
        body = _trace(body_fun, args_tree, avals, "lax.while_loop")
    if body.out_tree != init_tree:
        raise TypeError(f"while_loop: body_fun '{fun_name(body_fun)}' must return a value with "
                        f"the structure of init_val, {init_tree}, but it returned "
                        f"{body.out_tree}")
    _check_carry(avals, body.closed.out_avals, "while_loop", fun_name(body_fun))
    cond = _trace(cond_fun, args_tree, avals, "lax.while_loop")
    out = cond.closed.out_avals
    if len(out) != 1 or out[0].shape != () or out[0].dtype != np.bool_:
        raise TypeError(f"while_loop: cond_fun '{fun_name(cond_fun)}' must return a boolean "
                        f"scalar, but it returned {_avals_str(out)} (structure "
                        f"{cond.out_tree}). Compare explicitly (e.g. x < n) and reduce "
                        "arrays with .any() or .all().")
    outs = while_p.bind(*cond.consts, *body.consts, *init_flat, cond_jaxpr=cond.closed,
                        body_jaxpr=body.closed, cond_nconsts=len(cond.consts),
                        body_nconsts=len(body.consts))
    return tree_unflatten(init_tree, outs)


def _while_params(cond_jaxpr: ClosedJaxpr, body_jaxpr: ClosedJaxpr, cond_nconsts: int,
                  body_nconsts: int) -> dict:
    return dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=cond_nconsts,
                body_nconsts=body_nconsts)


def _while_impl(*args, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cconsts, bconsts, carry = _split(args, cond_nconsts, body_nconsts)
    while evaluate_jaxpr(cond_jaxpr, cconsts + carry, "while cond")[0]:
        carry = evaluate_jaxpr(body_jaxpr, bconsts + carry, "while body")
    return [_as_array(c, a) for c, a in zip(carry, body_jaxpr.in_avals[body_nconsts:])]


def _while_abstract_eval(*avals, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    cconsts, bconsts, carry = _split(avals, cond_nconsts, body_nconsts)
    if not all(map(_same_type, cconsts + carry, cond_jaxpr.in_avals)):
        raise TypeError(f"while_loop: cond_fun takes {_avals_str(cond_jaxpr.in_avals)} but "
                        f"got {_avals_str(cconsts + carry)}")
    if not all(map(_same_type, bconsts + carry, body_jaxpr.in_avals)):
        raise TypeError(f"while_loop: body_fun takes {_avals_str(body_jaxpr.in_avals)} but "
                        f"got {_avals_str(bconsts + carry)}")
    _check_carry(carry, body_jaxpr.out_avals, "while_loop", "body_fun")
    return [a.strip_weak_type() for a in carry]


def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    ncc, nbc = cond_nconsts, body_nconsts
    nz = [type(t) is not Zero for t in tangents]
    _, bconst_nz, init_nz = _split(nz, ncc, nbc)
    nk = len(init_nz)
    carry_nz = _carry_fixed_point(
        lambda c: jvp_jaxpr(body_jaxpr, bconst_nz + c, [False] * nk)[1], init_nz)
    jvp_body, _ = jvp_jaxpr(body_jaxpr, bconst_nz + carry_nz, carry_nz)
    n_bt, n_ct = sum(bconst_nz), sum(carry_nz)
    body = _reorder(jvp_body, _grouped_order(bconst_nz + carry_nz, (nbc, nk)),
                    list(range(nk + n_ct)))
    carry_t_avals = [a.to_tangent_aval() for a, f in zip(body_jaxpr.out_avals, carry_nz) if f]
    cond = _with_extra_invars(cond_jaxpr, carry_t_avals)
    cconsts, bconsts, init = _split(primals, ncc, nbc)
    _, bconst_t, init_t = _split(tangents, ncc, nbc)
    init_t = [instantiate_zeros(t) for t, f in zip(init_t, carry_nz) if f]
    outs = while_p.bind(*cconsts, *bconsts, *_nonzero(bconst_t), *init, *init_t,
                        **_while_params(cond, body, ncc, nbc + n_bt))
    carry_t = iter(outs[nk:])
    return outs[:nk], [next(carry_t) if f else Zero(a.to_tangent_aval())
                       for f, a in zip(carry_nz, body_jaxpr.out_avals)]


class _WhileSplit:
    """Known carries come from a loop over the known part of the body; the unknown
    ones from the whole loop, staged (it recomputes the known part)."""

    def __init__(self, params: dict, unknowns: Sequence[bool]):
        cond_j, body_j = params["cond_jaxpr"], params["body_jaxpr"]
        ncc, nbc = params["cond_nconsts"], params["body_nconsts"]
        cc_uk, bc_uk, init_uk = _split(unknowns, ncc, nbc)
        carry_uk = _carry_fixed_point(lambda c: _out_uk(body_j, bc_uk + c), init_uk)
        self.all_unknown = _out_uk(cond_j, cc_uk + carry_uk)[0]
        self.carry_uk = carry_uk
        self.cc_uk, self.bc_uk = cc_uk, bc_uk
        if self.all_unknown:
            self.carry_uk = [True] * len(carry_uk)
            return
        n_known = carry_uk.count(False)
        cond_known = _known_only(cond_j, cc_uk + carry_uk, 1)
        body_known = _known_only(body_j, bc_uk + carry_uk, n_known)
        self.known_params = _while_params(cond_known, body_known, ncc - sum(cc_uk),
                                          nbc - sum(bc_uk))

    def known_operands(self, args: Sequence[Any]) -> list[Any]:
        return [x for x, u in zip(args, self.cc_uk + self.bc_uk + self.carry_uk) if not u]


def _known_only(closed: ClosedJaxpr, in_uk: Sequence[bool], n_out: int) -> ClosedJaxpr:
    """The part of `closed` computing its first `n_out` known outputs from the known inputs."""
    known = partial_eval_jaxpr(closed, list(in_uk))[0]
    j = known.jaxpr
    return ClosedJaxpr(dce_jaxpr(Jaxpr(j.constvars, j.invars, j.outvars[:n_out], j.eqns)),
                       known.consts)


def _while_partial_eval(trace: JaxprTrace, args: Sequence[Any], params: dict) -> list[Any]:
    split = _WhileSplit(params, [_staged(trace, x) for x in args])
    staged = trace.stage(while_p, args, params)
    if split.all_unknown:
        return staged
    known = trace.parent.process_primitive(while_p, tuple(split.known_operands(args)),
                                           split.known_params)
    return _merge(split.carry_uk, [s for s, u in zip(staged, split.carry_uk) if u], known)


def _while_partial_eval_eqn(eqn: JaxprEqn, unknowns: Sequence[bool]):
    split = _WhileSplit(eqn.params, unknowns)
    if split.all_unknown:
        return None, eqn, [True] * len(eqn.outvars)
    known_eqn = JaxprEqn(while_p, split.known_operands(eqn.invars), split.known_params,
                         [v for v, u in zip(eqn.outvars, split.carry_uk) if not u])
    unknown_eqn = JaxprEqn(while_p, list(eqn.invars), eqn.params,
                           [v if u else Var(v.aval) for v, u in zip(eqn.outvars,
                                                                   split.carry_uk)])
    return known_eqn, unknown_eqn, split.carry_uk


def _while_transpose(cts, *args, **params):
    raise TypeError(
        "Reverse-mode differentiation (grad, vjp) does not work through lax.while_loop: "
        "its number of iterations is only known when it runs, so the values of every "
        "iteration, which the backward pass needs, cannot be stored in a buffer of known "
        "size. Use lax.fori_loop with concrete (Python int) bounds, which runs as a scan, "
        "or lax.scan with a fixed length (masking the extra steps if needed). Forward mode "
        "(jvp, jacfwd) works with while_loop.")


def _while_batch(args, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    ncc, nbc = cond_nconsts, body_nconsts
    size = next(get_aval(x).shape[d] for x, d in zip(args, dims) if d is not None)
    cc_b, bc_b, init_b = _split([d is not None for d in dims], ncc, nbc)
    nk = len(init_b)

    def step(carry_b: list[bool]) -> list[bool]:
        if _batch_jaxpr(cond_jaxpr, cc_b + carry_b, size, [False])[1][0]:
            return [True] * nk  # a batched predicate: every carry differs per lane
        return _batch_jaxpr(body_jaxpr, bc_b + carry_b, size, carry_b)[1]

    carry_b = _carry_fixed_point(step, init_b)
    cond_b, (pred_b,) = _batch_jaxpr(cond_jaxpr, cc_b + carry_b, size, [False])
    body_b, _ = _batch_jaxpr(body_jaxpr, bc_b + carry_b, size, carry_b)
    cconsts, bconsts, init = _split(args, ncc, nbc)
    cc_dims, bc_dims, init_dims = _split(dims, ncc, nbc)
    cconsts = [_to_front(x, d, size, b) for x, d, b in zip(cconsts, cc_dims, cc_b)]
    bconsts = [_to_front(x, d, size, b) for x, d, b in zip(bconsts, bc_dims, bc_b)]
    init = [_to_front(x, d, size, b) for x, d, b in zip(init, init_dims, carry_b)]
    out_dims = [0 if b else None for b in carry_b]
    if not pred_b:
        outs = while_p.bind(*cconsts, *bconsts, *init,
                            **_while_params(cond_b, body_b, ncc, nbc))
        return outs, out_dims
    cond_any, masked_body = _masked_loop(cond_b, body_b, ncc, nbc)
    outs = while_p.bind(*cconsts, *cconsts, *bconsts, *init,
                        **_while_params(cond_any, masked_body, ncc, ncc + nbc))
    return outs, out_dims


def _masked_loop(cond_b: ClosedJaxpr, body_b: ClosedJaxpr, ncc: int, nbc: int
                 ) -> tuple[ClosedJaxpr, ClosedJaxpr]:
    """A loop running while any lane's predicate holds, in which lanes whose
    predicate is false keep their carry."""
    def cond_any(*args: Any) -> list[Any]:
        (pred,) = eval_jaxpr(cond_b.jaxpr, cond_b.consts, *args)
        return [reduce_or(pred, (0,))]

    def masked_body(*args: Any) -> list[Any]:
        cconsts, bconsts, carry = _split(args, ncc, nbc)
        (pred,) = eval_jaxpr(cond_b.jaxpr, cond_b.consts, *cconsts, *carry)
        new = eval_jaxpr(body_b.jaxpr, body_b.consts, *bconsts, *carry)
        return [select_n(broadcast_in_dim(pred, get_aval(n).shape, (0,)), old, n)
                for old, n in zip(carry, new)]

    carry_avals = body_b.in_avals[nbc:]
    cond_avals = cond_b.in_avals[:ncc]
    return (trace_to_jaxpr(cond_any, cond_b.in_avals, "while_loop (any lane)", "vmap"),
            trace_to_jaxpr(masked_body, cond_avals + body_b.in_avals[:nbc] + carry_avals,
                           "while_loop (masked body)", "vmap"))


while_p.impl = _while_impl
while_p.abstract_eval = _while_abstract_eval
while_p.jvp = _while_jvp
while_p.partial_eval = _while_partial_eval
while_p.partial_eval_eqn = _while_partial_eval_eqn
while_p.transpose = _while_transpose
while_p.batch = _while_batch


# ================================================================== fori_loop

def fori_loop(lower: Any, upper: Any, body_fun: Callable[[Any, Any], Any],
              init_val: Any) -> Any:
    """``val = body_fun(i, val)`` for ``i`` in ``range(lower, upper)``, as ``lax.fori_loop``.

    With concrete bounds (Python or NumPy integers) the loop is a :func:`scan`,
    so reverse-mode differentiation works; with traced bounds it is a
    :func:`while_loop` (forward mode only).
    """
    for bound, what in ((lower, "lower"), (upper, "upper")):
        check_leaf(bound, "fori_loop", f"the {what} bound")
        aval = get_aval(bound)
        if aval.shape != () or aval.dtype.kind not in "iu":
            raise TypeError(f"fori_loop: the {what} bound must be an integer scalar, got "
                            f"{aval.str_short()}")
    lo_aval, hi_aval = get_aval(lower), get_aval(upper)
    if lo_aval.weak_type != hi_aval.weak_type:  # a Python int takes the other bound's dtype
        dtype = hi_aval.dtype if lo_aval.weak_type else lo_aval.dtype
    else:
        dtype = np.result_type(lo_aval.dtype, hi_aval.dtype)
    name = fun_name(body_fun)
    one = np.ones((), dtype)
    if not isinstance(lower, Tracer) and not isinstance(upper, Tracer):
        length = max(0, int(upper) - int(lower))

        def scan_body(carry: Any, _: Any) -> Any:
            i, x = carry
            return (add(i, one), body_fun(i, x)), None

        scan_body.__name__ = name
        (_, result), _ = _scan(scan_body, (np.asarray(lower, dtype), init_val), None,
                               length, False, "fori_loop")
        return result

    def while_cond(carry: Any) -> Any:
        return lt(carry[0], carry[1])

    def while_body(carry: Any) -> Any:
        i, stop, x = carry
        return add(i, one), stop, body_fun(i, x)

    while_body.__name__ = name
    lower = convert_element_type(lower, dtype)
    upper = convert_element_type(upper, dtype)
    return while_loop(while_cond, while_body, (lower, upper, init_val))[2]

