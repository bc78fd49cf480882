"""Convolutions and windowed reductions: ``conv_general_dilated``, ``reduce_window``.

Both slide a window over the spatial dimensions of an operand. The window
geometry is XLA's: the operand is first dilated (``lhs_dilation`` /
``base_dilation``: ``d - 1`` holes between elements), then padded (``padding``,
``(lo, hi)`` per dimension, negative values crop), and a window of the kernel's
size, itself dilated (``rhs_dilation`` / ``window_dilation``), moves over it by
``window_strides``.

Evaluation never loops over pixels or examples. A convolution is one matrix product
(``np.matmul``, BLAS) per group, in one of two forms, whichever moves less data:
im2col copies the windows of the padded input, seen as a strided view
(``sliding_window_view``) of a channels-last copy, into the rows of a matrix; the
scatter form multiplies every input element by every kernel tap, then adds each tap's
block into the outputs it reaches (one strided add per tap), and never builds the
padding or the zeros of ``lhs_dilation``, which makes the input gradient of a strided
convolution cost no more than the convolution. A windowed reduction reduces the
strided view directly.

Derivatives:

* ``conv_general_dilated`` is bilinear. Its transposes are convolutions
  themselves (the cotangent with the flipped kernel for the input; the input with
  the cotangent as kernel for the kernel), with the roles of strides and
  dilations swapped and feature groups turned into batch groups, as in JAX.
* ``reduce_window_sum`` is linear; its transpose pads (and dilates) the cotangent
  and sums windows again.
* ``reduce_window_max``/``min``: the tangent of each window's result is the
  tangent of the element it selects, the first maximum (minimum) in row-major
  window order, as JAX's ``select_and_gather_add``. That is linear in the
  tangent; its transpose, ``select_and_scatter_add``, adds each cotangent at the
  element selected (max pooling's backward pass), and they transpose into each
  other. Ties do not share the derivative (``lax.reduce_max`` averages them).
* ``reduce_window`` with any other computation folds it over the window
  offsets, one elementwise application per offset, so every transformation of
  the computation applies.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from functrans.core.avals import ShapedArray, get_aval
from functrans.core.primitive import Primitive
from functrans.core.trace import Tracer
from functrans.primitives import elementwise as lax_ew
from functrans.primitives import structural as lax_st  # for lax_st.pad_p: see below
from functrans.primitives.products import _canonical_precision
from functrans.primitives.reductions import _identity_of_max, _identity_of_min
from functrans.primitives.rules import bdim_at_front, defbilinear, defjvp, deflinear
from functrans.primitives.structural import (
    deflinear_leading,
    full,
    pad,
    reshape,
    rev,
    transpose,
)
from functrans.primitives.structural import slice as lax_slice
from functrans.tree_util import tree_flatten, tree_unflatten

__all__ = ["ConvDimensionNumbers", "conv_dimension_numbers", "conv_general_permutations",
           "conv_general_dilated", "conv", "conv_with_general_padding", "conv_transpose",
           "padtype_to_pads", "reduce_window", "reduce_window_sum", "reduce_window_max",
           "reduce_window_min", "reduce_window_shape_tuple", "select_and_gather_add",
           "select_and_scatter_add", "conv_general_dilated_p", "reduce_window_sum_p",
           "reduce_window_max_p", "reduce_window_min_p", "select_and_gather_add_p",
           "select_and_scatter_add_p"]

Padding = tuple[tuple[int, int], ...]


# ------------------------------------------------------------------ window geometry

def _dilate_dim(size: int, dilation: int) -> int:
    """Size of a dimension with ``dilation - 1`` holes between its elements."""
    return 0 if size == 0 else (size - 1) * dilation + 1


def _window_count(padded: int, span: int, stride: int) -> int:
    """How many windows of extent `span` fit in `padded`, moving by `stride`."""
    return 0 if padded < span else (padded - span) // stride + 1


def _window_shape(sizes: Sequence[int], window: Sequence[int], strides: Sequence[int],
                  padding: Padding, base_dilation: Sequence[int],
                  window_dilation: Sequence[int]) -> tuple[int, ...]:
    """Number of window positions per dimension."""
    return tuple(_window_count(_dilate_dim(n, bd) + lo + hi, _dilate_dim(k, wd), s)
                 for n, k, s, (lo, hi), bd, wd
                 in zip(sizes, window, strides, padding, base_dilation, window_dilation))


def padtype_to_pads(in_shape: Sequence[int], window_shape: Sequence[int],
                    window_strides: Sequence[int], padding: str) -> list[tuple[int, int]]:
    """``(lo, hi)`` padding per dimension for ``'SAME'``, ``'SAME_LOWER'`` or ``'VALID'``
    (as ``lax.padtype_to_pads``).

    ``'SAME'`` pads so that there are ``ceil(size / stride)`` windows, the odd
    element of padding at the end; ``'SAME_LOWER'`` puts it at the start.
    """
    mode = padding.upper() if isinstance(padding, str) else padding
    if mode == "VALID":
        return [(0, 0)] * len(in_shape)
    if mode not in ("SAME", "SAME_LOWER"):
        raise ValueError(f"padding must be 'SAME', 'SAME_LOWER', 'VALID' or a sequence of "
                         f"(low, high) pairs, got {padding!r}")
    pads = []
    for n, k, s in zip(in_shape, window_shape, window_strides, strict=True):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        small, large = total // 2, total - total // 2
        pads.append((small, large) if mode == "SAME" else (large, small))
    return pads


def _window_view(x: np.ndarray, axes: Sequence[int], fill: Any, window: Sequence[int],
                 strides: Sequence[int], padding: Padding, base_dilation: Sequence[int],
                 window_dilation: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(padded, windows)``: `x` dilated and padded with `fill` along `axes`, and
    the strided view of its windows, shaped ``x.shape`` with `axes` replaced by the
    window counts, then one axis per window dimension.

    `padded` is C-contiguous in the axis order of `x` (a copy when anything is
    padded, else `x` made contiguous), so copies out of the view read memory in runs.
    """
    config = [(0, 0, 0)] * x.ndim
    for a, (lo, hi), d in zip(axes, padding, base_dilation):
        config[a] = (lo, hi, d - 1)
    if any(c != (0, 0, 0) for c in config):
        # pad_p is reached through its module: a primitive imported by name here would
        # be listed as this module's in docs/primitives.md
        padded = lax_st.pad_p.impl(x, np.asarray(fill, x.dtype), padding_config=tuple(config))
        padded = np.asarray(padded, order="C")  # negative padding crops: a view
    else:
        padded = np.asarray(x, order="C")
    spans = [_dilate_dim(k, d) for k, d in zip(window, window_dilation)]
    view = sliding_window_view(padded, spans, axis=tuple(axes))
    index = [slice(None)] * view.ndim
    for a, s in zip(axes, strides):
        index[a] = slice(None, None, s)
    for i, d in enumerate(window_dilation):
        index[x.ndim + i] = slice(None, None, d)
    return padded, view[tuple(index)]


# ------------------------------------------------------------------ dimension numbers

class ConvDimensionNumbers(NamedTuple):
    """Where the batch, feature and spatial dimensions of a convolution lie (as
    ``lax.ConvDimensionNumbers``).

    ``lhs_spec``: ``(batch, feature, spatial...)`` dimensions of the input;
    ``rhs_spec``: ``(out feature, in feature, spatial...)`` of the kernel;
    ``out_spec``: ``(batch, feature, spatial...)`` of the result.
    """

    lhs_spec: tuple[int, ...]
    rhs_spec: tuple[int, ...]
    out_spec: tuple[int, ...]


