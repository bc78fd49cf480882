"""Property tests (hypothesis) of the transformations over random shapes and values.

Functions are random compositions of smooth lax-level operations; the
``functrans.numpy`` properties run once that API provides the functions they use.
Arrays come from the public strategies, ``functrans.test_util.strategies``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import reduce
from typing import Any

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import functrans.numpy as fnp
from functrans import lax
from functrans.api.jit import jit
from functrans.test_util import check_grads, inner_prod, rand_like
from functrans.test_util import strategies as fst
from functrans.transforms.autodiff import grad, vjp
from functrans.transforms.jvp import jvp
from functrans.transforms.vmap import vmap

# At most 25 examples each (fewer if the loaded profile asks for fewer), no deadline.
PROPERTY = settings(max_examples=min(25, settings.default.max_examples), deadline=None)

# ------------------------------------------------------------------ strategies

UNARY: dict[str, Callable[[Any], Any]] = {
    "sin": lax.sin,
    "cos": lax.cos,
    "tanh": lax.tanh,
    "logistic": lax.logistic,
    "x*sin(x)": lambda x: lax.mul(x, lax.sin(x)),
    "log1p(x*x)": lambda x: lax.log1p(lax.mul(x, x)),
    "x+cos(x)": lambda x: lax.add(x, lax.cos(x)),
    "exp(sin(x))": lambda x: lax.exp(lax.sin(x)),
}

compositions = st.lists(st.sampled_from(sorted(UNARY)), min_size=1, max_size=4)
seeds = st.integers(0, 2**32 - 1)


def compose(names: list[str]) -> Callable[[Any], Any]:
    return lambda x: reduce(lambda acc, name: UNARY[name](acc), names, x)


def total(x: Any) -> Any:
    return lax.reduce_sum(x, tuple(range(np.ndim(x))))


def float_arrays(dtype: Any = None, min_dims: int = 0, max_dims: int = 3) -> Any:
    """Arrays of small random shapes, float32 or float64 unless `dtype` is given."""
    return fst.arrays(fst.shapes(min_dims=min_dims, max_dims=max_dims),
                      fst.float_dtypes() if dtype is None else dtype)


def rounding_tol(dtype: Any) -> float:
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-10


def assert_same(actual: Any, expected: Any, dtype: Any) -> None:
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype, \
        f"computed {actual.dtype}{actual.shape}, expected {expected.dtype}{expected.shape}"
    tol = rounding_tol(dtype)
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


def sum_to_shape(x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast result back to an operand's shape (the reference gradient)."""
    x = x.sum(axis=tuple(range(x.ndim - len(shape))))
    keep = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return x.sum(axis=keep, keepdims=True).reshape(shape)


# ------------------------------------------------------------------ gradients

@PROPERTY
@given(float_arrays())
def test_grad_of_sum_sin_x_times_x_is_closed_form(x: np.ndarray) -> None:
    g = grad(lambda x: total(lax.mul(lax.sin(x), x)))(x)
    x64 = x.astype(np.float64)
    expected = np.sin(x64) + x64 * np.cos(x64)
    assert g.shape == x.shape and g.dtype == x.dtype
    tol = 1e-5 if x.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(g, expected, rtol=tol, atol=tol)


@PROPERTY
@given(compositions, float_arrays(), seeds)
def test_vjp_jvp_dot_product_identity(names: list[str], x: np.ndarray, seed: int) -> None:
    f = compose(names)
    rng = np.random.default_rng(seed)
    u = rand_like(rng, x)
    out, ju = jvp(f, (x,), (u,))
    v = rand_like(rng, out)
    _, f_vjp = vjp(f, x)
    (jtv,) = f_vjp(v)
    assert ju.dtype == x.dtype and jtv.dtype == x.dtype
    scale = float(np.sum(np.abs(v.astype(np.float64) * ju)) + 1.0)
    assert abs(inner_prod(v, ju) - inner_prod(jtv, u)) <= rounding_tol(x.dtype) * scale


