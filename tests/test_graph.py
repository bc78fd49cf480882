"""Jaxprs as Graphviz graphs: ``jaxpr.to_dot()`` (functrans.core.graph) and
``functrans.learn.render_dot``.

The DOT text is read back with a small parser and compared with the jaxpr it draws:
one box per equation, labelled as the printed jaxpr writes it, and one arrow per use
of a variable. Rendering is checked when Graphviz's ``dot`` program is installed.
"""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.core.ir import ClosedJaxpr, Literal, Var
from functrans.learn import render_dot

HAS_DOT = shutil.which("dot") is not None
NODE = re.compile(r'^  (\w+) \[(.*), label="((?:[^"\\]|\\.)*)"\];$')
EDGE = re.compile(r"^  (\w+) -> (\w+)(?: \[label=\"([^\"]*)\"\])?;$")


def z_of(u):
    """The course notes' running example, z = exp(sin(u²) log(u²))."""
    v = u**2
    return fnp.exp(fnp.sin(v) * fnp.log(v))


def parse(dot: str) -> tuple[dict[str, tuple[str, list[str]]], list[tuple[str, str, str]]]:
    """Nodes (id -> (attributes, label lines)) and edges (source, target, label)."""
    assert dot.startswith("digraph jaxpr {\n") and dot.endswith("}\n")
    nodes, edges = {}, []
    for line in dot.splitlines():
        if m := NODE.match(line):
            nodes[m.group(1)] = (m.group(2), m.group(3).split("\\n"))
        elif m := EDGE.match(line):
            edges.append((m.group(1), m.group(2), m.group(3) or ""))
    return nodes, edges


def printed_lines(closed: ClosedJaxpr) -> list[tuple[str, str]]:
    """(results, right-hand side) of each top-level equation of the printed jaxpr, types
    dropped from the results; nested jaxprs are indented further and skipped."""
    lines = []
    for line in str(closed).splitlines():
        if re.match(r"^    \S", line) and " = " in line:
            lhs, rhs = line.strip().split(" = ", 1)
            lines.append((" ".join(part.split(":")[0] for part in lhs.split()), rhs))
    return lines


def expected_edges(closed: ClosedJaxpr) -> list[tuple[str, str]]:
    """(producer node, consumer node) for every use of a variable by an equation."""
    jaxpr = closed.jaxpr
    node = {v: f"c{i}" for i, v in enumerate(jaxpr.constvars)}
    node.update({v: f"in{i}" for i, v in enumerate(jaxpr.invars)})
    edges = []
    for i, eqn in enumerate(jaxpr.eqns):
        edges += [(node[a], f"e{i}") for a in eqn.invars if type(a) is Var]
        node.update({v: f"e{i}" for v in eqn.outvars})
    return edges


# ------------------------------------------------------------------ structure

def test_forward_graph_of_the_notes_example():
    closed = ft.make_jaxpr(z_of)(1.5)
    nodes, edges = parse(closed.to_dot())
    assert nodes["in0"][1] == ["a: f64[]"]
    assert [nodes[f"e{i}"][1] for i in range(5)] == [
        ["b = integer_pow[y=2] a", "f64[]"], ["c = sin b", "f64[]"], ["d = log b", "f64[]"],
        ["e = mul c d", "f64[]"], ["f = exp e", "f64[]"]]
    assert sorted(e[:2] for e in edges) == sorted(
        [("in0", "e0"), ("e0", "e1"), ("e0", "e2"), ("e1", "e3"), ("e2", "e3"), ("e3", "e4")])
    assert "peripheries=2" in nodes["e4"][0]          # the result
    assert "peripheries=2" not in nodes["e3"][0]


W = np.arange(6.0).reshape(2, 3)


def with_constant(x):
    return fnp.sum(fnp.tanh(W @ x) * 2.0)


def two_results(x, y):
    return fnp.sin(x) * y, fnp.cos(x)


def with_control_flow(xs):
    total, _ = lax.scan(lambda c, x: (c + fnp.sin(x), None), 0.0, xs)
    return ft.jit(lambda t: t * 3.0)(total)


def with_custom_rule(x):
    return ft.nn.relu(x) + ft.nn.softplus(x)


