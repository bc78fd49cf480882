"""A small convolutional network on scikit-learn's 8x8 digits, trained with jit and Adam.

    conv 3x3 (1 -> 16 channels, 'SAME') -> relu -> 2x2 max pool -> dense (256 -> 10)

The images are NCHW arrays, the kernel OIHW, as ``lax.conv_general_dilated``
expects by default; max pooling is ``lax.reduce_window`` with ``lax.max``. One
training step (forward pass, gradient, Adam update) is one ``ft.jit`` function, with
Adam from ``functrans.example_libraries.optimizers`` (JAX's
``jax.example_libraries.optimizers``). The script prints the test accuracy and saves
the training curve (loss and test accuracy per epoch) as a PNG.

Run: python examples/cnn_digits.py [--epochs 15] [--plot cnn_digits.png]
Needs scikit-learn (the data set ships with it) and matplotlib: the ``examples``
extra, ``pip install -e '.[examples]'``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import functrans as ft
import functrans.numpy as fnp
from functrans import lax, nn
from functrans.example_libraries import optimizers

try:
    import matplotlib
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
except ImportError as missing:
    print(f"cnn_digits: skipped, {missing.name} is not installed "
          "(pip install -e '.[examples]')")
    sys.exit(0)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the file backend)

CHANNELS, CLASSES = 16, 10
BATCH = 64


def init_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He-scaled normal weights, zero biases, float32."""
    def normal(shape: tuple[int, ...], fan_in: int) -> np.ndarray:
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return {"conv": normal((CHANNELS, 1, 3, 3), 9),
            "conv_bias": np.zeros(CHANNELS, np.float32),
            "dense": normal((CHANNELS * 4 * 4, CLASSES), CHANNELS * 16),
            "dense_bias": np.zeros(CLASSES, np.float32)}


def logits(params, images):
    """images (N, 1, 8, 8) -> class scores (N, 10)."""
    h = lax.conv_general_dilated(images, params["conv"], window_strides=(1, 1),
                                 padding="SAME")
    h = nn.relu(h + params["conv_bias"][None, :, None, None])
    h = lax.reduce_window(h, -np.inf, lax.max, window_dimensions=(1, 1, 2, 2),
                          window_strides=(1, 1, 2, 2), padding="VALID")
    return h.reshape(h.shape[0], -1) @ params["dense"] + params["dense_bias"]


def loss(params, images, labels):
    """Mean softmax cross-entropy; `labels` are one-hot rows."""
    return -fnp.mean(fnp.sum(labels * nn.log_softmax(logits(params, images)), axis=1))


opt_init, opt_update, get_params = optimizers.adam(step_size=1e-2)


@ft.jit
def train_step(step, opt_state, images, labels):
    value, grads = ft.value_and_grad(loss)(get_params(opt_state), images, labels)
    return opt_update(step, grads, opt_state), value


@ft.jit
def accuracy(params, images, classes):
    return fnp.mean(fnp.argmax(logits(params, images), axis=1) == classes)


def load(seed: int):
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None]      # (N, 1, 8, 8)
    return train_test_split(images, digits.target, test_size=0.25, random_state=seed,
                            stratify=digits.target)


def save_curve(losses: list[float], accuracies: list[float], path: Path) -> None:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = np.arange(1, len(losses) + 1)
    left.plot(epochs, losses, marker="o")
    left.set(xlabel="epoch", ylabel="training loss (cross-entropy)", yscale="log")
    right.plot(epochs, accuracies, marker="o", color="tab:green")
    right.set(xlabel="epoch", ylabel="test accuracy", ylim=(0.8, 1.0))
    fig.suptitle("CNN on scikit-learn digits (functrans, jit + Adam)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path,
                        default=Path(tempfile.gettempdir()) / "cnn_digits.png")
    args = parser.parse_args()
    x_train, x_test, y_train, y_test = load(args.seed)
    one_hot = np.eye(CLASSES, dtype=np.float32)[y_train]
    rng = np.random.default_rng(args.seed)
    params = init_params(rng)
    opt_state = opt_init(params)
    print(f"{len(x_train)} training and {len(x_test)} test images of {x_train.shape[1:]}; "
          f"{sum(p.size for p in params.values())} parameters")
    losses, accuracies = [], []
    start = time.perf_counter()
    step = 0
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(len(x_train))
        batch_losses = []
        for first in range(0, len(order) - BATCH + 1, BATCH):   # full batches: one trace
            rows = order[first:first + BATCH]
            opt_state, value = train_step(step, opt_state, x_train[rows], one_hot[rows])
            batch_losses.append(float(value))
            step += 1
        losses.append(float(np.mean(batch_losses)))
        accuracies.append(float(accuracy(get_params(opt_state), x_test, y_test)))
        print(f"epoch {epoch:2d}: training loss {losses[-1]:.4f}, test accuracy "
              f"{accuracies[-1]:.4f}")
    print(f"trained in {time.perf_counter() - start:.1f} s")
    save_curve(losses, accuracies, args.plot)
    print(f"training curve saved to {args.plot}")
    print(f"test accuracy: {accuracies[-1]:.4f}")


if __name__ == "__main__":
    main()
