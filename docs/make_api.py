"""Write docs/api.md: every public function of functrans, one line each, with its signature.

Run after adding or renaming a public function:

    python docs/make_api.py

Descriptions of the transformations and the pytree/testing helpers are written here; for
the NumPy-, lax- and nn-level functions (which follow jax.numpy, jax.lax and jax.nn) the
first sentence of each docstring is used. ``tests/test_examples.py`` checks that api.md
names every public function.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
import functrans.test_util as test_util  # noqa: E402
from functrans import lax, nn, scipy, tree_util  # noqa: E402

# Descriptions written for this page (the top-level API and the helpers).
DESCRIPTIONS = {
    "grad": "Gradient of a scalar-valued function with respect to the arguments `argnums` "
            "(reverse mode: one backward sweep seeded with 1).",
    "value_and_grad": "Like `grad`, returning `(value, gradient)`; with `has_aux=True`, "
                      "`((value, aux), gradient)`.",
    "vjp": "`(fun(*primals), backprop)`, where `backprop(cotangent)` returns one cotangent "
           "per primal (the bars); `(out, backprop, aux)` with `has_aux=True`.",
    "jvp": "`(fun(*primals), tangent_out)`: forward mode, pushing `tangents` (the dots) "
           "through `fun`.",
    "linearize": "`(fun(*primals), f_jvp)`: evaluates `fun` once and returns its linear map "
                 "`f_jvp(*tangents)`, which replays only the recorded tangent computation.",
    "linear_transpose": "The transpose of the linear function `fun` at arguments shaped "
                        "like `primals`: a function from output cotangents to input "
                        "cotangents.",
    "jit": "Traces `fun` once per input signature (shapes, dtypes, static arguments) and "
           "runs the cached jaxpr with NumPy afterwards; usable as a decorator.",
    "vmap": "Vectorises `fun` over an axis of its arguments (`in_axes`, `None` for "
            "unmapped) and stacks the results along `out_axes`.",
    "jacfwd": "Jacobian by forward mode: one JVP per input element, batched with vmap.",
    "jacrev": "Jacobian by reverse mode: one VJP per output element, batched with vmap.",
    "jacobian": "Alias of `jacrev`.",
    "hessian": "Hessian, as `jacfwd(jacrev(fun))` (forward over reverse).",
    "make_jaxpr": "Returns a function that, called like `fun`, returns the jaxpr `fun` "
                  "stages out for arguments of those shapes and dtypes (printable).",
    "stop_gradient": "The identity on values, with zero derivative: the argument is treated "
                     "as a constant by every differentiation transformation.",
    "tree_flatten": "`(leaves, treedef)`: the leaves of a pytree in order, and its "
                    "structure.",
    "tree_unflatten": "Rebuilds a pytree of structure `treedef` from `leaves`.",
    "tree_leaves": "The leaves of a pytree, in order.",
    "tree_structure": "The structure (`PyTreeDef`) of a pytree.",
    "tree_map": "Applies `f` leafwise to one or more pytrees of the same structure.",
    "tree_reduce": "Folds `f` over the leaves of a pytree, optionally from an initial value.",
    "tree_all": "True when every leaf of the pytree is truthy.",
    "tree_transpose": "Turns a pytree of structure `outer` whose nodes are pytrees of "
                      "structure `inner` inside out.",
    "tree_flatten_with_path": "Like `tree_flatten`, with each leaf paired with its key "
                              "path.",
    "keystr": "A readable string for a key path, such as `['W'][0]`.",
    "treedef_is_leaf": "True when the structure is a single leaf.",
    "register_pytree_node": "Registers a container type with its flatten and unflatten "
                            "functions.",
    "register_pytree_node_class": "Class decorator: registers a class that defines "
                                  "`tree_flatten` and `tree_unflatten`.",
    "register_dataclass": "Registers a dataclass; `data_fields` are leaves, `meta_fields` "
                          "are static structure.",
    "check_grads": "Checks `f`'s forward- and reverse-mode derivatives at `args` against "
                   "finite differences, up to `order`; raises AssertionError on a mismatch.",
    "check_jvp": "Checks a JVP in a random direction against a central finite difference.",
    "check_vjp": "Checks a VJP against the JVP (dot-product test) and finite differences.",
    "check_close": "Asserts two pytrees are equal to tolerances chosen from their dtypes.",
    "numerical_jvp": "Central finite-difference approximation of the JVP.",
    "rand_like": "A random pytree with the structure, shapes and dtypes of the given one.",
    "inner_prod": "Inner product of two pytrees, seen as vectors.",
    "tree_add": "Leafwise sum of two pytrees.",
    "tree_sub": "Leafwise difference of two pytrees.",
    "tree_scale": "A pytree multiplied by a scalar.",
    "default_tolerance": "The default tolerance of the checks for a dtype.",
    "default_eps": "The default finite-difference step for a dtype.",
}

SECTIONS: list[tuple[str, str, ModuleType, str]] = [
    ("Transformations", "`import functrans as ft`", ft, "ft."),
    ("Pytrees", "`ft.tree_util`", tree_util, "ft.tree_util."),
    ("Checking derivatives", "`from functrans import test_util`", test_util,
     "test_util."),
    ("Neural-network functions", "`from functrans import nn` (as `jax.nn`)", nn, "nn."),
    ("NumPy API", "`import functrans.numpy as fnp` (as `jax.numpy`)", fnp, "fnp."),
    ("Linear algebra", "`fnp.linalg` (as `jax.numpy.linalg`)", fnp.linalg, "fnp.linalg."),
    ("Special functions", "`functrans.scipy.special` (as `jax.scipy.special`)",
     scipy.special, "scipy.special."),
    ("Primitive-level operations", "`ft.lax` (as `jax.lax`: no broadcasting or dtype "
     "promotion; operands of elementwise operations must match)", lax, "lax."),
]

INTRO = """# API reference

