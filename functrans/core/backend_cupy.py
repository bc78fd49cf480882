"""The CuPy backend's extensions to the Array API (see :mod:`functrans.core.backend`).

CuPy runs on the GPU. Special functions come from ``cupyx.scipy.special`` (the
same names as SciPy's); primitives with neither an Array API equivalent nor a
rule here raise a TypeError naming the primitive (docs/backends.md lists them):
functrans never copies device arrays to the host behind the caller's back.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

from functrans.core.backend_rules import (
    SCIPY_SPECIAL_NAMES,
    inverse_permutation,
    reversible_cumulative,
    special_rules,
    wrapped_index,
)

NAME = "cupy"


def _cupyx_special() -> Any:
    # cupyx.scipy.special is a submodule CuPy does not import by itself; importing it
    # at functrans' import time would import CuPy (and look for CUDA) for every user
    return importlib.import_module("cupyx.scipy.special")


def _cbrt(xp: Any, x: Any) -> Any:
    return importlib.import_module("cupy").cbrt(x)


def _cupy() -> Any:
    return importlib.import_module("cupy")


def _cupyx() -> Any:
    return importlib.import_module("cupyx")


def _complex(xp: Any, x: Any, y: Any) -> Any:
    return x + 1j * y  # complex64 from float32 (the backend casts to the shape rule's dtype)


def _lu(xp: Any, x: Any) -> list[Any]:
    """LAPACK's packed LU (cuSOLVER getrf, ``cupyx.scipy.linalg.lu_factor``, one matrix
    per call), its 0-based row swaps and the permutation they make."""
    cupy = _cupy()
    lu_factor = importlib.import_module("cupyx.scipy.linalg").lu_factor
    m = x.shape[-2]
    batch = x.shape[:-2]
    matrices = x.reshape((-1,) + x.shape[-2:])
    packed = cupy.empty_like(matrices)
    pivots = cupy.empty((matrices.shape[0], min(x.shape[-2:])), cupy.int32)
    for i in range(matrices.shape[0]):  # cupyx's lu_factor takes one matrix
        packed[i], pivots[i] = lu_factor(matrices[i], check_finite=False)
    permutation = cupy.tile(cupy.arange(m, dtype=cupy.int32), (matrices.shape[0], 1))
    rows = cupy.arange(matrices.shape[0])
    for i in range(pivots.shape[1]):  # the swaps are sequential: one step per pivot
        j = pivots[:, i]
        at_i = permutation[:, i].copy()
        permutation[:, i] = permutation[rows, j]
        permutation[rows, j] = at_i
    return [packed.reshape(x.shape), pivots.reshape(batch + pivots.shape[-1:]),
            permutation.reshape(batch + (m,))]


def _scatter(name: str, combine: str | None) -> Callable[..., Any]:
    """A scatter (``functrans.primitives.indexing``) with cupyx's unbuffered
    ``scatter_add``/``scatter_min``/``scatter_max`` (repeated positions combine, as
    ``ufunc.at``); ``combine=None``: set, the last write in batch order kept."""
    def rule(xp: Any, operand: Any, indices: Any, updates: Any, *, axes: tuple[int, ...]
             ) -> Any:
        cupy = _cupy()
        rest = tuple(a for a in range(operand.ndim) if a not in axes)
        target = cupy.ascontiguousarray(cupy.transpose(operand, tuple(axes) + rest))
        columns = []
        for j, axis in enumerate(axes):
            column = indices[..., j].astype(cupy.int64)
            columns.append(wrapped_index(name, column, axis, operand.shape[axis], cupy.where))
        where = tuple(columns)
        if combine is None:  # the last write wins: the largest batch order per position
            position = cupy.ravel_multi_index(tuple(c.ravel() for c in columns),
                                              target.shape[:len(axes)])
            order = cupy.arange(position.size)
            last = cupy.full(math.prod(target.shape[:len(axes)]), -1, order.dtype)
            _cupyx().scatter_max(last, position, order)
            kept = last[position] == order
            flat_updates = updates.reshape((position.size,) + target.shape[len(axes):])
            target[tuple(c.ravel()[kept] for c in columns)] = flat_updates[kept]
        else:
            getattr(_cupyx(), combine)(target, where, updates)
        return cupy.transpose(target, tuple(inverse_permutation(tuple(axes) + rest)))
    rule.__name__ = f"cupyx_{name}"
    return rule


def _cumulative(name: str) -> Callable[..., Any]:
    """A cumulative sum or product along `axis`, from the end when `reverse`."""
    def rule(xp: Any, x: Any, *, axis: int, reverse: bool) -> Any:
        cupy = _cupy()
        return reversible_cumulative(
            x, reverse, lambda a: cupy.flip(a, axis),
            lambda a: getattr(cupy, name)(a, axis=axis, dtype=a.dtype))
    rule.__name__ = f"cupy_{name}"
    return rule


def _scatter_add_along_axis(xp: Any, updates: Any, indices: Any, *, axis: int,
                            shape: tuple[int, ...], unique_indices: bool) -> Any:
    cupy = _cupy()
    out = cupy.zeros(shape, updates.dtype)
    where = list(cupy.ogrid[tuple(slice(n) for n in indices.shape)])
    where[axis] = indices
    _cupyx().scatter_add(out, tuple(where), updates)
    return out


#: primitive name -> rule ``(xp, *operands, **params)``: scipy.special's function of the
#: same meaning, from cupyx.scipy.special; CuPy's own where the Array API has none
RULES: dict[str, Callable[..., Any]] = {
    **special_rules(_cupyx_special, SCIPY_SPECIAL_NAMES, "cupyx_special"),
    "cbrt": _cbrt,
    "complex": _complex,
    "lu": _lu,
    "scatter_add": _scatter("scatter_add", "scatter_add"),
    "scatter_min": _scatter("scatter_min", "scatter_min"),
    "scatter_max": _scatter("scatter_max", "scatter_max"),
    "scatter": _scatter("scatter", None),
    "scatter_add_along_axis": _scatter_add_along_axis,
    "cumsum": _cumulative("cumsum"),
    "cumprod": _cumulative("cumprod"),
}
