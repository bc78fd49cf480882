"""Pytrees."""

from __future__ import annotations

import collections
import dataclasses
import sys

import numpy as np
import pytest

from functrans import tree_util as tu

Point = collections.namedtuple("Point", ["x", "y"])


def test_flatten_unflatten_roundtrip():
    tree = {"b": [1, (2, None)], "a": Point(3, {"z": 4})}
    leaves, treedef = tu.tree_flatten(tree)
    assert leaves == [3, 4, 1, 2]  # dict keys sorted
    assert tu.tree_unflatten(treedef, leaves) == tree
    assert treedef.num_leaves == 4
    assert tu.tree_structure(tree) == treedef
    assert hash(tu.tree_structure(tree)) == hash(treedef)


def test_none_is_an_empty_subtree():
    assert tu.tree_leaves([None, 1, None]) == [1]


def test_tree_map_multiple_trees():
    out = tu.tree_map(lambda a, b: a + b, {"a": 1, "b": (2, 3)}, {"a": 10, "b": (20, 30)})
    assert out == {"a": 11, "b": (22, 33)}
    with pytest.raises(ValueError, match="mismatch"):
        tu.tree_map(lambda a, b: a, {"a": 1}, {"b": 1})


def test_register_pytree_node_and_dataclass():
    class Box:
        def __init__(self, v, tag):
            self.v, self.tag = v, tag

    tu.register_pytree_node(Box, lambda b: ((b.v,), b.tag), lambda tag, c: Box(c[0], tag))
    leaves, treedef = tu.tree_flatten(Box(np.ones(2), "t"))
    assert len(leaves) == 1
    rebuilt = tu.tree_unflatten(treedef, [5])
    assert rebuilt.v == 5 and rebuilt.tag == "t"

    @tu.register_dataclass
    @dataclasses.dataclass
    class Params:
        w: object
        b: object

    p = tu.tree_map(lambda x: x * 2, Params(1, 2))
    assert (p.w, p.b) == (2, 4)

    @dataclasses.dataclass
    class WithMeta:
        w: object
        name: str

    tu.register_dataclass(WithMeta, data_fields=["w"], meta_fields=["name"])
    leaves, treedef = tu.tree_flatten(WithMeta(1, "n"))
    assert leaves == [1] and tu.tree_unflatten(treedef, [7]) == WithMeta(7, "n")


def test_transpose_and_paths():
    tree = [{"a": 1, "b": 2}, {"a": 3, "b": 4}]
    out = tu.tree_transpose(tu.tree_structure([0, 0]), tu.tree_structure({"a": 0, "b": 0}),
                            tree)
    assert out == {"a": [1, 3], "b": [2, 4]}
    paths, _ = tu.tree_flatten_with_path({"a": [1, Point(2, 3)]})
    assert [tu.keystr(p) for p, _ in paths] == ["['a'][0]", "['a'][1].x", "['a'][1].y"]


# ------------------------------------------------------------------ deep nesting

DEEP = 5_000  # well past the recursion limit, so a recursive walk could not pass
KINDS = ["list", "tuple", "dict", "namedtuple", "mixed"]


def _chain(depth: int, kind: str) -> object:
    """`depth` nested containers, each holding its level number and the next one;
    "mixed" cycles through a list with a None in it, a tuple, a dict, a namedtuple."""
    kinds = ["list", "tuple", "dict", "namedtuple"]
    tree: object = "bottom"
    for level in range(depth):
        k = kinds[level % 4] if kind == "mixed" else kind
        if k == "list":
            tree = [level, None, tree] if kind == "mixed" else [level, tree]
        elif k == "tuple":
            tree = (level, tree)
        elif k == "dict":
            tree = {"next": tree, "level": level}
        else:
            tree = Point(level, tree)
    return tree


def _unchain(tree: object) -> tuple[list[tuple[type, object]], object]:
    """(container type, level) from the top of a `_chain` down, and its bottom:
    walked with a loop, independently of the library."""
    levels = []
    while type(tree) in (list, tuple, dict, Point):
        if type(tree) is dict:
            levels.append((dict, tree["level"]))
            tree = tree["next"]
        else:
            levels.append((type(tree), tree[0]))
            tree = tree[-1]
    return levels, tree


def _chain_leaves(depth: int) -> list[object]:
    # top level first; within a dict, "level" sorts before "next"
    return list(range(depth - 1, -1, -1)) + ["bottom"]


