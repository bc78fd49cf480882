"""``functrans.scipy.linalg``: ``jax.scipy.linalg`` on functrans' LAPACK primitives.

Triangular and Cholesky solves (``solve_triangular``, ``cho_factor``/``cho_solve``), LU
(``lu``, ``lu_factor``/``lu_solve``), ``solve`` with ``assume_a``, the decompositions
(``cholesky``, ``eigh``, including the generalised problem, ``svd``, ``qr``), matrix
functions with their derivatives (``expm`` and its Frechet derivative ``expm_frechet``,
``sqrtm``), ``solve_sylvester``, ``inv``, ``det``, ``block_diag`` and ``toeplitz``.

Arguments are promoted as SciPy does (integers to float64; float32 stays float32).
SciPy's ``overwrite_*`` and ``check_finite`` flags are accepted and have no effect
(functrans never writes into its arguments and, like JAX, does not check for inf/NaN).
As in JAX, ``sqrtm`` is complex; singular or indefinite matrices give inf/NaN rather
than an exception.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans.core.avals import get_aval
from functrans.higher_order.custom_derivatives import SymbolicZero, custom_jvp, traceable_rule
from functrans.numpy._lax import lax
from functrans.numpy._util import (
    Array,
    as_array,
    asarray_arg,
    broadcast_shapes,
    broadcast_to_shape,
    cast,
    dtype_of,
    result_type,
    shape_of,
    to_inexact_dtype,
)

__all__ = ["solve_triangular", "cho_factor", "cho_solve", "cholesky", "lu", "lu_factor",
           "lu_solve", "solve", "inv", "det", "eigh", "svd", "qr", "expm", "expm_frechet",
           "sqrtm", "solve_sylvester", "block_diag", "toeplitz"]


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)

_LAPACK_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                              np.complex128))


# ------------------------------------------------------------------ arguments

def _operands(fname: str, *named: tuple[str, Any]) -> list[Array]:
    """Arrays of one LAPACK dtype (integers promoted to float64), not broadcast."""
    arrays = [as_array(asarray_arg(x, f"scipy.linalg.{fname}", name)) for name, x in named]
    dtype = to_inexact_dtype(result_type(*arrays))
    if dtype not in _LAPACK_DTYPES:
        names = " and ".join(name for name, _ in named)
        raise TypeError(f"functrans.scipy.linalg.{fname}: {names} have dtype {dtype}; LAPACK "
                        "works in float32, float64, complex64 and complex128: convert first")
    return [cast(x, dtype) for x in arrays]


def _square(fname: str, argname: str, a: Array) -> None:
    shape = shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"functrans.scipy.linalg.{fname}: {argname} must be square in its "
                         f"last two axes ([..., n, n]), got shape {shape}")


def _right_hand_side(fname: str, a: Array, b: Array) -> tuple[Array, Array, bool]:
    """`a` ([..., n, n]) and `b` as [..., n, k] with common batch axes, and whether `b`
    was a vector ([..., n], one axis fewer than `a`, or 1-D)."""
    _square(fname, "a", a)
    n = shape_of(a)[-1]
    b_shape = shape_of(b)
    vector = len(b_shape) == 1 or len(b_shape) == len(shape_of(a)) - 1
    if vector:
        b = fnp.expand_dims(b, -1)
    if shape_of(b)[-2] != n:
        raise ValueError(f"functrans.scipy.linalg.{fname}: b must have {n} rows (a's size), "
                         f"got shape {b_shape} for a of shape {shape_of(a)}")
    batch = broadcast_shapes(f"scipy.linalg.{fname}", shape_of(a)[:-2], shape_of(b)[:-2])
    return (broadcast_to_shape(a, batch + (n, n)),
            broadcast_to_shape(b, batch + shape_of(b)[-2:]), vector)


def _vector_back(x: Array, vector: bool) -> Array:
    return fnp.squeeze(x, -1) if vector else x


def _trans_flags(fname: str, trans: Any) -> tuple[bool, bool]:
    """SciPy's `trans` (0/'N': A, 1/'T': A^T, 2/'C': A^H) as (transpose_a, conjugate_a)."""
    flags = {0: (False, False), "N": (False, False), 1: (True, False), "T": (True, False),
             2: (True, True), "C": (True, True)}
    if trans not in flags:
        raise ValueError(f"functrans.scipy.linalg.{fname}: trans must be 0 ('N'), 1 ('T') or "
                         f"2 ('C'), got {trans!r}")
    return flags[trans]


def _H(x: Array) -> Array:  # noqa: N802  (the usual name of the conjugate transpose)
    return fnp.conj(fnp.swapaxes(x, -1, -2))


