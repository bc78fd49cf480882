"""Keys, and the bits a key stands for: JAX's Threefry-2x32 PRNG, partitionable form.

A key is a uint32 array of shape ``(2,)``, the two Threefry key words. Everything
random is a pure function of a key and of counters:

* ``bits(key, shape)`` hashes one counter per output element: the element's
  row-major index ``i`` as a 64-bit number, split into its high and low 32-bit
  words ``(i >> 32, i & 0xffffffff)``. Threefry gives two words ``(b1, b2)``; a
  32-bit sample is ``b1 ^ b2``, a 64-bit one ``b1 << 32 | b2``, an 8- or 16-bit
  one the low bits of ``b1 ^ b2``.
* ``split(key, shape)`` hashes the same counters and keeps both words as the
  new keys, so ``split(key, n)[i]`` equals ``fold_in(key, i)``, which hashes
  the counter ``(0, i)``.

This is JAX's scheme with ``jax_threefry_partitionable=True`` (the default since
JAX 0.5.0; ``jax/_src/random/threefry2x32.py``: ``_threefry_split_foldlike``,
``_threefry_random_bits_partitionable``, ``threefry_fold_in``), so the same key
gives the same bits as JAX.

The helpers here take a *key array* of any shape ``(*batch, 2)`` and return
``(*batch, *shape)`` results (one hash per key and counter, by broadcasting), so
the gamma sampler can draw from a key per element; the public functions accept a
single key and batch through ``vmap``, as JAX's do.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from functrans import lax
from functrans.core.avals import get_aval
from functrans.core.trace import Tracer
from functrans.numpy._util import Array

__all__ = ["key", "PRNGKey", "key_data", "wrap_key_data", "split", "fold_in", "bits",
           "clone", "key_impl"]

UINT32 = np.dtype(np.uint32)
KEY_SHAPE = (2,)
IMPL_NAME = "threefry2x32"
#: unsigned dtypes by width, for ``bits``
UINT_DTYPES = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16), 32: np.dtype(np.uint32),
               64: np.dtype(np.uint64)}


# ------------------------------------------------------------------ checking arguments

def _describe(x: Any) -> str:
    aval = get_aval(x)
    return aval.str_short()


def as_key_array(key: Any, fname: str) -> Array:
    """`key` as a uint32 array whose last axis holds the two key words."""
    if not isinstance(key, Tracer):
        key = np.asarray(key)
    aval = get_aval(key)
    if aval.dtype != UINT32 or aval.shape[-1:] != KEY_SHAPE:
        raise TypeError(f"functrans.random.{fname}: key must be a uint32 array of shape (2,) "
                        f"as random.key and random.PRNGKey return (or (..., 2) for a batch "
                        f"of keys), got {_describe(key)}")
    return key


def single_key(key: Any, fname: str) -> Array:
    """`key` checked to be one key, shape ``(2,)``."""
    key = as_key_array(key, fname)
    shape = get_aval(key).shape
    if shape != KEY_SHAPE:
        raise ValueError(f"functrans.random.{fname} accepts a single key, but was given a key "
                         f"array of shape {shape} != (2,). Use functrans.vmap for batching.")
    return key


def canonical_shape(shape: Any, fname: str, what: str = "shape") -> tuple[int, ...]:
    """`shape` (an int or a sequence of ints) as a tuple of non-negative ints."""
    try:
        dims = (operator.index(shape),) if not isinstance(shape, Sequence) else \
            tuple(operator.index(d) for d in shape)
    except TypeError:
        raise TypeError(f"functrans.random.{fname}: {what} must be a tuple of non-negative "
                        f"integers, got {shape!r}") from None
    if any(d < 0 for d in dims):
        raise ValueError(f"functrans.random.{fname}: {what} must be a tuple of non-negative "
                         f"integers, got {shape!r}")
    return dims


# ------------------------------------------------------------------ the hash of counters

def iota_2x32(shape: tuple[int, ...]) -> tuple[Array, Array]:
    """The row-major index of each position of `shape` as a 64-bit counter, split
    into its high and low uint32 words (JAX's ``prng.iota_2x32_shape``)."""
    if not shape:
        zero = np.zeros((), UINT32)
        return zero, zero
    counts = lax.reshape(lax.iota(np.uint64, math.prod(shape)), shape)
    high = lax.convert_element_type(lax.shift_right_logical(counts, 32), UINT32)
    return high, lax.convert_element_type(counts, UINT32)  # conversion keeps the low word


def key_words(keys: Array, ndim: int) -> tuple[Array, Array]:
    """The two words of each key, shaped to broadcast against `ndim` trailing axes."""
    batch = get_aval(keys).shape[:-1]
    words = []
    for i in range(2):
        word = lax.index_in_dim(keys, i, axis=-1, keepdims=False)
        words.append(lax.reshape(word, batch + (1,) * ndim))
    return words[0], words[1]


def hash_counters(keys: Array, shape: tuple[int, ...]) -> list[Array]:
    """Threefry of the counters of `shape` under each key: two uint32 arrays of
    shape ``(*batch, *shape)``."""
    high, low = iota_2x32(shape)
    key1, key2 = key_words(keys, len(shape))
    return lax.threefry2x32(key1, key2, high, low)


def random_bits(keys: Array, bit_width: int, shape: tuple[int, ...]) -> Array:
    """Uniform random bits, ``(*batch, *shape)`` of unsigned dtype `bit_width`."""
    bits1, bits2 = hash_counters(keys, shape)
    dtype = UINT_DTYPES[bit_width]
    if bit_width == 64:
        high = lax.convert_element_type(bits1, dtype)
        low = lax.convert_element_type(bits2, dtype)
        return lax.bitwise_or(lax.shift_left(high, 32), low)
    mixed = lax.bitwise_xor(bits1, bits2)
    return mixed if bit_width == 32 else lax.convert_element_type(mixed, dtype)


def split_keys(keys: Array, shape: tuple[int, ...]) -> Array:
    """New keys ``(*batch, *shape, 2)``: the two hash words of each counter."""
    bits1, bits2 = hash_counters(keys, shape)
    ndim = get_aval(bits1).ndim
    return lax.concatenate([lax.expand_dims(bits1, (ndim,)), lax.expand_dims(bits2, (ndim,))],
                           ndim)


def split2(keys: Array) -> tuple[Array, Array]:
    """``split(keys, 2)`` unpacked into its two keys (JAX's ``key, subkey = split(key)``)."""
    pair = split_keys(keys, (2,))
    axis = get_aval(pair).ndim - 2
    return (lax.index_in_dim(pair, 0, axis, keepdims=False),
            lax.index_in_dim(pair, 1, axis, keepdims=False))


# ------------------------------------------------------------------ making keys

def _check_seed(seed: Any, fname: str) -> Array:
    if isinstance(seed, bool) or isinstance(seed, np.bool_):
        raise TypeError(f"functrans.random.{fname}: the seed must be an integer, got {seed!r}")
    if isinstance(seed, int):
        if not -2**63 <= seed < 2**63:
            raise OverflowError(f"functrans.random.{fname}: the seed {seed} does not fit a "
                                "64-bit signed integer (seeds are read as int64, as JAX does)")
        return np.asarray(seed, np.int64)
    if not isinstance(seed, Tracer):
        seed = np.asarray(seed)
    aval = get_aval(seed)
    if aval.shape != ():
        raise TypeError(f"functrans.random.{fname} accepts a scalar seed, but was given an "
                        f"array of shape {aval.shape} != (). Use functrans.vmap for batching.")
    if aval.dtype.kind not in "iu":
        raise TypeError(f"functrans.random.{fname}: the seed must be an integer, got "
                        f"{_describe(seed)}")
    return seed


def _seed_to_key(seed: Array) -> Array:
    """The key of a seed: its 64 bits as two 32-bit words, high word first. Seeds of
    32 bits or fewer have a zero high word (JAX's ``threefry_seed``)."""
    dtype = get_aval(seed).dtype
    if dtype.itemsize == 8:
        high = lax.convert_element_type(lax.shift_right_logical(seed, 32), UINT32)
    else:
        high = np.zeros((), UINT32)
    low = lax.convert_element_type(seed, UINT32)  # two's complement, modulo 2**32
    return lax.concatenate([lax.reshape(high, (1,)), lax.reshape(low, (1,))], 0)


def _check_impl(impl: Any, fname: str) -> None:
    if impl not in (None, IMPL_NAME):
        raise ValueError(f"functrans.random.{fname}: unknown PRNG implementation {impl!r}; "
                         f"functrans has one, {IMPL_NAME!r} (JAX's default)")


def PRNGKey(seed: Any, *, impl: Any = None) -> Array:  # noqa: N802  (JAX's name)
    """A key from an integer seed, as ``jax.random.PRNGKey`` (a uint32 array of
    shape ``(2,)``: the seed's high and low 32-bit words).

    A Python int is read as int64, so ``PRNGKey(-1)`` is ``[2**32 - 1, 2**32 - 1]``;
    an integer array of 32 bits or fewer gives ``[0, seed mod 2**32]``, as in JAX
    (with ``jax_enable_x64``). Works under ``jit`` and ``vmap`` (a batch of seeds
    gives a batch of keys).
    """
    _check_impl(impl, "PRNGKey")
    return _seed_to_key(_check_seed(seed, "PRNGKey"))


def key(seed: Any, *, impl: Any = None, dtype: Any = None) -> Array:
    """A key from an integer seed, as ``jax.random.key``.

    Differs from JAX: JAX returns a *typed* key (a scalar of dtype ``key<fry>``);
    functrans has no key dtype, and returns the same uint32 array of shape
    ``(2,)`` as :func:`PRNGKey`. Every function of :mod:`functrans.random` takes it;
    code that indexes keys or reads their shape sees the trailing axis of 2.
    """
    if dtype is not None and impl is not None:
        raise ValueError("functrans.random.key: give impl or dtype, not both")
    _check_impl(impl if dtype is None else dtype, "key")
    return _seed_to_key(_check_seed(seed, "key"))


def key_data(keys: Any) -> Array:
    """The uint32 words of `keys` (shape ``(..., 2)``), as ``jax.random.key_data``:
    keys are already their data here, so this checks them and returns a copy."""
    keys = as_key_array(keys, "key_data")
    return keys if isinstance(keys, Tracer) else np.array(keys)


def wrap_key_data(key_bits_array: Any, *, impl: Any = None, dtype: Any = None) -> Array:
    """Keys from their uint32 words (shape ``(..., 2)``), as
    ``jax.random.wrap_key_data``: checks them and returns a copy."""
    _check_impl(impl if dtype is None else dtype, "wrap_key_data")
    keys = as_key_array(key_bits_array, "wrap_key_data")
    return keys if isinstance(keys, Tracer) else np.array(keys)


def key_impl(keys: Any) -> str:
    """The name of the PRNG implementation of `keys`: always ``'threefry2x32'``."""
    as_key_array(keys, "key_impl")
    return IMPL_NAME


def clone(key: Any) -> Array:
    """`key` itself (JAX's ``clone`` only matters to its key-reuse checker)."""
    return key_data(key)


# ------------------------------------------------------------------ split, fold_in, bits

def split(key: Any, num: int | Sequence[int] = 2) -> Array:
    """`num` new keys from `key` (shape ``(num, 2)``; a tuple `num` gives the shape
    ``(*num, 2)``), as ``jax.random.split``. ``split(key, n)[i]`` equals
    ``fold_in(key, i)``."""
    key = single_key(key, "split")
    return split_keys(key, canonical_shape(num, "split", "num"))


def fold_in(key: Any, data: Any) -> Array:
    """A new key from `key` and the 32-bit integer `data`, as ``jax.random.fold_in``
    (`data` is converted to uint32, modulo 2**32 for arrays)."""
    key = single_key(key, "fold_in")
    if isinstance(data, int) and not isinstance(data, bool):
        if not 0 <= data < 2**32:
            raise OverflowError(f"functrans.random.fold_in: data {data} does not fit uint32 "
                                "(0 <= data < 2**32)")
        data = np.asarray(data, UINT32)
    elif not isinstance(data, Tracer):
        data = np.asarray(data)
    aval = get_aval(data)
    if aval.shape != ():
        raise TypeError(f"functrans.random.fold_in accepts a scalar, but was given an array of "
                        f"shape {aval.shape} != (). Use functrans.vmap for batching.")
    if aval.dtype.kind not in "iu":
        raise TypeError(f"functrans.random.fold_in: data must be an integer, got "
                        f"{_describe(data)}")
    word = lax.convert_element_type(data, UINT32)
    key1, key2 = key_words(key, 0)
    bits1, bits2 = lax.threefry2x32(key1, key2, np.zeros((), UINT32), word)
    return lax.concatenate([lax.reshape(bits1, (1,)), lax.reshape(bits2, (1,))], 0)


def bits(key: Any, shape: Sequence[int] = (), dtype: Any = None) -> Array:
    """Uniform random bits as unsigned integers of `dtype` (default uint64, JAX's
    default with ``jax_enable_x64``), as ``jax.random.bits``."""
    key = single_key(key, "bits")
    dtype = np.dtype(np.uint64 if dtype is None else dtype)
    if dtype.kind != "u":
        raise ValueError(f"functrans.random.bits: dtype argument to `bits` must be an unsigned "
                         f"int dtype, got {dtype}")
    return random_bits(key, dtype.itemsize * 8, canonical_shape(shape, "bits"))
