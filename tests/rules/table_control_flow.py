"""Rows for the control-flow primitives (cond, scan, while) of
functrans.higher_order.control_flow.

Predicates and indices are arguments, so the batching check also maps them
(a batched predicate turns ``cond`` into a select of both branches, a batched
``while_loop`` predicate masks the lanes that have finished).
"""

from __future__ import annotations

import numpy as np

import functrans.numpy as fnp
from functrans.higher_order.control_flow import cond, fori_loop, scan, switch, while_loop
from tests.rules import Row


def _cond(pred, x, y):
    return cond(pred, lambda a, b: (fnp.sin(a) * b, a + b),
                lambda a, b: (a * a, fnp.cos(b) - a), x, y)


def _switch(index, x):
    return switch(index, [lambda v: v * 3.0, fnp.tanh, lambda v: v * v * v], x)


def _rnn(h0, xs, w, reverse=False):
    def body(h, x):
        h = fnp.tanh(h @ w + x)
        return h, fnp.sum(h * x)
    return scan(body, h0, xs, reverse=reverse)


def _fori(x, w):
    return fori_loop(0, 4, lambda i, c: fnp.sin(c @ w) + c * 0.5, x)


def _while_count(x, limit):
    # integer-valued: reverse mode of while_loop is refused by design
    return while_loop(lambda c: c[0] < limit, lambda c: (c[0] + c[1], c[1] + 1), (x, 1))


def _pred_args(rng, dtype):
    return (rng.integers(0, 2) == 1, rng.standard_normal(3).astype(dtype),
            rng.standard_normal(3).astype(dtype))


def _rnn_args(rng, dtype):
    return (rng.standard_normal(3).astype(dtype), rng.standard_normal((4, 3)).astype(dtype),
            (0.5 * rng.standard_normal((3, 3))).astype(dtype))


ROWS = [
    Row("cond", _cond, _pred_args),
    Row("switch", _switch,
        lambda rng, dtype: (np.int32(rng.integers(-1, 4)), rng.standard_normal(3).astype(dtype))),
    Row("scan", _rnn, _rnn_args),
    Row("scan_reverse", lambda h0, xs, w: _rnn(h0, xs, w, True), _rnn_args),
    Row("fori_loop", _fori,
        lambda rng, dtype: (rng.standard_normal(3).astype(dtype),
                            (0.5 * rng.standard_normal((3, 3))).astype(dtype))),
    Row("while_loop", _while_count,
        lambda rng, dtype: (np.asarray(rng.integers(0, 5), dtype),
                            np.asarray(rng.integers(5, 40), dtype)),
        dtypes=(np.int64,), differentiable=False),
]