@PROPERTY
@given(compositions, float_arrays(np.float64, max_dims=2))
def test_check_grads_order_two_on_compositions(names: list[str], x: np.ndarray) -> None:
    check_grads(compose(names), (x,), order=2, atol=1e-5, rtol=1e-5)


@PROPERTY
@given(st.data())
def test_broadcasting_gradients_reduce_to_input_shapes(data: Any) -> None:
    shapes, out_shape = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                                     max_side=3))
    dtype = data.draw(fst.float_dtypes())
    x = data.draw(fst.arrays(shapes[0], dtype))
    y = data.draw(fst.arrays(shapes[1], dtype))

    def to_out(a: Any) -> Any:
        nd = np.ndim(a)
        return lax.broadcast_in_dim(a, out_shape, tuple(range(len(out_shape) - nd,
                                                               len(out_shape))))

    gx, gy = grad(lambda a, b: total(lax.mul(to_out(a), to_out(b))), argnums=(0, 1))(x, y)
    assert gx.shape == x.shape and gy.shape == y.shape
    assert gx.dtype == dtype and gy.dtype == dtype
    expected_gx = sum_to_shape(np.broadcast_to(y, out_shape).astype(np.float64), x.shape)
    expected_gy = sum_to_shape(np.broadcast_to(x, out_shape).astype(np.float64), y.shape)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gx, expected_gx, rtol=tol, atol=tol)
    np.testing.assert_allclose(gy, expected_gy, rtol=tol, atol=tol)


# ------------------------------------------------------------------ vmap and jit

@PROPERTY
@given(compositions, float_arrays(min_dims=1), st.data())
def test_vmap_equals_stacked_loop(names: list[str], xs: np.ndarray, data: Any) -> None:
    reduce_axes = data.draw(st.sampled_from([(), (-1,)])) if xs.ndim >= 2 else ()
    elementwise = compose(names)

    def f(x: Any) -> Any:
        y = elementwise(x)
        return lax.reduce_sum(y, reduce_axes) if reduce_axes else y

    axis = data.draw(st.integers(0, xs.ndim - 1))
    looped = np.stack([np.asarray(f(np.take(xs, i, axis=axis))) for i in range(xs.shape[axis])])
    assert_same(vmap(f, in_axes=axis)(xs), looped, xs.dtype)


@PROPERTY
@given(compositions, float_arrays(np.float64, min_dims=1))
def test_vmap_of_grad_gives_per_example_gradients(names: list[str], xs: np.ndarray) -> None:
    f = compose(names)
    g = grad(lambda x: total(f(x)))
    looped = np.stack([g(x) for x in xs])
    assert_same(vmap(g)(xs), looped, xs.dtype)


@PROPERTY
@given(compositions, float_arrays())
def test_jit_equals_eager(names: list[str], x: np.ndarray) -> None:
    f = compose(names)
    assert_same(jit(f)(x), f(x), x.dtype)
    g = grad(lambda x: total(f(x)))
    assert_same(jit(g)(x), g(x), x.dtype)


# ------------------------------------------------------------------ functrans.numpy

def _fnp_has(*names: str) -> Any:
    missing = [n for n in names if not hasattr(fnp, n)]
    return pytest.mark.skipif(bool(missing), reason=f"functrans.numpy lacks {missing}")


@_fnp_has("sin", "cos", "sum", "multiply")
@PROPERTY
@given(float_arrays())
def test_numpy_grad_of_sum_sin_x_times_x(x: np.ndarray) -> None:
    g = grad(lambda x: fnp.sum(fnp.multiply(fnp.sin(x), x)))(x)
    x64 = x.astype(np.float64)
    assert g.shape == x.shape and g.dtype == x.dtype
    tol = 1e-5 if x.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(g, np.sin(x64) + x64 * np.cos(x64), rtol=tol, atol=tol)


