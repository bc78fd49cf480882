"""``functrans.numpy.linalg``: ``jax.numpy.linalg`` on functrans' LAPACK primitives.

Decompositions (``cholesky``, ``qr``, ``eigh``, ``eig``, ``svd``) and solves are the
primitives of :mod:`functrans.lax.linalg`, with their derivative rules (docs/linalg.md);
the rest is built from them: ``solve`` and ``inv`` from one LU factorisation (whose
derivative reuses it), ``det`` and ``slogdet`` from LU, ``pinv``, ``lstsq``, ``cond``,
``matrix_rank`` and the spectral norms from the SVD. Integer arrays are promoted to
float64; float32 stays float32. Matrices live in the last two axes; leading axes are a
batch. Decompositions return NumPy 2's named tuples (``EighResult``, ``SVDResult``...).

As in JAX, no error is raised for singular or indefinite matrices: ``cholesky`` gives
NaN, ``solve``/``inv`` give inf or NaN, ``det`` gives 0 (and a finite gradient, the
adjugate, where the rank is n - 1), ``slogdet`` gives (0, -inf).
"""

from __future__ import annotations

import builtins
import operator
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from functrans.core.avals import get_aval
from functrans.higher_order.custom_derivatives import SymbolicZero, custom_jvp, traceable_rule
from functrans.numpy import _reductions as red
from functrans.numpy import _ufuncs as uf
from functrans.numpy._indexing import take_along_axis
from functrans.numpy._lax import lax
from functrans.numpy._products import matmul, outer, tensordot, vecdot
from functrans.numpy._shape import diagonal as _diagonal
from functrans.numpy._shape import matrix_transpose, moveaxis, swapaxes
from functrans.numpy._shape import reshape as _reshape
from functrans.numpy._shape import trace as _trace
from functrans.numpy._util import (
    Array,
    as_array,
    asarray_arg,
    broadcast_shapes,
    broadcast_to_shape,
    canonicalize_axis,
    cast,
    concrete,
    dtype_of,
    result_type,
    shape_of,
    static_int,
    to_inexact_dtype,
)
from functrans.transforms.tape import one_entry

__all__ = ["cholesky", "solve", "inv", "det", "slogdet", "eigh", "eigvalsh", "eig", "eigvals",
           "svd", "svdvals", "qr", "lstsq", "pinv", "matrix_power", "matrix_rank", "cond",
           "multi_dot", "tensorsolve", "tensorinv", "norm", "vector_norm", "matrix_norm",
           "matmul", "outer", "tensordot", "vecdot", "matrix_transpose", "diagonal", "trace",
           "EighResult", "EigResult", "SVDResult", "QRResult", "SlogdetResult"]


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)

_MATRIX_ORDS = "'fro', 'nuc', 1, -1, 2, -2, inf, -inf (and None)"
_LAPACK_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                              np.complex128))


class EighResult(NamedTuple):
    eigenvalues: Array
    eigenvectors: Array


class EigResult(NamedTuple):
    eigenvalues: Array
    eigenvectors: Array


class SVDResult(NamedTuple):
    U: Array
    S: Array
    Vh: Array


class QRResult(NamedTuple):
    Q: Array
    R: Array


class SlogdetResult(NamedTuple):
    sign: Array
    logabsdet: Array


# ------------------------------------------------------------------ arguments

def _lapack_dtype(fname: str, argname: str, dtype: np.dtype) -> np.dtype:
    dtype = to_inexact_dtype(dtype)
    if dtype not in _LAPACK_DTYPES:
        raise TypeError(f"functrans.numpy.linalg.{fname}: {argname} has dtype {dtype}; LAPACK "
                        "works in float32, float64, complex64 and complex128: convert it, "
                        f"e.g. {argname}.astype(np.float32)")
    return dtype


def _matrix(a: Any, fname: str, argname: str = "a", square: bool = False) -> Array:
    """`a` as an array of a LAPACK dtype with at least two axes (square ones if asked)."""
    a = as_array(asarray_arg(a, f"linalg.{fname}", argname))
    a = cast(a, _lapack_dtype(fname, argname, dtype_of(a)))
    shape = shape_of(a)
    if len(shape) < 2:
        raise ValueError(f"functrans.numpy.linalg.{fname}: {argname} must be a matrix or a "
                         f"stack of matrices (at least 2 dimensions), got shape {shape}")
    if square and shape[-1] != shape[-2]:
        raise ValueError(f"functrans.numpy.linalg.{fname}: {argname} must be square in its "
                         f"last two axes ([..., n, n]), got shape {shape}")
    return a


def _matrices(fname: str, a: Any, b: Any) -> tuple[Array, Array]:
    """Two operands promoted to one LAPACK dtype (not broadcast)."""
    a = as_array(asarray_arg(a, f"linalg.{fname}", "a"))
    b = as_array(asarray_arg(b, f"linalg.{fname}", "b"))
    dtype = _lapack_dtype(fname, "a and b", result_type(a, b))
    return cast(a, dtype), cast(b, dtype)


def _H(x: Array) -> Array:  # noqa: N802  (the usual name of the conjugate transpose)
    x = swapaxes(x, -1, -2)
    return uf.conjugate(x) if dtype_of(x).kind == "c" else x


