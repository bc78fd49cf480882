"""Generated documentation stays in step with the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_primitive_table_is_up_to_date():
    module = _load("make_primitive_table")
    assert (DOCS / "primitives.md").read_text() == module.render(), (
        "docs/primitives.md is stale: run python docs/make_primitive_table.py")


# primitives exempt from a rule, and why
NO_JVP = {"iota": "no operands",
          "custom_lin": "the linear half of a custom_vjp: forward mode is refused by design"}


def test_every_primitive_has_its_rules():
    module = _load("make_primitive_table")
    for _, p in module.primitives():
        if p.name != "iota":  # no operands: nothing to batch
            assert p.batch is not None, p.name
        if p.name not in NO_JVP:
            assert p.jvp is not None, p.name
        if p.linear:
            assert p.transpose is not None, p.name


def test_numpy_dispatch_table_is_up_to_date():
    module = _load("make_dispatch_table")
    assert (DOCS / "numpy_dispatch.md").read_text() == module.render(), (
        "docs/numpy_dispatch.md is stale: run python docs/make_dispatch_table.py")
