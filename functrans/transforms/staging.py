"""Staging: record primitives as equations of a jaxpr instead of running them.

One trace class serves two purposes:

* ``stage_all=True`` (``make_jaxpr``, ``jit``): every primitive bound while
  the trace is current becomes an equation; constants become literals (scalars)
  or constvars.
* ``stage_all=False`` (partial evaluation, used by ``linearize``): only
  primitives with at least one staged input are recorded; the rest are *known*
  and run in the parent trace right away. Known values used by staged equations
  become constvars: they are the residuals of the linearization.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from functrans import dtypes, errors
from functrans.config import config
from functrans.core import trace as core_trace
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.backend import foreign_backend
from functrans.core.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var, typecheck_jaxpr
from functrans.core.trace import Trace, Tracer
from functrans.transforms.api_util import FlatFun, fun_name, partial_static
from functrans.tree_util import (
    PyTreeDef,
    keystr,
    tree_flatten,
    tree_flatten_with_path,
    tree_unflatten,
)


class StagedTracer(Tracer):
    __slots__ = ("_var",)

    def __init__(self, trace: JaxprTrace, var: Var):
        self._trace = trace
        self._var = var

    @property
    def aval(self) -> ShapedArray:
        return self._var.aval

    def _trace_context(self) -> str:
        return self._trace.context()


class JaxprTrace(Trace):
    def __init__(self, parent: Trace, stage_all: bool, name: str = "function",
                 purpose: str = "jit"):
        self.parent = parent
        self.stage_all = self.stages_constants = stage_all
        self.name = name
        self.purpose = purpose
        self.eqns: list[JaxprEqn] = []
        self.const_vars: dict[int, Var] = {}
        self.consts: list[Any] = []

    def describe(self) -> str:
        return f"{self.purpose} of {self.name}" if self.stage_all else "linearize"

    def context(self) -> str:
        return (f"The problem arose while tracing the function '{self.name}' for "
                f"{self.purpose}.\n")

    def new_arg(self, aval: ShapedArray) -> StagedTracer:
        return StagedTracer(self, Var(aval))

    def get_atom(self, x: Any) -> Var | Literal:
        if type(x) is StagedTracer and x._trace is self:
            return x._var
        if type(x) is np.ndarray and x.ndim:  # the common constant: a residual array
            var = self.const_vars.get(id(x))
            if var is None:
                var = self.const_vars[id(x)] = Var(ShapedArray(x.shape, x.dtype))
                self.consts.append(x)
            return var
        if isinstance(x, Tracer):
            self._check_foreign(x)
        elif _is_literal(x):
            return Literal(x)
        var = self.const_vars.get(id(x))
        if var is None:
            aval = get_aval(x)
            var = self.const_vars[id(x)] = Var(aval.strip_weak_type() if not
                                               dtypes.is_python_scalar(x) else aval)
            self.consts.append(x)
        return var

    def _check_foreign(self, x: Tracer) -> None:
        if not x._trace.alive or not x._trace.is_ancestor_of(self):
            raise errors.UnexpectedTracerError(
                x.describe(), f"while tracing '{self.name}' for {self.purpose}")

    def process_primitive(self, primitive, args, params):
        if not self.stage_all:
            for x in args:
                if type(x) is StagedTracer and x._trace is self:
                    break
            else:  # nothing unknown: evaluate now, in the parent
                return self.parent.process_primitive(primitive, args, params)
            if primitive.partial_eval is not None:
                return primitive.partial_eval(self, args, params)
        return self.stage(primitive, args, params)

    def stage(self, primitive, args: Sequence[Any], params: dict,
              out_avals: Any = None) -> Any:
        invars = [x._var if type(x) is StagedTracer and x._trace is self else self.get_atom(x)
                  for x in args]
        if out_avals is None:
            out_avals = primitive.abstract_eval(*[v.aval for v in invars], **params)
        if primitive.multiple_results:
            outvars = [Var(a) for a in out_avals]
            self.eqns.append(JaxprEqn(primitive, invars, params, outvars))
            return [StagedTracer(self, v) for v in outvars]
        outvar = Var(out_avals)
        self.eqns.append(JaxprEqn(primitive, invars, params, [outvar]))
        return StagedTracer(self, outvar)

    def to_jaxpr(self, in_tracers: Sequence[StagedTracer], outs: Sequence[Any]
                 ) -> ClosedJaxpr:
        invars = [t._var for t in in_tracers]
        outvars = [self.get_atom(o) for o in outs]
        constvars = [self.const_vars[id(c)] for c in self.consts]
        jaxpr = Jaxpr(constvars, invars, outvars, self.eqns)
        if config.check_jaxprs:
            typecheck_jaxpr(jaxpr)
        return ClosedJaxpr(jaxpr, self.consts)


def _is_literal(x: Any) -> bool:
    if dtypes.is_python_scalar(x):
        return True
    return isinstance(x, np.generic) or (type(x) is np.ndarray and x.ndim == 0)


def trace_to_jaxpr(f: Callable[..., Sequence[Any]], in_avals: Sequence[ShapedArray],
                   name: str = "function", purpose: str = "jit") -> ClosedJaxpr:
    """Stage out `f` (a function of flat arrays returning a flat list) at `in_avals`.

    Constants the function closes over become constvars; if some are tracers of
    an enclosing transformation they stay in ``consts`` (see
    :func:`hoist_tracer_consts`).
    """
    trace = JaxprTrace(core_trace.get_current_trace(), stage_all=True, name=name,
                       purpose=purpose)
    in_tracers = [trace.new_arg(a) for a in in_avals]
    with core_trace.gc_paused(), core_trace.new_trace(trace):
        outs = f(*in_tracers)
    return trace.to_jaxpr(in_tracers, outs)


def hoist_tracer_consts(closed: ClosedJaxpr) -> tuple[ClosedJaxpr, list[Any]]:
    """Turn constvars bound to tracers into leading invars; returns the new jaxpr
    and the tracers to pass as its first arguments."""
    jaxpr = closed.jaxpr
    is_tracer = [isinstance(c, Tracer) for c in closed.consts]
    if not any(is_tracer):
        return closed, []
    keep = [(v, c) for v, c, t in zip(jaxpr.constvars, closed.consts, is_tracer) if not t]
    hoisted = [(v, c) for v, c, t in zip(jaxpr.constvars, closed.consts, is_tracer) if t]
    new = Jaxpr([v for v, _ in keep], [v for v, _ in hoisted] + jaxpr.invars,
                jaxpr.outvars, jaxpr.eqns)
    return ClosedJaxpr(new, [c for _, c in keep]), [c for _, c in hoisted]


# ------------------------------------------------------------------ traced arguments

def argument_avals(flat: Sequence[Any], fname: str, labels: Callable[[], list[str]]
                   ) -> tuple[ShapedArray, ...]:
    """The avals `jit`/`make_jaxpr` trace the flat arguments at: a Python scalar
    weakly typed (an int as int64, as in JAX), arrays and tracers as they are.
    Anything else raises here, at the boundary, a TypeError (OverflowError for an
    int beyond int64) naming `fname`, the argument (``labels()[i]``, computed only
    then) and what would work, rather than somewhere inside NumPy later."""
    avals = []
    for x in flat:
        problem = _untraceable(x)
        if problem is not None:
            error, what = problem
            raise error(f"{fname}: {labels()[len(avals)]} {what}")
        avals.append(get_aval(x))
    return tuple(avals)


def _untraceable(x: Any) -> tuple[type[Exception], str] | None:
    """Why `x` cannot be a traced argument (the error type and the reason), or None."""
    t = type(x)
    if t is np.ndarray or isinstance(x, (np.ndarray, np.generic)):
        return None if dtypes.is_supported(x.dtype) else (TypeError, _dtype_problem(x))
    if t is int:
        return None if dtypes.fits_int64(x) else (OverflowError, _int_problem(x))
    if t in (bool, float, complex) or isinstance(x, Tracer):
        return None
    if foreign_backend(x) is not None:  # Dask, CuPy, torch...: see functrans.core.backend
        return None if dtypes.is_supported(get_aval(x).dtype) else (TypeError,
                                                                    _dtype_problem(x))
    text = repr(x)
    text = text if len(text) < 60 else text[:57] + "..."
    return TypeError, (f"is a {t.__name__} ({text}), not an array: traced arguments are "
                       "NumPy arrays, NumPy and Python scalars, and pytrees (tuples, lists, "
                       "dicts, None) of them; pass other values as static arguments "
                       "(static_argnums)")


def _int_problem(x: int) -> str:
    size, unsigned = ("large", "np.uint64(x) if it is below 2**64, ") if x > 0 else ("small", "")
    return (f"is the Python int {x}: too {size} to convert to int64 (a Python int is traced "
            f"as a weakly-typed int64, as in JAX). Pass {unsigned}float(x) for an "
            "approximation, or make it a static argument (static_argnums) to compute with "
            "the exact Python int")


_DTYPE_HINTS = {
    "M": "Convert dates to numbers first, e.g. x.astype('datetime64[s]').astype(np.int64) "
         "(seconds since 1970).",
    "m": "Convert durations to numbers first, e.g. x.astype('timedelta64[s]').astype(np.int64) "
         "(seconds).",
    "O": "Object arrays come from ragged lists, Python objects or ints beyond 64 bits: "
         "build a numeric array, e.g. np.asarray(x, dtype=np.float64).",
    "U": "Strings cannot be traced: close over them, or pass them as static arguments "
         "(static_argnums; a tuple of str is hashable).",
    "V": "Pass the fields of a structured array as separate arrays (a dict of arrays is a "
         "pytree).",
}
_DTYPE_HINTS["S"] = _DTYPE_HINTS["U"]


def _dtype_problem(x: Any) -> str:
    what = "a NumPy scalar" if isinstance(x, np.generic) else "an array"
    return (f"is {what} of dtype {x.dtype}, which cannot be traced: functrans computes with "
            "boolean and numeric (int, uint, float, complex) dtypes only. "
            f"{_DTYPE_HINTS.get(x.dtype.kind, '')}").rstrip()


def argument_labels(fun: Callable[..., Any], in_tree: PyTreeDef, positions: Sequence[int]
                    ) -> list[str]:
    """How messages name each flat leaf of an ``(args, kwargs)`` tree: ``argument 4
    (step)``, ``argument 0 (params)['w']``, ``keyword argument 'lr'``. `positions[i]`
    is the position in the call of the i-th positional argument in the tree (static
    arguments are left out of it)."""
    names = parameter_names(fun)
    skeleton = tree_unflatten(in_tree, range(in_tree.num_leaves))
    labels = []
    for path, _ in tree_flatten_with_path(skeleton)[0]:
        part, key, rest = path[0], path[1], keystr(path[2:])
        if part == 0:
            labels.append(positional_label(positions[key], names) + rest)
        else:
            labels.append(f"keyword argument {key!r}{rest}")
    return labels


def positional_label(position: int, names: Sequence[str]) -> str:
    """``argument 4 (step)``: the position, and the parameter's name where known."""
    if position < len(names):
        return f"argument {position} ({names[position]})"
    return f"argument {position}"


