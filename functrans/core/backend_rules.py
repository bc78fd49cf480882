"""What the per-library backend extensions (:mod:`functrans.core.backend_cupy`,
:mod:`~functrans.core.backend_torch`) share: the special functions they take from a
SciPy-named module, index checks of scatters, and the reversed cumulative
reductions. Each library's own calls stay in its module; these helpers receive them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

#: primitive name -> the ``scipy.special`` function of the same meaning (CuPy's
#: ``cupyx.scipy.special`` and ``torch.special`` use SciPy's names)
SCIPY_SPECIAL_NAMES = {
    "erf": "erf",
    "erfc": "erfc",
    "erf_inv": "erfinv",
    "lgamma": "gammaln",
    "digamma": "digamma",
    "polygamma": "polygamma",
    "gamma": "gamma",
    "rgamma": "rgamma",
    "betaln": "betaln",
    "igamma": "gammainc",
    "igammac": "gammaincc",
    "bessel_i0e": "i0e",
    "bessel_i1e": "i1e",
    "logistic": "expit",
}


def special_rules(module: Callable[[], Any], primitives: Iterable[str], prefix: str
                  ) -> dict[str, Callable[..., Any]]:
    """Backend rules ``(xp, *operands, **params)`` for `primitives`, each calling the
    function of SciPy's name in ``module()`` (looked up at the call: the module is
    imported only once the library's arrays are in use)."""
    def rule_for(name: str) -> Callable[..., Any]:
        def rule(xp: Any, *operands: Any, **params: Any) -> Any:
            return getattr(module(), name)(*operands)
        rule.__name__ = f"{prefix}_{name}"
        return rule
    return {p: rule_for(SCIPY_SPECIAL_NAMES[p]) for p in primitives}


def wrapped_index(name: str, column: Any, axis: int, size: int,
                  where: Callable[[Any, Any, Any], Any]) -> Any:
    """The indices `column` into an axis of `size` with negative ones wrapped, by the
    library's `where`; an out-of-range one raises IndexError, as the NumPy
    implementation of scatter `name`."""
    if bool(((column < -size) | (column >= size)).any()):
        raise IndexError(f"{name}: an index is out of bounds for axis {axis} of size "
                         f"{size} (valid: {-size} to {size - 1})")
    return where(column < 0, column + size, column)


def inverse_permutation(permutation: Iterable[int]) -> list[int]:
    """The axes that undo a transpose by `permutation`."""
    permutation = tuple(permutation)
    inverse = [0] * len(permutation)
    for i, a in enumerate(permutation):
        inverse[a] = i
    return inverse


def reversible_cumulative(x: Any, reverse: bool, flip: Callable[[Any], Any],
                          cumulate: Callable[[Any], Any]) -> Any:
    """``cumulate(x)``, from the end when `reverse` (`flip` reverses the axis)."""
    if not reverse:
        return cumulate(x)
    return flip(cumulate(flip(x)))
