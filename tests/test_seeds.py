"""The worked examples of the course notes functrans is built from, checked against functrans.

Each test codes a note's hand derivation in plain NumPy, step by step as the note derives it,
and compares it with what ``ft.grad`` / ``ft.vjp`` / ``ft.jvp`` compute. Notation follows the
notes: a bar is an adjoint (``u_bar`` = ∂z/∂u, the derivative of the final scalar with respect
to an intermediate), a dot is a tangent (``v_dot`` = ∂v/∂u, the derivative of an intermediate
with respect to the input), ``delta_x`` is Kamper's accumulator for ∂f/∂x.

The notes:

* Murray: MLPR notes, "Backpropagation of Derivatives".
* Kao: UCLA lecture slides on backpropagation.
* Grosse: Lecture 6, "Backpropagation".
* Kamper: "Yet another introduction to backpropagation".
* Bellani: "Back-propagation Lecture Notes".
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import functrans as ft
import functrans.numpy as fnp
from functrans import nn

RTOL = 1e-12


def sigmoid_np(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime_np(z):
    s = sigmoid_np(z)
    return s * (1.0 - s)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# =============================================================================================
# Murray: the scalar running example z = exp(sin(u^2) log(u^2))
# =============================================================================================

def murray_z(u):
    v = u**2
    w = fnp.sin(v)
    x = fnp.log(v)
    y = w * x
    return fnp.exp(y)


def murray_graph(u):
    """Every node of the note's graph, in its order: v, w, x, y, z."""
    v = u**2
    w = fnp.sin(v)
    x = fnp.log(v)
    y = w * x
    z = fnp.exp(y)
    return {"v": v, "w": w, "x": x, "y": y, "z": z}


def murray_forward_pass_np(u):
    v = u**2
    w = np.sin(v)
    x = np.log(v)
    y = w * x
    z = np.exp(y)
    return v, w, x, y, z


def murray_dots_np(u):
    """Forward mode as the note does it: each dot from its parents' dots."""
    v, w, x, y, z = murray_forward_pass_np(u)
    v_dot = 2 * u
    w_dot = np.cos(v) * v_dot
    x_dot = (1 / v) * v_dot
    y_dot = x * w_dot + w * x_dot
    z_dot = z * y_dot
    return {"v": v_dot, "w": w_dot, "x": x_dot, "y": y_dot, "z": z_dot}


def murray_bars_np(u):
    """Reverse mode as the note does it: each bar from its children's bars, right to left."""
    v, w, x, y, z = murray_forward_pass_np(u)
    y_bar = z                                  # = exp(y)
    x_bar = y_bar * w
    w_bar = y_bar * x
    v_bar = w_bar * np.cos(v) + x_bar * (1 / v)
    u_bar = v_bar * (2 * u)
    return {"u": u_bar, "v": v_bar, "w": w_bar, "x": x_bar, "y": y_bar}


MURRAY_US = [0.7, 1.5, 2.3, -1.1]


@pytest.mark.parametrize("u", MURRAY_US)
def test_murray_forward_mode_every_dot(u):
    # One forward sweep with u_dot = 1 gives the tangent of every node at once.
    values, dots = ft.jvp(murray_graph, (u,), (1.0,))
    hand = murray_dots_np(u)
    for name in "vwxyz":
        assert_allclose(dots[name], hand[name], rtol=RTOL, err_msg=f"{name}_dot")
    assert_allclose(values["z"], murray_forward_pass_np(u)[-1], rtol=RTOL)


@pytest.mark.parametrize("u", MURRAY_US)
def test_murray_reverse_mode_every_bar(u):
    # Each bar is the derivative of z with respect to one node, holding the node's own
    # parents out of it: the VJP of the rest of the graph, seeded with z_bar = 1.
    v, w, x, y, _ = murray_forward_pass_np(u)
    hand = murray_bars_np(u)

    _, from_y = ft.vjp(fnp.exp, y)
    _, from_w_x = ft.vjp(lambda w, x: fnp.exp(w * x), w, x)
    _, from_v = ft.vjp(lambda v: fnp.exp(fnp.sin(v) * fnp.log(v)), v)
    (y_bar,) = from_y(1.0)
    w_bar, x_bar = from_w_x(1.0)
    (v_bar,) = from_v(1.0)
    u_bar = ft.grad(murray_z)(u)

    got = {"u": u_bar, "v": v_bar, "w": w_bar, "x": x_bar, "y": y_bar}
    for name, value in got.items():
        assert_allclose(value, hand[name], rtol=RTOL, err_msg=f"{name}_bar")


def test_murray_one_reverse_sweep_gives_every_bar():
    # Perturb every node by an offset; the gradient with respect to the offsets (at zero)
    # is every bar, from a single reverse sweep.
    u = 1.5

    def z_of_offsets(u, d):
        v = u**2 + d["v"]
        w = fnp.sin(v) + d["w"]
        x = fnp.log(v) + d["x"]
        y = w * x + d["y"]
        return fnp.exp(y)

    zeros = {k: 0.0 for k in "vwxy"}
    u_bar, bars = ft.grad(z_of_offsets, argnums=(0, 1))(u, zeros)
    hand = murray_bars_np(u)
    assert_allclose(u_bar, hand["u"], rtol=RTOL)
    for name in "vwxy":
        assert_allclose(bars[name], hand[name], rtol=RTOL, err_msg=f"{name}_bar")


