"""``functrans.learn``: the course notes' tables and pictures, computed by the library.

The notes draw every example as a computation graph and tabulate, for every node, its
value, its tangent (the dot, forward mode) and its cotangent (the bar, reverse mode).
``trace_table(f, *args)`` computes that table for any function at any point::

    import functrans as ft
    import functrans.numpy as fnp

    def z(u):
        v = u**2
        return fnp.exp(fnp.sin(v) * fnp.log(v))

    table = ft.trace_table(z, 1.5, names="uvwxyz")
    print(table)                    # one row per intermediate: value, dot, bar
    table["v"].cotangent            # v̄ = ∂z/∂v
    dot_text = table.to_dot()       # the graph, each node annotated

``render_dot`` turns DOT text (this module's, or ``jaxpr.to_dot()``'s) into SVG, PNG
or PDF with Graphviz's ``dot`` program, when it is installed.

There is no JAX counterpart: this module is functrans' own.
"""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from functrans import dtypes
from functrans.core.graph import (
    equation_text,
    format_value,
    introduced_variables,
    operation_text,
    variable_names,
)
from functrans.core.ir import ClosedJaxpr, Literal, Var
from functrans.primitives.elementwise import add
from functrans.transforms.autodiff import vjp
from functrans.transforms.jvp import jvp
from functrans.transforms.staging import make_jaxpr
from functrans.tree_util import tree_flatten

__all__ = ["trace_table", "TraceTable", "TraceRow", "render_dot"]


def __dir__() -> list[str]:
    return sorted(__all__)


@dataclass(frozen=True)
class TraceRow:
    """One node of the graph at one point.

    ``name``: the variable (the printed jaxpr's name, or the one given to
    ``trace_table``); ``equation``: how it is computed (``sin v``), or ``input`` /
    ``constant``; ``aval``: its type (``f64[]``); ``value``: its value;
    ``tangent``: its dot, the derivative along the input tangents; ``cotangent``: its
    bar, the derivative of ``<cotangents, output>`` with respect to it. Tangent and
    cotangent are ``None`` for integer and boolean values, which have none.
    """

    name: str
    equation: str
    aval: str
    value: np.ndarray
    tangent: np.ndarray | None
    cotangent: np.ndarray | None


@dataclass(frozen=True)
class TraceTable:
    """Every variable of a function's jaxpr with its value, dot and bar (``rows``).

    ``str(table)`` is the table as text; ``table["v"]`` is the row of variable ``v``;
    iterating gives the rows; ``table.to_dot()`` is the graph with every node
    annotated. ``jaxpr`` is the function's jaxpr, whose variables ``variables``
    lists in the order of ``rows``.
    """

    rows: tuple[TraceRow, ...]
    jaxpr: ClosedJaxpr
    variables: tuple[Var, ...]

    def __iter__(self) -> Iterator[TraceRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, name: str) -> TraceRow:
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"TraceTable: no variable named {name!r}; the variables are "
                       f"{', '.join(row.name for row in self.rows)}")

    def __str__(self) -> str:
        return render_rows(self.rows)

    def to_dot(self, *, title: str | None = None, rankdir: str = "LR") -> str:
        """The graph as DOT text, each node showing its value, dot and bar."""
        by_var = dict(zip(self.variables, self.rows))
        return self.jaxpr.to_dot(
            values={v: r.value for v, r in by_var.items()},
            tangents={v: r.tangent for v, r in by_var.items()},
            cotangents={v: r.cotangent for v, r in by_var.items()},
            names={v: r.name for v, r in by_var.items()}, title=title, rankdir=rankdir)


def trace_table(fun: Callable[..., Any], *args: Any, tangents: Sequence[Any] | None = None,
                cotangents: Any = None,
                names: Sequence[str] | Mapping[str, str] | None = None) -> TraceTable:
    """The course notes' table for `fun` at `args`: every intermediate of its jaxpr
    with its value, its tangent (dot) and its cotangent (bar).

    `tangents` (one per argument, like ``jvp``'s) seeds the forward sweep; by default
    every floating input gets ones (the notes' u̇ = 1). `cotangents` (shaped like the
    output, like the argument of ``vjp``'s function) seeds the reverse sweep; by
    default ones (z̄ = 1, so for a scalar output the bars are the gradient). Each
    bar is the derivative with respect to that node alone: the notes' adjoint, which
    sums the contributions of all the node's uses.

    `names` renames the variables: a sequence in the order the printed jaxpr
    introduces them (constants, inputs, then each equation's results; a string such
    as ``"uvwxyz"`` gives one letter each), or a mapping from printed names.
    """
    closed = make_jaxpr(fun)(*args)
    jaxpr = closed.jaxpr
    flat_args, _ = tree_flatten(args)
    flat_tangents = _seed_tangents(fun, args, flat_args, tangents)
    values = _evaluate(closed, flat_args)
    dots = _tangents(closed, flat_args, flat_tangents)
    bars = _cotangents(fun, closed, flat_args, values, cotangents)
    name = variable_names(jaxpr, names)
    rows = []
    for var in introduced_variables(jaxpr):
        rows.append(TraceRow(name[var], _how_computed(jaxpr, var, name),
                             var.aval.str_short(), _owned(values[var]), _owned(dots.get(var)),
                             _owned(bars.get(var))))
    return TraceTable(tuple(rows), closed, tuple(introduced_variables(jaxpr)))


