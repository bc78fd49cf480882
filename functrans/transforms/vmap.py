"""Vectorising map: run a function on a batch by rewriting each primitive to
operate on a batched operand (its ``batch`` rule), never by looping.

A vmap may name its axis (``vmap(f, axis_name="i")``): collectives such as
``lax.psum(x, "i")`` then combine the members of the batch. A collective's result
depends on the axis even when its operand does not, so the ``BatchTrace`` of the
named axis applies the collective's *axis rule* (``collective_rules``) whether or
not the operand is batched; the batching traces of other axes treat it as an
ordinary primitive. Names are resolved by walking from the current trace to its
parents (:func:`find_axis`): the innermost vmap of a name wins, so an inner name
shadows an equal outer one. While a named trace runs a batching rule, its axis is
the *ambient* batching axis (:func:`batching_axis`), so that rules which batch a
whole jaxpr or function (``jit``, ``scan``, ``custom_vjp``) batch it over the same
named axis and the collectives inside still find it.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from functrans.core import trace as core_trace
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.ir import ClosedJaxpr, Jaxpr
from functrans.core.primitive import Primitive, missing_transformation_error
from functrans.core.trace import Trace, Tracer, check_alive
from functrans.primitives.rules import move_bdim
from functrans.transforms.api_util import (
    FlatFun,
    argument_name,
    flatten_args,
    fun_name,
    output_name,
    outputs,
)
from functrans.tree_util import PyTreeDef, _node_type, tree_flatten, tree_unflatten


class BatchTracer(Tracer):
    """A batch of values stacked along axis `bdim` of `val`."""

    __slots__ = ("val", "bdim", "_aval")

    def __init__(self, trace: BatchTrace, val: Any, bdim: int):
        self._trace = trace
        self.val = val
        self.bdim = bdim
        self._aval = None

    @property
    def aval(self) -> ShapedArray:
        aval = self._aval
        if aval is None:  # computed once: rules ask for it several times per primitive
            val_aval = get_aval(self.val)
            shape = val_aval.shape[:self.bdim] + val_aval.shape[self.bdim + 1:]
            aval = self._aval = ShapedArray(shape, val_aval.dtype)
        return aval

    def _trace_context(self) -> str:
        return ("The value is batched by vmap: it holds a different value per batch "
                "element, so it has no single Python value.\n")


class BatchTrace(Trace):
    """Batches over one axis of size `axis_size`, named `axis_name` (None: anonymous)."""

    def __init__(self, parent: Trace, axis_size: int, axis_name: Hashable | None = None):
        self.parent = parent
        self.axis_size = axis_size
        self.axis_name = axis_name
        #: the ambient batching axis while this trace runs a rule (see batching_axis)
        self.axis = None if axis_name is None else (axis_name, axis_size)

    def describe(self) -> str:
        return "vmap" if self.axis_name is None else f"vmap over axis {self.axis_name!r}"

    def to_val_dim(self, x: Any) -> tuple[Any, int | None]:
        if isinstance(x, Tracer):
            if x._trace is self:
                return x.val, x.bdim
            check_alive(x, "inside a vmapped function")
        return x, None

    def process_primitive(self, primitive, args, params):
        vals, dims = [], []
        batched = False
        for x in args:
            if type(x) is BatchTracer and x._trace is self:  # to_val_dim, inlined
                vals.append(x.val)
                dims.append(x.bdim)
                batched = True
            else:
                v, d = self.to_val_dim(x)
                vals.append(v)
                dims.append(d)
        name = self.axis_name
        if name is not None:
            axis_rule = collective_rules.get(primitive)
            if axis_rule is not None and name in params["axes"]:
                return self.apply_rule(primitive, axis_rule, vals, dims, params)
            if not batched and vals and name in axes_used_by_params(params):
                # a jaxpr that uses this axis (a jit calling psum) must be batched over
                # it even though no operand is: batch the first operand by broadcasting
                vals[0], dims[0] = move_bdim(vals[0], None, 0, self.axis_size), 0
                batched = True
        if not batched:
            return self.parent.process_primitive(primitive, tuple(vals), params)
        rule = primitive.batch
        if rule is None:
            raise missing_transformation_error(primitive, "batching (vmap)")
        return self.apply_rule(primitive, rule, vals, dims, params)

    def claims(self, primitive: Primitive, params: dict) -> bool:
        return self.axis_name is not None and self.axis_name in axes_used_by_params(params)

    def apply_rule(self, primitive: Primitive, rule: Callable[..., Any], vals: list[Any],
                   dims: list[int | None], params: dict) -> Any:
        """Run a batching rule (or an axis rule) in the parent trace, with this
        trace's axis ambient, and wrap its results."""
        token = core_trace.set_current_trace(self.parent)
        axis_token = _batching_axis.set(self.axis)
        try:
            if rule is primitive.batch:
                out, out_dim = rule(vals, dims, **params)
            else:
                out, out_dim = rule(vals, dims, self.axis_name, self.axis_size, **params)
        finally:
            _batching_axis.reset(axis_token)
            core_trace.reset_current_trace(token)
        if primitive.multiple_results:
            return [self.wrap(o, d) for o, d in zip(out, out_dim)]
        return self.wrap(out, out_dim)

    def wrap(self, val: Any, dim: int | None) -> Any:
        return val if dim is None else BatchTracer(self, val, dim)