@pytest.mark.parametrize("u", MURRAY_US)
def test_murray_forward_equals_reverse(u):
    # z_dot = u_bar = dz/du: forward mode runs the chain left to right, reverse right to left.
    _, z_dot = ft.jvp(murray_z, (u,), (1.0,))
    u_bar = ft.grad(murray_z)(u)
    v, w, x, y, z = murray_forward_pass_np(u)
    product = (2 * u) * (np.cos(v) * x + (1 / v) * w) * z   # the note's bracketed product
    assert_allclose(z_dot, u_bar, rtol=RTOL)
    assert_allclose(u_bar, product, rtol=RTOL)


def test_murray_random_settings_of_u(rng):
    # "Check the maths numerically for some random settings of u": the hand formulas, ft's
    # reverse mode (vectorised with vmap, compiled with jit) and central finite differences.
    us = rng.uniform(0.2, 3.0, size=200)
    hand = murray_bars_np(us)["u"]
    got = ft.jit(ft.vmap(ft.grad(murray_z)))(us)
    assert_allclose(got, hand, rtol=1e-12)
    h = 1e-6
    z = lambda u: murray_forward_pass_np(u)[-1]
    finite_diff = (z(us + h) - z(us - h)) / (2 * h)
    assert_allclose(got, finite_diff, rtol=1e-6, atol=1e-8)


def test_murray_linearize_records_the_local_derivatives():
    # linearize evaluates the primal once and keeps the tangent map, a linear function.
    u = 1.5
    z, z_dot_of = ft.linearize(murray_z, u)
    hand = murray_dots_np(u)["z"]
    assert_allclose(z, murray_forward_pass_np(u)[-1], rtol=RTOL)
    assert_allclose(z_dot_of(1.0), hand, rtol=RTOL)
    assert_allclose(z_dot_of(-2.5), -2.5 * hand, rtol=RTOL)


# =============================================================================================
# Murray: the chain-rule review, f = x^2 y and polar coordinates
# =============================================================================================

def f_x2y(x, y):
    return x**2 * y


def test_murray_x2y_partials():
    x, y = 1.3, -0.7
    df_dx, df_dy = ft.grad(f_x2y, argnums=(0, 1))(x, y)
    assert_allclose(df_dx, 2 * x * y, rtol=RTOL)
    assert_allclose(df_dy, x**2, rtol=RTOL)


def test_murray_x2y_predicts_small_changes():
    # A small perturbation (delta_x, delta_y) changes f by about df/dx delta_x + df/dy delta_y:
    # that prediction is exactly the JVP, and agrees with the real change to second order.
    x, y = 1.3, -0.7
    delta_x, delta_y = 1e-4, -2e-4
    f0, predicted = ft.jvp(f_x2y, (x, y), (delta_x, delta_y))
    assert_allclose(predicted, 2 * x * y * delta_x + x**2 * delta_y, rtol=RTOL)
    actual = f_x2y(x + delta_x, y + delta_y) - f0
    assert abs(actual - predicted) < 1e-7


def test_murray_polar_chain_rule():
    r, theta = 1.7, 0.6

    def f_polar(r, theta):
        return f_x2y(r * fnp.cos(theta), r * fnp.sin(theta))

    x, y = r * np.cos(theta), r * np.sin(theta)
    df_dx, df_dy = 2 * x * y, x**2
    # The chain rule through the intermediate quantities x and y ...
    df_dr = df_dx * np.cos(theta) + df_dy * np.sin(theta)
    df_dtheta = df_dx * (-r * np.sin(theta)) + df_dy * (r * np.cos(theta))
    # ... and by substituting first: f = r^3 cos^2(theta) sin(theta).
    c, s = np.cos(theta), np.sin(theta)
    direct_dr = 3 * r**2 * c**2 * s
    direct_dtheta = r**3 * (c**3 - 2 * c * s**2)

    got_dr, got_dtheta = ft.grad(f_polar, argnums=(0, 1))(r, theta)
    assert_allclose([got_dr, got_dtheta], [df_dr, df_dtheta], rtol=RTOL)
    assert_allclose([got_dr, got_dtheta], [direct_dr, direct_dtheta], rtol=RTOL)


# =============================================================================================
# Murray: backpropagation rules for matrix operations (C_bar given, A_bar and B_bar wanted)
# =============================================================================================

def test_murray_matrix_product(rng):
    # Non-square shapes, so a transpose in the wrong place cannot go unnoticed.
    A, B = rng.normal(size=(3, 4)), rng.normal(size=(4, 5))
    C_bar = rng.normal(size=(3, 5))
    C, backprop = ft.vjp(lambda A, B: A @ B, A, B)
    A_bar, B_bar = backprop(C_bar)
    assert_allclose(C, A @ B, rtol=RTOL)
    assert_allclose(A_bar, C_bar @ B.T, rtol=RTOL)
    assert_allclose(B_bar, A.T @ C_bar, rtol=RTOL)


