"""The optimisation passes: each one on a small example, and each one preserving
the meaning of randomly generated jaxprs (hypothesis)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from functrans import lax
from functrans.api.jit import jit
from functrans.compile import generate, passes
from functrans.core.avals import ShapedArray
from functrans.core.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Var, interpret_jaxpr, typecheck_jaxpr
from functrans.primitives import elementwise as ew
from functrans.primitives import structural
from functrans.transforms.staging import make_jaxpr


def _prims(closed: ClosedJaxpr) -> list[str]:
    return [e.primitive.name for e in closed.jaxpr.eqns]


def _run(closed: ClosedJaxpr, *args: Any) -> list[Any]:
    with np.errstate(all="ignore"):
        return interpret_jaxpr(closed, args)


def _same_values(a: list[Any], b: list[Any]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape and x.dtype == y.dtype
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12, equal_nan=True)


# ------------------------------------------------------------------ one example per pass

X = np.linspace(0.1, 1.2, 6).reshape(2, 3)


def test_dce_drops_unused_equations_and_constants() -> None:
    closed = make_jaxpr(lambda x: (lax.sin(x), lax.cos(lax.exp(x)))[0])(X)
    out = passes.dce(closed)
    assert _prims(out) == ["sin"]


def test_cse_merges_repeated_computations() -> None:
    closed = make_jaxpr(lambda x: lax.add(lax.sin(x), lax.sin(x)))(X)
    assert _prims(passes.cse(closed)).count("sin") == 1
    distinct = make_jaxpr(lambda x: lax.add(lax.mul(x, 0.0), lax.mul(x, -0.0)))(X)
    assert _prims(passes.cse(distinct)).count("mul") == 2  # -0.0 is not 0.0


def test_fold_constants_evaluates_known_equations() -> None:
    c = np.arange(3.0)
    closed = make_jaxpr(lambda x: lax.add(x, lax.exp(lax.sin(c))))(np.ones(3))
    out = passes.fold_constants(closed)
    assert _prims(out) == ["add"]
    _same_values(_run(out, np.ones(3)), [1 + np.exp(np.sin(c))])


def test_forward_noops() -> None:
    # built by hand: the lax functions already skip these no-ops when tracing
    x, v1, v2 = Var(ShapedArray(X.shape, X.dtype)), Var(ShapedArray(X.shape, X.dtype)), \
        Var(ShapedArray(X.shape, X.dtype))
    jaxpr = Jaxpr([], [x], [v2], [
        JaxprEqn(ew.convert_element_type_p, [x], dict(new_dtype=X.dtype), [v1]),
        JaxprEqn(structural.reshape_p, [v1], dict(new_sizes=(2, 3), dimensions=None), [v2])])
    out = passes.forward_noops(ClosedJaxpr(jaxpr, []))
    assert _prims(out) == [] and out.jaxpr.outvars == [x]


@pytest.mark.parametrize("f, left", [
    (lambda x: lax.mul(x, 1.0), []),
    (lambda x: lax.add(-0.0, x), []),
    (lambda x: lax.add(0.0, x), ["add"]),  # -0.0 + 0.0 is +0.0: not the identity
    (lambda x: lax.sub(x, 0.0), []),
    (lambda x: lax.sub(x, -0.0), ["sub"]),
    (lambda x: lax.div(x, 1.0), []),
    (lambda x: lax.neg(lax.neg(x)), []),
    (lambda x: lax.transpose(lax.transpose(x, (1, 0)), (1, 0)), []),
    (lambda x: lax.reduce_sum(lax.broadcast_in_dim(x, (4, 2, 3), (1, 2)), (0,)),
     ["broadcast_in_dim", "mul"]),
])
def test_simplify(f: Callable[..., Any], left: list[str]) -> None:
    closed = make_jaxpr(f)(X)
    out = passes.dce(passes.simplify(passes.fold_constants(closed)))
    assert _prims(out) == left
    _same_values(_run(out, X), _run(closed, X))


def test_integer_pow_becomes_multiplications() -> None:
    for y in (0, 1, 2, 3, 5, 16):
        closed = make_jaxpr(lambda x, y=y: lax.integer_pow(x, y))(X)
        out = passes.dce(passes.expand_integer_pow(closed))
        assert "integer_pow" not in _prims(out)
        assert _prims(out).count("mul") <= 2 * y.bit_length()
        _same_values(_run(out, X), [np.power(X, y)])
    closed = make_jaxpr(lambda x: lax.integer_pow(x, -2))(X)
    assert _prims(passes.expand_integer_pow(closed)) == ["integer_pow"]


def test_inline_calls_flattens_nested_jits() -> None:
    inner = jit(lambda x: lax.sin(x))
    closed = make_jaxpr(lambda x: inner(jit(lambda y: inner(y) * 2.0)(x)))(X)
    assert "jit" in _prims(closed)
    out = passes.inline_calls(closed)
    assert "jit" not in _prims(out)
    typecheck_jaxpr(out.jaxpr)
    _same_values(_run(out, X), _run(closed, X))


def test_transposes_fold_into_dot_general() -> None:
    a, b = np.ones((3, 2)), np.ones((3, 4))
    closed = make_jaxpr(lambda a, b: lax.dot(lax.transpose(a, (1, 0)), b))(a, b)
    out = passes.dce(passes.fold_transposes_into_dot(closed))
    assert _prims(out) == ["dot_general"]
    _same_values(_run(out, a, b), _run(closed, a, b))


def test_passes_are_linear_and_iterative() -> None:
    def f(x):
        for _ in range(30_000):
            x = lax.neg(x)
        return x
    closed = make_jaxpr(f)(X)
    out = passes.optimize(closed)  # 30,000 negations cancel pairwise, no recursion
    assert _prims(out) == []


# ------------------------------------------------------------------ random jaxprs

UNARY = [lax.sin, lax.tanh, lax.neg, lambda x: lax.integer_pow(x, 2),
         lambda x: lax.integer_pow(x, 3), lambda x: lax.mul(x, 1.0), lambda x: lax.add(x, 0.0),
         lambda x: lax.transpose(lax.transpose(x, (1, 0)), (1, 0)),
         lambda x: lax.reduce_sum(lax.broadcast_in_dim(x, (2, 2, 3), (1, 2)), (0,)),
         lambda x: lax.reshape(lax.reshape(x, (3, 2)), (2, 3)),
         lambda x: lax.neg(lax.neg(x))]
BINARY = [lax.add, lax.sub, lax.mul, lax.max,
          lambda x, y: lax.dot(lax.dot(x, lax.transpose(y, (1, 0))), x)]

PROGRAM = st.lists(st.tuples(st.booleans(), st.integers(0, 100), st.integers(0, 100),
                             st.integers(0, 100)), min_size=1, max_size=25)


def _program_fun(program: list[tuple[bool, int, int, int]]) -> Callable[..., Any]:
    """A function built from `program`: each step applies a unary or binary op to
    earlier values (so values are shared, dead or repeated), returns the last two."""
    def f(x, y):
        values = [x, y, lax.mul(x, y)]
        for binary, op, i, j in program:
            a, b = values[i % len(values)], values[j % len(values)]
            if binary:
                out = BINARY[op % len(BINARY)](a, b)
            else:
                out = UNARY[op % len(UNARY)](a)
            values.append(lax.tanh(out))  # keeps the values bounded
        return values[-1], values[len(values) // 2]
    return f


ARGS = (np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(0.5, -0.3, 6).reshape(2, 3))


@pytest.mark.parametrize("the_pass", passes.PASSES + (passes.optimize,),
                         ids=lambda p: p.__name__)
@given(program=PROGRAM)
def test_each_pass_preserves_semantics(the_pass: Callable[..., Any], program: list) -> None:
    closed = make_jaxpr(_program_fun(program))(*ARGS)
    out = the_pass(closed)
    typecheck_jaxpr(out.jaxpr)
    _same_values(_run(out, *ARGS), _run(closed, *ARGS))


@given(program=PROGRAM)
def test_generated_code_preserves_semantics(program: list) -> None:
    closed = make_jaxpr(_program_fun(program))(*ARGS)
    compiled = generate(passes.optimize(closed))
    args = tuple(a.copy() for a in ARGS)
    with np.errstate(all="ignore"):
        _same_values(compiled(*args), _run(closed, *ARGS))
    for a, b in zip(args, ARGS):  # inputs untouched
        np.testing.assert_array_equal(a, b)
