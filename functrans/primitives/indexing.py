"""Integer-array indexing: ``gather`` and the ``scatter`` family.

One index convention serves every primitive here. ``axes`` names k distinct
axes of the operand; ``indices`` is an integer array of shape ``batch + (k,)``
whose rows are positions along those axes:

* ``gather(operand, indices, axes)`` has shape ``batch + rest``, where ``rest``
  lists the operand's other dimensions in order, and
  ``out[b, r] = operand[axes[j] = indices[b, j] for each j, other axes = r]``.
* ``scatter_*(operand, indices, updates, axes)`` takes ``updates`` of that same
  shape ``batch + rest`` and combines ``updates[b, r]`` into the position
  ``gather`` would read, in a copy of ``operand``.

Repeated rows are allowed. ``gather`` copies the element again;
``scatter_add`` accumulates (``np.add.at``), ``scatter_mul``/``_min``/``_max``
combine every update with the operand's value; ``scatter`` (set) keeps the
*last* update in row-major batch order (NumPy leaves that order unspecified;
here it is guaranteed). Negative indices count from the end, as in NumPy; an
index out of range raises ``IndexError`` when evaluated (nothing is clamped
silently).

How the NumPy layer spells its indexing with one call (``k`` = ``idx[..., None]``):

=============================  ==================================================
``x[idx]``                     ``gather(x, k, (0,))``
``x[:, idx]``                  ``gather(x, k, (1,))``, then ``moveaxis`` its axis
                               ``idx.ndim`` (x's axis 0) to the front
``x[i, j]`` (arrays)           ``gather(x, stack([i, j], -1), (0, 1))`` after
                               broadcasting i and j
``take(x, idx, axis)``         ``gather(x, k, (axis,))`` plus a ``transpose``
``take_along_axis(x, i, ax)``  ``gather`` over all axes, with ``broadcasted_iota``
                               columns for the axes other than ``ax``
``x.at[idx].add(v)`` etc.      ``scatter_add(x, k, v, (0,))`` etc., ``v``
                               broadcast to ``idx.shape + x.shape[1:]``
=============================  ==================================================

Derivatives. ``gather`` is linear in the operand (transpose: ``scatter_add``
into zeros); ``scatter_add`` and ``scatter`` are linear in (operand, updates)
jointly. ``scatter`` transposes exactly with repeated indices: only the update
that was kept receives a cotangent. ``scatter_mul`` is linear in the operand;
its derivative with respect to ``updates`` assumes unique indices (as JAX
does) and raises ``ValueError`` when concrete indices repeat. ``scatter_min``
and ``scatter_max`` share the tangent equally among the values that tie for
the result at each position (the operand's and every update's), as JAX does;
this is exact with repeated indices.

Batching folds the batch into the indexing: a batched operand gains an axis
the indices do not address; batched indices with a batched operand get an
extra index column counting the batch (``prepend_batch_index``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive
from functrans.core.trace import Tracer
from functrans.core.zeros import Zero
from functrans.primitives.elementwise import add, convert_element_type, div, eq, mul
from functrans.primitives.rules import bdim_at_front, defjvp, is_undefined_primal, move_bdim
from functrans.primitives.structural import (
    bind_checked,
    broadcast_in_dim,
    broadcasted_iota,
    concatenate,
    deflinear_leading,
    full,
    iota,
    moveaxis,
    reshape,
)
from functrans.primitives.tangent_space import instantiate_zeros

__all__ = ["gather", "scatter", "scatter_add", "scatter_mul", "scatter_min", "scatter_max",
           "gather_p", "scatter_p", "scatter_add_p", "scatter_mul_p", "scatter_min_p",
           "scatter_max_p"]


# ------------------------------------------------------------------ shared checks

def _index_shapes(name: str, operand: ShapedArray, indices: ShapedArray,
                  axes: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Validate an (operand, indices, axes) triple; return (batch shape, rest shape)."""
    if not axes or any(not 0 <= a < operand.ndim for a in axes) or len(set(axes)) != len(axes):
        raise TypeError(f"{name}: axes {axes} must be one or more distinct axes of the "
                        f"operand {operand.str_short()}")
    if indices.dtype.kind not in "iu" or indices.ndim < 1 or indices.shape[-1] != len(axes):
        raise TypeError(f"{name}: indices must be an integer array of shape batch + "
                        f"({len(axes)},) (one column per axis in {axes}), got "
                        f"{indices.str_short()}")
    rest = tuple(n for i, n in enumerate(operand.shape) if i not in axes)
    return indices.shape[:-1], rest