# ------------------------------------------------------------------ triangular, Cholesky

def solve_triangular(a: Any, b: Any, trans: Any = 0, lower: bool = False,
                     unit_diagonal: bool = False, overwrite_b: bool = False,
                     debug: Any = None, check_finite: bool = True) -> Array:
    """x with op(a) x = b for a triangular `a` (its `lower` or upper triangle is read; op
    from `trans`), as ``scipy.linalg.solve_triangular``; `b` is a vector or a matrix,
    with batch axes broadcast against a's."""
    a, b = _operands("solve_triangular", ("a", a), ("b", b))
    transpose_a, conjugate_a = _trans_flags("solve_triangular", trans)
    a, b, vector = _right_hand_side("solve_triangular", a, b)
    x = lax.linalg.triangular_solve(a, b, left_side=True, lower=lower, transpose_a=transpose_a,
                                    conjugate_a=conjugate_a, unit_diagonal=unit_diagonal)
    return _vector_back(x, vector)


def cholesky(a: Any, lower: bool = False, overwrite_a: bool = False,
             check_finite: bool = True) -> Array:
    """The Cholesky factor, upper (U^H U = a, SciPy's default) or `lower` (L L^H = a), as
    ``scipy.linalg.cholesky``: only that triangle of `a` is read (as SciPy and
    ``jax.scipy.linalg``; ``functrans.numpy.linalg.cholesky`` symmetrises instead). NaN
    where the matrix is not positive definite."""
    (a,) = _operands("cholesky", ("a", a))
    _square("cholesky", "a", a)
    factor = lax.linalg.cholesky(a if lower else _H(a), symmetrize_input=False)
    return factor if lower else _H(factor)


def cho_factor(a: Any, lower: bool = False, overwrite_a: bool = False,
               check_finite: bool = True) -> tuple[Array, bool]:
    """``(c, lower)`` for ``cho_solve``: c is the Cholesky factor (its other triangle
    zero, unlike SciPy's, which leaves whatever was there)."""
    return cholesky(a, lower=lower), bool(lower)


def cho_solve(c_and_lower: tuple[Any, bool], b: Any, overwrite_b: bool = False,
              check_finite: bool = True) -> Array:
    """x with A x = b, from A's Cholesky factor ``(c, lower)`` (``cho_factor``): two
    triangular solves, differentiable in c and b."""
    c, lower = c_and_lower
    c, b = _operands("cho_solve", ("c", c), ("b", b))
    c, b, vector = _right_hand_side("cho_solve", c, b)
    # A = L L^H: solve with L, then L^H (with c = U = L^H: U^H first, then U)
    y = lax.linalg.triangular_solve(c, b, left_side=True, lower=lower, transpose_a=not lower,
                                    conjugate_a=not lower)
    x = lax.linalg.triangular_solve(c, y, left_side=True, lower=lower, transpose_a=lower,
                                    conjugate_a=lower)
    return _vector_back(x, vector)


# ------------------------------------------------------------------ LU

def lu(a: Any, permute_l: bool = False, overwrite_a: bool = False,
       check_finite: bool = True) -> tuple[Array, ...]:
    """``(p, l, u)`` with a = p @ l @ u (p a permutation matrix, l unit lower [m, k], u
    upper [k, n], k = min(m, n)), or ``(p @ l, u)`` with `permute_l`, as
    ``scipy.linalg.lu``."""
    (a,) = _operands("lu", ("a", a))
    packed, _, perm = lax.linalg.lu(a)
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    dtype = dtype_of(a)
    # p[..., i, j] = 1 where perm[j] == i: a = p (l u) since a[perm] = l u
    rows = np.arange(m, dtype=np.int32)[:, None]
    p = cast(fnp.equal(fnp.expand_dims(perm, -2), rows), dtype)
    lower = fnp.tril(packed[..., :, :k], -1) + np.eye(m, k, dtype=dtype)
    upper = fnp.triu(packed[..., :k, :])
    if permute_l:
        return fnp.matmul(p, lower), upper
    return p, lower, upper


def lu_factor(a: Any, overwrite_a: bool = False, check_finite: bool = True
              ) -> tuple[Array, Array]:
    """``(lu, piv)``: L and U packed in one matrix and LAPACK's 0-based row swaps (int32),
    for ``lu_solve``."""
    (a,) = _operands("lu_factor", ("a", a))
    packed, pivots, _ = lax.linalg.lu(a)
    return packed, pivots


