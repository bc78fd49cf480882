"""Fit a Gaussian process's hyperparameters by maximising its log marginal likelihood.

The data: body-mass index against a measure of diabetes progression a year later, for the
442 patients of scikit-learn's built-in diabetes data set (no download). The model: the
standardised progression y is a GP in the standardised BMI x plus noise,

    K = s_f^2 exp(-(x - x')^2 / (2 l^2)) + s_n^2 I,
    log p(y) = -1/2 y^T K^-1 y - 1/2 log|K| - N/2 log(2 pi),

computed with a Cholesky factorisation and triangular solves (``functrans.scipy.linalg``).
``ft.jit(ft.value_and_grad(...))`` gives its gradient in the log-hyperparameters to
SciPy's L-BFGS-B. The script checks that gradient against the closed form
1/2 tr((alpha alpha^T - K^-1) dK/dtheta), prints the fitted hyperparameters, and saves a
plot of the posterior mean with bands of two standard deviations.

Run: python examples/gaussian_process.py [plot.png]   (default: a temporary folder)
Needs the optional extra: pip install 'functrans[examples]' (scikit-learn, matplotlib).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.optimize

import functrans as ft
import functrans.numpy as fnp
import functrans.scipy.linalg as fsl

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.datasets import load_diabetes
except ImportError as missing:
    print(f"examples/gaussian_process.py needs scikit-learn and matplotlib ({missing.name} is "
          "not installed): pip install 'functrans[examples]'. Skipped.")
    sys.exit(0)

LOG_2PI = float(np.log(2 * np.pi))


def kernel(theta, x1, x2):
    """The squared-exponential kernel; theta = (log l, log s_f, log s_n)."""
    lengthscale, signal = fnp.exp(theta[0]), fnp.exp(theta[1])
    scaled = (x1[:, None] - x2[None, :]) / lengthscale
    return signal**2 * fnp.exp(-0.5 * scaled**2)


def log_marginal_likelihood(theta, x, y):
    n = x.shape[0]
    k = kernel(theta, x, x) + fnp.exp(2 * theta[2]) * fnp.eye(n)
    factor = fsl.cho_factor(k, lower=True)
    alpha = fsl.cho_solve(factor, y)
    log_det = 2 * fnp.sum(fnp.log(fnp.diagonal(factor[0])))
    return -0.5 * y @ alpha - 0.5 * log_det - 0.5 * n * LOG_2PI


def closed_form_gradient(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The textbook gradient, by hand in NumPy: 1/2 tr(W dK/dtheta_i), W = a a^T - K^-1."""
    lengthscale, noise = np.exp(theta[0]), np.exp(2 * theta[2])
    k_signal = np.asarray(kernel(theta, x, x))
    k_inverse = np.linalg.inv(k_signal + noise * np.eye(len(x)))
    alpha = k_inverse @ y
    w = np.outer(alpha, alpha) - k_inverse
    squared = (x[:, None] - x[None, :]) ** 2 / lengthscale**2
    return 0.5 * np.array([np.sum(w * k_signal * squared), np.sum(w * 2 * k_signal),
                           np.trace(w) * 2 * noise])


def posterior(theta, x, y, x_new):
    """Mean and standard deviation of the latent function at x_new."""
    k = kernel(theta, x, x) + fnp.exp(2 * theta[2]) * fnp.eye(x.shape[0])
    lower, _ = fsl.cho_factor(k, lower=True)
    cross = kernel(theta, x_new, x)
    mean = cross @ fsl.cho_solve((lower, True), y)
    v = fsl.solve_triangular(lower, cross.T, lower=True)
    variance = fnp.exp(2 * theta[1]) - fnp.sum(v**2, axis=0)
    return mean, fnp.sqrt(fnp.maximum(variance, 0.0))


def main(plot_path: Path) -> None:
    data = load_diabetes(scaled=False)  # BMI in kg/m², not centred and scaled
    bmi, progression = data.data[:, 2], data.target.astype(float)
    x = (bmi - bmi.mean()) / bmi.std()
    y = (progression - progression.mean()) / progression.std()
    print(f"data: diabetes progression against body-mass index, N = {len(x)} patients "
          "(scikit-learn's built-in copy), both standardised")

    value_and_grad = ft.jit(ft.value_and_grad(log_marginal_likelihood))

    def negative(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = value_and_grad(theta, x, y)
        return -float(value), -np.asarray(grad)

    start = np.log(np.array([1.0, 1.0, 0.5]))
    result = scipy.optimize.minimize(negative, start, jac=True, method="L-BFGS-B")
    theta = result.x
    lengthscale, signal, noise = np.exp(theta)
    print(f"log marginal likelihood: {-negative(start)[0]:.4f} at the start -> "
          f"{-result.fun:.4f} fitted ({result.nit} L-BFGS-B iterations)")
    print(f"fitted hyperparameters: lengthscale = {lengthscale:.4f}, signal std = "
          f"{signal:.4f}, noise std = {noise:.4f} (standardised units)")

    grad = np.asarray(value_and_grad(theta, x, y)[1])
    by_hand = closed_form_gradient(theta, x, y)
    print(f"gradient at the optimum: {np.array2string(grad, precision=6)}; functrans vs the "
          f"closed form: max difference {np.max(np.abs(grad - by_hand)):.2e}")

    grid = np.linspace(x.min() - 0.5, x.max() + 0.5, 200)
    mean, std = (np.asarray(a) for a in posterior(theta, x, y, grid))
    observed = np.sqrt(std**2 + noise**2)
    to_bmi = lambda z: z * bmi.std() + bmi.mean()  # noqa: E731
    to_progression = lambda z: z * progression.std() + progression.mean()  # noqa: E731
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.scatter(to_bmi(x), progression, s=8, color="0.5", label="patients")
    ax.fill_between(to_bmi(grid), to_progression(mean - 2 * observed),
                    to_progression(mean + 2 * observed), alpha=0.15, color="C0",
                    label="±2 sd, a new patient")
    ax.fill_between(to_bmi(grid), to_progression(mean - 2 * std),
                    to_progression(mean + 2 * std), alpha=0.35, color="C0",
                    label="±2 sd, the mean")
    ax.plot(to_bmi(grid), to_progression(mean), color="C0", label="posterior mean")
    ax.set_xlabel("body-mass index (kg/m²)")
    ax.set_ylabel("disease progression after one year")
    ax.set_title(f"GP fit: lengthscale {lengthscale * bmi.std():.2f} kg/m², "
                 f"noise sd {noise * progression.std():.1f}")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(plot_path, dpi=110)
    plt.close(fig)
    print(f"plot saved to {plot_path}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        main(Path(tempfile.mkdtemp(prefix="functrans-gp-")) / "gaussian_process.png")
