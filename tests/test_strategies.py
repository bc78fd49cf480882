"""``functrans.test_util.strategies``: each strategy draws what it promises, and
``check_transformations`` passes correct functions and catches a planted wrong
derivative rule with a shrunk counterexample."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import Phase, find, given, settings

import functrans as ft
import functrans.numpy as fnp
from functrans.test_util import strategies as fst

FEW = settings(max_examples=10, deadline=None)


# ------------------------------------------------------------------ domains

@FEW
@given(fst.arrays((2, 3), np.float32, min_value=-1.5, max_value=0.1, avoid=(0.0, -1.0),
                  margin=0.25))
def test_arrays_respect_shape_dtype_range_and_kinks(x):
    assert x.shape == (2, 3) and x.dtype == np.float32
    assert np.all(x >= -1.5) and np.all(x <= np.float32(0.1))
    assert np.all(np.abs(x) >= 0.25) and np.all(np.abs(x + 1) >= 0.25)


@FEW
@given(fst.arrays(fst.shapes(min_dims=1, max_dims=2), fst.float_dtypes()))
def test_array_shapes_and_dtypes_may_be_drawn(x):
    assert 1 <= x.ndim <= 2 and all(1 <= n <= 4 for n in x.shape)
    assert x.dtype in (np.float32, np.float64) and np.all(np.isfinite(x))


@FEW
@given(fst.arrays(3, np.complex64), fst.arrays(4, np.int32, min_value=-2, max_value=2),
       fst.positive_arrays((2, 2), np.float32))
def test_complex_integer_and_positive_arrays(z, n, p):
    assert z.dtype == np.complex64 and np.all(np.abs(z.real) <= 3)
    assert n.dtype == np.int32 and np.all(np.abs(n) <= 2)
    assert p.dtype == np.float32 and np.all(p >= np.float32(0.1))


@FEW
@given(fst.pytrees({"W": np.zeros((2, 3), np.float32), "b": fst.positive_arrays(2),
                    "spec": ft.ShapeDtypeStruct((4,), np.float64)}))
def test_pytrees_follow_the_template(tree):
    assert sorted(tree) == ["W", "b", "spec"]
    assert tree["W"].shape == (2, 3) and tree["W"].dtype == np.float32
    assert np.all(tree["b"] >= 0.1) and tree["spec"].shape == (4,)


@FEW
@given(fst.spd_matrices(4, min_eigenvalue=0.5, max_entry=1.0))
def test_spd_matrices(a):
    assert np.array_equal(a, a.T)
    eigenvalues = np.linalg.eigvalsh(a)
    assert eigenvalues.min() >= 0.5 - 1e-12 and eigenvalues.max() <= 0.5 + 16 + 1e-12


@FEW
@given(fst.orthogonal_matrices(4, np.float32), fst.orthogonal_matrices(1))
def test_orthogonal_matrices(q, one):
    assert q.dtype == np.float32
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-6)
    assert abs(one[0, 0]) == 1.0


@FEW
@given(fst.well_conditioned_matrices(4, 2, condition=5.0))
def test_well_conditioned_matrices(a):
    s = np.linalg.svd(a, compute_uv=False)
    assert a.shape == (4, 2) and s.min() >= 1 - 1e-12 and s.max() <= 5 + 1e-12


@FEW
@given(fst.simplex(5, np.float32, min_weight=0.1), fst.unit_vectors(3))
def test_simplex_and_unit_vectors(p, u):
    assert p.dtype == np.float32 and abs(p.sum() - 1) < 1e-6 and np.all(p >= 0.1 / 5 - 1e-7)
    assert abs(np.linalg.norm(u) - 1) < 1e-12


def simplest(strategy):
    """The example Hypothesis shrinks `strategy` to."""
    return find(strategy, lambda _: True, settings=settings(
        database=None, max_examples=1, phases=[Phase.generate, Phase.shrink]))


def test_strategies_shrink_to_simple_examples():
    assert np.array_equal(simplest(fst.spd_matrices(2)), 0.5 * np.eye(2))
    assert np.array_equal(simplest(fst.orthogonal_matrices(3)), np.eye(3))
    assert np.array_equal(simplest(fst.well_conditioned_matrices(2)), np.eye(2))
    assert np.array_equal(simplest(fst.simplex(4)), np.full(4, 0.25))
    assert np.array_equal(simplest(fst.unit_vectors(3)), [1.0, 0.0, 0.0])
    away = simplest(fst.arrays(3, avoid=(0.0,), margin=0.5))   # a simple number, not 0
    assert np.all(np.abs(away) >= 0.5) and np.array_equal(away, np.round(away))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="spd_matrices: the size must be a positive int"):
        fst.spd_matrices(0)
    with pytest.raises(ValueError, match="arrays: need finite min_value <= max_value"):
        fst.arrays(3, min_value=2.0, max_value=1.0)
    with pytest.raises(ValueError, match="positive_arrays: min_value must be > 0"):
        fst.positive_arrays(3, min_value=0.0)
    with pytest.raises(ValueError, match=r"no value lies in \[-0.1, 0.1\] at least 0.2 "
                                         r"away from \[0.0\]"):
        fst.arrays(3, min_value=-0.1, max_value=0.1, avoid=(0.0,), margin=0.2)
    with pytest.raises(TypeError, match="dtype must be a NumPy dtype"):
        fst.arrays(3, dtype="not a dtype")
    with pytest.raises(TypeError, match="a leaf of the template must be a strategy"):
        fst.pytrees({"x": "text"})
    with pytest.raises(ValueError, match="checks must be a sequence of names"):
        fst.check_transformations(fnp.sin, fst.arrays(3), checks=("grad",))
    with pytest.raises(TypeError, match="one Hypothesis strategy per argument"):
        fst.check_transformations(fnp.sin, np.ones(3))


def test_a_clear_message_without_hypothesis():
    code = ("import sys; sys.modules['hypothesis'] = None\n"
            "import functrans.test_util as tu; assert tu.check_grads\n"
            "import functrans.test_util.strategies")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "functrans.test_util.strategies needs Hypothesis" in done.stderr
    assert "pip install hypothesis" in done.stderr


# ------------------------------------------------------------------ the property check

def logdet(a):
    return fnp.linalg.slogdet(a)[1]


def test_a_users_spd_gradient_test_in_a_few_lines():
    """The docs' example: a gradient test of a function of an SPD matrix."""
    fst.check_transformations(logdet, fst.spd_matrices(3), max_examples=10)