def conv_general_permutations(dimension_numbers: Sequence[str]
                              ) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Dimension permutations ``(lhs_spec, rhs_spec, out_spec)`` from strings such
    as ``('NHWC', 'HWIO', 'NHWC')`` (as ``lax.conv_general_permutations``).

    Spatial dimensions are matched by letter and ordered as they appear in the
    kernel's string, so ``window_strides[0]`` belongs to the first spatial letter
    of ``rhs_spec``.
    """
    lhs, rhs, out = dimension_numbers
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for i, (spec, (a, b)) in enumerate(zip(dimension_numbers, pairs)):
        if spec.count(a) != 1 or spec.count(b) != 1:
            raise TypeError(f"conv_general_dilated: dimension_numbers[{i}] = {spec!r} must "
                            f"contain '{a}' and '{b}' exactly once")
        if len(set(spec)) != len(spec):
            raise TypeError(f"conv_general_dilated: dimension_numbers[{i}] = {spec!r} "
                            "repeats a letter")
    if not set(lhs) - {"N", "C"} == set(rhs) - {"O", "I"} == set(out) - {"N", "C"}:
        raise TypeError(f"conv_general_dilated: dimension_numbers {tuple(dimension_numbers)} "
                        "must name the same spatial letters in all three strings")

    def permutation(spec: str, pair: tuple[str, str]) -> tuple[int, ...]:
        spatial = sorted((i for i, c in enumerate(spec) if c not in pair),
                         key=lambda i: rhs.index(spec[i]))
        return (spec.index(pair[0]), spec.index(pair[1])) + tuple(spatial)

    return permutation(lhs, pairs[0]), permutation(rhs, pairs[1]), permutation(out, pairs[2])


def conv_dimension_numbers(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                           dimension_numbers: Any) -> ConvDimensionNumbers:
    """`dimension_numbers` (None, three strings, or ConvDimensionNumbers) as a
    :class:`ConvDimensionNumbers` (as ``lax.conv_dimension_numbers``); None means
    ``('NCHW', 'OIHW', 'NCHW')`` and its analogue for other ranks."""
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return ConvDimensionNumbers(*(tuple(int(d) for d in spec)
                                      for spec in dimension_numbers))
    if len(lhs_shape) != len(rhs_shape):
        raise TypeError(f"conv_general_dilated: lhs and rhs need the same rank, got shapes "
                        f"{tuple(lhs_shape)} and {tuple(rhs_shape)}")
    if dimension_numbers is None:
        identity = tuple(range(len(lhs_shape)))
        return ConvDimensionNumbers(identity, identity, identity)
    if not (isinstance(dimension_numbers, (tuple, list)) and len(dimension_numbers) == 3
            and all(isinstance(s, str) for s in dimension_numbers)):
        raise TypeError("conv_general_dilated: dimension_numbers must be None, a "
                        "ConvDimensionNumbers or three strings such as ('NCHW', 'OIHW', "
                        f"'NCHW'), got {dimension_numbers!r}")
    for spec in dimension_numbers:
        if len(spec) != len(lhs_shape):
            raise TypeError(f"conv_general_dilated: dimension_numbers {tuple(dimension_numbers)}"
                            f" must have one letter per dimension of the operands, of shapes "
                            f"{tuple(lhs_shape)} and {tuple(rhs_shape)}")
    return ConvDimensionNumbers(*conv_general_permutations(dimension_numbers))


# ------------------------------------------------------------------ shape and dtype rule

def _spatial(spec: Sequence[int]) -> tuple[int, ...]:
    return tuple(spec[2:])


def _swap_leading(spec: Sequence[int]) -> tuple[int, ...]:
    """A spec with its two non-spatial dimensions exchanged."""
    return (spec[1], spec[0]) + tuple(spec[2:])


def _check_spec(what: str, spec: tuple[int, ...], aval: ShapedArray) -> None:
    if sorted(spec) != list(range(aval.ndim)):
        raise TypeError(f"conv_general_dilated: {what} {spec} is not a permutation of the "
                        f"{aval.ndim} dimensions of {aval.str_short()}")


def _check_preferred(in_dtype: np.dtype, preferred: np.dtype) -> None:
    widening = (preferred.kind == in_dtype.kind and preferred.itemsize >= in_dtype.itemsize
                or in_dtype.kind in "iu" and preferred.kind in "iuf"
                or in_dtype.kind == "f" and preferred.kind == "c")
    if not widening:
        raise TypeError(f"conv_general_dilated: preferred_element_type {preferred} cannot "
                        f"hold products of {in_dtype} operands; use an equal or wider type of "
                        "a compatible kind")


def _check_positive(what: str, values: tuple[int, ...], count: int) -> None:
    if len(values) != count or any(v < 1 for v in values):
        raise TypeError(f"conv_general_dilated: {what} {values} must give one positive "
                        f"integer per spatial dimension ({count})")


def _check_groups(lhs: ShapedArray, rhs: ShapedArray, dims: ConvDimensionNumbers,
                  feature_group_count: int, batch_group_count: int) -> None:
    batch, features = lhs.shape[dims.lhs_spec[0]], lhs.shape[dims.lhs_spec[1]]
    out_features, in_features = rhs.shape[dims.rhs_spec[0]], rhs.shape[dims.rhs_spec[1]]
    where = f"lhs {lhs.str_short()} and rhs {rhs.str_short()}"
    if feature_group_count < 1 or batch_group_count < 1:
        raise TypeError(f"conv_general_dilated: feature_group_count ({feature_group_count}) "
                        f"and batch_group_count ({batch_group_count}) must be positive")
    if feature_group_count > 1 and batch_group_count > 1:
        raise TypeError("conv_general_dilated: at most one of feature_group_count and "
                        f"batch_group_count may exceed 1, got {feature_group_count} and "
                        f"{batch_group_count}")
    if features % feature_group_count or features // feature_group_count != in_features:
        raise TypeError(f"conv_general_dilated: for {where}, the input features ({features}) "
                        f"divided by feature_group_count ({feature_group_count}) must equal "
                        f"the kernel's input features ({in_features})")
    groups = feature_group_count * batch_group_count
    if out_features % groups:
        raise TypeError(f"conv_general_dilated: for {where}, the kernel's output features "
                        f"({out_features}) must be a multiple of the group count ({groups})")
    if batch % batch_group_count:
        raise TypeError(f"conv_general_dilated: for {where}, batch_group_count "
                        f"({batch_group_count}) must divide the batch size ({batch})")


def _conv_aval(lhs: ShapedArray, rhs: ShapedArray, *, window_strides, padding, lhs_dilation,
               rhs_dilation, dimension_numbers, feature_group_count, batch_group_count,
               precision, preferred_element_type) -> ShapedArray:
    if lhs.ndim != rhs.ndim or lhs.ndim < 2:
        raise TypeError(f"conv_general_dilated: lhs {lhs.str_short()} and rhs "
                        f"{rhs.str_short()} need the same rank, at least 2 (batch and "
                        "feature dimensions, then the spatial ones)")
    if lhs.dtype != rhs.dtype or lhs.dtype.kind not in "iufc":
        raise TypeError(f"conv_general_dilated requires numeric operands of equal dtype, got "
                        f"{lhs.str_short()} and {rhs.str_short()} (functrans.lax does not "
                        "promote: convert one with lax.convert_element_type)")
    dims = dimension_numbers
    for what, spec, aval in (("lhs_spec", dims.lhs_spec, lhs), ("rhs_spec", dims.rhs_spec, rhs),
                             ("out_spec", dims.out_spec, lhs)):
        _check_spec(what, spec, aval)
    count = lhs.ndim - 2
    for what, values in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                         ("rhs_dilation", rhs_dilation)):
        _check_positive(what, values, count)
    if len(padding) != count:
        raise TypeError(f"conv_general_dilated: padding {padding} must give one (low, high) "
                        f"pair per spatial dimension ({count})")
    _check_groups(lhs, rhs, dims, feature_group_count, batch_group_count)
    in_sizes = [lhs.shape[d] for d in _spatial(dims.lhs_spec)]
    window = [rhs.shape[d] for d in _spatial(dims.rhs_spec)]
    for n, ld, (lo, hi) in zip(in_sizes, lhs_dilation, padding):
        if _dilate_dim(n, ld) + lo + hi < 0:
            raise TypeError(f"conv_general_dilated: padding {padding} removes more than the "
                            f"whole of lhs {lhs.str_short()}'s spatial dimensions {in_sizes}")
    out_spatial = _window_shape(in_sizes, window, window_strides, padding, lhs_dilation,
                                rhs_dilation)
    canonical = (lhs.shape[dims.lhs_spec[0]] // batch_group_count,
                 rhs.shape[dims.rhs_spec[0]]) + out_spatial
    shape = [0] * lhs.ndim
    for size, d in zip(canonical, dims.out_spec):
        shape[d] = size
    dtype = lhs.dtype
    if preferred_element_type is not None:
        _check_preferred(lhs.dtype, preferred_element_type)
        dtype = preferred_element_type
    return ShapedArray(tuple(shape), dtype)


# ------------------------------------------------------------------ NumPy implementation

def _conv_impl(lhs: Any, rhs: Any, *, xp: Any = np, **params: Any) -> np.ndarray:
    if xp is not np:
        return _conv_array_api(lhs, rhs, xp, params)
    lhs, rhs = np.asarray(lhs), np.asarray(rhs)
    # the shape rule gives the result's shape and dtype, and rejects operands NumPy
    # would promote
    aval = _conv_aval(get_aval(lhs), get_aval(rhs), **params)
    dims = params["dimension_numbers"]
    canonical_shape = tuple(aval.shape[d] for d in dims.out_spec)  # (N', O, spatial...)
    if math.prod(canonical_shape) == 0 or math.prod(get_aval(rhs).shape) == 0:
        return np.zeros(aval.shape, aval.dtype)    # no window, or nothing to sum
    x = np.transpose(lhs, dims.lhs_spec).astype(aval.dtype, copy=False)   # (N, C, spatial...)
    w = np.transpose(rhs, dims.rhs_spec).astype(aval.dtype, copy=False)   # (O, I, spatial...)
    groups = params["feature_group_count"] * params["batch_group_count"]
    x = _groups_first(x, params["batch_group_count"] > 1, groups)
    w = _groups_first_kernel(w, groups)
    out_spatial = canonical_shape[2:]
    if _scatter_is_cheaper(x.shape, out_spatial, w.shape):
        out = _conv_by_scatter(x, w, out_spatial, params)
    else:
        out = _conv_by_im2col(x, w, params)
    # (G, N', *out_spatial, O') -> (N', *out_spatial, G * O') -> the output layout
    out = np.moveaxis(out, 0, -2)
    out = out.reshape(out.shape[:-2] + (groups * out.shape[-1],))
    return np.transpose(np.moveaxis(out, -1, 1), np.argsort(dims.out_spec))


def _conv_array_api(lhs: Any, rhs: Any, xp: Any, params: dict) -> Any:
    """_conv_impl on another library's arrays (functrans.core.backend): the scatter
    method (one matrix product, then one strided add per kernel tap), whose steps are
    all Array API (im2col needs a strided view of the input, which the standard lacks).
    The per-tap adds are many small tasks for a lazy library: Dask runs the NumPy
    implementation instead (``prefer_fallback``)."""
    aval = _conv_aval(get_aval(lhs), get_aval(rhs), **params)
    dims = params["dimension_numbers"]
    canonical_shape = tuple(aval.shape[d] for d in dims.out_spec)  # (N', O, spatial...)
    dtype = getattr(xp, aval.dtype.name)
    if math.prod(canonical_shape) == 0 or math.prod(get_aval(rhs).shape) == 0:
        return xp.zeros(aval.shape, dtype=dtype, device=lhs.device)
    x = xp.astype(xp.permute_dims(lhs, dims.lhs_spec), dtype)   # (N, C, spatial...)
    w = xp.astype(xp.permute_dims(rhs, dims.rhs_spec), dtype)   # (O, I, spatial...)
    groups = params["feature_group_count"] * params["batch_group_count"]
    # (N, C, spatial...) -> (G, N', spatial..., C'), as _groups_first
    nd = x.ndim
    x = xp.permute_dims(x, (0,) + tuple(range(2, nd)) + (1,))
    if params["batch_group_count"] > 1:
        x = xp.reshape(x, (groups, x.shape[0] // groups) + tuple(x.shape[1:]))
    else:
        x = xp.reshape(x, tuple(x.shape[:-1]) + (groups, x.shape[-1] // groups))
        x = xp.permute_dims(x, (nd - 1,) + tuple(range(nd - 1)) + (nd,))
    w = xp.reshape(w, (groups, w.shape[0] // groups) + tuple(w.shape[1:]))
    out = _conv_by_scatter_array_api(x, w, canonical_shape[2:], params, xp)
    # (G, N', *out_spatial, O') -> (N', *out_spatial, G * O') -> the output layout
    nd = out.ndim
    out = xp.permute_dims(out, tuple(range(1, nd - 1)) + (0, nd - 1))
    out = xp.reshape(out, tuple(out.shape[:-2]) + (groups * out.shape[-1],))
    out = xp.permute_dims(out, (0, nd - 2) + tuple(range(1, nd - 2)))  # (N', O, spatial)
    return xp.permute_dims(out, tuple(int(d) for d in np.argsort(dims.out_spec)))


def _conv_by_scatter_array_api(x: Any, w: Any, out_spatial: tuple[int, ...], params: dict,
                               xp: Any) -> Any:
    """_conv_by_scatter with Array API calls: x (G, N', spatial..., C'), w (G, O', C',
    kernel...) -> (G, N', out spatial..., O')."""
    groups, batch = x.shape[:2]
    in_spatial, kernel = tuple(x.shape[2:-1]), tuple(w.shape[3:])
    rows = xp.reshape(x, (groups, -1, x.shape[-1]))
    columns = xp.permute_dims(w, (0, 2) + tuple(range(3, w.ndim)) + (1,))
    columns = xp.reshape(columns, (groups, x.shape[-1], -1))
    products = xp.reshape(xp.matmul(rows, columns),
                          (groups, batch) + in_spatial + kernel + (w.shape[1],))
    out = xp.zeros((groups, batch) + tuple(out_spatial) + (w.shape[1],), dtype=x.dtype,
                   device=x.device)
    for inputs, outputs in _tap_blocks(in_spatial, out_spatial, kernel, params):
        out[outputs] = out[outputs] + products[inputs]
    return out


_conv_impl.prefer_fallback = True  # type: ignore[attr-defined]


def _groups_first(x: np.ndarray, batch_groups: bool, groups: int) -> np.ndarray:
    """(N, C, spatial...) as (G, N', spatial..., C'), a view: the groups split off the
    batch (batch groups) or the features, features last."""
    x = np.moveaxis(x, 1, -1)
    if batch_groups:
        return x.reshape((groups, x.shape[0] // groups) + x.shape[1:])
    x = x.reshape(x.shape[:-1] + (groups, x.shape[-1] // groups))
    return np.moveaxis(x, -2, 0)


def _groups_first_kernel(w: np.ndarray, groups: int) -> np.ndarray:
    """(O, I, spatial...) as (G, O', I, spatial...), a view."""
    return w.reshape((groups, w.shape[0] // groups) + w.shape[1:])


# Two ways to run a convolution as matrix products, with equal multiplications per pair
# of (input position, kernel tap) that meet:
#
# * im2col (gather): copy each output position's window of the padded input into a row
#   (P rows of K * C' entries), then one product with the kernel. Its cost grows with
#   the output positions P.
# * scatter: multiply every input element by every kernel tap at once (one product, no
#   copy of the input: Q input positions times K * O' entries), then add each tap's
#   block into the output positions it reaches, one strided add per tap. Its cost grows
#   with the input positions Q; padding and the zeros of lhs_dilation are never built,
#   so the transposed convolutions of reverse mode (whose input is dilated by the
#   forward strides) do no work on zeros.
#
# Per kernel tap, im2col costs about P * C' * (O' + copy) and scatter
# Q * O' * (C' + 2 copy) (its products are written, then read back by the adds), where
# moving an element costs as much as _COPY multiply-adds. With OpenBLAS on one core,
# _COPY = 8 picks the faster of the two within ~10 % on the layers of
# benchmarks/conv_layer.py and their strided variants, where the wrong choice costs up
# to 3.5x (im2col on the input gradient of a stride-2 convolution).
_COPY = 8


def _scatter_is_cheaper(x_shape: tuple[int, ...], out_spatial: tuple[int, ...],
                        w_shape: tuple[int, ...]) -> bool:
    n_spatial = len(out_spatial)
    in_positions = math.prod(x_shape[2:2 + n_spatial])
    features, out_features = x_shape[-1], w_shape[1]
    gather = math.prod(out_spatial) * features * (out_features + _COPY)
    scatter = in_positions * out_features * (features + 2 * _COPY)
    return scatter < gather


def _conv_by_im2col(x: np.ndarray, w: np.ndarray, params: dict) -> np.ndarray:
    """x (G, N', spatial..., C'), w (G, O', C', kernel...) -> (G, N', out spatial..., O')."""
    groups, batch = x.shape[:2]
    n_spatial = x.ndim - 3
    _, windows = _window_view(x, tuple(range(2, 2 + n_spatial)), 0, w.shape[3:],
                              params["window_strides"], params["padding"],
                              params["lhs_dilation"], params["rhs_dilation"])
    out_spatial = windows.shape[2:2 + n_spatial]
    # rows: (example, output position); columns: (kernel tap, feature)
    window_axes = tuple(range(3 + n_spatial, 3 + 2 * n_spatial))
    rows = windows.transpose(tuple(range(2 + n_spatial)) + window_axes + (2 + n_spatial,))
    rows = rows.reshape(groups, batch * math.prod(out_spatial), -1)      # the im2col copy
    columns = w.transpose((0,) + tuple(range(3, 3 + n_spatial)) + (2, 1))
    # a small copy: np.matmul hands only contiguous (or transposed) blocks to BLAS
    columns = np.asarray(columns, order="C").reshape(groups, -1, w.shape[1])
    out = np.matmul(rows, columns)
    return out.reshape((groups, batch) + out_spatial + (w.shape[1],))


def _conv_by_scatter(x: np.ndarray, w: np.ndarray, out_spatial: tuple[int, ...],
                     params: dict) -> np.ndarray:
    """x (G, N', spatial..., C'), w (G, O', C', kernel...) -> (G, N', out spatial..., O')."""
    groups, batch = x.shape[:2]
    in_spatial, kernel = x.shape[2:-1], w.shape[3:]
    rows = np.asarray(x, order="C").reshape(groups, -1, x.shape[-1])
    columns = w.transpose((0, 2) + tuple(range(3, w.ndim)) + (1,))
    columns = np.asarray(columns, order="C").reshape(groups, x.shape[-1], -1)
    # every input element times every tap: (G, N', in spatial..., kernel..., O')
    products = np.matmul(rows, columns).reshape((groups, batch) + in_spatial + kernel
                                                + (w.shape[1],))
    out = np.zeros((groups, batch) + tuple(out_spatial) + (w.shape[1],), x.dtype)
    for inputs, outputs in _tap_blocks(in_spatial, out_spatial, kernel, params):
        out[outputs] += products[inputs]
    return out


def _tap_blocks(in_spatial: tuple[int, ...], out_spatial: tuple[int, ...],
                kernel: tuple[int, ...], params: dict
                ) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """For each kernel tap that meets input elements, where its products are in the
    scatter's (G, N', in spatial..., kernel..., O') array and where they add in its
    (G, N', out spatial..., O') output, as two index tuples."""
    placements = [[_tap_placement(n, m, k, s, ld, rd, lo) for k in range(size)]
                  for n, m, size, s, ld, rd, (lo, _) in zip(
                      in_spatial, out_spatial, kernel, params["window_strides"],
                      params["lhs_dilation"], params["rhs_dilation"], params["padding"])]
    groups_and_batch = (slice(None), slice(None))
    for tap in itertools.product(*(range(k) for k in kernel)):
        where = [placements[d][k] for d, k in enumerate(tap)]
        if any(p is None for p in where):
            continue          # this tap meets no input element
        yield (groups_and_batch + tuple(q for q, _ in where) + tap,
               groups_and_batch + tuple(p for _, p in where))


def _tap_placement(size: int, out_size: int, tap: int, stride: int, lhs_dilation: int,
                   rhs_dilation: int, pad_low: int) -> tuple[slice, slice] | None:
    """Along one dimension, the input positions q and the output positions p that kernel
    tap `tap` joins, ``p * stride + tap * rhs_dilation == q * lhs_dilation + pad_low``,
    as two slices of equal length (None if there are none)."""
    offset = tap * rhs_dilation - pad_low              # q * lhs_dilation - p * stride
    first = max(0, -(-offset // lhs_dilation))         # the first q with p >= 0
    common = math.gcd(lhs_dilation, stride)
    q_step, p_step = stride // common, lhs_dilation // common
    q = next((q for q in range(first, first + q_step)
              if (q * lhs_dilation - offset) % stride == 0), None)
    if q is None:
        return None
    p = (q * lhs_dilation - offset) // stride
    count = min(-(-(size - q) // q_step), -(-(out_size - p) // p_step))
    if count <= 0:
        return None
    return (slice(q, q + (count - 1) * q_step + 1, q_step),
            slice(p, p + (count - 1) * p_step + 1, p_step))


# ------------------------------------------------------------------ reshaping axes

def _split_axis(x: Any, axis: int, outer: int) -> Any:
    """Axis `axis` of size ``outer * inner`` becomes two axes ``(outer, inner)``."""
    shape = list(get_aval(x).shape)
    shape[axis:axis + 1] = [outer, shape[axis] // outer]
    return reshape(x, shape)


def _merge_into(x: Any, src: int, dst: int) -> Any:
    """Fold axis `src` into axis `dst` as its major part; `dst` counts the axes
    without `src`."""
    shape = get_aval(x).shape
    order = [i for i in range(len(shape)) if i != src]
    order.insert(dst, src)
    moved = transpose(x, order)
    new_shape = [shape[i] for i in order]
    new_shape[dst:dst + 2] = [new_shape[dst] * new_shape[dst + 1]]
    return reshape(moved, new_shape)


def _regroup(x: Any, axis: int, groups: int, into: int) -> Any:
    """Move the `groups` major part of axis `axis` into axis `into` (as its major part)."""
    x = _split_axis(x, axis, groups)
    return _merge_into(x, axis, into)


# ------------------------------------------------------------------ transposes

def _lhs_transpose_padding(in_sizes, window, strides, out_sizes, padding, lhs_dilation,
                           rhs_dilation) -> Padding:
    """Padding of the convolution that maps an output cotangent back to the input."""
    pads = []
    for n, k, s, o, (lo, _), ld, rd in zip(in_sizes, window, strides, out_sizes, padding,
                                            lhs_dilation, rhs_dilation):
        span = _dilate_dim(k, rd)
        before = span - lo - 1
        after = _dilate_dim(n, ld) + span - 1 - _dilate_dim(o, s) - before
        pads.append((before, after))
    return tuple(pads)


def _rhs_transpose_padding(in_sizes, window, strides, out_sizes, padding, lhs_dilation,
                           rhs_dilation) -> Padding:
    """Padding of the convolution of the input with the cotangent, giving the kernel's."""
    pads = []
    for n, k, s, o, (lo, _), ld, rd in zip(in_sizes, window, strides, out_sizes, padding,
                                            lhs_dilation, rhs_dilation):
        after = _dilate_dim(o, s) - _dilate_dim(n, ld) + _dilate_dim(k, rd) - lo - 1
        pads.append((lo, after))
    return tuple(pads)


def _as_dtype(x: Any, dtype: np.dtype) -> Any:
    return x if get_aval(x).dtype == dtype else lax_ew.convert_element_type(x, dtype)


def _conv_transpose_lhs(ct, lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                        dimension_numbers, feature_group_count, batch_group_count, precision,
                        preferred_element_type):
    """The input's cotangent: ct convolved with the spatially flipped kernel, whose
    in/out feature roles are exchanged (a group's kernels move to its inputs)."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    lhs_aval, rhs_shape = lhs.aval, get_aval(rhs).shape
    kernel, groups = rhs, max(feature_group_count, batch_group_count)
    if groups > 1:
        kernel = _regroup(kernel, rhs_spec[0], groups, rhs_spec[1])
    pads = _lhs_transpose_padding(
        [lhs_aval.shape[d] for d in _spatial(lhs_spec)], [rhs_shape[d] for d in _spatial(rhs_spec)],
        window_strides, [get_aval(ct).shape[d] for d in _spatial(out_spec)], padding,
        lhs_dilation, rhs_dilation)
    kernel = _as_dtype(rev(kernel, _spatial(rhs_spec)), get_aval(ct).dtype)
    out = conv_general_dilated_p.bind(
        ct, kernel, window_strides=lhs_dilation, padding=pads, lhs_dilation=window_strides,
        rhs_dilation=rhs_dilation,
        dimension_numbers=ConvDimensionNumbers(out_spec, _swap_leading(rhs_spec), lhs_spec),
        feature_group_count=groups, batch_group_count=1, precision=precision,
        preferred_element_type=None)
    if batch_group_count > 1:   # the groups came out as features: they are batch groups
        out = _regroup(out, lhs_spec[1], batch_group_count, lhs_spec[0])
    return _as_dtype(out, lhs_aval.dtype)


def _conv_transpose_rhs(ct, lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                        dimension_numbers, feature_group_count, batch_group_count, precision,
                        preferred_element_type):
    """The kernel's cotangent: the input (batch and features exchanged) convolved with
    ct as the kernel; feature groups become batch groups and the other way round."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    lhs_shape, rhs_aval, ct_aval = get_aval(lhs).shape, rhs.aval, get_aval(ct)
    if ct_aval.size == 0:
        return full(rhs_aval.shape, 0, rhs_aval.dtype)
    pads = _rhs_transpose_padding(
        [lhs_shape[d] for d in _spatial(lhs_spec)], [rhs_aval.shape[d] for d in _spatial(rhs_spec)],
        window_strides, [ct_aval.shape[d] for d in _spatial(out_spec)], padding,
        lhs_dilation, rhs_dilation)
    out = conv_general_dilated_p.bind(
        _as_dtype(lhs, ct_aval.dtype), ct, window_strides=rhs_dilation, padding=pads,
        lhs_dilation=lhs_dilation, rhs_dilation=window_strides,
        dimension_numbers=ConvDimensionNumbers(_swap_leading(lhs_spec), _swap_leading(out_spec),
                                               _swap_leading(rhs_spec)),
        feature_group_count=batch_group_count, batch_group_count=feature_group_count,
        precision=precision, preferred_element_type=None)
    return _as_dtype(out, rhs_aval.dtype)


# ------------------------------------------------------------------ batching

def _fold_vmapped_axis(x: Any, axis: int, groups: int) -> Any:
    """`x` with its vmapped axis in front, folded into `axis` (counted without it).

    `axis` holds `groups` groups of M entries, group-major; the result keeps them
    the major part: (B, ..., G * M, ...) becomes (..., G * B * M, ...).
    """
    if groups == 1:
        return _merge_into(x, 0, axis)
    x = _split_axis(x, axis + 1, groups)      # (B, ..., G, M, ...)
    x = _merge_into(x, 0, axis + 1)           # (..., G, B * M, ...)
    return _merge_into(x, axis, axis)


def _conv_batch(args, dims, **params):
    """Fold the vmapped axis into a dimension of the convolution, as JAX does: into
    the features (as more feature groups) when both operands are batched, into the
    batch of the input or the output features of the kernel otherwise."""
    lhs, rhs = args
    lhs_bdim, rhs_bdim = dims
    lhs_spec, rhs_spec, out_spec = params["dimension_numbers"]
    feature_groups, batch_groups = params["feature_group_count"], params["batch_group_count"]
    if lhs_bdim is not None and rhs_bdim is not None:
        # each batch member is a group of its own: (B, G) groups, B major
        size = get_aval(lhs).shape[lhs_bdim]
        if batch_groups > 1:
            lhs = _merge_into(lhs, lhs_bdim, lhs_spec[0])
            params = dict(params, batch_group_count=batch_groups * size)
        else:
            lhs = _merge_into(lhs, lhs_bdim, lhs_spec[1])
            params = dict(params, feature_group_count=feature_groups * size)
        rhs = _merge_into(rhs, rhs_bdim, rhs_spec[0])
        out = conv_general_dilated_p.bind(lhs, rhs, **params)
        return _split_axis(out, out_spec[1], size), out_spec[1]
    if lhs_bdim is not None:   # more examples
        size = get_aval(lhs).shape[lhs_bdim]
        lhs = _fold_vmapped_axis(bdim_at_front(lhs, lhs_bdim, size), lhs_spec[0], batch_groups)
        out = conv_general_dilated_p.bind(lhs, rhs, **params)
        return _split_axis(out, out_spec[0], size), out_spec[0]
    # more kernels: (G, B, O') output features per group, then the batch axis in front
    size = get_aval(rhs).shape[rhs_bdim]
    groups = feature_groups * batch_groups
    rhs = _fold_vmapped_axis(bdim_at_front(rhs, rhs_bdim, size), rhs_spec[0], groups)
    out = conv_general_dilated_p.bind(lhs, rhs, **params)
    f = out_spec[1]
    if groups == 1:
        return _split_axis(out, f, size), f
    out = _split_axis(_split_axis(out, f, groups), f + 1, size)     # (G, B, O')
    return _merge_into(out, f, f + 1), f                            # (B, G * O')


conv_general_dilated_p = Primitive("conv_general_dilated")
conv_general_dilated_p.impl = _conv_impl
conv_general_dilated_p.abstract_eval = _conv_aval
defbilinear(conv_general_dilated_p, _conv_transpose_lhs, _conv_transpose_rhs)
conv_general_dilated_p.batch = _conv_batch


# ------------------------------------------------------------------ lax-level functions

def _int_tuple(fname: str, what: str, values: Any, count: int) -> tuple[int, ...]:
    try:
        out = tuple(operator.index(v) for v in values)
    except TypeError:
        raise TypeError(f"{fname}: {what} must be a sequence of integers, got "
                        f"{values!r}") from None
    if len(out) != count:
        raise ValueError(f"{fname}: {what} {out} must have {count} entries, one per "
                         "spatial dimension")
    return out


def _explicit_padding(fname: str, padding: Any, count: int) -> Padding:
    try:
        pads = tuple((operator.index(lo), operator.index(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise ValueError(f"{fname}: padding must be 'SAME', 'SAME_LOWER', 'VALID' or a "
                         f"sequence of (low, high) integer pairs, got {padding!r}") from None
    if len(pads) != count:
        raise ValueError(f"{fname}: padding {pads} must have {count} (low, high) pairs, one "
                         "per spatial dimension")
    return pads


def conv_general_dilated(lhs: Any, rhs: Any, window_strides: Sequence[int],
                         padding: str | Sequence[tuple[int, int]],
                         lhs_dilation: Sequence[int] | None = None,
                         rhs_dilation: Sequence[int] | None = None,
                         dimension_numbers: Any = None, feature_group_count: int = 1,
                         batch_group_count: int = 1, precision: Any = None,
                         preferred_element_type: Any = None) -> Any:
    """General n-dimensional convolution, with dilations and groups (as
    ``lax.conv_general_dilated``).

    Cross-correlation, as in every deep-learning library: the kernel is not
    flipped. `lhs` is the input, `rhs` the kernel; by default their dimensions are
    ``(batch, features, spatial...)`` and ``(out features, in features,
    spatial...)`` (``'NCHW'``, ``'OIHW'``); `dimension_numbers` such as
    ``('NHWC', 'HWIO', 'NHWC')`` says otherwise. `padding` is ``'SAME'``,
    ``'SAME_LOWER'``, ``'VALID'`` or one ``(low, high)`` pair per spatial dimension
    (negative values crop). ``lhs_dilation`` (transposed convolution) inserts
    ``d - 1`` zeros between input elements, ``rhs_dilation`` (atrous convolution)
    between kernel taps. ``feature_group_count`` splits the features into groups
    convolved separately (depthwise convolution when it equals the features);
    ``batch_group_count`` does the same with the batch (what the kernel gradient of
    a grouped convolution needs). Operands must have equal dtypes;
    `preferred_element_type` is a wider type to accumulate and return in.
    `precision` is recorded but has no effect (NumPy computes at full precision).
    """
    lhs_shape, rhs_shape = get_aval(lhs).shape, get_aval(rhs).shape
    dims = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    count = len(lhs_shape) - 2
    fname = "conv_general_dilated"
    strides = _int_tuple(fname, "window_strides", window_strides, count)
    lhs_dil = (1,) * count if lhs_dilation is None else _int_tuple(
        fname, "lhs_dilation", lhs_dilation, count)
    rhs_dil = (1,) * count if rhs_dilation is None else _int_tuple(
        fname, "rhs_dilation", rhs_dilation, count)
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dil):
            raise ValueError(f"{fname}: string padding {padding!r} is not defined with "
                             f"lhs_dilation {lhs_dil}; give explicit (low, high) pairs or "
                             "use conv_transpose")
        in_sizes = [lhs_shape[d] for d in _spatial(dims.lhs_spec)]
        spans = [_dilate_dim(rhs_shape[d], r) for d, r in zip(_spatial(dims.rhs_spec), rhs_dil)]
        pads = tuple(padtype_to_pads(in_sizes, spans, strides, padding))
    else:
        pads = _explicit_padding(fname, padding, count)
    preferred = None if preferred_element_type is None else np.dtype(preferred_element_type)
    params = dict(window_strides=strides, padding=pads, lhs_dilation=lhs_dil,
                  rhs_dilation=rhs_dil, dimension_numbers=dims,
                  feature_group_count=operator.index(feature_group_count),
                  batch_group_count=operator.index(batch_group_count),
                  precision=_canonical_precision(precision), preferred_element_type=preferred)
    _conv_aval(get_aval(lhs), get_aval(rhs), **params)
    return conv_general_dilated_p.bind(lhs, rhs, **params)


def conv(lhs: Any, rhs: Any, window_strides: Sequence[int], padding: str,
         precision: Any = None, preferred_element_type: Any = None) -> Any:
    """Convolution of an ``NCHW``-style input with an ``OIHW``-style kernel (as
    ``lax.conv``): ``conv_general_dilated`` without dilation or groups."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs: Any, rhs: Any, window_strides: Sequence[int],
                              padding: str | Sequence[tuple[int, int]],
                              lhs_dilation: Sequence[int] | None,
                              rhs_dilation: Sequence[int] | None, precision: Any = None,
                              preferred_element_type: Any = None) -> Any:
    """``NCHW``/``OIHW`` convolution with padding and dilations (as
    ``lax.conv_with_general_padding``)."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                rhs_dilation=rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


def _conv_transpose_padding(k: int, s: int, padding: Any) -> tuple[int, int]:
    """(low, high) padding of the dilated input of a transposed convolution whose
    forward convolution had kernel extent `k`, stride `s` and `padding`."""
    if padding == "SAME":
        total = k + s - 2
        low = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
        total = k + s - 2 + max(k - s, 0)
        low = k - 1
    else:
        lo, hi = padding
        low, total = k - lo - 1, (k - lo - 1) + (k - hi - 1)
    return low, total - low


_TRANSPOSE_DEFAULT_DIMS = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"),
                           4: ("NHWC", "HWIO", "NHWC"), 5: ("NHWDC", "HWDIO", "NHWDC")}


def conv_transpose(lhs: Any, rhs: Any, strides: Sequence[int],
                   padding: str | Sequence[tuple[int, int]],
                   rhs_dilation: Sequence[int] | None = None, dimension_numbers: Any = None,
                   transpose_kernel: bool = False, precision: Any = None,
                   preferred_element_type: Any = None,
                   use_consistent_padding: bool = False) -> Any:
    """Transposed ("fractionally strided") convolution (as ``lax.conv_transpose``).

    A convolution of `lhs` dilated by `strides`. The default layout is
    TensorFlow's (``('NHWC', 'HWIO', 'NHWC')`` for 2-D). ``'SAME'``/``'VALID'``
    padding is that of the forward convolution; explicit pairs are the padding of
    the dilated input, unless ``use_consistent_padding`` (then they too are the
    forward convolution's, as in PyTorch). ``transpose_kernel=True`` flips the
    kernel spatially and exchanges its in/out features, which makes the result the
    gradient of ``conv_general_dilated`` with respect to its input (Keras'
    ``Conv2DTranspose``).
    """
    lhs_shape, rhs_shape = get_aval(lhs).shape, get_aval(rhs).shape
    ndim = len(lhs_shape)
    if len(rhs_shape) != ndim or ndim < 2:
        raise TypeError(f"conv_transpose: lhs {lhs_shape} and rhs {rhs_shape} need the same "
                        "rank, at least 2")
    if dimension_numbers is None:
        if ndim not in _TRANSPOSE_DEFAULT_DIMS:
            raise ValueError(f"conv_transpose: no default dimension_numbers for rank {ndim}; "
                             "give them explicitly")
        dimension_numbers = _TRANSPOSE_DEFAULT_DIMS[ndim]
    dims = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    count = ndim - 2
    strides = _int_tuple("conv_transpose", "strides", strides, count)
    rhs_dil = (1,) * count if rhs_dilation is None else _int_tuple(
        "conv_transpose", "rhs_dilation", rhs_dilation, count)
    spans = [_dilate_dim(rhs_shape[d], r) for d, r in zip(_spatial(dims.rhs_spec), rhs_dil)]
    if isinstance(padding, str):
        mode = padding.upper()
        if mode not in ("SAME", "VALID"):
            raise ValueError(f"conv_transpose: padding must be 'SAME', 'VALID' or (low, high) "
                             f"pairs, got {padding!r}")
        pads: Any = tuple(_conv_transpose_padding(k, s, mode) for k, s in zip(spans, strides))
    elif use_consistent_padding:
        forward = _explicit_padding("conv_transpose", padding, count)
        pads = tuple(_conv_transpose_padding(k, s, p) for k, s, p in zip(spans, strides, forward))
    else:
        pads = padding
    if transpose_kernel:
        rhs = rev(rhs, _spatial(dims.rhs_spec))
        rhs = transpose(rhs, _exchange(ndim, dims.rhs_spec[0], dims.rhs_spec[1]))
    return conv_general_dilated(lhs, rhs, (1,) * count, pads, lhs_dilation=strides,
                                rhs_dilation=rhs_dil, dimension_numbers=dims,
                                precision=precision,
                                preferred_element_type=preferred_element_type)


def _exchange(ndim: int, a: int, b: int) -> tuple[int, ...]:
    order = list(range(ndim))
    order[a], order[b] = b, a
    return tuple(order)


# ------------------------------------------------------------------ windowed reductions

_WINDOW_PARAMS = ("window_dimensions", "window_strides", "padding", "base_dilation",
                  "window_dilation")


def _check_window(name: str, x: ShapedArray, window_dimensions, window_strides, padding,
                  base_dilation, window_dilation) -> None:
    for what, values in (("window_dimensions", window_dimensions),
                         ("window_strides", window_strides), ("base_dilation", base_dilation),
                         ("window_dilation", window_dilation)):
        if len(values) != x.ndim or any(v < 1 for v in values):
            raise TypeError(f"{name}: {what} {values} must give one positive integer per "
                            f"dimension of the operand {x.str_short()}")
    if len(padding) != x.ndim:
        raise TypeError(f"{name}: padding {padding} must give one (low, high) pair per "
                        f"dimension of the operand {x.str_short()}")
    for n, d, (lo, hi) in zip(x.shape, base_dilation, padding):
        if _dilate_dim(n, d) + lo + hi < 0:
            raise TypeError(f"{name}: padding {padding} removes more than the whole of the "
                            f"operand {x.str_short()}")


def _output_shape(x_shape: Sequence[int], params: dict) -> tuple[int, ...]:
    return _window_shape(x_shape, params["window_dimensions"], params["window_strides"],
                         params["padding"], params["base_dilation"], params["window_dilation"])


def _padding_config(params: dict) -> tuple[tuple[int, int, int], ...]:
    """lax.pad's config for the dilated, padded operand the windows move over."""
    return tuple((lo, hi, d - 1) for (lo, hi), d in zip(params["padding"],
                                                        params["base_dilation"]))


def _with_unit_window_at(axis: int, params: dict) -> dict:
    """The window parameters of an operand with one more (batch) axis at `axis`."""
    def insert(values: tuple, value: Any) -> tuple:
        return values[:axis] + (value,) + values[axis:]
    return dict(params, window_dimensions=insert(params["window_dimensions"], 1),
                window_strides=insert(params["window_strides"], 1),
                padding=insert(params["padding"], (0, 0)),
                base_dilation=insert(params["base_dilation"], 1),
                window_dilation=insert(params["window_dilation"], 1))


def _reduce_window_primitive(name: str, np_reduce: Callable[..., Any],
                             identity: Callable[[np.dtype], Any], kinds: str,
                             what: str) -> Primitive:
    """A reduction of each window by `np_reduce`, padding and holes holding `identity`."""
    def abstract_eval(x, **params):
        if x.dtype.kind not in kinds:
            raise TypeError(f"{name} requires {what} operands, got {x.str_short()}")
        _check_window(name, x, **params)
        return ShapedArray(_output_shape(x.shape, params), x.dtype)

    def impl(x, **params):
        x = np.asarray(x)
        out_shape = _output_shape(x.shape, params)
        if math.prod(out_shape) == 0:
            return np.zeros(out_shape, x.dtype)
        _, windows = _window_view(x, range(x.ndim), identity(x.dtype), *_geometry(params))
        return np.asarray(np_reduce(windows, axis=tuple(range(x.ndim, windows.ndim))))

    def batch(args, dims, **params):
        (x,), (d,) = args, dims
        return p.bind(x, **_with_unit_window_at(d, params)), d

    p = Primitive(name)
    p.impl = impl
    p.abstract_eval = abstract_eval
    p.batch = batch
    return p


def _geometry(params: dict) -> tuple:
    """The window parameters in _window_view's argument order."""
    return tuple(params[k] for k in _WINDOW_PARAMS)


def _sum_in(windows: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
    return np.sum(windows, axis=axis, dtype=windows.dtype)  # no int32 -> int64 upcast


# reduce_window_sum: linear. Its transpose spreads each cotangent over the window it
# summed: the cotangent, dilated by the strides and padded, summed over windows again
# (the convolution's input transpose, with a kernel of ones).

def _reduce_window_sum_transpose(ct, x, **params):
    in_shape, ct_shape = x.aval.shape, get_aval(ct).shape
    pads = _lhs_transpose_padding(in_shape, params["window_dimensions"],
                                  params["window_strides"], ct_shape, params["padding"],
                                  params["base_dilation"], params["window_dilation"])
    config = [(lo, hi, s - 1) for (lo, hi), s in zip(pads, params["window_strides"])]
    spread = pad(ct, np.zeros((), get_aval(ct).dtype), config)
    ones = (1,) * len(in_shape)
    return [reduce_window_sum_p.bind(
        spread, window_dimensions=params["window_dimensions"],
        window_strides=params["base_dilation"], padding=((0, 0),) * len(in_shape),
        base_dilation=ones, window_dilation=params["window_dilation"])]


reduce_window_sum_p = _reduce_window_primitive("reduce_window_sum", _sum_in,
                                               lambda dtype: 0, "iufc", "numeric")
deflinear(reduce_window_sum_p, _reduce_window_sum_transpose)


# reduce_window_max / min: the tangent of the element each window selects.

def _chooser_jvp(select_prim: Primitive) -> Callable[..., Any]:
    def rule(t, x, **params):
        return select_and_gather_add_p.bind(t, x, select_prim=select_prim, **params)
    return rule


reduce_window_max_p = _reduce_window_primitive("reduce_window_max", np.max, _identity_of_max,
                                               "biuf", "real (ordered)")
defjvp(reduce_window_max_p, _chooser_jvp(lax_ew.ge_p))

reduce_window_min_p = _reduce_window_primitive("reduce_window_min", np.min, _identity_of_min,
                                               "biuf", "real (ordered)")
defjvp(reduce_window_min_p, _chooser_jvp(lax_ew.le_p))


# ------------------------------------------------------------------ select and gather / scatter
# The pair behind max pooling's derivatives. Each window selects one element of
# `operand`: the first maximum (select_prim ge) or minimum (le) in row-major window
# order, as XLA's select-and-scatter. select_and_gather_add reads `tangents` at the
# selected elements (one value per window); select_and_scatter_add adds each window's
# `source` value at its selected element. Both are linear in their first operand and
# transpose into each other; `operand` only chooses, so it carries no derivative.

def _check_select_prim(name: str, select_prim: Any) -> None:
    if select_prim is not lax_ew.ge_p and select_prim is not lax_ew.le_p:
        raise TypeError(f"{name}: select_prim must be the primitive of lax.ge (max) or "
                        f"lax.le (min), got {select_prim!r}")


def _select_primitive(name: str, select_prim: Any) -> Primitive:
    """JAX passes the comparison's primitive (ge_p, le_p); lax.ge and lax.le stand
    for theirs."""
    select_prim = {lax_ew.ge: lax_ew.ge_p, lax_ew.le: lax_ew.le_p}.get(select_prim, select_prim)
    _check_select_prim(name, select_prim)
    return select_prim


def _selected_positions(operand: np.ndarray, select_prim: Primitive, params: dict
                        ) -> tuple[tuple[np.ndarray, ...], tuple[int, ...]]:
    """``(positions, padded_shape)``: for each window, the index of the element it
    selects in the dilated and padded operand (one index array per dimension, each
    of the output's shape)."""
    is_max = select_prim is lax_ew.ge_p
    identity = (_identity_of_max if is_max else _identity_of_min)(operand.dtype)
    padded, windows = _window_view(operand, range(operand.ndim), identity, *_geometry(params))
    out_shape = windows.shape[:operand.ndim]
    window = params["window_dimensions"]
    flat = windows.reshape(out_shape + (math.prod(window),))
    chosen = (np.argmax if is_max else np.argmin)(flat, axis=-1)
    offsets = np.unravel_index(chosen, window)
    starts = np.indices(out_shape, sparse=True)
    positions = tuple(start * s + offset * d for start, offset, s, d
                      in zip(starts, offsets, params["window_strides"],
                             params["window_dilation"]))
    return positions, padded.shape


def _select_and_gather_add_aval(tangents, operand, *, select_prim, **params):
    name = "select_and_gather_add"
    _check_select_prim(name, select_prim)
    if tangents.shape != operand.shape or tangents.dtype != operand.dtype:
        raise TypeError(f"{name}: tangents {tangents.str_short()} and operand "
                        f"{operand.str_short()} must have equal shapes and dtypes")
    if operand.dtype.kind not in "biuf":
        raise TypeError(f"{name} requires real (ordered) operands, got {operand.str_short()}")
    _check_window(name, operand, **params)
    return ShapedArray(_output_shape(operand.shape, params), tangents.dtype)


def _select_and_gather_add_impl(tangents, operand, *, select_prim, **params):
    tangents, operand = np.asarray(tangents), np.asarray(operand)
    out_shape = _output_shape(operand.shape, params)
    if math.prod(out_shape) == 0:
        return np.zeros(out_shape, tangents.dtype)
    positions, _ = _selected_positions(operand, select_prim, params)
    padded = lax_st.pad_p.impl(tangents, np.zeros((), tangents.dtype),
                        padding_config=_padding_config(params))
    return padded[positions]


def _select_and_gather_add_transpose(ct, tangents, operand, *, select_prim, **params):
    return [select_and_scatter_add_p.bind(ct, operand, select_prim=select_prim, **params), None]


def _select_and_scatter_add_aval(source, operand, *, select_prim, **params):
    name = "select_and_scatter_add"
    _check_select_prim(name, select_prim)
    if operand.dtype.kind not in "biuf":
        raise TypeError(f"{name} requires real (ordered) operands, got {operand.str_short()}")
    _check_window(name, operand, **params)
    windows = _output_shape(operand.shape, params)
    if source.shape != windows or source.dtype != operand.dtype:
        raise TypeError(f"{name}: source {source.str_short()} must have the operand's dtype "
                        f"{operand.dtype} and one element per window, shape {windows}")
    return ShapedArray(operand.shape, source.dtype)


def _select_and_scatter_add_impl(source, operand, *, select_prim, **params):
    source, operand = np.asarray(source), np.asarray(operand)
    if source.size == 0:
        return np.zeros(operand.shape, source.dtype)
    positions, padded_shape = _selected_positions(operand, select_prim, params)
    # overlapping windows may select the same element: their values add up
    flat = np.zeros(source.shape, np.intp)      # row-major index into the padded operand
    for position, size in zip(positions, padded_shape):
        flat = flat * size + position
    flat = flat.ravel()
    sums = np.bincount(flat, weights=source.ravel(), minlength=math.prod(padded_shape))
    padded = sums.reshape(padded_shape).astype(source.dtype)
    # undo the padding (zeros where it cropped), then drop the holes of the dilation
    unpadded = lax_st.pad_p.impl(padded, np.zeros((), source.dtype),
                          padding_config=tuple((-lo, -hi, 0) for lo, hi in params["padding"]))
    undilated = unpadded[tuple(slice(None, None, d) for d in params["base_dilation"])]
    return np.asarray(undilated, order="C")


def _select_and_scatter_add_transpose(ct, source, operand, *, select_prim, **params):
    return [select_and_gather_add_p.bind(ct, operand, select_prim=select_prim, **params), None]


def _select_batch(prim: Primitive) -> Callable[..., Any]:
    def batch(args, dims, **params):
        size = next(get_aval(a).shape[d] for a, d in zip(args, dims) if d is not None)
        first, operand = (bdim_at_front(a, d, size) for a, d in zip(args, dims))
        return prim.bind(first, operand, **_with_unit_window_at(0, params)), 0
    return batch


select_and_gather_add_p = Primitive("select_and_gather_add")
select_and_gather_add_p.impl = _select_and_gather_add_impl
select_and_gather_add_p.abstract_eval = _select_and_gather_add_aval
deflinear_leading(select_and_gather_add_p, 1, _select_and_gather_add_transpose)
select_and_gather_add_p.batch = _select_batch(select_and_gather_add_p)

select_and_scatter_add_p = Primitive("select_and_scatter_add")
select_and_scatter_add_p.impl = _select_and_scatter_add_impl
select_and_scatter_add_p.abstract_eval = _select_and_scatter_add_aval
deflinear_leading(select_and_scatter_add_p, 1, _select_and_scatter_add_transpose)
select_and_scatter_add_p.batch = _select_batch(select_and_scatter_add_p)


# ------------------------------------------------------------------ lax-level functions

def _window_params(fname: str, shape: Sequence[int], window_dimensions: Sequence[int],
                   window_strides: Sequence[int], padding: Any,
                   base_dilation: Sequence[int] | None,
                   window_dilation: Sequence[int] | None) -> dict:
    """The window parameters as tuples of ints, string padding resolved."""
    ndim = len(shape)

    def ints(what: str, values: Any, default: int | None = None) -> tuple[int, ...]:
        if values is None:
            return (default,) * ndim
        try:
            out = tuple(operator.index(v) for v in values)
        except TypeError:
            raise TypeError(f"{fname}: {what} must be a sequence of integers, got "
                            f"{values!r}") from None
        if len(out) != ndim:
            raise ValueError(f"{fname}: {what} {out} must have one entry per dimension of "
                             f"the operand, of shape {tuple(shape)}")
        return out

    window = ints("window_dimensions", window_dimensions)
    strides = ints("window_strides", window_strides)
    window_dil = ints("window_dilation", window_dilation, 1)
    if isinstance(padding, str):
        spans = [_dilate_dim(k, d) for k, d in zip(window, window_dil)]
        pads = tuple(padtype_to_pads(shape, spans, strides, padding))
    else:
        pads = _explicit_padding(fname, padding, ndim)
    return dict(window_dimensions=window, window_strides=strides, padding=pads,
                base_dilation=ints("base_dilation", base_dilation, 1),
                window_dilation=window_dil)


def _bind_window(prim: Primitive, fname: str, operand: Any, *args: Any, **params: Any) -> Any:
    params = _window_params(fname, get_aval(operand).shape, *args, **params)
    prim.abstract_eval(get_aval(operand), **params)
    return prim.bind(operand, **params)


def reduce_window_sum(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int], padding: str | Sequence[tuple[int, int]],
                      base_dilation: Sequence[int] | None = None,
                      window_dilation: Sequence[int] | None = None) -> Any:
    """Sum over each window (sum pooling): ``reduce_window`` with ``lax.add`` and 0."""
    return _bind_window(reduce_window_sum_p, "reduce_window_sum", operand, window_dimensions,
                        window_strides, padding, base_dilation, window_dilation)


def reduce_window_max(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int], padding: str | Sequence[tuple[int, int]],
                      base_dilation: Sequence[int] | None = None,
                      window_dilation: Sequence[int] | None = None) -> Any:
    """Maximum over each window (max pooling): ``reduce_window`` with ``lax.max`` and
    -inf. The derivative flows to the first maximum of each window, as in JAX."""
    return _bind_window(reduce_window_max_p, "reduce_window_max", operand, window_dimensions,
                        window_strides, padding, base_dilation, window_dilation)


def reduce_window_min(operand: Any, window_dimensions: Sequence[int],
                      window_strides: Sequence[int], padding: str | Sequence[tuple[int, int]],
                      base_dilation: Sequence[int] | None = None,
                      window_dilation: Sequence[int] | None = None) -> Any:
    """Minimum over each window: ``reduce_window`` with ``lax.min`` and +inf."""
    return _bind_window(reduce_window_min_p, "reduce_window_min", operand, window_dimensions,
                        window_strides, padding, base_dilation, window_dilation)


def reduce_window_shape_tuple(operand_shape: Sequence[int], window_dimensions: Sequence[int],
                              window_strides: Sequence[int], padding: Sequence[tuple[int, int]],
                              base_dilation: Sequence[int] | None = None,
                              window_dilation: Sequence[int] | None = None) -> tuple[int, ...]:
    """Shape of ``reduce_window``'s result (as ``lax.reduce_window_shape_tuple``)."""
    params = _window_params("reduce_window_shape_tuple", tuple(operand_shape),
                            window_dimensions, window_strides, padding, base_dilation,
                            window_dilation)
    return _output_shape(tuple(operand_shape), params)


def select_and_gather_add(tangents: Any, operand: Any, select_prim: Any,
                          window_dimensions: Sequence[int], window_strides: Sequence[int],
                          padding: str | Sequence[tuple[int, int]],
                          base_dilation: Sequence[int] | None = None,
                          window_dilation: Sequence[int] | None = None) -> Any:
    """For each window of `operand`, the entry of `tangents` at the element the window
    selects: its first maximum (``select_prim=lax.ge``) or minimum (``lax.le``).

    The JVP of max pooling (JAX's internal ``_select_and_gather_add``); linear in
    `tangents`, transposed by ``select_and_scatter_add``.
    """
    select_prim = _select_primitive("select_and_gather_add", select_prim)
    params = _window_params("select_and_gather_add", get_aval(operand).shape,
                            window_dimensions, window_strides, padding, base_dilation,
                            window_dilation)
    _select_and_gather_add_aval(get_aval(tangents), get_aval(operand), select_prim=select_prim,
                                **params)
    return select_and_gather_add_p.bind(tangents, operand, select_prim=select_prim, **params)


def select_and_scatter_add(source: Any, operand: Any, select_prim: Any,
                           window_dimensions: Sequence[int], window_strides: Sequence[int],
                           padding: str | Sequence[tuple[int, int]],
                           base_dilation: Sequence[int] | None = None,
                           window_dilation: Sequence[int] | None = None) -> Any:
    """An array shaped like `operand`, zero except where windows select: each window
    adds its entry of `source` at its first maximum (``select_prim=lax.ge``) or
    minimum (``lax.le``); JAX passes their primitives, ``ge_p``/``le_p``, also accepted.

    The backward pass of max pooling (JAX's internal ``_select_and_scatter_add``,
    extended here with `base_dilation` and `window_dilation`); linear in `source`,
    transposed by ``select_and_gather_add``.
    """
    select_prim = _select_primitive("select_and_scatter_add", select_prim)
    params = _window_params("select_and_scatter_add", get_aval(operand).shape,
                            window_dimensions, window_strides, padding, base_dilation,
                            window_dilation)
    _select_and_scatter_add_aval(get_aval(source), get_aval(operand), select_prim=select_prim,
                                 **params)
    return select_and_scatter_add_p.bind(source, operand, select_prim=select_prim, **params)


# reduce_window: the monoids (add, max, min with their identity as the initial value)
# are the primitives above; any other computation is folded over the window offsets.

def _init_like(init: Any, operand: Any) -> Any:
    """The initial value as a scalar of the operand's dtype."""
    dtype = get_aval(operand).dtype
    aval = get_aval(init)
    if aval.shape != ():
        raise TypeError(f"reduce_window: init_value must be a scalar, got {aval.str_short()}")
    if isinstance(init, Tracer):
        if aval.dtype != dtype:
            raise TypeError(f"reduce_window: init_value {aval.str_short()} must have the "
                            f"operand's dtype {dtype}")
        return init
    value = np.asarray(init)
    if value.dtype != dtype and not np.can_cast(value.dtype, dtype, casting="same_kind"):
        raise TypeError(f"reduce_window: init_value {init!r} of dtype {value.dtype} cannot "
                        f"stand for an operand of dtype {dtype}")
    return value.astype(dtype)


def _monoid_primitive(computation: Callable[..., Any], inits: list[Any]) -> Primitive | None:
    """The windowed-reduction primitive `computation` with `inits` is, if any."""
    if len(inits) != 1 or isinstance(inits[0], Tracer):
        return None
    value = inits[0]
    if computation is lax_ew.add and value == 0:
        return reduce_window_sum_p
    if computation is lax_ew.max and value == _identity_of_max(value.dtype):
        return reduce_window_max_p
    if computation is lax_ew.min and value == _identity_of_min(value.dtype):
        return reduce_window_min_p
    return None


def _fold_windows(computation: Callable[..., Any], tree: Any, operands: list[Any],
                  inits: list[Any], params: dict) -> list[Any]:
    """``computation`` folded over the window offsets: step k combines the running
    result with the k-th element of every window, for all windows at once."""
    shape = get_aval(operands[0]).shape
    out_shape = _output_shape(shape, params)
    results = [full(out_shape, init) for init in inits]
    if math.prod(out_shape) == 0:
        return results
    config = _padding_config(params)
    padded = [pad(x, init, config) for x, init in zip(operands, inits)]
    strides = params["window_strides"]
    for offset in itertools.product(*(range(k) for k in params["window_dimensions"])):
        starts = [k * d for k, d in zip(offset, params["window_dilation"])]
        limits = [start + (n - 1) * s + 1 for start, n, s in zip(starts, out_shape, strides)]
        elements = [lax_slice(x, starts, limits, strides) for x in padded]
        combined = computation(tree_unflatten(tree, results), tree_unflatten(tree, elements))
        results, combined_tree = tree_flatten(combined)
        if combined_tree != tree:
            raise TypeError(f"reduce_window: computation must return the structure of the "
                            f"operands, {tree}, got {combined_tree}")
    return results


def reduce_window(operand: Any, init_value: Any, computation: Callable[..., Any],
                  window_dimensions: Sequence[int], window_strides: Sequence[int],
                  padding: str | Sequence[tuple[int, int]],
                  base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None) -> Any:
    """Reduce each window of `operand` with `computation`, starting from `init_value`
    (as ``lax.reduce_window``).

    Padding and the holes of `base_dilation` hold `init_value`. `operand` and
    `init_value` may be pytrees of arrays and scalars (a variadic reduction, such
    as a value with its index); `computation(accumulated, element)` then takes and
    returns such pytrees. ``lax.add``, ``lax.max`` and ``lax.min`` with their
    identity as `init_value` run as one primitive each (``reduce_window_sum``,
    ``_max``, ``_min``). Any other computation is applied once per window offset to
    whole arrays (every window at once), so it must be elementwise, as any
    composition of lax elementwise operations is; it is differentiated, batched
    and compiled through the operations it is made of.
    """
    operands, tree = tree_flatten(operand)
    init_leaves, init_tree = tree_flatten(init_value)
    if init_tree != tree:
        raise ValueError(f"reduce_window: operand and init_value must have the same "
                         f"structure, got {tree} and {init_tree}")
    if not operands:
        raise ValueError("reduce_window: needs at least one operand")
    shape = get_aval(operands[0]).shape
    for x in operands[1:]:
        if get_aval(x).shape != shape:
            raise TypeError(f"reduce_window: operands must have equal shapes, got "
                            f"{[get_aval(a).shape for a in operands]}")
    params = _window_params("reduce_window", shape, window_dimensions, window_strides,
                            padding, base_dilation, window_dilation)
    _check_window("reduce_window", get_aval(operands[0]), **params)
    inits = [_init_like(init, x) for init, x in zip(init_leaves, operands)]
    prim = _monoid_primitive(computation, inits)
    if prim is not None:
        return tree_unflatten(tree, [prim.bind(operands[0], **params)])
    return tree_unflatten(tree, _fold_windows(computation, tree, operands, inits, params))
