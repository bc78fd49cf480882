"""lax.custom_linear_solve, lax.custom_root and closure_convert.

Derivatives are checked by check_grads (finite differences, forward and reverse,
second order) and against closed forms computed with NumPy alone:
x = A⁻¹ b, ∂x/∂b = A⁻¹, and for L = ½|x|², ∇_b L = A⁻ᵀ x, ∇_A L = -(A⁻ᵀ x) xᵀ.
"""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.test_util import check_grads


def _spd(n: int, seed: int = 0) -> np.ndarray:
    m = np.random.default_rng(seed).standard_normal((n, n))
    return m @ m.T + n * np.eye(n)


def _general(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, n)) + 2 * n * np.eye(n)


def spd_solve(a, b):
    """x = A⁻¹ b for symmetric positive definite A, a dense solve inside `solve`."""
    return lax.custom_linear_solve(lambda x: a @ x, b,
                                   solve=lambda matvec, v: fnp.linalg.solve(a, v),
                                   symmetric=True)


def general_solve(a, b):
    return lax.custom_linear_solve(
        lambda x: a @ x, b, solve=lambda matvec, v: fnp.linalg.solve(a, v),
        transpose_solve=lambda vecmat, v: fnp.linalg.solve(fnp.transpose(a), v))


def half_square_norm(solver):
    return lambda a, b: 0.5 * fnp.sum(solver(a, b) ** 2)


B = np.random.default_rng(2).standard_normal(4)


# ------------------------------------------------------------------ custom_linear_solve

@pytest.mark.parametrize("solver, a", [(spd_solve, _spd(4)), (general_solve, _general(4))])
def test_linear_solve_value_and_gradients_match_closed_forms(solver, a):
    x = np.linalg.solve(a, B)
    np.testing.assert_allclose(solver(a, B), x, rtol=1e-12)
    grad_a, grad_b = ft.grad(half_square_norm(solver), argnums=(0, 1))(a, B)
    adjoint = np.linalg.solve(a.T, x)
    np.testing.assert_allclose(grad_b, adjoint, rtol=1e-10)
    np.testing.assert_allclose(grad_a, -np.outer(adjoint, x), rtol=1e-10)


@pytest.mark.parametrize("solver, a", [(spd_solve, _spd(3)), (general_solve, _general(3))])
def test_linear_solve_check_grads_second_order(solver, a):
    check_grads(solver, (a, B[:3]), order=2, modes=("fwd", "rev"))


def test_linear_solve_jacobians_and_hessian():
    a = _general(3)
    b = B[:3]
    inv = np.linalg.inv(a)
    np.testing.assert_allclose(ft.jacfwd(general_solve, 1)(a, b), inv, rtol=1e-10)
    np.testing.assert_allclose(ft.jacrev(general_solve, 1)(a, b), inv, rtol=1e-10)
    x = inv @ b
    # ∂x_i/∂A_jk = -inv_ij x_k
    expected = -np.einsum("ij,k->ijk", inv, x)
    np.testing.assert_allclose(ft.jacrev(general_solve)(a, b), expected, rtol=1e-10)
    np.testing.assert_allclose(ft.jacfwd(general_solve)(a, b), expected, rtol=1e-10)
    # L(b) = ½|A⁻¹b|² has Hessian A⁻ᵀ A⁻¹
    hess = ft.hessian(half_square_norm(general_solve), 1)(a, b)
    np.testing.assert_allclose(hess, inv.T @ inv, rtol=1e-10)


def test_linear_solve_under_vmap_and_jit():
    a = _spd(3)
    bs = np.random.default_rng(3).standard_normal((5, 3))
    expected = np.linalg.solve(a, bs.T).T
    np.testing.assert_allclose(ft.vmap(spd_solve, (None, 0))(a, bs), expected, rtol=1e-12)
    np.testing.assert_allclose(ft.jit(spd_solve)(a, bs[0]), expected[0], rtol=1e-12)
    # a batch of matrices: every jaxpr of the primitive is batched
    mats = np.stack([_spd(3, s) for s in range(4)])
    batched = ft.vmap(spd_solve, (0, None))(mats, bs[0])
    np.testing.assert_allclose(batched, [np.linalg.solve(m, bs[0]) for m in mats], rtol=1e-12)
    per_example = ft.jit(ft.vmap(ft.grad(half_square_norm(spd_solve)), (0, None)))(mats, bs[0])
    for m, g in zip(mats, per_example):
        x = np.linalg.solve(m, bs[0])
        np.testing.assert_allclose(g, -np.outer(np.linalg.solve(m, x), x), rtol=1e-10)


