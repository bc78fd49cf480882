"""Pytrees: nested containers of arrays that every transformation accepts.

Containers are tuples, lists, dicts (flattened in sorted-key order, as JAX
does), ``None`` (an empty subtree), namedtuples, and any type registered with
:func:`register_pytree_node`, :func:`register_pytree_node_class` or
:func:`register_dataclass`. Everything else is a leaf.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Hashable, Iterable
from typing import Any, NamedTuple

__all__ = ["PyTreeDef", "tree_flatten", "tree_unflatten", "tree_leaves", "tree_structure",
           "tree_map", "tree_reduce", "tree_all", "tree_transpose", "register_pytree_node",
           "register_pytree_node_class", "register_dataclass", "treedef_is_leaf",
           "tree_flatten_with_path", "keystr"]


class _NodeType(NamedTuple):
    flatten: Callable[[Any], tuple[Iterable[Any], Hashable]]
    unflatten: Callable[[Hashable, Iterable[Any]], Any]


_registry: dict[type, _NodeType] = {}


def register_pytree_node(nodetype: type, flatten_func: Callable[[Any], tuple[Iterable[Any], Any]],
                         unflatten_func: Callable[[Any, Iterable[Any]], Any]) -> None:
    """Register a container type: ``flatten(x) -> (children, aux_data)`` and
    ``unflatten(aux_data, children) -> x``. ``aux_data`` must be hashable."""
    if nodetype in _registry:
        raise ValueError(f"register_pytree_node: {nodetype.__name__} is already registered")
    _registry[nodetype] = _NodeType(flatten_func, unflatten_func)


def register_pytree_node_class(cls: type) -> type:
    """Class decorator: the class defines ``tree_flatten`` and classmethod ``tree_unflatten``."""
    register_pytree_node(cls, lambda x: x.tree_flatten(), cls.tree_unflatten)
    return cls


def register_dataclass(cls: type, data_fields: list[str] | None = None,
                       meta_fields: list[str] | None = None) -> type:
    """Register a dataclass; `data_fields` are children (default: every field not
    in `meta_fields`), `meta_fields` are static, hashable metadata. Usable as a
    decorator."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"register_dataclass: {cls.__name__} is not a dataclass")
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    meta = list(meta_fields or [])
    data = list(data_fields) if data_fields is not None else [n for n in names if n not in meta]
    if sorted(data + meta) != sorted(names):
        raise ValueError(f"register_dataclass: data_fields {data} and meta_fields {meta} of "
                         f"{cls.__name__} must together name each init field {names} once")

    def flatten(x: Any) -> tuple[list[Any], tuple[Any, ...]]:
        return [getattr(x, n) for n in data], tuple(getattr(x, n) for n in meta)

    def unflatten(aux: tuple[Any, ...], children: Iterable[Any]) -> Any:
        return cls(**dict(zip(data, children)), **dict(zip(meta, aux)))

    register_pytree_node(cls, flatten, unflatten)
    return cls


def _dict_flatten(d: dict) -> tuple[list[Any], tuple[Any, ...]]:
    keys = tuple(sorted(d))
    return [d[k] for k in keys], keys


def _dict_unflatten(keys: tuple[Any, ...], children: Iterable[Any]) -> dict:
    return dict(zip(keys, children))


register_pytree_node(tuple, lambda t: (t, None), lambda _, c: tuple(c))
register_pytree_node(list, lambda t: (t, None), lambda _, c: list(c))
register_pytree_node(dict, _dict_flatten, _dict_unflatten)
register_pytree_node(type(None), lambda _: ((), None), lambda _, c: None)


def _node_type(x: Any) -> _NodeType | None:
    node = _registry.get(type(x))
    if node is None and isinstance(x, tuple) and hasattr(type(x), "_fields"):
        cls = type(x)
        node = _NodeType(lambda t: (tuple(t), None), lambda _, c, cls=cls: cls(*c))
    return node


class PyTreeDef:
    """The structure of a pytree: hashable, comparable, printable."""

    __slots__ = ("node_type", "node_data", "children", "num_leaves", "_hash")

    def __init__(self, node_type: type | None, node_data: Hashable,
                 children: tuple[PyTreeDef, ...]):
        self.node_type = node_type
        self.node_data = node_data
        self.children = children
        n = 0
        for c in children:
            n += c.num_leaves
        self.num_leaves = 1 if node_type is None else n
        self._hash: int | None = None

    @property
    def num_nodes(self) -> int:
        return 1 + sum(c.num_nodes for c in self.children)

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        return tree_unflatten(self, leaves)

    def __eq__(self, other: object) -> bool:
        return self is other or (
            isinstance(other, PyTreeDef) and self.node_type is other.node_type
            and self.num_leaves == other.num_leaves and self.node_data == other.node_data
            and self.children == other.children)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.node_type, self.node_data, self.children))
        return self._hash

    def __repr__(self) -> str:
        return f"PyTreeDef({self._pp()})"

    def _pp(self) -> str:
        if self.node_type is None:
            return "*"
        kids = [c._pp() for c in self.children]
        if self.node_type is tuple:
            return "(" + ", ".join(kids) + ("," if len(kids) == 1 else "") + ")"
        if self.node_type is list:
            return "[" + ", ".join(kids) + "]"
        if self.node_type is dict:
            return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(self.node_data, kids)) + "}"
        if self.node_type is type(None):
            return "None"
        return f"{self.node_type.__name__}({', '.join(kids)})"


