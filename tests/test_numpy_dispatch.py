"""NumPy's own functions on traced arrays: ``np.sin(x)``, ``np.add.reduce(x)``,
``np.dot(w, x)``, ``np.linalg.norm(x)`` compute through functrans.numpy under every
transformation (NEP 13 ``__array_ufunc__`` and NEP 18 ``__array_function__``).

Every ufunc the dispatch table routes is checked against NumPy's own value (under
``jit``) and against the functrans.numpy function's derivative (under ``jvp``); the
programs of the issue run under grad, jvp, vmap and jit next to their ``fnp``
spelling. What cannot be computed is in test_numpy_dispatch_errors.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import functrans as ft
import functrans.numpy as fnp
from functrans.numpy import _dispatch

X = np.array([0.2, 0.5, 0.7])
M = np.array([[0.3, -1.2, 0.5], [0.8, 0.1, -0.4]])


# ------------------------------------------------------------------ every routed ufunc

# one sample per input type code NumPy's loops use: values inside every domain
# (arccos, arctanh, log), integers and booleans for the bitwise functions
_SAMPLES = {"d": np.array([0.2, 0.5, 0.7]), "q": np.array([1, 2, 6]),
            "l": np.array([1, 2, 6]), "?": np.array([True, False, True])}


_DOMAIN_SHIFT = {"arccosh": 1.0}  # the one function not defined on (0, 1)


def _sample_inputs(ufunc: np.ufunc) -> list[np.ndarray] | None:
    """Operands for `ufunc` from its first loop with double/int64/bool inputs."""
    shift = _DOMAIN_SHIFT.get(ufunc.__name__, 0.0)
    for loop in sorted(ufunc.types, key=lambda t: "d" not in t.split("->")[0]):
        codes = loop.split("->")[0]
        if all(c in _SAMPLES for c in codes):
            return [_SAMPLES[c] + (i if c in "ql" else shift if c == "d" else 0)
                    for i, c in enumerate(codes)]
    return None


ROUTED = [u for u in _dispatch.numpy_ufuncs() if _dispatch.ufunc_target(u) is not None]


def test_most_of_numpys_ufuncs_are_routed():
    assert len(ROUTED) >= 75
    assert {"sin", "exp", "maximum", "logaddexp", "isnan", "matmul", "divmod", "frexp"} <= {
        u.__name__ for u in ROUTED}


@pytest.mark.parametrize("ufunc", ROUTED, ids=lambda u: u.__name__)
def test_routed_ufunc_computes_numpys_value(ufunc):
    inputs = _sample_inputs(ufunc)
    assert inputs is not None, ufunc.types
    with np.errstate(all="raise"):  # every sample inside the domain
        expected = ufunc(*inputs)
    got = ft.jit(lambda *args: ufunc(*args))(*inputs)
    for g, e in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, expected))):
        assert np.asarray(g).dtype == np.asarray(e).dtype
        assert_allclose(g, e, rtol=1e-12, equal_nan=True)


FLOAT_ROUTED = [u for u in ROUTED if (_sample_inputs(u) or [np.zeros(1, int)])[0].dtype.kind == "f"
                and u.nout == 1 and "d" * u.nin + "->d" in u.types]


@pytest.mark.parametrize("ufunc", FLOAT_ROUTED, ids=lambda u: u.__name__)
def test_routed_ufunc_differentiates_as_functrans_numpy(ufunc):
    inputs = _sample_inputs(ufunc)
    tangents = [np.linspace(0.5, 1.5, 3)] * len(inputs)
    fnp_fn = getattr(fnp, ufunc.__name__)
    primal, tangent = ft.jvp(lambda *a: ufunc(*a), inputs, tangents)
    fnp_primal, fnp_tangent = ft.jvp(fnp_fn, inputs, tangents)
    assert_array_equal(primal, fnp_primal)
    assert_array_equal(tangent, fnp_tangent)


def test_ufunc_dtype_keyword_computes_in_that_dtype():
    out = ft.jit(lambda x: np.add(x, np.ones(3), dtype=np.float32))(X)
    assert out.dtype == np.float32
    assert_allclose(out, (X + 1).astype(np.float32))
    grad = ft.grad(lambda x: fnp.sum(np.multiply(x, x, dtype=np.float32)))(X.astype(np.float32))
    assert grad.dtype == np.float32
    assert_allclose(grad, 2 * X, rtol=1e-6)


def test_float32_stays_float32_through_numpy_functions():
    x32 = X.astype(np.float32)
    grad = ft.grad(lambda x: np.sum(np.exp(x) * np.tanh(x)))(x32)
    assert grad.dtype == np.float32
    assert_allclose(grad, np.exp(X) * (np.tanh(X) + 1 - np.tanh(X) ** 2), rtol=1e-6)


# ------------------------------------------------------------------ ufunc methods

REDUCE_CASES = {
    "default axis 0": {}, "axis 1": {"axis": 1}, "all axes": {"axis": None},
    "keepdims": {"axis": 1, "keepdims": True}, "negative axis": {"axis": -1},
}


@pytest.mark.parametrize("name", list(_dispatch.REDUCTIONS))
@pytest.mark.parametrize("case", list(REDUCE_CASES))
def test_reduce_matches_numpy(name, case):
    ufunc = getattr(np, name)
    a = M > 0 if name.startswith("logical") else M
    kwargs = REDUCE_CASES[case]
    expected = ufunc.reduce(a, **kwargs)
    got = ft.jit(lambda a: ufunc.reduce(a, **kwargs))(a)
    assert np.asarray(got).dtype == np.asarray(expected).dtype
    assert_allclose(got, expected, rtol=1e-12)


def test_reduce_keywords_initial_where_dtype():
    where = np.array([[True, False, True], [False, True, True]])
    for kwargs in ({"initial": 10.0}, {"where": where, "initial": 0.0}, {"dtype": np.float32}):
        for ufunc in (np.add, np.multiply, np.maximum):
            if ufunc is np.maximum and "initial" not in kwargs and "where" not in kwargs:
                kwargs = {**kwargs, "axis": 1}
            expected = ufunc.reduce(M, **kwargs)
            got = ft.jit(lambda a, u=ufunc, k=kwargs: u.reduce(a, **k))(M)
            assert np.asarray(got).dtype == np.asarray(expected).dtype, (ufunc, kwargs)
            assert_allclose(got, expected, rtol=1e-6)


def test_reduce_differentiates_as_the_reduction():
    for name, reduction in (("add", fnp.sum), ("multiply", fnp.prod), ("maximum", fnp.max)):
        ufunc = getattr(np, name)
        g = ft.grad(lambda a, u=ufunc: fnp.sum(u.reduce(a, axis=1) ** 2))(M)
        expected = ft.grad(lambda a, r=reduction: fnp.sum(r(a, axis=1) ** 2))(M)
        assert_allclose(g, expected, rtol=1e-12)


@pytest.mark.parametrize("name", list(_dispatch.ACCUMULATIONS))
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_accumulate_matches_numpy_and_vmaps(name, axis):
    ufunc = getattr(np, name)
    expected = ufunc.accumulate(M, axis=axis)
    assert_allclose(ft.jit(lambda a: ufunc.accumulate(a, axis=axis))(M), expected, rtol=1e-12)
    rows = ft.vmap(lambda row: ufunc.accumulate(row))(M)
    assert_allclose(rows, ufunc.accumulate(M, axis=1), rtol=1e-12)


def test_accumulate_differentiates():
    # d/dx of cumsum's total is the number of partial sums each x_i is in
    assert_allclose(ft.grad(lambda x: np.sum(np.add.accumulate(x)))(X), [3.0, 2.0, 1.0])
    grad = ft.grad(lambda x: np.sum(np.maximum.accumulate(x)))(np.array([0.5, 0.2, 0.9]))
    assert_allclose(grad, [2.0, 0.0, 1.0])
    assert ft.jit(lambda x: np.add.accumulate(x, dtype=np.float32))(X).dtype == np.float32


def test_outer_broadcasts_every_axis_of_the_second_operand():
    for ufunc in (np.multiply, np.subtract, np.maximum, np.arctan2):
        expected = ufunc.outer(M, X)
        assert_allclose(ft.jit(lambda a, b, u=ufunc: u.outer(a, b))(M, X), expected)
        assert_allclose(ft.jit(lambda b, u=ufunc: u.outer(M, b))(X), expected)
    g = ft.grad(lambda x: np.sum(np.multiply.outer(x, x)))(X)
    assert_allclose(g, 2 * np.sum(X) * np.ones(3))


def test_reduceat_matches_numpy():
    a = np.arange(8.0).reshape(2, 4) + 1
    for indices in ([0, 2], [0, 3, 1], [1]):
        for ufunc in (np.add, np.maximum, np.multiply):
            expected = ufunc.reduceat(a, indices, axis=1)
            got = ft.jit(lambda a, u=ufunc, i=indices: u.reduceat(a, i, axis=1))(a)
            assert_allclose(got, expected)
    assert_allclose(ft.grad(lambda x: np.sum(np.add.reduceat(x, [0, 2]) ** 2))(X),
                    2 * np.array([X[0] + X[1], X[0] + X[1], X[2]]))


def test_reduceat_rejects_indices_out_of_range():
    with pytest.raises(IndexError, match=r"numpy.add.reduceat.*\[0, 3\)"):
        ft.jit(lambda x: np.add.reduceat(x, [0, 5]))(X)


# ------------------------------------------------------------------ the programs

def _mlp_np(x: Any) -> Any:
    w1 = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    w2 = np.linspace(0.5, -0.5, 4)
    return np.sum(np.tanh(np.tanh(x @ w1) @ w2))


def _mlp_fnp(x: Any) -> Any:
    w1 = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    w2 = np.linspace(0.5, -0.5, 4)
    return fnp.sum(fnp.tanh(fnp.tanh(x @ w1) @ w2))


A = np.array([[1.0, 0.5, -0.3], [0.2, -0.7, 1.1], [0.4, 0.0, 0.9]])

PROGRAMS: dict[str, tuple[Callable[..., Any], Callable[..., Any]]] = {
    "sin exp sum": (lambda x: np.sum(np.sin(x) * np.exp(x)),
                    lambda x: fnp.sum(fnp.sin(x) * fnp.exp(x))),
    "dot": (lambda x: np.dot(A @ x, x), lambda x: fnp.dot(A @ x, x)),
    "matmul": (lambda x: np.sum(np.matmul(A, x) ** 2), lambda x: fnp.sum(fnp.matmul(A, x) ** 2)),
    "ndarray @ tracer": (lambda x: np.sum(np.sin(A @ x)), lambda x: fnp.sum(fnp.sin(A @ x))),
    "tracer @ ndarray": (lambda x: np.sum(np.cos(x @ A)), lambda x: fnp.sum(fnp.cos(x @ A))),
    "where": (lambda x: np.sum(np.where(x > 0.4, x**2, -x)),
              lambda x: fnp.sum(fnp.where(x > 0.4, x**2, -x))),
    "maximum": (lambda x: np.sum(np.maximum(x, 0.45) * x),
                lambda x: fnp.sum(fnp.maximum(x, 0.45) * x)),
    "concatenate": (lambda x: np.sum(np.concatenate([x, np.ones(2), x[:1]]) ** 3),
                    lambda x: fnp.sum(fnp.concatenate([x, np.ones(2), x[:1]]) ** 3)),
    "linalg.norm": (lambda x: np.linalg.norm(A @ x), lambda x: fnp.linalg.norm(A @ x)),
    "tanh MLP": (_mlp_np, _mlp_fnp),
    "mean clip einsum": (lambda x: np.mean(np.clip(np.einsum("ij,j->i", A, x), -0.5, 0.5)),
                         lambda x: fnp.mean(fnp.clip(fnp.einsum("ij,j->i", A, x), -0.5, 0.5))),
    "stack reshape transpose": (
        lambda x: np.sum(np.transpose(np.reshape(np.stack([x, 2 * x]), (3, 2))) @ x),
        lambda x: fnp.sum(fnp.transpose(fnp.reshape(fnp.stack([x, 2 * x]), (3, 2))) @ x)),
}

TRANSFORMS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "grad": ft.grad,
    "jvp": lambda f: lambda x: ft.jvp(f, (x,), (np.array([1.0, -0.5, 0.25]),)),
    "vmap": lambda f: lambda x: ft.vmap(f)(np.stack([x, 0.5 * x, -x])),
    "jit": ft.jit,
    "jit of grad": lambda f: ft.jit(ft.grad(f)),
    "vmap of grad": lambda f: lambda x: ft.vmap(ft.grad(f))(np.stack([x, x[::-1]])),
}


@pytest.mark.parametrize("transform", list(TRANSFORMS))
@pytest.mark.parametrize("program", list(PROGRAMS))
def test_numpy_program_agrees_with_functrans_numpy(program, transform):
    np_version, fnp_version = PROGRAMS[program]
    make = TRANSFORMS[transform]
    got, expected = make(np_version)(X), make(fnp_version)(X)
    for g, e in zip(*(r if isinstance(r, tuple) else (r,) for r in (got, expected))):
        assert_allclose(g, e, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_numpy_program_still_runs_on_numpy_arrays(program):
    np_version, fnp_version = PROGRAMS[program]
    assert_allclose(np_version(X), fnp_version(X), rtol=1e-12)


def test_matmul_with_numpy_on_either_side_under_grad():
    w = np.array([1.0, -2.0, 0.5])
    assert_allclose(ft.grad(lambda x: np.sum(A @ x))(X), A.sum(axis=0))
    assert_allclose(ft.grad(lambda x: np.sum(x @ A))(X), A.sum(axis=1))
    assert_allclose(ft.grad(lambda x: np.matmul(w, np.matmul(A, x)))(X), w @ A)
    assert_allclose(ft.grad(lambda x: np.dot(np.dot(x, A), w))(X), A @ w)


# ------------------------------------------------------------------ __array_function__

FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "sum": lambda x: np.sum(x, axis=0), "mean": lambda x: np.mean(x, axis=1, keepdims=True),
    "prod": lambda x: np.prod(x), "std": lambda x: np.std(x, ddof=1),
    "var": lambda x: np.var(x, axis=0), "max": lambda x: np.max(x, axis=1),
    "amin": lambda x: np.amin(x), "cumsum": lambda x: np.cumsum(x, axis=1),
    "concatenate": lambda x: np.concatenate([x, np.ones((1, 3))], axis=0),
    "stack": lambda x: np.stack([x, x * 2], axis=-1), "hstack": lambda x: np.hstack([x, x]),
    "where": lambda x: np.where(x > 0, x, 0.0), "reshape": lambda x: np.reshape(x, (3, 2)),
    "transpose": lambda x: np.transpose(x), "swapaxes": lambda x: np.swapaxes(x, 0, 1),
    "clip": lambda x: np.clip(x, -0.5, 0.5), "einsum": lambda x: np.einsum("ij,kj->ik", x, x),
    "dot": lambda x: np.dot(x, x.T), "tensordot": lambda x: np.tensordot(x, x, axes=2),
    "outer": lambda x: np.outer(x[0], x[1]), "trace": lambda x: np.trace(x @ x.T),
    "diag": lambda x: np.diag(x[0]), "tile": lambda x: np.tile(x, (2, 1)),
    "roll": lambda x: np.roll(x, 1, axis=1), "flip": lambda x: np.flip(x),
    "expand_dims": lambda x: np.expand_dims(x, 1), "squeeze": lambda x: np.squeeze(x[None]),
    "round": lambda x: np.round(x, 1), "sort": lambda x: np.sort(x, axis=1),
    "diff": lambda x: np.diff(x, axis=1), "pad": lambda x: np.pad(x, 1),
    "take": lambda x: np.take(x, [2, 0], axis=1), "triu": lambda x: np.triu(x),
    "linalg.matmul": lambda x: np.linalg.matmul(x, x.T),
    "zeros_like": lambda x: x + np.zeros_like(x), "full_like": lambda x: x * np.full_like(x, 2),
    "shape": lambda x: x * np.shape(x)[0], "ndim": lambda x: x * np.ndim(x),
    "astype": lambda x: np.astype(x, np.float32),
}


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_numpy_function_on_a_tracer_matches_numpy(name):
    fn = FUNCTIONS[name]
    expected = fn(M)
    got = ft.jit(fn)(M)
    assert np.asarray(got).dtype == np.asarray(expected).dtype
    assert_allclose(got, expected, rtol=1e-12)
    assert_allclose(ft.vmap(fn)(np.stack([M, -M])), np.stack([fn(M), fn(-M)]), rtol=1e-12)


def test_numpy_function_gradients_match_functrans_numpy():
    pairs = [(np.var, fnp.var), (np.std, fnp.std), (np.cumprod, fnp.cumprod),
             (np.sort, fnp.sort), (lambda x: np.pad(x, 2), lambda x: fnp.pad(x, 2))]
    for np_fn, fnp_fn in pairs:
        assert_allclose(ft.grad(lambda x, f=np_fn: fnp.sum(f(x) ** 2))(M),
                        ft.grad(lambda x, f=fnp_fn: fnp.sum(f(x) ** 2))(M), rtol=1e-12)


def test_functions_are_looked_up_when_called(monkeypatch):
    # linalg and fft grow while this module stays as it is
    calls = []

    def det(a):
        calls.append(a)
        return fnp.sum(a)

    monkeypatch.setattr(fnp.linalg, "det", det, raising=False)
    assert ft.grad(lambda a: np.linalg.det(a))(M).shape == M.shape
    assert len(calls) == 1 and isinstance(calls[0], ft.Tracer)


def test_numpy_fft_routes_to_functrans_fft():
    if getattr(fnp, "fft", None) is None:
        pytest.skip("functrans.numpy.fft is not part of functrans.numpy")
    x = np.array([0.3, -1.0, 2.0, 0.5])
    assert_allclose(ft.jit(lambda x: np.fft.fft(x))(x), np.fft.fft(x), atol=1e-12)
    assert_allclose(ft.grad(lambda x: np.sum(np.abs(np.fft.rfft(x)) ** 2))(x),
                    ft.grad(lambda x: fnp.sum(fnp.abs(fnp.fft.rfft(x)) ** 2))(x), atol=1e-12)


def test_numpy_fft_without_functrans_fft_says_so(monkeypatch):
    monkeypatch.delattr(fnp, "fft", raising=False)
    with pytest.raises(ft.TracerArrayConversionError, match="numpy.fft have no functrans"):
        ft.jit(lambda x: np.fft.fft(x))(X)


class _Duck:
    """Another array library's value: it implements both protocols itself."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return "duck ufunc"

    def __array_function__(self, func, types, args, kwargs):
        return "duck function"


