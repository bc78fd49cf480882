"""Pytrees: nested containers of arrays that every transformation accepts.

Containers are tuples, lists, dicts (flattened in sorted-key order, as JAX
does, so their keys must be mutually orderable), ``None`` (an empty subtree),
namedtuples, and any type registered with :func:`register_pytree_node`,
:func:`register_pytree_node_class` or :func:`register_dataclass`. Everything
else is a leaf. Nesting depth is limited by memory, not by the recursion limit.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

__all__ = ["PyTreeDef", "tree_flatten", "tree_unflatten", "tree_leaves", "tree_structure",
           "tree_map", "tree_reduce", "tree_all", "tree_transpose", "register_pytree_node",
           "register_pytree_node_class", "register_dataclass", "treedef_is_leaf",
           "tree_flatten_with_path", "keystr", "tree_leaves_with_path", "tree_map_with_path",
           "tree_broadcast", "treedef_children", "tree_flatten_with_keys",
           "register_pytree_with_keys", "register_static",
           "Partial", "GetAttrKey", "SequenceKey", "DictKey", "FlattenedIndexKey"]


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

    def flatten_with_keys(x: Any) -> tuple[list[tuple[Any, Any]], tuple[Any, ...]]:
        return [(GetAttrKey(n), getattr(x, n)) for n in data], tuple(getattr(x, n) for n in meta)

    register_pytree_with_keys(cls, flatten_with_keys, unflatten, flatten)
    return cls


def _dict_flatten(d: dict) -> tuple[list[Any], tuple[Any, ...]]:
    keys = _sorted_keys(d)
    return [d[k] for k in keys], keys


def _sorted_keys(d: dict) -> tuple[Any, ...]:
    """The keys of `d` in sorted order, which makes equal dicts flatten alike whatever
    their insertion order. Like JAX, refuse keys that cannot be ordered rather than
    fall back to an order that would differ between equal dicts."""
    try:
        return tuple(sorted(d))
    except TypeError as e:
        kinds = ", ".join(sorted({type(k).__name__ for k in d}))
        raise ValueError(
            f"tree_flatten: cannot sort the keys of a dict (key types: {kinds}): {e}. "
            "Pytrees flatten dicts in sorted-key order, as JAX does, so a dict's keys must "
            "be mutually orderable: use keys of one orderable type (e.g. all str or all "
            "int), or register a custom container with register_pytree_node.") from e


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


# Every walk below either keeps its own stack or recurses only into trees of
# height below _SHALLOW, so that the depth of a pytree is bounded by memory, not by
# the interpreter's recursion limit. Recursing into shallow trees keeps the common
# case at the speed of C-level tuple comparison and hashing.
_SHALLOW = 64


class PyTreeDef:
    """The structure of a pytree: hashable, comparable, printable."""

    __slots__ = ("node_type", "node_data", "children", "num_leaves", "_height", "_hash",
                 "_compiled")

    def __init__(self, node_type: type | None, node_data: Hashable,
                 children: tuple[PyTreeDef, ...]):
        self.node_type = node_type
        self.node_data = node_data
        self.children = children
        leaves = height = 0
        for c in children:
            leaves += c.num_leaves
            if c._height >= height:
                height = c._height + 1
        self.num_leaves = 1 if node_type is None else leaves
        self._height = height
        self._hash: int | None = None
        #: its CompiledTreeDef once compile_treedef made one, False where none can be
        self._compiled: CompiledTreeDef | bool | None = None

    @property
    def num_nodes(self) -> int:
        count, pending = 0, [self]
        while pending:
            count += 1
            pending.extend(pending.pop().children)
        return count

    def unflatten(self, leaves: Iterable[Any]) -> Any:
        return tree_unflatten(self, leaves)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, PyTreeDef):
            return False
        if self._height < _SHALLOW:
            # the tuple comparison recurses at most self._height levels
            return (self.node_type is other.node_type and self.num_leaves == other.num_leaves
                    and self.node_data == other.node_data and self.children == other.children)
        return _equal_deep(self, other)

    def __hash__(self) -> int:
        if self._hash is None:
            # hashing the children tuple recurses at most self._height levels
            self._hash = (hash((self.node_type, self.node_data, self.children))
                          if self._height < _SHALLOW else _hash_deep(self))
        return self._hash

    def __repr__(self) -> str:
        return f"PyTreeDef({_build(self, itertools.repeat('*'), _pp_node)})"


def _equal_deep(a: PyTreeDef, b: PyTreeDef) -> bool:
    pairs = [(a, b)]
    while pairs:
        a, b = pairs.pop()
        if (a.node_type is not b.node_type or a.num_leaves != b.num_leaves
                or a.node_data != b.node_data or len(a.children) != len(b.children)):
            return False
        pairs.extend((x, y) for x, y in zip(a.children, b.children) if x is not y)
    return True


def _hash_deep(treedef: PyTreeDef) -> int:
    # Children before parents, so hashing a node's children tuple only reads their
    # cached hashes instead of recursing.
    unhashed, pending = [], [treedef]
    while pending:
        node = pending.pop()
        unhashed.append(node)
        pending.extend(c for c in node.children if c._hash is None)
    for node in reversed(unhashed):
        node._hash = hash((node.node_type, node.node_data, node.children))
    return hash(treedef)


def _pp_node(treedef: PyTreeDef, kids: list[str]) -> str:
    node_type = treedef.node_type
    if node_type is tuple:
        return "(" + ", ".join(kids) + ("," if len(kids) == 1 else "") + ")"
    if node_type is list:
        return "[" + ", ".join(kids) + "]"
    if node_type is dict:
        return "{" + ", ".join(f"{k!r}: {c}" for k, c in zip(treedef.node_data, kids)) + "}"
    if node_type is type(None):
        return "None"
    return f"{node_type.__name__}({', '.join(kids)})"


def _build(treedef: PyTreeDef, leaves: Iterator[Any],
           on_node: Callable[[PyTreeDef, list[Any]], Any]) -> Any:
    """Post-order: each leaf of `treedef` takes the next of `leaves`, left to right,
    and each inner node becomes ``on_node(node, the values of its children)``."""
    if treedef.node_type is None:
        leaf = next(leaves, _sentinel)
        if leaf is _sentinel:
            raise _too_few_leaves(treedef)
        return leaf
    # Each frame: a node, the iterator over its children, their values so far.
    frames: list[tuple[PyTreeDef, Iterator[PyTreeDef], list[Any]]] = []
    node, kids, values = treedef, iter(treedef.children), []
    while True:
        for child in kids:
            if child.node_type is None:
                leaf = next(leaves, _sentinel)
                if leaf is _sentinel:
                    raise _too_few_leaves(treedef)
                values.append(leaf)
                continue
            frames.append((node, kids, values))
            node, kids, values = child, iter(child.children), []
            break
        else:
            value = on_node(node, values)
            if not frames:
                return value
            node, kids, values = frames.pop()
            values.append(value)


def _too_few_leaves(treedef: PyTreeDef) -> ValueError:
    return ValueError(f"tree_unflatten: too few leaves for {treedef}")


_sentinel = object()
_LEAF = PyTreeDef(None, None, ())


def tree_flatten(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                 ) -> tuple[list[Any], PyTreeDef]:
    """Leaves of `tree` in order, and its structure."""
    leaves: list[Any] = []
    if is_leaf is None:
        treedef = _flatten_shallow(tree, leaves, _SHALLOW)
    else:
        treedef = _flatten(tree, leaves, is_leaf)
    return leaves, treedef


def _flatten_shallow(tree: Any, leaves: list[Any], depth: int) -> PyTreeDef:
    """`_flatten` without `is_leaf`, recursing: the common shallow tree of tuples,
    lists and dicts costs one call per container. Below `depth` levels the rest of
    a subtree goes to the iterative walk, which no recursion limit stops."""
    cls = type(tree)
    node = _registry.get(cls)
    if node is None:
        if not isinstance(tree, tuple) or (node := _node_type(tree)) is None:
            leaves.append(tree)
            return _LEAF
    if not depth:
        return _flatten(tree, leaves, None)
    if cls is tuple or cls is list:  # built in, never re-registered
        children, aux = tree, None
    else:
        children, aux = node.flatten(tree)
    treedefs = []
    for child in children:
        if type(child) in _registry or isinstance(child, tuple):
            treedefs.append(_flatten_shallow(child, leaves, depth - 1))
        else:  # a leaf, handled inline
            leaves.append(child)
            treedefs.append(_LEAF)
    # namedtuples are not in the registry: their class rides in node_data
    data = aux if cls in _registry else (cls, aux)
    return PyTreeDef(cls, data, tuple(treedefs))


def _flatten(tree: Any, leaves: list[Any], is_leaf: Callable[[Any], bool] | None) -> PyTreeDef:
    node = _container(tree, is_leaf)
    if node is None:
        leaves.append(tree)
        return _LEAF
    # Each frame: a container's type, its aux data, the iterator over its children
    # and the treedefs of the children seen so far. Leaves are handled inline (no
    # frame), which keeps the common shallow tree as fast as a recursive walk.
    frames: list[tuple[type, Any, Iterator[Any], list[PyTreeDef]]] = []
    children, aux = node.flatten(tree)
    cls, kids, treedefs = type(tree), iter(children), []
    while True:
        for child in kids:
            node = _container(child, is_leaf)
            if node is None:
                leaves.append(child)
                treedefs.append(_LEAF)
                continue
            frames.append((cls, aux, kids, treedefs))
            children, aux = node.flatten(child)
            cls, kids, treedefs = type(child), iter(children), []
            break
        else:
            # namedtuples are not in the registry: their class rides in node_data
            data = aux if cls in _registry else (cls, aux)
            treedef = PyTreeDef(cls, data, tuple(treedefs))
            if not frames:
                return treedef
            cls, aux, kids, treedefs = frames.pop()
            treedefs.append(treedef)


def _container(x: Any, is_leaf: Callable[[Any], bool] | None) -> _NodeType | None:
    """How to flatten `x`, or None when `x` is a leaf."""
    if is_leaf is not None and is_leaf(x):
        return None
    node = _registry.get(type(x))
    if node is None and isinstance(x, tuple):
        node = _node_type(x)
    return node


def tree_unflatten(treedef: PyTreeDef, leaves: Iterable[Any]) -> Any:
    """Rebuild a pytree of structure `treedef` from `leaves`."""
    compiled = treedef._compiled
    if (compiled and type(leaves) in (list, tuple)
            and len(leaves) == treedef.num_leaves):  # type: ignore[arg-type]
        return compiled.unflatten(leaves)  # type: ignore[union-attr]
    it = iter(leaves)
    if treedef._height < _SHALLOW and treedef.node_type is not None:
        out = _build_shallow(treedef, it, treedef)
    else:
        out = _build(treedef, it, _build_node)
    if next(it, _sentinel) is not _sentinel:
        raise ValueError(f"tree_unflatten: too many leaves for {treedef}")
    return out


def _build_shallow(treedef: PyTreeDef, leaves: Iterator[Any], root: PyTreeDef) -> Any:
    """`_build` with `_build_node`, recursing: for trees below _SHALLOW levels."""
    children = []
    for child in treedef.children:
        if child.node_type is None:
            leaf = next(leaves, _sentinel)
            if leaf is _sentinel:
                raise _too_few_leaves(root)
            children.append(leaf)
        else:
            children.append(_build_shallow(child, leaves, root))
    return _build_node(treedef, children)


def _build_node(treedef: PyTreeDef, children: list[Any]) -> Any:
    node_type = treedef.node_type
    if node_type is tuple:  # built in, never re-registered
        return tuple(children)
    node = _registry.get(node_type)
    if node is None:  # namedtuple
        return node_type(*children)
    return node.unflatten(treedef.node_data, children)


# ---------------------------------------------------------------- compiled structures
#
# A transformation called again and again (grad in a training loop) takes arguments
# of one structure apart and builds trees of it on every call. For a structure made
# of tuples, lists, dicts, None and namedtuples, compile_treedef generates two
# straight-line functions: one that takes a tree apart if it has this structure
# (checking every container, as tree_flatten would see it), and one that builds a
# tree from its leaves. Each costs about one Python call, where the walks above cost
# one per container. Other containers run the user's flatten functions, whose
# results may change from call to call: those structures are not compiled.

#: generated code grows with the tree; nested displays with its height (the parser
#: allows 200 nested brackets)
_MAX_COMPILED_SIZE = 2000
_MAX_COMPILED_HEIGHT = 32


class CompiledTreeDef:
    """Generated code for one structure: see :func:`compile_treedef`."""

    __slots__ = ("treedef", "flatten", "unflatten", "source")

    def __init__(self, treedef: PyTreeDef, flatten: Callable[[Any], list[Any] | None],
                 unflatten: Callable[[Sequence[Any]], Any], source: str):
        self.treedef = treedef
        #: ``flatten(tree)``: the leaves of `tree` when it has exactly this structure
        #: (the same containers, dicts with the same keys, a leaf wherever the
        #: structure has one), else None
        self.flatten = flatten
        #: ``unflatten(leaves)``: ``tree_unflatten(treedef, leaves)`` for a list or tuple
        #: of exactly ``treedef.num_leaves`` leaves
        self.unflatten = unflatten
        self.source = source


def compile_treedef(treedef: PyTreeDef) -> CompiledTreeDef | None:
    """The generated flatten and unflatten of `treedef` (made once and kept on it, after
    which :func:`tree_unflatten` uses it too), or None for a structure with containers
    other than tuples, lists, dicts with str keys, None and namedtuples, or too large
    to be worth it."""
    compiled = treedef._compiled
    if compiled is None:
        compiled = treedef._compiled = _compile(treedef) or False
    return compiled or None


def _compile(treedef: PyTreeDef) -> CompiledTreeDef | None:
    if treedef._height > _MAX_COMPILED_HEIGHT or not _compilable(treedef):
        return None
    namespace: dict[str, Any] = {"_registry": _registry}
    flatten_lines: list[str] = []
    leaf_names: list[str] = []
    _flatten_lines(treedef, "x0", flatten_lines, leaf_names, namespace)
    source = "\n    ".join(
        ["def flatten(x0):", "try:"] + ["    " + line for line in flatten_lines]
        + ["except (ValueError, KeyError):  # unpacking the wrong number of children",
           "    return None", f"return [{', '.join(leaf_names)}]"])
    leaves = iter(f"l{k}" for k in range(treedef.num_leaves))
    body = _build_expression(treedef, leaves, namespace)
    unpack = f"{', '.join(f'l{k}' for k in range(treedef.num_leaves))}, = leaves\n    "
    source += ("\n\n\ndef unflatten(leaves):\n    " + (unpack if treedef.num_leaves else "")
               + f"return {body}\n")
    exec(compile(source, f"<pytree structure {_short(treedef)}>", "exec"), namespace)
    return CompiledTreeDef(treedef, namespace["flatten"], namespace["unflatten"], source)


def _compilable(treedef: PyTreeDef) -> bool:
    """Whether `treedef` holds only built-in containers (dicts with str keys) and
    namedtuples, and not too many nodes."""
    pending, size = [treedef], 0
    while pending:
        node = pending.pop()
        size += 1
        if size > _MAX_COMPILED_SIZE:
            return False
        node_type = node.node_type
        if node_type is dict and not all(type(key) is str for key in node.node_data):
            # equal keys of other types need not be alike (1, 1.0, True): a dict with
            # any of them would be rebuilt with the compiled one's
            return False
        if node_type is not None and not (node_type in _BUILT_IN_NODES
                                          or _is_namedtuple_node(node)):
            return False
        pending.extend(node.children)
    return True


_BUILT_IN_NODES = frozenset({tuple, list, dict, type(None)})


def _is_namedtuple_node(node: PyTreeDef) -> bool:
    return (node.node_type not in _registry and issubclass(node.node_type, tuple)
            and node.node_data == (node.node_type, None))


def _constant(namespace: dict[str, Any], value: Any) -> str:
    """A name of the generated code's namespace bound to `value`."""
    name = f"c{len(namespace)}"
    namespace[name] = value
    return name


