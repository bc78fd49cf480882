"""Rows for the linear-solve primitive of functrans.higher_order.solves.

The matrix is an argument, so the checks differentiate through the values
``matvec`` closes over (∂x = -A⁻¹ ∂A x) as well as through b, and the batching
check maps the matrix (every jaxpr of the primitive batched) and b in turn.
``custom_root`` is built on ``custom_jvp_call`` and this primitive; it is checked
in tests/test_solves.py.
"""

from __future__ import annotations

import numpy as np

import functrans.numpy as fnp
from functrans.lax import custom_linear_solve
from tests.rules import Row


def _solve(a, b):
    return custom_linear_solve(lambda x: a @ x, b, lambda matvec, v: fnp.linalg.solve(a, v),
                               lambda vecmat, v: fnp.linalg.solve(fnp.transpose(a), v))


def _symmetric_solve(m, b):
    a = m @ fnp.transpose(m) + 3.0 * fnp.eye(3, dtype=m.dtype)
    return custom_linear_solve(lambda x: a @ x, b, lambda matvec, v: fnp.linalg.solve(a, v),
                               symmetric=True)


def _matrix_and_vector(rng, dtype):
    a = rng.standard_normal((3, 3)) + 4.0 * np.eye(3)  # well conditioned
    return a.astype(dtype), rng.standard_normal(3).astype(dtype)


ROWS = [
    Row("custom_linear_solve", _solve, _matrix_and_vector, rtol=1e-5, atol=1e-6),
    Row("custom_linear_solve_b_only", _solve, _matrix_and_vector, diff_argnums=(1,),
        linear=True),
    Row("custom_linear_solve_symmetric", _symmetric_solve,
        lambda rng, dtype: tuple(rng.standard_normal(s).astype(dtype) for s in ((3, 3), 3)),
        rtol=1e-5, atol=1e-6),
]