@_fnp_has("sum", "multiply")
@PROPERTY
@given(st.data())
def test_numpy_broadcasting_gradients_reduce_to_input_shapes(data: Any) -> None:
    shapes, out_shape = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                                     max_side=3))
    dtype = data.draw(fst.float_dtypes())
    x = data.draw(fst.arrays(shapes[0], dtype))
    y = data.draw(fst.arrays(shapes[1], dtype))
    gx, gy = grad(lambda a, b: fnp.sum(fnp.multiply(a, b)), argnums=(0, 1))(x, y)
    assert gx.shape == x.shape and gy.shape == y.shape
    assert gx.dtype == dtype and gy.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gx, sum_to_shape(np.broadcast_to(y, out_shape), x.shape),
                               rtol=tol, atol=tol)
    np.testing.assert_allclose(gy, sum_to_shape(np.broadcast_to(x, out_shape), y.shape),
                               rtol=tol, atol=tol)


@_fnp_has("sum", "sin", "tanh")
@PROPERTY
@given(float_arrays(min_dims=1), seeds)
def test_numpy_vjp_jvp_dot_product_identity(x: np.ndarray, seed: int) -> None:
    def f(x: Any) -> Any:
        return fnp.tanh(fnp.sin(x) * x + 1.0) * fnp.sum(x)

    rng = np.random.default_rng(seed)
    u = rand_like(rng, x)
    out, ju = jvp(f, (x,), (u,))
    v = rand_like(rng, out)
    (jtv,) = vjp(f, x)[1](v)
    assert out.dtype == x.dtype and jtv.dtype == x.dtype
    scale = float(np.sum(np.abs(v.astype(np.float64) * ju)) + 1.0)
    assert abs(inner_prod(v, ju) - inner_prod(jtv, u)) <= rounding_tol(x.dtype) * scale


# ------------------------------------------------------------------ the eager tape

#: binary steps of a random program: the value so far and a second operand that
#: broadcasts against it
BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda x, y: x + y,
    "mul": lambda x, y: x * y,
    "sub-rev": lambda x, y: y - x,
    "div": lambda x, y: x / (1.5 + y * y),
    "max": fnp.maximum,
    "where": lambda x, y: fnp.where(x > y, x * y, fnp.sin(x)),
    # functrans.numpy functions the tape records whole, with static arguments
    "square-rev": lambda x, y: 0.5 * (y - x) ** 2,
    "mean": lambda x, y: x - fnp.mean(x, keepdims=True) + fnp.tanh(y),
    "matmul": lambda x, y: x * fnp.sum(fnp.matmul(fnp.atleast_1d(y), fnp.ones(y.shape[-1:]
                                                                              or (1,)))),
    "constant": lambda x, y: fnp.maximum(x, np.float32(0.25)) - y / 3,
}


@PROPERTY
@given(st.data())
def test_the_tape_walked_and_fused_equals_the_general_path(data: Any) -> None:
    """Random programs (unary steps, broadcasting binary steps, a reduction) give the
    same gradients through the tape — on each of the calls that take its general path,
    derive its rules, compile them, and run its fused backward function — as through
    the linear jaxpr that nested transformations use."""
    from functrans.config import config

    shapes, _ = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                            max_side=3))
    dtype = data.draw(fst.float_dtypes())
    x = data.draw(fst.arrays(shapes[0], dtype))
    y = data.draw(fst.arrays(shapes[1], dtype))
    steps = data.draw(st.lists(st.sampled_from(sorted(UNARY) + sorted(BINARY)), min_size=1,
                               max_size=5))

    def program(a: Any, b: Any) -> Any:
        for name in steps:
            a = UNARY[name](a) if name in UNARY else BINARY[name](a, b)
        return fnp.sum(a * a) + fnp.sum(b)

    gradient = grad(program, argnums=(0, 1))
    saved = config.eager_tape
    config.update("eager_tape", False)
    try:
        expected = gradient(x, y)
    finally:
        config.update("eager_tape", saved)
    for _ in range(5):
        for got, want in zip(gradient(x, y), expected):
            assert_same(got, want, dtype)