def _flatten_lines(node: PyTreeDef, var: str, lines: list[str], leaf_names: list[str],
                   namespace: dict[str, Any]) -> None:
    """Statements checking that `var` has the structure `node` and naming its parts
    (recursing at most _MAX_COMPILED_HEIGHT levels)."""
    node_type = node.node_type
    if node_type is None:  # whatever tree_flatten would not take apart (see _node_type)
        lines.append(f"if type({var}) in _registry or isinstance({var}, tuple) and "
                     f"hasattr(type({var}), '_fields'): return None")
        leaf_names.append(var)
        return
    kids = [f"{var}_{k}" for k in range(len(node.children))]
    if node_type is type(None):
        lines.append(f"if {var} is not None: return None")
    elif node_type is dict:
        lines.append(f"if type({var}) is not dict or len({var}) != {len(kids)}: return None")
        lines.extend(f"{kid} = {var}[{_constant(namespace, key)}]"
                     for kid, key in zip(kids, node.node_data))
    else:
        if node_type is tuple or node_type is list:
            lines.append(f"if type({var}) is not {node_type.__name__}: return None")
        else:  # a namedtuple, unless its class was registered since
            cls = _constant(namespace, node_type)
            lines.append(f"if type({var}) is not {cls} or {cls} in _registry: return None")
        lines.append(f"{', '.join(kids)}, = {var}" if kids else f"if {var}: return None")
    for child, kid in zip(node.children, kids):
        _flatten_lines(child, kid, lines, leaf_names, namespace)


