"""functrans.numpy.linalg, functrans.scipy.linalg and functrans.lax.linalg.

Values against NumPy and SciPy; derivatives by ``check_grads`` (forward and reverse mode
against finite differences, to second order wherever the maths has one); every
transformation (jit, vmap, grad, hessian, scan) on a Gaussian-process likelihood;
float32 and complex inputs; and the cases JAX defines rather than raising: singular and
indefinite matrices, repeated eigen- and singular values. The primitives' rules are
checked one by one in tests/rules/table_linalg.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.linalg as sl

import functrans as ft
import functrans.numpy as fnp
import functrans.scipy.linalg as fsl
from functrans import lax
from functrans.lax import linalg as la
from functrans.test_util import check_grads

RNG = np.random.default_rng(20240517)


def normal(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


def spd(n: int, *batch: int) -> np.ndarray:
    a = RNG.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def well_conditioned(n: int, *batch: int) -> np.ndarray:
    return RNG.standard_normal(batch + (n, n)) + 2 * n * np.eye(n) * 0.5


def cplx(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


A = well_conditioned(4)
B = normal(4, 2)
S = spd(4)
TALL = normal(5, 3)
H = (lambda c: c @ c.conj().T + 4 * np.eye(4))(cplx(4, 4))


def reconstruct_eigh(w: Any, v: Any) -> Any:
    return (v * w[..., None, :]) @ fnp.swapaxes(v, -1, -2).conj()


def reconstruct_svd(u: Any, s: Any, vh: Any) -> Any:
    k = s.shape[-1]
    return (u[..., :, :k] * s[..., None, :]) @ vh[..., :k, :]


# ------------------------------------------------------------------ values

VALUES: list[tuple[str, Callable[..., Any], Callable[..., Any], tuple]] = [
    ("cholesky", fnp.linalg.cholesky, np.linalg.cholesky, (spd(4, 2),)),
    ("cholesky_upper", lambda a: fnp.linalg.cholesky(a, upper=True),
     lambda a: np.linalg.cholesky(a).T, (S,)),
    ("solve", fnp.linalg.solve, np.linalg.solve, (well_conditioned(3, 2), normal(2, 3, 2))),
    ("solve_vector", fnp.linalg.solve, np.linalg.solve, (A, normal(4))),
    ("solve_broadcast", fnp.linalg.solve, np.linalg.solve, (A, normal(3, 4, 2))),
    ("inv", fnp.linalg.inv, np.linalg.inv, (well_conditioned(3, 2),)),
    ("det", fnp.linalg.det, np.linalg.det, (normal(2, 3, 3),)),
    ("slogdet", lambda a: tuple(fnp.linalg.slogdet(a)), lambda a: tuple(np.linalg.slogdet(a)),
     (normal(2, 4, 4),)),
    ("eigvalsh", fnp.linalg.eigvalsh, np.linalg.eigvalsh, (spd(3, 2),)),
    ("eigh", lambda a: reconstruct_eigh(*fnp.linalg.eigh(a)), lambda a: a, (spd(3, 2),)),
    ("eigvals", lambda a: np.sort_complex(fnp.linalg.eigvals(a)),
     lambda a: np.sort_complex(np.linalg.eigvals(a)), (A,)),
    ("eig", lambda a: (lambda w, v: (v * w) @ np.linalg.inv(v))(*fnp.linalg.eig(a)),
     lambda a: a.astype(complex), (A,)),
    ("svdvals", fnp.linalg.svdvals, lambda a: np.linalg.svd(a, compute_uv=False),
     (normal(2, 3, 5),)),
    ("svd", lambda a: reconstruct_svd(*fnp.linalg.svd(a)), lambda a: a, (TALL,)),
    ("svd_hermitian", lambda a: fnp.linalg.svd(a, hermitian=True).S,
     lambda a: np.linalg.svd(a, compute_uv=False), (S - 6 * np.eye(4),)),
    ("qr", lambda a: tuple(fnp.linalg.qr(a)), lambda a: tuple(np.linalg.qr(a)), (TALL,)),
    ("qr_complete", lambda a: tuple(fnp.linalg.qr(a, "complete")),
     lambda a: tuple(np.linalg.qr(a, "complete")), (TALL,)),
    ("lstsq", lambda a, b: fnp.linalg.lstsq(a, b)[:2],
     lambda a, b: np.linalg.lstsq(a, b, rcond=None)[:2], (TALL, normal(5, 2))),
    ("pinv", fnp.linalg.pinv, np.linalg.pinv, (TALL,)),
    ("matrix_power", lambda a: fnp.linalg.matrix_power(a, 5),
     lambda a: np.linalg.matrix_power(a, 5), (A / 4,)),
    ("matrix_power_negative", lambda a: fnp.linalg.matrix_power(a, -2),
     lambda a: np.linalg.matrix_power(a, -2), (A,)),
    ("matrix_rank", fnp.linalg.matrix_rank, np.linalg.matrix_rank,
     (np.outer(normal(4), normal(3)) + np.outer(normal(4), normal(3)),)),
    ("cond", fnp.linalg.cond, np.linalg.cond, (A,)),
    ("cond_1", lambda a: fnp.linalg.cond(a, 1), lambda a: np.linalg.cond(a, 1), (A,)),
    ("norm_2", lambda a: fnp.linalg.norm(a, 2), lambda a: np.linalg.norm(a, 2), (TALL,)),
    ("norm_-2", lambda a: fnp.linalg.norm(a, -2), lambda a: np.linalg.norm(a, -2), (TALL,)),
    ("norm_nuc", lambda a: fnp.linalg.norm(a, "nuc", axis=(0, 2), keepdims=True),
     lambda a: np.linalg.norm(a, "nuc", axis=(0, 2), keepdims=True), (normal(3, 2, 4),)),
    ("multi_dot", lambda *xs: fnp.linalg.multi_dot(xs), lambda *xs: np.linalg.multi_dot(xs),
     (normal(6), normal(6, 2), normal(2, 5), normal(5, 3))),
    ("tensorsolve", fnp.linalg.tensorsolve, np.linalg.tensorsolve,
     (normal(2, 3, 6) + np.eye(6).reshape(2, 3, 6) * 3, normal(2, 3))),
    ("tensorinv", fnp.linalg.tensorinv, np.linalg.tensorinv,
     (np.eye(6).reshape(2, 3, 6) * 3 + normal(2, 3, 6),)),
    ("solve_triangular", lambda a, b: fsl.solve_triangular(a, b, trans="T", lower=True),
     lambda a, b: sl.solve_triangular(a, b, trans="T", lower=True), (A, B)),
    ("cho_solve", lambda a, b: fsl.cho_solve(fsl.cho_factor(a), b),
     lambda a, b: sl.cho_solve(sl.cho_factor(a), b), (S, B)),
    ("cholesky_scipy", fsl.cholesky, sl.cholesky, (S,)),
    ("lu", fsl.lu, sl.lu, (TALL,)),
    ("lu_factor", fsl.lu_factor, sl.lu_factor, (A,)),
    ("lu_solve", lambda a, b: fsl.lu_solve(fsl.lu_factor(a), b, trans=1),
     lambda a, b: sl.lu_solve(sl.lu_factor(a), b, trans=1), (A, B)),
    ("solve_pos", lambda a, b: fsl.solve(a, b, assume_a="pos"),
     lambda a, b: sl.solve(a, b, assume_a="pos"), (S, B)),
    ("solve_sym_upper", lambda a, b: fsl.solve(a, b, assume_a="sym"),
     lambda a, b: sl.solve(a, b, assume_a="sym"), (S + np.tril(A, -1), B)),
    ("eigh_generalized", lambda a, b: fsl.eigh(a, b, eigvals_only=True),
     lambda a, b: sl.eigh(a, b, eigvals_only=True), (S - 8 * np.eye(4), spd(4))),
    ("expm", fsl.expm, sl.expm, (A / 4,)),
    ("expm_frechet", fsl.expm_frechet, sl.expm_frechet, (A / 4, B @ B.T)),
    ("sqrtm", fsl.sqrtm, sl.sqrtm, (S,)),
    ("solve_sylvester", fsl.solve_sylvester, sl.solve_sylvester, (S, spd(2), normal(4, 2))),
    ("block_diag", fsl.block_diag, sl.block_diag, (A, normal(2, 3), np.ones(2), 5.0)),
    ("toeplitz", fsl.toeplitz, sl.toeplitz, (normal(4), normal(3))),
    ("inv_scipy", fsl.inv, sl.inv, (A,)),
    ("det_scipy", fsl.det, sl.det, (A,)),
]


@pytest.mark.parametrize("name, fun, reference, args", VALUES, ids=[c[0] for c in VALUES])
def test_values_match_numpy_and_scipy(name: str, fun: Callable[..., Any],
                                      reference: Callable[..., Any], args: tuple) -> None:
    got, expected = fun(*args), reference(*args)
    for g, e in zip(*(x if isinstance(x, tuple) else (x,) for x in (got, expected)),
                    strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-10, atol=1e-10,
                                   err_msg=name)


# ------------------------------------------------------------------ derivatives

def _sign_free_columns(v: Any) -> Any:
    return v * v[..., :1, :]


GRADS: list[tuple[str, Callable[..., Any], tuple, int]] = [
    ("cholesky", fnp.linalg.cholesky, (S,), 2),
    ("solve", fnp.linalg.solve, (A, B), 2),
    ("solve_vector", fnp.linalg.solve, (A, normal(4)), 2),
    ("inv", fnp.linalg.inv, (A,), 2),
    ("det", fnp.linalg.det, (normal(3, 3),), 2),
    ("slogdet", lambda a: tuple(fnp.linalg.slogdet(a)), (normal(4, 4),), 2),
    ("eigh", lambda a: (lambda w, v: (w, _sign_free_columns(v)))(*fnp.linalg.eigh(a)),
     (S,), 2),
    ("eigvalsh", fnp.linalg.eigvalsh, (S,), 2),
    ("eigvals", lambda a: fnp.real(fnp.linalg.eigvals(a)), (A,), 2),
    ("svd", lambda a: (lambda u, s, vh: (s, u[:, :3] * vh[:3, :1].T))(
        *fnp.linalg.svd(a, full_matrices=False)), (TALL,), 2),
    ("qr", lambda a: tuple(fnp.linalg.qr(a)), (TALL,), 2),
    ("lstsq", lambda a, b: fnp.linalg.lstsq(a, b)[0], (TALL, normal(5, 2)), 2),
    ("pinv", fnp.linalg.pinv, (TALL,), 2),
    ("matrix_power", lambda a: fnp.linalg.matrix_power(a, 3), (A,), 2),
    ("cond", fnp.linalg.cond, (A,), 2),
    ("norm_2", lambda a: fnp.linalg.norm(a, 2), (TALL,), 2),
    ("norm_nuc", lambda a: fnp.linalg.norm(a, "nuc"), (TALL,), 2),
    ("multi_dot", lambda a, b, c: fnp.linalg.multi_dot([a, b, c]),
     (normal(2, 3), normal(3, 4), normal(4, 2)), 2),
    ("tensorsolve", fnp.linalg.tensorsolve, (np.eye(6).reshape(2, 3, 6) * 3 + normal(2, 3, 6),
                                             normal(2, 3)), 2),
    ("tensorinv", fnp.linalg.tensorinv, (np.eye(6).reshape(2, 3, 6) * 3 + normal(2, 3, 6),), 2),
    ("solve_triangular", lambda a, b: fsl.solve_triangular(a, b, lower=True), (A, B), 2),
    ("cho_solve", lambda a, b: fsl.cho_solve(fsl.cho_factor(a, lower=True), b), (S, B), 2),
    ("solve_pos", lambda a, b: fsl.solve(a, b, assume_a="pos"), (S, B), 2),
    ("lu", lambda a: fsl.lu(a)[1:], (TALL,), 2),
    ("lu_solve", lambda a, b: fsl.lu_solve(fsl.lu_factor(a), b), (A, B), 2),
    ("eigh_generalized", lambda a, b: fsl.eigh(a, b, eigvals_only=True), (S, spd(4)), 2),
    ("expm", fsl.expm, (A / 4,), 2),
    ("expm_frechet", lambda a, e: fsl.expm_frechet(a, e, compute_expm=False), (A / 4, B @ B.T),
     2),
    ("sqrtm", lambda a: fnp.real(fsl.sqrtm(a)), (S,), 2),
    ("solve_sylvester", fsl.solve_sylvester, (S, spd(2), normal(4, 2)), 2),
    ("toeplitz", fsl.toeplitz, (normal(4), normal(3)), 1),
    ("block_diag", fsl.block_diag, (A, B), 1),
]


@pytest.mark.parametrize("name, fun, args, order", GRADS, ids=[c[0] for c in GRADS])
def test_check_grads(name: str, fun: Callable[..., Any], args: tuple, order: int) -> None:
    check_grads(fun, args, order=order, atol=1e-5, rtol=1e-5)


COMPLEX: list[tuple[str, Callable[..., Any], tuple, int]] = [
    ("cholesky", fnp.linalg.cholesky, (H,), 2),
    ("solve", fnp.linalg.solve, (cplx(3, 3) + 3 * np.eye(3), cplx(3, 2)), 2),
    ("det", fnp.linalg.det, (cplx(3, 3),), 2),
    ("slogdet", lambda a: tuple(fnp.linalg.slogdet(a)), (cplx(3, 3),), 1),
    ("eigh_projector", lambda a: (lambda v: v[:, :1] @ fnp.conj(v[:, :1]).T)(
        fnp.linalg.eigh(a)[1]), (H,), 2),
    ("svd_rank_one_terms", lambda a: (lambda u, s, vh: u[:, :1] * vh[:1, :])(
        *fnp.linalg.svd(a)), (cplx(3, 3),), 2),
    ("qr", lambda a: tuple(fnp.linalg.qr(a)), (cplx(4, 3),), 2),
    ("eig_phase_free", lambda a: (lambda v: v * fnp.conj(v[:1, :]))(fnp.linalg.eig(a)[1]),
     (cplx(3, 3),), 1),
    ("solve_triangular", lambda a, b: fsl.solve_triangular(a, b, trans=2, lower=True),
     (np.tril(H), cplx(4, 2)), 2),
    ("solve_her", lambda a, b: fsl.solve(a, b, assume_a="her"), (H, cplx(4, 2)), 1),
    ("expm", fsl.expm, (cplx(3, 3) / 4,), 2),
]


@pytest.mark.parametrize("name, fun, args, order", COMPLEX, ids=[c[0] for c in COMPLEX])
def test_check_grads_complex(name: str, fun: Callable[..., Any], args: tuple,
                             order: int) -> None:
    check_grads(fun, args, order=order, atol=1e-5, rtol=1e-5)


def test_complex_values() -> None:
    np.testing.assert_allclose(fnp.linalg.cholesky(H), np.linalg.cholesky(H), atol=1e-12)
    w, v = fnp.linalg.eigh(H)
    np.testing.assert_allclose(w, np.linalg.eigvalsh(H), atol=1e-12)
    np.testing.assert_allclose(reconstruct_eigh(w, v), H, atol=1e-12)
    z = cplx(4, 3)
    np.testing.assert_allclose(reconstruct_svd(*fnp.linalg.svd(z)), z, atol=1e-12)
    np.testing.assert_allclose(fnp.linalg.det(z[:3]), np.linalg.det(z[:3]), atol=1e-12)


# ------------------------------------------------------------------ transformations

D2 = (lambda x: ((x[:, None] - x[None, :]) ** 2))(np.linspace(0, 3, 12))
Y = np.sin(np.linspace(0, 3, 12))


def gp_log_likelihood(theta: Any) -> Any:
    """A Gaussian process's log marginal likelihood, hyperparameters theta."""
    k = fnp.exp(theta[1]) * fnp.exp(-0.5 * D2 / fnp.exp(2 * theta[0])) + \
        fnp.exp(theta[2]) * fnp.eye(12)
    factor = fsl.cho_factor(k, lower=True)
    alpha = fsl.cho_solve(factor, Y)
    return -0.5 * Y @ alpha - fnp.sum(fnp.log(fnp.diagonal(factor[0])))