_LEAF = PyTreeDef(None, None, ())


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                 ) -> tuple[list[Any], PyTreeDef]:
    """Leaves of `tree` in order, and its structure."""
    leaves: list[Any] = []
    treedef = _flatten(tree, leaves, is_leaf)
    return leaves, treedef


def _flatten(x: Any, leaves: list[Any], is_leaf: Callable[[Any], bool] | None) -> PyTreeDef:
    if is_leaf is not None and is_leaf(x):
        leaves.append(x)
        return _LEAF
    node = _registry.get(type(x))
    if node is None and isinstance(x, tuple):
        node = _node_type(x)
    if node is None:
        leaves.append(x)
        return _LEAF
    children, aux = node.flatten(x)
    kids = tuple(_flatten(c, leaves, is_leaf) for c in children)
    cls = type(x)
    return PyTreeDef(cls, (cls, aux) if cls not in _registry else aux, kids)


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a pytree of structure `treedef` from `leaves`."""
    it = iter(leaves)
    out = _unflatten(treedef, it)
    if next(it, _sentinel) is not _sentinel:
        raise ValueError(f"tree_unflatten: too many leaves for {treedef}")
    return out


_sentinel = object()


def _unflatten(treedef: PyTreeDef, it: Any) -> Any:
    if treedef.node_type is None:
        leaf = next(it, _sentinel)
        if leaf is _sentinel:
            raise ValueError(f"tree_unflatten: too few leaves for {treedef}")
        return leaf
    children = [_unflatten(c, it) for c in treedef.children]
    node_type = treedef.node_type
    node = _registry.get(node_type)
    if node is None:  # namedtuple
        return node_type(*children)
    return node.unflatten(treedef.node_data, children)


def tree_leaves(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> list[Any]:
    return tree_flatten(tree, is_leaf)[0]


def tree_structure(tree: Any, is_leaf: Callable[[Any], bool] | None = None) -> PyTreeDef:
    return tree_flatten(tree, is_leaf)[1]


def treedef_is_leaf(treedef: PyTreeDef) -> bool:
    return treedef.node_type is None


def tree_map(f: Callable[..., Any], tree: Any, *rest: Any,
             is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """Apply `f` leaf-wise; `rest` must have `tree`'s structure (or extend it)."""
    leaves, treedef = tree_flatten(tree, is_leaf)
    all_leaves = [leaves] + [_flatten_up_to(treedef, r) for r in rest]
    return tree_unflatten(treedef, [f(*xs) for xs in zip(*all_leaves)])


def _flatten_up_to(treedef: PyTreeDef, tree: Any) -> list[Any]:
    out: list[Any] = []
    _flatten_up_to_rec(treedef, tree, out)
    return out


def _flatten_up_to_rec(treedef: PyTreeDef, tree: Any, out: list[Any]) -> None:
    if treedef.node_type is None:
        out.append(tree)
        return
    node = _node_type(tree)
    if node is None or type(tree) is not treedef.node_type:
        raise ValueError(f"tree structure mismatch: expected {treedef}, got a "
                         f"{type(tree).__name__}")
    children, aux = node.flatten(tree)
    children = list(children)
    if type(tree) in _registry and aux != treedef.node_data:
        raise ValueError(f"tree structure mismatch: expected {treedef}, got {tree!r}")
    if len(children) != len(treedef.children):
        raise ValueError(f"tree structure mismatch: expected {treedef}, got {tree!r}")
    for c, sub in zip(children, treedef.children):
        _flatten_up_to_rec(sub, c, out)


def tree_reduce(f: Callable[[Any, Any], Any], tree: Any, *initializer: Any) -> Any:
    import functools

    return functools.reduce(f, tree_leaves(tree), *initializer)


def tree_all(tree: Any) -> bool:
    return all(tree_leaves(tree))


def tree_transpose(outer: PyTreeDef, inner: PyTreeDef, tree: Any) -> Any:
    """Turn a tree of structure outer(inner(...)) into inner(outer(...))."""
    flat = _flatten_up_to(outer, tree)
    inner_leaves = [_flatten_up_to(inner, x) for x in flat]
    regrouped = [tree_unflatten(outer, col) for col in zip(*inner_leaves)]
    return tree_unflatten(inner, regrouped)


def tree_flatten_with_path(tree: Any) -> tuple[list[tuple[tuple[Any, ...], Any]], PyTreeDef]:
    """Leaves with their key paths (tuple indices, dict keys, attribute names)."""
    out: list[tuple[tuple[Any, ...], Any]] = []

    def rec(x: Any, path: tuple[Any, ...]) -> None:
        node = _node_type(x)
        if node is None:
            out.append((path, x))
            return
        children, aux = node.flatten(x)
        children = list(children)
        if isinstance(x, dict):
            keys = list(aux)
        elif hasattr(type(x), "_fields"):
            keys = [f".{f}" for f in type(x)._fields]
        elif dataclasses.is_dataclass(x):
            keys = [f".{f.name}" for f in dataclasses.fields(x)][: len(children)]
        else:
            keys = list(range(len(children)))
        for k, c in zip(keys, children):
            rec(c, path + (k,))

    rec(tree, ())
    return out, tree_structure(tree)


def keystr(path: tuple[Any, ...]) -> str:
    return "".join(k if isinstance(k, str) and k.startswith(".") else f"[{k!r}]" for k in path)
