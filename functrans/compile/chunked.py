"""Running a jaxpr chunk by chunk along a batch axis: how jitted code runs on Dask arrays.

A Dask array chunked along one axis (the batch: one row per example) meets a jaxpr
whose equations mostly combine values of the same rows: elementwise functions,
products and reductions over the other axes, broadcasts, reshapes and transposes that
keep the batch axis whole. Evaluated one Dask function per equation, each of those is a
task per chunk, and the scheduler holds many chunks' intermediates at once. Here they
run instead as **one NumPy task per chunk**: the equations are rebuilt for the chunk's
number of rows and compiled by the NumPy code generator (buffers reused, values deleted
after their last use), which is what a hand-written Dask program does.

Each variable gets a *placement* (:func:`plan`):

* ``REPLICATED`` (``None``): computed from unchunked inputs and constants only; every
  chunk task computes the (small) part it needs itself;
* a batch axis (an ``int``): the variable's rows are split like the chunks, and each
  chunk task holds its own rows;
* ``PARTIAL``: a sum over the batch axis (``reduce_sum`` over it, ``x.T @ delta``), of
  which each chunk task holds its chunk's share; the shares are added in a tree, and
  linear functions of a partial sum (a mean's division, a negation) stay partial;
* ``GLOBAL``: anything else (an equation mixing rows of several chunks, or using a
  completed sum); evaluated afterwards with the library's own functions on the results
  of the chunk tasks (:meth:`ChunkPlan.run`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans.compile.codegen import CompiledJaxpr, generate
from functrans.compile.passes import optimize
from functrans.core import trace as core_trace
from functrans.core.avals import ShapedArray
from functrans.core.backend import Backend
from functrans.core.ir import Atom, ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var
from functrans.primitives import elementwise as ew
from functrans.primitives import products as prod
from functrans.primitives import reductions as red
from functrans.primitives import structural as st
from functrans.primitives import tangent_space as ts

__all__ = ["ChunkPlan", "plan", "GLOBAL", "PARTIAL"]

PARTIAL = "partial"
GLOBAL = "global"
# A placement: None (replicated), a batch axis, PARTIAL or GLOBAL
Placement = Any

#: elementwise primitives without a NumPy ufunc marker on their implementation
_ELEMENTWISE = frozenset([ew.select_n_p, ew.convert_element_type_p, ts.add_any_p])
#: elementwise primitives linear in all operands jointly: partial sums in, partial out
_SUMS = frozenset([ew.add_p, ew.sub_p, ts.add_any_p])
#: reshapes: the batch axis survives when the sizes before it are regrouped only
_RESHAPES = frozenset([st.reshape_p, st.squeeze_p, st.expand_dims_p])
#: reductions that keep the batch axis when it is not reduced
_REDUCTIONS = frozenset([red.reduce_sum_p, red.reduce_max_p, red.reduce_min_p,
                         red.reduce_prod_p, red.argmax_p, red.argmin_p,
                         red.reduce_and_p, red.reduce_or_p])


def _is_elementwise(eqn: JaxprEqn) -> bool:
    prim = eqn.primitive
    return prim in _ELEMENTWISE or bool(getattr(prim.impl, "elementwise", False)) \
        or prim.ufunc is not None


def _placement_of(a: Atom, placed: dict[Var, Placement]) -> Placement:
    return None if type(a) is Literal else placed.get(a)


# ------------------------------------------------------------------ placement rules

def _elementwise(eqn: JaxprEqn, ins: list[Placement], can_split: Callable[[Atom, int], bool]
                 ) -> Placement:
    axes = {p for p in ins if type(p) is int}
    if PARTIAL in ins:
        return _partial_elementwise(eqn, ins)
    if len(axes) != 1:
        return GLOBAL
    (axis,) = axes
    out_shape = eqn.outvars[0].aval.shape
    for a, p in zip(eqn.invars, ins):  # replicated operands of full shape are split too
        if p is None and a.aval.shape == out_shape and not can_split(a, axis):
            return GLOBAL
    return axis


def _partial_elementwise(eqn: JaxprEqn, ins: list[Placement]) -> Placement:
    prim = eqn.primitive
    if prim in _SUMS:
        return PARTIAL if all(p == PARTIAL for p in ins) else GLOBAL
    if prim is ew.neg_p:
        return PARTIAL
    if prim is ew.mul_p and sorted(map(str, ins)) == ["None", PARTIAL]:
        return PARTIAL
    if prim is ew.div_p and ins[0] == PARTIAL and ins[1] is None:
        return PARTIAL
    if prim is ew.convert_element_type_p and eqn.outvars[0].aval.dtype.kind in "fc" \
            and eqn.invars[0].aval.dtype.kind in "fc":
        return PARTIAL
    return GLOBAL


def _axis_after_reshape(in_shape: Sequence[int], out_shape: Sequence[int], axis: int
                        ) -> int | None:
    """Where `axis` is after a reshape, if it survives whole (same size, same number
    of elements before it)."""
    before = int(np.prod(in_shape[:axis], dtype=np.int64))
    for j, size in enumerate(out_shape):
        if size == in_shape[axis] and int(np.prod(out_shape[:j], dtype=np.int64)) == before:
            return j
    return None


def _structural(eqn: JaxprEqn, axis: int) -> Placement:
    prim = eqn.primitive
    aval = eqn.invars[0].aval
    out = eqn.outvars[0].aval
    if prim is st.transpose_p:
        return list(eqn.params["permutation"]).index(axis)
    if prim is st.broadcast_in_dim_p:
        target = eqn.params["broadcast_dimensions"][axis]
        return target if out.shape[target] == aval.shape[axis] else GLOBAL
    if prim in _RESHAPES:
        if prim is st.reshape_p and eqn.params.get("dimensions") is not None:
            return GLOBAL
        moved = _axis_after_reshape(aval.shape, out.shape, axis)
        return GLOBAL if moved is None else moved
    if prim in _REDUCTIONS:
        axes = eqn.params["axes"]
        if axis in axes:
            return PARTIAL if prim is red.reduce_sum_p and aval.dtype.kind in "fc" else GLOBAL
        return axis - sum(1 for a in axes if a < axis)
    return GLOBAL


def _dot_general(eqn: JaxprEqn, ins: list[Placement]) -> Placement:
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lhs, rhs = ins
    if PARTIAL in ins:  # linear in each operand: a partial sum times a replicated value
        return PARTIAL if None in ins else GLOBAL
    if rhs is None:  # rows of the lhs only: a free axis of the lhs
        if lhs in lc or lhs in lb:
            return GLOBAL
        free = [d for d in range(eqn.invars[0].aval.ndim) if d not in lc and d not in lb]
        return len(lb) + free.index(lhs)
    if lhs is None:
        if rhs in rc or rhs in rb:
            return GLOBAL
        free = [d for d in range(eqn.invars[1].aval.ndim) if d not in rc and d not in rb]
        n_lhs_free = eqn.invars[0].aval.ndim - len(lc) - len(lb)
        return len(lb) + n_lhs_free + free.index(rhs)
    for pair, result in ((zip(lc, rc), PARTIAL), (zip(lb, rb), None)):
        for i, (a, b) in enumerate(pair):
            if a == lhs and b == rhs:
                return PARTIAL if result == PARTIAL else i
    return GLOBAL


def _place(eqn: JaxprEqn, ins: list[Placement], can_split: Callable[[Atom, int], bool]
           ) -> Placement:
    if GLOBAL in ins:
        return GLOBAL
    if all(p is None for p in ins):
        return None
    if eqn.primitive.multiple_results or len(eqn.outvars) != 1:
        return GLOBAL
    if eqn.primitive is prod.dot_general_p:
        return _dot_general(eqn, ins)
    if _is_elementwise(eqn):
        return _elementwise(eqn, ins, can_split)
    if len(ins) != 1:
        return GLOBAL
    if ins[0] == PARTIAL:
        linear = eqn.primitive in _RESHAPES or eqn.primitive in (
            st.transpose_p, st.broadcast_in_dim_p, red.reduce_sum_p)
        return PARTIAL if linear else GLOBAL
    return _structural(eqn, ins[0])


# ------------------------------------------------------------------ the plan

class ChunkPlan:
    """Where each variable of a jaxpr lives when its inputs ``in_axes`` are chunked
    along those axes (``None``: whole), and the jaxpr of one chunk's task."""

    def __init__(self, closed: ClosedJaxpr, in_axes: Sequence[int | None]):
        self.closed = closed
        self.in_axes = tuple(in_axes)
        jaxpr = closed.jaxpr
        self.splats = _splat_values(closed)
        self.producers = {e.outvars[0]: e for e in jaxpr.eqns if len(e.outvars) == 1}
        self.placed: dict[Var, Placement] = dict(zip(jaxpr.invars, in_axes))
        for eqn in jaxpr.eqns:
            ins = [_placement_of(a, self.placed) for a in eqn.invars]
            where = _place(eqn, ins, self._can_split)
            for v in eqn.outvars:
                self.placed[v] = where
        self.chunk_eqns = [e for e in jaxpr.eqns if self.placed[e.outvars[0]] != GLOBAL] \
            if jaxpr.eqns else []
        self.outer_eqns = self._outer_equations()
        self.chunk_outputs = self._chunk_outputs()
        #: per number of rows: the compiled code of one chunk
        self._code: dict[int, CompiledJaxpr] = {}

    def _can_split(self, a: Atom, axis: int) -> bool:
        """Whether a replicated operand can be rebuilt with a chunk's rows: a constant
        holding one value, or a broadcast along that axis."""
        if type(a) is Literal or a in self.splats:
            return True
        producer = self.producers.get(a)
        if producer is None or producer.primitive is not st.broadcast_in_dim_p:
            return False
        dims = producer.params["broadcast_dimensions"]
        return axis not in dims or producer.invars[0].aval.shape[dims.index(axis)] == 1

    def is_local(self, v: Var) -> bool:
        return self.placed.get(v) not in (None, GLOBAL)

    def _outer_equations(self) -> list[JaxprEqn]:
        """The equations evaluated after the chunk tasks, by the library: the global
        ones and the replicated ones they (or the outputs) read."""
        jaxpr = self.closed.jaxpr
        needed = {a for a in jaxpr.outvars if type(a) is Var}
        outer = []
        for eqn in reversed(jaxpr.eqns):
            where = self.placed[eqn.outvars[0]] if eqn.outvars else GLOBAL
            if where == GLOBAL or (where is None and any(v in needed for v in eqn.outvars)):
                outer.append(eqn)
                needed.update(a for a in eqn.invars if type(a) is Var)
        outer.reverse()
        return outer

    def _chunk_outputs(self) -> list[Var]:
        reads = [a for e in self.outer_eqns for a in e.invars] + list(self.closed.jaxpr.outvars)
        return list(dict.fromkeys(a for a in reads if type(a) is Var and self.is_local(a)))

    def code(self, rows: int) -> CompiledJaxpr:
        """The NumPy code of a chunk of `rows` rows (compiled once per size)."""
        compiled = self._code.get(rows)
        if compiled is None:
            with core_trace.gc_paused():
                closed = optimize(_ChunkBuilder(self, rows).build())
                compiled = self._code[rows] = generate(closed, "chunk")
        return compiled

    def replicated_inputs(self) -> list[int]:
        """Indices of the inputs every chunk task reads whole."""
        return [i for i, axis in enumerate(self.in_axes) if axis is None]


