"""What functrans.numpy, functrans.nn and functrans.scipy.special cost above NumPy/SciPy.

    python benchmarks/numpy_layer.py                 # every function, a few seconds
    python benchmarks/numpy_layer.py --only einsum,softmax --rounds 15

For some 60 commonly used functions on small arrays (mostly 8x32 float64), times

* NumPy/SciPy's own function (the floor) and the functrans function on the same NumPy
  arrays: the cost of the layer outside any transformation;
* eager ``grad(lambda x: fnp.sum(f(x)))`` against ``grad(lambda x: fnp.sum(fnp.sin(x)))``
  at the same `x`: their difference ("extra") is what `f` costs inside an eager grad
  (forward and backward) above one elementwise primitive. "eqns" is the number of
  primitives `f` stages (``make_jaxpr``), and "per eqn" the extra per primitive beyond
  the first, a measure of whether `f` costs more than the primitives it binds.

Each figure is the minimum over rounds of the process time per call (the machines are
shared and noisy: minimums are the steadiest), the rounds interleaving a function's
implementations. BLAS runs on one thread. Every functrans result is checked against the
floor's before timing.
"""

from __future__ import annotations

import harness

harness.restart_with_blas_threads()

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any, NamedTuple  # noqa: E402

import numpy as np  # noqa: E402
import scipy.special  # noqa: E402

import functrans as ft  # noqa: E402
import functrans.nn as fnn  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
import functrans.scipy.special as fsp  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.uniform(0.1, 0.9, size=(8, 32))      # in the domain of log, sqrt, arcsin...
Y = RNG.uniform(0.1, 0.9, size=(8, 32))
W = RNG.normal(size=(32, 16))
V32, V16 = RNG.normal(size=32), RNG.normal(size=16)
IDX = np.array([0, 3, 5, 7, 2])
M = RNG.normal(size=(8, 8))
SPD = M @ M.T + 8 * np.eye(8)
B8 = RNG.normal(size=(8, 32))
X3 = X.reshape(8, 1, 32)


class Case(NamedTuple):
    name: str
    floor: Callable[..., Any]   # NumPy/SciPy
    fn: Callable[..., Any]      # functrans, on the same arguments
    args: tuple[Any, ...]       # grad is taken with respect to the first
    grad: bool = True           # whether grad of fnp.sum(fn) means something


