"""The jit compiler: optimisation passes on jaxprs, then generation of straight-line
NumPy code (see :mod:`functrans.compile.passes` and :mod:`functrans.compile.codegen`)."""

from __future__ import annotations

import weakref

from functrans.compile.codegen import CompiledJaxpr, generate
from functrans.compile.passes import optimize
from functrans.core.ir import ClosedJaxpr
from functrans.core.trace import gc_paused

__all__ = ["compile_jaxpr", "compiled_if_cached", "optimize", "generate", "CompiledJaxpr"]

# one compiled function per closed jaxpr, dropped with the jaxpr
_compiled: weakref.WeakKeyDictionary[ClosedJaxpr, CompiledJaxpr] = weakref.WeakKeyDictionary()


def compile_jaxpr(closed: ClosedJaxpr, name: str = "jitted") -> CompiledJaxpr:
    """Optimise `closed` and generate its NumPy code, once per jaxpr object."""
    compiled = _compiled.get(closed)
    if compiled is None:
        with gc_paused():  # the passes build a graph as large as the jaxpr
            compiled = _compiled[closed] = generate(optimize(closed), name)
    return compiled


def compiled_if_cached(closed: ClosedJaxpr) -> CompiledJaxpr | None:
    return _compiled.get(closed)