def _splat_values(closed: ClosedJaxpr) -> dict[Var, Any]:
    """Constants holding one repeated value (a rule's ones, a cotangent's zeros)."""
    splats = {}
    for v, c in zip(closed.jaxpr.constvars, closed.consts):
        if type(c) is np.ndarray and c.size > 1 and c.dtype.kind in "biufc":
            first = c.flat[0]
            if all(s == 0 for s in c.strides) or bool(np.all(c == first)):
                splats[v] = first
    return splats


class _ChunkBuilder:
    """The jaxpr of one chunk: the plan's chunk equations with `rows` rows on the
    batch axis (shape parameters rewritten, avals recomputed by the shape rules)."""

    def __init__(self, plan: ChunkPlan, rows: int):
        self.plan = plan
        self.rows = rows
        self.env: dict[Var, Atom] = {}
        self.eqns: list[JaxprEqn] = []
        self._split: dict[tuple[Var, int], Atom] = {}

    def build(self) -> ClosedJaxpr:
        plan, closed = self.plan, self.plan.closed
        invars = []
        for v, axis in zip(closed.jaxpr.invars, plan.in_axes):
            invars.append(Var(v.aval if axis is None else self._aval(v.aval, axis)))
            self.env[v] = invars[-1]
        constvars = []
        for v in closed.jaxpr.constvars:
            constvars.append(Var(v.aval))
            self.env[v] = constvars[-1]
        for eqn in plan.chunk_eqns:
            self._emit(eqn)
        outvars = [self.env[v] for v in plan.chunk_outputs]
        return ClosedJaxpr(Jaxpr(constvars, invars, outvars, self.eqns), closed.consts)

    def _aval(self, aval: ShapedArray, axis: int) -> ShapedArray:
        shape = list(aval.shape)
        shape[axis] = self.rows
        return ShapedArray(tuple(shape), aval.dtype, aval.weak_type)

    def _emit(self, eqn: JaxprEqn) -> None:
        where = self.plan.placed[eqn.outvars[0]]
        operands = [self._operand(a, where, eqn) for a in eqn.invars]
        params = dict(eqn.params)
        if type(where) is int:
            if eqn.primitive is st.broadcast_in_dim_p:
                params["shape"] = self._aval(eqn.outvars[0].aval, where).shape
            elif eqn.primitive is st.reshape_p:
                params["new_sizes"] = self._aval(eqn.outvars[0].aval, where).shape
        self._bind(eqn.primitive, operands, params, eqn.outvars)

    def _bind(self, prim: Any, operands: list[Atom], params: dict, outvars: list[Var]
              ) -> list[Var]:
        out = prim.abstract_eval(*[a.aval for a in operands], **params)
        avals = out if prim.multiple_results else [out]
        new = [Var(a) for a in avals]
        self.eqns.append(JaxprEqn(prim, operands, params, new))
        for v, n in zip(outvars, new):
            self.env[v] = n
        return new

    def _operand(self, a: Atom, where: Placement, eqn: JaxprEqn) -> Atom:
        if type(a) is Literal:
            return a
        if (type(where) is int and self.plan.placed.get(a) is None and a.aval.ndim
                and _is_elementwise(eqn) and a.aval.shape == eqn.outvars[0].aval.shape):
            return self._split_replicated(a, where)
        return self.env[a]

    def _split_replicated(self, a: Var, axis: int) -> Atom:
        """A replicated operand of the full shape, rebuilt with this chunk's rows."""
        key = (a, axis)
        hit = self._split.get(key)
        if hit is not None:
            return hit
        shape = self._aval(a.aval, axis).shape
        if a in self.plan.splats:
            value = Literal(np.asarray(self.plan.splats[a], a.aval.dtype)[()],
                            ShapedArray((), a.aval.dtype))
            operand, dims = value, ()
        else:
            producer = self.plan.producers[a]
            operand = self._operand(producer.invars[0], None, producer)
            dims = producer.params["broadcast_dimensions"]
        (split,) = self._bind(st.broadcast_in_dim_p, [operand],
                              {"shape": shape, "broadcast_dimensions": tuple(dims)}, [])
        self._split[key] = split
        return split