@pytest.mark.parametrize("f, args", [
    (z_of, (1.5,)),
    (with_constant, (np.ones(3),)),
    (two_results, (np.ones(2, np.float32), np.ones(2, np.float32))),
    (with_control_flow, (np.arange(4.0),)),
    (with_custom_rule, (np.linspace(-1, 1, 3),)),
    (ft.grad(z_of), (1.5,)),
    (lambda x: ft.jvp(z_of, (x,), (1.0,)), (0.7,)),
], ids=["notes", "constant", "two-results", "scan-jit", "custom-jvp", "grad", "jvp"])
def test_graph_has_one_box_per_equation_and_one_arrow_per_use(f, args):
    closed = ft.make_jaxpr(f)(*args)
    nodes, edges = parse(closed.to_dot())
    jaxpr = closed.jaxpr
    equations = [nodes[f"e{i}"][1][0] for i in range(len(jaxpr.eqns))]
    assert len(nodes) == len(jaxpr.constvars) + len(jaxpr.invars) + len(jaxpr.eqns) + sum(
        type(a) is Literal for a in jaxpr.outvars)
    for text, (names, _), eqn in zip(equations, printed_lines(closed), jaxpr.eqns,
                                     strict=True):
        results, operation = text.split(" = ", 1)
        assert results == names
        assert re.match(rf"{eqn.primitive.name}\b", operation)
    assert sorted(e[:2] for e in edges) == sorted(expected_edges(closed))
    for i, eqn in enumerate(jaxpr.eqns):
        assert nodes[f"e{i}"][1][1] == " ".join(v.aval.str_short() for v in eqn.outvars)
    results = {f"e{i}" for i, eqn in enumerate(jaxpr.eqns)
               if any(v in jaxpr.outvars for v in eqn.outvars)}
    marked = {n for n, (attrs, _) in nodes.items() if "peripheries=2" in attrs}
    assert results <= marked
    if len(jaxpr.constvars):
        assert all(nodes[f"c{i}"][1][1] == "(constant)" for i in range(len(jaxpr.constvars)))


def _abbreviated(rhs: str) -> str:
    """The printed right-hand side as the graph writes it: literals without their type."""
    return re.sub(r"(-?[\d.e+-]+|True|False):\w+\[[\d,]*\]", r"\1", rhs)


def test_equations_match_the_printed_jaxpr_text():
    for f, args in [(z_of, (1.5,)), (two_results, (np.ones(2), np.ones(2))),
                    (ft.grad(z_of), (1.5,))]:
        closed = ft.make_jaxpr(f)(*args)
        nodes, _ = parse(closed.to_dot())
        drawn = [nodes[f"e{i}"][1][0] for i in range(len(closed.eqns))]
        printed = [f"{names} = {_abbreviated(rhs)}" for names, rhs in printed_lines(closed)]
        assert drawn == printed


def test_nested_jaxprs_are_abbreviated_and_names_stay_those_of_the_printer():
    closed = ft.make_jaxpr(with_control_flow)(np.arange(4.0))
    nodes, _ = parse(closed.to_dot())
    scan_label = next(lines[0] for _, lines in nodes.values() if "scan[" in lines[0])
    assert re.search(r"jaxpr=\{…\d+ eqns\}", scan_label)
    printed = str(closed)
    last = nodes[f"e{len(closed.eqns) - 1}"][1][0].split(" = ")[0]
    assert re.search(rf"\b{last}:f64\[\] = ", printed)    # nested jaxprs used up names


def test_literal_results_inputs_returned_and_two_results():
    closed = ft.make_jaxpr(lambda x, y: (x, 2.0, y * 2.0))(1.0, 3.0)
    nodes, edges = parse(closed.to_dot())
    assert "peripheries=2" in nodes["in0"][0]            # x is returned as it is
    assert nodes["lit1"][1] == ["2.0", "(result)"]
    closed = ft.make_jaxpr(lambda x: lax.sort((x, -x), num_keys=1))(np.ones(3))
    nodes, edges = parse(closed.to_dot())
    two = next(i for i, e in enumerate(closed.eqns) if len(e.outvars) == 2)
    assert nodes[f"e{two}"][1][1] == "f64[3] f64[3]"


