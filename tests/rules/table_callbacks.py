"""Rows for the callback primitives (functrans/higher_order/callbacks.py):
debug_callback is the identity on its operands (tangents and batch axes pass
through); pure_callback has no derivative, so its rows check batching (each
vmap_method) and dtypes only."""

from __future__ import annotations

import numpy as np

from functrans.higher_order.callbacks import debug_callback_p, pure_callback
from functrans.lax import stop_gradient
from functrans.transforms.staging import ShapeDtypeStruct
from functrans.tree_util import tree_structure
from tests.rules import Row

_TWO_ARGS = tree_structure(((0, 0), {}))


def _ignore(*args, **kwargs) -> None:
    pass


def _debug_identity(x, y):
    return tuple(debug_callback_p.bind(x, y, callback=_ignore, in_tree=_TWO_ARGS, batch_ndim=0))


def _host_sin_plus(vmap_method: str):
    # no derivative of its own: autodiff reaches it only through stop_gradient
    # (zero tangents), which is what the differentiable=False checks then see
    def fun(x, y):
        x, y = stop_gradient(x), stop_gradient(y)
        spec = ShapeDtypeStruct(np.broadcast_shapes(x.shape, y.shape), x.dtype)
        return pure_callback(lambda a, b: (np.sin(a) + b).astype(a.dtype), spec, x, y,
                             vmap_method=vmap_method)
    return fun


def _normal_pair(rng, dtype):
    return (rng.standard_normal((2, 3)).astype(dtype), rng.standard_normal((2, 3)).astype(dtype))


ROWS = [
    Row("debug_callback", _debug_identity, _normal_pair),
    *[Row(f"pure_callback[{m}]", _host_sin_plus(m), _normal_pair, differentiable=False,
          backends=False)
      for m in ("sequential", "expand_dims", "broadcast_all")],
]
