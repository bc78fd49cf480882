"""Gradient of a negative-binomial regression log-likelihood: functrans against a
hand-written NumPy/SciPy floor.

    python benchmarks/nbinom_regression.py [--n 100000] [--features 8] [--rounds 15]

Counts y_i with mean mu_i = exp(X_i . b) and dispersion r = exp(s); the loss is the
negative log-likelihood written with ``functrans.scipy.stats.nbinom.logpmf``:

    L(b, s) = -sum_i log NB(y_i; r, r / (r + mu_i)).

The gradient with respect to (b, s) is timed as

* the floor: the forward pass and the backward pass written by hand with
  ``scipy.special.gammaln`` and ``digamma``
  (``dL/db = -X^T ((y - mu) r / (r + mu))``,
  ``dL/ds = -r sum(digamma(y + r) - digamma(r) + log(r / (r + mu)) + (mu - y) / (r + mu))``);
* functrans jit: ``ft.jit(ft.value_and_grad(loss, argnums=(0, 1)))``, its backward pass
  from the rules of ``lgamma`` (digamma), ``log1p``, ``exp`` and the matrix product;
* functrans eager: the same without ``jit``.

Results are checked against the floor before timing. Rounds interleave the
implementations; figures are medians (min-max) of the rounds, ratios median / the
floor's median. The machines are shared: quote ratios from one run.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import numpy as np
import scipy.special as sc
from harness import seconds_per_call

import functrans as ft
import functrans.numpy as fnp
from functrans.scipy import stats


def make_loss(design: np.ndarray, counts: np.ndarray) -> Callable:
    def loss(coef, log_dispersion):
        mean, dispersion = fnp.exp(design @ coef), fnp.exp(log_dispersion)
        probability = dispersion / (dispersion + mean)
        return -fnp.sum(stats.nbinom.logpmf(counts, dispersion, probability))
    return loss


def make_floor(design: np.ndarray, counts: np.ndarray) -> Callable:
    log_factorials = sc.gammaln(counts + 1.0)

    def value_and_grad(coef, log_dispersion):
        mean, r = np.exp(design @ coef), np.exp(log_dispersion)
        total = r + mean
        log_p, log_q = np.log(r / total), np.log(mean / total)
        value = -np.sum(sc.gammaln(counts + r) - sc.gammaln(r) - log_factorials
                        + r * log_p + counts * log_q)
        coef_bar = -design.T @ ((counts - mean) * (r / total))
        s_bar = -r * np.sum(sc.digamma(counts + r) - sc.digamma(r) + log_p
                            + (mean - counts) / total)
        return value, (coef_bar, s_bar)
    return value_and_grad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=5, help="calls per round")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    design = np.column_stack([np.ones(args.n),
                              rng.standard_normal((args.n, args.features - 1)) * 0.3])
    coef = rng.standard_normal(args.features) * 0.3
    counts = rng.negative_binomial(3.0, 3.0 / (3.0 + np.exp(design @ coef))).astype(float)
    log_dispersion = np.log(2.5)

    floor = make_floor(design, counts)
    loss = make_loss(design, counts)
    implementations = {
        "NumPy/SciPy floor": floor,
        "functrans jit": ft.jit(ft.value_and_grad(loss, argnums=(0, 1))),
        "functrans eager": ft.value_and_grad(loss, argnums=(0, 1)),
    }
    reference_value, (reference_coef, reference_s) = floor(coef, log_dispersion)
    for name, fn in implementations.items():
        value, (coef_bar, s_bar) = fn(coef, log_dispersion)
        np.testing.assert_allclose(value, reference_value, rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(coef_bar, reference_coef, rtol=1e-8, atol=1e-8, err_msg=name)
        np.testing.assert_allclose(s_bar, reference_s, rtol=1e-8, err_msg=name)

    samples: dict[str, list[float]] = {name: [] for name in implementations}
    for _ in range(args.rounds):
        for name, fn in implementations.items():
            call = lambda fn=fn: fn(coef, log_dispersion)  # noqa: E731
            samples[name].append(seconds_per_call(call, args.number))

    floor_median = statistics.median(samples["NumPy/SciPy floor"])
    print(f"negative-binomial regression, n = {args.n}, {args.features} features: "
          f"value and gradient, median (min-max) of {args.rounds} rounds")
    for name, times in samples.items():
        median = statistics.median(times)
        print(f"  {name:18s} {1e3 * median:8.2f} ms ({1e3 * min(times):.2f}-"
              f"{1e3 * max(times):.2f})   {median / floor_median:5.2f}x the floor")


if __name__ == "__main__":
    main()
