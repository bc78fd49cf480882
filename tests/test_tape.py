"""The eager tape: grad, value_and_grad and vjp outside every transformation.

The rule-check table runs every primitive's reverse mode through the tape as well
(``test_primitive_rules.py``, mode ``"tape"``); these tests check when the tape is
used, what it derives, and that it composes with everything else.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
import functrans.scipy.special as fss
import functrans.scipy.stats as fst
from functrans import lax
from functrans.core.trace import Tracer
from functrans.higher_order.custom_derivatives import traceable_rule
from functrans.numpy import _indexing
from functrans.primitives import elementwise as ew
from functrans.transforms import tape

X = np.linspace(0.2, 1.4, 7)


@pytest.fixture
def recordings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """The arguments of every tape recording made during the test."""
    seen: list[tuple[Any, ...]] = []
    original = tape.record

    def spy(f: Any, primals: Any, *avals: Any) -> Any:
        seen.append(tuple(primals))
        return original(f, primals, *avals)

    monkeypatch.setattr(tape, "record", spy)
    return seen


def loss(x: Any) -> Any:
    return fnp.sum(fnp.tanh(x) * fnp.sin(x))


def loss_grad(x: np.ndarray) -> np.ndarray:
    return (1 - np.tanh(x) ** 2) * np.sin(x) + np.tanh(x) * np.cos(x)


def test_a_top_level_grad_records_a_tape(recordings: list) -> None:
    np.testing.assert_allclose(ft.grad(loss)(X), loss_grad(X), rtol=1e-13)
    ft.value_and_grad(loss)(X)
    ft.vjp(loss, X)
    assert len(recordings) == 3


@pytest.mark.parametrize("transform, arg, top_level_grads", [
    pytest.param(ft.jit, X, 0, id="jit"),
    pytest.param(ft.vmap, np.stack([X, 2 * X]), 0, id="vmap"),
    pytest.param(lambda g: lambda x: ft.jvp(g, (x,), (x,))[1], X, 0, id="jvp"),
    # grad of grad: the outer grad records a tape, the inner one (of its tracers) does not
    pytest.param(lambda g: ft.grad(lambda x: fnp.sum(g(x))), X, 1, id="grad"),
])
def test_grad_inside_another_transformation_takes_the_general_path(
        transform: Any, arg: np.ndarray, top_level_grads: int, recordings: list) -> None:
    transform(ft.grad(loss))(arg)
    assert len(recordings) == top_level_grads
    assert not any(isinstance(p, Tracer) for primals in recordings for p in primals)


def test_the_switch_turns_the_tape_off(recordings: list) -> None:
    ft.config.update("eager_tape", False)
    try:
        np.testing.assert_allclose(ft.grad(loss)(X), loss_grad(X), rtol=1e-13)
    finally:
        ft.config.update("eager_tape", True)
    assert recordings == []


def test_a_signature_is_derived_on_its_second_application_and_compiled() -> None:
    x = np.linspace(0.1, 0.9, 11)  # a shape no other test uses
    key = (ew.sin_p, (), (x.shape, x.dtype, True))  # lax.sin: the primitive itself
    ft.grad(lambda x: fnp.sum(lax.sin(x)))(x)
    assert tape._rules[key] is tape._SEEN_ONCE  # the first: the general path
    ft.grad(lambda x: fnp.sum(lax.sin(x)))(x)
    rule = tape._rules[key]
    assert isinstance(rule, tape._DerivedRule)  # the second: derived, interpreted
    ft.grad(lambda x: fnp.sum(lax.sin(x)))(x)
    assert rule._forward.fn.__name__ == "sin_fwd"  # generated code, from the third call
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(lax.sin(x)))(x), np.cos(x))


def test_residuals_that_are_operands_or_outputs_are_not_recomputed() -> None:
    for _ in range(2):
        ft.grad(lambda x: fnp.sum(lax.mul(lax.exp(x), x)))(X)
    exp_rule = tape._rules[(ew.exp_p, (), (X.shape, X.dtype, True))]
    mul_rule = tape._rules[(ew.mul_p, (), (X.shape, X.dtype, True), (X.shape, X.dtype, True))]
    assert exp_rule.residual_sources == ["output 0"]  # exp keeps its output
    assert sorted(mul_rule.residual_sources) == ["operand 0", "operand 1"]  # mul its operands


def test_arithmetic_of_outputs_is_recomputed_not_kept() -> None:
    for _ in range(2):
        ft.grad(lambda x: fnp.sum(lax.tanh(x) + lax.sin(x)))(X)
    tanh_rule = tape._rules[(ew.tanh_p, (), (X.shape, X.dtype, True))]
    sin_rule = tape._rules[(ew.sin_p, (), (X.shape, X.dtype, True))]
    assert tanh_rule.residual_sources == ["output 0"]  # its output y: 1 - y² is computed backwards
    assert sin_rule.residual_sources == ["computed"]  # cos(x): not just arithmetic
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(fnp.tanh(x) + fnp.sin(x)))(X),
                               1 - np.tanh(X) ** 2 + np.cos(X), rtol=1e-13)


def _rules(f: Any, *args: Any) -> list[Any]:
    """The rules of the tape entries of ``vjp(f, *args)``, recorded a third time."""
    for _ in range(2):
        ft.vjp(f, *args)
    return ft.vjp(f, *args)[1].linear.trace.rules


def test_a_numpy_function_is_one_entry_however_many_primitives_it_binds() -> None:
    b = np.linspace(-1.0, 1.0, 3)
    x = np.arange(6.0).reshape(2, 3)
    rules = _rules(lambda x, b: fnp.mean(x + b), x, b)  # broadcast + add, sum + div
    assert [rule.name for rule in rules] == ["add", "mean"]
    gx, gb = ft.grad(lambda x, b: fnp.mean(x + b), (0, 1))(x, b)
    np.testing.assert_allclose(gx, np.full(x.shape, 1 / 6))
    np.testing.assert_allclose(gb, np.full(b.shape, 1 / 3))


def test_python_scalars_are_static_in_a_numpy_function_entry() -> None:
    # each value has its own rule: integer_pow for an int exponent, and the sign of
    # a zero kept (arctan2(+-0, x < 0) = +-pi)
    for n in (2, 3, 2):
        for _ in range(3):
            np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(x ** n))(X), n * X ** (n - 1))
    for zero in (0.0, -0.0, 0.0):
        for _ in range(3):
            value = ft.value_and_grad(lambda x: fnp.sum(fnp.arctan2(zero, -x)))(X)[0]
            assert value == np.copysign(np.pi, zero) * X.size
    keys = {tape._static_key(v) for v in (1, 1.0, True, 0.0, -0.0, 1j, (0, 1), None)}
    assert len(keys) == 8


def test_other_arguments_take_the_primitives_path() -> None:
    mask = X > 0.5
    for _ in range(3):  # a mask, a list: not keyed; the primitives are recorded
        np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(x, where=mask))(X), mask * 1.0)
        np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(x[:2] * [2.0, 3.0]))(X),
                                   [2.0, 3.0] + [0.0] * (X.size - 2))
    assert [rule.name for rule in _rules(lambda x: fnp.sum(x, where=mask), X)] == [
        "where", "reduce_sum"]  # the sum's mask applied by fnp.where, recorded whole


def test_vjp_of_a_tape_transposes_any_number_of_times() -> None:
    out, f_vjp = ft.vjp(lambda x: fnp.tanh(x) * 2.0, X)
    for scale in (1.0, 2.0, 3.0):
        (ct,) = f_vjp(np.full(X.shape, scale))
        np.testing.assert_allclose(ct, scale * 2.0 * (1 - np.tanh(X) ** 2), rtol=1e-13)


def test_unused_outputs_of_a_multiple_output_primitive_get_no_cotangent() -> None:
    def f(x: Any) -> Any:
        values, _ = lax.sort_key_val(x, x * 2.0)  # only the first output is used
        return fnp.sum(values * values)

    for _ in range(3):
        np.testing.assert_allclose(ft.grad(f)(X), 2 * X, rtol=1e-13)


def test_a_side_effect_runs_once_per_call(capsys: pytest.CaptureFixture[str]) -> None:
    def f(x: Any) -> Any:
        ft.debug.print("x0 = {}", x[0])
        return fnp.sum(x * x)

    for _ in range(3):
        ft.grad(f)(X)
    assert capsys.readouterr().out.count("x0 = ") == 3


def test_custom_rules_still_see_concrete_values() -> None:
    seen: list[type] = []

    @ft.custom_jvp
    def f(x: Any) -> Any:
        return fnp.sin(x)

    @f.defjvp
    def f_jvp(primals: Any, tangents: Any) -> Any:
        (x,), (t,) = primals, tangents
        seen.append(type(x))
        return fnp.sin(x), fnp.cos(x) * t

    for _ in range(3):
        np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(f(x)))(X), np.cos(X))
    assert seen == [np.ndarray] * 3
    # calls that run their rule on the values are never cached (their parameters, the
    # rule objects, are new each call)
    assert not any(("call_jaxpr", None) in k[1] for k in tape._rules)


def test_results_are_the_callers() -> None:
    x = X.copy()
    g = ft.grad(lambda x: fnp.sum(x))(x)
    g[:] = 7.0
    np.testing.assert_array_equal(x, X)
    value, f_vjp = ft.vjp(lambda x: x, x)
    (ct,) = f_vjp(X)
    assert not np.shares_memory(ct, X) and not np.shares_memory(value, x)


def test_higher_order_and_aux_compose_with_the_tape() -> None:
    def f(x: Any) -> Any:
        return fnp.sum(fnp.sin(x) ** 3)

    hess = ft.hessian(f)(X)
    np.testing.assert_allclose(np.diag(hess), 6 * np.sin(X) * np.cos(X) ** 2 - 3 * np.sin(X) ** 3,
                               rtol=1e-12)
    second = ft.grad(lambda x: fnp.sum(ft.grad(f)(x)))(X)
    np.testing.assert_allclose(second, np.diag(hess), rtol=1e-12)
    g, aux = ft.grad(lambda x: (f(x), x * 2), has_aux=True)(X)
    np.testing.assert_allclose(g, 3 * np.sin(X) ** 2 * np.cos(X), rtol=1e-13)
    np.testing.assert_array_equal(aux, X * 2)


def test_the_cache_of_derived_rules_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tape, "_MAX_RULES", len(tape._rules) + 5)
    for n in range(1, 30):
        ft.grad(lambda x: fnp.sum(fnp.cos(x)))(np.ones(n))
    assert len(tape._rules) <= tape._MAX_RULES


def test_a_vjp_function_of_a_tape_works_under_other_transformations() -> None:
    def f(x: Any) -> Any:
        return fnp.sin(x) * fnp.exp(x)

    def f_vjp_by_hand(ct: np.ndarray) -> np.ndarray:
        return ct * (np.cos(X) + np.sin(X)) * np.exp(X)

    for _ in range(3):  # the general path, the derived rules interpreted, then compiled
        _, f_vjp = ft.vjp(f, X)
        ones = np.ones_like(X)
        np.testing.assert_allclose(ft.jit(lambda ct: f_vjp(ct)[0])(ones),
                                   f_vjp_by_hand(ones), rtol=1e-13)
        np.testing.assert_allclose(ft.vmap(f_vjp)(np.eye(X.size))[0],
                                   np.diag(f_vjp_by_hand(ones)), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(ft.grad(lambda ct: fnp.sum(f_vjp(ct)[0] ** 2))(ones),
                                   2 * f_vjp_by_hand(ones) * f_vjp_by_hand(ones), rtol=1e-13)


def test_jaxprs_of_new_jitted_closures_are_not_all_kept() -> None:
    for k in range(tape._MAX_CALL_RULES + 20):
        constant = np.full(3, float(k))
        g = ft.grad(lambda x, c=constant: fnp.sum(ft.jit(lambda y: y * c)(x)))
        np.testing.assert_array_equal(g(np.ones(3)), constant)
    assert len(tape._call_rules) <= tape._MAX_CALL_RULES


def _plan_of_last_tape() -> Any:
    """What the plan cache holds for the most recently keyed tape structure."""
    return tape._plans[next(reversed(tape._plans))]


def test_a_tape_recorded_again_runs_its_fused_backward_function() -> None:
    def f(x: Any) -> Any:  # a value used three times: cotangents add up
        s = fnp.sin(x)
        return fnp.sum(s * x + s * s) / 3.0

    def expected(x: np.ndarray) -> np.ndarray:
        return (np.cos(x) * x + np.sin(x) + 2 * np.sin(x) * np.cos(x)) / 3.0

    x = np.linspace(0.3, 1.1, 13)  # a shape no other test uses
    for call in range(5):  # rules: general, derived, compiled; the structure: seen, planned
        np.testing.assert_allclose(ft.grad(f)(x), expected(x), rtol=1e-13)
        if call >= 3:
            plan = _plan_of_last_tape()
            assert isinstance(plan, tape._Plan) and plan.fn.__name__ == "tape_bwd"


def test_each_path_through_the_function_has_its_own_plan() -> None:
    def f(x: Any) -> Any:
        return fnp.sum(fnp.sin(x)) if x[0] > 0 else fnp.sum(fnp.exp(x) * x)

    x = np.linspace(0.2, 0.8, 17)
    for _ in range(5):
        np.testing.assert_allclose(ft.grad(f)(x), np.cos(x), rtol=1e-13)
        np.testing.assert_allclose(ft.grad(f)(-x), np.exp(-x) * (1 - x), rtol=1e-13)


def test_vjp_plans_know_which_outputs_have_cotangents() -> None:
    def f(x: Any) -> Any:
        y = fnp.tanh(x)
        return y, y, x * 2.0  # one value twice: its two cotangents add up

    x = np.linspace(-1.0, 1.0, 19)
    for _ in range(5):
        _, f_vjp = ft.vjp(f, x)
        ones = np.ones_like(x)
        (ct,) = f_vjp((ones, 2 * ones, 3 * ones))
        np.testing.assert_allclose(ct, 3 * (1 - np.tanh(x) ** 2) + 6, rtol=1e-13)


def test_tapes_whose_output_is_an_input_or_too_big_are_walked(
        monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.linspace(-1.0, 1.0, 23)
    for _ in range(4):
        _, f_vjp = ft.vjp(lambda x: (fnp.sin(x), x), x)
        (ct,) = f_vjp((np.ones_like(x), np.ones_like(x)))
        np.testing.assert_allclose(ct, np.cos(x) + 1, rtol=1e-13)
    assert _plan_of_last_tape() is None
    monkeypatch.setattr(tape, "_PLAN_MAX_ENTRIES", 3)
    for _ in range(4):
        np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(fnp.sin(fnp.cos(x)) * x))(x),
                                   np.cos(np.cos(x)) * -np.sin(x) * x + np.sin(np.cos(x)),
                                   rtol=1e-13)
    assert _plan_of_last_tape() is None


def test_fused_gradients_are_the_callers() -> None:
    c = np.linspace(1.0, 2.0, 29)
    x = np.ones(29)
    for _ in range(4):
        g = ft.grad(lambda x: fnp.sum(x * c) + fnp.sum(x))(x)
        np.testing.assert_allclose(g, c + 1)
        assert not np.shares_memory(g, c) and not np.shares_memory(g, x)
        gx, gy = ft.grad(lambda x, y: fnp.sum(x + y), argnums=(0, 1))(x, c)
        np.testing.assert_array_equal(gx, np.ones_like(x))
        assert not np.shares_memory(gx, gy)


def test_library_rules_are_derived_like_primitives() -> None:
    """relu is a custom_jvp function (its rule picks relu'(0) = 0) whose rule is
    traceable: eager reverse mode derives and compiles it once per signature,
    where a user's rule runs on the values at each call."""
    x = np.linspace(-1.0, 1.0, 31)
    for _ in range(4):
        np.testing.assert_array_equal(ft.grad(lambda x: fnp.sum(ft.nn.relu(x)))(x),
                                      (x > 0).astype(float))
    for _ in range(2):
        _, f_vjp = ft.vjp(lambda x: ft.nn.relu(x) * 2.0, x)
    rules = f_vjp.linear.trace.rules
    assert rules and not any(type(rule) is tape._ConcreteRule for rule in rules)
    assert ft.grad(ft.nn.relu)(0.0) == 0.0


def test_a_traceable_rule_is_traced_once_per_signature() -> None:
    calls: list[type] = []

    @ft.custom_jvp
    def f(x: Any) -> Any:
        return fnp.sin(x)

    @f.defjvp
    def f_jvp(primals: Any, tangents: Any) -> Any:
        (x,), (t,) = primals, tangents
        calls.append(type(x))
        return f(x), fnp.cos(x) * t

    traceable_rule(f)
    for n in (5, 5, 5, 5, 6, 6, 6, 6):
        x = np.linspace(0.1, 0.9, n)
        np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(f(x)))(x), np.cos(x), rtol=1e-14)
    # per shape: run on the values by the first application (the general path), traced
    # by the second (which derives the reverse rule), then never again
    assert calls[0::2] == [np.ndarray] * 2 and all(issubclass(k, Tracer) for k in calls[1::2])
    assert len(calls) == 4
    np.testing.assert_allclose(ft.jit(ft.vmap(ft.grad(f)))(X), np.cos(X), rtol=1e-14)