def _index_columns(indices: Any, shape: Sequence[int], axes: Sequence[int],
                   name: str) -> tuple[np.ndarray, ...]:
    """One index array per axis, negative entries wrapped; out-of-range ones rejected."""
    indices = np.asarray(indices)
    columns = []
    for j, axis in enumerate(axes):
        column = indices[..., j].astype(np.intp, copy=False)  # room to add the size
        size = shape[axis]
        if column.size:  # two reductions; the mask only where one is out of range
            low, high = column.min(), column.max()
            if low < -size or high >= size:
                bad = (column < -size) | (column >= size)
                raise IndexError(f"{name}: index {column[bad].flat[0]} is out of bounds for "
                                 f"axis {axis} of size {size} (valid: {-size} to {size - 1})")
            if low < 0:
                column = np.where(column < 0, column + size, column)
        columns.append(column)
    return tuple(columns)


def _axes_to_front(x: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """`x` with `axes` moved to the front (a view; `x` itself when they lead already)."""
    if tuple(axes) == tuple(range(len(axes))):
        return x
    return np.moveaxis(x, axes, tuple(range(len(axes))))


def _normalize_indices(operand: Any, indices: Any, axes: Sequence[int], name: str
                       ) -> tuple[Any, tuple[int, ...]]:
    if not isinstance(indices, (Tracer, np.ndarray)):
        indices = np.asarray(indices)
    ndim = get_aval(operand).ndim
    normalized = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ValueError(f"{name}: axis {a} out of range for an operand of rank {ndim}")
        normalized.append(a % ndim)
    return indices, tuple(normalized)


def prepend_batch_index(indices: Any) -> Any:
    """Indices of shape (batch, ..., k) with a first column holding the batch position:
    they then address a batched operand whose batch axis is its axis 0."""
    aval = get_aval(indices)
    column = broadcasted_iota(aval.dtype, aval.shape[:-1] + (1,), 0)
    return concatenate([column, indices], aval.ndim - 1)


def _zeros(aval: ShapedArray) -> Any:
    return full(aval.shape, 0, aval.dtype)


def _aval_of(x: Any) -> ShapedArray:
    return x.aval if is_undefined_primal(x) else get_aval(x)


# ------------------------------------------------------------------ gather

def _gather_aval(operand, indices, *, axes):
    batch, rest = _index_shapes("gather", operand, indices, axes)
    return ShapedArray(batch + rest, operand.dtype)


def _gather_impl(operand, indices, *, axes, xp=np):
    if xp is not np:
        return _gather_array_api(xp, operand, indices, axes)
    operand = np.asarray(operand)
    columns = _index_columns(indices, operand.shape, axes, "gather")
    leading = _axes_to_front(operand, axes)
    return leading[columns]


def _gather_array_api(xp: Any, operand: Any, indices: Any, axes: Sequence[int]) -> Any:
    """_gather_impl with another library's arrays: integer-array indexing of the
    addressed axes, moved to the front. Checking the bounds reads one bool back from
    the device: out-of-range positions get the IndexError NumPy's path gives, not a
    device assertion. (Dask runs the NumPy implementation: ``prefer_fallback``.)"""
    columns = []
    for j, axis in enumerate(axes):
        column = xp.astype(indices[..., j], xp.int64)
        size = operand.shape[axis]
        if bool(xp.any((column < -size) | (column >= size))):
            raise IndexError(f"gather: an index is out of bounds for axis {axis} of size "
                             f"{size} (valid: {-size} to {size - 1})")
        columns.append(xp.where(column < 0, column + size, column))
    rest = tuple(a for a in range(operand.ndim) if a not in axes)
    return xp.permute_dims(operand, tuple(axes) + rest)[tuple(columns)]


_gather_impl.prefer_fallback = True  # type: ignore[attr-defined]


def _gather_transpose(ct, operand, indices, *, axes):
    return [scatter_add(_zeros(operand.aval), indices, ct, axes), None]


def _gather_batch(args, dims, *, axes):
    (operand, indices), (d_operand, d_indices) = args, dims
    if d_indices is None:
        # the batch axis is one more axis the indices do not address
        moved_axes = tuple(a + (a >= d_operand) for a in axes)
        out_dim = (get_aval(indices).ndim - 1
                   + sum(1 for i in range(d_operand) if i not in moved_axes))
        return gather(operand, indices, moved_axes), out_dim
    indices = moveaxis(indices, d_indices, 0)
    if d_operand is None:
        return gather(operand, indices, axes), 0
    operand = moveaxis(operand, d_operand, 0)
    return gather(operand, prepend_batch_index(indices), (0,) + tuple(a + 1 for a in axes)), 0


gather_p = Primitive("gather")
gather_p.impl = _gather_impl
gather_p.abstract_eval = _gather_aval
deflinear_leading(gather_p, 1, _gather_transpose)
gather_p.batch = _gather_batch


def gather(operand: Any, indices: Any, axes: Sequence[int]) -> Any:
    """Rows of `indices` (shape ``batch + (len(axes),)``) pick positions along `axes`
    of `operand`; the result has shape ``batch + (the other operand dims)``."""
    indices, axes = _normalize_indices(operand, indices, axes, "gather")
    return bind_checked(gather_p, operand, indices, axes=axes)


# ------------------------------------------------------------------ scatters: shared rules

def _scatter_aval(name: str):
    def rule(operand, indices, updates, *, axes):
        batch, rest = _index_shapes(name, operand, indices, axes)
        if updates.dtype != operand.dtype or updates.shape != batch + rest:
            raise TypeError(f"{name}: updates must have the operand's dtype and shape "
                            f"indices batch + remaining operand dims = "
                            f"{ShapedArray(batch + rest, operand.dtype).str_short()}, got "
                            f"{updates.str_short()}")
        return ShapedArray(operand.shape, operand.dtype)
    return rule


def _scatter_ufunc_impl(name: str, ufunc: np.ufunc):
    def impl(operand, indices, updates, *, axes):
        out = np.array(operand, copy=True)
        columns = _index_columns(indices, out.shape, axes, name)
        ufunc.at(_axes_to_front(out, axes), columns, updates)
        return out
    return impl


def _scatter_batch(prim: Primitive):
    def batch(args, dims, *, axes):
        (operand, indices, updates), (d_operand, d_indices, d_updates) = args, dims
        size = next(get_aval(x).shape[d] for x, d in zip(args, dims, strict=True) if d is not None)
        operand = bdim_at_front(operand, d_operand, size)
        if d_indices is None:
            # the batch is one more operand axis the indices do not address
            batch_ndim = get_aval(indices).ndim - 1
            updates = move_bdim(updates, d_updates, batch_ndim, size)
            return bind_checked(prim, operand, indices, updates,
                                axes=tuple(a + 1 for a in axes)), 0
        indices = prepend_batch_index(moveaxis(indices, d_indices, 0))
        updates = bdim_at_front(updates, d_updates, size)
        return bind_checked(prim, operand, indices, updates,
                            axes=(0,) + tuple(a + 1 for a in axes)), 0
    return batch


def _linear_in_operand_and_updates(prim: Primitive) -> None:
    """JVP of a scatter linear in (operand, updates) jointly: scatter the tangents."""
    prim.linear = True

    def jvp(primals, tangents, *, axes):
        operand, indices, updates = primals
        t_operand, _, t_updates = tangents
        out = prim.bind(operand, indices, updates, axes=axes)
        if type(t_operand) is Zero and type(t_updates) is Zero:
            return out, Zero(get_aval(out).to_tangent_aval())
        return out, prim.bind(instantiate_zeros(t_operand), indices,
                              instantiate_zeros(t_updates), axes=axes)
    prim.jvp = jvp


def _scatter_primitive(name: str, impl: Any) -> Primitive:
    p = Primitive(name)
    p.impl = impl
    p.abstract_eval = _scatter_aval(name)
    p.batch = _scatter_batch(p)
    return p


# ------------------------------------------------------------------ scatter_add

def _scatter_add_transpose(ct, operand, indices, updates, *, axes):
    ct_operand = ct if is_undefined_primal(operand) else None
    ct_updates = gather(ct, indices, axes) if is_undefined_primal(updates) else None
    return [ct_operand, None, ct_updates]


scatter_add_p = _scatter_primitive("scatter_add",
                                   _scatter_ufunc_impl("scatter_add", np.add))
_linear_in_operand_and_updates(scatter_add_p)
scatter_add_p.transpose = _scatter_add_transpose


def scatter_add(operand: Any, indices: Any, updates: Any, axes: Sequence[int]) -> Any:
    """`operand` with each ``updates[b]`` added at the position of ``indices[b]``;
    repeated positions accumulate (like ``np.add.at``)."""
    indices, axes = _normalize_indices(operand, indices, axes, "scatter_add")
    return bind_checked(scatter_add_p, operand, indices, updates, axes=axes)


# ------------------------------------------------------------------ scatter (set)

def _last_writes(columns: Sequence[np.ndarray], shape: Sequence[int]) -> np.ndarray:
    """Flat batch positions of the updates that are kept: the last write to each
    distinct position, in row-major batch order."""
    flat = [np.ravel(c) for c in columns]
    if not flat[0].size:
        return np.zeros(0, np.intp)
    position = np.ravel_multi_index(flat, tuple(shape))
    _, first_from_end = np.unique(position[::-1], return_index=True)
    return position.size - 1 - first_from_end


def _scatter_impl(operand, indices, updates, *, axes):
    out = np.array(operand, copy=True)
    columns = _index_columns(indices, out.shape, axes, "scatter")
    target = _axes_to_front(out, axes)
    kept = _last_writes(columns, target.shape[:len(axes)])
    updates = np.asarray(updates)
    batch_ndim = columns[0].ndim
    flat_updates = updates.reshape((-1,) + updates.shape[batch_ndim:])
    target[tuple(np.ravel(c)[kept] for c in columns)] = flat_updates[kept]
    return out


def _kept_update_mask(indices: Any, shape: Sequence[int], dtype: np.dtype) -> Any:
    """1 for each update ``scatter`` keeps and 0 for those overwritten by a later
    one (shape: the indices' batch shape); None when no position repeats."""
    aval = get_aval(indices)
    batch_shape, k = aval.shape[:-1], aval.shape[-1]
    count = int(np.prod(batch_shape, dtype=np.int64))
    if not isinstance(indices, Tracer):
        kept = _last_writes(_index_columns(indices, shape, range(k), "scatter"), shape)
        if kept.size == count:
            return None
        mask = np.zeros(count, dtype)
        mask[kept] = 1
        return mask.reshape(batch_shape)
    # traced indices: scatter each update's number, read back which one stayed
    ids = reshape(iota(np.int64, count), batch_shape)
    owners = scatter(full(shape, -1, np.int64), indices, ids, tuple(range(k)))
    kept_ids = reshape(gather(owners, indices, tuple(range(k))), (count, 1))
    mask = scatter(full((count,), 0, dtype), kept_ids, full((count,), 1, dtype), (0,))
    return reshape(mask, batch_shape)


def _scatter_transpose(ct, operand, indices, updates, *, axes):
    ct_operand = ct_updates = None
    if is_undefined_primal(operand):
        ct_operand = scatter(ct, indices, _zeros(_aval_of(updates)), axes)
    if is_undefined_primal(updates):
        ct_updates = gather(ct, indices, axes)
        shape = tuple(_aval_of(operand).shape[a] for a in axes)
        mask = _kept_update_mask(indices, shape, get_aval(ct).dtype)
        if mask is not None:
            batch_ndim = get_aval(indices).ndim - 1
            ct_updates = mul(ct_updates, broadcast_in_dim(mask, get_aval(ct_updates).shape,
                                                          tuple(range(batch_ndim))))
    return [ct_operand, None, ct_updates]


scatter_p = _scatter_primitive("scatter", _scatter_impl)
_linear_in_operand_and_updates(scatter_p)
scatter_p.transpose = _scatter_transpose


def scatter(operand: Any, indices: Any, updates: Any, axes: Sequence[int]) -> Any:
    """`operand` with each ``updates[b]`` written at the position of ``indices[b]``;
    for repeated positions the last update (row-major batch order) wins."""
    indices, axes = _normalize_indices(operand, indices, axes, "scatter")
    return bind_checked(scatter_p, operand, indices, updates, axes=axes)


# ------------------------------------------------------------------ scatter_mul

def _has_repeats(indices: Any, shape: Sequence[int]) -> bool:
    k = get_aval(indices).shape[-1]
    columns = _index_columns(indices, shape, range(k), "scatter_mul")
    return _last_writes(columns, shape).size != columns[0].size


def _scatter_mul_jvp_updates(t, operand, indices, updates, *, axes):
    shape = tuple(get_aval(operand).shape[a] for a in axes)
    if not isinstance(indices, Tracer) and _has_repeats(indices, shape):
        raise ValueError("scatter_mul: the derivative with respect to updates is only "
                         "defined here for unique indices, and the indices repeat a position; "
                         "combine the repeated updates first (multiply them), or apply "
                         "stop_gradient to the updates")
    # with unique indices out = operand * u at each written position
    return mul(operand, scatter_add(_zeros(get_aval(operand)), indices, t, axes))


def _scatter_mul_transpose(ct, operand, indices, updates, *, axes):
    if is_undefined_primal(updates):
        raise TypeError("scatter_mul: transposing with respect to updates (scatter_mul is "
                        "linear in the operand only)")
    return [scatter_mul(ct, indices, updates, axes), None, None]


scatter_mul_p = _scatter_primitive("scatter_mul",
                                   _scatter_ufunc_impl("scatter_mul", np.multiply))
defjvp(scatter_mul_p,
       lambda t, operand, indices, updates, *, axes: scatter_mul(t, indices, updates, axes),
       None,
       _scatter_mul_jvp_updates)
scatter_mul_p.transpose = _scatter_mul_transpose


def scatter_mul(operand: Any, indices: Any, updates: Any, axes: Sequence[int]) -> Any:
    """`operand` with each position of ``indices[b]`` multiplied by ``updates[b]``;
    repeated positions multiply by every update."""
    indices, axes = _normalize_indices(operand, indices, axes, "scatter_mul")
    return bind_checked(scatter_mul_p, operand, indices, updates, axes=axes)


# ------------------------------------------------------------------ scatter_min / max

def _scatter_extremum_jvp(prim: Primitive):
    def jvp(primals, tangents, *, axes):
        operand, indices, updates = primals
        t_operand, _, t_updates = tangents
        out = prim.bind(operand, indices, updates, axes=axes)
        if type(t_operand) is Zero and type(t_updates) is Zero:
            return out, Zero(get_aval(out).to_tangent_aval())
        dtype = get_aval(out).dtype
        # which values reach the result: the operand's, and each update's
        operand_won = convert_element_type(eq(operand, out), dtype)
        update_won = convert_element_type(eq(updates, gather(out, indices, axes)), dtype)
        winners = add(operand_won, scatter_add(_zeros(get_aval(out)), indices, update_won,
                                               axes))
        tangent = _zeros(get_aval(out))
        if type(t_operand) is not Zero:
            tangent = mul(operand_won, t_operand)
        if type(t_updates) is not Zero:
            tangent = scatter_add(tangent, indices, mul(update_won, t_updates), axes)
        return out, div(tangent, winners)
    return jvp


scatter_min_p = _scatter_primitive("scatter_min",
                                   _scatter_ufunc_impl("scatter_min", np.minimum))
scatter_min_p.jvp = _scatter_extremum_jvp(scatter_min_p)

scatter_max_p = _scatter_primitive("scatter_max",
                                   _scatter_ufunc_impl("scatter_max", np.maximum))
scatter_max_p.jvp = _scatter_extremum_jvp(scatter_max_p)


def scatter_min(operand: Any, indices: Any, updates: Any, axes: Sequence[int]) -> Any:
    """`operand` with each position of ``indices[b]`` replaced by its minimum with
    ``updates[b]`` (all updates to a repeated position take part)."""
    indices, axes = _normalize_indices(operand, indices, axes, "scatter_min")
    return bind_checked(scatter_min_p, operand, indices, updates, axes=axes)


def scatter_max(operand: Any, indices: Any, updates: Any, axes: Sequence[int]) -> Any:
    """`operand` with each position of ``indices[b]`` replaced by its maximum with
    ``updates[b]`` (all updates to a repeated position take part)."""
    indices, axes = _normalize_indices(operand, indices, axes, "scatter_max")
    return bind_checked(scatter_max_p, operand, indices, updates, axes=axes)
