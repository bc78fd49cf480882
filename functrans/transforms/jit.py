"""``jit``: stage a function out to a jaxpr once per input signature, then run it.

A jitted call is itself a primitive, ``jit``, whose parameter is the closed
jaxpr. Its rules transform the jaxpr (JVP, partial evaluation, transposition,
batching) and bind ``jit`` again, so ``grad(jit(f))``, ``jit(grad(f))``,
``vmap(jit(f))`` and nested jits all keep their staged structure.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np

from functrans.compile import CompiledJaxpr, code_for, compile_jaxpr, interpret_jaxpr
from functrans.core import trace as core_trace
from functrans.core.avals import get_aval
from functrans.core.ir import ClosedJaxpr, JaxprEqn, Var
from functrans.core.primitive import Primitive
from functrans.core.trace import Tracer
from functrans.core.zeros import UndefinedPrimal, Zero
from functrans.primitives.tangent_space import instantiate_zeros
from functrans.transforms.api_util import FlatFun, flatten_args, fun_name, outputs, to_output
from functrans.transforms.jvp import jvp_jaxpr
from functrans.transforms.partial_eval import dce_jaxpr, partial_eval_jaxpr
from functrans.transforms.staging import (
    JaxprTrace,
    StagedTracer,
    hoist_tracer_consts,
    trace_to_jaxpr,
)
from functrans.transforms.transpose import transpose_jaxpr
from functrans.transforms.vmap import batch_jaxpr
from functrans.tree_util import PyTreeDef, tree_unflatten

_current = core_trace._current_trace

jit_p = Primitive("jit", multiple_results=True)


def run_jaxpr(closed: ClosedJaxpr, args: Sequence[Any]) -> list[Any]:
    """Evaluate a closed jaxpr by calling each primitive's NumPy implementation."""
    return interpret_jaxpr(closed, args)


def _jit_impl(*args: Any, jaxpr: ClosedJaxpr, name: str) -> list[Any]:
    compiled = code_for(jaxpr, name)
    return run_compiled(_Interpreted(jaxpr) if compiled is None else compiled, args)


class _Interpreted:
    """A jaxpr run equation by equation, with the interface of compiled code."""

    binds = True

    def __init__(self, closed: ClosedJaxpr):
        self.fn = lambda *args: run_jaxpr(closed, args)


def _ignore_fp_errors() -> tuple[Any, Any]:
    """NumPy's error state is a context variable; setting it to a prepared 'ignore
    all' value directly costs a tenth of entering ``np.errstate``."""
    try:
        from numpy._core._ufunc_config import _extobj_contextvar as var
    except ImportError:
        return None, None
    with np.errstate(all="ignore"):
        return var, var.get()


_errstate_var, _ignore_all = _ignore_fp_errors()


def run_compiled(compiled: CompiledJaxpr | _Interpreted, args: Sequence[Any]) -> list[Any]:
    """Call generated code with the evaluation trace current (primitives it falls
    back to may bind) and NumPy's floating-point warnings off, as eager jit does."""
    if not compiled.binds:  # no fallback that could bind: the trace does not matter
        return _quietly(compiled.fn, args)
    token = _current.set(core_trace.eval_trace)
    try:
        return _quietly(compiled.fn, args)
    finally:
        _current.reset(token)


def _quietly(fn: Callable[..., list[Any]], args: Sequence[Any]) -> list[Any]:
    """``fn(*args)`` with NumPy's floating-point warnings off."""
    if _errstate_var is None:
        with np.errstate(all="ignore"):
            return fn(*args)
    err_token = _errstate_var.set(_ignore_all)
    try:
        return fn(*args)
    finally:
        _errstate_var.reset(err_token)


def _jit_abstract_eval(*avals: Any, jaxpr: ClosedJaxpr, name: str) -> list[Any]:
    return [a.strip_weak_type() for a in jaxpr.out_avals]