def test_a_traceable_rule_defined_again_replaces_the_old_one() -> None:
    @ft.custom_jvp
    def f(x: Any) -> Any:
        return fnp.sin(x)

    f.defjvp(lambda primals, tangents: (f(primals[0]), fnp.cos(primals[0]) * tangents[0]))
    traceable_rule(f)
    for _ in range(3):
        np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(f(x)))(X), np.cos(X), rtol=1e-14)
    f.defjvp(lambda primals, tangents: (f(primals[0]), 2.0 * tangents[0]))
    for _ in range(3):
        np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(f(x)))(X), 2.0 * np.ones_like(X))
        np.testing.assert_allclose(ft.jvp(f, (X,), (X,))[1], 2.0 * X)


def test_a_traceable_rule_with_static_arguments_is_kept_per_value() -> None:
    traced: list[float] = []

    @functools.partial(ft.custom_jvp, nondiff_argnums=(1,))
    def scaled_sin(x: Any, scale: float) -> Any:
        return fnp.sin(x) * scale

    @scaled_sin.defjvp
    def scaled_sin_jvp(scale: float, primals: Any, tangents: Any) -> Any:
        (x,), (t,) = primals, tangents
        if isinstance(x, Tracer):
            traced.append(scale)
        return scaled_sin(x, scale), fnp.cos(x) * t * scale

    traceable_rule(scaled_sin)
    for scale in (2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 2.0):
        np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(scaled_sin(x, scale)))(X),
                                   scale * np.cos(X), rtol=1e-14)
    assert traced == [2.0, 3.0]  # each value's rule derived once
    unhashable = np.array(2.0)  # traced each call: takes the path of any custom rule
    np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(scaled_sin(x, unhashable)))(X),
                               2.0 * np.cos(X), rtol=1e-14)