# ------------------------------------------------------------------ named axes

#: primitive -> its axis rule ``rule(vals, dims, axis_name, axis_size, *, axes, **params) ->
#: (out, out_dim)``, for collectives (primitives with an ``axes`` parameter naming vmap
#: axes). The BatchTrace of the named axis calls it for ``axes`` holding its name,
#: batched operand or not; the rule handles that axis and binds the collective again
#: over the remaining names. Registered by functrans/higher_order/collectives.py.
collective_rules: dict[Primitive, Callable[..., Any]] = {}

#: (name, size) of the named axis whose batching rule is running, or None
_batching_axis: contextvars.ContextVar[tuple[Hashable, int] | None] = contextvars.ContextVar(
    "functrans_batching_axis", default=None)

#: marks "no axis_name given": vmap_flat then inherits the ambient batching axis
INHERIT: Any = object()


def batching_axis() -> tuple[Hashable, int] | None:
    """``(name, size)`` of the named vmap axis whose batching rule is running (None
    outside batching rules, and in those of anonymous vmaps). A rule that batches a
    jaxpr batches it over this same axis, so that collectives inside resolve."""
    return _batching_axis.get()


def find_axis(name: Hashable) -> BatchTrace | None:
    """The innermost vmap trace named `name` among the current trace and its parents."""
    t: Trace | None = core_trace.get_current_trace()
    while t is not None:
        if type(t) is BatchTrace and t.axis_name == name:
            return t
        t = t.parent
    return None


def bound_axis_names() -> list[Hashable]:
    """The names of the enclosing named vmaps, innermost first."""
    names = []
    t: Trace | None = core_trace.get_current_trace()
    while t is not None:
        if type(t) is BatchTrace and t.axis_name is not None:
            names.append(t.axis_name)
        t = t.parent
    return names


def axis_size_of(name: Hashable, fname: str) -> int:
    """The size of the vmap axis `name`; a NameError naming `fname` if none is bound."""
    frame = find_axis(name)
    if frame is None:
        raise unbound_axis_error(name, fname)
    return frame.axis_size


def unbound_axis_error(name: Hashable, fname: str) -> NameError:
    bound = bound_axis_names()
    where = (f"the axis names bound here, innermost first, are {bound}" if bound else
             "no named axis is bound here: name one with vmap(f, axis_name=...)")
    return NameError(f"unbound axis name: {name}. {fname} was given axis name {name!r}, "
                     f"which no enclosing vmap defines; {where}")


# closed jaxpr -> the axis names its collectives use (nested jaxprs included)
_axes_of_jaxpr: weakref.WeakKeyDictionary[ClosedJaxpr, frozenset] = weakref.WeakKeyDictionary()


def axes_used_by_params(params: dict) -> frozenset:
    """The axis names used by collectives in the jaxprs among `params` (a higher-order
    primitive's bodies), or an empty set."""
    names: frozenset = frozenset()
    for value in params.values():
        for item in value if type(value) is tuple else (value,):
            if type(item) is ClosedJaxpr:
                used = _axes_of_jaxpr.get(item)
                if used is None:
                    used = _axes_of_jaxpr[item] = _axes_used_by_jaxpr(item.jaxpr)
                names |= used
            elif type(item) is Jaxpr:
                names |= _axes_used_by_jaxpr(item)
    return names


def _axes_used_by_jaxpr(jaxpr: Jaxpr) -> frozenset:
    names: set = set()
    for eqn in jaxpr.eqns:
        if eqn.primitive in collective_rules:
            names.update(eqn.params["axes"])
        names |= axes_used_by_params(eqn.params)
    return frozenset(names)


