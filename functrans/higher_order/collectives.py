"""Collectives over named vmap axes: ``psum``, ``pmean``, ``pmax``, ``pmin``,
``axis_index``, ``axis_size``, ``all_gather`` and ``psum_scatter``, as in ``jax.lax``.

Inside ``vmap(f, axis_name="i")`` each call of `f` is one *member* of the axis
``"i"``; a collective combines the members' values and gives every member the
result (``psum``), or each member its own part of it (``axis_index``,
``psum_scatter``). They are primitives whose ``axes`` parameter holds the axis
names. Three things make them work under every transformation:

* ``bind`` always hands a collective to the current trace, even for a constant
  operand: ``psum(1.0, "i")`` is the size of the axis, so no trace may evaluate it
  without the vmap of ``"i"`` seeing it. Transformations in between (jvp, grad,
  jit) handle it like any primitive: its JVP is a collective of the tangent, and
  staging records it with its names.
* The vmap of each name applies the collective's *axis rule* (registered in
  :data:`functrans.transforms.vmap.collective_rules`) to its own name: it reduces
  over the batch axis (an unbatched operand is the same in every member, so
  ``psum`` multiplies it by the axis size), then binds the collective again over
  the remaining names. Vmaps of other names batch it as an elementwise primitive.
* A name no enclosing vmap binds raises ``NameError("unbound axis name: ...")`` when
  the collective is bound (names are found by walking the current trace's parents,
  :func:`functrans.transforms.vmap.find_axis`).

They live above the interpreters because they ask the vmap traces for names and sizes.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import numpy as np

from functrans import dtypes
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive
from functrans.core.trace import get_current_trace
from functrans.core.zeros import Zero
from functrans.primitives.elementwise import add, convert_element_type, div, eq, mul
from functrans.primitives.reductions import reduce_max, reduce_min, reduce_sum
from functrans.primitives.rules import defjvp_zero, deflinear, defvectorized, move_bdim
from functrans.primitives.structural import (
    dynamic_index_in_dim,
    dynamic_slice_in_dim,
    full_like,
    iota,
    reshape,
)
from functrans.transforms.vmap import (
    axis_size_of,
    collective_rules,
    find_axis,
    unbound_axis_error,
)
from functrans.tree_util import tree_map

__all__ = ["psum", "pmean", "pmax", "pmin", "axis_index", "axis_size", "all_gather",
           "psum_scatter", "psum_p", "pmax_p", "pmin_p", "axis_index_p", "all_gather_p"]


class CollectivePrimitive(Primitive):
    """A primitive over named vmap axes (its ``axes`` parameter)."""

    __slots__ = ()

    def bind(self, *args: Any, **params: Any) -> Any:
        for name in params["axes"]:
            if find_axis(name) is None:
                raise unbound_axis_error(name, self.name)
        # never evaluated at once, even on constants: the vmap of each name must see it
        return get_current_trace().process_primitive(self, args, params)


def _collective(name: str, abstract_eval: Any) -> CollectivePrimitive:
    prim = CollectivePrimitive(name)
    prim.abstract_eval = abstract_eval

    def impl(*args: Any, axes: tuple, **params: Any) -> Any:
        # bind hands every collective to the traces, so only a jaxpr evaluated with
        # NumPy gets here: one traced inside the vmap and run outside it
        raise NameError(
            f"unbound axis name: {axes[0]}. {name} over the axis {axes[0]!r} was evaluated "
            "outside the vmap that binds it: a function traced inside vmap(..., "
            f"axis_name={axes[0]!r}) (with jit or make_jaxpr) was run outside it")

    prim.impl = impl
    return prim


def _remaining(prim: Primitive, x: Any, axes: tuple, handled: Hashable, **params: Any) -> Any:
    """`x` reduced over the names of `axes` other than `handled`, by enclosing vmaps."""
    rest = tuple(a for a in axes if a != handled)
    return prim.bind(x, axes=rest, **params) if rest else x


def _check_kinds(fname: str, aval: ShapedArray, kinds: str, what: str) -> None:
    if aval.dtype.kind not in kinds:
        raise TypeError(f"{fname}: the operand must have a {what} dtype, got "
                        f"{aval.str_short()}")


# ------------------------------------------------------------------ psum

def _psum_aval(x: ShapedArray, *, axes: tuple) -> ShapedArray:
    _check_kinds("psum", x, "iufc", "numeric (int, uint, float, complex)")
    return ShapedArray(x.shape, x.dtype, x.weak_type)


def _psum_axis_rule(vals, dims, name, size, *, axes):
    (x,), (d,) = vals, dims
    # an unbatched operand holds the same value in every member: the sum is size * x
    total = mul(x, full_like(x, size)) if d is None else reduce_sum(x, (d,))
    return _remaining(psum_p, total, axes, name), None


psum_p = _collective("psum", _psum_aval)
defvectorized(psum_p)  # over another vmap's axis: elementwise
# the cotangents of all members sum into each member's input
deflinear(psum_p, lambda ct, x, *, axes: [psum_p.bind(ct, axes=axes)])
collective_rules[psum_p] = _psum_axis_rule


# ------------------------------------------------------------------ pmax / pmin

def _chooser_aval(fname: str):
    def aval(x: ShapedArray, *, axes: tuple) -> ShapedArray:
        _check_kinds(fname, x, "biuf", "real (ordered: bool, int, uint, float)")
        return ShapedArray(x.shape, x.dtype, x.weak_type)
    return aval


def _chooser_axis_rule(reduce: Any, prim_name: str):
    def rule(vals, dims, name, size, *, axes):
        (x,), (d,) = vals, dims
        chosen = x if d is None else reduce(x, (d,))
        return _remaining(_PRIMS[prim_name], chosen, axes, name), None
    return rule


def _chooser_jvp(prim_name: str):
    """Tangent of pmax/pmin: the mean of the tangents of the members holding the
    extremum (ties share it equally, as ``lax.reduce_max``'s derivative does)."""
    def jvp(primals, tangents, *, axes):
        (x,), (t,) = primals, tangents
        out = _PRIMS[prim_name].bind(x, axes=axes)
        if type(t) is Zero:
            return out, Zero(get_aval(out).to_tangent_aval())
        at_extremum = convert_element_type(eq(x, out), get_aval(t).dtype)
        counts = psum_p.bind(at_extremum, axes=axes)
        return out, div(psum_p.bind(mul(t, at_extremum), axes=axes), counts)
    return jvp


pmax_p = _collective("pmax", _chooser_aval("pmax"))
pmin_p = _collective("pmin", _chooser_aval("pmin"))
_PRIMS = {"pmax": pmax_p, "pmin": pmin_p}
for _prim, _reduce in ((pmax_p, reduce_max), (pmin_p, reduce_min)):
    defvectorized(_prim)
    _prim.jvp = _chooser_jvp(_prim.name)
    collective_rules[_prim] = _chooser_axis_rule(_reduce, _prim.name)


# ------------------------------------------------------------------ axis_index

def _axis_index_aval(*, axes: tuple) -> ShapedArray:
    return ShapedArray((), np.dtype(np.int32))


def _axis_index_axis_rule(vals, dims, name, size, *, axes):
    return iota(np.int32, size), 0


def _axis_index_batch(vals, dims, *, axes):
    # over another vmap's axis, the position is the same for every batch element (with
    # no operand, vmaps hand it to their parents anyway: the rule states the contract)
    return axis_index_p.bind(axes=axes), None


axis_index_p = _collective("axis_index", _axis_index_aval)
defjvp_zero(axis_index_p)  # an integer: a symbolic zero tangent
axis_index_p.batch = _axis_index_batch
collective_rules[axis_index_p] = _axis_index_axis_rule


# ------------------------------------------------------------------ all_gather

def _all_gather_aval(x: ShapedArray, *, axes: tuple, all_gather_dimension: int,
                     axis_size: int) -> ShapedArray:
    shape = list(x.shape)
    shape.insert(all_gather_dimension, axis_size)
    return ShapedArray(tuple(shape), x.dtype, x.weak_type)


def _all_gather_axis_rule(vals, dims, name, size, *, axes, all_gather_dimension, axis_size):
    (x,), (d,) = vals, dims
    # the members' values stacked: the batch axis itself, moved into place (an
    # unbatched operand is broadcast); the same for every member, so unbatched
    return move_bdim(x, d, all_gather_dimension, size), None


def _all_gather_batch(vals, dims, *, axes, all_gather_dimension, axis_size):
    # over another vmap's axis: gather each batch element, batch axis kept in front
    (x,), (d,) = vals, dims
    out = all_gather_p.bind(move_bdim(x, d, 0, 0), axes=axes,
                            all_gather_dimension=all_gather_dimension + 1, axis_size=axis_size)
    return out, 0


def _all_gather_transpose(ct, x, *, axes, all_gather_dimension, axis_size):
    # each member's slot of every member's cotangent, summed: psum_scatter
    (name,) = axes
    summed = psum_p.bind(ct, axes=axes)
    own = axis_index_p.bind(axes=(name,))
    return [dynamic_index_in_dim(summed, own, all_gather_dimension, keepdims=False)]


all_gather_p = _collective("all_gather", _all_gather_aval)
all_gather_p.batch = _all_gather_batch
deflinear(all_gather_p, _all_gather_transpose)
collective_rules[all_gather_p] = _all_gather_axis_rule


# ------------------------------------------------------------------ the lax functions

def _axis_names(axis_name: Any, fname: str) -> tuple:
    names = tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)
    for name in names:
        try:
            hash(name)
        except TypeError:
            raise TypeError(f"{fname}: axis names must be hashable (the axis_name given to "
                            f"vmap), got {type(name).__name__} {name!r}") from None
        if find_axis(name) is None:
            raise unbound_axis_error(name, fname)
    return names