Every public function of functrans, with its signature, one line each. Names and
semantics follow JAX (`jax`, `jax.numpy`, `jax.nn`, `jax.lax`, `jax.tree_util`,
`jax.scipy.special`); where functrans differs on purpose, the README says so. The
[tutorial](tutorial.md) shows the transformations at work on the course notes' examples,
and [sharp bits](sharp_bits.md) lists the traps.

This page is generated by `python docs/make_api.py`.
"""

ERRORS_AND_TYPES = """
Errors (all `TypeError` subclasses except `UnexpectedTracerError`):
`ft.ConcretizationTypeError` (a traced value used where a concrete Python value is needed,
under `jit`, `make_jaxpr` or `vmap`), `ft.TracerBoolConversionError` (an `if`/`while` on
such a value), `ft.TracerIntegerConversionError` (`int()` or an index),
`ft.TracerArrayConversionError` (a traced value passed to plain NumPy),
`ft.UnexpectedTracerError` (a tracer used after its transformation finished).

Types: `ft.Tracer` (the traced stand-in for an array), `ft.Jaxpr` and `ft.ClosedJaxpr`
(what `make_jaxpr` returns), `ft.float0` (the dtype of the tangent of an integer value),
`ft.config` (`ft.config.update("check_jaxprs", True)` type-checks every staged jaxpr).
"""


def public_functions(module: ModuleType) -> list[tuple[str, Callable]]:
    names: Iterable[str] = getattr(module, "__all__", None) or [
        n for n in dir(module) if not n.startswith("_")]
    found = []
    for name in sorted(set(names)):
        obj = getattr(module, name, None)
        if not inspect.isroutine(obj) and not _is_function_like(obj):
            continue
        if getattr(obj, "__module__", "") and not obj.__module__.startswith("functrans"):
            continue        # re-exported NumPy helpers, typing names ...
        found.append((name, obj))
    return found


def _is_function_like(obj: object) -> bool:
    """Callable objects that act as functions (not classes, not primitives)."""
    return (callable(obj) and not isinstance(obj, type)
            and type(obj).__name__ != "Primitive" and hasattr(obj, "__name__"))


def signature(obj: Callable) -> str:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return "(...)"
    params = []
    seen_kw_only = False
    for p in sig.parameters.values():
        text = p.name
        if p.kind is p.VAR_POSITIONAL:
            text = "*" + p.name
            seen_kw_only = True
        elif p.kind is p.VAR_KEYWORD:
            text = "**" + p.name
        elif p.kind is p.KEYWORD_ONLY and not seen_kw_only:
            params.append("*")
            seen_kw_only = True
        if p.default is not p.empty:
            text += "=" + _default(p.default)
        params.append(text)
    return "(" + ", ".join(params) + ")"


def _default(value: object) -> str:
    if isinstance(value, type):
        return value.__name__
    text = repr(value)
    return text if len(text) < 30 else "..."


def describe(name: str, obj: Callable, use_table: bool) -> str:
    if use_table and name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    doc = inspect.getdoc(obj) or ""
    paragraph = doc.strip().split("\n\n")[0].replace("\n", " ")
    paragraph = re.sub(r"``([^`]+)``", r"`\1`", paragraph)
    paragraph = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", paragraph)
    sentence = re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0]
    if not sentence and name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    return sentence or "See the JAX function of the same name."


def section(title: str, how: str, module: ModuleType, prefix: str) -> list[str]:
    use_table = module in (ft, tree_util, test_util)
    lines = [f"## {title}", "", how + ".", ""]
    functions = public_functions(module)
    if use_table:       # the order of DESCRIPTIONS: related functions together
        order = {name: i for i, name in enumerate(DESCRIPTIONS)}
        functions.sort(key=lambda item: order.get(item[0], len(order)))
    for name, obj in functions:
        lines.append(f"* `{prefix}{name}{signature(obj)}`: {describe(name, obj, use_table)}")
    return lines


def render() -> str:
    out = [INTRO]
    for title, how, module, prefix in SECTIONS:
        out.extend(section(title, how, module, prefix))
        if module is ft:
            out.append(ERRORS_AND_TYPES)
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    (ROOT / "docs" / "api.md").write_text(render(), encoding="utf-8")