@ft.custom_jvp
def logdet_wrong_rule(a):
    return fnp.linalg.slogdet(a)[1]


@logdet_wrong_rule.defjvp
def _logdet_diagonal_only_jvp(primals, tangents):
    """Planted bug: d log det A = tr(A⁻¹ dA), but this uses diag(A)⁻¹, which is right
    only for diagonal A."""
    (a,), (a_dot,) = primals, tangents
    return logdet_wrong_rule(a), fnp.sum(fnp.diagonal(a_dot) / fnp.diagonal(a))


def test_a_planted_wrong_rule_is_found_with_a_shrunk_counterexample():
    with pytest.raises(AssertionError) as failure:
        fst.check_transformations(logdet_wrong_rule, fst.spd_matrices(3), max_examples=20)
    message = str(failure.value)
    assert message.startswith("check_transformations of logdet_wrong_rule: the 'jvp' check "
                              "fails.\nCounterexample, shrunk by Hypothesis:\n  argument 0 = ")
    assert "tangent output vs central finite difference" in message
    counterexample = eval(message.split("argument 0 = ", 1)[1].split("\n\n")[0],
                          {"array": np.array})
    # the planted rule is right for diagonal matrices, so the counterexample is not one;
    # shrunk, it is B Bᵀ + I/2 with B of small integers: half-integers, never drawn at
    # random
    assert np.count_nonzero(counterexample - np.diag(np.diagonal(counterexample))) > 0
    assert np.array_equal(2 * counterexample, np.round(2 * counterexample))
    logdet_wrong_rule(counterexample)  # a valid input: the failure is the rule's


def test_float32_check_catches_a_float64_constant():
    weights = np.array([1.0, 2.0])                 # float64

    def weighted(x):
        return fnp.sum(weights * fnp.sin(x))

    with pytest.raises(AssertionError, match="float32 in, float64 out: with every argument "
                                             "cast to float32, f's output has dtype float64"):
        fst.check_transformations(weighted, fst.arrays(2), max_examples=5)
    fst.check_transformations(weighted, fst.arrays(2), max_examples=5,
                              checks=("jvp", "vjp", "jit", "vmap"))


def test_errors_raised_by_the_function_are_reported_with_the_example():
    def as_square(x):
        return fnp.reshape(x, (2, 2)) * 2.0        # only for arrays of 4 elements

    with pytest.raises(AssertionError, match=r"(?s)the 'jvp' check fails.*argument 0 = "
                                             r"array\(\[?0\.\]?\)\n.*Error: .*reshape"):
        fst.check_transformations(as_square, fst.arrays(fst.shapes()), max_examples=25)
