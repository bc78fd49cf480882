"""What plain NumPy does with traced arrays.

NumPy arrays and scalars on the left of an operator still compute with the
tracer (``np_array * x``); what NumPy cannot do on a tracer (a ufunc or function
functrans has no counterpart of, writing into an array) raises
TracerArrayConversionError naming the NumPy function and what to use instead;
formatting a tracer with a format spec needs its concrete value. What NumPy's
functions compute on tracers is tested in test_numpy_dispatch.py.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import functrans as ft
import functrans.numpy as fnp

X = np.array([0.5, -1.0, 2.0])
ONES = np.ones(3)

# (NumPy operand on the left, operator): each goes through a NumPy ufunc that
# reaches the tracer's __array_ufunc__
LEFT_OPERANDS = {
    "array_mul": (ONES * 3.0, operator.mul),
    "float64_mul": (np.float64(2.0), operator.mul),
    "float32_add": (np.float32(1.5), operator.add),
    "array_sub": (ONES, operator.sub),
    "array_truediv": (ONES * 4.0, operator.truediv),
    "array_floordiv": (ONES * 4.0, operator.floordiv),
    "array_mod": (ONES * 4.0, operator.mod),
    "array_pow": (ONES * 2.0, operator.pow),
    "array_matmul": (np.arange(3.0), operator.matmul),
    "array_lt": (ONES, operator.lt),
    "array_le": (ONES, operator.le),
    "array_gt": (ONES, operator.gt),
    "array_ge": (ONES, operator.ge),
    "array_eq": (np.array([0.5, 0.0, 0.0]), operator.eq),
    "array_ne": (np.array([0.5, 0.0, 0.0]), operator.ne),
}


@pytest.mark.parametrize("name", list(LEFT_OPERANDS))
def test_numpy_on_the_left_of_an_operator_computes(name):
    left, op = LEFT_OPERANDS[name]
    expected = op(left, X)
    assert_array_equal(ft.jit(lambda x: op(left, x))(X), expected)
    batch = np.stack([X, X[::-1]])
    assert_array_equal(ft.vmap(lambda x: op(left, x))(batch),
                       np.stack([op(left, row) for row in batch]))


def test_numpy_on_the_left_differentiates():
    assert_allclose(ft.grad(lambda x: fnp.sum(np.ones(3) * x))(X), np.ones(3))
    assert_allclose(ft.grad(lambda x: fnp.sum(np.float64(2.0) * x))(X), np.full(3, 2.0))
    assert_allclose(ft.grad(lambda x: np.arange(3.0) @ x)(X), np.arange(3.0))
    assert_allclose(ft.grad(lambda x: fnp.sum(np.ones(3) - x))(X), -np.ones(3))
    assert_allclose(ft.grad(lambda x: fnp.sum(np.full(3, 2.0) / x))(X), -2.0 / X**2)


def test_numpy_on_the_left_with_divmod_and_bitwise():
    ints = np.array([5, 6, 7])
    quotient, remainder = ft.jit(lambda x: divmod(np.full(3, 17), x))(ints)
    assert_array_equal(quotient, 17 // ints)
    assert_array_equal(remainder, 17 % ints)
    assert_array_equal(ft.jit(lambda x: np.full(3, 3) & x)(ints), 3 & ints)
    assert_array_equal(ft.jit(lambda x: np.full(3, 3) | x)(ints), 3 | ints)
    assert_array_equal(ft.jit(lambda x: np.full(3, 3) ^ x)(ints), 3 ^ ints)


def test_numpy_comparison_gives_a_traced_bool():
    out = ft.jit(lambda x: fnp.where(np.ones(3) < x, x, 0.0))(X)
    assert_array_equal(out, np.where(1.0 < X, X, 0.0))


def _error_of(fn, *args):
    with pytest.raises(ft.TracerArrayConversionError) as info:
        ft.jit(fn)(*args)
    return str(info.value)


def test_numpy_ufunc_without_a_counterpart_names_it():
    message = _error_of(lambda x: np.spacing(x), X)
    assert "numpy.spacing was called on a traced value" in message
    assert "no counterpart" in message


def test_numpy_ufunc_error_is_a_type_error():
    with pytest.raises(TypeError, match="numpy.spacing"):
        ft.grad(lambda x: np.spacing(x))(1.0)


def test_ufunc_keyword_without_a_functrans_meaning_raises():
    message = _error_of(lambda x: np.add(np.ones(3), x, where=x > 0), X)
    assert "numpy.add" in message and "where=" in message
    assert "functrans.numpy.where(mask, result, other)" in message


def test_numpy_ufunc_method_without_a_counterpart_raises():
    message = _error_of(lambda x: np.logaddexp.reduce(x), X)
    assert "numpy.logaddexp.reduce" in message
    assert "add.reduce" in message  # the methods that do work are listed


def test_ufunc_at_names_the_functional_update():
    message = _error_of(lambda x: np.add.at(x, [0, 0], 1.0), X)
    assert "numpy.add.at" in message and "in place" in message
    assert "a.at[indices].add(b)" in message
    message = _error_of(lambda x: np.maximum.at(np.zeros(3), [0], x[0]), X)
    assert "a.at[indices].max(b)" in message


def test_numpy_function_without_a_counterpart_names_an_alternative():
    message = _error_of(lambda x: np.rollaxis(x, 0), X)
    assert "numpy.rollaxis was called on a traced value" in message
    assert "functrans.numpy.moveaxis" in message
    message = _error_of(lambda x: np.spacing(x), X)
    assert "numpy.spacing" in message and "no counterpart" in message


def test_numpy_function_writing_into_an_array_raises():
    message = _error_of(lambda x: np.copyto(np.zeros(3), x), X)
    assert "numpy.copyto" in message and "fnp.where(mask, src, dst)" in message
    message = _error_of(lambda x: np.dot(x, x, out=np.zeros(())), X)
    assert "numpy.dot" in message and "write into an existing array" in message
    message = _error_of(lambda x: np.multiply(x, 2.0, out=np.zeros(3)), X)
    assert "numpy.multiply was called with out=" in message and ".at[idx]" in message


def test_numpy_function_arguments_functrans_does_not_take():
    message = _error_of(lambda x: np.reshape(x, (3, 1), copy=True), X)
    assert "numpy.reshape" in message and "functrans.numpy.reshape" in message
    assert "copy" in message  # the argument, and the signature that would work


def test_in_place_operator_on_a_numpy_array_raises():
    def f(x):
        total = np.zeros(3)
        total += x
        return total

    message = _error_of(f, X)
    assert "numpy.add" in message
    assert "a = a + x" in message


def test_format_without_a_spec_shows_the_tracer():
    shown = []
    ft.jit(lambda x: shown.append((f"{x}", format(x), str(x))) or x)(1.0)
    ((text, formatted, as_str),) = shown
    assert text == formatted == as_str
    assert text.startswith("Traced<")


def test_format_with_a_spec_needs_a_concrete_value():
    with pytest.raises(ft.ConcretizationTypeError, match="format spec '.3f'"):
        ft.jit(lambda x: f"{x:.3f}")(1.0)


def test_format_with_a_spec_uses_the_concrete_value():
    shown = []

    def f(x):
        shown.append(f"{x:.3f}|{format(x * 2.0, '>8.2f')}")
        return x * x

    ft.grad(f)(1.25)
    assert shown == ["1.250|    2.50"]


def test_building_an_array_from_tracers_raises():
    # np.array/np.asarray and the index tricks built on them (np.r_, np.c_) convert
    # their arguments instead of dispatching; np.stack and np.concatenate dispatch
    for build in (lambda x: np.array([x, x]), lambda x: np.asarray(x),
                  lambda x: np.r_[x, 1.0], lambda x: np.c_[x, x],
                  lambda x: np.sum([x, x]), lambda x: np.eye(3).dot(x)):
        with pytest.raises(ft.TracerArrayConversionError, match="converted to a NumPy array"):
            ft.jit(build)(X)
    assert_array_equal(ft.jit(lambda x: np.concatenate([x, [1.0]]))(X), np.r_[X, 1.0])
    assert_array_equal(ft.jit(lambda x: np.column_stack([x, x]))(X), np.c_[X, X])
