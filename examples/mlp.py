"""Train the two-layer MLP of the course notes on synthetic data.

The network is Grosse's (Lecture 6, "Backpropagation"), for one example x with target t:

    z = W1 x + b1,   h = σ(z),   y = W2 h + b2,   L = ½ ‖t − y‖²

Here it runs on a minibatch at once (examples in rows), with the parameters in a dict (a
pytree), gradient descent steps compiled by ``ft.jit(ft.value_and_grad(loss))``, and
per-example gradients from ``ft.vmap(ft.grad(example_loss), in_axes=(None, 0, 0))``. The
script also checks the gradient against the notes' hand-derived backward pass.

Run: python examples/mlp.py
"""

from __future__ import annotations

import numpy as np

import functrans as ft
import functrans.numpy as fnp
from functrans import nn
from functrans.tree_util import tree_map

N_IN, N_HIDDEN, N_OUT = 3, 16, 2
N_EXAMPLES = 64
STEPS, LEARNING_RATE = 300, 0.5


def init_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {
        "W1": rng.normal(size=(N_HIDDEN, N_IN)) / np.sqrt(N_IN),
        "b1": np.zeros(N_HIDDEN),
        "W2": rng.normal(size=(N_OUT, N_HIDDEN)) / np.sqrt(N_HIDDEN),
        "b2": np.zeros(N_OUT),
    }


def synthetic_data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(N_EXAMPLES, N_IN))
    T = np.stack([np.sin(X[:, 0]) + 0.5 * X[:, 1], X[:, 1] * X[:, 2]], axis=1)
    return X, T + 0.05 * rng.normal(size=T.shape)


def example_loss(params, x, t):
    """The notes' loss for one example: x has shape (N_IN,), t has shape (N_OUT,)."""
    z = params["W1"] @ x + params["b1"]
    h = nn.sigmoid(z)
    y = params["W2"] @ h + params["b2"]
    return 0.5 * fnp.sum((t - y) ** 2)


def loss(params, X, T):
    """Mean of the example losses over a minibatch, examples in rows."""
    Z = X @ params["W1"].T + params["b1"]
    H = nn.sigmoid(Z)
    Y = H @ params["W2"].T + params["b2"]
    return 0.5 * fnp.sum((T - Y) ** 2) / X.shape[0]


@ft.jit
def train_step(params, X, T):
    value, grads = ft.value_and_grad(loss)(params, X, T)
    new_params = tree_map(lambda p, g: p - LEARNING_RATE * g, params, grads)
    return new_params, value


def hand_backward(params, x, t):
    """Grosse's vectorised backward pass for one example, in NumPy."""
    z = params["W1"] @ x + params["b1"]
    h = 1 / (1 + np.exp(-z))
    y = params["W2"] @ h + params["b2"]
    y_bar = y - t
    h_bar = params["W2"].T @ y_bar
    z_bar = h_bar * h * (1 - h)
    return {"W1": np.outer(z_bar, x), "b1": z_bar, "W2": np.outer(y_bar, h), "b2": y_bar}


def max_difference(a, b) -> float:
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def main() -> None:
    rng = np.random.default_rng(0)
    params = init_params(rng)
    X, T = synthetic_data(rng)

    print(f"Two-layer MLP {N_IN} -> {N_HIDDEN} (sigmoid) -> {N_OUT}, "
          f"{N_EXAMPLES} synthetic examples")
    grads = ft.grad(example_loss)(params, X[0], T[0])
    print(f"gradient vs the notes' hand-derived backward pass: max difference "
          f"{max_difference(grads, hand_backward(params, X[0], T[0])):.1e}")

    per_example_grad = ft.vmap(ft.grad(example_loss), in_axes=(None, 0, 0))
    per_example = per_example_grad(params, X, T)
    print(f"per-example gradients: W1 {per_example['W1'].shape}, b1 {per_example['b1'].shape}"
          f", W2 {per_example['W2'].shape}, b2 {per_example['b2'].shape}")
    batch_grads = ft.grad(loss)(params, X, T)
    mean_per_example = tree_map(lambda g: g.mean(axis=0), per_example)
    print(f"mean of per-example gradients vs batch gradient: max difference "
          f"{max_difference(mean_per_example, batch_grads):.1e}")

    print("\ntraining with ft.jit(ft.value_and_grad(loss)):")
    first = None
    for step in range(STEPS + 1):
        params, value = train_step(params, X, T)
        first = value if first is None else first
        if step % 50 == 0:
            print(f"  step {step:4d}  loss {float(value):.4f}")
    print(f"loss went from {float(first):.4f} to {float(value):.4f}")


if __name__ == "__main__":
    main()
