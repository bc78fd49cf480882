"""Rows for the linear-algebra primitives (functrans/primitives/linalg.py).

Inputs come from each primitive's valid domain: symmetric positive-definite matrices for
``cholesky``, well-conditioned triangular ones for the solves, matrices with well
separated eigen-/singular values for ``eigh``, ``svd`` and ``eig``. A random other
triangle is left in the triangular operands, so the rows also check that nothing is read
(or differentiated) there.

Eigen- and singular vectors are determined up to a sign (real) or a phase (complex), so
their rows test functions that do not depend on it: each column times its first entry
(the conjugate of it for complex vectors), projectors onto eigenspaces and onto the
orthogonal complement that a complete Q or U adds. Complex results are split into real
and imaginary parts, where JAX's cotangent convention and the harness's inner product
agree (as in table_fft).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from functrans import lax
from functrans.lax import linalg as la
from tests.rules import Row

Args = Callable[[np.random.Generator, np.dtype], tuple]

# derivatives of decompositions amplify rounding a little more than elementwise rules
TOL = dict(rtol=1e-5, atol=1e-5)


def _orthogonal(rng: np.random.Generator, n: int, batch: tuple[int, ...] = ()) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    return q * np.sign(np.diagonal(r, axis1=-2, axis2=-1))[..., None, :]


def _with_spectrum(rng: np.random.Generator, values: np.ndarray,
                   batch: tuple[int, ...] = ()) -> np.ndarray:
    """Q diag(values) Q^T for a random orthogonal Q: a symmetric matrix with the given
    eigenvalues."""
    q = _orthogonal(rng, len(values), batch)
    return (q * values) @ np.swapaxes(q, -1, -2)


def _spd(n: int, batch: tuple[int, ...] = ()) -> Args:
    def args(rng, dtype):
        values = np.linspace(1.0, 3.0, n) + rng.uniform(0, 0.1, n)
        return (_with_spectrum(rng, values, batch).astype(dtype),)
    return args


def _symmetric(values: tuple[float, ...], batch: tuple[int, ...] = ()) -> Args:
    return lambda rng, dtype: (_with_spectrum(rng, np.array(values), batch).astype(dtype),)


def _triangular(n: int, k: int | None, *, lower: bool, left_side: bool,
                batch: tuple[int, ...] = ()) -> Args:
    """A triangular matrix with a dominant diagonal (well conditioned), noise in its
    other triangle, and a right-hand side (k columns, or a vector when k is None)."""
    def args(rng, dtype):
        a = rng.standard_normal(batch + (n, n)) * 0.3
        a += np.eye(n) * (2.0 + rng.uniform(0, 1, batch + (n,)))[..., None, :]
        if k is None:
            b = rng.standard_normal(batch + (n,))
        else:
            b = rng.standard_normal(batch + ((n, k) if left_side else (k, n)))
        return a.astype(dtype), b.astype(dtype)
    return args


def _normal(*shapes: tuple[int, ...], scale: float = 1.0) -> Args:
    return lambda rng, dtype: tuple((rng.standard_normal(s) * scale).astype(dtype)
                                    for s in shapes)


def _distinct_singular_values(shape: tuple[int, ...]) -> Args:
    """U diag(s) V^T with s spread from 1 to 3 (distinct, away from zero)."""
    def args(rng, dtype):
        *batch, m, n = shape
        k = min(m, n)
        u = _orthogonal(rng, m, tuple(batch))[..., :, :k]
        v = _orthogonal(rng, n, tuple(batch))[..., :, :k]
        s = np.linspace(1.0, 3.0, k) + rng.uniform(0, 0.1, k)
        return (((u * s) @ np.swapaxes(v, -1, -2)).astype(dtype),)
    return args


def _separated_eigenvalues(n: int) -> Args:
    """V diag(w) V^-1 with real, well separated eigenvalues and a well-conditioned V."""
    def args(rng, dtype):
        v = np.eye(n) + 0.3 * rng.standard_normal((n, n))
        w = np.arange(1.0, n + 1) + rng.uniform(0, 0.1, n)
        return ((v * w) @ np.linalg.inv(v)).astype(dtype),
    return args


def _rotation_pairs(n: int) -> Args:
    """A matrix with complex-conjugate eigenvalue pairs, well separated."""
    def args(rng, dtype):
        v = np.eye(n) + 0.3 * rng.standard_normal((n, n))
        blocks = np.zeros((n, n))
        for i, (re, im) in enumerate([(1.0, 2.0), (-1.5, 1.0)][: n // 2]):
            blocks[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[re, im], [-im, re]]
        if n % 2:
            blocks[-1, -1] = 3.0
        return ((v @ blocks @ np.linalg.inv(v)).astype(dtype),)
    return args


def _pivots(m: int, k: int) -> Args:
    def args(rng, dtype):
        return (np.array([rng.integers(i, m) for i in range(k)], np.int32),)
    return args


# ------------------------------------------------------------------ invariant views

def _swap(x: Any) -> Any:
    return lax.transpose(x, tuple(range(x.ndim - 2)) + (x.ndim - 1, x.ndim - 2))


def _matmul(a: Any, b: Any) -> Any:
    nd = a.ndim
    batch = tuple(range(nd - 2))
    return lax.dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def _sign_free(v: Any) -> Any:
    """Each column times its first entry: unchanged when a column changes sign."""
    first = lax.slice_in_dim(v, 0, 1, axis=v.ndim - 2)
    return lax.mul(v, lax.broadcast_in_dim(first, v.shape, tuple(range(v.ndim))))


def _phase_free(v: Any) -> tuple[Any, Any]:
    """Each complex column times the conjugate of its first entry, as real parts."""
    first = lax.conj(lax.slice_in_dim(v, 0, 1, axis=v.ndim - 2))
    z = lax.mul(v, lax.broadcast_in_dim(first, v.shape, tuple(range(v.ndim))))
    return lax.real(z), lax.imag(z)


def _projector(columns: Any) -> Any:
    """Q Q^T: the orthogonal projector onto the span of orthonormal columns."""
    return _matmul(columns, _swap(columns))


def _columns(x: Any, start: int, stop: int) -> Any:
    return lax.slice_in_dim(x, start, stop, axis=x.ndim - 1)


def _parts(z: Any) -> tuple[Any, Any]:
    return lax.real(z), lax.imag(z)


# ------------------------------------------------------------------ rows

def _triangular_rows(name: str, fun: Callable[..., Any], **params: Any) -> list[Row]:
    f = lambda a, b: fun(a, b, **params)  # noqa: E731
    left, lower = params.get("left_side", False), params.get("lower", False)
    args = _triangular(4, 3, lower=lower, left_side=left)
    return [Row(name, f, args, **TOL),
            Row(f"{name}_b", f, args, diff_argnums=(1,), linear=True, **TOL)]


def _eigh_view(x: Any, **kw: Any) -> tuple[Any, Any]:
    v, w = la.eigh(x, **kw)
    return w, _sign_free(v)


def _degenerate_eigh(x: Any) -> tuple[Any, Any]:
    """Eigenvalues (1, 1, 2, 4): the sum of the double pair and the simple eigenvalues,
    whose derivatives of every order exist. (Eigenvector functions that do not depend on
    the basis of the double eigenspace, such as projectors, have exact first derivatives
    there, checked in tests/test_linalg.py; their second derivatives would need
    degenerate perturbation theory.)"""
    _, w = la.eigh(x)
    pair = lax.reduce_sum(lax.slice_in_dim(w, 0, 2, axis=0), (0,))
    return pair, lax.slice_in_dim(w, 2, 4, axis=0)


def _svd_view(x: Any) -> tuple[Any, Any, Any]:
    u, s, vh = la.svd(x, full_matrices=False)
    return s, _sign_free(u), _sign_free(_swap(vh))


def _svd_complement(x: Any) -> tuple[Any, Any, Any]:
    """Complete U and V^H: the projectors onto the columns beyond min(m, n)."""
    u, s, vh = la.svd(x, full_matrices=True)
    m, n = x.shape[-2:]
    k = min(m, n)
    v = _swap(vh)
    return s, _projector(_columns(u, k, m)), _projector(_columns(v, k, n))


def _qr_complete(x: Any) -> tuple[Any, Any, Any]:
    q, r = la.qr(x, full_matrices=True)
    n = x.shape[-1]
    return _columns(q, 0, n), r, _projector(_columns(q, n, x.shape[-2]))


def _eig_values(x: Any) -> tuple[Any, Any]:
    (w,) = la.eig(x, compute_left_eigenvectors=False, compute_right_eigenvectors=False)
    return _parts(w)


def _eig_right(x: Any) -> tuple[Any, ...]:
    w, vr = la.eig(x, compute_left_eigenvectors=False)
    return (*_parts(w), *_phase_free(vr))


def _eig_left(x: Any) -> tuple[Any, Any]:
    _, vl = la.eig(x, compute_right_eigenvectors=False)
    return _phase_free(vl)


ROWS = [
    # cholesky: symmetrised input, the lower triangle only, a stack
    Row("cholesky", la.cholesky, _spd(4), **TOL),
    Row("cholesky_lower_triangle", lambda x: la.cholesky(x, symmetrize_input=False),
        _spd(3), **TOL),
    Row("cholesky_batch", la.cholesky, _spd(3, (2,)), **TOL),
    # triangular_solve: sides, triangles, op(A), unit diagonal, vectors, stacks
    *_triangular_rows("triangular_solve_left_lower", la.triangular_solve, left_side=True,
                      lower=True),
    *_triangular_rows("triangular_solve_left_upper_transposed", la.triangular_solve,
                      left_side=True, lower=False, transpose_a=True),
    *_triangular_rows("triangular_solve_right_lower", la.triangular_solve, left_side=False,
                      lower=True),
    *_triangular_rows("triangular_solve_right_upper_transposed", la.triangular_solve,
                      left_side=False, lower=False, transpose_a=True),
    *_triangular_rows("triangular_solve_unit_diagonal", la.triangular_solve, left_side=True,
                      lower=True, unit_diagonal=True),
    Row("triangular_solve_vector", lambda a, b: la.triangular_solve(a, b, left_side=True,
                                                                   lower=True),
        _triangular(4, None, lower=True, left_side=True), **TOL),
    Row("triangular_solve_stack", lambda a, b: la.triangular_solve(a, b, left_side=True),
        _triangular(3, 2, lower=False, left_side=True, batch=(2,)), **TOL),
    Row("triangular_solve_large_stack",   # above the substitution size: one trsm per matrix
        lambda a, b: la.triangular_solve(a, b, left_side=False, lower=True),
        _triangular(34, 2, lower=True, left_side=False, batch=(2,)), **TOL),
    # triangular_matmul (BLAS trmm)
    *_triangular_rows("triangular_matmul_left_lower", la.triangular_matmul, left_side=True,
                      lower=True),
    *_triangular_rows("triangular_matmul_right_upper_transposed", la.triangular_matmul,
                      left_side=False, lower=False, transpose_a=True),
    *_triangular_rows("triangular_matmul_unit_diagonal", la.triangular_matmul,
                      left_side=False, lower=True, unit_diagonal=True),
    Row("triangular_matmul_a", lambda a, b: la.triangular_matmul(a, b, left_side=True),
        _triangular(3, 2, lower=False, left_side=True), diff_argnums=(0,), linear=True,
        **TOL),
    Row("triangular_matmul_stack", lambda a, b: la.triangular_matmul(a, b, lower=True),
        _triangular(3, 2, lower=True, left_side=False, batch=(2,)), **TOL),
    # congruence_solve (LAPACK sygst)
    Row("congruence_solve_lower", lambda a, x: la.congruence_solve(a, x, lower=True),
        lambda rng, dtype: (_triangular(4, 4, lower=True, left_side=True)(rng, dtype)[0],
                            rng.standard_normal((4, 4)).astype(dtype)), **TOL),
    Row("congruence_solve_upper_transposed",
        lambda a, x: la.congruence_solve(a, x, lower=False, transpose_a=True),
        lambda rng, dtype: (_triangular(3, 3, lower=False, left_side=True)(rng, dtype)[0],
                            rng.standard_normal((3, 3)).astype(dtype)), **TOL),
    Row("congruence_solve_x", lambda a, x: la.congruence_solve(a, x, lower=True),
        lambda rng, dtype: (_triangular(4, 4, lower=True, left_side=True)(rng, dtype)[0],
                            rng.standard_normal((4, 4)).astype(dtype)),
        diff_argnums=(1,), linear=True, **TOL),
    Row("congruence_solve_stack", lambda a, x: la.congruence_solve(a, x, transpose_a=True),
        lambda rng, dtype: (_triangular(3, 3, lower=False, left_side=True,
                                        batch=(2,))(rng, dtype)[0],
                            rng.standard_normal((2, 3, 3)).astype(dtype)), **TOL),
    # lu: square, tall, wide, stacked; and the pivots' permutation
    Row("lu_square", la.lu, _normal((4, 4)), **TOL),
    Row("lu_tall", la.lu, _normal((5, 3)), **TOL),
    Row("lu_wide", la.lu, _normal((3, 5)), **TOL),
    Row("lu_stack", la.lu, _normal((2, 3, 3)), **TOL),
    Row("lu_pivots_to_permutation", lambda p: la.lu_pivots_to_permutation(p, 5),
        _pivots(5, 4), dtypes=(np.int32,), differentiable=False),
    # qr
    Row("qr_square", lambda x: la.qr(x), _normal((4, 4)), **TOL),
    Row("qr_tall_reduced", lambda x: la.qr(x, full_matrices=False), _normal((5, 3)), **TOL),
    Row("qr_tall_complete", _qr_complete, _normal((5, 3)), **TOL),
    Row("qr_wide", lambda x: la.qr(x, full_matrices=False), _normal((3, 5)), **TOL),
    Row("qr_stack", lambda x: la.qr(x), _normal((2, 4, 3)), **TOL),
    # eigh: separated eigenvalues; the upper triangle; a repeated eigenvalue
    Row("eigh", _eigh_view, _symmetric((-1.0, 0.5, 2.0, 4.0)), **TOL),
    Row("eigh_upper_triangle", lambda x: _eigh_view(x, lower=False, symmetrize_input=False),
        _symmetric((1.0, 2.5, 4.0)), **TOL),
    Row("eigh_repeated_eigenvalue", _degenerate_eigh, _symmetric((1.0, 1.0, 2.0, 4.0)),
        rtol=1e-4, atol=1e-4, eps=1e-5),
    Row("eigh_stack", _eigh_view, _symmetric((1.0, 2.0, 3.5), (2,)), **TOL),
    # svd
    Row("svd_values", lambda x: la.svd(x, compute_uv=False), _distinct_singular_values((4, 3)),
        **TOL),
    Row("svd_square", _svd_view, _distinct_singular_values((3, 3)), **TOL),
    Row("svd_tall", _svd_view, _distinct_singular_values((5, 3)), **TOL),
    Row("svd_wide", _svd_view, _distinct_singular_values((3, 4)), **TOL),
    Row("svd_complete_tall", _svd_complement, _distinct_singular_values((5, 3)), **TOL),
    Row("svd_complete_wide", _svd_complement, _distinct_singular_values((2, 4)), **TOL),
    Row("svd_stack", _svd_view, _distinct_singular_values((2, 3, 2)), **TOL),
    # eig: real and complex-pair spectra; left and right eigenvectors
    Row("eig_values", _eig_values, _separated_eigenvalues(4), **TOL),
    Row("eig_right_vectors", _eig_right, _separated_eigenvalues(3), **TOL),
    Row("eig_complex_pairs", _eig_right, _rotation_pairs(4), **TOL),
    Row("eig_left_vectors", _eig_left, _rotation_pairs(3), **TOL),
    # matrix functions
    Row("expm", la.expm, _normal((3, 3), scale=0.5), **TOL),
    Row("expm_stack", la.expm, _normal((2, 3, 3), scale=0.5), **TOL),
    Row("expm_frechet", la.expm_frechet, _normal((3, 3), (3, 3), scale=0.5), **TOL),
    Row("expm_frechet_e", la.expm_frechet, _normal((3, 3), (3, 3), scale=0.5),
        diff_argnums=(1,), linear=True, **TOL),
    Row("solve_sylvester", la.solve_sylvester,
        lambda rng, dtype: (*_spd(3)(rng, dtype), *_spd(2)(rng, dtype),
                            rng.standard_normal((3, 2)).astype(dtype)), **TOL),
    Row("solve_sylvester_c", la.solve_sylvester,
        lambda rng, dtype: (*_spd(3)(rng, dtype), *_spd(2)(rng, dtype),
                            rng.standard_normal((3, 2)).astype(dtype)),
        diff_argnums=(2,), linear=True, **TOL),
    Row("sqrtm", lambda x: _parts(la.sqrtm(x)), _spd(3), **TOL),
]
