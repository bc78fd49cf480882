"""Linear algebra: decompositions, triangular solves and matrix functions, as primitives.

Every primitive works on the last two axes and maps over the leading (batch) axes, like
a NumPy gufunc; its batching rule moves the vmapped axis to the front and binds once.
Implementations are LAPACK and BLAS, through NumPy's gufuncs (``np.linalg.cholesky``,
``eigh``, ``svd``, ``qr``, ``eig``) or SciPy (``potrf``, ``trsm``, ``trmm``, ``getrf``,
``sygst``, ``expm``, the Schur-based ``sqrtm`` and ``solve_sylvester``). Dtypes: float32,
float64, complex64, complex128, and float32 stays float32. Where LAPACK fails (the
Cholesky factor of a matrix that is not positive definite, an eigensolver that does not
converge) the result is NaN, as in JAX.

Derivatives. Each JVP is written with primitives, so reverse mode is its transpose:

* ``cholesky``: L' = L Phi(L^-1 S' L^-H) (Murray 2016), where Phi keeps the lower
  triangle and halves the diagonal and S' is the tangent of the lower triangle read as a
  Hermitian matrix. Its two linear maps are primitives, each one BLAS/LAPACK call:
  ``congruence_solve`` (X -> A^-1 X A^-H, LAPACK ``sygst``) and ``triangular_matmul``
  (BLAS ``trmm``). Each is its own transpose with ``transpose_a`` flipped, so the
  backward pass of a Cholesky factorisation is one ``trmm`` and one ``sygst``: no more
  work than the closed-form gradient with an explicit inverse.
* ``triangular_solve`` is linear in its right-hand side (transpose: the solve with the
  transposed matrix); in the matrix, dX = -op(A)^-1 op(dA) X.
* ``lu``: with P A = L U and X = L^-1 P A' U^-1, L' = L tril(X, -1) and U' = triu(X) U
  (de Hoog, Anderssen and Lukas).
* ``qr``: Walter and Lehmann's rule for the reduced QR of a tall matrix. A wide matrix is
  its square left block (which fixes Q) and the rest (R2 = Q^H A2). The extra columns of
  a complete Q rotate with the others (Q2' = -Q1 Q1'^H Q2) and not among themselves: no
  function of A fixes a basis of that orthogonal complement.
* ``eigh`` and ``svd`` (Giles 2008; Seeger et al.; Townsend): the vectors' tangents have
  coefficients 1/(w_j - w_i). Vectors of a repeated eigen-/singular value are not unique,
  so where a gap is within rounding (``n * eps * max|w|``) the coefficient is zero. That
  is the exact first derivative of every function that does not depend on the choice of
  basis inside such a cluster (values, projectors, reconstructions), and it stays finite;
  derivatives of the vectors themselves there have no meaning, and second derivatives
  there would need degenerate perturbation theory (not done). A zero singular value
  likewise contributes zero, not 1/0, to the vectors of a non-square matrix.
* ``eig``: dw = diag(V^-1 A' V) (Giles 2008); dV = V (F o V^-1 A' V) with F the inverse
  gaps, corrected so that each column keeps LAPACK's normalisation (unit 2-norm, its
  largest component real).
* ``expm``: the Frechet derivative L(A, E), a primitive linear in E whose transpose is
  L(A^T, .); its derivative in A is read from the Frechet derivative of expm at the block
  matrix [[A, E], [0, A]], so derivatives of every order exist.
* ``sqrtm``: X X' + X' X = A', a Sylvester equation; ``sylvester`` solves A X + X B = C
  (linear in C; transpose: the same equation with A^T and B^T).

Cotangents follow JAX's convention (the pairing Re sum(ct * t), no conjugate), so the
transpose of a linear map is its plain transpose, for complex matrices too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import scipy.linalg
from scipy.linalg import blas as scipy_blas
from scipy.linalg import lapack as scipy_lapack

from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive
from functrans.core.zeros import Zero, is_undefined_primal
from functrans.primitives.elementwise import (
    abs,  # noqa: A004  (lax.abs)
    add,
    complex,  # noqa: A004  (lax.complex)
    conj,
    div,
    gt,
    imag,
    mul,
    neg,
    real,
    select_n,
    sqrt,
    sub,
)
from functrans.primitives.products import dot_general
from functrans.primitives.reductions import argmax, reduce_max, reduce_sum
from functrans.primitives.rules import bdim_at_front, defjvp_zero
from functrans.primitives.sort import scatter_add_along_axis, take_along_axis
from functrans.primitives.structural import (
    broadcast_in_dim,
    concatenate,
    full,
    moveaxis,
    pad,
    reshape,
    slice_in_dim,
    transpose,
)
from functrans.primitives.tangent_space import add_tangents

__all__ = ["cholesky", "triangular_solve", "triangular_matmul", "congruence_solve", "lu",
           "lu_pivots_to_permutation", "lu_solve", "qr", "eigh", "svd", "eig", "expm",
           "expm_frechet", "sqrtm", "solve_sylvester", "symmetrize",
           "cholesky_p", "triangular_solve_p", "triangular_matmul_p", "congruence_solve_p",
           "lu_p", "lu_pivots_to_permutation_p", "qr_p", "eigh_p", "svd_p", "eig_p",
           "expm_p", "expm_frechet_p", "sqrtm_p", "sylvester_p"]

LAPACK_DTYPES = tuple(np.dtype(t) for t in (np.float32, np.float64, np.complex64,
                                             np.complex128))
_DTYPES_TEXT = "float32, float64, complex64 or complex128"

#: stacks of matrices up to this size are solved by substitution, one row at a time for
#: the whole stack; larger ones by one BLAS call each, whose O(n^2 k) work hides the
#: call's overhead
_SUBSTITUTION_MAX = 32


# ------------------------------------------------------------------ shape rules

def _check_lapack_dtype(name: str, argname: str, aval: ShapedArray) -> None:
    if aval.dtype not in LAPACK_DTYPES:
        raise TypeError(f"{name}: {argname} has dtype {aval.dtype} ({aval.str_short()}); "
                        f"LAPACK works in {_DTYPES_TEXT}: convert it first "
                        "(functrans.numpy.linalg promotes integers to float64)")


def _check_matrix(name: str, argname: str, aval: ShapedArray, square: bool = False) -> None:
    if aval.ndim < 2:
        raise TypeError(f"{name}: {argname} must be a matrix or a stack of matrices (shape "
                        f"[..., m, n]), got {aval.str_short()}")
    if square and aval.shape[-1] != aval.shape[-2]:
        raise TypeError(f"{name}: {argname} must be square in its last two axes (shape "
                        f"[..., n, n]), got {aval.str_short()}")
    _check_lapack_dtype(name, argname, aval)


def _check_same(name: str, *named: tuple[str, ShapedArray]) -> None:
    """Equal dtypes and batch axes, as LAPACK (and JAX's linalg primitives) require."""
    (first_name, first), *rest = named
    for argname, aval in rest:
        if aval.dtype != first.dtype:
            raise TypeError(f"{name}: {first_name} {first.str_short()} and {argname} "
                            f"{aval.str_short()} must have the same dtype (functrans.numpy "
                            "promotes; functrans.lax does not)")
        if aval.shape[:-2] != first.shape[:-2]:
            raise TypeError(f"{name}: {first_name} {first.str_short()} and {argname} "
                            f"{aval.str_short()} must have the same batch (leading) axes; "
                            "broadcast them first")


def _real_dtype(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.finfo(dtype).dtype)


def _complex_dtype(dtype: np.dtype) -> np.dtype:
    return np.result_type(dtype, np.complex64)


# ------------------------------------------------------------------ NumPy helpers (impls)

def _swap(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


def _or_nan_where_failed(compute: Callable[[np.ndarray], Sequence[np.ndarray]],
                         x: np.ndarray, avals: Sequence[ShapedArray]) -> list[np.ndarray]:
    """``compute(x)`` in the dtypes of `avals`; where LAPACK fails on a matrix of the
    stack, NaN for that matrix (as JAX) and the results of the others. NumPy's gufuncs
    do not say which matrix failed: only then are they decomposed one at a time."""
    try:
        with np.errstate(all="ignore"):
            return [np.asarray(o, a.dtype) for o, a in zip(compute(x), avals, strict=True)]
    except np.linalg.LinAlgError:
        pass
    outs = [np.full(a.shape, np.nan, a.dtype) for a in avals]
    for index in np.ndindex(*x.shape[:-2]):
        try:
            with np.errstate(all="ignore"):
                parts = compute(x[index])
        except np.linalg.LinAlgError:
            continue
        for out, part in zip(outs, parts, strict=True):
            out[index] = part
    return outs


def _explicit_op(a: np.ndarray, lower: bool, transpose_a: bool, conjugate_a: bool,
                 unit_diagonal: bool) -> tuple[np.ndarray, bool]:
    """op(A) as an array (its other triangle zero), and whether it is lower triangular."""
    tri = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        n = a.shape[-1]
        tri[..., np.arange(n), np.arange(n)] = 1
    if conjugate_a:
        tri = tri.conj()
    if transpose_a:
        tri = _swap(tri)
    return tri, lower != transpose_a


def _blas_triangular(routine: str, a: np.ndarray, b: np.ndarray, *, left_side: bool,
                     lower: bool, transpose_a: bool, conjugate_a: bool,
                     unit_diagonal: bool) -> np.ndarray:
    """BLAS ``trsm`` (op(A)^-1 B) or ``trmm`` (op(A) B), or with A on the right, for 2-D
    operands; a new array.

    BLAS is column-major: to it a C-ordered array is the transpose of the matrix. The
    transposed problem (B^T op(A)^T, the side and the triangle swapped, the same
    operation code) is what it reads without copying A.
    """
    if conjugate_a and not transpose_a:  # BLAS conjugates only along with a transpose
        a = a.conj()
        conjugate_a = False
    trans = (2 if conjugate_a else 1) if transpose_a else 0
    (fn,) = scipy_blas.get_blas_funcs((routine,), (a, b))
    if b.flags.f_contiguous and not b.flags.c_contiguous:
        return fn(1.0, a, np.array(b, order="F"), side=int(not left_side), lower=int(lower),
                  trans_a=trans, diag=int(unit_diagonal), overwrite_b=1)
    out_t = fn(1.0, a.T, np.array(b.T, order="F"), side=int(left_side),
               lower=int(not lower), trans_a=trans, diag=int(unit_diagonal), overwrite_b=1)
    return out_t.T


def _substitution(a: np.ndarray, b: np.ndarray, *, left_side: bool, lower: bool,
                  transpose_a: bool, conjugate_a: bool, unit_diagonal: bool) -> np.ndarray:
    """op(A)^-1 B for a stack of small matrices: substitution one row at a time, for the
    whole stack at once (no pivoting, so a zero diagonal gives inf/NaN, as trsm)."""
    t, t_lower = _explicit_op(a, lower, transpose_a, conjugate_a, unit_diagonal)
    if not left_side:  # X op(A) = B  <=>  op(A)^T X^T = B^T
        t, b, t_lower = _swap(t), _swap(b), not t_lower
    x = np.zeros(b.shape, b.dtype)
    n = t.shape[-1]
    with np.errstate(all="ignore"):
        for i in range(n) if t_lower else range(n - 1, -1, -1):
            done = slice(0, i) if t_lower else slice(i + 1, n)
            known = np.matmul(t[..., i:i + 1, done], x[..., done, :])[..., 0, :]
            x[..., i, :] = (b[..., i, :] - known) / t[..., i, i, None]
    return x if left_side else np.ascontiguousarray(_swap(x))


def _triangular_solve_stack(a: np.ndarray, b: np.ndarray, **params: Any) -> np.ndarray:
    if a.ndim == 2:
        return _blas_triangular("trsm", a, b, **params)
    if a.shape[-1] <= _SUBSTITUTION_MAX:
        return _substitution(a, b, **params)
    out = np.empty(b.shape, b.dtype)
    for index in np.ndindex(*a.shape[:-2]):
        out[index] = _blas_triangular("trsm", a[index], b[index], **params)
    return out


def _hermitian_part(x: np.ndarray) -> np.ndarray:
    out = x + _swap(x).conj()
    out *= np.asarray(0.5, x.dtype)
    return out


# ------------------------------------------------------------------ Array API helpers (impls)
# The implementations on another array library (functrans.core.backend): the Array API's
# linalg extension (cholesky, qr, eigh, svd, solve), which CuPy (cuSOLVER) and PyTorch
# implement for stacks of matrices. What it lacks (LAPACK's triangular routines, LU,
# the general eigensolver) comes from each library's own rule (backend_torch.py,
# backend_cupy.py) or is built here from what it has: a triangular solve is a general
# solve of the explicit triangle. Marked ``prefer_fallback``: Dask, whose linalg takes
# single matrices in one chunk, runs the NumPy implementation as one task instead.

def _xp_triangle_mask(xp: Any, x: Any, lower: bool, k: int = 0) -> Any:
    """Where the lower (upper) triangle of `x`'s last two axes is, from diagonal `k`."""
    m, n = x.shape[-2:]
    rows = xp.reshape(xp.arange(m, device=x.device), (m, 1))
    columns = xp.reshape(xp.arange(n, device=x.device), (1, n))
    return rows + k >= columns if lower else rows + k <= columns


def _xp_tril(xp: Any, x: Any, lower: bool, k: int = 0) -> Any:
    return xp.where(_xp_triangle_mask(xp, x, lower, k), x, xp.zeros_like(x))


def _xp_explicit_op(xp: Any, a: Any, lower: bool, transpose_a: bool, conjugate_a: bool,
                    unit_diagonal: bool) -> Any:
    """_explicit_op for another library's arrays: op(A), its other triangle zero."""
    tri = _xp_tril(xp, a, lower)
    if unit_diagonal:
        diagonal = _xp_triangle_mask(xp, a, True) & _xp_triangle_mask(xp, a, False)
        tri = xp.where(diagonal, xp.ones_like(a), tri)
    if conjugate_a:
        tri = xp.conj(tri)
    return xp.matrix_transpose(tri) if transpose_a else tri


def _xp_solve(xp: Any, t: Any, b: Any, left_side: bool) -> Any:
    """t^-1 b, or b t^-1 (as (t^T)^-1 b^T, transposed back)."""
    if left_side:
        return xp.linalg.solve(t, b)
    return xp.matrix_transpose(xp.linalg.solve(xp.matrix_transpose(t),
                                               xp.matrix_transpose(b)))


def _xp_hermitian_from_triangle(xp: Any, x: Any, lower: bool) -> Any:
    """The Hermitian matrix whose lower (upper) triangle is that of `x` (its diagonal's
    real part): what LAPACK's symmetric routines read, for libraries whose routines may
    read either triangle."""
    strict = _xp_tril(xp, x, lower, -1 if lower else 1)
    diagonal = _xp_diagonal_part(xp, x)
    if _xp_is_complex(xp, x):
        diagonal = xp.astype(xp.real(diagonal), x.dtype)
    return strict + diagonal + xp.conj(xp.matrix_transpose(strict))


def _xp_is_complex(xp: Any, x: Any) -> bool:
    return xp.isdtype(x.dtype, "complex floating")


def _xp_diagonal_part(xp: Any, x: Any) -> Any:
    diagonal = _xp_triangle_mask(xp, x, True) & _xp_triangle_mask(xp, x, False)
    return xp.where(diagonal, x, xp.zeros_like(x))


def _prefers_fallback(impl: Callable[..., Any]) -> Callable[..., Any]:
    impl.prefer_fallback = True  # type: ignore[attr-defined]
    return impl


# ------------------------------------------------------------------ lax-level helpers

def _ndim(x: Any) -> int:
    return get_aval(x).ndim


def _is_complex(x: Any) -> bool:
    return get_aval(x).dtype.kind == "c"


def _swap_last(x: Any) -> Any:
    nd = _ndim(x)
    return transpose(x, tuple(range(nd - 2)) + (nd - 1, nd - 2))


def _conj(x: Any) -> Any:
    return conj(x) if _is_complex(x) else x


def _real(x: Any) -> Any:
    return real(x) if _is_complex(x) else x


def _H(x: Any) -> Any:  # noqa: N802  (the usual name of the conjugate transpose)
    return _conj(_swap_last(x))


def _matmul(a: Any, b: Any) -> Any:
    """Matrix product over the last two axes, for operands with equal batch axes."""
    nb = _ndim(a) - 2
    batch = tuple(range(nb))
    return dot_general(a, b, (((nb + 1,), (nb,)), (batch, batch)))


def _constant(values: np.ndarray, shape: tuple[int, ...], dtype: Any) -> Any:
    """A NumPy constant for the last two axes, broadcast over the leading ones."""
    values = np.asarray(values, dtype)
    if len(shape) == 2:
        return values
    return broadcast_in_dim(values, shape, (len(shape) - 2, len(shape) - 1))


def _weighted(x: Any, weights: np.ndarray) -> Any:
    """`x` times constant weights per entry of its last two axes (masks, a halved
    diagonal): linear, and its own transpose."""
    aval = get_aval(x)
    return mul(x, _constant(weights, aval.shape, aval.dtype))


def _triangle_weights(n: int, lower: bool, off_diagonal: float, diagonal: float
                      ) -> np.ndarray:
    strict = np.tri(n, n, -1, dtype=bool) if lower else ~np.tri(n, n, 0, dtype=bool)
    return np.where(strict, off_diagonal, 0.0) + np.eye(n) * diagonal


def _masked(x: Any, keep: np.ndarray) -> Any:
    """Entries of `x` where `keep` (a (m, n) bool array) holds, exact zeros elsewhere."""
    aval = get_aval(x)
    return select_n(_constant(keep, aval.shape, bool), full(aval.shape, 0, aval.dtype), x)


def _tril(x: Any, k: int = 0) -> Any:
    m, n = get_aval(x).shape[-2:]
    return _masked(x, np.tri(m, n, k, dtype=bool))


def _triu(x: Any, k: int = 0) -> Any:
    m, n = get_aval(x).shape[-2:]
    return _masked(x, ~np.tri(m, n, k - 1, dtype=bool))


def _diagonal(x: Any) -> Any:
    """The diagonal of the (square) last two axes."""
    n = get_aval(x).shape[-1]
    return reduce_sum(_weighted(x, np.eye(n)), (_ndim(x) - 1,))


def _scale_columns(x: Any, d: Any) -> Any:
    """x @ diag(d): column j of `x` ([..., m, n]) times d[..., j]."""
    aval = get_aval(x)
    nd = aval.ndim
    return mul(x, broadcast_in_dim(d, aval.shape, tuple(range(nd - 2)) + (nd - 1,)))


def _scale_rows(x: Any, d: Any) -> Any:
    """diag(d) @ x: row i of `x` ([..., m, n]) times d[..., i]."""
    aval = get_aval(x)
    return mul(x, broadcast_in_dim(d, aval.shape, tuple(range(aval.ndim - 1))))


def _as_dtype_of(x: Any, like: Any) -> Any:
    """A real tangent `x` as the complex dtype of `like` (its imaginary part zero)."""
    if _is_complex(like) and not _is_complex(x):
        aval = get_aval(x)
        return complex(x, full(aval.shape, 0, aval.dtype))
    return x


def _inverse_gaps(w: Any) -> Any:
    """F[..., i, j] = 1 / (w_j - w_i), and 0 where the gap is within rounding: on the
    diagonal, and between repeated eigen- or singular values."""
    aval = get_aval(w)
    nd, n = aval.ndim, aval.shape[-1]
    shape = aval.shape + (n,)
    lead = tuple(range(nd - 1))
    gaps = sub(broadcast_in_dim(w, shape, lead + (nd,)),        # w_j
               broadcast_in_dim(w, shape, lead + (nd - 1,)))    # w_i
    magnitude = reduce_max(abs(w), (nd - 1,))
    real = _real_dtype(aval.dtype)
    tol = mul(broadcast_in_dim(magnitude, shape, lead),
              full(shape, n * np.finfo(real).eps, real))
    separated = gt(abs(gaps), tol)
    one = full(shape, 1, aval.dtype)
    inverse = div(one, select_n(separated, one, gaps))
    return select_n(separated, full(shape, 0, aval.dtype), inverse)


def _zero_tangent(x: Any) -> Zero:
    return Zero(get_aval(x).to_tangent_aval())


def _batch_size(args: Sequence[Any], dims: Sequence[int | None]) -> int:
    return next(get_aval(x).shape[d] for x, d in zip(args, dims, strict=True) if d is not None)


def _front_batch(prim: Primitive) -> Callable[..., Any]:
    """Batching rule of a primitive that maps over leading axes: the vmapped axis of
    every operand goes to the front (broadcast where it is unbatched); one bind."""
    def batch(args, dims, **params):
        size = _batch_size(args, dims)
        moved = [bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True)]
        out = prim.bind(*moved, **params)
        return out, ([0] * len(out) if prim.multiple_results else 0)
    return batch


def _primitive(name: str, impl: Callable[..., Any], abstract_eval: Callable[..., Any], *,
               multiple_results: bool = False) -> Primitive:
    p = Primitive(name, multiple_results=multiple_results)
    p.impl = impl
    p.abstract_eval = abstract_eval
    return p


def _bind_checked(prim: Primitive, *args: Any, **params: Any) -> Any:
    """The shape rule first, so that eager calls fail with the message traced ones get."""
    prim.abstract_eval(*[get_aval(a) for a in args], **params)
    return prim.bind(*args, **params)


def symmetrize(x: Any) -> Any:
    """(x + x^H) / 2, the Hermitian part of the last two axes (as JAX's)."""
    return mul(add(x, _H(x)), full(get_aval(x).shape, 0.5, get_aval(x).dtype))


# ------------------------------------------------------------------ triangular operations
# triangular_solve (trsm) and triangular_matmul (trmm) share their parameters: A is
# read from one triangle (with an implicit unit diagonal if asked), op(A) is A, A^T,
# conj(A) or A^H, and A multiplies B from the left or from the right.

def _triangular_aval(name: str) -> Callable[..., ShapedArray]:
    def rule(a, b, *, left_side, lower, transpose_a, conjugate_a, unit_diagonal):
        _check_matrix(name, "a", a, square=True)
        _check_matrix(name, "b", b)
        _check_same(name, ("a", a), ("b", b))
        common = b.shape[-2] if left_side else b.shape[-1]
        if common != a.shape[-1]:
            which = "[..., m, n]" if left_side else "[..., n, m]"
            raise TypeError(f"{name}: incompatible shapes a {a.str_short()} and b "
                            f"{b.str_short()}: with left_side={left_side}, b must be {which} "
                            f"with m = {a.shape[-1]}, the size of a")
        return ShapedArray(b.shape, b.dtype)
    return rule


def _triangle_read(x: Any, lower: bool, unit_diagonal: bool) -> Any:
    """The entries of A that the triangular primitives read: its triangle, without the
    diagonal when that is taken as unit."""
    k = -1 if unit_diagonal else 0
    return _tril(x, k) if lower else _triu(x, -k)


def _varying_part(ta: Any, params: dict[str, bool]) -> Any:
    """The tangent of A as triangular_matmul (with a non-unit diagonal) should read it: a
    unit diagonal is constant, so its tangent is then the strict triangle alone. (The
    other triangle needs no mask: triangular_matmul does not read it.)"""
    return _triangle_read(ta, params["lower"], True) if params["unit_diagonal"] else ta


def _cotangent_of_a(ct_op: Any, lower: bool, transpose_a: bool, conjugate_a: bool,
                    unit_diagonal: bool) -> Any:
    """The cotangent of A from that of op(A) (transposing and conjugating are their own
    transposes), restricted to the entries A contributes."""
    ct = _swap_last(ct_op) if transpose_a else ct_op
    ct = _conj(ct) if conjugate_a else ct
    return _triangle_read(ct, lower, unit_diagonal)


def _fold_batch(prim: Primitive) -> Callable[..., Any]:
    """Batching rule of triangular_solve / triangular_matmul. With one matrix and a
    batch of right-hand sides, the vmapped axis joins B's free axis (its columns for a
    left-side operation, its rows otherwise): one BLAS call for the whole batch."""
    front = _front_batch(prim)

    def batch(args, dims, **params):
        (a, b), (da, db) = args, dims
        if da is not None:
            return front(args, dims, **params)
        shape = get_aval(b).shape
        nd = len(shape)
        if params["left_side"]:  # (..., m, n, batch) -> (..., m, n * batch)
            b = moveaxis(b, db, nd - 1)
            moved = get_aval(b).shape
            folded = reshape(b, moved[:-2] + (moved[-2] * moved[-1],))
            out = prim.bind(a, folded, **params)
            return reshape(out, moved), nd - 1
        b = moveaxis(b, db, nd - 3)  # (..., batch, n, m) -> (..., batch * n, m)
        moved = get_aval(b).shape
        folded = reshape(b, moved[:-3] + (moved[-3] * moved[-2], moved[-1]))
        out = prim.bind(a, folded, **params)
        return reshape(out, moved), nd - 3
    return batch


# --- triangular_matmul: op(A) B or B op(A), BLAS trmm

@_prefers_fallback
def _triangular_matmul_impl(a, b, *, left_side, lower, transpose_a, conjugate_a,
                            unit_diagonal, xp=np):
    if xp is not np:
        conjugate_a = conjugate_a and _xp_is_complex(xp, a)
        op_a = _xp_explicit_op(xp, a, lower, transpose_a, conjugate_a, unit_diagonal)
        return xp.matmul(op_a, b) if left_side else xp.matmul(b, op_a)
    a, b = np.asarray(a), np.asarray(b)
    conjugate_a = conjugate_a and a.dtype.kind == "c"
    if a.ndim == 2:
        return _blas_triangular("trmm", a, b, left_side=left_side, lower=lower,
                                transpose_a=transpose_a, conjugate_a=conjugate_a,
                                unit_diagonal=unit_diagonal)
    op_a, _ = _explicit_op(a, lower, transpose_a, conjugate_a, unit_diagonal)
    return np.matmul(op_a, b) if left_side else np.matmul(b, op_a)


def _triangular_matmul_jvp(primals, tangents, **params):
    (a, b), (ta, tb) = primals, tangents
    out = triangular_matmul_p.bind(a, b, **params)
    tangent: Any = _zero_tangent(out)
    if type(tb) is not Zero:
        tangent = triangular_matmul_p.bind(a, tb, **params)
    if type(ta) is not Zero:
        tangent = add_tangents(tangent, triangular_matmul_p.bind(
            _varying_part(ta, params), b, **dict(params, unit_diagonal=False)))
    return out, tangent


def _triangular_matmul_transpose(ct, a, b, *, left_side, lower, transpose_a, conjugate_a,
                                 unit_diagonal):
    if is_undefined_primal(a) and is_undefined_primal(b):
        raise TypeError("triangular_matmul: transposing a product of two linear values "
                        "(the function is not linear in its inputs)")
    if is_undefined_primal(b):
        ct_b = triangular_matmul_p.bind(a, ct, left_side=left_side, lower=lower,
                                        transpose_a=not transpose_a, conjugate_a=conjugate_a,
                                        unit_diagonal=unit_diagonal)
        return [None, ct_b]
    ct_op = _matmul(ct, _swap_last(b)) if left_side else _matmul(_swap_last(b), ct)
    return [_cotangent_of_a(ct_op, lower, transpose_a, conjugate_a, unit_diagonal), None]


triangular_matmul_p = _primitive("triangular_matmul", _triangular_matmul_impl,
                                 _triangular_aval("triangular_matmul"))
triangular_matmul_p.jvp = _triangular_matmul_jvp
triangular_matmul_p.transpose = _triangular_matmul_transpose
triangular_matmul_p.batch = _fold_batch(triangular_matmul_p)
triangular_matmul_p.linear = True  # bilinear, as dot_general


def _triangular_params(left_side: bool, lower: bool, transpose_a: bool, conjugate_a: bool,
                       unit_diagonal: bool, a: Any) -> dict[str, bool]:
    return dict(left_side=bool(left_side), lower=bool(lower), transpose_a=bool(transpose_a),
                conjugate_a=bool(conjugate_a) and _is_complex(a),
                unit_diagonal=bool(unit_diagonal))


def _as_matrix_operand(b: Any, a: Any, left_side: bool) -> tuple[Any, bool]:
    """A vector right-hand side (one axis fewer than `a`) as a one-column (or one-row)
    matrix, and whether it was one."""
    if _ndim(b) == _ndim(a) - 1:
        nd = _ndim(b)
        shape = get_aval(b).shape
        new_shape = shape + (1,) if left_side else shape[:-1] + (1, shape[-1])
        dims = tuple(range(nd)) if left_side else tuple(range(nd - 1)) + (nd,)
        return broadcast_in_dim(b, new_shape, dims), True
    return b, False


def _from_matrix_operand(x: Any, left_side: bool) -> Any:
    return reshape(x, get_aval(x).shape[:-1] if left_side else
                   get_aval(x).shape[:-2] + get_aval(x).shape[-1:])


def triangular_matmul(a: Any, b: Any, left_side: bool = False, lower: bool = False,
                      transpose_a: bool = False, conjugate_a: bool = False,
                      unit_diagonal: bool = False) -> Any:
    """op(A) @ B (`left_side`) or B @ op(A) for a triangular A (BLAS ``trmm``).

    A functrans extension with ``triangular_solve``'s parameters: A is read from its
    lower (or upper) triangle, with an implicit unit diagonal if `unit_diagonal`; op(A)
    is A, A^T (`transpose_a`), conj(A) (`conjugate_a`) or A^H. `b` may be a vector.
    """
    params = _triangular_params(left_side, lower, transpose_a, conjugate_a, unit_diagonal, a)
    b, vector = _as_matrix_operand(b, a, params["left_side"])
    out = _bind_checked(triangular_matmul_p, a, b, **params)
    return _from_matrix_operand(out, params["left_side"]) if vector else out


# --- triangular_solve: op(A)^-1 B or B op(A)^-1, BLAS trsm

@_prefers_fallback
def _triangular_solve_impl(a, b, *, left_side, lower, transpose_a, conjugate_a,
                           unit_diagonal, xp=np):
    if xp is not np:  # a general solve of the explicit triangle (see backend_torch)
        conjugate_a = conjugate_a and _xp_is_complex(xp, a)
        op_a = _xp_explicit_op(xp, a, lower, transpose_a, conjugate_a, unit_diagonal)
        return _xp_solve(xp, op_a, b, left_side)
    a, b = np.asarray(a), np.asarray(b)
    return _triangular_solve_stack(a, b, left_side=left_side, lower=lower,
                                   transpose_a=transpose_a,
                                   conjugate_a=conjugate_a and a.dtype.kind == "c",
                                   unit_diagonal=unit_diagonal)


def _triangular_solve_jvp(primals, tangents, **params):
    (a, b), (ta, tb) = primals, tangents
    x = triangular_solve_p.bind(a, b, **params)
    tangent: Any = _zero_tangent(x)
    if type(tb) is not Zero:
        tangent = triangular_solve_p.bind(a, tb, **params)
    if type(ta) is not Zero:
        # d(op(A)^-1 B) = -op(A)^-1 op(dA) X  (and -X op(dA) op(A)^-1 on the right)
        product = triangular_matmul_p.bind(_varying_part(ta, params), x,
                                           **dict(params, unit_diagonal=False))
        tangent = add_tangents(tangent, neg(triangular_solve_p.bind(a, product, **params)))
    return x, tangent


def _triangular_solve_transpose(ct, a, b, **params):
    if is_undefined_primal(a):
        raise TypeError("triangular_solve: the matrix a is not a linear argument (the "
                        "solve is linear in b only)")
    return [None, triangular_solve_p.bind(a, ct, **dict(params,
                                                        transpose_a=not params["transpose_a"]))]


triangular_solve_p = _primitive("triangular_solve", _triangular_solve_impl,
                                _triangular_aval("triangular_solve"))
triangular_solve_p.jvp = _triangular_solve_jvp
triangular_solve_p.transpose = _triangular_solve_transpose
triangular_solve_p.batch = _fold_batch(triangular_solve_p)
triangular_solve_p.linear = True  # in b


def triangular_solve(a: Any, b: Any, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False,
                     unit_diagonal: bool = False) -> Any:
    """Solve op(A) X = B (`left_side`) or X op(A) = B for a triangular A, as
    ``jax.lax.linalg.triangular_solve`` (BLAS ``trsm``, no pivoting).

    A is read from its lower (`lower`) or upper triangle, with an implicit unit diagonal
    if `unit_diagonal`; op(A) is A, A^T (`transpose_a`), conj(A) (`conjugate_a`) or A^H.
    `b` is [..., m, n] (or [..., n, m] on the right), or a vector [..., m]. A zero on
    the diagonal gives inf/NaN, as in JAX.
    """
    params = _triangular_params(left_side, lower, transpose_a, conjugate_a, unit_diagonal, a)
    b, vector = _as_matrix_operand(b, a, params["left_side"])
    out = _bind_checked(triangular_solve_p, a, b, **params)
    return _from_matrix_operand(out, params["left_side"]) if vector else out


# ------------------------------------------------------------------ congruence_solve

def _congruence_aval(a, x, *, lower, transpose_a, conjugate_a):
    _check_matrix("congruence_solve", "a", a, square=True)
    _check_matrix("congruence_solve", "x", x, square=True)
    _check_same("congruence_solve", ("a", a), ("x", x))
    if a.shape[-1] != x.shape[-1]:
        raise TypeError(f"congruence_solve: a {a.str_short()} and x {x.str_short()} must "
                        "have matrices of the same size")
    return ShapedArray(x.shape, x.dtype)


def _congruence_matrix(a: np.ndarray, x: np.ndarray, *, lower: bool, transpose_a: bool,
                       conjugate_a: bool) -> np.ndarray:
    """B^-1 S B^-H for one matrix, B = op(A) and S = (X + X^H) / 2: LAPACK sygst/hegst.

    sygst takes S and B from one triangle each and writes one triangle of the result.
    To LAPACK a C-ordered array is the transpose of the matrix (for a Hermitian S, its
    conjugate): called on the Fortran views S^T and B^T with uplo='U', it reads a lower
    triangular B and returns the result's lower triangle in C order, with no copy of B
    or S. An upper triangular B is made lower by reversing the order of rows and
    columns (J B J, with J S J and J R J for S and the result R).
    """
    b = a.conj() if conjugate_a else a
    b = b.T if transpose_a else b
    reverse = lower == transpose_a  # op(A) is upper triangular
    if reverse:
        b, x = b[::-1, ::-1], x[::-1, ::-1]
    b = np.ascontiguousarray(b)
    s = x + x.T.conj()
    name = "hegst" if s.dtype.kind == "c" else "sygst"
    (fn,) = scipy_lapack.get_lapack_funcs((name,), (s, b))
    c, info = fn(s.T, b.T, itype=1, lower=0, overwrite_a=1)
    if info != 0:
        raise ValueError(f"congruence_solve: LAPACK {name} failed (info={info})")
    r = c.T  # the result's lower triangle (the memory of s)
    n = r.shape[-1]
    if reverse:  # R = J R_J J, its upper triangle from R_J's lower one
        out = np.where(~np.tri(n, n, -1, dtype=bool), r[::-1, ::-1], r.T.conj()[::-1, ::-1])
    else:
        out = np.where(np.tri(n, n, 0, dtype=bool), r, r.T.conj())
    out *= np.asarray(0.5, out.dtype)
    return out


@_prefers_fallback
def _congruence_impl(a, x, *, lower, transpose_a, conjugate_a, xp=np):
    if xp is not np:  # M S M^H with M = op(A)^-1, by two solves
        conjugate_a = conjugate_a and _xp_is_complex(xp, a)
        op_a = _xp_explicit_op(xp, a, lower, transpose_a, conjugate_a, False)
        s = (x + xp.conj(xp.matrix_transpose(x))) / 2
        half = xp.linalg.solve(op_a, s)
        whole = xp.linalg.solve(op_a, xp.conj(xp.matrix_transpose(half)))
        return (whole + xp.conj(xp.matrix_transpose(whole))) / 2
    a, x = np.asarray(a), np.asarray(x)
    conjugate_a = conjugate_a and a.dtype.kind == "c"
    if a.ndim == 2:
        return _congruence_matrix(a, x, lower=lower, transpose_a=transpose_a,
                                  conjugate_a=conjugate_a)
    params = dict(left_side=True, lower=lower, transpose_a=transpose_a,
                  conjugate_a=conjugate_a, unit_diagonal=False)
    half = _triangular_solve_stack(a, _hermitian_part(x), **params)      # op(A)^-1 S
    whole = _triangular_solve_stack(a, np.ascontiguousarray(_swap(half).conj()), **params)
    return _hermitian_part(whole)


def _congruence_jvp(primals, tangents, **params):
    (a, x), (ta, tx) = primals, tangents
    y = congruence_solve_p.bind(a, x, **params)
    tangent: Any = _zero_tangent(y)
    if type(tx) is not Zero:
        tangent = congruence_solve_p.bind(a, tx, **params)
    if type(ta) is not Zero:
        # Y = M S M^H with M = op(A)^-1, dM = -M op(dA) M: dY = -(W + W^H), W = M op(dA) Y
        solve = dict(params, left_side=True, unit_diagonal=False)
        w = triangular_solve_p.bind(a, triangular_matmul_p.bind(
            _triangle_read(ta, params["lower"], False), y, **solve), **solve)
        tangent = add_tangents(tangent, neg(add(w, _H(w))))
    return y, tangent


def _congruence_transpose(ct, a, x, **params):
    if is_undefined_primal(a):
        raise TypeError("congruence_solve: the matrix a is not a linear argument (the map "
                        "is linear in x only)")
    return [None, congruence_solve_p.bind(a, ct, **dict(params,
                                                       transpose_a=not params["transpose_a"]))]


congruence_solve_p = _primitive("congruence_solve", _congruence_impl, _congruence_aval)
congruence_solve_p.jvp = _congruence_jvp
congruence_solve_p.transpose = _congruence_transpose
congruence_solve_p.batch = _front_batch(congruence_solve_p)
congruence_solve_p.linear = True  # in x


def congruence_solve(a: Any, x: Any, lower: bool = False, transpose_a: bool = False,
                     conjugate_a: bool = False) -> Any:
    """op(A)^-1 S op(A)^-H with S = (X + X^H) / 2, for a triangular A (LAPACK ``sygst``).

    A functrans extension: the congruence that carries a Hermitian matrix into the basis
    of a triangular factor (L^-1 S L^-H for a Cholesky factor L), in one LAPACK call
    instead of two triangular solves. Linear in `x`; its transpose is itself with
    `transpose_a` flipped. A is read from its lower (`lower`) or upper triangle.
    """
    params = dict(lower=bool(lower), transpose_a=bool(transpose_a),
                  conjugate_a=bool(conjugate_a) and _is_complex(a))
    return _bind_checked(congruence_solve_p, a, x, **params)


# ------------------------------------------------------------------ cholesky

def _cholesky_aval(x):
    _check_matrix("cholesky", "x", x, square=True)
    return ShapedArray(x.shape, x.dtype)


def _cholesky_matrix(x: np.ndarray) -> np.ndarray:
    """The lower factor of one matrix (LAPACK potrf); NaN if it is not positive definite.
    potrf on the Fortran view of x (x^T, upper triangle) gives U with U^H U = conj(A),
    and L = U^T: A = L L^H, from x's lower triangle alone."""
    (potrf,) = scipy_lapack.get_lapack_funcs(("potrf",), (x,))
    c, info = potrf(x.T, lower=0, clean=1, overwrite_a=0)
    if info > 0:
        return np.full(x.shape, np.nan, x.dtype)
    return c.T


@_prefers_fallback
def _cholesky_impl(x, *, xp=np):
    if xp is not np:  # from the lower triangle alone, as LAPACK
        return xp.linalg.cholesky(_xp_hermitian_from_triangle(xp, x, True))
    x = np.asarray(x)
    if x.ndim == 2:
        return _cholesky_matrix(x)
    (out,) = _or_nan_where_failed(lambda m: [np.linalg.cholesky(m)], x,
                                  [_cholesky_aval(get_aval(x))])
    return out


def _cholesky_jvp(primals, tangents):
    (x,), (tx,) = primals, tangents
    factor = cholesky_p.bind(x)
    if type(tx) is Zero:
        return factor, _zero_tangent(factor)
    n = get_aval(x).shape[-1]
    # the lower triangle of the tangent, read as Hermitian: S' = herm(2 tril(x', -1) + diag)
    lower_twice = _weighted(tx, _triangle_weights(n, True, 2.0, 1.0))
    inner = congruence_solve_p.bind(factor, lower_twice, lower=True, transpose_a=False,
                                    conjugate_a=False)                     # L^-1 S' L^-H
    phi = _weighted(inner, _triangle_weights(n, True, 1.0, 0.5))
    tangent = triangular_matmul_p.bind(factor, phi, left_side=True, lower=True,
                                       transpose_a=False, conjugate_a=False,
                                       unit_diagonal=False)                 # L Phi(...)
    return factor, tangent


cholesky_p = _primitive("cholesky", _cholesky_impl, _cholesky_aval)
cholesky_p.jvp = _cholesky_jvp
cholesky_p.batch = _front_batch(cholesky_p)


def cholesky(x: Any, *, symmetrize_input: bool = True) -> Any:
    """The lower Cholesky factor L of Hermitian positive-definite matrices, A = L L^H
    (as ``jax.lax.linalg.cholesky``).

    With `symmetrize_input`, A = (x + x^H) / 2; otherwise only the lower triangle of `x`
    is read. Where A is not positive definite the factor is NaN (no exception), as JAX.
    """
    if symmetrize_input:
        _cholesky_aval(get_aval(x))
        x = symmetrize(x)
    return _bind_checked(cholesky_p, x)


# ------------------------------------------------------------------ LU

def _lu_aval(x):
    _check_matrix("lu", "x", x)
    m, n = x.shape[-2:]
    batch = x.shape[:-2]
    return [ShapedArray(x.shape, x.dtype), ShapedArray(batch + (min(m, n),), np.int32),
            ShapedArray(batch + (m,), np.int32)]


def _pivots_to_permutation(pivots: np.ndarray, size: int) -> np.ndarray:
    """The permutation that LAPACK's row swaps (row i with row pivots[i], in order)
    make of 0..size-1. The swaps are sequential: a loop over them, for the whole
    stack at once."""
    batch, k = pivots.shape[:-1], pivots.shape[-1]
    flat = pivots.reshape(-1, k)
    perm = np.tile(np.arange(size, dtype=np.int32), (flat.shape[0], 1))
    if flat.shape[0] == 1:  # one matrix: swaps in a Python list beat array indexing
        order = list(range(size))
        for i, j in enumerate(flat[0].tolist()):
            order[i], order[j] = order[j], order[i]
        perm[0] = order
    else:
        rows = np.arange(flat.shape[0])
        for i in range(k):
            j = flat[:, i]
            at_i = perm[:, i].copy()
            perm[:, i] = perm[rows, j]
            perm[rows, j] = at_i
    return perm.reshape(batch + (size,))


def _permutation_to_pivots(perm: np.ndarray, k: int) -> np.ndarray:
    """The row swaps (LAPACK pivots) that build `perm`: swap i brings perm[i] to row i."""
    batch, size = perm.shape[:-1], perm.shape[-1]
    flat = perm.reshape(-1, size)
    count = flat.shape[0]
    rows = np.arange(count)
    current = np.tile(np.arange(size), (count, 1))   # current[r, i]: value at row i
    where = current.copy()                           # where[r, v]: row holding value v
    pivots = np.empty((count, k), np.int32)
    for i in range(k):
        j = where[rows, flat[:, i]]
        pivots[:, i] = j
        value_i, value_j = current[:, i].copy(), current[rows, j]
        current[:, i], current[rows, j] = value_j, value_i
        where[rows, value_j], where[rows, value_i] = i, j
    return pivots.reshape(batch + (k,))


def _lu_impl(x):
    x = np.asarray(x)
    m, n = x.shape[-2:]
    k = min(m, n)
    if x.size == 0:
        avals = _lu_aval(get_aval(x))
        perm = np.broadcast_to(np.arange(m, dtype=np.int32), avals[2].shape).copy()
        return [x.copy(), np.zeros(avals[1].shape, np.int32), perm]
    if x.ndim == 2:
        (getrf,) = scipy_lapack.get_lapack_funcs(("getrf",), (x,))
        packed, pivots, _ = getrf(x)  # info > 0: U is exactly singular, still returned
        pivots = pivots.astype(np.int32)
        return [np.ascontiguousarray(packed), pivots, _pivots_to_permutation(pivots, m)]
    # a stack: SciPy's LU loops over it in C; it returns A = P L U with P as indices
    p, lower, upper = scipy.linalg.lu(x, p_indices=True, check_finite=False)
    perm = np.argsort(p, axis=-1).astype(np.int32)   # rows so that A[perm] = L U
    if m >= n:
        packed = np.tril(lower, -1)
        packed[..., :n, :] += upper
    else:
        packed = np.array(upper)
        packed[..., :, :m] += np.tril(lower, -1)
    return [packed, _permutation_to_pivots(perm, k), perm]


def _permute_rows(x: Any, perm: Any) -> Any:
    """x[..., perm, :] for a permutation `perm` ([..., m]) of the rows of `x`."""
    aval = get_aval(x)
    nd = aval.ndim
    index = broadcast_in_dim(perm, aval.shape, tuple(range(nd - 1)))
    return take_along_axis(x, index, nd - 2, unique_indices=True)


def _unpermute_rows(x: Any, perm: Any) -> Any:
    """y with y[..., perm, :] = x: the inverse of `_permute_rows`."""
    aval = get_aval(x)
    nd = aval.ndim
    index = broadcast_in_dim(perm, aval.shape, tuple(range(nd - 1)))
    return scatter_add_along_axis(x, index, nd - 2, aval.shape, unique_indices=True)


def _lu_factors(packed: Any) -> tuple[Any, Any]:
    """L (m x m, unit lower) and U (n x n, upper) from LAPACK's packed LU of an m x n
    matrix; the parts beyond min(m, n) are completed by the identity."""
    aval = get_aval(packed)
    m, n = aval.shape[-2:]
    k = min(m, n)
    nd = aval.ndim
    zero = np.zeros((), aval.dtype)
    no_pad = [(0, 0, 0)] * (nd - 2)
    l_part = _tril(slice_in_dim(packed, 0, k, axis=nd - 1), -1)
    lower = add(pad(l_part, zero, no_pad + [(0, 0, 0), (0, m - k, 0)]),
                _constant(np.eye(m), aval.shape[:-2] + (m, m), aval.dtype))
    u_part = _triu(slice_in_dim(packed, 0, k, axis=nd - 2))
    extra = np.zeros((n, n))
    extra[k:, k:] = np.eye(n - k)
    upper = add(pad(u_part, zero, no_pad + [(0, n - k, 0), (0, 0, 0)]),
                _constant(extra, aval.shape[:-2] + (n, n), aval.dtype))
    return lower, upper


def _lu_jvp(primals, tangents):
    (x,), (tx,) = primals, tangents
    packed, pivots, perm = lu_p.bind(x)
    zeros = [_zero_tangent(pivots), _zero_tangent(perm)]
    if type(tx) is Zero:
        return [packed, pivots, perm], [_zero_tangent(packed)] + zeros
    lower, upper = _lu_factors(packed)
    unit_lower = dict(left_side=True, lower=True, transpose_a=False, conjugate_a=False,
                      unit_diagonal=True)
    on_right = dict(left_side=False, lower=False, transpose_a=False, conjugate_a=False,
                    unit_diagonal=False)
    inner = triangular_solve_p.bind(lower, _permute_rows(tx, perm), **unit_lower)
    inner = triangular_solve_p.bind(upper, inner, **on_right)         # L^-1 P A' U^-1
    l_dot = triangular_matmul_p.bind(lower, _tril(inner, -1), **unit_lower)
    u_dot = triangular_matmul_p.bind(upper, _triu(inner), **on_right)
    return [packed, pivots, perm], [add(l_dot, u_dot)] + zeros


lu_p = _primitive("lu", _lu_impl, _lu_aval, multiple_results=True)
lu_p.jvp = _lu_jvp
lu_p.batch = _front_batch(lu_p)


def lu(x: Any) -> tuple[Any, Any, Any]:
    """LU decomposition with partial pivoting, P A = L U (as ``jax.lax.linalg.lu``).

    Returns ``(lu, pivots, permutation)``: L below the diagonal of `lu` (its unit
    diagonal implicit) and U on and above it; the int32 row swaps of LAPACK (row i with
    row ``pivots[i]``, 0-based); and the permutation they make, ``A[permutation] = L U``.
    A singular matrix still factors (U has a zero on its diagonal).
    """
    packed, pivots, perm = _bind_checked(lu_p, x)
    return packed, pivots, perm


def _lu_pivots_aval(pivots, *, permutation_size):
    if pivots.ndim < 1 or pivots.dtype != np.int32:
        raise TypeError(f"lu_pivots_to_permutation: pivots must be int32 with at least one "
                        f"axis, got {pivots.str_short()}")
    if permutation_size < pivots.shape[-1]:
        raise TypeError(f"lu_pivots_to_permutation: permutation_size {permutation_size} is "
                        f"smaller than the number of pivots {pivots.shape[-1]}")
    return ShapedArray(pivots.shape[:-1] + (permutation_size,), np.int32)


def _lu_pivots_impl(pivots, *, permutation_size):
    pivots = np.asarray(pivots)
    if pivots.size and (pivots.min() < 0 or pivots.max() >= permutation_size):
        raise ValueError(f"lu_pivots_to_permutation: pivots must lie in [0, "
                         f"{permutation_size}), got values from {pivots.min()} to "
                         f"{pivots.max()}")
    return _pivots_to_permutation(pivots, permutation_size)


def _lu_pivots_batch(args, dims, *, permutation_size):
    (pivots,), (d,) = args, dims
    pivots = bdim_at_front(pivots, d, get_aval(pivots).shape[d])
    return lu_pivots_to_permutation_p.bind(pivots, permutation_size=permutation_size), 0


lu_pivots_to_permutation_p = _primitive("lu_pivots_to_permutation", _lu_pivots_impl,
                                        _lu_pivots_aval)
defjvp_zero(lu_pivots_to_permutation_p)
lu_pivots_to_permutation_p.batch = _lu_pivots_batch


def lu_pivots_to_permutation(pivots: Any, permutation_size: int) -> Any:
    """The permutation (int32, [..., permutation_size]) that LAPACK's row swaps `pivots`
    make (as ``jax.lax.linalg.lu_pivots_to_permutation``)."""
    return _bind_checked(lu_pivots_to_permutation_p, pivots,
                         permutation_size=int(permutation_size))


def lu_solve(packed: Any, perm: Any, b: Any, trans: int = 0) -> Any:
    """Solve A X = B (``trans=0``), A^T X = B (1) or A^H X = B (2) from ``lu(A)``'s
    packed factors and permutation; `b` is [..., n, k] with the batch axes of `packed`.
    Two triangular solves: the factorisation is reused, not recomputed."""
    if trans not in (0, 1, 2):
        raise ValueError(f"lu_solve: trans must be 0 (A X = B), 1 (A^T X = B) or 2 "
                         f"(A^H X = B), got {trans!r}")
    lower = dict(left_side=True, lower=True, unit_diagonal=True)
    upper = dict(left_side=True, lower=False, unit_diagonal=False)
    if trans == 0:
        x = triangular_solve(packed, _permute_rows(b, perm), **lower)
        return triangular_solve(packed, x, **upper)
    conjugate = trans == 2
    x = triangular_solve(packed, b, transpose_a=True, conjugate_a=conjugate, **upper)
    x = triangular_solve(packed, x, transpose_a=True, conjugate_a=conjugate, **lower)
    return _unpermute_rows(x, perm)


# ------------------------------------------------------------------ QR

def _qr_aval(x, *, full_matrices):
    _check_matrix("qr", "x", x)
    m, n = x.shape[-2:]
    k = m if full_matrices else min(m, n)
    batch = x.shape[:-2]
    return [ShapedArray(batch + (m, k), x.dtype), ShapedArray(batch + (k, n), x.dtype)]


@_prefers_fallback
def _qr_impl(x, *, full_matrices, xp=np):
    if xp is not np:
        q, r = xp.linalg.qr(x, mode="complete" if full_matrices else "reduced")
        return [q, r]
    q, r = np.linalg.qr(np.asarray(x), mode="complete" if full_matrices else "reduced")
    return [q, r]


def _qr_tall_tangent(q: Any, r: Any, tx: Any) -> tuple[Any, Any]:
    """Tangents of the reduced QR of a tall (m >= n, full column rank) matrix (Walter
    and Lehmann): with C = Q^H A' R^-1, Q' = Q (Omega - C) + A' R^-1 and
    R' = (C - Omega) R, where Omega is the skew-Hermitian part that keeps R upper
    triangular with a real diagonal."""
    right_upper = dict(left_side=False, lower=False, transpose_a=False, conjugate_a=False,
                       unit_diagonal=False)
    tx_rinv = triangular_solve_p.bind(r, tx, **right_upper)
    c = _matmul(_H(q), tx_rinv)
    strict = _tril(c, -1)
    omega = sub(strict, _H(strict))
    if _is_complex(c):  # R's diagonal stays real: Omega's diagonal is i Im(diag C)
        n = get_aval(c).shape[-1]
        omega = add(omega, _weighted(sub(c, _as_dtype_of(real(c), c)), np.eye(n)))
    q_dot = add(_matmul(q, sub(omega, c)), tx_rinv)
    r_dot = triangular_matmul_p.bind(r, sub(c, omega), **right_upper)
    return q_dot, r_dot


def _complement_tangent(basis: Any, basis_dot: Any, complement: Any) -> Any:
    """Tangent of the extra columns of a complete unitary [Q1 Q2]: Q2' = -Q1 Q1'^H Q2,
    which keeps it unitary and does not turn Q2 within its own span."""
    return neg(_matmul(basis, _matmul(_H(basis_dot), complement)))


def _qr_jvp(primals, tangents, *, full_matrices):
    (x,), (tx,) = primals, tangents
    q, r = qr_p.bind(x, full_matrices=full_matrices)
    if type(tx) is Zero:
        return [q, r], [_zero_tangent(q), _zero_tangent(r)]
    m, n = get_aval(x).shape[-2:]
    nd = _ndim(x)
    if m < n:  # A = [A1 A2], A1 square: Q, R1 are A1's; R2 = Q^H A2
        q_dot, r1_dot = _qr_tall_tangent(q, slice_in_dim(r, 0, m, axis=nd - 1),
                                         slice_in_dim(tx, 0, m, axis=nd - 1))
        a2 = slice_in_dim(x, m, n, axis=nd - 1)
        r2_dot = add(_matmul(_H(q_dot), a2), _matmul(_H(q), slice_in_dim(tx, m, n,
                                                                          axis=nd - 1)))
        return [q, r], [q_dot, concatenate([r1_dot, r2_dot], nd - 1)]
    if not full_matrices or m == n:
        q_dot, r_dot = _qr_tall_tangent(q, r, tx)
        return [q, r], [q_dot, r_dot]
    q1 = slice_in_dim(q, 0, n, axis=nd - 1)
    q1_dot, r1_dot = _qr_tall_tangent(q1, slice_in_dim(r, 0, n, axis=nd - 2), tx)
    q2_dot = _complement_tangent(q1, q1_dot, slice_in_dim(q, n, m, axis=nd - 1))
    zero = np.zeros((), get_aval(r).dtype)
    r_dot = pad(r1_dot, zero, [(0, 0, 0)] * (nd - 2) + [(0, m - n, 0), (0, 0, 0)])
    return [q, r], [concatenate([q1_dot, q2_dot], nd - 1), r_dot]


qr_p = _primitive("qr", _qr_impl, _qr_aval, multiple_results=True)
qr_p.jvp = _qr_jvp
qr_p.batch = _front_batch(qr_p)


def qr(x: Any, *, full_matrices: bool = True) -> tuple[Any, Any]:
    """QR decomposition A = Q R (as ``jax.lax.linalg.qr``): Q [..., m, m] unitary and R
    [..., m, n] upper triangular, or Q [..., m, k] and R [..., k, n] (k = min(m, n))
    with ``full_matrices=False``. Derivatives need the leading min(m, n) columns of A
    to be linearly independent."""
    q, r = _bind_checked(qr_p, x, full_matrices=bool(full_matrices))
    return q, r


# ------------------------------------------------------------------ eigh

def _eigh_aval(x, *, lower, sort_eigenvalues):
    _check_matrix("eigh", "x", x, square=True)
    return [ShapedArray(x.shape, x.dtype), ShapedArray(x.shape[:-1], _real_dtype(x.dtype))]


@_prefers_fallback
def _eigh_impl(x, *, lower, sort_eigenvalues, xp=np):
    if xp is not np:
        w, v = xp.linalg.eigh(_xp_hermitian_from_triangle(xp, x, lower))
        return [v, w]
    x = np.asarray(x)

    def compute(m: np.ndarray) -> list[np.ndarray]:
        w, v = np.linalg.eigh(m, UPLO="L" if lower else "U")
        return [v, w]
    return _or_nan_where_failed(compute, x, _eigh_aval(get_aval(x), lower=lower,
                                                       sort_eigenvalues=sort_eigenvalues))


def _eigh_jvp(primals, tangents, *, lower, sort_eigenvalues):
    (x,), (tx,) = primals, tangents
    v, w = eigh_p.bind(x, lower=lower, sort_eigenvalues=sort_eigenvalues)
    if type(tx) is Zero:
        return [v, w], [_zero_tangent(v), _zero_tangent(w)]
    n = get_aval(x).shape[-1]
    # the tangent of the triangle eigh reads, as a Hermitian matrix: herm(T)
    t = _weighted(tx, _triangle_weights(n, lower, 2.0, 1.0))
    rotated = _matmul(_H(v), _matmul(t, v))
    rotated = mul(add(rotated, _H(rotated)), full(get_aval(rotated).shape, 0.5,
                                                  get_aval(rotated).dtype))  # V^H S' V
    w_dot = _real(_diagonal(rotated))
    gaps = _as_dtype_of(_inverse_gaps(w), v)
    v_dot = _matmul(v, mul(gaps, rotated))
    return [v, w], [v_dot, w_dot]


eigh_p = _primitive("eigh", _eigh_impl, _eigh_aval, multiple_results=True)
eigh_p.jvp = _eigh_jvp
eigh_p.batch = _front_batch(eigh_p)


def eigh(x: Any, *, lower: bool = True, symmetrize_input: bool = True,
         sort_eigenvalues: bool = True) -> tuple[Any, Any]:
    """Eigendecomposition of Hermitian (real symmetric) matrices (as
    ``jax.lax.linalg.eigh``): returns ``(v, w)``, the eigenvectors as the columns of `v`
    and the real eigenvalues `w`, ascending.

    With `symmetrize_input`, the matrix is (x + x^H) / 2; otherwise only its `lower` (or
    upper) triangle is read. Eigenvectors of repeated eigenvalues are any orthonormal
    basis of their eigenspace; see the module notes for what their derivatives mean.
    """
    if symmetrize_input:
        _check_matrix("eigh", "x", get_aval(x), square=True)
        x = symmetrize(x)
    v, w = _bind_checked(eigh_p, x, lower=bool(lower), sort_eigenvalues=bool(sort_eigenvalues))
    return v, w


# ------------------------------------------------------------------ SVD

def _svd_aval(x, *, full_matrices, compute_uv):
    _check_matrix("svd", "x", x)
    m, n = x.shape[-2:]
    k = min(m, n)
    batch = x.shape[:-2]
    s = ShapedArray(batch + (k,), _real_dtype(x.dtype))
    if not compute_uv:
        return [s]
    u_cols, v_rows = (m, n) if full_matrices else (k, k)
    return [s, ShapedArray(batch + (m, u_cols), x.dtype),
            ShapedArray(batch + (v_rows, n), x.dtype)]


@_prefers_fallback
def _svd_impl(x, *, full_matrices, compute_uv, xp=np):
    if xp is not np:
        if not compute_uv:
            return [xp.linalg.svdvals(x)]
        u, s, vh = xp.linalg.svd(x, full_matrices=full_matrices)
        return [s, u, vh]
    x = np.asarray(x)
    avals = _svd_aval(get_aval(x), full_matrices=full_matrices, compute_uv=compute_uv)

    def compute(m: np.ndarray) -> list[np.ndarray]:
        if not compute_uv:
            return [np.linalg.svd(m, compute_uv=False)]
        u, s, vh = np.linalg.svd(m, full_matrices=full_matrices)
        return [s, u, vh]
    return _or_nan_where_failed(compute, x, avals)


def _svd_jvp(primals, tangents, *, full_matrices, compute_uv):
    (x,), (tx,) = primals, tangents
    # the vectors are needed for the tangent even when only the values are returned
    outs = svd_p.bind(x, full_matrices=full_matrices and compute_uv, compute_uv=True)
    s, u_full, vh_full = outs
    primal_out = outs if compute_uv else [s]
    if type(tx) is Zero:
        return primal_out, [_zero_tangent(o) for o in primal_out]
    m, n = get_aval(x).shape[-2:]
    k = min(m, n)
    nd = _ndim(x)
    u = slice_in_dim(u_full, 0, k, axis=nd - 1)
    vh = slice_in_dim(vh_full, 0, k, axis=nd - 2)
    v = _H(vh)
    ds_mat = _matmul(_H(u), _matmul(tx, v))                 # U^H A' V  (k x k)
    s_dot = _real(_diagonal(ds_mat))
    if not compute_uv:
        return primal_out, [s_dot]
    s_c = _as_dtype_of(s, x)
    gaps = _inverse_gaps(mul(s, s))                          # 1 / (s_j^2 - s_i^2)
    gaps = _as_dtype_of(gaps, x)
    ds_s = _scale_columns(ds_mat, s_c)                       # dS diag(s)
    s_ds = _scale_rows(ds_mat, s_c)                          # diag(s) dS
    s_inverse = _safe_reciprocal(s)
    u_dot = _matmul(u, mul(gaps, add(ds_s, _H(ds_s))))
    if _is_complex(x):  # the phase shared by u_i and v_i: its imaginary diagonal part
        half_skew = mul(sub(ds_mat, _H(ds_mat)), full(get_aval(ds_mat).shape, 0.5,
                                                      get_aval(ds_mat).dtype))
        u_dot = add(u_dot, _matmul(u, _scale_columns(_weighted(half_skew, np.eye(k)),
                                                     _as_dtype_of(s_inverse, x))))
    v_dot = _matmul(v, mul(gaps, add(s_ds, _H(s_ds))))
    s_inverse_c = _as_dtype_of(s_inverse, x)
    if m > n:  # the part of A' V outside the span of U: (A' V - U dS) / s
        outside = sub(_matmul(tx, v), _matmul(u, ds_mat))
        u_dot = add(u_dot, _scale_columns(outside, s_inverse_c))
    if n > m:
        outside = sub(_matmul(_H(tx), u), _matmul(v, _H(ds_mat)))
        v_dot = add(v_dot, _scale_columns(outside, s_inverse_c))
    if full_matrices and m > n:
        u_rest = slice_in_dim(u_full, k, m, axis=nd - 1)
        u_dot = concatenate([u_dot, _complement_tangent(u, u_dot, u_rest)], nd - 1)
    if full_matrices and n > m:
        v_rest = _H(slice_in_dim(vh_full, k, n, axis=nd - 2))
        v_dot = concatenate([v_dot, _complement_tangent(v, v_dot, v_rest)], nd - 1)
    return primal_out, [s_dot, u_dot, _H(v_dot)]


def _safe_reciprocal(s: Any) -> Any:
    """1 / s, and 0 where s is 0 (see the module notes)."""
    aval = get_aval(s)
    nonzero = gt(s, full(aval.shape, 0, aval.dtype))
    one = full(aval.shape, 1, aval.dtype)
    return select_n(nonzero, full(aval.shape, 0, aval.dtype),
                    div(one, select_n(nonzero, one, s)))


svd_p = _primitive("svd", _svd_impl, _svd_aval, multiple_results=True)
svd_p.jvp = _svd_jvp
svd_p.batch = _front_batch(svd_p)


def svd(x: Any, *, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """Singular value decomposition A = U diag(s) V^H (as ``jax.lax.linalg.svd``):
    ``(u, s, vh)``, or `s` alone without `compute_uv`; `s` is real and descending.
    With `full_matrices`, `u` is [..., m, m] and `vh` [..., n, n], else [..., m, k] and
    [..., k, n] (k = min(m, n))."""
    outs = _bind_checked(svd_p, x, full_matrices=bool(full_matrices),
                         compute_uv=bool(compute_uv))
    if not compute_uv:
        return outs[0]
    s, u, vh = outs
    return u, s, vh


# ------------------------------------------------------------------ eig

def _eig_aval(x, *, compute_eigenvectors):
    _check_matrix("eig", "x", x, square=True)
    dtype = _complex_dtype(x.dtype)
    w = ShapedArray(x.shape[:-1], dtype)
    return [w, ShapedArray(x.shape, dtype)] if compute_eigenvectors else [w]


def _eig_impl(x, *, compute_eigenvectors):
    x = np.asarray(x)
    avals = _eig_aval(get_aval(x), compute_eigenvectors=compute_eigenvectors)

    def compute(m: np.ndarray) -> Sequence[np.ndarray]:
        return np.linalg.eig(m) if compute_eigenvectors else [np.linalg.eigvals(m)]
    return _or_nan_where_failed(compute, x, avals)


def _eig_jvp(primals, tangents, *, compute_eigenvectors):
    (x,), (tx,) = primals, tangents
    w, v = eig_p.bind(x, compute_eigenvectors=True)
    primal_out = [w, v] if compute_eigenvectors else [w]
    if type(tx) is Zero:
        return primal_out, [_zero_tangent(o) for o in primal_out]
    packed, _, perm = lu_p.bind(v)
    rotated = lu_solve(packed, perm, _matmul(_as_dtype_of(tx, v), v))   # V^-1 A' V
    w_dot = _diagonal(rotated)
    if not compute_eigenvectors:
        return primal_out, [w_dot]
    u_dot = _matmul(v, mul(_inverse_gaps(w), rotated))
    # keep LAPACK's normalisation of each column: unit 2-norm, largest component real
    nd = _ndim(v)
    stretch = reduce_sum(_real(mul(_conj(v), u_dot)), (nd - 2,))        # Re(v^H u')
    largest = argmax(abs(v), nd - 2, np.int32)
    index = broadcast_in_dim(largest, get_aval(v).shape[:-2] + (1, get_aval(v).shape[-1]),
                             tuple(range(nd - 2)) + (nd - 1,))
    pick = dict(axis=nd - 2, unique_indices=True)
    turn = imag(div(take_along_axis(u_dot, index, **pick), take_along_axis(v, index, **pick)))
    turn = reshape(turn, get_aval(stretch).shape)                       # Im(u'_p / v_p)
    v_dot = sub(u_dot, _scale_columns(v, complex(stretch, turn)))
    return primal_out, [w_dot, v_dot]


eig_p = _primitive("eig", _eig_impl, _eig_aval, multiple_results=True)
eig_p.jvp = _eig_jvp
eig_p.batch = _front_batch(eig_p)


def _left_eigenvectors(v: Any) -> Any:
    """LAPACK's left eigenvectors from the right ones: the columns of V^-H, scaled to
    unit 2-norm with their largest component real and positive."""
    packed, _, perm = lu_p.bind(v)
    aval = get_aval(v)
    nd = aval.ndim
    identity = _constant(np.eye(aval.shape[-1]), aval.shape, aval.dtype)
    u = _H(lu_solve(packed, perm, identity))
    norms = reduce_sum(_real(mul(_conj(u), u)), (nd - 2,))
    norm_aval = get_aval(norms)
    inverse_norms = div(full(norm_aval.shape, 1, norm_aval.dtype), sqrt(norms))
    u = _scale_columns(u, _as_dtype_of(inverse_norms, u))
    largest = argmax(abs(u), nd - 2, np.int32)
    index = broadcast_in_dim(largest, aval.shape[:-2] + (1, aval.shape[-1]),
                             tuple(range(nd - 2)) + (nd - 1,))
    top = reshape(take_along_axis(u, index, axis=nd - 2, unique_indices=True),
                  aval.shape[:-1])
    phase = div(_conj(top), _as_dtype_of(abs(top), top))
    return _scale_columns(u, phase)


def eig(x: Any, *, compute_left_eigenvectors: bool = True,
        compute_right_eigenvectors: bool = True) -> list[Any]:
    """Eigendecomposition of general square matrices (as ``jax.lax.linalg.eig``):
    ``[w, vl, vr]``, the complex eigenvalues, then the left eigenvectors (vl[:, i]^H A =
    w_i vl[:, i]^H) and the right ones (A vr[:, i] = w_i vr[:, i]) when asked for; each
    eigenvector has unit 2-norm and its largest component real, as LAPACK's.

    The left eigenvectors are computed from the right ones (the columns of V^-H),
    which is accurate where the eigenvector matrix is well conditioned.
    """
    vectors = compute_left_eigenvectors or compute_right_eigenvectors
    outs = _bind_checked(eig_p, x, compute_eigenvectors=bool(vectors))
    result = [outs[0]]
    if compute_left_eigenvectors:
        result.append(_left_eigenvectors(outs[1]))
    if compute_right_eigenvectors:
        result.append(outs[1])
    return result


# ------------------------------------------------------------------ matrix exponential

def _square_aval(name: str) -> Callable[..., ShapedArray]:
    def rule(x):
        _check_matrix(name, "x", x, square=True)
        return ShapedArray(x.shape, x.dtype)
    return rule


def _expm_impl(x):
    x = np.asarray(x)
    return np.asarray(scipy.linalg.expm(x), x.dtype)


def _expm_jvp(primals, tangents):
    (x,), (tx,) = primals, tangents
    out = expm_p.bind(x)
    if type(tx) is Zero:
        return out, _zero_tangent(out)
    return out, expm_frechet_p.bind(x, tx)


expm_p = _primitive("expm", _expm_impl, _square_aval("expm"))
expm_p.jvp = _expm_jvp
expm_p.batch = _front_batch(expm_p)


def _expm_frechet_aval(a, e):
    _check_matrix("expm_frechet", "a", a, square=True)
    _check_matrix("expm_frechet", "e", e, square=True)
    _check_same("expm_frechet", ("a", a), ("e", e))
    if a.shape != e.shape:
        raise TypeError(f"expm_frechet: a {a.str_short()} and e {e.str_short()} must have "
                        "the same shape")
    return ShapedArray(e.shape, e.dtype)


def _one_norms(x: np.ndarray) -> np.ndarray:
    return np.abs(x).sum(axis=-2).max(axis=-1, initial=0.0)


def _expm_frechet_impl(a, e):
    """L(A, E), the upper right block of expm([[A, E], [0, A]]). L is linear in E, so E
    is scaled to the size of A first: the block matrix then needs no more squarings
    than A does, and E loses no accuracy to them."""
    a, e = np.asarray(a), np.asarray(e)
    n = a.shape[-1]
    e_norms = _one_norms(e)
    scale = np.where(e_norms > 0, np.maximum(_one_norms(a), 1.0) / np.where(e_norms > 0,
                                                                           e_norms, 1.0), 1.0)
    scale = scale[..., None, None]
    block = np.zeros(a.shape[:-2] + (2 * n, 2 * n), a.dtype)
    block[..., :n, :n] = a
    block[..., n:, n:] = a
    block[..., :n, n:] = e * scale
    corner = scipy.linalg.expm(block)[..., :n, n:] / scale
    return np.ascontiguousarray(corner, dtype=e.dtype)


def _upper_block(a: Any, e: Any) -> Any:
    """[[A, E], [0, A]]."""
    nd = _ndim(a)
    n = get_aval(a).shape[-1]
    zero = np.zeros((), get_aval(a).dtype)
    top = concatenate([a, e], nd - 1)
    bottom = pad(a, zero, [(0, 0, 0)] * (nd - 2) + [(0, 0, 0), (n, 0, 0)])
    return concatenate([top, bottom], nd - 2)


def _twice_on_diagonal(f: Any) -> Any:
    """[[F, 0], [0, F]] (linear in F)."""
    nd = _ndim(f)
    n = get_aval(f).shape[-1]
    zero = np.zeros((), get_aval(f).dtype)
    lead = [(0, 0, 0)] * (nd - 2)
    return add(pad(f, zero, lead + [(0, n, 0), (0, n, 0)]),
               pad(f, zero, lead + [(n, 0, 0), (n, 0, 0)]))


def _expm_frechet_jvp(primals, tangents):
    (a, e), (ta, te) = primals, tangents
    out = expm_frechet_p.bind(a, e)
    tangent: Any = _zero_tangent(out)
    if type(te) is not Zero:
        tangent = expm_frechet_p.bind(a, te)
    if type(ta) is not Zero:
        # L(A, E) is the corner of expm([[A, E], [0, A]]); moving A moves both diagonal
        # blocks: the derivative is the corner of that block matrix's Frechet derivative
        nd, n = _ndim(a), get_aval(a).shape[-1]
        moved = expm_frechet_p.bind(_upper_block(a, e), _twice_on_diagonal(ta))
        corner = slice_in_dim(slice_in_dim(moved, 0, n, axis=nd - 2), n, 2 * n, axis=nd - 1)
        tangent = add_tangents(tangent, corner)
    return out, tangent


def _expm_frechet_transpose(ct, a, e):
    if is_undefined_primal(a):
        raise TypeError("expm_frechet: the matrix a is not a linear argument (the Frechet "
                        "derivative is linear in e only)")
    return [None, expm_frechet_p.bind(_swap_last(a), ct)]


expm_frechet_p = _primitive("expm_frechet", _expm_frechet_impl, _expm_frechet_aval)
expm_frechet_p.jvp = _expm_frechet_jvp
expm_frechet_p.transpose = _expm_frechet_transpose
expm_frechet_p.batch = _front_batch(expm_frechet_p)
expm_frechet_p.linear = True  # in e


def expm(x: Any) -> Any:
    """The matrix exponential (SciPy's Pade scaling and squaring) of the last two axes."""
    return _bind_checked(expm_p, x)


def expm_frechet(a: Any, e: Any) -> Any:
    """L(A, E), the Frechet derivative of expm at A in the direction E: the derivative
    of expm(A + t E) at t = 0. Linear in `e`."""
    return _bind_checked(expm_frechet_p, a, e)


# ------------------------------------------------------------------ Sylvester equation, sqrtm

def _sylvester_aval(a, b, c):
    for argname, aval in (("a", a), ("b", b)):
        _check_matrix("sylvester", argname, aval, square=True)
    _check_matrix("sylvester", "c", c)
    _check_same("sylvester", ("a", a), ("b", b), ("c", c))
    if c.shape[-2:] != (a.shape[-1], b.shape[-1]):
        raise TypeError(f"sylvester: c {c.str_short()} must be [..., m, n] for a "
                        f"{a.str_short()} ([..., m, m]) and b {b.str_short()} ([..., n, n])")
    return ShapedArray(c.shape, c.dtype)


def _sylvester_impl(a, b, c):
    a, b, c = np.asarray(a), np.asarray(b), np.asarray(c)
    if a.ndim == 2:
        return np.asarray(scipy.linalg.solve_sylvester(a, b, c), c.dtype)
    # Bartels-Stewart (two Schur forms) has no gufunc: one call per matrix, as SciPy's
    # own batching does; its O(n^3) work hides the call overhead
    out = np.empty(c.shape, c.dtype)
    for index in np.ndindex(*a.shape[:-2]):
        out[index] = scipy.linalg.solve_sylvester(a[index], b[index], c[index])
    return out


def _sylvester_jvp(primals, tangents):
    (a, b, c), (ta, tb, tc) = primals, tangents
    x = sylvester_p.bind(a, b, c)
    # A X' + X' B = C' - A' X - X B'
    rhs: Any = tc
    if type(ta) is not Zero:
        rhs = add_tangents(rhs, neg(_matmul(ta, x)))
    if type(tb) is not Zero:
        rhs = add_tangents(rhs, neg(_matmul(x, tb)))
    if type(rhs) is Zero:
        return x, _zero_tangent(x)
    return x, sylvester_p.bind(a, b, rhs)


def _sylvester_transpose(ct, a, b, c):
    if is_undefined_primal(a) or is_undefined_primal(b):
        raise TypeError("sylvester: the matrices a and b are not linear arguments (the "
                        "solution is linear in c only)")
    return [None, None, sylvester_p.bind(_swap_last(a), _swap_last(b), ct)]


sylvester_p = _primitive("sylvester", _sylvester_impl, _sylvester_aval)
sylvester_p.jvp = _sylvester_jvp
sylvester_p.transpose = _sylvester_transpose
sylvester_p.batch = _front_batch(sylvester_p)
sylvester_p.linear = True  # in c


def solve_sylvester(a: Any, b: Any, c: Any) -> Any:
    """X with A X + X B = C (Bartels-Stewart, as ``scipy.linalg.solve_sylvester``); unique
    when A and -B have no eigenvalue in common."""
    return _bind_checked(sylvester_p, a, b, c)


def _sqrtm_aval(x):
    _check_matrix("sqrtm", "x", x, square=True)
    return ShapedArray(x.shape, _complex_dtype(x.dtype))


def _sqrtm_impl(x):
    x = np.asarray(x)
    dtype = _complex_dtype(x.dtype)
    if x.ndim == 2:
        return np.asarray(scipy.linalg.sqrtm(x), dtype)
    out = np.empty(x.shape, dtype)
    for index in np.ndindex(*x.shape[:-2]):  # a Schur form per matrix, as SciPy batches
        out[index] = scipy.linalg.sqrtm(x[index])
    return out


def _sqrtm_jvp(primals, tangents):
    (x,), (tx,) = primals, tangents
    root = sqrtm_p.bind(x)
    if type(tx) is Zero:
        return root, _zero_tangent(root)
    return root, sylvester_p.bind(root, root, _as_dtype_of(tx, root))   # X X' + X' X = A'


sqrtm_p = _primitive("sqrtm", _sqrtm_impl, _sqrtm_aval)
sqrtm_p.jvp = _sqrtm_jvp
sqrtm_p.batch = _front_batch(sqrtm_p)


def sqrtm(x: Any) -> Any:
    """The principal matrix square root (Schur method), complex as in JAX:
    ``sqrtm(x) @ sqrtm(x) == x``."""
    return _bind_checked(sqrtm_p, x)
