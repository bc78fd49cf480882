"""Memory of eager grad with the whole function checkpointed, against plain grad.

    python benchmarks/checkpoint_whole.py [--layers 20] [--width 256]

A chain of tanh layers; "held" is the peak increase of traced NumPy allocations
(tracemalloc) during one ``grad`` call, after a warm-up call. Checkpointing the whole
function recomputes its forward pass inside the backward pass; done right, that holds
no more than the residuals plain grad keeps.
"""

from __future__ import annotations

import argparse
import tracemalloc
from collections.abc import Callable

import numpy as np

import functrans as ft
import functrans.numpy as fnp


def held_mib(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> float:
    f(x)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        f(x)
        return (tracemalloc.get_traced_memory()[1] - before) / 2**20
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--width", type=int, default=256)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((args.width, args.width)) / np.sqrt(args.width)
               for _ in range(args.layers)]
    x = rng.standard_normal((args.width, args.width))

    def chain(h: np.ndarray) -> np.ndarray:
        for w in weights:
            h = fnp.tanh(h @ w)
        return fnp.sum(h ** 2)

    plain = held_mib(ft.grad(chain), x)
    whole = held_mib(ft.grad(ft.checkpoint(chain)), x)
    print(f"{args.layers} layers of {args.width}x{args.width}, float64")
    print(f"  plain grad                    {plain:7.1f} MiB held")
    print(f"  grad of checkpoint(whole fn)  {whole:7.1f} MiB held  ({whole / plain:.2f}x)")


if __name__ == "__main__":
    main()
