"""The benchmark workloads W1-W7 and their implementations.

Each workload builds its data once and returns ``Impl``s: a zero-argument
callable to time and a function turning its result into a list of NumPy arrays
(to check that every implementation computes the same numbers before timing).
The floor is the forward and backward pass written by hand in NumPy.
Peers (autograd, JAX, PyTorch) are used when installed (``pip install .[bench]``).
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np

import functrans as ft
import functrans.numpy as fnp
from functrans.tree_util import tree_leaves


@dataclasses.dataclass
class Impl:
    run: Callable[[], Any]
    to_arrays: Callable[[Any], list[np.ndarray]] = lambda out: [np.asarray(x) for x in
                                                                  tree_leaves(out)]
    #: a fresh, never-called version of ``run`` (first-call timing), if it compiles
    fresh: Callable[[], Callable[[], Any]] | None = None


@dataclasses.dataclass
class Workload:
    key: str
    title: str
    impls: dict[str, Impl]
    rounds: int = 15
    #: True: report peak memory (MiB) instead of time
    memory: bool = False
    rtol: float = 1e-7


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


# ------------------------------------------------------------------ peers, when installed

def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_platforms", "cpu")
    return jax, jax.numpy


def _torch():
    import torch

    torch.set_num_threads(1)
    return torch


def _jax_ready(out: Any) -> Any:
    import jax

    return jax.block_until_ready(out)


def _torch_arrays(out: Any) -> list[np.ndarray]:
    import torch

    if isinstance(out, torch.Tensor):
        out = [out]
    elif isinstance(out, dict):
        out = [out[k] for k in sorted(out)]
    leaves: list[np.ndarray] = []
    for x in out:
        leaves.extend(_torch_arrays(x) if isinstance(x, (list, tuple, dict))
                      else [x.detach().numpy()])
    return leaves


def _add_peers(impls: dict[str, Impl], make: dict[str, Callable[[], Impl]]) -> None:
    needs = {"autograd": "autograd", "jax eager": "jax", "jax jit": "jax",
             "torch eager": "torch", "torch.func": "torch"}
    for name, factory in make.items():
        if has(needs[name]):
            impls[name] = factory()


# ------------------------------------------------------------------ W1 the seeds' scalar

def seed_z(np_: Any) -> Callable[[Any], Any]:
    def z(u):
        a = u**2
        return np_.exp(np_.sin(a) * np_.log(a))
    return z


def w1() -> Workload:
    u = 1.3
    u64 = np.float64(u)

    def floor():
        a = u64 * u64
        b, c = np.sin(a), np.log(a)
        z = np.exp(b * c)
        return 2.0 * u64 * (z * c * np.cos(a) + z * b / a)

    f = seed_z(fnp)
    eager, jitted = ft.grad(f), ft.jit(ft.grad(f))
    impls = {"numpy floor": Impl(floor),
             "functrans eager": Impl(lambda: eager(u)),
             "functrans jit": Impl(lambda: jitted(u), fresh=lambda: _first(ft.jit(ft.grad(f)),
                                                                           u))}

    def autograd_impl():
        import autograd
        import autograd.numpy as anp
        g = autograd.grad(seed_z(anp))
        return Impl(lambda: g(u))

    def jax_impl(jit: bool):
        def make():
            jax, jnp = _jax()
            g = jax.grad(seed_z(jnp))
            g = jax.jit(g) if jit else g
            x = jnp.float64(u)
            return Impl(lambda: _jax_ready(g(x)))
        return make

    def torch_eager():
        torch = _torch()
        x = torch.tensor(u, dtype=torch.float64, requires_grad=True)
        f_t = seed_z(torch)
        return Impl(lambda: torch.autograd.grad(f_t(x), x)[0], _torch_arrays)

    def torch_func():
        torch = _torch()
        g = torch.func.grad(seed_z(torch))
        x = torch.tensor(u, dtype=torch.float64)
        return Impl(lambda: g(x), _torch_arrays)

    _add_peers(impls, {"autograd": autograd_impl, "jax eager": jax_impl(False),
                       "jax jit": jax_impl(True), "torch eager": torch_eager,
                       "torch.func": torch_func})
    return Workload("W1", "scalar seed grad", impls, rounds=21)


def _first(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    return lambda: fn(*args)


# ------------------------------------------------------------------ MLPs (W2, W3, W4)

def init_mlp(rng: np.random.Generator, sizes: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(rng.standard_normal((m, n)) / np.sqrt(m), 0.1 * rng.standard_normal(n))
            for m, n in zip(sizes[:-1], sizes[1:])]


def mlp_loss(np_: Any, act: str, loss: str, stop_gradient: Callable[[Any], Any] = lambda x: x,
             relu: Callable[[Any], Any] | None = None) -> Callable[..., Any]:
    """The MLP loss written once for every NumPy-like module (functrans.numpy,
    autograd.numpy, jax.numpy, torch); `relu` is the library's own when it has one."""
    relu = relu or getattr(np_, "relu", None) or (lambda h: np_.maximum(h, 0.0))

    def activation(h):
        return np_.tanh(h) if act == "tanh" else relu(h)

    def f(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = activation(h @ w + b)
        w, b = params[-1]
        out = h @ w + b
        batch = x.shape[0]
        if loss == "mse":
            return np_.sum((out - y) ** 2) / (2 * batch)
        if getattr(np_, "__name__", "") == "torch":
            row_max = np_.amax(out, 1, keepdim=True)
        else:
            row_max = np_.max(out, 1, keepdims=True)
        shift = stop_gradient(row_max)
        z = out - shift
        logsumexp = np_.log(np_.sum(np_.exp(z), 1, keepdims=True))
        return -np_.sum(y * (z - logsumexp)) / batch
    return f


def mlp_floor(params: list, x: np.ndarray, y: np.ndarray, act: str, loss: str) -> list:
    """Forward and backward by hand, keeping only what the backward pass needs."""
    hs = [x]
    for w, b in params[:-1]:
        z = hs[-1] @ w
        z += b
        if act == "tanh":
            np.tanh(z, out=z)
        else:
            np.maximum(z, 0.0, out=z)
        hs.append(z)
    w, b = params[-1]
    out = hs[-1] @ w + b
    batch = x.shape[0]
    if loss == "mse":
        delta = (out - y) / batch
    else:
        e = np.exp(out - out.max(1, keepdims=True))
        e /= e.sum(1, keepdims=True)
        delta = (e - y) / batch
    grads: list = []
    for i in range(len(params) - 1, -1, -1):
        h = hs[i]
        grads.append((h.T @ delta, delta.sum(0)))
        if i:
            delta = delta @ params[i][0].T
            if act == "tanh":
                delta *= 1.0 - h * h
            else:
                delta *= h > 0
        hs[i + 1:] = []
    grads.reverse()
    return grads


def mlp_forward_floor(params: list, x: np.ndarray, y: np.ndarray, act: str, loss: str) -> Any:
    h = x
    for w, b in params[:-1]:
        h = h @ w
        h += b
        np.tanh(h, out=h) if act == "tanh" else np.maximum(h, 0.0, out=h)
    w, b = params[-1]
    out = h @ w + b
    z = out - out.max(1, keepdims=True)
    return -np.sum(y * (z - np.log(np.exp(z).sum(1, keepdims=True)))) / x.shape[0]


def _mlp_data(sizes: list[int], batch: int, loss: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    params = init_mlp(rng, sizes)
    x = rng.standard_normal((batch, sizes[0]))
    if loss == "mse":
        y = rng.standard_normal((batch, sizes[-1]))
    else:
        y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    return params, x, y


def mlp_workload(key: str, title: str, sizes: list[int], batch: int, act: str, loss: str,
                 rounds: int, forward: bool = False) -> Workload:
    params, x, y = _mlp_data(sizes, batch, loss)
    f = mlp_loss(fnp, act, loss, ft.stop_gradient, ft.nn.relu)
    target = f if forward else ft.grad(f)
    eager, jitted = target, ft.jit(target)
    if forward:
        floor = Impl(lambda: mlp_forward_floor(params, x, y, act, loss))
    else:
        floor = Impl(lambda: mlp_floor(params, x, y, act, loss))
    impls = {"numpy floor": floor,
             "functrans eager": Impl(lambda: eager(params, x, y)),
             "functrans jit": Impl(lambda: jitted(params, x, y))}

    def autograd_impl():
        import autograd
        import autograd.numpy as anp
        fa = mlp_loss(anp, act, loss)
        g = fa if forward else autograd.grad(fa)
        return Impl(lambda: g(params, x, y))

    def jax_impl(jit: bool):
        def make():
            jax, jnp = _jax()
            fj = mlp_loss(jnp, act, loss, jax.lax.stop_gradient, jax.nn.relu)
            g = fj if forward else jax.grad(fj)
            g = jax.jit(g) if jit else g
            pj = jax.tree_util.tree_map(jnp.asarray, params)
            xj, yj = jnp.asarray(x), jnp.asarray(y)
            return Impl(lambda: _jax_ready(g(pj, xj, yj)))
        return make

    def torch_data():
        torch = _torch()
        pt = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True))
              for w, b in params]
        return torch, pt, torch.tensor(x), torch.tensor(y)

    def torch_eager():
        torch, pt, xt, yt = torch_data()
        ft_ = mlp_loss(torch, act, loss, lambda v: v.detach())
        flat = [t for pair in pt for t in pair]
        if forward:
            def run():
                with torch.no_grad():
                    return ft_(pt, xt, yt)
        else:
            def run():
                return torch.autograd.grad(ft_(pt, xt, yt), flat)
        return Impl(run, _torch_arrays)

    def torch_func():
        torch, pt, xt, yt = torch_data()
        ft_ = mlp_loss(torch, act, loss, lambda v: v.detach())
        pt = [(w.detach(), b.detach()) for w, b in pt]
        g = ft_ if forward else torch.func.grad(ft_)
        return Impl(lambda: g(pt, xt, yt), _torch_arrays)

    _add_peers(impls, {"autograd": autograd_impl, "jax eager": jax_impl(False),
                       "jax jit": jax_impl(True), "torch eager": torch_eager,
                       "torch.func": torch_func})
    return Workload(key, title, impls, rounds=rounds, rtol=1e-6)


