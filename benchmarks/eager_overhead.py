"""Per-primitive cost of eager (un-jitted) reverse mode.

    python benchmarks/eager_overhead.py

Times ``grad(f)(x)`` against a hand-written NumPy forward + backward pass (the
floor) for the course notes' scalar example and for chains of elementwise
operations, and reports the cost per forward primitive (forward + backward).
Rounds interleave the implementations; figures are medians (min, max) of the
rounds. The machines are shared and noisy: quote ratios from one run.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import numpy as np
from harness import seconds_per_call

import functrans as ft
import functrans.numpy as fnp


def seed_z(u):
    return fnp.exp(fnp.sin(u**2) * fnp.log(u**2))


def seed_z_floor(u):
    """Forward and reverse mode by hand, as the notes do it (ū = 2u (...))."""
    a = u * u
    b = np.sin(a)
    c = np.log(a)
    d = b * c
    z = np.exp(d)
    d_bar = z
    b_bar = d_bar * c
    c_bar = d_bar * b
    a_bar = b_bar * np.cos(a) + c_bar / a
    return 2.0 * u * a_bar


def chain(x, n):
    for i in range(n):
        x = fnp.sin(x) if i % 2 else fnp.tanh(x)
    return fnp.sum(x)


def chain_floor(x, n):
    residuals = []
    for i in range(n):
        if i % 2:
            residuals.append(np.cos(x))
            x = np.sin(x)
        else:
            x = np.tanh(x)
            residuals.append(1.0 - x * x)
    ct = np.ones_like(x)
    for r in reversed(residuals):
        ct = ct * r
    return ct


def compare(name: str, impls: dict[str, Callable[[], object]], n_prims: int, rounds: int,
            number: int) -> None:
    for fn in impls.values():  # warm up
        fn()
    samples: dict[str, list[float]] = {k: [] for k in impls}
    for _ in range(rounds):
        for k, fn in impls.items():
            samples[k].append(seconds_per_call(fn, number))
    floor = statistics.median(samples["numpy floor"])
    print(f"\n{name} ({n_prims} forward primitives)")
    print(f"  {'implementation':<22}{'median':>12}{'min':>12}{'max':>12}{'ratio':>8}"
          f"{'per prim':>12}")
    for k, ts in samples.items():
        med = statistics.median(ts)
        print(f"  {k:<22}{med * 1e6:>10.1f}us{min(ts) * 1e6:>10.1f}us{max(ts) * 1e6:>10.1f}us"
              f"{med / floor:>7.1f}x{med * 1e6 / n_prims:>10.2f}us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    u = 1.5
    assert np.isclose(ft.grad(seed_z)(u), seed_z_floor(u), rtol=1e-12)
    compare("W1 seed z = exp(sin(u^2) log(u^2)), grad at a scalar",
            {"numpy floor": lambda: seed_z_floor(u),
             "functrans grad": lambda: ft.grad(seed_z)(u),
             "functrans jit(grad)": (lambda g: lambda: g(u))(ft.jit(ft.grad(seed_z)))},
            n_prims=5, rounds=args.rounds, number=200)

    compare("one primitive: grad(sin) at a scalar (the fixed cost of a call)",
            {"numpy floor": lambda: np.cos(u),
             "functrans grad": (lambda g: lambda: g(u))(ft.grad(fnp.sin))},
            n_prims=1, rounds=args.rounds, number=500)

    for n, size in ((1000, 100), (1000, 1), (10_000, 100)):
        x = np.linspace(0.1, 0.9, size)
        grad_chain = ft.grad(lambda x: chain(x, n))
        assert np.allclose(grad_chain(x), chain_floor(x, n), rtol=1e-10)
        compare(f"chain of {n} elementwise ops on a vector of {size}",
                {"numpy floor": lambda: chain_floor(x, n),
                 "functrans grad": lambda: grad_chain(x)},
                n_prims=n + 1, rounds=max(3, args.rounds // (5 if n > 1000 else 1)),
                number=1 if n > 1000 else 3)


if __name__ == "__main__":
    main()