def _owned(x: Any) -> np.ndarray | None:
    """A copy: inputs, constants and seeds appear in the table as they were given, and
    the table must not share memory with the caller's arrays."""
    return None if x is None else np.array(x)


# ------------------------------------------------------------------ the three sweeps

def _evaluate(closed: ClosedJaxpr, flat_args: Sequence[Any],
              offsets: Mapping[Var, Any] | None = None) -> dict[Var, Any]:
    """Every variable's value, binding each equation in the current trace. With
    `offsets`, each listed result gets its offset added as soon as it is computed:
    the derivative with respect to an offset (at zero) is that node's bar."""
    jaxpr = closed.jaxpr
    env: dict[Var, Any] = dict(zip(jaxpr.constvars, closed.consts))
    env.update(zip(jaxpr.invars, flat_args))
    for eqn in jaxpr.eqns:
        operands = [a.val if type(a) is Literal else env[a] for a in eqn.invars]
        out = eqn.primitive.bind(*operands, **eqn.params)
        results = out if eqn.primitive.multiple_results else [out]
        for var, result in zip(eqn.outvars, results):
            env[var] = add(result, offsets[var]) if offsets and var in offsets else result
    return env


def _results(closed: ClosedJaxpr, env: Mapping[Var, Any]) -> list[Any]:
    return [a.val if type(a) is Literal else env[a] for a in closed.jaxpr.outvars]


def _tangents(closed: ClosedJaxpr, flat_args: list[Any], flat_tangents: list[Any]
              ) -> dict[Var, Any]:
    """Every variable's dot: one forward sweep returning all the intermediates."""
    jaxpr = closed.jaxpr
    computed = [v for e in jaxpr.eqns for v in e.outvars]

    def intermediates(*xs: Any) -> list[Any]:
        env = _evaluate(closed, xs)
        return [env[v] for v in computed]

    _, computed_dots = jvp(intermediates, flat_args, flat_tangents)
    dots: dict[Var, Any] = {v: np.zeros(v.aval.shape, v.aval.dtype) for v in jaxpr.constvars
                            if dtypes.is_float(v.aval.dtype)}
    dots.update(zip(jaxpr.invars, flat_tangents))
    dots.update(zip(computed, computed_dots))
    return {v: t for v, t in dots.items() if dtypes.is_float(v.aval.dtype)}


def _cotangents(fun: Callable[..., Any], closed: ClosedJaxpr, flat_args: list[Any],
                values: Mapping[Var, Any], cotangents: Any) -> dict[Var, Any]:
    """Every variable's bar: one reverse sweep of the function with a zero offset
    added to each constant and intermediate, differentiated with respect to those
    offsets and the inputs."""
    jaxpr = closed.jaxpr
    offset_vars = [v for v in (*jaxpr.constvars, *(v for e in jaxpr.eqns for v in e.outvars))
                   if dtypes.is_float(v.aval.dtype)]
    zeros = [np.zeros(v.aval.shape, v.aval.dtype) for v in offset_vars]
    consts = set(jaxpr.constvars)

    def with_offsets(xs: list[Any], offsets: list[Any]) -> list[Any]:
        by_var = dict(zip(offset_vars, offsets))
        shifted_consts = [add(c, by_var[v]) if v in by_var else c
                          for v, c in zip(jaxpr.constvars, closed.consts)]
        shifted = ClosedJaxpr(jaxpr, shifted_consts)
        env = _evaluate(shifted, xs, {v: o for v, o in by_var.items() if v not in consts})
        return _results(shifted, env)

    outputs, backprop = vjp(with_offsets, list(flat_args), zeros)
    seeds = _seed_cotangents(fun, closed, outputs, cotangents)
    arg_bars, offset_bars = backprop(seeds)
    bars = dict(zip(jaxpr.invars, arg_bars))
    bars.update(zip(offset_vars, offset_bars))
    return {v: b for v, b in bars.items() if dtypes.is_float(v.aval.dtype)}


# ------------------------------------------------------------------ seeds

