"""functrans.random and the Adam optimizer against hand-written NumPy.

    python benchmarks/random_and_optimizers.py [--rounds 15] [--threads 1]

Workloads:

* uniform: ``random.uniform(key, (1_000_000,), float32)``;
* normal: ``random.normal(key, (1_000_000,))`` (float64);
* small draws: ``key, sub = split(key); uniform(sub, (8,))``, the per-call overhead of a
  training loop's noise;
* adam: one ``update_fun`` of ``optimizers.adam`` on the parameters of a 784-512-10 MLP
  (float32, about 407,000 parameters) with given gradients.

The floor of each is the same computation written by hand with NumPy: Threefry-2x32 on
the counters (twenty rounds of add, rotate, xor on uint32 arrays), the mantissa trick
for uniforms, ``scipy.special.erfinv`` for normals, the Adam formulas on each array.
Every functrans result is checked against the floor's (bit for bit for the bits and
uniforms) before timing. NumPy's own generator (PCG64, another stream of numbers) is
timed for scale. Rounds interleave the implementations; each figure is the median
(min-max) of the wall-clock time per call, and the ratio is median / the floor's median.
BLAS runs on `--threads` threads (default 1, as ``benchmarks/run.py``).
"""

from __future__ import annotations

import argparse
import os
import sys

import harness


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
import scipy.special  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import functrans as ft  # noqa: E402
import functrans.random as jr  # noqa: E402
from functrans.example_libraries import optimizers  # noqa: E402

N = 1_000_000
U32 = np.uint32


# ------------------------------------------------------------------ the floor, by hand

