"""``jit``: stage a function out to a jaxpr once per input signature, then run it.

``jit(f)`` returns a :class:`Jitted`. Its first call with a new signature (the
arguments' structure, shapes, dtypes and weak types, and the static arguments)
traces `f` into a closed jaxpr; the jaxpr is compiled to NumPy code once and run
on every later call of that signature. Called with tracers of an enclosing
transformation, the call binds the ``jit`` primitive instead
(:mod:`functrans.higher_order.jit`), whose rules transform the jaxpr.

``lower(...)`` gives the jaxpr (:class:`Lowered`), ``lower(...).compile()`` the
generated code (:class:`Compiled`).

Each jitted function keeps at most ``config.jit_cache_size`` signatures (least
recently used dropped first); ``config.log_compiles`` logs every trace and, on a
retrace, what differs from the closest signature cached.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable, Hashable, Iterator, Sequence
from typing import Any

import numpy as np

from functrans.compile import CompiledJaxpr, compile_jaxpr, run_compiled
from functrans.config import config
from functrans.core.avals import ShapedArray
from functrans.core.backend import backend_of
from functrans.core.ir import ClosedJaxpr, dce_jaxpr
from functrans.core.trace import Tracer
from functrans.dtypes import INT64_MAX, INT64_MIN
from functrans.higher_order.jit import jit_p
from functrans.transforms.api_util import (
    FlatFun,
    flatten_args,
    fun_name,
    outputs,
    partial_static,
    to_output,
)
from functrans.transforms.staging import (
    argument_avals,
    argument_labels,
    hoist_tracer_consts,
    parameter_names,
    positional_label,
    trace_to_jaxpr,
)
from functrans.transforms.vmap import axes_used_by_params
from functrans.tree_util import (
    PyTreeDef,
    keystr,
    tree_flatten,
    tree_flatten_with_path,
    tree_structure,
    tree_unflatten,
)

__all__ = ["jit", "disable_jit", "Jitted", "Lowered", "Compiled"]

logger = logging.getLogger("functrans")


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
    __slots__ = ("jaxpr", "out_tree", "compiled", "build", "fast_keys", "used", "axis_names")

    def __init__(self, jaxpr: ClosedJaxpr, out_tree: PyTreeDef):
        self.jaxpr = jaxpr
        self.out_tree = out_tree
        #: the vmap axis names its collectives use: with constant arguments inside such a
        #: vmap, the call is still the vmap's to apply (never the hot path's)
        self.axis_names = axes_used_by_params({"jaxpr": jaxpr})
        self.compiled: CompiledJaxpr | None = None
        self.build: Callable[[list[Any]], Any] = lambda outs: tree_unflatten(
            out_tree, outputs(outs))
        # the keys of Jitted._fast leading here, dropped with the entry
        self.fast_keys: list[tuple] = []
        # called since the last eviction sweep (see Jitted._evict)
        self.used = False


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
        # signature -> entry, at most config.jit_cache_size of them (least recently used
        # dropped first)
        self._cache: dict[Hashable, _CacheEntry] = {}
        # signature of concrete leaves -> entry, for the hot path of __call__; holds
        # only entries of _cache
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
        flat, in_tree = tree_flatten((dyn, kwargs))
        avals = argument_avals(flat, f"jit of {self.name}", lambda: argument_labels(
            self.fun, in_tree, [i for i in range(nargs) if i not in static_pos]))
        return f, flat, in_tree, (in_tree, avals, static_pos, statics)

    def _trace(self, f: Callable[..., Any], in_tree: PyTreeDef, key: tuple) -> _CacheEntry:
        flat_fun = FlatFun(f, in_tree, self.name)
        closed = trace_to_jaxpr(flat_fun, key[1], self.name, "jit")
        closed = ClosedJaxpr(dce_jaxpr(closed.jaxpr), closed.consts)
        return _CacheEntry(closed, flat_fun.out_tree)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if config.disable_jit:
            return self.fun(*args, **kwargs)
        if not (self.static_argnums or self.static_argnames or kwargs):
            # the hot path: concrete arguments of a signature seen before
            leaves: list[Any] = []
            try:
                entry = self._fast[_fast_key(args, leaves)]
            except (KeyError, _NotFast):
                pass
            else:
                entry.used = True
                return entry.build(run_compiled(entry.compiled, leaves))
        return self._call(args, kwargs)

    def _call(self, args: tuple, kwargs: dict) -> Any:
        f, flat, in_tree, key = self._signature(args, dict(kwargs))
        entry = self._cache.get(key)
        if entry is None:
            if config.log_compiles:
                logger.warning(self._trace_message(key))
            entry = self._trace(f, in_tree, key)
            closed, hoisted = hoist_tracer_consts(entry.jaxpr)
            if hoisted:  # closes over tracers of an enclosing transformation
                outs = jit_p.bind(*hoisted, *flat, jaxpr=closed, name=self.name)
                return tree_unflatten(entry.out_tree, outputs(outs))
            self._insert(key, entry)
        else:
            entry.used = True
        if entry.axis_names or any(isinstance(x, Tracer) for x in flat):
            outs = jit_p.bind(*flat, jaxpr=entry.jaxpr, name=self.name)
            return tree_unflatten(entry.out_tree, outputs(outs))
        backend = backend_of(flat)
        if backend is not None:  # Dask, CuPy, torch arrays: that library's code, cached
            compiled = compile_jaxpr(entry.jaxpr, self.name, backend)  # per jaxpr, backend
            return tree_unflatten(entry.out_tree, run_compiled(compiled, flat))
        # concrete arguments: bind would evaluate at once; call the code directly
        compiled = entry.compiled
        if compiled is None:
            compiled = entry.compiled = compile_jaxpr(entry.jaxpr, self.name)
            entry.build = output_builder(entry.out_tree, compiled.fresh_outputs)
            if not (self.static_argnums or self.static_argnames or kwargs):
                self._add_fast_key(args, entry)
        return entry.build(run_compiled(compiled, flat))

    def _insert(self, key: tuple, entry: _CacheEntry) -> None:
        """Cache `entry`, dropping least recently used entries beyond the limit."""
        self._cache[key] = entry
        while len(self._cache) > config.jit_cache_size:
            self._evict()

    def _evict(self) -> None:
        """Drop an entry not used lately, with its fast keys: the least recently used
        as the CLOCK algorithm approximates it (the hot path only sets a flag: exact
        recency, a counter read and stored per call, would cost it ~4%). The dict's
        order is the clock: an entry used since the hand last passed it gets a second
        chance, going to the end with its flag cleared; the first one unused goes."""
        cache = self._cache
        key, entry = next(iter(cache.items()))
        while entry.used:
            entry.used = False
            del cache[key]
            cache[key] = entry
            key, entry = next(iter(cache.items()))
        del cache[key]
        for fast_key in entry.fast_keys:
            del self._fast[fast_key]

    def _add_fast_key(self, args: tuple, entry: _CacheEntry) -> None:
        try:
            fast_key = _fast_key(args, [])
        except _NotFast:  # containers of other kinds: the slow path flattens
            return
        self._fast[fast_key] = entry
        entry.fast_keys.append(fast_key)

    def _trace_message(self, key: tuple, for_lower: bool = False) -> str:
        """What config.log_compiles logs before a trace: the function, and on a cache
        miss what differs from the closest signature cached."""
        described = _Signature(key, self.fun)
        # the most recently cached first, to win ties
        changes = [described.differences(_Signature(k, self.fun))
                   for k in reversed(self._cache)] if not for_lower else []
        closest = min(changes, key=lambda c: sum(weight for weight, _ in c), default=None)
        if not closest:  # nothing cached (or for lower(), which uses no cache)
            when = "for lower()" if for_lower else "for the first time"
            return f"jit of {self.name}: tracing {when}, with {described.summary()}"
        shown = "; ".join(phrase for _, phrase in closest[:4])
        if len(closest) > 4:
            shown += f"; and {len(closest) - 4} more"
        if len(self._cache) >= config.jit_cache_size:
            shown += (f" (the cache holds its limit of {config.jit_cache_size} signatures, "
                      "functrans.config.jit_cache_size: this one may have been dropped)")
        return f"jit of {self.name}: retracing because {shown}"

    def lower(self, *args: Any, **kwargs: Any) -> Lowered:
        f, flat, in_tree, key = self._signature(args, dict(kwargs))
        if config.log_compiles:
            logger.warning(self._trace_message(key, for_lower=True))
        entry = self._trace(f, in_tree, key)
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
        return functools.partial(self, obj)


class _Signature:
    """A cache key described argument by argument, for log messages."""

    def __init__(self, key: tuple, fun: Callable[..., Any]):
        in_tree, avals, static_pos, statics = key
        args, kwargs = tree_unflatten(in_tree, range(in_tree.num_leaves))
        nargs = len(args) + len(static_pos)
        positions = [i for i in range(nargs) if i not in static_pos]
        names = parameter_names(fun)
        #: per argument label: its structure (of a static argument: its value)
        self.structure: dict[str, str] = {}
        #: per argument label: the avals of its leaves, by path
        self.leaves: dict[str, dict[tuple, str]] = {}
        for position, arg in zip(positions, args):
            self._add_argument(positional_label(position, names), arg, avals)
        for name, arg in kwargs.items():
            self._add_argument(f"keyword argument {name!r}", arg, avals)
        for position, value in zip(static_pos, statics):
            self.structure["static " + positional_label(position, names)] = _short(value)
        for name, value in statics[len(static_pos):]:
            self.structure[f"static argument {name!r}"] = _short(value)

    def _add_argument(self, label: str, skeleton: Any, avals: Sequence[ShapedArray]) -> None:
        """`skeleton`: the argument with leaf indices for leaves."""
        self.structure[label] = str(tree_structure(skeleton))
        self.leaves[label] = {path: _aval_text(avals[leaf])
                              for path, leaf in tree_flatten_with_path(skeleton)[0]}

    def summary(self, most: int = 10) -> str:
        parts = [f"{label}{keystr(path)}: {aval}" for label, leaves in self.leaves.items()
                 for path, aval in leaves.items()]
        parts += [f"{label}={value}" for label, value in self.structure.items()
                  if label not in self.leaves]
        if len(parts) > most:
            parts = parts[:most] + [f"... ({len(parts)} in all)"]
        return ", ".join(parts) if parts else "no arguments"

    def differences(self, old: _Signature) -> list[tuple[int, str]]:
        """What changed from `old` to this signature: (weight, phrase) per change, a
        changed structure (weight 2, farther than a changed leaf) standing for the
        leaves in it."""
        out = []
        for label, text in self.structure.items():
            before = old.structure.get(label)
            if before is None:
                out.append((2, f"{label} was added"))
            elif before != text and label not in self.leaves:  # a static argument
                out.append((1, f"{label} changed from {before} to {text}"))
            elif before != text:
                out.append((2, f"{label} changed structure from {before} to {text}"))
            else:
                old_leaves = old.leaves.get(label, {})
                out += [(1, f"{label}{keystr(path)} changed from {old_leaves[path]} to {aval}")
                        for path, aval in self.leaves.get(label, {}).items()
                        if old_leaves[path] != aval]
        out += [(2, f"{label} was removed") for label in old.structure
                if label not in self.structure]
        return out


def _aval_text(aval: ShapedArray) -> str:
    shape = ",".join(map(str, aval.shape))
    return f"{aval.dtype.name}[{shape}]" + (" weak" if aval.weak_type else "")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


class _NotFast(Exception):
    """The arguments hold something the hot path does not recognise."""


def _fast_key(args: tuple, leaves: list[Any]) -> tuple:
    """A hashable key of the structure and leaf avals of `args`, collecting the leaves
    in ``tree_flatten`` order: tuples, lists, dicts and None only, with array or
    scalar leaves (a Python scalar is weakly typed, an int within int64); anything else
    raises _NotFast."""
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
        if t is int and not INT64_MIN <= x <= INT64_MAX:
            raise _NotFast  # not a weakly-typed int64: the slow path says so
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


@contextlib.contextmanager
def disable_jit(disable: bool = True) -> Iterator[None]:
    """Within the block, jitted functions run as plain Python, as ``jax.disable_jit``:
    ``print`` and ``pdb`` see concrete values."""
    previous = config.disable_jit
    config.update("disable_jit", disable)
    try:
        yield
    finally:
        config.update("disable_jit", previous)


def jit(fun: Callable[..., Any] | None = None, *, static_argnums: int | Sequence[int] = (),
        static_argnames: str | Sequence[str] = ()) -> Any:
    """Compile `fun`: trace it once per input signature and cache, as ``jax.jit``
    (at most ``config.jit_cache_size`` signatures; a Python scalar argument is traced
    weakly typed, so every Python int is one signature and every Python float another).

    Usable as ``jit(f)``, ``jit(f, static_argnums=...)`` or as a decorator with
    or without arguments.
    """
    if fun is None:
        return lambda f: Jitted(f, static_argnums, static_argnames)
    return Jitted(fun, static_argnums, static_argnames)
