"""Calling back into Python from traced code: ``debug_callback`` (side effects:
printing, logging) and ``pure_callback`` (a NumPy function computing a result).

Both are primitives whose operands are the flat leaves of the callback's
arguments, so they stage into jaxprs, run when the compiled program runs, and
follow vmap. ``debug_callback`` has a side effect (``Primitive.has_side_effect``):
compilers keep it although nothing reads its outputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive
from functrans.core.trace import Tracer
from functrans.core.zeros import Zero
from functrans.higher_order.call import batch_size
from functrans.primitives.rules import bdim_at_front
from functrans.primitives.structural import broadcast_in_dim
from functrans.tree_util import PyTreeDef, tree_flatten, tree_unflatten

# ---------------------------------------------------------------- debug_callback
#
# Its outputs are its operands, unchanged: that gives JVP (tangents pass through)
# and vmap (batch axes pass through) something to follow, while the public
# functions drop them.


def _call_with_tree(callback: Callable[..., Any], in_tree: PyTreeDef, leaves: Sequence[Any]) -> Any:
    args, kwargs = tree_unflatten(in_tree, leaves)
    return callback(*args, **kwargs)


def _debug_callback_impl(*operands: Any, callback: Callable[..., Any], in_tree: PyTreeDef,
                         batch_ndim: int) -> list[Any]:
    operands = [np.asarray(op) for op in operands]
    # every operand carries the same leading batch axes (the batching rule
    # broadcasts them): call once per batch element, outer axes first
    batch_shape = operands[0].shape[:batch_ndim] if operands and batch_ndim else ()
    for index in np.ndindex(*batch_shape):
        _call_with_tree(callback, in_tree, [op[index] for op in operands])
    return [op.copy() for op in operands]


def _debug_callback_aval(*avals: ShapedArray, **params: Any) -> list[ShapedArray]:
    return list(avals)


def _debug_callback_jvp(primals, tangents, **params):
    return debug_callback_p.bind(*primals, **params), list(tangents)


def _debug_callback_batch(args, dims, *, callback, in_tree, batch_ndim):
    size = batch_size(args, dims)
    operands = [bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True)]
    outs = debug_callback_p.bind(*operands, callback=callback, in_tree=in_tree,
                                 batch_ndim=batch_ndim + 1)
    return outs, [0] * len(outs)


debug_callback_p = Primitive("debug_callback", multiple_results=True)
debug_callback_p.impl = _debug_callback_impl
debug_callback_p.abstract_eval = _debug_callback_aval
debug_callback_p.jvp = _debug_callback_jvp
debug_callback_p.batch = _debug_callback_batch
debug_callback_p.has_side_effect = True


def debug_callback(callback: Callable[..., Any], in_tree: PyTreeDef, leaves: Sequence[Any]) -> None:
    """Call ``callback(*args, **kwargs)`` (`in_tree` describes ``(args, kwargs)``
    over `leaves`) with concrete values whenever the program runs."""
    debug_callback_p.bind(*leaves, callback=callback, in_tree=in_tree, batch_ndim=0)


# ---------------------------------------------------------------- pure_callback

VMAP_METHODS = ("sequential", "expand_dims", "broadcast_all")


def _pure_callback_impl(*operands: Any, callback: Callable[..., Any], in_tree: PyTreeDef,
                        result_avals: tuple[ShapedArray, ...], out_tree: PyTreeDef,
                        vmap_method: str | None) -> list[np.ndarray]:
    result = _call_with_tree(callback, in_tree, [np.asarray(op) for op in operands])
    outs = []
    results = _flatten_result(result, out_tree)
    for i, (value, aval) in enumerate(zip(results, result_avals, strict=True)):
        array = np.asarray(value)
        if array.shape != aval.shape:
            raise ValueError(f"pure_callback: result {i} of {_name(callback)} has shape "
                             f"{array.shape}, but result_shape_dtypes says {aval.shape}")
        if array.dtype != aval.dtype:
            raise TypeError(f"pure_callback: result {i} of {_name(callback)} has dtype "
                            f"{array.dtype}, but result_shape_dtypes says {aval.dtype}; "
                            f"return .astype({aval.dtype}) from the callback")
        outs.append(np.array(array, copy=True))  # never an operand or a cached array
    return outs


def _flatten_result(result: Any, out_tree: PyTreeDef) -> list[Any]:
    leaves, tree = tree_flatten(result)
    if tree != out_tree:
        raise ValueError(f"pure_callback: the callback returned a result of structure {tree}, "
                         f"but result_shape_dtypes has structure {out_tree}")
    return leaves


def _name(callback: Callable[..., Any]) -> str:
    return getattr(callback, "__name__", repr(callback))


def _pure_callback_aval(*avals: ShapedArray, result_avals, **params) -> list[ShapedArray]:
    return list(result_avals)


def _pure_callback_jvp(primals, tangents, **params):
    if any(type(t) is not Zero for t in tangents):
        raise TypeError(
            f"pure_callback: {_name(params['callback'])} has no derivative: functrans cannot "
            "differentiate through a Python callback. Give it one by wrapping the call in "
            "functrans.custom_jvp (computing the tangent with another pure_callback) or "
            "functrans.custom_vjp.")
    outs = pure_callback_p.bind(*primals, **params)
    return outs, [Zero(get_aval(o).to_tangent_aval()) for o in outs]


def _pure_callback_batch(args, dims, *, callback, in_tree, result_avals, out_tree, vmap_method):
    if vmap_method not in VMAP_METHODS:
        raise ValueError(
            f"pure_callback: vmap of {_name(callback)} needs vmap_method= one of "
            f"{', '.join(map(repr, VMAP_METHODS))} (got {vmap_method!r}): 'sequential' calls it "
            "once per batch element; 'expand_dims' calls it once, unbatched arguments getting "
            "a leading axis of size 1; 'broadcast_all' calls it once, every argument "
            "broadcast to the batch size")
    size = batch_size(args, dims)
    batched_avals = tuple(ShapedArray((size, *a.shape), a.dtype) for a in result_avals)
    params = dict(in_tree=in_tree, result_avals=batched_avals, out_tree=out_tree,
                  vmap_method=vmap_method)
    if vmap_method == "sequential":
        batched = tuple(d is not None for d in dims)
        operands = [x if d is None else bdim_at_front(x, d, size) for x, d in zip(args, dims)]
        looped = _sequential(callback, in_tree, out_tree, batched, size)
        outs = pure_callback_p.bind(*operands, callback=looped, **params)
    elif vmap_method == "expand_dims":
        operands = [_expand(x) if d is None else bdim_at_front(x, d, size)
                    for x, d in zip(args, dims)]
        outs = pure_callback_p.bind(*operands, callback=callback, **params)
    else:
        operands = [bdim_at_front(x, d, size) for x, d in zip(args, dims)]
        outs = pure_callback_p.bind(*operands, callback=callback, **params)
    return outs, [0] * len(outs)


def _expand(x: Any) -> Any:
    shape = get_aval(x).shape
    return broadcast_in_dim(x, (1, *shape), tuple(range(1, len(shape) + 1)))


def _sequential(callback: Callable[..., Any], in_tree: PyTreeDef, out_tree: PyTreeDef,
                batched: tuple[bool, ...], size: int) -> Callable[..., Any]:
    """A callback taking batched arguments (leading axis) that calls `callback` on
    each batch element and stacks the results."""
    def looped(*args: Any, **kwargs: Any) -> Any:
        leaves, _ = tree_flatten((args, kwargs))
        results = []
        for i in range(size):
            sliced = [leaf[i] if b else leaf for leaf, b in zip(leaves, batched)]
            results.append(_flatten_result(_call_with_tree(callback, in_tree, sliced), out_tree))
        stacked = [np.stack(column) for column in zip(*results)]
        return tree_unflatten(out_tree, stacked)

    looped.__name__ = _name(callback)
    return looped


pure_callback_p = Primitive("pure_callback", multiple_results=True)
pure_callback_p.impl = _pure_callback_impl
pure_callback_p.abstract_eval = _pure_callback_aval
pure_callback_p.jvp = _pure_callback_jvp
pure_callback_p.batch = _pure_callback_batch


def pure_callback(callback: Callable[..., Any], result_shape_dtypes: Any, *args: Any,
                  vmap_method: str | None = None, **kwargs: Any) -> Any:
    """Call the NumPy function ``callback(*args, **kwargs)`` from traced code, as
    ``jax.pure_callback``: under jit it runs each time the program runs, with
    NumPy arrays; its results must match `result_shape_dtypes` (a pytree of
    objects with ``shape`` and ``dtype``, e.g. ``functrans.ShapeDtypeStruct``).
    It must be pure: a jitted program whose result does not need it drops it.

    Under vmap, `vmap_method` says how: ``"sequential"`` (once per batch
    element), ``"expand_dims"`` (once; unbatched arguments get a leading axis of
    size 1, so the callback broadcasts) or ``"broadcast_all"`` (once; every
    argument broadcast to the batch size). The callback then returns results with
    a leading batch axis. Without `vmap_method` vmap raises (JAX's deprecated
    default is not offered).

    It has no derivative of its own; give it one with ``functrans.custom_jvp``
    (the JVP rule calling another ``pure_callback`` for the derivative) or
    ``functrans.custom_vjp``."""
    if vmap_method is not None and vmap_method not in VMAP_METHODS:
        raise ValueError(f"pure_callback: vmap_method must be one of "
                         f"{', '.join(map(repr, VMAP_METHODS))} or None, got {vmap_method!r}")
    result_leaves, out_tree = tree_flatten(result_shape_dtypes)
    result_avals = []
    for i, spec in enumerate(result_leaves):
        if not (hasattr(spec, "shape") and hasattr(spec, "dtype")):
            raise TypeError(f"pure_callback: result_shape_dtypes leaf {i} is a "
                            f"{type(spec).__name__}; each leaf needs .shape and .dtype "
                            "(functrans.ShapeDtypeStruct(shape, dtype), or an example array)")
        result_avals.append(ShapedArray(tuple(spec.shape), np.dtype(spec.dtype)))
    leaves, in_tree = tree_flatten((args, kwargs))
    outs = pure_callback_p.bind(*[_operand(x) for x in leaves], callback=callback,
                                in_tree=in_tree, result_avals=tuple(result_avals),
                                out_tree=out_tree, vmap_method=vmap_method)
    return tree_unflatten(out_tree, outs)


def _operand(x: Any) -> Any:
    return x if isinstance(x, Tracer) else np.asarray(x)


def block_until_ready(x: Any) -> Any:
    """Return `x`, as ``jax.block_until_ready``: functrans computes eagerly and
    synchronously, so every result is ready when it is returned."""
    return x