THETA = np.array([-0.5, 0.2, -2.0])


def test_gp_gradient_and_hessian() -> None:
    check_grads(gp_log_likelihood, (THETA,), order=2, atol=1e-5, rtol=1e-5)
    grad = ft.grad(gp_log_likelihood)(THETA)
    np.testing.assert_allclose(ft.jit(ft.grad(gp_log_likelihood))(THETA), grad, rtol=1e-12)
    hess = ft.hessian(gp_log_likelihood)(THETA)
    np.testing.assert_allclose(hess, hess.T, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ft.jit(ft.jacrev(ft.grad(gp_log_likelihood)))(THETA), hess,
                               rtol=1e-8, atol=1e-10)


def test_gp_vmap_matches_a_loop() -> None:
    thetas = THETA + 0.1 * normal(4, 3)
    batched = ft.vmap(ft.value_and_grad(gp_log_likelihood))(thetas)
    looped = [ft.value_and_grad(gp_log_likelihood)(t) for t in thetas]
    np.testing.assert_allclose(batched[0], [v for v, _ in looped], rtol=1e-10)
    np.testing.assert_allclose(batched[1], np.stack([g for _, g in looped]), rtol=1e-9)
    jitted = ft.jit(ft.vmap(ft.grad(gp_log_likelihood)))(thetas)
    np.testing.assert_allclose(jitted, batched[1], rtol=1e-10)


