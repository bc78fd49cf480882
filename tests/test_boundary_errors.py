"""Misuse of vmap, jvp, linearize and linear_transpose is typed at the boundary: an
error naming the function, the argument and what would work, never a wrong
answer or a crash deep inside; and the valid neighbours of each misuse still give
the right numbers."""

from __future__ import annotations

import re

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp
from functrans import lax

FLOAT0 = ft.dtypes.float0


def double(a):
    return a * 2


# ---------------------------------------------------------------- vmap: in_axes

def test_vmap_of_a_scalar_names_the_argument_and_its_rank():
    with pytest.raises(ValueError, match=r"vmap of double was requested to map its "
                       r"argument args\[0\] along axis 0, which implies that its rank "
                       r"should be at least 1, but is only 0 \(its shape is \(\)\)"):
        ft.vmap(double)(1.0)


def test_vmap_names_nested_and_keyword_arguments():
    def f(x, p, *, scale):
        return x * p["w"] * scale

    with pytest.raises(ValueError, match=r"args\[1\]\['w'\]"):
        ft.vmap(f)(np.ones(3), {"w": np.float64(2.0)}, scale=np.ones(3))
    with pytest.raises(ValueError, match=r"kwargs\['scale'\]"):
        ft.vmap(f)(np.ones(3), {"w": np.ones(3)}, scale=2.0)


@pytest.mark.parametrize("axis", [-1, -2, 0, 1])
def test_vmap_negative_in_axes_count_from_the_end(axis):
    x = np.arange(6.0).reshape(2, 3)
    out = ft.vmap(lambda r: r * 10, in_axes=axis, out_axes=0)(x)
    np.testing.assert_array_equal(out, np.moveaxis(x, axis, 0) * 10)


@pytest.mark.parametrize("axis, min_rank", [(-3, 3), (2, 3), (5, 6)])
def test_vmap_in_axes_out_of_range(axis, min_rank):
    with pytest.raises(ValueError, match=rf"along axis {axis}, which implies that its rank "
                       rf"should be at least {min_rank}, but is only 2 \(its shape is "
                       r"\(2, 3\)\)"):
        ft.vmap(double, in_axes=axis)(np.ones((2, 3)))


def test_vmap_size_mismatch_names_the_argument():
    with pytest.raises(ValueError, match=r"args\[1\] of shape \(4,\) has size 4"):
        ft.vmap(lambda a, b: a + b)(np.ones(3), np.ones(4))


# ---------------------------------------------------------------- vmap: out_axes

@pytest.mark.parametrize("out_axes", [-3, -2, -1, 0, 1, 2])
def test_vmap_out_axes_in_range(out_axes):
    x = np.arange(24.0).reshape(2, 3, 4)  # per element: rank 2, so rank 3 with the batch
    out = ft.vmap(lambda r: r + 1, out_axes=out_axes)(x)
    np.testing.assert_array_equal(out, np.moveaxis(x + 1, 0, out_axes))


@pytest.mark.parametrize("out_axes", [3, 4, -4])
def test_vmap_out_axes_out_of_range_is_an_error_not_a_wrap_around(out_axes):
    x = np.ones((2, 3, 4))
    with pytest.raises(ValueError, match=rf"vmap of <lambda>: output has shape \(3, 4\) per "
                       rf"batch element, so with the batch axis its rank is 3, and "
                       rf"out_axes={out_axes} is out of range: it must be between -3 and 2"):
        ft.vmap(lambda r: r + 1, out_axes=out_axes)(x)


def test_vmap_out_axes_error_names_the_output_in_a_pytree():
    with pytest.raises(ValueError, match=r"output\[1\]\['b'\] has shape \(\) per batch "
                       r"element.*out_axes=1 is out of range"):
        ft.vmap(lambda r: (r, {"b": r.sum()}), out_axes=(0, {"b": 1}))(np.ones((2, 3)))


def test_vmap_out_axes_of_an_unbatched_output_are_checked_too():
    with pytest.raises(ValueError, match=r"out_axes=2 is out of range"):
        ft.vmap(lambda r: np.float64(1.0), out_axes=2)(np.ones(3))
    out = ft.vmap(lambda r: np.ones(2), out_axes=-1)(np.ones(3))
    np.testing.assert_array_equal(out, np.ones((2, 3)))


