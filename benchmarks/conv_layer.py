"""Gradient of a convolution layer: functrans against a hand-written im2col NumPy gradient.

    python benchmarks/conv_layer.py [--dtype float32] [--rounds 15] [--threads 1]

The layer is the issue's: a batch of 64 images of 28x28 with 32 channels, a 3x3
kernel to 64 channels, 'SAME' padding, stride 1, layouts NCHW / OIHW. The loss is
``0.5 * sum(conv(x, w) ** 2)`` and every implementation returns its gradient with
respect to the kernel and the input:

* floor: the forward pass and both gradients by hand, as a NumPy programmer writes
  them: channels-last im2col through ``sliding_window_view``, one matrix product per
  pass (forward, kernel gradient, input-column gradient) and col2im as nine
  shifted adds;
* functrans jit: ``ft.jit(ft.grad(loss, argnums=(0, 1)))``;
* functrans eager: ``ft.grad(loss, argnums=(0, 1))``;
* torch eager (autograd, one thread), when PyTorch is installed.

Every implementation's gradients are checked against the floor's before timing.
Rounds interleave the implementations; each figure is the median (min-max) over
rounds of the wall-clock time per call, and the ratio is median / the floor's median.
The CPU-time columns (``time.process_time``) say the same for the processor time the
call used, which load from other processes on a shared machine disturbs less. BLAS
runs on `--threads` threads (default 1, as ``benchmarks/run.py``), set before NumPy
loads.
"""

from __future__ import annotations

import argparse
import os
import sys

import harness


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args()


if __name__ == "__main__":
    harness.restart_with_blas_threads(_parse().threads)

import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import functrans as ft  # noqa: E402
import functrans.numpy as fnp  # noqa: E402
from functrans import lax  # noqa: E402

BATCH, C_IN, C_OUT, SIZE, KERNEL = 64, 32, 64, 28, 3
PAD = KERNEL // 2


def loss(w, x):
    y = lax.conv_general_dilated(x, w, (1, 1), "SAME")
    return 0.5 * fnp.sum(y ** 2)


def floor_gradient(w: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The forward pass and both gradients of ``loss`` by hand (im2col, channels last)."""
    n, c, h, wd = x.shape
    o, k = w.shape[0], w.shape[2]
    padded = np.zeros((n, h + 2 * PAD, wd + 2 * PAD, c), x.dtype)
    padded[:, PAD:PAD + h, PAD:PAD + wd, :] = x.transpose(0, 2, 3, 1)
    columns = sliding_window_view(padded, (k, k), axis=(1, 2))      # (n, h, w, c, k, k)
    columns = columns.transpose(0, 1, 2, 4, 5, 3).reshape(n * h * wd, k * k * c)
    kernel = w.transpose(0, 2, 3, 1).reshape(o, k * k * c)
    y = columns @ kernel.T                                           # (n h w, o)
    y_bar = y                                                        # d loss / d y
    w_bar = (y_bar.T @ columns).reshape(o, k, k, c).transpose(0, 3, 1, 2)
    columns_bar = (y_bar @ kernel).reshape(n, h, wd, k, k, c)
    padded_bar = np.zeros_like(padded)
    for i in range(k):                                               # col2im
        for j in range(k):
            padded_bar[:, i:i + h, j:j + wd, :] += columns_bar[:, :, :, i, j, :]
    x_bar = padded_bar[:, PAD:PAD + h, PAD:PAD + wd, :].transpose(0, 3, 1, 2)
    return w_bar, x_bar


def torch_gradient() -> Callable | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))

    def gradient(w: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        tw = torch.tensor(w, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        y = torch.nn.functional.conv2d(tx, tw, padding=PAD)
        (0.5 * (y ** 2).sum()).backward()
        return tw.grad.numpy(), tx.grad.numpy()
    return gradient


def check(name: str, got: tuple, expected: tuple, dtype: np.dtype) -> None:
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for what, g, e in zip(("kernel", "input"), got, expected):
        error = np.max(np.abs(np.asarray(g) - e)) / np.max(np.abs(e))
        if not error < tol or np.asarray(g).dtype != dtype:
            raise SystemExit(f"{name}: {what} gradient differs from the floor's (relative "
                             f"error {error:.2g}, dtype {np.asarray(g).dtype})")


def main() -> None:
    args = _parse()
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCH, C_IN, SIZE, SIZE)).astype(dtype)
    w = (rng.standard_normal((C_OUT, C_IN, KERNEL, KERNEL)) / np.sqrt(C_IN * KERNEL ** 2)
         ).astype(dtype)
    implementations: dict[str, Callable] = {
        "floor (NumPy im2col)": floor_gradient,
        "functrans jit": ft.jit(ft.grad(loss, argnums=(0, 1))),
        "functrans eager": ft.grad(loss, argnums=(0, 1)),
    }
    torch_fn = torch_gradient()
    if torch_fn is not None:
        implementations["torch eager"] = torch_fn
    expected = floor_gradient(w, x)
    for name, fn in implementations.items():
        check(name, fn(w, x), expected, dtype)
        fn(w, x)   # jit compiles on its second call
    times: dict[str, list[float]] = {name: [] for name in implementations}
    cpu_times: dict[str, list[float]] = {name: [] for name in implementations}
    for _ in range(args.rounds):
        for name, fn in implementations.items():
            start, cpu_start = time.perf_counter(), time.process_time()
            fn(w, x)
            times[name].append(time.perf_counter() - start)
            cpu_times[name].append(time.process_time() - cpu_start)
    floor = statistics.median(times["floor (NumPy im2col)"])
    cpu_floor = statistics.median(cpu_times["floor (NumPy im2col)"])
    print(f"gradient of 0.5 * sum(conv(x, w)^2) w.r.t. (w, x): x {x.shape}, w {w.shape}, "
          f"SAME, {dtype}, BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS')}, "
          f"{args.rounds} rounds")
    if torch_fn is None:
        print("torch: not installed, skipped")
    print(f"{'implementation':<22} {'median ms':>10} {'min-max ms':>16} {'ratio':>7} "
          f"{'CPU ms':>8} {'CPU ratio':>9}")
    for name, ts in times.items():
        median, cpu = statistics.median(ts), statistics.median(cpu_times[name])
        print(f"{name:<22} {median * 1e3:>10.1f} {min(ts) * 1e3:>7.1f}-{max(ts) * 1e3:<8.1f} "
              f"{median / floor:>7.2f} {cpu * 1e3:>8.1f} {cpu / cpu_floor:>9.2f}")


if __name__ == "__main__":
    main()
