"""Rows for sorting (functrans/primitives/sort.py): sort with one or several
operands, sort_key_val, top_k, argsort, and the take_along_axis /
scatter_add_along_axis pair that carries their derivatives.

Sort keys are drawn away from ties (distinct values spaced far wider than the
finite-difference step); a lexicographic row uses integer leading keys, which
tie on purpose and are not differentiated.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from functrans.primitives import sort as srt
from tests.rules import Row

Args = Callable[[np.random.Generator, np.dtype], tuple]


def _distinct_array(rng: np.random.Generator, shape: tuple[int, ...], dtype: np.dtype):
    size = int(np.prod(shape))
    grid = rng.permutation(size) * 0.1 - 0.05 * size
    return (grid + rng.uniform(-0.01, 0.01, size)).reshape(shape).astype(dtype)


def _distinct(*shapes: tuple[int, ...]) -> Args:
    return lambda rng, dtype: tuple(_distinct_array(rng, s, dtype) for s in shapes)


def _keys_and_values(shape: tuple[int, ...]) -> Args:
    return lambda rng, dtype: (_distinct_array(rng, shape, dtype),
                               rng.standard_normal(shape).astype(dtype))


def _int_key_float_key_values(shape: tuple[int, ...]) -> Args:
    return lambda rng, dtype: (rng.integers(0, 3, shape), _distinct_array(rng, shape, dtype),
                               rng.standard_normal(shape).astype(dtype))


def _operand_and_indices(shape: tuple[int, ...], axis: int, length: int) -> Args:
    def args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
        index_shape = shape[:axis] + (length,) + shape[axis + 1:]
        return (rng.standard_normal(shape).astype(dtype),
                rng.integers(0, shape[axis], index_shape))
    return args


def _updates_and_indices(shape: tuple[int, ...], axis: int, length: int) -> Args:
    def args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
        index_shape = shape[:axis] + (length,) + shape[axis + 1:]
        return (rng.standard_normal(index_shape).astype(dtype),
                rng.integers(0, shape[axis], index_shape))
    return args


def _integers(shape: tuple[int, ...]) -> Args:
    return lambda rng, dtype: (rng.integers(-4, 5, shape).astype(dtype),)


ROWS = [
    Row("sort_last", lambda x: srt.sort(x), _distinct((3, 5))),
    Row("sort_axis0", lambda x: srt.sort(x, dimension=0), _distinct((4, 3))),
    Row("sort_middle_3d", lambda x: srt.sort(x, dimension=1), _distinct((2, 5, 3))),
    Row("sort_1d", lambda x: srt.sort(x), _distinct((7,))),
    Row("sort_int", lambda x: srt.sort(x, dimension=0), _integers((5, 3)),
        dtypes=(np.int32, np.int64)),
    Row("sort_key_val", lambda k, v: srt.sort_key_val(k, v), _keys_and_values((3, 6))),
    Row("sort_key_val_values_only", lambda k, v: srt.sort_key_val(k, v, dimension=0)[1],
        _keys_and_values((5, 2)), diff_argnums=(1,), linear=True),
    Row("sort_two_keys", lambda a, b, c: srt.sort((a, b, c), num_keys=2),
        _int_key_float_key_values((3, 8))),
    Row("top_k", lambda x: srt.top_k(x, 3), _distinct((4, 6))),
    Row("top_k_all_1d", lambda x: srt.top_k(x, 5), _distinct((5,))),
    Row("top_k_3d", lambda x: srt.top_k(x, 2), _distinct((2, 3, 4))),
    Row("argsort", lambda x: srt.argsort(x, axis=0), _distinct((5, 3)),
        differentiable=False),
    Row("argsort_descending", lambda x: srt.argsort(x, descending=True), _distinct((3, 5)),
        differentiable=False),
    Row("argsort_descending_ties", lambda x: srt.argsort(x, descending=True),
        _integers((3, 7)), dtypes=(np.int32, np.uint8), differentiable=False),
    Row("take_along_axis", lambda x, i: srt.take_along_axis(x, i, 1),
        _operand_and_indices((3, 4), 1, 6), linear=True),
    Row("take_along_axis_axis0", lambda x, i: srt.take_along_axis(x, i, 0),
        _operand_and_indices((4, 2, 3), 0, 2), linear=True),
    Row("scatter_add_along_axis", lambda u, i: srt.scatter_add_along_axis(u, i, 1, (3, 4)),
        _updates_and_indices((3, 4), 1, 6), linear=True),
]
