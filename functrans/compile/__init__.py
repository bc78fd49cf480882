"""The jit compiler: optimisation passes on jaxprs, then generation of straight-line
NumPy code (see :mod:`functrans.compile.passes` and :mod:`functrans.compile.codegen`)."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from functrans.compile.codegen import CompiledJaxpr, generate
from functrans.compile.passes import optimize
from functrans.core.ir import ClosedJaxpr, Literal, Var
from functrans.core.trace import gc_paused

__all__ = ["compile_jaxpr", "compiled_if_cached", "code_for", "evaluate_jaxpr",
           "interpret_jaxpr", "optimize", "generate", "CompiledJaxpr"]

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


def interpret_jaxpr(closed: ClosedJaxpr, args: Sequence[Any]) -> list[Any]:
    """Evaluate a closed jaxpr equation by equation with the NumPy implementations
    (the caller makes the evaluation trace current)."""
    jaxpr = closed.jaxpr
    env: dict[Var, Any] = dict(zip(jaxpr.constvars, closed.consts))
    env.update(zip(jaxpr.invars, args))
    for eqn in jaxpr.eqns:
        invals = [a.val if type(a) is Literal else env[a] for a in eqn.invars]
        out = eqn.primitive.impl(*invals, **eqn.params)
        if eqn.primitive.multiple_results:
            env.update(zip(eqn.outvars, out))
        else:
            env[eqn.outvars[0]] = out
    return [a.val if type(a) is Literal else env[a] for a in jaxpr.outvars]


def code_for(closed: ClosedJaxpr, name: str = "jitted") -> CompiledJaxpr | None:
    """The compiled code of `closed`, or None the first time it is met.

    Jaxprs made by transformations (the known part of a linearized jit, a loop
    body under vmap) may be evaluated only once: those are interpreted on their
    first evaluation (`interpret_jaxpr`) and compiled from the second on."""
    compiled = _compiled.get(closed)
    if compiled is None:
        if closed not in _evaluated_once:
            _evaluated_once[closed] = None
            return None
        compiled = compile_jaxpr(closed, name)
    return compiled


_evaluated_once: weakref.WeakKeyDictionary[ClosedJaxpr, None] = weakref.WeakKeyDictionary()


def evaluate_jaxpr(closed: ClosedJaxpr, args: Sequence[Any], name: str = "jitted"
                   ) -> list[Any]:
    """Evaluate `closed` with NumPy: interpreted the first time, compiled after."""
    compiled = code_for(closed, name)
    if compiled is None:
        return interpret_jaxpr(closed, args)
    return compiled.fn(*args)
