"""Gradient of the W3 loss over many examples in Dask chunks: functrans against a
hand-written Dask gradient, on a dask.distributed cluster.

    python benchmarks/dask_grad.py [--examples 60000] [--chunk 6000] [--rounds 3]
                                   [--workers 2] [--scheduler tcp://host:8786]

The loss is W3's (an MLP 784-512-512-10 with relu and softmax cross-entropy, float64),
its mean taken over all the examples, which live in a Dask array chunked along the
batch axis on the workers (made there, and persisted). Two gradients are timed:

* the hand-written floor: ``workloads.mlp_floor`` (the NumPy forward and backward
  pass) on each chunk as one Dask task, weighted by the chunk's share of the
  examples and summed in a tree;
* functrans: ``ft.jit(ft.grad(loss))(params, x, y)`` with the Dask arrays ``x``,
  ``y``, which builds the task graph (one task per chunk running the jitted gradient's
  NumPy code for the chunk's rows, its shares of the gradient added in a tree: see
  docs/backends.md), then computed.

Each figure is the median (min-max) over rounds of the wall-clock time from building
the graph to having the gradient in NumPy; rounds interleave the two. Peak memory per
worker is sampled by ``distributed.diagnostics.MemorySampler`` (the cluster's memory
every 0.2 s, divided by the number of workers), above the level before the call. The
issue's goals: within 1.2x of the floor, and peak memory per worker bounded by a few
chunks, not the data. The issue's size (1,000,000 examples in chunks of 50,000, 6 GB of
float64) needs a bigger machine than the 2-core, 24 GB one these defaults fit in a
couple of minutes; pass ``--examples 1000000 --chunk 50000`` there.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dask  # noqa: E402
import dask.array as da  # noqa: E402
from dask.distributed import Client, LocalCluster  # noqa: E402
from distributed.diagnostics import MemorySampler  # noqa: E402
from workloads import init_mlp, mlp_floor, mlp_loss  # noqa: E402

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402

SIZES = [784, 512, 512, 10]
loss = mlp_loss(fnp, "relu", "xent", stop_gradient=ft.lax.stop_gradient)
functrans_grad = ft.jit(ft.grad(loss))


def make_data(client: Client, examples: int, chunk: int) -> tuple[Any, Any]:
    rng = da.random.default_rng(0)
    x = rng.standard_normal((examples, SIZES[0]), chunks=(chunk, SIZES[0]))
    labels = rng.integers(0, SIZES[-1], examples, chunks=chunk)
    y = (labels[:, None] == da.arange(SIZES[-1])).astype(np.float64)
    return client.persist(x), client.persist(y)


def _chunk_grad(params: list, x: np.ndarray, y: np.ndarray, share: float) -> list:
    return [(w * share, b * share) for w, b in mlp_floor(params, x, y, "relu", "xent")]


def _add(a: list, b: list) -> list:
    return [(wa + wb, ba + bb) for (wa, ba), (wb, bb) in zip(a, b)]


def floor_grad(params: list, x: Any, y: Any) -> Any:
    """The hand-written Dask gradient: the NumPy backward pass per chunk, tree-summed."""
    total = x.shape[0]
    held = dask.delayed(params, traverse=False)
    parts = [dask.delayed(_chunk_grad)(held, xb, yb, n / total)
             for xb, yb, n in zip(x.to_delayed().ravel(), y.to_delayed().ravel(),
                                  x.chunks[0])]
    while len(parts) > 1:
        parts = [dask.delayed(_add)(parts[i], parts[i + 1]) if i + 1 < len(parts)
                 else parts[i] for i in range(0, len(parts), 2)]
    return parts[0]


def run_floor(params: list, x: Any, y: Any) -> list:
    return floor_grad(params, x, y).compute()


def run_functrans(params: list, x: Any, y: Any) -> list:
    return dask.compute(functrans_grad(params, x, y))[0]


def max_difference(a: list, b: list) -> float:
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v))))
               for u, v in zip(ft.tree_util.tree_leaves(a), ft.tree_util.tree_leaves(b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=60_000)
    parser.add_argument("--chunk", type=int, default=6_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", default=None, help="a running scheduler's address")
    args = parser.parse_args()
    cluster = None
    address = args.scheduler
    if address is None:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1,
                               dashboard_address=None, memory_limit="8GiB")
        address = cluster.scheduler_address
    with Client(address) as client:
        workers = len(client.scheduler_info()["workers"])
        x, y = make_data(client, args.examples, args.chunk)
        params = init_mlp(np.random.default_rng(0), SIZES)
        data_mib = (x.nbytes + y.nbytes) / 2**20
        chunk_mib = args.chunk * (SIZES[0] + SIZES[-1]) * 8 / 2**20
        print(f"{args.examples} examples in chunks of {args.chunk} ({data_mib:.0f} MiB of "
              f"data, {chunk_mib:.0f} MiB per chunk) on {workers} workers")
        reference = run_floor(params, x, y)
        difference = max_difference(run_functrans(params, x, y), reference)
        print(f"functrans vs floor: max difference {difference:.2e}")
        graph = functrans_grad(params, x, y)
        tasks = len(dict(dask.base.collections_to_expr(list(
            ft.tree_util.tree_leaves(graph))).__dask_graph__()))
        print(f"functrans task graph: {tasks} tasks")
        times: dict[str, list[float]] = {"floor": [], "functrans": []}
        peaks: dict[str, float] = {"floor": 0.0, "functrans": 0.0}
        sampler = MemorySampler()
        for round_ in range(args.rounds):
            for name, run in (("floor", run_floor), ("functrans", run_functrans)):
                label = f"{name}-{round_}"
                with sampler.sample(label, interval=0.2):
                    start = time.perf_counter()
                    run(params, x, y)
                    times[name].append(time.perf_counter() - start)
                samples = [m for _, m in sampler.samples[label]]
                peaks[name] = max(peaks[name], (max(samples) - samples[0]) / workers / 2**20)
            print(f"round {round_ + 1}: floor {times['floor'][-1]:.2f} s, "
                  f"functrans {times['functrans'][-1]:.2f} s")
        floor_median = statistics.median(times["floor"])
        print("\n| implementation | median (min-max) s | ratio | peak MiB per worker |")
        print("|---|---|---|---|")
        for name in ("floor", "functrans"):
            t = times[name]
            print(f"| {name} | {statistics.median(t):.2f} ({min(t):.2f}-{max(t):.2f}) | "
                  f"{statistics.median(t) / floor_median:.2f}x | {peaks[name]:.0f} |")
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":
    main()