@pytest.mark.parametrize("kind", KINDS)
def test_deep_flatten_unflatten_map_roundtrip(kind):
    assert DEEP > sys.getrecursionlimit()
    tree = _chain(DEEP, kind)
    leaves, treedef = tu.tree_flatten(tree)
    assert leaves == _chain_leaves(DEEP)
    assert treedef.num_leaves == DEEP + 1
    assert treedef.num_nodes == (2 * DEEP + 1 + (DEEP // 4 if kind == "mixed" else 0))

    rebuilt = tu.tree_unflatten(treedef, leaves)
    assert _unchain(rebuilt) == _unchain(tree)

    summed = tu.tree_map(lambda a, b: a + b, tree, rebuilt)
    levels, bottom = _unchain(summed)
    assert levels == [(t, 2 * v) for t, v in _unchain(tree)[0]]
    assert bottom == "bottombottom"


def test_deep_is_leaf_stops_the_walk():
    chain = _chain(DEEP, "list")
    middle = DEEP // 2
    leaves = tu.tree_leaves(chain, is_leaf=lambda x: type(x) is list and x[0] == middle)
    assert leaves[:-1] == list(range(DEEP - 1, middle, -1))
    assert _unchain(leaves[-1]) == _unchain(_chain(middle + 1, "list"))


@pytest.mark.parametrize("kind", KINDS)
def test_deep_structures_compare_hash_and_print(kind):
    a, b = tu.tree_structure(_chain(DEEP, kind)), tu.tree_structure(_chain(DEEP, kind))
    assert a == b and hash(a) == hash(b)
    assert a != tu.tree_structure(_chain(DEEP - 1, kind))
    assert a != tu.tree_structure([_chain(DEEP - 1, kind)])
    assert tu.tree_structure(1) != a and a != tu.tree_structure(1)
    text = repr(a)
    assert text.startswith("PyTreeDef(") and text.count("*") == a.num_leaves


def test_deep_structures_differing_only_at_the_bottom():
    chain = _chain(DEEP, "list")
    a = tu.tree_structure(chain)
    b = tu.tree_structure(tu.tree_unflatten(a, tu.tree_leaves(chain)))
    c = tu.tree_structure(tu.tree_unflatten(a, [0] * (a.num_leaves - 1) + [(1, 2)]))
    assert a == b and hash(a) == hash(b)
    assert a != c and c != a and c.num_leaves == a.num_leaves + 1


@pytest.mark.parametrize("depth", [1, 62, 63, 64, 65, 66, 200])
def test_structures_around_the_recursion_cutoff(depth):
    # Equality and hashing recurse into shallow trees and walk deep ones with a
    # stack; both must agree whichever way a subtree was reached first.
    a, b = tu.tree_structure(_chain(depth, "list")), tu.tree_structure(_chain(depth, "list"))
    hash(b.children[1])  # b's subtree is hashed before b itself, a's is not
    assert a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    longer = tu.tree_structure(_chain(depth + 1, "list"))
    assert a != longer and longer != a
    assert len({a, longer}) == 2


def test_deep_transpose_and_paths():
    chain = _chain(DEEP, "tuple")
    outer = tu.tree_structure(chain)
    inner = tu.tree_structure({"a": 0, "b": 0})
    out = tu.tree_transpose(outer, inner, tu.tree_map(lambda x: {"a": x, "b": [x]}, chain))
    assert _unchain(out["a"]) == _unchain(chain)
    assert tu.tree_leaves(out["b"]) == tu.tree_leaves(chain)

    paths, _ = tu.tree_flatten_with_path(_chain(DEEP, "dict"))
    assert [leaf for _, leaf in paths] == _chain_leaves(DEEP)
    assert paths[-1][0] == ("next",) * DEEP
    assert paths[0][0] == ("level",)


def test_deep_mismatch_and_leaf_count_errors():
    chain = _chain(DEEP, "list")
    treedef = tu.tree_structure(chain)
    leaves = tu.tree_leaves(chain)
    with pytest.raises(ValueError, match="too few leaves"):
        tu.tree_unflatten(treedef, leaves[:-1])
    with pytest.raises(ValueError, match="too many leaves"):
        tu.tree_unflatten(treedef, leaves + [0])
    with pytest.raises(ValueError, match="mismatch"):
        tu.tree_map(lambda a, b: a, chain, _chain(DEEP, "tuple"))


# ------------------------------------------------------------------ dict keys

def test_dict_keys_of_one_orderable_type_are_sorted():
    assert tu.tree_leaves({3: "c", 1: "a", 2: "b"}) == ["a", "b", "c"]
    assert tu.tree_leaves({(1, "b"): 2, (1, "a"): 1}) == [1, 2]


@pytest.mark.parametrize("flatten", [tu.tree_flatten, tu.tree_leaves, tu.tree_structure,
                                     lambda t: tu.tree_map(lambda x: x, t),
                                     tu.tree_flatten_with_path])
def test_dict_keys_that_cannot_be_sorted(flatten):
    # JAX sorts dict keys and raises a ValueError when they cannot be compared.
    with pytest.raises(ValueError, match=r"tree_flatten: cannot sort the keys of a dict "
                                         r"\(key types: int, str\).*one orderable type"):
        flatten({"x": [{1: 1.0, "b": 2.0}]})


def test_dict_keys_of_one_unorderable_type():
    class Key:
        pass

    with pytest.raises(ValueError, match=r"key types: Key\)"):
        tu.tree_flatten({Key(): 1, Key(): 2})
    assert tu.tree_leaves({Key(): 1}) == [1]  # a single key needs no ordering