def test_murray_matrix_addition(rng):
    A, B = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    C_bar = rng.normal(size=(3, 4))
    _, backprop = ft.vjp(lambda A, B: A + B, A, B)
    A_bar, B_bar = backprop(C_bar)
    assert_allclose(A_bar, C_bar)
    assert_allclose(B_bar, C_bar)


@pytest.mark.parametrize("g, g_prime", [
    (fnp.sin, np.cos),
    (fnp.exp, np.exp),
    (fnp.tanh, lambda a: 1 - np.tanh(a) ** 2),
    (nn.sigmoid, sigmoid_prime_np),
], ids=["sin", "exp", "tanh", "sigmoid"])
def test_murray_elementwise_function(rng, g, g_prime):
    A = rng.normal(size=(3, 4))
    C_bar = rng.normal(size=(3, 4))
    _, backprop = ft.vjp(g, A)
    (A_bar,) = backprop(C_bar)
    assert_allclose(A_bar, g_prime(A) * C_bar, rtol=1e-12)


def test_murray_masking_tril(rng):
    A = rng.normal(size=(4, 4))
    C_bar = rng.normal(size=(4, 4))
    C, backprop = ft.vjp(fnp.tril, A)
    (A_bar,) = backprop(C_bar)
    assert_allclose(C, np.tril(A))
    assert_allclose(A_bar, np.tril(C_bar))      # the mask applied to the adjoint


def test_murray_reshaping_transpose(rng):
    A = rng.normal(size=(3, 5))
    C_bar = rng.normal(size=(5, 3))
    _, backprop = ft.vjp(lambda A: A.T, A)
    (A_bar,) = backprop(C_bar)
    assert_allclose(A_bar, C_bar.T)             # the reverse rearrangement


def test_murray_reshaping_vec(rng):
    # vec stacks the columns of A into one column; A_bar puts C_bar's entries back.
    A = rng.normal(size=(3, 5))

    def vec(A):
        return fnp.reshape(A.T, (-1, 1))

    C_bar = rng.normal(size=(15, 1))
    C, backprop = ft.vjp(vec, A)
    (A_bar,) = backprop(C_bar)
    assert_allclose(C[:, 0], np.concatenate([A[:, j] for j in range(5)]))
    assert_allclose(A_bar, C_bar.reshape(5, 3).T)


def test_murray_reshaping_ignored_elements_get_zero(rng):
    A = rng.normal(size=(3, 5))
    C_bar = rng.normal(size=(3, 2))
    _, backprop = ft.vjp(lambda A: A[:, 1:3], A)
    (A_bar,) = backprop(C_bar)
    expected = np.zeros_like(A)
    expected[:, 1:3] = C_bar
    assert_allclose(A_bar, expected)


def test_murray_AtB_only_one_candidate_has_the_right_shape(rng):
    # C = A^T B with A: K x M, B: K x N. Of the note's five candidates for A_bar, only
    # B C_bar^T has A's shape when K, M, N differ, and it is the right one.
    K, M, N = 2, 3, 4
    A, B = rng.normal(size=(K, M)), rng.normal(size=(K, N))
    C_bar = rng.normal(size=(M, N))
    candidates = {
        "B C_bar": lambda: B @ C_bar,
        "B^T C_bar": lambda: B.T @ C_bar,
        "B C_bar^T": lambda: B @ C_bar.T,
        "B^T C_bar^T": lambda: B.T @ C_bar.T,
        "C_bar B^T": lambda: C_bar @ B.T,
    }
    well_shaped = []
    for name, build in candidates.items():
        try:
            if build().shape == A.shape:
                well_shaped.append(name)
        except ValueError:                       # the shapes do not even multiply
            pass
    assert well_shaped == ["B C_bar^T"]

    _, backprop = ft.vjp(lambda A, B: A.T @ B, A, B)
    A_bar, B_bar = backprop(C_bar)
    assert_allclose(A_bar, B @ C_bar.T, rtol=RTOL)
    assert_allclose(B_bar, A @ C_bar, rtol=RTOL)


def test_murray_local_derivatives_from_the_backprop_rule(rng):
    # With the rule that maps C_bar to B_bar, a one-hot C_bar (1 at (i, j)) gives
    # dC_ij/dB_kl for all k, l: one slice of the full Jacobian, which we rarely want.
    A, B = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    _, backprop = ft.vjp(lambda B: A @ B, B)
    jacobian = ft.jacrev(lambda B: A @ B)(B)            # shape (3, 2, 4, 2): C index, B index
    for i, j in [(0, 0), (2, 1)]:
        one_hot = np.zeros((3, 2))
        one_hot[i, j] = 1.0
        (slice_ij,) = backprop(one_hot)
        assert_allclose(slice_ij, jacobian[i, j], rtol=RTOL)


