"""Tensor contraction: ``dot_general`` and ``dot``.

``dot_general`` is the one product primitive. ``matmul``, ``dot``, ``tensordot``,
pairwise ``einsum``, ``inner``, ``outer`` and ``vdot`` of :mod:`functrans.numpy`
are each one ``dot_general`` plus transposes/reshapes.

``dimension_numbers`` is ``((lhs_contracting, rhs_contracting), (lhs_batch,
rhs_batch))``. The result holds the batch dimensions (in ``lhs_batch`` order),
then the free dimensions of ``lhs``, then those of ``rhs``, each in axis order,
as in JAX.

Evaluation transposes each operand to a ``(batch..., free, contract)`` /
``(batch..., contract, free)`` layout and calls ``np.matmul``, which hands
2-D blocks to BLAS (strided or transposed views included, so most operand
layouts reach BLAS without a copy).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from functrans import dtypes
from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive
from functrans.primitives.elementwise import convert_element_type
from functrans.primitives.rules import defbilinear
from functrans.primitives.structural import transpose

__all__ = ["dot_general", "dot", "dot_general_p"]

DimensionNumbers = tuple[tuple[tuple[int, ...], tuple[int, ...]],
                         tuple[tuple[int, ...], tuple[int, ...]]]


def _free_dims(ndim: int, contracting: Sequence[int], batch: Sequence[int]) -> tuple[int, ...]:
    used = set(contracting) | set(batch)
    return tuple(d for d in range(ndim) if d not in used)


# ------------------------------------------------------------------ shape and dtype rule

def _check_dims(side: str, aval: ShapedArray, contracting: tuple[int, ...],
                batch: tuple[int, ...]) -> None:
    dims = contracting + batch
    if any(not 0 <= d < aval.ndim for d in dims):
        raise TypeError(f"dot_general: {side} contracting {contracting} / batch {batch} "
                        f"dimensions must lie in [0, {aval.ndim}) for {side} {aval.str_short()}")
    if len(set(dims)) != len(dims):
        raise TypeError(f"dot_general: {side} contracting {contracting} and batch {batch} "
                        "dimensions must be distinct")


def _check_preferred(in_dtype: np.dtype, preferred: np.dtype) -> None:
    kinds_ok = ((in_dtype.kind in "iu" and preferred.kind in "iuf")
                or (in_dtype.kind == "f" and preferred.kind in "fc")
                or (in_dtype.kind == "c" and preferred.kind == "c")
                or (in_dtype.kind == "b" and preferred.kind in "biuf"))
    if not kinds_ok or (preferred.kind == in_dtype.kind
                        and preferred.itemsize < in_dtype.itemsize):
        raise TypeError(f"dot_general: preferred_element_type {preferred} cannot hold products "
                        f"of {in_dtype} operands; use an equal or wider type of a compatible "
                        "kind (integer -> integer/float, float -> float/complex)")


def _dot_general_aval(lhs: ShapedArray, rhs: ShapedArray, *, dimension_numbers,
                      precision, preferred_element_type) -> ShapedArray:
    (lc, rc), (lb, rb) = dimension_numbers
    _check_dims("lhs", lhs, lc, lb)
    _check_dims("rhs", rhs, rc, rb)
    if len(lc) != len(rc) or len(lb) != len(rb):
        raise TypeError(f"dot_general: lhs and rhs need as many contracting and batch "
                        f"dimensions, got contracting {lc} / {rc} and batch {lb} / {rb}")
    for kind, ld, rd in (("contracting", lc, rc), ("batch", lb, rb)):
        lsizes = tuple(lhs.shape[d] for d in ld)
        rsizes = tuple(rhs.shape[d] for d in rd)
        if lsizes != rsizes:
            raise TypeError(f"dot_general: {kind} dimensions {ld} of lhs {lhs.str_short()} "
                            f"(sizes {lsizes}) and {rd} of rhs {rhs.str_short()} (sizes "
                            f"{rsizes}) must have equal sizes")
    if lhs.dtype != rhs.dtype:
        raise TypeError(f"dot_general requires operands of equal dtype, got "
                        f"{lhs.str_short()} and {rhs.str_short()} (functrans.numpy promotes; "
                        "functrans.lax does not)")
    out_dtype = lhs.dtype
    if preferred_element_type is not None:
        _check_preferred(lhs.dtype, preferred_element_type)
        out_dtype = preferred_element_type
    shape = (tuple(lhs.shape[d] for d in lb)
             + tuple(lhs.shape[d] for d in _free_dims(lhs.ndim, lc, lb))
             + tuple(rhs.shape[d] for d in _free_dims(rhs.ndim, rc, rb)))
    return ShapedArray(shape, out_dtype)


# ------------------------------------------------------------------ NumPy implementation

# Matrix products of 2-D operands by which axes they contract: (lc, rc) -> how to
# call np.matmul on views (the transposes are free; BLAS takes the flag).
_MATRIX_PRODUCTS = {
    ((1,), (0,)): lambda a, b: np.matmul(a, b),
    ((0,), (0,)): lambda a, b: np.matmul(a.T, b),
    ((1,), (1,)): lambda a, b: np.matmul(a, b.T),
    ((0,), (1,)): lambda a, b: np.matmul(a.T, b.T),
}


def _dot_general_impl(lhs: Any, rhs: Any, *, dimension_numbers, precision,
                      preferred_element_type, xp: Any = np) -> np.ndarray:
    if xp is not np:
        return _dot_general_array_api(lhs, rhs, dimension_numbers, xp)
    if type(lhs) is not np.ndarray or type(rhs) is not np.ndarray:
        lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    if lhs.dtype != rhs.dtype:  # NumPy would promote silently; the shape rule explains
        _dot_general_aval(get_aval(lhs), get_aval(rhs), dimension_numbers=dimension_numbers,
                          precision=precision, preferred_element_type=preferred_element_type)
    (lc, rc), (lb, rb) = dimension_numbers
    if preferred_element_type is None and not lb and lhs.ndim == 2 and rhs.ndim == 2:
        product = _MATRIX_PRODUCTS.get((lc, rc))
        if product is not None:
            return product(lhs, rhs)
    if (lb and len(lb) + len(lc) == lhs.ndim and len(rb) + len(rc) == rhs.ndim
            and preferred_element_type is None and lhs.dtype.kind in "fiu"):
        # a dot product per batch position (``ij,ij->i``): one vecdot, where matmul
        # would multiply a stack of 1 x k by k x 1 matrices (real: vecdot conjugates
        # its first operand, which only complex numbers notice)
        batch_shape = tuple(lhs.shape[d] for d in lb)
        k = math.prod(lhs.shape[d] for d in lc)
        return np.vecdot(_batch_then_contract(lhs, lb, lc, batch_shape, k),
                         _batch_then_contract(rhs, rb, rc, batch_shape, k))
    if preferred_element_type is not None and preferred_element_type != lhs.dtype:
        # accumulate in the wider type (int8 products summed in int32, f32 in f64)
        lhs = lhs.astype(preferred_element_type)
        rhs = rhs.astype(preferred_element_type)
    lf = _free_dims(lhs.ndim, lc, lb)
    rf = _free_dims(rhs.ndim, rc, rb)
    batch_shape = tuple(lhs.shape[d] for d in lb)
    lhs_free_shape = tuple(lhs.shape[d] for d in lf)
    rhs_free_shape = tuple(rhs.shape[d] for d in rf)
    m = math.prod(lhs_free_shape)
    n = math.prod(rhs_free_shape)
    k = math.prod(lhs.shape[d] for d in lc)
    # np.transpose is a view; reshape copies only when the merged axes are not
    # already adjacent in memory. Batch axes stay separate: matmul broadcasts them.
    a = np.transpose(lhs, lb + lf + lc).reshape(batch_shape + (m, k))
    b = np.transpose(rhs, rb + rc + rf).reshape(batch_shape + (k, n))
    if k == 1:
        out = a * b  # outer product: a broadcast multiply, no reduction needed
    else:
        out = np.matmul(a, b)
    return out.reshape(batch_shape + lhs_free_shape + rhs_free_shape)


def _batch_then_contract(x: np.ndarray, batch: tuple, contract: tuple,
                         batch_shape: tuple, k: int) -> np.ndarray:
    """`x` as (batch..., k): a view, untouched where its axes are in that order."""
    order = batch + contract
    if order != tuple(range(x.ndim)):
        x = np.transpose(x, order)
    return x if len(contract) == 1 else x.reshape(batch_shape + (k,))


def _dot_general_array_api(lhs: Any, rhs: Any, dimension_numbers: Any, xp: Any) -> Any:
    """dot_general with another library's arrays, as one batched matmul of (batch, m, k)
    and (batch, k, n) layouts; the operands already have the result's dtype (the
    backend casts operands of a preferred_element_type beforehand, and the result)."""
    (lc, rc), (lb, rb) = dimension_numbers
    lhs_shape, rhs_shape = tuple(lhs.shape), tuple(rhs.shape)
    lf = _free_dims(len(lhs_shape), lc, lb)
    rf = _free_dims(len(rhs_shape), rc, rb)
    batch_shape = tuple(lhs_shape[d] for d in lb)
    lhs_free_shape = tuple(lhs_shape[d] for d in lf)
    rhs_free_shape = tuple(rhs_shape[d] for d in rf)
    m, n = math.prod(lhs_free_shape), math.prod(rhs_free_shape)
    k = math.prod(lhs_shape[d] for d in lc)
    a = xp.reshape(xp.permute_dims(lhs, tuple(lb + lf + lc)), batch_shape + (m, k))
    b = xp.reshape(xp.permute_dims(rhs, tuple(rb + rc + rf)), batch_shape + (k, n))
    return xp.reshape(xp.matmul(a, b), batch_shape + lhs_free_shape + rhs_free_shape)


# ------------------------------------------------------------------ transposes

def _cotangent_of_operand(ct: Any, undefined: Any, other: Any, *, own: tuple, other_dims: tuple,
                          undefined_is_lhs: bool) -> Any:
    """Cotangent of one operand of a dot_general, given the other.

    ``own``/``other_dims`` are ``(contracting, batch)`` of the undefined operand and
    of the other one. The cotangent contracts ``ct`` with ``other`` over the free
    dimensions of ``other``, which leaves (batch, own free, own contracting in the
    order of the other side's contracting dimensions); a transpose restores the
    operand's layout.
    """
    aval = undefined.aval
    other_aval = get_aval(other)
    (u_contract, u_batch), (v_contract, v_batch) = own, other_dims
    u_free = _free_dims(aval.ndim, u_contract, u_batch)
    v_free = _free_dims(other_aval.ndim, v_contract, v_batch)
    nb = len(u_batch)
    ct_batch = tuple(range(nb))
    if undefined_is_lhs:   # ct = (batch, u_free, v_free)
        ct_v_free = tuple(range(nb + len(u_free), nb + len(u_free) + len(v_free)))
    else:                  # ct = (batch, v_free, u_free)
        ct_v_free = tuple(range(nb, nb + len(v_free)))
    ct_dtype = get_aval(ct).dtype
    if ct_dtype != other_aval.dtype:   # preferred_element_type made them differ
        common = np.result_type(ct_dtype, other_aval.dtype)
        ct = convert_element_type(ct, common)
        other = convert_element_type(other, common)
    result = dot_general(ct, other, ((ct_v_free, v_free), (ct_batch, v_batch)))
    contract_in_result_order = tuple(u_contract[i] for i in _argsort(v_contract))
    layout = u_batch + u_free + contract_in_result_order
    result = transpose(result, _argsort(layout))
    return convert_element_type(result, aval.dtype)


def _argsort(seq: Sequence[int]) -> tuple[int, ...]:
    return tuple(sorted(range(len(seq)), key=seq.__getitem__))


def _transpose_lhs(ct, lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    return _cotangent_of_operand(ct, lhs, rhs, own=(lc, lb), other_dims=(rc, rb),
                                 undefined_is_lhs=True)


def _transpose_rhs(ct, lhs, rhs, *, dimension_numbers, precision, preferred_element_type):
    (lc, rc), (lb, rb) = dimension_numbers
    return _cotangent_of_operand(ct, rhs, lhs, own=(rc, rb), other_dims=(lc, lb),
                                 undefined_is_lhs=False)


# ------------------------------------------------------------------ batching

def _after_insert(dims: tuple[int, ...], bdim: int) -> tuple[int, ...]:
    """Operand dimension numbers once a batch axis sits at position `bdim`."""
    return tuple(d + 1 if d >= bdim else d for d in dims)


def _dot_general_batch(args, dims, *, dimension_numbers, precision, preferred_element_type):
    """Fold the vmapped axis into the dimension numbers: batched on both sides it
    becomes a new (leading) batch dimension; on one side, a free dimension."""
    lhs, rhs = args
    ld, rd = dims
    (lc, rc), (lb, rb) = dimension_numbers
    if ld is not None:
        lc, lb = _after_insert(lc, ld), _after_insert(lb, ld)
    if rd is not None:
        rc, rb = _after_insert(rc, rd), _after_insert(rb, rd)
    if ld is not None and rd is not None:
        new_dims = ((lc, rc), ((ld,) + lb, (rd,) + rb))
        out_dim = 0
    elif ld is not None:
        new_dims = ((lc, rc), (lb, rb))
        lhs_free = _free_dims(get_aval(lhs).ndim, lc, lb)
        out_dim = len(lb) + lhs_free.index(ld)
    else:
        new_dims = ((lc, rc), (lb, rb))
        lhs_free = _free_dims(get_aval(lhs).ndim, lc, lb)
        rhs_free = _free_dims(get_aval(rhs).ndim, rc, rb)
        out_dim = len(lb) + len(lhs_free) + rhs_free.index(rd)
    out = dot_general_p.bind(lhs, rhs, dimension_numbers=new_dims, precision=precision,
                             preferred_element_type=preferred_element_type)
    return out, out_dim


dot_general_p = Primitive("dot_general")
dot_general_p.impl = _dot_general_impl
dot_general_p.abstract_eval = _dot_general_aval
defbilinear(dot_general_p, _transpose_lhs, _transpose_rhs)
dot_general_p.batch = _dot_general_batch


# ------------------------------------------------------------------ lax-level functions

def _canonical_dims(dims: Sequence[int], ndim: int, what: str) -> tuple[int, ...]:
    if type(dims) is tuple:  # already canonical, the common case: kept as it is
        for d in dims:
            if type(d) is not int or not 0 <= d < ndim:
                break
        else:
            return dims
    out = []
    for d in dims:
        d = operator.index(d)
        if not -ndim <= d < ndim:
            raise ValueError(f"dot_general: {what} dimension {d} is out of range for an "
                             f"operand with {ndim} dimensions")
        out.append(d % ndim)
    return tuple(out)


def _canonical_dimension_numbers(dimension_numbers: Any, lhs_ndim: int,
                                 rhs_ndim: int) -> DimensionNumbers:
    try:
        (lc, rc), (lb, rb) = dimension_numbers
    except (TypeError, ValueError):
        raise TypeError("dot_general: dimension_numbers must be ((lhs_contracting, "
                        "rhs_contracting), (lhs_batch, rhs_batch)), got "
                        f"{dimension_numbers!r}") from None
    return ((_canonical_dims(lc, lhs_ndim, "lhs contracting"),
             _canonical_dims(rc, rhs_ndim, "rhs contracting")),
            (_canonical_dims(lb, lhs_ndim, "lhs batch"),
             _canonical_dims(rb, rhs_ndim, "rhs batch")))


def _canonical_precision(precision: Any) -> Any:
    # Evaluation is NumPy: precision is recorded (for printing) but does not change results.
    if precision is None or isinstance(precision, str):
        return precision
    if isinstance(precision, (tuple, list)):
        return tuple(None if p is None else str(p) for p in precision)
    return str(precision)


def dot_general(lhs: Any, rhs: Any, dimension_numbers: Any, precision: Any = None,
                preferred_element_type: Any = None) -> Any:
    """General tensor contraction (as ``lax.dot_general``).

    ``dimension_numbers = ((lhs_contracting, rhs_contracting), (lhs_batch,
    rhs_batch))``; the result holds the batch dimensions, then the free dimensions
    of `lhs`, then those of `rhs`. Operands must have equal dtypes; the result has
    that dtype, or `preferred_element_type` (a wider type to accumulate in).
    """
    dims = _canonical_dimension_numbers(dimension_numbers, len(get_aval(lhs).shape),
                                        len(get_aval(rhs).shape))
    preferred = None if preferred_element_type is None else np.dtype(preferred_element_type)
    if preferred is not None and not (dtypes.is_float(preferred) or preferred.kind in "biu"):
        raise TypeError(f"dot_general: preferred_element_type must be a numeric dtype, got "
                        f"{preferred}")
    return dot_general_p.bind(lhs, rhs, dimension_numbers=dims,
                              precision=_canonical_precision(precision),
                              preferred_element_type=preferred)


def dot(lhs: Any, rhs: Any, precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Vector/vector, matrix/vector and matrix/matrix product (as ``lax.dot``):
    contracts the last dimension of `lhs` with the first of `rhs`."""
    lhs_shape, rhs_shape = get_aval(lhs).shape, get_aval(rhs).shape
    if not (1 <= len(lhs_shape) <= 2 and 1 <= len(rhs_shape) <= 2
            and lhs_shape[-1] == rhs_shape[0]):
        raise TypeError(f"dot: incompatible shapes {lhs_shape} and {rhs_shape}: lax.dot takes "
                        "1-D or 2-D operands whose last and first dimensions agree (use "
                        "dot_general for other contractions)")
    return dot_general(lhs, rhs, (((len(lhs_shape) - 1,), (0,)), ((), ())),
                       precision=precision, preferred_element_type=preferred_element_type)
