"""``functrans.tree``: the short names of :mod:`functrans.tree_util`, as ``jax.tree``.

    import functrans as ft
    ft.tree.map(lambda x: 2 * x, {"w": w, "b": b})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from functrans import tree_util
from functrans.tree_util import PyTreeDef

__all__ = ["map", "flatten", "leaves", "unflatten", "structure", "reduce", "all", "transpose",
           "map_with_path", "leaves_with_path", "flatten_with_path", "broadcast"]

IsLeaf = Callable[[Any], bool] | None


def map(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: IsLeaf = None) -> Any:  # noqa: A001
    """``f`` applied leaf-wise; each of `rest` must have `tree`'s structure or extend it."""
    return tree_util.tree_map(f, tree, *rest, is_leaf=is_leaf)


def flatten(tree: Any, is_leaf: IsLeaf = None) -> tuple[list[Any], PyTreeDef]:
    """The leaves of `tree`, left to right, and its structure."""
    return tree_util.tree_flatten(tree, is_leaf)


def leaves(tree: Any, is_leaf: IsLeaf = None) -> list[Any]:
    """The leaves of `tree`, left to right."""
    return tree_util.tree_leaves(tree, is_leaf)


def unflatten(treedef: PyTreeDef, leaves: Any) -> Any:
    """The pytree of structure `treedef` holding `leaves`."""
    return tree_util.tree_unflatten(treedef, leaves)


def structure(tree: Any, is_leaf: IsLeaf = None) -> PyTreeDef:
    """The structure of `tree`."""
    return tree_util.tree_structure(tree, is_leaf)


def reduce(f: Callable[[Any, Any], Any], tree: Any, *initializer: Any) -> Any:
    """``functools.reduce(f, leaves(tree), *initializer)``."""
    return tree_util.tree_reduce(f, tree, *initializer)


def all(tree: Any) -> bool:  # noqa: A001
    """Whether every leaf of `tree` is truthy."""
    return tree_util.tree_all(tree)


def transpose(outer_treedef: PyTreeDef, inner_treedef: PyTreeDef, pytree_to_transpose: Any) -> Any:
    """A tree of structure outer(inner) turned into inner(outer)."""
    return tree_util.tree_transpose(outer_treedef, inner_treedef, pytree_to_transpose)


def map_with_path(f: Callable[..., Any], tree: Any, *rest: Any, is_leaf: IsLeaf = None) -> Any:
    """``f(key_path, leaf, *rest_leaves)`` applied leaf-wise."""
    return tree_util.tree_map_with_path(f, tree, *rest, is_leaf=is_leaf)


def leaves_with_path(tree: Any, is_leaf: IsLeaf = None) -> list[tuple[tuple[Any, ...], Any]]:
    """``(key_path, leaf)`` pairs; key paths are tuples of key objects."""
    return tree_util.tree_leaves_with_path(tree, is_leaf)


def flatten_with_path(tree: Any, is_leaf: IsLeaf = None
                      ) -> tuple[list[tuple[tuple[Any, ...], Any]], PyTreeDef]:
    """``(key_path, leaf)`` pairs and the structure of `tree`."""
    return tree_util.tree_flatten_with_keys(tree, is_leaf)


def broadcast(prefix_tree: Any, full_tree: Any, is_leaf: IsLeaf = None) -> Any:
    """`prefix_tree` with each leaf repeated over the matching subtree of `full_tree`."""
    return tree_util.tree_broadcast(prefix_tree, full_tree, is_leaf)


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
