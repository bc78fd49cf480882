"""Rows for gather and the scatter family (functrans.primitives.indexing).

Indices are integer arguments drawn per sample (so the vmap check maps over
them too), with negative entries and deliberately repeated rows: the first
row of every index array is appended again at the end.
"""

from __future__ import annotations

import numpy as np

from functrans.primitives import indexing as ix
from functrans.primitives import structural as st
from tests.rules import Row


def _indices(rng, sizes, batch):
    """Int indices of shape batch + (len(sizes),), negatives included, first row
    repeated at the end of the leading batch axis."""
    columns = [rng.integers(-n, n, batch) for n in sizes]
    idx = np.stack(columns, axis=-1)
    if batch:
        idx = np.concatenate([idx, idx[:1]], axis=0)
    return idx


def _unique_indices(rng, size, count):
    """Distinct (non-negative) positions along one axis, shape (count, 1)."""
    return rng.permutation(size)[:count].reshape(count, 1)


def _gather_args(shape, axes, batch):
    def args(rng, dtype):
        sizes = [shape[a] for a in axes]
        return rng.standard_normal(shape).astype(dtype), _indices(rng, sizes, batch)
    return args


def _scatter_args(shape, axes, batch, unique=False):
    """(operand, indices, updates) with updates of shape batch + remaining dims."""
    def args(rng, dtype):
        operand = rng.standard_normal(shape).astype(dtype)
        if unique:
            idx = _unique_indices(rng, shape[axes[0]], batch[0])
        else:
            idx = _indices(rng, [shape[a] for a in axes], batch)
        rest = tuple(n for i, n in enumerate(shape) if i not in axes)
        updates = rng.standard_normal(idx.shape[:-1] + rest).astype(dtype)
        return operand, idx, updates
    return args


def _take_axis1(x, idx):
    """x[:, idx]: gather along axis 1, then put the idx axes behind axis 0."""
    out = ix.gather(x, st.reshape(idx, idx.shape + (1,)), (1,))
    return st.moveaxis(out, idx.ndim, 0)


def _take_axis1_args(rng, dtype):
    return rng.standard_normal((3, 4, 2)).astype(dtype), rng.integers(-4, 4, (2, 3))


OPERAND_AND_UPDATES = (0, 2)

ROWS = [
    # gather
    Row("gather_rows", lambda x, i: ix.gather(x, i, (0,)), _gather_args((5, 3), (0,), (4,)),
        diff_argnums=(0,), linear=True),
    Row("gather_two_axes", lambda x, i: ix.gather(x, i, (0, 2)),
        _gather_args((4, 5, 3), (0, 2), (2, 3)), diff_argnums=(0,), linear=True),
    Row("gather_axes_reversed", lambda x, i: ix.gather(x, i, (2, 0)),
        _gather_args((4, 5, 3), (2, 0), (3,)), diff_argnums=(0,), linear=True),
    Row("gather_single_position", lambda x, i: ix.gather(x, i, (1,)),
        _gather_args((3, 4), (1,), ()), diff_argnums=(0,), linear=True),
    Row("gather_all_axes", lambda x, i: ix.gather(x, i, (0, 1)),
        _gather_args((3, 4), (0, 1), (5,)), diff_argnums=(0,), linear=True),
    Row("take_axis1", _take_axis1, _take_axis1_args, diff_argnums=(0,), linear=True),
    # scatter_add: repeated positions accumulate
    Row("scatter_add_rows", lambda x, i, u: ix.scatter_add(x, i, u, (0,)),
        _scatter_args((5, 3), (0,), (4,)), diff_argnums=OPERAND_AND_UPDATES, linear=True),
    Row("scatter_add_two_axes", lambda x, i, u: ix.scatter_add(x, i, u, (2, 0)),
        _scatter_args((4, 5, 3), (2, 0), (2, 3)), diff_argnums=OPERAND_AND_UPDATES,
        linear=True),
    Row("scatter_add_updates_only", lambda x, i, u: ix.scatter_add(x, i, u, (1,)),
        _scatter_args((3, 4), (1,), (6,)), diff_argnums=(2,)),
    # scatter (set): the last write to a repeated position wins
    Row("scatter_rows", lambda x, i, u: ix.scatter(x, i, u, (0,)),
        _scatter_args((5, 3), (0,), (4,)), diff_argnums=OPERAND_AND_UPDATES, linear=True),
    Row("scatter_two_axes", lambda x, i, u: ix.scatter(x, i, u, (0, 1)),
        _scatter_args((3, 4), (0, 1), (3, 2)), diff_argnums=OPERAND_AND_UPDATES,
        linear=True),
    Row("scatter_unique", lambda x, i, u: ix.scatter(x, i, u, (1,)),
        _scatter_args((2, 6), (1,), (4,), unique=True), diff_argnums=OPERAND_AND_UPDATES,
        linear=True),
    # scatter_mul: linear in the operand; updates differentiated with unique indices
    Row("scatter_mul_unique", lambda x, i, u: ix.scatter_mul(x, i, u, (0,)),
        _scatter_args((6, 2), (0,), (4,), unique=True), diff_argnums=OPERAND_AND_UPDATES),
    Row("scatter_mul_repeated_operand", lambda x, i, u: ix.scatter_mul(x, i, u, (0, 1)),
        _scatter_args((3, 4), (0, 1), (5,)), diff_argnums=(0,), linear=True),
    # scatter_min / scatter_max: the tangent of the value that wins
    Row("scatter_min", lambda x, i, u: ix.scatter_min(x, i, u, (0,)),
        _scatter_args((5, 3), (0,), (4,)), diff_argnums=OPERAND_AND_UPDATES),
    Row("scatter_max", lambda x, i, u: ix.scatter_max(x, i, u, (1,)),
        _scatter_args((3, 5), (1,), (6,)), diff_argnums=OPERAND_AND_UPDATES),
    Row("scatter_max_two_axes", lambda x, i, u: ix.scatter_max(x, i, u, (0, 2)),
        _scatter_args((3, 2, 4), (0, 2), (2, 3)), diff_argnums=OPERAND_AND_UPDATES),
]
