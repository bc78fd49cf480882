"""Poisson and negative-binomial regression of exercise counts, fitted by Newton's method.

The data: scikit-learn's Linnerud set (it ships with scikit-learn, nothing is
downloaded), 20 men with the number of sit-ups each managed and his weight, waist and
pulse. Each model says the count of man i has mean

    mu_i = exp(b0 + b_weight w_i + b_waist v_i + b_pulse p_i)      (standardized w, v, p)

and is fitted by maximum likelihood: Poisson counts (``stats.poisson.logpmf``), then
negative-binomial counts with a dispersion r (``stats.nbinom.logpmf``, whose
derivatives in r run through digamma and trigamma). Newton's method needs the gradient
and the Hessian of the log-likelihood: ``ft.jit(ft.value_and_grad(...))`` and
``ft.jit(ft.hessian(...))``. The script prints the estimates next to
``scipy.optimize.minimize``'s (BFGS on SciPy's own log-likelihood), the standard errors
from the inverse Hessian, and saves a plot of the counts against the fitted means.

Run: python examples/poisson_regression.py [--plot poisson_regression.png]
Needs scikit-learn; the plot needs matplotlib (both: the ``examples`` extra,
``pip install -e '.[examples]'``); without matplotlib the fit still runs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy.optimize
import scipy.stats

import functrans as ft
import functrans.numpy as fnp
from functrans.scipy import stats

try:
    from sklearn.datasets import load_linnerud
except ImportError:
    print("poisson_regression: skipped, scikit-learn is not installed "
          "(pip install -e '.[examples]')")
    sys.exit(0)

try:  # optional: only the plot needs it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    plt = None

NAMES = ("intercept", "weight", "waist", "pulse")


def load_situps() -> tuple[np.ndarray, np.ndarray]:
    """(design matrix with an intercept column and standardized covariates, counts)."""
    data = load_linnerud()
    covariates = data.target                       # weight, waist, pulse
    standardized = (covariates - covariates.mean(0)) / covariates.std(0)
    design = np.column_stack([np.ones(len(standardized)), standardized])
    return design, data.data[:, 1]                  # sit-ups


def poisson_nll(coef: Any, design: np.ndarray, counts: np.ndarray) -> Any:
    """Negative log-likelihood of the Poisson model."""
    return -fnp.sum(stats.poisson.logpmf(counts, fnp.exp(design @ coef)))


def negative_binomial_nll(params: Any, design: np.ndarray, counts: np.ndarray) -> Any:
    """Negative log-likelihood of the negative-binomial model with mean mu and
    dispersion r = exp(params[-1]): variance mu + mu**2 / r."""
    mean, dispersion = fnp.exp(design @ params[:-1]), fnp.exp(params[-1])
    return -fnp.sum(stats.nbinom.logpmf(counts, dispersion, dispersion / (dispersion + mean)))


def newton(loss: Callable[[Any], Any], start: np.ndarray, max_steps: int = 100
           ) -> tuple[np.ndarray, int]:
    """Damped Newton's method: the Newton step, halved until the loss decreases (the
    gradient instead, where the Hessian does not give a descent direction). It stops
    once the decrease the step predicts is below the loss's rounding error."""
    value_and_grad = ft.jit(ft.value_and_grad(loss))
    hessian = ft.jit(ft.hessian(loss))
    params = start
    for step in range(1, max_steps + 1):
        value, gradient = value_and_grad(params)
        direction = np.linalg.solve(hessian(params), gradient)
        if not gradient @ direction > 0:
            direction = gradient
        if 0.5 * gradient @ direction <= np.finfo(float).eps * abs(value):
            return params - direction, step
        shrink = 1.0
        while not loss(params - shrink * direction) < value and shrink > 1e-10:
            shrink /= 2
        params = params - shrink * direction
    raise RuntimeError(f"Newton's method did not converge in {max_steps} steps")


