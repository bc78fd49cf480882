"""Indexing with NumPy's rules: ``x[idx]``, ``x.at[idx].set/add/...``,
``take``, ``take_along_axis`` and the concrete-only ``nonzero``/``argwhere``.

An index is first parsed into one entry per position of the (ellipsis-
expanded) index tuple. Then:

* basic indexing (ints, slices, None, Ellipsis) is one ``slice``, one ``rev``
  for negative steps, and one ``reshape`` (dropping int axes, adding None axes);
* advanced indexing (integer arrays, boolean masks, and then ints too) slices
  first, then does one ``gather`` over the advanced axes, then moves the
  gathered block where NumPy puts it: in place of the advanced indices when
  they are adjacent in the index, else in front;
* updates (``.at``) are one ``scatter`` whose index grid covers the advanced
  indices and the non-trivial slices; whole-axis slices stay as windows.

Boolean masks must be concrete (their result shape depends on their values).
"""

from __future__ import annotations

import builtins
from typing import Any, NamedTuple

import numpy as np

from functrans import errors
from functrans import numpy as _fnp  # the whole layer, for call-time use
from functrans.core.avals import get_aval
from functrans.core.trace import Tracer
from functrans.numpy import _ufuncs
from functrans.numpy._lax import lax
from functrans.numpy._util import (
    Array,
    as_array,
    asarray_arg,
    broadcast_shapes,
    broadcast_to_shape,
    canonicalize_axis,
    cast,
    concrete,
    dtype_of,
    is_traced,
    ndim_of,
    shape_of,
    size_of,
    static_int,
)
from functrans.transforms.tape import one_entry

_int64 = np.dtype(np.int64)


class _Entry:
    """One position of the expanded index.

    kind: 'newaxis' | 'slice' | 'int' | 'array'. `axis` is the operand axis
    it indexes (None for 'newaxis'). For 'slice', `start`, `stop`, `step` are
    normalised (``range(start, stop, step)`` lists the elements) and `length`
    is their count; for 'int' `value` is a non-negative int; for 'array'
    `value` is an integer array (NumPy or traced)."""

    __slots__ = ("kind", "axis", "value", "start", "stop", "step", "length")

    def __init__(self, kind: str, axis: int | None, value: Any = None):
        self.kind = kind
        self.axis = axis
        self.value = value
        self.start = self.stop = self.step = self.length = 0

    def is_full(self, size: int) -> bool:
        return self.kind == "slice" and self.step == 1 and self.start == 0 \
            and self.length == size


class _Plan:
    """A parsed index: its entries, and the operand axes created by 0-d
    boolean indices (NumPy treats ``x[True]`` as a new axis indexed by [0])."""

    __slots__ = ("entries", "inserted_axes", "shape")

    def __init__(self, entries: list[_Entry], inserted_axes: list[int], shape: tuple[int, ...]):
        self.entries = entries
        self.inserted_axes = inserted_axes
        self.shape = shape  # the operand shape, with the inserted axes

    @property
    def advanced(self) -> list[_Entry]:
        return [e for e in self.entries if e.kind in ("array", "int")]

    def has_arrays(self) -> bool:
        return builtins.any(e.kind == "array" for e in self.entries)


# ------------------------------------------------------------------ parsing

def _bad_index(e: Any) -> IndexError:
    return IndexError(f"only integers, slices (`:`), ellipsis (`...`), None (`newaxis`) and "
                      f"integer or boolean arrays are valid indices; got {_short(e)} of type "
                      f"{type(e).__name__}")


def _short(x: Any) -> str:
    r = repr(x)
    return r if len(r) < 60 else r[:57] + "..."


def _classify(e: Any) -> tuple[str, Any]:
    """('newaxis' | 'ellipsis' | 'slice' | 'int' | 'bool' | 'array', payload)."""
    if e is None:
        return "newaxis", None
    if e is Ellipsis:
        return "ellipsis", None
    if isinstance(e, slice):
        return "slice", e
    t = type(e)
    if t is bool or isinstance(e, np.bool_):
        return "bool", np.asarray(e)
    if t is int or isinstance(e, np.integer):
        return "int", int(e)
    if isinstance(e, Tracer):
        kind = e.aval.dtype.kind
        if kind == "b":
            return "bool", _concrete_mask(e)
        if kind in "iu":
            return "array", e
        raise _bad_index(e)
    if isinstance(e, (list, tuple)) and _holds_tracer(e):
        return _classify(asarray_arg(e, "indexing", "index"))
    if isinstance(e, (list, tuple, np.ndarray)) or hasattr(e, "__array__"):
        arr = np.asarray(e)
        if arr.dtype.kind == "b":
            return "bool", arr
        if arr.size == 0 and arr.dtype.kind == "f":
            arr = arr.astype(_int64)  # an empty list
        if arr.dtype.kind in "iu":
            return ("int", int(arr)) if arr.ndim == 0 else ("array", arr)
        raise _bad_index(e)
    raise _bad_index(e)


