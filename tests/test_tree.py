"""functrans.tree, the keyed tree_util additions, and flatten_util.ravel_pytree."""

import dataclasses
from collections import namedtuple

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import tree_util as tu
from functrans.flatten_util import ravel_pytree
from functrans.test_util import check_grads

Point = namedtuple("Point", "x y")
TREE = {"b": [1.0, Point(2.0, 3.0)], "a": (4.0, None)}


def test_short_names_match_tree_util():
    leaves, treedef = ft.tree.flatten(TREE)
    assert leaves == [4.0, 1.0, 2.0, 3.0]
    assert ft.tree.leaves(TREE) == leaves
    assert ft.tree.structure(TREE) == treedef
    assert ft.tree.unflatten(treedef, leaves) == TREE
    assert ft.tree.map(lambda x, y: x + y, TREE, TREE) == tu.tree_map(lambda x: 2 * x, TREE)
    assert ft.tree.reduce(lambda a, b: a + b, TREE, 0.0) == 10.0
    assert ft.tree.all([1, (2, True)]) and not ft.tree.all([1, (0, True)])
    outer, inner = ft.tree.structure([0, 0]), ft.tree.structure((0, 0, 0))
    assert ft.tree.transpose(outer, inner, [(1, 2, 3), (4, 5, 6)]) == ([1, 4], [2, 5], [3, 6])
    assert set(dir(ft.tree)) == set(ft.tree.__all__)


def test_key_paths_name_each_step_as_jax():
    paths = [p for p, _ in ft.tree.leaves_with_path(TREE)]
    assert paths[0] == (tu.DictKey("a"), tu.SequenceKey(0))
    assert paths[2] == (tu.DictKey("b"), tu.SequenceKey(1), tu.GetAttrKey("x"))
    assert [tu.keystr(p) for p in paths] == ["['a'][0]", "['b'][0]", "['b'][1].x", "['b'][1].y"]
    assert paths[2][-1].name == "x" and paths[0][0].key == "a" and paths[0][1].idx == 0
    flat, treedef = ft.tree.flatten_with_path(TREE)
    assert [leaf for _, leaf in flat] == ft.tree.leaves(TREE) and treedef == ft.tree.structure(TREE)


def test_map_with_path_passes_paths_and_rest():
    out = ft.tree.map_with_path(lambda p, x, y: (tu.keystr(p), x + y), {"u": 1, "v": [2]},
                                {"u": 10, "v": [20]})
    assert out == {"u": ("['u']", 11), "v": [("['v'][0]", 22)]}


def test_dataclass_and_registered_keys():
    @dataclasses.dataclass
    class Layer:
        w: float
        name: str

    tu.register_dataclass(Layer, data_fields=["w"], meta_fields=["name"])
    assert tu.tree_leaves_with_path(Layer(1.0, "l")) == [((tu.GetAttrKey("w"),), 1.0)]

    class Box:
        def __init__(self, items):
            self.items = items

    tu.register_pytree_node(Box, lambda b: (b.items, None), lambda _, c: Box(list(c)))
    paths = [p for p, _ in tu.tree_leaves_with_path(Box([5, 6]))]
    assert paths == [(tu.FlattenedIndexKey(0),), (tu.FlattenedIndexKey(1),)]


def test_register_pytree_with_keys():
    class Pair:
        def __init__(self, left, right):
            self.left, self.right = left, right

    def flatten_with_keys(p):
        return ((tu.GetAttrKey("left"), p.left), (tu.GetAttrKey("right"), p.right)), None

    tu.register_pytree_with_keys(Pair, flatten_with_keys, lambda _, c: Pair(*c))
    assert tu.tree_leaves(Pair(1, 2)) == [1, 2]
    assert [tu.keystr(p) for p, _ in tu.tree_leaves_with_path(Pair(1, 2))] == [".left", ".right"]
    doubled = ft.tree.map(lambda x: 2 * x, Pair(1, 2))
    assert (doubled.left, doubled.right) == (2, 4)


def test_register_static_rides_in_the_structure():
    @tu.register_static
    @dataclasses.dataclass(frozen=True)
    class Config:
        depth: int

    assert ft.tree.leaves((Config(3), 1.0)) == [1.0]
    f = ft.jit(lambda cfg, x: x * cfg.depth)
    assert f(Config(3), 2.0) == 6.0 and f(Config(4), 2.0) == 8.0


def test_broadcast_and_treedef_children():
    assert ft.tree.broadcast({"a": 1, "b": 2}, {"a": (0, 0), "b": [0, [0]]}) == \
        {"a": (1, 1), "b": [2, [2]]}
    with pytest.raises(ValueError, match="structure mismatch"):
        ft.tree.broadcast([1, 2], [0, 0, 0])
    children = tu.treedef_children(ft.tree.structure(((1, 2), [3])))
    assert children == [ft.tree.structure((0, 0)), ft.tree.structure([0])]


def test_partial_is_a_pytree_under_transformations():
    scale = tu.Partial(lambda w, x: w * x, np.array(3.0))
    assert ft.tree.leaves(scale) == [np.array(3.0)]
    assert ft.jit(lambda p, x: p(x))(scale, 2.0) == 6.0
    grads = ft.grad(lambda p: p(2.0))(scale)
    assert isinstance(grads, tu.Partial) and grads.args[0] == 2.0
    nested = tu.Partial(tu.Partial(lambda a, b, c: a + b + c, 1.0), 2.0)
    assert nested.func is not None and nested(3.0) == 6.0 and len(ft.tree.leaves(nested)) == 2


def test_tree_util_all_and_dir_in_sync():
    assert set(dir(tu)) == set(tu.__all__)
    assert all(hasattr(tu, name) for name in tu.__all__)


def test_ravel_pytree_round_trip_and_promotion():
    tree = {"a": np.ones((2, 2), np.float32), "b": (np.arange(3.0), np.int32(4))}
    flat, unravel = ravel_pytree(tree)
    assert flat.shape == (8,) and flat.dtype == np.float64
    np.testing.assert_array_equal(flat, [1, 1, 1, 1, 0, 1, 2, 4])
    back = unravel(flat)
    assert back["a"].dtype == np.float32 and back["b"][1].dtype == np.int32
    assert ft.tree.structure(back) == ft.tree.structure(tree)
    f32, unravel32 = ravel_pytree([np.ones(2, np.float32)])
    assert f32.dtype == np.float32 and unravel32(f32)[0].dtype == np.float32
    with pytest.raises(TypeError, match="dtype float64"):
        unravel(flat.astype(np.float32))
    with pytest.raises(ValueError, match=r"shape \(8,\)"):
        unravel(np.ones(7))


def test_ravel_pytree_under_jit_and_grad():
    tree = {"w": np.array([[1.0, 2.0], [3.0, 4.0]]), "b": np.array([0.5, -1.0])}
    flat, unravel = ravel_pytree(tree)

    def loss(vector):
        params = unravel(vector)
        return fnp.sum(fnp.tanh(params["w"] @ params["b"]) ** 2)

    check_grads(loss, (flat,), order=2)
    np.testing.assert_allclose(ft.jit(loss)(flat), loss(flat))
    grad_tree = ft.grad(lambda t: fnp.sum(ravel_pytree(t)[0] ** 2))(tree)
    np.testing.assert_allclose(grad_tree["w"], 2 * tree["w"])
    batched = ft.vmap(lambda v: ravel_pytree(unravel(v))[0])(np.stack([flat, 2 * flat]))
    np.testing.assert_allclose(batched, np.stack([flat, 2 * flat]))