def test_vmap_out_axes_none_for_a_batched_output():
    with pytest.raises(ValueError, match=r"vmap of double: output has out_axes=None but "
                       r"depends on the mapped inputs"):
        ft.vmap(double, out_axes=None)(np.ones(3))


# ---------------------------------------------------------------- jvp tangents

def test_jvp_float_tangent_for_integer_primal():
    with pytest.raises(TypeError, match=r"jvp of double: primal and tangent arguments do "
                       r"not match; dtypes must be equal, or in case of int/bool primal "
                       r"dtype the tangent dtype must be float0. Got primal dtype int32 for "
                       r"primals\[0\] and so expected tangent dtype float0, but got tangent "
                       r"dtype float32 instead"):
        ft.jvp(double, (np.int32(3),), (np.float32(1.0),))


@pytest.mark.parametrize("primal", [3, np.arange(3), np.array([True, False])])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, bool])
def test_jvp_integer_and_bool_primals_need_float0_tangents(primal, dtype):
    tangent = np.ones(np.shape(primal), dtype)
    with pytest.raises(TypeError, match=r"expected tangent dtype float0.*functrans\.dtypes"
                       r"\.float0"):
        ft.jvp(lambda n: n, (primal,), (tangent,))


@pytest.mark.parametrize("tangent", [1.0, 0, True])
def test_jvp_python_scalar_tangent_for_an_integer_primal(tangent):
    with pytest.raises(TypeError, match=r"Got primal dtype int64 for primals\[0\] and so "
                       r"expected tangent dtype float0, but got tangent dtype \w+ \(weakly "
                       r"typed\) instead"):
        ft.jvp(double, (3,), (tangent,))


def test_jvp_float0_tangents_still_work():
    def f(x, n):
        return x * n, n

    (y, n), (ty, tn) = ft.jvp(f, (2.0, np.int32(3)), (1.0, np.zeros((), FLOAT0)))
    assert (y, n, ty) == (6.0, 3, 3.0)
    assert tn.dtype == FLOAT0


def test_jvp_float0_tangent_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"the tangent tangents\[0\] has shape \(2,\), but "
                       r"its primal has shape \(3,\)"):
        ft.jvp(lambda n: n, (np.arange(3),), (np.zeros(2, FLOAT0),))


def test_jvp_float0_tangent_for_a_float_primal():
    with pytest.raises(TypeError, match=r"expected tangent dtype float64, but got tangent "
                       r"dtype \[\('float0', 'V'\)\]"):
        ft.jvp(double, (np.float64(1.0),), (np.zeros((), FLOAT0),))


def test_jvp_names_the_argument_in_a_pytree():
    def f(p):
        return p["x"] * p["n"]

    with pytest.raises(TypeError, match=r"primals\[0\]\['n'\]"):
        ft.jvp(f, ({"x": 1.0, "n": 3},), ({"x": 1.0, "n": 1.0},))


def test_jvp_tangent_that_is_not_an_array():
    with pytest.raises(TypeError, match=r"jvp of double: the tangent tangents\[0\] is a str"):
        ft.jvp(double, (1.0,), ("one",))


def test_jvp_python_float_tangents_are_weakly_typed():
    y, t = ft.jvp(double, (np.float32(3.0),), (1.0,))
    assert t == 2.0 and t.dtype == np.float32
    y, t = ft.jvp(double, (np.float64(3.0),), (1.0,))
    assert t == 2.0 and t.dtype == np.float64
    y, t = ft.jvp(double, (np.complex64(3.0),), (1.0,))
    assert t == 2.0 and t.dtype == np.complex64


def test_jvp_tangent_dtypes_must_match_float_primals():
    with pytest.raises(TypeError, match=r"Got primal dtype float32 for primals\[0\] and so "
                       r"expected tangent dtype float32, but got tangent dtype float64 "
                       r"instead; cast the tangent with \.astype\(float32\)"):
        ft.jvp(double, (np.ones(2, np.float32),), (np.ones(2),))
    with pytest.raises(TypeError, match=r"complex128 \(weakly typed\)"):
        ft.jvp(double, (np.float32(1.0),), (1j,))  # would drop the imaginary part


def test_jvp_under_vmap_casts_weak_tangents():
    out = ft.vmap(lambda t: ft.jvp(double, (np.float32(3.0),), (t * 2.0,))[1])(
        np.ones(3, np.float32))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [4.0, 4.0, 4.0])