def _build_expression(node: PyTreeDef, leaves: Iterator[str], namespace: dict[str, Any]) -> str:
    """An expression building a tree of structure `node` from the named leaves."""
    node_type = node.node_type
    if node_type is None:
        return next(leaves)
    kids = [_build_expression(child, leaves, namespace) for child in node.children]
    if node_type is tuple:
        return "(" + "".join(kid + ", " for kid in kids) + ")"
    if node_type is list:
        return "[" + ", ".join(kids) + "]"
    if node_type is dict:  # sorted-key order, as _dict_unflatten builds it
        return "{" + ", ".join(f"{_constant(namespace, key)}: {kid}"
                               for key, kid in zip(node.node_data, kids)) + "}"
    if node_type is type(None):
        return "None"
    return f"{_constant(namespace, node_type)}({', '.join(kids)})"


def _short(treedef: PyTreeDef) -> str:
    text = repr(treedef)
    return text if len(text) < 80 else text[:77] + "..."


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
    """The subtrees of `tree` at the leaves of `treedef`, which `tree` must extend."""
    out: list[Any] = []
    # A stack of iterators over (expected structure, subtree) pairs: the innermost
    # one is resumed when a container is done.
    frames: list[Iterator[tuple[PyTreeDef, Any]]] = []
    pairs: Iterator[tuple[PyTreeDef, Any]] = iter(((treedef, tree),))
    while True:
        for expected, sub in pairs:
            if expected.node_type is None:
                out.append(sub)
                continue
            frames.append(pairs)
            pairs = zip(expected.children, _children_matching(expected, sub))
            break
        else:
            if not frames:
                return out
            pairs = frames.pop()


