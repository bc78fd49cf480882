"""A derivative is never silently dropped: converting a value being differentiated to a
Python number raises, as in JAX, instead of returning a number without its derivative."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import functrans as ft
import functrans.numpy as fnp


def micrograd_tanh(x: Any) -> Any:
    e = math.exp(2 * x)
    return (e - 1) / (e + 1)


@pytest.mark.parametrize("f", [
    lambda x: float(x) * x,
    lambda x: x.item() * x,
    lambda x: fnp.sum(x).item(),
    lambda x: math.exp(x),
    lambda x: math.tanh(x),
    micrograd_tanh,
    lambda x: complex(x).real * x,
    lambda x: x.tolist() * x,
], ids=["float", "item", "sum-item", "math.exp", "math.tanh", "micrograd-tanh", "complex",
        "tolist"])
@pytest.mark.parametrize("transform", [ft.grad, lambda f: ft.jit(ft.grad(f)),
                                       lambda f: lambda x: ft.jvp(f, (x,), (1.0,))],
                         ids=["grad", "jit-grad", "jvp"])
def test_python_number_of_a_differentiated_value_raises(
        f: Callable[..., Any], transform: Callable[..., Any]) -> None:
    with pytest.raises(ft.ConcretizationTypeError):
        transform(f)(2.0)


def test_numpy_scalar_constructor_raises() -> None:
    with pytest.raises(TypeError):  # TracerArrayConversionError: NumPy converts first
        ft.grad(lambda x: np.float64(x) * x)(2.0)


def test_integer_values_still_convert_where_known() -> None:
    assert ft.grad(lambda x: x * int((x > 0).sum()))(2.0) == 1.0
    assert ft.grad(lambda x: x * 2 if x > 0 else -x)(2.0) == 2.0


def test_leaked_tracer_conversion_says_unexpected_tracer() -> None:
    leaked = []
    ft.jit(lambda x: leaked.append(x) or x)(1.0)
    for convert in (float, int, bool):
        with pytest.raises(ft.UnexpectedTracerError):
            convert(leaked[0])