def _cases() -> list[Case]:
    def sp_softmax(x):
        return scipy.special.softmax(x, axis=-1)

    return [
        Case("exp", np.exp, fnp.exp, (X,)),
        Case("log", np.log, fnp.log, (X,)),
        Case("sqrt", np.sqrt, fnp.sqrt, (X,)),
        Case("tanh", np.tanh, fnp.tanh, (X,)),
        Case("abs", np.abs, fnp.abs, (X,)),
        Case("square", np.square, fnp.square, (X,)),
        Case("power(x, 2)", lambda x: np.power(x, 2), lambda x: fnp.power(x, 2), (X,)),
        Case("power(x, 0.5)", lambda x: np.power(x, 0.5), lambda x: fnp.power(x, 0.5), (X,)),
        Case("x * y", np.multiply, fnp.multiply, (X, Y)),
        Case("x + bias", np.add, fnp.add, (X, V32)),
        Case("x / 2.0", lambda x: np.divide(x, 2.0), lambda x: fnp.divide(x, 2.0), (X,)),
        Case("maximum", np.maximum, fnp.maximum, (X, Y)),
        Case("where", lambda x, y: np.where(x > 0.5, x, y),
             lambda x, y: fnp.where(x > 0.5, x, y), (X, Y)),
        Case("where scalars", lambda x: np.where(x > 0.5, x, 0.0),
             lambda x: fnp.where(x > 0.5, x, 0.0), (X,)),
        Case("clip", lambda x: np.clip(x, 0.2, 0.8), lambda x: fnp.clip(x, 0.2, 0.8), (X,)),
        Case("sum", np.sum, fnp.sum, (X,)),
        Case("sum(axis=0)", lambda x: np.sum(x, axis=0), lambda x: fnp.sum(x, axis=0), (X,)),
        Case("mean", np.mean, fnp.mean, (X,)),
        Case("mean(axis=-1)", lambda x: np.mean(x, axis=-1), lambda x: fnp.mean(x, axis=-1),
             (X,)),
        Case("var", np.var, fnp.var, (X,)),
        Case("std", np.std, fnp.std, (X,)),
        Case("max", np.max, fnp.max, (X,)),
        Case("max(axis=1)", lambda x: np.max(x, axis=1), lambda x: fnp.max(x, axis=1), (X,)),
        Case("cumsum(axis=1)", lambda x: np.cumsum(x, axis=1), lambda x: fnp.cumsum(x, axis=1),
             (X,)),
        Case("mse ((a-b)**2).mean()", lambda a, b: ((a - b) ** 2).mean(),
             lambda a, b: fnp.mean((a - b) ** 2), (X, Y)),
        Case("nn.relu", lambda x: np.maximum(x, 0), fnn.relu, (X - 0.5,)),
        Case("nn.sigmoid", scipy.special.expit, fnn.sigmoid, (X,)),
        Case("nn.softplus", lambda x: np.logaddexp(x, 0), fnn.softplus, (X,)),
        Case("nn.softmax", sp_softmax, fnn.softmax, (X,)),
        Case("nn.log_softmax", lambda x: scipy.special.log_softmax(x, axis=-1),
             fnn.log_softmax, (X,)),
        Case("nn.gelu", lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi)
                                                        * (x + 0.044715 * x ** 3))),
             fnn.gelu, (X,)),
        Case("special.logsumexp(axis=-1)", lambda x: scipy.special.logsumexp(x, axis=-1),
             lambda x: fsp.logsumexp(x, axis=-1), (X,)),
        Case("special.expit", scipy.special.expit, fsp.expit, (X,)),
        Case("special.erf", scipy.special.erf, fsp.erf, (X,)),
        Case("special.gammaln", scipy.special.gammaln, fsp.gammaln, (X,)),
        Case("special.xlogy", scipy.special.xlogy, fsp.xlogy, (X, Y)),
        Case("concatenate", lambda x, y: np.concatenate([x, y]),
             lambda x, y: fnp.concatenate([x, y]), (X, Y)),
        Case("stack", lambda x, y: np.stack([x, y]), lambda x, y: fnp.stack([x, y]), (X, Y)),
        Case("reshape", lambda x: np.reshape(x, (16, 16)), lambda x: fnp.reshape(x, (16, 16)),
             (X,)),
        Case("transpose", np.transpose, fnp.transpose, (X,)),
        Case(".T", lambda x: x.T, lambda x: fnp.asarray(x).T, (X,)),
        Case("x[:, 0]", lambda x: x[:, 0], lambda x: fnp.asarray(x)[:, 0], (X,)),
        Case("x[idx]", lambda x: x[IDX], lambda x: fnp.asarray(x)[IDX], (X,)),
        Case("take(axis=0)", lambda x: np.take(x, IDX, axis=0),
             lambda x: fnp.take(x, IDX, axis=0), (X,)),
        Case("expand_dims", lambda x: np.expand_dims(x, 0), lambda x: fnp.expand_dims(x, 0),
             (X,)),
        Case("squeeze", lambda x: np.squeeze(x, 1), lambda x: fnp.squeeze(x, 1), (X3,)),
        Case("broadcast_to", lambda v: np.broadcast_to(v, (8, 32)),
             lambda v: fnp.broadcast_to(v, (8, 32)), (V32,)),
        Case("zeros_like", np.zeros_like, fnp.zeros_like, (X,)),
        Case("ones_like", np.ones_like, fnp.ones_like, (X,)),
        Case("astype(float32)", lambda x: x.astype(np.float32),
             lambda x: fnp.asarray(x).astype(np.float32), (X,)),
        Case("x @ w", np.matmul, fnp.matmul, (X, W)),
        Case("dot", np.dot, fnp.dot, (X, W)),
        Case("einsum ij,jk->ik", lambda a, b: np.einsum("ij,jk->ik", a, b),
             lambda a, b: fnp.einsum("ij,jk->ik", a, b), (X, W)),
        Case("einsum ij,ij->i", lambda a, b: np.einsum("ij,ij->i", a, b),
             lambda a, b: fnp.einsum("ij,ij->i", a, b), (X, Y)),
        Case("tensordot(axes=1)", lambda a, b: np.tensordot(a, b, axes=1),
             lambda a, b: fnp.tensordot(a, b, axes=1), (X, W)),
        Case("outer", np.outer, fnp.outer, (V32, V16)),
        Case("linalg.norm", np.linalg.norm, fnp.linalg.norm, (X,)),
        Case("linalg.solve 8x8", np.linalg.solve, fnp.linalg.solve, (M, B8)),
        Case("linalg.det 8x8", np.linalg.det, fnp.linalg.det, (M,)),
        Case("linalg.inv 8x8", np.linalg.inv, fnp.linalg.inv, (M,)),
        Case("linalg.cholesky 8x8", np.linalg.cholesky, fnp.linalg.cholesky, (SPD,)),
    ]