def _jit_jvp(primals, tangents, *, jaxpr: ClosedJaxpr, name: str):
    nonzeros = [type(t) is not Zero for t in tangents]
    jvp_closed, out_nonzeros = jvp_jaxpr(jaxpr, nonzeros)
    outs = jit_p.bind(*primals, *[t for t in tangents if type(t) is not Zero],
                      jaxpr=jvp_closed, name=f"jvp({name})")
    n = len(jaxpr.out_avals)
    nz_tangents = iter(outs[n:])
    tangents_out = [next(nz_tangents) if nz else Zero(a.to_tangent_aval())
                    for a, nz in zip(jaxpr.out_avals, out_nonzeros)]
    return outs[:n], tangents_out


def _partial_eval_cached(jaxpr: ClosedJaxpr, unknowns: Sequence[bool]):
    """partial_eval_jaxpr, remembered per jaxpr: ``grad(jit(f))`` then meets the same
    known and unknown jaxprs on every call, so their compiled code is reused."""
    cache = _partial_eval_cache.setdefault(jaxpr, {})
    key = tuple(unknowns)
    result = cache.get(key)
    if result is None:
        result = cache[key] = partial_eval_jaxpr(jaxpr, list(unknowns))
    return result


_partial_eval_cache: weakref.WeakKeyDictionary[ClosedJaxpr, dict] = weakref.WeakKeyDictionary()


def _jit_partial_eval(trace: JaxprTrace, args: Sequence[Any], params: dict) -> list[Any]:
    """Known part runs now (as a jit in the parent); unknown part is staged."""
    jaxpr, name = params["jaxpr"], params["name"]
    unknowns = [type(x) is StagedTracer and x._trace is trace for x in args]
    known, unknown, out_unknowns, num_res = _partial_eval_cached(jaxpr, unknowns)
    known_args = tuple(x for x, u in zip(args, unknowns) if not u)
    known_outs = trace.parent.process_primitive(jit_p, known_args,
                                                dict(jaxpr=known, name=name))
    n_known = len(known_outs) - num_res
    residuals = list(known_outs[n_known:])
    unknown_args = residuals + [x for x, u in zip(args, unknowns) if u]
    unknown_outs = iter(trace.stage(jit_p, unknown_args, dict(jaxpr=unknown, name=name),
                                    unknown.out_avals))
    known_iter = iter(known_outs[:n_known])
    return [next(unknown_outs) if u else next(known_iter) for u in out_unknowns]


def _jit_partial_eval_eqn(eqn: JaxprEqn, unknowns: Sequence[bool]):
    jaxpr, name = eqn.params["jaxpr"], eqn.params["name"]
    known, unknown, out_unknowns, num_res = _partial_eval_cached(jaxpr, unknowns)
    res_vars = [Var(a) for a in known.out_avals[len(known.out_avals) - num_res:]]
    known_eqn = JaxprEqn(jit_p, [v for v, u in zip(eqn.invars, unknowns) if not u],
                         dict(jaxpr=known, name=name),
                         [v for v, u in zip(eqn.outvars, out_unknowns) if not u] + res_vars)
    unknown_eqn = JaxprEqn(jit_p, res_vars + [v for v, u in zip(eqn.invars, unknowns) if u],
                           dict(jaxpr=unknown, name=name),
                           [v for v, u in zip(eqn.outvars, out_unknowns) if u])
    return known_eqn, unknown_eqn, out_unknowns


def _jit_transpose(cts: Sequence[Any], *args: Any, jaxpr: ClosedJaxpr, name: str):
    linear = [type(a) is UndefinedPrimal for a in args]
    transposed = transpose_jaxpr(jaxpr, linear)
    outs = iter(jit_p.bind(*[a for a in args if type(a) is not UndefinedPrimal],
                           *[instantiate_zeros(c) for c in cts],
                           jaxpr=transposed, name=f"transpose({name})"))
    return [next(outs) if lin else None for lin in linear]


def _jit_batch(args: Sequence[Any], dims: Sequence[int | None], *, jaxpr: ClosedJaxpr,
               name: str):
    size = next(get_aval(x).shape[d] for x, d in zip(args, dims) if d is not None)
    batched, out_dims = batch_jaxpr(jaxpr, dims, size)
    return jit_p.bind(*args, jaxpr=batched, name=f"vmap({name})"), out_dims