def _children_matching(treedef: PyTreeDef, tree: Any) -> list[Any]:
    """The children of `tree`, which must be a node of the kind `treedef` describes."""
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
    return children


def tree_reduce(f: Callable[[Any, Any], Any], tree: Any, *initializer: Any) -> Any:
    """``functools.reduce(f, tree_leaves(tree), *initializer)``."""
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
    pending: list[tuple[tuple[Any, ...], Any]] = [((), tree)]
    while pending:
        path, x = pending.pop()
        node = _node_type(x)
        if node is None:
            out.append((path, x))
            continue
        children, aux = node.flatten(x)
        children = list(children)
        keys = _child_keys(x, aux, len(children))
        pending.extend(reversed([(path + (k,), c) for k, c in zip(keys, children)]))
    return out, tree_structure(tree)


def _child_keys(x: Any, aux: Any, num_children: int) -> list[Any]:
    if isinstance(x, dict):
        return list(aux)
    if hasattr(type(x), "_fields"):
        return [f".{f}" for f in type(x)._fields]
    if dataclasses.is_dataclass(x):
        return [f".{f.name}" for f in dataclasses.fields(x)][:num_children]
    return list(range(num_children))


def keystr(path: tuple[Any, ...]) -> str:
    """A path as Python would index it: ``['a'][0].x``. Accepts key objects
    (:class:`DictKey`, :class:`SequenceKey`, ...) and the plain entries of
    :func:`tree_flatten_with_path`."""
    return "".join(_key_text(k) for k in path)