def test_other_array_libraries_get_their_turn():
    seen = []

    def f(x):
        seen.append((np.add(x, _Duck()), np.concatenate([x, _Duck()])))
        return x

    ft.jit(f)(X)
    assert seen == [("duck ufunc", "duck function")]
    assert _dispatch.array_ufunc(None, np.add, "__call__", X, _Duck()) is NotImplemented


# ------------------------------------------------------------------ the docs table

def test_dispatch_routes_are_what_the_docs_table_lists():
    routes = {f"{module}.{name}": _dispatch.function_route(func)
              for module, functions in _dispatch.numpy_functions().items()
              for name, func in functions}
    assert routes["numpy.sum"] == "functrans.numpy.sum"
    assert routes["numpy.concat"] == "functrans.numpy.concatenate"  # one function, two names
    assert routes["numpy.fft.fft"] in ("functrans.numpy.fft.fft", None)
    assert routes["numpy.astype"] == "x.astype(dtype)"
    assert routes["numpy.histogram2d"] is None
    assert routes["numpy.can_cast"] == "numpy.can_cast(x.dtype, ...)"


def test_aliases_compute():
    seen = []
    ft.jit(lambda x: seen.append((np.can_cast(x, np.float32), np.can_cast(x, complex))) or x)(X)
    assert seen == [(False, True)]
    u, v = np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0])
    assert_allclose(ft.jit(lambda u: np.linalg.cross(u, v))(u), np.linalg.cross(u, v))


