"""Late-bound access to the lax-level functions.

The primitive families live in separate modules of :mod:`functrans.primitives`.
``functrans.numpy`` must import cleanly even when one of them is absent, so it
looks each lax function up by name on first use and caches it; a missing
operation fails when it is called, naming what is missing.
"""

from __future__ import annotations

import importlib
from typing import Any

_FAMILIES = ("elementwise", "structural", "reductions", "indexing", "products", "sort")


class _LateLax:
    """``lax.name`` resolves `name` in the primitive modules, then caches it."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        for family in _FAMILIES:
            try:
                module = importlib.import_module(f"functrans.primitives.{family}")
            except ImportError:
                continue
            fn = getattr(module, name, None)
            if fn is not None and callable(fn):
                setattr(self, name, fn)
                return fn
        raise AttributeError(
            f"functrans.lax has no operation '{name}': the primitive is not available in "
            f"functrans.primitives ({', '.join(_FAMILIES)})")


lax = _LateLax()