def vmap_flat(f: Callable[..., Sequence[Any]], args: Sequence[Any],
              in_dims: Sequence[int | None],
              out_dims: Sequence[int | None] | Callable[[], Sequence[int | None]] | None,
              axis_size: int, axis_name: Hashable | None = INHERIT
              ) -> tuple[list[Any], list[int | None]]:
    """Batch `f` over flat `args`; outputs moved to `out_dims` (or left where the
    rules put them when `out_dims` is None, returning those dims). `out_dims`
    may be a callable, called once `f` has run (when it depends on the output
    structure). `axis_name` names the axis for collectives (None: anonymous); by
    default a batching rule's vmap inherits the name of the axis it batches over
    (see batching_axis)."""
    if axis_name is INHERIT:
        ambient = _batching_axis.get()
        axis_name = ambient[0] if ambient is not None and ambient[1] == axis_size else None
    parent = core_trace.get_current_trace()
    trace = BatchTrace(parent, axis_size, axis_name)
    tracers = [trace.wrap(x, d) for x, d in zip(args, in_dims)]
    outs = core_trace.run_in(trace, f, tracers)
    vals_dims = [trace.to_val_dim(o) for o in outs]
    vals, dims = [v for v, _ in vals_dims], [d for _, d in vals_dims]
    if callable(out_dims):
        out_dims = out_dims()
    if out_dims is None:
        return vals, dims
    moved = _move_to_out_axes(vals, dims, out_dims, axis_size, lambda i: f"vmap: output {i}")
    return moved, list(out_dims)


def _move_to_out_axes(vals: Sequence[Any], dims: Sequence[int | None],
                     out_axes: Sequence[int | None], axis_size: int,
                     describe: Callable[[int], str]) -> list[Any]:
    """Each batched value `vals[i]` (batch axis `dims[i]`, None if unbatched) with
    its batch axis moved to `out_axes[i]`; `describe(i)` names output i in errors."""
    results = []
    for i, (v, d, od) in enumerate(zip(vals, dims, out_axes)):
        if od is None:
            if d is not None:
                raise ValueError(f"{describe(i)} has out_axes=None but depends on the "
                                 "mapped inputs (it differs across the batch); give it an "
                                 "integer out_axes")
            results.append(v)
            continue
        shape = get_aval(v).shape
        if d is not None:
            shape = shape[:d] + shape[d + 1:]
        rank = len(shape) + 1  # with the batch axis
        if not -rank <= od < rank:
            raise ValueError(f"{describe(i)} has shape {shape} per batch element, so with "
                             f"the batch axis its rank is {rank}, and out_axes={od} is out "
                             f"of range: it must be between {-rank} and {rank - 1}")
        results.append(move_bdim(v, d, od % rank, axis_size))
    return results


def _flat_axes(spec: Any, tree: PyTreeDef, what: str, fname: str) -> list[int | None]:
    """Broadcast the prefix tree `spec` of axes over the structure `tree`."""
    if spec is None or isinstance(spec, int):  # one axis for every leaf
        return [spec] * tree.num_leaves
    dummy = tree_unflatten(tree, [0] * tree.num_leaves)
    try:
        prefix_leaves = _flatten_up_to_prefix(spec, dummy)
    except ValueError as e:
        raise ValueError(f"vmap of {fname}: the {what} specification {spec!r} must be a "
                         f"tree prefix of the structure {tree}: {e}") from None
    for ax in prefix_leaves:
        if ax is not None and not isinstance(ax, int):
            raise TypeError(f"vmap of {fname}: {what} must be ints or None, got {ax!r}")
    return prefix_leaves


def _flatten_up_to_prefix(spec: Any, tree: Any) -> list[Any]:
    """Each leaf of `spec` is repeated for every leaf of the matching subtree of `tree`."""
    if spec is None or isinstance(spec, int):
        return [spec] * len(tree_flatten(tree)[0])
    node = _node_type(spec)
    tnode = _node_type(tree)
    if node is None or tnode is None or type(spec) is not type(tree):
        raise ValueError(f"{type(spec).__name__} does not match {type(tree).__name__}")
    s_children, s_aux = node.flatten(spec)
    t_children, t_aux = tnode.flatten(tree)
    s_children, t_children = list(s_children), list(t_children)
    if len(s_children) != len(t_children) or (isinstance(spec, dict) and s_aux != t_aux):
        raise ValueError(f"{len(s_children)} entries against {len(t_children)}")
    out: list[Any] = []
    for s, t in zip(s_children, t_children):
        out.extend(_flatten_up_to_prefix(s, t))
    return out