def _holds_tracer(seq: Any) -> bool:
    if isinstance(seq, Tracer):
        return True
    return isinstance(seq, (list, tuple)) and builtins.any(_holds_tracer(s) for s in seq)


def _concrete_mask(mask: Tracer) -> np.ndarray:
    try:
        return np.asarray(mask.to_concrete("a boolean index"))
    except errors.ConcretizationTypeError:
        raise errors.NonConcreteBooleanIndexError(
            f"Array boolean indices must be concrete; got a traced boolean mask "
            f"({mask.describe()}). The shape of x[mask] depends on how many entries are True, "
            "which is not known while tracing. Keep the shape static instead: "
            "functrans.numpy.where(mask, x, 0) zeroes the unselected entries, "
            "fnp.sum(x, where=mask) reduces over the selected ones, and "
            "x.at[mask].set(value) works for a mask of x's shape.") from None


def _count_consumed(kind: str, payload: Any) -> int:
    if kind in ("slice", "int", "array"):
        return 1
    if kind == "bool":
        return payload.ndim
    return 0


def _parse(shape: tuple[int, ...], index: Any) -> _Plan:
    items = index if isinstance(index, tuple) else (index,)
    classified = [_classify(e) for e in items]
    consumed = builtins.sum(_count_consumed(k, p) for k, p in classified)
    n_ellipsis = builtins.sum(1 for k, _ in classified if k == "ellipsis")
    if n_ellipsis > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > len(shape):
        raise IndexError(f"too many indices for array: array is {len(shape)}-dimensional, but "
                         f"{consumed} were indexed")
    fill = [("slice", slice(None))] * (len(shape) - consumed)
    if n_ellipsis:
        at = next(i for i, (k, _) in enumerate(classified) if k == "ellipsis")
        classified = classified[:at] + fill + classified[at + 1:]
    else:
        classified = classified + fill

    entries: list[_Entry] = []
    inserted: list[int] = []
    new_shape = list(shape)
    axis = 0
    for kind, payload in classified:
        if kind == "newaxis":
            entries.append(_Entry("newaxis", None))
        elif kind == "slice":
            entries.append(_slice_entry(payload, axis, new_shape[axis]))
            axis += 1
        elif kind == "int":
            entries.append(_int_entry(payload, axis, new_shape[axis]))
            axis += 1
        elif kind == "array":
            entries.append(_Entry("array", axis, _normalise_indices(payload, axis,
                                                                    new_shape[axis])))
            axis += 1
        elif payload.ndim == 0:  # x[True]: a new axis, indexed by [0] (or [] for False)
            new_shape.insert(axis, 1)
            inserted.append(axis)
            entries.append(_Entry("array", axis, np.zeros(1 if payload else 0, _int64)))
            axis += 1
        else:
            _check_mask_shape(payload, new_shape[axis:axis + payload.ndim], axis)
            for k, coords in enumerate(np.nonzero(payload)):
                entries.append(_Entry("array", axis + k, coords.astype(_int64)))
            axis += payload.ndim
    return _Plan(entries, inserted, tuple(new_shape))


def _check_mask_shape(mask: np.ndarray, dims: list[int], axis: int) -> None:
    for k, (m, d) in enumerate(zip(mask.shape, dims, strict=True)):
        if m != d:
            raise IndexError(f"boolean index did not match indexed array along axis "
                             f"{axis + k}; size of axis is {d} but size of corresponding "
                             f"boolean axis is {m}")


def _slice_entry(s: slice, axis: int, size: int) -> _Entry:
    entry = _Entry("slice", axis)
    start, stop, step = (None if v is None else static_int(v, "indexing", "a slice bound")
                         for v in (s.start, s.stop, s.step))
    if step == 0:
        raise ValueError("slice step cannot be zero")
    entry.start, entry.stop, entry.step = slice(start, stop, step).indices(size)
    entry.length = len(range(entry.start, entry.stop, entry.step))
    return entry


def _int_entry(i: int, axis: int, size: int) -> _Entry:
    if not -size <= i < size:
        raise IndexError(f"index {i} is out of bounds for axis {axis} with size {size}")
    return _Entry("int", axis, i % size)