def test_linear_solve_pytree_and_aux():
    a = _general(3)

    def solve(matvec, v):
        return {"u": fnp.linalg.solve(a, v["u"]), "w": v["w"] / 2.0}, fnp.sum(v["u"])

    def transpose_solve(vecmat, v):
        return {"u": fnp.linalg.solve(a.T, v["u"]), "w": v["w"] / 2.0}, fnp.sum(v["u"])

    def f(b):
        x, aux = lax.custom_linear_solve(lambda x: {"u": a @ x["u"], "w": 2.0 * x["w"]}, b,
                                         solve, transpose_solve, has_aux=True)
        return x, aux

    b = {"u": B[:3], "w": np.arange(2.0)}
    x, aux = f(b)
    np.testing.assert_allclose(x["u"], np.linalg.solve(a, B[:3]), rtol=1e-12)
    np.testing.assert_allclose(x["w"], [0.0, 0.5])
    np.testing.assert_allclose(aux, B[:3].sum())
    g = ft.grad(lambda b: fnp.sum(f(b)[0]["u"]) + fnp.sum(f(b)[0]["w"]))(b)
    np.testing.assert_allclose(g["u"], np.linalg.solve(a.T, np.ones(3)), rtol=1e-12)
    np.testing.assert_allclose(g["w"], [0.5, 0.5])
    check_grads(lambda u, w: f({"u": u, "w": w})[0]["u"], (B[:3], np.arange(2.0)), order=1)


def test_linear_solve_keeps_float32():
    a = _general(3).astype(np.float32)
    b = B[:3].astype(np.float32)
    assert general_solve(a, b).dtype == np.float32
    grads = ft.grad(half_square_norm(general_solve), argnums=(0, 1))(a, b)
    assert [g.dtype for g in grads] == [np.float32, np.float32]


def test_linear_solve_errors_name_the_function():
    a, b = _spd(3), B[:3]
    with pytest.raises(ValueError, match=r"custom_linear_solve: .*matvec has shape \(2,\)"):
        lax.custom_linear_solve(lambda x: x[:2], b, lambda mv, v: v)
    with pytest.raises(ValueError, match=r"custom_linear_solve: .*solve .*has shape \(2,\)"):
        lax.custom_linear_solve(lambda x: x, b, lambda mv, v: v[:2])
    with pytest.raises(TypeError, match="matvec must return a value with the structure of b"):
        lax.custom_linear_solve(lambda x: (x,), b, lambda mv, v: v)
    with pytest.raises(TypeError, match="dtype float64, but the matching leaf of b has dtype "
                                        "float32"):
        lax.custom_linear_solve(lambda x: a @ x, b.astype(np.float32), lambda mv, v: v)
    with pytest.raises(TypeError, match="has_aux=True must return a pair"):
        lax.custom_linear_solve(lambda x: x, b, lambda mv, v: v, has_aux=True)
    no_transpose = lambda b: fnp.sum(  # noqa: E731
        lax.custom_linear_solve(lambda x: a @ x, b, lambda mv, v: fnp.linalg.solve(a, v)))
    with pytest.raises(TypeError, match="transpose_solve="):
        ft.grad(no_transpose)(b)
    # forward mode needs no transpose_solve
    np.testing.assert_allclose(ft.jacfwd(no_transpose)(b),
                               np.linalg.solve(a, np.eye(3)).sum(0), rtol=1e-12)


# ------------------------------------------------------------------ custom_root

def newton(f, x0):
    """Newton's method for a scalar root, in a fori_loop (traceable)."""
    return lax.fori_loop(0, 40, lambda i, x: x - f(x) / ft.grad(f)(x), x0)


def scalar_tangent_solve(g, y):
    return y / g(1.0)


def newton_sqrt(a):
    return lax.custom_root(lambda x: x ** 2 - a, 1.0, newton, scalar_tangent_solve)


def test_root_sqrt_value_and_derivatives():
    assert newton_sqrt(2.0) == pytest.approx(np.sqrt(2.0), rel=1e-14)
    assert ft.grad(newton_sqrt)(2.0) == pytest.approx(0.5 / np.sqrt(2.0), rel=1e-12)
    assert ft.grad(ft.grad(newton_sqrt))(2.0) == pytest.approx(-0.25 * 2.0 ** -1.5, rel=1e-10)
    check_grads(newton_sqrt, (2.0,), order=2, modes=("fwd", "rev"))
    a = np.array([1.0, 4.0, 9.0])
    np.testing.assert_allclose(ft.jit(ft.vmap(ft.grad(newton_sqrt)))(a), 0.5 / np.sqrt(a),
                               rtol=1e-12)


