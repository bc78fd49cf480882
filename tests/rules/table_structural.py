"""Rows for the structural primitives (functrans.primitives.structural).

Integer arguments (start indices) are drawn per sample, so the vmap check maps
over them too; they include negative and out-of-range starts, which lax clamps.
"""

from __future__ import annotations

import numpy as np

from functrans.core.avals import get_aval
from functrans.primitives import elementwise as ew
from functrans.primitives import structural as st
from tests.rules import Row


def _normal(*shapes):
    return lambda rng, dtype: tuple(rng.standard_normal(s).astype(dtype) for s in shapes)


def _with_starts(shape, num_starts, low, high, update_shape=None):
    """A normal operand (and update), then `num_starts` scalar int start indices."""
    def args(rng, dtype):
        arrays = [rng.standard_normal(shape).astype(dtype)]
        if update_shape is not None:
            arrays.append(rng.standard_normal(update_shape).astype(dtype))
        starts = [np.asarray(rng.integers(low, high), np.int32) for _ in range(num_starts)]
        return (*arrays, *starts)
    return args


def _pad_args(shape):
    def args(rng, dtype):
        return (rng.standard_normal(shape).astype(dtype),
                np.asarray(rng.standard_normal(), dtype))
    return args


def _plus_iota(x):
    aval = get_aval(x)
    return ew.add(x, st.broadcasted_iota(aval.dtype, aval.shape, aval.ndim - 1))


ROWS = [
    # broadcasting and shapes
    Row("broadcast_in_dim_new_axis", lambda x: st.broadcast_in_dim(x, (2, 3), (1,)),
        _normal((3,)), linear=True),
    Row("broadcast_in_dim_stretch", lambda x: st.broadcast_in_dim(x, (3, 2, 4), (0, 2)),
        _normal((3, 1)), linear=True),
    Row("broadcast_in_dim_scalar", lambda x: st.broadcast_in_dim(x, (2, 2), ()),
        _normal(()), linear=True),
    Row("broadcast", lambda x: st.broadcast(x, (2,)), _normal((3, 2)), linear=True),
    Row("reshape", lambda x: st.reshape(x, (3, 4)), _normal((2, 6)), linear=True),
    Row("reshape_dimensions", lambda x: st.reshape(x, (6,), dimensions=(1, 0)),
        _normal((2, 3)), linear=True),
    Row("transpose", lambda x: st.transpose(x, (2, 0, 1)), _normal((2, 3, 4)), linear=True),
    Row("moveaxis", lambda x: st.moveaxis(x, 0, -1), _normal((2, 3, 4)), linear=True),
    Row("squeeze", lambda x: st.squeeze(x, (1, -1)), _normal((3, 1, 4, 1)), linear=True),
    Row("squeeze_to_scalar", lambda x: st.squeeze(x, (0,)), _normal((1,)), linear=True),
    Row("expand_dims", lambda x: st.expand_dims(x, (0, 2)), _normal((3, 4)), linear=True),
    Row("expand_dims_last", lambda x: st.expand_dims(x, (-1,)), _normal((3,)), linear=True),
    Row("concatenate_axis1", lambda x, y, z: st.concatenate([x, y, z], 1),
        _normal((2, 3), (2, 1), (2, 4)), linear=True),
    Row("concatenate_axis0", lambda x, y: st.concatenate([x, y], 0),
        _normal((2, 3), (4, 3)), linear=True),
    Row("rev", lambda x: st.rev(x, (0, 2)), _normal((2, 3, 4)), linear=True),
    Row("rev_1d", lambda x: st.rev(x, (0,)), _normal((5,)), linear=True),
    # pad: positive, interior, and negative (cropping) padding; value differentiated
    Row("pad_lo_hi", lambda x, v: st.pad(x, v, [(1, 2, 0), (0, 3, 0)]),
        _pad_args((2, 3)), linear=True),
    Row("pad_interior", lambda x, v: st.pad(x, v, [(0, 0, 2), (1, 1, 1)]),
        _pad_args((3, 2)), linear=True),
    Row("pad_negative", lambda x, v: st.pad(x, v, [(-1, 2, 1), (2, -2, 0)]),
        _pad_args((3, 4)), linear=True),
    Row("pad_operand_only", lambda x: st.pad(x, np.zeros((), get_aval(x).dtype), [(2, -1, 1)]),
        _normal((4,)), linear=True),
    # slice
    Row("slice", lambda x: st.slice(x, (1, 0), (3, 2)), _normal((4, 3)), linear=True),
    Row("slice_strided", lambda x: st.slice(x, (0, 1, 0), (5, 7, 2), (2, 3, 1)),
        _normal((5, 7, 2)), linear=True),
    Row("slice_in_dim", lambda x: st.slice_in_dim(x, -3, None, axis=1), _normal((2, 5)),
        linear=True),
    Row("index_in_dim", lambda x: st.index_in_dim(x, -1, axis=0, keepdims=False),
        _normal((3, 4)), linear=True),
    # iota (no inputs) combined with an input so every check has something to map over
    Row("broadcasted_iota_plus", _plus_iota, _normal((2, 3))),
    Row("iota_plus", lambda x: ew.add(x, st.iota(get_aval(x).dtype, 4)), _normal((4,))),
    # dynamic slicing with traced start indices (clamped, negative wrapped)
    Row("dynamic_slice", lambda x, i, j: st.dynamic_slice(x, (i, j), (2, 3)),
        _with_starts((4, 5), 2, -6, 6), diff_argnums=(0,), linear=True),
    Row("dynamic_slice_1d", lambda x, i: st.dynamic_slice(x, (i,), (3,)),
        _with_starts((6,), 1, -3, 5), diff_argnums=(0,), linear=True),
    Row("dynamic_index_in_dim",
        lambda x, i: st.dynamic_index_in_dim(x, i, axis=1, keepdims=False),
        _with_starts((3, 4), 1, -4, 4), diff_argnums=(0,), linear=True),
    Row("dynamic_update_slice",
        lambda x, u, i, j: st.dynamic_update_slice(x, u, (i, j)),
        _with_starts((4, 5), 2, -6, 6, update_shape=(2, 3)), diff_argnums=(0, 1),
        linear=True),
    Row("dynamic_update_slice_in_dim",
        lambda x, u, i: st.dynamic_update_slice_in_dim(x, u, i, axis=0),
        _with_starts((5, 2), 1, -2, 6, update_shape=(2, 2)), diff_argnums=(0, 1),
        linear=True),
]
