"""Running jaxprs with NumPy: the compiled-code cache and the calling convention.

Every higher-order primitive evaluates its jaxprs here, the same way: with the
evaluation trace current (primitives the generated code falls back to may bind)
and NumPy's floating-point warnings off (derivative rules evaluate both sides of
selects, ``log(x)`` where ``x`` may be 0; JAX never warns either).

A jaxpr is interpreted the first time it is evaluated and compiled from the
second time on: jaxprs that transformations make (the known part of a
linearized jit, a loop body under vmap) are often evaluated only once, and
compiling them would cost more than it saves.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

from functrans.compile.chunked import ChunkedCode
from functrans.compile.codegen import CompiledJaxpr, generate
from functrans.compile.passes import optimize
from functrans.core import trace as core_trace
from functrans.core.backend import Backend, backend_of
from functrans.core.ir import ClosedJaxpr, interpret_jaxpr
from functrans.core.trace import quietly

__all__ = ["compile_jaxpr", "compiled_if_cached", "evaluate_jaxpr", "run_compiled",
           "quietly"]

# per closed jaxpr: its compiled code, or _SEEN_ONCE after its first evaluation;
# dropped with the jaxpr
_SEEN_ONCE = object()
_code: weakref.WeakKeyDictionary[ClosedJaxpr, Any] = weakref.WeakKeyDictionary()
# per closed jaxpr: its code for each other array library, by backend name
_foreign_code: weakref.WeakKeyDictionary[ClosedJaxpr, dict[str, CompiledJaxpr]] = \
    weakref.WeakKeyDictionary()


def compile_jaxpr(closed: ClosedJaxpr, name: str = "jitted", backend: Backend | None = None
                  ) -> CompiledJaxpr:
    """Optimise `closed` and generate its NumPy code, once per jaxpr object; with a
    `backend`, its code for that array library, once per jaxpr and backend."""
    if backend is not None:
        return _compile_for(closed, name, backend)
    compiled = _code.get(closed)
    if compiled is None or compiled is _SEEN_ONCE:
        with core_trace.gc_paused():  # the passes build a graph as large as the jaxpr
            compiled = _code[closed] = generate(optimize(closed), name)
    return compiled


def compiled_if_cached(closed: ClosedJaxpr) -> CompiledJaxpr | None:
    compiled = _code.get(closed)
    return None if compiled is _SEEN_ONCE else compiled


def _compile_for(closed: ClosedJaxpr, name: str, backend: Backend) -> CompiledJaxpr:
    per_backend = _foreign_code.get(closed)
    if per_backend is None:
        per_backend = _foreign_code[closed] = {}
    compiled = per_backend.get(backend.name)
    if compiled is None:
        with core_trace.gc_paused():
            optimized = optimize(closed)
            compiled = generate(optimized, name, backend=backend)
        if hasattr(backend.extensions, "run_chunks"):  # Dask: one task per chunk
            compiled = CompiledJaxpr(ChunkedCode(optimized, compiled, backend),
                                     compiled.source, name, True, compiled.fresh_outputs)
        per_backend[backend.name] = compiled
    return compiled


def evaluate_jaxpr(closed: ClosedJaxpr, args: Sequence[Any], name: str = "jitted"
                   ) -> list[Any]:
    """Evaluate `closed` with NumPy, whatever trace is current: interpreted the first
    time, compiled after. Arrays of another library (Dask, CuPy, torch) among `args`
    are evaluated with that library, by code generated for it."""
    backend = backend_of(args)
    if backend is not None:
        return run_compiled(_compile_for(closed, name, backend), args)
    compiled = _code.get(closed)
    if compiled is None:
        _code[closed] = _SEEN_ONCE
        return _with_eval_trace(interpret_jaxpr, closed, args)
    if compiled is _SEEN_ONCE:
        compiled = compile_jaxpr(closed, name)
    return run_compiled(compiled, args)


def run_compiled(compiled: CompiledJaxpr, args: Sequence[Any]) -> list[Any]:
    """Call generated code the way evaluate_jaxpr does."""
    if not compiled.binds:  # no fallback that could bind: the trace does not matter
        return quietly(compiled.fn, args)
    return _with_eval_trace(lambda _, a: compiled.fn(*a), None, args)


def _with_eval_trace(run: Callable[[Any, Sequence[Any]], list[Any]], closed: Any,
                     args: Sequence[Any]) -> list[Any]:
    token = core_trace.set_current_trace(core_trace.eval_trace)
    try:
        return quietly(lambda *a: run(closed, a), args)
    finally:
        core_trace.reset_current_trace(token)