def lu_solve(lu_and_piv: tuple[Any, Any], b: Any, trans: int = 0, overwrite_b: bool = False,
             check_finite: bool = True) -> Array:
    """x with a x = b (`trans` 0), a^T x = b (1) or a^H x = b (2), from ``lu_factor(a)``:
    the factorisation is reused."""
    packed, pivots = lu_and_piv
    _trans_flags("lu_solve", trans)
    trans = {"N": 0, "T": 1, "C": 2}.get(trans, trans)
    packed, b = _operands("lu_solve", ("lu", packed), ("b", b))
    pivots = as_array(asarray_arg(pivots, "scipy.linalg.lu_solve", "piv"))
    if dtype_of(pivots) != np.int32:
        pivots = cast(pivots, np.dtype(np.int32))
    packed, b, vector = _right_hand_side("lu_solve", packed, b)
    perm = lax.linalg.lu_pivots_to_permutation(pivots, shape_of(packed)[-1])
    perm = broadcast_to_shape(perm, shape_of(packed)[:-1])
    return _vector_back(lax.linalg.lu_solve(packed, perm, b, int(trans)), vector)


# ------------------------------------------------------------------ solve

_ASSUME_A = {"gen": "gen", "general": "gen", "sym": "sym", "symmetric": "sym",
             "her": "her", "hermitian": "her", "pos": "pos", "positive definite": "pos",
             "diagonal": "diagonal", "upper triangular": "upper", "lower triangular": "lower"}


def _hermitian_from_triangle(a: Array, lower: bool, conjugate: bool) -> Array:
    """The symmetric (Hermitian if `conjugate`) matrix whose `lower` (or upper) triangle
    is a's: what SciPy reads of `a` for assume_a 'sym', 'her' and 'pos'."""
    strict = fnp.tril(a, -1) if lower else fnp.triu(a, 1)
    other = fnp.swapaxes(strict, -1, -2)
    on_diagonal = a
    if conjugate:  # a Hermitian matrix has a real diagonal
        other, on_diagonal = fnp.conj(other), (a + fnp.conj(a)) / 2
    n = shape_of(a)[-1]
    return strict + other + fnp.where(np.eye(n, dtype=bool), on_diagonal, 0)


@traceable_rule
@custom_jvp
def _positive_definite_solve(a: Array, b: Array) -> Array:
    return cho_solve(cho_factor(a, lower=True), b)


def _positive_definite_solve_jvp(primals: tuple, tangents: tuple) -> tuple[Array, Array]:
    # one Cholesky factorisation for the value and the tangent: X' = A^-1 (B' - A' X)
    (a, b), (a_dot, b_dot) = primals, tangents
    factor = cho_factor(a, lower=True)
    x = cho_solve(factor, b)
    if type(a_dot) is SymbolicZero and type(b_dot) is SymbolicZero:
        return x, SymbolicZero(get_aval(x))
    rhs = None if type(b_dot) is SymbolicZero else b_dot
    if type(a_dot) is not SymbolicZero:
        change = fnp.matmul(a_dot, x)
        rhs = -change if rhs is None else rhs - change
    return x, cho_solve(factor, rhs)


_positive_definite_solve.defjvp(_positive_definite_solve_jvp, symbolic_zeros=True)


def solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False,
          overwrite_b: bool = False, debug: Any = None, check_finite: bool = True,
          assume_a: str = "gen") -> Array:
    """x with a x = b, as ``scipy.linalg.solve``. `assume_a`: 'gen' (LU), 'sym' and 'her'
    (the `lower` or upper triangle read as a symmetric/Hermitian matrix, LU), 'pos'
    (that triangle, Cholesky: half the work, and its derivative reuses the factor),
    'diagonal', 'upper triangular', 'lower triangular'."""
    kind = _ASSUME_A.get(assume_a)
    if kind is None:
        raise ValueError(f"functrans.scipy.linalg.solve: assume_a {assume_a!r} is not "
                         f"available; use one of {sorted(_ASSUME_A)}")
    a, b = _operands("solve", ("a", a), ("b", b))
    if kind in ("upper", "lower"):
        return solve_triangular(a, b, lower=kind == "lower")
    a, b, vector = _right_hand_side("solve", a, b)
    if kind == "diagonal":
        x = b / fnp.expand_dims(fnp.diagonal(a, 0, -2, -1), -1)
    elif kind == "gen":
        x = fnp.linalg.solve(a, b)
    else:
        full = _hermitian_from_triangle(a, lower, conjugate=kind != "sym")
        x = _positive_definite_solve(full, b) if kind == "pos" else fnp.linalg.solve(full, b)
    return _vector_back(x, vector)


