"""Rows for convolutions and windowed reductions (functrans/primitives/convolution.py).

conv_general_dilated is bilinear: each configuration has a row differentiating both
operands (the product rule) and rows linear in one side (``diff_argnums``), which check
each transpose rule on its own; the vmap check then batches the input, the kernel and
both, which exercises every branch of the batching rule. The configurations cover 1-D,
2-D and 3-D convolutions, strides, every padding mode (explicit pairs with negative
entries included), input and kernel dilation, feature groups (depthwise too), batch
groups and other layouts.

Arguments of max/min windows are drawn away from ties (distinct values spaced far
wider than the finite-difference step), so the selected element is unambiguous.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from functrans.core.avals import get_aval
from functrans.primitives import convolution as cv
from functrans.primitives import elementwise as ew
from tests.rules import Row

Args = Callable[[np.random.Generator, np.dtype], tuple]


def _normal(*shapes: tuple[int, ...]) -> Args:
    return lambda rng, dtype: tuple(rng.standard_normal(s).astype(dtype) for s in shapes)


def _distinct(*shapes: tuple[int, ...]) -> Args:
    """Distinct values: a shuffled grid (spacing 0.1) plus a little noise, per argument."""
    def args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
        out = []
        for shape in shapes:
            size = int(np.prod(shape))
            grid = rng.permutation(size) * 0.1 - 0.05 * size
            out.append((grid + rng.uniform(-0.01, 0.01, size)).reshape(shape).astype(dtype))
        return tuple(out)
    return args


def _tangent_and_distinct(shape: tuple[int, ...]) -> Args:
    """(normal values, distinct values) of one shape: a tangent and the operand that
    chooses where it is read."""
    def args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
        return _normal(shape)(rng, dtype) + _distinct(shape)(rng, dtype)
    return args


def _source_and_distinct(source: tuple[int, ...], operand: tuple[int, ...]) -> Args:
    def args(rng: np.random.Generator, dtype: np.dtype) -> tuple:
        return _normal(source)(rng, dtype) + _distinct(operand)(rng, dtype)
    return args


# name: (lhs shape, rhs shape, keyword arguments of conv_general_dilated)
CONFIGS: dict[str, tuple[tuple[int, ...], tuple[int, ...], dict[str, Any]]] = {
    "1d_valid": ((2, 3, 7), (4, 3, 3), dict(window_strides=(1,), padding="VALID")),
    "1d_strided_dilated": ((2, 2, 9), (3, 2, 3), dict(window_strides=(2,), padding=((1, 2),),
                                                      rhs_dilation=(2,))),
    "2d_same": ((2, 3, 5, 4), (4, 3, 3, 2), dict(window_strides=(1, 1), padding="SAME")),
    "2d_same_lower_strided": ((2, 2, 5, 6), (3, 2, 2, 3),
                              dict(window_strides=(2, 2), padding="SAME_LOWER")),
    "2d_explicit_negative_padding": ((1, 2, 6, 5), (3, 2, 3, 2),
                                     dict(window_strides=(2, 1), padding=((2, -1), (0, 1)))),
    "2d_lhs_dilation": ((2, 2, 4, 3), (3, 2, 3, 2),
                        dict(window_strides=(1, 2), padding=((2, 1), (1, 1)),
                             lhs_dilation=(2, 3))),
    "2d_all_dilations": ((1, 2, 5, 4), (2, 2, 2, 3),
                         dict(window_strides=(2, 1), padding=((1, 0), (2, 2)),
                              lhs_dilation=(2, 1), rhs_dilation=(1, 2))),
    "2d_feature_groups": ((2, 4, 5, 4), (6, 2, 3, 2),
                          dict(window_strides=(1, 1), padding="SAME", feature_group_count=2)),
    "2d_depthwise": ((2, 3, 4, 4), (3, 1, 2, 2),
                     dict(window_strides=(1, 2), padding="VALID", feature_group_count=3)),
    "2d_batch_groups": ((4, 2, 5, 4), (6, 2, 2, 3),
                        dict(window_strides=(1, 1), padding="SAME", batch_group_count=2)),
    "2d_nhwc_hwio": ((2, 5, 4, 3), (3, 2, 3, 4),
                     dict(window_strides=(2, 1), padding="SAME",
                          dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    "2d_mixed_layouts_groups": ((5, 2, 4, 4), (2, 4, 4, 2),
                                dict(window_strides=(1, 1), padding=((1, 1), (0, 1)),
                                     feature_group_count=2,
                                     dimension_numbers=("WNCH", "HOWI", "CWNH"))),
    "3d_same": ((1, 2, 4, 3, 3), (2, 2, 2, 2, 2), dict(window_strides=(1, 2, 1),
                                                       padding="SAME")),
}


def _conv(**kwargs: Any) -> Callable[..., Any]:
    return lambda lhs, rhs: cv.conv_general_dilated(lhs, rhs, **kwargs)


def _conv_rows(name: str, lhs: tuple, rhs: tuple, kwargs: dict[str, Any]) -> list[Row]:
    f = _conv(**kwargs)
    args = _normal(lhs, rhs)
    return [Row(f"conv_{name}", f, args),
            Row(f"conv_{name}_lhs", f, args, diff_argnums=(0,), linear=True),
            Row(f"conv_{name}_rhs", f, args, diff_argnums=(1,), linear=True)]


def _f32_accumulating_in_f64(lhs: Any, rhs: Any) -> Any:
    out = cv.conv_general_dilated(lhs, rhs, (1, 1), "SAME", preferred_element_type=np.float64)
    return ew.convert_element_type(out, get_aval(lhs).dtype)


# (operand shape, keyword arguments of the windowed reductions)
WINDOWS: dict[str, tuple[tuple[int, ...], dict[str, Any]]] = {
    "pool_2x2": ((2, 4, 6), dict(window_dimensions=(1, 2, 2), window_strides=(1, 2, 2),
                                 padding="VALID")),
    "overlapping_same": ((3, 5), dict(window_dimensions=(2, 3), window_strides=(1, 2),
                                      padding="SAME")),
    "padded_strided": ((5, 4), dict(window_dimensions=(3, 2), window_strides=(2, 1),
                                    padding=((1, 2), (0, 1)))),
    "dilations": ((4, 5), dict(window_dimensions=(2, 2), window_strides=(1, 2),
                               padding=((1, 0), (-1, 2)), base_dilation=(2, 1),
                               window_dilation=(1, 2))),
}


def _window_rows(name: str, shape: tuple[int, ...], kwargs: dict[str, Any]) -> list[Row]:
    out_shape = cv.reduce_window_shape_tuple(shape, **kwargs)
    return [
        Row(f"reduce_window_sum_{name}", lambda x: cv.reduce_window_sum(x, **kwargs),
            _normal(shape), linear=True),
        Row(f"reduce_window_max_{name}", lambda x: cv.reduce_window_max(x, **kwargs),
            _distinct(shape)),
        Row(f"reduce_window_min_{name}", lambda x: cv.reduce_window_min(x, **kwargs),
            _distinct(shape)),
        Row(f"select_and_gather_add_{name}",
            lambda t, x: cv.select_and_gather_add(t, x, ew.ge, **kwargs),
            _tangent_and_distinct(shape), diff_argnums=(0,), linear=True),
        Row(f"select_and_scatter_add_{name}",
            lambda s, x: cv.select_and_scatter_add(s, x, ew.le, **kwargs),
            _source_and_distinct(out_shape, shape), diff_argnums=(0,), linear=True),
        # generic computations: folded over the window offsets
        Row(f"reduce_window_product_{name}",
            lambda x: cv.reduce_window(x, 1.0, ew.mul, **kwargs), _normal(shape)),
        Row(f"reduce_window_add_from_one_{name}",
            lambda x: cv.reduce_window(x, 1.0, ew.add, **kwargs), _normal(shape)),
    ]


def _max_with_index(x: Any, index: Any) -> Any:
    """A variadic reduce_window: each window's maximum and where it is."""
    def larger(a: Any, b: Any) -> Any:
        (a_value, a_index), (b_value, b_index) = a, b
        take_b = ew.gt(b_value, a_value)
        return (ew.select_n(take_b, a_value, b_value), ew.select_n(take_b, a_index, b_index))
    return cv.reduce_window((x, index), (-np.inf, -1.0), larger, (2, 2), (1, 1), "VALID")


