"""functrans.example_libraries.optimizers: every optimizer converges on a quadratic,
Adam and SGD step exactly as hand-written NumPy updates do, parameters keep their
dtype under jit with a Python-int step, and the state is a pytree."""

from __future__ import annotations

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.example_libraries import optimizers
from functrans.tree_util import tree_flatten, tree_leaves

CURVATURE = np.array([1.0, 3.0, 10.0])


def quadratic(params):
    """Minimised at w = 0, b = 1: an ill-conditioned bowl in w, a shifted one in b."""
    w, b = params["w"], params["b"]
    return 0.5 * fnp.sum(CURVATURE.astype(w.dtype) * w**2) + fnp.sum((b - 1.0) ** 2)


OPTIMIZERS = {
    "sgd": lambda: optimizers.sgd(0.05),
    "momentum": lambda: optimizers.momentum(0.02, mass=0.9),
    "nesterov": lambda: optimizers.nesterov(0.02, mass=0.9),
    "adagrad": lambda: optimizers.adagrad(0.5),
    "rmsprop": lambda: optimizers.rmsprop(optimizers.inverse_time_decay(0.05, 50, 1.0)),
    "rmsprop_momentum": lambda: optimizers.rmsprop_momentum(
        optimizers.polynomial_decay(0.01, 200, 1e-4)),
    "adam": lambda: optimizers.adam(0.1),
    "adam_scheduled": lambda: optimizers.adam(optimizers.exponential_decay(0.1, 100, 0.5)),
    "adamax": lambda: optimizers.adamax(0.1),
    "sm3": lambda: optimizers.sm3(0.5),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_converges_and_keeps_dtypes(name, dtype):
    init_fun, update_fun, get_params = OPTIMIZERS[name]()
    params = {"w": np.ones(3, dtype), "b": np.zeros((2, 2), dtype)}
    opt_state = init_fun(params)

    @ft.jit
    def step(i, opt_state):
        return update_fun(i, ft.grad(quadratic)(get_params(opt_state)), opt_state)

    start = float(quadratic(params))
    for i in range(300):  # a Python int step: traced by jit, weakly typed
        opt_state = step(i, opt_state)
    final = get_params(opt_state)
    assert {k: v.dtype for k, v in final.items()} == {"w": dtype, "b": dtype}
    assert all(leaf.dtype == dtype for leaf in tree_leaves(opt_state))
    assert float(quadratic(final)) < 1e-3 * start


def _adam_numpy(x, grads, step_size, b1=0.9, b2=0.999, eps=1e-8):
    """jax.example_libraries.optimizers.adam, by hand."""
    m, v = np.zeros_like(x), np.zeros_like(x)
    for i, g in enumerate(grads):
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * np.square(g) + b2 * v
        mhat = m / (1 - b1 ** (i + 1))
        vhat = v / (1 - b2 ** (i + 1))
        x = x - step_size * mhat / (np.sqrt(vhat) + eps)
    return x


def test_adam_and_sgd_match_numpy_updates():
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal(5)
    grads = [rng.standard_normal(5) for _ in range(6)]
    init_fun, update_fun, get_params = optimizers.adam(0.01)
    state = init_fun(x0)
    for i, g in enumerate(grads):
        state = update_fun(i, g, state)
    np.testing.assert_allclose(get_params(state), _adam_numpy(x0, grads, 0.01), rtol=1e-15)
    init_fun, update_fun, get_params = optimizers.sgd(0.1)
    state = init_fun(x0)
    for i, g in enumerate(grads):
        state = update_fun(i, g, state)
    np.testing.assert_allclose(get_params(state), x0 - 0.1 * np.sum(grads, axis=0), rtol=1e-14)
    # the same under jit, with the step traced
    init_fun, update_fun, get_params = optimizers.adam(0.01)
    jitted = ft.jit(update_fun)
    state = init_fun(x0.astype(np.float32))
    for i, g in enumerate(grads):
        state = jitted(i, g.astype(np.float32), state)
    expected = _adam_numpy(x0, grads, 0.01)
    np.testing.assert_allclose(get_params(state), expected, rtol=2e-5, atol=1e-6)


def test_schedules():
    i = np.arange(0, 40, 7)
    np.testing.assert_allclose(optimizers.exponential_decay(0.1, 10, 0.5)(i), 0.1 * 0.5 ** (i / 10))
    np.testing.assert_allclose(optimizers.inverse_time_decay(1.0, 10, 2.0)(i), 1 / (1 + 2 * i / 10))
    np.testing.assert_allclose(optimizers.inverse_time_decay(1.0, 10, 2.0, staircase=True)(i),
                               1 / (1 + 2 * np.floor(i / 10)))
    np.testing.assert_allclose(optimizers.polynomial_decay(1.0, 20, 0.1, power=2.0)(i),
                               (1 - np.minimum(i, 20) / 20) ** 2 * 0.9 + 0.1)
    piecewise = optimizers.piecewise_constant([5, 20], [1.0, 0.5, 0.1])
    assert [float(piecewise(k)) for k in (0, 5, 6, 20, 21)] == [1.0, 1.0, 0.5, 0.5, 0.1]
    assert float(ft.jit(piecewise)(7)) == 0.5
    assert optimizers.constant(0.3)(1000) == 0.3
    assert optimizers.make_schedule(0.2)(5) == 0.2
    with pytest.raises(ValueError, match="one shorter than values"):
        optimizers.piecewise_constant([1, 2], [1.0])
    with pytest.raises(TypeError, match="must be a scalar or a schedule"):
        optimizers.make_schedule(np.ones(3))


def test_optimizer_state_is_a_pytree():
    params = {"w": np.ones((2, 3)), "layers": [np.zeros(2), np.ones(1)]}
    init_fun, update_fun, get_params = optimizers.momentum(0.1, 0.9)
    state = init_fun(params)
    leaves, _ = tree_flatten(state)
    assert len(leaves) == 6 and all(isinstance(leaf, np.ndarray) for leaf in leaves)
    passed = ft.jit(lambda s: s)(state)
    assert isinstance(passed, optimizers.OptimizerState)
    np.testing.assert_array_equal(get_params(passed)["w"], params["w"])
    restored = optimizers.pack_optimizer_state(optimizers.unpack_optimizer_state(state))
    assert restored.tree_def == state.tree_def and restored.subtree_defs == state.subtree_defs
    with pytest.raises(TypeError, match="did not match the parameter tree"):
        update_fun(0, {"w": np.ones((2, 3))}, state)


def test_clip_grads_and_l2_norm():
    grads = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}
    assert optimizers.l2_norm(grads) == 5.0
    clipped = optimizers.clip_grads(grads, 1.0)
    np.testing.assert_allclose(clipped["a"], [0.6, 0.0])
    np.testing.assert_allclose(optimizers.l2_norm(clipped), 1.0)
    np.testing.assert_array_equal(optimizers.clip_grads(grads, 10.0)["b"], grads["b"])
    small = {"a": np.array([3.0, 4.0], np.float32)}
    assert optimizers.clip_grads(small, 1.0)["a"].dtype == np.float32


def test_sm3_covers_each_axis():
    init_fun, update_fun, get_params = optimizers.sm3(0.1, momentum=0.0)
    x = np.ones((2, 3))
    state = init_fun(x)
    g = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    state = update_fun(0, g, state)
    _, _, rows, cols = state.packed_state[0]   # x, momentum, one cover vector per axis
    # first step: the accumulator is g**2, so every entry moves by 0.1 g / |g|
    np.testing.assert_allclose(get_params(state), x - 0.1)
    np.testing.assert_allclose(rows, np.max(g**2, axis=1))
    np.testing.assert_allclose(cols, np.max(g**2, axis=0))
    scalar_state = init_fun(np.float64(2.0))
    assert np.shape(get_params(update_fun(0, np.float64(1.0), scalar_state))) == ()
