"""Fit a damped oscillator's spring constant and damping to noisy observations,
by gradient descent through an ODE solver.

The model is a unit mass on a spring with viscous damping,

    x'' = -k x - c x',   x(0) = 1,   x'(0) = 0,

solved by ``functrans.experimental.ode.odeint`` (adaptive Dormand–Prince). The data are
positions at 40 times, simulated with k = 4 and c = 0.5 plus Gaussian noise (σ = 0.05).
The loss is the mean squared error of the predicted positions; its gradient with respect
to (log k, log c) comes from the adjoint method (a backward ODE solve, memory independent
of the number of steps), and Adam steps on it, compiled with ``ft.jit``.

Run: python examples/damped_oscillator.py [--plot PATH] [--steps N]
(the plot needs matplotlib: pip install -e '.[examples]'; without it, the fit still runs)
"""

from __future__ import annotations

import argparse

import numpy as np

import functrans as ft
import functrans.numpy as fnp
from functrans.experimental.ode import odeint

try:  # optional: only the plot needs it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None

TRUE_K, TRUE_C = 4.0, 0.5
NOISE = 0.05
TIMES = np.linspace(0.0, 6.0, 40)
Y0 = np.array([1.0, 0.0])
STEPS, LEARNING_RATE = 90, 0.08


def oscillator(y, t, k, c):
    """d/dt (position, velocity)."""
    position, velocity = y[0], y[1]
    return fnp.stack([velocity, -k * position - c * velocity])


def positions(log_params):
    k, c = fnp.exp(log_params[0]), fnp.exp(log_params[1])
    return odeint(oscillator, Y0, TIMES, k, c, rtol=1e-6, atol=1e-8)[:, 0]


def loss(log_params, observed):
    return fnp.mean((positions(log_params) - observed) ** 2)


def observations(rng: np.random.Generator) -> np.ndarray:
    clean = odeint(oscillator, Y0, TIMES, TRUE_K, TRUE_C)[:, 0]
    return clean + NOISE * rng.normal(size=clean.shape)


def fit(observed: np.ndarray, start: np.ndarray, steps: int) -> tuple[np.ndarray, list[float]]:
    """Adam on (log k, log c), so that both stay positive."""
    step = ft.jit(ft.value_and_grad(loss))
    params, m, v = start.copy(), np.zeros(2), np.zeros(2)
    beta1, beta2 = 0.9, 0.999
    history = []
    for i in range(1, steps + 1):
        value, g = step(params, observed)
        history.append(float(value))
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**i), v / (1 - beta2**i)
        params = params - LEARNING_RATE * m_hat / (np.sqrt(v_hat) + 1e-8)
    return params, history


def plot(path: str, observed: np.ndarray, start: np.ndarray, fitted: np.ndarray,
         history: list[float]) -> None:
    if plt is None:
        print("matplotlib is not installed: no plot (pip install -e '.[examples]')")
        return
    fine = np.linspace(TIMES[0], TIMES[-1], 400)

    def curve(log_params):
        k, c = np.exp(log_params)
        return odeint(oscillator, Y0, fine, k, c)[:, 0]

    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(10, 4))
    ax.plot(TIMES, observed, "o", ms=4, label="observations")
    ax.plot(fine, curve(np.log([TRUE_K, TRUE_C])), "k:", label="true (k=4, c=0.5)")
    ax.plot(fine, curve(start), "--", label="start")
    ax.plot(fine, curve(fitted), label="fitted")
    ax.set_xlabel("t")
    ax.set_ylabel("position x(t)")
    ax.legend()
    ax_loss.semilogy(history)
    ax_loss.set_xlabel("Adam step")
    ax_loss.set_ylabel("mean squared error")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot saved to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", default="damped_oscillator.png", help="where to save the plot")
    parser.add_argument("--steps", type=int, default=STEPS, help="Adam steps")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    observed = observations(rng)
    start = np.log([2.0, 0.1])
    fitted, history = fit(observed, start, args.steps)
    k, c = np.exp(fitted)
    print(f"loss went from {history[0]:.5f} to {history[-1]:.5f} in {args.steps} Adam steps")
    print(f"fitted spring constant k: {k:.4f} (true {TRUE_K})")
    print(f"fitted damping c: {c:.4f} (true {TRUE_C})")
    print(f"noise variance {NOISE**2:.5f}; final mean squared error {history[-1]:.5f}")
    plot(args.plot, observed, start, fitted, history)


if __name__ == "__main__":
    main()