def test_murray_quadratic_form_xAy(rng):
    x, A, y = rng.normal(size=3), rng.normal(size=(3, 4)), rng.normal(size=4)
    x_bar, A_bar, y_bar = ft.grad(lambda x, A, y: x @ A @ y, argnums=(0, 1, 2))(x, A, y)
    assert_allclose(x_bar, A @ y, rtol=RTOL)
    assert_allclose(A_bar, np.outer(x, y), rtol=RTOL)
    assert_allclose(y_bar, A.T @ x, rtol=RTOL)


def test_murray_quadratic_form_xAx(rng):
    # x is used twice, so its bar sums both uses: (A + A^T) x.
    x, A = rng.normal(size=4), rng.normal(size=(4, 4))
    x_bar, A_bar = ft.grad(lambda x, A: x @ A @ x, argnums=(0, 1))(x, A)
    assert_allclose(x_bar, (A + A.T) @ x, rtol=RTOL)
    assert_allclose(A_bar, np.outer(x, x), rtol=RTOL)


def test_murray_minibatch_feedforward_layers(rng):
    # Examples in columns: A^(l) = W^(l) H^(l-1) + b^(l) 1_B^T, H^(l) = g(A^(l)), here with
    # g = tanh in the hidden layer, the identity at the output, F = H^(L)^T and
    # c = 1/2 sum (F - Y)^2.
    K0, K1, K2, batch = 3, 5, 2, 7
    params = {
        "W1": rng.normal(size=(K1, K0)), "b1": rng.normal(size=(K1, 1)),
        "W2": rng.normal(size=(K2, K1)), "b2": rng.normal(size=(K2, 1)),
    }
    X = rng.normal(size=(batch, K0))
    Y = rng.normal(size=(batch, K2))

    def cost(p, X, Y):
        H0 = X.T
        A1 = p["W1"] @ H0 + p["b1"] @ fnp.ones((1, batch))
        H1 = fnp.tanh(A1)
        A2 = p["W2"] @ H1 + p["b2"] @ fnp.ones((1, batch))
        F = A2.T
        return 0.5 * fnp.sum((F - Y) ** 2)

    # The hand backward pass, with the note's layer updates.
    p = params
    H0 = X.T
    A1 = p["W1"] @ H0 + p["b1"]
    H1 = np.tanh(A1)
    A2 = p["W2"] @ H1 + p["b2"]
    A2_bar = (A2.T - Y).T                         # starts from the loss: F_bar = F - Y
    b2_bar = A2_bar @ np.ones((batch, 1))
    W2_bar = A2_bar @ H1.T
    H1_bar = p["W2"].T @ A2_bar
    A1_bar = (1 - np.tanh(A1) ** 2) * H1_bar      # g'(A) ⊙ H_bar
    b1_bar = A1_bar @ np.ones((batch, 1))
    W1_bar = A1_bar @ H0.T
    H0_bar = p["W1"].T @ A1_bar

    grads, X_bar = ft.grad(cost, argnums=(0, 1))(params, X, Y)
    hand = {"W1": W1_bar, "b1": b1_bar, "W2": W2_bar, "b2": b2_bar}
    for name in hand:
        assert_allclose(grads[name], hand[name], rtol=1e-10, err_msg=name)
    assert_allclose(X_bar, H0_bar.T, rtol=1e-10)

    # The error signal delta = A_bar of the hidden layer: the VJP of the rest of the network.
    def rest_of_network(A1):
        A2 = p["W2"] @ fnp.tanh(A1) + p["b2"]
        return 0.5 * fnp.sum((A2.T - Y) ** 2)

    assert_allclose(ft.grad(rest_of_network)(A1), A1_bar, rtol=1e-10)


# =============================================================================================
# Kao: softplus, sigmoid(w^T x), H = ReLU(WX + b), dl/dW = (dl/dc) x^T
# =============================================================================================

@pytest.mark.parametrize("x", [-3.0, -0.5, 0.0, 0.8, 4.0])
def test_kao_softplus(x):
    # Backprop through b = exp(x), a = 1 + b, y = log(a).
    b = np.exp(x)
    a = 1 + b
    dy_da = 1 / a
    dy_db = dy_da
    dy_dx = np.exp(x) * dy_db
    analytic = np.exp(x) / (1 + np.exp(x))
    assert_allclose(dy_dx, analytic, rtol=RTOL)

    composed = ft.grad(lambda x: fnp.log(1 + fnp.exp(x)))(x)
    library = ft.grad(nn.softplus)(x)
    assert_allclose(composed, dy_dx, rtol=RTOL)
    assert_allclose(library, dy_dx, rtol=1e-12)


def test_kao_softplus_vectorised():
    xs = np.linspace(-5, 5, 11)
    assert_allclose(ft.vmap(ft.grad(nn.softplus))(xs), sigmoid_np(xs), rtol=1e-12)


