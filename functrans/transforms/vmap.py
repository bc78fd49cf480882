"""Vectorising map: run a function on a batch by rewriting each primitive to
operate on a batched operand (its ``batch`` rule), never by looping."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans.core import trace as core_trace
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import missing_transformation_error
from functrans.core.trace import Trace, Tracer, check_alive
from functrans.primitives.rules import move_bdim
from functrans.transforms.api_util import (
    FlatFun,
    argument_name,
    check_leaf,
    fun_name,
    output_name,
    outputs,
)
from functrans.tree_util import PyTreeDef, _node_type, tree_flatten, tree_unflatten


class BatchTracer(Tracer):
    """A batch of values stacked along axis `bdim` of `val`."""

    __slots__ = ("val", "bdim")

    def __init__(self, trace: BatchTrace, val: Any, bdim: int):
        self._trace = trace
        self.val = val
        self.bdim = bdim

    @property
    def aval(self) -> ShapedArray:
        aval = get_aval(self.val)
        shape = aval.shape[:self.bdim] + aval.shape[self.bdim + 1:]
        return ShapedArray(shape, aval.dtype)

    def _trace_context(self) -> str:
        return ("The value is batched by vmap: it holds a different value per batch "
                "element, so it has no single Python value.\n")


class BatchTrace(Trace):
    def __init__(self, parent: Trace, axis_size: int):
        self.parent = parent
        self.axis_size = axis_size

    def describe(self) -> str:
        return "vmap"

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
            v, d = self.to_val_dim(x)
            vals.append(v)
            dims.append(d)
            batched = batched or d is not None
        if not batched:
            return self.parent.process_primitive(primitive, tuple(vals), params)
        rule = primitive.batch
        if rule is None:
            raise missing_transformation_error(primitive, "batching (vmap)")
        token = core_trace.set_current_trace(self.parent)
        try:
            out, out_dim = rule(vals, dims, **params)
        finally:
            core_trace.reset_current_trace(token)
        if primitive.multiple_results:
            return [self.wrap(o, d) for o, d in zip(out, out_dim)]
        return self.wrap(out, out_dim)

    def wrap(self, val: Any, dim: int | None) -> Any:
        return val if dim is None else BatchTracer(self, val, dim)


def vmap_flat(f: Callable[..., Sequence[Any]], args: Sequence[Any],
              in_dims: Sequence[int | None],
              out_dims: Sequence[int | None] | Callable[[], Sequence[int | None]] | None,
              axis_size: int) -> tuple[list[Any], list[int | None]]:
    """Batch `f` over flat `args`; outputs moved to `out_dims` (or left where the
    rules put them when `out_dims` is None, returning those dims). `out_dims`
    may be a callable, called once `f` has run (when it depends on the output
    structure)."""
    parent = core_trace.get_current_trace()
    trace = BatchTrace(parent, axis_size)
    tracers = [trace.wrap(x, d) for x, d in zip(args, in_dims)]
    with core_trace.new_trace(trace), np.errstate(all="ignore"):
        outs = f(*tracers)
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
         axis_size: int | None = None) -> Callable[..., Any]:
    """Vectorise `fun` over a leading (or `in_axes`) batch axis, as ``jax.vmap``."""
    name = fun_name(fun)
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)

    def batched(*args: Any, **kwargs: Any) -> Any:
        flat, in_tree = tree_flatten((args, kwargs))
        for x in flat:
            check_leaf(x, f"vmap of {name}", "an argument")
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise ValueError(f"vmap of {name}: in_axes has {len(in_axes)} entries but the "
                             f"function was called with {len(args)} positional arguments")
        axes = _flat_axes((in_axes, 0), in_tree, "in_axes", name)
        dims, size = _mapped_dims(flat, axes, in_tree, axis_size, name)
        flat_fun = FlatFun(fun, in_tree, name)
        outs, out_dims = vmap_flat(flat_fun, flat, dims, None, size)
        out_tree = flat_fun.out_tree
        moved = _move_to_out_axes(outs, out_dims,
                                 _flat_axes(out_axes, out_tree, "out_axes", name), size,
                                 lambda i: f"vmap of {name}: {output_name(out_tree, i)}")
        return tree_unflatten(out_tree, outputs(moved, flat))

    batched.__name__ = f"vmap({name})"
    batched.__wrapped__ = fun  # type: ignore[attr-defined]
    return batched


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
