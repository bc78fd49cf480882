"""Convolutions and windowed reductions against NumPy/SciPy references.

The rule-check table (tests/rules/table_convolution.py) checks every derivative and
batching rule; here the values themselves are compared with references written
independently of the implementation: ``scipy.signal.correlate`` for plain
single-channel convolutions, and for the general ones a direct sum over kernel
offsets (one ``einsum`` per offset and group, dilation and padding spelled out with
explicit zero arrays). Windowed reductions are compared with a loop over window
offsets in NumPy. Then: derivatives of a small CNN (check_grads), jit, vmap,
per-example gradients, the identities that tie conv_transpose and max pooling's
derivative to the gradients they should equal, and the error messages.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from typing import Any
from unittest import mock

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.primitives import convolution
from functrans.test_util import check_grads
from tests.rules.table_convolution import CONFIGS, WINDOWS

# ------------------------------------------------------------------ references


def _dilate_and_pad(x: np.ndarray, axes: tuple[int, ...], dilation: tuple[int, ...],
                    padding: tuple[tuple[int, int], ...], fill: Any) -> np.ndarray:
    """`x` with ``d - 1`` `fill` entries between elements and `padding` (negative
    crops) along `axes`, built element by element from explicit arrays."""
    shape = list(x.shape)
    for a, d in zip(axes, dilation):
        shape[a] = (x.shape[a] - 1) * d + 1 if x.shape[a] else 0
    dilated = np.full(shape, fill, x.dtype)
    index = [slice(None)] * x.ndim
    for a, d in zip(axes, dilation):
        index[a] = slice(None, None, d)
    dilated[tuple(index)] = x
    widths = [(0, 0)] * x.ndim
    crop = [slice(None)] * x.ndim
    for a, (lo, hi) in zip(axes, padding):
        widths[a] = (max(lo, 0), max(hi, 0))
    padded = np.pad(dilated, widths, constant_values=fill)
    for a, (lo, hi) in zip(axes, padding):
        crop[a] = slice(max(-lo, 0), padded.shape[a] - max(-hi, 0))
    return padded[tuple(crop)]


def reference_conv(lhs: np.ndarray, rhs: np.ndarray, window_strides, padding,
                   lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
                   feature_group_count: int = 1, batch_group_count: int = 1) -> np.ndarray:
    """conv_general_dilated as its definition: for every kernel offset, the strided
    slice of the dilated, padded input it meets, contracted with that kernel tap."""
    dims = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    x, w = np.transpose(lhs, dims.lhs_spec), np.transpose(rhs, dims.rhs_spec)
    n_spatial = x.ndim - 2
    lhs_dilation = lhs_dilation or (1,) * n_spatial
    rhs_dilation = rhs_dilation or (1,) * n_spatial
    if isinstance(padding, str):
        spans = [(k - 1) * d + 1 for k, d in zip(w.shape[2:], rhs_dilation)]
        padding = lax.padtype_to_pads(x.shape[2:], spans, window_strides, padding)
    spatial = tuple(range(2, x.ndim))
    xp = _dilate_and_pad(x, spatial, lhs_dilation, padding, 0)
    spans = [(k - 1) * d + 1 for k, d in zip(w.shape[2:], rhs_dilation)]
    out_spatial = [max(0, (p - s) // st + 1) if p >= s else 0
                   for p, s, st in zip(xp.shape[2:], spans, window_strides)]
    groups = max(feature_group_count, batch_group_count)
    n, c = x.shape[:2]
    o = w.shape[0]
    out = np.zeros((n // batch_group_count, o) + tuple(out_spatial),
                   np.result_type(x.dtype, w.dtype))
    if 0 in out_spatial:
        return np.transpose(out, np.argsort(dims.out_spec))
    for offset in itertools.product(*map(range, w.shape[2:])):
        window = tuple(slice(k * d, k * d + (m - 1) * s + 1, s) for k, d, m, s
                       in zip(offset, rhs_dilation, out_spatial, window_strides))
        patch = xp[(slice(None), slice(None)) + window]
        tap = w[(slice(None), slice(None)) + offset]
        for g in range(groups):
            outs = slice(g * o // groups, (g + 1) * o // groups)
            if batch_group_count > 1:
                part = patch[g * n // groups:(g + 1) * n // groups]
            else:
                part = patch[:, g * c // groups:(g + 1) * c // groups]
            out[:, outs] += np.einsum("nc...,oc->no...", part, tap[outs])
    return np.transpose(out, np.argsort(dims.out_spec))


def reference_reduce_window(x: np.ndarray, init: Any, combine: Any, window_dimensions,
                            window_strides, padding, base_dilation=None,
                            window_dilation=None) -> np.ndarray:
    """Fold `combine` over the window offsets of the dilated, padded operand."""
    ndim = x.ndim
    base_dilation = base_dilation or (1,) * ndim
    window_dilation = window_dilation or (1,) * ndim
    if isinstance(padding, str):
        spans = [(k - 1) * d + 1 for k, d in zip(window_dimensions, window_dilation)]
        padding = lax.padtype_to_pads(x.shape, spans, window_strides, padding)
    xp = _dilate_and_pad(x, tuple(range(ndim)), base_dilation, padding, init)
    spans = [(k - 1) * d + 1 for k, d in zip(window_dimensions, window_dilation)]
    out_shape = [max(0, (p - s) // st + 1) if p >= s else 0
                 for p, s, st in zip(xp.shape, spans, window_strides)]
    out = np.full(out_shape, init, x.dtype)
    if 0 in out_shape:
        return out
    for offset in itertools.product(*map(range, window_dimensions)):
        window = tuple(slice(k * d, k * d + (m - 1) * s + 1, s) for k, d, m, s
                       in zip(offset, window_dilation, out_shape, window_strides))
        out = combine(out, xp[window])
    return out


ALGORITHMS = ("im2col", "scatter")


@contextlib.contextmanager
def algorithm(name: str) -> Iterator[None]:
    """Run every convolution with one of the two evaluation strategies, whatever the
    cost model would choose, so that both are checked on every geometry."""
    with mock.patch.object(convolution, "_scatter_is_cheaper", lambda *_: name == "scatter"):
        yield


# ------------------------------------------------------------------ values

@pytest.mark.parametrize("mode", ["valid", "full"])
@pytest.mark.parametrize("shapes", [((11,), (4,)), ((7, 6), (3, 2))], ids=["1d", "2d"])
def test_single_channel_conv_is_scipy_correlate(rng, mode, shapes):
    x_shape, k_shape = shapes
    x, k = rng.standard_normal(x_shape), rng.standard_normal(k_shape)
    padding = "VALID" if mode == "valid" else [(n - 1, n - 1) for n in k_shape]
    got = lax.conv(x[None, None], k[None, None], (1,) * len(x_shape), padding)
    np.testing.assert_allclose(got[0, 0], scipy.signal.correlate(x, k, mode=mode),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("strategy", ALGORITHMS)
@pytest.mark.parametrize("name", list(CONFIGS))
def test_conv_matches_reference(rng, name, strategy):
    lhs_shape, rhs_shape, kwargs = CONFIGS[name]
    lhs, rhs = rng.standard_normal(lhs_shape), rng.standard_normal(rhs_shape)
    with algorithm(strategy):
        got = lax.conv_general_dilated(lhs, rhs, **kwargs)
    np.testing.assert_allclose(got, reference_conv(lhs, rhs, **kwargs), rtol=1e-12,
                               atol=1e-12)


@st.composite
def conv_problems(draw: Any) -> tuple:
    """A random convolution geometry: 1 or 2 spatial dimensions, strides, dilations,
    explicit padding (negative too), feature or batch groups, any layout."""
    n_spatial = draw(st.integers(1, 2))
    groups = draw(st.integers(1, 3))
    grouping = draw(st.sampled_from(["feature", "batch"])) if groups > 1 else "feature"
    batch = groups * draw(st.integers(1, 2)) if grouping == "batch" else draw(st.integers(1, 2))
    in_features = draw(st.integers(1, 2))
    features = in_features * (groups if grouping == "feature" else 1)
    out_features = groups * draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(n_spatial)]
    sizes = [draw(st.integers(1, 6)) for _ in range(n_spatial)]
    ints = st.integers(1, 3)
    kwargs = dict(
        window_strides=tuple(draw(ints) for _ in range(n_spatial)),
        padding=tuple((draw(st.integers(-1, 2)), draw(st.integers(-1, 2)))
                      for _ in range(n_spatial)),
        lhs_dilation=tuple(draw(ints) for _ in range(n_spatial)),
        rhs_dilation=tuple(draw(ints) for _ in range(n_spatial)),
        feature_group_count=groups if grouping == "feature" else 1,
        batch_group_count=groups if grouping == "batch" else 1)
    lhs_perm = draw(st.permutations(range(n_spatial + 2)))
    rhs_perm = draw(st.permutations(range(n_spatial + 2)))
    out_perm = draw(st.permutations(range(n_spatial + 2)))
    canonical_lhs = (batch, features, *sizes)
    canonical_rhs = (out_features, in_features, *kernel)
    lhs_shape = [0] * len(lhs_perm)
    rhs_shape = [0] * len(rhs_perm)
    for size, d in zip(canonical_lhs, lhs_perm):
        lhs_shape[d] = size
    for size, d in zip(canonical_rhs, rhs_perm):
        rhs_shape[d] = size
    kwargs["dimension_numbers"] = lax.ConvDimensionNumbers(tuple(lhs_perm), tuple(rhs_perm),
                                                           tuple(out_perm))
    return tuple(lhs_shape), tuple(rhs_shape), kwargs


def _crops_everything(lhs_shape: tuple, kwargs: dict) -> bool:
    """Whether the padding crops more than the dilated input (the shape rule rejects it)."""
    sizes = [lhs_shape[d] for d in kwargs["dimension_numbers"].lhs_spec[2:]]
    return any((n - 1) * d + 1 + lo + hi < 0
               for n, d, (lo, hi) in zip(sizes, kwargs["lhs_dilation"], kwargs["padding"]))


@given(conv_problems(), st.integers(0, 2**32 - 1))
def test_random_convolutions_match_reference(problem, seed):
    lhs_shape, rhs_shape, kwargs = problem
    if _crops_everything(lhs_shape, kwargs):
        return
    rng = np.random.default_rng(seed)
    lhs, rhs = rng.standard_normal(lhs_shape), rng.standard_normal(rhs_shape)
    expected = reference_conv(lhs, rhs, **kwargs)
    for strategy in ALGORITHMS:
        with algorithm(strategy):
            got = lax.conv_general_dilated(lhs, rhs, **kwargs)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12, err_msg=strategy)


@given(conv_problems(), st.integers(0, 2**32 - 1))
def test_random_convolutions_differentiate_and_batch(problem, seed):
    """Both transposes (dot-product test against the JVP, and finite differences) and
    the batching rule (inputs, kernels and both batched), on random geometries."""
    lhs_shape, rhs_shape, kwargs = problem
    if _crops_everything(lhs_shape, kwargs):
        return
    rng = np.random.default_rng(seed)
    lhs, rhs = rng.standard_normal(lhs_shape), rng.standard_normal(rhs_shape)
    conv = lambda x, w: lax.conv_general_dilated(x, w, **kwargs)
    if conv(lhs, rhs).size:
        for strategy in ALGORITHMS:   # the transposes are convolutions too
            with algorithm(strategy):
                check_grads(conv, (lhs, rhs), order=1)
    lhs_batch = rng.standard_normal((2,) + lhs_shape)
    rhs_batch = rng.standard_normal((2,) + rhs_shape)
    for in_axes, args, pick in (((0, None), (lhs_batch, rhs), lambda i: (lhs_batch[i], rhs)),
                                ((None, 0), (lhs, rhs_batch), lambda i: (lhs, rhs_batch[i])),
                                ((0, 0), (lhs_batch, rhs_batch),
                                 lambda i: (lhs_batch[i], rhs_batch[i]))):
        got = ft.vmap(conv, in_axes=in_axes)(*args)
        for i in range(2):
            np.testing.assert_allclose(got[i], conv(*pick(i)), rtol=1e-12, atol=1e-12)


def test_integer_convolution_is_exact():
    x = np.arange(24, dtype=np.int32).reshape(1, 2, 12)
    w = np.array([[[1, -2, 1], [0, 3, -1]]], dtype=np.int32)
    got = lax.conv(x, w, (2,), "SAME")
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, reference_conv(x, w, (2,), "SAME"))


def test_float32_stays_float32(rng):
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    assert lax.conv(x, w, (1, 1), "SAME").dtype == np.float32
    grads = ft.grad(lambda w, x: fnp.sum(lax.conv(x, w, (1, 1), "SAME") ** 2),
                    argnums=(0, 1))(w, x)
    assert [g.dtype for g in grads] == [np.float32, np.float32]
    wide = lax.conv(x, w, (1, 1), "SAME", preferred_element_type=np.float64)
    assert wide.dtype == np.float64


@pytest.mark.parametrize("name", list(WINDOWS))
def test_windowed_reductions_match_reference(rng, name):
    shape, kwargs = WINDOWS[name]
    x = rng.standard_normal(shape)
    for fn, init, combine in ((lax.reduce_window_sum, 0.0, np.add),
                              (lax.reduce_window_max, -np.inf, np.maximum),
                              (lax.reduce_window_min, np.inf, np.minimum)):
        np.testing.assert_allclose(fn(x, **kwargs),
                                   reference_reduce_window(x, init, combine, **kwargs),
                                   rtol=1e-12, atol=1e-12)
    product = lax.reduce_window(x, 1.0, lax.mul, **kwargs)
    np.testing.assert_allclose(product, reference_reduce_window(x, 1.0, np.multiply, **kwargs),
                               rtol=1e-12, atol=1e-12)


def test_max_pool_is_a_reshaped_max(rng):
    x = rng.standard_normal((3, 4, 6, 8))
    pooled = lax.reduce_window(x, -np.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    np.testing.assert_array_equal(pooled, x.reshape(3, 4, 3, 2, 4, 2).max(axis=(3, 5)))
    shorthand = lax.reduce_window_max(x, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    np.testing.assert_array_equal(shorthand, pooled)


def test_monoids_run_as_one_primitive_and_other_computations_fold():
    x = np.ones((4, 4))
    def primitives(f):
        return [e.primitive.name for e in ft.make_jaxpr(f)(x).jaxpr.eqns]
    assert primitives(lambda x: lax.reduce_window(x, 0.0, lax.add, (2, 2), (2, 2),
                                                  "VALID")) == ["reduce_window_sum"]
    assert primitives(lambda x: lax.reduce_window(x, -np.inf, lax.max, (2, 2), (1, 1),
                                                  "SAME")) == ["reduce_window_max"]
    folded = primitives(lambda x: lax.reduce_window(x, 1.0, lax.add, (2, 2), (2, 2), "VALID"))
    assert folded.count("add") == 4 and "reduce_window_sum" not in folded


def test_variadic_reduce_window_finds_argmax(rng):
    x = rng.standard_normal((5, 6))
    index = np.arange(30.0).reshape(5, 6)

    def larger(a, b):
        (a_value, a_index), (b_value, b_index) = a, b
        take_b = lax.gt(b_value, a_value)
        return lax.select(take_b, b_value, a_value), lax.select(take_b, b_index, a_index)

    values, where = lax.reduce_window((x, index), (-np.inf, -1.0), larger, (2, 3), (1, 3),
                                      "VALID")
    windows = np.lib.stride_tricks.sliding_window_view(x, (2, 3))[:, ::3]
    np.testing.assert_array_equal(values, windows.max(axis=(2, 3)))
    np.testing.assert_array_equal(x.ravel()[where.astype(int)], values)


def test_reduce_window_with_traced_initial_value():
    x = np.arange(12.0).reshape(3, 4)

    @ft.jit
    def padded_max(x, floor):
        return lax.reduce_window(x, floor, lax.max, (2, 2), (1, 1), ((1, 1), (1, 1)))

    got = padded_max(x, np.float64(5.0))
    np.testing.assert_array_equal(
        got, reference_reduce_window(x, 5.0, np.maximum, (2, 2), (1, 1), ((1, 1), (1, 1))))


def test_degenerate_shapes():
    scalar = np.array(3.0)          # no dimensions: one window, the element itself
    assert lax.reduce_window_max(scalar, (), (), ()) == 3.0
    assert ft.grad(lambda x: lax.reduce_window_max(x, (), (), ()))(scalar) == 1.0
    empty_batch = lax.conv(np.ones((0, 2, 5)), np.ones((3, 2, 2)), (1,), "VALID")
    assert empty_batch.shape == (0, 3, 4)
    # a kernel wider than the input: no window, a zero gradient
    kernel_grad = ft.grad(lambda w: fnp.sum(lax.conv(np.ones((2, 2, 1)), w, (1,), "VALID")))(
        np.ones((3, 2, 2)))
    np.testing.assert_array_equal(kernel_grad, np.zeros((3, 2, 2)))


# ------------------------------------------------------------------ derivatives

def _cnn(params, images):
    """conv -> relu -> 2x2 max pool -> dense, on NCHW images."""
    h = lax.conv_general_dilated(images, params["conv"], (1, 1), "SAME")
    h = fnp.maximum(h + params["bias"][None, :, None, None], 0.0)
    h = lax.reduce_window_max(h, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    return fnp.tanh(h.reshape(h.shape[0], -1) @ params["dense"])


def _cnn_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"conv": rng.standard_normal((3, 2, 3, 3)) * 0.5,
            "bias": rng.standard_normal(3) * 0.1,
            "dense": rng.standard_normal((3 * 2 * 2, 2)) * 0.3}


def test_cnn_gradients(rng):
    params, images = _cnn_params(rng), rng.standard_normal((2, 2, 4, 4))
    check_grads(lambda p, x: fnp.sum(_cnn(p, x) ** 2), (params, images), order=1,
                modes=("fwd", "rev"))


def test_second_order_through_strided_grouped_conv_and_average_pool(rng):
    def f(x, w):
        h = lax.conv_general_dilated(x, w, (2, 1), "SAME", rhs_dilation=(1, 2),
                                     feature_group_count=2)
        return fnp.sum(fnp.tanh(lax.reduce_window_sum(h, (1, 1, 2, 2), (1, 1, 1, 1),
                                                      "SAME")))
    x, w = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((4, 2, 2, 2))
    check_grads(f, (x, w), order=2)


def test_max_pool_gradient_goes_to_the_first_maximum():
    x = np.zeros((1, 4))   # every window ties
    grad = ft.grad(lambda x: fnp.sum(lax.reduce_window_max(x, (1, 2), (1, 1), "VALID")))(x)
    np.testing.assert_array_equal(grad, [[1.0, 1.0, 1.0, 0.0]])
    x = np.array([[3.0, 1.0, 2.0, 5.0, 4.0]])
    grad = ft.grad(lambda x: fnp.sum(lax.reduce_window_max(x, (1, 3), (1, 1), "VALID")))(x)
    np.testing.assert_array_equal(grad, [[1.0, 0.0, 0.0, 2.0, 0.0]])


def test_select_and_scatter_add_is_max_pooling_backward(rng):
    x = rng.standard_normal((6, 7))
    window, strides, padding = (3, 2), (2, 2), ((1, 1), (0, 1))
    cotangent = rng.standard_normal(lax.reduce_window_shape_tuple(x.shape, window, strides,
                                                                  padding))
    _, pullback = ft.vjp(lambda x: lax.reduce_window_max(x, window, strides, padding), x)
    (expected,) = pullback(cotangent)
    np.testing.assert_allclose(
        lax.select_and_scatter_add(cotangent, x, lax.ge, window, strides, padding), expected,
        rtol=1e-12)


# sizes for which the forward convolution reads every input element's last window
@pytest.mark.parametrize("height, strides, padding", [(6, (1, 1), "SAME"), (6, (2, 2), "SAME"),
                                                      (7, (2, 1), "VALID"),
                                                      (5, (2, 2), ((1, 1), (2, 0)))])
def test_conv_transpose_with_flipped_kernel_is_the_input_gradient(rng, height, strides,
                                                                  padding):
    x = rng.standard_normal((2, height, 4, 3))
    w = rng.standard_normal((3, 2, 3, 5))
    dims = ("NHWC", "HWIO", "NHWC")
    conv = lambda x: lax.conv_general_dilated(x, w, strides, padding, dimension_numbers=dims)
    y, pullback = ft.vjp(conv, x)
    cotangent = rng.standard_normal(y.shape)
    (expected,) = pullback(cotangent)
    got = lax.conv_transpose(cotangent, w, strides, padding, dimension_numbers=dims,
                             transpose_kernel=True, use_consistent_padding=True)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ jit and vmap

def test_jit_matches_eager(rng):
    params, images = _cnn_params(rng), rng.standard_normal((3, 2, 4, 4))
    loss = lambda p, x: fnp.sum(_cnn(p, x) ** 2)
    eager = ft.grad(loss)(params, images)
    compiled = ft.jit(ft.grad(loss))
    for _ in range(2):  # interpreted, then compiled
        jitted = compiled(params, images)
        for key in params:
            np.testing.assert_allclose(jitted[key], eager[key], rtol=1e-12, atol=1e-14)


def test_per_example_gradients_by_vmap(rng):
    params, images = _cnn_params(rng), rng.standard_normal((3, 2, 4, 4))
    def example_loss(p, image):
        return fnp.sum(_cnn(p, image[None]) ** 2)
    batched = ft.vmap(ft.grad(example_loss), in_axes=(None, 0))(params, images)
    for i in range(3):
        single = ft.grad(example_loss)(params, images[i])
        for key in params:
            np.testing.assert_allclose(batched[key][i], single[key], rtol=1e-12, atol=1e-14)


def test_vmap_over_kernels_and_images_together(rng):
    images = rng.standard_normal((4, 1, 2, 6))       # a batch of (N, C, W) problems
    kernels = rng.standard_normal((4, 3, 2, 3))
    conv = lambda x, w: lax.conv_general_dilated(x, w, (2,), "SAME", rhs_dilation=(2,))
    got = ft.vmap(conv)(images, kernels)
    for i in range(4):
        np.testing.assert_allclose(got[i], conv(images[i], kernels[i]), rtol=1e-12)


# ------------------------------------------------------------------ owned results, errors

def test_results_do_not_alias_inputs():
    x, w = np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1))
    y = lax.conv(x, w, (1, 1), "VALID")
    y[...] = 7.0
    assert np.all(x == 1.0) and np.all(w == 1.0)
    pooled = lax.reduce_window_max(x, (1, 1, 1, 1), (1, 1, 1, 1), "VALID")
    pooled[...] = 7.0
    assert np.all(x == 1.0)


@pytest.mark.parametrize("call, error, message", [
    (lambda: lax.conv(np.ones((1, 2, 4)), np.ones((3, 2, 2), np.float32), (1,), "VALID"),
     TypeError, "equal dtype"),
    (lambda: lax.conv(np.ones((1, 2, 4)), np.ones((3, 1, 2)), (1,), "VALID"),
     TypeError, "the kernel's input features"),
    (lambda: lax.conv_general_dilated(np.ones((1, 4, 4)), np.ones((3, 2, 2)), (1,), "VALID",
                                      feature_group_count=2), TypeError, "multiple of"),
    (lambda: lax.conv_general_dilated(np.ones((1, 2, 4, 4)), np.ones((3, 2, 2, 2)), (1, 1),
                                      "VALID", dimension_numbers=("NCHW", "OIHW", "NCWX")),
     TypeError, "same spatial letters"),
    (lambda: lax.conv(np.ones((1, 2, 4)), np.ones((3, 2, 2)), (1,), "HALF"), ValueError,
     "'SAME', 'SAME_LOWER', 'VALID'"),
    (lambda: lax.conv_general_dilated(np.ones((1, 2, 4)), np.ones((3, 2, 2)), (1,), "SAME",
                                      lhs_dilation=(2,)), ValueError, "conv_transpose"),
    (lambda: lax.conv(np.ones((1, 2, 4)), np.ones((3, 2, 2)), (1, 1), "VALID"), ValueError,
     "window_strides"),
    (lambda: lax.reduce_window(np.ones(4, np.int32), -np.inf, lax.max, (2,), (1,), "VALID"),
     TypeError, "init_value"),
    (lambda: lax.reduce_window_max(np.ones((3, 3)), (2,), (1,), "VALID"), ValueError,
     "window_dimensions"),
    (lambda: lax.reduce_window(np.ones(4), 0.0, lambda a, b: (a, b), (2,), (1,), "VALID"),
     TypeError, "structure"),
    (lambda: lax.select_and_scatter_add(np.ones(3), np.ones(4), lax.ge, (3,), (1,),
                                        "VALID"), TypeError, "one element per window"),
])
def test_bad_input_is_explained(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_conv_shows_in_jaxprs():
    text = str(ft.make_jaxpr(lambda x, w: lax.conv(x, w, (1, 1), "SAME"))(
        np.ones((1, 2, 4, 4)), np.ones((3, 2, 3, 3))))
    assert "conv_general_dilated" in text and "padding=((1, 1), (1, 1))" in text
