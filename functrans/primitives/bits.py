"""Bit-level primitives, and the Threefry hash random numbers are made of.

Integer bit operations, with XLA's semantics (``jax.lax`` names):

* ``shift_left``, ``shift_right_logical``, ``shift_right_arithmetic``: a shift by
  an amount outside ``[0, bits)`` (negative amounts included: XLA reads the
  amount as unsigned) gives 0, or the sign bit repeated for the arithmetic
  shift, where C and NumPy leave it undefined.
* ``population_count`` (the number of set bits) and ``clz`` (leading zeros).
* ``bitcast_convert_type``: the same bits read as another dtype. A narrower
  dtype adds a trailing axis (``f64[3] -> u32[3, 2]``, little-endian order as
  NumPy's ``view``), a wider one consumes it.
* ``threefry2x32``: the Threefry-2x32 block cipher of Salmon et al., "Parallel
  random numbers: as easy as 1, 2, 3" (SC 2011), 20 rounds, with which JAX's
  default PRNG (and :mod:`functrans.random`) hashes counters. Two uint32 key
  words and two uint32 counter words in, two uint32 words out, elementwise,
  vectorised over arrays in NumPy (uint32 arithmetic wraps modulo 2**32).

Every output is an integer whose derivative is zero (``defjvp_zero``), and
nothing here is linear, so there are no transpose rules.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive, UfuncEquivalent
from functrans.primitives.elementwise import (
    INT,
    _binary,
    _check_equal_avals,
    nary,
    unary,
)
from functrans.primitives.rules import bdim_at_front, defjvp_zero
from functrans.primitives.structural import broadcast_in_dim

__all__ = ["shift_left", "shift_right_logical", "shift_right_arithmetic", "population_count",
           "clz", "bitcast_convert_type", "threefry2x32",
           "shift_left_p", "shift_right_logical_p", "shift_right_arithmetic_p",
           "population_count_p", "clz_p", "bitcast_convert_type_p", "threefry2x32_p"]


# ------------------------------------------------------------------ shifts
# NumPy's shift ufuncs already give XLA's results for amounts outside [0, bits): 0, or
# the sign for a signed right shift (NumPy defines them, where C leaves them undefined).
# The logical and arithmetic right shifts read the operands as unsigned or signed.

def _unsigned(dtype: np.dtype) -> np.dtype:
    return np.dtype(f"u{dtype.itemsize}")


def _signed(dtype: np.dtype) -> np.dtype:
    return np.dtype(f"i{dtype.itemsize}")


def _right_shift_as(x: Any, y: Any, as_dtype: Any) -> Any:
    x = np.asarray(x)
    as_dtype = as_dtype(x.dtype)
    amount = np.asarray(y).astype(x.dtype, copy=False).view(as_dtype)
    return np.right_shift(x.view(as_dtype), amount).view(x.dtype)


def _shift_right_logical_impl(x: Any, y: Any) -> Any:
    return _right_shift_as(x, y, _unsigned)


def _shift_right_arithmetic_impl(x: Any, y: Any) -> Any:
    return _right_shift_as(x, y, _signed)


shift_left_p = nary("shift_left", np.left_shift, INT, ufunc_kinds=INT)
defjvp_zero(shift_left_p)
shift_right_logical_p = nary("shift_right_logical", _shift_right_logical_impl, INT)
shift_right_logical_p.ufunc = UfuncEquivalent(np.right_shift, "u")  # unsigned: as is
defjvp_zero(shift_right_logical_p)
shift_right_arithmetic_p = nary("shift_right_arithmetic", _shift_right_arithmetic_impl, INT)
shift_right_arithmetic_p.ufunc = UfuncEquivalent(np.right_shift, "i")  # signed: as is
defjvp_zero(shift_right_arithmetic_p)


def shift_left(x: Any, y: Any) -> Any:
    """``x << y`` elementwise; 0 where ``y`` is not in ``[0, bits)``."""
    return _binary(shift_left_p, x, y)


def shift_right_logical(x: Any, y: Any) -> Any:
    """``x >> y`` filling with zeros (unsigned shift, for signed `x` too); 0 where
    ``y`` is not in ``[0, bits)``."""
    return _binary(shift_right_logical_p, x, y)


def shift_right_arithmetic(x: Any, y: Any) -> Any:
    """``x >> y`` filling with the sign bit (signed shift, for unsigned `x` too);
    the sign bit everywhere where ``y`` is not in ``[0, bits)``."""
    return _binary(shift_right_arithmetic_p, x, y)


# ------------------------------------------------------------------ counting bits

def _population_count_impl(x: Any) -> Any:
    x = np.asarray(x)
    return np.bitwise_count(x.view(_unsigned(x.dtype))).astype(x.dtype)


def _clz_impl(x: Any) -> Any:
    x = np.asarray(x)
    width = x.dtype.itemsize * 8
    unsigned = x.view(_unsigned(x.dtype))
    # smear the highest set bit into every lower position: the set bits are then
    # exactly the significant ones, and the rest are leading zeros
    smeared = unsigned.copy()
    shift = 1
    while shift < width:
        smeared |= smeared >> _unsigned(x.dtype).type(shift)
        shift *= 2
    return (width - np.bitwise_count(smeared)).astype(x.dtype)


population_count_p = unary("population_count", _population_count_impl, INT)
defjvp_zero(population_count_p)
clz_p = unary("clz", _clz_impl, INT)
defjvp_zero(clz_p)


def population_count(x: Any) -> Any:
    """The number of set bits of each element of the integer array `x`."""
    return population_count_p.bind(x)


def clz(x: Any) -> Any:
    """The number of leading zero bits of each element of the integer array `x`."""
    return clz_p.bind(x)


# ------------------------------------------------------------------ bitcast_convert_type

def _bitcast_aval(x: ShapedArray, *, new_dtype: np.dtype) -> ShapedArray:
    old_size, new_size = x.dtype.itemsize, new_dtype.itemsize
    for dtype in (x.dtype, new_dtype):
        if dtype.kind not in "biufc":
            raise TypeError(f"bitcast_convert_type: cannot reinterpret {x.str_short()} as "
                            f"{new_dtype.name}; both dtypes must be numeric or bool")
    if old_size == new_size:
        return ShapedArray(x.shape, new_dtype)
    if old_size > new_size:
        if old_size % new_size:
            raise TypeError(f"bitcast_convert_type: {x.dtype.name} is not a whole number "
                            f"of {new_dtype.name}")
        return ShapedArray(x.shape + (old_size // new_size,), new_dtype)
    ratio = new_size // old_size
    if new_size % old_size or not x.shape or x.shape[-1] != ratio:
        raise TypeError(f"bitcast_convert_type: reading {x.str_short()} as the wider "
                        f"{new_dtype.name} needs a last axis of length {ratio} (the "
                        f"{x.dtype.name} words of one {new_dtype.name})")
    return ShapedArray(x.shape[:-1], new_dtype)


def _bitcast_impl(x: Any, *, new_dtype: np.dtype) -> Any:
    x = np.asarray(x, order="C")  # (ascontiguousarray would make a scalar 1-d)
    out_shape = _bitcast_aval(get_aval(x), new_dtype=new_dtype).shape
    if x.dtype.itemsize < new_dtype.itemsize:
        return x.view(new_dtype).reshape(out_shape).copy()
    return x.reshape(x.shape + (1,)).view(new_dtype).reshape(out_shape).copy()


def _bitcast_batch(args, dims, *, new_dtype):
    # the trailing axis may change length: keep the batch axis in front of it
    (x,), (d,) = args, dims
    x = bdim_at_front(x, d, get_aval(x).shape[d])
    return bitcast_convert_type_p.bind(x, new_dtype=new_dtype), 0


bitcast_convert_type_p = Primitive("bitcast_convert_type")
bitcast_convert_type_p.impl = _bitcast_impl
bitcast_convert_type_p.abstract_eval = _bitcast_aval
bitcast_convert_type_p.batch = _bitcast_batch
defjvp_zero(bitcast_convert_type_p)  # as in JAX: reinterpreted bits carry no derivative


def bitcast_convert_type(operand: Any, new_dtype: Any) -> Any:
    """The bits of `operand` read as `new_dtype` (as ``lax.bitcast_convert_type``):
    same shape for dtypes of one width; a narrower dtype adds a trailing axis of
    ``old_width // new_width`` words, a wider one consumes a trailing axis of that
    length."""
    new_dtype = np.dtype(new_dtype)
    _bitcast_aval(get_aval(operand), new_dtype=new_dtype)
    return bitcast_convert_type_p.bind(operand, new_dtype=new_dtype)


# ------------------------------------------------------------------ threefry2x32

_UINT32 = np.dtype(np.uint32)
#: the rotation distances of Threefry-2x32, alternating between the two sets every
#: four rounds (Random123's R_32x2_*)
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
#: the key-schedule parity constant of Threefish/Threefry (SKEIN_KS_PARITY32)
_KS_PARITY = np.uint32(0x1BD11BDA)


#: elements hashed at a time: the round's working arrays (a few of these blocks of
#: uint32) stay in the CPU cache through the hundred passes of the twenty rounds, which
#: is about twice as fast, for large arrays, as streaming them through memory each time
_BLOCK = 1 << 16


def threefry2x32_numpy(key1: Any, key2: Any, count1: Any, count2: Any
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Threefry-2x32 (20 rounds) of the counter words under the key words, in NumPy.

    The four uint32 operands broadcast together; the two results have their shape.
    An operand that is one value broadcast (usually the key words) stays a scalar.
    """
    operands = np.broadcast_arrays(*(np.asarray(v, _UINT32) for v in
                                     (key1, key2, count1, count2)))
    shape = operands[0].shape
    size = operands[0].size
    out0, out1 = np.empty(size, _UINT32), np.empty(size, _UINT32)
    if size:
        flat = [_flat_or_scalar(op) for op in operands]
        for start in range(0, size, _BLOCK):
            block = slice(start, start + _BLOCK)
            _threefry_rounds(*(f if f.ndim == 0 else f[block] for f in flat),
                             out0[block], out1[block])
    return out0.reshape(shape), out1.reshape(shape)