def _normalise_indices(idx: Any, axis: int, size: int) -> Array:
    """Concrete indices bounds-checked and made non-negative. Traced ones are
    left to gather/scatter, which count negative indices from the end and
    reject out-of-range ones when evaluated."""
    if not is_traced(idx):
        idx = np.asarray(idx)
        if idx.size:
            low, high = idx.min(), idx.max()
            if low < -size or high >= size:
                bad = low if low < -size else high
                raise IndexError(f"index {bad} is out of bounds for axis {axis} with size "
                                 f"{size}")
        return np.where(idx < 0, idx + size, idx).astype(_int64, copy=False)
    return cast(idx, _int64)


# ------------------------------------------------------------------ x[idx]

# (on the tape, index arrays are operands: gather counts negative indices from the end
# and rejects out-of-range ones when evaluated, as for concrete ones here; ints are
# static: basic indexing, not a gather)
@one_entry(2, static_scalars=True)
def getitem(x: Any, index: Any) -> Array:
    """``x[index]`` with NumPy semantics (see the module docstring)."""
    x = as_array(asarray_arg(x, "indexing", "x"))
    if isinstance(index, tuple) and not index:
        return x
    basic = _static_basic_index(shape_of(x), index)
    if basic is not None:
        return _apply_basic(x, basic)
    plan = _parse(shape_of(x), index)
    x = _insert_axes(x, plan)
    if not plan.has_arrays():
        return _apply_basic(x, _basic_index(plan))
    return _advanced(x, plan)


def _insert_axes(x: Array, plan: _Plan) -> Array:
    return lax.reshape(x, plan.shape) if plan.inserted_axes else x


class _Slicing(NamedTuple):
    """The one ``slice`` and the one ``rev`` that take the sliced axes of an index."""

    #: the parameters of the slice, as lax.slice binds them; None for no slice
    slice_params: dict[str, Any] | None
    #: the axes rev reverses (negative steps), increasing; () for no rev
    reversed_axes: tuple[int, ...]


def _slicing(plan: _Plan, ints_too: bool) -> _Slicing:
    """The slicing of the sliced axes of `plan` (and of its int axes, as length-1
    slices, when `ints_too`)."""
    shape = plan.shape
    starts, limits, strides = [0] * len(shape), list(shape), [1] * len(shape)
    reversed_axes = []
    for e in plan.entries:
        if e.kind == "slice":
            ax = e.axis
            if e.length == 0:
                starts[ax] = limits[ax] = 0
            elif e.step > 0:
                starts[ax], strides[ax] = e.start, e.step
                limits[ax] = e.start + (e.length - 1) * e.step + 1
            else:  # the same elements in increasing order, then reversed
                first = e.start + (e.length - 1) * e.step
                starts[ax], limits[ax], strides[ax] = first, e.start + 1, -e.step
                if e.length > 1:
                    reversed_axes.append(ax)
        elif e.kind == "int" and ints_too:
            starts[e.axis], limits[e.axis] = e.value, e.value + 1
    params = None
    unit_strides = strides == [1] * len(shape)
    if starts != [0] * len(shape) or limits != list(shape) or not unit_strides:
        params = {"start_indices": tuple(starts), "limit_indices": tuple(limits),
                  "strides": None if unit_strides else tuple(strides)}
    return _Slicing(params, tuple(reversed_axes))


def _apply_slicing(x: Array, slicing: _Slicing) -> Array:
    # the parameters are checked against the shape already: bound as lax.slice
    # and lax.rev would bind them
    if slicing.slice_params is not None:
        x = lax.slice_p.bind(x, **slicing.slice_params)
    if slicing.reversed_axes:
        x = lax.rev_p.bind(x, dimensions=slicing.reversed_axes)
    return x


def _apply_slices(x: Array, plan: _Plan, ints_too: bool) -> Array:
    return _apply_slicing(x, _slicing(plan, ints_too))


class _BasicIndex(NamedTuple):
    """What a basic index (ints, slices, None, Ellipsis) does: one slicing, then a
    reshape that drops the int axes and adds the None axes."""

    slicing: _Slicing
    #: the shape after the slicing, and the result's
    sliced_shape: tuple[int, ...]
    shape: tuple[int, ...]


def _basic_index(plan: _Plan) -> _BasicIndex:
    sliced_shape, out_shape = list(plan.shape), []
    for e in plan.entries:
        if e.kind == "newaxis":
            out_shape.append(1)
        elif e.kind == "slice":
            sliced_shape[e.axis] = e.length
            out_shape.append(e.length)
        else:  # an int: a length-1 slice, dropped
            sliced_shape[e.axis] = 1
    return _BasicIndex(_slicing(plan, ints_too=True), tuple(sliced_shape), tuple(out_shape))


