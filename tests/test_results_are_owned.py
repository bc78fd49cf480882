"""Results are the caller's: no result of any transformation shares memory with an
input, a constant, a cache or another result, so modifying one in place changes
nothing else. Each case mutates every array result and calls again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans.tree_util import tree_leaves

C = np.arange(3.0)


def _snapshot(tree: Any) -> list[Any]:
    return [np.array(leaf, copy=True) for leaf in tree_leaves(tree)]


def _assert_same(tree: Any, snapshot: list[Any]) -> None:
    for leaf, expected in zip(tree_leaves(tree), snapshot, strict=True):
        np.testing.assert_array_equal(leaf, expected)


def assert_results_owned(f: Callable[..., Any], *args: Any) -> None:
    """Mutate each array result of ``f(*args)`` in turn: the inputs, the other
    results and the results of the next call stay as they were."""
    inputs = _snapshot(args)
    first = f(*args)
    expected = _snapshot(first)
    leaves = tree_leaves(first)
    for i, leaf in enumerate(leaves):
        if not isinstance(leaf, np.ndarray) or leaf.size == 0:
            continue
        others = [x for j, x in enumerate(leaves) if j != i]
        others_before = _snapshot(others)
        leaf[...] = 123
        _assert_same(others, others_before)
        _assert_same(args, inputs)
        _assert_same(f(*args), expected)


x = np.array([1.0, -2.0, 3.0])

CASES: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {
    "jit zeros_like": (ft.jit(lambda x: fnp.zeros_like(x)), (x,)),
    "jit constant": (ft.jit(lambda x: C), (0.0,)),
    "jit grad of linear": (ft.jit(ft.grad(lambda w: fnp.sum(2.0 * w))), (x,)),
    "jit hessian of quadratic": (ft.jit(ft.hessian(lambda w: fnp.sum(w * w))), (x,)),
    "jit jacfwd of linear": (ft.jit(ft.jacfwd(lambda w: 3.0 * w)), (x,)),
    "jit jacrev of linear": (ft.jit(ft.jacrev(lambda w: 3.0 * w)), (x,)),
    "jit copy": (ft.jit(fnp.copy), (x,)),
    "jit method copy": (ft.jit(lambda x: x.copy()), (x,)),
    "jit array copy": (ft.jit(lambda x: fnp.array(x, copy=True)), (x,)),
    "jit x + 0": (ft.jit(lambda x: x + 0.0), (x,)),
    "jit x * 1": (ft.jit(lambda x: x * 1.0), (x,)),
    "jit x - 0": (ft.jit(lambda x: x - 0.0), (x,)),
    "jit x / 1": (ft.jit(lambda x: x / 1.0), (x,)),
    "jit x ** 1": (ft.jit(lambda x: x ** 1), (x,)),
    "jit neg neg": (ft.jit(lambda x: -(-x)), (x,)),  # noqa: B002
    "jit astype same": (ft.jit(lambda x: x.astype(np.float64)), (x,)),
    "jit reshape": (ft.jit(lambda x: x.reshape(3, 1)), (x,)),
    "jit identity": (ft.jit(lambda x: x), (x,)),
    "jit grad stop_gradient": (
        ft.jit(ft.grad(lambda x: fnp.sum(x * ft.stop_gradient(x)))), (x,)),
    "jit CSE": (ft.jit(lambda x: (fnp.sin(x), fnp.sin(x))), (x,)),
    "jit same output twice": (ft.jit(lambda x: (x, x)), (x,)),
    "grad two argnums": (ft.grad(lambda a, b: fnp.sum(fnp.sin(a + b)), argnums=(0, 1)),
                         (x, x + 1)),
    "jit grad two argnums": (
        ft.jit(ft.grad(lambda a, b: fnp.sum(fnp.sin(a + b)), argnums=(0, 1))), (x, x + 1)),
    "jvp identity": (lambda p, t: ft.jvp(lambda y: y, (p,), (t,)), (x, x + 1)),
    "vjp identity": (lambda p, c: ft.vjp(lambda y: y, p)[1](c), (x, x + 1)),
    "vmap identity": (ft.vmap(lambda y: y), (x,)),
    "linearize identity": (lambda p, t: ft.linearize(lambda y: y, p)[1](t), (x, x + 1)),
    "linear_transpose identity": (lambda c: ft.linear_transpose(lambda y: y, x)(c), (x,)),
    "grad of jit constant output": (ft.grad(ft.jit(lambda w: fnp.sum(C * w))), (x,)),
    "value_and_grad": (ft.value_and_grad(lambda w: fnp.sum(w)), (x,)),
}


@pytest.mark.parametrize("name", list(CASES))
def test_results_are_owned(name: str) -> None:
    f, args = CASES[name]
    assert_results_owned(f, *args)


def test_lowered_compiled_results_are_owned() -> None:
    compiled = ft.jit(lambda x: (fnp.zeros_like(x), x)).lower(x).compile()
    assert_results_owned(compiled, x)


def test_jit_constant_is_not_the_constant() -> None:
    assert ft.jit(lambda _: C)(0.0) is not C


@pytest.mark.parametrize("f", [lambda x: 1 / (x + 0.0), lambda x: 1 / (x - (-0.0))],
                         ids=["x + 0.0", "x - (-0.0)"])
def test_folding_keeps_the_sign_of_zero(f: Callable[..., Any]) -> None:
    minus_zero = np.float64(-0.0)
    with np.errstate(divide="ignore"):
        assert ft.jit(f)(minus_zero) == f(minus_zero) == np.inf


def test_folding_exact_identities_still_happens() -> None:
    text = ft.jit(lambda x: (x - 0.0) * 1.0 + (-0.0)).lower(x).compile().as_text()
    assert "add" not in text and "multiply" not in text and "subtract" not in text


class _Tagged(np.ndarray):
    """An ndarray subclass, as some libraries return."""


@pytest.mark.parametrize("transform", [
    lambda x: ft.jvp(lambda y: y, (x,), (np.ones(3),)),
    lambda x: ft.vjp(lambda y: y, x)[1](x),
    lambda x: ft.vmap(lambda y: y)(x),
    lambda x: ft.jit(lambda y: y)(x),
], ids=["jvp", "vjp", "vmap", "jit"])
@pytest.mark.parametrize("kind", ["memmap", "subclass"])
def test_ndarray_subclass_inputs_are_not_returned(transform: Callable[..., Any], kind: str,
                                                   tmp_path: Any) -> None:
    if kind == "memmap":
        x = np.memmap(tmp_path / "x.dat", dtype=np.float64, mode="w+", shape=(3,))
        x[:] = 1.0
    else:
        x = np.ones(3).view(_Tagged)
    for leaf in tree_leaves(transform(x)):
        leaf[...] = 7.0
    np.testing.assert_array_equal(np.asarray(x), np.ones(3))


def test_a_custom_vjp_rule_returning_a_constant_or_a_residual_gives_the_caller_a_copy():
    constant = np.ones(3)

    @ft.custom_vjp
    def f(x):
        return fnp.sum(x * x)

    f.defvjp(lambda x: (fnp.sum(x * x), x), lambda x, g: (constant if g > 0 else x,))
    x = np.arange(3.0)
    for _ in range(3):  # the tape's general path each time: the rule runs on values
        gradient = ft.grad(f)(x)
        np.testing.assert_array_equal(gradient, constant)
        assert not np.shares_memory(gradient, constant)
        gradient = ft.grad(lambda x: -f(x))(x)  # the residual x, i.e. the input
        np.testing.assert_array_equal(gradient, x)
        assert not np.shares_memory(gradient, x)
