"""What every public transformation does at its boundary: flatten pytrees,
select ``argnums``, and check that values are arrays."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans import dtypes
from functrans.core.trace import Tracer
from functrans.tree_util import PyTreeDef, tree_flatten, tree_unflatten


def fun_name(f: Callable[..., Any]) -> str:
    return getattr(f, "__name__", None) or type(f).__name__


def check_leaf(x: Any, fname: str, what: str) -> None:
    if isinstance(x, (Tracer, np.ndarray, np.generic)) or dtypes.is_python_scalar(x):
        if isinstance(x, np.ndarray) and x.dtype.kind in "OUSV" and x.dtype != dtypes.float0:
            raise TypeError(f"{fname}: {what} is an array of dtype {x.dtype}; functrans "
                            "works with numeric and boolean arrays only.")
        return
    raise TypeError(f"{fname}: {what} is a {type(x).__name__} ({_short_repr(x)}), not an "
                    "array: functrans transformations take and return NumPy arrays, "
                    "Python scalars and pytrees (tuples, lists, dicts) of them.")


def _short_repr(x: Any) -> str:
    r = repr(x)
    return r if len(r) < 60 else r[:57] + "..."


def to_output(x: Any) -> Any:
    """A value as the transformations return it: 0-d arrays become NumPy scalars
    (as NumPy's own reductions return them) and read-only views (broadcasts) are
    copied, so results are ordinary, writable NumPy values."""
    if type(x) is np.ndarray:
        if x.ndim == 0 and x.dtype != dtypes.float0:
            return x[()]
        if not x.flags.writeable:
            return x.copy()
    return x


def outputs(xs: Any) -> list[Any]:
    return [to_output(x) for x in xs]


class FlatFun:
    """`f` as a function of flat leaves returning flat leaves; records the output tree."""

    __slots__ = ("f", "in_tree", "out_tree", "name")

    def __init__(self, f: Callable[..., Any], in_tree: PyTreeDef, name: str | None = None):
        self.f = f
        self.in_tree = in_tree
        self.out_tree: PyTreeDef | None = None
        self.name = name or fun_name(f)

    def __call__(self, *flat_args: Any) -> list[Any]:
        args, kwargs = tree_unflatten(self.in_tree, flat_args)
        out = self.f(*args, **kwargs)
        leaves, self.out_tree = tree_flatten(out)
        for leaf in leaves:
            check_leaf(leaf, self.name, "the function's output")
        return leaves


def flatten_args(args: Sequence[Any], kwargs: dict[str, Any] | None = None,
                 fname: str = "function") -> tuple[list[Any], PyTreeDef]:
    leaves, tree = tree_flatten((tuple(args), dict(kwargs or {})))
    for leaf in leaves:
        check_leaf(leaf, fname, "an argument")
    return leaves, tree


def normalize_argnums(argnums: int | Sequence[int], nargs: int, fname: str) -> tuple[int, ...]:
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

    def f_partial(*dyn: Any) -> Any:
        full = list(args)
        for i, x in zip(argnums, dyn):
            full[i] = x
        return f(*full, **kwargs)

    f_partial.__name__ = fun_name(f)
    return f_partial, tuple(args[i] for i in argnums)