def _apply_basic(x: Array, basic: _BasicIndex) -> Array:
    x = _apply_slicing(x, basic.slicing)
    if basic.shape == basic.sliced_shape:
        return x
    return lax.reshape_p.bind(x, new_sizes=basic.shape, dimensions=None)


#: (operand shape, static index key) -> its basic index; cleared when full
_basic_indexes: dict[Any, _BasicIndex] = {}
_BASIC_INDEXES_KEPT = 512


def _static_basic_index(shape: tuple[int, ...], index: Any) -> _BasicIndex | None:
    """The basic index of an index made of Python ints, slices of Python ints, None
    and Ellipsis, remembered per operand shape; None for any other index (parsed
    afresh). An index that raises is not remembered: it raises again."""
    key = _static_key(index)
    if key is None:
        return None
    key = (shape, key)
    basic = _basic_indexes.get(key)
    if basic is None:
        basic = _basic_index(_parse(shape, index))
        if len(_basic_indexes) >= _BASIC_INDEXES_KEPT:
            _basic_indexes.clear()
        _basic_indexes[key] = basic
    return basic


def _static_key(index: Any) -> tuple[Any, ...] | None:
    """`index` as a hashable key (a slice as its bounds), when it holds only Python
    ints, slices of Python ints or None, None and Ellipsis; else None."""
    key = []
    for e in index if type(index) is tuple else (index,):
        t = type(e)
        if t is int or e is None or e is Ellipsis:
            key.append(e)
        elif t is slice and _static_bound(e.start) and _static_bound(e.stop) \
                and _static_bound(e.step):
            key.append((e.start, e.stop, e.step))
        else:
            return None
    return tuple(key)


def _static_bound(bound: Any) -> bool:
    return bound is None or type(bound) is int


def _adjacent(plan: _Plan) -> bool:
    """NumPy's rule: advanced indices side by side in the index keep their place."""
    positions = [i for i, e in enumerate(plan.entries) if e.kind in ("array", "int")]
    return positions[-1] - positions[0] == len(positions) - 1


def _index_arrays(plan: _Plan) -> tuple[list[int], list[Array], tuple[int, ...]]:
    """The advanced axes, their index arrays, and the shape they broadcast to. Concrete
    index arrays are new arrays (made by `_normalise_indices`), never the caller's."""
    advanced = plan.advanced
    axes = [e.axis for e in advanced]
    arrays = [np.asarray(e.value, _int64) if e.kind == "int" else e.value for e in advanced]
    batch = broadcast_shapes("indexing", *(shape_of(a) for a in arrays))
    return axes, arrays, batch


def _stack_indices(arrays: list[Array], batch: tuple[int, ...]) -> Array:
    """Index arrays broadcast to `batch` and stacked on a new last axis."""
    if not builtins.any(is_traced(a) for a in arrays):
        if len(arrays) == 1 and arrays[0].shape == batch:  # (new arrays: see _index_arrays)
            return arrays[0].reshape(batch + (1,))
        return np.stack([np.broadcast_to(a, batch) for a in arrays], axis=-1)
    columns = [lax.reshape(broadcast_to_shape(cast(a, _int64), batch), batch + (1,))
               for a in arrays]
    return columns[0] if len(columns) == 1 else lax.concatenate(columns, len(batch))


def _advanced(x: Array, plan: _Plan) -> Array:
    x = _apply_slices(x, plan, ints_too=False)
    axes, arrays, batch = _index_arrays(plan)
    # int64 indices of shape batch + (len(axes),), distinct non-negative axes: the
    # gather lax.gather would bind
    gathered = lax.gather_p.bind(x, _stack_indices(arrays, batch), axes=tuple(axes))
    # gathered: batch dims, then the sliced axes in order. Place the batch block.
    nb = len(batch)
    slices_before = 0
    if _adjacent(plan):
        for e in plan.entries:
            if e.kind in ("array", "int"):
                break
            if e.kind == "slice":
                slices_before += 1
    n_slices = builtins.sum(1 for e in plan.entries if e.kind == "slice")
    if slices_before:
        perm = (tuple(range(nb, nb + slices_before)) + tuple(range(nb))
                + tuple(range(nb + slices_before, nb + n_slices)))
        gathered = lax.transpose(gathered, perm)
    return lax.reshape(gathered, _result_shape(plan, batch))