def process_seconds(fn: Callable[[], object], number: int) -> float:
    """Process time of one call of `fn`, averaged over `number` calls."""
    start = time.process_time()
    for _ in range(number):
        fn()
    return (time.process_time() - start) / number


def calls_per_sample(fn: Callable[[], object], target: float = 2e-3) -> int:
    """How many calls of `fn` take about `target` seconds (the fastest of five first)."""
    one = min(process_seconds(fn, 1) for _ in range(5))
    return max(1, int(target / max(one, 1e-7)))


def check(case: Case) -> None:
    want = case.floor(*case.args)
    got = case.fn(*case.args)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6, atol=1e-12,
                               err_msg=case.name)


def n_equations(case: Case) -> int:
    return len(ft.make_jaxpr(case.fn)(*case.args).jaxpr.eqns)


def sum_of(fn: Callable[..., Any], rest: tuple[Any, ...]) -> Callable[[Any], Any]:
    return lambda x: fnp.sum(fn(x, *rest))


def measure(case: Case, rounds: int) -> dict[str, float]:
    x, rest = case.args[0], case.args[1:]
    impls = {"floor": lambda: case.floor(*case.args), "fn": lambda: case.fn(*case.args)}
    if case.grad:
        grad_fn, grad_sin = ft.grad(sum_of(case.fn, rest)), ft.grad(sum_of(fnp.sin, ()))
        impls["grad"] = lambda: grad_fn(x)
        impls["grad sin"] = lambda: grad_sin(x)
    numbers = {k: calls_per_sample(fn) for k, fn in impls.items()}
    best = dict.fromkeys(impls, float("inf"))
    for _ in range(rounds):
        for k, fn in impls.items():
            best[k] = min(best[k], process_seconds(fn, numbers[k]))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", default="", help="comma-separated substrings of case names")
    args = parser.parse_args()
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    cases = [c for c in _cases() if not wanted or any(w in c.name for w in wanted)]

    print(f"{'function':<28}{'NumPy':>9}{'functrans':>11}{'ratio':>7}{'grad':>9}"
          f"{'grad sin':>10}{'extra':>8}{'eqns':>6}{'per eqn':>9}   (us, process-time minimums)")
    for case in cases:
        check(case)
        t = {k: v * 1e6 for k, v in measure(case, args.rounds).items()}
        eqns = n_equations(case)
        line = (f"{case.name:<28}{t['floor']:>9.2f}{t['fn']:>11.2f}"
                f"{t['fn'] / t['floor']:>6.1f}x")
        if case.grad:
            extra = t["grad"] - t["grad sin"]
            per_eqn = extra / (eqns - 1) if eqns > 1 else float("nan")
            line += (f"{t['grad']:>9.1f}{t['grad sin']:>10.1f}{extra:>8.1f}{eqns:>6}"
                     f"{per_eqn:>9.1f}")
        print(line, flush=True)


if __name__ == "__main__":
    main()
