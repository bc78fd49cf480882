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

from functrans.core.backend_rules import (
    inverse_permutation,
    reversible_cumulative,
    special_rules,
    wrapped_index,
)

NAME = "torch"


def _torch() -> Any:
    return sys.modules["torch"]  # imported: the operands are tensors


def _torch_special() -> Any:
    return _torch().special


def _cbrt(xp: Any, x: Any) -> Any:
    torch = _torch()
    return torch.sign(x) * torch.pow(torch.abs(x), 1.0 / 3.0)


def _logistic(xp: Any, x: Any) -> Any:
    return _torch().sigmoid(x)


def _cumulative(name: str) -> Callable[..., Any]:
    """A cumulative reduction along `axis`, from the end when `reverse`."""
    def rule(xp: Any, x: Any, *, axis: int, reverse: bool) -> Any:
        torch = _torch()

        def cumulate(a: Any) -> Any:
            out = getattr(torch, name)(a, axis)
            return out[0] if name in ("cummax", "cummin") else out  # (values, indices)
        return reversible_cumulative(x, reverse, lambda a: torch.flip(a, (axis,)), cumulate)
    rule.__name__ = f"torch_{name}"
    return rule


def _complex(xp: Any, x: Any, y: Any) -> Any:
    return _torch().complex(x, y)


def _triangular_solve(xp: Any, a: Any, b: Any, *, left_side: bool, lower: bool,
                      transpose_a: bool, conjugate_a: bool, unit_diagonal: bool) -> Any:
    """op(A)^-1 B (or B op(A)^-1) by substitution (LAPACK trsm on the CPU, cuBLAS on a
    GPU); op(A) = A^T is upper triangular where A is lower."""
    torch = _torch()
    if conjugate_a and a.is_complex():
        a = a.conj()
    if transpose_a:
        a = a.mT
    return torch.linalg.solve_triangular(a, b, upper=lower == transpose_a, left=left_side,
                                         unitriangular=unit_diagonal)


def _cholesky(xp: Any, x: Any) -> Any:
    """The lower factor from x's lower triangle; NaN where a matrix of the stack is not
    positive definite (as LAPACK through NumPy, and JAX), not an exception."""
    torch = _torch()
    factor, info = torch.linalg.cholesky_ex(x)
    failed = (info != 0)[..., None, None]
    return torch.where(failed, torch.full_like(factor, float("nan")), factor)


def _lu(xp: Any, x: Any) -> list[Any]:
    """LAPACK's packed LU and 0-based row swaps, and the permutation with
    x[permutation] = L U (P's columns: x = P L U)."""
    torch = _torch()
    packed, pivots = torch.linalg.lu_factor_ex(x)[:2]
    permutation_matrix = torch.lu_unpack(packed, pivots, unpack_data=False)[0]
    permutation = torch.argmax(permutation_matrix.abs(), dim=-2)
    return [packed, (pivots - 1).to(torch.int32), permutation.to(torch.int32)]


def _eig(xp: Any, x: Any, *, compute_eigenvectors: bool) -> list[Any]:
    torch = _torch()
    if compute_eigenvectors:
        w, v = torch.linalg.eig(x)
        return [w, v]
    return [torch.linalg.eigvals(x)]


def _scatter_add_along_axis(xp: Any, updates: Any, indices: Any, *, axis: int,
                            shape: tuple[int, ...], unique_indices: bool) -> Any:
    """Zeros of `shape` with `updates` added at `indices` along `axis` (repeats add)."""
    torch = _torch()
    out = torch.zeros(shape, dtype=updates.dtype, device=updates.device)
    return out.scatter_add_(axis, indices.to(torch.int64), updates)


def _scatter(name: str, reduce: str) -> Callable[..., Any]:
    """A scatter (``functrans.primitives.indexing``): `operand` with `updates` combined
    at the positions ``indices[b]`` of its `axes`, by ``Tensor.scatter_reduce_`` on the
    addressed axes flattened into one (repeated positions combine, as ``ufunc.at``);
    ``reduce=None``: set, the last write in batch order kept."""
    def rule(xp: Any, operand: Any, indices: Any, updates: Any, *, axes: tuple[int, ...]
             ) -> Any:
        torch = _torch()
        rest = tuple(a for a in range(operand.ndim) if a not in axes)
        target = operand.permute(tuple(axes) + rest).clone()
        addressed = target.shape[:len(axes)]
        position = _flat_positions(torch, name, indices, addressed, axes)  # (B,)
        flat = target.reshape((-1,) + target.shape[len(axes):])
        flat_updates = updates.reshape((position.shape[0],) + flat.shape[1:])
        if reduce is None:  # keep, per position, the update written last
            order = torch.arange(position.shape[0], device=position.device)
            last = torch.full((flat.shape[0],), -1, dtype=order.dtype, device=order.device)
            last = last.scatter_reduce(0, position, order, "amax")
            kept = last[position] == order
            flat[position[kept]] = flat_updates[kept]
        else:
            where = position.reshape((-1,) + (1,) * (flat.ndim - 1)).expand(
                flat_updates.shape)
            flat.scatter_reduce_(0, where, flat_updates, reduce, include_self=True)
        return flat.reshape(target.shape).permute(inverse_permutation(tuple(axes) + rest))
    rule.__name__ = f"torch_{name}"
    return rule


def _flat_positions(torch: Any, name: str, indices: Any, shape: tuple[int, ...],
                    axes: tuple[int, ...]) -> Any:
    """Row-major positions in `shape` of ``indices[..., j]`` (negative ones wrapped),
    flattened; out-of-range ones raise IndexError, as the NumPy implementation."""
    position = torch.zeros(indices.shape[:-1], dtype=torch.int64, device=indices.device)
    for j, size in enumerate(shape):
        column = indices[..., j].to(torch.int64)
        position = position * size + wrapped_index(name, column, axes[j], size, torch.where)
    return position.reshape(-1)


#: primitive name -> rule ``(xp, *operands, **params)``
RULES: dict[str, Callable[..., Any]] = {
    **special_rules(_torch_special, ("erf", "erfc", "erf_inv", "lgamma", "digamma", "igamma",
                                     "igammac", "bessel_i0e", "bessel_i1e"), "torch_special"),
    "cbrt": _cbrt,
    "logistic": _logistic,
    "cumsum": _cumulative("cumsum"),
    "cumprod": _cumulative("cumprod"),
    "cummax": _cumulative("cummax"),
    "cummin": _cumulative("cummin"),
    "cumlogsumexp": _cumulative("logcumsumexp"),
    "complex": _complex,
    "triangular_solve": _triangular_solve,
    "cholesky": _cholesky,
    "lu": _lu,
    "eig": _eig,
    "scatter_add_along_axis": _scatter_add_along_axis,
    "scatter_add": _scatter("scatter_add", "sum"),
    "scatter_mul": _scatter("scatter_mul", "prod"),
    "scatter_min": _scatter("scatter_min", "amin"),
    "scatter_max": _scatter("scatter_max", "amax"),
    "scatter": _scatter("scatter", None),
}