def w2() -> Workload:
    return mlp_workload("W2", "tiny MLP grad 16-32-32-1", [16, 32, 32, 1], 8, "tanh", "mse", 21)


def w3() -> Workload:
    return mlp_workload("W3", "MLP grad 784-512-512-10", [784, 512, 512, 10], 128, "relu",
                        "xent", 11)


def w4() -> Workload:
    return mlp_workload("W4", "MLP grad 2048-2048-2048-10", [2048, 2048, 2048, 10], 512,
                        "relu", "xent", 3)


def w4_forward() -> Workload:
    return mlp_workload("W4f", "MLP forward 2048-2048-2048-10", [2048, 2048, 2048, 10], 512,
                        "relu", "xent", 3, forward=True)


# ------------------------------------------------------------------ W5 hessian

def w5(n: int = 100) -> Workload:
    rng = np.random.default_rng(5)
    a = rng.standard_normal((n, n)) / np.sqrt(n)
    x = rng.standard_normal(n)

    def floor():
        t = np.tanh(a @ x)
        weight = (2.0 - 6.0 * t * t) * (1.0 - t * t)
        return a.T @ (weight[:, None] * a)

    def f_of(np_: Any, a_: Any) -> Callable[[Any], Any]:
        return lambda v: np_.sum(np_.tanh(a_ @ v) ** 2)

    eager, jitted = ft.hessian(f_of(fnp, a)), ft.jit(ft.hessian(f_of(fnp, a)))
    impls = {"numpy floor": Impl(floor), "functrans eager": Impl(lambda: eager(x)),
             "functrans jit": Impl(lambda: jitted(x))}

    def autograd_impl():
        import autograd
        import autograd.numpy as anp
        h = autograd.hessian(f_of(anp, a))
        return Impl(lambda: h(x))

    def jax_impl(jit: bool):
        def make():
            jax, jnp = _jax()
            h = jax.hessian(f_of(jnp, jnp.asarray(a)))
            h = jax.jit(h) if jit else h
            xj = jnp.asarray(x)
            return Impl(lambda: _jax_ready(h(xj)))
        return make

    def torch_eager():
        torch = _torch()
        at, xt = torch.tensor(a), torch.tensor(x)
        f_t = f_of(torch, at)
        return Impl(lambda: torch.autograd.functional.hessian(f_t, xt), _torch_arrays)

    def torch_func():
        torch = _torch()
        at, xt = torch.tensor(a), torch.tensor(x)
        h = torch.func.hessian(f_of(torch, at))
        return Impl(lambda: h(xt), _torch_arrays)

    _add_peers(impls, {"autograd": autograd_impl, "jax eager": jax_impl(False),
                       "jax jit": jax_impl(True), "torch eager": torch_eager,
                       "torch.func": torch_func})
    return Workload("W5", f"hessian of sum(tanh(Ax)^2), n = {n}", impls, rounds=15)


