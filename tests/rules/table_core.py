"""Rows for the primitives of functrans.core (add_any)."""

from __future__ import annotations

from functrans.primitives.tangent_space import add_any_p
from tests.rules import Row


def _normal(*shapes):
    return lambda rng, dtype: tuple(rng.standard_normal(s).astype(dtype) for s in shapes)


ROWS = [
    Row("add_any", lambda x, y: add_any_p.bind(x, y), _normal((3, 4), (3, 4)), linear=True),
]
