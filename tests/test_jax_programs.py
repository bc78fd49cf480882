"""JAX quickstart / cookbook programs, run with only the import lines changed,
their numbers checked against NumPy."""

import numpy as np

import functrans as jax
import functrans.numpy as jnp
from functrans import grad, jit, random, vmap
from functrans.example_libraries import optimizers
from functrans.nn import initializers


def test_quickstart_selu_jit_with_random_keys():
    def selu(x, alpha=1.67, lmbda=1.05):
        return lmbda * jnp.where(x > 0, x, alpha * jnp.exp(x) - alpha)

    key = random.key(1701)
    x = random.normal(key, (1_000_000,))
    selu_jit = jax.jit(selu)
    # JAX writes selu_jit(x).block_until_ready(); eager functrans results are NumPy
    # arrays (a documented difference), so the function form
    out = jax.block_until_ready(selu_jit(x))
    x_np = np.asarray(x)
    expected = 1.05 * np.where(x_np > 0, x_np, 1.67 * np.exp(x_np) - 1.67)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert abs(float(jnp.mean(x))) < 5e-3 and abs(float(jnp.std(x)) - 1) < 5e-3
    # the same key gives the same numbers; split keys give different ones
    np.testing.assert_array_equal(random.normal(key, (3,)), random.normal(key, (3,)))
    key1, key2 = random.split(key)
    assert not np.allclose(random.normal(key1, (3,)), random.normal(key2, (3,)))


def test_cookbook_logistic_regression_with_dict_pytrees():
    def sigmoid(x):
        return 0.5 * (jnp.tanh(x / 2) + 1)

    def predict(params, inputs):
        return sigmoid(jnp.dot(inputs, params["W"]) + params["b"])

    inputs = jnp.array([[0.52, 1.12, 0.77], [0.88, -1.08, 0.15],
                        [0.52, 0.06, -1.30], [0.74, -2.49, 1.39]])
    targets = jnp.array([True, True, False, True])

    def loss(params):
        preds = predict(params, inputs)
        label_probs = preds * targets + (1 - preds) * (1 - targets)
        return -jnp.sum(jnp.log(label_probs))

    key = random.key(0)
    key, w_key, b_key = random.split(key, 3)
    params = {"W": random.normal(w_key, (3,)), "b": random.normal(b_key, ())}
    grads = grad(loss)(params)
    # the analytic gradient of the logistic loss: X^T (p - y), sum(p - y)
    p = 1 / (1 + np.exp(-(np.asarray(inputs) @ params["W"] + params["b"])))
    residual = p - np.asarray(targets, float)
    np.testing.assert_allclose(grads["W"], np.asarray(inputs).T @ residual, rtol=1e-10)
    np.testing.assert_allclose(grads["b"], residual.sum(), rtol=1e-10)

    @jit
    def update(params, lr=0.1):
        return jax.tree.map(lambda p, g: p - lr * g, params, grad(loss)(params))

    losses = [float(loss(params))]
    for _ in range(100):
        params = update(params)
        losses.append(float(loss(params)))
    assert losses[-1] < 0.5 * losses[0] and all(b <= a + 1e-12 for a, b in zip(losses, losses[1:]))


def test_cookbook_per_example_gradients():
    def predict(w, x):
        return jnp.tanh(jnp.dot(x, w))

    def loss(w, x, y):
        return (predict(w, x) - y) ** 2

    key = random.key(3)
    kx, ky, kw = random.split(key, 3)
    xs, ys, w = random.normal(kx, (8, 4)), random.normal(ky, (8,)), random.normal(kw, (4,))
    per_example = jit(vmap(grad(loss), in_axes=(None, 0, 0)))(w, xs, ys)
    assert per_example.shape == (8, 4)
    for i in range(8):
        t = np.tanh(xs[i] @ w)
        np.testing.assert_allclose(per_example[i], 2 * (t - ys[i]) * (1 - t ** 2) * xs[i],
                                   rtol=1e-10)
    np.testing.assert_allclose(per_example.mean(0),
                               grad(lambda w: jnp.mean(vmap(loss, (None, 0, 0))(w, xs, ys)))(w),
                               rtol=1e-10)


def test_mlp_trained_with_adam_and_initializers():
    layer_sizes = [2, 16, 16, 1]
    init_w = initializers.glorot_normal()
    key = random.key(42)
    params = []
    for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]):
        key, sub = random.split(key)
        params.append((init_w(sub, (n_in, n_out)), jnp.zeros(n_out)))

    def mlp(params, x):
        for w, b in params[:-1]:
            x = jnp.tanh(x @ w + b)
        w, b = params[-1]
        return (x @ w + b)[..., 0]

    key, sub = random.split(key)
    x = random.uniform(sub, (64, 2), minval=-1.0, maxval=1.0)
    y = jnp.sin(3 * x[:, 0]) * x[:, 1]

    def loss(params):
        return jnp.mean((mlp(params, x) - y) ** 2)

    opt_init, opt_update, get_params = optimizers.adam(1e-2)
    opt_state = opt_init(params)

    @jit
    def step(i, opt_state):
        value, grads = jax.value_and_grad(loss)(get_params(opt_state))
        return value, opt_update(i, grads, opt_state)

    first, _ = step(0, opt_state)
    for i in range(300):
        value, opt_state = step(i, opt_state)
    assert float(loss(get_params(opt_state))) < 0.1 * float(first)
    # glorot_normal's variance: 2 / (fan_in + fan_out)
    w = init_w(random.key(7), (400, 600))
    assert abs(float(jnp.var(w)) / (2 / 1000) - 1) < 0.05
    # the first Adam step moves each parameter by about the step size
    one = optimizers.adam(1e-2)
    state1 = one[1](0, jax.grad(loss)(params), one[0](params))
    moved = jax.tree.leaves(jax.tree.map(lambda a, b: jnp.abs(a - b), one[2](state1), params))
    assert all(float(jnp.max(m)) <= 1e-2 + 1e-9 for m in moved)