def test_root_derivative_ignores_the_solver_iterations():
    # a solver whose iterations are not differentiable (a Python loop on concrete
    # values): only the root and f enter the derivative
    def python_newton(f, x):
        for _ in range(30):
            x = x - f(x) / (2 * x)
        return x

    root = lambda a: lax.custom_root(lambda x: x ** 2 - a, 1.0, python_newton,  # noqa: E731
                                     scalar_tangent_solve)
    assert ft.grad(root)(3.0) == pytest.approx(0.5 / np.sqrt(3.0), rel=1e-12)
    assert ft.jvp(root, (3.0,), (2.0,))[1] == pytest.approx(1.0 / np.sqrt(3.0), rel=1e-12)


def fixed_point(w, c):
    """x = tanh(W x + c) as the root of f(x) = tanh(W x + c) - x, W closed over."""
    def f(x):
        return fnp.tanh(w @ x + c) - x

    def solve(f, x0):
        return lax.fori_loop(0, 200, lambda i, x: f(x) + x, x0)

    def tangent_solve(g, y):
        return fnp.linalg.solve(ft.jacfwd(g)(y), y)

    return lax.custom_root(f, fnp.zeros(c.shape, c.dtype), solve, tangent_solve)


def test_root_vector_fixed_point_against_analytic_gradient():
    rng = np.random.default_rng(4)
    w, c = 0.3 * rng.standard_normal((3, 3)), rng.standard_normal(3)
    x = fixed_point(w, c)
    np.testing.assert_allclose(x, np.tanh(w @ x + c), atol=1e-12)
    # implicit function theorem by hand: (I - D W) dx = D (dW x + dc), D = diag(1 - x²)
    d = np.diag(1 - x ** 2)
    dx_dc = np.linalg.solve(np.eye(3) - d @ w, d)
    np.testing.assert_allclose(ft.jacfwd(fixed_point, 1)(w, c), dx_dc, rtol=1e-9)
    np.testing.assert_allclose(ft.jacrev(fixed_point, 1)(w, c), dx_dc, rtol=1e-9)
    dx_dw = np.einsum("ij,k->ijk", dx_dc, x)
    np.testing.assert_allclose(ft.jacrev(fixed_point, 0)(w, c), dx_dw, rtol=1e-9)
    check_grads(fixed_point, (w, c), order=2, modes=("fwd", "rev"))


def test_root_has_aux_and_errors():
    def solve(f, x0):
        return newton(f, x0), 40

    root, steps = lax.custom_root(lambda x: x ** 3 - 8.0, 1.0, solve, scalar_tangent_solve,
                                  has_aux=True)
    assert root == pytest.approx(2.0) and steps == 40
    g = ft.grad(lambda a: lax.custom_root(lambda x: x ** 3 - a, 1.0, solve,
                                          scalar_tangent_solve, has_aux=True)[0])(8.0)
    assert g == pytest.approx(1 / 12)
    with pytest.raises(ValueError, match=r"custom_root: .*has shape \(2,\).*initial_guess"):
        lax.custom_root(lambda x: fnp.zeros(2), np.zeros(3), newton, scalar_tangent_solve)


# ------------------------------------------------------------------ closure_convert

def test_closure_convert_hoists_traced_values():
    seen = {}

    def outer(a):
        def f(x):
            return fnp.sin(a * x)
        converted, consts = ft.closure_convert(f, 1.0)
        seen["consts"] = len(consts)
        return converted(2.0, *consts)

    assert ft.grad(outer)(0.5) == pytest.approx(2 * np.cos(1.0), rel=1e-14)
    assert seen["consts"] == 1
    converted, consts = ft.closure_convert(lambda x, y: {"s": x * y}, 2.0, 3.0)
    assert consts == [] and converted(2.0, 3.0)["s"] == 6.0
    with pytest.raises(TypeError, match="structure of the example arguments"):
        converted((2.0, 3.0))


def test_closure_convert_lets_custom_vjp_differentiate_closed_over_values():
    # the documented use: a custom_vjp function receives the hoisted values as
    # arguments, so its backward pass returns their cotangents
    def outer(a):
        converted, consts = ft.closure_convert(lambda x: a * x ** 2, 3.0)

        @ft.custom_vjp
        def g(x, *consts):
            return converted(x, *consts)

        def g_fwd(x, *consts):
            return g(x, *consts), (x, consts)

        def g_bwd(residuals, cotangent):
            x, consts = residuals
            return ft.vjp(converted, x, *consts)[1](cotangent)

        g.defvjp(g_fwd, g_bwd)
        return g(3.0, *consts)

    assert ft.grad(outer)(2.0) == pytest.approx(9.0, rel=1e-14)