def _key_text(key: Any) -> str:
    if isinstance(key, (GetAttrKey, SequenceKey, DictKey, FlattenedIndexKey)):
        return str(key)
    return key if isinstance(key, str) and key.startswith(".") else f"[{key!r}]"


# Key objects name one step of a path, as JAX's do: each prints as the Python
# syntax that takes that step.

@dataclasses.dataclass(frozen=True)
class GetAttrKey:
    """The attribute `name` of a namedtuple, dataclass or registered class."""
    name: str

    def __str__(self) -> str:
        return f".{self.name}"


@dataclasses.dataclass(frozen=True)
class SequenceKey:
    """Position `idx` in a tuple or list."""
    idx: int

    def __str__(self) -> str:
        return f"[{self.idx!r}]"


@dataclasses.dataclass(frozen=True)
class DictKey:
    """Key `key` of a dict."""
    key: Hashable

    def __str__(self) -> str:
        return f"[{self.key!r}]"


@dataclasses.dataclass(frozen=True)
class FlattenedIndexKey:
    """Child number `key` of a registered container that names no keys itself."""
    key: int

    def __str__(self) -> str:
        return f"[<flat index {self.key}>]"


KeyPath = tuple[Any, ...]

# Containers registered with register_pytree_with_keys: their own key-flatten.
_keyed_flatten: dict[type, Callable[[Any], tuple[Iterable[tuple[Any, Any]], Hashable]]] = {}