# ------------------------------------------------------------------ what comes back

VIEWS = {"copy": np.copy, "reshape": lambda x: np.reshape(x, (-1, 1)),
         "transpose": np.transpose, "concatenate one": lambda x: np.concatenate([x]),
         "ravel": np.ravel, "squeeze": lambda x: np.squeeze(x[None])}


@pytest.mark.parametrize("name", list(VIEWS))
def test_results_are_plain_numpy_arrays_of_their_own(name):
    # eager results stay numpy.ndarray (no subclass: see docs/numpy_code.md), and a
    # NumPy function returning its argument or a view of it still gives the caller a
    # result of its own
    fn = VIEWS[name]
    for transform in (ft.jit, ft.vmap, lambda f: lambda x: ft.jvp(f, (x,), (x,))[0]):
        out = transform(fn)(M)
        assert type(out) is np.ndarray
        assert not np.shares_memory(out, M)
    assert type(ft.grad(lambda x: np.sum(fn(x)))(M)) is np.ndarray
    assert type(ft.grad(lambda x: np.sum(np.sin(x)))(0.5)) is np.float64


def test_alternatives_are_only_given_for_functions_functrans_lacks() -> None:
    from functrans.numpy import _dispatch

    present = [name for name in _dispatch.ALTERNATIVES if hasattr(fnp, name)]
    assert not present, f"functrans.numpy has {present} now: drop their hints"
