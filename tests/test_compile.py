"""The jit compiler: generated code against eager evaluation, the cache, inspection,
buffer reuse and scaling."""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax
from functrans.compile import compile_jaxpr, generate, optimize
from functrans.transforms.autodiff import vjp
from functrans.transforms.jvp import jvp
from functrans.transforms.staging import make_jaxpr
from functrans.transforms.vmap import vmap
from functrans.tree_util import tree_leaves
from tests.test_primitive_rules import Case, _params, _rounding_tolerance, assert_close

# ------------------------------------------------------------------ the rule-check table


def _close(computed: Any, expected: Any, dtype: Any, what: str) -> None:
    tol = _rounding_tolerance(np.dtype(dtype))
    assert_close(computed, expected, rtol=tol, atol=tol, exact_dtypes=True, what=what)


def _compiled_call(f: Any, *args: Any) -> Any:
    """Evaluate ``f`` through generated code only (never the interpreter)."""
    closed = make_jaxpr(f)(*args)
    return compile_jaxpr(closed)(*tree_leaves(args))


@pytest.mark.parametrize("row, dtype", _params(lambda row, dtype: True))
def test_compiled_equals_eager(row: Any, dtype: Any) -> None:
    case = Case(row, dtype)
    expected = row.fun(*case.args)
    computed = _compiled_call(lambda *a: row.fun(*a), *case.args)
    _close(list(computed), tree_leaves(expected), dtype, f"{row.name}: compiled vs eager")


def _float_case(row: Any, dtype: Any) -> Case:
    case = Case(row, dtype)
    if not case.primals:
        pytest.skip("no float argument")
    return case


def test_jaxprs_of_transformations_are_compiled_from_their_second_evaluation() -> None:
    from functrans.compile import compiled_if_cached
    from functrans.higher_order import jit as jit_module

    seen = []
    original = jit_module._jit_impl

    def spy(*args, jaxpr, name):
        seen.append(jaxpr)
        return original(*args, jaxpr=jaxpr, name=name)

    jit_module.jit_p.impl = spy
    try:  # the general path (the eager tape compiles its own rules, jit calls inlined)
        ft.config.update("eager_tape", False)
        f = ft.grad(ft.jit(lambda x: fnp.sum(fnp.sin(x) ** 2)))
        x = np.linspace(0, 1, 5)
        first = f(x)
        np.testing.assert_allclose(f(x), first)
        np.testing.assert_allclose(f(x), first)
    finally:
        jit_module.jit_p.impl = original
        ft.config.update("eager_tape", True)
    assert any(compiled_if_cached(j) is not None for j in seen)


@pytest.mark.parametrize("row, dtype", _params(lambda row, dtype: row.differentiable))
def test_jit_of_vjp_equals_eager(row: Any, dtype: Any) -> None:
    case = _float_case(row, dtype)
    out = case.f(*case.primals)
    cotangent = tuple(np.ones_like(o) for o in tree_leaves(out))

    def pullback(primals: tuple, ct: tuple) -> Any:
        o, f_vjp = vjp(case.f, *primals)
        return f_vjp(ct[0] if not isinstance(o, (tuple, list)) else type(o)(ct))

    _close(ft.jit(pullback)(case.primals, cotangent), pullback(case.primals, cotangent),
           dtype, f"{row.name}: jit(vjp) vs vjp")


@pytest.mark.parametrize("row, dtype", _params(lambda row, dtype: row.differentiable))
def test_jit_of_jvp_equals_eager(row: Any, dtype: Any) -> None:
    case = _float_case(row, dtype)
    tangents = tuple(np.full_like(p, 0.5) for p in case.primals)

    def pushforward(primals: tuple, tangents: tuple) -> Any:
        return jvp(case.f, primals, tangents)

    _close(ft.jit(pushforward)(case.primals, tangents), pushforward(case.primals, tangents),
           dtype, f"{row.name}: jit(jvp) vs jvp")


@pytest.mark.parametrize("row, dtype", _params(
    lambda row, dtype: row.batch and np.dtype(dtype) == np.float64))
def test_jit_of_vmap_equals_eager(row: Any, dtype: Any) -> None:
    case = _float_case(row, dtype)
    batched = tuple(np.stack([p, p * 0.5, p + 0.25]) for p in case.primals)
    f = vmap(case.f)
    _close(ft.jit(f)(*batched), f(*batched), dtype, f"{row.name}: jit(vmap) vs vmap")


# ------------------------------------------------------------------ transformations around jit