# ---------------------------------------------------------------- linearize tangents

def _message(call):
    with pytest.raises((TypeError, ValueError)) as info:
        call()
    return type(info.value), str(info.value)


def test_linearize_python_float_tangents():
    _, f_jvp = ft.linearize(double, np.float64(3.0))
    assert f_jvp(1.0) == 2.0
    _, f_jvp = ft.linearize(double, np.float32(3.0))
    t = f_jvp(1.0)
    assert t == 2.0 and t.dtype == np.float32
    _, f_jvp = ft.linearize(fnp.sin, 0.5)
    np.testing.assert_allclose(f_jvp(2.0), 2 * np.cos(0.5))


def test_linearize_python_float_tangent_for_an_integer_primal():
    _, f_jvp = ft.linearize(double, 3)
    kind, message = _message(lambda: f_jvp(1.0))
    assert kind is TypeError
    assert message.startswith("linearized double: primal and tangent arguments do not "
                              "match")
    assert "expected tangent dtype float0" in message
    assert "functrans.lax" not in message
    assert f_jvp(np.zeros((), FLOAT0)).dtype == FLOAT0


def test_linearize_tangent_of_another_shape_names_the_argument():
    _, f_jvp = ft.linearize(lambda a, b: a * b, 2.0, np.ones(3))
    with pytest.raises(ValueError, match=r"linearized <lambda>: the tangent tangents\[1\] "
                       r"has shape \(2,\), but its primal has shape \(3,\)"):
        f_jvp(1.0, np.ones(2))
    np.testing.assert_allclose(f_jvp(1.0, np.ones(3)), [3.0, 3.0, 3.0])


def test_linearize_tangent_dtype_mismatch():
    _, f_jvp = ft.linearize(double, np.ones(2, np.float32))
    with pytest.raises(TypeError, match=r"cast the tangent with \.astype\(float32\)"):
        f_jvp(np.ones(2))


@pytest.mark.parametrize("primals, tangents", [
    ((np.int32(3),), (np.float32(1.0),)),
    ((3,), (1.0,)),
    ((np.float32(1.0),), (np.ones(1, np.float32),)),
    ((np.float32(1.0),), (np.float64(1.0),)),
    ((np.arange(3),), (np.zeros(2, FLOAT0),)),
])
def test_jvp_and_linearize_check_tangents_alike(primals, tangents):
    jvp_kind, jvp_message = _message(lambda: ft.jvp(double, primals, tangents))
    _, f_jvp = ft.linearize(double, *primals)
    lin_kind, lin_message = _message(lambda: f_jvp(*tangents))
    assert jvp_kind is lin_kind
    assert jvp_message.removeprefix("jvp of double") == \
        lin_message.removeprefix("linearized double")


# ---------------------------------------------------------------- linear_transpose

A = np.arange(6.0).reshape(2, 3) / 7


def _linearity_error(function, *primals, primitive):
    pattern = rf"linear_transpose of .*: Linearity check failed.*'{primitive}'"
    with pytest.raises(TypeError, match=pattern):
        ft.linear_transpose(function, *primals)


@pytest.mark.parametrize("function, primitive", [
    (fnp.sin, "sin"),
    (lambda x: x * x, "mul"),
    (lambda x: 2.0 / x, "div"),
    (lambda x: x @ x, "dot_general"),
    (lambda x: fnp.where(x > 0, x, 0.0), "gt"),
    (lambda x: ft.nn.relu(x), "max"),
    (lambda x: x.astype(np.int32), "convert_element_type"),
    (lambda x: x ** 2, "integer_pow"),
])
def test_linear_transpose_rejects_non_linear_functions(function, primitive):
    _linearity_error(function, np.ones(3), primitive=primitive)


def test_linear_transpose_error_names_the_function_and_argument():
    def quadratic(x, y):
        return x + y * y

    with pytest.raises(TypeError, match=r"linear_transpose of quadratic: Linearity check "
                       r"failed: 'mul' multiplies two values that both depend on the "
                       r"arguments \(applied to a value computed from the argument "
                       r"args\[1\]\)"):
        ft.linear_transpose(quadratic, 1.0, 1.0)


def test_linear_transpose_rejects_using_an_integer_argument():
    _linearity_error(lambda x, n: x * n, np.ones(3), 3, primitive="convert_element_type")