def inv(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Array:
    """The inverse of square matrices (inf or NaN if singular, as JAX)."""
    return fnp.linalg.inv(a)


def det(a: Any, overwrite_a: bool = False, check_finite: bool = True) -> Array:
    """The determinant (see ``functrans.numpy.linalg.det``)."""
    return fnp.linalg.det(a)


# ------------------------------------------------------------------ decompositions

def eigh(a: Any, b: Any = None, lower: bool = True, eigvals_only: bool = False,
         overwrite_a: bool = False, overwrite_b: bool = False, type: int = 1,  # noqa: A002
         check_finite: bool = True, subset_by_index: Sequence[int] | None = None) -> Any:
    """Eigenvalues (ascending) and eigenvectors of a Hermitian `a`, or of the generalised
    problem with a Hermitian positive-definite `b`: a v = w b v (`type` 1), a b v = w v
    (2) or b a v = w v (3), with eigenvectors normalised to v^H b v = I, as
    ``scipy.linalg.eigh``. `subset_by_index` = (lo, hi) keeps eigenvalues lo..hi
    (inclusive).

    As JAX, `a` (and `b`) are symmetrised, (a + a^H) / 2, rather than read from one
    triangle; the derivative of the generalised problem goes through the Cholesky
    factor of `b`.
    """
    if b is None:
        (a,) = _operands("eigh", ("a", a))
        _square("eigh", "a", a)
        w, v = fnp.linalg.eigh(a, "L" if lower else "U")
    else:
        if type not in (1, 2, 3):
            raise ValueError(f"functrans.scipy.linalg.eigh: type must be 1, 2 or 3, got "
                             f"{type!r}")
        a, b = _operands("eigh", ("a", a), ("b", b))
        _square("eigh", "a", a)
        _square("eigh", "b", b)
        w, v = _generalized_eigh(a, b, type)
    if subset_by_index is not None:
        lo, hi = (operator.index(i) for i in subset_by_index)
        n = shape_of(w)[-1]
        if not 0 <= lo <= hi < n:
            raise ValueError(f"functrans.scipy.linalg.eigh: subset_by_index {(lo, hi)} must "
                             f"satisfy 0 <= lo <= hi < {n}")
        w, v = w[..., lo:hi + 1], v[..., :, lo:hi + 1]
    return w if eigvals_only else (w, v)


def _generalized_eigh(a: Array, b: Array, kind: int) -> tuple[Array, Array]:
    """Reduce to a standard problem with b = L L^H: type 1 is L^-1 a L^-H (one LAPACK
    sygst, ``congruence_solve``), types 2 and 3 are L^H a L."""
    factor = fnp.linalg.cholesky(b)
    if kind == 1:
        reduced = lax.linalg.congruence_solve(factor, a, lower=True)
    else:
        herm = (a + _H(a)) / 2
        reduced = fnp.matmul(_H(factor), fnp.matmul(herm, factor))
    w, y = fnp.linalg.eigh(reduced)
    if kind == 3:
        return w, fnp.matmul(factor, y)
    return w, lax.linalg.triangular_solve(factor, y, left_side=True, lower=True,
                                          transpose_a=True, conjugate_a=True)


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True,
        overwrite_a: bool = False, check_finite: bool = True,
        lapack_driver: str = "gesdd") -> Any:
    """``(u, s, vh)`` with a = u diag(s) vh, or `s` alone (descending), as
    ``scipy.linalg.svd`` (NumPy's LAPACK driver, gesdd, whatever `lapack_driver` says)."""
    (a,) = _operands("svd", ("a", a))
    if not compute_uv:
        return fnp.linalg.svd(a, compute_uv=False)
    u, s, vh = fnp.linalg.svd(a, full_matrices=full_matrices)
    return u, s, vh


def qr(a: Any, overwrite_a: bool = False, lwork: Any = None, mode: str = "full",
       pivoting: bool = False, check_finite: bool = True) -> tuple[Array, ...]:
    """``(q, r)`` with a = q r, as ``scipy.linalg.qr``: mode 'full' (q [..., m, m]),
    'economic' (q [..., m, k]) or 'r' (``(r,)``). Column pivoting and mode 'raw' are not
    provided (a ValueError says so)."""
    if pivoting:
        raise ValueError("functrans.scipy.linalg.qr: pivoting=True is not available; "
                         "use pivoting=False")
    if mode not in ("full", "economic", "r"):
        raise ValueError(f"functrans.scipy.linalg.qr: mode {mode!r} is not available; use "
                         "'full', 'economic' or 'r'")
    (a,) = _operands("qr", ("a", a))
    if len(shape_of(a)) < 2:
        raise ValueError(f"functrans.scipy.linalg.qr: a must be a matrix, got shape "
                         f"{shape_of(a)}")
    q, r = lax.linalg.qr(a, full_matrices=mode != "economic")
    return (r,) if mode == "r" else (q, r)


