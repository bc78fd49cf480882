"""``lax.map``, ``lax.associative_scan``, ``lax.reduce`` and ``lax.broadcast_shapes``:
loops and reductions written with the loop primitives and structural primitives,
so every transformation follows them."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans.core.avals import get_aval
from functrans.higher_order.control_flow import scan
from functrans.primitives import elementwise, reductions, structural
from functrans.transforms.vmap import vmap
from functrans.tree_util import tree_flatten, tree_map, tree_unflatten

__all__ = ["map", "associative_scan", "reduce", "broadcast_shapes"]


# ---------------------------------------------------------------- map

def map(f: Callable[[Any], Any], xs: Any, *, batch_size: int | None = None) -> Any:  # noqa: A001
    """``f`` applied to each slice of `xs` along its leading axis, results stacked,
    as ``lax.map``: a ``scan`` without carry. With `batch_size`, ``vmap(f)`` runs
    on chunks of that many slices (the remainder in one last vmap), trading memory
    for fewer loop steps."""
    leaves, _ = tree_flatten(xs)
    if not leaves:
        raise ValueError("lax.map: xs has no arrays; pass a pytree of arrays with a leading "
                         "axis to map over")
    length = _leading_length(leaves)
    if batch_size is None:
        return scan(lambda _, x: ((), f(x)), (), xs)[1]
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"lax.map: batch_size must be a positive int, got {batch_size!r}")
    num_chunks, remainder = divmod(length, batch_size)
    batched_f = vmap(f)
    pieces = []
    if num_chunks:
        chunked = tree_map(lambda x: _chunk(x, num_chunks, batch_size), xs)
        ys = scan(lambda _, chunk: ((), batched_f(chunk)), (), chunked)[1]
        pieces.append(tree_map(_unchunk, ys))
    if remainder:
        start = num_chunks * batch_size
        pieces.append(batched_f(tree_map(
            lambda x: structural.slice_in_dim(x, start, None, axis=0), xs)))
    if len(pieces) == 1:
        return pieces[0]
    return tree_map(lambda a, b: structural.concatenate([a, b], 0), *pieces)


def _leading_length(leaves: Sequence[Any]) -> int:
    shapes = [get_aval(x).shape for x in leaves]
    if any(len(s) == 0 for s in shapes) or len({s[0] for s in shapes}) != 1:
        raise ValueError(f"lax.map: every array in xs needs the same leading axis length; "
                         f"got shapes {shapes}")
    return shapes[0][0]


def _chunk(x: Any, num_chunks: int, size: int) -> Any:
    shape = get_aval(x).shape
    head = structural.slice_in_dim(x, 0, num_chunks * size, axis=0)
    return structural.reshape(head, (num_chunks, size, *shape[1:]))


def _unchunk(y: Any) -> Any:
    shape = get_aval(y).shape
    return structural.reshape(y, (shape[0] * shape[1], *shape[2:]))


# ---------------------------------------------------------------- associative_scan

def associative_scan(fn: Callable[[Any, Any], Any], elems: Any, reverse: bool = False,
                     axis: int = 0) -> Any:
    """Inclusive prefix scan of the associative `fn` along `axis`, as
    ``lax.associative_scan``: ``fn`` is applied to whole arrays (elementwise over
    the scanned slices) in O(log n) rounds, so it must be vectorized."""
    leaves, tree = tree_flatten(elems)
    if not leaves:
        raise ValueError("lax.associative_scan: elems has no arrays")
    ndim = len(get_aval(leaves[0]).shape)
    if not -ndim <= axis < ndim:
        raise ValueError(f"lax.associative_scan: axis {axis} is out of range for arrays of "
                         f"{ndim} dimensions")
    axis %= ndim
    lengths = {get_aval(x).shape[axis] for x in leaves}
    if len(lengths) != 1:
        raise ValueError(f"lax.associative_scan: every array needs the same length along "
                         f"axis {axis}; got lengths {sorted(lengths)}")

    def combine(a: list[Any], b: list[Any]) -> list[Any]:
        out, out_tree = tree_flatten(fn(tree_unflatten(tree, a), tree_unflatten(tree, b)))
        if out_tree != tree:
            raise TypeError(f"lax.associative_scan: fn returned structure {out_tree}, expected "
                            f"the structure of elems {tree}")
        return out

    if reverse:
        leaves = [structural.rev(x, (axis,)) for x in leaves]
    scanned = _prefix_scan(combine, leaves, axis)
    if reverse:
        scanned = [structural.rev(x, (axis,)) for x in scanned]
    return tree_unflatten(tree, scanned)


def _prefix_scan(combine: Callable[[list, list], list], elems: list[Any], axis: int) -> list:
    # Combine neighbouring pairs, scan the half-length result (its elements are
    # the prefixes at odd positions), then fill in the even positions: depth log2 n.
    length = get_aval(elems[0]).shape[axis]
    if length < 2:
        return elems

    def every_other(x: Any, start: int, stop: int | None = None) -> Any:
        return structural.slice_in_dim(x, start, stop, stride=2, axis=axis)

    pairs = combine([every_other(x, 0, -1) for x in elems], [every_other(x, 1) for x in elems])
    odd = _prefix_scan(combine, pairs, axis)
    if length % 2 == 0:
        evens = combine([structural.slice_in_dim(x, 0, -1, axis=axis) for x in odd],
                        [every_other(x, 2) for x in elems])
    else:
        evens = combine(odd, [every_other(x, 2) for x in elems])
    evens = [structural.concatenate([structural.slice_in_dim(x, 0, 1, axis=axis), e], axis)
             for x, e in zip(elems, evens)]
    return [_interleave(e, o, axis) for e, o in zip(evens, odd)]


def _interleave(a: Any, b: Any, axis: int) -> Any:
    """a[0], b[0], a[1], b[1], ... along `axis` (a has as many or one more)."""
    aval_a, aval_b = get_aval(a), get_aval(b)
    same = aval_a.shape[axis] == aval_b.shape[axis]
    pad_a = [(0, 0, 0)] * len(aval_a.shape)
    pad_b = list(pad_a)
    pad_a[axis] = (0, 1 if same else 0, 1)
    pad_b[axis] = (1, 0 if same else 1, 1)
    zero = np.zeros((), aval_a.dtype)
    combine = elementwise.bitwise_or if aval_a.dtype == np.bool_ else elementwise.add
    return combine(structural.pad(a, zero, pad_a), structural.pad(b, zero, pad_b))


# ---------------------------------------------------------------- reduce

_MONOIDS = {elementwise.add: reductions.reduce_sum, elementwise.mul: reductions.reduce_prod,
            elementwise.max: reductions.reduce_max, elementwise.min: reductions.reduce_min}


def reduce(operands: Any, init_values: Any, computation: Callable[[Any, Any], Any],
           dimensions: Sequence[int]) -> Any:
    """Reduce `operands` over `dimensions` with the associative, commutative
    `computation`, starting from `init_values`, as ``lax.reduce``. `operands` and
    `init_values` are matching pytrees; `computation` maps two such pytrees of
    scalars to one. ``lax.add``/``mul``/``max``/``min`` use the reduction
    primitives; any other computation is applied in O(log n) pairwise rounds on
    whole arrays (so it must be elementwise), which every transformation follows."""
    leaves, tree = tree_flatten(operands)
    inits, init_tree = tree_flatten(init_values)
    if init_tree != tree:
        raise TypeError(f"lax.reduce: init_values has structure {init_tree}, but operands "
                        f"has {tree}; give one scalar init per operand")
    if not leaves:
        raise ValueError("lax.reduce: operands has no arrays")
    shape = get_aval(leaves[0]).shape
    if any(get_aval(x).shape != shape for x in leaves):
        raise ValueError(f"lax.reduce: operands must share one shape; got "
                         f"{[get_aval(x).shape for x in leaves]}")
    dims = tuple(sorted({d % len(shape) if -len(shape) <= d < len(shape) else
                         _bad_dimension(d, shape) for d in dimensions}))
    monoid = _MONOIDS.get(computation) if len(leaves) == 1 else None
    if monoid is not None:
        return tree_unflatten(tree, [computation(inits[0], monoid(leaves[0], dims))])
    reduced = _pairwise_reduce(computation, tree, leaves, dims, shape)
    if reduced is None:  # nothing to reduce over: the initial values, broadcast
        kept = tuple(n for i, n in enumerate(shape) if i not in dims)
        return tree_unflatten(tree, [structural.broadcast_in_dim(
            elementwise.convert_element_type(v, get_aval(x).dtype), kept, ())
            for v, x in zip(inits, leaves)])
    return computation(init_values, tree_unflatten(tree, reduced))


def _bad_dimension(d: int, shape: tuple[int, ...]) -> int:
    raise ValueError(f"lax.reduce: dimension {d} is out of range for operands of shape {shape}")


def _pairwise_reduce(computation: Callable[[Any, Any], Any], tree: Any, leaves: list[Any],
                     dims: tuple[int, ...], shape: tuple[int, ...]) -> list[Any] | None:
    kept = [i for i in builtins.range(len(shape)) if i not in dims]
    count = int(np.prod([shape[d] for d in dims], dtype=np.int64))
    if count == 0:
        return None
    kept_shape = tuple(shape[i] for i in kept)
    rows = [structural.reshape(structural.transpose(x, (*dims, *kept)), (count, *kept_shape))
            for x in leaves]
    while count > 1:
        half = count // 2
        firsts = [structural.slice_in_dim(x, 0, half, axis=0) for x in rows]
        seconds = [structural.slice_in_dim(x, half, 2 * half, axis=0) for x in rows]
        combined, _ = tree_flatten(computation(tree_unflatten(tree, firsts),
                                               tree_unflatten(tree, seconds)))
        if count % 2:  # the odd row out waits for the next round
            combined = [structural.concatenate([c, structural.slice_in_dim(x, 2 * half, None)], 0)
                        for c, x in zip(combined, rows)]
        rows, count = combined, half + count % 2
    return [structural.reshape(x, kept_shape) for x in rows]


# ---------------------------------------------------------------- broadcast_shapes

def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape NumPy broadcasting gives arrays of `shapes`, as ``lax.broadcast_shapes``."""
    try:
        return tuple(int(n) for n in np.broadcast_shapes(*[tuple(s) for s in shapes]))
    except ValueError as e:
        raise ValueError(f"lax.broadcast_shapes: shapes {[tuple(s) for s in shapes]} do not "
                         "broadcast: each dimension must match or be 1 (counting from the "
                         "right)") from e