@pytest.mark.parametrize("function", [
    lambda x: lax.cond(True, fnp.sin, lambda y: -y, x),
    lambda x: lax.scan(lambda c, xi: (c * xi, xi), 1.0, x),
    lambda x: ft.checkpoint(fnp.sin)(x),
    lambda x: ft.jit(lambda y: y * y)(x),
])
def test_linear_transpose_looks_inside_higher_order_primitives(function):
    with pytest.raises(TypeError, match=r"Linearity check failed"):
        ft.linear_transpose(function, np.ones(3))


def _check_transpose(function, x, ct, expected):
    (got,) = ft.linear_transpose(function, x)(ct)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_linear_transpose_of_linear_functions():
    x, ct2, ct3 = np.arange(3.0), np.array([1.0, -2.0]), np.array([1.0, 2.0, 4.0])
    _check_transpose(lambda v: A @ v, x, ct2, A.T @ ct2)
    _check_transpose(ft.jit(lambda v: A @ v), x, ct2, A.T @ ct2)
    _check_transpose(lambda v: v / 2.0 - v, x, ct3, -ct3 / 2)
    _check_transpose(lambda v: v * fnp.sin(2.0), x, ct3, ct3 * np.sin(2.0))
    _check_transpose(lambda v: fnp.cumsum(v[::-1]), x, ct3, np.cumsum(ct3[::-1]))
    _check_transpose(lambda v: lax.cond(True, lambda y: 2 * y, lambda y: -y, v), x, ct3,
                     2 * ct3)
    _check_transpose(lambda v: lax.fori_loop(0, 3, lambda i, c: c * 2, v), x, ct3, 8 * ct3)


def test_linear_transpose_of_a_scan():
    def running_sums(x):
        return lax.scan(lambda c, xi: (c + xi, 2 * xi), 0.0, x)

    (got,) = ft.linear_transpose(running_sums, np.zeros(3))((1.0, np.ones(3)))
    np.testing.assert_allclose(got, [3.0, 3.0, 3.0])


def test_linear_transpose_agrees_with_vjp(rng):
    B = rng.standard_normal((4, 3))

    def f(p):
        return {"u": B @ p["x"] + 3 * p["y"][:4], "v": fnp.sum(p["y"]) * 0.5}

    primal = {"x": rng.standard_normal(3), "y": rng.standard_normal(5)}
    ct = {"u": rng.standard_normal(4), "v": np.float64(rng.standard_normal())}
    (got,) = ft.linear_transpose(f, primal)(ct)
    _, f_vjp = ft.vjp(f, primal)
    (expected,) = f_vjp(ct)
    for key in got:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-12)


def test_linear_transpose_integer_arguments_pass_through():
    (ct_x, ct_n) = ft.linear_transpose(lambda x, n: (x * 2, n), np.ones(3), 3)(
        (np.ones(3), np.zeros((), FLOAT0)))
    np.testing.assert_array_equal(ct_x, [2.0, 2.0, 2.0])
    assert ct_n.dtype == FLOAT0


def test_linear_transpose_under_transformations():
    transposed = ft.linear_transpose(lambda v: A @ v, np.zeros(3))
    np.testing.assert_allclose(ft.vmap(transposed)(np.eye(2))[0], A)
    grad = ft.grad(lambda w: ft.linear_transpose(lambda x: w * x, 1.0)(1.0)[0])(3.0)
    assert grad == 1.0


def test_linear_transpose_results_are_the_callers():
    transposed = ft.linear_transpose(lambda v: v[::-1] * 2, np.zeros(3))
    first = transposed(np.ones(3))[0]
    first[0] = 100.0
    np.testing.assert_array_equal(transposed(np.ones(3))[0], [2.0, 2.0, 2.0])
    ct = np.ones(3)
    assert ft.linear_transpose(lambda v: v, np.zeros(3))(ct)[0] is not ct


def test_linear_transpose_checks_cotangents():
    transposed = ft.linear_transpose(double, np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"linear_transpose of double: cotangent 0 has "
                       r"shape \(4,\)"):
        transposed(np.ones(4, np.float32))
    with pytest.raises(TypeError, match=re.escape("cast it with .astype(float32)")):
        transposed(np.ones(3))
    with pytest.raises(TypeError, match=r"cotangent structure"):
        transposed((np.ones(3, np.float32),))