def test_inside_scan() -> None:
    """A scan whose body factorises and solves: gradient against the unrolled loop."""
    matrices = spd(3, 4)

    def scanned(scale: Any) -> Any:
        def body(carry, m):
            x = fnp.linalg.solve(m * scale, carry)
            logdet = fnp.linalg.slogdet(m * scale)[1]
            return x / fnp.linalg.norm(x), logdet
        last, logdets = lax.scan(body, np.ones(3), matrices)
        return fnp.sum(last) + fnp.sum(logdets)

    def unrolled(scale: Any) -> Any:
        carry, total = np.ones(3), 0.0
        for m in matrices:
            x = fnp.linalg.solve(m * scale, carry)
            total = total + fnp.linalg.slogdet(m * scale)[1]
            carry = x / fnp.linalg.norm(x)
        return fnp.sum(carry) + total

    np.testing.assert_allclose(scanned(1.3), unrolled(1.3), rtol=1e-12)
    np.testing.assert_allclose(ft.grad(scanned)(1.3), ft.grad(unrolled)(1.3), rtol=1e-10)
    np.testing.assert_allclose(ft.jit(ft.grad(scanned))(1.3), ft.grad(unrolled)(1.3),
                               rtol=1e-10)
    check_grads(scanned, (1.3,), order=2)