def test_kao_sigmoid_of_inner_product(rng):
    w, x = rng.normal(size=4), rng.normal(size=4)
    e = -(w @ x)
    grad_w = np.exp(e) / (1 + np.exp(e)) ** 2 * x          # the slides' closed form
    grad_x = np.exp(e) / (1 + np.exp(e)) ** 2 * w          # "a similar computation"

    def y_composed(w, x):
        return 1.0 / (1.0 + fnp.exp(-fnp.dot(w, x)))

    for fun in (y_composed, lambda w, x: nn.sigmoid(w @ x)):
        got_w, got_x = ft.grad(fun, argnums=(0, 1))(w, x)
        assert_allclose(got_w, grad_w, rtol=1e-12)
        assert_allclose(got_x, grad_x, rtol=1e-12)


def test_kao_relu_layer_single_example(rng):
    # h = ReLU(a), a = c + b, c = W x: backprop an upstream dl/dh through the layer.
    h_dim, m = 4, 3
    W, x, b = rng.normal(size=(h_dim, m)), rng.normal(size=m), rng.normal(size=h_dim)
    dl_dh = rng.normal(size=h_dim)
    c = W @ x
    a = c + b
    dl_da = (a > 0) * dl_dh
    dl_dc = dl_da
    dl_dx = W.T @ dl_dc
    dl_dW = np.outer(dl_dc, x)
    dl_db = dl_da

    _, backprop = ft.vjp(lambda W, x, b: nn.relu(W @ x + b), W, x, b)
    W_bar, x_bar, b_bar = backprop(dl_dh)
    assert_allclose(W_bar, dl_dW, rtol=RTOL)
    assert_allclose(x_bar, dl_dx, rtol=RTOL)
    assert_allclose(b_bar, dl_db, rtol=RTOL)


def test_kao_relu_layer_minibatch(rng):
    # H = ReLU(WX + b) with examples in columns and b broadcast along them.
    h_dim, m, batch = 4, 3, 6
    W, X, b = rng.normal(size=(h_dim, m)), rng.normal(size=(m, batch)), rng.normal(size=(h_dim, 1))
    H_bar = rng.normal(size=(h_dim, batch))
    A = W @ X + b
    A_bar = (A > 0) * H_bar
    H, backprop = ft.vjp(lambda W, X, b: nn.relu(W @ X + b), W, X, b)
    W_bar, X_bar, b_bar = backprop(H_bar)
    assert_allclose(H, np.maximum(A, 0), rtol=RTOL)
    assert_allclose(W_bar, A_bar @ X.T, rtol=RTOL)
    assert_allclose(X_bar, W.T @ A_bar, rtol=RTOL)
    assert_allclose(b_bar, A_bar.sum(axis=1, keepdims=True), rtol=RTOL)


def test_kao_weight_gradient_without_the_3_tensor(rng):
    # dl/dW = (dl/dc) x^T. The rigorous route contracts the h x h x m tensor dc/dW with
    # dl/dc; reverse mode never builds that tensor but gives the same outer product.
    h_dim, m = 4, 3
    W, x = rng.normal(size=(h_dim, m)), rng.normal(size=m)
    dl_dc = rng.normal(size=h_dim)

    dc_dW = ft.jacfwd(lambda W: W @ x)(W)                  # (h, h, m): c index, W index
    assert dc_dW.shape == (h_dim, h_dim, m)
    for i in range(h_dim):                                 # row i of dc_i/dW is x^T
        expected = np.zeros((h_dim, m))
        expected[i] = x
        assert_allclose(dc_dW[i], expected)
    via_tensor = np.tensordot(dl_dc, dc_dW, axes=1)

    _, backprop = ft.vjp(lambda W: W @ x, W)
    (via_vjp,) = backprop(dl_dc)
    assert_allclose(via_tensor, np.outer(dl_dc, x), rtol=RTOL)
    assert_allclose(via_vjp, np.outer(dl_dc, x), rtol=RTOL)


# =============================================================================================
# Grosse: the regularised logistic unit and the two-layer MLP
# =============================================================================================

GROSSE = {"w": 0.8, "b": -0.3, "x": 1.5, "t": 1.0, "lam": 0.1}


def grosse_cost(w, b, x, t, lam):
    z = w * x + b
    y = nn.sigmoid(z)
    L = 0.5 * (y - t) ** 2
    R = 0.5 * w**2
    return L + lam * R


def test_grosse_logistic_unit_backprop():
    w, b, x, t, lam = GROSSE.values()
    # forward pass
    z = w * x + b
    y = sigmoid_np(z)
    # backward pass, in the note's order
    L_reg_bar = 1.0
    R_bar = L_reg_bar * lam
    L_bar = L_reg_bar
    y_bar = L_bar * (y - t)
    z_bar = y_bar * sigmoid_prime_np(z)
    w_bar = z_bar * x + R_bar * w
    b_bar = z_bar

    got_w, got_b = ft.grad(grosse_cost, argnums=(0, 1))(w, b, x, t, lam)
    assert_allclose(got_w, w_bar, rtol=RTOL)
    assert_allclose(got_b, b_bar, rtol=RTOL)