def _identity_like(a: Array) -> Array:
    shape = shape_of(a)
    return broadcast_to_shape(np.eye(shape[-1], dtype=dtype_of(a)), shape)


# ------------------------------------------------------------------ Cholesky and solves

@one_entry(1)
def cholesky(a: Any, *, upper: bool = False, symmetrize_input: bool = True) -> Array:
    """The Cholesky factor of Hermitian positive-definite matrices: L with A = L L^H, or
    U = L^H with `upper` (as ``jax.numpy.linalg.cholesky``).

    With `symmetrize_input` (JAX's default), A = (a + a^H) / 2; otherwise only the lower
    triangle is read. NaN where A is not positive definite (NumPy raises instead).
    """
    a = _matrix(a, "cholesky", square=True)
    factor = lax.linalg.cholesky(a, symmetrize_input=symmetrize_input)
    return _H(factor) if upper else factor


def _lu_solve(packed: Array, perm: Array, b: Array) -> Array:
    return lax.linalg.lu_solve(packed, perm, b)


@traceable_rule
@custom_jvp
def _solve(a: Array, b: Array) -> Array:
    packed, _, perm = lax.linalg.lu(a)
    return _lu_solve(packed, perm, b)


def _solve_jvp(primals: tuple, tangents: tuple) -> tuple[Array, Array]:
    # one LU for the value and the tangent: X' = A^-1 (B' - A' X)
    (a, b), (a_dot, b_dot) = primals, tangents
    packed, _, perm = lax.linalg.lu(a)
    x = _lu_solve(packed, perm, b)
    if type(a_dot) is SymbolicZero and type(b_dot) is SymbolicZero:
        return x, SymbolicZero(get_aval(x))
    rhs = None if type(b_dot) is SymbolicZero else b_dot
    if type(a_dot) is not SymbolicZero:
        change = matmul(a_dot, x)
        rhs = uf.negative(change) if rhs is None else uf.subtract(rhs, change)
    return x, _lu_solve(packed, perm, rhs)


_solve.defjvp(_solve_jvp, symbolic_zeros=True)


@one_entry(2)
def solve(a: Any, b: Any) -> Array:
    """The solution X of A X = B (as ``jax.numpy.linalg.solve``): one LU factorisation and
    two triangular solves; its derivative reuses the factorisation.

    `b` is a vector [n] or a stack of matrices [..., n, k], broadcast against the batch
    axes of `a` (NumPy 2's rule: a 1-D `b` is the only vector). A singular A gives inf or
    NaN, as in JAX (NumPy raises).
    """
    a, b = _matrices("solve", a, b)
    a_shape, b_shape = shape_of(a), shape_of(b)
    if len(a_shape) < 2 or a_shape[-1] != a_shape[-2]:
        raise ValueError(f"functrans.numpy.linalg.solve: a must be square in its last two axes "
                         f"([..., n, n]), got shape {a_shape}")
    n = a_shape[-1]
    vector = len(b_shape) == 1
    if (vector and b_shape[0] != n) or (not vector and (len(b_shape) < 2
                                                        or b_shape[-2] != n)):
        raise ValueError(f"functrans.numpy.linalg.solve: b must be [{n}] or [..., {n}, k] for a "
                         f"of shape {a_shape}, got shape {b_shape}")
    if vector:
        b = _reshape(b, (n, 1))
    batch = broadcast_shapes("linalg.solve", a_shape[:-2], shape_of(b)[:-2])
    a = broadcast_to_shape(a, batch + (n, n))
    b = broadcast_to_shape(b, batch + shape_of(b)[-2:])
    x = _solve(a, b)
    return _reshape(x, batch + (n,)) if vector else x


@one_entry(1)
def inv(a: Any) -> Array:
    """The inverse of square matrices: ``solve(a, I)`` (inf or NaN if singular)."""
    a = _matrix(a, "inv", square=True)
    return _solve(a, _identity_like(a))


# ------------------------------------------------------------------ determinants

def _rows_permuted(b: Array, perm: Array) -> Array:
    """b[..., perm, :] (perm: [..., n], the batch axes of b)."""
    return take_along_axis(b, lax.expand_dims(perm, (len(shape_of(perm)),)), -2)


def _lu_parts(a: Array) -> tuple[Array, Array, Array, Array]:
    """LU of `a`: the packed factors, the permutation, the diagonal of U and the sign of
    the row permutation (+1 or -1, in a's dtype)."""
    packed, pivots, perm = lax.linalg.lu(a)
    n = shape_of(a)[-1]
    swaps = red.count_nonzero(uf.not_equal(pivots, np.arange(n, dtype=np.int32)), axis=-1)
    odd = uf.equal(uf.fmod(swaps, 2), 1)  # (a count: fmod is remainder, in one operation)
    parity = uf.where(odd, np.asarray(-1, dtype_of(a)), np.asarray(1, dtype_of(a)))
    return packed, perm, _diagonal(packed, 0, -2, -1), parity


def _last_entry(n: int, shape: tuple[int, ...]) -> np.ndarray:
    mask = np.zeros((n, n), bool)
    mask[-1, -1] = True
    return np.broadcast_to(mask, shape)