def _mlp(params: list, x: Any) -> Any:
    for w, b in params[:-1]:
        x = fnp.tanh(x @ w + b)
    w, b = params[-1]
    return fnp.sum((x @ w + b) ** 2)


def _mlp_params(rng: np.random.Generator, dtype: Any = np.float64) -> list:
    sizes = [5, 7, 6, 1]
    return [(rng.standard_normal((m, n)).astype(dtype), rng.standard_normal(n).astype(dtype))
            for m, n in zip(sizes[:-1], sizes[1:])]


@pytest.mark.parametrize("transform", ["grad_jit", "jit_grad", "vmap_jit", "jit_vmap",
                                       "hessian_jit", "jit_hessian", "jvp_jit", "nested"])
def test_transformations_compose_with_jit(transform: str) -> None:
    rng = np.random.default_rng(0)
    params = _mlp_params(rng)
    x = rng.standard_normal((4, 5))
    xs = rng.standard_normal((3, 4, 5))
    loss = _mlp
    cases = {
        "grad_jit": (lambda: ft.grad(ft.jit(loss))(params, x), lambda: ft.grad(loss)(params, x)),
        "jit_grad": (lambda: ft.jit(ft.grad(loss))(params, x), lambda: ft.grad(loss)(params, x)),
        "vmap_jit": (lambda: ft.vmap(ft.jit(loss), (None, 0))(params, xs),
                     lambda: ft.vmap(loss, (None, 0))(params, xs)),
        "jit_vmap": (lambda: ft.jit(ft.vmap(ft.grad(loss), (None, 0)))(params, xs),
                     lambda: ft.vmap(ft.grad(loss), (None, 0))(params, xs)),
        "hessian_jit": (lambda: ft.hessian(ft.jit(lambda v: fnp.sum(fnp.tanh(v) ** 3)))(x[0]),
                        lambda: ft.hessian(lambda v: fnp.sum(fnp.tanh(v) ** 3))(x[0])),
        "jit_hessian": (lambda: ft.jit(ft.hessian(lambda v: fnp.sum(fnp.tanh(v) ** 3)))(x[0]),
                        lambda: ft.hessian(lambda v: fnp.sum(fnp.tanh(v) ** 3))(x[0])),
        "jvp_jit": (lambda: ft.jvp(ft.jit(fnp.sin), (x,), (x,)),
                    lambda: ft.jvp(fnp.sin, (x,), (x,))),
        "nested": (lambda: ft.jit(lambda p: ft.grad(ft.jit(loss))(p, x))(params),
                   lambda: ft.grad(loss)(params, x)),
    }
    computed, expected = cases[transform]
    reference = tree_leaves(expected())
    for _ in range(3):  # jaxprs made by transformations are interpreted once, then compiled
        for c, e in zip(tree_leaves(computed()), reference, strict=True):
            np.testing.assert_allclose(c, e, rtol=1e-12, atol=1e-12)
            assert np.asarray(c).dtype == np.asarray(e).dtype


def test_float32_stays_float32() -> None:
    rng = np.random.default_rng(1)
    params = _mlp_params(rng, np.float32)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    grads = ft.jit(ft.grad(_mlp))(params, x)
    assert all(leaf.dtype == np.float32 for leaf in tree_leaves(grads))
    scalar = ft.jit(ft.grad(lambda u: fnp.exp(fnp.sin(u * u))))(np.float32(0.3))
    assert scalar.dtype == np.float32


def test_python_scalar_arguments_give_numpy_values() -> None:
    out = ft.jit(lambda u: u * 2.0 + u)(1.5)
    assert isinstance(out, np.float64) and out == 4.5
    out = ft.jit(lambda n: n + 1)(3)
    assert np.asarray(out).dtype == np.asarray(3).dtype and out == 4


# ------------------------------------------------------------------ inspection

def test_lower_compile_shows_the_generated_source() -> None:
    f = ft.jit(lambda x, w: fnp.tanh(x @ w))
    x, w = np.ones((2, 3)), np.ones((3, 4))
    lowered = f.lower(x, w)
    assert "dot_general" in lowered.as_text()
    compiled = lowered.compile()
    text = compiled.as_text()
    assert text.startswith("def ") and "np.matmul" in text and "np.tanh" in text
    np.testing.assert_allclose(compiled(x, w), np.tanh(x @ w))


def test_transposed_operands_become_matmul_views() -> None:
    rng = np.random.default_rng(2)
    params = _mlp_params(rng)
    x = rng.standard_normal((4, 5))
    text = ft.jit(ft.grad(_mlp)).lower(params, x).compile().as_text()
    assert "np.transpose" not in text and ".T" in text
    assert "dot_general" not in text  # no fallback to the generic impl


