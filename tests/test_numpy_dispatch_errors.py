"""What plain NumPy does with traced arrays.

NumPy arrays and scalars on the left of an operator still compute with the
tracer (``np_array * x``); a NumPy ufunc called on a tracer (``np.sin(x)``)
raises TracerArrayConversionError naming the ``functrans.numpy`` function to
use; formatting a tracer with a format spec needs its concrete value.
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


def test_numpy_ufunc_names_the_functrans_function():
    message = _error_of(lambda x: np.sin(x), X)
    assert "numpy.sin was called on a traced value" in message
    assert "functrans.numpy.sin" in message


def test_numpy_ufunc_error_is_a_type_error():
    with pytest.raises(TypeError, match="functrans.numpy.exp"):
        ft.grad(lambda x: np.exp(x))(1.0)


def test_operator_ufunc_called_with_keywords_raises():
    message = _error_of(lambda x: np.add(np.ones(3), x, dtype=np.float32), X)
    assert "numpy.add" in message and "functrans.numpy.add" in message


def test_numpy_ufunc_without_a_counterpart_says_so():
    message = _error_of(lambda x: np.spacing(x), X)
    assert "numpy.spacing" in message
    assert "no counterpart" in message


def test_numpy_ufunc_method_raises():
    message = _error_of(lambda x: np.add.reduce(x), X)
    assert "numpy.add.reduce" in message
    assert "sum" in message


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