ROWS = [row for name, config in CONFIGS.items() for row in _conv_rows(name, *config)] + [
    Row("conv_f32_accumulate_f64", _f32_accumulating_in_f64, _normal((1, 2, 4, 3), (2, 2, 3, 3)),
        dtypes=(np.float32,)),
    Row("conv_int", _conv(window_strides=(1,), padding="SAME"),
        lambda rng, dtype: tuple(rng.integers(-4, 5, s).astype(dtype)
                                 for s in ((2, 2, 5), (3, 2, 3))),
        dtypes=(np.int32, np.int64)),
    Row("conv_transpose_2d", lambda x, w: cv.conv_transpose(x, w, (2, 2), "SAME"),
        _normal((1, 3, 4, 2), (3, 3, 2, 3))),
    Row("conv_transpose_kernel_flipped",
        lambda x, w: cv.conv_transpose(x, w, (2, 1), "VALID", transpose_kernel=True,
                                       dimension_numbers=("NCHW", "OIHW", "NCHW")),
        _normal((1, 3, 3, 4), (3, 2, 2, 3))),
] + [row for name, config in WINDOWS.items() for row in _window_rows(name, *config)] + [
    Row("reduce_window_max_by_computation",
        lambda x: cv.reduce_window(x, -np.inf, ew.max, (2, 3), (1, 1), "SAME"),
        _distinct((4, 5))),
    Row("reduce_window_max_with_index", _max_with_index,
        lambda rng, dtype: _distinct((4, 5))(rng, dtype)
        + (np.arange(20, dtype=dtype).reshape(4, 5),), diff_argnums=(0,)),
]