def test_a_traceable_function_on_values_runs_its_staged_call() -> None:
    bodies: list[type] = []

    @ft.custom_jvp
    def f(x: Any) -> Any:
        bodies.append(type(x))
        return fnp.sin(x) * 2.0

    f.defjvp(lambda primals, tangents: (f(primals[0]), 2.0 * fnp.cos(primals[0]) * tangents[0]))
    traceable_rule(f)
    x = X.copy()
    for _ in range(4):  # traced once; interpreted, then compiled code
        y = f(x)
        np.testing.assert_allclose(y, 2.0 * np.sin(X), rtol=1e-15)
        assert not np.shares_memory(y, x)
    assert len(bodies) == 1 and issubclass(bodies[0], Tracer)
    np.testing.assert_allclose(ft.nn.softplus(X), np.logaddexp(X, 0.0), rtol=1e-14)
    a = np.array([[2.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(fnp.linalg.det(a), 5.0, rtol=1e-14)


def test_softmax_has_jaxs_rule_and_takes_the_tape() -> None:
    x = np.array([[0.5, -1.0, 2.0], [-np.inf, 0.0, 1.0]])
    weights = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = np.exp(x - x.max(1, keepdims=True))
    y /= y.sum(1, keepdims=True)
    expected = y * (weights - (y * weights).sum(1, keepdims=True))  # finite at -inf
    for _ in range(4):
        np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(ft.nn.softmax(x) * weights))(x),
                                   expected, rtol=1e-14, atol=1e-16)


def test_log_softmax_has_its_rule_and_takes_the_tape() -> None:
    x = np.array([[0.5, -1.0, 2.0], [-np.inf, 0.0, 1.0]])
    weights = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    y = np.exp(x - x.max(1, keepdims=True))
    y /= y.sum(1, keepdims=True)
    expected = weights - y * weights.sum(1, keepdims=True)  # 1 - softmax, weighted
    for _ in range(4):
        np.testing.assert_allclose(
            ft.grad(lambda x: fnp.sum(ft.nn.log_softmax(x) * weights))(x), expected,
            rtol=1e-14, atol=1e-15)


# ------------------------------------------------------- functions recorded whole

#: every function the tape records as one entry (see tape.one_entry): functrans.numpy's,
#: and indexing, functrans.nn.relu and linalg.norm
RECORDED_WHOLE = {name: getattr(fnp, name) for name in dir(fnp)
                  if type(getattr(getattr(fnp, name), "one_entry", None)) is int}
RECORDED_WHOLE.update({"getitem": _indexing.getitem, "linalg.norm": fnp.linalg.norm})
RECORDED_WHOLE.update({f"nn.{name}": getattr(ft.nn, name) for name in ft.nn.__all__
                       if type(getattr(getattr(ft.nn, name), "one_entry", None)) is int})
RECORDED_WHOLE.update({f"special.{name}": getattr(fss, name) for name in fss.__all__
                       if type(getattr(getattr(fss, name), "one_entry", None)) is int})
#: some functions of some distributions, with their parameters by position and by keyword
STATS_CALLS: dict[str, list[tuple[str, Any]]] = {
    "stats.norm.logpdf": [("x, 0.5, 2.0", lambda x: fst.norm.logpdf(x, 0.5, 2.0)),
                          ("x, loc=row, scale=x", lambda x: fst.norm.logpdf(x, loc=ROW,
                                                                              scale=x))],
    "stats.gamma.logpdf": [("x + 0.5, 2.0", lambda x: fst.gamma.logpdf(x + 0.5, 2.0)),
                           ("2.0, a=x + 1", lambda x: fst.gamma.logpdf(2.0, a=x + 1))],
    "stats.poisson.logpmf": [("3.0, x", lambda x: fst.poisson.logpmf(3.0, x))],
    "stats.t.logpdf": [("x, 3.0", lambda x: fst.t.logpdf(x, 3.0))],
    "stats.beta.logpdf": [("x, 2.0, x + 1", lambda x: fst.beta.logpdf(x, 2.0, x + 1))],
    "stats.multivariate_normal.logpdf": [
        ("x, row, eye", lambda x: fst.multivariate_normal.logpdf(x, ROW, np.eye(3)))],
}
RECORDED_WHOLE.update(dict.fromkeys(STATS_CALLS))
A = np.linspace(0.2, 0.9, 6).reshape(2, 3)
ROW = np.linspace(0.3, 0.7, 3)
WEIGHTS = np.random.default_rng(0).standard_normal((2, 3, 3))

#: the calls of the functions that take more than arrays, Python scalars and axes
SPECIAL_CALLS: dict[str, list[tuple[str, Any]]] = {
    "getitem": [("x[0]", lambda f, x: f(x, 0)), ("x[:, 1]", lambda f, x: f(x, (slice(None), 1))),
                ("x[..., None]", lambda f, x: f(x, (Ellipsis, None))),
                ("x[::-1, 1:]", lambda f, x: f(x, (slice(None, None, -1), slice(1, None)))),
                ("x[[1, -1, 0]]", lambda f, x: f(x, np.array([1, -1, 0]))),
                ("x[:, [2, 0]]", lambda f, x: f(x, (slice(None), np.array([2, 0])))),
                ("x[arange, [2, 0]]", lambda f, x: f(x, (np.arange(2), np.array([2, 0])))),
                ("x[mask]", lambda f, x: f(x, A > 0.5))],
    "concatenate": [("[x, row[None]]", lambda f, x: f([x, ROW[None]])),
                    ("(x, x), 1", lambda f, x: f((x, x), 1))],
    "stack": [("[x, x[::-1]]", lambda f, x: f([x, x[::-1]])), ("(x, A), -1", lambda f, x: f(
        (x, A.astype(x.dtype)), -1)), ("[x[0, 0], 1.0]", lambda f, x: f([x[0, 0], 1.0]))],
    "hstack": [("[x, x]", lambda f, x: f([x, x])), ("[x[0], 1.0]", lambda f, x: f([x[0], 1.0]))],
    "vstack": [("[x, row]", lambda f, x: f([x, ROW.astype(x.dtype)]))],
    "column_stack": [("[x, x]", lambda f, x: f([x, x]))],
    "dot": [("x, x.T", lambda f, x: f(x, x.T)), ("x, row", lambda f, x: f(x, ROW)),
            ("row, x.T", lambda f, x: f(ROW, x.T)), ("x, 2.0", lambda f, x: f(x, 2.0))],
    "power": [("x, 2", lambda f, x: f(x, 2)), ("x, 3", lambda f, x: f(x, 3)),
              ("x, 0.5", lambda f, x: f(x, 0.5)), ("2.0, x", lambda f, x: f(2.0, x))],
    "broadcast_to": [("x, (3, 2, 3)", lambda f, x: f(x, (3, 2, 3)))],
    "expand_dims": [("x, 0", lambda f, x: f(x, 0)), ("x, (0, 2)", lambda f, x: f(x, (0, 2)))],
    "moveaxis": [("x, 0, 1", lambda f, x: f(x, 0, 1))],
    "swapaxes": [("x, 0, -1", lambda f, x: f(x, 0, -1))],
    "reshape": [("x, (3, 2)", lambda f, x: f(x, (3, 2))), ("x, -1", lambda f, x: f(x, -1))],
    "transpose": [("x", lambda f, x: f(x)), ("x, (1, 0)", lambda f, x: f(x, (1, 0)))],
    "where": [("x > 0.5, x, 0.0", lambda f, x: f(x > 0.5, x, 0.0)),
              ("A > 0.5, row, x", lambda f, x: f(A > 0.5, ROW, x)),
              ("x > 0.5, 1, x", lambda f, x: f(x > 0.5, 1, x))],
    "clip": [("x, 0.3, 0.6", lambda f, x: f(x, 0.3, 0.6)), ("x, None, 0.5", lambda f, x: f(
        x, None, 0.5)), ("x, row, 0.8", lambda f, x: f(x, ROW, 0.8))],
    "linalg.norm": [("x", lambda f, x: f(x)), ("x, axis=1", lambda f, x: f(x, axis=1)),
                    ("x, 1, 0", lambda f, x: f(x, 1, 0)), ("x, 'fro'", lambda f, x: f(x, "fro"))],
}
SPECIAL_CALLS["matmul"] = SPECIAL_CALLS["dot"][:3]  # (no scalars: matmul rejects them)
SQUARE = np.array([[2.0, 0.5], [0.25, 1.5]])  # x[:, :2] + SQUARE: well conditioned
SPECIAL_CALLS.update({
    "vdot": [("x, x", lambda f, x: f(x, x)), ("A, x", lambda f, x: f(A, x)),
             ("x[0, 0], 2.0", lambda f, x: f(x[0, 0], 2.0))],
    "inner": [("x, x", lambda f, x: f(x, x)), ("x, row", lambda f, x: f(x, ROW)),
              ("x, 2.0", lambda f, x: f(x, 2.0))],
    "outer": [("x, x", lambda f, x: f(x, x)), ("row, x", lambda f, x: f(ROW, x)),
              ("2.0, x", lambda f, x: f(2.0, x))],
    "tensordot": [("x, x", lambda f, x: f(x, x)), ("x, x.T, 1", lambda f, x: f(x, x.T, 1)),
                  ("x, 2.0, 0", lambda f, x: f(x, 2.0, 0))],
    "einsum": [("ij,kj->ik", lambda f, x: f("ij,kj->ik", x, x)),
               ("ij,j->i", lambda f, x: f("ij,j->i", x, ROW)), ("ii", lambda f, x: f(
                   "ii", x[:, :2]))],
    "cumsum": [("x", lambda f, x: f(x)), ("x, 1", lambda f, x: f(x, 1))],
    "cumprod": [("x", lambda f, x: f(x)), ("x, 0", lambda f, x: f(x, 0))],
    "diff": [("x", lambda f, x: f(x)), ("x, 1, 0", lambda f, x: f(x, 1, 0))],
    "sort": [("x", lambda f, x: f(x)), ("x, 0", lambda f, x: f(x, 0))],
    "roll": [("x, 1", lambda f, x: f(x, 1)), ("x, -1, 0", lambda f, x: f(x, -1, 0))],
    "tile": [("x, 2", lambda f, x: f(x, 2)), ("x, (2, 1)", lambda f, x: f(x, (2, 1)))],
    "repeat": [("x, 2", lambda f, x: f(x, 2)), ("x, 2, 1", lambda f, x: f(x, 2, 1))],
    "pad": [("x, 1", lambda f, x: f(x, 1)), ("x, ((1, 0), (0, 2)), 'edge'", lambda f, x: f(
        x, ((1, 0), (0, 2)), "edge")), ("x, 1, constant_values=0.5", lambda f, x: f(
            x, 1, constant_values=0.5))],
    "linalg.det": [("square", lambda f, x: f(x[:, :2] + SQUARE))],
    "linalg.inv": [("square", lambda f, x: f(x[:, :2] + SQUARE))],
    "linalg.solve": [("square, row", lambda f, x: f(x[:, :2] + SQUARE, x[0, :2])),
                     ("SQUARE, x.T", lambda f, x: f(SQUARE, x.T[:2]))],
    "linalg.cholesky": [("square @ square.T", lambda f, x: f(
        (x[:, :2] + SQUARE) @ (x[:, :2] + SQUARE).T))],
    "linalg.pinv": [("x", lambda f, x: f(x))],
    "linalg.matrix_power": [("square, 3", lambda f, x: f(x[:, :2] + SQUARE, 3))],
    "linalg.diagonal": [("x", lambda f, x: f(x))],
    "linalg.trace": [("x", lambda f, x: f(x))],
})
RECORDED_WHOLE.update({f"linalg.{name}": getattr(fnp.linalg, name) for name in (
    "det", "inv", "solve", "cholesky", "pinv", "matrix_power", "diagonal", "trace")})
#: the functions that take an axis (and keepdims) after their operand
AXIS_FUNCTIONS = {"sum", "mean", "prod", "max", "min", "amax", "amin", "var", "std",
                  "softmax", "log_softmax", "logsumexp"}


#: the special functions of two or three arguments, and where they are defined
SPECIAL_ARITY = {"polygamma": 2, "multigammaln": 2, "betaln": 2, "beta": 2, "gammainc": 2,
                 "gammaincc": 2, "xlogy": 2, "xlog1py": 2, "rel_entr": 2,
                 "kl_div": 2, "ive": 2, "iv": 2, "zeta": 2}


def _special_calls(name: str, fn: Any) -> list[tuple[str, Any]]:
    if name == "polygamma":
        return [("1, x", lambda x: fn(1, x))]
    if name == "multigammaln":
        return [("x + 1, 2", lambda x: fn(x + 1, 2))]
    if name == "zeta":  # (no derivative in x, as JAX)
        return [("2.5, x", lambda x: fn(2.5, x))]
    if name in ("iv", "ive"):  # (no derivative in the order)
        return [("2.0, x", lambda x: fn(2.0, x)), ("row, x", lambda x: fn(ROW, x))]
    if name == "betainc":  # (no derivative in a or b, as JAX)
        return [("2.0, 3.0, x", lambda x: fn(2.0, 3.0, x)), ("row, 3.0, x", lambda x: fn(
            ROW, 3.0, x))]
    arity = SPECIAL_ARITY.get(name, 1)
    if arity == 2:
        return [("x, x", lambda x: fn(x, x)), ("x, 2.0", lambda x: fn(x, 2.0)),
                ("row, x", lambda x: fn(ROW, x))]
    return [("x", lambda x: fn(x))]


def _calls(name: str) -> list[tuple[str, Any]]:
    """(description, function of the traced x) for the argument kinds `name` takes."""
    if name in STATS_CALLS:
        return STATS_CALLS[name]
    fn = RECORDED_WHOLE[name]
    if name.startswith("special."):
        return _special_calls(name[len("special."):], fn)
    if name == "nn.standardize":
        return [("x", lambda x: fn(x)), ("x, 0", lambda x: fn(x, 0))]
    if name in ("nn.elu", "nn.celu", "nn.leaky_relu"):
        return [("x - 0.5", lambda x: fn(x - 0.5)), ("x - 0.5, 0.3", lambda x: fn(x - 0.5, 0.3))]
    if name == "nn.gelu":
        return [("x", lambda x: fn(x)), ("x, False", lambda x: fn(x, False))]
    if name in SPECIAL_CALLS:
        return [(d, functools.partial(call, fn)) for d, call in SPECIAL_CALLS[name]]
    if fn.one_entry == 2:
        return [("x, x", lambda x: fn(x, x[::-1])), ("x, row", lambda x: fn(x, ROW)),
                ("row, x", lambda x: fn(ROW, x)), ("x, 2", lambda x: fn(x, 2)),
                ("0.5, x", lambda x: fn(0.5, x)), ("x, -0.0", lambda x: fn(x, -0.0))]
    calls = [("x", lambda x: fn(x))]
    if name in AXIS_FUNCTIONS:
        calls += [("x, 0", lambda x: fn(x, 0)), ("x, axis=1, keepdims", lambda x: fn(
            x, axis=1, keepdims=True) if name not in ("softmax", "log_softmax") else fn(
            x, axis=1))]
    if name in ("var", "std"):
        calls.append(("x, ddof=1", lambda x: fn(x, ddof=1)))
    return calls


class _Everything:
    def __contains__(self, item: Any) -> bool:
        return True


@pytest.mark.parametrize("scalars", ["by value", "by type"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(RECORDED_WHOLE))
def test_functions_recorded_whole_give_the_general_paths_results(
        name: str, dtype: Any, scalars: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each function, with each kind of argument: the value and gradient of its first
    calls (the general path), of its derived rule and of its compiled and fused rule
    equal what the linear jaxpr gives, with the same dtypes and shapes; with Python
    scalars keyed by value (static), and by type (weakly-typed operands), as for a
    function that met many values."""
    from functrans.config import config

    if scalars == "by type":
        monkeypatch.setattr(tape, "_scalars_by_type", _Everything())

    x = (A + (1.0 if name in ("arccosh", "acosh") else 0.0)).astype(dtype)
    for description, call in _calls(name):
        def loss(x: Any) -> Any:
            out = call(x)
            if out.dtype.kind == "b":  # a comparison: no derivative, kept in the value
                return fnp.sum(fnp.where(out, x, 0.0))
            weights = (WEIGHTS.astype(dtype).ravel()[:out.size].reshape(out.shape)
                       if out.size <= WEIGHTS.size else np.linspace(-1, 1, out.size).astype(
                           dtype).reshape(out.shape))
            return fnp.sum(out * weights)

        value_and_grad = ft.value_and_grad(loss)
        config.update("eager_tape", False)
        try:
            want = value_and_grad(x)
        finally:
            config.update("eager_tape", True)
        for _ in range(4):
            got = value_and_grad(x)
            for g, w in zip(got, want):
                assert np.asarray(g).dtype == np.asarray(w).dtype, description
                np.testing.assert_allclose(g, w, rtol=2e-6 if dtype == np.float32 else 1e-13,
                                           equal_nan=True, err_msg=description)


@pytest.mark.parametrize("step", [lambda x: x * 2.0, lambda x: 3 * x, lambda x: x + x,
                                  lambda x: x - ROW, lambda x: ROW / x, fnp.tanh, fnp.sum,
                                  lambda x: x ** 2, lambda x: x @ x.T],
                         ids=["x*2.0", "3*x", "x+x", "x-row", "row/x", "tanh", "sum",
                              "x**2", "x@x.T"])
def test_common_arguments_find_their_rule_in_one_lookup(step: Any, monkeypatch: Any) -> None:
    """One or two positional arguments of the common kinds: `apply_short` builds the
    signature the general `apply_function` derived the rule under, and finds it."""
    def loss(x: Any) -> Any:
        return fnp.sum(step(x))

    for _ in range(3):
        ft.grad(loss)(A)
    general: list[Any] = []
    original = tape.TapeTrace.apply_function
    monkeypatch.setattr(tape.TapeTrace, "apply_function",
                        lambda self, fn, *args: general.append(fn) or original(self, fn, *args))
    np.testing.assert_allclose(ft.grad(loss)(A), ft.grad(loss)(A))
    assert general == []


def test_a_long_tape_gives_the_garbage_collector_nothing_to_walk() -> None:
    """An entry holds arrays and ints only (its rule is kept apart), so the collector
    stops tracking it: full collections, which walk every tracked object of the
    process, cost a long tape nothing. Where entries held their rules, they came
    every few calls of a 10,000-entry grad and took a third of its time."""
    import gc

    def chain(x: Any) -> Any:
        for _ in range(200):
            x = fnp.sin(x) * 0.5
        return fnp.sum(x)

    for _ in range(3):
        ft.vjp(chain, X)
    _, f_vjp = ft.vjp(chain, X)
    gc.collect()  # (an entry is untracked after its parts, by a later collection)
    gc.collect()
    entries = f_vjp.linear.trace.entries
    assert len(entries) == 401
    assert not any(gc.is_tracked(entry) for entry in entries)


def test_index_arrays_out_of_range_raise_on_every_call() -> None:
    """Index arrays are operands of indexing's entry: its gather rejects an
    out-of-range index when it runs, as the first (general) call does."""
    for _ in range(4):
        with pytest.raises(IndexError, match="out of bounds"):
            ft.grad(lambda x: fnp.sum(x[np.array([0, 9])]))(X)
        np.testing.assert_allclose(ft.grad(lambda x: fnp.sum(x[np.array([0, -1, -1])]))(X),
                                   [1, 0, 0, 0, 0, 0, 2])


def test_a_changing_scalar_does_not_derive_a_rule_per_value(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Python scalars are keyed by value (``x * 0.5`` has the constant in its code)
    until a function has met _VALUES_PER_FUNCTION of them; then by type, so that a
    time step's ``x * t`` in a loop does not derive (and evict) a rule per value."""
    monkeypatch.setattr(tape, "_scalars_by_type", set())
    monkeypatch.setattr(tape, "_values_met", {})
    raw_multiply = fnp.multiply.__wrapped__

    def f(x: Any, t: float) -> Any:
        return fnp.sum(fnp.sin(x * t))

    ts = np.linspace(0.1, 2.0, 3 * tape._VALUES_PER_FUNCTION)
    for t in ts:
        for _ in range(3):
            np.testing.assert_allclose(ft.grad(f)(X, float(t)), t * np.cos(X * t), rtol=1e-13)
    assert raw_multiply in tape._scalars_by_type
    keys = [k for k in tape._rules if k[0] is raw_multiply and k[1] == (X.shape, X.dtype, True)
            and k[2][0] is float]
    assert len(keys) <= tape._VALUES_PER_FUNCTION + 2  # the values met, then one by type
    assert (raw_multiply, (X.shape, X.dtype, True), (float, tape._WEAK)) in tape._rules
