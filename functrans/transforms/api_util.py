"""What every public transformation does at its boundary: flatten pytrees,
select ``argnums``, and check that values are arrays."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from functrans import dtypes
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.backend import foreign_backend
from functrans.core.trace import Tracer
from functrans.tree_util import (
    CompiledTreeDef,
    PyTreeDef,
    compile_treedef,
    keystr,
    tree_flatten,
    tree_flatten_with_path,
    tree_unflatten,
)


def fun_name(f: Callable[..., Any]) -> str:
    return getattr(f, "__name__", None) or type(f).__name__


def check_leaf(x: Any, fname: str, what: str) -> None:
    if isinstance(x, (Tracer, np.ndarray, np.generic)) or dtypes.is_python_scalar(x):
        if isinstance(x, np.ndarray) and x.dtype.kind in "OUSV" and x.dtype != dtypes.float0:
            raise TypeError(f"{fname}: {what} is an array of dtype {x.dtype}; functrans "
                            "works with numeric and boolean arrays only.")
        return
    if foreign_backend(x) is not None:  # Dask, CuPy, torch...: see functrans.core.backend
        return
    raise TypeError(f"{fname}: {what} is a {type(x).__name__} ({_short_repr(x)}), not an "
                    "array: functrans transformations take and return NumPy arrays, "
                    "Python scalars, arrays of Array API libraries (Dask, CuPy, torch, "
                    "with array-api-compat installed) and pytrees (tuples, lists, dicts) "
                    "of them.")


def _short_repr(x: Any) -> str:
    r = repr(x)
    return r if len(r) < 60 else r[:57] + "..."


def to_output(x: Any) -> Any:
    """A value as the transformations return it: 0-d arrays become NumPy scalars
    (as NumPy's own reductions return them) and read-only views (broadcasts) are
    copied, so results are ordinary, writable NumPy values."""
    if isinstance(x, np.ndarray):
        if type(x) is not np.ndarray:  # a subclass (np.memmap...) may not be copied as one
            x = x.view(np.ndarray)
        if x.ndim == 0 and x.dtype != dtypes.float0:
            return x[()]
        if not x.flags.writeable:
            return x.copy()
    return x


def outputs(xs: Iterable[Any], inputs: Sequence[Any] = ()) -> list[Any]:
    """The results of a transformation, made the caller's: converted by `to_output`,
    and copied where one would share memory with one of `inputs` or with an earlier
    result (the identity function's result, the same cotangent handed to two
    arguments). Modifying a result in place then never changes anything else."""
    results = list(xs)
    if _all_fresh(results, inputs):
        return results
    shared: list[int] = []  # the results whose memory may be taken already
    for k, x in enumerate(results):
        if isinstance(x, np.ndarray):
            owned = to_output(x)
            if owned is x or type(x) is not np.ndarray:  # not a copy: it may be shared
                shared.append(k)
            results[k] = owned
    if not shared:
        return results
    owners = {id(_memory_owner(results[k])) for k in shared}
    # the inputs whose memory one of those results may share
    suspects = [x for x in inputs if isinstance(x, np.ndarray)
                and id(x if x.base is None else _memory_owner(x)) in owners]
    if suspects or len(owners) < len(shared):
        taken = _Buffers(suspects)
        for k in shared:
            results[k] = taken.own(results[k])
    return results


def _all_fresh(results: list[Any], inputs: Sequence[Any]) -> bool:
    """Whether `results` are writable NumPy arrays of one or more dimensions, each the
    owner of its memory (no base), none of them another result, an input, or the
    owner of an input's memory: then each already is the caller's (the common case:
    gradients computed by NumPy). Two arrays share memory only through its owner."""
    for x in results:
        if type(x) is not np.ndarray or x.base is not None or not x.ndim:
            return False
    ids = set(map(id, results))
    if len(ids) < len(results):
        return False
    for x in inputs:
        if id(x) in ids or (isinstance(x, np.ndarray) and x.base is not None
                            and id(_memory_owner(x)) in ids):
            return False
    return all(x.flags.writeable for x in results)


class _Buffers:
    """Arrays already handed out, by the array that owns their memory."""

    def __init__(self, arrays: Sequence[np.ndarray]):
        self.by_owner: dict[int, list[np.ndarray]] = {}
        for x in arrays:
            self._add(x)

    def _add(self, x: np.ndarray) -> None:
        self.by_owner.setdefault(id(_memory_owner(x)), []).append(x)

    def own(self, x: Any) -> Any:
        """`x`, or a copy of it if its memory is already taken."""
        if type(x) is not np.ndarray:
            return x
        for other in self.by_owner.get(id(_memory_owner(x)), ()):
            if np.may_share_memory(x, other):
                x = x.copy()
                break
        self._add(x)
        return x


def _memory_owner(x: np.ndarray) -> Any:
    base = x.base
    while isinstance(base, np.ndarray):
        x, base = base, base.base
    return x


class FlatFun:
    """`f` as a function of flat leaves returning flat leaves; records the output tree."""

    __slots__ = ("f", "in_tree", "out_tree", "name")

    def __init__(self, f: Callable[..., Any], in_tree: PyTreeDef, name: str | None = None):
        self.f = f
        self.in_tree = in_tree
        self.out_tree: PyTreeDef | None = None
        self.name = name or fun_name(f)

    def __call__(self, *flat_args: Any) -> list[Any]:
        args, kwargs = unflatten_args(self.in_tree, flat_args)
        out = self.f(*args, **kwargs)
        if type(out) in _ARRAY_LEAVES or isinstance(out, Tracer):  # one array: no walk
            self.out_tree = _LEAF_TREE
            return [out]
        leaves, self.out_tree = tree_flatten(out)
        for leaf in leaves:
            check_leaf(leaf, self.name, "the function's output")
        return leaves


#: leaf types that need no check: arrays, NumPy and Python scalars (a tracer's
#: subclass is checked by check_leaf)
_ARRAY_LEAVES = frozenset({np.ndarray, float, int, complex, bool, np.float64, np.float32,
                           np.complex128, np.complex64, np.int64, np.int32, np.bool_})
_LEAF_TREE = tree_flatten(0)[1]
#: per number of arguments: the tree of ``(args, {})`` when each argument is one array
_flat_args_trees: dict[int, PyTreeDef] = {}


def _flat_args_tree(n: int) -> PyTreeDef:
    tree = _flat_args_trees.get(n)
    if tree is None:
        tree = tree_flatten((tuple(range(n)), {}))[1]
        compiled = compile_treedef(tree)  # met on every such call: unflattening is short
        if compiled is not None:  # and arguments that are tracers find it compiled
            _compiled_by_tree[_room_for(_compiled_by_tree, tree)] = compiled
        _flat_args_trees[n] = tree
    return tree


def flatten_args(args: Sequence[Any], kwargs: dict[str, Any] | None = None,
                 fname: str = "function") -> tuple[list[Any], PyTreeDef]:
    """The leaves of ``(args, kwargs)``, each checked to be an array, and the tree.

    Arguments of a structure met before (a training loop's parameters) are taken
    apart by that structure's compiled code (see :func:`compile_treedef`), which
    then also builds the trees of it: the same tree comes back for them each time."""
    leaves, tree = _flatten_args(args, kwargs)
    for leaf in leaves:  # check_leaf, in short for the arrays and scalars that pass
        t = type(leaf)
        if t is np.ndarray:
            if leaf.dtype.kind in "OUSV":
                check_leaf(leaf, fname, "an argument")
        elif t not in _ARRAY_LEAVES:
            check_leaf(leaf, fname, "an argument")
    return leaves, tree


def flatten_args_avals(args: Sequence[Any], kwargs: dict[str, Any] | None, fname: str
                       ) -> tuple[list[Any], PyTreeDef, list[ShapedArray]]:
    """:func:`flatten_args`, and the avals of the leaves (:func:`leaf_avals`): one
    pass over the leaves checks them and finds their avals."""
    leaves, tree = _flatten_args(args, kwargs)
    return leaves, tree, leaf_avals(leaves, fname)


def _flatten_args(args: Sequence[Any], kwargs: dict[str, Any] | None
                  ) -> tuple[list[Any], PyTreeDef]:
    if not kwargs and _ARRAY_LEAVES.issuperset(map(type, args)):  # each argument one array
        return list(args), _flat_args_tree(len(args))
    tree = (tuple(args), kwargs or {})
    key = (tuple(map(type, args)), tuple(kwargs) if kwargs else ())
    for compiled in _compiled_trees.get(key, ()):
        leaves = compiled.flatten(tree)
        if leaves is not None:
            return leaves, compiled.treedef
    leaves, treedef = tree_flatten((tree[0], dict(tree[1])))
    _remember(key, treedef)
    return leaves, treedef


#: per key of flatten_args (the positional arguments' types, the keyword names): the
#: argument trees met there often, compiled, newest first; and how often each other
#: tree was met (found by hash: a new tree costs one look-up), or None where a tree
#: met often could not be compiled (containers of the user's, a huge tree): that key's
#: trees are then left to the general walk, at no cost more. Compiling costs about
#: 100 µs, what the compiled code saves in some tens of calls: a tree is compiled when
#: met the third time, and its compiled code is shared by the keys that meet it.
_compiled_trees: dict[tuple, tuple[CompiledTreeDef, ...]] = {}
_trees_seen: dict[tuple, dict[PyTreeDef, int] | None] = {}
_compiled_by_tree: dict[PyTreeDef, CompiledTreeDef] = {}
_MEETINGS_BEFORE_COMPILING = 3
#: trees kept per key (a function called with a few structures in turn), and keys
_TREES_PER_KEY = 4
_MAX_TREE_KEYS = 256


def _remember(key: tuple, treedef: PyTreeDef) -> None:
    """Note that flatten_args met `treedef` at `key`; compile it if met often."""
    seen = _trees_seen.get(key, _NOT_YET)
    if seen is None:
        return
    if seen is _NOT_YET:
        seen = _trees_seen[_room_for(_trees_seen, key)] = {}
    try:
        meetings = seen.get(treedef, 0) + 1
    except TypeError:  # a container of the user's with unhashable aux data
        _trees_seen[key] = None
        return
    if meetings < _MEETINGS_BEFORE_COMPILING:
        seen[treedef] = meetings
        if len(seen) > _TREES_PER_KEY:
            _drop_oldest(seen)
        return
    compiled = _compiled_by_tree.get(treedef) or compile_treedef(treedef)
    if compiled is None:
        _trees_seen[key] = None
        return
    _compiled_by_tree[_room_for(_compiled_by_tree, compiled.treedef)] = compiled
    seen.pop(treedef, None)
    trees = _compiled_trees.get(key, ())
    _compiled_trees[_room_for(_compiled_trees, key)] = (
        (compiled,) + trees[:_TREES_PER_KEY - 1])


_NOT_YET: Any = object()


def _room_for(cache: dict[Any, Any], key: Any) -> Any:
    """`key`, after dropping the oldest key of `cache` if a new one would not fit."""
    if key not in cache and len(cache) >= _MAX_TREE_KEYS:
        _drop_oldest(cache)
    return key


def _drop_oldest(cache: dict[Any, Any]) -> None:
    try:
        del cache[next(iter(cache))]
    except (RuntimeError, StopIteration, KeyError):  # changed by another thread meanwhile
        pass


def leaf_avals(leaves: Sequence[Any], fname: str | None = None) -> list[ShapedArray]:
    """``[get_aval(x) for x in leaves]``, with one aval for all NumPy values of a shape
    and dtype (avals are never modified): a look-up instead of a new object per array
    on each call of a transformation. With `fname`, each leaf is checked first, as
    :func:`flatten_args` checks it (the avals kept are of valid dtypes only, so an
    array whose aval is found needs no other check)."""
    avals = []
    for x in leaves:
        t = type(x)
        if t is np.ndarray or t in _NUMPY_SCALAR_TYPES:
            key = (x.shape, x.dtype)
            aval = _array_avals.get(key)
            if aval is None:
                aval = _new_array_aval(x, key, fname)
        else:
            if fname is not None and t not in _ARRAY_LEAVES:
                check_leaf(x, fname, "an argument")
            aval = get_aval(x)
        avals.append(aval)
    return avals


def _new_array_aval(x: Any, key: tuple[tuple[int, ...], np.dtype], fname: str | None
                    ) -> ShapedArray:
    if x.dtype.kind in "OUSV" and x.dtype != dtypes.float0:  # not kept: checked each time
        if fname is not None:
            check_leaf(x, fname, "an argument")
        return ShapedArray(*key)
    if len(_array_avals) >= _MAX_ARRAY_AVALS:
        _array_avals.clear()
    aval = _array_avals[key] = ShapedArray(*key)
    return aval


_array_avals: dict[tuple[tuple[int, ...], np.dtype], ShapedArray] = {}
_MAX_ARRAY_AVALS = 4096
_NUMPY_SCALAR_TYPES = frozenset(np.dtype(c).type for c in "?bBhHiIlLqQefdgFDG")


def unflatten_args(in_tree: PyTreeDef, leaves: Sequence[Any]) -> tuple[tuple, dict]:
    """``(args, kwargs)`` from the leaves :func:`flatten_args` gave."""
    if _flat_args_trees.get(len(leaves)) is in_tree:
        return tuple(leaves), {}
    return tree_unflatten(in_tree, leaves)


def _leaf_path(tree: PyTreeDef, index: int) -> tuple[Any, ...]:
    skeleton = tree_unflatten(tree, range(tree.num_leaves))
    paths, _ = tree_flatten_with_path(skeleton)
    return paths[index][0]


def argument_name(in_tree: PyTreeDef, index: int, args: str = "args") -> str:
    """How an error message names flat leaf `index` of an ``(args, kwargs)`` tree:
    ``args[0]['w']`` or ``kwargs['scale']`` (`args` renames the positional part)."""
    path = _leaf_path(in_tree, index)
    return (args if path[0] == 0 else "kwargs") + keystr(path[1:])


def output_name(out_tree: PyTreeDef, index: int) -> str:
    """How an error message names flat output `index`: ``output[1]['w']``, or
    ``output`` when the function returns a single array."""
    return "output" + keystr(_leaf_path(out_tree, index))


def normalize_argnums(argnums: int | Sequence[int], nargs: int, fname: str) -> tuple[int, ...]:
    if type(argnums) is int and 0 <= argnums < nargs:
        return (argnums,)
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    out = []
    for n in nums:
        if not isinstance(n, (int, np.integer)):
            raise TypeError(f"{fname}: argnums must be ints, got {n!r}")
        if not -nargs <= n < nargs:
            raise ValueError(f"{fname}: argnums={argnums} out of range for a call with "
                             f"{nargs} positional arguments")
        out.append(int(n) % nargs)
    return tuple(out)


def split_argnums(f: Callable[..., Any], args: Sequence[Any], argnums: tuple[int, ...],
                  kwargs: dict[str, Any]) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """`f` as a function of only the `argnums` arguments, the rest fixed."""
    args = tuple(args)
    if not kwargs and len(argnums) == len(args) and argnums == _all_argnums(len(args)):
        return f, args  # every argument is differentiated: nothing to fix

    def f_partial(*dyn: Any) -> Any:
        full = list(args)
        for i, x in zip(argnums, dyn):
            full[i] = x
        return f(*full, **kwargs)

    f_partial.__name__ = fun_name(f)
    return f_partial, tuple([args[i] for i in argnums])


@functools.cache
def _all_argnums(n: int) -> tuple[int, ...]:
    return tuple(range(n))


def partial_static(fun: Callable[..., Any], args: Sequence[Any], static: Sequence[int]
                   ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """`fun` with the static positional arguments fixed; also returns the dynamic ones."""
    if not static:
        return fun, tuple(args)
    nargs = len(args)
    static_pos = sorted({s % nargs for s in static if -nargs <= s < nargs})
    static_vals = {i: args[i] for i in static_pos}
    dyn = tuple(a for i, a in enumerate(args) if i not in static_vals)

    def f(*dyn_args: Any, **kwargs: Any) -> Any:
        it = iter(dyn_args)
        full = [static_vals[i] if i in static_vals else next(it) for i in range(nargs)]
        return fun(*full, **kwargs)

    f.__name__ = fun_name(fun)
    return f, dyn
