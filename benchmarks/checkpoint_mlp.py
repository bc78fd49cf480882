"""Memory and time of reverse mode with and without checkpointing.

    python benchmarks/checkpoint_mlp.py [--layers 64] [--width 512] [--batch 256]

The gradient (with respect to the weights) of ``sum(mlp(x) ** 2)`` for a tanh
MLP whose layer loop is a ``scan`` over the stacked weights, in three forms:

* plain: ``scan(layer, x, W)``;
* per-layer checkpoint: ``scan(checkpoint(layer), x, W)``;
* two-level: a ``scan`` over sqrt(L) checkpointed blocks, each a ``scan`` of
  sqrt(L) plain layers (the sqrt(L) schedule); also with 2 sqrt(L) blocks of
  sqrt(L) / 2 layers.

"Held" is the memory held for the backward pass: the peak increase of traced
NumPy allocations (tracemalloc) during the ``grad`` call, minus the size of the
gradient it returns. Times are the minimum (and median) over interleaved
rounds without tracemalloc; ratios use the minima, which load from other
processes on a shared machine disturbs least.
float32, so that the weights fit comfortably in memory.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

import functrans as ft
import functrans.numpy as fnp
from functrans.higher_order.checkpoint import checkpoint
from functrans.higher_order.control_flow import scan


def layer(h, w):
    return fnp.tanh(h @ w), None


def plain(weights, x):
    h, _ = scan(layer, x, weights)
    return fnp.sum(h ** 2)


def per_layer(weights, x):
    h, _ = scan(checkpoint(layer), x, weights)
    return fnp.sum(h ** 2)


def two_level(weights, x, block_size=None):
    n_layers = weights.shape[0]
    block_size = block_size or math.isqrt(n_layers)
    blocks = weights.reshape((n_layers // block_size, block_size) + weights.shape[1:])

    def block(h, block_weights):
        h, _ = scan(layer, h, block_weights)
        return h, None

    h, _ = scan(checkpoint(block), x, blocks)
    return fnp.sum(h ** 2)


def two_level_small_blocks(weights, x):
    """Twice as many blocks of half the size: fewer values in flight per block."""
    return two_level(weights, x, max(1, math.isqrt(weights.shape[0]) // 2))


def held_bytes(f: Callable, weights: np.ndarray, x: np.ndarray) -> tuple[int, np.ndarray]:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        grads = ft.grad(f)(weights, x)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - before - grads.nbytes, grads


def seconds(fs: list[Callable], weights: np.ndarray, x: np.ndarray, rounds: int
            ) -> list[tuple[float, float]]:
    """(min, median) time of ``grad(f)`` for each of `fs`, rounds interleaved so
    that load from other processes affects all variants alike."""
    times: list[list[float]] = [[] for _ in fs]
    for i in range(rounds):
        for f, ts in zip(fs, times):
            gc.collect()
            start = time.perf_counter()
            ft.grad(f)(weights, x)
            ts.append(time.perf_counter() - start)
        print(f"  timing: round {i + 1} of {rounds} done", flush=True)
    return [(min(ts), statistics.median(ts)) for ts in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=64)
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    scale = 1.0 / math.sqrt(args.width)
    weights = (rng.standard_normal((args.layers, args.width, args.width)) * scale
               ).astype(np.float32)
    x = rng.standard_normal((args.batch, args.width)).astype(np.float32)
    activation = x.nbytes
    print(f"tanh MLP, {args.layers} layers of width {args.width}, batch {args.batch}, "
          f"float32; one activation = {activation / 2**20:.2f} MiB, "
          f"weights = {weights.nbytes / 2**20:.0f} MiB", flush=True)
    root = math.isqrt(args.layers)
    variants = [("plain", plain), ("checkpoint per layer", per_layer),
                (f"two-level {args.layers // root}x{root}", two_level),
                (f"two-level {2 * args.layers // root}x{root // 2}", two_level_small_blocks)]
    held = []
    reference = None
    for name, f in variants:
        print(f"  memory held by {name} ...", flush=True)
        size, grads = held_bytes(f, weights, x)
        if reference is None:
            reference = grads
        np.testing.assert_allclose(grads, reference, rtol=2e-4, atol=1e-6)
        held.append(size)
    times = seconds([f for _, f in variants], weights, x, args.rounds)
    print(f"{'variant':<22} {'held MiB':>9} {'activations':>12} {'vs plain':>9} "
          f"{'min s':>7} {'median s':>9} {'vs plain':>9}")
    for (name, _), size, (fastest, median) in zip(variants, held, times):
        print(f"{name:<22} {size / 2**20:9.1f} {size / activation:12.1f} "
              f"{size / held[0]:9.2f} {fastest:7.3f} {median:9.3f} "
              f"{fastest / times[0][0]:9.2f}")


if __name__ == "__main__":
    main()
