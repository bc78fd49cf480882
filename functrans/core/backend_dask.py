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

import functools
import operator
import sys
import uuid
from collections.abc import Callable, Sequence
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


# ------------------------------------------------------------------ chunk by chunk

#: how many partial sums one task of the tree adds
SUM_FAN_IN = 4


def chunk_layout(args: Sequence[Any]) -> tuple[tuple[int | None, ...], tuple[int, ...]] | None:
    """The axis along which each argument is chunked (None: one chunk, or not a Dask
    array) and the chunks' sizes, when the Dask arguments are chunked along one axis
    each, all alike; otherwise None."""
    da = sys.modules.get("dask.array")
    if da is None:
        return None
    in_axes: list[int | None] = []
    chunks = None
    for a in args:
        if not isinstance(a, da.Array):
            in_axes.append(None)
            continue
        split = [d for d, c in enumerate(a.chunks) if len(c) > 1]
        if len(split) > 1 or any(s != s for c in a.chunks for s in c):  # nan: unknown
            return None
        if not split:
            in_axes.append(None)
            continue
        sizes = tuple(a.chunks[split[0]])
        if chunks is not None and sizes != chunks:
            return None
        chunks = sizes
        in_axes.append(split[0])
    return None if chunks is None else (tuple(in_axes), chunks)


def _block_key(a: Any, axis: int | None, i: int) -> tuple:
    return (a.name,) + tuple(i if d == axis else 0 for d in range(a.ndim))


def run_chunks(codes: dict[int, Any], args: Sequence[Any], in_axes: Sequence[int | None],
               chunks: Sequence[int], placements: Sequence[Any], avals: Sequence[Any]
               ) -> list[Any]:
    """Dask arrays of the results of one task per chunk: ``codes[rows]`` (a chunk's
    compiled code) on each chunk's blocks of the chunked arguments and the others
    whole. A result placed on an axis is chunked like the inputs along it; a result
    placed ``"partial"`` is each chunk's share of a sum, added in a tree."""
    da = _dask_array()
    token = uuid.uuid4().hex
    name = f"functrans-chunk-{token}"
    tasks: dict[Any, Any] = {}
    dependencies = []
    code_keys = {}
    for rows, code in codes.items():  # shipped once to each worker, not once per task
        code_keys[rows] = f"functrans-code-{rows}-{token}"
        tasks[code_keys[rows]] = code
    whole = []
    for i, (a, axis) in enumerate(zip(args, in_axes)):
        if isinstance(a, da.Array):
            dependencies.append(a)
            whole.append(None if axis is not None else _block_key(a, None, 0))
        elif isinstance(a, np.ndarray):
            whole.append(f"functrans-arg{i}-{token}")
            tasks[whole[-1]] = a
        else:
            whole.append(a)
    for i, rows in enumerate(chunks):
        operands = [_block_key(a, axis, i) if axis is not None else w
                    for a, axis, w in zip(args, in_axes, whole)]
        tasks[(name, i)] = (_run_chunk, code_keys[rows], *operands)
    graph = _dask().highlevelgraph.HighLevelGraph.from_collections(name, tasks, dependencies)
    partial = [j for j, p in enumerate(placements) if p == "partial"]
    root = _sum_tree(tasks, name, len(chunks), partial, token) if partial else None
    results = []
    for j, (where, aval) in enumerate(zip(placements, avals)):
        if where == "partial":
            out = {(f"functrans-out{j}-{token}",) + (0,) * len(aval.shape): (
                functools.partial(_as_array, dtype=aval.dtype), root, partial.index(j))}
            out_chunks = tuple((s,) for s in aval.shape)
        else:
            out = {(f"functrans-out{j}-{token}",) + tuple(
                i if d == where else 0 for d in range(len(aval.shape))):
                (operator.getitem, (name, i), j) for i in range(len(chunks))}
            out_chunks = tuple(tuple(chunks) if d == where else (s,)
                               for d, s in enumerate(aval.shape))
        results.append(_array_of(graph, name, f"functrans-out{j}-{token}", out, out_chunks,
                                 aval.dtype))
    return results


def _sum_tree(tasks: dict, name: str, n_chunks: int, partial: list[int], token: str) -> Any:
    """Add the chunks' shares of the partial results in a tree of SUM_FAN_IN-way sums;
    the key of the root (a list, one sum per partial result)."""
    level: list[Any] = [(name, i) for i in range(n_chunks)]
    positions = tuple(partial)
    depth = 0
    while depth == 0 or len(level) > 1:
        total = functools.partial(_sum_parts, positions=positions)
        new_level = []
        for g in range(0, len(level), SUM_FAN_IN):
            key = (name, depth + 1, g // SUM_FAN_IN)  # below: the chunks, (name, i)
            tasks[key] = (total, level[g:g + SUM_FAN_IN])
            new_level.append(key)
        level = new_level
        positions = tuple(range(len(partial)))
        depth += 1
    return level[0]


def _array_of(graph: Any, name: str, out_name: str, tasks: dict, chunks: tuple,
              dtype: np.dtype) -> Any:
    hlg = _dask().highlevelgraph.HighLevelGraph
    layers = dict(graph.layers)
    layers[out_name] = tasks
    dependencies = dict(graph.dependencies)
    dependencies[out_name] = {name}
    return _dask_array().Array(hlg(layers, dependencies), out_name, chunks, dtype=dtype,
                               meta=np.empty((0,) * len(chunks), dtype))


def _run_chunk(code: Any, *arrays: Any) -> list[Any]:
    with np.errstate(all="ignore"):  # as generated code always runs: see compile.runtime
        return code(*arrays)


def _sum_parts(parts: list[list[Any]], positions: tuple[int, ...]) -> list[Any]:
    return [functools.reduce(operator.add, (p[j] for p in parts)) for j in positions]


def _as_array(sums: list[Any], j: int, dtype: np.dtype) -> np.ndarray:
    return np.asarray(sums[j], dtype)
