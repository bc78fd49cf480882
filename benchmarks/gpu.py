"""On a machine with a CUDA GPU and CuPy: the CuPy tests, then the GPU benchmark table.

    python benchmarks/gpu.py [--rounds 20] [--skip-tests]

1. Runs the CuPy tests (``pytest tests/test_backends.py -k cupy``: grad, jit, control flow
   and special functions on CuPy arrays against NumPy).
2. Times the gradient of an MLP (relu, softmax cross-entropy) on the GPU, as issue 13's
   table: 2048-2048-2048-10 batch 512 in float32 and float64, and 8192-8192-8192-10
   batch 4096 in float32, by

   * the hand-written CuPy forward and backward pass (the floor);
   * functrans: ``ft.jit(ft.grad(loss))`` called with CuPy arrays (its code generated
     for CuPy, no hand edits);
   * PyTorch eager autograd on the GPU, when torch with CUDA is installed.

Each figure is the median over rounds of the time per call, synchronising the device
after each call; ratios are median / the floor's median. Goal (the issue): functrans
within 1.15x of hand-written CuPy on the 2048² float32 gradient.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import functrans as ft
import functrans.numpy as fnp

ROOT = Path(__file__).resolve().parent.parent
CASES = [("2048² MLP grad, float32", [2048, 2048, 2048, 10], 512, np.float32),
         ("2048² MLP grad, float64", [2048, 2048, 2048, 10], 512, np.float64),
         ("8192² MLP grad, batch 4096, float32", [8192, 8192, 8192, 10], 4096, np.float32)]


def loss(params: list, x: Any, y: Any) -> Any:
    h = x
    for w, b in params[:-1]:
        h = fnp.maximum(h @ w + b, 0.0)
    w, b = params[-1]
    out = h @ w + b
    z = out - ft.lax.stop_gradient(fnp.max(out, 1, keepdims=True))
    return -fnp.sum(y * (z - fnp.log(fnp.sum(fnp.exp(z), 1, keepdims=True)))) / x.shape[0]


def floor_grad(cp: Any, params: list, x: Any, y: Any) -> list:
    """Forward and backward by hand with CuPy."""
    hs = [x]
    for w, b in params[:-1]:
        hs.append(cp.maximum(hs[-1] @ w + b, 0))
    w, b = params[-1]
    out = hs[-1] @ w + b
    e = cp.exp(out - out.max(1, keepdims=True))
    e /= e.sum(1, keepdims=True)
    delta = (e - y) / x.shape[0]
    grads = []
    for i in range(len(params) - 1, -1, -1):
        h = hs[i]
        grads.append((h.T @ delta, delta.sum(0)))
        if i:
            delta = (delta @ params[i][0].T) * (h > 0)
    grads.reverse()
    return grads


def torch_grad(torch: Any, params: list, x: Any, y: Any) -> list:
    leaves = [p for wb in params for p in wb]
    for p in leaves:
        p.grad = None
    h = x
    for w, b in params[:-1]:
        h = torch.relu(h @ w + b)
    w, b = params[-1]
    out = h @ w + b
    value = -(y * torch.log_softmax(out, 1)).sum() / x.shape[0]
    value.backward()
    return [p.grad for p in leaves]


def timed(fn: Callable[[], Any], sync: Callable[[], None], rounds: int) -> list[float]:
    fn()
    sync()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def run_table(rounds: int) -> None:
    import cupy as cp  # a GPU script: its libraries are imported when it runs

    has_torch = importlib.util.find_spec("torch") is not None
    torch = None
    if has_torch:
        import torch
        if not torch.cuda.is_available():
            torch = None
    print("| workload | hand-written CuPy | functrans jit on CuPy | torch GPU eager |")
    print("|---|---|---|---|")
    step = ft.jit(ft.grad(loss))
    for title, sizes, batch, dtype in CASES:
        rng = np.random.default_rng(0)
        params_np = [((rng.standard_normal((m, n)) / np.sqrt(m)).astype(dtype),
                      (0.1 * rng.standard_normal(n)).astype(dtype))
                     for m, n in zip(sizes[:-1], sizes[1:])]
        x_np = rng.standard_normal((batch, sizes[0])).astype(dtype)
        y_np = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], batch)]
        params = [(cp.asarray(w), cp.asarray(b)) for w, b in params_np]
        x, y = cp.asarray(x_np), cp.asarray(y_np)
        expected = floor_grad(cp, params, x, y)
        got = step(params, x, y)
        tol = 1e-3 if dtype == np.float32 else 1e-9
        for got_pair, expected_pair in zip(got, expected):
            for g, e in zip(got_pair, expected_pair):
                assert isinstance(g, cp.ndarray) and g.dtype == dtype
                np.testing.assert_allclose(cp.asnumpy(g), cp.asnumpy(e), rtol=tol, atol=tol)
        sync = cp.cuda.Device().synchronize
        floor_t = statistics.median(timed(lambda: floor_grad(cp, params, x, y), sync, rounds))
        ft_t = statistics.median(timed(lambda: step(params, x, y), sync, rounds))
        torch_cell = "—"
        if torch is not None:
            tparams = [(torch.tensor(w, device="cuda", requires_grad=True),
                        torch.tensor(b, device="cuda", requires_grad=True))
                       for w, b in params_np]
            tx, ty = torch.tensor(x_np, device="cuda"), torch.tensor(y_np, device="cuda")
            torch_t = statistics.median(timed(lambda: torch_grad(torch, tparams, tx, ty),
                                              torch.cuda.synchronize, rounds))
            torch_cell = f"{torch_t * 1e3:.2f} ms ({torch_t / floor_t:.2f}×)"
        print(f"| {title} | {floor_t * 1e3:.2f} ms | {ft_t * 1e3:.2f} ms "
              f"({ft_t / floor_t:.2f}×) | {torch_cell} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--skip-tests", action="store_true")
    args = parser.parse_args()
    if importlib.util.find_spec("cupy") is None:
        print("CuPy is not installed: pip install 'functrans[cupy]' on a machine with a GPU")
        sys.exit(1)
    if not args.skip_tests:
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               "tests/test_backends.py", "-k", "cupy", "-rs"], cwd=ROOT)
        if done.returncode != 0:
            sys.exit(done.returncode)
    run_table(args.rounds)


if __name__ == "__main__":
    main()