def test_grosse_logistic_unit_calculus_class_formulas():
    # The expanded formulas of Section 2.1 give the same numbers, with more work.
    w, b, x, t, lam = GROSSE.values()
    s, s_prime = sigmoid_np(w * x + b), sigmoid_prime_np(w * x + b)
    dw = (s - t) * s_prime * x + lam * w
    db = (s - t) * s_prime
    assert_allclose(ft.grad(grosse_cost, argnums=(0, 1))(w, b, x, t, lam), (dw, db), rtol=RTOL)


def test_grosse_which_partial_derivative():
    # The appendix: as a function of (L, w), dE/dw = lambda w; as a function of the
    # parameters (w, b), dE/dw also counts w's path through L. grad differentiates the
    # Python function you give it, so both meanings are explicit.
    w, b, x, t, lam = GROSSE.values()
    E_of_L_w = lambda L, w: L + lam / 2 * w**2
    assert_allclose(ft.grad(E_of_L_w, argnums=1)(0.3, w), lam * w, rtol=RTOL)
    full = ft.grad(grosse_cost)(w, b, x, t, lam)
    assert not np.isclose(full, lam * w)


def grosse_mlp_params(rng, n_in=3, n_hidden=4, n_out=2):
    return {
        "W1": rng.normal(size=(n_hidden, n_in)), "b1": rng.normal(size=n_hidden),
        "W2": rng.normal(size=(n_out, n_hidden)), "b2": rng.normal(size=n_out),
    }


def grosse_mlp_loss(params, x, t):
    z = params["W1"] @ x + params["b1"]
    h = nn.sigmoid(z)
    y = params["W2"] @ h + params["b2"]
    return 0.5 * fnp.sum((t - y) ** 2)


def test_grosse_mlp_index_form(rng):
    params = grosse_mlp_params(rng)
    x, t = rng.normal(size=3), rng.normal(size=2)
    W1, b1, W2, b2 = (params[k] for k in ("W1", "b1", "W2", "b2"))
    n_hidden, n_in = W1.shape
    n_out = W2.shape[0]
    # forward pass, one unit at a time
    z = [sum(W1[i, j] * x[j] for j in range(n_in)) + b1[i] for i in range(n_hidden)]
    h = [sigmoid_np(z_i) for z_i in z]
    y = [sum(W2[k, i] * h[i] for i in range(n_hidden)) + b2[k] for k in range(n_out)]
    # backward pass, one unit at a time
    y_bar = [y[k] - t[k] for k in range(n_out)]
    W2_bar = np.array([[y_bar[k] * h[i] for i in range(n_hidden)] for k in range(n_out)])
    b2_bar = np.array(y_bar)
    h_bar = [sum(y_bar[k] * W2[k, i] for k in range(n_out)) for i in range(n_hidden)]
    z_bar = [h_bar[i] * sigmoid_prime_np(z[i]) for i in range(n_hidden)]
    W1_bar = np.array([[z_bar[i] * x[j] for j in range(n_in)] for i in range(n_hidden)])
    b1_bar = np.array(z_bar)

    grads = ft.grad(grosse_mlp_loss)(params, x, t)
    hand = {"W1": W1_bar, "b1": b1_bar, "W2": W2_bar, "b2": b2_bar}
    for name in hand:
        assert_allclose(grads[name], hand[name], rtol=1e-12, err_msg=name)


def test_grosse_mlp_vectorised_form(rng):
    params = grosse_mlp_params(rng)
    x, t = rng.normal(size=3), rng.normal(size=2)
    p = params
    z = p["W1"] @ x + p["b1"]
    h = sigmoid_np(z)
    y = p["W2"] @ h + p["b2"]
    y_bar = y - t
    hand = {
        "W2": np.outer(y_bar, h),
        "b2": y_bar,
        "W1": np.outer((p["W2"].T @ y_bar) * sigmoid_prime_np(z), x),
        "b1": (p["W2"].T @ y_bar) * sigmoid_prime_np(z),
    }
    loss, grads = ft.value_and_grad(grosse_mlp_loss)(params, x, t)
    assert_allclose(loss, 0.5 * np.sum((t - y) ** 2), rtol=RTOL)
    for name in hand:
        assert_allclose(grads[name], hand[name], rtol=1e-12, err_msg=name)


# =============================================================================================
# Kamper: f(x, y) = (x + sigma(y)) / (x^2 + y), the L-layer net, C = A B^T
# =============================================================================================

def kamper_f(x, y):
    return (x + nn.sigmoid(y)) / (x**2 + y)