def _cofactor_solve(a: Array, b: Array) -> tuple[Array, Array]:
    """(det A, adj(A) B) from one LU, P A = L U, finite also where A is singular.

    adj(A) B = det(A) U^-1 L^-1 P B. Replacing the last pivot u_nn by 1 / (sign u_11 ...
    u_(n-1)(n-1)) turns the back substitution into that product without dividing by
    u_nn, so a rank n - 1 matrix whose zero pivot comes last gets its (nonzero)
    adjugate. If an earlier pivot is zero the result is zero, as JAX's: exact for rank
    n - 2 and below, where the adjugate vanishes.
    """
    shape = shape_of(a)
    n = shape[-1]
    if n == 1:
        return _reshape(a, shape[:-2]), b
    packed, perm, diag, parity = _lu_parts(a)
    leading = uf.multiply(parity, red.prod(lax.slice_in_dim(diag, 0, n - 1, axis=len(shape) - 2),
                                           axis=-1))
    det = uf.multiply(leading, lax.slice_in_dim(diag, n - 1, n, axis=len(shape) - 2)[..., 0])
    early_zero = uf.equal(leading, 0)
    safe = uf.where(early_zero, np.asarray(1, dtype_of(a)), leading)
    corner = lax.broadcast_in_dim(uf.divide(np.asarray(1, dtype_of(a)), safe), shape,
                                  tuple(range(len(shape) - 2)))
    modified = uf.where(_last_entry(n, shape), corner, packed)
    # where the result is zero anyway, solve with the identity: no inf or NaN, not even in
    # the cotangents that reverse mode pushes through the unused branch
    whole_zero = lax.broadcast_in_dim(early_zero, shape, tuple(range(len(shape) - 2)))
    modified = uf.where(whole_zero, np.eye(n, dtype=dtype_of(a)), modified)
    y = lax.linalg.triangular_solve(modified, _rows_permuted(b, perm), left_side=True,
                                    lower=True, unit_diagonal=True)
    all_but_last = np.broadcast_to(np.arange(n)[:, None] < n - 1, shape_of(y))
    det_rows = lax.broadcast_in_dim(det, shape_of(y), tuple(range(len(shape) - 2)))
    y = uf.where(all_but_last, uf.multiply(y, det_rows), y)
    x = lax.linalg.triangular_solve(modified, y, left_side=True, lower=False)
    zero_rows = lax.broadcast_in_dim(early_zero, shape_of(x), tuple(range(len(shape) - 2)))
    return det, uf.where(zero_rows, np.zeros((), dtype_of(x)), x)


@traceable_rule
@custom_jvp
def _det(a: Array) -> Array:
    _, _, diag, parity = _lu_parts(a)
    return uf.multiply(parity, red.prod(diag, axis=-1))


def _det_jvp(primals: tuple, tangents: tuple) -> tuple[Array, Array]:
    # d det(A) = tr(adj(A) A'): finite at singular matrices too (see _cofactor_solve)
    (a,), (a_dot,) = primals, tangents
    det, adjugate_times = _cofactor_solve(a, a_dot)
    return det, _trace(adjugate_times, 0, -2, -1)


_det.defjvp(_det_jvp)


@one_entry(1)
def det(a: Any) -> Array:
    """The determinant of square matrices, from an LU factorisation (as
    ``jax.numpy.linalg.det``). Its gradient is the adjugate's transpose, finite at
    singular matrices of rank n - 1 (as JAX's)."""
    return _det(_matrix(a, "det", square=True))


@traceable_rule
@custom_jvp
def _slogdet(a: Array) -> tuple[Array, Array]:
    _, _, diag, parity = _lu_parts(a)
    return _sign_and_log(diag, parity)


def _sign_and_log(diag: Array, parity: Array) -> tuple[Array, Array]:
    magnitude = uf.absolute(diag)
    if dtype_of(diag).kind == "c":
        zero = uf.equal(magnitude, 0)
        unit = uf.divide(diag, uf.where(zero, np.asarray(1, dtype_of(magnitude)), magnitude))
    else:
        unit = uf.sign(diag)
    sign = uf.multiply(parity, red.prod(unit, axis=-1))
    with np.errstate(divide="ignore"):  # log 0 = -inf is the answer for a singular matrix
        log_magnitude = red.sum(uf.log(magnitude), axis=-1)
    return sign, log_magnitude


def _slogdet_jvp(primals: tuple, tangents: tuple) -> tuple[tuple, tuple]:
    # d log|det A| = Re tr(A^-1 A'); the sign (a phase) turns by i Im tr(A^-1 A')
    (a,), (a_dot,) = primals, tangents
    packed, perm, diag, parity = _lu_parts(a)
    sign, log_magnitude = _sign_and_log(diag, parity)
    change = _trace(lax.linalg.lu_solve(packed, perm, a_dot), 0, -2, -1)
    if dtype_of(change).kind != "c":
        return (sign, log_magnitude), (uf.multiply(change, 0), change)
    real_change, imag_change = uf.real(change), uf.imag(change)
    turn = lax.complex(uf.multiply(imag_change, 0), imag_change)   # i Im tr(A^-1 A')
    return (sign, log_magnitude), (uf.multiply(turn, sign), real_change)


_slogdet.defjvp(_slogdet_jvp)


