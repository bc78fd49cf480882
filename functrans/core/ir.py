"""The IR: typed variables, equations and jaxprs, with a printer, a type checker
and a reference interpreter.

A jaxpr is a list of equations ``outvars = primitive[params] invars`` in
A-normal form, closed over constants. ``ClosedJaxpr`` pairs a jaxpr with the
values of its constant variables.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from functrans.core import graph
from functrans.core.avals import ShapedArray, get_aval
from functrans.errors import JaxprTypeError


class Var:
    """A variable of the IR; identity is object identity, the name is given by the printer."""

    __slots__ = ("aval",)

    def __init__(self, aval: ShapedArray):
        self.aval = aval

    def __repr__(self) -> str:
        return f"Var({self.aval.str_short()})"


class Literal:
    """A scalar constant written inline in a jaxpr."""

    __slots__ = ("val", "aval")

    def __init__(self, val: Any, aval: ShapedArray | None = None):
        self.val = val
        self.aval = aval if aval is not None else get_aval(val)

    def __repr__(self) -> str:
        return f"Literal({self.val!r})"


Atom = Var | Literal


class JaxprEqn:
    __slots__ = ("primitive", "invars", "params", "outvars")

    def __init__(self, primitive: Any, invars: list[Atom], params: dict[str, Any],
                 outvars: list[Var]):
        self.primitive = primitive
        self.invars = invars
        self.params = params
        self.outvars = outvars

    def __repr__(self) -> str:
        return f"JaxprEqn({self.primitive.name}, {len(self.invars)} in, {len(self.outvars)} out)"


class Jaxpr:
    __slots__ = ("constvars", "invars", "outvars", "eqns")

    def __init__(self, constvars: list[Var], invars: list[Var], outvars: list[Atom],
                 eqns: list[JaxprEqn]):
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.outvars = list(outvars)
        self.eqns = list(eqns)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.invars]

    @property
    def out_avals(self) -> list[ShapedArray]:
        return [v.aval for v in self.outvars]

    def __str__(self) -> str:
        return pp_jaxpr(self)

    __repr__ = __str__

    def to_dot(self, **options: Any) -> str:
        """The jaxpr as Graphviz DOT text: a box per equation, written as the printed
        jaxpr writes it, with its type; arrows along the data flow. Options:
        ``values``/``tangents``/``cotangents`` (variables or their printed names ->
        arrays, shown under each box), ``names`` (new names, in order of appearance, or
        a mapping), ``title``, ``rankdir``. ``functrans.learn.render_dot`` renders it."""
        return graph.jaxpr_to_dot(self, **options)


class ClosedJaxpr:
    """A jaxpr together with the values of its constvars."""

    __slots__ = ("jaxpr", "consts", "__weakref__")

    def __init__(self, jaxpr: Jaxpr, consts: Sequence[Any]):
        if len(consts) != len(jaxpr.constvars):
            raise ValueError("ClosedJaxpr: one value is needed per constvar")
        self.jaxpr = jaxpr
        self.consts = list(consts)

    @property
    def in_avals(self) -> list[ShapedArray]:
        return self.jaxpr.in_avals

    @property
    def out_avals(self) -> list[ShapedArray]:
        return self.jaxpr.out_avals

    @property
    def eqns(self) -> list[JaxprEqn]:
        return self.jaxpr.eqns

    def __str__(self) -> str:
        return pp_jaxpr(self.jaxpr)

    __repr__ = __str__

    def to_dot(self, **options: Any) -> str:
        """The jaxpr as Graphviz DOT text, small constants shown with their values
        (options as ``Jaxpr.to_dot``); ``ft.make_jaxpr(f)(x).to_dot()`` draws `f`."""
        return graph.jaxpr_to_dot(self, **options)


# ---------------------------------------------------------------- evaluation

def eval_jaxpr(jaxpr: Jaxpr, consts: Sequence[Any], *args: Any) -> list[Any]:
    """Evaluate `jaxpr` by binding each equation's primitive in the current trace.

    Under no transformation this runs the NumPy implementations; under a
    transformation it re-traces the equations, which is how jaxprs compose.
    """
    if len(args) != len(jaxpr.invars):
        raise TypeError(f"eval_jaxpr: the jaxpr takes {len(jaxpr.invars)} arguments, "
                        f"got {len(args)}")
    return _run_equations(jaxpr, consts, args, bind=True)


def interpret_jaxpr(closed: ClosedJaxpr, args: Sequence[Any]) -> list[Any]:
    """Evaluate `closed` by calling each primitive's NumPy implementation directly:
    `eval_jaxpr` for callers that know no transformation is under way. A constant
    returned as an output is copied: the jaxpr keeps it for its next evaluation."""
    outs = _run_equations(closed.jaxpr, closed.consts, args, bind=False)
    constvars = set(closed.jaxpr.constvars)
    return [np.copy(x) if type(v) is Var and v in constvars else x
            for v, x in zip(closed.jaxpr.outvars, outs)]


def _run_equations(jaxpr: Jaxpr, consts: Sequence[Any], args: Sequence[Any], bind: bool
                   ) -> list[Any]:
    env: dict[Var, Any] = dict(zip(jaxpr.constvars, consts))
    env.update(zip(jaxpr.invars, args))
    dead_after = last_uses(jaxpr)
    for i, eqn in enumerate(jaxpr.eqns):
        invals = [a.val if type(a) is Literal else env[a] for a in eqn.invars]
        prim = eqn.primitive
        out = prim.bind(*invals, **eqn.params) if bind else prim.impl(*invals, **eqn.params)
        if prim.multiple_results:
            env.update(zip(eqn.outvars, out))
        else:
            env[eqn.outvars[0]] = out
        for v in dead_after.get(i, ()):  # hold no value past its last use
            del env[v]
    return [a.val if type(a) is Literal else env[a] for a in jaxpr.outvars]


def last_uses(jaxpr: Jaxpr) -> dict[int, list[Var]]:
    """Equation index -> the variables last read there (outputs are never dead)."""
    last: dict[Var, int] = {}
    for i, eqn in enumerate(jaxpr.eqns):
        for a in eqn.invars:
            if type(a) is Var:
                last[a] = i
    for a in jaxpr.outvars:
        if type(a) is Var:
            last.pop(a, None)
    dead_after: dict[int, list[Var]] = {}
    for v, i in last.items():
        dead_after.setdefault(i, []).append(v)
    return dead_after


def has_side_effects(eqn: JaxprEqn) -> bool:
    """Whether evaluating `eqn` does more than compute its outputs: its primitive
    has a side effect, or a jaxpr in its parameters (a call, a loop body) holds one."""
    if eqn.primitive.has_side_effect:
        return True
    for param in eqn.params.values():
        for x in (param if isinstance(param, (tuple, list)) else (param,)):
            inner = x.jaxpr if isinstance(x, ClosedJaxpr) else x
            if isinstance(inner, Jaxpr) and any(has_side_effects(e) for e in inner.eqns):
                return True
    return False


def dce_jaxpr(jaxpr: Jaxpr) -> Jaxpr:
    """Drop equations whose outputs are unused, unless they have side effects."""
    live: set[Any] = {v for v in jaxpr.outvars if type(v) is Var}
    kept: list[JaxprEqn] = []
    for eqn in reversed(jaxpr.eqns):
        if any(v in live for v in eqn.outvars) or has_side_effects(eqn):
            kept.append(eqn)
            live.update(v for v in eqn.invars if type(v) is Var)
    kept.reverse()
    if len(kept) == len(jaxpr.eqns):
        return jaxpr
    return Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, kept)


# ---------------------------------------------------------------- type checking

def typecheck_jaxpr(jaxpr: Jaxpr) -> None:
    """Check that every variable is defined once before use and that each
    equation's output avals are what its primitive's shape rule says.

    Raises JaxprTypeError naming the offending equation.
    """
    defined: set[Var] = set()

    def define(v: Var) -> None:
        if not isinstance(v, Var):
            raise JaxprTypeError(f"binder {v!r} is not a Var")
        if v in defined:
            raise JaxprTypeError(f"variable {v!r} defined twice")
        defined.add(v)

    def read(a: Atom) -> ShapedArray:
        if type(a) is Literal:
            return a.aval
        if a not in defined:
            raise JaxprTypeError(f"variable {a!r} used before it is defined")
        return a.aval

    for v in itertools.chain(jaxpr.constvars, jaxpr.invars):
        define(v)
    for eqn in jaxpr.eqns:
        in_avals = [read(a) for a in eqn.invars]
        try:
            out = eqn.primitive.abstract_eval(*in_avals, **eqn.params)
        except Exception as e:
            raise JaxprTypeError(f"equation {pp_eqn(eqn, _Namer())} is ill-typed: {e}") from e
        outs = out if eqn.primitive.multiple_results else [out]
        if len(outs) != len(eqn.outvars):
            raise JaxprTypeError(f"{eqn.primitive.name}: {len(outs)} results for "
                                 f"{len(eqn.outvars)} binders")
        for v, aval in zip(eqn.outvars, outs):
            if (v.aval.shape, v.aval.dtype) != (aval.shape, aval.dtype):
                raise JaxprTypeError(
                    f"{eqn.primitive.name}: binder has type {v.aval.str_short()} but the "
                    f"shape rule gives {aval.str_short()}")
            define(v)
        for sub in _subjaxprs(eqn.params):
            typecheck_jaxpr(sub)
    for a in jaxpr.outvars:
        read(a)


def _subjaxprs(params: dict[str, Any]):
    for p in params.values():
        for x in (p if isinstance(p, (tuple, list)) else (p,)):
            if isinstance(x, ClosedJaxpr):
                yield x.jaxpr
            elif isinstance(x, Jaxpr):
                yield x


# ---------------------------------------------------------------- printing

class _Namer:
    """Assigns a, b, ..., z, ba, bb, ... to variables in order of appearance."""

    def __init__(self) -> None:
        self.names: dict[Var, str] = {}

    def __call__(self, v: Var) -> str:
        name = self.names.get(v)
        if name is None:
            name = self.names[v] = _base26(len(self.names))
        return name


def _base26(n: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    s = letters[n % 26]
    n //= 26
    while n:
        s = letters[n % 26] + s
        n //= 26
    return s


def _pp_atom(a: Atom, name: _Namer) -> str:
    if type(a) is Literal:
        val = a.val
        text = repr(val.item()) if isinstance(val, (np.ndarray, np.generic)) else repr(val)
        return f"{text}:{a.aval.str_short()}"
    return name(a)


def _pp_binder(v: Var, name: _Namer) -> str:
    return f"{name(v)}:{v.aval.str_short()}"


def _pp_param(value: Any, name: _Namer, indent: int) -> str:
    if isinstance(value, (ClosedJaxpr, Jaxpr)):
        jaxpr = value.jaxpr if isinstance(value, ClosedJaxpr) else value
        return _pp_jaxpr_lines(jaxpr, name, indent).lstrip()
    if isinstance(value, (tuple, list)) and any(isinstance(v, (ClosedJaxpr, Jaxpr))
                                                for v in value):
        items = [" " * (indent + 2) + _pp_param(v, name, indent + 2) for v in value]
        return "(\n" + "\n".join(items) + "\n" + " " * indent + ")"
    if isinstance(value, np.dtype):
        return str(value)
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name
    return str(value)


def pp_eqn(eqn: JaxprEqn, name: _Namer, indent: int = 4) -> str:
    lhs = " ".join(_pp_binder(v, name) for v in eqn.outvars)
    rhs_args = " ".join(_pp_atom(a, name) for a in eqn.invars)
    params = ""
    if eqn.params:
        inner = "\n" + " " * (indent + 2)
        items = [f"{k}={_pp_param(v, name, indent + 2)}" for k, v in sorted(eqn.params.items())]
        joined = " ".join(items)
        if "\n" in joined:
            joined = inner.join(items)
            params = f"[{inner}{joined}\n{' ' * indent}]"
        else:
            params = f"[{joined}]"
    return f"{lhs} = {eqn.primitive.name}{params} {rhs_args}".rstrip()


def _pp_jaxpr_lines(jaxpr: Jaxpr, name: _Namer, indent: int) -> str:
    pad = " " * indent
    consts = " ".join(_pp_binder(v, name) for v in jaxpr.constvars)
    ins = " ".join(_pp_binder(v, name) for v in jaxpr.invars)
    eqns = [pad + "    " + pp_eqn(e, name, indent + 4) for e in jaxpr.eqns]
    outs = ", ".join(_pp_atom(a, name) for a in jaxpr.outvars)
    if len(jaxpr.outvars) == 1:
        outs += ","
    body = "\n".join(eqns)
    head = f"{pad}{{ lambda {consts}; {ins}. let"
    return f"{head}\n{body}\n{pad}  in ({outs}) }}" if eqns else f"{head}\n{pad}  in ({outs}) }}"


def pp_jaxpr(jaxpr: Jaxpr) -> str:
    return _pp_jaxpr_lines(jaxpr, _Namer(), 0)
