"""jacrev of a one-element output and jacfwd of a one-element input need one pullback
or pushforward, not a vmap over a one-vector basis (the inner jacrev of every
`hessian` of a scalar function). Each case here is checked against what the vmap
path computes: the same Jacobian with a batch axis of size 2 (the function applied
to two copies of the value), whose first row must agree exactly."""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.test_util import check_grads


def _loss(p: dict) -> object:
    return fnp.sum(fnp.tanh(p["w"] @ p["x"]) ** 2) + fnp.sin(p["b"])


@pytest.fixture
def params() -> dict:
    rng = np.random.default_rng(3)
    return {"w": rng.standard_normal((3, 4)), "x": rng.standard_normal(4), "b": np.float64(0.3)}


def test_jacrev_of_a_scalar_matches_grad_and_the_vmap_path(params: dict) -> None:
    jac = ft.jacrev(_loss)(params)
    grad = ft.grad(_loss)(params)
    assert set(jac) == {"w", "x", "b"}
    for k in jac:
        assert jac[k].shape == np.shape(params[k])
        np.testing.assert_array_equal(jac[k], grad[k])
    # two outputs take the vmap path; its first row is the same Jacobian
    both = ft.jacrev(lambda p: fnp.stack([_loss(p), 2.0 * _loss(p)]))(params)
    for k in jac:
        np.testing.assert_allclose(both[k][0], jac[k], rtol=1e-14)


@pytest.mark.parametrize("out_shape", [(1,), (1, 1)])
def test_jacrev_of_a_one_element_array_keeps_the_output_axes(out_shape: tuple) -> None:
    x = np.array([0.2, -0.4, 0.7])
    jac = ft.jacrev(lambda v: fnp.reshape(fnp.sum(fnp.sin(v) * v), out_shape))(x)
    assert jac.shape == out_shape + (3,)
    np.testing.assert_allclose(jac.reshape(3), np.cos(x) * x + np.sin(x), rtol=1e-14)


def test_jacfwd_of_a_scalar_input_matches_jvp_and_the_vmap_path() -> None:
    def f(t):
        return {"y": fnp.sin(t) * fnp.arange(3.0), "z": fnp.exp(t)}
    jac = ft.jacfwd(f)(0.5)
    _, tangent = ft.jvp(f, (0.5,), (1.0,))
    assert jac["y"].shape == (3,) and np.shape(jac["z"]) == ()
    np.testing.assert_array_equal(jac["y"], tangent["y"])
    np.testing.assert_array_equal(jac["z"], tangent["z"])
    # a two-element input takes the vmap path; its first column is the same
    pair = ft.jacfwd(lambda v: f(v[0]))(np.array([0.5, 0.1]))
    np.testing.assert_allclose(pair["y"][:, 0], jac["y"], rtol=1e-14)


def test_jacfwd_of_a_one_element_array_keeps_the_input_axes() -> None:
    x = np.array([[0.3]])
    jac = ft.jacfwd(lambda v: fnp.sin(v[0, 0]) * fnp.ones(2))(x)
    assert jac.shape == (2, 1, 1)
    np.testing.assert_allclose(jac.reshape(2), np.cos(0.3) * np.ones(2), rtol=1e-14)


def test_has_aux_float32_and_integer_inputs() -> None:
    x = np.array([0.5, 1.5], np.float32)
    jac, aux = ft.jacrev(lambda v: (fnp.sum(v * v), {"n": v.shape[0]}), has_aux=True)(x)
    assert jac.dtype == np.float32 and aux == {"n": 2}
    np.testing.assert_allclose(jac, 2 * x)
    jac_t, aux_t = ft.jacfwd(lambda t: (t * t * np.ones(2, np.float32), t), has_aux=True)(
        np.float32(3.0))
    assert jac_t.dtype == np.float32 and aux_t == np.float32(3.0)
    np.testing.assert_allclose(jac_t, [6.0, 6.0])
    jac_x, jac_n = ft.jacrev(lambda v, n: fnp.sum(v) * n, argnums=(0, 1),
                             allow_int=True)(np.ones(2), 3)
    np.testing.assert_allclose(jac_x, [3.0, 3.0])
    assert jac_n.shape == () and jac_n.dtype == ft.float0


def test_results_do_not_share_memory_with_inputs() -> None:
    x = np.array([2.0])
    for jac in (ft.jacrev(lambda v: v), ft.jacfwd(lambda v: v)):
        out = jac(x)
        np.testing.assert_array_equal(out, [[1.0]])
        assert not np.shares_memory(out, x)
        out[...] = 5.0  # writable, and the next call is unaffected
        np.testing.assert_array_equal(jac(x), [[1.0]])


def test_one_element_paths_under_other_transformations() -> None:
    def f(v):
        return fnp.sum(fnp.sin(v) ** 2)
    x = np.array([0.1, 0.7, -0.3])
    hess = ft.hessian(f)(x)
    np.testing.assert_allclose(hess, np.diag(2 * np.cos(2 * x)), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ft.jit(ft.hessian(f))(x), hess, rtol=1e-12, atol=1e-15)
    per_row = ft.vmap(ft.jacrev(f))(np.stack([x, 2 * x]))
    np.testing.assert_allclose(per_row[1], np.sin(4 * x), rtol=1e-12)
    check_grads(ft.jacrev(f), (x,), order=1)
    check_grads(lambda t: ft.jacfwd(lambda s: fnp.sin(s) * s)(t), (0.4,), order=2)
