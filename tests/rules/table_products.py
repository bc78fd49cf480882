"""Rows for dot_general and dot (functrans/primitives/products.py).

dot_general is bilinear: each configuration has a row differentiating both
operands (the product rule) and rows linear in one side (``diff_argnums``), which
check each transpose rule on its own. The configurations cover matrix products
in every operand layout, batch dimensions that are not leading, several
contracting dimensions, outer and inner products, and scalars.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from functrans.core.avals import get_aval
from functrans.primitives import products as prod
from functrans.primitives.elementwise import convert_element_type
from tests.rules import Row

Args = Callable[[np.random.Generator, np.dtype], tuple]


def _normal(*shapes: tuple[int, ...]) -> Args:
    return lambda rng, dtype: tuple(rng.standard_normal(s).astype(dtype) for s in shapes)


def _integers(*shapes: tuple[int, ...]) -> Args:
    return lambda rng, dtype: tuple(rng.integers(-4, 5, s).astype(dtype) for s in shapes)


def _dot_general(dimension_numbers: Any, **kw: Any) -> Callable[..., Any]:
    return lambda x, y: prod.dot_general(x, y, dimension_numbers, **kw)


# name: (lhs shape, rhs shape, ((lhs_contract, rhs_contract), (lhs_batch, rhs_batch)))
CONFIGS = {
    "matmul": ((3, 4), (4, 5), (((1,), (0,)), ((), ()))),
    "lhs_transposed": ((4, 3), (4, 5), (((0,), (0,)), ((), ()))),
    "rhs_transposed": ((3, 4), (5, 4), (((1,), (1,)), ((), ()))),
    "matvec": ((3, 4), (4,), (((1,), (0,)), ((), ()))),
    "inner": ((5,), (5,), (((0,), (0,)), ((), ()))),
    "outer": ((3,), (4,), (((), ()), ((), ()))),
    "scalar_times_matrix": ((), (2, 3), (((), ()), ((), ()))),
    "batched_matmul": ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,)))),
    "batch_not_leading": ((3, 2, 4), (4, 5, 2), (((2,), (0,)), ((1,), (2,)))),
    "two_contractions": ((2, 3, 4, 5), (5, 3, 6, 2), (((1, 3), (1, 0)), ((0,), (3,)))),
    "contract_order_swapped": ((3, 4, 2), (2, 5, 4), (((1, 2), (2, 0)), ((), ()))),
    "batch_only": ((4, 3), (3, 4), (((), ()), ((0, 1), (1, 0)))),
    # a dot product per batch position, no free axes (ij,ij->i): NumPy's vecdot
    "batched_dot": ((4, 3), (4, 3), (((1,), (1,)), ((0,), (0,)))),
    "batched_dot_transposed": ((3, 4), (4, 3), (((0,), (1,)), ((1,), (0,)))),
    "batched_dot_two_contractions": ((2, 3, 4), (2, 4, 3), (((1, 2), (2, 1)), ((0,), (0,)))),
    "tensordot_axes2": ((2, 3, 4), (3, 4, 5), (((1, 2), (0, 1)), ((), ()))),
}


def _rows(name: str, lhs: tuple, rhs: tuple, dims: Any) -> list[Row]:
    f = _dot_general(dims)
    args = _normal(lhs, rhs)
    return [Row(f"dot_general_{name}", f, args),
            Row(f"dot_general_{name}_lhs", f, args, diff_argnums=(0,), linear=True),
            Row(f"dot_general_{name}_rhs", f, args, diff_argnums=(1,), linear=True)]


ROWS = [row for name, config in CONFIGS.items() for row in _rows(name, *config)] + [
    Row("dot_general_int", _dot_general((((1,), (0,)), ((), ()))), _integers((3, 4), (4, 2)),
        dtypes=(np.int32, np.int64)),
    Row("dot_general_int_batched_dot", _dot_general((((1,), (1,)), ((0,), (0,)))),
        _integers((4, 3), (4, 3)), dtypes=(np.int32, np.int64)),
    Row("dot_general_int_to_float", _dot_general((((1,), (0,)), ((), ())),
                                                 preferred_element_type=np.float64),
        _integers((3, 4), (4, 2)), dtypes=(np.int32,)),
    # accumulate in float64, round the result back to the operands' dtype
    Row("dot_general_f32_accumulate_f64",
        lambda x, y: convert_element_type(
            prod.dot_general(x, y, (((1,), (1,)), ((0,), (0,))),
                             preferred_element_type=np.float64), get_aval(x).dtype),
        _normal((2, 3), (2, 3, 4)), dtypes=(np.float32,)),
    Row("dot_matmul", prod.dot, _normal((3, 4), (4, 2))),
    Row("dot_vecmat", prod.dot, _normal((4,), (4, 2)), diff_argnums=(0,), linear=True),
    Row("dot_vecvec", prod.dot, _normal((4,), (4,))),
]
