"""What writing ``np.`` instead of ``fnp.`` costs inside a transformation.

    python benchmarks/numpy_dispatch.py

NumPy hands a traced value to ``__array_ufunc__``/``__array_function__``, which
route the call to functrans.numpy (functrans/numpy/_dispatch.py). This times the
same programs written with ``np.`` and with ``fnp.``, next to the hand-written
NumPy forward + backward pass (the floor):

* eager ``grad`` of the course notes' scalar z = exp(sin(u^2) log(u^2)) and of a
  tiny tanh MLP (per-call overhead, where dispatch matters most);
* tracing: the first call of ``jit(grad(f))`` (dispatch runs once per trace);
* ``jit(grad(f))`` afterwards (the compiled code is the same: no dispatch).

A last section measures the eager-array design that was *not* taken (see
docs/numpy_code.md, "JAX code run eagerly"): the cost of returning an ndarray subclass
from every eager functrans.numpy call, on a few calls and a tiny eager MLP.

Rounds interleave the implementations; figures are medians (min, max) of the rounds.
The machines are shared and noisy: quote ratios from one run.
"""

from __future__ import annotations

import argparse
import functools
import statistics
from collections.abc import Callable

import numpy as np
from harness import seconds_per_call

import functrans as ft
import functrans.numpy as fnp
from functrans.core.trace import eval_trace, get_current_trace


def z_np(u):
    return np.exp(np.sin(u**2) * np.log(u**2))


def z_fnp(u):
    return fnp.exp(fnp.sin(u**2) * fnp.log(u**2))


def z_floor(u):
    a = u * u
    b, c = np.sin(a), np.log(a)
    z = np.exp(b * c)
    return 2.0 * u * (z * c * np.cos(a) + z * b / a)


RNG = np.random.default_rng(0)
W1, B1 = RNG.normal(size=(16, 32)) / 4, np.zeros(32)
W2, B2 = RNG.normal(size=(32, 1)) / 6, np.zeros(1)
X, T = RNG.normal(size=(8, 16)), RNG.normal(size=(8, 1))


def mlp_np(w1):
    h = np.tanh(X @ w1 + B1)
    return np.mean((np.tanh(h @ W2 + B2) - T) ** 2)


def mlp_fnp(w1):
    h = fnp.tanh(X @ w1 + B1)
    return fnp.mean((fnp.tanh(h @ W2 + B2) - T) ** 2)


def mlp_floor(w1):
    h = np.tanh(X @ w1 + B1)
    y = np.tanh(h @ W2 + B2)
    y_bar = 2 * (y - T) / T.size
    pre2_bar = y_bar * (1 - y * y)
    pre1_bar = (pre2_bar @ W2.T) * (1 - h * h)
    return X.T @ pre1_bar


def compare(name: str, impls: dict[str, Callable[[], object]], rounds: int, number: int,
            floor: str = "numpy floor") -> None:
    for fn in impls.values():  # warm up
        fn()
    samples: dict[str, list[float]] = {k: [] for k in impls}
    for _ in range(rounds):
        for k, fn in impls.items():
            samples[k].append(seconds_per_call(fn, number))
    base = statistics.median(samples[floor])
    print(f"\n{name}")
    print(f"  {'implementation':<30}{'median':>12}{'min':>12}{'max':>12}{'ratio':>9}")
    for k, ts in samples.items():
        med = statistics.median(ts)
        print(f"  {k:<30}{med * 1e6:>10.1f}us{min(ts) * 1e6:>10.1f}us"
              f"{max(ts) * 1e6:>10.1f}us{med / base:>8.2f}x")


def first_call(f: Callable[..., object], *args: object) -> Callable[[], object]:
    """Trace and compile afresh each time: a new jit object per call."""
    return lambda: ft.jit(ft.grad(f))(*args)


class _EagerArray(np.ndarray):
    """The subclass an eager-array design would return (here only to time it)."""


def _returning_subclass(fn: Callable[..., object]) -> Callable[..., object]:
    @functools.wraps(fn)
    def eager(*args: object, **kwargs: object) -> object:
        out = fn(*args, **kwargs)
        if type(out) is np.ndarray and get_current_trace() is eval_trace:
            return out.view(_EagerArray)
        return out
    return eager


def eager_mlp(ns) -> object:
    h = ns.tanh(ns.add(ns.matmul(X, W1), B1))
    return ns.mean(ns.square(ns.subtract(ns.tanh(ns.add(ns.matmul(h, W2), B2)), T)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    u = 1.5
    for f in (z_np, z_fnp):
        assert np.isclose(ft.grad(f)(u), z_floor(u), rtol=1e-12)
    for f in (mlp_np, mlp_fnp):
        assert np.allclose(ft.grad(f)(W1), mlp_floor(W1), rtol=1e-10)

    compare("eager grad of z = exp(sin(u^2) log(u^2)) at a scalar",
            {"numpy floor": lambda: z_floor(u), "grad, fnp.": lambda: ft.grad(z_fnp)(u),
             "grad, np. (dispatch)": lambda: ft.grad(z_np)(u)},
            rounds=args.rounds, number=100)
    compare("eager grad of a 16-32-1 tanh MLP, batch 8",
            {"numpy floor": lambda: mlp_floor(W1), "grad, fnp.": lambda: ft.grad(mlp_fnp)(W1),
             "grad, np. (dispatch)": lambda: ft.grad(mlp_np)(W1)},
            rounds=args.rounds, number=30)
    compare("first call of jit(grad(mlp)): trace + compile",
            {"numpy floor": lambda: mlp_floor(W1), "jit, fnp.": first_call(mlp_fnp, W1),
             "jit, np. (dispatch)": first_call(mlp_np, W1)},
            rounds=max(3, args.rounds // 3), number=3)
    jit_fnp, jit_np = ft.jit(ft.grad(mlp_fnp)), ft.jit(ft.grad(mlp_np))
    compare("jit(grad(mlp)) after the first call",
            {"numpy floor": lambda: mlp_floor(W1), "jit, fnp.": lambda: jit_fnp(W1),
             "jit, np. (dispatch)": lambda: jit_np(W1)},
            rounds=args.rounds, number=100)

    # the eager-array design not taken: every eager fnp call returns a subclass
    wrapped = type("wrapped", (), {n: staticmethod(_returning_subclass(getattr(fnp, n)))
                                   for n in ("sin", "add", "tanh", "matmul", "mean",
                                             "square", "subtract", "sum")})
    x = np.linspace(0.1, 0.9, 3)
    compare("eager fnp.sin on 3 elements: plain result vs ndarray subclass",
            {"fnp.sin": lambda: fnp.sin(x), "returning a subclass": lambda: wrapped.sin(x)},
            rounds=args.rounds, number=2000, floor="fnp.sin")
    compare("eager fnp.sum on 3 elements: plain result vs ndarray subclass",
            {"fnp.sum": lambda: fnp.sum(x), "returning a subclass": lambda: wrapped.sum(x)},
            rounds=args.rounds, number=2000, floor="fnp.sum")
    compare("eager 16-32-1 MLP forward (8 fnp calls): plain vs ndarray subclass",
            {"fnp": lambda: eager_mlp(fnp), "returning a subclass": lambda: eager_mlp(wrapped)},
            rounds=args.rounds, number=300, floor="fnp")


if __name__ == "__main__":
    main()