def test_vmap_of_decompositions_matches_numpy_stacks() -> None:
    stack = spd(3, 5)
    np.testing.assert_allclose(ft.vmap(fnp.linalg.cholesky)(stack), np.linalg.cholesky(stack),
                               rtol=1e-12)
    np.testing.assert_allclose(ft.vmap(fnp.linalg.inv, in_axes=1, out_axes=1)(
        np.moveaxis(stack, 0, 1)), np.moveaxis(np.linalg.inv(stack), 0, 1), rtol=1e-10)
    rhs = normal(5, 3)
    np.testing.assert_allclose(ft.vmap(lambda b: fsl.cho_solve((np.linalg.cholesky(S[:3, :3]),
                                                                True), b))(rhs),
                               np.linalg.solve(S[:3, :3], rhs.T).T, rtol=1e-10)


# ------------------------------------------------------------------ dtypes

@pytest.mark.parametrize("fun, args", [
    (fnp.linalg.cholesky, (S,)),
    (fnp.linalg.solve, (A, B)),
    (fnp.linalg.det, (A,)),
    (lambda a: fnp.linalg.slogdet(a)[1], (A,)),
    (fnp.linalg.eigvalsh, (S,)),
    (lambda a: fnp.linalg.svd(a)[1], (TALL,)),
    (lambda a: fnp.linalg.qr(a)[1], (TALL,)),
    (fnp.linalg.pinv, (TALL,)),
    (lambda a, b: fsl.cho_solve(fsl.cho_factor(a), b), (S, B)),
    (lambda a: fsl.lu(a)[2], (A,)),
    (fsl.expm, (A / 4,)),
], ids=["cholesky", "solve", "det", "slogdet", "eigvalsh", "svd", "qr", "pinv", "cho_solve",
        "lu", "expm"])