jit_p.call_jaxpr_param = "jaxpr"
jit_p.impl = _jit_impl
jit_p.abstract_eval = _jit_abstract_eval
jit_p.jvp = _jit_jvp
jit_p.partial_eval = _jit_partial_eval
jit_p.partial_eval_eqn = _jit_partial_eval_eqn
jit_p.transpose = _jit_transpose
jit_p.batch = _jit_batch
jit_p.linear = False


# ------------------------------------------------------------------ public API

def partial_static(fun: Callable[..., Any], args: Sequence[Any], static: Sequence[int]
                   ) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """`fun` with the static positional arguments fixed; also returns the dynamic ones."""
    if not static:
        return fun, tuple(args)
    nargs = len(args)
    static_pos = sorted({s % nargs for s in static if -nargs <= s < nargs})
    static_vals = {i: args[i] for i in static_pos}
    dyn = tuple(a for i, a in enumerate(args) if i not in static_vals)

    def f(*dyn_args: Any, **kwargs: Any) -> Any:
        it = iter(dyn_args)
        full = [static_vals[i] if i in static_vals else next(it) for i in range(nargs)]
        return fun(*full, **kwargs)

    f.__name__ = fun_name(fun)
    return f, dyn


class Lowered:
    """What ``jit(f).lower(*args)`` returns: the staged jaxpr for those arguments.

    ``.compile()`` runs the optimisation passes and the code generator and returns
    the compiled function, whose ``.as_text()`` is the generated Python source.
    """

    def __init__(self, jaxpr: ClosedJaxpr, in_tree: PyTreeDef, out_tree: PyTreeDef,
                 name: str):
        self.jaxpr = jaxpr
        self.in_tree = in_tree
        self.out_tree = out_tree
        self.name = name

    def as_text(self) -> str:
        return str(self.jaxpr)

    def compile(self) -> Compiled:
        return Compiled(compile_jaxpr(self.jaxpr, self.name), self.in_tree, self.out_tree)

    def __str__(self) -> str:
        return self.as_text()


class Compiled:
    """A jaxpr compiled to NumPy code for one input signature (``lower(...).compile()``).

    Call it with arguments of that signature; ``as_text()`` shows the generated source.
    """

    def __init__(self, compiled: CompiledJaxpr, in_tree: PyTreeDef, out_tree: PyTreeDef):
        self.compiled = compiled
        self.in_tree = in_tree
        self.out_tree = out_tree

    def as_text(self) -> str:
        return self.compiled.source

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        flat, in_tree = flatten_args(args, kwargs, f"compiled {self.compiled.name}")
        if in_tree != self.in_tree:
            raise TypeError(f"compiled {self.compiled.name}: the arguments' structure "
                            f"{in_tree} differs from the one it was compiled for "
                            f"{self.in_tree}; lower and compile again for these arguments")
        return tree_unflatten(self.out_tree, outputs(run_compiled(self.compiled, flat)))

    def __str__(self) -> str:
        return self.as_text()


class _CacheEntry:
    __slots__ = ("jaxpr", "out_tree", "compiled", "build")

    def __init__(self, jaxpr: ClosedJaxpr, out_tree: PyTreeDef):
        self.jaxpr = jaxpr
        self.out_tree = out_tree
        self.compiled: CompiledJaxpr | None = None
        self.build: Callable[[list[Any]], Any] = lambda outs: tree_unflatten(
            out_tree, outputs(outs))