def test_kamper_scalar_example_at_3_minus_4():
    x, y = 3.0, -4.0
    # the note's forward pass
    a = 1.0 / (1 + np.exp(-y))   # (1)
    b = x + a                     # (2)
    c = x**2                      # (3)
    d = y + c                     # (4)
    e = 1.0 / d                   # (5)
    f = b * e                     # (6)
    # the note's backward pass, accumulating into delta_x and delta_y where x and y fork
    delta_b = e                   # (6)
    delta_e = b                   # (6)
    delta_d = delta_e * (-1.0 / d**2)   # (5)
    delta_y = delta_d * 1         # (4)
    delta_c = delta_d * 1         # (4)
    delta_x = delta_c * (2 * x)   # (3)
    delta_x += delta_b * 1        # (2)
    delta_a = delta_b * 1         # (2)
    delta_y += delta_a * ((1 - a) * a)  # (1)

    value, (got_x, got_y) = ft.value_and_grad(kamper_f, argnums=(0, 1))(x, y)
    assert_allclose(value, f, rtol=RTOL)
    assert_allclose([got_x, got_y], [delta_x, delta_y], rtol=RTOL)
    # The numbers at (3, -4), to six places.
    assert_allclose([value, got_x, got_y], [0.603597, -0.524317, -0.117187], atol=5e-7)


def test_kamper_L_layer_network(rng):
    # J = ||y - a^[L]||^2, a^[l] = g(z^[l]), z^[l] = W^[l] a^[l-1] + b^[l], g = sigmoid.
    sizes = [4, 5, 3, 2]                                  # K, two hidden layers, D
    layers = [(rng.normal(size=(n_out, n_in)), rng.normal(size=n_out))
              for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]
    x, y = rng.normal(size=sizes[0]), rng.normal(size=sizes[-1])

    def J(layers, x, y):
        a = x
        for W, b in layers:
            a = nn.sigmoid(W @ a + b)
        return fnp.sum((y - a) ** 2)

    # forward pass, storing each z^[l] and a^[l]
    activations, pre_activations = [x], []
    for W, b in layers:
        pre_activations.append(W @ activations[-1] + b)
        activations.append(sigmoid_np(pre_activations[-1]))
    # backward pass, equations (15) and (21)-(24)
    delta_a = -2 * (y - activations[-1])
    hand = [None] * len(layers)
    for layer in reversed(range(len(layers))):
        W, _ = layers[layer]
        delta_z = delta_a * sigmoid_prime_np(pre_activations[layer])
        hand[layer] = (np.outer(delta_z, activations[layer]), delta_z)
        delta_a = W.T @ delta_z

    grads = ft.grad(J)(layers, x, y)
    for layer, ((dW, db), (hand_W, hand_b)) in enumerate(zip(grads, hand, strict=True)):
        assert_allclose(dW, hand_W, rtol=1e-12, err_msg=f"W^[{layer + 1}]")
        assert_allclose(db, hand_b, rtol=1e-12, err_msg=f"b^[{layer + 1}]")
    assert_allclose(ft.grad(J, argnums=1)(layers, x, y), delta_a, rtol=1e-12)


def test_kamper_ABt(rng):
    N, K, D = 3, 4, 5
    A, B = rng.normal(size=(N, K)), rng.normal(size=(D, K))
    delta_C = rng.normal(size=(N, D))
    C, backprop = ft.vjp(lambda A, B: A @ B.T, A, B)
    delta_A, delta_B = backprop(delta_C)
    assert_allclose(delta_A, delta_C @ B, rtol=RTOL)       # (26)
    assert_allclose(delta_B, delta_C.T @ A, rtol=RTOL)     # (25)
    # and the index form the note derives (25) from
    index_form = np.array([[sum(delta_C[n, m] * A[n, p] for n in range(N)) for p in range(K)]
                           for m in range(D)])
    assert_allclose(delta_B, index_form, rtol=RTOL)


# =============================================================================================
# Bellani: f(x1, x2) = log x1 + x1 x2 - sin x2, control flow, VJPs, <AX, G>
# =============================================================================================

def bellani_f(x1, x2):
    return fnp.log(x1) + x1 * x2 - fnp.sin(x2)


def test_bellani_gradient_at_2_5_float32():
    x1, x2 = np.float32(2.0), np.float32(5.0)
    g1, g2 = ft.grad(bellani_f, argnums=(0, 1))(x1, x2)
    assert g1.dtype == np.float32 and g2.dtype == np.float32
    assert_allclose(g1, 1 / 2 + 5, rtol=1e-6)
    assert_allclose(g2, 2 - np.cos(5.0), rtol=1e-6)
    assert_allclose(g2, 1.7163378, rtol=1e-6)


def test_bellani_adjoint_trace():
    # Figure 1: forward v_-1 .. v_5, then the adjoints from v5_bar = 1 backwards.
    vm1, v0 = 2.0, 5.0
    v1 = np.log(vm1)
    v2 = vm1 * v0
    v3 = np.sin(v0)
    v4 = v1 + v2
    v5 = v4 - v3
    v5_bar = 1.0
    v4_bar = v5_bar * 1
    v3_bar = v5_bar * -1
    v1_bar = v4_bar * 1
    v2_bar = v4_bar * 1
    v0_bar = v3_bar * np.cos(v0)
    vm1_bar = v2_bar * v0
    v0_bar += v2_bar * vm1
    vm1_bar += v1_bar * (1 / vm1)
    value, grads = ft.value_and_grad(bellani_f, argnums=(0, 1))(vm1, v0)
    assert_allclose(value, v5, rtol=RTOL)
    assert_allclose(grads, (vm1_bar, v0_bar), rtol=RTOL)