def test_float32_stays_float32(fun: Callable[..., Any], args: tuple) -> None:
    args32 = tuple(np.asarray(a, np.float32) for a in args)
    out = fun(*args32)
    assert np.asarray(out).dtype == np.float32
    grads = ft.grad(lambda *xs: fnp.sum(fun(*xs)), argnums=tuple(range(len(args))))(*args32)
    assert all(np.asarray(g).dtype == np.float32 for g in grads)
    np.testing.assert_allclose(out, fun(*args), rtol=2e-3, atol=2e-3)


def test_integers_are_promoted_and_complex_kept() -> None:
    assert fnp.linalg.det(np.array([[2, 1], [1, 3]])).dtype == np.float64
    assert fnp.linalg.inv(np.eye(2, dtype=np.complex64)).dtype == np.complex64
    assert fnp.linalg.eigvals(np.eye(2, dtype=np.float32)).dtype == np.complex64
    assert fsl.sqrtm(np.eye(2)).dtype == np.complex128


# ------------------------------------------------------------------ JAX's edge cases

def test_cholesky_of_indefinite_matrices_is_nan() -> None:
    stack = np.stack([S, -S, S])
    out = fnp.linalg.cholesky(stack)
    assert np.isnan(out[1]).all()
    np.testing.assert_allclose(out[0], np.linalg.cholesky(S), rtol=1e-12)
    assert np.isnan(fnp.linalg.cholesky(-S)).all()
    assert np.isnan(ft.jit(fnp.linalg.cholesky)(-S)).all()


