"""Write docs/api.md: every public name of functrans, one line each, functions with
their signatures.

Run after adding or renaming a public function, class or module:

    python docs/make_api.py

The public modules are found, not listed: every module of the functrans package
outside the internal floors (core, primitives, compile, transforms, higher_order, api)
and the base modules, with no name part starting with an underscore. Each gets a
section listing every name of its ``__all__`` (of its public attributes when it has
none): submodules get their own sections, primitives are in docs/primitives.md.
Descriptions of the transformations and the pytree/testing helpers are written here;
for everything else the first sentence of the docstring is used.
``tests/test_examples.py`` checks that api.md names every public name.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import functrans as ft  # noqa: E402
from functrans.core.primitive import Primitive  # noqa: E402

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
    "custom_jvp": "Decorator giving a function a custom JVP rule (`@f.defjvp`, "
                  "`f.defjvps`), as `jax.custom_jvp`; see docs/custom_rules.md.",
    "custom_vjp": "Decorator giving a function a custom VJP rule (`f.defvjp(fwd, bwd)`), "
                  "as `jax.custom_vjp`; see docs/custom_rules.md.",
    "checkpoint_policies": "Policies for `checkpoint(policy=...)`, as "
                           "`jax.checkpoint_policies`: which intermediates to save.",
    "ShapeDtypeStruct": "A shape and a dtype standing for an array (what `eval_shape` "
                        "returns; accepted wherever only shapes matter).",
    "trace_table": "The course notes' table for `fun` at `args`: every intermediate with "
                   "its value, dot (tangent) and bar (cotangent); see `learn.trace_table`.",
    "config": "Settings: `ft.config.update(\"check_jaxprs\", True)` type-checks every "
              "staged jaxpr.",
    "Tracer": "The traced stand-in for an array inside a transformation.",
    "Jaxpr": "A jaxpr (what `make_jaxpr` returns, with its constants, as `ClosedJaxpr`); "
             "`print` it or draw it with `.to_dot()`.",
    "ClosedJaxpr": "A jaxpr with the values of its constants: what `make_jaxpr` returns; "
                   "`print` it or draw it with `.to_dot()` (docs/jaxpr_notation.md).",
    "float0": "The dtype of the tangent of an integer or boolean value.",
    "ConcretizationTypeError": "A traced value used where a concrete Python value is "
                               "needed, under `jit`, `make_jaxpr` or `vmap`.",
    "TracerBoolConversionError": "An `if` or `while` on a traced value.",
    "TracerIntegerConversionError": "`int()` or an index taken of a traced value.",
    "TracerArrayConversionError": "A traced value passed to plain NumPy.",
    "UnexpectedTracerError": "A tracer used after its transformation finished (not a "
                             "TypeError).",
    "check_transformations": "Checks `f` on examples drawn by Hypothesis: jvp against finite "
                             "differences, vjp against jvp, jit against eager, vmap against "
                             "a loop, float32 kept; a failure names the check and the shrunk "
                             "counterexample.",
    "CHECKS": "The names of the checks `check_transformations` runs by default.",
}

# Modules documented with the table above, in its order (related names together).
DESCRIBED_HERE = ("functrans", "functrans.tree_util", "functrans.test_util",
                  "functrans.test_util.strategies")

# Title and "how to import" of the sections that come first, in this order; other
# modules follow alphabetically, titled by their name and their docstring.
KNOWN = {
    "functrans": ("Transformations", "`import functrans as ft`"),
    "functrans.tree_util": ("Pytrees", "`from functrans import tree_util` (as "
                            "`jax.tree_util`)"),
    "functrans.test_util": ("Checking derivatives", "`from functrans import test_util` (as "
                            "`jax.test_util`)"),
    "functrans.test_util.strategies": ("Hypothesis strategies for gradient tests",
                                       "`from functrans.test_util import strategies as fst` "
                                       "(needs Hypothesis; functrans' own)"),
    "functrans.learn": ("Trace tables and graphs", "`from functrans import learn` "
                        "(functrans' own)"),
    "functrans.nn": ("Neural-network functions", "`from functrans import nn` (as `jax.nn`)"),
    "functrans.numpy": ("NumPy API", "`import functrans.numpy as fnp` (as `jax.numpy`)"),
    "functrans.numpy.linalg": ("Linear algebra", "`fnp.linalg` (as `jax.numpy.linalg`)"),
    "functrans.scipy.special": ("Special functions", "`from functrans.scipy import special` "
                                "(as `jax.scipy.special`)"),
    "functrans.lax": ("Primitive-level operations", "`from functrans import lax` (as "
                      "`jax.lax`: no broadcasting or dtype promotion; operands of "
                      "elementwise operations must match)"),
}

# The floors below the public layer, and the base modules (see docs/internals.md).
INTERNAL = {"core", "primitives", "compile", "transforms", "higher_order", "api", "errors",
            "config", "dtypes"}

# Modules users reach under another name.
SHOWN_AS = {"functrans.nn_initializers": "nn.initializers",
            "functrans.test_util.strategies": "fst"}

INTRO = """# API reference