def plan(closed: ClosedJaxpr, in_axes: Sequence[int | None]) -> ChunkPlan | None:
    """The chunked evaluation of `closed` with its inputs chunked along `in_axes`, or
    None when no chunk task would have anything to return."""
    result = ChunkPlan(closed, in_axes)
    return result if result.chunk_outputs else None


class ChunkedCode:
    """Compiled code for a library with chunked arrays: evaluates a jaxpr as one task
    per chunk (:class:`ChunkPlan`) where its inputs are chunked along one axis, and by
    `native` (the library's own functions, one per equation) otherwise."""

    def __init__(self, closed: ClosedJaxpr, native: CompiledJaxpr, backend: Backend):
        self.closed = closed
        self.native = native
        self.backend = backend
        self._plans: dict[tuple, ChunkPlan | None] = {}

    def __call__(self, *args: Any) -> list[Any]:
        layout = self.backend.extensions.chunk_layout(args)
        if layout is None:
            return self.native.fn(*args)
        in_axes, chunks = layout
        key = (in_axes, chunks)
        if key not in self._plans:
            self._plans[key] = plan(self.closed, in_axes)
        chunk_plan = self._plans[key]
        if chunk_plan is None:
            return self.native.fn(*args)
        return self._run(chunk_plan, args, chunks)

    def _run(self, chunk_plan: ChunkPlan, args: Sequence[Any], chunks: tuple) -> list[Any]:
        backend = self.backend
        codes = {rows: chunk_plan.code(rows) for rows in set(chunks)}
        placements = [chunk_plan.placed[v] for v in chunk_plan.chunk_outputs]
        avals = [v.aval for v in chunk_plan.chunk_outputs]
        results = backend.extensions.run_chunks(codes, args, chunk_plan.in_axes, chunks,
                                                placements, avals)
        env: dict[Var, Any] = dict(zip(chunk_plan.chunk_outputs, results))
        jaxpr = self.closed.jaxpr
        for v, a in zip(jaxpr.invars, args):
            env[v] = backend.constant(a)
        for v, c in zip(jaxpr.constvars, self.closed.consts):
            env.setdefault(v, c)

        def read(a: Atom) -> Any:
            return a.val if type(a) is Literal else env[a]

        for eqn in chunk_plan.outer_eqns:
            out = backend.evaluate(eqn.primitive, [read(a) for a in eqn.invars], eqn.params) \
                if eqn.invars else eqn.primitive.impl(**eqn.params)  # iota: a constant
            for v, value in zip(eqn.outvars, out if eqn.primitive.multiple_results else [out]):
                env[v] = value
        return [backend.cast(read(a), a.aval) for a in jaxpr.outvars]