def _result_shape(plan: _Plan, batch: tuple[int, ...]) -> tuple[int, ...]:
    """The shape of ``x[index]`` (advanced case), with None axes as 1."""
    dims: list[Any] = []
    placed = False
    adjacent = _adjacent(plan)
    for e in plan.entries:
        if e.kind in ("array", "int"):
            if adjacent and not placed:
                dims.extend(batch)
                placed = True
        elif e.kind == "newaxis":
            dims.append(1)
        else:
            dims.append(e.length)
    return tuple(dims) if adjacent else tuple(batch) + tuple(dims)


# ------------------------------------------------------------------ x.at[idx]

_SCATTERS = {"set": "scatter", "add": "scatter_add", "mul": "scatter_mul",
             "min": "scatter_min", "max": "scatter_max"}


def scatter_update(x: Any, index: Any, updates: Any, op: str) -> Array:
    """``x`` with ``x[index]`` replaced by (op='set') or combined with `updates`."""
    x = as_array(asarray_arg(x, f"at[].{op}", "x"))
    aval = get_aval(x)
    updates = cast(as_array(asarray_arg(updates, f"at[].{op}", "values")), aval.dtype)
    mask = _traced_full_mask(index, aval.shape)
    if mask is not None:
        return _masked_update(x, mask, updates, op)
    plan = _parse(aval.shape, () if index is Ellipsis else index)
    operand = _insert_axes(x, plan)
    indexed = [e for e in plan.entries
               if e.kind in ("array", "int") or (e.kind == "slice"
                                                  and not e.is_full(plan.shape[e.axis]))]
    updates = _updates_in_result_layout(updates, plan, op)
    if not indexed:
        out = _combine(operand, broadcast_to_shape(_drop_newaxes(updates, plan, ()),
                                                     plan.shape), op)
    else:
        grid_updates, indices, axes = _scatter_operands(updates, plan)
        out = getattr(lax, _SCATTERS[op])(operand, indices, grid_updates, axes)
    return lax.reshape(out, aval.shape) if plan.inserted_axes else out


def _traced_full_mask(index: Any, shape: tuple[int, ...]) -> Array | None:
    """A traced boolean mask of the array's shape: the update is a `where`."""
    if isinstance(index, Tracer) and index.aval.dtype.kind == "b" \
            and index.aval.shape == shape:
        try:
            index.to_concrete("a boolean index")
        except errors.ConcretizationTypeError:
            return index
    return None


def _masked_update(x: Array, mask: Array, updates: Array, op: str) -> Array:
    shape = shape_of(x)
    if shape_of(updates) != ():
        raise errors.NonConcreteBooleanIndexError(
            f"x.at[mask].{op}(values) with a traced mask needs a scalar value (the number of "
            f"selected elements is not known while tracing), got values of shape "
            f"{shape_of(updates)}; use functrans.numpy.where(mask, values, x)")
    values = broadcast_to_shape(updates, shape)
    return lax.select(mask, _combine(x, values, op), x)


def _combine(x: Array, values: Array, op: str) -> Array:
    if op == "set":
        return values
    if op == "add":
        return lax.add(x, values)
    if op == "mul":
        return lax.mul(x, values)
    return lax.min(x, values) if op == "min" else lax.max(x, values)


def _result_layout(plan: _Plan) -> list[Any]:
    """Labels of the dims of ``x[index]``: 'batch' (the advanced block), the
    slice entries, and 'newaxis'; with ints treated as advanced."""
    advanced = [e for e in plan.entries if e.kind in ("array", "int")]
    others = [e for e in plan.entries if e.kind in ("slice", "newaxis")]
    if not advanced:
        return others
    if not _adjacent(plan):
        return ["batch"] + others
    first = plan.entries.index(advanced[0])
    before = [e for e in plan.entries[:first] if e.kind in ("slice", "newaxis")]
    return before + ["batch"] + others[len(before):]


def _result_dims(plan: _Plan, batch: tuple[int, ...]) -> list[Any]:
    """One label per dim of ``x[index]``: ('batch', k), or the slice/newaxis entry."""
    dims: list[Any] = []
    for label in _result_layout(plan):
        if label == "batch":
            dims.extend(("batch", k) for k in range(len(batch)))
        else:
            dims.append(label)
    return dims


def _dim_size(label: Any, batch: tuple[int, ...]) -> int:
    if isinstance(label, tuple):
        return batch[label[1]]
    return 1 if label.kind == "newaxis" else label.length


