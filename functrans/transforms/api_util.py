"""What every public transformation does at its boundary: flatten pytrees,
select ``argnums``, and check that values are arrays."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from functrans import dtypes
from functrans.core.backend import foreign_backend
from functrans.core.trace import Tracer
from functrans.tree_util import (
    PyTreeDef,
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
    results = [to_output(x) for x in xs]
    if not any(type(x) is np.ndarray for x in results):  # scalars: nothing to share
        return results
    taken = _Buffers(inputs)
    return [taken.own(x) for x in results]


class _Buffers:
    """Arrays already handed out, by the array that owns their memory."""

    def __init__(self, arrays: Sequence[Any]):
        self.by_owner: dict[int, list[np.ndarray]] = {}
        for x in arrays:
            if isinstance(x, np.ndarray):
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
    while isinstance(x.base, np.ndarray):
        x = x.base
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
        if type(out) in _ARRAY_LEAVES:  # one array: the common case, without a walk
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
        tree = _flat_args_trees[n] = tree_flatten((tuple(range(n)), {}))[1]
    return tree


def flatten_args(args: Sequence[Any], kwargs: dict[str, Any] | None = None,
                 fname: str = "function") -> tuple[list[Any], PyTreeDef]:
    if not kwargs and all(type(a) in _ARRAY_LEAVES and not _is_bad_array(a) for a in args):
        return list(args), _flat_args_tree(len(args))
    leaves, tree = tree_flatten((tuple(args), dict(kwargs or {})))
    for leaf in leaves:
        check_leaf(leaf, fname, "an argument")
    return leaves, tree


def _is_bad_array(x: Any) -> bool:
    return type(x) is np.ndarray and x.dtype.kind in "OUSV"


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
    if not kwargs and len(argnums) == len(args) and argnums == tuple(range(len(args))):
        return f, args  # every argument is differentiated: nothing to fix

    def f_partial(*dyn: Any) -> Any:
        full = list(args)
        for i, x in zip(argnums, dyn):
            full[i] = x
        return f(*full, **kwargs)

    f_partial.__name__ = fun_name(f)
    return f_partial, tuple(args[i] for i in argnums)


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
