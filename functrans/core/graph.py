"""Jaxprs as pictures: Graphviz DOT text for any jaxpr.

Each equation is a box holding the equation as the printed jaxpr writes it
(``c = sin b``) and the type of its result (``f64[]``); the arrows run from the
equation that computes a variable to the equations that read it. Inputs are
ellipses, constants dashed boxes (their value shown when small), and results have
a double border. Variables keep the names the printed jaxpr gives them, so the
picture and ``print(jaxpr)`` can be read side by side.

Optional annotations add, under a variable's box, its value, its tangent (the
course notes' dot) and its cotangent (the bar) at a point: that is how
``functrans.trace_table(f, x).to_dot()`` draws the notes' annotated graphs.

Rendering the text to SVG or PNG needs Graphviz's ``dot`` program, which is not a
Python package: ``functrans.learn.render_dot`` calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

# graph.py reads the IR and ir.py forwards its ``to_dot`` methods here, so each module
# imports the other; importing the module (not names from it) lets either load first.
from functrans.core import ir

#: how many elements a constant or an annotation may have and still be printed in full
SHOWN_ELEMENTS = 4

VariableNames = Mapping[Any, str] | Sequence[str]
Annotation = Mapping[Any, Any]

_STYLE = {
    "input": 'shape=ellipse, fillcolor="#dbeafe"',
    "const": 'shape=box, style="rounded,filled,dashed", fillcolor="#f3f4f6"',
    "eqn": 'shape=box, fillcolor="#ffffff"',
    "result": 'shape=box, peripheries=2, fillcolor="#fef3c7"',
}


def jaxpr_to_dot(jaxpr: ir.Jaxpr | ir.ClosedJaxpr, *,
                 values: Annotation | None = None,
                 tangents: Annotation | None = None,
                 cotangents: Annotation | None = None,
                 names: VariableNames | None = None,
                 title: str | None = None,
                 rankdir: str = "LR") -> str:
    """The DOT text of `jaxpr`'s graph.

    `values`, `tangents` and `cotangents` map variables (``Var`` objects, or the
    names the printed jaxpr gives them, such as ``"b"``) to arrays, shown under the
    variable as ``value``, ``dot`` and ``bar``. `names` renames variables: a
    sequence of new names in the order the printed jaxpr introduces the variables
    (constants, inputs, then each equation's results), or a mapping from printed
    names (or ``Var`` objects) to new names. `rankdir` is Graphviz's layout
    direction (``"LR"``: inputs on the left; ``"TB"``: inputs at the top).
    """
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"to_dot: rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    closed = jaxpr if isinstance(jaxpr, ir.ClosedJaxpr) else None
    inner = closed.jaxpr if closed is not None else jaxpr
    printed = printed_names(inner)
    name = _renamed(inner, printed, names)
    notes = _annotations(variable_finder(inner, printed), values, tangents, cotangents)
    lines = ["digraph jaxpr {", f"  rankdir={rankdir};",
             '  node [style="rounded,filled", fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9, color="#4b5563"];']
    if title:
        lines.append(f'  labelloc=t; fontname="Helvetica"; label={_quote(title)};')
    lines += _variable_nodes(inner, closed, name, notes)
    lines += _equation_nodes(inner, name, notes)
    lines += _edges(inner, name)
    lines.append("}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ names

def printed_names(jaxpr: ir.Jaxpr) -> dict[ir.Var, str]:
    """The name ``print(jaxpr)`` gives each variable (a, b, ..., z, ba, ...): found by
    printing, so that nested jaxprs in parameters use up names exactly as there."""
    namer = ir._Namer()
    ir._pp_jaxpr_lines(jaxpr, namer, 0)
    return namer.names


def introduced_variables(jaxpr: ir.Jaxpr) -> list[ir.Var]:
    """Constants, inputs, then each equation's results: the order of `printed_names`
    at the top level."""
    return [*jaxpr.constvars, *jaxpr.invars, *(v for e in jaxpr.eqns for v in e.outvars)]


def variable_names(jaxpr: ir.Jaxpr, names: VariableNames | None = None) -> dict[ir.Var, str]:
    """Each variable's display name: the printed name, unless `names` renames it."""
    return _renamed(jaxpr, printed_names(jaxpr), names)


def _renamed(jaxpr: ir.Jaxpr, printed: dict[ir.Var, str], names: VariableNames | None
             ) -> dict[ir.Var, str]:
    if names is None:
        return printed
    chosen = dict(printed)
    if isinstance(names, Mapping):
        find = variable_finder(jaxpr, printed)
        chosen.update((find(key, "names"), str(new)) for key, new in names.items())
        return chosen
    ordered = introduced_variables(jaxpr)
    if len(names) > len(ordered):
        raise ValueError(
            f"to_dot: {len(names)} names given for {len(ordered)} variables "
            f"({', '.join(printed[v] for v in ordered)}): give at most one name per "
            "variable, in the order the printed jaxpr introduces them")
    chosen.update(zip(ordered, map(str, names)))
    return chosen


def variable_finder(jaxpr: ir.Jaxpr, printed: Mapping[ir.Var, str]
                    ) -> Callable[[Any, str], ir.Var]:
    """A function from a key (a ``Var`` of `jaxpr`, or its printed name such as ``"b"``)
    to the variable, raising ValueError for anything else; `what` names the option."""
    top_level = introduced_variables(jaxpr)
    known = set(top_level)
    by_name = {printed[v]: v for v in top_level}

    def find(key: Any, what: str) -> ir.Var:
        if isinstance(key, ir.Var):
            if key not in known:
                raise ValueError(f"to_dot: {what} names {key!r}, which is not a variable "
                                 "of this jaxpr")
            return key
        if key not in by_name:
            raise ValueError(f"to_dot: {what} names variable {key!r}, but the jaxpr's "
                             f"variables are {', '.join(by_name)}")
        return by_name[key]

    return find


# ------------------------------------------------------------------ text of one node

def format_value(x: Any) -> str:
    """A short text for an array: the number(s) themselves when there are at most
    `SHOWN_ELEMENTS`, else the first few and the count."""
    x = np.asarray(x)
    if x.ndim == 0:
        return _format_scalar(x[()])
    flat = [_format_scalar(v) for v in x.ravel()[:SHOWN_ELEMENTS]]
    if x.size <= SHOWN_ELEMENTS:
        return "[" + " ".join(flat) + "]"
    return "[" + " ".join(flat[:3]) + f" … ({x.size} values)]"


def _format_scalar(v: Any) -> str:
    if isinstance(v, (np.floating, float)):
        text = f"{float(v):.6g}"
        # "3.0", not "3": the printed jaxpr writes float literals that way
        return text if any(c in text for c in ".einf") else text + ".0"
    if isinstance(v, (np.complexfloating, complex)):
        return f"{complex(v):.4g}"
    return str(v)


def equation_text(eqn: ir.JaxprEqn, name: Callable[[ir.Var], str]) -> str:
    """``c = sin b``: the equation without types, nested jaxprs abbreviated."""
    results = " ".join(name(v) for v in eqn.outvars)
    return f"{results} = {operation_text(eqn, name)}"


def operation_text(eqn: ir.JaxprEqn, name: Callable[[ir.Var], str]) -> str:
    """``integer_pow[y=2] a``: the right-hand side of an equation."""
    params = " ".join(f"{k}={_param_text(v)}" for k, v in sorted(eqn.params.items()))
    head = f"{eqn.primitive.name}[{params}]" if params else eqn.primitive.name
    operands = " ".join(_atom_text(a, name) for a in eqn.invars)
    return f"{head} {operands}".rstrip()


def _atom_text(atom: ir.Atom, name: Callable[[ir.Var], str]) -> str:
    if type(atom) is ir.Literal:
        return format_value(atom.val)
    return name(atom)


def _param_text(value: Any) -> str:
    """Parameters as the printer writes them, nested jaxprs as ``{…N eqns}``."""
    if isinstance(value, (ir.ClosedJaxpr, ir.Jaxpr)):
        return f"{{…{len(value.eqns)} eqns}}"
    if isinstance(value, (tuple, list)) and any(isinstance(v, (ir.ClosedJaxpr, ir.Jaxpr))
                                                for v in value):
        return "(" + ", ".join(_param_text(v) for v in value) + ")"
    return ir._pp_param(value, ir._Namer(), 0)


def _annotations(find: Callable[[Any, str], ir.Var], values: Annotation | None,
                 tangents: Annotation | None, cotangents: Annotation | None
                 ) -> dict[ir.Var, list[str]]:
    """Variable -> the lines shown under it (value, dot, bar)."""
    notes: dict[ir.Var, list[str]] = {}
    for label, mapping in (("value", values), ("dot", tangents), ("bar", cotangents)):
        for key, x in (mapping or {}).items():
            if x is not None:   # no tangent or cotangent: an integer value
                notes.setdefault(find(key, f"the {label}s"), []).append(
                    f"{label} {format_value(x)}")
    return notes


# ------------------------------------------------------------------ nodes and edges

def _variable_nodes(jaxpr: ir.Jaxpr, closed: ir.ClosedJaxpr | None,
                    name: Mapping[ir.Var, str], notes: Mapping[ir.Var, list[str]]
                    ) -> list[str]:
    lines = []
    consts = closed.consts if closed is not None else [None] * len(jaxpr.constvars)
    results = set(v for v in jaxpr.outvars if type(v) is ir.Var)
    for i, (var, value) in enumerate(zip(jaxpr.constvars, consts)):
        small = value is not None and np.size(value) <= SHOWN_ELEMENTS
        shown = f" = {format_value(value)}" if small else ""
        label = [f"{name[var]}: {var.aval.str_short()}{shown}", "(constant)", *notes.get(var, [])]
        lines.append(_node(f"c{i}", label, "result" if var in results else "const"))
    for i, var in enumerate(jaxpr.invars):
        label = [f"{name[var]}: {var.aval.str_short()}", *notes.get(var, [])]
        lines.append(_node(f"in{i}", label, "result" if var in results else "input"))
    for i, atom in enumerate(jaxpr.outvars):  # a literal result has no node of its own
        if type(atom) is ir.Literal:
            lines.append(_node(f"lit{i}", [format_value(atom.val), "(result)"], "result"))
    return lines


def _equation_nodes(jaxpr: ir.Jaxpr, name: Mapping[ir.Var, str],
                    notes: Mapping[ir.Var, list[str]]) -> list[str]:
    results = set(v for v in jaxpr.outvars if type(v) is ir.Var)
    lines = []
    for i, eqn in enumerate(jaxpr.eqns):
        label = [equation_text(eqn, name.__getitem__),
                 " ".join(v.aval.str_short() for v in eqn.outvars)]
        many = len(eqn.outvars) > 1
        for var in eqn.outvars:
            label += [f"{name[var]}: {note}" if many else note for note in notes.get(var, [])]
        style = "result" if any(v in results for v in eqn.outvars) else "eqn"
        lines.append(_node(f"e{i}", label, style))
    return lines


def _edges(jaxpr: ir.Jaxpr, name: Mapping[ir.Var, str]) -> list[str]:
    source: dict[ir.Var, tuple[str, bool]] = {}     # var -> (node, one of several results)
    source.update((v, (f"c{i}", False)) for i, v in enumerate(jaxpr.constvars))
    source.update((v, (f"in{i}", False)) for i, v in enumerate(jaxpr.invars))
    lines = []
    for i, eqn in enumerate(jaxpr.eqns):
        for atom in eqn.invars:
            if type(atom) is ir.Var:
                lines.append(_edge(source[atom], f"e{i}", name[atom]))
        source.update((v, (f"e{i}", len(eqn.outvars) > 1)) for v in eqn.outvars)
    return lines


def _edge(source: tuple[str, bool], target: str, var_name: str) -> str:
    node, labelled = source
    label = f" [label={_quote(var_name)}]" if labelled else ""
    return f"  {node} -> {target}{label};"


def _node(node_id: str, label: list[str], style: str) -> str:
    return f"  {node_id} [{_STYLE[style]}, label={_quote(chr(10).join(label))}];"


def _quote(text: str) -> str:
    """A DOT string: quotes and backslashes escaped, newlines as centred line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