def _updates_in_result_layout(updates: Array, plan: _Plan, op: str) -> Array:
    """`updates` broadcast to the shape of ``x[index]``."""
    batch = _index_arrays(plan)[2] if plan.advanced else ()
    target = tuple(_dim_size(label, batch) for label in _result_dims(plan, batch))
    given = shape_of(updates)
    shape = given
    while len(shape) > len(target) and shape[0] == 1:  # NumPy drops leading unit dims
        shape = shape[1:]
    try:
        fits = len(shape) <= len(target) and \
            broadcast_shapes("at", shape, target) == target
    except ValueError:
        fits = False
    if not fits:
        raise ValueError(f"x.at[...].{op}: shape mismatch: values of shape {given} could not "
                         f"be broadcast to the indexing result of shape {target}")
    if shape != given:
        updates = lax.reshape(updates, shape)
    return broadcast_to_shape(updates, target)


def _drop_newaxes(updates: Array, plan: _Plan, batch: tuple[int, ...]) -> Array:
    labels = _result_dims(plan, batch)
    shape = shape_of(updates)
    kept = tuple(d for d, label in zip(shape, labels, strict=True)
                 if isinstance(label, tuple) or label.kind != "newaxis")
    return lax.reshape(updates, kept)


def _scatter_operands(updates: Array, plan: _Plan) -> tuple[Array, Array, tuple[int, ...]]:
    """Updates as (grid dims, window dims), the index grid, and its axes."""
    adv_axes, adv_arrays, batch = _index_arrays(plan) if plan.advanced else ([], [], ())
    labels = [lb for lb in _result_dims(plan, batch)
              if isinstance(lb, tuple) or lb.kind == "slice"]
    updates = _drop_newaxes(updates, plan, batch)
    is_window = [not isinstance(lb, tuple) and lb.is_full(plan.shape[lb.axis]) for lb in labels]
    grid_dims = [i for i, w in enumerate(is_window) if not w]
    window_dims = [i for i, w in enumerate(is_window) if w]
    if window_dims and window_dims != list(range(len(labels) - len(window_dims), len(labels))):
        updates = lax.transpose(updates, tuple(grid_dims + window_dims))
    grid_shape = tuple(shape_of(updates)[:len(grid_dims)])
    grid_labels = [labels[i] for i in grid_dims]
    batch_pos = tuple(i for i, lb in enumerate(grid_labels) if isinstance(lb, tuple))

    columns: dict[int, Array] = {}
    for ax, arr in zip(adv_axes, adv_arrays, strict=True):
        arr = broadcast_to_shape(arr, batch)
        if is_traced(arr):
            columns[ax] = lax.broadcast_in_dim(cast(arr, _int64), grid_shape, batch_pos)
        else:
            shape = [1] * len(grid_shape)
            for p, d in zip(batch_pos, batch, strict=True):
                shape[p] = d
            columns[ax] = np.broadcast_to(np.reshape(arr, shape), grid_shape)
    for pos, lb in enumerate(grid_labels):
        if not isinstance(lb, tuple):
            shape = [1] * len(grid_shape)
            shape[pos] = lb.length
            coords = np.arange(lb.start, lb.stop, lb.step, dtype=_int64)
            columns[lb.axis] = np.broadcast_to(np.reshape(coords, shape), grid_shape)
    axes = tuple(sorted(columns))
    indices = _stack_indices([columns[a] for a in axes], grid_shape)
    return updates, indices, axes


class _IndexUpdateRef:
    """``x.at[index]``: functional updates of the indexed elements."""

    __slots__ = ("array", "index")

    def __init__(self, array: Any, index: Any):
        self.array = array
        self.index = index

    def get(self, *, indices_are_sorted: bool = False, unique_indices: bool = False) -> Array:
        """``x[index]``."""
        return getitem(self.array, self.index)

    def set(self, values: Any, *, indices_are_sorted: bool = False,
            unique_indices: bool = False) -> Array:
        """A copy of x with ``x[index] = values`` (one of repeated indices wins)."""
        return scatter_update(self.array, self.index, values, "set")

    def add(self, values: Any, *, indices_are_sorted: bool = False,
            unique_indices: bool = False) -> Array:
        """A copy of x with ``x[index] += values``, accumulating repeated indices."""
        return scatter_update(self.array, self.index, values, "add")

    def subtract(self, values: Any, *, indices_are_sorted: bool = False,
                 unique_indices: bool = False) -> Array:
        """A copy of x with ``x[index] -= values``, accumulating repeated indices."""
        return scatter_update(self.array, self.index, _ufuncs.negative(values), "add")

    def multiply(self, values: Any, *, indices_are_sorted: bool = False,
                 unique_indices: bool = False) -> Array:
        """A copy of x with ``x[index] *= values``, accumulating repeated indices."""
        return scatter_update(self.array, self.index, values, "mul")

    mul = multiply

    def divide(self, values: Any, *, indices_are_sorted: bool = False,
               unique_indices: bool = False) -> Array:
        """A copy of x with ``x[index] /= values`` (floating x only)."""
        if dtype_of(as_array(self.array)).kind not in "fc":
            raise TypeError("x.at[...].divide needs a floating-point x, got dtype "
                            f"{dtype_of(as_array(self.array))}")
        return scatter_update(self.array, self.index, _ufuncs.reciprocal(values), "mul")

    def min(self, values: Any, *, indices_are_sorted: bool = False,  # noqa: A003
            unique_indices: bool = False) -> Array:
        """A copy of x with ``x[index] = minimum(x[index], values)``."""
        return scatter_update(self.array, self.index, values, "min")

    def max(self, values: Any, *, indices_are_sorted: bool = False,  # noqa: A003
            unique_indices: bool = False) -> Array:
        """A copy of x with ``x[index] = maximum(x[index], values)``."""
        return scatter_update(self.array, self.index, values, "max")

    def __repr__(self) -> str:
        return f"_IndexUpdateRef({self.array!r}, {self.index!r})"