def slogdet(a: Any, *, method: str | None = None) -> SlogdetResult:
    """``(sign, logabsdet)`` of square matrices: det = sign * exp(logabsdet), without
    overflow (as ``jax.numpy.linalg.slogdet``). A singular matrix gives (0, -inf); the
    gradient there is inf or NaN, as JAX's. Only ``method='lu'`` (the default) is
    provided."""
    if method not in (None, "lu"):
        raise ValueError(f"functrans.numpy.linalg.slogdet: method {method!r} is not "
                         "available; use method='lu' (the default)")
    sign, log_magnitude = _slogdet(_matrix(a, "slogdet", square=True))
    return SlogdetResult(sign, log_magnitude)


# ------------------------------------------------------------------ eigenvalues

def _uplo(uplo: Any, fname: str) -> bool:
    if uplo not in (None, "L", "U"):
        raise ValueError(f"functrans.numpy.linalg.{fname}: UPLO must be 'L' or 'U', got "
                         f"{uplo!r}")
    return uplo != "U"


def eigh(a: Any, UPLO: str | None = None, symmetrize_input: bool = True  # noqa: N803
         ) -> EighResult:
    """Eigenvalues (ascending, real) and eigenvectors (columns) of Hermitian matrices, as
    ``jax.numpy.linalg.eigh``. With `symmetrize_input` the matrix is (a + a^H) / 2;
    otherwise only its `UPLO` triangle ('L' by default) is read."""
    a = _matrix(a, "eigh", square=True)
    v, w = lax.linalg.eigh(a, lower=_uplo(UPLO, "eigh"), symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eigvalsh(a: Any, UPLO: str | None = "L", *,  # noqa: N803
             symmetrize_input: bool = True) -> Array:
    """The eigenvalues (ascending, real) of Hermitian matrices."""
    return eigh(a, UPLO, symmetrize_input).eigenvalues


def eig(a: Any) -> EigResult:
    """Eigenvalues and right eigenvectors of general square matrices, complex (as
    ``jax.numpy.linalg.eig``); each eigenvector has unit norm and its largest component
    real, as LAPACK's."""
    a = _matrix(a, "eig", square=True)
    w, v = lax.linalg.eig(a, compute_left_eigenvectors=False)
    return EigResult(w, v)


def eigvals(a: Any) -> Array:
    """The (complex) eigenvalues of general square matrices."""
    a = _matrix(a, "eigvals", square=True)
    (w,) = lax.linalg.eig(a, compute_left_eigenvectors=False, compute_right_eigenvectors=False)
    return w


# ------------------------------------------------------------------ SVD and QR

def _hermitian_svd(a: Array, compute_uv: bool) -> Any:
    """The SVD of a Hermitian matrix from its eigendecomposition: s = |w| descending,
    U the eigenvectors, V^H = (U sign(w))^H."""
    v, w = lax.linalg.eigh(a)
    s = uf.absolute(w)
    last = len(shape_of(s)) - 1
    if not compute_uv:
        return lax.rev(lax.sort(s, dimension=last), (last,))
    order = lax.broadcasted_iota(np.int32, shape_of(s), last)
    signs = uf.where(uf.less(w, 0), np.asarray(-1, dtype_of(w)), np.asarray(1, dtype_of(w)))
    s, order, signs = (lax.rev(x, (last,)) for x in
                       lax.sort((s, order, signs), dimension=last, num_keys=1))
    u = take_along_axis(v, lax.expand_dims(order, (last,)), -1)
    vh = _H(uf.multiply(u, cast(lax.broadcast_in_dim(signs, shape_of(u), tuple(range(last))
                                                     + (last + 1,)), dtype_of(u))))
    return SVDResult(u, s, vh)


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> Any:
    """Singular value decomposition a = U diag(S) Vh (as ``jax.numpy.linalg.svd``):
    ``SVDResult(U, S, Vh)``, or S alone (descending) without `compute_uv`. With
    `hermitian`, computed from ``eigh`` of a square Hermitian `a`."""
    a = _matrix(a, "svd", square=hermitian)
    if hermitian:
        return _hermitian_svd(a, compute_uv)
    if not compute_uv:
        return lax.linalg.svd(a, compute_uv=False)
    u, s, vh = lax.linalg.svd(a, full_matrices=full_matrices)
    return SVDResult(u, s, vh)


def svdvals(x: Any, /) -> Array:
    """The singular values, descending."""
    return lax.linalg.svd(_matrix(x, "svdvals"), compute_uv=False)


def qr(a: Any, mode: str = "reduced") -> Any:
    """QR decomposition (as ``jax.numpy.linalg.qr``): ``QRResult(Q, R)`` with
    ``mode='reduced'`` (Q [..., m, k], k = min(m, n)) or ``'complete'`` (Q [..., m, m]),
    or R alone with ``mode='r'``. NumPy's ``'raw'`` (Householder reflectors) is not
    provided."""
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"functrans.numpy.linalg.qr: mode {mode!r} is not available; use "
                         "'reduced', 'complete' or 'r'")
    q, r = lax.linalg.qr(_matrix(a, "qr"), full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


# ------------------------------------------------------------------ least squares, pinv

def _default_rtol(shape: tuple[int, ...], dtype: np.dtype) -> float:
    return builtins.max(shape[-2:]) * float(np.finfo(dtype).eps)


def lstsq(a: Any, b: Any, rcond: float | None = None, *,
          numpy_resid: bool = False) -> tuple[Array, Array, Array, Array]:
    """The least-squares solution of a x = b for a 2-D `a` (as
    ``jax.numpy.linalg.lstsq``), from the SVD: ``(x, residuals, rank, s)``.

    Singular values below ``rcond * s[0]`` (default ``max(m, n) * eps``) are treated as
    zero. The residuals (squared norms of the columns of b - a x) are always returned,
    as in JAX; ``numpy_resid=True`` returns an empty array where NumPy does (rank < n or
    m <= n), which needs a concrete rank (not under jit).
    """
    a, b = _matrices("lstsq", a, b)
    a_shape, b_shape = shape_of(a), shape_of(b)
    if len(a_shape) != 2:
        raise ValueError(f"functrans.numpy.linalg.lstsq: a must be 2-D, got shape {a_shape}")
    if len(b_shape) not in (1, 2) or b_shape[0] != a_shape[0]:
        raise ValueError(f"functrans.numpy.linalg.lstsq: b must be 1-D or 2-D with "
                         f"{a_shape[0]} rows (a's), got shape {b_shape}")
    vector = len(b_shape) == 1
    if vector:
        b = _reshape(b, (b_shape[0], 1))
    m, n = a_shape
    u, s, vh = lax.linalg.svd(a, full_matrices=False)
    if rcond is None or rcond < 0:
        rcond = _default_rtol(a_shape, dtype_of(s)) if rcond is None else float(
            np.finfo(dtype_of(s)).eps)
    keep = uf.greater_equal(s, uf.multiply(np.asarray(rcond, dtype_of(s)), red.max(s)))
    rank = red.sum(keep)
    safe = uf.where(keep, s, np.ones((), dtype_of(s)))
    s_inverse = cast(uf.where(keep, uf.divide(1, safe), np.zeros((), dtype_of(s))), dtype_of(a))
    x = matmul(_H(vh), uf.multiply(_reshape(s_inverse, (-1, 1)), matmul(_H(u), b)))
    if numpy_resid and (int(concrete(rank, "linalg.lstsq", "the rank")) < n or m <= n):
        residuals = np.zeros((0,), dtype_of(s))
    else:
        error = uf.subtract(b, matmul(a, x))
        residuals = red.sum(uf.real(uf.multiply(error, uf.conjugate(error))), axis=0)
    return (_reshape(x, (n,)) if vector else x), residuals, rank, s


@traceable_rule
@partial(custom_jvp, nondiff_argnums=(1, 2))
def _pinv(a: Array, rtol: Any, hermitian: bool) -> Array:
    u, s, vh = svd(a, full_matrices=False, hermitian=hermitian)
    cutoff = uf.multiply(rtol, red.max(s, axis=-1, keepdims=True))
    keep = uf.greater(s, cutoff)
    safe = uf.where(keep, s, np.ones((), dtype_of(s)))
    s_inverse = cast(uf.where(keep, uf.divide(1, safe), np.zeros((), dtype_of(s))), dtype_of(a))
    rows = lax.broadcast_in_dim(s_inverse, shape_of(_H(vh)),
                                tuple(range(len(shape_of(s)) - 1)) + (len(shape_of(s)),))
    return matmul(uf.multiply(_H(vh), rows), _H(u))


@_pinv.defjvp
def _pinv_jvp(rtol: Any, hermitian: bool, primals: tuple, tangents: tuple
              ) -> tuple[Array, Array]:
    # Golub and Pereyra (1973): P' = -P A' P + P P^H A'^H (I - A P) + (I - P A) A'^H P^H P
    (a,), (a_dot,) = primals, tangents
    p = _pinv(a, rtol, hermitian)
    if hermitian:  # the SVD read (a + a^H) / 2: so must its tangent
        a, a_dot = (uf.multiply(uf.add(x, _H(x)), 0.5) for x in (a, a_dot))
    m, n = shape_of(a)[-2:]
    if m >= n:
        s = matmul(matmul(p, _H(p)), _H(a_dot))
        t = matmul(matmul(_H(a_dot), _H(p)), p)
        p_dot = uf.subtract(uf.add(uf.negative(matmul(matmul(p, a_dot), p)), s),
                            matmul(matmul(s, a), p))
        p_dot = uf.subtract(uf.add(p_dot, t), matmul(matmul(p, a), t))
    else:
        s = matmul(p, matmul(_H(p), _H(a_dot)))
        t = matmul(_H(a_dot), matmul(_H(p), p))
        p_dot = uf.subtract(uf.add(uf.negative(matmul(p, matmul(a_dot, p))), s),
                            matmul(s, matmul(a, p)))
        p_dot = uf.subtract(uf.add(p_dot, t), matmul(p, matmul(a, t)))
    return p, p_dot


@one_entry(1)
def pinv(a: Any, rtol: Any = None, hermitian: bool = False, *, rcond: Any = None) -> Array:
    """The Moore-Penrose pseudo-inverse, from the SVD (as ``jax.numpy.linalg.pinv``):
    singular values at or below ``rtol * max(s)`` (default ``max(m, n) * eps``) are
    treated as zero. Its derivative is Golub and Pereyra's, valid where the rank does
    not change. `rcond` is NumPy's older name for `rtol`."""
    a = _matrix(a, "pinv", square=hermitian)
    if rcond is not None:
        if rtol is not None:
            raise ValueError("functrans.numpy.linalg.pinv: give rtol or rcond, not both")
        rtol = rcond
    real = np.finfo(dtype_of(a)).dtype
    if rtol is None:
        rtol = _default_rtol(shape_of(a), real)
    rtol = np.asarray(concrete(rtol, "linalg.pinv", "rtol"), real)
    # a scalar rtol as a NumPy scalar: hashable, so the traced rule is kept per value
    rtol = np.expand_dims(rtol, -1) if rtol.ndim else rtol[()]
    return _pinv(a, rtol, bool(hermitian))


# ------------------------------------------------------------------ powers, rank, cond

@one_entry(1)
def matrix_power(a: Any, n: int) -> Array:
    """a raised to the integer power `n` by repeated squaring (``n < 0``: of ``inv(a)``;
    ``n == 0``: the identity). Integer matrices stay integer for ``n >= 0``."""
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"functrans.numpy.linalg.matrix_power: n must be an integer, got "
                        f"{n!r}") from None
    a = as_array(asarray_arg(a, "linalg.matrix_power", "a"))
    shape = shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"functrans.numpy.linalg.matrix_power: a must be square in its last "
                         f"two axes ([..., n, n]), got shape {shape}")
    if n == 0:
        return np.broadcast_to(np.eye(shape[-1], dtype=dtype_of(a)), shape).copy()
    if n < 0:
        a, n = inv(a), -n
    result, power = None, a
    while n:
        if n & 1:
            result = power if result is None else matmul(result, power)
        n >>= 1
        if n:
            power = matmul(power, power)
    return result