def test_singular_solve_gives_inf_or_nan_not_an_exception() -> None:
    with np.errstate(all="ignore"):
        x = fnp.linalg.solve(np.ones((3, 3)), np.ones(3))
    assert not np.isfinite(x).all()


def test_det_gradient_at_singular_matrices() -> None:
    """The gradient of det is the cofactor matrix: nonzero at rank n - 1, zero below."""
    rank2 = normal(3, 3)
    rank2[2] = rank2[0] - 2 * rank2[1]
    cofactors = np.array([[(-1) ** (i + j) * np.linalg.det(np.delete(np.delete(rank2, i, 0), j, 1))
                           for j in range(3)] for i in range(3)])
    assert fnp.linalg.det(rank2) == pytest.approx(0, abs=1e-12)
    np.testing.assert_allclose(ft.grad(fnp.linalg.det)(rank2), cofactors, atol=1e-12)
    np.testing.assert_allclose(ft.jit(ft.grad(fnp.linalg.det))(rank2), cofactors, atol=1e-12)
    rank1 = np.outer(normal(3), normal(3))
    np.testing.assert_allclose(ft.grad(fnp.linalg.det)(rank1), np.zeros((3, 3)), atol=1e-12)


def test_slogdet_at_singular_and_negative_determinants() -> None:
    with np.errstate(all="ignore"):
        sign, logdet = fnp.linalg.slogdet(np.ones((3, 3)))
    assert sign == 0 and logdet == -np.inf
    negative = A.copy()
    negative[[0, 1]] = negative[[1, 0]]
    sign, logdet = fnp.linalg.slogdet(negative)
    assert sign == np.sign(np.linalg.det(negative)) == -1
    np.testing.assert_allclose(ft.grad(lambda a: fnp.linalg.slogdet(a)[1])(negative),
                               np.linalg.inv(negative).T, rtol=1e-10)