def output_builder(out_tree: PyTreeDef, fresh: Sequence[bool]) -> Callable[[list[Any]], Any]:
    """A generated function from the flat outputs to the output pytree, converting
    (``to_output``) only the leaves that may need it; containers other than tuples,
    lists, dicts and None use ``tree_unflatten``."""
    leaf = iter(range(out_tree.num_leaves))
    namespace: dict[str, Any] = {"t": to_output}

    def expr(node: PyTreeDef) -> str:
        if node.node_type is None:
            i = next(leaf)
            return f"o[{i}]" if i < len(fresh) and fresh[i] else f"t(o[{i}])"
        kids = [expr(c) for c in node.children]
        if node.node_type is tuple:
            return "(" + "".join(k + ", " for k in kids) + ")"
        if node.node_type is list:
            return "[" + ", ".join(kids) + "]"
        if node.node_type is dict:
            keys = f"K{len(namespace)}"
            namespace[keys] = tuple(node.node_data)
            return "{" + ", ".join(f"{keys}[{j}]: {k}" for j, k in enumerate(kids)) + "}"
        if node.node_type is type(None):
            return "None"
        return _unsupported()

    try:
        body = expr(out_tree)
    except _NotFast:
        return lambda outs: tree_unflatten(out_tree, outputs(outs))
    exec(compile(f"def build(o):\n    return {body}\n", "<jit output builder>", "exec"),
         namespace)
    return namespace["build"]


def _unsupported() -> str:
    raise _NotFast




class Jitted:
    """A jit-compiled function: traced once per signature, then evaluated."""

    def __init__(self, fun: Callable[..., Any], static_argnums: int | Sequence[int] = (),
                 static_argnames: str | Sequence[str] = ()):
        self.fun = fun
        self.name = fun_name(fun)
        self.static_argnums = ((static_argnums,) if isinstance(static_argnums, int)
                               else tuple(static_argnums))
        self.static_argnames = ((static_argnames,) if isinstance(static_argnames, str)
                                else tuple(static_argnames))
        self._cache: dict[Hashable, _CacheEntry] = {}
        # signature of concrete leaves -> entry, for the hot path of __call__
        self._fast: dict[tuple, _CacheEntry] = {}
        self.__name__ = self.name
        self.__doc__ = getattr(fun, "__doc__", None)
        self.__wrapped__ = fun

    def _signature(self, args: tuple, kwargs: dict) -> tuple:
        static_kw = {k: kwargs.pop(k) for k in list(kwargs) if k in self.static_argnames}
        nargs = len(args)
        static_pos = tuple(sorted({s % nargs for s in self.static_argnums
                                   if -nargs <= s < nargs}))
        statics = tuple(args[i] for i in static_pos) + tuple(sorted(static_kw.items()))
        for i, s in zip(static_pos, statics):
            _check_hashable(s, f"static argument {i}", self.name)
        for k, v in static_kw.items():
            _check_hashable(v, f"static argument '{k}'", self.name)
        f, dyn = partial_static(self.fun, args, static_pos)
        if static_kw:
            f0 = f

            def f(*a: Any, **k: Any) -> Any:
                return f0(*a, **k, **static_kw)
        flat, in_tree = flatten_args(dyn, kwargs, f"jit of {self.name}")
        avals = tuple(get_aval(x) for x in flat)
        return f, flat, in_tree, (in_tree, avals, static_pos, statics)

    def _trace(self, f: Callable[..., Any], flat: list[Any], in_tree: PyTreeDef
               ) -> _CacheEntry:
        flat_fun = FlatFun(f, in_tree, self.name)
        closed = trace_to_jaxpr(flat_fun, [get_aval(x) for x in flat], self.name, "jit")
        closed = ClosedJaxpr(dce_jaxpr(closed.jaxpr), closed.consts)
        return _CacheEntry(closed, flat_fun.out_tree)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self.static_argnums or self.static_argnames or kwargs):
            # the hot path: concrete arguments of a signature seen before
            leaves: list[Any] = []
            try:
                entry = self._fast[_fast_key(args, leaves)]
            except (KeyError, _NotFast):
                pass
            else:
                return entry.build(run_compiled(entry.compiled, leaves))
        return self._call(args, kwargs)

    def _call(self, args: tuple, kwargs: dict) -> Any:
        f, flat, in_tree, key = self._signature(args, dict(kwargs))
        entry = self._cache.get(key)
        if entry is None:
            entry = self._trace(f, flat, in_tree)
            closed, hoisted = hoist_tracer_consts(entry.jaxpr)
            if hoisted:  # closes over tracers of an enclosing transformation
                outs = jit_p.bind(*hoisted, *flat, jaxpr=closed, name=self.name)
                return tree_unflatten(entry.out_tree, outputs(outs))
            self._cache[key] = entry
        for x in flat:
            if isinstance(x, Tracer):
                outs = jit_p.bind(*flat, jaxpr=entry.jaxpr, name=self.name)
                return tree_unflatten(entry.out_tree, outputs(outs))
        # concrete arguments: bind would evaluate at once; call the code directly
        compiled = entry.compiled
        if compiled is None:
            compiled = entry.compiled = compile_jaxpr(entry.jaxpr, self.name)
            entry.build = output_builder(entry.out_tree, compiled.fresh_outputs)
            if not (self.static_argnums or self.static_argnames or kwargs):
                try:
                    self._fast[_fast_key(args, [])] = entry
                except _NotFast:  # containers of other kinds: the slow path flattens
                    pass
        return entry.build(run_compiled(compiled, flat))

    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        f, flat, in_tree, _ = self._signature(args, dict(kwargs))
        entry = self._trace(f, flat, in_tree)
        return Lowered(entry.jaxpr, in_tree, entry.out_tree, self.name)

    def _cache_size(self) -> int:
        return len(self._cache)

    def clear_cache(self) -> None:
        self._cache.clear()
        self._fast.clear()

    def __repr__(self) -> str:
        return f"<jit-compiled function {self.name}>"

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        if obj is None:
            return self
        import functools

        return functools.partial(self, obj)