def matrix_rank(M: Any, rtol: Any = None, *, tol: Any = None) -> Array:  # noqa: N803
    """The number of singular values above a threshold: `tol` (absolute) if given, else
    ``rtol * max(s)`` with rtol = ``max(m, n) * eps`` by default (NumPy 2's rule)."""
    M = as_array(asarray_arg(M, "linalg.matrix_rank", "M"))  # noqa: N806
    if len(shape_of(M)) < 2:
        return cast(red.any(uf.not_equal(M, 0)), np.dtype(np.int64))
    s = svdvals(M)
    real = dtype_of(s)
    if tol is not None:
        threshold = np.asarray(concrete(tol, "linalg.matrix_rank", "tol"), real)
    else:
        rtol = _default_rtol(shape_of(M), real) if rtol is None else rtol
        threshold = uf.multiply(np.asarray(concrete(rtol, "linalg.matrix_rank", "rtol"), real),
                                red.max(s, axis=-1))
    threshold = lax.expand_dims(as_array(threshold), (np.ndim(threshold),)) if np.ndim(
        threshold) else threshold
    return red.sum(uf.greater(s, threshold), axis=-1)


def cond(x: Any, p: Any = None) -> Array:
    """The condition number in the norm `p` (as ``jax.numpy.linalg.cond``): the ratio of
    the extreme singular values for p = None, 2 or -2, else ``norm(x, p) *
    norm(inv(x), p)``. inf for singular matrices."""
    x = _matrix(x, "cond", square=p not in (None, 2, -2))
    if p in (None, 2, -2):
        s = svdvals(x)
        last = len(shape_of(s)) - 1
        largest = lax.slice_in_dim(s, 0, 1, axis=last)[..., 0]
        smallest = lax.slice_in_dim(s, shape_of(s)[-1] - 1, shape_of(s)[-1], axis=last)[..., 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = uf.divide(smallest, largest) if p == -2 else uf.divide(largest, smallest)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = uf.multiply(norm(x, p, axis=(-2, -1)), norm(inv(x), p, axis=(-2, -1)))
    # NaN from a singular matrix (not from NaN input) is an infinite condition number
    from_singular = uf.logical_and(uf.isnan(r), uf.logical_not(red.any(uf.isnan(x),
                                                                       axis=(-2, -1))))
    return uf.where(from_singular, np.asarray(np.inf, dtype_of(r)), r)


# ------------------------------------------------------------------ products and tensors

def _chain_order(shapes: list[tuple[int, int]]) -> list[list[int]]:
    """The cheapest parenthesisation of a matrix chain (dynamic programming over the
    split points): split[i][j] is where the product of matrices i..j splits."""
    k = len(shapes)
    dims = [shapes[0][0]] + [s[1] for s in shapes]
    cost = [[0] * k for _ in range(k)]
    split = [[0] * k for _ in range(k)]
    for length in range(1, k):
        for i in range(k - length):
            j = i + length
            cost[i][j] = None  # type: ignore[call-overload]
            for s in range(i, j):
                c = cost[i][s] + cost[s + 1][j] + dims[i] * dims[s + 1] * dims[j + 1]
                if cost[i][j] is None or c < cost[i][j]:
                    cost[i][j], split[i][j] = c, s
    return split


def _chain_product(arrays: list[Array], split: list[list[int]], i: int, j: int) -> Array:
    if i == j:
        return arrays[i]
    s = split[i][j]
    return matmul(_chain_product(arrays, split, i, s), _chain_product(arrays, split, s + 1, j))


def multi_dot(arrays: Any, *, precision: Any = None) -> Array:
    """The product of a chain of matrices in the cheapest order (as
    ``jax.numpy.linalg.multi_dot``); the first and last may be vectors."""
    arrays = [as_array(asarray_arg(x, "linalg.multi_dot", f"arrays[{i}]"))
              for i, x in enumerate(arrays)]
    if len(arrays) < 2:
        raise ValueError("functrans.numpy.linalg.multi_dot: needs at least two arrays")
    first_vector, last_vector = len(shape_of(arrays[0])) == 1, len(shape_of(arrays[-1])) == 1
    if first_vector:
        arrays[0] = _reshape(arrays[0], (1, -1))
    if last_vector:
        arrays[-1] = _reshape(arrays[-1], (-1, 1))
    shapes = [shape_of(x) for x in arrays]
    for i, shape in enumerate(shapes):
        if len(shape) != 2:
            raise ValueError(f"functrans.numpy.linalg.multi_dot: arrays[{i}] must be 2-D (only "
                             f"the first and last may be 1-D), got shape {shape}")
    result = _chain_product(arrays, _chain_order(shapes), 0, len(arrays) - 1)
    rows, cols = shape_of(result)
    if first_vector and last_vector:
        return _reshape(result, ())
    if first_vector:
        return _reshape(result, (cols,))
    return _reshape(result, (rows,)) if last_vector else result


def tensorsolve(a: Any, b: Any, axes: Any = None) -> Array:
    """x with ``tensordot(a, x, x.ndim) == b`` (as ``numpy.linalg.tensorsolve``): `a`
    reshaped to a square matrix over b's axes and x's; `axes` are moved to the end of
    `a` first."""
    a, b = _matrices("tensorsolve", a, b)
    nd = len(shape_of(a))
    if axes is not None:
        order = [i for i in range(nd) if i not in {canonicalize_axis(k, nd, "linalg.tensorsolve")
                                                   for k in axes}]
        order += [canonicalize_axis(k, nd, "linalg.tensorsolve") for k in axes]
        a = lax.transpose(a, tuple(order))
    b_nd = len(shape_of(b))
    x_shape = shape_of(a)[b_nd:]
    size = int(np.prod(x_shape, dtype=np.int64))
    if int(np.prod(shape_of(a), dtype=np.int64)) != size * size:
        raise ValueError(f"functrans.numpy.linalg.tensorsolve: a (shape {shape_of(a)}) must "
                         f"reshape to a square matrix: the product of its first {b_nd} axes "
                         f"(b's) must equal that of the rest, {x_shape}")
    x = solve(_reshape(a, (size, size)), _reshape(b, (size,)))
    return _reshape(x, x_shape)


def tensorinv(a: Any, ind: int = 2) -> Array:
    """The inverse of `a` seen as a linear map from its first `ind` axes to the rest (as
    ``numpy.linalg.tensorinv``)."""
    a = as_array(asarray_arg(a, "linalg.tensorinv", "a"))
    ind = static_int(ind, "linalg.tensorinv", "ind")
    shape = shape_of(a)
    if ind <= 0:
        raise ValueError(f"functrans.numpy.linalg.tensorinv: ind must be positive, got {ind}")
    rows = int(np.prod(shape[:ind], dtype=np.int64))
    cols = int(np.prod(shape[ind:], dtype=np.int64))
    if rows != cols:
        raise ValueError(f"functrans.numpy.linalg.tensorinv: a (shape {shape}) must map as "
                         f"many entries as it takes: prod{shape[:ind]} = {rows} != "
                         f"prod{shape[ind:]} = {cols}")
    inverse = inv(_reshape(a, (rows, cols)))
    return _reshape(inverse, shape[ind:] + shape[:ind])


# ------------------------------------------------------------------ norms

def _abs(x: Array) -> Array:
    return uf.absolute(x)


def _keep(result: Array, shape: tuple[int, ...], axes: tuple[int, ...]) -> Array:
    return lax.reshape(result, tuple(1 if i in axes else d for i, d in enumerate(shape)))


def _vector_norm(x: Array, ord: Any, axes: tuple[int, ...]) -> Array:  # noqa: A002
    if ord is None or ord == 2:
        return _two_norm(x, axes)
    if isinstance(ord, str):
        raise ValueError(f"functrans.numpy.linalg.norm: invalid norm order {ord!r} for "
                         "vectors; use None, an int or float, inf or -inf")
    if ord == np.inf:
        return red.max(_abs(x), axis=axes)
    if ord == -np.inf:
        return red.min(_abs(x), axis=axes)
    if ord == 0:
        count = red.sum(uf.not_equal(x, 0), axis=axes)
        return cast(count, dtype_of(uf.real(x)))
    if ord == 1:
        return red.sum(_abs(x), axis=axes)
    magnitude = _abs(x)
    p = np.asarray(ord, dtype_of(magnitude))
    return uf.power(red.sum(uf.power(magnitude, p), axis=axes), 1 / p)


@traceable_rule
@partial(custom_jvp, nondiff_argnums=(1,))
def _two_norm(x: Array, axes: tuple[int, ...]) -> Array:
    squares = uf.real(uf.multiply(x, uf.conjugate(x)))
    return uf.sqrt(red.sum(squares, axis=axes))


@_two_norm.defjvp
def _two_norm_jvp(axes: tuple[int, ...], primals: tuple, tangents: tuple
                  ) -> tuple[Array, Array]:
    # d|x| = <x, dx> / |x|; at x = 0 the subgradient 0 is taken (the naive
    # derivative of sqrt is 0 * inf = nan there).
    (x,), (x_dot,) = primals, tangents
    norm_x = _two_norm(x, axes)
    inner = red.sum(uf.real(uf.multiply(uf.conjugate(x), x_dot)), axis=axes)
    positive = uf.greater(norm_x, 0)
    # double where: no 0/0, not even in the unused branch
    safe_norm = uf.where(positive, norm_x, 1)
    return norm_x, uf.where(positive, uf.divide(inner, safe_norm), 0)


def _spectral_norm(x: Array, ord: Any, row: int, col: int) -> Array:  # noqa: A002
    """Largest (2), smallest (-2) or summed ('nuc') singular values of the matrices in
    axes (row, col)."""
    moved = moveaxis(x, (row, col), (-2, -1))
    s = lax.linalg.svd(cast(moved, _lapack_dtype("norm", "x", dtype_of(moved))),
                       compute_uv=False)
    if ord == 2:
        return red.max(s, axis=-1)
    if ord == -2:
        return red.min(s, axis=-1)
    return red.sum(s, axis=-1)


def _matrix_norm(x: Array, ord: Any, row: int, col: int) -> Array:  # noqa: A002
    if ord is None or ord == "fro":
        return _vector_norm(x, None, tuple(sorted((row, col))))
    if ord in (2, -2, "nuc"):
        return _spectral_norm(x, ord, row, col)
    if ord in (1, -1):
        sums = red.sum(_abs(x), axis=row)  # column sums
        col = col - 1 if col > row else col
        return red.max(sums, axis=col) if ord == 1 else red.min(sums, axis=col)
    if ord in (np.inf, -np.inf):
        sums = red.sum(_abs(x), axis=col)  # row sums
        row = row - 1 if row > col else row
        return red.max(sums, axis=row) if ord == np.inf else red.min(sums, axis=row)
    raise ValueError(f"functrans.numpy.linalg.norm: invalid norm order {ord!r} for matrices; "
                     f"supported: {_MATRIX_ORDS}")


@one_entry(1)
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Array:  # noqa: A002
    """Vector or matrix norm, as ``numpy.linalg.norm``.

    With `axis` None: the 2-norm of the flattened array when `ord` is None,
    else the vector norm of a 1-D or the matrix norm of a 2-D `x`. An int axis
    gives vector norms, a pair of axes matrix norms (ord 2, -2 and 'nuc' from the
    singular values)."""
    x = as_array(asarray_arg(x, "linalg.norm", "x"))
    x = cast(x, to_inexact_dtype(dtype_of(x)))
    shape = shape_of(x)
    ndim = len(shape)
    if axis is None:
        if ord is None:
            all_axes = tuple(range(ndim))
            result = _vector_norm(x, None, all_axes)
            return _keep(result, shape, all_axes) if keepdims else result
        if ndim not in (1, 2):
            raise ValueError(f"functrans.numpy.linalg.norm: improper number of dimensions "
                             f"({ndim}) to norm with ord={ord!r}; pass axis")
        axis = tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(canonicalize_axis(a, ndim, "linalg.norm") for a in axes)
    if len(axes) == 1:
        result = _vector_norm(x, ord, axes)
    elif len(axes) == 2:
        if axes[0] == axes[1]:
            raise ValueError("functrans.numpy.linalg.norm: duplicate axes given")
        result = _matrix_norm(x, ord, axes[0], axes[1])
    else:
        raise ValueError(f"functrans.numpy.linalg.norm: improper number of axes ({len(axes)}); "
                         "give one axis (vector norm) or two (matrix norm)")
    return _keep(result, shape, axes) if keepdims else result


def vector_norm(x: Any, /, *, axis: Any = None, keepdims: bool = False,
                ord: Any = 2) -> Array:  # noqa: A002
    """Vector norm over `axis` (all axes, flattened, for None)."""
    x = as_array(asarray_arg(x, "linalg.vector_norm", "x"))
    x = cast(x, to_inexact_dtype(dtype_of(x)))
    shape = shape_of(x)
    if axis is None:
        axes = tuple(range(len(shape)))
    elif isinstance(axis, (int, np.integer)):
        axes = (canonicalize_axis(axis, len(shape), "linalg.vector_norm"),)
    else:
        axes = tuple(sorted(canonicalize_axis(a, len(shape), "linalg.vector_norm")
                            for a in axis))
    result = _vector_norm(x, ord, axes)
    return _keep(result, shape, axes) if keepdims else result


def matrix_norm(x: Any, /, *, keepdims: bool = False, ord: Any = "fro") -> Array:  # noqa: A002
    """Matrix norm over the last two axes."""
    return norm(x, ord, (-2, -1), keepdims)


@one_entry(1)
def diagonal(x: Any, /, *, offset: int = 0) -> Array:
    """The diagonals of the last two axes."""
    return _diagonal(x, offset, -2, -1)


@one_entry(1)
def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Array:
    """The traces of the last two axes."""
    return _trace(x, offset, -2, -1, dtype)
