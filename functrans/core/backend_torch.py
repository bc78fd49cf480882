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
}
