"""Gradients over a Dask array on a dask.distributed cluster.

The data is a Dask array chunked along the batch axis. functrans evaluates every
primitive with the library of its operands (see docs/backends.md), so the same
``grad``, ``vmap`` and ``jit`` build Dask task graphs instead of computing: the
per-example gradients keep the batch chunks; the jitted training step runs as one
NumPy task per chunk (its forward and backward pass) whose shares of the mean loss's
gradient are added in a tree; and nothing runs until ``.compute()`` sends the graph
to the cluster's workers.

    python examples/distributed.py                     # a LocalCluster of 2 workers
    python examples/distributed.py tcp://host:8786     # a running scheduler instead

Needs ``pip install 'functrans[dask]'`` (dask[array], distributed, array-api-compat).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

# This script is named like the `distributed` package that dask.distributed imports:
# keep its own folder off the import path, or it would import itself.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import numpy as np  # noqa: E402

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402

try:
    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster
except ImportError:  # the example needs the dask extra
    dask = None

N_EXAMPLES, CHUNK, N_FEATURES, N_HIDDEN = 20_000, 2_500, 16, 32
LEARNING_RATE, STEPS = 0.1, 3


def loss(params: dict, x: Any, y: Any) -> Any:
    """Mean squared error of a one-hidden-layer tanh network."""
    hidden = fnp.tanh(x @ params["w1"] + params["b1"])
    prediction = (hidden @ params["w2"])[:, 0] + params["b2"]
    return fnp.mean((prediction - y) ** 2)


def example_loss(params: dict, xi: Any, yi: Any) -> Any:
    return loss(params, xi[None, :], yi[None])


#: the gradient of each example's loss: vmap over the (chunked) batch axis
per_example_grads = ft.vmap(ft.grad(example_loss), in_axes=(None, 0, 0))


@ft.jit
def train_step(params: dict, x: Any, y: Any) -> dict:
    grads = ft.grad(loss)(params, x, y)
    return ft.tree_util.tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads)


def make_params(rng: np.random.Generator) -> dict:
    return {"w1": rng.standard_normal((N_FEATURES, N_HIDDEN)) / np.sqrt(N_FEATURES),
            "b1": np.zeros(N_HIDDEN),
            "w2": rng.standard_normal((N_HIDDEN, 1)) / np.sqrt(N_HIDDEN),
            "b2": np.zeros(())}


def make_data(client: Any) -> tuple[Any, Any]:
    """Data made on the workers, chunked along the batch, and kept there."""
    rng = da.random.default_rng(0)
    x = rng.standard_normal((N_EXAMPLES, N_FEATURES), chunks=(CHUNK, N_FEATURES))
    y = da.sin(x[:, 0]) + 0.1 * rng.standard_normal(N_EXAMPLES, chunks=CHUNK)
    return client.persist(x), client.persist(y)


def graph_size(arrays: list[Any]) -> int:
    tasks: dict = {}
    for a in arrays:
        tasks.update(dict(a.__dask_graph__()))
    return len(tasks)


def max_difference(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in a)


def main(address: str | None) -> None:
    params = make_params(np.random.default_rng(0))
    cluster = None
    if address is None:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                               processes=True)
        address = cluster.scheduler_address
    with Client(address) as client:
        print(f"cluster: {address} with {len(client.scheduler_info()['workers'])} workers")
        x_dask, y_dask = make_data(client)
        x, y = dask.compute(x_dask, y_dask)  # NumPy copies, for the comparisons

        # per-example gradients: lazy Dask arrays, chunked like the batch
        grads = per_example_grads(params, x_dask, y_dask)
        print(f"per-example gradient of w1: {type(grads['w1']).__name__} "
              f"{grads['w1'].shape}, chunks along the batch {grads['w1'].chunks[0][:3]}...")
        norms = fnp.sqrt(sum(fnp.sum(g.reshape(N_EXAMPLES, -1) ** 2, axis=1)
                             for g in grads.values()))
        start = time.perf_counter()
        norms_value = norms.compute()
        expected_norms = np.sqrt(sum(np.sum(np.asarray(g).reshape(CHUNK, -1) ** 2, axis=1)
                                     for g in per_example_grads(params, x[:CHUNK],
                                                                y[:CHUNK]).values()))
        print(f"per-example gradient norms: mean {norms_value.mean():.6f}, computed in "
              f"{time.perf_counter() - start:.2f} s; first chunk vs NumPy: max difference "
              f"{np.max(np.abs(norms_value[:CHUNK] - expected_norms)):.2e}")

        # a jitted training step: one task graph per step, run on the workers
        new_params = train_step(params, x_dask, y_dask)
        tasks = graph_size(list(new_params.values()))
        print(f"training step task graph: {tasks} tasks for {N_EXAMPLES // CHUNK} chunks")
        assert tasks <= 8 * (N_EXAMPLES // CHUNK), "one task per chunk, and a tree of sums"
        reference = params
        for _ in range(STEPS):
            lazy = train_step(params, x_dask, y_dask)
            params = dict(zip(lazy, dask.compute(*lazy.values())))
            reference = train_step(reference, x, y)
        print(f"after {STEPS} steps: loss {float(loss(params, x, y)):.6f}; "
              f"parameters vs NumPy: max difference {max_difference(params, reference):.2e}")
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":
    if dask is None:
        print("this example needs Dask: pip install 'functrans[dask]'")
        sys.exit(0)
    main(sys.argv[1] if len(sys.argv) > 1 else None)
