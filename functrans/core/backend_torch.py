"""The PyTorch backend's extensions to the Array API (see :mod:`functrans.core.backend`).

PyTorch evaluates eagerly, on the tensors' device. Special functions come from
``torch.special``; primitives with neither an Array API equivalent nor a rule
here raise a TypeError naming the primitive (docs/backends.md lists them):
functrans never converts a tensor to NumPy behind the caller's back.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

NAME = "torch"


def _torch() -> Any:
    return sys.modules["torch"]  # imported: the operands are tensors


def _special(name: str) -> Callable[..., Any]:
    def rule(xp: Any, *operands: Any, **params: Any) -> Any:
        return getattr(_torch().special, name)(*operands)
    rule.__name__ = f"torch_special_{name}"
    return rule


def _cbrt(xp: Any, x: Any) -> Any:
    torch = _torch()
    return torch.sign(x) * torch.pow(torch.abs(x), 1.0 / 3.0)


def _logistic(xp: Any, x: Any) -> Any:
    return _torch().sigmoid(x)


def _cumulative(name: str) -> Callable[..., Any]:
    """A cumulative reduction along `axis`, from the end when `reverse`."""
    def rule(xp: Any, x: Any, *, axis: int, reverse: bool) -> Any:
        torch = _torch()
        if reverse:
            x = torch.flip(x, (axis,))
        out = getattr(torch, name)(x, axis)
        if name in ("cummax", "cummin"):  # (values, indices)
            out = out[0]
        return torch.flip(out, (axis,)) if reverse else out
    rule.__name__ = f"torch_{name}"
    return rule


#: primitive name -> rule ``(xp, *operands, **params)``
RULES: dict[str, Callable[..., Any]] = {
    "erf": _special("erf"),
    "erfc": _special("erfc"),
    "erf_inv": _special("erfinv"),
    "lgamma": _special("gammaln"),
    "digamma": _special("digamma"),
    "igamma": _special("gammainc"),
    "igammac": _special("gammaincc"),
    "bessel_i0e": _special("i0e"),
    "bessel_i1e": _special("i1e"),
    "cbrt": _cbrt,
    "logistic": _logistic,
    "cumsum": _cumulative("cumsum"),
    "cumprod": _cumulative("cumprod"),
    "cummax": _cumulative("cummax"),
    "cummin": _cumulative("cummin"),
    "cumlogsumexp": _cumulative("logcumsumexp"),
}