Every public name of functrans, one line each, functions with their signatures. Names
and semantics follow JAX (`jax`, `jax.numpy`, `jax.nn`, `jax.lax`, `jax.tree_util`,
`jax.scipy`, `jax.random`); where functrans differs on purpose, the README and
[JAX differences](jax_differences.md) say so. The [tutorial](tutorial.md) shows the
transformations at work on the course notes' examples, and [sharp bits](sharp_bits.md)
lists the traps. Entries are written as after `import functrans as ft`,
`import functrans.numpy as fnp` and `from functrans import lax, nn, ...`.

This page is generated by `python docs/make_api.py`.
"""


# ------------------------------------------------------------------ which names

def public_modules() -> list[ModuleType]:
    """Every public module of functrans, the known ones first."""
    names = {"functrans"}
    for info in pkgutil.walk_packages(ft.__path__, "functrans."):
        parts = info.name.split(".")[1:]
        if parts[0] not in INTERNAL and not any(p.startswith("_") for p in parts):
            names.add(info.name)
    known = [n for n in KNOWN if n in names]
    return [importlib.import_module(n) for n in known + sorted(names - set(known))]


def public_names(module: ModuleType) -> list[str]:
    """`__all__`, or the public attributes of a module that has none; not submodules."""
    names: Iterable[str] = getattr(module, "__all__", None) or [
        n for n in dir(module) if not n.startswith("_")]
    return [n for n in dict.fromkeys(names)
            if not isinstance(getattr(module, n, None), ModuleType)]


def shown_as(module: ModuleType) -> str:
    """How entries of `module` are written: ``ft``, ``fnp.linalg``, ``scipy.special``."""
    name = module.__name__
    if name in SHOWN_AS:
        return SHOWN_AS[name]
    if name == "functrans":
        return "ft"
    if name.startswith("functrans.numpy"):
        return "fnp" + name[len("functrans.numpy"):]
    return name[len("functrans."):]


# ------------------------------------------------------------------ one entry

def is_functrans_object(obj: object) -> bool:
    module = getattr(obj, "__module__", None) or ""
    return module.startswith("functrans") and not isinstance(obj, (int, float, str, tuple))


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


def describe(name: str, obj: object, use_table: bool) -> str:
    if use_table and name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    doc = inspect.getdoc(obj) if callable(obj) or isinstance(obj, type) else ""
    paragraph = (doc or "").strip().split("\n\n")[0].replace("\n", " ")
    paragraph = re.sub(r"``([^`]+)``", r"`\1`", paragraph)
    paragraph = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", paragraph)
    sentence = re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0]
    if not sentence and name in DESCRIPTIONS:
        return DESCRIPTIONS[name]
    return sentence or "See the JAX name of the same name."


def entry(prefix: str, name: str, obj: object, use_table: bool) -> str:
    sig = signature(obj) if callable(obj) and hasattr(obj, "__name__") else ""
    if isinstance(obj, type) and (issubclass(obj, BaseException) or sig == "()"):
        sig = ""        # exceptions, and classes not meant to be instantiated
    return f"* `{prefix}.{name}{sig}`: {describe(name, obj, use_table)}"


# ------------------------------------------------------------------ sections

def section(module: ModuleType, modules: list[ModuleType]) -> list[str]:
    prefix = shown_as(module)
    title, how = KNOWN.get(module.__name__, (f"`{prefix}`", _module_summary(module)))
    lines = [f"## {title}", "", f"Module `{module.__name__}`: {how}.".replace("..", "."), ""]
    use_table = module.__name__ in DESCRIBED_HERE
    names = public_names(module)
    if use_table:       # the order of DESCRIPTIONS: related names together
        order = {name: i for i, name in enumerate(DESCRIPTIONS)}
        names.sort(key=lambda n: order.get(n, len(order)))
    else:
        names.sort()
    reexported, primitives = [], []
    for name in names:
        obj = getattr(module, name)
        if isinstance(obj, Primitive):
            primitives.append(name)
        elif (use_table and name in DESCRIPTIONS) or is_functrans_object(obj):
            lines.append(entry(prefix, name, obj, use_table))
        else:
            reexported.append(name)
    if reexported:
        what = ("NumPy's dtypes, constants and dtype helpers, re-exported as they are"
                if module.__name__ == "functrans.numpy" else "Also exported")
        lines.append(f"* {what}: " + ", ".join(f"`{prefix}.{n}`" for n in reexported) + ".")
    if primitives:
        lines.append("* The primitives behind these functions, with their rules in "
                     "[primitives.md](primitives.md): "
                     + ", ".join(f"`{prefix}.{n}`" for n in primitives) + ".")
    submodules = [m for m in modules if m.__name__.rpartition(".")[0] == module.__name__
                  and m.__name__ not in SHOWN_AS]
    if submodules and module.__name__ != "functrans":
        lines.append("* Submodules, each in its section below: "
                     + ", ".join(f"`{shown_as(m)}`" for m in submodules) + ".")
    return lines


def _module_summary(module: ModuleType) -> str:
    """The first sentence of a module's docstring, without its leading name."""
    doc = (module.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")
    doc = re.sub(r"^``[\w.]+``:\s*", "", doc)
    doc = re.sub(r"``([^`]+)``", r"`\1`", doc)
    sentence = re.split(r"(?<=\.)\s", doc, maxsplit=1)[0].rstrip(".")
    return sentence or f"as `jax.{module.__name__[len('functrans.'):]}`"


def render() -> str:
    out = [INTRO]
    modules = public_modules()
    for module in modules:
        out.extend(section(module, modules))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


# ------------------------------------------------------------------ the site's reference

REFERENCE = ROOT / "docs" / "reference"

REFERENCE_INTRO = """# {title}

The full docstrings of `{name}`{more}, as the library has them (the
[one-line index](../api.md) lists every name with its signature). Generated by
`python docs/make_api.py`.
"""


def reference_pages() -> dict[str, str]:
    """File name -> page: one page per top-level public module (``functrans.numpy`` with
    ``fnp.linalg`` and ``fnp.fft``, ...), each module rendered by mkdocstrings."""
    groups: dict[str, list[ModuleType]] = {}
    for module in sorted(public_modules(), key=lambda m: m.__name__):
        shown = SHOWN_AS.get(module.__name__, module.__name__[len("functrans."):])
        top = "functrans" if module.__name__ == "functrans" else module.__name__.split(".")[1]
        if module.__name__ in SHOWN_AS and not shown.startswith("f"):
            top = shown.split(".")[0]        # nn.initializers goes with nn
        groups.setdefault(top, []).append(module)
    pages = {}
    for top, modules in groups.items():
        title = "functrans" if top == "functrans" else f"functrans.{top}"
        more = " and its submodules" if len(modules) > 1 else ""
        lines = [REFERENCE_INTRO.format(title=f"`{title}`", name=title, more=more)]
        for module in modules:
            members = documented_members(module)
            if members or module.__doc__:
                lines += _mkdocstrings_block(module, members)
        pages[f"{top}.md"] = "\n".join(lines).rstrip() + "\n"
    return pages


def documented_members(module: ModuleType) -> list[str]:
    """The names whose docstrings the reference shows: functrans' own functions and
    classes (not primitives, not settings or NumPy's dtypes and constants: api.md
    describes those)."""
    return [n for n in public_names(module)
            if is_functrans_object(getattr(module, n)) and callable(getattr(module, n))
            and not isinstance(getattr(module, n), Primitive)]


def _mkdocstrings_block(module: ModuleType, members: list[str]) -> list[str]:
    listed = ", ".join(members)
    return [f"::: {module.__name__}", "    options:", f"      members: [{listed}]", ""]


def write_reference() -> None:
    REFERENCE.mkdir(exist_ok=True)
    pages = reference_pages()
    for stale in REFERENCE.glob("*.md"):
        if stale.name not in pages:
            stale.unlink()
    for name, text in pages.items():
        (REFERENCE / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    (ROOT / "docs" / "api.md").write_text(render(), encoding="utf-8")
    write_reference()
