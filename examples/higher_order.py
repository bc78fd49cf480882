"""Derivatives of derivatives: grad of grad, a Hessian, and jacfwd against jacrev.

Every transformation returns an ordinary Python function, so they compose:
``ft.grad(ft.grad(f))`` is the second derivative, ``ft.hessian(f)`` is
``ft.jacfwd(ft.jacrev(f))``, and a Hessian-vector product is ``ft.jvp`` of ``ft.grad``.
Each result is printed next to the formula derived by hand.

Run: python examples/higher_order.py
"""

from __future__ import annotations

import numpy as np

import functrans as ft
import functrans.numpy as fnp


def show(label: str, value: object) -> None:
    print(f"  {label:44}{np.array2string(np.asarray(value), precision=6)}")


def nested_grads() -> None:
    print("grad of grad: d^n/dx^n tanh(x) at x = 0.5")
    x = 0.5
    t = np.tanh(x)
    d1 = ft.grad(fnp.tanh)
    d2 = ft.grad(d1)
    d3 = ft.grad(d2)
    show("ft.grad(fnp.tanh)(x)", d1(x))
    show("  by hand: 1 - tanh²", 1 - t**2)
    show("ft.grad(ft.grad(fnp.tanh))(x)", d2(x))
    show("  by hand: -2 tanh (1 - tanh²)", -2 * t * (1 - t**2))
    show("ft.grad(ft.grad(ft.grad(fnp.tanh)))(x)", d3(x))
    show("  by hand: (1 - tanh²)(6 tanh² - 2)", (1 - t**2) * (6 * t**2 - 2))


def hessian_example(A: np.ndarray, x: np.ndarray) -> None:
    print("\nHessian of g(x) = sum(tanh(A x)²), A of shape", A.shape)

    def g(x):
        return fnp.sum(fnp.tanh(A @ x) ** 2)

    s = np.tanh(A @ x)
    # ∇g = Aᵀ (2 s (1 - s²)), so H = Aᵀ diag(2 (1 - s²)(1 - 3 s²)) A
    hand_grad = A.T @ (2 * s * (1 - s**2))
    hand_hessian = A.T @ np.diag(2 * (1 - s**2) * (1 - 3 * s**2)) @ A
    H = ft.hessian(g)(x)
    show("ft.grad(g)(x)", ft.grad(g)(x))
    show("  by hand: Aᵀ 2s(1 - s²), s = tanh(A x)", hand_grad)
    print("  ft.hessian(g)(x) =")
    for row in H:
        print("    " + " ".join(f"{value: .4f}" for value in row))
    print(f"  max |H - Aᵀ diag(2 (1 - s²)(1 - 3 s²)) A|   {np.max(np.abs(H - hand_hessian)):.1e}")
    print(f"  max |H - Hᵀ|                                {np.max(np.abs(H - H.T)):.1e}")

    v = np.ones_like(x)
    _, hvp = ft.jvp(ft.grad(g), (x,), (v,))
    print("  Hessian-vector product without the Hessian, ft.jvp(ft.grad(g), (x,), (v,)):")
    print(f"  max |H v - hvp|                             {np.max(np.abs(H @ v - hvp)):.1e}")


def jacobian_example(A: np.ndarray, x: np.ndarray) -> None:
    print(f"\nJacobian of f(x) = tanh(A x): R^{A.shape[1]} -> R^{A.shape[0]}")

    def f(x):
        return fnp.tanh(A @ x)

    forward = ft.jacfwd(f)(x)      # one JVP per input: the Jacobian column by column
    reverse = ft.jacrev(f)(x)      # one VJP per output: the Jacobian row by row
    hand = np.diag(1 - np.tanh(A @ x) ** 2) @ A
    print(f"  jacfwd: {A.shape[1]} JVPs (one per input, batched by vmap), shape {forward.shape}")
    print(f"  jacrev: {A.shape[0]} VJPs (one per output, batched by vmap), shape {reverse.shape}")
    print(f"  max |jacfwd - jacrev|                       {np.max(np.abs(forward - reverse)):.1e}")
    print(f"  max |jacrev - diag(1 - tanh²(A x)) A|       {np.max(np.abs(reverse - hand)):.1e}")
    print("  A scalar loss of many parameters has one output: reverse mode needs one VJP.")
    print("  With few inputs and many outputs, forward mode needs fewer passes.")


def main() -> None:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 4)) / 2
    x = rng.normal(size=4)
    nested_grads()
    hessian_example(A, x)
    jacobian_example(A, x)


if __name__ == "__main__":
    main()
