"""Gradient of a Gaussian-process log marginal likelihood: functrans against hand-written SciPy.

    python benchmarks/gp_likelihood.py [--sizes 500,2000] [--rounds 7]

A GP with a squared-exponential kernel plus noise, hyperparameters
theta = (log lengthscale, log signal variance, log noise variance), on N points in 3-D:

    K = s_f^2 exp(-|x - x'|^2 / (2 l^2)) + s_n^2 I,
    log p(y) = -1/2 y^T K^-1 y - 1/2 log|K| - N/2 log(2 pi).

Its value and gradient with respect to theta are timed as

* the NumPy/SciPy floor, by hand: ``cho_factor``, ``cho_solve`` for alpha = K^-1 y and
  for K^-1, and the trace formula dlog p / dtheta_i = 1/2 tr((alpha alpha^T - K^-1)
  dK/dtheta_i);
* functrans jit: ``ft.jit(ft.value_and_grad(log_likelihood))`` of the same function
  written with ``functrans.scipy.linalg.cho_factor`` / ``cho_solve``, its backward pass
  from the transposes of the Cholesky JVP (one BLAS ``trmm`` and one LAPACK ``sygst``);
* functrans eager: the same without ``jit``;
* JAX (jit, float64) and autograd, when installed.

BLAS runs on one thread (set here, before NumPy loads, as benchmarks/run.py does).
Results are checked against the floor before timing. Rounds interleave the
implementations; figures are medians (min-max) over rounds of the wall-clock time per
call, ratios median / the floor's median; the CPU time of the process is shown beside
them. The issue's goals: jit within 1.10x of the floor at N = 2,000 and 1.5x
at N = 500. The machines are shared: quote ratios from one run.
"""

from __future__ import annotations

import os
import sys

import harness

if __name__ == "__main__":
    harness.restart_with_blas_threads()

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy.linalg  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
import functrans.scipy.linalg as fsl  # noqa: E402

GOALS = {500: 1.5, 2000: 1.10}
LOG_2PI = float(np.log(2 * np.pi))


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Squared distances of n points in 3-D, noisy targets, and a starting theta."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, (n, 3))
    y = np.sin(x).sum(axis=1) + 0.1 * rng.standard_normal(n)
    squared_distances = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return squared_distances, y, np.log(np.array([1.0, 1.0, 0.1]))


def log_likelihood(theta, squared_distances, y):
    """log p(y | theta), written as a functrans user would."""
    lengthscale2, signal, noise = fnp.exp(2 * theta[0]), fnp.exp(theta[1]), fnp.exp(theta[2])
    n = y.shape[0]
    k = signal * fnp.exp(-0.5 * squared_distances / lengthscale2) + noise * fnp.eye(n)
    factor = fsl.cho_factor(k, lower=True)
    alpha = fsl.cho_solve(factor, y)
    log_det = 2 * fnp.sum(fnp.log(fnp.diagonal(factor[0])))
    return -0.5 * fnp.dot(y, alpha) - 0.5 * log_det - 0.5 * n * LOG_2PI


def floor_value_and_grad(theta: np.ndarray, squared_distances: np.ndarray,
                         y: np.ndarray) -> tuple[float, np.ndarray]:
    """The closed-form gradient, by hand: 1/2 tr((alpha alpha^T - K^-1) dK/dtheta)."""
    lengthscale2, signal, noise = np.exp(2 * theta[0]), np.exp(theta[1]), np.exp(theta[2])
    n = y.shape[0]
    k_signal = signal * np.exp(-0.5 * squared_distances / lengthscale2)
    k = k_signal + noise * np.eye(n)
    factor = scipy.linalg.cho_factor(k, lower=True, check_finite=False)
    alpha = scipy.linalg.cho_solve(factor, y, check_finite=False)
    k_inverse = scipy.linalg.cho_solve(factor, np.eye(n), check_finite=False)
    w = np.outer(alpha, alpha) - k_inverse
    grad = 0.5 * np.array([np.sum(w * k_signal * squared_distances) / lengthscale2,
                           np.sum(w * k_signal),
                           noise * np.trace(w)])
    log_det = 2 * np.sum(np.log(np.diagonal(factor[0])))
    value = -0.5 * y @ alpha - 0.5 * log_det - 0.5 * n * LOG_2PI
    return value, grad


