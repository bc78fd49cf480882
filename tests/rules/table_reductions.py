"""Rows for the reductions (functrans/primitives/reductions.py).

Arguments of max/min/cummax/cummin are drawn away from ties (distinct values
spaced far wider than the finite-difference step); products are drawn away
from zero except in the rows that put exact zeros in on purpose (a product is a
polynomial, so finite differences stay valid there).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from functrans.primitives import reductions as red
from tests.rules import Row

Args = Callable[[np.random.Generator, np.dtype], tuple]


def _normal(shape: tuple[int, ...]) -> Args:
    return lambda rng, dtype: (rng.standard_normal(shape).astype(dtype),)


def _distinct(shape: tuple[int, ...]) -> Args:
    """Distinct values: a shuffled grid (spacing 0.1) plus a little noise."""
    def args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
        size = int(np.prod(shape))
        grid = rng.permutation(size) * 0.1 - 0.05 * size
        return ((grid + rng.uniform(-0.01, 0.01, size)).reshape(shape).astype(dtype),)
    return args


def _factors(shape: tuple[int, ...], zeros: int = 0) -> Args:
    """Magnitudes in [0.5, 1.5] with random signs, and `zeros` entries set to 0."""
    def args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
        x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
        flat = x.reshape(-1)
        flat[rng.choice(flat.size, zeros, replace=False)] = 0.0
        return (x.astype(dtype),)
    return args


def _integers(shape: tuple[int, ...]) -> Args:
    return lambda rng, dtype: (rng.integers(-5, 6, shape).astype(dtype),)


def _booleans(shape: tuple[int, ...]) -> Args:
    return lambda rng, dtype: (rng.random(shape) < 0.6,)


INTS = (np.int32, np.int64)
S3 = (3, 4, 5)

ROWS = [
    # reduce_sum (linear)
    Row("reduce_sum_axis0", lambda x: red.reduce_sum(x, (0,)), _normal(S3), linear=True),
    Row("reduce_sum_axes02", lambda x: red.reduce_sum(x, (0, 2)), _normal(S3), linear=True),
    Row("reduce_sum_all", lambda x: red.reduce_sum(x, (0, 1, 2)), _normal(S3), linear=True),
    Row("reduce_sum_negative_axis", lambda x: red.reduce_sum(x, (-1,)), _normal((4, 3)),
        linear=True),
    Row("reduce_sum_int", lambda x: red.reduce_sum(x, (1,)), _integers((3, 4)), dtypes=INTS),
    # reduce_max / reduce_min
    Row("reduce_max_axis1", lambda x: red.reduce_max(x, (1,)), _distinct(S3)),
    Row("reduce_max_axes01", lambda x: red.reduce_max(x, (0, 1)), _distinct(S3)),
    Row("reduce_max_all", lambda x: red.reduce_max(x, (0, 1)), _distinct((4, 6))),
    Row("reduce_min_axis2", lambda x: red.reduce_min(x, (2,)), _distinct(S3)),
    Row("reduce_min_axes12", lambda x: red.reduce_min(x, (1, 2)), _distinct(S3)),
    Row("reduce_max_int", lambda x: red.reduce_max(x, (0,)), _integers((3, 4)), dtypes=INTS),
    # reduce_prod
    Row("reduce_prod_axis0", lambda x: red.reduce_prod(x, (0,)), _factors(S3)),
    Row("reduce_prod_axes02", lambda x: red.reduce_prod(x, (0, 2)), _factors(S3)),
    Row("reduce_prod_all", lambda x: red.reduce_prod(x, (0, 1)), _factors((3, 4))),
    Row("reduce_prod_one_zero", lambda x: red.reduce_prod(x, (0,)), _factors((6,), zeros=1)),
    Row("reduce_prod_zeros", lambda x: red.reduce_prod(x, (1,)), _factors((3, 5), zeros=4)),
    Row("reduce_prod_int", lambda x: red.reduce_prod(x, (1,)), _integers((3, 4)),
        dtypes=INTS),
    # reduce_and / reduce_or
    Row("reduce_and", lambda x: red.reduce_and(x, (1,)), _booleans((3, 4)),
        dtypes=(np.bool_,), differentiable=False),
    Row("reduce_or", lambda x: red.reduce_or(x, (0, 1)), _booleans((3, 4)),
        dtypes=(np.bool_,), differentiable=False),
    Row("reduce_and_int", lambda x: red.reduce_and(x, (0,)), _integers((3, 4)),
        dtypes=INTS, differentiable=False),
    Row("reduce_or_int", lambda x: red.reduce_or(x, (1,)), _integers((3, 4)),
        dtypes=INTS, differentiable=False),
    # argmax / argmin
    Row("argmax", lambda x: red.argmax(x, 1, np.int32), _distinct(S3), differentiable=False),
    Row("argmin", lambda x: red.argmin(x, -1, np.int64), _distinct(S3),
        differentiable=False),
    Row("argmax_int", lambda x: red.argmax(x, 0, np.int64), _integers((4, 3)),
        dtypes=INTS, differentiable=False),
    # cumulative reductions
    Row("cumsum_axis0", lambda x: red.cumsum(x, 0), _normal(S3), linear=True),
    Row("cumsum_axis2_reverse", lambda x: red.cumsum(x, 2, reverse=True), _normal(S3),
        linear=True),
    Row("cumsum_int", lambda x: red.cumsum(x, 1), _integers((3, 4)), dtypes=INTS),
    Row("cumprod_axis1", lambda x: red.cumprod(x, 1), _factors(S3)),
    Row("cumprod_reverse", lambda x: red.cumprod(x, 0, reverse=True), _factors(S3)),
    Row("cumprod_long", lambda x: red.cumprod(x, 0), _factors((19, 2))),
    Row("cumprod_zeros", lambda x: red.cumprod(x, 1), _factors((3, 7), zeros=4)),
    Row("cumprod_zeros_reverse", lambda x: red.cumprod(x, 0, reverse=True),
        _factors((9,), zeros=2)),
    Row("cummax_axis1", lambda x: red.cummax(x, 1), _distinct(S3)),
    Row("cummax_reverse", lambda x: red.cummax(x, 2, reverse=True), _distinct(S3)),
    Row("cummin_axis0", lambda x: red.cummin(x, 0), _distinct(S3)),
    Row("cummin_reverse", lambda x: red.cummin(x, 1, reverse=True), _distinct(S3)),
    Row("cummax_int", lambda x: red.cummax(x, 1), _integers((3, 4)), dtypes=INTS),
    Row("cumlogsumexp_axis1", lambda x: red.cumlogsumexp(x, 1), _normal(S3)),
    Row("cumlogsumexp_reverse", lambda x: red.cumlogsumexp(x, 0, reverse=True),
        _normal((11, 3))),
]
