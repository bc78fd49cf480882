"""A tour of forward and reverse mode on the course notes' running example.

    z = exp(sin(u²) log(u²))            (Murray, "Backpropagation of Derivatives")

The notes split z into elementary steps v = u², w = sin v, x = log v, y = w x, z = exp y,
and derive the derivatives by hand: dots (tangents, ∂θ/∂u) in a forward sweep, bars
(adjoints, ∂z/∂θ) in a reverse sweep. This script prints those hand-derived numbers next
to what functrans computes, and the jaxprs functrans records on the way:

* ``ft.make_jaxpr(f)``: the graph itself (``.to_dot()`` draws it);
* ``ft.trace_table(f, u)``: the notes' table, every node's value, dot and bar;
* ``ft.linearize(f, u)``: the forward-mode (JVP) map, a linear jaxpr whose constants are the
  local derivatives of the forward pass;
* ``ft.make_jaxpr(ft.grad(f))``: the forward pass followed by the transposed linear map,
  which is the reverse sweep.

Run: python examples/backprop_tour.py [u]
"""

from __future__ import annotations

import sys
import unicodedata

import numpy as np

import functrans as ft
import functrans.numpy as fnp


def f(u):
    """z = exp(sin(u²) log(u²)), one elementary step per line."""
    v = u**2
    w = fnp.sin(v)
    x = fnp.log(v)
    y = w * x
    return fnp.exp(y)


def hand_forward_pass(u: float) -> dict[str, float]:
    v = u**2
    w = np.sin(v)
    x = np.log(v)
    y = w * x
    return {"u": u, "v": v, "w": w, "x": x, "y": y, "z": np.exp(y)}


def hand_dots(n: dict[str, float]) -> dict[str, float]:
    """Forward mode as the notes do it, with u̇ = 1."""
    dots = {"u": 1.0}
    dots["v"] = 2 * n["u"] * dots["u"]
    dots["w"] = np.cos(n["v"]) * dots["v"]
    dots["x"] = dots["v"] / n["v"]
    dots["y"] = n["x"] * dots["w"] + n["w"] * dots["x"]
    dots["z"] = n["z"] * dots["y"]
    return dots


def hand_bars(n: dict[str, float]) -> dict[str, float]:
    """Reverse mode as the notes do it, with z̄ = 1, from the output back to u."""
    bars = {"z": 1.0}
    bars["y"] = bars["z"] * n["z"]
    bars["x"] = bars["y"] * n["w"]
    bars["w"] = bars["y"] * n["x"]
    bars["v"] = bars["w"] * np.cos(n["v"]) + bars["x"] / n["v"]
    bars["u"] = bars["v"] * 2 * n["u"]
    return bars


def width(text: str) -> int:
    """Printed width: combining marks (the dot in u̇, the bar in ū) take no column."""
    return sum(not unicodedata.combining(c) for c in text)


def pad(text: str, columns: int) -> str:
    return text + " " * max(columns - width(text), 0)


def heading(text: str) -> None:
    print(f"\n{text}\n{'-' * width(text)}")


def table(rows: list[tuple[str, float, float]], left: str, right: str) -> None:
    print(f"  {'':24}{left:>12}{right:>14}")
    for formula, hand, lib in rows:
        print(f"  {pad(formula, 24)}{hand:12.6f}{lib:14.6f}")


def indent(text: object) -> str:
    return "\n".join("    " + line for line in str(text).splitlines())


def annotate(jaxpr_text: str, notes: list[str]) -> str:
    """Put the notes' name for each equation's result at the end of its line."""
    lines = jaxpr_text.splitlines()
    equations = [i for i, line in enumerate(lines) if " = " in line]
    if len(equations) != len(notes):
        return jaxpr_text
    longest = max(width(lines[i]) for i in equations)
    for i, note in zip(equations, notes, strict=True):
        lines[i] = f"{pad(lines[i], longest)}   # {note}"
    return "\n".join(lines)


