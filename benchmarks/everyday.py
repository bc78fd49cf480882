"""Tree and lax utilities of issue 11 part C against hand-written NumPy.

    python benchmarks/everyday.py [--rounds 15] [--threads 1]

Workloads (float64):

* associative_scan: ``lax.associative_scan(lax.add, x)`` on 1,000,000 values, jitted;
  floor ``np.cumsum``;
* reduce: ``lax.reduce(x, 1.0, lambda a, b: a * b, (0,))`` (a computation that is not a
  known monoid, so the pairwise route) on a 4096x256 array, jitted; floor ``np.prod``;
* map: ``lax.map(f, xs, batch_size=64)`` of a small row function over 4096 rows of 256,
  jitted; floor the same function vectorised by hand over all rows;
* ravel_pytree: ravel and unravel of an MLP's parameters (784-512-512-10), eager; floor
  ``np.concatenate`` of the raveled leaves and ``np.split``/``reshape`` back.

Every result is checked against the floor's before timing. Rounds interleave the
implementations; each figure is the median (min-max) of the time per call, and the ratio
is median / the floor's median.
"""

from __future__ import annotations

import argparse
import sys


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args()


if __name__ == "__main__":
    import harness

    harness.restart_with_blas_threads(_parse().threads)

import statistics  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
from functrans import lax  # noqa: E402
from functrans.flatten_util import ravel_pytree  # noqa: E402

RNG = np.random.default_rng(0)


def _row(r):
    return fnp.tanh(r) * fnp.sum(r * r)


def _workloads() -> dict[str, dict[str, Callable[[], object]]]:
    x = RNG.uniform(0.5, 1.0, 1_000_000)
    m = RNG.uniform(0.999, 1.001, (4096, 256))
    sizes = [784, 512, 512, 10]
    params = [(RNG.normal(size=(a, b)), RNG.normal(size=b)) for a, b in zip(sizes, sizes[1:])]
    leaves = [p for layer in params for p in layer]
    shapes = [leaf.shape for leaf in leaves]
    cuts = np.cumsum([leaf.size for leaf in leaves])[:-1]

    def floor_ravel():
        flat = np.concatenate([leaf.ravel() for leaf in leaves])
        return [piece.reshape(s) for piece, s in zip(np.split(flat, cuts), shapes)]

    def ours_ravel():
        flat, unravel = ravel_pytree(params)
        return [p for layer in unravel(flat) for p in layer]

    scan = ft.jit(lambda v: lax.associative_scan(lax.add, v))
    reduce = ft.jit(lambda v: lax.reduce(v, 1.0, lambda a, b: a * b, (0,)))
    mapped = ft.jit(lambda v: lax.map(_row, v, batch_size=64))
    return {
        "associative_scan": {"floor": lambda: np.cumsum(x), "functrans": lambda: scan(x)},
        "reduce": {"floor": lambda: np.prod(m, 0), "functrans": lambda: reduce(m)},
        "map": {"floor": lambda: np.tanh(m) * (m * m).sum(1, keepdims=True),
                "functrans": lambda: mapped(m)},
        "ravel_pytree": {"floor": floor_ravel, "functrans": ours_ravel},
    }


def _check(name: str, impls: dict[str, Callable[[], object]]) -> None:
    expected, got = impls["floor"](), impls["functrans"]()
    for a, b in zip(np.atleast_1d(expected) if not isinstance(expected, list) else expected,
                    np.atleast_1d(got) if not isinstance(got, list) else got):
        np.testing.assert_allclose(b, a, rtol=1e-9, err_msg=name)


def main() -> None:
    import harness

    rounds = _parse().rounds
    print(f"{'workload':<18} {'floor ms':>22} {'functrans ms':>22} {'ratio':>7}")
    for name, impls in _workloads().items():
        _check(name, impls)
        number = max(1, int(0.05 / max(harness.seconds_per_call(impls["floor"], 1), 1e-6)))
        samples: dict[str, list[float]] = {k: [] for k in impls}
        for _ in range(rounds):
            for key, fn in impls.items():
                samples[key].append(harness.seconds_per_call(fn, number) * 1e3)
        cells = {k: (statistics.median(v), min(v), max(v)) for k, v in samples.items()}
        text = {k: f"{m:.3f} ({lo:.3f}-{hi:.3f})" for k, (m, lo, hi) in cells.items()}
        ratio = cells["functrans"][0] / cells["floor"][0]
        print(f"{name:<18} {text['floor']:>22} {text['functrans']:>22} {ratio:>7.2f}")


if __name__ == "__main__":
    main()
