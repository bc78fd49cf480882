"""Small programs written for NumPy, differentiated without edits.

Each program below uses ``numpy`` only, as its author wrote it for NumPy arrays; the
tests run it on NumPy arrays, then differentiate it (``grad``, ``jvp``, ``hessian``,
``vmap``, ``jit``) and compare with the analytic derivative or with finite differences
(``check_grads``). NumPy's dispatch protocols route each ``np.`` call on a traced
value to functrans.numpy (see functrans/numpy/_dispatch.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

import functrans as ft
from functrans.test_util import check_grads

RNG = np.random.default_rng(0)


# ------------------------------------------------------------------ 1. softmax regression

def softmax_regression_loss(W, b, X, y):
    """Mean cross-entropy of a linear softmax classifier (numerically stable)."""
    logits = X @ W + b
    logits = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    return -np.mean(log_probs[np.arange(len(y)), y])


def _softmax_regression_gradient(W, b, X, y):
    """The textbook gradient: X^T (softmax - one_hot) / n."""
    logits = X @ W + b
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    delta = probs.copy()
    delta[np.arange(len(y)), y] -= 1.0
    return X.T @ delta / len(y), delta.mean(axis=0)


def test_softmax_regression():
    X, y = RNG.normal(size=(12, 4)), RNG.integers(0, 3, size=12)
    W, b = RNG.normal(size=(4, 3)), RNG.normal(size=3)
    dW, db = ft.grad(softmax_regression_loss, argnums=(0, 1))(W, b, X, y)
    expected_dW, expected_db = _softmax_regression_gradient(W, b, X, y)
    assert_allclose(dW, expected_dW, rtol=1e-12, atol=1e-14)
    assert_allclose(db, expected_db, rtol=1e-12, atol=1e-14)
    # training with the NumPy loss, one compiled step at a time
    step = ft.jit(ft.value_and_grad(softmax_regression_loss, argnums=(0, 1)))
    first, _ = step(W, b, X, y)
    for _ in range(50):
        loss, (dW, db) = step(W, b, X, y)
        W, b = W - 0.5 * dW, b - 0.5 * db
    assert loss < 0.7 * first


# ------------------------------------------------------------------ 2. a PDE step

def heat_step(u, alpha):
    """One explicit finite-difference step of u_t = u_xx, zero (Dirichlet) boundaries."""
    padded = np.pad(u, 1)
    laplacian = padded[2:] - 2.0 * u + padded[:-2]
    return u + alpha * laplacian


def heat_energy(u0, alpha, steps=15):
    u = u0
    for _ in range(steps):
        u = heat_step(u, alpha)
    return np.sum(u**2)


def test_finite_difference_heat_equation():
    n, alpha, steps = 8, 0.2, 15
    u0 = np.sin(np.linspace(0.0, np.pi, n)) + 0.1 * RNG.normal(size=n)
    # the step is the matrix A = I + alpha * tridiag(1, -2, 1), so energy = |A^k u0|^2
    step_matrix = np.eye(n) + alpha * (np.eye(n, k=1) - 2 * np.eye(n) + np.eye(n, k=-1))
    power = np.linalg.matrix_power(step_matrix, steps)
    assert heat_energy(u0, alpha) == pytest.approx(np.sum((power @ u0) ** 2), rel=1e-12)
    assert_allclose(ft.grad(heat_energy)(u0, alpha), 2 * power.T @ power @ u0, rtol=1e-10)
    check_grads(lambda a: heat_energy(u0, a), (alpha,), order=2)
    # one profile per row, each differentiated at once
    batch = np.stack([u0, 2 * u0, u0[::-1]])
    assert_allclose(ft.vmap(ft.grad(heat_energy), in_axes=(0, None))(batch, alpha),
                    2 * batch @ (power.T @ power).T, rtol=1e-10)


# ------------------------------------------------------------------ 3. a polynomial fit

def polyfit_loss(coefficients, x, y):
    """Mean squared error of the polynomial with these coefficients (highest first)."""
    return np.mean((np.polyval(coefficients, x) - y) ** 2)


def test_polynomial_fit():
    x = np.linspace(-1.0, 1.0, 20)
    y = 0.5 * x**3 - x + 0.3 + 0.05 * RNG.normal(size=20)
    c = np.zeros(4)
    vander = np.vander(x, 4)
    assert_allclose(ft.grad(polyfit_loss)(c, x, y), 2 * vander.T @ (vander @ c - y) / 20,
                    atol=1e-14)
    # the loss is quadratic: one Newton step from anywhere is the least-squares fit
    hessian = ft.hessian(polyfit_loss)(c, x, y)
    assert_allclose(hessian, 2 * vander.T @ vander / 20, rtol=1e-12, atol=1e-15)
    fitted = c - np.linalg.solve(hessian, ft.grad(polyfit_loss)(c, x, y))
    assert_allclose(fitted, np.polyfit(x, y, 3), rtol=1e-9)
    check_grads(polyfit_loss, (RNG.normal(size=4), x, y), order=2)


# ------------------------------------------------------------------ 4. a kernel density estimate

def gaussian_kde(points, data, bandwidth):
    """Gaussian kernel density estimate of `data`, evaluated at `points`."""
    z = (points[:, None] - data[None, :]) / bandwidth
    return np.exp(-0.5 * z**2).sum(axis=1) / (len(data) * bandwidth * np.sqrt(2 * np.pi))


def test_kernel_density_estimate():
    data = RNG.normal(size=30)
    points, h = np.linspace(-2.0, 2.0, 5), 0.4
    z = (points[:, None] - data[None, :]) / h
    kernel = np.exp(-0.5 * z**2) / (len(data) * h * np.sqrt(2 * np.pi))
    # each density value depends on its own point only: the gradient of the sum is
    # the derivative of the density at each point
    slope = ft.grad(lambda p: np.sum(gaussian_kde(p, data, h)))(points)
    assert_allclose(slope, np.sum(-z / h * kernel, axis=1), rtol=1e-12)
    d_bandwidth = ft.jacfwd(gaussian_kde, argnums=2)(points, data, h)
    assert_allclose(d_bandwidth, np.sum(kernel * (z**2 - 1) / h, axis=1), rtol=1e-12)
    check_grads(lambda p, h: gaussian_kde(p, data, h), (points, h), order=2)
    assert_allclose(ft.jit(gaussian_kde)(points, data, h), gaussian_kde(points, data, h))


# ------------------------------------------------------------------ 5. a Newton iteration

def kepler_eccentric_anomaly(mean_anomaly, eccentricity, iterations=25):
    """E with E - e sin E = M, by Newton's method from the usual starting point."""
    E = np.where(eccentricity < 0.8, mean_anomaly, np.pi * np.ones_like(mean_anomaly))
    for _ in range(iterations):
        E = E - (E - eccentricity * np.sin(E) - mean_anomaly) / (
            1.0 - eccentricity * np.cos(E))
    return E