class _NotFast(Exception):
    """The arguments hold something the hot path does not recognise."""


def _fast_key(args: tuple, leaves: list[Any]) -> tuple:
    """A hashable key of the structure and leaf avals of `args`, collecting the leaves
    in ``tree_flatten`` order: tuples, lists, dicts and None only, with array or
    scalar leaves (a Python scalar is weakly typed); anything else raises _NotFast."""
    sig: list[Any] = []
    _collect(args, leaves, sig)
    return tuple(sig)


def _collect(x: Any, leaves: list[Any], sig: list[Any]) -> None:
    # markers are type objects, shapes are tuples and dtypes np.dtype: unambiguous
    t = type(x)
    if t is np.ndarray:
        leaves.append(x)
        sig.append(x.shape)
        sig.append(x.dtype)
    elif t is tuple or t is list:
        sig.append(t)
        sig.append(len(x))
        for c in x:
            _collect(c, leaves, sig)
    elif t in _PYTHON_SCALARS:
        leaves.append(x)
        sig.append(t)
    elif isinstance(x, np.generic):
        leaves.append(x)
        sig.append(())
        sig.append(x.dtype)
    elif t is dict:
        try:
            keys = sorted(x)
        except TypeError:
            raise _NotFast from None
        sig.append(t)
        sig.append(tuple(keys))
        for k in keys:
            _collect(x[k], leaves, sig)
    elif x is None:
        sig.append(None)
    else:
        raise _NotFast


_PYTHON_SCALARS = frozenset((bool, int, float, complex))


def _check_hashable(value: Any, what: str, name: str) -> None:
    try:
        hash(value)
    except TypeError:
        raise ValueError(f"jit of {name}: {what} must be hashable (it is part of the "
                         f"compilation cache key), but got a {type(value).__name__}: "
                         f"{value!r}. Pass a tuple instead of a list, or make it a traced "
                         "argument.") from None


def jit(fun: Callable[..., Any] | None = None, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = ()) -> Any:
    """Compile `fun`: trace it once per input signature and cache, as ``jax.jit``.

    Usable as ``jit(f)``, ``jit(f, static_argnums=...)`` or as a decorator with
    or without arguments.
    """
    if fun is None:
        return lambda f: Jitted(f, static_argnums, static_argnames)
    return Jitted(fun, static_argnums, static_argnames)
