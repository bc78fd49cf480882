"""Gradient of an FFT-based convolution loss: functrans against a hand-written NumPy floor.

    python benchmarks/fft_conv.py [--log2n 16] [--rounds 15]

The loss of a signal `x` and a kernel `k`, both of length n, against a target `y`:

    r = (x * k)[:n] - y,   L = ½ ‖r‖²,

the linear convolution computed by real FFTs of length 2n (``rfft``, product,
``irfft``). The gradient with respect to (x, k) is timed as

* the NumPy floor: the forward pass and the backward pass written by hand
  (``R = rfft(r, 2n)``, ``x̄ = irfft(R conj(K))[:n]``, ``k̄ = irfft(R conj(X))[:n]``):
  six FFTs in all;
* functrans jit: ``ft.jit(ft.value_and_grad(loss, argnums=(0, 1)))``, its backward pass
  from the transposes of the ``fft`` primitive;
* functrans eager: the same without ``jit``.

Results are checked against the floor before timing. Rounds interleave the
implementations; figures are medians (min–max) of the rounds, ratios median / the
floor's median. The issue's goal: jit within 1.2x of the floor at n = 2^16. The
machines are shared: quote ratios from one run.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import numpy as np
from harness import seconds_per_call

import functrans as ft
import functrans.numpy as fnp

GOAL = 1.2


def make_loss(target: np.ndarray) -> Callable:
    n = target.shape[0]

    def loss(x, k):
        spectrum = fnp.fft.rfft(x, 2 * n) * fnp.fft.rfft(k, 2 * n)
        residual = fnp.fft.irfft(spectrum, 2 * n)[:n] - target
        return 0.5 * fnp.sum(residual**2)

    return loss


def make_floor(target: np.ndarray) -> Callable:
    n = target.shape[0]

    def value_and_grad(x, k):
        X, K = np.fft.rfft(x, 2 * n), np.fft.rfft(k, 2 * n)
        residual = np.fft.irfft(X * K, 2 * n)[:n] - target
        value = 0.5 * np.dot(residual, residual)
        R = np.fft.rfft(residual, 2 * n)
        x_bar = np.fft.irfft(R * np.conj(K), 2 * n)[:n]
        k_bar = np.fft.irfft(R * np.conj(X), 2 * n)[:n]
        return value, (x_bar, k_bar)

    return value_and_grad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log2n", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--number", type=int, default=10, help="calls per round")
    args = parser.parse_args()

    n = 2**args.log2n
    rng = np.random.default_rng(0)
    x, k, target = rng.standard_normal(n), rng.standard_normal(n) / n, rng.standard_normal(n)
    loss = make_loss(target)
    impls = {
        "numpy floor": make_floor(target),
        "functrans jit": ft.jit(ft.value_and_grad(loss, argnums=(0, 1))),
        "functrans eager": ft.value_and_grad(loss, argnums=(0, 1)),
    }
    expected_value, expected_grads = impls["numpy floor"](x, k)
    for name, fn in impls.items():
        value, grads = fn(x, k)
        np.testing.assert_allclose(value, expected_value, rtol=1e-10, err_msg=name)
        for got, want in zip(grads, expected_grads):
            np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10 * np.abs(want).max(),
                                       err_msg=name)

    samples: dict[str, list[float]] = {name: [] for name in impls}
    for _ in range(args.rounds):
        for name, fn in impls.items():
            samples[name].append(seconds_per_call(lambda fn=fn: fn(x, k), args.number))
    floor = statistics.median(samples["numpy floor"])
    print(f"value and gradient of an FFT convolution loss, n = 2^{args.log2n} "
          f"({args.rounds} rounds of {args.number} calls)")
    for name, times in samples.items():
        median = statistics.median(times)
        print(f"  {name:16s} {median * 1e3:8.2f} ms  ({min(times) * 1e3:.2f}–"
              f"{max(times) * 1e3:.2f})  ratio {median / floor:.2f}")
    ratio = statistics.median(samples["functrans jit"]) / floor
    print(f"jit / floor = {ratio:.2f} (goal <= {GOAL}): {'met' if ratio <= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