def _flat_or_scalar(operand: np.ndarray) -> np.ndarray:
    """A broadcast single value as a 0-d array, anything else flattened."""
    if all(stride == 0 for stride in operand.strides):
        return np.array(operand.flat[0], _UINT32)
    return operand.reshape(-1)


def _threefry_rounds(key1: np.ndarray, key2: np.ndarray, count1: np.ndarray,
                     count2: np.ndarray, x0: np.ndarray, x1: np.ndarray) -> None:
    """Hash one block into `x0`, `x1`: each of the five groups of four rounds mixes
    the two words (add, rotate, xor), then injects the next key-schedule word and
    the group number."""
    schedule = (key1, key2, key1 ^ key2 ^ _KS_PARITY)
    np.add(count1, schedule[0], out=x0)
    np.add(count2, schedule[1], out=x1)
    rotated = np.empty_like(x1)
    for group in range(5):
        for distance in _ROTATIONS[group % 2]:
            x0 += x1
            np.left_shift(x1, distance, out=rotated)
            x1 >>= 32 - distance
            x1 |= rotated
            x1 ^= x0
        x0 += schedule[(group + 1) % 3]
        x1 += schedule[(group + 2) % 3]
        x1 += np.uint32(group + 1)


def _threefry2x32_aval(*operands: ShapedArray) -> list[ShapedArray]:
    _check_equal_avals("threefry2x32", operands)
    if operands[0].dtype != _UINT32:
        raise TypeError("threefry2x32: the key and counter words must be uint32, got "
                        f"{', '.join(x.str_short() for x in operands)}")
    return [ShapedArray(operands[0].shape, _UINT32)] * 2


