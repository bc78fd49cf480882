"""Draw the tutorial's figures with the library: docs/figures/*.dot, and *.svg when
Graphviz's ``dot`` program is installed.

    python docs/make_figures.py           # write the figures
    python docs/make_figures.py --check   # exit 1 if a committed figure is out of date

The figures are the course notes' running example z = exp(sin(u²) log(u²)) at u = 1.5:
its graph (``make_jaxpr(z)(u).to_dot()``), the same graph annotated with every node's
value, dot and bar (``trace_table(z, u).to_dot()``), the linear map of forward mode
(``linearize``) and its transpose, the reverse sweep (the jaxpr of ``vjp``'s function).
Nodes are named as the notes name them. ``tests/test_site.py`` runs the check.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ROOT / "docs" / "figures"
sys.path.insert(0, str(ROOT))

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
from functrans.core.ir import ClosedJaxpr  # noqa: E402
from functrans.learn import render_dot  # noqa: E402

U = 1.5
DOT, BAR = "\u0307", "\u0304"     # combining dot and macron: u̇, ū


def z_of(u):
    v = u**2
    w = fnp.sin(v)
    x = fnp.log(v)
    y = w * x
    return fnp.exp(y)


def named(closed: ClosedJaxpr, operations: list[str], names: list[str]) -> list[str]:
    """`names` for `closed`'s variables, after checking its equations are still the
    `operations` the names were written for."""
    found = [e.primitive.name for e in closed.eqns]
    if found != operations:
        raise SystemExit(f"make_figures: the jaxpr's equations are now {found}, not "
                         f"{operations}: update the names of this figure")
    return names


def figures() -> dict[str, str]:
    """File stem -> DOT text."""
    forward = ft.make_jaxpr(z_of)(U)
    _, f_jvp = ft.linearize(z_of, U)
    linear = ft.make_jaxpr(f_jvp)(1.0)
    _, backprop = ft.vjp(z_of, U)
    reverse = ft.make_jaxpr(backprop)(1.0)
    linear_ops = ["mul", "mul", "div", "mul", "mul", "add_any", "mul"]
    reverse_ops = ["mul", "mul", "mul", "div", "mul", "add_any", "mul"]
    return {
        "z_forward": forward.to_dot(
            names="uvwxyz", title="z = exp(sin(u²) log(u²)): make_jaxpr(z)(1.5)"),
        "z_table": ft.trace_table(z_of, U, names="uvwxyz").to_dot(
            title="value, dot (u̇ = 1) and bar (z̄ = 1) of every node: trace_table(z, 1.5)"),
        "z_linear": linear.to_dot(
            names=named(linear, linear_ops,
                        [f"u{DOT}", f"v{DOT}", f"w{DOT}", f"x{DOT}", f"x·w{DOT}",
                         f"w·x{DOT}", f"y{DOT}", f"z{DOT}"]),
            title="forward mode, the linear map u̇ ↦ ż: linearize(z, 1.5)"),
        "z_reverse": reverse.to_dot(
            names=named(reverse, reverse_ops,
                        [f"z{BAR}", f"y{BAR}", f"x{BAR}", f"w{BAR}", f"x{BAR}/v",
                         f"w{BAR}·cos(v)", f"v{BAR}", f"u{BAR}"]),
            title="reverse mode, the transposed map z̄ ↦ ū: vjp(z, 1.5)"),
    }


def svg_texts(svg: str) -> list[str]:
    """The text of an SVG's <text> elements: what a figure says, whatever the layout
    (which changes between Graphviz versions)."""
    return [re.sub(r"&#(\d+);", lambda m: chr(int(m.group(1))), t)
            .replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
            .replace("&quot;", '"').replace("&#45;", "-")
            for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def stale(dot_only: bool = False) -> list[str]:
    """The figures whose committed files differ from what the library draws now (SVGs
    compared by their text, and only when Graphviz is installed)."""
    out = []
    for stem, dot in figures().items():
        dot_path = FIGURES / f"{stem}.dot"
        if not dot_path.exists() or dot_path.read_text(encoding="utf-8") != dot:
            out.append(dot_path.name)
        svg_path = FIGURES / f"{stem}.svg"
        if not svg_path.exists():
            out.append(svg_path.name)
        elif not dot_only and shutil.which("dot"):
            drawn = render_dot(dot, "svg").decode("utf-8")
            if svg_texts(drawn) != svg_texts(svg_path.read_text(encoding="utf-8")):
                out.append(svg_path.name)
    return out


def write() -> None:
    FIGURES.mkdir(parents=True, exist_ok=True)
    can_render = shutil.which("dot") is not None
    for stem, dot in figures().items():
        (FIGURES / f"{stem}.dot").write_text(dot, encoding="utf-8")
        if can_render:
            render_dot(dot, "svg", FIGURES / f"{stem}.svg")
        print(f"wrote docs/figures/{stem}.dot" + (" and .svg" if can_render else ""))
    if not can_render:
        print("Graphviz's dot program is not installed: the SVGs were not redrawn")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a committed figure is out of date")
    args = parser.parse_args(argv)
    if not args.check:
        write()
        return 0
    out_of_date = stale()
    if out_of_date:
        print(f"out of date: {', '.join(out_of_date)}: run python docs/make_figures.py")
        return 1
    print("figures: up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
