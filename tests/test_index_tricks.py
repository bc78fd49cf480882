"""functrans.numpy.r_ and c_ against NumPy's, on concrete and traced pieces."""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.errors import ConcretizationTypeError

A = np.array([1.0, 2.0, 3.0])
M = np.array([[1, 2], [3, 4]])
F32 = np.array([1.0, 2.0], np.float32)
I32 = np.array([1, 2], np.int32)

# each case: m -> m.r_[...] or m.c_[...], for m in (np, fnp)
CASES = {
    "range": lambda m: m.r_[1:4],
    "range_step": lambda m: m.r_[:9:2],
    "float_range": lambda m: m.r_[0.5:2.5:0.5],
    "linspace": lambda m: m.r_[0:1:5j],
    "linspace_and_pieces": lambda m: m.r_[-1:1:6j, [0] * 3, 5, 6],
    "arrays_and_scalars": lambda m: m.r_[A, 0, 5, A],
    "one_scalar": lambda m: m.r_[3],
    "scalar_keeps_float32": lambda m: m.r_[F32, 3.5],
    "scalar_keeps_int32": lambda m: m.r_[I32, 3],
    "numpy_scalar_is_strong": lambda m: m.r_[np.float64(1.5), I32],
    "bool_and_int": lambda m: m.r_[True, np.array([2])],
    "arrays_promote": lambda m: m.r_[I32, A],
    "axis_directive": lambda m: m.r_["-1", M, M],
    "ndmin_directive": lambda m: m.r_["0,2", [1, 2, 3], [4, 5, 6]],
    "trans1d_directive": lambda m: m.r_["1,2,0", [1, 2, 3], [4, 5, 6]],
    "trans1d_zero": lambda m: m.r_["0,2,0", [1, 2, 3], [4, 5, 6]],
    "ndmin3": lambda m: m.r_["0,3", M, M],
    "ndmin3_trans1": lambda m: m.r_["0,3,1", A, A],
    "ndmin3_trans_neg": lambda m: m.r_["0,3,-1", A, A],
    "row_matrix": lambda m: m.r_["r", [1, 2, 3], [4, 5, 6]],
    "column_matrix": lambda m: m.r_["c", [1, 2, 3], [4, 5, 6]],
    "c_columns": lambda m: m.c_[A, 2 * A, 3 * A],
    "c_rows_and_scalars": lambda m: m.c_[np.array([[1, 2, 3]]), 0, 0, np.array([[4, 5, 6]])],
    "c_slices": lambda m: m.c_[0:3, 1:4],
    "c_matrices": lambda m: m.c_[M, M],
    "c_linspace": lambda m: m.c_[0:1:3j, A],
}


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # NumPy's np.matrix ('r', 'c')
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_numpy(name):
    case = CASES[name]
    expected = np.asarray(case(np))
    got = case(fnp)
    assert isinstance(got, np.ndarray)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_traced_pieces_under_jit_grad_and_vmap():
    f = ft.jit(lambda x: fnp.r_[x, 0.0, x[:2], 1:3])
    np.testing.assert_array_equal(f(A), np.r_[A, 0.0, A[:2], 1:3])
    # a scalar piece keeps float32; the int64 slice piece promotes, as in NumPy
    x32 = A.astype(np.float32)
    assert ft.jit(lambda x: fnp.r_[x, 0.0])(x32).dtype == np.float32
    assert f(x32).dtype == np.r_[x32, 0.0, x32[:2], 1:3].dtype == np.float64
    np.testing.assert_array_equal(ft.jit(lambda x: fnp.c_[x, 2 * x])(A), np.c_[A, 2 * A])
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(fnp.r_[x, 2 * x] ** 2))(A), 10 * A)
    np.testing.assert_array_equal(ft.vmap(lambda x: fnp.r_[x, -1.0])(np.stack([A, A])),
                                  np.stack([np.r_[A, -1.0]] * 2))


def test_errors():
    with pytest.raises(ConcretizationTypeError, match="slice bound of r_"):
        ft.jit(lambda n: fnp.r_[0:n])(3)
    with pytest.raises(ValueError, match="r_: unknown special directive 'x,y'"):
        fnp.r_["x,y", A]
    with pytest.raises(ValueError, match="c_: a string directive .* must come first"):
        fnp.c_[A, "0"]