def _seed_tangents(fun: Callable[..., Any], args: tuple, flat_args: list[Any],
                   tangents: Sequence[Any] | None) -> list[Any]:
    if tangents is None:
        return [_ones_or_float0(x) for x in flat_args]
    if not isinstance(tangents, (tuple, list)) or len(tangents) != len(args):
        raise TypeError(f"trace_table of {_name(fun)}: tangents must be a tuple or list with "
                        f"one entry per argument ({len(args)}), like jvp's; got "
                        f"{type(tangents).__name__}"
                        f"{f' of length {len(tangents)}' if hasattr(tangents, '__len__') else ''}")
    flat, tree = tree_flatten(tuple(tangents))
    _, arg_tree = tree_flatten(tuple(args))
    if tree != arg_tree:
        raise TypeError(f"trace_table of {_name(fun)}: tangents have structure {tree}, but "
                        f"the arguments have structure {arg_tree}")
    return flat


def _seed_cotangents(fun: Callable[..., Any], closed: ClosedJaxpr, outputs: list[Any],
                     cotangents: Any) -> list[Any]:
    if cotangents is None:
        return [_ones_or_float0(x) for x in outputs]
    flat, tree = tree_flatten(cotangents)
    if len(flat) != len(outputs):
        raise TypeError(f"trace_table of {_name(fun)}: cotangents have {len(flat)} leaves "
                        f"({tree}), but the function has {len(outputs)} outputs of types "
                        f"{', '.join(a.str_short() for a in closed.out_avals)}: give one "
                        "cotangent per output, shaped like it")
    return flat


def _ones_or_float0(x: Any) -> np.ndarray:
    x = np.asarray(x)
    if dtypes.is_float(x.dtype):
        return np.ones(x.shape, x.dtype)
    return np.zeros(x.shape, dtypes.float0)


def _name(fun: Callable[..., Any]) -> str:
    return getattr(fun, "__name__", type(fun).__name__)


def _how_computed(jaxpr: Any, var: Var, name: Mapping[Var, str]) -> str:
    if var in jaxpr.constvars:
        return "constant"
    if var in jaxpr.invars:
        return "input"
    eqn = next(e for e in jaxpr.eqns if var in e.outvars)
    if len(eqn.outvars) == 1:
        return operation_text(eqn, name.__getitem__)
    return equation_text(eqn, name.__getitem__)


# ------------------------------------------------------------------ text

_HEADER = ("", "computed as", "type", "value", "dot (tangent)", "bar (cotangent)")


def render_rows(rows: Sequence[TraceRow]) -> str:
    """The rows as an aligned text table."""
    cells = [[r.name, r.equation, r.aval, format_value(r.value), _cell(r.tangent),
              _cell(r.cotangent)] for r in rows]
    table = [list(_HEADER), *cells]
    widths = [max(_width(row[i]) for row in table) for i in range(len(_HEADER))]
    lines = []
    for row in table:
        padded = [_pad(text, w, right=i >= 3) for i, (text, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(padded).rstrip())
    return "\n".join(lines)


def _cell(x: np.ndarray | None) -> str:
    return "—" if x is None else format_value(x)


def _width(text: str) -> int:
    """Printed width: combining marks (the dot in u̇, the bar in ū) take no column."""
    return sum(not unicodedata.combining(c) for c in text)


def _pad(text: str, width: int, right: bool) -> str:
    space = " " * (width - _width(text))
    return space + text if right else text + space


# ------------------------------------------------------------------ rendering

_FORMATS = ("svg", "png", "pdf")


def render_dot(dot: str, format: str = "svg", path: str | Path | None = None) -> bytes:
    """Render DOT text with Graphviz's ``dot`` program; returns the file's bytes and,
    given `path`, writes them there. `format` is ``"svg"``, ``"png"`` or ``"pdf"``.

    Graphviz is a system program, not a Python package: ``apt install graphviz``,
    ``brew install graphviz`` or ``conda install graphviz``. Raises
    ``FileNotFoundError`` when ``dot`` is not on the PATH.
    """
    if format not in _FORMATS:
        raise ValueError(f"render_dot: format must be one of {', '.join(_FORMATS)}, "
                         f"got {format!r}")
    program = shutil.which("dot")
    if program is None:
        raise FileNotFoundError(
            "render_dot: Graphviz's `dot` program is not on the PATH. Install Graphviz "
            "(apt install graphviz, brew install graphviz or conda install graphviz), or "
            "paste the DOT text into any Graphviz viewer")
    done = subprocess.run([program, f"-T{format}"], input=dot.encode("utf-8"),
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise ValueError(f"render_dot: dot rejected the graph: "
                         f"{done.stderr.decode('utf-8', 'replace').strip()}")
    if path is not None:
        Path(path).write_bytes(done.stdout)
    return done.stdout
