"""Custom rules see concrete values under eager differentiation, as in JAX: a custom_vjp's
fwd and bwd and a custom_jvp's rule may use NumPy, SciPy and Python control flow under
grad, vjp and jvp; under jit they are traced once and must not need concrete values."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.linalg
import scipy.special

import functrans as ft
import functrans.numpy as fnp
from functrans.test_util import check_grads

# -- a NumPy function with a custom VJP


@ft.custom_vjp
def np_sin(x: Any) -> Any:
    return np.sin(x)


def _np_sin_fwd(x: Any) -> tuple[Any, Any]:
    return np.sin(x), np.cos(x)


def _np_sin_bwd(cos_x: Any, g: Any) -> tuple[Any]:
    return (cos_x * g,)


np_sin.defvjp(_np_sin_fwd, _np_sin_bwd)


# -- a fixed point found by a Python loop, differentiated implicitly


@ft.custom_vjp
def babylonian_sqrt(a: Any) -> Any:
    x = 1.0
    while True:
        nxt = 0.5 * (x + a / x)
        if abs(nxt - x) < 1e-15 * abs(nxt):
            return nxt
        x = nxt


def _sqrt_fwd(a: Any) -> tuple[Any, Any]:
    x = babylonian_sqrt(a)
    return x, x


def _sqrt_bwd(x: Any, g: Any) -> tuple[Any]:
    # x = (x + a/x) / 2 at the fixed point, so dx/da = 1 / (2x)
    return (g / (2.0 * x),)


babylonian_sqrt.defvjp(_sqrt_fwd, _sqrt_bwd)


# -- a SciPy special function with its derivative


@ft.custom_jvp
def gammaln(x: Any) -> Any:
    return scipy.special.gammaln(x)


@gammaln.defjvp
def _gammaln_jvp(primals: Any, tangents: Any) -> tuple[Any, Any]:
    (x,), (t,) = primals, tangents
    return gammaln(x), scipy.special.digamma(x) * t


# -- a LAPACK solve with its matrix-calculus rule


@ft.custom_vjp
def lapack_solve(a: Any, b: Any) -> Any:
    return scipy.linalg.solve(a, b)


def _solve_fwd(a: Any, b: Any) -> tuple[Any, Any]:
    lu = scipy.linalg.lu_factor(a)
    x = scipy.linalg.lu_solve(lu, b)
    return x, (lu, x)


def _solve_bwd(res: Any, g: Any) -> tuple[Any, Any]:
    lu, x = res
    b_bar = scipy.linalg.lu_solve(lu, g, trans=1)
    return -np.outer(b_bar, x), b_bar


lapack_solve.defvjp(_solve_fwd, _solve_bwd)


def test_numpy_fwd_under_grad_vjp() -> None:
    assert ft.grad(np_sin)(0.3) == pytest.approx(np.cos(0.3))
    x = np.array([0.1, 0.2])
    out, pull = ft.vjp(np_sin, x)
    np.testing.assert_allclose(out, np.sin(x))
    np.testing.assert_allclose(pull(np.ones(2))[0], np.cos(x))


def test_fixed_point_first_and_second_order() -> None:
    assert ft.grad(babylonian_sqrt)(2.0) == pytest.approx(0.5 / np.sqrt(2.0), rel=1e-12)
    assert ft.grad(ft.grad(babylonian_sqrt))(2.0) == pytest.approx(-0.25 * 2.0 ** -1.5,
                                                                  rel=1e-10)


def test_scipy_special_under_grad_jvp_and_check_grads() -> None:
    assert ft.grad(gammaln)(3.5) == pytest.approx(scipy.special.digamma(3.5))
    primal, tangent = ft.jvp(gammaln, (3.5,), (2.0,))
    assert tangent == pytest.approx(2.0 * scipy.special.digamma(3.5))
    check_grads(gammaln, (3.5,), order=1, modes=("fwd", "rev"))


def test_lapack_solve_matches_the_analytic_gradient() -> None:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4)) + 4 * np.eye(4)
    b = rng.standard_normal(4)
    ga, gb = ft.grad(lambda a, b: fnp.sum(lapack_solve(a, b) ** 2), argnums=(0, 1))(a, b)
    x = np.linalg.solve(a, b)
    b_bar = np.linalg.solve(a.T, 2 * x)
    np.testing.assert_allclose(gb, b_bar, rtol=1e-10)
    np.testing.assert_allclose(ga, -np.outer(b_bar, x), rtol=1e-10)


def test_rules_see_concrete_values_exactly_without_staging() -> None:
    seen: list[type] = []

    @ft.custom_vjp
    def f(x: Any) -> Any:
        return fnp.sin(x)

    def fwd(x: Any) -> tuple[Any, Any]:
        seen.append(type(x))
        return fnp.sin(x), fnp.cos(x)

    f.defvjp(fwd, lambda c, g: (c * g,))
    ft.grad(f)(0.5)
    ft.jit(ft.grad(f))(0.5)
    ft.grad(ft.jit(f))(0.5)
    concrete = (float, np.float64, np.ndarray)
    assert issubclass(seen[0], concrete)
    assert not issubclass(seen[1], concrete) and not issubclass(seen[2], concrete)


def test_under_jit_rules_needing_values_fail_clearly() -> None:
    with pytest.raises(ft.TracerArrayConversionError, match="gammaln"):
        ft.jit(ft.grad(gammaln))(3.5)
    with pytest.raises(ft.ConcretizationTypeError):
        ft.jit(ft.grad(babylonian_sqrt))(2.0)


def test_vmap_of_eager_grad_gives_the_rule_batched_values() -> None:
    # as in JAX: under vmap the rule sees batched tracers, so it must use functrans.numpy
    seen: list[Any] = []

    @ft.custom_jvp
    def softplus(x: Any) -> Any:
        return fnp.logaddexp(x, 0.0)

    @softplus.defjvp
    def _softplus_jvp(primals: Any, tangents: Any) -> tuple[Any, Any]:
        (x,), (t,) = primals, tangents
        seen.append(x)
        return softplus(x), t * ft.nn.sigmoid(x)

    xs = np.array([-1.0, 0.5, 2.0])
    np.testing.assert_allclose(ft.vmap(ft.grad(softplus))(xs), 1 / (1 + np.exp(-xs)))
    assert isinstance(seen[-1], ft.Tracer)
    with pytest.raises(ft.TracerArrayConversionError, match="gammaln"):
        ft.vmap(ft.grad(gammaln))(xs + 2)


def test_checkpoint_stages_rules_as_jit_does() -> None:
    # checkpoint records its function as a jaxpr, so rules inside it are traced
    xs = np.array([0.1, 0.5, 1.0])
    with pytest.raises(ft.TracerArrayConversionError, match="gammaln"):
        ft.grad(ft.checkpoint(lambda x: fnp.sum(gammaln(x + 1.0))))(xs)
    g = ft.grad(ft.checkpoint(lambda x: fnp.sum(fnp.sin(x) ** 2)))(xs)
    np.testing.assert_allclose(g, 2 * np.sin(xs) * np.cos(xs))


def test_closure_over_a_differentiated_value_is_still_refused() -> None:
    def outer(a: Any) -> Any:
        @ft.custom_vjp
        def h(x: Any) -> Any:
            return x * a

        h.defvjp(lambda x: (h(x), None), lambda res, g: (g,))
        return h(np.ones(2))

    with pytest.raises(TypeError, match="closes over a value that is being differentiated"):
        ft.grad(lambda a: fnp.sum(outer(a)))(2.0)