# ------------------------------------------------------------------ W6 long elementwise chain

def chain_of(np_: Any, n: int) -> Callable[[Any], Any]:
    def f(x):
        for i in range(n):
            x = np_.sin(x) if i % 2 else np_.tanh(x)
        return np_.sum(x)
    return f


def chain_floor(x: np.ndarray, n: int) -> np.ndarray:
    residuals = []
    for i in range(n):
        if i % 2:
            residuals.append(np.cos(x))
            x = np.sin(x)
        else:
            x = np.tanh(x)
            residuals.append(1.0 - x * x)
    ct = np.ones_like(x)
    for r in reversed(residuals):
        ct *= r
    return ct


def w6(n: int = 1000, size: int = 100, peers: bool = True) -> Workload:
    x = np.linspace(-1.0, 1.0, size)
    f = chain_of(fnp, n)
    eager, jitted = ft.grad(f), ft.jit(ft.grad(f))
    impls = {"numpy floor": Impl(lambda: chain_floor(x, n)),
             "functrans eager": Impl(lambda: eager(x)),
             "functrans jit": Impl(lambda: jitted(x),
                                   fresh=lambda: _first(ft.jit(ft.grad(chain_of(fnp, n))), x))}
    if peers:
        def autograd_impl():
            import autograd
            import autograd.numpy as anp
            g = autograd.grad(chain_of(anp, n))
            return Impl(lambda: g(x))

        def jax_impl(jit: bool):
            def make():
                jax, jnp = _jax()
                xj = jnp.asarray(x)

                def fresh():
                    g = jax.jit(jax.grad(chain_of(jnp, n)))
                    return lambda: _jax_ready(g(xj))
                g = jax.grad(chain_of(jnp, n))
                g = jax.jit(g) if jit else g
                return Impl(lambda: _jax_ready(g(xj)), fresh=fresh if jit else None)
            return make

        def torch_eager():
            torch = _torch()
            xt = torch.tensor(x, requires_grad=True)
            f_t = chain_of(torch, n)
            return Impl(lambda: torch.autograd.grad(f_t(xt), xt)[0], _torch_arrays)

        def torch_func():
            torch = _torch()
            g = torch.func.grad(chain_of(torch, n))
            xt = torch.tensor(x)
            return Impl(lambda: g(xt), _torch_arrays)

        _add_peers(impls, {"autograd": autograd_impl, "jax eager": jax_impl(False),
                           "jax jit": jax_impl(True), "torch eager": torch_eager,
                           "torch.func": torch_func})
    return Workload(f"W6-{n}", f"chain of {n:,} elementwise ops, grad", impls,
                    rounds=11 if n <= 1000 else 3, rtol=1e-6)


# ------------------------------------------------------------------ W7 peak memory

def w7(layers: int = 20, width: int = 1024, batch: int = 256) -> Workload:
    sizes = [width] * (layers + 1)
    wl = mlp_workload("W7", f"peak memory, {layers}x{width} tanh MLP grad, batch {batch}",
                      sizes, batch, "tanh", "mse", rounds=3)
    wl.memory = True
    return wl


ALL: dict[str, Callable[[], Workload]] = {
    "W1": w1, "W2": w2, "W3": w3, "W4": w4, "W4f": w4_forward, "W5": w5,
    "W6": w6, "W6-10000": lambda: w6(10_000, peers=False), "W7": w7,
}