def test_newton_iteration():
    M, e = np.linspace(0.1, 3.0, 6), 0.6
    E = kepler_eccentric_anomaly(M, e)
    assert_allclose(E - e * np.sin(E), M, rtol=1e-13)
    # implicit function theorem at the solution: dE/dM = 1/(1 - e cos E),
    # dE/de = sin E / (1 - e cos E); the iterations' derivatives converge to them
    d_dM = ft.grad(lambda m: np.sum(kepler_eccentric_anomaly(m, e)))(M)
    assert_allclose(d_dM, 1.0 / (1.0 - e * np.cos(E)), rtol=1e-12)
    d_de = ft.jacfwd(kepler_eccentric_anomaly, argnums=1)(M, e)
    assert_allclose(d_de, np.sin(E) / (1.0 - e * np.cos(E)), rtol=1e-12)
    # also compiled, and one eccentricity per row
    eccentricities = np.array([0.1, 0.6, 0.9])
    rows = ft.jit(ft.vmap(kepler_eccentric_anomaly, in_axes=(None, 0)))(M, eccentricities)
    for E_row, ecc in zip(rows, eccentricities):
        assert_allclose(E_row - ecc * np.sin(E_row), M, rtol=1e-12)


# ------------------------------------------------------------------ 6. logistic regression

def logistic_loss(w, X, y):
    """Mean negative log-likelihood of a logistic model, log(1 + e^-m) written stably."""
    margins = (2 * y - 1) * (X @ w)
    return np.mean(np.logaddexp(0.0, -margins))


def test_logistic_regression_per_example_gradients():
    X, y = RNG.normal(size=(10, 3)), RNG.integers(0, 2, size=10)
    w = RNG.normal(size=3)
    per_example = ft.vmap(ft.grad(logistic_loss), in_axes=(None, 0, 0))(w, X[:, None], y[:, None])
    sign = 2 * y - 1
    sigmoid = 1 / (1 + np.exp(sign * (X @ w)))
    assert_allclose(per_example, -(sign * sigmoid)[:, None] * X, rtol=1e-12)
    assert_allclose(ft.grad(logistic_loss)(w, X, y), per_example.mean(axis=0), rtol=1e-12)
