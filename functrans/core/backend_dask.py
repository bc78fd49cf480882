"""The Dask backend's extensions to the Array API (see :mod:`functrans.core.backend`).

Dask arrays are lazy: every primitive adds tasks to the graph and nothing is
computed until the caller asks (``.compute()``, or a ``dask.distributed`` client).
Primitives with an Array API equivalent (elementwise functions, matmul, reductions,
reshapes, transposes, broadcasts, concatenation, selection, slicing) keep the
chunking. The others run their NumPy implementation lazily (:func:`fallback`):
an elementwise one block by block (the chunks survive), any other one as a single
task on the whole operands (correct, but one worker holds them whole).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

NAME = "dask"

#: primitive name -> rule ``(xp, *operands, **params)``; Dask needs none beyond the
#: Array API and the fallback
RULES: dict[str, Callable[..., Any]] = {}


class _Namespace:
    """Dask's Array API namespace, with a reshape that also takes shapes Dask's own
    reshape refuses across chunk boundaries (it merges the chunks of those axes first)."""

    def __init__(self, xp: Any):
        self._xp = xp
        self.__name__ = xp.__name__

    def __getattr__(self, name: str) -> Any:
        return getattr(self._xp, name)

    def reshape(self, x: Any, shape: Any, **kwargs: Any) -> Any:
        try:
            return self._xp.reshape(x, shape, **kwargs)
        except NotImplementedError:  # sizes that do not split or merge chunks evenly
            return self._xp.reshape(x.rechunk(-1), shape, **kwargs)


def namespace(xp: Any) -> Any:
    """The namespace the Dask backend evaluates with."""
    return _Namespace(xp)


def _dask_array() -> Any:
    # dask.array is imported: the operands are Dask arrays
    return sys.modules["dask.array"]


def _dask() -> Any:
    return sys.modules["dask"]


def fallback(xp: Any, numpy_impl: Callable[..., Any], operands: list[Any], params: dict,
             out: Any, elementwise: bool) -> Any:
    """The NumPy implementation run lazily on the operands' blocks: blockwise for an
    elementwise primitive, otherwise one task on the whole operands (its results
    given their shapes and dtypes by the shape rule, `out`)."""
    da = _dask_array()
    if elementwise and not isinstance(out, list):
        def block(*blocks: Any) -> Any:
            return np.asarray(numpy_impl(*blocks, **params))
        # operands of one shape, chunked alike: block i of each meets block i of the others
        operands = [o.rechunk(operands[0].chunks) for o in operands]
        return da.map_blocks(block, *operands, dtype=out.dtype,
                             meta=np.empty((0,) * len(out.shape), out.dtype))
    task = _dask().delayed(_call_numpy(numpy_impl, params, out), pure=True)(*operands)
    if isinstance(out, list):
        return [da.from_delayed(task[i], a.shape, dtype=a.dtype) for i, a in enumerate(out)]
    return da.from_delayed(task, out.shape, dtype=out.dtype)


def _call_numpy(numpy_impl: Callable[..., Any], params: dict, out: Any
                ) -> Callable[..., Any]:
    """The implementation as a task, its results given the dtypes `out` promises (the
    array Dask was told it would compute)."""
    def run(*arrays: Any) -> Any:
        result = numpy_impl(*arrays, **params)
        if isinstance(out, list):
            return [_with_dtype(r, a.dtype) for r, a in zip(result, out)]
        return _with_dtype(result, out.dtype)
    run.__name__ = getattr(numpy_impl, "__name__", "functrans_impl")
    return run


def _with_dtype(result: Any, dtype: np.dtype) -> np.ndarray:
    result = np.asarray(result)
    if result.dtype == dtype:
        return result
    if result.dtype.kind == "c" and dtype.kind != "c":  # a real result computed as complex
        result = result.real
    return result.astype(dtype)