def test_bellani_float32_finite_difference_error():
    # The note's forward difference in float32 with h = 1e-5 is off by about 0.095 (it
    # prints 0.09509146); reverse mode in float32 is right to float32 precision.
    x1, x2, h = np.array([2.0, 5.0, 1e-5], dtype=np.float32)

    def f_np(x1, x2):
        return np.log(x1) + x1 * x2 - np.sin(x2)

    exact = x1 - np.cos(x2)
    finite_diff = (f_np(x1, x2 + h) - f_np(x1, x2)) / h
    assert finite_diff.dtype == np.float32
    fd_error = abs(exact - finite_diff)
    assert fd_error == pytest.approx(0.095, abs=0.02)

    autodiff = ft.grad(bellani_f, argnums=1)(x1, x2)
    assert autodiff.dtype == np.float32
    assert abs(exact - autodiff) <= 4 * np.finfo(np.float32).eps * abs(exact)


def test_bellani_branch_on_concrete_values():
    # `x = a + b if a > 0 else a + c`: each call differentiates the branch actually taken.
    def branchy(a, b, c):
        return a + b if a > 0 else a + c

    grad_abc = ft.grad(branchy, argnums=(0, 1, 2))
    assert_allclose(grad_abc(1.0, 2.0, 3.0), (1.0, 1.0, 0.0))
    assert_allclose(grad_abc(-1.0, 2.0, 3.0), (1.0, 0.0, 1.0))
    _, tangent = ft.jvp(branchy, (-1.0, 2.0, 3.0), (0.0, 0.0, 1.0))
    assert tangent == 1.0


def test_bellani_loops_on_concrete_values():
    # A Python for loop (its length an ordinary int) and a while loop on a traced value's
    # concrete value: grad follows whatever graph the run builds.
    def power(x, n):
        result = 1.0
        for _ in range(n):
            result = result * x
        return result

    for n in range(1, 5):
        assert_allclose(ft.grad(power)(1.7, n), n * 1.7 ** (n - 1), rtol=RTOL)

    def halve_until_small(x):
        while x > 1.0:          # the number of steps depends on x
            x = x / 2
        return fnp.sin(x)

    assert_allclose(ft.grad(halve_until_small)(5.0), np.cos(5.0 / 8) / 8, rtol=RTOL)
    assert_allclose(ft.grad(halve_until_small)(0.5), np.cos(0.5), rtol=RTOL)


def test_bellani_branch_on_traced_value_under_jit_needs_static():
    # Under jit the value is abstract, so the `if` cannot be decided; a static argument
    # (a Python value fixed at trace time) can be branched on.
    def branchy(a, b, c):
        return a + b if a > 0 else a + c

    with pytest.raises(ft.ConcretizationTypeError):
        ft.jit(branchy)(1.0, 2.0, 3.0)

    def scaled(x, positive):
        return 2 * x if positive else -x

    fast = ft.jit(scaled, static_argnums=1)
    assert fast(3.0, True) == 6.0 and fast(3.0, False) == -3.0


def test_bellani_vjp_of_elementwise_product_is_not_a_jacobian(rng):
    # f(x) = a ⊙ x has the diagonal Jacobian diag(a); the VJP is just a ⊙ g.
    a, x, g = rng.normal(size=5), rng.normal(size=5), rng.normal(size=5)
    _, backprop = ft.vjp(lambda x: a * x, x)
    (via_vjp,) = backprop(g)
    assert_allclose(via_vjp, a * g, rtol=RTOL)
    jacobian = ft.jacrev(lambda x: a * x)(x)
    assert_allclose(jacobian, np.diag(a))
    assert_allclose(jacobian.T @ g, via_vjp, rtol=RTOL)


def test_bellani_vjp_of_matrix_vector_product(rng):
    A, x, g = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=3)
    _, backprop = ft.vjp(lambda x: A @ x, x)
    assert_allclose(backprop(g)[0], A.T @ g, rtol=RTOL)


def test_bellani_inner_product_AX_G(rng):
    # d<AX, G>/dX = A^T G: the VJP of X -> AX, seeded with G.
    A, X, G = rng.normal(size=(3, 4)), rng.normal(size=(4, 6)), rng.normal(size=(3, 6))
    inner = lambda X: fnp.sum((A @ X) * G)
    as_trace = lambda X: fnp.trace((A @ X).T @ G)         # <P, Q> = tr(P^T Q)
    assert_allclose(ft.grad(inner)(X), A.T @ G, rtol=RTOL)
    assert_allclose(ft.grad(as_trace)(X), A.T @ G, rtol=RTOL)
    _, backprop = ft.vjp(lambda X: A @ X, X)
    assert_allclose(backprop(G)[0], A.T @ G, rtol=RTOL)
    # and the identity it rests on: d tr(X^T A)/dX = A
    B = rng.normal(size=(4, 6))
    assert_allclose(ft.grad(lambda X: fnp.trace(X.T @ B))(X), B, rtol=RTOL)
