"""Rows for the higher-order primitives of custom rules and checkpointing.

custom_vjp functions are checked in tests/test_custom_derivatives.py: they have no
forward mode, which the table's JVP checks need."""

from __future__ import annotations

import functrans as ft
import functrans.numpy as fnp
from functrans import checkpoint_policies
from functrans.ad_checkpoint import checkpoint_name
from tests.rules import Row


def _normal(*shapes):
    return lambda rng, dtype: tuple(rng.standard_normal(s).astype(dtype) for s in shapes)


@ft.custom_jvp
def _scaled_sin(x, y):
    return fnp.sin(x) * y


@_scaled_sin.defjvp
def _scaled_sin_jvp(primals, tangents):
    (x, y), (tx, ty) = primals, tangents
    return _scaled_sin(x, y), fnp.cos(x) * y * tx + fnp.sin(x) * ty


def _layer(x, w):
    return fnp.tanh(x @ w)


ROWS = [
    Row("custom_jvp_call", _scaled_sin, _normal((3, 4), (3, 4))),
    Row("checkpoint", ft.checkpoint(_layer), _normal((2, 3), (3, 4))),
    Row("name", lambda x: checkpoint_name(x, "h"), _normal((2, 3)), linear=True),
    Row("checkpoint_save_only_these_names",
        ft.checkpoint(lambda x, w: fnp.sin(checkpoint_name(_layer(x, w), "h")),
                      policy=checkpoint_policies.save_only_these_names("h")),
        _normal((2, 3), (3, 4))),
    Row("checkpoint_dots_saveable",
        ft.checkpoint(_layer, policy=checkpoint_policies.dots_saveable),
        _normal((2, 3), (3, 4))),
]