def threefry(k0: np.ndarray, k1: np.ndarray, c0: np.ndarray, c1: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Threefry-2x32, 20 rounds (Salmon et al. 2011), on uint32 arrays."""
    ks = (k0, k1, k0 ^ k1 ^ U32(0x1BD11BDA))
    x0, x1 = c0 + ks[0], c1 + ks[1]
    for group in range(5):
        for r in ((13, 15, 26, 6), (17, 29, 16, 24))[group % 2]:
            x0 = x0 + x1
            x1 = ((x1 << U32(r)) | (x1 >> U32(32 - r))) ^ x0
        x0 = x0 + ks[(group + 1) % 3]
        x1 = x1 + ks[(group + 2) % 3] + U32(group + 1)
    return x0, x1


def floor_bits(key: np.ndarray, n: int, width: int) -> np.ndarray:
    counts = np.arange(n, dtype=np.uint64)
    hi, lo = threefry(key[0], key[1], (counts >> np.uint64(32)).astype(U32), counts.astype(U32))
    if width == 32:
        return hi ^ lo
    return (hi.astype(np.uint64) << np.uint64(32)) | lo.astype(np.uint64)


def floor_uniform(key: np.ndarray, n: int, dtype: np.dtype) -> np.ndarray:
    bits = floor_bits(key, n, np.finfo(dtype).bits)
    uint = bits.dtype
    mantissa = bits >> uint.type(np.finfo(dtype).bits - np.finfo(dtype).nmant)
    return (mantissa | np.array(1.0, dtype).view(uint)).view(dtype) - dtype.type(1)


def floor_normal(key: np.ndarray, n: int) -> np.ndarray:
    low = np.nextafter(-1.0, 0.0)
    u = np.maximum(low, floor_uniform(key, n, np.dtype(np.float64)) * (1.0 - low) + low)
    return scipy.special.erfinv(u) * np.sqrt(2.0)


def floor_split(key: np.ndarray) -> np.ndarray:
    hi, lo = threefry(key[0], key[1], np.zeros(2, U32), np.arange(2, dtype=U32))
    return np.stack([hi, lo], axis=1)


def floor_small_draw(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    key, sub = floor_split(key)
    return key, floor_uniform(sub, 8, np.dtype(np.float32))


def functrans_small_draw(key):
    key, sub = jr.split(key)
    return key, jr.uniform(sub, (8,), np.float32)


def floor_adam(i: int, grads: dict, state: dict, lr: float = 1e-3, b1: float = 0.9,
               b2: float = 0.999, eps: float = 1e-8) -> dict:
    out = {}
    for name, g in grads.items():
        x, m, v = state[name]
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * np.square(g) + b2 * v
        mhat = m / (1 - np.float32(b1) ** (i + 1))
        vhat = v / (1 - np.float32(b2) ** (i + 1))
        out[name] = (x - np.float32(lr) * mhat / (np.sqrt(vhat) + eps), m, v)
    return out


# ------------------------------------------------------------------ timing

def run(title: str, implementations: dict[str, Callable[[], object]], rounds: int) -> None:
    for fn in implementations.values():
        fn()
        fn()   # jit compiles on its second call
    times: dict[str, list[float]] = {name: [] for name in implementations}
    for _ in range(rounds):
        for name, fn in implementations.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    floor = statistics.median(next(iter(times.values())))
    print(f"\n{title}")
    print(f"{'implementation':<24} {'median ms':>10} {'min-max ms':>18} {'ratio':>7}")
    for name, ts in times.items():
        median = statistics.median(ts)
        print(f"{name:<24} {median * 1e3:>10.3f} {min(ts) * 1e3:>8.3f}-{max(ts) * 1e3:<9.3f} "
              f"{median / floor:>7.2f}")


def check_equal(name: str, got: object, expected: object, exact: bool = True) -> None:
    got, expected = np.asarray(got), np.asarray(expected)
    same = (np.array_equal(got, expected) if exact else
            np.allclose(got, expected, rtol=1e-12, atol=0) and got.dtype == expected.dtype)
    if not same or got.dtype != expected.dtype:
        raise SystemExit(f"{name}: differs from the floor")


def main() -> None:
    args = _parse()
    key = np.asarray(jr.key(0))
    f32 = np.dtype(np.float32)
    generator = np.random.default_rng(0)

    uniform_jit = ft.jit(jr.uniform, static_argnums=(1, 2))
    check_equal("bits", jr.bits(key, (N,), U32), floor_bits(key, N, 32))
    check_equal("uniform", jr.uniform(key, (N,), f32), floor_uniform(key, N, f32))
    check_equal("uniform jit", uniform_jit(key, (N,), f32), floor_uniform(key, N, f32))
    run(f"uniform float32, {N:,} samples (BLAS threads {os.environ.get('OPENBLAS_NUM_THREADS')}, "
        f"{args.rounds} rounds)", {
            "floor (NumPy Threefry)": lambda: floor_uniform(key, N, f32),
            "functrans eager": lambda: jr.uniform(key, (N,), f32),
            "functrans jit": lambda: uniform_jit(key, (N,), f32),
            "NumPy PCG64 (scale)": lambda: generator.random(N, np.float32),
        }, args.rounds)

    normal_jit = ft.jit(jr.normal, static_argnums=(1,))
    check_equal("normal", jr.normal(key, (N,)), floor_normal(key, N), exact=False)
    run(f"normal float64, {N:,} samples", {
        "floor (NumPy Threefry)": lambda: floor_normal(key, N),
        "functrans eager": lambda: jr.normal(key, (N,)),
        "functrans jit": lambda: normal_jit(key, (N,)),
        "NumPy PCG64 (scale)": lambda: generator.standard_normal(N),
    }, args.rounds)

    small_jit = ft.jit(functrans_small_draw)
    for got in (functrans_small_draw(key), small_jit(key)):
        for g, e in zip(got, floor_small_draw(key)):
            check_equal("small draw", g, e)
    run("split + uniform((8,)) per call", {
        "floor (NumPy Threefry)": lambda: floor_small_draw(key),
        "functrans eager": lambda: functrans_small_draw(key),
        "functrans jit": lambda: small_jit(key),
    }, args.rounds * 20)

    rng = np.random.default_rng(1)
    shapes = {"w1": (784, 512), "b1": (512,), "w2": (512, 10), "b2": (10,)}
    params = {k: (0.05 * rng.standard_normal(s)).astype(f32) for k, s in shapes.items()}
    grads = {k: rng.standard_normal(s).astype(f32) for k, s in shapes.items()}
    init_fun, update_fun, get_params = optimizers.adam(1e-3)
    opt_state = update_fun(0, grads, init_fun(params))
    update_jit = ft.jit(update_fun)
    floor_state = floor_adam(0, grads, {k: (p, np.zeros_like(p), np.zeros_like(p))
                                        for k, p in params.items()})
    for name, state in (("adam", update_fun(1, grads, opt_state)),
                        ("adam jit", update_jit(1, grads, opt_state))):
        new_params = get_params(state)
        expected = floor_adam(1, grads, floor_state)
        for k in shapes:
            if not np.allclose(new_params[k], expected[k][0], rtol=1e-6, atol=1e-7) \
                    or new_params[k].dtype != f32:
                raise SystemExit(f"{name}: {k} differs from the floor")
    run("adam update, 784-512-10 MLP parameters, float32", {
        "floor (NumPy Adam)": lambda: floor_adam(1, grads, floor_state),
        "functrans eager": lambda: update_fun(1, grads, opt_state),
        "functrans jit": lambda: update_jit(1, grads, opt_state),
    }, args.rounds)


if __name__ == "__main__":
    main()
