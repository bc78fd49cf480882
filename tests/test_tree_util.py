"""Pytrees."""

from __future__ import annotations

import collections
import dataclasses

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