def register_pytree_with_keys(
        nodetype: type,
        flatten_with_keys: Callable[[Any], tuple[Iterable[tuple[Any, Any]], Hashable]],
        unflatten_func: Callable[[Any, Iterable[Any]], Any],
        flatten_func: Callable[[Any], tuple[Iterable[Any], Hashable]] | None = None) -> None:
    """Register a container whose children have names: ``flatten_with_keys(x) ->
    ([(key, child), ...], aux_data)``. `flatten_func` (children without keys) is
    derived from it when not given."""
    if flatten_func is None:
        def flatten_func(x: Any) -> tuple[list[Any], Hashable]:
            keyed, aux = flatten_with_keys(x)
            return [child for _, child in keyed], aux
    register_pytree_node(nodetype, flatten_func, unflatten_func)
    _keyed_flatten[nodetype] = flatten_with_keys


def register_static(cls: type) -> type:
    """Register `cls` as a container with no children: its instances (which must be
    hashable) ride in the tree structure, so transformations treat them as static.
    Usable as a decorator."""
    register_pytree_node(cls, lambda x: ((), x), lambda x, _: x)
    return cls


def _keyed_children(x: Any, node: _NodeType) -> tuple[list[tuple[Any, Any]], Any]:
    cls = type(x)
    if cls in _keyed_flatten:
        keyed, aux = _keyed_flatten[cls](x)
        return list(keyed), aux
    children, aux = node.flatten(x)
    children = list(children)
    if isinstance(x, dict):
        keys: list[Any] = [DictKey(k) for k in aux]
    elif isinstance(x, (list, tuple)) and not hasattr(cls, "_fields"):
        keys = [SequenceKey(i) for i in range(len(children))]
    elif hasattr(cls, "_fields"):
        keys = [GetAttrKey(f) for f in cls._fields]
    else:
        keys = [FlattenedIndexKey(i) for i in range(len(children))]
    return list(zip(keys, children)), aux