def test_repeated_eigenvalues_give_finite_exact_first_derivatives() -> None:
    """At a double eigenvalue the eigenvectors are any basis of its eigenspace; the
    projector onto it and the eigenvalues' sum are still differentiable, and so are
    the other eigenvalues and eigenvectors."""
    q = np.linalg.qr(normal(4, 4))[0]
    a = (q * [1.0, 1.0, 2.0, 4.0]) @ q.T

    def invariants(x: Any) -> Any:
        w, v = fnp.linalg.eigh(x)
        pair = v[:, :2]
        return pair @ pair.T, w[0] + w[1], w[2:], v[:, 3:] @ v[:, 3:].T

    check_grads(invariants, (a,), order=1, atol=1e-5, rtol=1e-5)
    assert np.isfinite(ft.jacfwd(lambda x: fnp.linalg.eigh(x)[1])(a)).all()
    # the gradient of a spectral function is finite and exact: d tr(A^2) = 2 A
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(fnp.linalg.eigvalsh(x) ** 2))(a),
                               2 * a, atol=1e-12)


def test_repeated_singular_values() -> None:
    """An orthogonal matrix has every singular value 1: the nuclear norm's gradient there
    is U V^T = the matrix itself, finite."""
    q = np.linalg.qr(normal(4, 4))[0]
    np.testing.assert_allclose(ft.grad(lambda x: fnp.linalg.norm(x, "nuc"))(q), q, atol=1e-12)
    assert np.isfinite(ft.jacrev(lambda x: fnp.linalg.svd(x)[0])(q)).all()


# ------------------------------------------------------------------ errors and ownership

@pytest.mark.parametrize("call, error, words", [
    (lambda: fnp.linalg.solve(normal(3, 2), normal(3)), ValueError, "linalg.solve"),
    (lambda: fnp.linalg.solve(A, normal(3)), ValueError, "linalg.solve"),
    (lambda: fnp.linalg.inv(normal(3)), ValueError, "at least 2 dimensions"),
    (lambda: fnp.linalg.cholesky(np.ones((2, 2), np.float16)), TypeError, "float16"),
    (lambda: fnp.linalg.qr(A, mode="raw"), ValueError, "'raw'"),
    (lambda: fnp.linalg.matrix_power(A, 1.5), TypeError, "integer"),
    (lambda: la.cholesky(np.eye(3, dtype=np.int64)), TypeError, "int64"),
    (lambda: la.triangular_solve(A, normal(3, 2), left_side=True), TypeError,
     "incompatible shapes"),
    (lambda: la.triangular_solve(A, B.astype(np.float32), left_side=True), TypeError,
     "same dtype"),
    (lambda: la.eigh(normal(3, 4)), TypeError, "square"),
    (lambda: la.lu_pivots_to_permutation(np.array([0, 1]), 2), TypeError, "int32"),
    (lambda: fsl.qr(A, pivoting=True), ValueError, "pivoting"),
    (lambda: fsl.solve(A, B, assume_a="banded"), ValueError, "assume_a"),
    (lambda: fsl.solve_triangular(A, B, trans=3), ValueError, "trans"),
    (lambda: ft.jit(fnp.linalg.det)(normal(2, 3)), ValueError, "square"),
])
def test_bad_input_is_a_clear_error(call: Callable[[], Any], error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        call()


@pytest.mark.parametrize("fun, args", [
    (la.cholesky, (S,)), (lambda a: la.lu(a)[0], (A,)), (lambda a: la.qr(a)[1], (A,)),
    (lambda a, b: la.triangular_solve(a, b, left_side=True, lower=True), (A, B)),
    (lambda a, b: la.triangular_matmul(a, b, left_side=True), (A, B)),
    (lambda a, x: la.congruence_solve(a, x, lower=True), (A, S)),
    (lambda a: la.eigh(a)[0], (S,)), (lambda a: la.svd(a)[0], (A,)), (la.expm, (A / 4,)),
], ids=["cholesky", "lu", "qr", "triangular_solve", "triangular_matmul", "congruence_solve",
        "eigh", "svd", "expm"])
def test_results_do_not_share_memory_with_inputs(fun: Callable[..., Any], args: tuple) -> None:
    for call in (fun, ft.jit(fun)):
        out = np.asarray(call(*args))
        assert not any(np.shares_memory(out, a) for a in args)