def scipy_fit(nll: Callable[[np.ndarray], float], start: np.ndarray) -> np.ndarray:
    """The same maximum-likelihood fit by SciPy alone, for comparison."""
    return scipy.optimize.minimize(nll, start, method="BFGS", options={"gtol": 1e-9}).x


def report(title: str, ours: np.ndarray, theirs: np.ndarray, loss: Callable[[Any], Any],
           names: tuple[str, ...]) -> np.ndarray:
    errors = np.sqrt(np.diag(np.linalg.inv(ft.hessian(loss)(ours))))
    print(f"{title}: -log-likelihood {float(loss(ours)):.6f}")
    print(f"  {'':10s} {'functrans':>11s} {'std. error':>11s} {'scipy':>11s}")
    for name, value, error, reference in zip(names, ours, errors, theirs):
        print(f"  {name:10s} {value:11.6f} {error:11.6f} {reference:11.6f}")
    print(f"  max |functrans - scipy.optimize|: {np.max(np.abs(ours - theirs)):.2e}")
    return errors


def plot(path: Path, counts: np.ndarray, poisson_mean: np.ndarray,
         nb_mean: np.ndarray, dispersion: float) -> None:
    order = np.argsort(nb_mean)
    rank = np.arange(len(counts))
    nb_sd = np.sqrt(nb_mean + nb_mean**2 / dispersion)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.errorbar(rank, nb_mean[order], yerr=2 * nb_sd[order], fmt="s", color="tab:orange",
                capsize=3, label="negative binomial: mean ± 2 sd")
    ax.errorbar(rank + 0.2, poisson_mean[order], yerr=2 * np.sqrt(poisson_mean[order]),
                fmt="o", color="tab:blue", capsize=3, label="Poisson: mean ± 2 sd")
    ax.plot(rank, counts[order], "kx", markersize=8, label="observed sit-ups")
    ax.set_xlabel("the 20 men, by fitted mean")
    ax.set_ylabel("sit-ups")
    ax.set_title("Linnerud sit-ups: Poisson vs negative-binomial regression")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(plot_path: Path) -> None:
    design, counts = load_situps()
    start = np.array([np.log(counts.mean()), 0.0, 0.0, 0.0])

    def poisson_loss(coef: Any) -> Any:
        return poisson_nll(coef, design, counts)

    poisson, steps = newton(poisson_loss, start)
    print(f"Newton's method: Poisson model converged in {steps} steps")
    poisson_scipy = scipy_fit(
        lambda c: -scipy.stats.poisson.logpmf(counts, np.exp(design @ c)).sum(), start)
    report("Poisson regression", poisson, poisson_scipy, poisson_loss, NAMES)

    def nb_loss(params: Any) -> Any:
        return negative_binomial_nll(params, design, counts)

    def nb_loss_scipy(params: np.ndarray) -> float:
        mean, r = np.exp(design @ params[:-1]), np.exp(params[-1])
        return -scipy.stats.nbinom.logpmf(counts, r, r / (r + mean)).sum()

    nb_start = np.append(poisson, 0.0)
    nb, steps = newton(nb_loss, nb_start)
    print(f"Newton's method: negative-binomial model converged in {steps} steps")
    nb_scipy = scipy_fit(nb_loss_scipy, nb_start)
    report("Negative-binomial regression", nb, nb_scipy, nb_loss, NAMES + ("log r",))
    dispersion, mean_count = float(np.exp(nb[-1])), float(np.mean(counts))
    print(f"dispersion r = {dispersion:.4f}: the variance mu + mu^2/r is "
          f"{1 + mean_count / dispersion:.1f} times Poisson's at the mean count "
          f"{mean_count:.0f}")

    if plt is None:
        print("plot skipped: matplotlib is not installed (pip install -e '.[examples]')")
        return
    plot(plot_path, counts, np.exp(design @ poisson), np.exp(design @ nb[:-1]),
         float(np.exp(nb[-1])))
    print(f"plot saved to {plot_path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", type=Path,
                        default=Path(tempfile.gettempdir()) / "poisson_regression.png")
    main(parser.parse_args().plot)
