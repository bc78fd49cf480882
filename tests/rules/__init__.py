"""The systematic rule-check table.

Each family module (``table_elementwise.py``, ``table_structural.py``,
``table_reductions.py``, ...) defines ``ROWS: list[Row]``; adding a primitive
means adding one row there. ``tests/test_primitive_rules.py`` runs every row
through the same checks:

* JVP against central finite differences (float64), at each dtype;
* VJP against JVP by the dot-product test <v, J u> = <J^T v, u>;
* for ``linear`` rows, the transpose rule is checked for linearity;
* batching (vmap over a leading batch of arguments, each mapped argument in
  turn) against a Python loop;
* float32 in gives float32 out (primal, tangent and cotangent).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np


@dataclasses.dataclass
class Row:
    name: str
    #: the function under test: array arguments in, one array (or a tuple) out.
    #: Usually a lax-level call with its parameters closed over.
    fun: Callable[..., Any]
    #: example arguments: ``args(rng, dtype) -> tuple``. Float arguments should be
    #: drawn where the function is smooth (e.g. positive for log/sqrt, away from
    #: ties for max/sort). Integer arguments (indices) are passed through as-is.
    args: Callable[[np.random.Generator, np.dtype], tuple]
    dtypes: tuple = (np.float32, np.float64)
    #: positions of the arguments to differentiate (default: every float argument)
    diff_argnums: tuple[int, ...] | None = None
    #: True for primitives linear in their differentiable arguments
    linear: bool = False
    #: False for rows whose output is not differentiable (comparisons, argmax, ...)
    differentiable: bool = True
    #: False to skip the vmap check (e.g. the row's fun is not batchable by design)
    batch: bool = True
    #: False for rows whose function works on NumPy values only (a host callback), left
    #: out of the runs on other array libraries (tests/test_primitive_rules.py)
    backends: bool = True
    #: finite-difference and comparison tolerances (relative/absolute), float64
    rtol: float = 1e-6
    atol: float = 1e-6
    #: finite-difference step (float64)
    eps: float = 1e-6