def peers(squared_distances: np.ndarray, y: np.ndarray, theta: np.ndarray
          ) -> dict[str, Callable[[], object]]:
    """JAX and autograd versions of the same function, when installed."""
    out: dict[str, Callable[[], object]] = {}
    if importlib.util.find_spec("jax") is not None:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import jax.scipy.linalg as jsl

        def jax_log_likelihood(theta, d2, y):
            k = (jnp.exp(theta[1]) * jnp.exp(-0.5 * d2 / jnp.exp(2 * theta[0]))
                 + jnp.exp(theta[2]) * jnp.eye(y.shape[0]))
            factor = jsl.cho_factor(k, lower=True)
            alpha = jsl.cho_solve(factor, y)
            return (-0.5 * y @ alpha - jnp.sum(jnp.log(jnp.diagonal(factor[0])))
                    - 0.5 * y.shape[0] * LOG_2PI)

        step = jax.jit(jax.value_and_grad(jax_log_likelihood))
        args = tuple(jax.device_put(a) for a in (theta, squared_distances, y))
        out["jax jit"] = lambda: jax.block_until_ready(step(*args))
    if importlib.util.find_spec("autograd") is not None:
        import autograd
        import autograd.numpy as anp
        import autograd.scipy.linalg as asl

        def autograd_log_likelihood(theta):
            k = (anp.exp(theta[1]) * anp.exp(-0.5 * squared_distances / anp.exp(2 * theta[0]))
                 + anp.exp(theta[2]) * anp.eye(y.shape[0]))
            lower = anp.linalg.cholesky(k)
            alpha = asl.solve_triangular(lower, y, lower=True)
            return (-0.5 * anp.dot(alpha, alpha) - anp.sum(anp.log(anp.diag(lower)))
                    - 0.5 * y.shape[0] * LOG_2PI)

        grad = autograd.value_and_grad(autograd_log_likelihood)
        out["autograd"] = lambda: grad(theta)
    return out


def _time(fn: Callable[[], object], number: int) -> tuple[float, float]:
    """Wall-clock and CPU seconds per call (CPU time, of this process, is what a busy
    shared machine disturbs least)."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(number):
        fn()
    return (time.perf_counter() - wall) / number, (time.process_time() - cpu) / number


def _fmt(t: float) -> str:
    return f"{t * 1e3:8.2f} ms"


def run(n: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    squared_distances, y, theta = make_data(n)
    jitted = ft.jit(ft.value_and_grad(log_likelihood))
    eager = ft.value_and_grad(log_likelihood)
    impls: dict[str, Callable[[], object]] = {
        "numpy floor": lambda: floor_value_and_grad(theta, squared_distances, y),
        "functrans jit": lambda: jitted(theta, squared_distances, y),
        "functrans eager": lambda: eager(theta, squared_distances, y),
        **peers(squared_distances, y, theta),
    }
    expected = floor_value_and_grad(theta, squared_distances, y)
    for name, fn in list(impls.items()):
        value, grad = fn()
        try:
            np.testing.assert_allclose(np.asarray(value), expected[0], rtol=1e-6)
            np.testing.assert_allclose(np.asarray(grad), expected[1], rtol=1e-5, atol=1e-6)
        except AssertionError as e:
            print(f"  {name}: disagrees with the floor, not timed: {str(e).splitlines()[0]}")
            del impls[name]
    number = 1 if n >= 1000 else 3
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in impls}
    for _ in range(rounds):
        for name, fn in impls.items():
            samples[name].append(_time(fn, number))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,2000", help="comma-separated N")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"BLAS threads: {os.environ.get('OPENBLAS_NUM_THREADS')}, NumPy {np.__version__}")
    for n in (int(s) for s in args.sizes.split(",")):
        samples = run(n, args.rounds)
        wall_floor = statistics.median(w for w, _ in samples["numpy floor"])
        cpu_floor = statistics.median(c for _, c in samples["numpy floor"])
        goal = GOALS.get(n)
        print(f"\nN = {n}" + (f" (goal: functrans jit <= {goal}x the floor)" if goal else ""))
        print(f"  {'implementation':18s} {'median':>11s} {'min':>11s} {'max':>11s}   ratio"
              f"   {'CPU median':>11s}   ratio")
        for name, pairs in samples.items():
            wall, cpu = [w for w, _ in pairs], [c for _, c in pairs]
            median, cpu_median = statistics.median(wall), statistics.median(cpu)
            print(f"  {name:18s} {_fmt(median)} {_fmt(min(wall))} {_fmt(max(wall))}   "
                  f"{median / wall_floor:.2f}x   {_fmt(cpu_median)}   "
                  f"{cpu_median / cpu_floor:.2f}x")


if __name__ == "__main__":
    main()
