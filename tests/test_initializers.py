"""functrans.nn.initializers: JAX's formulas on functrans.random, checked by the
variance each one promises (on large samples with fixed keys), by their exact
relation to the samplers they call, and by dtypes, shapes and errors."""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft
import functrans.random as jr
from functrans.nn import initializers as init

KEY = jr.key(42)
TRUNCATED_STDDEV = 0.87962566103423978   # of a standard normal truncated to (-2, 2)


def test_constant_initializers():
    np.testing.assert_array_equal(init.zeros(KEY, (2, 3), np.float32), np.zeros((2, 3)))
    assert init.zeros(KEY, (2, 3), np.float32).dtype == np.float32
    assert init.ones(KEY, (3,)).dtype == np.float64
    # jax.nn.initializers.constant's docstring: constant(-7)(key(42), (2, 3), float32)
    np.testing.assert_array_equal(init.constant(-7)(KEY, (2, 3), np.float32), np.full((2, 3), -7))
    assert init.constant(-7, np.float32)(KEY, (2,)).dtype == np.float32


def test_simple_random_initializers_scale_the_samplers():
    shape = (3, 4)
    np.testing.assert_array_equal(init.uniform(0.5)(KEY, shape),
                                  jr.uniform(KEY, shape) * 0.5)
    np.testing.assert_array_equal(init.normal(0.1)(KEY, shape, np.float32),
                                  jr.normal(KEY, shape, np.float32) * np.float32(0.1))
    np.testing.assert_array_equal(init.truncated_normal(2.0, lower=-1.0, upper=1.5)(KEY, shape),
                                  jr.truncated_normal(KEY, -1.0, 1.5, shape) * 2.0)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
@pytest.mark.parametrize("distribution", ["truncated_normal", "normal", "uniform"])
def test_variance_scaling_variance(mode, distribution):
    shape = (300, 500)
    fan_in, fan_out = 300, 500
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2,
         "fan_geo_avg": (fan_in * fan_out) ** 0.5}[mode]
    w = init.variance_scaling(2.0, mode, distribution)(KEY, shape)
    assert w.shape == shape and w.dtype == np.float64
    assert abs(w.mean()) < 0.01 * np.sqrt(2.0 / n)
    np.testing.assert_allclose(w.var(), 2.0 / n, rtol=0.02)
    if distribution == "uniform":
        assert np.abs(w).max() <= np.sqrt(3 * 2.0 / n)
    if distribution == "truncated_normal":
        assert np.abs(w).max() < 2 * np.sqrt(2.0 / n) / TRUNCATED_STDDEV


def test_named_initializers_are_variance_scaling():
    shape = (6, 10)
    variance = {"glorot": 1.0 / 8, "lecun": 1.0 / 6, "he": 2.0 / 6}
    for name, uniform, normal in [("glorot", init.glorot_uniform, init.glorot_normal),
                                  ("lecun", init.lecun_uniform, init.lecun_normal),
                                  ("he", init.he_uniform, init.he_normal)]:
        var = variance[name]
        np.testing.assert_array_equal(
            uniform()(KEY, shape), jr.uniform(KEY, shape, minval=-1.0, maxval=1.0)
            * np.sqrt(3 * np.float64(var)))
        np.testing.assert_array_equal(
            normal()(KEY, shape), jr.truncated_normal(KEY, -2, 2, shape)
            * (np.sqrt(np.float64(var)) / TRUNCATED_STDDEV))
    assert init.xavier_uniform is init.glorot_uniform and init.kaiming_normal is init.he_normal


def test_fans_of_convolution_kernels():
    # HWIO kernel: fan_in = 3 * 3 * 16, fan_out = 3 * 3 * 32 (the receptive field)
    w = init.he_normal()(KEY, (3, 3, 16, 64 * 8))
    np.testing.assert_allclose(w.var(), 2.0 / (3 * 3 * 16), rtol=0.03)
    # explicit axes: input axis 1, output axis 0, a batch axis 2 that does not count
    w = init.variance_scaling(1.0, "fan_in", "normal", in_axis=1, out_axis=0,
                              batch_axis=2)(KEY, (40, 50, 30))
    np.testing.assert_allclose(w.var(), 1.0 / 50, rtol=0.03)
    with pytest.raises(ValueError, match="1-dimensional weights tensor"):
        init.glorot_uniform()(KEY, (5,))
    with pytest.raises(ValueError, match="invalid mode 'fan_sum'"):
        init.variance_scaling(1.0, "fan_sum", "normal")


def test_orthogonal_initializer():
    w = init.orthogonal()(KEY, (3, 5))
    np.testing.assert_allclose(w @ w.T, np.eye(3), atol=1e-12)
    w = init.orthogonal(scale=2.0)(KEY, (6, 4), np.float32)
    assert w.dtype == np.float32
    np.testing.assert_allclose(w.T @ w, 4 * np.eye(4), atol=1e-5)
    # columns along axis 0 of a (4, 2, 3) kernel: the rows are the other 6 positions
    w = init.orthogonal(column_axis=0)(KEY, (4, 2, 3))
    flat = np.moveaxis(w, 0, -1).reshape(6, 4)
    np.testing.assert_allclose(flat.T @ flat, np.eye(4), atol=1e-12)
    np.testing.assert_array_equal(w, np.moveaxis(jr.orthogonal(KEY, 6, (), m=4)
                                                 .reshape(2, 3, 4), -1, 0))
    with pytest.raises(ValueError, match="at least a 2-D shape"):
        init.orthogonal()(KEY, (3,))


def test_complex_and_float32_weights():
    w = init.glorot_uniform()(KEY, (200, 300), np.complex64)
    assert w.dtype == np.complex64
    np.testing.assert_allclose(np.mean(np.abs(w) ** 2), 1.0 / 250, rtol=0.03)
    w = init.lecun_normal(dtype=np.complex128)(KEY, (200, 300))
    np.testing.assert_allclose(np.mean(np.abs(w) ** 2), 1.0 / 200, rtol=0.03)
    for make in (init.glorot_uniform, init.glorot_normal, init.he_uniform, init.lecun_normal):
        assert make()(KEY, (4, 5), np.float32).dtype == np.float32


def test_initializers_under_jit_and_vmap():
    he = init.he_normal()
    jitted = ft.jit(he, static_argnums=(1, 2))
    np.testing.assert_array_equal(jitted(KEY, (4, 5), np.float32), he(KEY, (4, 5), np.float32))
    keys = jr.split(KEY, 3)
    stacked = ft.vmap(lambda k: he(k, (4, 5)))(keys)
    np.testing.assert_array_equal(stacked, np.stack([he(k, (4, 5)) for k in keys]))