class _IndexUpdateHelper:
    """The ``.at`` property: ``x.at[index]`` gives an updater for those elements."""

    __slots__ = ("array",)

    def __init__(self, array: Any):
        self.array = array

    def __getitem__(self, index: Any) -> _IndexUpdateRef:
        return _IndexUpdateRef(self.array, index)

    def __repr__(self) -> str:
        return f"_IndexUpdateHelper({self.array!r})"


def at(x: Any) -> _IndexUpdateHelper:
    """``x.at`` for any array, including NumPy arrays (which have no ``.at``):
    ``fnp.at(x)[idx].set(v)`` is ``x.at[idx].set(v)``."""
    return _IndexUpdateHelper(x)


# ------------------------------------------------------------------ take

_TAKE_MODES = (None, "raise", "clip", "wrap", "fill", "promise_in_bounds")


def take(a: Any, indices: Any, axis: int | None = None, out: None = None,
         mode: str | None = None) -> Array:
    """Elements of `a` at `indices` along `axis` (of the flattened array for None).

    mode: None/'raise' (out-of-bounds concrete indices raise), 'clip', 'wrap'."""
    if out is not None:
        raise TypeError("functrans.numpy.take: the 'out' argument is not supported")
    if mode not in _TAKE_MODES:
        raise ValueError(f"functrans.numpy.take: mode must be one of 'raise', 'clip', 'wrap'; "
                         f"got {mode!r}")
    a = as_array(asarray_arg(a, "take", "a"))
    if axis is None:
        a = lax.reshape(a, (size_of(a),))
        axis = 0
    ax = canonicalize_axis(axis, ndim_of(a), "take")
    indices = _take_indices(indices, shape_of(a)[ax], mode)
    return getitem(a, (slice(None),) * ax + (indices,))


def _take_indices(indices: Any, size: int, mode: str | None) -> Array:
    indices = as_array(asarray_arg(indices, "take", "indices"))
    if dtype_of(indices).kind not in "iu":
        raise IndexError(f"functrans.numpy.take: indices must be integers, got dtype "
                         f"{dtype_of(indices)}")
    if mode in ("clip", "wrap") and size:
        if mode == "clip":
            return _ufuncs.clip(indices, 0, size - 1)
        return _ufuncs.remainder(indices, size)
    if shape_of(indices) == () and not is_traced(indices):
        return int(indices)
    return indices


def take_along_axis(arr: Any, indices: Any, axis: int | None, mode: str | None = None
                    ) -> Array:
    """Elements of `arr` picked along `axis` by `indices` (same number of
    dimensions; other axes broadcast), as returned by argsort/argmax."""
    arr = as_array(asarray_arg(arr, "take_along_axis", "arr"))
    indices = as_array(asarray_arg(indices, "take_along_axis", "indices"))
    if axis is None:
        arr = lax.reshape(arr, (size_of(arr),))
        axis = 0
    shape = shape_of(arr)
    ind_shape = shape_of(indices)
    if len(ind_shape) != len(shape):
        raise ValueError(f"functrans.numpy.take_along_axis: indices (shape {ind_shape}) and "
                         f"arr (shape {shape}) must have the same number of dimensions")
    ax = canonicalize_axis(axis, len(shape), "take_along_axis")
    if dtype_of(indices).kind not in "iu":
        raise IndexError(f"functrans.numpy.take_along_axis: indices must be integers, got "
                         f"dtype {dtype_of(indices)}")
    index: list[Any] = []
    for d, size in enumerate(shape):
        if d == ax:
            index.append(_take_indices(indices, size, mode) if mode else indices)
        else:
            coords_shape = [1] * len(shape)
            coords_shape[d] = size
            index.append(np.arange(size, dtype=_int64).reshape(coords_shape))
    return getitem(arr, tuple(index))


