"""``functrans.lax.linalg``: the linear-algebra primitives, as ``jax.lax.linalg``.

JAX's binders: ``cholesky``, ``triangular_solve``, ``lu``, ``lu_pivots_to_permutation``,
``qr``, ``eigh``, ``svd``, ``eig``. They do not promote: operands must be float32,
float64, complex64 or complex128 (``functrans.numpy.linalg`` converts integers), and
two-operand functions need equal dtypes and equal batch (leading) axes.

functrans adds the primitives that carry its derivatives, usable on their own:
``triangular_matmul`` (op(A) B for a triangular A, BLAS ``trmm``), ``congruence_solve``
(op(A)^-1 S op(A)^-H, LAPACK ``sygst``), ``lu_solve``, ``expm`` with its Frechet
derivative ``expm_frechet``, ``sqrtm`` and ``solve_sylvester``. How each is
differentiated, and where derivatives are finite: docs/linalg.md.
"""

from functrans.primitives.linalg import (
    cholesky,
    congruence_solve,
    eig,
    eigh,
    expm,
    expm_frechet,
    lu,
    lu_pivots_to_permutation,
    lu_solve,
    qr,
    solve_sylvester,
    sqrtm,
    svd,
    symmetrize,
    triangular_matmul,
    triangular_solve,
)

__all__ = ["cholesky", "triangular_solve", "lu", "lu_pivots_to_permutation", "qr", "eigh",
           "svd", "eig", "symmetrize", "triangular_matmul", "congruence_solve", "lu_solve",
           "expm", "expm_frechet", "sqrtm", "solve_sylvester"]


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
