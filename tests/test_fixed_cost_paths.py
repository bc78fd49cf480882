"""The short paths that keep the fixed cost of a grad, value_and_grad or vjp call low
give exactly what the general machinery gives:

* compiled pytree structures (``tree_util.compile_treedef``) take a tree apart and
  build one as ``tree_flatten`` and ``tree_unflatten`` do, and refuse every tree of
  another structure;
* ``flatten_args``, which reuses the compiled structure of arguments met before,
  returns the general walk's leaves and trees, and its errors;
* ``leaf_avals`` is ``get_aval``; the unit cotangent of a NumPy scalar output is the
  general check's;
* results share no memory with inputs or each other, whichever way the ownership
  check is cut short (zero cotangents, copies, cotangents that are inputs).
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrans as ft
import functrans.numpy as fnp
from functrans import dtypes
from functrans.core.avals import get_aval
from functrans.transforms import api_util
from functrans.tree_util import (
    _MAX_COMPILED_HEIGHT,
    _MAX_COMPILED_SIZE,
    PyTreeDef,
    compile_treedef,
    register_dataclass,
    register_pytree_node,
    tree_flatten,
    tree_leaves,
    tree_structure,
    tree_unflatten,
)

TREE_PROPERTY = settings(max_examples=200, deadline=None)

Point = collections.namedtuple("Point", "x y")


class Pair(tuple):
    """A tuple subclass that is not a namedtuple: a leaf."""


@register_dataclass
@dataclasses.dataclass
class Box:
    """A registered container: its structures are not compiled."""
    content: Any


# ---------------------------------------------------------------- trees


def _leaf() -> st.SearchStrategy[Any]:
    return st.one_of(st.integers(-3, 3), st.floats(-2, 2), st.just(np.arange(2.0)),
                     st.builds(Pair, st.tuples(st.integers(), st.integers())))


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.sampled_from(["a", "b", "c", "w"])
    return st.one_of(
        st.tuples(children, children), st.tuples(children), st.just(()),
        st.lists(children, max_size=3),
        st.dictionaries(keys, children, max_size=3),
        st.dictionaries(st.integers(0, 2), children, min_size=1, max_size=2),
        st.builds(Point, children, children),
        st.builds(Box, children),
        st.none())


TREES = st.recursive(_leaf(), _containers, max_leaves=12)


def _compilable(treedef: PyTreeDef) -> bool:
    """What compile_treedef promises to compile: built-in containers (dicts with str
    keys) and namedtuples, within the size bounds."""
    pending, size = [treedef], 0
    while pending:
        node = pending.pop()
        size += 1
        kind = node.node_type
        if kind is dict and not all(type(k) is str for k in node.node_data):
            return False
        if kind not in (None, tuple, list, dict, type(None), Point):
            return False
        pending.extend(node.children)
    return size <= _MAX_COMPILED_SIZE and treedef._height <= _MAX_COMPILED_HEIGHT


def _same_objects(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def _general_unflatten(treedef: PyTreeDef, leaves: list[Any]) -> Any:
    return tree_unflatten(treedef, iter(leaves))  # an iterator: never the compiled code


def _mutations(tree: Any) -> list[Any]:
    """Trees one change away from `tree`: another container kind, a child more or
    less, a renamed key, a leaf for a container or a container for a leaf."""
    out: list[Any] = []

    def rebuild(node: Any, replace: Any) -> None:
        """Each mutation of `node`, passed to `replace` to rebuild the whole tree."""
        if type(node) in (tuple, list):
            other = list if type(node) is tuple else tuple
            out.extend([replace(other(node)), replace(type(node)([*node, 1.0])), replace(0.0)])
            if node:
                out.append(replace(type(node)(node[:-1])))
            for k, child in enumerate(node):
                rebuild(child, lambda new, k=k: replace(
                    type(node)(new if j == k else c for j, c in enumerate(node))))
        elif type(node) is dict:
            out.extend([replace({**node, "z": 1.0}), replace(list(node.values()))])
            for key in node:
                out.append(replace({("z" if k == key else k): v for k, v in node.items()}))
                rebuild(node[key], lambda new, key=key: replace({**node, key: new}))
        elif type(node) is Point:
            out.extend([replace(tuple(node)), replace(0.0)])
            rebuild(node.x, lambda new: replace(node._replace(x=new)))
        elif node is None:
            out.extend([replace(0.0), replace(())])
        else:  # a leaf
            out.extend([replace((node,)), replace([node]), replace(None), replace({"a": node}),
                        replace(Point(node, node)), replace(Box(node))])

    rebuild(tree, lambda new: new)
    return out


@TREE_PROPERTY
@given(TREES)
def test_compiled_structures_flatten_and_unflatten_as_the_walks_do(tree):
    leaves, treedef = tree_flatten(tree)
    compiled = compile_treedef(treedef)
    assert (compiled is not None) == _compilable(treedef)
    if compiled is None:
        return
    assert _same_objects(compiled.flatten(tree), leaves)
    rebuilt = compiled.unflatten(leaves)
    assert tree_structure(rebuilt) == treedef
    assert _same_objects(tree_leaves(rebuilt), leaves)
    assert repr(tree_unflatten(treedef, leaves)) == repr(_general_unflatten(treedef, leaves))
    assert type(tree_unflatten(treedef, leaves)) is type(tree)


@TREE_PROPERTY
@given(TREES, TREES)
def test_compiled_structures_take_exactly_their_own_trees(tree, other):
    treedef = tree_structure(tree)
    compiled = compile_treedef(treedef)
    if compiled is None:
        return
    for candidate in [tree, other] + _mutations(tree):
        leaves, candidate_def = tree_flatten(candidate)
        got = compiled.flatten(candidate)
        if got is None:
            assert candidate_def != treedef
        else:
            assert candidate_def == treedef
            assert _same_objects(got, leaves)


def test_refused_structures_are_not_compiled():
    deep: Any = 1.0
    for _ in range(_MAX_COMPILED_HEIGHT + 1):
        deep = [deep]
    big = [1.0] * _MAX_COMPILED_SIZE
    for tree in [deep, big, {1: 1.0}, {"a": Box(1.0)}, [Pair((1, 2)), Box(2.0)]]:
        assert compile_treedef(tree_structure(tree)) is None
    assert compile_treedef(tree_structure(deep[0])) is not None
    assert compile_treedef(tree_structure(big[1:])) is not None


def test_a_namedtuple_registered_after_compiling_is_refused():
    Late = collections.namedtuple("Late", "a b")
    tree = [Late(1.0, 2.0)]
    compiled = compile_treedef(tree_structure(tree))
    assert _same_objects(compiled.flatten(tree), tree_leaves(tree))
    register_pytree_node(Late, lambda t: ((t.a,), t.b), lambda b, c: Late(c[0], b))
    assert compiled.flatten(tree) is None
    assert tree_leaves(tree) == [1.0]


def test_compiled_unflatten_counts_leaves_as_the_general_one():
    treedef = tree_structure([(1, 2), {"a": 3}])
    assert compile_treedef(treedef) is not None
    with pytest.raises(ValueError, match="too few leaves"):
        tree_unflatten(treedef, [1, 2])
    with pytest.raises(ValueError, match="too many leaves"):
        tree_unflatten(treedef, [1, 2, 3, 4])
    assert tree_unflatten(treedef, (x for x in [1, 2, 3])) == [(1, 2), {"a": 3}]


# ---------------------------------------------------------------- flatten_args


def _flatten_args_by_walk(args: tuple, kwargs: dict) -> tuple[list[Any], PyTreeDef]:
    return tree_flatten((tuple(args), dict(kwargs)))


ARGUMENTS = [
    ((np.ones(2), 1.0), {}),
    (([(np.ones(2), np.ones(1))] * 3, np.ones(3)), {}),
    (({"w": np.ones(2), "b": [np.zeros(1), None]}, Point(1.0, np.ones(1))), {}),
    ((np.ones(2),), {"scale": 2.0, "extra": [1.0, (2.0,)]}),
    (((),), {}),
    ((Box(np.ones(1)), {1: 2.0}), {}),
]


@pytest.mark.parametrize("args,kwargs", ARGUMENTS)
def test_flatten_args_gives_the_walks_leaves_and_tree_every_call(args, kwargs):
    want_leaves, want_tree = _flatten_args_by_walk(args, kwargs)
    trees = []
    for _ in range(5):  # the general walk until compiled, then the compiled structure
        leaves, tree = api_util.flatten_args(args, kwargs, "f")
        assert _same_objects(leaves, want_leaves)
        assert tree == want_tree
        trees.append(tree)
        assert api_util.unflatten_args(tree, leaves) == (tuple(args), kwargs)
    if compile_treedef(want_tree) is not None:
        assert trees[3] is trees[4]  # the compiled structure's own tree


def test_flatten_args_alternating_structures():
    shapes = [[np.ones(1)], [np.ones(1), np.ones(2)], [(np.ones(1),)], [{"a": 1.0}],
              [[np.ones(1)]], [None], []]
    # two structures in turn (both compiled), then more than a key keeps
    for rotation in (shapes[:2], shapes):
        for _ in range(5):
            for params in rotation:
                leaves, tree = api_util.flatten_args((params, 2.0), None, "f")
                want_leaves, want_tree = _flatten_args_by_walk((params, 2.0), {})
                assert _same_objects(leaves, want_leaves) and tree == want_tree
    assert len(api_util._compiled_trees[((list, float), ())]) >= 2


def test_tracer_arguments_find_the_compiled_tree_of_array_arguments():
    trees = []

    def record(a, b):
        trees.append(api_util.flatten_args((a, b), None, "f")[1])
        return a

    for _ in range(5):
        ft.make_jaxpr(record)(1.0, np.ones(2))
    assert trees[-1] is api_util.flatten_args((1.0, np.ones(2)), None, "f")[1]


class Unhashable:
    """A container whose aux data cannot be hashed (JAX asks for hashable aux data;
    grad did not need it, and still does not)."""

    def __init__(self, value: Any):
        self.value = value


register_pytree_node(Unhashable, lambda u: ((u.value,), ["aux"]),
                     lambda aux, children: Unhashable(children[0]))


def test_flatten_args_takes_containers_with_unhashable_aux_data():
    for _ in range(4):
        g = ft.grad(lambda u: fnp.sum(u.value ** 2))(Unhashable(np.ones(2)))
        np.testing.assert_array_equal(g.value, 2 * np.ones(2))


def _error(args: tuple) -> str:
    with pytest.raises(TypeError) as info:
        api_util.flatten_args(args, None, "grad of f")
    return str(info.value)


def _walk_error(args: tuple) -> str:
    """The error of the general walk: tree_flatten, then check_leaf of each leaf."""
    with pytest.raises(TypeError) as info:
        for leaf in tree_flatten((args, {}))[0]:
            api_util.check_leaf(leaf, "grad of f", "an argument")
    return str(info.value)


@pytest.mark.parametrize("bad", [np.array(["a"]), np.array([None], dtype=object), "text",
                                 object()], ids=["str array", "object array", "str", "object"])
def test_flatten_args_errors_after_the_structure_is_compiled(bad):
    assert _error(([bad, 1.0], 0.5)) == _walk_error(([bad, 1.0], 0.5))  # met once
    for _ in range(4):
        api_util.flatten_args(([np.ones(1), 1.0], 0.5), None, "grad of f")
    assert _error(([bad, 1.0], 0.5)) == _walk_error(([bad, 1.0], 0.5))  # compiled
    assert _error((bad, 1.0)) == _walk_error((bad, 1.0))  # arguments that are leaves


# ---------------------------------------------------------------- avals, unit cotangents


def test_leaf_avals_are_get_aval():
    values = [np.ones((2, 3)), np.ones(3, np.float32), np.float32(1.0), np.int64(2), 1.5, 2,
              True, 1j, np.bool_(True), np.ones((), np.complex64), np.ones(0),
              np.ones(2).view(np.matrix)]
    for _ in range(2):  # made, then found
        for value, aval in zip(values, api_util.leaf_avals(values)):
            assert aval == get_aval(value), value
    traced = []
    ft.make_jaxpr(lambda x: traced.extend(api_util.leaf_avals([x, x * 1.0])) or 0.0)(1.0)
    assert traced[0].weak_type and traced[0] == traced[1]


def test_leaf_avals_never_keep_an_invalid_dtype():
    bad = np.array([None], dtype=object)
    for _ in range(2):
        assert api_util.leaf_avals([bad]) == [get_aval(bad)]  # unchecked: made, not kept
        with pytest.raises(TypeError, match="array of dtype object"):
            api_util.leaf_avals([np.ones(1), bad], "grad of f")
    float0 = np.zeros(2, dtypes.float0)
    assert api_util.leaf_avals([float0], "grad of f") == [get_aval(float0)]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
def test_grad_of_numpy_scalar_outputs_keeps_the_dtype(dtype):
    x = np.ones(2, dtype)
    g = ft.grad(lambda v: fnp.sum(v * v))(x)
    assert g.dtype == dtype
    np.testing.assert_allclose(g, 2 * x)
    value, g = ft.value_and_grad(lambda v: fnp.sum(v))(x)
    assert np.asarray(value).dtype == dtype and g.dtype == dtype


@pytest.mark.parametrize("output,error", [
    (lambda v: v, "scalar output, but the output has shape"),
    (lambda v: fnp.sum(v).astype(np.int32), "real-valued floating output"),
    (lambda v: fnp.sum(v) * 1j, "complex"),
    (lambda v: (fnp.sum(v), fnp.sum(v)), "2 leaves"),
])
def test_grad_output_errors_are_unchanged(output, error):
    with pytest.raises(TypeError, match=error):
        ft.grad(output)(np.ones(2))


def test_holomorphic_grad_still_checks_its_output():
    assert ft.grad(lambda z: z * z, holomorphic=True)(np.complex128(1 + 1j)) == 2 + 2j
    with pytest.raises(TypeError, match="requires a complex output"):
        ft.grad(lambda z: fnp.real(z), holomorphic=True)(np.complex128(1 + 1j))


# ---------------------------------------------------------------- grad, vjp results


def _params() -> dict[str, Any]:
    return {"layers": [(np.arange(6.0).reshape(2, 3), np.arange(3.0)),
                       (np.ones((3, 1)), np.zeros(1))],
            "scale": np.float64(2.0), "unused": Point(np.ones(2), None), "int": np.arange(2)}


def _loss(p: dict[str, Any], x: np.ndarray) -> Any:
    (w, b), _ = p["layers"]
    return fnp.sum(fnp.tanh(x @ w + b)) * p["scale"]


def test_grad_is_the_same_on_every_call():
    p, x = _params(), np.ones((4, 2))
    grad = ft.grad(_loss, allow_int=True)
    first = grad(p, x)
    for _ in range(4):  # the structure compiled, then reused
        again = grad(p, x)
        assert tree_structure(again) == tree_structure(first) == tree_structure(p)
        for a, b in zip(tree_leaves(again), tree_leaves(first)):
            assert type(a) is type(b) and a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    g = first
    assert g["int"].dtype == dtypes.float0
    assert type(g["layers"][1][1]) is np.ndarray and not g["layers"][1][1].any()
    assert type(g["unused"].x) is np.ndarray and g["unused"].y is None
    assert type(g["scale"]) is np.float64  # a 0-d result is a NumPy scalar
    assert np.float64(ft.grad(lambda a, b: a * 1.0)(1.0, 2.0)) == 1.0
    assert type(ft.grad(lambda a, b: a * 1.0, argnums=1)(1.0, 2.0)) is np.float64


def _no_shared_memory(results: list[Any], inputs: list[Any]) -> None:
    arrays = [r for r in tree_leaves(results) if isinstance(r, np.ndarray)]
    for k, r in enumerate(arrays):
        assert r.flags.writeable
        for other in arrays[:k] + tree_leaves(inputs):
            if isinstance(other, np.ndarray):
                assert not np.shares_memory(r, other)


x3 = np.array([1.0, -2.0, 3.0])
BUFFER = np.arange(6.0)


def _returns_residual():
    @ft.custom_vjp
    def f(x):
        return fnp.sum(x)

    f.defvjp(lambda x: (fnp.sum(x), x), lambda x, g: (x,))  # the input itself
    return f


def _returns_input_view():
    @ft.custom_vjp
    def f(x):
        return fnp.sum(x)

    f.defvjp(lambda x: (fnp.sum(x), x), lambda x, g: (x[:],))  # a new view of the input
    return f


def _returns_buffer_view():
    @ft.custom_vjp
    def f(x):
        return fnp.sum(x)

    # another view of the memory of the input BUFFER[:3]
    f.defvjp(lambda x: (fnp.sum(x), None), lambda _, g: (BUFFER[:3],))
    return f


ALIASING = {
    "grad of x * y wrt both": (ft.grad(lambda a, b: fnp.sum(a * b), argnums=(0, 1)),
                               (x3, x3 + 1)),
    "grad of x * y, the same array twice": (
        ft.grad(lambda a, b: fnp.sum(a * b), argnums=(0, 1)), (x3, x3)),
    "grad of a sum of two uses": (ft.grad(lambda p: fnp.sum(p["a"] + p["b"])),
                                  ({"a": x3, "b": x3 + 1},)),
    "value_and_grad of a dot": (ft.value_and_grad(lambda a, b: fnp.dot(a, b)), (x3, x3)),
    "grad, cotangent the input": (ft.grad(_returns_residual()), (x3,)),
    "grad, cotangent a view of the input": (ft.grad(_returns_input_view()), (x3,)),
    "grad, cotangent another view of the input's buffer": (ft.grad(_returns_buffer_view()),
                                                           (BUFFER[:3],)),
    "vjp of identity on a pytree": (
        lambda p, c: ft.vjp(lambda q: q, p)[1](c), ([x3, {"w": x3[1:]}], [x3, {"w": x3[1:]}])),
    "vjp of a pair of the same": (lambda p, c: ft.vjp(lambda q: (q, q), p)[1]((c, c)),
                                  (x3, x3 + 1)),
    "vjp of reshape": (lambda p, c: ft.vjp(lambda q: q.reshape(3, 1), p)[1](c),
                       (x3, (x3 + 1).reshape(3, 1))),
}


@pytest.mark.parametrize("name", list(ALIASING))
def test_results_share_no_memory(name):
    f, args = ALIASING[name]
    before = [np.array(leaf, copy=True) for leaf in tree_leaves(args)]
    for _ in range(4):  # the general walk, then the compiled structures
        results = f(*args)
        _no_shared_memory(results, list(args) + [BUFFER])
        for leaf in tree_leaves(results):
            if isinstance(leaf, np.ndarray) and leaf.size:
                leaf[...] = 123.0
        for leaf, want in zip(tree_leaves(args), before):
            np.testing.assert_array_equal(leaf, want)
    np.testing.assert_array_equal(BUFFER, np.arange(6.0))


def test_subclass_inputs_are_not_returned_by_grad(tmp_path):
    x = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="w+", shape=(3,))
    x[:] = 1.0
    for f in (_returns_residual(), lambda v: fnp.sum(v)):
        for _ in range(3):
            g = ft.grad(f)(x)
            assert type(g) is np.ndarray and not np.shares_memory(g, x)


def test_outputs_matches_a_full_check():
    """outputs() copies exactly where a result shares memory with an input or an earlier
    result, whichever arrays it skips checking."""
    a, b = np.arange(4.0), np.arange(3.0)
    read_only = np.broadcast_to(np.ones(1), (3,))
    cases = [
        ([a], [a]), ([a[1:]], [a]), ([a], [a[1:]]), ([a, a], []), ([a[:2], a[2:]], []),
        ([a[:2], a[1:]], []), ([b, a], [a[::2]]), ([read_only, read_only], [read_only]),
        ([np.float64(1.0), np.ones(())], []), ([a.view(np.matrix)], [a]), ([2.0, b], [b]),
    ]
    for results, inputs in cases:
        owned = api_util.outputs(results, inputs)
        for k, (r, o) in enumerate(zip(results, owned)):
            if isinstance(o, np.ndarray):
                assert type(o) is np.ndarray and o.flags.writeable
                np.testing.assert_array_equal(o, r)
                earlier = [x for x in owned[:k] if isinstance(x, np.ndarray)]
                if any(np.shares_memory(o, x) for x in list(inputs) + earlier):
                    raise AssertionError(f"result {k} of {results} shares memory")
                # copied only where needed: a result that shared nothing is returned as is
                if type(r) is np.ndarray and r.flags.writeable and not any(
                        np.may_share_memory(r, x) for x in list(inputs) + results[:k]):
                    assert o is r
            else:
                assert np.ndim(o) == 0