# ------------------------------------------------------------------ nonzero

def _concrete_array(a: Any, fname: str) -> np.ndarray:
    value = concrete(a, fname, "its argument (the number of nonzero elements sets the "
                     "result's shape)")
    return np.asarray(value)


def _fit_size(coords: np.ndarray, size: int | None, fill_value: Any) -> np.ndarray:
    """Truncate or pad the last axis of `coords` to `size` (JAX's `size=`)."""
    if size is None:
        return coords
    n = coords.shape[-1]
    if n >= size:
        return coords[..., :size]
    pad = np.full(coords.shape[:-1] + (size - n,), 0 if fill_value is None else fill_value,
                  coords.dtype)
    return np.concatenate([coords, pad], axis=-1)


def nonzero(a: Any, *, size: int | None = None, fill_value: Any = None) -> tuple[Array, ...]:
    """Indices of the nonzero elements, one array per axis. With `size`, the result is
    truncated or padded (with `fill_value`, default 0) to that static length, and `a`
    may be traced (under jit and vmap); without it `a` must be concrete."""
    if size is not None and isinstance(a, Tracer):
        return _nonzero_of_static_size(a, size, fill_value)
    arr = _concrete_array(a, "nonzero")
    if arr.ndim == 0:
        raise ValueError("functrans.numpy.nonzero: not defined for 0-d arrays; use "
                         "atleast_1d(a)")
    coords = _fit_size(np.stack(np.nonzero(arr)).astype(_int64), size, fill_value)
    return tuple(coords)


def _nonzero_of_static_size(a: Tracer, size: int, fill_value: Any) -> tuple[Array, ...]:
    # The nonzero positions come first in a stable sort of "is zero"; the first `size`
    # of them, padded where there are fewer, are the answer: no value-dependent shape.
    shape = a.shape
    if not shape:
        raise ValueError("functrans.numpy.nonzero: not defined for 0-d arrays; use "
                         "atleast_1d(a)")
    size = static_int(size, "nonzero", "size")
    is_zero = _ufuncs.equal(lax.reshape(a, (a.size,)), 0)
    order = _fnp.argsort(is_zero, stable=True)
    if size > a.size:
        order = _fnp.concatenate([order, _fnp.zeros(size - a.size, order.dtype)])
    first = order[:size]
    found = _fnp.arange(size) < _fnp.sum(_ufuncs.logical_not(is_zero))
    fills = fill_value if isinstance(fill_value, (tuple, list)) else [fill_value] * len(shape)
    return tuple(_ufuncs.where(found, coord, 0 if fill is None else fill).astype(_int64)
                 for coord, fill in zip(_fnp.unravel_index(first, shape), fills, strict=True))


def flatnonzero(a: Any, *, size: int | None = None, fill_value: Any = None) -> Array:
    """Indices of the nonzero elements of the flattened array (concrete, or traced with
    a static `size`)."""
    if size is not None and isinstance(a, Tracer):
        return nonzero(lax.reshape(a, (a.size,)), size=size, fill_value=fill_value)[0]
    arr = _concrete_array(a, "flatnonzero")
    return nonzero(arr.ravel(), size=size, fill_value=fill_value)[0]


def argwhere(a: Any, *, size: int | None = None, fill_value: Any = None) -> Array:
    """Indices of the nonzero elements as rows of a 2-D array (concrete, or traced with
    a static `size`)."""
    if size is not None and isinstance(a, Tracer):
        coords = nonzero(a, size=size, fill_value=fill_value)
        return _fnp.stack(coords, axis=1) if coords else _fnp.zeros((size, 0), _int64)
    rows = np.argwhere(_concrete_array(a, "argwhere")).astype(_int64)
    return _fit_size(rows.T, size, fill_value).T


def extract(condition: Any, arr: Any) -> Array:
    """The elements of `arr` where `condition` holds (concrete `condition`)."""
    cond = _concrete_array(condition, "extract").astype(bool).ravel()
    arr = as_array(asarray_arg(arr, "extract", "arr"))
    return take(lax.reshape(arr, (size_of(arr),)), np.nonzero(cond)[0])


def compress(condition: Any, a: Any, axis: int | None = None) -> Array:
    """Slices of `a` along `axis` where the 1-D `condition` holds (concrete)."""
    cond = _concrete_array(condition, "compress").astype(bool).ravel()
    return take(a, np.nonzero(cond)[0], axis=axis)