def _bind_checked(prim: Primitive, x: Any, **params: Any) -> Any:
    """Bind after the shape rule: eager vmaps never run it, and bad operands must
    raise its error, naming the collective, wherever they are traced."""
    prim.abstract_eval(get_aval(x), **params)
    return prim.bind(x, **params)


def _no_groups(axis_index_groups: Any, fname: str) -> None:
    if axis_index_groups is not None:
        raise ValueError(f"{fname}: axis_index_groups is not supported over vmap axes (JAX "
                         "supports it under pmap only); pass axis_index_groups=None")


def _as_operand(x: Any) -> Any:
    """Python scalars as arrays of their dtype (the axis rules multiply and compare
    them with arrays); arrays and tracers as they are."""
    if dtypes.is_python_scalar(x):
        return np.asarray(x, dtypes.python_scalar_dtype(x))
    get_aval(x)  # a TypeError naming the value for anything that is not an array
    return x


def axis_size(axis_name: Any) -> int:
    """The size of the named vmap axis (the product of the sizes for a tuple of
    names), as ``jax.lax.axis_size``."""
    return math.prod(axis_size_of(n, "axis_size") for n in _axis_names(axis_name, "axis_size"))


def psum(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """The sum of `x` (a pytree of arrays) over the members of the named vmap axis
    (or axes, for a tuple of names), given to every member, as ``jax.lax.psum``.
    A value that does not depend on the axis is summed too: ``psum(1, "i")`` is the
    axis size. Booleans are summed as int32, as in JAX."""
    names = _axis_names(axis_name, "psum")
    _no_groups(axis_index_groups, "psum")

    def one(leaf: Any) -> Any:
        leaf = _as_operand(leaf)
        if get_aval(leaf).dtype == np.bool_:
            leaf = convert_element_type(leaf, np.int32)
        return _bind_checked(psum_p, leaf, axes=names) if names else leaf
    return tree_map(one, x)


def pmean(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """The mean of `x` (a pytree) over the named vmap axis (or axes), given to every
    member, as ``jax.lax.pmean``. Integers give the default float dtype (float64)."""
    names = _axis_names(axis_name, "pmean")
    _no_groups(axis_index_groups, "pmean")
    count = axis_size(names)

    def one(leaf: Any) -> Any:
        leaf = _as_operand(leaf)
        if not dtypes.is_float(get_aval(leaf).dtype):
            leaf = convert_element_type(leaf, dtypes.default_float())
        total = _bind_checked(psum_p, leaf, axes=names) if names else leaf
        return div(total, full_like(total, count))
    return tree_map(one, x)


def _chooser(prim: Primitive, fname: str):
    def collective(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
        names = _axis_names(axis_name, fname)
        _no_groups(axis_index_groups, fname)
        return tree_map(lambda leaf: _bind_checked(prim, _as_operand(leaf), axes=names)
                        if names else _as_operand(leaf), x)
    return collective


pmax = _chooser(pmax_p, "pmax")
pmax.__name__ = pmax.__qualname__ = "pmax"
pmax.__doc__ = """The maximum of `x` (a pytree) over the named vmap axis (or axes), given to
every member, as ``jax.lax.pmax``. Its derivative is the mean of the tangents of the
members holding the maximum (ties share it), as for ``lax.reduce_max``."""
pmin = _chooser(pmin_p, "pmin")
pmin.__name__ = pmin.__qualname__ = "pmin"
pmin.__doc__ = """The minimum of `x` (a pytree) over the named vmap axis (or axes), given to
every member, as ``jax.lax.pmin``; derivative as for :func:`pmax`."""


def axis_index(axis_name: Any) -> Any:
    """Each member's position (int32) along the named vmap axis, as
    ``jax.lax.axis_index``; for a tuple of names, the position in the flattened axes
    (the first name major)."""
    names = _axis_names(axis_name, "axis_index")
    index: Any = None
    for name in names:
        own = axis_index_p.bind(axes=(name,))
        size = axis_size_of(name, "axis_index")
        index = own if index is None else add(mul(index, full_like(index, size)), own)
    return np.int32(0) if index is None else index


def all_gather(x: Any, axis_name: Any, *, axis_index_groups: Any = None, axis: int = 0,
               tiled: bool = False) -> Any:
    """Every member's `x` (a pytree), stacked along a new axis `axis` (with `tiled`,
    concatenated along the existing axis `axis`), given to every member, as
    ``jax.lax.all_gather``. For a tuple of names the gathered axis runs over the
    flattened axes, the first name major."""
    names = _axis_names(axis_name, "all_gather")
    _no_groups(axis_index_groups, "all_gather")

    def one(leaf: Any) -> Any:
        leaf = _as_operand(leaf)
        shape = get_aval(leaf).shape
        rank = len(shape) if tiled else len(shape) + 1
        if not -rank <= axis < rank:
            raise ValueError(f"all_gather: axis={axis} is out of range for an operand of shape "
                             f"{shape} (tiled={tiled}): it must be in [{-rank}, {rank})")
        dim = axis % rank
        gathered = leaf
        for name in reversed(names):  # the last name innermost: the first name major
            gathered = all_gather_p.bind(gathered, axes=(name,), all_gather_dimension=dim,
                                         axis_size=axis_size_of(name, "all_gather"))
        new_shape = list(shape)
        if tiled:
            new_shape[dim] *= axis_size(names)
        else:
            new_shape.insert(dim, axis_size(names))
        if tuple(new_shape) == get_aval(gathered).shape:
            return gathered
        return reshape(gathered, tuple(new_shape))
    return tree_map(one, x)


def psum_scatter(x: Any, axis_name: Any, *, scatter_dimension: int = 0,
                 axis_index_groups: Any = None, tiled: bool = False) -> Any:
    """The sum over the named vmap axis of `x` (a pytree), each member keeping its own
    slice of it along `scatter_dimension` (whose size must be the axis size, or with
    `tiled` a multiple of it), as ``jax.lax.psum_scatter``."""
    names = _axis_names(axis_name, "psum_scatter")
    _no_groups(axis_index_groups, "psum_scatter")
    size = axis_size(names)

    def one(leaf: Any) -> Any:
        leaf = _as_operand(leaf)
        shape = get_aval(leaf).shape
        if not -len(shape) <= scatter_dimension < len(shape):
            raise ValueError(f"psum_scatter: scatter_dimension={scatter_dimension} is out of "
                             f"range for an operand of shape {shape}")
        dim = scatter_dimension % len(shape)
        if (shape[dim] % size if tiled else shape[dim] != size):
            need = f"a multiple of {size}" if tiled else f"{size}"
            raise ValueError(f"psum_scatter: the operand has shape {shape}, so its "
                             f"scatter_dimension {dim} has size {shape[dim]}; it must be "
                             f"{need}, the size of the axis {names}")
        total = psum(leaf, names)
        own = axis_index(names)
        if not tiled:
            return dynamic_index_in_dim(total, own, dim, keepdims=False)
        chunk = shape[dim] // size
        return dynamic_slice_in_dim(total, mul(own, full_like(own, chunk)), chunk, dim)
    return tree_map(one, x)