def main(u: float = 1.5) -> None:
    nodes = hand_forward_pass(u)
    dots, bars = hand_dots(nodes), hand_bars(nodes)

    print(f"z = exp(sin(u²) log(u²)) at u = {u}")
    print("(Murray, \"Backpropagation of Derivatives\": the running example)")

    heading("The graph: ft.make_jaxpr(f)(u)")
    steps = [("v", "u²"), ("w", "sin(v)"), ("x", "log(v)"), ("y", "w·x"), ("z", "exp(y)")]
    for name, formula in steps:
        print(f"  {name} = {formula:8}{nodes[name]:12.6f}")
    print(indent(annotate(str(ft.make_jaxpr(f)(u)), [f"{n} = {e}" for n, e in steps])))
    print("  ft.make_jaxpr(f)(u).to_dot() is this graph in Graphviz's language: "
          "docs/figures/")

    heading("The notes' table: ft.trace_table(f, u, names=\"uvwxyz\")")
    print("  Every node with its value, its dot (u̇ = 1) and its bar (z̄ = 1):\n")
    trace = ft.trace_table(f, u, names="uvwxyz")
    print(indent(trace))

    heading("Forward mode: dots θ̇ = ∂θ/∂u, seeded with u̇ = 1")
    lib_dots = {row.name: float(row.tangent) for row in trace}
    table([("v̇ = 2u·u̇", dots["v"], lib_dots["v"]),
           ("ẇ = cos(v)·v̇", dots["w"], lib_dots["w"]),
           ("ẋ = v̇/v", dots["x"], lib_dots["x"]),
           ("ẏ = x·ẇ + w·ẋ", dots["y"], lib_dots["y"]),
           ("ż = z·ẏ", dots["z"], lib_dots["z"])],
          "by hand", "trace_table")
    _, f_jvp = ft.linearize(f, u)
    print("\n  ft.linearize(f, u) runs the forward pass once and keeps the linear map u̇ ↦ ż.")
    print("  Its jaxpr's constants are the local derivatives the notes list: ∂v/∂u = 2u,")
    print(f"  ∂w/∂v = cos(v) = {np.cos(nodes['v']):.6f}, ∂x/∂v = 1/v (a division by "
          f"v = {nodes['v']:g}),")
    print(f"  ∂y/∂w = x = {nodes['x']:.6f}, ∂y/∂x = w = {nodes['w']:.6f}, "
          f"∂z/∂y = z = {nodes['z']:.6f}")
    print(indent(ft.make_jaxpr(f_jvp)(1.0)))

    heading("Reverse mode: bars θ̄ = ∂z/∂θ, seeded with z̄ = 1")
    lib_bars = {row.name: float(row.cotangent) for row in trace}
    table([("ȳ = z", bars["y"], lib_bars["y"]),
           ("x̄ = ȳ·w", bars["x"], lib_bars["x"]),
           ("w̄ = ȳ·x", bars["w"], lib_bars["w"]),
           ("v̄ = w̄·cos(v) + x̄/v", bars["v"], lib_bars["v"]),
           ("ū = v̄·2u", bars["u"], lib_bars["u"])],
          "by hand", "trace_table")
    print("\n  ft.make_jaxpr(ft.grad(f))(u): the forward pass (keeping cos(v) and 2u for")
    print("  later), then the linear map above transposed: run from ż back to u̇, it")
    print("  computes ȳ = z̄·z, then x̄ and w̄, then v̄ (two terms, added) and ū")
    print(indent(ft.make_jaxpr(ft.grad(f))(u)))

    heading("Both modes agree")
    u_bar = ft.grad(f)(u)
    h = 1e-6
    central_difference = (hand_forward_pass(u + h)["z"] - hand_forward_pass(u - h)["z"]) / (2 * h)
    print(f"  ż  (forward, ft.jvp)          {ft.jvp(f, (u,), (1.0,))[1]: .15f}")
    print(f"  ū  (reverse, ft.grad)         {u_bar: .15f}")
    print(f"  hand-derived                  {bars['u']: .15f}")
    print(f"  central difference, h = 1e-6  {central_difference: .15f}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.5)