def vmap(fun: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0,
         axis_name: Hashable | None = None, axis_size: int | None = None,
         spmd_axis_name: Any = None) -> Callable[..., Any]:
    """Vectorise `fun` over a leading (or `in_axes`) batch axis, as ``jax.vmap``.

    `axis_name` names the mapped axis, so that collectives inside `fun` combine the
    members of the batch: ``lax.psum(x, axis_name)`` (and ``pmean``, ``pmax``,
    ``pmin``, ``all_gather``, ``psum_scatter``) give every member the result over
    the whole axis, ``lax.axis_index(axis_name)`` each member's position. Nested
    vmaps may have different names (``psum(x, ("i", "j"))`` reduces over both); an
    inner name shadows an equal outer one. Collectives compose with every
    transformation inside or around the vmap (grad, jit, jvp, linearize).
    `spmd_axis_name` is accepted for compatibility: functrans runs in one process,
    so there is nothing to shard.
    """
    name = fun_name(fun)
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    _check_axis_name(axis_name, name)

    def batched(*args: Any, **kwargs: Any) -> Any:
        flat, in_tree = flatten_args(args, kwargs, f"vmap of {name}")
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(f"vmap of {name}: in_axes has {len(in_axes)} entries but the "
                             f"function was called with {len(args)} positional arguments")
        if not kwargs and (in_axes is None or isinstance(in_axes, int)):
            axes = [in_axes] * len(flat)  # one axis for every leaf: nothing to match
        else:
            axes = _flat_axes((in_axes, 0), in_tree, "in_axes", name)
        dims, size = _mapped_dims(flat, axes, in_tree, axis_size, name)
        flat_fun = FlatFun(fun, in_tree, name)
        outs, out_dims = vmap_flat(flat_fun, flat, dims, None, size, axis_name)
        out_tree = flat_fun.out_tree
        moved = _move_to_out_axes(outs, out_dims,
                                 _flat_axes(out_axes, out_tree, "out_axes", name), size,
                                 lambda i: f"vmap of {name}: {output_name(out_tree, i)}")
        return tree_unflatten(out_tree, outputs(moved, flat))

    batched.__name__ = f"vmap({name})"
    batched.__wrapped__ = fun  # type: ignore[attr-defined]
    return batched


def _check_axis_name(axis_name: Any, fname: str) -> None:
    try:
        hash(axis_name)
    except TypeError:
        raise TypeError(f"vmap of {fname}: axis_name must be hashable (a string, say), got "
                        f"{type(axis_name).__name__} {axis_name!r}") from None
    if isinstance(axis_name, tuple):
        raise TypeError(f"vmap of {fname}: axis_name must be a single name, got the tuple "
                        f"{axis_name!r}; collectives take tuples to mean several axes, so "
                        "name each nested vmap separately")


def _mapped_dims(flat: Sequence[Any], axes: Sequence[int | None], in_tree: PyTreeDef,
                 axis_size: int | None, name: str) -> tuple[list[int | None], int]:
    """The batch axis of each flat argument (negative `axes` count from the end)
    and the common size of those axes."""
    dims: list[int | None] = []
    size = axis_size
    for i, (x, ax) in enumerate(zip(flat, axes)):
        if ax is None:
            dims.append(None)
            continue
        shape = get_aval(x).shape
        if not -len(shape) <= ax < len(shape):
            min_rank = ax + 1 if ax >= 0 else -ax
            raise ValueError(f"vmap of {name} was requested to map its argument "
                             f"{argument_name(in_tree, i)} along axis {ax}, which implies "
                             f"that its rank should be at least {min_rank}, but is only "
                             f"{len(shape)} (its shape is {shape})")
        ax %= len(shape)
        if size is None:
            size = shape[ax]
        elif shape[ax] != size:
            raise ValueError(f"vmap of {name}: mapped axes have different sizes: argument "
                             f"{argument_name(in_tree, i)} of shape {shape} has size "
                             f"{shape[ax]} along axis {ax}, expected {size}")
        dims.append(ax)
    if size is None:
        raise ValueError(f"vmap of {name}: no argument is mapped (all in_axes are None) "
                         "and axis_size was not given")
    return dims, size