def test_small_constants_show_their_values():
    closed = ft.make_jaxpr(lambda x: x * np.array([1.5, 2.0]) + W.sum(1))(np.ones(2))
    nodes, _ = parse(closed.to_dot())
    labels = [lines[0] for node, (_, lines) in nodes.items() if node.startswith("c")]
    assert "a: f64[2] = [1.5 2.0]" in labels
    big = ft.make_jaxpr(lambda x: W @ x)(np.ones(3))
    nodes, _ = parse(big.to_dot())
    assert nodes["c0"][1][0] == "a: f64[2,3]"            # six values: not printed
    nodes, _ = parse(big.jaxpr.to_dot())                  # no values without the consts
    assert nodes["c0"][1][0] == "a: f64[2,3]"


# ------------------------------------------------------------------ options

def test_values_tangents_cotangents_and_names():
    closed = ft.make_jaxpr(z_of)(1.5)
    dot = closed.to_dot(values={"a": 1.5, "b": 2.25}, tangents={"b": 3.0},
                        cotangents={closed.jaxpr.eqns[0].outvars[0]: -0.307463},
                        names="uvwxyz", title='z = exp(sin(u²) log(u²)) "notes"',
                        rankdir="TB")
    nodes, _ = parse(dot)
    assert nodes["in0"][1] == ["u: f64[]", "value 1.5"]
    assert nodes["e0"][1] == ["v = integer_pow[y=2] u", "f64[]", "value 2.25", "dot 3.0",
                              "bar -0.307463"]
    assert nodes["e3"][1][0] == "y = mul w x"
    assert "rankdir=TB;" in dot and 'label="z = exp(sin(u²) log(u²)) \\"notes\\""' in dot
    renamed = closed.to_dot(names={"b": "v"})
    assert parse(renamed)[0]["e1"][1][0] == "c = sin v"


def test_array_annotations_are_abbreviated():
    closed = ft.make_jaxpr(lambda x: fnp.sin(x))(np.ones(10))
    nodes, _ = parse(closed.to_dot(values={"a": np.arange(10.0), "b": np.arange(3.0)}))
    assert nodes["in0"][1][1] == "value [0.0 1.0 2.0 … (10 values)]"
    assert nodes["e0"][1][2] == "value [0.0 1.0 2.0]"


def test_bad_options_are_named():
    closed = ft.make_jaxpr(z_of)(1.5)
    with pytest.raises(ValueError, match=r"names variable 'q'.*a, b, c, d, e, f"):
        closed.to_dot(values={"q": 1.0})
    with pytest.raises(ValueError, match="7 names given for 6 variables"):
        closed.to_dot(names="uvwxyzt")
    with pytest.raises(ValueError, match="rankdir"):
        closed.to_dot(rankdir="sideways")
    other = ft.make_jaxpr(z_of)(2.0).jaxpr.invars[0]
    with pytest.raises(ValueError, match="not a variable of this jaxpr"):
        closed.to_dot(values={other: 1.0})


# ------------------------------------------------------------------ rendering

@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot program is not installed")
def test_render_svg_and_png(tmp_path):
    dot = ft.trace_table(z_of, 1.5, names="uvwxyz").to_dot(title='say "hi" \\ there')
    svg = render_dot(dot, "svg", tmp_path / "z.svg").decode()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    for text in ("w = sin v", "bar 1.52408", "y = mul w x"):
        assert text in svg
    assert (tmp_path / "z.svg").read_text() == svg
    assert render_dot(dot, "png")[:8] == b"\x89PNG\r\n\x1a\n"


def test_render_errors(monkeypatch):
    with pytest.raises(ValueError, match="format must be one of svg, png, pdf"):
        render_dot("digraph {}", "gif")
    monkeypatch.setenv("PATH", "")
    with pytest.raises(FileNotFoundError, match="apt install graphviz"):
        render_dot("digraph {}")


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot program is not installed")
def test_render_reports_dot_errors():
    with pytest.raises(ValueError, match="dot rejected the graph"):
        render_dot("digraph { a -> }")


def test_literals_in_labels_are_written_like_the_printer():
    closed = ft.make_jaxpr(lambda x: x * 3.0 + 1)(np.float32(2.0))
    labels = [parse(closed.to_dot())[0][f"e{i}"][1][0] for i in range(len(closed.eqns))]
    literals = [a for e in closed.eqns for a in e.invars if type(a) is Literal]
    assert literals and all("3.0" in " ".join(labels) for _ in literals)
