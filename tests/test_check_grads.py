"""functrans.test_util: check_grads / check_jvp / check_vjp and the vector-space helpers."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest

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
from functrans.transforms.autodiff import vjp
from functrans.transforms.jvp import jvp


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


def test_integer_arguments_are_passed_through() -> None:
    def f(x: Any, n: Any) -> Any:
        return lax.mul(lax.sin(x), lax.convert_element_type(n, np.float64)), n

    check_grads(f, (X, np.arange(4)), order=2)


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