# ------------------------------------------------------------------ matrix functions

def expm(A: Any, *, upper_triangular: bool = False, max_squarings: int = 16) -> Array:  # noqa: N803
    """The matrix exponential (SciPy's Pade scaling and squaring; derivatives through the
    Frechet derivative, to every order). `upper_triangular` and `max_squarings` are
    JAX's tuning knobs, accepted for compatibility: SciPy chooses its own."""
    (A,) = _operands("expm", ("A", A))  # noqa: N806
    _square("expm", "A", A)
    return lax.linalg.expm(A)


def expm_frechet(A: Any, E: Any, *, method: str | None = None,  # noqa: N803
                 compute_expm: bool = True) -> Any:
    """The Frechet derivative of expm at `A` in the direction `E`, ``L(A, E)``, and
    ``expm(A)`` first if `compute_expm` (as ``scipy.linalg.expm_frechet``)."""
    A, E = _operands("expm_frechet", ("A", A), ("E", E))  # noqa: N806
    _square("expm_frechet", "A", A)
    if shape_of(A) != shape_of(E):
        raise ValueError(f"functrans.scipy.linalg.expm_frechet: A and E must have the same "
                         f"shape, got {shape_of(A)} and {shape_of(E)}")
    frechet = lax.linalg.expm_frechet(A, E)
    return (lax.linalg.expm(A), frechet) if compute_expm else frechet


def sqrtm(A: Any, blocksize: int = 1) -> Array:  # noqa: N803
    """The principal square root X (X @ X = A), complex as in JAX, from SciPy's Schur
    method; its derivative solves a Sylvester equation."""
    (A,) = _operands("sqrtm", ("A", A))  # noqa: N806
    _square("sqrtm", "A", A)
    return lax.linalg.sqrtm(A)


def solve_sylvester(a: Any, b: Any, q: Any) -> Array:
    """X with a X + X b = q (Bartels-Stewart), as ``scipy.linalg.solve_sylvester``;
    differentiable in all three."""
    a, b, q = _operands("solve_sylvester", ("a", a), ("b", b), ("q", q))
    _square("solve_sylvester", "a", a)
    _square("solve_sylvester", "b", b)
    return lax.linalg.solve_sylvester(a, b, q)


# ------------------------------------------------------------------ special matrices

def block_diag(*arrs: Any) -> Array:
    """The block-diagonal matrix of the arrays (scalars and vectors as one-row matrices),
    as ``scipy.linalg.block_diag``."""
    if not arrs:
        return np.zeros((1, 0))
    blocks = [fnp.atleast_2d(as_array(asarray_arg(x, "scipy.linalg.block_diag", f"arrs[{i}]")))
              for i, x in enumerate(arrs)]
    for i, block in enumerate(blocks):
        if len(shape_of(block)) != 2:
            raise ValueError(f"functrans.scipy.linalg.block_diag: arrs[{i}] must have at most "
                             f"2 dimensions, got shape {shape_of(block)}")
    dtype = result_type(*blocks)
    total = sum(shape_of(block)[1] for block in blocks)
    rows, before = [], 0
    for block in blocks:
        cols = shape_of(block)[1]
        rows.append(fnp.pad(cast(block, dtype), ((0, 0), (before, total - before - cols))))
        before += cols
    return fnp.concatenate(rows, axis=0)


def toeplitz(c: Any, r: Any = None) -> Array:
    """The Toeplitz matrix with first column `c` and first row `r` (default conj(c); its
    first entry is ignored), as ``scipy.linalg.toeplitz``; both are flattened."""
    c = fnp.ravel(as_array(asarray_arg(c, "scipy.linalg.toeplitz", "c")))
    r = fnp.conj(c) if r is None else fnp.ravel(as_array(asarray_arg(
        r, "scipy.linalg.toeplitz", "r")))
    c, r = (cast(x, result_type(c, r)) for x in (c, r))
    n, m = shape_of(c)[0], shape_of(r)[0]
    # entry (i, j) is c[i - j] below the diagonal and r[j - i] above it: one gather from
    # the values r[m-1], ..., r[1], c[0], ..., c[n-1]
    values = fnp.concatenate([fnp.flip(r[1:], 0), c])
    index = (m - 1) + np.arange(n)[:, None] - np.arange(m)[None, :]
    return values[index]