def parameter_names(fun: Callable[..., Any]) -> list[str]:
    """The names of `fun`'s positional parameters, in order (empty where Python
    cannot tell: builtins, some callables)."""
    try:
        params = inspect.signature(fun).parameters.values()
    except (TypeError, ValueError):
        return []
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    names = []
    for p in params:
        if p.kind not in positional:
            break
        names.append(p.name)
    return names


class ShapeDtypeStruct:
    """A shape and a dtype standing for an array, as ``jax.ShapeDtypeStruct``: what
    `eval_shape` returns, and accepted wherever an argument's value is not needed."""

    __slots__ = ("shape", "dtype")

    def __init__(self, shape: Sequence[int], dtype: Any):
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)

    @property
    def aval(self) -> ShapedArray:
        return ShapedArray(self.shape, self.dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ShapeDtypeStruct) and self.shape == other.shape
                and self.dtype == other.dtype)

    def __hash__(self) -> int:
        return hash((self.shape, self.dtype))

    def __repr__(self) -> str:
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name})"


def eval_shape(fun: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The shapes and dtypes of ``fun(*args)`` (a pytree of ShapeDtypeStruct), found
    by tracing without computing anything, as ``jax.eval_shape``. Arguments may be
    arrays or ShapeDtypeStructs."""
    flat, in_tree = tree_flatten((args, kwargs))
    in_avals = [get_aval(x) for x in flat]
    flat_fun = FlatFun(fun, in_tree, fun_name(fun))
    closed = trace_to_jaxpr(flat_fun, in_avals, fun_name(fun), "eval_shape")
    return tree_unflatten(flat_fun.out_tree,
                          [ShapeDtypeStruct(a.shape, a.dtype) for a in closed.out_avals])


def make_jaxpr(fun: Callable[..., Any], static_argnums: int | Sequence[int] = ()
               ) -> Callable[..., ClosedJaxpr]:
    """``make_jaxpr(f)(*args)``: the jaxpr `f` stages out for arguments like `args`."""
    static = (static_argnums,) if isinstance(static_argnums, int) else tuple(static_argnums)

    def make(*args: Any, **kwargs: Any) -> ClosedJaxpr:
        f, dyn_args = partial_static(fun, args, static)
        flat, in_tree = tree_flatten((dyn_args, kwargs))
        nargs = len(args)
        static_pos = {s % nargs for s in static if -nargs <= s < nargs}
        positions = [i for i in range(nargs) if i not in static_pos]
        in_avals = argument_avals(flat, f"make_jaxpr of {fun_name(fun)}",
                                  lambda: argument_labels(fun, in_tree, positions))
        flat_fun = FlatFun(f, in_tree, fun_name(fun))
        return trace_to_jaxpr(flat_fun, in_avals, fun_name(fun), "make_jaxpr")

    make.__name__ = f"make_jaxpr({fun_name(fun)})"
    return make
