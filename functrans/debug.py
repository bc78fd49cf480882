"""``functrans.debug``: look at values from inside jit, grad and vmap, as ``jax.debug``.

    @ft.jit
    def f(x):
        ft.debug.print("x = {}", x)   # prints at every call, with x's value
        return 2 * x
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from typing import Any

import numpy as np

import functrans.numpy as fnp
from functrans.core.trace import Tracer
from functrans.higher_order.callbacks import debug_callback
from functrans.tree_util import tree_flatten

__all__ = ["print", "callback"]


def _as_operands(args: tuple[Any, ...], kwargs: dict[str, Any], where: str) -> tuple[list, Any]:
    leaves, in_tree = tree_flatten((args, kwargs))
    operands = []
    for i, leaf in enumerate(leaves):
        if not isinstance(leaf, Tracer) and np.asarray(leaf).dtype == object:
            raise TypeError(f"{where}: argument leaf {i} is a {type(leaf).__name__}, not an "
                            "array or number; pass it through the format string or the "
                            "callback's closure instead")
        operands.append(leaf if isinstance(leaf, Tracer) else fnp.asarray(leaf))
    return operands, in_tree


def callback(callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Call ``callback(*args, **kwargs)`` with concrete NumPy arrays each time the
    surrounding program runs: at every call of a jitted function (not when it is
    traced), once per batch element under vmap (outer vmap axes first), and on the
    primal values under grad/jvp. Its return value is ignored; nothing depends on
    it, yet jit keeps it (it has a side effect)."""
    operands, in_tree = _as_operands(args, kwargs, "functrans.debug.callback")
    debug_callback(callback, in_tree, operands)


def print(fmt: str, *args: Any, **kwargs: Any) -> None:  # noqa: A001
    """Print ``fmt.format(*args, **kwargs)`` with the concrete values of `args`
    whenever the program runs, as ``jax.debug.print`` (see :func:`callback` for
    when that is). Arguments are pytrees of arrays; format specs apply to each
    array (``"{:.3f}"`` works for 0-d arrays)."""
    if not isinstance(fmt, str):
        raise TypeError(f"functrans.debug.print: fmt must be a str format string, got "
                        f"{type(fmt).__name__}")

    def show(*values: Any, **named: Any) -> None:
        builtins.print(fmt.format(*values, **named))

    callback(show, *args, **kwargs)



def __dir__() -> list[str]:  # the API, not the names this module imports
    return sorted(__all__)
