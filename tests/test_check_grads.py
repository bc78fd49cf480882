"""functrans.test_util: check_grads / check_jvp / check_vjp and the vector-space helpers."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import dtypes, lax
from functrans.core.avals import ShapedArray
from functrans.core.primitive import Primitive
from functrans.primitives.rules import defjvp, deflinear, defvectorized
from functrans.test_util import (
    check_close,
    check_grads,
    check_jvp,
    check_vjp,
    inner_prod,
    numerical_jvp,
    rand_like,
    tree_add,
    tree_scale,
    tree_sub,
)

jvp, vjp = ft.jvp, ft.vjp


def _elementwise(name: str, impl: Any) -> Primitive:
    p = Primitive(name)
    p.impl = impl
    p.abstract_eval = lambda x: ShapedArray(x.shape, x.dtype)
    defvectorized(p)
    return p


# A sine whose derivative is wrong (+sin instead of cos).
wrong_sin_p = _elementwise("test_wrong_sin", np.sin)
defjvp(wrong_sin_p, lambda t, x: lax.mul(t, lax.sin(x)))

# A doubling whose transpose triples.
wrong_double_p = _elementwise("test_wrong_double", lambda x: x + x)
deflinear(wrong_double_p, lambda ct, x: [lax.add(ct, lax.add(ct, ct))])

# A sine with a correct first derivative through a cosine whose own derivative is
# wrong: only second-order checks can see it.
bad_cos_p = _elementwise("test_bad_cos", np.cos)
defjvp(bad_cos_p, lambda t, x: lax.mul(t, lax.sin(x)))
sin_bad_second_p = _elementwise("test_sin_bad_second", np.sin)
defjvp(sin_bad_second_p, lambda t, x: lax.mul(t, bad_cos_p.bind(x)))


X = np.array([0.3, -1.2, 0.7, 2.1])
Y = np.array([[0.5, 1.5], [-0.4, 0.9]])


def f_mixed(x: Any, y: Any) -> Any:
    """Two outputs, coupling both arguments."""
    s = lax.reduce_sum(lax.mul(y, y), (0, 1))
    return lax.mul(lax.sin(x), lax.broadcast_in_dim(s, x.shape, ())), lax.exp(lax.cos(y))


# ------------------------------------------------------------------ passes on correct functions

@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("modes", [("fwd",), ("rev",), ("fwd", "rev")])
def test_passes_on_correct_function(order: int, modes: tuple[str, ...]) -> None:
    check_grads(f_mixed, (X, Y), order, modes=modes)


def test_passes_on_pytree_arguments_and_outputs() -> None:
    def f(params: dict, xs: tuple) -> dict:
        w, b = params["w"], params["b"]
        u, v = xs
        return {"out": lax.add(lax.mul(w, lax.tanh(u)), b), "aux": [lax.log(lax.mul(v, v))]}

    params = {"w": np.array([1.5, -0.5]), "b": np.array([0.1, 0.2])}
    check_grads(f, (params, (np.array([0.2, 0.4]), np.array([1.1, -2.0]))), order=2)


def test_integer_argument_held_fixed_by_closing_over_it() -> None:
    def f(x: Any, n: Any) -> Any:
        return lax.mul(lax.sin(x), lax.convert_element_type(n, np.float64)), n

    n = np.arange(4)
    check_grads(lambda x: f(x, n), (X,), order=2)


def test_python_scalar_arguments() -> None:
    check_grads(lambda x, y: lax.mul(lax.sin(x), lax.cos(y)), (0.5, 1.5), order=3)


def test_float32_arguments_use_float32_differences() -> None:
    x32, y32 = X.astype(np.float32), Y.astype(np.float32)
    check_grads(f_mixed, (x32, y32), order=2)
    tangent = numerical_jvp(lambda x: lax.sin(x), (x32,), (np.ones(4, np.float32),))
    assert tangent.dtype == np.float32
    np.testing.assert_allclose(tangent, np.cos(X), rtol=1e-3, atol=1e-3)


def test_float32_default_step_is_larger_than_float64() -> None:
    from functrans.test_util import default_eps, default_tolerance

    assert default_eps(np.float32) > default_eps(np.float64)
    assert default_tolerance(np.float32) > default_tolerance(np.float64)


def test_tolerance_dict_by_dtype() -> None:
    # A float64 tolerance that is far too tight must fail, and a per-dtype dict
    # must pick the entry for the arguments' dtype.
    tight = {np.float64: 1e-14}
    with pytest.raises(AssertionError):
        check_grads(lambda x: lax.exp(x), (X,), 1, modes=("fwd",), atol=tight, rtol=tight,
                    eps=1e-3)
    check_grads(lambda x: lax.exp(x), (X,), 1, modes=("fwd",), atol={np.float32: 1e-14},
                rtol={np.float32: 1e-14}, eps=1e-3)


# ------------------------------------------------------------------ fails on wrong rules

@pytest.mark.parametrize("modes", [("fwd",), ("rev",)])
def test_fails_on_wrong_jvp(modes: tuple[str, ...]) -> None:
    with pytest.raises(AssertionError):
        check_grads(wrong_sin_p.bind, (X,), 1, modes=modes)


def test_fails_on_wrong_jvp_in_float32() -> None:
    with pytest.raises(AssertionError, match="float32"):
        check_grads(wrong_sin_p.bind, (X.astype(np.float32),), 1, modes=("fwd",))


def test_fails_on_wrong_transpose_in_rev_mode_only() -> None:
    check_grads(wrong_double_p.bind, (X,), 1, modes=("fwd",))
    with pytest.raises(AssertionError, match="VJP.*dot-product"):
        check_grads(wrong_double_p.bind, (X,), 1, modes=("rev",))


@pytest.mark.parametrize("modes", [("fwd",), ("rev",)])
def test_wrong_second_derivative_needs_order_two(modes: tuple[str, ...]) -> None:
    check_grads(sin_bad_second_p.bind, (X,), 1, modes=modes)
    with pytest.raises(AssertionError):
        check_grads(sin_bad_second_p.bind, (X,), 2, modes=modes)


def test_wrong_rule_inside_a_composition() -> None:
    def f(x: Any, y: Any) -> Any:
        return lax.mul(wrong_sin_p.bind(x), lax.cos(y))

    with pytest.raises(AssertionError):
        check_grads(f, (X, X[::-1].copy()), 1)


def test_message_names_mode_dtype_and_values() -> None:
    with pytest.raises(AssertionError) as info:
        check_grads(wrong_sin_p.bind, (X,), 1, modes=("fwd",))
    message = str(info.value)
    assert "JVP" in message and "float64" in message
    assert "ACTUAL" in message and "DESIRED" in message


def test_check_jvp_and_check_vjp_with_hand_written_rules() -> None:
    f = lambda x: lax.sin(x)  # noqa: E731
    right_jvp = lambda primals, tangents: (np.sin(primals[0]),  # noqa: E731
                                           np.cos(primals[0]) * tangents[0])
    wrong_jvp = lambda primals, tangents: (np.sin(primals[0]), tangents[0])  # noqa: E731
    check_jvp(f, right_jvp, (X,))
    with pytest.raises(AssertionError):
        check_jvp(f, wrong_jvp, (X,))

    def wrong_vjp(x: Any) -> Any:
        return np.sin(x), lambda ct: (ct,)
    check_vjp(f, partial(vjp, f), (X,))
    with pytest.raises(AssertionError, match="dot-product"):
        check_vjp(f, wrong_vjp, (X,))


def test_jvp_with_wrong_tangent_dtype_fails() -> None:
    def upcasting_jvp(primals: Any, tangents: Any) -> Any:
        x, = primals
        return np.sin(x), (np.cos(x) * tangents[0]).astype(np.float64)
    with pytest.raises(AssertionError, match="dtype float32"):
        check_jvp(lambda x: lax.sin(x), upcasting_jvp, (X.astype(np.float32),))


# ------------------------------------------------------------------ argument validation

@pytest.mark.parametrize("order", [0, -1, 1.5, True])
def test_bad_order(order: Any) -> None:
    with pytest.raises(ValueError, match="order"):
        check_grads(lax.sin, (X,), order)


@pytest.mark.parametrize("modes", [(), ("backward",), ("fwd", "sideways")])
def test_bad_modes(modes: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="modes"):
        check_grads(lax.sin, (X,), 1, modes=modes)


def test_mode_given_as_a_string() -> None:
    check_grads(lax.sin, (X,), 2, modes="rev")


def _square(x: Any) -> Any:
    return lax.mul(x, x)


@pytest.mark.parametrize("args, index, described", [
    ((np.arange(3),), 0, "has dtype int64"),
    ((X, np.arange(4)), 1, "has dtype int64"),
    ((np.arange(3), X), 0, "has dtype int64"),
    ((2,), 0, "is a Python int"),
    ((X, True), 1, "is a Python bool"),
    ((np.array([True, False]),), 0, "has dtype bool"),
    ((np.arange(3, dtype=np.int32),), 0, "has dtype int32"),
])
def test_non_float_arguments_are_refused(args: tuple, index: int, described: str) -> None:
    # An integer argument gets a float0 tangent and stays fixed: a check would pass
    # without checking its derivative.
    with pytest.raises(TypeError, match=rf"check_grads: argument {index} {described}, but "
                                        r"check_grads needs floating \(or complex\) inputs"
                                        r".*astype\(float\)"):
        check_grads(lambda *a: a[0], args, 1)


def test_integer_argument_of_a_wrong_rule_is_not_passed_silently() -> None:
    with pytest.raises(TypeError, match="argument 0 has dtype int64"):
        check_grads(wrong_sin_p.bind, (np.arange(3),), 1)


def test_non_float_leaf_inside_a_pytree_argument_is_located() -> None:
    params = {"w": X, "steps": np.arange(2)}
    with pytest.raises(TypeError, match=r"argument 1 \(at \['steps'\]\) has dtype int64"):
        check_grads(lambda x, p: lax.mul(x, p["w"]), (X, params), 1)


@pytest.mark.parametrize("check, call", [
    (lambda args: check_jvp(_square, partial(jvp, _square), args), "check_jvp"),
    (lambda args: check_vjp(_square, partial(vjp, _square), args), "check_vjp"),
])
def test_check_jvp_and_check_vjp_refuse_integer_arguments(check: Any, call: str) -> None:
    with pytest.raises(TypeError, match=rf"{call}: argument 0 has dtype int64"):
        check((np.arange(3),))
    with pytest.raises(TypeError, match=rf"{call}: args must be a tuple or list"):
        check(X)


def test_complex_arguments_are_accepted() -> None:
    check_grads(_square, (X + 0.5j,), 2)


@pytest.mark.parametrize("args", [X, np.float64(1.5), 1.5, {"x": X}])
def test_args_not_wrapped_in_a_tuple(args: Any) -> None:
    with pytest.raises(TypeError, match=r"check_grads: args must be a tuple or list of the "
                                        r"arguments of f, e\.g\. check_grads\(f, \(x,\), "
                                        rf"order=1\).*got a {type(args).__name__}"):
        check_grads(lax.sin, args, 1)


def test_args_as_a_list() -> None:
    check_grads(f_mixed, [X, Y], 1)


@pytest.mark.parametrize("args", [(), (None,), ({},)])
def test_args_without_arrays(args: tuple) -> None:
    with pytest.raises(TypeError, match="no derivative to check"):
        check_grads(lambda *a: 1.0, args, 1)


# ------------------------------------------------------------------ custom_jvp rules

@ft.custom_jvp
def sin_with_wrong_rule(x: Any) -> Any:
    return fnp.sin(x)


@sin_with_wrong_rule.defjvp
def _sin_wrong_jvp(primals: Any, tangents: Any) -> Any:
    (x,), (t,) = primals, tangents
    return sin_with_wrong_rule(x), fnp.sin(x) * t  # should be cos(x) * t


@ft.custom_jvp
def sin_with_right_rule(x: Any) -> Any:
    return fnp.sin(x)


@sin_with_right_rule.defjvp
def _sin_right_jvp(primals: Any, tangents: Any) -> Any:
    (x,), (t,) = primals, tangents
    return sin_with_right_rule(x), fnp.cos(x) * t


@pytest.mark.parametrize("modes", [("fwd",), ("rev",), ("fwd", "rev")])
@pytest.mark.parametrize("order", [1, 2])
def test_custom_jvp_rule_is_checked(modes: tuple[str, ...], order: int) -> None:
    check_grads(sin_with_right_rule, (X,), order, modes=modes)
    with pytest.raises(AssertionError, match="finite difference"):
        check_grads(sin_with_wrong_rule, (X,), order, modes=modes)


def test_custom_jvp_rule_checked_through_jit_and_in_float32() -> None:
    check_grads(ft.jit(sin_with_right_rule), (X,), 1)
    with pytest.raises(AssertionError):
        check_grads(ft.jit(sin_with_wrong_rule), (X,), 1)
    with pytest.raises(AssertionError, match="float32"):
        check_grads(sin_with_wrong_rule, (X.astype(np.float32),), 1, modes=("fwd",))


# ------------------------------------------------------------------ vector-space helpers

def test_rand_like_shapes_dtypes_and_integers(rng: np.random.Generator) -> None:
    tree = {"a": np.zeros((2, 3), np.float32), "b": (np.zeros(4), np.arange(3))}
    r = rand_like(rng, tree)
    assert r["a"].shape == (2, 3) and r["a"].dtype == np.float32
    assert r["b"][0].dtype == np.float64 and np.std(r["b"][0]) > 0
    assert r["b"][1].dtype == dtypes.float0 and r["b"][1].shape == (3,)


def test_inner_product_add_scale(rng: np.random.Generator) -> None:
    x = {"u": rng.standard_normal(3), "v": (rng.standard_normal((2, 2)), np.arange(2))}
    y = rand_like(rng, x)
    expected = float(x["u"] @ y["u"] + np.sum(x["v"][0] * y["v"][0]))
    assert inner_prod(x, y) == pytest.approx(expected)
    z = tree_sub(tree_add(x, tree_scale(2.0, y)), y)
    check_close(z, tree_add(x, y), atol=1e-12, rtol=1e-12)
    assert z["v"][1] is x["v"][1]  # integer leaves are carried, not combined


def test_check_close_reports_shape_and_structure() -> None:
    with pytest.raises(AssertionError, match="shapes differ"):
        check_close(np.zeros(3), np.zeros(4))
    with pytest.raises(AssertionError, match="structures differ"):
        check_close((np.zeros(3),), [np.zeros(3)])


def test_dot_product_identity_directly(rng: np.random.Generator) -> None:
    x = rng.standard_normal(5)
    u, v = rng.standard_normal(5), rng.standard_normal(5)
    _, ju = jvp(lambda a: lax.mul(lax.sin(a), a), (x,), (u,))
    _, f_vjp = vjp(lambda a: lax.mul(lax.sin(a), a), x)
    assert inner_prod(v, ju) == pytest.approx(inner_prod(f_vjp(v), (u,)))
