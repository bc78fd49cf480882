"""Peak memory of reverse mode through ``odeint`` as the number of steps grows.

    python benchmarks/ode_memory.py [--oscillators 128] [--steps 100,1000,10000]

The gradient of ``sum(x(T)²)`` with respect to the frequencies and the damping of
`--oscillators` damped oscillators (a state of twice that size), integrated over
[0, 10] with the step size capped at ``hmax = 10 / N`` so that the solver takes N steps
(the tolerances alone would allow far fewer). Two ways to differentiate it:

* ``odeint`` (adaptive Dormand–Prince, the adjoint method): the forward pass keeps the
  solution at the requested times only; the backward pass integrates the adjoint
  system. Memory should not depend on N.
* for contrast, a fixed-step RK4 of N steps unrolled with ``lax.scan`` and
  differentiated by backpropagation: it stores every step, so memory grows with N
  (``--rk4-steps``, by default up to 10^3).

"Peak" is the peak of traced NumPy allocations (tracemalloc) during the ``grad`` call,
above the level before it. Times are wall-clock times of one call without tracemalloc
(which slows allocation-heavy code many times over).
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.experimental.ode import odeint

T_END = 10.0


def dynamics(y, t, omega, damping):
    m = omega.shape[0]
    x, v = y[:m], y[m:]
    return fnp.concatenate([v, -(omega**2) * x - damping * v])


def adjoint_loss(steps: int, y0: np.ndarray) -> Callable:
    def loss(omega, damping):
        ys = odeint(dynamics, y0, np.array([0.0, T_END]), omega, damping, rtol=1e-4,
                    atol=1e-7, hmax=T_END / steps)
        return fnp.sum(ys[-1, :omega.shape[0]] ** 2)
    return loss


def rk4_loss(steps: int, y0: np.ndarray) -> Callable:
    h = T_END / steps

    def loss(omega, damping):
        def step(y, t):
            k1 = dynamics(y, t, omega, damping)
            k2 = dynamics(y + h / 2 * k1, t + h / 2, omega, damping)
            k3 = dynamics(y + h / 2 * k2, t + h / 2, omega, damping)
            k4 = dynamics(y + h * k3, t + h, omega, damping)
            return y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None

        y, _ = lax.scan(step, y0, np.arange(steps) * h)
        return fnp.sum(y[:omega.shape[0]] ** 2)
    return loss


def measure(loss: Callable, omega: np.ndarray, damping: float) -> tuple[float, float, tuple]:
    grad = ft.grad(loss, argnums=(0, 1))
    grad(omega, damping)  # warm up: tracing and compilation are not what is measured
    gc.collect()
    t0 = time.perf_counter()
    grads = grad(omega, damping)
    seconds = time.perf_counter() - t0
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    grad(omega, damping)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak / 2**20, seconds, grads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oscillators", type=int, default=128)
    parser.add_argument("--steps", default="100,1000,10000")
    parser.add_argument("--rk4-steps", default="100,1000")
    args = parser.parse_args()

    m = args.oscillators
    rng = np.random.default_rng(0)
    omega = rng.uniform(0.5, 2.0, m)
    damping = 0.1
    y0 = np.concatenate([np.ones(m), np.zeros(m)])
    state_kib = y0.nbytes / 1024
    print(f"reverse mode through {m} damped oscillators (state {2 * m} floats, "
          f"{state_kib:.1f} KiB), t in [0, {T_END}]")
    print(f"{'method':28s} {'steps':>6s} {'peak MiB':>9s} {'time s':>8s}")
    reference = None
    for n in [int(s) for s in args.steps.split(",")]:
        peak, seconds, grads = measure(adjoint_loss(n, y0), omega, damping)
        reference = grads if reference is None else reference
        drift = np.abs(grads[0] - reference[0]).max() / np.abs(reference[0]).max()
        print(f"{'odeint (adjoint)':28s} {n:6d} {peak:9.2f} {seconds:8.2f}   "
              f"gradient vs the first row: {drift:.1e}")
    for n in [int(s) for s in args.rk4_steps.split(",") if s]:
        peak, seconds, grads = measure(rk4_loss(n, y0), omega, damping)
        drift = np.abs(grads[0] - reference[0]).max() / np.abs(reference[0]).max()
        print(f"{'RK4 scan (backpropagation)':28s} {n:6d} {peak:9.2f} {seconds:8.2f}   "
              f"gradient vs odeint: {drift:.1e}")


if __name__ == "__main__":
    main()