def _leaves_with_keys(tree: Any, is_leaf: Callable[[Any], bool] | None
                      ) -> list[tuple[KeyPath, Any]]:
    out: list[tuple[KeyPath, Any]] = []
    pending: list[tuple[KeyPath, Any]] = [((), tree)]
    while pending:
        path, x = pending.pop()
        node = _container(x, is_leaf)
        if node is None:
            out.append((path, x))
            continue
        keyed, _ = _keyed_children(x, node)
        pending.extend(reversed([(path + (k,), c) for k, c in keyed]))
    return out


def tree_leaves_with_path(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                          ) -> list[tuple[KeyPath, Any]]:
    """``(key path, leaf)`` pairs, in leaf order. Paths are tuples of key objects
    (:class:`DictKey`, :class:`SequenceKey`, :class:`GetAttrKey`,
    :class:`FlattenedIndexKey`), as in JAX."""
    return _leaves_with_keys(tree, is_leaf)


def tree_flatten_with_keys(tree: Any, is_leaf: Callable[[Any], bool] | None = None
                           ) -> tuple[list[tuple[KeyPath, Any]], PyTreeDef]:
    """JAX's ``tree_flatten_with_path``: leaves with key-object paths, and the
    structure. (This module's :func:`tree_flatten_with_path` keeps plain entries,
    which error messages elsewhere read.)"""
    return _leaves_with_keys(tree, is_leaf), tree_structure(tree, is_leaf)


def tree_map_with_path(f: Callable[..., Any], tree: Any, *rest: Any,
                       is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """``f(path, leaf, *leaves_of_rest)`` leaf-wise; `rest` must have `tree`'s
    structure (or extend it)."""
    keyed, treedef = tree_flatten_with_keys(tree, is_leaf)
    others = [_flatten_up_to(treedef, r) for r in rest]
    outs = [f(path, leaf, *xs) for (path, leaf), *xs in zip(keyed, *others)]
    return tree_unflatten(treedef, outs)


def tree_broadcast(prefix_tree: Any, full_tree: Any,
                   is_leaf: Callable[[Any], bool] | None = None) -> Any:
    """`prefix_tree` with each leaf repeated over the subtree of `full_tree` it
    stands for, so that the result has `full_tree`'s structure."""
    prefix_leaves, prefix_def = tree_flatten(prefix_tree, is_leaf)
    subtrees = _flatten_up_to(prefix_def, full_tree)
    expanded = [tree_map(lambda _, v=value: v, sub, is_leaf=is_leaf)
                for value, sub in zip(prefix_leaves, subtrees)]
    return tree_unflatten(prefix_def, expanded)


def treedef_children(treedef: PyTreeDef) -> list[PyTreeDef]:
    """The structures of the children of the root of `treedef`."""
    return list(treedef.children)


class Partial(functools.partial):
    """A ``functools.partial`` that is a pytree: the bound arguments are its
    children and the function is static, so it can be passed through jit, vmap
    and grad (whose derivatives then flow into the bound arrays)."""

    def __new__(cls, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Partial:
        # Flatten nested Partials, as functools.partial does, but keep the class.
        if isinstance(func, functools.partial):
            args = func.args + args
            kwargs = {**func.keywords, **kwargs}
            func = func.func
        return super().__new__(cls, func, *args, **kwargs)


register_pytree_node(
    Partial,
    lambda p: ((p.args, p.keywords), p.func),
    lambda func, children: Partial(func, *children[0], **children[1]))


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
