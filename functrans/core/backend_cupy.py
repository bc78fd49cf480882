"""The CuPy backend's extensions to the Array API (see :mod:`functrans.core.backend`).

CuPy runs on the GPU. Special functions come from ``cupyx.scipy.special`` (the
same names as SciPy's); primitives with neither an Array API equivalent nor a
rule here raise a TypeError naming the primitive (docs/backends.md lists them):
functrans never copies device arrays to the host behind the caller's back.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

NAME = "cupy"


def _cupyx_special() -> Any:
    # cupyx.scipy.special is a submodule CuPy does not import by itself; importing it
    # at functrans' import time would import CuPy (and look for CUDA) for every user
    return importlib.import_module("cupyx.scipy.special")


def _special(name: str) -> Callable[..., Any]:
    def rule(xp: Any, *operands: Any, **params: Any) -> Any:
        return getattr(_cupyx_special(), name)(*operands)
    rule.__name__ = f"cupyx_special_{name}"
    return rule


def _cbrt(xp: Any, x: Any) -> Any:
    return importlib.import_module("cupy").cbrt(x)


#: primitive name -> rule ``(xp, *operands, **params)``: scipy.special's function of the
#: same meaning, from cupyx.scipy.special
RULES: dict[str, Callable[..., Any]] = {
    "erf": _special("erf"),
    "erfc": _special("erfc"),
    "erf_inv": _special("erfinv"),
    "lgamma": _special("gammaln"),
    "digamma": _special("digamma"),
    "polygamma": _special("polygamma"),
    "gamma": _special("gamma"),
    "rgamma": _special("rgamma"),
    "betaln": _special("betaln"),
    "igamma": _special("gammainc"),
    "igammac": _special("gammaincc"),
    "bessel_i0e": _special("i0e"),
    "bessel_i1e": _special("i1e"),
    "cbrt": _cbrt,
    "logistic": _special("expit"),
}