def _threefry2x32_impl(key1: Any, key2: Any, count1: Any, count2: Any) -> list[np.ndarray]:
    _threefry2x32_aval(*[get_aval(v) for v in (key1, key2, count1, count2)])
    return list(threefry2x32_numpy(key1, key2, count1, count2))


def _threefry2x32_batch(args, dims):
    size = next(get_aval(x).shape[d] for x, d in zip(args, dims) if d is not None)
    return threefry2x32_p.bind(*[bdim_at_front(x, d, size) for x, d in zip(args, dims)]), [0, 0]


threefry2x32_p = Primitive("threefry2x32", multiple_results=True)
threefry2x32_p.impl = _threefry2x32_impl
threefry2x32_p.abstract_eval = _threefry2x32_aval
threefry2x32_p.batch = _threefry2x32_batch
defjvp_zero(threefry2x32_p)


def threefry2x32(key1: Any, key2: Any, count1: Any, count2: Any) -> list[Any]:
    """Threefry-2x32 of the counter words ``(count1, count2)`` under the key words
    ``(key1, key2)``: two uint32 arrays. The operands broadcast together (NumPy
    rules), as the counters of one key usually do."""
    operands = [np.asarray(v, _UINT32) if isinstance(v, int) else v
                for v in (key1, key2, count1, count2)]
    avals = [get_aval(v) for v in operands]
    for aval in avals:
        if aval.dtype != _UINT32:
            raise TypeError(f"threefry2x32: the key and counter words must be uint32, got "
                            f"{', '.join(a.str_short() for a in avals)}")
    shape = np.broadcast_shapes(*(a.shape for a in avals))
    operands = [v if a.shape == shape else
                broadcast_in_dim(v, shape, tuple(range(len(shape) - a.ndim, len(shape))))
                for v, a in zip(operands, avals)]
    return threefry2x32_p.bind(*operands)
