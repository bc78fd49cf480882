"""Rows for the bit-level primitives (functrans/primitives/bits.py).

Every output is an integer (or, for ``bitcast_convert_type`` to a float, bits with no
derivative), so the rows are ``differentiable=False``: the harness checks zero tangents
and cotangents for float inputs, and batching, jit and dtypes for all of them. Shift
amounts include values outside ``[0, bits)``, where XLA's semantics (0, or the sign)
differ from NumPy's undefined behaviour; the threefry2x32 row runs random key and
counter words through the hash (its values are checked against Random123's known
answers in tests/test_random.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from functrans import lax
from functrans.core.avals import get_aval
from tests.rules import Row

SHAPE = (3, 4)
Args = Callable[[np.random.Generator, np.dtype], tuple]
SHIFTED = (np.int32, np.uint32, np.int64, np.uint8)
COUNTED = (np.int32, np.uint32, np.int64, np.uint16)


def _shift_args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    info = np.iinfo(dtype)
    bits = info.bits
    x = rng.integers(int(info.min), int(info.max), SHAPE, dtype=dtype, endpoint=True)
    # mostly in range, some equal to the width or beyond it (and negative, for signed)
    low = -3 if info.min < 0 else 0
    amount = rng.integers(low, bits + 3, SHAPE).astype(dtype)
    return x, amount


def _any_integers(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    info = np.iinfo(dtype)
    return (rng.integers(int(info.min), int(info.max), SHAPE, dtype=dtype, endpoint=True),)


def _floats(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    return (rng.standard_normal(SHAPE).astype(dtype),)


def _words(count: int) -> Args:
    return lambda rng, dtype: tuple(rng.integers(0, 2**32, SHAPE, dtype=np.uint32)
                                    for _ in range(count))


def _word_pairs(rng: np.random.Generator, dtype: np.dtype) -> tuple:
    return (rng.integers(0, 2**32, SHAPE + (2,), dtype=np.uint32),)


def _same_width_unsigned(x):
    return lax.bitcast_convert_type(x, np.dtype(f"u{get_aval(x).dtype.itemsize}"))


ROWS = [
    Row("shift_left", lax.shift_left, _shift_args, dtypes=SHIFTED, differentiable=False),
    Row("shift_right_logical", lax.shift_right_logical, _shift_args, dtypes=SHIFTED,
        differentiable=False),
    Row("shift_right_arithmetic", lax.shift_right_arithmetic, _shift_args, dtypes=SHIFTED,
        differentiable=False),
    Row("population_count", lax.population_count, _any_integers, dtypes=COUNTED,
        differentiable=False),
    Row("clz", lax.clz, _any_integers, dtypes=COUNTED, differentiable=False),
    Row("bitcast_convert_type_same_width", _same_width_unsigned, _floats,
        differentiable=False),
    Row("bitcast_convert_type_narrower", lambda x: lax.bitcast_convert_type(x, np.uint32),
        _floats, dtypes=(np.float64,), differentiable=False),
    Row("bitcast_convert_type_wider", lambda x: lax.bitcast_convert_type(x, np.float64),
        _word_pairs, dtypes=(np.uint32,), differentiable=False),
    Row("bitcast_convert_type_to_float", lambda x: lax.bitcast_convert_type(x, np.float32),
        _any_integers, dtypes=(np.uint32, np.int32), differentiable=False),
    Row("threefry2x32", lax.threefry2x32, _words(4), dtypes=(np.uint32,),
        differentiable=False),
]