def test_batched_contraction_is_one_matmul() -> None:
    a, b = np.ones((3, 4, 5)), np.ones((3, 5, 2))
    f = ft.jit(lambda a, b: lax.dot_general(a, b, (((2,), (1,)), ((0,), (0,)))))
    text = f.lower(a, b).compile().as_text()
    assert text.count("np.matmul") == 1
    np.testing.assert_allclose(f(a, b), np.matmul(a, b))


# ------------------------------------------------------------------ buffer reuse and safety

def _chain(x: Any, n: int = 20) -> Any:
    for i in range(n):
        x = fnp.sin(x) if i % 2 else fnp.tanh(x)
    return x


def test_elementwise_chain_reuses_buffers() -> None:
    x = np.linspace(-1, 1, 10)
    text = ft.jit(ft.grad(lambda x: fnp.sum(_chain(x)))).lower(x).compile().as_text()
    assert text.count("out=") >= 20


def test_inputs_constants_and_results_are_never_overwritten() -> None:
    const = np.linspace(0.1, 1, 8)
    x = np.linspace(-1, 1, 8)
    x_before = x.copy()

    def f(x):
        y = fnp.tanh(x * const)
        return y, fnp.sin(y) * 2.0, x.reshape(2, 4)

    jf = ft.jit(f)
    first = [np.copy(v) for v in jf(x)]
    held = jf(x)
    again = jf(x)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(const, np.linspace(0.1, 1, 8))
    for a, b, c in zip(first, held, again):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_dead_values_are_deleted() -> None:
    x = np.linspace(-1, 1, 10)
    text = ft.jit(ft.grad(lambda x: fnp.sum(_chain(x)))).lower(x).compile().as_text()
    assert "del " in text


# ------------------------------------------------------------------ the cache

def test_cache_retraces_exactly_on_a_new_signature() -> None:
    traces = []

    def f(x, y=None):
        traces.append(1)
        return x * 2 if y is None else x * y

    jf = ft.jit(f)
    x = np.ones(3)
    jf(x)
    jf(x + 1)                               # same signature
    assert len(traces) == 1
    jf(np.ones(4))                          # new shape
    jf(np.ones(3, np.float32))              # new dtype
    assert len(traces) == 3
    jf(np.float64(1.0))                     # a NumPy scalar
    jf(1.0)                                 # a Python scalar: weakly typed
    assert len(traces) == 5
    jf(2.0)
    assert len(traces) == 5
    jf(x, x)                                # new pytree structure
    jf(x, y=x)                              # keyword argument: another structure
    assert len(traces) == 7
    jf(x, x)
    jf(x, y=x)
    assert len(traces) == 7


def test_cache_static_arguments() -> None:
    traces = []

    def f(x, n):
        traces.append(n)
        return x * n

    jf = ft.jit(f, static_argnums=1)
    jf(np.ones(2), 2)
    jf(np.ones(2), 2)
    jf(np.ones(2), 3)
    assert traces == [2, 3]
    with pytest.raises(ValueError, match="hashable"):
        jf(np.ones(2), [1, 2])


def test_generated_code_is_compiled_once_per_jaxpr() -> None:
    closed = make_jaxpr(lambda x: fnp.sin(x) + 1.0)(np.ones(3))
    assert compile_jaxpr(closed) is compile_jaxpr(closed)


# ------------------------------------------------------------------ scaling

def _long_chain_jaxpr(n: int):
    def f(x):
        for i in range(n):
            x = lax.sin(x) if i % 3 else lax.mul(x, x)
        return x
    return make_jaxpr(f)(np.ones(4))


def test_compile_time_is_linear_and_iterative() -> None:
    small, large = _long_chain_jaxpr(2_000), _long_chain_jaxpr(20_000)
    timings = []
    for closed in (small, large):
        t0 = time.perf_counter()
        generate(optimize(closed))
        timings.append(time.perf_counter() - t0)
    assert timings[1] < 25 * timings[0] + 0.5  # 10x the equations, far from 100x the time


def test_hundred_thousand_equations_compile_in_seconds() -> None:
    limit = sys.getrecursionlimit()
    closed = _long_chain_jaxpr(100_000)
    t0 = time.perf_counter()
    compiled = generate(optimize(closed))
    assert time.perf_counter() - t0 < 20
    assert sys.getrecursionlimit() == limit
    assert np.all(np.isfinite(compiled(np.full(4, 0.5))[0]))
