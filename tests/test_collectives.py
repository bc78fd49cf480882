"""Collectives over named vmap axes (functrans/higher_order/collectives.py).

Every collective is checked against its definition as a loop over the members, on
random shapes, axis sizes and mapped axes (hypothesis); then the composition with the
other transformations (grad inside and around the vmap, jit inside and around, jvp,
linearize, hessian, control flow), names (nesting, shadowing, unbound names), and the
derivative of pmax at ties. The rule-check rows are in tests/rules/table_collectives.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.test_util import check_grads

PROPERTY = settings(max_examples=min(25, settings.default.max_examples), deadline=None)


# ------------------------------------------------------------------ against loops

def _members(x: np.ndarray, axis: int) -> list[np.ndarray]:
    return [np.take(x, k, axis=axis) for k in range(x.shape[axis])]


# each collective's loop definition: the members' values in, every member's result out
LOOP_DEFINITIONS = {
    "psum": lambda vs: [sum(vs)] * len(vs),
    "pmean": lambda vs: [sum(vs) / len(vs)] * len(vs),
    "pmax": lambda vs: [np.max(vs, axis=0)] * len(vs),
    "pmin": lambda vs: [np.min(vs, axis=0)] * len(vs),
    "all_gather": lambda vs: [np.stack(vs)] * len(vs),
    "all_gather_tiled": lambda vs: [np.concatenate(vs)] * len(vs),
    "psum_scatter": lambda vs: list(sum(vs)),
    "axis_index": lambda vs: [np.int32(k) for k in range(len(vs))],
}

COLLECTIVES = {
    "psum": lambda v: lax.psum(v, "i"),
    "pmean": lambda v: lax.pmean(v, "i"),
    "pmax": lambda v: lax.pmax(v, "i"),
    "pmin": lambda v: lax.pmin(v, "i"),
    "all_gather": lambda v: lax.all_gather(v, "i"),
    "all_gather_tiled": lambda v: lax.all_gather(v, "i", tiled=True),
    "psum_scatter": lambda v: lax.psum_scatter(v, "i"),
    "axis_index": lambda v: lax.axis_index("i"),
}


@PROPERTY
@given(name=st.sampled_from(sorted(COLLECTIVES)), size=st.integers(1, 4),
       rest=st.lists(st.integers(1, 3), min_size=1, max_size=2), in_axis=st.integers(0, 2),
       jitted=st.booleans(), seed=st.integers(0, 2**16))
def test_every_collective_matches_its_loop_definition(name, size, rest, in_axis, jitted, seed):
    rest = list(rest)
    if name == "psum_scatter":
        rest[0] = size  # the scattered axis has the axis size
    in_axis = min(in_axis, len(rest))
    shape = rest[:in_axis] + [size] + rest[in_axis:]
    x = np.random.default_rng(seed).standard_normal(shape)
    member_fun = ft.jit(COLLECTIVES[name]) if jitted else COLLECTIVES[name]
    computed = ft.vmap(member_fun, in_axes=in_axis, axis_name="i")(x)
    expected = np.stack(LOOP_DEFINITIONS[name](_members(x, in_axis)))
    assert computed.dtype == expected.dtype
    np.testing.assert_allclose(computed, expected, rtol=1e-12, atol=1e-12)


@PROPERTY
@given(name=st.sampled_from(["psum", "pmean", "pmax", "pmin", "all_gather"]),
       size=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_an_operand_the_axis_does_not_map_is_the_same_in_every_member(name, size, seed):
    c = np.random.default_rng(seed).standard_normal(3)
    computed = ft.vmap(lambda _: COLLECTIVES[name](c), axis_name="i")(np.zeros(size))
    expected = np.stack(LOOP_DEFINITIONS[name]([c] * size))
    np.testing.assert_allclose(computed, expected, rtol=1e-12)


def test_psum_of_a_constant_is_the_axis_size():
    sizes = ft.vmap(lambda _: (lax.psum(1, "i"), lax.axis_size("i")), axis_name="i")(
        np.zeros(5))
    np.testing.assert_array_equal(sizes[0], [5] * 5)
    np.testing.assert_array_equal(sizes[1], [5] * 5)


def test_collective_results_are_unbatched_so_out_axes_none_works():
    x = np.arange(6.0).reshape(3, 2)
    total = ft.vmap(lambda v: lax.psum(v, "i"), axis_name="i", out_axes=None)(x)
    np.testing.assert_array_equal(total, x.sum(0))
    with pytest.raises(ValueError, match="out_axes=None"):
        ft.vmap(lambda v: v + lax.psum(v, "i"), axis_name="i", out_axes=None)(x)


def test_pytrees_booleans_and_float32():
    x = {"a": np.arange(4.0, dtype=np.float32), "b": np.array([True, False, True, True])}
    out = ft.vmap(lambda t: lax.psum(t, "i"), axis_name="i")(x)
    assert out["a"].dtype == np.float32 and out["b"].dtype == np.int32
    np.testing.assert_array_equal(out["b"], [3] * 4)
    means = ft.vmap(lambda v: lax.pmean(v, "i"), axis_name="i")(np.arange(4))
    assert means.dtype == np.float64 and means[0] == 1.5


# ------------------------------------------------------------------ derivative rules
# Differentiating *around* the vmap never meets a collective's own JVP or transpose
# (the vmap has already turned it into a reduction): these checks differentiate
# inside the vmap, member by member.

DIFFERENTIABLE = ["psum", "pmean", "pmax", "pmin", "all_gather", "all_gather_tiled",
                  "psum_scatter"]


def _distinct_values(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """No ties (pmax/pmin are not differentiable at ties): a shuffled grid."""
    size = int(np.prod(shape))
    return (rng.permutation(size) * 0.1 + rng.uniform(0, 0.01, size)).reshape(shape)


@pytest.mark.parametrize("jitted", [False, True], ids=["eager", "jit"])
@pytest.mark.parametrize("name", DIFFERENTIABLE)
def test_jvp_and_vjp_inside_the_vmap(name, jitted):
    rng = np.random.default_rng(7)
    x, u = _distinct_values(rng, (3, 3, 2)), rng.standard_normal((3, 3, 2))
    f = ft.jit(COLLECTIVES[name]) if jitted else COLLECTIVES[name]
    batched = ft.vmap(f, axis_name="i")
    tangents = ft.vmap(lambda x, u: ft.jvp(f, (x,), (u,))[1], axis_name="i")(x, u)
    eps = 1e-6
    differences = (batched(x + eps * u) - batched(x - eps * u)) / (2 * eps)
    np.testing.assert_allclose(tangents, differences, rtol=1e-6, atol=1e-8)
    v = rng.standard_normal(tangents.shape)
    cotangents = ft.vmap(lambda x, v: ft.vjp(f, x)[1](v)[0], axis_name="i")(x, v)
    # the dot-product test over all members: <v, J u> = <J^T v, u>
    np.testing.assert_allclose(np.vdot(cotangents, u), np.vdot(v, tangents), rtol=1e-10)


# ------------------------------------------------------------------ names

def test_nested_names_and_tuples_of_names():
    x = np.random.default_rng(0).standard_normal((2, 3, 4))

    def nested(member):
        return ft.vmap(ft.vmap(member, axis_name="j"), axis_name="i")(x)

    np.testing.assert_allclose(nested(lambda v: lax.psum(v, ("i", "j"))),
                               np.broadcast_to(x.sum((0, 1)), x.shape))
    np.testing.assert_allclose(nested(lambda v: lax.psum(v, "i")),
                               np.broadcast_to(x.sum(0), x.shape))
    np.testing.assert_allclose(nested(lambda v: lax.pmax(v, "j")),
                               np.broadcast_to(x.max(1, keepdims=True), x.shape))
    index = nested(lambda v: lax.axis_index(("i", "j")))
    np.testing.assert_array_equal(index, np.arange(6).reshape(2, 3))
    gathered = nested(lambda v: lax.all_gather(v, ("i", "j")))
    np.testing.assert_array_equal(gathered[1, 2], x.reshape(6, 4))


def test_an_inner_name_shadows_an_equal_outer_one():
    x = np.random.default_rng(1).standard_normal((2, 3))
    inner_sum = ft.vmap(ft.vmap(lambda v: lax.psum(v, "i"), axis_name="i"), axis_name="i")(x)
    np.testing.assert_allclose(inner_sum, np.broadcast_to(x.sum(1, keepdims=True), x.shape))


def test_an_unbound_name_raises_name_error_naming_the_bound_ones():
    x = np.ones((2, 3))
    with pytest.raises(NameError, match=r"unbound axis name: j\. psum .* are \['i'\]"):
        ft.vmap(lambda v: lax.psum(v, "j"), axis_name="i")(x)
    with pytest.raises(NameError, match="unbound axis name: i. axis_index"):
        lax.axis_index("i")
    with pytest.raises(NameError, match="unbound axis name: i. pmean"):
        ft.jit(lambda v: lax.pmean(v, "i"))(x)
    with pytest.raises(NameError, match="unbound axis name: i. all_gather"):
        ft.make_jaxpr(lambda v: lax.all_gather(v, "i"))(x)
    with pytest.raises(NameError, match="unbound axis name: i"):
        ft.vmap(lambda v: lax.psum(v, "i"))(x)  # an anonymous vmap binds no name


def test_a_jit_using_the_axis_called_on_constants_inside_the_vmap_is_batched():
    f = ft.jit(lambda c: lax.psum(c, "i"))
    for _ in range(2):  # traced, then from the cache
        out = ft.vmap(lambda x: x + f(np.ones(3)), axis_name="i")(np.zeros((4, 3)))
        np.testing.assert_array_equal(out, np.full((4, 3), 4.0))
    grads = ft.vmap(lambda x: ft.grad(lambda y: fnp.sum(y * f(np.ones(3))))(x),
                    axis_name="i")(np.zeros((4, 3)))
    np.testing.assert_array_equal(grads, np.full((4, 3), 4.0))


def test_a_jit_traced_inside_the_vmap_and_called_outside_raises_name_error():
    f = ft.jit(lambda v: lax.psum(v, "i"))
    ft.vmap(f, axis_name="i")(np.ones((2, 3)))
    with pytest.raises(NameError, match="evaluated outside the vmap that binds it"):
        f(np.ones(3))


def test_bad_axis_names_and_groups_are_refused():
    with pytest.raises(TypeError, match="axis_name must be hashable"):
        ft.vmap(lambda v: v, axis_name=["i"])
    with pytest.raises(TypeError, match="single name"):
        ft.vmap(lambda v: v, axis_name=("i", "j"))
    with pytest.raises(ValueError, match="axis_index_groups"):
        ft.vmap(lambda v: lax.psum(v, "i", axis_index_groups=[[0, 1]]), axis_name="i")(
            np.ones(2))
    with pytest.raises(ValueError, match="must be 3"):
        ft.vmap(lambda v: lax.psum_scatter(v, "i"), axis_name="i")(np.ones((3, 2)))
    with pytest.raises(TypeError, match="pmax: the operand must have a real"):
        ft.vmap(lambda v: lax.pmax(v, "i"), axis_name="i")(np.ones(2, complex))


# ------------------------------------------------------------------ with the transformations

def _normalised_loss(x, w):
    mean = lax.pmean(x, "i")
    var = lax.pmean((x - mean) ** 2, "i")
    return fnp.sum(fnp.tanh((x - mean) / fnp.sqrt(var + 1e-3)) * w)


def _explicit_loss(xs, w):
    """The same computation with explicit statistics over the batch axis, summed over
    the members: what the members' gradients are gradients of (psum's transpose sums
    the cotangents of all members)."""
    mean = xs.mean(0)
    var = ((xs - mean) ** 2).mean(0)
    return fnp.sum(fnp.tanh((xs - mean) / fnp.sqrt(var + 1e-3)) * w)


RNG = np.random.default_rng(3)
XS, W = RNG.standard_normal((5, 3)), RNG.standard_normal(3)


@pytest.mark.parametrize("wrap", [
    lambda g: ft.vmap(g, in_axes=(0, None), axis_name="i"),
    lambda g: ft.vmap(ft.jit(g), in_axes=(0, None), axis_name="i"),
    lambda g: ft.jit(ft.vmap(g, in_axes=(0, None), axis_name="i")),
    lambda g: ft.vmap(lambda x, w: g(x, w), in_axes=(0, None), axis_name="i"),
], ids=["vmap(grad)", "vmap(jit(grad))", "jit(vmap(grad))", "grad inside vmap"])
def test_per_example_gradients_through_batch_statistics(wrap):
    grads = wrap(ft.grad(_normalised_loss))(XS, W)
    np.testing.assert_allclose(grads, ft.grad(_explicit_loss)(XS, W), rtol=1e-10)
    grads = wrap(ft.grad(ft.jit(_normalised_loss), argnums=1))(XS, W)
    expected = [ft.grad(lambda w, k=k: fnp.sum(
        fnp.tanh((XS[k] - XS.mean(0)) / fnp.sqrt(XS.var(0) + 1e-3)) * w))(W) for k in range(5)]
    np.testing.assert_allclose(grads, np.stack(expected), rtol=1e-10)


def test_grad_jvp_linearize_and_hessian_of_the_vmap():
    def batched(xs):
        return ft.vmap(_normalised_loss, in_axes=(0, None), axis_name="i")(xs, W)

    def explicit(xs):
        mean, var = xs.mean(0), ((xs - xs.mean(0)) ** 2).mean(0)
        return fnp.sum(fnp.tanh((xs - mean) / fnp.sqrt(var + 1e-3)) * W, axis=1)

    np.testing.assert_allclose(ft.jacrev(batched)(XS), ft.jacrev(explicit)(XS), rtol=1e-10)
    tangent = RNG.standard_normal(XS.shape)
    _, t_out = ft.jvp(batched, (XS,), (tangent,))
    np.testing.assert_allclose(t_out, ft.jvp(explicit, (XS,), (tangent,))[1], rtol=1e-10)
    _, f_jvp = ft.linearize(batched, XS)
    np.testing.assert_allclose(f_jvp(tangent), t_out, rtol=1e-10)
    total = lambda xs: fnp.sum(batched(xs))  # noqa: E731
    np.testing.assert_allclose(ft.hessian(total)(XS),
                               ft.hessian(lambda xs: fnp.sum(explicit(xs)))(XS), rtol=1e-8)
    check_grads(batched, (XS,), order=2, modes=("fwd", "rev"))


def test_jvp_linearize_and_hessian_inside_the_vmap():
    tangents = RNG.standard_normal(XS.shape)
    member = lambda x: _normalised_loss(x, W)  # noqa: E731
    jvps = ft.vmap(lambda x, t: ft.jvp(member, (x,), (t,))[1], axis_name="i")(XS, tangents)
    lins = ft.vmap(lambda x, t: ft.linearize(member, x)[1](t), axis_name="i")(XS, tangents)
    # d/dx_k of member k's loss, in direction t_k, with the statistics also moving
    expected = ft.jvp(lambda xs: ft.vmap(member, axis_name="i")(xs), (XS,), (tangents,))[1]
    np.testing.assert_allclose(jvps, lins, rtol=1e-12)
    np.testing.assert_allclose(jvps, expected, rtol=1e-10)

    def coupled(x):
        return fnp.sum(fnp.sin(x) * lax.pmean(x ** 2, "i"))

    hessians = ft.vmap(ft.hessian(coupled), axis_name="i")(XS)
    # inside the vmap, forward mode moves every member in the same direction, and the
    # gradient is that of the sum of all members' losses: the Hessian of that sum,
    # summed over the members' blocks
    full = ft.hessian(lambda xs: fnp.sum(fnp.sin(xs) * fnp.mean(xs ** 2, axis=0)))(XS)
    np.testing.assert_allclose(hessians, full.sum(axis=2), rtol=1e-10)


def test_pmax_derivative_is_shared_by_ties_as_reduce_max_shares_it():
    xs = np.array([[1.0, 2.0], [3.0, 2.0], [3.0, 0.0], [0.5, 2.0]])
    grads = ft.vmap(ft.grad(lambda x: fnp.sum(lax.pmax(x, "i"))), axis_name="i")(xs)
    # each of the 4 members' losses sums the maxima: the gradient of 4 * max over axis 0
    np.testing.assert_allclose(grads, ft.grad(lambda xs: 4 * fnp.sum(lax.reduce_max(
        xs, (0,))))(xs))
    np.testing.assert_allclose(grads, [[0, 4 / 3], [2, 4 / 3], [2, 0], [0, 4 / 3]])
    mins = ft.vmap(ft.grad(lambda x: fnp.sum(lax.pmin(x, "i"))), axis_name="i")(xs)
    np.testing.assert_allclose(mins, [[0, 0], [0, 0], [0, 4], [4, 0]])


def test_jaxpr_of_a_jitted_function_holds_the_collective_and_its_name():
    def member(v):
        text = str(ft.make_jaxpr(lambda u: lax.psum(u, "i"))(v))
        assert "psum[axes=('i',)]" in text, text
        return v
    ft.vmap(member, axis_name="i")(np.ones((2, 3)))


def test_a_jit_that_uses_the_axis_without_a_mapped_operand():
    # the jitted function gets a traced operand the vmap does not map (a parameter being
    # differentiated): batching it must still resolve its psum over "i"
    xs = np.arange(1.0, 5.0)

    def member(w, x):
        return ft.jit(lambda w: lax.psum(w, "i"))(w) * x

    grads = ft.vmap(ft.grad(member), in_axes=(None, 0), axis_name="i")(2.0, xs)
    np.testing.assert_allclose(grads, [xs.sum()] * 4)
    values, tangents = ft.jvp(ft.vmap(member, in_axes=(None, 0), axis_name="i"),
                              (2.0, xs), (1.0, np.zeros(4)))
    np.testing.assert_allclose(values, 2.0 * 4 * xs)
    np.testing.assert_allclose(tangents, 4 * xs)


def test_control_flow_and_custom_rules_inside_the_vmap():
    xs = np.arange(4.0)

    def scanned(x):
        return lax.scan(lambda c, _: (c + lax.psum(x, "i"), None), 0.0, None, length=3)[0]

    np.testing.assert_allclose(ft.vmap(scanned, axis_name="i")(xs), [18.0] * 4)

    def branched(x):
        return lax.cond(x > 1.5, lambda: lax.pmax(x, "i"), lambda: lax.pmin(x, "i"))

    np.testing.assert_allclose(ft.vmap(branched, axis_name="i")(xs), [0, 0, 3, 3])

    @ft.custom_jvp
    def centred(x):
        return x - lax.pmean(x, "i")

    centred.defjvp(lambda p, t: (centred(*p), t[0] - lax.pmean(t[0], "i")))
    grads = ft.vmap(ft.grad(lambda x: centred(x) ** 2), axis_name="i")(xs)
    np.testing.assert_allclose(grads, ft.grad(lambda xs: fnp.sum((xs - xs.mean()) ** 2))(xs))
