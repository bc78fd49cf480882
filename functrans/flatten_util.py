"""``ravel_pytree``: a pytree of arrays as one flat vector, and the way back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans import lax
from functrans.dtypes import result_type
from functrans.numpy._util import shape_of
from functrans.tree_util import tree_flatten, tree_unflatten

__all__ = ["ravel_pytree"]


def ravel_pytree(pytree: Any) -> tuple[Any, Callable[[Any], Any]]:
    """The leaves of `pytree` raveled and concatenated into one 1-D array, and
    ``unravel`` mapping such a vector back to a pytree like `pytree`.

    As in JAX, the vector has the promoted dtype of all the leaves and ``unravel``
    casts each piece back to its leaf's dtype; both work under jit, grad and
    vmap. An empty pytree ravels to a float64 vector of size 0 (JAX: float32,
    this library's default float being float64)."""
    leaves, treedef = tree_flatten(pytree)
    shapes = [tuple(shape_of(leaf)) for leaf in leaves]
    dtypes = [np.dtype(result_type(leaf)) for leaf in leaves]
    flat_dtype = np.dtype(result_type(*leaves)) if leaves else np.dtype(np.float64)
    sizes = [int(np.prod(shape, dtype=np.int64)) for shape in shapes]
    if leaves:
        flat = fnp.concatenate([lax.convert_element_type(fnp.ravel(leaf), flat_dtype)
                                for leaf in leaves])
    else:
        flat = np.zeros(0, flat_dtype)
    total = sum(sizes)

    def unravel(vector: Any) -> Any:
        if tuple(shape_of(vector)) != (total,):
            raise ValueError(f"ravel_pytree's unravel: expected a vector of shape ({total},) "
                             f"(the size of the raveled pytree), got shape "
                             f"{tuple(shape_of(vector))}")
        vector_dtype = np.dtype(result_type(vector))
        if vector_dtype != flat_dtype:
            raise TypeError(f"ravel_pytree's unravel: expected a vector of dtype {flat_dtype} "
                            f"(the dtype ravel_pytree returned), got {vector_dtype}; cast it "
                            f"with .astype({flat_dtype}) first")
        pieces, start = [], 0
        for shape, dtype, size in zip(shapes, dtypes, sizes):
            piece = fnp.reshape(vector[start:start + size], shape)
            pieces.append(lax.convert_element_type(piece, dtype))
            start += size
        return tree_unflatten(treedef, pieces)

    return flat, unravel


def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
